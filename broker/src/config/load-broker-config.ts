/**
 * Loading the static broker configuration, lowest precedence first:
 *
 *   1. a server.properties file (Java properties syntax, see java-properties.ts);
 *   2. environment variables MILLRACE_<KEY>: the key upper-cased with '.' and '-' written as '_'
 *      (MILLRACE_LOG_DIRS for log.dirs). Names are resolved by matching against the known keys, so a key that
 *      itself contains '_' still works; a name that matches two keys is rejected as ambiguous;
 *   3. --override key=value command-line arguments (as kafka-server-start.sh), last one wins.
 *
 * Every problem from every source is collected (unknown keys, bad values, syntax errors, missing required
 * keys, contradictions between keys) and thrown together as one ConfigError; each problem names the key, the
 * value, its source (file:line, env var or argument) and what to do. Values set in more than one place, and
 * keys that are accepted but do nothing in Millrace, come back as warnings for the startup log.
 *
 * All three sources produce STATIC_BROKER_CONFIG values for DescribeConfigs; the finer origin is kept on
 * BrokerConfig.origin(key).
 */
import { readFileSync } from 'node:fs';
import { BROKER_CONFIG_DEF, BrokerConfig, type RawConfigValue } from './broker-config.ts';
import { ConfigError, formatOrigin, type ConfigOrigin, type ConfigProblem } from './config-error.ts';
import { parseJavaProperties } from './java-properties.ts';

export const ENV_PREFIX = 'MILLRACE_';

/**
 * Environment variables that start with MILLRACE_ but are not broker config keys (used by Millrace's tools);
 * the loader ignores them instead of reporting them as unknown keys.
 */
export const NON_CONFIG_ENV_NAMES: readonly string[] = ['MILLRACE_CACHE', 'MILLRACE_KAFKA_SCHEMAS', 'MILLRACE_CONFIG_FILE'];

/** The environment variable that sets `key`. */
export function envNameFor(key: string): string {
  return ENV_PREFIX + key.toUpperCase().replace(/[.-]/g, '_');
}

/** Maps each MILLRACE_* name to the keys that produce it (more than one means the name is ambiguous). */
export function buildEnvIndex(keys: Iterable<string>): ReadonlyMap<string, readonly string[]> {
  const map = new Map<string, string[]>();
  for (const key of keys) {
    const env = envNameFor(key);
    map.set(env, [...(map.get(env) ?? []), key]);
  }
  return map;
}

export type EnvResolution =
  | { readonly kind: 'key'; readonly key: string }
  | { readonly kind: 'ambiguous'; readonly keys: readonly string[] }
  | { readonly kind: 'unknown' };

/** Which key an environment variable sets, by matching against the known keys. */
export function resolveEnvName(name: string, index: ReadonlyMap<string, readonly string[]>): EnvResolution {
  const keys = index.get(name) ?? [];
  const [only] = keys;
  if (keys.length === 1 && only !== undefined) return { kind: 'key', key: only };
  if (keys.length > 1) return { kind: 'ambiguous', keys };
  return { kind: 'unknown' };
}

const ENV_INDEX = buildEnvIndex(BROKER_CONFIG_DEF.names());

export interface LoadBrokerConfigOptions {
  /** server.properties path; omit (or null) for none. */
  readonly propertiesFile?: string | null;
  /** The environment; defaults to process.env. Pass {} to ignore the environment. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** "key=value" strings from --override arguments, in command-line order. */
  readonly overrides?: readonly string[];
  /** MILLRACE_* variables to ignore; defaults to NON_CONFIG_ENV_NAMES. */
  readonly nonConfigEnvNames?: readonly string[];
  /** Reads the properties file (injectable for tests); defaults to readFileSync as UTF-8. */
  readonly readFile?: (path: string) => string;
}

export interface LoadedBrokerConfig {
  readonly config: BrokerConfig;
  /** Lines worth logging at startup: values overridden by a higher-precedence source, keys with no effect. */
  readonly warnings: readonly string[];
}

/** Loads and validates the static broker configuration; throws ConfigError listing every problem found. */
export function loadBrokerConfig(options: LoadBrokerConfigOptions = {}): LoadedBrokerConfig {
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const merged = new Map<string, RawConfigValue>();

  const put = (key: string, raw: RawConfigValue): void => {
    const previous = merged.get(key);
    if (previous !== undefined) {
      warnings.push(`${key} from ${formatOrigin(previous.origin)} is overridden by ${formatOrigin(raw.origin)}`);
    }
    merged.set(key, raw);
  };

  // 1. The properties file.
  const path = options.propertiesFile ?? null;
  if (path !== null) {
    let text: string | null = null;
    try {
      text = (options.readFile ?? ((p: string) => readFileSync(p, 'utf8')))(path);
    } catch (err) {
      problems.push({
        code: 'CONFIG_FILE_UNREADABLE',
        key: null,
        value: null,
        origin: null,
        message: `Cannot read the properties file ${path}: ${err instanceof Error ? err.message : String(err)}`,
      });
    }
    if (text !== null) {
      const parsed = parseJavaProperties(text);
      for (const error of parsed.errors) {
        problems.push({ code: 'CONFIG_SYNTAX', key: null, value: null, origin: { kind: 'file', path, line: error.line }, message: error.message });
      }
      const seen = new Map<string, number>();
      for (const entry of parsed.entries) {
        const earlier = seen.get(entry.key);
        if (earlier !== undefined) warnings.push(`${entry.key} is set twice in ${path} (lines ${earlier} and ${entry.line}); line ${entry.line} wins`);
        seen.set(entry.key, entry.line);
      }
      for (const entry of parsed.values.values()) {
        merged.set(entry.key, { value: entry.value, origin: { kind: 'file', path, line: entry.line } });
      }
    }
  }

  // 2. The environment.
  const env = options.env ?? process.env;
  const ignored = new Set(options.nonConfigEnvNames ?? NON_CONFIG_ENV_NAMES);
  for (const name of Object.keys(env).sort()) {
    const value = env[name];
    if (!name.startsWith(ENV_PREFIX) || value === undefined || ignored.has(name)) continue;
    const origin: ConfigOrigin = { kind: 'env', name };
    const resolved = resolveEnvName(name, ENV_INDEX);
    if (resolved.kind === 'key') {
      put(resolved.key, { value, origin });
    } else if (resolved.kind === 'ambiguous') {
      problems.push({
        code: 'CONFIG_AMBIGUOUS_ENV',
        key: null,
        value,
        origin,
        message: `Environment variable ${name} matches several configuration keys (${resolved.keys.join(', ')})`,
      });
    } else {
      const guess = BROKER_CONFIG_DEF.suggest(name.slice(ENV_PREFIX.length).toLowerCase().replace(/_/g, '.'));
      problems.push({
        code: 'CONFIG_UNKNOWN_KEY',
        key: null,
        value,
        origin,
        message:
          `Environment variable ${name} does not name a configuration key` +
          (guess === null ? ` (expected ${ENV_PREFIX} + the key upper-cased, dots as underscores, e.g. MILLRACE_LOG_DIRS)` : `; did you mean ${envNameFor(guess)} (${guess})?`),
      });
    }
  }

  // 3. --override key=value.
  (options.overrides ?? []).forEach((arg, index) => {
    const origin: ConfigOrigin = { kind: 'flag', index };
    const eq = arg.indexOf('=');
    if (eq < 0) {
      problems.push({
        code: 'CONFIG_SYNTAX',
        key: null,
        value: arg,
        origin,
        message: `Invalid command line property "${arg}": expected --override key=value`,
      });
      return;
    }
    put(arg.slice(0, eq), { value: arg.slice(eq + 1), origin });
  });

  const built = BrokerConfig.build({ static: merged });
  problems.push(...built.problems);
  if (problems.length > 0 || built.config === null) throw new ConfigError(problems);
  return { config: built.config, warnings: [...warnings, ...built.warnings] };
}

export interface BrokerCommandLine {
  /** The first positional argument (kafka-server-start.sh style), or null. */
  readonly propertiesFile: string | null;
  /** "key=value" strings from --override, in order. */
  readonly overrides: readonly string[];
  /** Arguments this parser does not own (other flags), left for the caller. */
  readonly rest: readonly string[];
  readonly problems: readonly ConfigProblem[];
}

/**
 * Splits broker arguments as Kafka's start script does: `[server.properties] [--override key=value]...`;
 * `--override=key=value` is accepted too. A second positional argument or a dangling --override is a problem.
 */
export function parseBrokerCommandLine(argv: readonly string[]): BrokerCommandLine {
  let propertiesFile: string | null = null;
  const overrides: string[] = [];
  const rest: string[] = [];
  const problems: ConfigProblem[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--override') {
      const next = argv[i + 1];
      if (next === undefined) {
        problems.push({ code: 'CONFIG_SYNTAX', key: null, value: null, origin: null, message: '--override needs a key=value argument' });
      } else {
        overrides.push(next);
        i++;
      }
    } else if (arg.startsWith('--override=')) {
      overrides.push(arg.slice('--override='.length));
    } else if (arg.startsWith('-')) {
      rest.push(arg);
    } else if (propertiesFile === null) {
      propertiesFile = arg;
    } else {
      problems.push({
        code: 'CONFIG_SYNTAX',
        key: null,
        value: arg,
        origin: null,
        message: `Found a second non-option argument "${arg}"; only one properties file may be given`,
      });
    }
  }
  return { propertiesFile, overrides, rest, problems };
}

/**
 * A complete configuration for one node that is both broker and controller (KRaft combined mode), the
 * shape of Kafka's config/server.properties reduced to a single host: what `npm start` needs.
 */
export const SINGLE_NODE_SERVER_PROPERTIES = `# Millrace single-node configuration: one process is broker and controller (KRaft combined mode).
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:9093
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093
advertised.listeners=PLAINTEXT://127.0.0.1:9092
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=/tmp/millrace-logs
# One broker: the internal topics cannot have more replicas than that.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
`;

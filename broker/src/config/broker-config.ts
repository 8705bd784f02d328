/**
 * The broker configuration: Kafka's KafkaConfig plus DynamicBrokerConfig, as an immutable value.
 *
 * A BrokerConfig holds four layers, highest precedence first (Kafka's order):
 *   1. dynamic per-broker values       (ConfigSource DYNAMIC_BROKER_CONFIG)
 *   2. dynamic cluster-wide defaults   (DYNAMIC_DEFAULT_BROKER_CONFIG)
 *   3. static values: file < env < --override, merged by the loader (STATIC_BROKER_CONFIG)
 *   4. Kafka's defaults                (DEFAULT_CONFIG)
 * The effective value of a key is the first layer that has it. Dynamic layers only hold keys whose update
 * mode allows them (per-broker keys only in layer 1, cluster-wide keys in either); anything else is rejected.
 *
 * Derived accessors implement KafkaConfig's precedence rules (retention ms > minutes > hours, log.dirs >
 * log.dir, listener parsing with the effective security protocol map, ...). They never throw on a config
 * that built without problems: every rule they rely on is checked by the validators and broker-config-rules.ts.
 */
import {
  applyIncrementalOps,
  configError,
  KAFKA_ERROR_INVALID_CONFIG,
  type AlterConfigOperation,
  type ConfigCheckResult,
} from './alter-configs.ts';
import { BROKER_CONFIG_KEYS } from './broker-config-keys.ts';
import {
  CONFIG_TYPE_ID,
  ConfigDef,
  ConfigSource,
  longToNumber,
  NO_DEFAULT,
  parseConfigValue,
  parseTyped,
  toKafkaString,
  withAllowedHint,
  type ConfigKey,
  type ConfigSourceId,
  type ConfigSynonym,
  type ConfigValue,
  type DescribedConfig,
  type ValueOfKey,
} from './config-def.ts';
import { ConfigError, type ConfigOrigin, type ConfigProblem } from './config-error.ts';
import {
  parseCsvList,
  parseHostPort,
  parseHostPortList,
  parseVoters,
  parseInitialControllers,
  type InitialController,
  type HostPort,
  type ListenerEndpoint,
  type Parsed,
  type QuorumVoter,
  type SecurityProtocol,
} from './listeners.ts';
import {
  checkBrokerConfig,
  effectiveSecurityProtocolMap,
  resolveAdvertisedBrokerListeners,
  resolveInterBrokerListener,
  resolveListeners,
} from './broker-config-rules.ts';

export const BROKER_CONFIG_DEF = new ConfigDef<BrokerKeyDef>(BROKER_CONFIG_KEYS);

type BrokerKeyDef = (typeof BROKER_CONFIG_KEYS)[number];
export type BrokerConfigName = BrokerKeyDef['name'];
export type BrokerConfigValue<N extends BrokerConfigName> = ValueOfKey<Extract<BrokerKeyDef, { name: N }>>;

export type ProcessRole = 'broker' | 'controller';

/** A raw (string) value and where it came from. */
export interface RawConfigValue {
  readonly value: string;
  readonly origin: ConfigOrigin;
}

export interface BrokerConfigLayers {
  /** Static values after file < env < flag precedence (and the node.id/broker.id synonym rule). */
  readonly static: ReadonlyMap<string, RawConfigValue>;
  readonly dynamicClusterDefault: ReadonlyMap<string, string>;
  readonly dynamicPerBroker: ReadonlyMap<string, string>;
}

export interface BrokerConfigBuild {
  /** Present when `problems` is empty. */
  readonly config: BrokerConfig | null;
  /** Fatal problems with the static configuration. */
  readonly problems: readonly ConfigProblem[];
  /** Dynamic values that were ignored (unknown, read-only, per-broker at cluster level, or invalid); Kafka logs and skips them too. */
  readonly rejectedDynamic: readonly ConfigProblem[];
  /** Things worth a log line: keys that are accepted but have no effect in Millrace. */
  readonly warnings: readonly string[];
}

interface Effective {
  readonly value: ConfigValue | null;
  readonly source: ConfigSourceId;
  readonly origin: ConfigOrigin;
}

const DEFAULT_ORIGIN: ConfigOrigin = { kind: 'default' };
const DYNAMIC_BROKER_ORIGIN: ConfigOrigin = { kind: 'dynamic-broker' };
const DYNAMIC_DEFAULT_ORIGIN: ConfigOrigin = { kind: 'dynamic-cluster-default' };

/** Kafka's string form of every non-null default (DynamicBrokerConfig.staticDefaultConfigs). */
const DEFAULT_STRINGS: ReadonlyMap<string, string> = new Map(
  BROKER_CONFIG_DEF.keys().flatMap((k) => {
    if (k.default === null || k.default === NO_DEFAULT) return [];
    const s = toKafkaString(k.type, k.default);
    return s === null ? [] : [[k.name, s] as const];
  }),
);

/**
 * DynamicBrokerConfig.brokerConfigSynonyms: the keys that feed one effective value, highest priority first.
 * Describing any of them lists synonyms across all of them (then drops entries ranked above the one asked for).
 */
export function brokerConfigSynonyms(name: string): readonly string[] {
  switch (name) {
    case 'log.roll.ms':
    case 'log.roll.hours':
      return ['log.roll.ms', 'log.roll.hours'];
    case 'log.roll.jitter.ms':
    case 'log.roll.jitter.hours':
      return ['log.roll.jitter.ms', 'log.roll.jitter.hours'];
    case 'log.flush.interval.ms':
      return ['log.flush.interval.ms', 'log.flush.scheduler.interval.ms'];
    case 'log.retention.ms':
    case 'log.retention.minutes':
    case 'log.retention.hours':
      return ['log.retention.ms', 'log.retention.minutes', 'log.retention.hours'];
    default:
      return [name];
  }
}

export class BrokerConfig {
  readonly #layers: BrokerConfigLayers;
  readonly #effective: ReadonlyMap<string, Effective>;
  /** The static layer as raw strings (DynamicBrokerConfig.staticBrokerConfigs), for synonyms. */
  readonly #staticStrings: ReadonlyMap<string, string>;

  private constructor(layers: BrokerConfigLayers, effective: ReadonlyMap<string, Effective>) {
    this.#layers = layers;
    this.#effective = effective;
    this.#staticStrings = new Map([...layers.static].map(([k, v]) => [k, v.value]));
  }

  /**
   * Builds a config from layers, collecting every problem instead of stopping at the first. Static problems
   * are fatal (config is null); bad dynamic values are only reported and skipped.
   */
  static build(layers: Partial<BrokerConfigLayers> & Pick<BrokerConfigLayers, 'static'>): BrokerConfigBuild {
    const full: BrokerConfigLayers = {
      static: populateIdSynonyms(layers.static),
      dynamicClusterDefault: layers.dynamicClusterDefault ?? new Map(),
      dynamicPerBroker: layers.dynamicPerBroker ?? new Map(),
    };
    const problems: ConfigProblem[] = [];
    const rejectedDynamic: ConfigProblem[] = [];
    const warnings: string[] = [];
    const badKeys = new Set<string>();

    const staticValues = new Map<string, ConfigValue>();
    for (const [name, raw] of full.static) {
      const key = BROKER_CONFIG_DEF.get(name);
      if (key === undefined) {
        problems.push(unknownKeyProblem(name, raw.value, raw.origin));
        continue;
      }
      const parsed = parseConfigValue(key, raw.value);
      if (!parsed.ok) {
        badKeys.add(name);
        problems.push({
          code: 'CONFIG_INVALID_VALUE',
          key: name,
          value: shownValue(key, raw.value),
          origin: raw.origin,
          message: withAllowedHint(key, parsed.reason),
        });
        continue;
      }
      staticValues.set(name, parsed.value);
      if (key.ignored) warnings.push(`${name} is set (${describeOrigin(raw.origin)}) but has no effect in Millrace: ${key.note ?? ''}`.trimEnd());
    }

    const clusterDefaults = parseDynamicLayer(full.dynamicClusterDefault, 'cluster-default', rejectedDynamic);
    const perBroker = parseDynamicLayer(full.dynamicPerBroker, 'broker', rejectedDynamic);
    const acceptedLayers: BrokerConfigLayers = {
      static: full.static,
      dynamicClusterDefault: new Map([...full.dynamicClusterDefault].filter(([k]) => clusterDefaults.has(k))),
      dynamicPerBroker: new Map([...full.dynamicPerBroker].filter(([k]) => perBroker.has(k))),
    };

    const effective = new Map<string, Effective>();
    for (const key of BROKER_CONFIG_DEF.keys()) {
      const name = key.name;
      const fromBroker = perBroker.get(name);
      const fromCluster = clusterDefaults.get(name);
      const fromStatic = staticValues.get(name);
      if (fromBroker !== undefined) {
        effective.set(name, { value: fromBroker, source: ConfigSource.DYNAMIC_BROKER_CONFIG, origin: DYNAMIC_BROKER_ORIGIN });
      } else if (fromCluster !== undefined) {
        effective.set(name, { value: fromCluster, source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, origin: DYNAMIC_DEFAULT_ORIGIN });
      } else if (fromStatic !== undefined) {
        const origin = full.static.get(name)?.origin ?? DEFAULT_ORIGIN;
        effective.set(name, { value: fromStatic, source: ConfigSource.STATIC_BROKER_CONFIG, origin });
      } else if (key.default === NO_DEFAULT) {
        if (!badKeys.has(name)) {
          problems.push({
            code: 'CONFIG_MISSING_REQUIRED',
            key: name,
            value: null,
            origin: null,
            message: `Missing required configuration "${name}" which has no default value`,
          });
        }
        badKeys.add(name);
        effective.set(name, { value: null, source: ConfigSource.DEFAULT_CONFIG, origin: DEFAULT_ORIGIN });
      } else {
        effective.set(name, { value: key.default, source: ConfigSource.DEFAULT_CONFIG, origin: DEFAULT_ORIGIN });
      }
    }

    const provisional = new BrokerConfig(acceptedLayers, effective);
    problems.push(...checkBrokerConfig(provisional, badKeys));
    return { config: problems.length === 0 ? provisional : null, problems, rejectedDynamic, warnings };
  }

  /** Builds from static values only (e.g. in tests or code); throws ConfigError listing every problem. */
  static fromStatic(values: ReadonlyMap<string, string> | Readonly<Record<string, string>>): BrokerConfig {
    const entries: [string, string][] = isReadonlyMap(values) ? [...values] : Object.entries(values);
    const staticLayer = new Map(entries.map(([k, v]) => [k, { value: v, origin: { kind: 'code' } as const }]));
    const built = BrokerConfig.build({ static: staticLayer });
    if (built.config === null) throw new ConfigError(built.problems);
    return built.config;
  }

  /**
   * A new config with the given dynamic layers (as the KRaft metadata image holds them) replacing the current
   * ones. Invalid dynamic entries are skipped and returned, as Kafka skips them with an error log.
   */
  withDynamicConfigs(dynamic: { perBroker?: ReadonlyMap<string, string>; clusterDefault?: ReadonlyMap<string, string> }): {
    config: BrokerConfig;
    rejected: readonly ConfigProblem[];
  } {
    const built = BrokerConfig.build({
      static: this.#layers.static,
      dynamicPerBroker: dynamic.perBroker ?? this.#layers.dynamicPerBroker,
      dynamicClusterDefault: dynamic.clusterDefault ?? this.#layers.dynamicClusterDefault,
    });
    // Static problems cannot appear (the static layer is unchanged); cross-key problems introduced by dynamic
    // values are reported and the dynamic layers dropped, keeping the last good configuration.
    if (built.config === null) return { config: this, rejected: [...built.rejectedDynamic, ...built.problems] };
    return { config: built.config, rejected: built.rejectedDynamic };
  }

  get layers(): BrokerConfigLayers {
    return this.#layers;
  }

  /** The effective value of a key, typed by the key's definition. */
  get<N extends BrokerConfigName>(name: N): BrokerConfigValue<N> {
    const e = this.#effective.get(name);
    if (e === undefined) throw new Error(`unknown broker config ${name}`);
    return e.value as BrokerConfigValue<N>;
  }

  /** The effective value of any key by name (undefined for an unknown key). */
  valueOf(name: string): ConfigValue | null | undefined {
    return this.#effective.get(name)?.value;
  }

  /** Which layer the effective value came from (Kafka's ConfigSource). */
  source(name: string): ConfigSourceId {
    return this.#effective.get(name)?.source ?? ConfigSource.UNKNOWN;
  }

  /** Where the effective value came from, down to file:line, env var or flag. */
  origin(name: string): ConfigOrigin | undefined {
    return this.#effective.get(name)?.origin;
  }

  /** True when some layer other than the defaults sets the key (Kafka's originals.containsKey). */
  isSet(name: string): boolean {
    return this.#layers.static.has(name) || this.#layers.dynamicClusterDefault.has(name) || this.#layers.dynamicPerBroker.has(name);
  }

  // --- DescribeConfigs ----------------------------------------------------------------------------------

  /**
   * Kafka's ConfigHelper.configSynonyms: the values of `synonymNames` in every layer, source by source
   * (per-broker, cluster default, static, default), then everything ranked before `name` dropped.
   */
  configSynonyms(name: string, synonymNames: readonly string[], sensitive: boolean): ConfigSynonym[] {
    const layers: readonly [ReadonlyMap<string, string>, ConfigSourceId][] = [
      [this.#layers.dynamicPerBroker, ConfigSource.DYNAMIC_BROKER_CONFIG],
      [this.#layers.dynamicClusterDefault, ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG],
      [this.#staticStrings, ConfigSource.STATIC_BROKER_CONFIG],
      [DEFAULT_STRINGS, ConfigSource.DEFAULT_CONFIG],
    ];
    const all: ConfigSynonym[] = [];
    for (const [map, source] of layers) {
      for (const synonym of synonymNames) {
        const value = map.get(synonym);
        if (value !== undefined) all.push({ name: synonym, value: sensitive ? null : value, source });
      }
    }
    const first = all.findIndex((s) => s.name === name);
    return first < 0 ? [] : all.slice(first);
  }

  /**
   * DescribeConfigs for a BROKER resource. `resource: 'broker'` describes this broker (every key, or the
   * named ones); `'cluster-default'` describes the cluster-wide dynamic defaults (resource name ""), listing
   * only keys that have one. Unknown names are left out, as Kafka does.
   */
  describe(options: {
    resource: 'broker' | 'cluster-default';
    names?: readonly string[] | null;
    includeSynonyms?: boolean;
    includeDocumentation?: boolean;
  }): DescribedConfig[] {
    const perBroker = options.resource === 'broker';
    const wanted = options.names === undefined || options.names === null || options.names.length === 0 ? null : new Set(options.names);
    const candidates = perBroker ? BROKER_CONFIG_DEF.names() : [...this.#layers.dynamicClusterDefault.keys()];
    const out: DescribedConfig[] = [];
    for (const name of candidates) {
      if (wanted !== null && !wanted.has(name)) continue;
      const key = BROKER_CONFIG_DEF.get(name);
      if (key === undefined) continue;
      const sensitive = (key as ConfigKey).type === 'password';
      const value = perBroker ? toKafkaString(key.type, this.valueOf(name) ?? null) : (this.#layers.dynamicClusterDefault.get(name) ?? null);
      const synonyms = this.configSynonyms(name, brokerConfigSynonyms(name), sensitive).filter(
        (s) => perBroker || s.source === ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG,
      );
      const source = synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG;
      out.push({
        name,
        value: sensitive ? null : value,
        readOnly: key.updateMode === 'read-only',
        isDefault: source === ConfigSource.DEFAULT_CONFIG,
        configSource: source,
        isSensitive: sensitive,
        synonyms: options.includeSynonyms === true ? synonyms : [],
        configType: CONFIG_TYPE_ID[key.type],
        documentation: options.includeDocumentation === true ? documentationOf(key) : null,
      });
    }
    return out;
  }

  // --- Derived accessors (KafkaConfig) ------------------------------------------------------------------

  get nodeId(): number {
    return this.get('node.id');
  }

  get processRoles(): readonly ProcessRole[] {
    return this.get('process.roles') as readonly ProcessRole[];
  }

  get isBroker(): boolean {
    return this.processRoles.includes('broker');
  }

  get isController(): boolean {
    return this.processRoles.includes('controller');
  }

  /** log.dirs, else log.dir, split at commas with empty entries dropped. */
  get logDirs(): string[] {
    return parseCsvList(this.get('log.dirs') ?? this.get('log.dir'));
  }

  /** metadata.log.dir, else the first log directory. */
  get metadataLogDir(): string {
    return this.get('metadata.log.dir') ?? this.logDirs[0] ?? '';
  }

  /** Retention in ms from log.retention.ms > .minutes > .hours; any negative value is -1 (no time limit). */
  get logRetentionMs(): number {
    const ms = this.get('log.retention.ms');
    const minutes = this.get('log.retention.minutes');
    const millis = ms !== null ? longToNumber(ms) : minutes !== null ? minutes * 60_000 : this.get('log.retention.hours') * 3_600_000;
    return millis < 0 ? -1 : millis;
  }

  /** Segment roll age in ms: log.roll.ms, else log.roll.hours. */
  get logRollMs(): number {
    const ms = this.get('log.roll.ms');
    return ms !== null ? longToNumber(ms) : this.get('log.roll.hours') * 3_600_000;
  }

  /** Roll jitter in ms: log.roll.jitter.ms, else log.roll.jitter.hours. */
  get logRollJitterMs(): number {
    const ms = this.get('log.roll.jitter.ms');
    return ms !== null ? longToNumber(ms) : this.get('log.roll.jitter.hours') * 3_600_000;
  }

  /** Flush interval in ms (Infinity = never): log.flush.interval.ms, else log.flush.scheduler.interval.ms. */
  get logFlushIntervalMs(): number {
    return longToNumber(this.get('log.flush.interval.ms') ?? this.get('log.flush.scheduler.interval.ms'));
  }

  /** offsets.retention.minutes in ms. */
  get offsetsRetentionMs(): number {
    return this.get('offsets.retention.minutes') * 60_000;
  }

  get controllerListenerNames(): string[] {
    return parseCsvList(this.get('controller.listener.names')).map((n) => n.toUpperCase());
  }

  /** Listener name to security protocol, with KRaft's implicit PLAINTEXT mapping for controller listeners. */
  get listenerSecurityProtocolMap(): ReadonlyMap<string, SecurityProtocol> {
    return unwrap(effectiveSecurityProtocolMap(this));
  }

  /** Parsed `listeners`, each with its security protocol. */
  get listeners(): ListenerEndpoint[] {
    return unwrap(resolveListeners(this, 'listeners'));
  }

  /**
   * What this broker advertises to clients and other brokers: advertised.listeners (else listeners) without
   * the controller listeners. A null host means "this machine's host name".
   */
  get advertisedBrokerListeners(): ListenerEndpoint[] {
    return unwrap(resolveAdvertisedBrokerListeners(this));
  }

  /** Listeners of this node that serve the controller quorum. */
  get controllerListeners(): ListenerEndpoint[] {
    const names = new Set(this.controllerListenerNames);
    return this.listeners.filter((l) => names.has(l.name));
  }

  /** inter.broker.listener.name, else the listener named after security.inter.broker.protocol. */
  get interBrokerListener(): { readonly name: string; readonly securityProtocol: SecurityProtocol } {
    return unwrap(resolveInterBrokerListener(this));
  }

  get quorumVoters(): QuorumVoter[] {
    return unwrap(parseVoters(this.get('controller.quorum.voters')));
  }

  get quorumBootstrapServers(): HostPort[] {
    return unwrap(parseHostPortList(this.get('controller.quorum.bootstrap.servers')));
  }

  get initialControllers(): InitialController[] {
    return unwrap(parseInitialControllers(this.get('millrace.quorum.initial.controllers')));
  }

  /** millrace.http.listener, or null when millrace.http.enable is false. */
  get httpListener(): HostPort | null {
    if (!this.get('millrace.http.enable')) return null;
    return unwrap(parseHostPort(this.get('millrace.http.listener'), { allowZeroPort: true }));
  }
}

// -----------------------------------------------------------------------------------------------------------
// Helpers shared with broker-config-checks.ts

function isReadonlyMap(v: ReadonlyMap<string, string> | Readonly<Record<string, string>>): v is ReadonlyMap<string, string> {
  return v instanceof Map;
}

function unwrap<T>(parsed: Parsed<T>): T {
  if (!parsed.ok) throw new Error(`invariant: broker config accessor failed on a validated config: ${parsed.reason}`);
  return parsed.value;
}

/** The documentation line DescribeConfigs returns: our one-line doc plus the Millrace note. */
export function documentationOf(key: ConfigKey): string {
  return key.note === null ? key.doc : `${key.doc} ${key.note}`;
}

/**
 * Kafka's populateSynonyms: node.id and broker.id stand in for each other when only one is set. A value that
 * is not an int is not copied, so that one bad value yields one problem.
 */
function populateIdSynonyms(staticLayer: ReadonlyMap<string, RawConfigValue>): ReadonlyMap<string, RawConfigValue> {
  const nodeId = staticLayer.get('node.id');
  const brokerId = staticLayer.get('broker.id');
  const isInt = (raw: RawConfigValue): boolean => parseTyped('int', raw.value).ok;
  if (nodeId !== undefined && brokerId === undefined && isInt(nodeId)) return new Map([...staticLayer, ['broker.id', nodeId]]);
  if (brokerId !== undefined && nodeId === undefined && isInt(brokerId)) return new Map([...staticLayer, ['node.id', brokerId]]);
  return staticLayer;
}

const UNSUPPORTED_PREFIXES: readonly (readonly [string, string])[] = [
  ['ssl.', 'TLS'],
  ['sasl.', 'SASL authentication'],
  ['listener.name.', 'per-listener config overrides'],
  ['remote.log.', 'tiered storage'],
  ['delegation.token.', 'delegation tokens'],
  ['quota.', 'client quotas'],
  ['zookeeper.', 'ZooKeeper mode (removed in Kafka 4.0)'],
  ['group.share.', 'share groups'],
  ['group.streams.', 'streams groups'],
];

export function unknownKeyProblem(name: string, value: string, origin: ConfigOrigin | null): ConfigProblem {
  const suggestion = BROKER_CONFIG_DEF.suggest(name);
  const unsupported = UNSUPPORTED_PREFIXES.find(([prefix]) => name.startsWith(prefix));
  let message = `Unknown configuration key "${name}"`;
  if (suggestion !== null) message += `; did you mean "${suggestion}"?`;
  else if (unsupported !== undefined) message += `: Millrace does not support ${unsupported[1]} yet`;
  return { code: 'CONFIG_UNKNOWN_KEY', key: name, value, origin, message };
}

function shownValue(key: ConfigKey, raw: string): string {
  return key.type === 'password' ? '[hidden]' : raw;
}

function describeOrigin(origin: ConfigOrigin): string {
  switch (origin.kind) {
    case 'file':
      return `${origin.path}:${origin.line}`;
    case 'env':
      return origin.name;
    case 'flag':
      return '--override';
    default:
      return origin.kind;
  }
}

/** Parses one dynamic layer, keeping only entries allowed at that level; rejected ones are appended to `rejected`. */
function parseDynamicLayer(layer: ReadonlyMap<string, string>, level: 'broker' | 'cluster-default', rejected: ConfigProblem[]): Map<string, ConfigValue> {
  const origin: ConfigOrigin = level === 'broker' ? DYNAMIC_BROKER_ORIGIN : DYNAMIC_DEFAULT_ORIGIN;
  const out = new Map<string, ConfigValue>();
  for (const [name, raw] of layer) {
    const problem = dynamicEntryProblem(name, raw, level);
    if (problem !== null) {
      rejected.push({ ...problem, origin });
      continue;
    }
    const key = BROKER_CONFIG_DEF.get(name);
    if (key === undefined) continue;
    const parsed = parseConfigValue(key, raw);
    if (parsed.ok) out.set(name, parsed.value);
  }
  return out;
}

/** Why `name=raw` may not be set dynamically at `level`, or null when it may. */
export function dynamicEntryProblem(name: string, raw: string, level: 'broker' | 'cluster-default'): ConfigProblem | null {
  const origin: ConfigOrigin = level === 'broker' ? DYNAMIC_BROKER_ORIGIN : DYNAMIC_DEFAULT_ORIGIN;
  const key = BROKER_CONFIG_DEF.get(name);
  if (key === undefined) return unknownKeyProblem(name, raw, origin);
  if (key.updateMode === 'read-only') {
    return { code: 'CONFIG_NOT_DYNAMIC', key: name, value: shownValue(key, raw), origin, message: `Cannot update these configs dynamically: [${name}]` };
  }
  if (key.updateMode === 'per-broker' && level === 'cluster-default') {
    return {
      code: 'CONFIG_NOT_DYNAMIC',
      key: name,
      value: shownValue(key, raw),
      origin,
      message: `Cannot update these configs at default cluster level, broker id must be specified: [${name}]`,
    };
  }
  const parsed = parseConfigValue(key, raw);
  if (!parsed.ok) return { code: 'CONFIG_INVALID_VALUE', key: name, value: shownValue(key, raw), origin, message: parsed.reason };
  return null;
}

/**
 * Validates new dynamic broker configs for one level (AlterConfigs / IncrementalAlterConfigs on a BROKER
 * resource: a broker id for 'broker', the empty name for 'cluster-default'), as DynamicBrokerConfig does:
 * read-only keys first, then per-broker keys at cluster level, then unknown keys and values, then the
 * cross-key rules on the resulting configuration. `configs` is the complete new layer for that level.
 */
export function validateBrokerConfigUpdate(
  current: BrokerConfig,
  level: 'broker' | 'cluster-default',
  configs: ReadonlyMap<string, string>,
): ConfigCheckResult {
  const problems = [...configs].map(([name, value]) => dynamicEntryProblem(name, value, level)).filter((p) => p !== null);
  const readOnly = problems.filter((p) => p.code === 'CONFIG_NOT_DYNAMIC' && p.message.startsWith('Cannot update these configs dynamically'));
  if (readOnly.length > 0) {
    return configError(KAFKA_ERROR_INVALID_CONFIG, `Cannot update these configs dynamically: [${readOnly.map((p) => p.key).join(', ')}]`);
  }
  const first = problems[0];
  if (first !== undefined) return configError(KAFKA_ERROR_INVALID_CONFIG, first.message);
  const built = BrokerConfig.build({
    static: current.layers.static,
    dynamicPerBroker: level === 'broker' ? configs : current.layers.dynamicPerBroker,
    dynamicClusterDefault: level === 'cluster-default' ? configs : current.layers.dynamicClusterDefault,
  });
  const problem = built.problems[0];
  if (problem !== undefined) return configError(KAFKA_ERROR_INVALID_CONFIG, problem.message);
  return { ok: true, configs };
}

/** IncrementalAlterConfigs on a BROKER resource: applies the operations to that level's dynamic layer and validates it. */
export function incrementalAlterBrokerConfigs(
  current: BrokerConfig,
  level: 'broker' | 'cluster-default',
  operations: readonly AlterConfigOperation[],
): ConfigCheckResult {
  const layer = level === 'broker' ? current.layers.dynamicPerBroker : current.layers.dynamicClusterDefault;
  const applied = applyIncrementalOps(BROKER_CONFIG_DEF, layer, operations);
  if (!applied.ok) return applied;
  return validateBrokerConfigUpdate(current, level, applied.configs);
}

/**
 * A configuration definition model after Kafka's ConfigDef: each key has a name, a type, a default, a
 * validator, an importance, one line of documentation and (for broker keys) the dynamic update mode Kafka's
 * DynamicBrokerConfig gives it.
 *
 * Values are parsed from strings exactly as ConfigDef.parseType does:
 * - every value is first trimmed the Java way (String.trim: code points <= U+0020 at both ends);
 * - boolean: "true" or "false", case-insensitive;
 * - int / short / long: Integer/Short/Long.parseLong syntax (optional sign, ASCII digits, no spaces, no
 *   underscores, no hex); out of range is "not a number" as in Java;
 * - double: Double.parseDouble syntax (decimal with optional exponent and f/d suffix, NaN, Infinity; hex
 *   floats are not accepted);
 * - list: "" is the empty list, otherwise split on commas with surrounding whitespace removed; empty elements
 *   are kept ("a,,b" is three elements), as Java's split(regex, -1) keeps them;
 * - class: a Java class name; Millrace loads no classes, so only the name's syntax is checked;
 * - password: a string wrapped in Password so it never reaches a log line.
 *
 * Representation: int, short and double are JS numbers; long is a bigint, so that Kafka's Long.MAX_VALUE
 * defaults (flush.messages, max.compaction.lag.ms, ...) round-trip exactly to DescribeConfigs. Code that wants
 * a number uses longToNumber(), which maps anything beyond 2^53-1 to Infinity: Kafka uses Long.MAX_VALUE to
 * mean "never", and the log engine already writes "never" as Infinity.
 */

export type ConfigType = 'boolean' | 'string' | 'int' | 'short' | 'long' | 'double' | 'list' | 'class' | 'password';
export type Importance = 'high' | 'medium' | 'low';
/** Kafka's DynamicBrokerConfig modes; topic keys are always updatable per topic and use 'per-topic'. */
export type UpdateMode = 'read-only' | 'per-broker' | 'cluster-wide' | 'per-topic';

/** A password value: toString/JSON/inspect never show it; read it with .value where it is really needed. */
export class Password {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  get value(): string {
    return this.#value;
  }
  toString(): string {
    return '[hidden]';
  }
  toJSON(): string {
    return '[hidden]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Password([hidden])';
  }
}

export interface ConfigValueByType {
  boolean: boolean;
  string: string;
  int: number;
  short: number;
  long: bigint;
  double: number;
  list: readonly string[];
  class: string;
  password: Password;
}
export type ConfigValue = ConfigValueByType[ConfigType];

/** Marks a key that has no default and must be set (Kafka's ConfigDef.NO_DEFAULT_VALUE). */
export const NO_DEFAULT: unique symbol = Symbol('NO_DEFAULT');
export type NoDefault = typeof NO_DEFAULT;

export interface Validator<T> {
  /** What is allowed, in Kafka's documentation wording: "[1,...]", "[compact, delete]", "non-empty string". */
  readonly allowed: string;
  /** null when the value is valid, else the reason (Kafka's exception wording where it has one). */
  check(value: T): string | null;
}

export interface ConfigKey<N extends string = string, T extends ConfigType = ConfigType, Nullable extends boolean = boolean> {
  readonly name: N;
  readonly type: T;
  readonly default: ConfigValueByType[T] | null | NoDefault;
  readonly validator: Validator<ConfigValueByType[T]> | null;
  readonly importance: Importance;
  /** One line, our own words; Millrace specifics are appended from `note`. */
  readonly doc: string;
  readonly updateMode: UpdateMode;
  /** True when the default is null, so the value may be null (type-level only; mirrors `default === null`). */
  readonly nullable: Nullable;
  /** Millrace-specific remark (e.g. why a thread-count key has no effect), shown with the documentation. */
  readonly note: string | null;
  /** Accepted for compatibility but has no effect in Millrace; the loader warns when it is set. */
  readonly ignored: boolean;
}

/** The type of a key's value after loading: nullable keys may be null, required keys are always set. */
export type ValueOfKey<K> =
  K extends ConfigKey<string, infer T, infer Nullable> ? (Nullable extends true ? ConfigValueByType[T] | null : ConfigValueByType[T]) : never;

type NullableOf<D> = [D] extends [null] ? true : null extends D ? true : false;

export interface KeyExtras {
  readonly note?: string;
  readonly ignored?: boolean;
}

/** Defines a key (Kafka's ConfigDef.define(name, type, default, validator, importance, doc)). */
export function defineKey<N extends string, T extends ConfigType, D extends ConfigValueByType[T] | null | NoDefault>(
  name: N,
  type: T,
  defaultValue: D,
  validator: Validator<ConfigValueByType[T]> | null,
  importance: Importance,
  updateMode: UpdateMode,
  doc: string,
  extras: KeyExtras = {},
): ConfigKey<N, T, NullableOf<D>> {
  return {
    name,
    type,
    default: defaultValue,
    validator,
    importance,
    doc,
    updateMode,
    nullable: (defaultValue === null) as NullableOf<D>,
    note: extras.note ?? null,
    ignored: extras.ignored ?? false,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Parsing

export type ParseOutcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** Java's String.trim(): strips every code point <= U+0020 (spaces and control characters) at both ends. */
export function javaTrim(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && s.charCodeAt(start) <= 0x20) start++;
  while (end > start && s.charCodeAt(end - 1) <= 0x20) end--;
  return s.slice(start, end);
}

/** Java's regex \s (ASCII whitespace only), as in ConfigDef's "\\s*,\\s*" list separator. */
const LIST_SEPARATOR = /[ \t\n\v\f\r]*,[ \t\n\v\f\r]*/;
const INTEGER_SYNTAX = /^[+-]?[0-9]+$/;
const DOUBLE_SYNTAX = /^[+-]?(?:NaN|Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fFdD]?)$/;
const JAVA_IDENTIFIER = '[A-Za-z_$][A-Za-z0-9_$]*';
const JAVA_CLASS_NAME = new RegExp(`^${JAVA_IDENTIFIER}(?:\\.${JAVA_IDENTIFIER})*(?:\\$${JAVA_IDENTIFIER})*$`);

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Java's Long.MAX_VALUE, Kafka's "never" for many long configs. */
export const LONG_MAX = INT64_MAX;
/** Java's Integer.MAX_VALUE. */
export const INT_MAX = INT32_MAX;

/** Splits a list value as ConfigDef does: "" is empty, otherwise comma-separated, whitespace-trimmed, empties kept. */
export function splitList(trimmed: string): string[] {
  return trimmed === '' ? [] : trimmed.split(LIST_SEPARATOR);
}

/** Parses a raw string as `type` (no validator). */
export function parseTyped<T extends ConfigType>(type: T, raw: string): ParseOutcome<ConfigValueByType[T]> {
  return parseAny(type, raw) as ParseOutcome<ConfigValueByType[T]>;
}

function parseAny(type: ConfigType, raw: string): ParseOutcome<ConfigValue> {
  const trimmed = javaTrim(raw);
  switch (type) {
    case 'boolean': {
      const lower = trimmed.toLowerCase();
      if (lower === 'true') return { ok: true, value: true };
      if (lower === 'false') return { ok: true, value: false };
      return { ok: false, reason: 'Expected value to be either true or false' };
    }
    case 'string':
      return { ok: true, value: trimmed };
    case 'password':
      return { ok: true, value: new Password(trimmed) };
    case 'int':
    case 'short': {
      const [min, max] = type === 'int' ? [INT32_MIN, INT32_MAX] : [-32768, 32767];
      if (!INTEGER_SYNTAX.test(trimmed)) return notANumber(type);
      const n = Number(trimmed);
      if (n < min || n > max) return notANumber(type);
      return { ok: true, value: n === 0 ? 0 : n };
    }
    case 'long': {
      if (!INTEGER_SYNTAX.test(trimmed)) return notANumber(type);
      const n = BigInt(trimmed);
      if (n < INT64_MIN || n > INT64_MAX) return notANumber(type);
      return { ok: true, value: n };
    }
    case 'double': {
      if (!DOUBLE_SYNTAX.test(trimmed)) return notANumber(type);
      return { ok: true, value: Number(trimmed.replace(/[fFdD]$/, '')) };
    }
    case 'list':
      return { ok: true, value: splitList(trimmed) };
    case 'class':
      if (!JAVA_CLASS_NAME.test(trimmed)) return { ok: false, reason: `Class ${trimmed} could not be found.` };
      return { ok: true, value: trimmed };
  }
}

const notANumber = (type: ConfigType): ParseOutcome<never> => ({ ok: false, reason: `Not a number of type ${type.toUpperCase()}` });

/** Kafka's ConfigException message: "Invalid value X for configuration K: reason". Passwords are never echoed. */
export function invalidValueMessage(key: Pick<ConfigKey, 'name' | 'type'>, raw: string, reason: string): string {
  const shown = key.type === 'password' ? '[hidden]' : raw;
  return `Invalid value ${shown} for configuration ${key.name}: ${reason}`;
}

/**
 * Parses and validates `raw` for `key`. On failure the reason is Kafka's ConfigException text ("Invalid value
 * X for configuration K: why"), which is also what CreateTopics/AlterConfigs return to clients.
 */
export function parseConfigValue<T extends ConfigType>(key: ConfigKey<string, T>, raw: string): ParseOutcome<ConfigValueByType[T]> {
  const parsed = parseTyped(key.type, raw);
  if (!parsed.ok) return { ok: false, reason: invalidValueMessage(key, raw, parsed.reason) };
  const problem = key.validator === null ? null : key.validator.check(parsed.value);
  if (problem !== null) return { ok: false, reason: invalidValueMessage(key, raw, problem) };
  return parsed;
}

/** A Kafka-style reason followed by what the key accepts, for operator-facing messages. */
export function withAllowedHint(key: ConfigKey, reason: string): string {
  return `${reason}. Allowed: ${describeAllowed(key)}`;
}

/** What values a key accepts, for messages and docs: the type, then the validator's range or set. */
export function describeAllowed(key: ConfigKey): string {
  const what =
    key.type === 'list' ? 'a comma-separated list' : key.type === 'class' ? 'a Java class name' : key.type === 'int' ? 'an int' : `a ${key.type}`;
  return key.validator === null ? what : `${what} in ${key.validator.allowed}`;
}

// ---------------------------------------------------------------------------------------------------------
// Validators (Kafka's ConfigDef.Range, ValidString, ValidList, NonEmptyString, LambdaValidator)

type Numeric = number | bigint;

const lessThan = (a: Numeric, b: Numeric): boolean => (typeof a === 'bigint' || typeof b === 'bigint' ? BigInt(a) < BigInt(b) : a < b);

/** Kafka's Range.atLeast: "[min,...]". Works for int, short, double (numbers) and long (bigint). */
export function atLeast(min: number): Validator<number>;
export function atLeast(min: bigint): Validator<bigint>;
export function atLeast(min: Numeric): Validator<Numeric> {
  return {
    allowed: `[${min},...]`,
    check: (v) => (lessThan(v, min) ? `Value must be at least ${min}` : null),
  };
}

/** Kafka's Range.between: "[min,...,max]". */
export function between(min: number, max: number): Validator<number>;
export function between(min: bigint, max: bigint): Validator<bigint>;
export function between(min: Numeric, max: Numeric): Validator<Numeric> {
  return {
    allowed: `[${min},...,${max}]`,
    check: (v) => {
      if (lessThan(v, min)) return `Value must be at least ${min}`;
      if (lessThan(max, v)) return `Value must be no more than ${max}`;
      return null;
    },
  };
}

/** Kafka's ValidString.in / CaseInsensitiveValidString.in. */
export function oneOf(values: readonly string[], options: { caseInsensitive?: boolean } = {}): Validator<string> {
  const insensitive = options.caseInsensitive === true;
  const set = new Set(insensitive ? values.map((v) => v.toUpperCase()) : values);
  return {
    allowed: insensitive ? `(case insensitive) [${values.join(', ')}]` : `[${values.join(', ')}]`,
    check: (v) =>
      set.has(insensitive ? v.toUpperCase() : v)
        ? null
        : `String must be one of${insensitive ? ' (case insensitive)' : ''}: ${values.join(', ')}`,
  };
}

/** Kafka's ValidList.in: every element must be one of `values`. */
export function listOf(values: readonly string[]): Validator<readonly string[]> {
  const each = oneOf(values);
  return {
    allowed: each.allowed,
    check: (list) => {
      for (const element of list) {
        const problem = each.check(element);
        if (problem !== null) return problem;
      }
      return null;
    },
  };
}

/** Kafka's NonEmptyString. */
export const nonEmptyString: Validator<string> = {
  allowed: 'non-empty string',
  check: (v) => (v === '' ? 'String may not be empty' : null),
};

/** A validator with its own rule (Kafka's LambdaValidator). */
export function custom<T>(allowed: string, check: (value: T) => string | null): Validator<T> {
  return { allowed, check };
}

/** Either `validator` holds or the value equals `special` (e.g. gzip level "[1,...,9] or -1"). */
export function orValue(validator: Validator<number>, special: number): Validator<number> {
  return {
    allowed: `${validator.allowed} or ${special}`,
    check: (v) => (v === special ? null : validator.check(v) === null ? null : `Value must be in ${validator.allowed} or ${special}`),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Conversion back to Kafka's string form (ConfigDef.convertToString) and to numbers

/** Java's Double.toString: "0.5", "1.0", "1.0E7", "1.7976931348623157E308", "NaN", "Infinity". */
export function javaDoubleToString(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(x);
  if (abs >= 1e-3 && abs < 1e7) {
    const s = String(x);
    return s.includes('.') ? s : `${s}.0`;
  }
  const [mantissa = '', exponent = ''] = x.toExponential().split('e');
  const m = mantissa.includes('.') ? mantissa : `${mantissa}.0`;
  return `${m}E${exponent.replace('+', '')}`;
}

/** Kafka's string form of a parsed value (what DescribeConfigs returns); null stays null. */
export function toKafkaString(type: ConfigType, value: ConfigValue | null): string | null {
  if (value === null) return null;
  switch (type) {
    case 'list':
      return (value as readonly string[]).join(',');
    case 'double':
      return javaDoubleToString(value as number);
    case 'password':
      return (value as Password).value;
    default:
      return typeof value === 'object' ? String(value) : `${value}`;
  }
}

/** A long as a JS number: exact up to 2^53-1, beyond that +/-Infinity (Kafka's Long.MAX_VALUE = "never"). */
export function longToNumber(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) return Infinity;
  if (value < BigInt(Number.MIN_SAFE_INTEGER)) return -Infinity;
  return Number(value);
}

// ---------------------------------------------------------------------------------------------------------
// DescribeConfigs wire identifiers (org.apache.kafka.common.requests.DescribeConfigsResponse)

/** DescribeConfigsResponse.ConfigType ids (KIP-569). */
export const CONFIG_TYPE_ID: Readonly<Record<ConfigType, number>> = {
  boolean: 1,
  string: 2,
  int: 3,
  short: 4,
  long: 5,
  double: 6,
  list: 7,
  class: 8,
  password: 9,
};
export const CONFIG_TYPE_UNKNOWN_ID = 0;

/** DescribeConfigsResponse.ConfigSource ids, as sent in DescribeConfigs responses. */
export const ConfigSource = {
  UNKNOWN: 0,
  TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
  DYNAMIC_BROKER_LOGGER_CONFIG: 6,
  CLIENT_METRICS_CONFIG: 7,
  GROUP_CONFIG: 8,
} as const;
export type ConfigSourceId = (typeof ConfigSource)[keyof typeof ConfigSource];

/** One synonym in a DescribeConfigs entry (DescribeConfigsSynonym). */
export interface ConfigSynonym {
  readonly name: string;
  readonly value: string | null;
  readonly source: ConfigSourceId;
}

/** One DescribeConfigs result entry (DescribeConfigsResourceResult), ready for the response encoder. */
export interface DescribedConfig {
  readonly name: string;
  /** Kafka's string form; null for unset keys and for passwords. */
  readonly value: string | null;
  readonly readOnly: boolean;
  readonly isDefault: boolean;
  readonly configSource: ConfigSourceId;
  readonly isSensitive: boolean;
  /** Empty unless synonyms were asked for. */
  readonly synonyms: readonly ConfigSynonym[];
  readonly configType: number;
  /** null unless documentation was asked for. */
  readonly documentation: string | null;
}

// ---------------------------------------------------------------------------------------------------------
// ConfigDef: a set of keys

export class ConfigDef<K extends ConfigKey = ConfigKey> {
  readonly #keys: ReadonlyMap<string, K>;

  /** Checks the definitions themselves: unique names, and every default has the key's type and passes its validator. */
  constructor(keys: readonly K[]) {
    const map = new Map<string, K>();
    for (const key of keys) {
      if (map.has(key.name)) throw new Error(`config key ${key.name} is defined twice`);
      map.set(key.name, key);
      const d = key.default;
      if (d === null || d === NO_DEFAULT) continue;
      const asString = toKafkaString(key.type, d);
      if (asString === null || !typeMatches(key.type, d)) throw new Error(`default of ${key.name} is not a ${key.type}`);
      const parsed = parseConfigValue(key, asString);
      if (!parsed.ok) throw new Error(`default of ${key.name} is invalid: ${parsed.reason}`);
    }
    this.#keys = map;
  }

  get(name: string): K | undefined {
    return this.#keys.get(name);
  }

  has(name: string): boolean {
    return this.#keys.has(name);
  }

  /** Key names in definition order. */
  names(): string[] {
    return [...this.#keys.keys()];
  }

  keys(): K[] {
    return [...this.#keys.values()];
  }

  /** The closest known name within edit distance 3 (for "did you mean"), or null. */
  suggest(name: string): string | null {
    let best: string | null = null;
    let bestDistance = 4;
    for (const candidate of this.#keys.keys()) {
      const d = editDistance(name, candidate, bestDistance);
      if (d < bestDistance) {
        best = candidate;
        bestDistance = d;
      }
    }
    return best;
  }
}

function typeMatches(type: ConfigType, value: ConfigValue): boolean {
  switch (type) {
    case 'boolean':
      return typeof value === 'boolean';
    case 'string':
    case 'class':
      return typeof value === 'string';
    case 'int':
    case 'short':
    case 'double':
      return typeof value === 'number';
    case 'long':
      return typeof value === 'bigint';
    case 'list':
      return Array.isArray(value);
    case 'password':
      return value instanceof Password;
  }
}

/** Levenshtein distance, giving up (returning `limit`) once it cannot be below `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const value = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
      current.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin >= limit) return limit;
    previous = current;
  }
  return Math.min(previous[b.length] ?? limit, limit);
}

/**
 * Topic-level configuration: every topic config Kafka 4.1 supports (Kafka 4.0 removed message.format.version
 * and message.downconversion.enable, so they are unknown here too), the broker keys each one falls back to,
 * and the resolution, validation and alteration rules Kafka applies.
 *
 * Effective value of a topic config (LogConfig.fromProps over KafkaConfig.extractLogConfigMap):
 *   topic override, else the first broker synonym with a value, converted to the topic's unit (hours and
 *   minutes to ms; a negative retention becomes -1), each broker key taken at its own effective value
 *   (dynamic per-broker > dynamic cluster default > static > default), else Kafka's topic default.
 *
 * DescribeConfigs (ConfigHelper.createTopicConfigEntry): the synonyms are the topic override (TOPIC_CONFIG)
 * followed by the broker synonyms of the FIRST broker key, listed source by source (DYNAMIC_BROKER_CONFIG,
 * DYNAMIC_DEFAULT_BROKER_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG) and synonym by synonym, with every entry
 * before the first one named after that key dropped. The reported source is the first synonym's source, else
 * DEFAULT_CONFIG. Kafka quirk kept on purpose: when log.retention.ms is unset anywhere, retention.ms lists no
 * synonyms and reports DEFAULT_CONFIG even if log.retention.hours was set statically (the value is still the
 * hours-derived one); segment.ms, segment.jitter.ms and flush.ms behave the same way.
 *
 * Validation (CreateTopics, AlterConfigs, IncrementalAlterConfigs) returns the first error as Kafka does:
 * INVALID_CONFIG (40) for unknown keys, null values, bad values and contradictions; INVALID_REQUEST (42) for
 * malformed incremental requests.
 */
import { CLEANUP_POLICIES, COMPRESSION_TYPES, gzipLevelValidator, lz4LevelValidator, TIMESTAMP_TYPES, zstdLevelValidator } from './broker-config-keys.ts';
import { brokerConfigSynonyms, documentationOf, type BrokerConfig } from './broker-config.ts';
import {
  applyIncrementalOps,
  configError,
  KAFKA_ERROR_INVALID_CONFIG,
  type AlterConfigOperation,
  type ConfigCheckResult,
} from './alter-configs.ts';
import {
  atLeast,
  between,
  CONFIG_TYPE_ID,
  ConfigDef,
  ConfigSource,
  custom,
  defineKey as key,
  listOf,
  LONG_MAX,
  oneOf,
  parseConfigValue,
  toKafkaString,
  type ConfigKey,
  type ConfigSourceId,
  type ConfigSynonym,
  type ConfigValue,
  type DescribedConfig,
  type ValueOfKey,
  type Validator,
} from './config-def.ts';
import { ConfigError } from './config-error.ts';

const PT = 'per-topic';

/** Kafka's ThrottledReplicaListValidator: "*" or [partitionId]:[brokerId] entries. */
const throttledReplicasValidator: Validator<readonly string[]> = custom(
  '[partitionId]:[brokerId],[partitionId]:[brokerId],...',
  (list) => {
    const proposed = list.map((e) => e.trim());
    if (proposed.every((e) => /^([0-9]+:[0-9]+)?$/.test(e)) || proposed.join('') === '*') return null;
    return "must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...";
  },
);

export const TOPIC_CONFIG_KEYS = [
  key('cleanup.policy', 'list', ['delete'], listOf(CLEANUP_POLICIES), 'medium', PT,
    'delete drops old segments by time or size, compact keeps the latest record per key; both may be given.'),
  key('compression.gzip.level', 'int', -1, gzipLevelValidator, 'medium', PT,
    'gzip level when compression.type is gzip; -1 is the codec default.'),
  key('compression.lz4.level', 'int', 9, lz4LevelValidator, 'medium', PT,
    'lz4 level when compression.type is lz4.'),
  key('compression.type', 'string', 'producer', oneOf(COMPRESSION_TYPES), 'medium', PT,
    'Final compression of the topic\'s batches; producer keeps whatever the producer used.'),
  key('compression.zstd.level', 'int', 3, zstdLevelValidator, 'medium', PT,
    'zstd level when compression.type is zstd.'),
  key('delete.retention.ms', 'long', 86400000n, atLeast(0n), 'medium', PT,
    'How long tombstones stay in a compacted topic, bounding how long a full read from offset 0 may take.'),
  key('file.delete.delay.ms', 'long', 60000n, atLeast(0n), 'medium', PT,
    'How long a deleted segment\'s files stay on disk before removal.'),
  key('flush.messages', 'long', LONG_MAX, atLeast(1n), 'medium', PT,
    'Force an fsync after this many messages; the default leaves flushing to the OS and relies on replication.'),
  key('flush.ms', 'long', LONG_MAX, atLeast(0n), 'medium', PT,
    'Force an fsync when data has been unflushed this long; the default never forces one.'),
  key('follower.replication.throttled.replicas', 'list', [], throttledReplicasValidator, 'medium', PT,
    'Replicas (partition:broker, or *) whose replication is throttled on the follower side.'),
  key('index.interval.bytes', 'int', 4096, atLeast(0), 'medium', PT,
    'Bytes of records between two offset index entries.'),
  key('leader.replication.throttled.replicas', 'list', [], throttledReplicasValidator, 'medium', PT,
    'Replicas (partition:broker, or *) whose replication is throttled on the leader side.'),
  key('local.retention.bytes', 'long', -2n, atLeast(-2n), 'medium', PT,
    'Local size limit for a tiered topic; -2 means retention.bytes.', { note: 'Millrace has no tiered storage.' }),
  key('local.retention.ms', 'long', -2n, atLeast(-2n), 'medium', PT,
    'Local time limit for a tiered topic; -2 means retention.ms.', { note: 'Millrace has no tiered storage.' }),
  key('max.compaction.lag.ms', 'long', LONG_MAX, atLeast(1n), 'medium', PT,
    'Longest a record may stay uncompacted once it is eligible.'),
  key('max.message.bytes', 'int', 1048588, atLeast(0), 'medium', PT,
    'Largest record batch accepted for the topic, after compression.'),
  key('message.timestamp.after.max.ms', 'long', 3600000n, atLeast(0n), 'medium', PT,
    'How far in the future a CreateTime timestamp may be before the batch is rejected.'),
  key('message.timestamp.before.max.ms', 'long', LONG_MAX, atLeast(0n), 'medium', PT,
    'How far in the past a CreateTime timestamp may be before the batch is rejected.'),
  key('message.timestamp.type', 'string', 'CreateTime', oneOf(TIMESTAMP_TYPES), 'medium', PT,
    'CreateTime keeps the producer\'s timestamps; LogAppendTime stamps batches with the broker\'s time.'),
  key('min.cleanable.dirty.ratio', 'double', 0.5, between(0, 1), 'medium', PT,
    'Share of the log that must be uncompacted before the cleaner compacts it.'),
  key('min.compaction.lag.ms', 'long', 0n, atLeast(0n), 'medium', PT,
    'Records younger than this are never compacted.'),
  key('min.insync.replicas', 'int', 1, atLeast(1), 'medium', PT,
    'In-sync replicas (leader included) that must have an acks=all write for it to succeed.'),
  key('preallocate', 'boolean', false, null, 'medium', PT,
    'Whether new segment files are preallocated to their full size.'),
  key('remote.log.copy.disable', 'boolean', false, null, 'medium', PT,
    'Stops uploading to tiered storage, leaving already tiered data read-only.', { note: 'Millrace has no tiered storage.' }),
  key('remote.log.delete.on.disable', 'boolean', false, null, 'medium', PT,
    'Deletes tiered data when tiered storage is turned off for the topic.', { note: 'Millrace has no tiered storage.' }),
  key('remote.storage.enable', 'boolean', false, null, 'medium', PT,
    'Turns tiered storage on for the topic.', { note: 'Millrace has no tiered storage: true is refused.' }),
  key('retention.bytes', 'long', -1n, null, 'medium', PT,
    'Largest size of a partition before its oldest segments are deleted; -1 means no size limit.'),
  key('retention.ms', 'long', 604800000n, atLeast(-1n), 'medium', PT,
    'How long records are kept before their segment may be deleted; -1 means no time limit.'),
  key('segment.bytes', 'int', 1073741824, atLeast(1048576), 'medium', PT,
    'Largest size of one segment file; retention and compaction work a segment at a time.'),
  key('segment.index.bytes', 'int', 10485760, atLeast(4), 'medium', PT,
    'Size of the preallocated offset index of a segment.'),
  key('segment.jitter.ms', 'long', 0n, atLeast(0n), 'medium', PT,
    'Largest random amount subtracted from segment.ms, so that segments do not all roll at once.'),
  key('segment.ms', 'long', 604800000n, atLeast(1n), 'medium', PT,
    'Roll the active segment after this long even if it is not full, so retention can act.'),
  key('unclean.leader.election.enable', 'boolean', false, null, 'medium', PT,
    'Whether a replica outside the ISR may become leader as a last resort, at the risk of losing data.'),
] as const;

export const TOPIC_CONFIG_DEF = new ConfigDef<TopicKeyDef>(TOPIC_CONFIG_KEYS);

type TopicKeyDef = (typeof TOPIC_CONFIG_KEYS)[number];
export type TopicConfigName = TopicKeyDef['name'];
export type TopicConfigValue<N extends TopicConfigName> = ValueOfKey<Extract<TopicKeyDef, { name: N }>>;

/** A broker key a topic config falls back to, and the factor that converts its value to the topic's unit. */
export interface BrokerSynonym {
  readonly name: string;
  readonly toMs: 1 | 60_000 | 3_600_000;
}

const HOURS = 3_600_000;
const MINUTES = 60_000;
const same = (name: string): readonly BrokerSynonym[] => [{ name, toMs: 1 }];

/**
 * ServerTopicConfigSynonyms.ALL_TOPIC_CONFIG_SYNONYMS (Kafka 4.x): the broker keys behind each topic key, in
 * priority order. Topic keys missing here have no broker default (LogConfig.CONFIGS_WITH_NO_SERVER_DEFAULTS).
 */
export const TOPIC_BROKER_SYNONYMS: ReadonlyMap<TopicConfigName, readonly BrokerSynonym[]> = new Map<TopicConfigName, readonly BrokerSynonym[]>([
  ['segment.bytes', same('log.segment.bytes')],
  ['segment.ms', [{ name: 'log.roll.ms', toMs: 1 }, { name: 'log.roll.hours', toMs: HOURS }]],
  ['segment.jitter.ms', [{ name: 'log.roll.jitter.ms', toMs: 1 }, { name: 'log.roll.jitter.hours', toMs: HOURS }]],
  ['segment.index.bytes', same('log.index.size.max.bytes')],
  ['flush.messages', same('log.flush.interval.messages')],
  ['flush.ms', [{ name: 'log.flush.interval.ms', toMs: 1 }, { name: 'log.flush.scheduler.interval.ms', toMs: 1 }]],
  ['retention.bytes', same('log.retention.bytes')],
  [
    'retention.ms',
    [
      { name: 'log.retention.ms', toMs: 1 },
      { name: 'log.retention.minutes', toMs: MINUTES },
      { name: 'log.retention.hours', toMs: HOURS },
    ],
  ],
  ['max.message.bytes', same('message.max.bytes')],
  ['index.interval.bytes', same('log.index.interval.bytes')],
  ['delete.retention.ms', same('log.cleaner.delete.retention.ms')],
  ['min.compaction.lag.ms', same('log.cleaner.min.compaction.lag.ms')],
  ['max.compaction.lag.ms', same('log.cleaner.max.compaction.lag.ms')],
  ['file.delete.delay.ms', same('log.segment.delete.delay.ms')],
  ['min.cleanable.dirty.ratio', same('log.cleaner.min.cleanable.ratio')],
  ['cleanup.policy', same('log.cleanup.policy')],
  ['unclean.leader.election.enable', same('unclean.leader.election.enable')],
  ['min.insync.replicas', same('min.insync.replicas')],
  ['compression.type', same('compression.type')],
  ['compression.gzip.level', same('compression.gzip.level')],
  ['compression.lz4.level', same('compression.lz4.level')],
  ['compression.zstd.level', same('compression.zstd.level')],
  ['preallocate', same('log.preallocate')],
  ['message.timestamp.type', same('log.message.timestamp.type')],
  ['message.timestamp.before.max.ms', same('log.message.timestamp.before.max.ms')],
  ['message.timestamp.after.max.ms', same('log.message.timestamp.after.max.ms')],
  ['local.retention.ms', same('log.local.retention.ms')],
  ['local.retention.bytes', same('log.local.retention.bytes')],
]);

/** The broker key a topic key falls back to first (ServerTopicConfigSynonyms.TOPIC_CONFIG_SYNONYMS), or null. */
export function serverSynonym(topicKey: string): string | null {
  return TOPIC_BROKER_SYNONYMS.get(topicKey as TopicConfigName)?.[0]?.name ?? null;
}

/** The broker-level default of a topic key: the first broker synonym with a value, in the topic's unit. */
function brokerDefault(name: TopicConfigName, broker: BrokerConfig): ConfigValue | null {
  const topicType = TOPIC_CONFIG_DEF.get(name)?.type;
  for (const synonym of TOPIC_BROKER_SYNONYMS.get(name) ?? []) {
    const value = broker.valueOf(synonym.name);
    if (value === null || value === undefined) continue;
    // log.roll.hours, log.retention.minutes and friends are ints; their topic keys are longs in ms.
    if (topicType === 'long' && typeof value === 'number') return clampRetention(name, BigInt(value) * BigInt(synonym.toMs));
    return clampRetention(name, value);
  }
  return null;
}

/** KafkaConfig.logRetentionTimeMillis: any negative retention means "no limit", reported as -1. */
function clampRetention(name: TopicConfigName, value: ConfigValue): ConfigValue {
  return name === 'retention.ms' && typeof value === 'bigint' && value < 0n ? -1n : value;
}

export interface TopicConfigEntry {
  readonly name: TopicConfigName;
  readonly value: ConfigValue | null;
  /** Kafka's string form of the value. */
  readonly valueString: string | null;
  /** Where DescribeConfigs says the value comes from. */
  readonly source: ConfigSourceId;
  /** DescribeConfigs synonyms, in Kafka's order (see the module comment). */
  readonly synonyms: readonly ConfigSynonym[];
}

/** The effective configuration of one topic. */
export class ResolvedTopicConfig {
  readonly #entries: ReadonlyMap<string, TopicConfigEntry>;

  constructor(entries: readonly TopicConfigEntry[]) {
    this.#entries = new Map(entries.map((e) => [e.name, e]));
  }

  get<N extends TopicConfigName>(name: N): TopicConfigValue<N> {
    const entry = this.#entries.get(name);
    if (entry === undefined) throw new Error(`unknown topic config ${name}`);
    return entry.value as TopicConfigValue<N>;
  }

  entry(name: TopicConfigName): TopicConfigEntry {
    const entry = this.#entries.get(name);
    if (entry === undefined) throw new Error(`unknown topic config ${name}`);
    return entry;
  }

  entries(): TopicConfigEntry[] {
    return [...this.#entries.values()];
  }

  /** DescribeConfigs for a TOPIC resource: every key, or the named ones (unknown names are left out). */
  describe(options: { names?: readonly string[] | null; includeSynonyms?: boolean; includeDocumentation?: boolean } = {}): DescribedConfig[] {
    const wanted = options.names === undefined || options.names === null || options.names.length === 0 ? null : new Set(options.names);
    const out: DescribedConfig[] = [];
    for (const entry of this.#entries.values()) {
      if (wanted !== null && !wanted.has(entry.name)) continue;
      const def = TOPIC_CONFIG_DEF.get(entry.name) as ConfigKey;
      out.push({
        name: entry.name,
        value: entry.valueString,
        readOnly: false,
        isDefault: entry.source === ConfigSource.DEFAULT_CONFIG,
        configSource: entry.source,
        isSensitive: false,
        synonyms: options.includeSynonyms === true ? entry.synonyms : [],
        configType: CONFIG_TYPE_ID[def.type],
        documentation: options.includeDocumentation === true ? documentationOf(def) : null,
      });
    }
    return out;
  }
}

type Overrides = ReadonlyMap<string, string> | Readonly<Record<string, string>>;

const toMap = (overrides: Overrides): ReadonlyMap<string, string> =>
  overrides instanceof Map ? (overrides as ReadonlyMap<string, string>) : new Map(Object.entries(overrides as Readonly<Record<string, string>>));

/**
 * The effective topic configuration from its stored overrides and the broker configuration (which carries
 * the dynamic and static broker layers). Unknown override keys are ignored (as LogConfig.fromProps does);
 * an override that does not parse throws ConfigError, because stored overrides were validated on write.
 */
export function resolveTopicConfig(overrides: Overrides, broker: BrokerConfig): ResolvedTopicConfig {
  const map = toMap(overrides);
  const entries: TopicConfigEntry[] = [];
  for (const def of TOPIC_CONFIG_DEF.keys()) {
    const name = def.name;
    const raw = map.get(name);
    let value: ConfigValue | null;
    if (raw !== undefined) {
      const parsed = parseConfigValue(def as ConfigKey, raw);
      if (!parsed.ok) {
        throw new ConfigError([{ code: 'CONFIG_INVALID_VALUE', key: name, value: raw, origin: null, message: parsed.reason }]);
      }
      value = parsed.value;
    } else {
      value = brokerDefault(name, broker) ?? (def.default as ConfigValue | null);
    }
    const valueString = toKafkaString(def.type, value);
    const first = serverSynonym(name);
    const brokerSynonyms = first === null ? [] : broker.configSynonyms(first, brokerConfigSynonyms(first), false);
    const synonyms: ConfigSynonym[] =
      raw === undefined ? brokerSynonyms : [{ name, value: valueString, source: ConfigSource.TOPIC_CONFIG }, ...brokerSynonyms];
    entries.push({ name, value, valueString, source: synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG, synonyms });
  }
  return new ResolvedTopicConfig(entries);
}

export interface TopicValidationOptions {
  /** The broker configuration, for checks that combine overrides with broker defaults. */
  readonly broker?: BrokerConfig;
}

/**
 * Validates a topic's complete set of overrides as CreateTopics and AlterConfigs do (LogConfig.validate):
 * null values, unknown keys, bad values, then contradictions. Returns the overrides, or the first error.
 */
export function validateTopicConfigs(configs: Iterable<readonly [string, string | null]>, options: TopicValidationOptions = {}): ConfigCheckResult {
  const entries = [...configs];
  const nulls = entries.filter(([, v]) => v === null).map(([k]) => k);
  if (nulls.length > 0) return configError(KAFKA_ERROR_INVALID_CONFIG, `Null value not supported for topic configs: ${nulls.join(',')}`);
  const result = new Map<string, string>();
  for (const [name, value] of entries) {
    if (!TOPIC_CONFIG_DEF.has(name)) return configError(KAFKA_ERROR_INVALID_CONFIG, `Unknown topic config name: ${name}`);
    result.set(name, value ?? '');
  }
  const parsed = new Map<string, ConfigValue>();
  for (const [name, value] of result) {
    const def = TOPIC_CONFIG_DEF.get(name) as ConfigKey;
    const outcome = parseConfigValue(def, value);
    if (!outcome.ok) return configError(KAFKA_ERROR_INVALID_CONFIG, outcome.reason);
    parsed.set(name, outcome.value);
  }
  const effective = (name: TopicConfigName): ConfigValue | null =>
    parsed.get(name) ?? (options.broker === undefined ? null : brokerDefault(name, options.broker)) ?? (TOPIC_CONFIG_DEF.get(name)?.default as ConfigValue | null);

  const minLag = effective('min.compaction.lag.ms') as bigint;
  const maxLag = effective('max.compaction.lag.ms') as bigint;
  if (minLag > maxLag) {
    return configError(
      KAFKA_ERROR_INVALID_CONFIG,
      `conflict topic config setting min.compaction.lag.ms (${minLag}) > max.compaction.lag.ms (${maxLag})`,
    );
  }
  if (parsed.get('remote.storage.enable') === true) {
    return configError(KAFKA_ERROR_INVALID_CONFIG, 'Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage.');
  }
  return { ok: true, configs: result };
}

/**
 * IncrementalAlterConfigs on a TOPIC resource: applies SET/DELETE/APPEND/SUBTRACT to the current overrides
 * and validates the result. Returns the new overrides to store, or the Kafka error for the resource.
 */
export function incrementalAlterTopicConfigs(
  current: Overrides,
  operations: readonly AlterConfigOperation[],
  options: TopicValidationOptions = {},
): ConfigCheckResult {
  const applied = applyIncrementalOps(TOPIC_CONFIG_DEF, toMap(current), operations);
  if (!applied.ok) return applied;
  return validateTopicConfigs(applied.configs, options);
}

import { describe, expect, it } from 'vitest';
import { AlterConfigOp, javaSplitComma, KAFKA_ERROR_INVALID_CONFIG, KAFKA_ERROR_INVALID_REQUEST } from '../../../broker/src/config/alter-configs.ts';
import { BrokerConfig, type RawConfigValue } from '../../../broker/src/config/broker-config.ts';
import { ConfigSource } from '../../../broker/src/config/config-def.ts';
import { ConfigError } from '../../../broker/src/config/config-error.ts';
import {
  incrementalAlterTopicConfigs,
  resolveTopicConfig,
  validateTopicConfigs,
} from '../../../broker/src/config/topic-config.ts';

const COMBINED = {
  'process.roles': 'broker,controller',
  'node.id': '1',
  'controller.quorum.voters': '1@localhost:9093',
  'controller.listener.names': 'CONTROLLER',
  listeners: 'PLAINTEXT://:9092,CONTROLLER://:9093',
};

function broker(staticValues: Record<string, string>, dynamic: { clusterDefault?: Record<string, string>; perBroker?: Record<string, string> } = {}): BrokerConfig {
  const built = BrokerConfig.build({
    static: new Map<string, RawConfigValue>(Object.entries({ ...COMBINED, ...staticValues }).map(([k, v]) => [k, { value: v, origin: { kind: 'code' } }])),
    dynamicClusterDefault: new Map(Object.entries(dynamic.clusterDefault ?? {})),
    dynamicPerBroker: new Map(Object.entries(dynamic.perBroker ?? {})),
  });
  if (built.config === null) throw new ConfigError(built.problems);
  return built.config;
}

describe('effective topic config', () => {
  it('a topic override wins over every broker layer', () => {
    const topic = resolveTopicConfig({ 'segment.bytes': '2097152' }, broker({ 'log.segment.bytes': '4194304' }, { perBroker: { 'log.segment.bytes': '8388608' } }));
    expect(topic.get('segment.bytes')).toBe(2097152);
    expect(topic.entry('segment.bytes').source).toBe(ConfigSource.TOPIC_CONFIG);
  });

  it('falls back through dynamic per-broker, dynamic cluster default, static, default', () => {
    const staticOnly = broker({ 'log.segment.bytes': '4194304' });
    expect(resolveTopicConfig({}, staticOnly).get('segment.bytes')).toBe(4194304);
    const clusterDefault = broker({ 'log.segment.bytes': '4194304' }, { clusterDefault: { 'log.segment.bytes': '5242880' } });
    expect(resolveTopicConfig({}, clusterDefault).get('segment.bytes')).toBe(5242880);
    const perBroker = broker({ 'log.segment.bytes': '4194304' }, { clusterDefault: { 'log.segment.bytes': '5242880' }, perBroker: { 'log.segment.bytes': '6291456' } });
    expect(resolveTopicConfig({}, perBroker).get('segment.bytes')).toBe(6291456);
  });

  it('converts hour and minute broker keys to ms, and negative retention to -1', () => {
    expect(resolveTopicConfig({}, broker({ 'log.retention.hours': '2' })).get('retention.ms')).toBe(7_200_000n);
    expect(resolveTopicConfig({}, broker({ 'log.retention.hours': '2', 'log.retention.minutes': '3' })).get('retention.ms')).toBe(180_000n);
    expect(resolveTopicConfig({}, broker({ 'log.retention.minutes': '3' }, { clusterDefault: { 'log.retention.ms': '42' } })).get('retention.ms')).toBe(42n);
    expect(resolveTopicConfig({}, broker({ 'log.retention.hours': '-5' })).get('retention.ms')).toBe(-1n);
    expect(resolveTopicConfig({}, broker({ 'log.roll.hours': '1' })).get('segment.ms')).toBe(3_600_000n);
    expect(resolveTopicConfig({}, broker({ 'log.roll.jitter.hours': '1' })).get('segment.jitter.ms')).toBe(3_600_000n);
    expect(resolveTopicConfig({}, broker({ 'log.flush.scheduler.interval.ms': '1000' })).get('flush.ms')).toBe(1000n);
  });

  it('keys with no broker synonym take Kafka topic defaults', () => {
    const topic = resolveTopicConfig({}, broker({}));
    expect(topic.get('leader.replication.throttled.replicas')).toEqual([]);
    expect(topic.get('remote.storage.enable')).toBe(false);
    expect(topic.entry('remote.storage.enable')).toMatchObject({ source: ConfigSource.DEFAULT_CONFIG, synonyms: [] });
  });

  it('ignores unknown stored keys and throws on a stored value that does not parse', () => {
    expect(() => resolveTopicConfig({ 'message.format.version': '3.0' }, broker({}))).not.toThrow();
    expect(() => resolveTopicConfig({ 'retention.ms': 'soon' }, broker({}))).toThrow(ConfigError);
  });
});

describe('DescribeConfigs synonyms for a topic', () => {
  it('topic override first, then the broker synonym source by source', () => {
    const b = broker({ 'log.segment.bytes': '4194304' }, { clusterDefault: { 'log.segment.bytes': '5242880' } });
    const [entry] = resolveTopicConfig({ 'segment.bytes': '2097152' }, b).describe({ names: ['segment.bytes'], includeSynonyms: true });
    expect(entry).toMatchObject({ name: 'segment.bytes', value: '2097152', configSource: ConfigSource.TOPIC_CONFIG, isDefault: false, readOnly: false });
    expect(entry?.synonyms).toEqual([
      { name: 'segment.bytes', value: '2097152', source: ConfigSource.TOPIC_CONFIG },
      { name: 'log.segment.bytes', value: '5242880', source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG },
      { name: 'log.segment.bytes', value: '4194304', source: ConfigSource.STATIC_BROKER_CONFIG },
      { name: 'log.segment.bytes', value: '1073741824', source: ConfigSource.DEFAULT_CONFIG },
    ]);
  });

  it('retention.ms lists log.retention.ms, then minutes and hours below it, per source', () => {
    const b = broker({ 'log.retention.hours': '24' }, { clusterDefault: { 'log.retention.ms': '5000' } });
    const entry = resolveTopicConfig({}, b).entry('retention.ms');
    expect(entry.value).toBe(5000n);
    expect(entry.source).toBe(ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG);
    expect(entry.synonyms).toEqual([
      { name: 'log.retention.ms', value: '5000', source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG },
      { name: 'log.retention.hours', value: '24', source: ConfigSource.STATIC_BROKER_CONFIG },
      { name: 'log.retention.hours', value: '168', source: ConfigSource.DEFAULT_CONFIG },
    ]);
  });

  it("keeps Kafka's quirk: without log.retention.ms anywhere, retention.ms has no synonyms and DEFAULT_CONFIG", () => {
    const entry = resolveTopicConfig({}, broker({ 'log.retention.hours': '24' })).entry('retention.ms');
    expect(entry.value).toBe(86_400_000n);
    expect(entry.source).toBe(ConfigSource.DEFAULT_CONFIG);
    expect(entry.synonyms).toEqual([]);
  });

  it('reports values in Kafka string form, documentation on request', () => {
    const topic = resolveTopicConfig({ 'cleanup.policy': 'compact , delete', 'min.cleanable.dirty.ratio': '1' }, broker({}));
    const [cleanup, ratio] = topic.describe({ names: ['cleanup.policy', 'min.cleanable.dirty.ratio'], includeDocumentation: true });
    expect(cleanup).toMatchObject({ value: 'compact,delete', configType: 7 });
    expect(ratio).toMatchObject({ value: '1.0', configType: 6 });
    expect(cleanup?.documentation).toContain('compact');
  });

  it('describes every topic key when no names are given', () => {
    expect(resolveTopicConfig({}, broker({})).describe()).toHaveLength(33);
  });
});

describe('validating topic configs (CreateTopics / AlterConfigs)', () => {
  it('accepts valid overrides', () => {
    expect(validateTopicConfigs([['cleanup.policy', 'compact'], ['retention.ms', '-1'], ['compression.type', 'zstd']])).toEqual({
      ok: true,
      configs: new Map([
        ['cleanup.policy', 'compact'],
        ['retention.ms', '-1'],
        ['compression.type', 'zstd'],
      ]),
    });
  });

  it.each([
    [[['retention.ms', null]], 'Null value not supported for topic configs: retention.ms'],
    [[['retention.mss', '1']], 'Unknown topic config name: retention.mss'],
    [[['message.downconversion.enable', 'true']], 'Unknown topic config name: message.downconversion.enable'],
    [[['retention.ms', '-2']], 'Invalid value -2 for configuration retention.ms: Value must be at least -1'],
    [[['segment.bytes', '1000']], 'Invalid value 1000 for configuration segment.bytes: Value must be at least 1048576'],
    [[['cleanup.policy', 'compact,archive']], 'Invalid value compact,archive for configuration cleanup.policy: String must be one of: compact, delete'],
    [[['compression.type', 'brotli']], 'Invalid value brotli for configuration compression.type: String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer'],
    [[['compression.gzip.level', '0']], 'Invalid value 0 for configuration compression.gzip.level: Value must be in [1,...,9] or -1'],
    [[['preallocate', 'yes']], 'Invalid value yes for configuration preallocate: Expected value to be either true or false'],
    [[['leader.replication.throttled.replicas', '0:1,x']], "Invalid value 0:1,x for configuration leader.replication.throttled.replicas: must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],..."],
    [[['min.compaction.lag.ms', '10'], ['max.compaction.lag.ms', '5']], 'conflict topic config setting min.compaction.lag.ms (10) > max.compaction.lag.ms (5)'],
    [[['remote.storage.enable', 'true']], 'Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage.'],
  ] as const)('%j -> INVALID_CONFIG', (configs, message) => {
    expect(validateTopicConfigs(configs)).toEqual({ ok: false, errorCode: KAFKA_ERROR_INVALID_CONFIG, errorMessage: message });
  });

  it('checks min against max compaction lag using broker defaults', () => {
    const b = broker({ 'log.cleaner.max.compaction.lag.ms': '100' });
    expect(validateTopicConfigs([['min.compaction.lag.ms', '200']], { broker: b })).toMatchObject({
      ok: false,
      errorMessage: 'conflict topic config setting min.compaction.lag.ms (200) > max.compaction.lag.ms (100)',
    });
    expect(validateTopicConfigs([['min.compaction.lag.ms', '200']]).ok).toBe(true);
  });

  it("accepts '*' and an empty list for throttled replicas", () => {
    expect(validateTopicConfigs([['follower.replication.throttled.replicas', '*']]).ok).toBe(true);
    expect(validateTopicConfigs([['follower.replication.throttled.replicas', '']]).ok).toBe(true);
  });
});

describe('IncrementalAlterConfigs on a topic', () => {
  const current = new Map([
    ['cleanup.policy', 'compact'],
    ['retention.ms', '1000'],
  ]);

  it('SET replaces and DELETE removes an override', () => {
    expect(
      incrementalAlterTopicConfigs(current, [
        { name: 'retention.ms', op: AlterConfigOp.SET, value: '2000' },
        { name: 'cleanup.policy', op: AlterConfigOp.DELETE, value: null },
      ]),
    ).toEqual({ ok: true, configs: new Map([['retention.ms', '2000']]) });
  });

  it('DELETE of a key that is not overridden is a no-op', () => {
    expect(incrementalAlterTopicConfigs(current, [{ name: 'segment.ms', op: AlterConfigOp.DELETE, value: null }])).toEqual({ ok: true, configs: current });
  });

  it('APPEND adds values not already present; with no override it starts from the default', () => {
    expect(incrementalAlterTopicConfigs(current, [{ name: 'cleanup.policy', op: AlterConfigOp.APPEND, value: 'delete,compact' }])).toMatchObject({
      ok: true,
      configs: new Map([
        ['cleanup.policy', 'compact,delete'],
        ['retention.ms', '1000'],
      ]),
    });
    expect(incrementalAlterTopicConfigs({}, [{ name: 'cleanup.policy', op: AlterConfigOp.APPEND, value: 'compact' }])).toEqual({
      ok: true,
      configs: new Map([['cleanup.policy', 'delete,compact']]),
    });
    expect(incrementalAlterTopicConfigs({}, [{ name: 'leader.replication.throttled.replicas', op: AlterConfigOp.APPEND, value: '0:1,1:2' }])).toEqual({
      ok: true,
      configs: new Map([['leader.replication.throttled.replicas', '0:1,1:2']]),
    });
  });

  it('SUBTRACT removes values; removing the last one leaves an empty list', () => {
    expect(incrementalAlterTopicConfigs(new Map([['leader.replication.throttled.replicas', '0:1,1:2']]), [
      { name: 'leader.replication.throttled.replicas', op: AlterConfigOp.SUBTRACT, value: '0:1' },
    ])).toEqual({ ok: true, configs: new Map([['leader.replication.throttled.replicas', '1:2']]) });
    expect(incrementalAlterTopicConfigs({}, [{ name: 'cleanup.policy', op: AlterConfigOp.SUBTRACT, value: 'delete' }])).toEqual({
      ok: true,
      configs: new Map([['cleanup.policy', '']]),
    });
  });

  it('APPEND and SUBTRACT only apply to LIST keys', () => {
    expect(incrementalAlterTopicConfigs(current, [{ name: 'retention.ms', op: AlterConfigOp.APPEND, value: '1' }])).toEqual({
      ok: false,
      errorCode: KAFKA_ERROR_INVALID_CONFIG,
      errorMessage: "Can't APPEND to key retention.ms because its type is not LIST.",
    });
    expect(incrementalAlterTopicConfigs(current, [{ name: 'nope', op: AlterConfigOp.SUBTRACT, value: '1' }])).toMatchObject({
      errorMessage: "Can't SUBTRACT to key nope because its type is not LIST.",
    });
  });

  it('malformed requests are INVALID_REQUEST', () => {
    expect(
      incrementalAlterTopicConfigs(current, [
        { name: 'retention.ms', op: AlterConfigOp.SET, value: '1' },
        { name: 'retention.ms', op: AlterConfigOp.DELETE, value: null },
      ]),
    ).toEqual({ ok: false, errorCode: KAFKA_ERROR_INVALID_REQUEST, errorMessage: 'Error due to duplicate config keys' });
    expect(incrementalAlterTopicConfigs(current, [{ name: 'retention.ms', op: AlterConfigOp.SET, value: null }])).toEqual({
      ok: false,
      errorCode: KAFKA_ERROR_INVALID_REQUEST,
      errorMessage: 'Null value not supported for : retention.ms',
    });
    expect(incrementalAlterTopicConfigs(current, [{ name: 'retention.ms', op: 7, value: '1' }])).toMatchObject({ errorCode: KAFKA_ERROR_INVALID_REQUEST });
  });

  it('the result is validated: unknown keys and bad values are INVALID_CONFIG', () => {
    expect(incrementalAlterTopicConfigs(current, [{ name: 'retention.mss', op: AlterConfigOp.SET, value: '1' }])).toEqual({
      ok: false,
      errorCode: KAFKA_ERROR_INVALID_CONFIG,
      errorMessage: 'Unknown topic config name: retention.mss',
    });
    expect(incrementalAlterTopicConfigs(current, [{ name: 'cleanup.policy', op: AlterConfigOp.APPEND, value: 'archive' }])).toMatchObject({
      ok: false,
      errorCode: KAFKA_ERROR_INVALID_CONFIG,
    });
  });

  it("splits request values as Java's String.split(\",\")", () => {
    expect(javaSplitComma('a,b,,')).toEqual(['a', 'b']);
    expect(javaSplitComma('a,,b')).toEqual(['a', '', 'b']);
    expect(javaSplitComma('')).toEqual(['']);
    expect(javaSplitComma(',')).toEqual([]);
  });
});

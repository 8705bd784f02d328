/**
 * DescribeConfigs, AlterConfigs and IncrementalAlterConfigs against an in-process broker: topic and broker
 * resources, synonyms, Kafka's error codes, validateOnly, dynamic broker configs reaching topics, partition
 * logs and produce, and configs surviving a restart (they live in the metadata log).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '../../../broker/src/protocol/error-codes.ts';
import {
  defaultAlterConfigsRequest, defaultDescribeConfigsRequest, defaultIncrementalAlterConfigsRequest,
  type DescribeConfigsResponseDescribeConfigsResult,
} from '../../../broker/src/protocol/generated/index.ts';
import { TOPIC_CONFIG_DEF } from '../../../broker/src/config/index.ts';
import { AdminHarness } from './admin-harness.ts';

const TOPIC = 2;
const BROKER = 4;
const BROKER_LOGGER = 8;
const SET = 0;
const DELETE = 1;
const APPEND = 2;
const SUBTRACT = 3;
// DescribeConfigs ConfigSource ids.
const TOPIC_CONFIG = 1;
const DYNAMIC_BROKER_CONFIG = 2;
const DYNAMIC_DEFAULT_BROKER_CONFIG = 3;
const STATIC_BROKER_CONFIG = 4;
const DEFAULT_CONFIG = 5;
const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;

const h = new AdminHarness();

beforeAll(async () => {
  await h.start();
});

afterAll(async () => {
  await h.stop();
});

interface DescribeOptions {
  names?: string[] | null;
  synonyms?: boolean;
  documentation?: boolean;
  version?: number;
}

async function describeConfigs(resourceType: number, resourceName: string, options: DescribeOptions = {}): Promise<DescribeConfigsResponseDescribeConfigsResult> {
  const res = await h.client.send(32, options.version ?? 4, {
    ...defaultDescribeConfigsRequest(),
    resources: [{ resourceType, resourceName, configurationKeys: options.names ?? null }],
    includeSynonyms: options.synonyms ?? false,
    includeDocumentation: options.documentation ?? false,
  });
  const result = res.results[0];
  if (result === undefined) throw new Error('no result');
  return result;
}

/** name -> [value, source] of the described configs. */
async function topicValues(topic: string, names: string[]): Promise<Record<string, [string | null, number]>> {
  const result = await describeConfigs(TOPIC, topic, { names });
  return Object.fromEntries(result.configs.map((c) => [c.name, [c.value, c.configSource]]));
}

type Op = [name: string, op: number, value: string | null];

async function incrementalAlter(resources: { type: number; name: string; ops: Op[] }[], validateOnly = false, version = 1) {
  const res = await h.client.send(44, version, {
    ...defaultIncrementalAlterConfigsRequest(),
    validateOnly,
    resources: resources.map((r) => ({ resourceType: r.type, resourceName: r.name, configs: r.ops.map(([name, configOperation, value]) => ({ name, configOperation, value })) })),
  });
  return res.responses.map((r) => ({ type: r.resourceType, name: r.resourceName, errorCode: r.errorCode, errorMessage: r.errorMessage }));
}

async function legacyAlter(resources: { type: number; name: string; configs: Record<string, string | null> }[], validateOnly = false, version = 2) {
  const res = await h.client.send(33, version, {
    ...defaultAlterConfigsRequest(),
    validateOnly,
    resources: resources.map((r) => ({ resourceType: r.type, resourceName: r.name, configs: Object.entries(r.configs).map(([name, value]) => ({ name, value })) })),
  });
  return res.responses.map((r) => ({ errorCode: r.errorCode, errorMessage: r.errorMessage }));
}

describe('DescribeConfigs', () => {
  it('describes every config of a topic with its value, source and type; synonyms only when asked', async () => {
    expect(await h.createTopic('described', 1, { 'retention.ms': '3600000' })).toBe(ErrorCode.NONE);
    const all = await describeConfigs(TOPIC, 'described');
    expect(all).toMatchObject({ errorCode: 0, errorMessage: null, resourceType: TOPIC, resourceName: 'described' });
    expect(all.configs.map((c) => c.name)).toEqual(TOPIC_CONFIG_DEF.names());
    const byName = new Map(all.configs.map((c) => [c.name, c]));
    expect(byName.get('retention.ms')).toEqual({
      name: 'retention.ms', value: '3600000', readOnly: false, isDefault: false, configSource: TOPIC_CONFIG, isSensitive: false,
      synonyms: [], configType: 5, documentation: null,
    });
    expect(byName.get('max.message.bytes')).toMatchObject({ value: '1048588', configSource: DEFAULT_CONFIG, synonyms: [], configType: 3 });
    expect(byName.get('cleanup.policy')).toMatchObject({ value: 'delete', configSource: DEFAULT_CONFIG, configType: 7 });

    const withSynonyms = await describeConfigs(TOPIC, 'described', { names: ['retention.ms', 'max.message.bytes', 'cleanup.policy', 'no.such.key'], synonyms: true });
    expect(withSynonyms.configs.map((c) => [c.name, c.value, c.configSource, c.synonyms])).toEqual([
      ['cleanup.policy', 'delete', DEFAULT_CONFIG, [{ name: 'log.cleanup.policy', value: 'delete', source: DEFAULT_CONFIG }]],
      ['max.message.bytes', '1048588', DEFAULT_CONFIG, [{ name: 'message.max.bytes', value: '1048588', source: DEFAULT_CONFIG }]],
      // Kafka's quirk: log.retention.ms is unset everywhere, so no broker synonym is listed (only the override).
      ['retention.ms', '3600000', TOPIC_CONFIG, [{ name: 'retention.ms', value: '3600000', source: TOPIC_CONFIG }]],
    ]);

    const documented = await describeConfigs(TOPIC, 'described', { names: ['segment.bytes'], documentation: true });
    expect(documented.configs[0]?.documentation).toBe(TOPIC_CONFIG_DEF.get('segment.bytes')?.doc);
  });

  it('answers old versions without the fields they lack (kafkajs uses v2)', async () => {
    const v2 = await describeConfigs(TOPIC, 'described', { names: ['retention.ms'], synonyms: true, version: 2 });
    // ConfigType and Documentation do not exist before v3: they decode as their defaults.
    expect(v2.configs).toEqual([{
      name: 'retention.ms', value: '3600000', readOnly: false, isDefault: false, configSource: TOPIC_CONFIG, isSensitive: false,
      synonyms: [{ name: 'retention.ms', value: '3600000', source: TOPIC_CONFIG }], configType: 0, documentation: '',
    }]);
    const v1 = await describeConfigs(TOPIC, 'described', { names: ['segment.ms'], version: 1 });
    expect(v1.configs.map((c) => [c.name, c.value, c.configSource])).toEqual([['segment.ms', '604800000', DEFAULT_CONFIG]]);
  });

  it('answers errors per resource: unknown topic, illegal name, foreign broker id, unknown resource type', async () => {
    const res = await h.client.send(32, 4, {
      ...defaultDescribeConfigsRequest(),
      resources: [
        { resourceType: TOPIC, resourceName: 'no-such-topic', configurationKeys: null },
        { resourceType: TOPIC, resourceName: 'bad/name', configurationKeys: null },
        { resourceType: BROKER, resourceName: '2', configurationKeys: null },
        { resourceType: BROKER, resourceName: 'one', configurationKeys: null },
        { resourceType: 99, resourceName: 'x', configurationKeys: null },
        { resourceType: TOPIC, resourceName: 'described', configurationKeys: ['retention.ms'] },
      ],
    });
    expect(res.results.map((r) => [r.resourceType, r.resourceName, r.errorCode, r.errorMessage, r.configs.length])).toEqual([
      [TOPIC, 'no-such-topic', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "The topic 'no-such-topic' does not exist.", 0],
      [TOPIC, 'bad/name', ErrorCode.INVALID_TOPIC_EXCEPTION, 'Topic name "bad/name" is illegal, it contains a character other than ASCII alphanumerics, \'.\', \'_\' and \'-\'', 0],
      [BROKER, '2', ErrorCode.INVALID_REQUEST, 'Unexpected broker id, expected 1 or empty string, but received 2', 0],
      [BROKER, 'one', ErrorCode.INVALID_REQUEST, 'Broker id must be an integer, but it is: one', 0],
      [99, 'x', ErrorCode.INVALID_REQUEST, 'Unknown resource type 99', 0],
      [TOPIC, 'described', ErrorCode.NONE, null, 1],
    ]);
  });

  it('describes this broker (static and default layers) and the empty cluster-default resource', async () => {
    const broker = await describeConfigs(BROKER, '1', { names: ['node.id', 'log.retention.hours', 'log.retention.ms', 'num.partitions', 'log.dirs'], synonyms: true });
    expect(Object.fromEntries(broker.configs.map((c) => [c.name, [c.value, c.configSource, c.readOnly, c.synonyms.map((s) => [s.name, s.value, s.source])]]))).toEqual({
      'node.id': ['1', STATIC_BROKER_CONFIG, true, [['node.id', '1', STATIC_BROKER_CONFIG]]],
      'log.dirs': [h.logDir, STATIC_BROKER_CONFIG, true, [['log.dirs', h.logDir, STATIC_BROKER_CONFIG]]],
      // Read-only (not dynamically updatable) in Kafka; log.retention.ms is the dynamic one, unset here.
      'log.retention.hours': ['168', DEFAULT_CONFIG, true, [['log.retention.hours', '168', DEFAULT_CONFIG]]],
      'log.retention.ms': [null, DEFAULT_CONFIG, false, []],
      'num.partitions': ['1', DEFAULT_CONFIG, true, [['num.partitions', '1', DEFAULT_CONFIG]]],
    });
    expect(await describeConfigs(BROKER, '')).toMatchObject({ errorCode: 0, configs: [] });
  });

  it('describes broker loggers as an empty list (no log4j) and refuses to alter one, as Kafka does for an unknown logger', async () => {
    expect(await describeConfigs(BROKER_LOGGER, '1')).toMatchObject({ errorCode: 0, configs: [] });
    expect(await describeConfigs(BROKER_LOGGER, '')).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Broker id must not be empty' });
    expect(await describeConfigs(BROKER_LOGGER, '7')).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Unexpected broker id, expected 1 but received 7' });
    expect(await incrementalAlter([
      { type: BROKER_LOGGER, name: '1', ops: [['kafka.server', SET, 'DEBUG']] },
      { type: BROKER_LOGGER, name: '1', ops: [] },
    ])).toMatchObject([
      { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Each resource must appear at most once.' },
      { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Each resource must appear at most once.' },
    ]);
    expect(await incrementalAlter([{ type: BROKER_LOGGER, name: '1', ops: [['kafka.server', SET, 'DEBUG']] }])).toMatchObject([
      { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: 'Logger kafka.server does not exist!' },
    ]);
    expect(await incrementalAlter([{ type: BROKER_LOGGER, name: '1', ops: [['root', APPEND, 'DEBUG']] }])).toMatchObject([
      { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'APPEND operation is not allowed for the BROKER_LOGGER resource' },
    ]);
    expect(await legacyAlter([{ type: BROKER_LOGGER, name: '1', configs: { root: 'DEBUG' } }])).toEqual([
      { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Unknown resource type 8' },
    ]);
  });
});

describe('AlterConfigs and IncrementalAlterConfigs on topics', () => {
  it('AlterConfigs replaces every override of the topic with the given set, and the partition log follows', async () => {
    expect(await h.createTopic('legacy', 1, { 'retention.ms': '3600000', 'segment.bytes': '2000000' })).toBe(ErrorCode.NONE);
    expect(await legacyAlter([{ type: TOPIC, name: 'legacy', configs: { 'segment.ms': '7200000' } }])).toEqual([{ errorCode: 0, errorMessage: null }]);
    expect(await topicValues('legacy', ['retention.ms', 'segment.bytes', 'segment.ms'])).toEqual({
      'retention.ms': [String(WEEK_MS), DEFAULT_CONFIG],
      'segment.bytes': ['1073741824', DEFAULT_CONFIG],
      'segment.ms': ['7200000', TOPIC_CONFIG],
    });
    expect(h.logConfigOf('legacy', 0)).toMatchObject({ retentionMs: WEEK_MS, segmentBytes: 1073741824, segmentMs: 7_200_000 });
    // kafkajs sends AlterConfigs v1.
    expect(await legacyAlter([{ type: TOPIC, name: 'legacy', configs: {} }], false, 1)).toEqual([{ errorCode: 0, errorMessage: null }]);
    expect(await topicValues('legacy', ['segment.ms'])).toEqual({ 'segment.ms': [String(WEEK_MS), DEFAULT_CONFIG] });
  });

  it('IncrementalAlterConfigs applies SET, DELETE, APPEND and SUBTRACT, and the partition log follows', async () => {
    expect(await h.createTopic('incremental', 1, { 'segment.ms': '7200000' })).toBe(ErrorCode.NONE);
    expect(await incrementalAlter([{ type: TOPIC, name: 'incremental', ops: [['retention.ms', SET, '1000'], ['cleanup.policy', APPEND, 'compact']] }]))
      .toEqual([{ type: TOPIC, name: 'incremental', errorCode: 0, errorMessage: null }]);
    expect(await topicValues('incremental', ['retention.ms', 'cleanup.policy', 'segment.ms'])).toEqual({
      'cleanup.policy': ['delete,compact', TOPIC_CONFIG],
      'retention.ms': ['1000', TOPIC_CONFIG],
      'segment.ms': ['7200000', TOPIC_CONFIG],
    });
    expect(h.logConfigOf('incremental', 0)).toMatchObject({ retentionMs: 1000, cleanupPolicy: ['delete', 'compact'], segmentMs: 7_200_000 });

    expect(await incrementalAlter([{ type: TOPIC, name: 'incremental', ops: [['cleanup.policy', SUBTRACT, 'delete'], ['retention.ms', DELETE, null]] }], false, 0))
      .toMatchObject([{ errorCode: 0 }]);
    expect(await topicValues('incremental', ['retention.ms', 'cleanup.policy', 'segment.ms'])).toEqual({
      'cleanup.policy': ['compact', TOPIC_CONFIG],
      'retention.ms': [String(WEEK_MS), DEFAULT_CONFIG],
      'segment.ms': ['7200000', TOPIC_CONFIG],
    });
    expect(h.logConfigOf('incremental', 0)).toMatchObject({ retentionMs: WEEK_MS, cleanupPolicy: ['compact'] });
  });

  it('answers Kafka error codes per resource and applies the valid resources of the same request', async () => {
    expect(await h.createTopic('errors', 1)).toBe(ErrorCode.NONE);
    const results = await incrementalAlter([
      { type: TOPIC, name: 'errors', ops: [['no.such.config', SET, '1']] },
      { type: TOPIC, name: 'described', ops: [['retention.ms', SET, 'soon']] },
      { type: TOPIC, name: 'legacy', ops: [['retention.ms', APPEND, '5']] },
      { type: TOPIC, name: 'incremental', ops: [['retention.ms', SET, '1'], ['retention.ms', DELETE, null]] },
      { type: TOPIC, name: 'ghost', ops: [['retention.ms', SET, '1']] },
      { type: TOPIC, name: '', ops: [['retention.ms', SET, '1']] },
      { type: TOPIC, name: 'errors', ops: [['segment.ms', SET, null]] },
      { type: 16, name: 'metrics', ops: [] },
      { type: TOPIC, name: 'missing', ops: [] },
    ]);
    expect(results.map((r) => [r.name, r.errorCode, r.errorMessage])).toEqual([
      ['errors', ErrorCode.INVALID_REQUEST, 'Each resource must appear at most once.'],
      ['described', ErrorCode.INVALID_CONFIG, expect.stringContaining('retention.ms') as unknown],
      ['legacy', ErrorCode.INVALID_CONFIG, "Can't APPEND to key retention.ms because its type is not LIST."],
      ['incremental', ErrorCode.INVALID_REQUEST, 'Error due to duplicate config keys'],
      ['ghost', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "The topic 'ghost' does not exist."],
      ['', ErrorCode.INVALID_REQUEST, 'Default topic resources are not allowed.'],
      ['errors', ErrorCode.INVALID_REQUEST, 'Each resource must appear at most once.'],
      ['metrics', ErrorCode.INVALID_REQUEST, 'Unsupported resource type CLIENT_METRICS: Millrace does not implement CLIENT_METRICS configs yet'],
      ['missing', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "The topic 'missing' does not exist."],
    ]);
    expect(await incrementalAlter([{ type: TOPIC, name: 'errors', ops: [['no.such.config', SET, '1']] }])).toMatchObject([
      { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: 'Unknown topic config name: no.such.config' },
    ]);
    expect(await incrementalAlter([{ type: TOPIC, name: 'errors', ops: [['segment.ms', SET, null]] }])).toMatchObject([
      { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Null value not supported for : segment.ms' },
    ]);
    expect(await legacyAlter([
      { type: TOPIC, name: 'errors', configs: { 'retention.ms': '5000', 'max.message.bytes': '-1' } },
      { type: TOPIC, name: 'legacy', configs: { 'retention.ms': '5000' } },
    ])).toEqual([
      { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: expect.stringContaining('max.message.bytes') as unknown },
      { errorCode: ErrorCode.NONE, errorMessage: null },
    ]);
    // The failed resource changed nothing; the valid one in the same request was applied.
    expect(await topicValues('errors', ['retention.ms'])).toEqual({ 'retention.ms': [String(WEEK_MS), DEFAULT_CONFIG] });
    expect(await topicValues('legacy', ['retention.ms'])).toEqual({ 'retention.ms': ['5000', TOPIC_CONFIG] });
  });

  it('validateOnly validates but writes nothing', async () => {
    const before = h.broker.image.lastAppliedOffset;
    expect(await incrementalAlter([{ type: TOPIC, name: 'errors', ops: [['retention.ms', SET, '1234']] }], true)).toMatchObject([{ errorCode: 0, errorMessage: null }]);
    expect(await legacyAlter([{ type: TOPIC, name: 'errors', configs: { 'retention.ms': '1234' } }], true)).toEqual([{ errorCode: 0, errorMessage: null }]);
    expect(await incrementalAlter([{ type: BROKER, name: '', ops: [['log.retention.ms', SET, '1234']] }], true)).toMatchObject([{ errorCode: 0 }]);
    expect(await incrementalAlter([{ type: TOPIC, name: 'errors', ops: [['retention.ms', SET, 'x']] }], true)).toMatchObject([{ errorCode: ErrorCode.INVALID_CONFIG }]);
    expect(h.broker.image.lastAppliedOffset).toBe(before);
    expect(await topicValues('errors', ['retention.ms'])).toEqual({ 'retention.ms': [String(WEEK_MS), DEFAULT_CONFIG] });
    expect(await describeConfigs(BROKER, '')).toMatchObject({ configs: [] });
  });
});

describe('dynamic broker configs', () => {
  it('a cluster-wide log.retention.ms default reaches topics without an override, their logs, and new topics', async () => {
    expect(await h.createTopic('dyn-plain', 1)).toBe(ErrorCode.NONE);
    expect(await h.createTopic('dyn-override', 1, { 'retention.ms': '3600000' })).toBe(ErrorCode.NONE);
    expect(await incrementalAlter([{ type: BROKER, name: '', ops: [['log.retention.ms', SET, String(DAY_MS)]] }])).toEqual([
      { type: BROKER, name: '', errorCode: 0, errorMessage: null },
    ]);
    const plain = await describeConfigs(TOPIC, 'dyn-plain', { names: ['retention.ms'], synonyms: true });
    expect(plain.configs.map((c) => [c.value, c.configSource, c.synonyms])).toEqual([[String(DAY_MS), DYNAMIC_DEFAULT_BROKER_CONFIG, [
      { name: 'log.retention.ms', value: String(DAY_MS), source: DYNAMIC_DEFAULT_BROKER_CONFIG },
      { name: 'log.retention.hours', value: '168', source: DEFAULT_CONFIG },
    ]]]);
    expect(await topicValues('dyn-override', ['retention.ms'])).toEqual({ 'retention.ms': ['3600000', TOPIC_CONFIG] });
    expect(h.logConfigOf('dyn-plain', 0)?.retentionMs).toBe(DAY_MS);
    expect(h.logConfigOf('dyn-override', 0)?.retentionMs).toBe(3_600_000);

    const clusterDefault = await describeConfigs(BROKER, '', { synonyms: true });
    expect(clusterDefault.configs.map((c) => [c.name, c.value, c.configSource, c.synonyms])).toEqual([
      ['log.retention.ms', String(DAY_MS), DYNAMIC_DEFAULT_BROKER_CONFIG, [{ name: 'log.retention.ms', value: String(DAY_MS), source: DYNAMIC_DEFAULT_BROKER_CONFIG }]],
    ]);
    expect((await describeConfigs(BROKER, '1', { names: ['log.retention.ms'] })).configs.map((c) => [c.value, c.configSource]))
      .toEqual([[String(DAY_MS), DYNAMIC_DEFAULT_BROKER_CONFIG]]);

    // A topic created afterwards: its log is opened with the static config, then gets the dynamic one.
    expect(await h.createTopic('dyn-later', 2)).toBe(ErrorCode.NONE);
    await vi.waitFor(() => {
      expect([h.logConfigOf('dyn-later', 0)?.retentionMs, h.logConfigOf('dyn-later', 1)?.retentionMs]).toEqual([DAY_MS, DAY_MS]);
    });
  });

  it('a per-broker value wins over the cluster default; static-only and foreign-broker changes are refused', async () => {
    expect(await incrementalAlter([{ type: BROKER, name: '1', ops: [['log.retention.ms', SET, '7200000']] }])).toMatchObject([{ errorCode: 0 }]);
    const plain = await describeConfigs(TOPIC, 'dyn-plain', { names: ['retention.ms'], synonyms: true });
    expect(plain.configs.map((c) => [c.value, c.configSource, c.synonyms.map((s) => [s.value, s.source])])).toEqual([['7200000', DYNAMIC_BROKER_CONFIG, [
      ['7200000', DYNAMIC_BROKER_CONFIG], [String(DAY_MS), DYNAMIC_DEFAULT_BROKER_CONFIG], ['168', DEFAULT_CONFIG],
    ]]]);
    expect(h.logConfigOf('dyn-plain', 0)?.retentionMs).toBe(7_200_000);

    expect(await incrementalAlter([
      { type: BROKER, name: '', ops: [['log.dirs', SET, '/elsewhere']] },
      { type: BROKER, name: '2', ops: [['log.retention.ms', SET, '1']] },
      { type: BROKER, name: 'x', ops: [['log.retention.ms', SET, '1']] },
      { type: BROKER, name: '1', ops: [['log.retention.ms', SET, 'forever']] },
      { type: BROKER, name: '01', ops: [['log.retention.ms', APPEND, '1']] },
    ])).toEqual([
      { type: BROKER, name: '', errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Cannot update these configs dynamically: [log.dirs]' },
      { type: BROKER, name: '2', errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Unexpected broker id, expected 1, but received 2' },
      { type: BROKER, name: 'x', errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Node id must be an integer, but it is: x' },
      { type: BROKER, name: '1', errorCode: ErrorCode.INVALID_REQUEST, errorMessage: expect.stringContaining('log.retention.ms') as unknown },
      { type: BROKER, name: '01', errorCode: ErrorCode.INVALID_CONFIG, errorMessage: "Can't APPEND to key log.retention.ms because its type is not LIST." },
    ]);

    // Legacy AlterConfigs replaces this broker's whole dynamic layer: an empty set removes the per-broker value.
    expect(await legacyAlter([{ type: BROKER, name: '1', configs: {} }])).toEqual([{ errorCode: 0, errorMessage: null }]);
    expect(await topicValues('dyn-plain', ['retention.ms'])).toEqual({ 'retention.ms': [String(DAY_MS), DYNAMIC_DEFAULT_BROKER_CONFIG] });
    expect(h.logConfigOf('dyn-plain', 0)?.retentionMs).toBe(DAY_MS);
  });

  it('a cluster-wide message.max.bytes default applies to produce', async () => {
    expect(await h.createTopic('dyn-produce', 1)).toBe(ErrorCode.NONE);
    const big = 'x'.repeat(400);
    expect((await h.produce('dyn-produce', 0, [big])).errorCode).toBe(ErrorCode.NONE);
    expect(await incrementalAlter([{ type: BROKER, name: '', ops: [['message.max.bytes', SET, '200']] }])).toMatchObject([{ errorCode: 0 }]);
    expect((await h.produce('dyn-produce', 0, [big])).errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    expect((await h.produce('dyn-produce', 0, ['small'])).errorCode).toBe(ErrorCode.NONE);
    expect(await incrementalAlter([{ type: BROKER, name: '', ops: [['message.max.bytes', DELETE, null]] }])).toMatchObject([{ errorCode: 0 }]);
    expect((await h.produce('dyn-produce', 0, [big])).errorCode).toBe(ErrorCode.NONE);
  });
});

describe('persistence', () => {
  it('keeps topic overrides and dynamic broker configs across a restart (they are in the metadata log)', async () => {
    await h.restart();
    expect(await topicValues('incremental', ['cleanup.policy', 'segment.ms'])).toEqual({
      'cleanup.policy': ['compact', TOPIC_CONFIG],
      'segment.ms': ['7200000', TOPIC_CONFIG],
    });
    expect(await topicValues('dyn-plain', ['retention.ms'])).toEqual({ 'retention.ms': [String(DAY_MS), DYNAMIC_DEFAULT_BROKER_CONFIG] });
    // The logs were opened with the static config; the replayed dynamic default is applied to them at startup.
    expect(h.logConfigOf('dyn-plain', 0)?.retentionMs).toBe(DAY_MS);
    expect(h.logConfigOf('dyn-override', 0)?.retentionMs).toBe(3_600_000);
    expect(h.logConfigOf('incremental', 0)).toMatchObject({ cleanupPolicy: ['compact'], segmentMs: 7_200_000 });
  });
});

// kafkajs 2.x against a real Millrace broker. kafkajs sends non-flexible versions only (Produce 7, Fetch 11,
// Metadata 6, CreateTopics 3, ...), ignores the broker's minimum versions, and sends admin requests to
// Metadata.ControllerId.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompressionTypes, Kafka, logLevel, type Admin, type IHeaders, type Message, type Producer, type RecordMetadata } from 'kafkajs';
import { TestBroker, type Codec } from './helpers/broker.ts';
import { KafkajsPartitionReader } from './helpers/kafkajs-fetch.ts';
import { countsByPartition, expectReadBack, makeRecords, type ConsumedRecord, type TestRecord } from './helpers/records.ts';
import { closeQuietly, expectFailure, expectStoredBatches, rootCause, step } from './helpers/step.ts';

const CLIENT = 'kafkajs';
const STEP_MS = 30_000;
const MAX_MESSAGE_BYTES = 10_000;

let broker: TestBroker;
let kafka: Kafka;
let admin: Admin;

beforeAll(async () => {
  broker = await TestBroker.start(CLIENT, { 'auto.create.topics.enable': 'false' });
  kafka = new Kafka({
    clientId: 'compat-kafkajs', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING,
    connectionTimeout: 5_000, requestTimeout: 15_000, retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 },
  });
  admin = kafka.admin();
  await step(CLIENT, 'admin connect', STEP_MS, () => admin.connect(), broker);
});

afterAll(async () => {
  if (admin !== undefined) await closeQuietly('kafkajs admin disconnect', () => admin.disconnect());
  await broker?.stop();
});

const CODECS: Partial<Record<Codec, CompressionTypes>> = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP };

function toMessage(r: TestRecord): Message {
  const headers: IHeaders = {};
  for (const [name, v] of r.headers) {
    if (v === null) throw new Error('kafkajs cannot send null header values');
    const prev = headers[name];
    headers[name] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v] as Buffer[];
  }
  return { partition: r.partition, key: r.key, value: r.value, headers, ...(r.timestamp === null ? {} : { timestamp: String(r.timestamp) }) };
}

async function createTopic(topic: string, numPartitions: number, configEntries: Array<{ name: string; value: string }> = []): Promise<void> {
  const created = await step(CLIENT, `createTopics ${topic}`, STEP_MS, () => admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: 1, configEntries }], waitForLeaders: true }), broker);
  expect(created, `[${CLIENT}] createTopics ${topic}: returns true for a new topic`).toBe(true);
}

async function withProducer<T>(options: Parameters<Kafka['producer']>[0], fn: (p: Producer) => Promise<T>): Promise<T> {
  const producer = kafka.producer({ allowAutoTopicCreation: false, ...options });
  await step(CLIENT, 'producer connect', STEP_MS, () => producer.connect(), broker);
  try {
    return await fn(producer);
  } finally {
    await closeQuietly('kafkajs producer disconnect', () => producer.disconnect());
  }
}

async function readPartitions(what: string, topic: string, counts: readonly number[], from = 0): Promise<ConsumedRecord[]> {
  const reader = new KafkajsPartitionReader(kafka);
  await step(CLIENT, `${what}: connect`, STEP_MS, () => reader.connect(), broker);
  try {
    const out: ConsumedRecord[] = [];
    for (const [p, n] of counts.entries()) {
      const { records } = await step(CLIENT, `${what}: fetch ${topic}-${p} from ${from}`, STEP_MS, () => reader.read(topic, p, from, n - from), broker);
      out.push(...records);
    }
    return out;
  } finally {
    await closeQuietly('kafkajs cluster disconnect', () => reader.disconnect());
  }
}

/** Produce in several sends (several batches per partition), check acks, read back, check stored batches. */
async function roundTrip(label: string, topic: string, codec: Codec, producerOptions: Parameters<Kafka['producer']>[0], acks: number): Promise<void> {
  const partitions = 3;
  await createTopic(topic, partitions);
  const records = makeRecords({ tag: topic, count: 60, partitions, nullsAndEmpties: true });
  const compression = CODECS[codec];
  if (compression === undefined) throw new Error(`no kafkajs codec ${codec}`);
  const sends = [records.slice(0, 20), records.slice(20, 45), records.slice(45)];
  const acked: RecordMetadata[][] = [];
  await withProducer(producerOptions, async (producer) => {
    for (const [i, chunk] of sends.entries()) {
      acked.push(await step(CLIENT, `${label}: send #${i} (${chunk.length} records, acks=${acks}, ${codec})`, STEP_MS,
        () => producer.send({ topic, acks, compression, messages: chunk.map(toMessage) }), broker));
    }
  });
  if (acks !== 0) {
    // kafkajs reports one base offset per partition and send: the previous sends' record counts.
    const before = Array.from({ length: partitions }, () => 0);
    for (const [i, chunk] of sends.entries()) {
      const want = countsByPartition(chunk, partitions).map((n, p) => ({ topicName: topic, partition: p, errorCode: 0, baseOffset: String(before[p]) }))
        .filter((_, p) => countsByPartition(chunk, partitions)[p] !== 0);
      countsByPartition(chunk, partitions).forEach((n, p) => { before[p] = (before[p] ?? 0) + n; });
      const got = (acked[i] ?? []).map((m) => ({ topicName: m.topicName, partition: m.partition, errorCode: m.errorCode, baseOffset: m.baseOffset ?? null }))
        .sort((a, b) => a.partition - b.partition);
      expect(got, `[${CLIENT}] ${label}: send #${i} acknowledgements`).toEqual(want);
    }
  } else {
    expect(acked.flat(), `[${CLIENT}] ${label}: acks=0 sends return no metadata`).toEqual([]);
  }
  const counts = countsByPartition(records, partitions);
  const offsets = await step(CLIENT, `${label}: fetchTopicOffsets`, STEP_MS, () => admin.fetchTopicOffsets(topic), broker);
  expect(offsets.map((o) => ({ partition: o.partition, low: o.low, high: o.high })).sort((a, b) => a.partition - b.partition),
    `[${CLIENT}] ${label}: ListOffsets earliest/latest per partition`).toEqual(counts.map((n, p) => ({ partition: p, low: '0', high: String(n) })));
  const consumed = await readPartitions(`${label}: read back`, topic, counts);
  expectReadBack(`[${CLIENT}] ${label}: read back from offset 0`, consumed, records, { partitions });
  // From an offset inside a batch: the broker returns the batch that holds it, the client skips the rest.
  const fromMiddle = await readPartitions(`${label}: read from offset 9`, topic, counts, 9);
  expectReadBack(`[${CLIENT}] ${label}: read back from offset 9`, fromMiddle, records, { partitions, fromOffset: new Map([[0, 9], [1, 9], [2, 9]]) });
  for (let p = 0; p < partitions; p++) {
    expectStoredBatches(`[${CLIENT}] ${label}`, broker, topic, p, { codec, idempotent: producerOptions?.idempotent === true, records: counts[p] ?? 0 });
  }
}

describe('kafkajs', () => {
  it('metadata: describeCluster, topic metadata, CreatePartitions and DeleteTopics', async () => {
    const cluster = await step(CLIENT, 'describeCluster', STEP_MS, () => admin.describeCluster(), broker);
    expect(cluster, `[${CLIENT}] describeCluster`).toEqual({
      brokers: [{ nodeId: broker.nodeId, host: '127.0.0.1', port: broker.port }],
      controller: broker.nodeId,
      clusterId: broker.clusterId,
    });
    await createTopic('kjs-meta', 3);
    const describe = async (what: string): Promise<unknown> => {
      const meta = await step(CLIENT, what, STEP_MS, () => admin.fetchTopicMetadata({ topics: ['kjs-meta'] }), broker);
      return meta.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionId: p.partitionId, leader: p.leader, replicas: p.replicas, isr: p.isr, partitionErrorCode: p.partitionErrorCode })).sort((a, b) => a.partitionId - b.partitionId) }));
    };
    const partition = (partitionId: number): unknown => ({ partitionId, leader: broker.nodeId, replicas: [broker.nodeId], isr: [broker.nodeId], partitionErrorCode: 0 });
    expect(await describe('fetchTopicMetadata'), `[${CLIENT}] fetchTopicMetadata kjs-meta`).toEqual([{ name: 'kjs-meta', partitions: [0, 1, 2].map(partition) }]);
    const userTopics = async (what: string): Promise<string[]> => (await step(CLIENT, what, STEP_MS, () => admin.listTopics(), broker)).filter((t) => !t.startsWith('__'));
    expect(await userTopics('listTopics'), `[${CLIENT}] listTopics`).toEqual(['kjs-meta']);

    await step(CLIENT, 'createPartitions to 5', STEP_MS, () => admin.createPartitions({ topicPartitions: [{ topic: 'kjs-meta', count: 5 }] }), broker);
    expect(await describe('fetchTopicMetadata after createPartitions'), `[${CLIENT}] metadata after createPartitions`).toEqual([{ name: 'kjs-meta', partitions: [0, 1, 2, 3, 4].map(partition) }]);

    await step(CLIENT, 'deleteTopics', STEP_MS, () => admin.deleteTopics({ topics: ['kjs-meta'], timeout: 10_000 }), broker);
    expect(await userTopics('listTopics after deleteTopics'), `[${CLIENT}] listTopics after deleteTopics`).toEqual([]);
  });

  for (const codec of Object.keys(CODECS) as Codec[]) {
    it(`produce and read back by partition/offset, compression ${codec}`, async () => {
      await roundTrip(`codec ${codec}`, `kjs-codec-${codec}`, codec, {}, -1);
    });
  }

  for (const acks of [0, 1, -1]) {
    it(`produce with acks=${acks}`, async () => {
      await roundTrip(`acks=${acks}`, `kjs-acks-${acks === -1 ? 'all' : acks}`, 'gzip', {}, acks);
    });
  }

  it('idempotent producer: one producer id, contiguous sequences, no duplicates', async () => {
    await roundTrip('idempotent', 'kjs-idempotent', 'none', { idempotent: true, maxInFlightRequests: 1 }, -1);
  });

  it('consumer group: consumes every record, commits, resumes from the committed offsets', async () => {
    const topic = 'kjs-group';
    const groupId = 'kjs-group-1';
    const partitions = 3;
    await createTopic(topic, partitions);
    const first = makeRecords({ tag: `${topic}-a`, count: 30, partitions });
    const second = makeRecords({ tag: `${topic}-b`, count: 12, partitions });
    await withProducer({}, (p) => step(CLIENT, 'group: produce first set', STEP_MS, () => p.send({ topic, acks: -1, messages: first.map(toMessage) }), broker));

    const consumeAll = async (what: string, count: number, fromBeginning: boolean): Promise<ConsumedRecord[]> => {
      const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000, retry: { retries: 2, initialRetryTime: 100 } });
      const got: ConsumedRecord[] = [];
      try {
        await step(CLIENT, `${what}: connect + subscribe`, STEP_MS, async () => { await consumer.connect(); await consumer.subscribe({ topic, fromBeginning }); }, broker);
        await step(CLIENT, `${what}: receive ${count} records`, 45_000, () => new Promise<void>((resolve, reject) => {
          consumer.on(consumer.events.CRASH, (e) => reject(new Error(`consumer crashed: ${String((e.payload as { error?: unknown }).error)}`)));
          consumer.run({
            autoCommit: false,
            eachMessage: async ({ partition, message }) => {
              got.push({ partition, offset: Number(message.offset), key: message.key, value: message.value, timestamp: Number(message.timestamp),
                headers: Object.entries(message.headers ?? {}).flatMap(([n, v]) => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((b) => [n, Buffer.from(b)] as [string, Buffer | null]))) });
              await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
              if (got.length >= count) resolve();
            },
          }).catch(reject);
        }), broker);
      } finally {
        await closeQuietly('kafkajs consumer disconnect', () => consumer.disconnect(), 20_000);
      }
      return got;
    };

    const got1 = await consumeAll('group: first consumer', first.length, true);
    expectReadBack(`[${CLIENT}] group: first consumer`, got1, first, { partitions });
    const committed = await step(CLIENT, 'group: fetchOffsets', STEP_MS, () => admin.fetchOffsets({ groupId, topics: [topic] }), broker);
    expect(committed.map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => ({ partition: p.partition, offset: p.offset })).sort((a, b) => a.partition - b.partition) })),
      `[${CLIENT}] group: committed offsets after the first consumer`).toEqual([{ topic, partitions: countsByPartition(first, partitions).map((n, p) => ({ partition: p, offset: String(n) })) }]);

    await withProducer({}, (p) => step(CLIENT, 'group: produce second set', STEP_MS, () => p.send({ topic, acks: -1, messages: second.map(toMessage) }), broker));
    const got2 = await consumeAll('group: second consumer (resumes from committed)', second.length, true);
    expectReadBack(`[${CLIENT}] group: second consumer`, got2, second, { partitions, baseOffset: new Map(countsByPartition(first, partitions).map((n, p) => [p, n])) });

    const groups = await step(CLIENT, 'group: listGroups', STEP_MS, () => admin.listGroups(), broker);
    expect(groups.groups, `[${CLIENT}] group: listGroups`).toEqual([{ groupId, protocolType: 'consumer' }]);
    const described = await step(CLIENT, 'group: describeGroups', STEP_MS, () => admin.describeGroups([groupId]), broker);
    expect(described.groups.map((g) => ({ groupId: g.groupId, state: g.state, protocolType: g.protocolType, members: g.members.length })), `[${CLIENT}] group: describeGroups after the consumers left`)
      .toEqual([{ groupId, state: 'Empty', protocolType: 'consumer', members: 0 }]);
  });

  it('consumer group of 3 members: partitions split among them, and re-split when one leaves', async () => {
    const topic = 'kjs-rebalance';
    const groupId = 'kjs-rebalance-1';
    await createTopic(topic, 6);
    // kafkajs reports each member's assignment on GROUP_JOIN (it does not expose the generation).
    const assignments = new Map<string, number[]>();
    let joins = 0;
    const consumers = Array.from({ length: 3 }, () => kafka.consumer({ groupId, sessionTimeout: 10_000, rebalanceTimeout: 10_000, heartbeatInterval: 500, retry: { retries: 5, initialRetryTime: 100 } }));
    const settled = (members: number): boolean => {
      const current = [...assignments.values()];
      const all = current.flat().sort((a, b) => a - b);
      // Disjoint and complete: every partition exactly once, every member with a share.
      return current.length === members && current.every((a) => a.length > 0) && JSON.stringify(all) === JSON.stringify([0, 1, 2, 3, 4, 5]);
    };
    const waitFor = (what: string, members: number): Promise<void> => step(CLIENT, what, 45_000, async () => {
      while (!settled(members)) await new Promise((r) => setTimeout(r, 50));
    }, broker);
    try {
      consumers.forEach((c, i) => {
        c.on(c.events.GROUP_JOIN, (e) => {
          const payload = e.payload as { memberId: string; memberAssignment: Record<string, number[]> };
          joins++;
          assignments.set(`c${i}`, [...(payload.memberAssignment[topic] ?? [])]);
        });
      });
      for (const c of consumers) {
        await step(CLIENT, 'rebalance: connect + subscribe', STEP_MS, async () => { await c.connect(); await c.subscribe({ topic }); }, broker);
        await c.run({ eachMessage: async () => {} });
      }
      await waitFor('rebalance: 3 members share 6 partitions', 3);
      const before = joins;
      await step(CLIENT, 'rebalance: one member leaves', STEP_MS, () => (consumers[2] as (typeof consumers)[number]).disconnect(), broker);
      assignments.delete('c2');
      await waitFor('rebalance: 2 remaining members take all 6 partitions', 2);
      expect(joins, `[${CLIENT}] rebalance: the remaining members rejoined after the leave`).toBeGreaterThanOrEqual(before + 2);
      const described = await step(CLIENT, 'rebalance: describeGroups', STEP_MS, () => admin.describeGroups([groupId]), broker);
      expect(described.groups.map((g) => [g.state, g.members.length]), `[${CLIENT}] rebalance: group after the leave`).toEqual([['Stable', 2]]);
    } finally {
      for (const c of consumers) await closeQuietly('kafkajs consumer disconnect', () => c.disconnect(), 20_000);
    }
  });

  it('admin: describe and alter topic configs', async () => {
    const topic = 'kjs-configs';
    await createTopic(topic, 1);
    const { ConfigResourceTypes } = await import('kafkajs');
    await step(CLIENT, 'configs: alterConfigs retention.ms', STEP_MS, () => admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'retention.ms', value: '3600000' }] }] }), broker);
    const described = await step(CLIENT, 'configs: describeConfigs', STEP_MS, () => admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms', 'cleanup.policy'] }] }), broker);
    const entries = described.resources[0]?.configEntries.map((e) => [e.configName, e.configValue, e.isDefault]).sort();
    expect(entries, `[${CLIENT}] configs: describeConfigs after alter`).toEqual([['cleanup.policy', 'delete', true], ['retention.ms', '3600000', false]]);
  });

  it('error: unknown topic with auto-create off', async () => {
    const topic = 'kjs-does-not-exist';
    const metaError = await expectFailure(CLIENT, 'fetchTopicMetadata of an unknown topic', STEP_MS, () => admin.fetchTopicMetadata({ topics: [topic] }));
    expect({ name: metaError.name, type: metaError['type'] }, `[${CLIENT}] fetchTopicMetadata of an unknown topic: error`).toEqual({ name: 'KafkaJSProtocolError', type: 'UNKNOWN_TOPIC_OR_PARTITION' });
    const sendError = await withProducer({ retry: { retries: 1, initialRetryTime: 100 } }, (p) =>
      expectFailure(CLIENT, 'send to an unknown topic', STEP_MS, () => p.send({ topic, messages: [{ value: 'x' }] })));
    const cause = rootCause(sendError);
    expect({ name: cause.name, type: cause['type'] }, `[${CLIENT}] send to an unknown topic: error (${sendError.name}: ${sendError.message})`).toEqual({ name: 'KafkaJSProtocolError', type: 'UNKNOWN_TOPIC_OR_PARTITION' });
    expect(await step(CLIENT, 'listTopics after the failures', STEP_MS, () => admin.listTopics(), broker), `[${CLIENT}] the unknown topic was not auto-created`).not.toContain(topic);
  });

  it('error: a record larger than max.message.bytes gets MESSAGE_TOO_LARGE', async () => {
    const topic = 'kjs-too-large';
    await createTopic(topic, 1, [{ name: 'max.message.bytes', value: String(MAX_MESSAGE_BYTES) }]);
    await withProducer({ retry: { retries: 0 } }, async (producer) => {
      const error = await expectFailure(CLIENT, `send a ${2 * MAX_MESSAGE_BYTES}-byte record`, STEP_MS, () => producer.send({ topic, acks: -1, messages: [{ partition: 0, value: randomBytes(2 * MAX_MESSAGE_BYTES) }] }));
      const cause = rootCause(error);
      expect({ name: cause.name, type: cause['type'] }, `[${CLIENT}] oversized record: error (${error.name}: ${error.message})`).toEqual({ name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE' });
      // The topic still works, and the rejected record left no trace.
      const ok = await step(CLIENT, 'send a small record after the rejection', STEP_MS, () => producer.send({ topic, acks: -1, messages: [{ partition: 0, value: 'small' }] }), broker);
      expect(ok.map((m) => ({ partition: m.partition, errorCode: m.errorCode, baseOffset: m.baseOffset })), `[${CLIENT}] small record after the rejection`).toEqual([{ partition: 0, errorCode: 0, baseOffset: '0' }]);
    });
  });

  it('error: creating an existing topic gives TOPIC_ALREADY_EXISTS', async () => {
    await createTopic('kjs-exists', 2);
    // kafkajs turns TOPIC_ALREADY_EXISTS (and only that error) into a false result.
    const again = await step(CLIENT, 'createTopics of an existing topic', STEP_MS, () => admin.createTopics({ topics: [{ topic: 'kjs-exists', numPartitions: 4 }] }), broker);
    expect(again, `[${CLIENT}] createTopics of an existing topic returns false (TOPIC_ALREADY_EXISTS)`).toBe(false);
    const meta = await step(CLIENT, 'fetchTopicMetadata of the existing topic', STEP_MS, () => admin.fetchTopicMetadata({ topics: ['kjs-exists'] }), broker);
    expect(meta.topics[0]?.partitions.length, `[${CLIENT}] the existing topic keeps its 2 partitions`).toBe(2);
  });
});

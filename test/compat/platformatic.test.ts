// @platformatic/kafka against a real Millrace broker. It sends flexible versions only (Produce 7-11,
// Fetch 12-17 with topic ids, Metadata 9-12, ListOffsets 5-9, JoinGroup 6-9, SyncGroup 4-5,
// FindCoordinator 4-6, OffsetCommit/OffsetFetch 8-9, InitProducerId 3-5) and supports every codec.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, ConfigResourceTypes, Consumer, IncrementalAlterConfigOperationTypes, Producer, type Message, type MessageToProduce, type ProduceResult } from '@platformatic/kafka';
import { ALL_CODECS, TestBroker, type Codec } from './helpers/broker.ts';
import { createTopicFixture } from './helpers/fixtures.ts';
import { countsByPartition, expectReadBack, makeRecords, type ConsumedRecord, type TestRecord } from './helpers/records.ts';
import { closeQuietly, expectFailure, expectStoredBatches, step } from './helpers/step.ts';
import { expectSplit } from './helpers/program.ts';

const CLIENT = '@platformatic/kafka';
const STEP_MS = 30_000;
const MAX_MESSAGE_BYTES = 10_000;

let broker: TestBroker;
let admin: Admin;

const base = (clientId: string): { clientId: string; bootstrapBrokers: string[]; timeout: number; retries: number; retryDelay: number } =>
  ({ clientId, bootstrapBrokers: [broker.bootstrap], timeout: 10_000, retries: 2, retryDelay: 200 });

beforeAll(async () => {
  broker = await TestBroker.start('platformatic', { 'auto.create.topics.enable': 'false' });
  admin = new Admin(base('compat-platformatic-admin'));
});

afterAll(async () => {
  if (admin !== undefined) await closeQuietly('platformatic admin close', () => admin.close());
  await broker?.stop();
});

/** The first Kafka protocol error (apiId) anywhere in an error tree (ResponseError/MultipleErrors nest them). */
function protocolErrorId(error: unknown, depth = 0): string | undefined {
  if (depth > 8 || typeof error !== 'object' || error === null) return undefined;
  const e = error as { apiId?: unknown; errors?: unknown; cause?: unknown };
  if (typeof e.apiId === 'string') return e.apiId;
  for (const inner of [...(Array.isArray(e.errors) ? e.errors as unknown[] : []), e.cause]) {
    const found = protocolErrorId(inner, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** close(force = true): leave without waiting for in-flight fetches. */
const forceClose = (consumer: Consumer): Promise<void> =>
  new Promise((resolve, reject) => { consumer.close(true, (error) => { if (error) reject(error); else resolve(); }); });

/** Headers as a Map: unique names only (the Map API cannot carry one name twice). */
function toMessage(topic: string, r: TestRecord): MessageToProduce {
  const headers = new Map<Buffer, Buffer>();
  for (const [name, v] of r.headers) if (v !== null) headers.set(Buffer.from(name), v);
  return {
    topic, partition: r.partition, headers,
    ...(r.key === null ? {} : { key: r.key }), ...(r.value === null ? {} : { value: r.value }),
    ...(r.timestamp === null ? {} : { timestamp: BigInt(r.timestamp) }),
  };
}

const recordsFor = (tag: string, count: number, partitions: number): TestRecord[] =>
  makeRecords({ tag, count, partitions }).map((r) => ({ ...r, headers: r.headers.filter(([n]) => n !== 'dup') }));

async function withProducer<T>(options: { idempotent?: boolean }, fn: (p: Producer) => Promise<T>): Promise<T> {
  const producer = new Producer({ ...base('compat-platformatic-producer'), autocreateTopics: false, ...options });
  try {
    return await fn(producer);
  } finally {
    await closeQuietly('platformatic producer close', () => producer.close());
  }
}

async function topicId(topic: string): Promise<string> {
  const md = await step(CLIENT, `metadata of ${topic}`, STEP_MS, () => admin.metadata({ topics: [topic] }), broker);
  const id = md.topics.get(topic)?.id;
  if (id === undefined) throw new Error(`[${CLIENT}] metadata has no topic ${topic}`);
  return id;
}

/** Reads partitions with the consumer's Fetch (v12+, by topic id), no group. */
async function readPartitions(what: string, topic: string, counts: readonly number[], from: number): Promise<ConsumedRecord[]> {
  const id = await topicId(topic);
  const consumer = new Consumer({ ...base('compat-platformatic-fetch'), groupId: 'compat-platformatic-unused' });
  const out: ConsumedRecord[] = [];
  try {
    for (const [p, n] of counts.entries()) {
      let next = BigInt(from);
      for (let round = 0; next < BigInt(n) && round < 50; round++) {
        const response = await step(CLIENT, `${what}: fetch ${topic}-${p} at ${next}`, STEP_MS, () => consumer.fetch({
          node: broker.nodeId, maxWaitTime: 500, minBytes: 1, maxBytes: 1 << 20,
          topics: [{ topicId: id, partitions: [{ partition: p, fetchOffset: next, currentLeaderEpoch: -1, lastFetchedEpoch: -1, partitionMaxBytes: 1 << 20 }] }],
        }), broker);
        const part = response.responses.find((t) => t.topicId === id)?.partitions.find((x) => x.partitionIndex === p);
        expect(part?.errorCode, `[${CLIENT}] ${what}: Fetch ${topic}-${p} error code`).toBe(0);
        for (const batch of part?.records ?? []) {
          for (const r of batch.records) {
            const offset = batch.firstOffset + BigInt(r.offsetDelta);
            if (offset < next) continue; // the batch holding the fetch offset starts before it
            out.push({
              partition: p, offset: Number(offset), key: r.key, value: r.value, timestamp: Number(batch.firstTimestamp + r.timestampDelta),
              headers: r.headers.map(([k, v]) => [k?.toString() ?? '', v] as [string, Buffer | null]),
            });
            next = offset + 1n;
          }
        }
      }
    }
  } finally {
    await closeQuietly('platformatic consumer close', () => forceClose(consumer));
  }
  return out;
}

async function roundTrip(label: string, topic: string, codec: Codec, acks: number, idempotent: boolean): Promise<void> {
  const partitions = 3;
  await createTopicFixture(broker, topic, partitions);
  const records = recordsFor(topic, 60, partitions);
  const sends = [records.slice(0, 25), records.slice(25)];
  const results: ProduceResult[] = [];
  await withProducer({ idempotent }, async (producer) => {
    for (const [i, chunk] of sends.entries()) {
      results.push(await step(CLIENT, `${label}: send #${i} (${chunk.length} records, acks=${acks}, ${codec})`, STEP_MS,
        () => producer.send({ messages: chunk.map((r) => toMessage(topic, r)), acks, compression: codec, ...(idempotent ? {} : { idempotent: false }) }), broker));
    }
  });
  if (acks !== 0) {
    const before = Array.from({ length: partitions }, () => 0);
    for (const [i, chunk] of sends.entries()) {
      const counts = countsByPartition(chunk, partitions);
      const want = counts.map((_, p) => ({ topic, partition: p, offset: BigInt(before[p] ?? 0) })).filter((_, p) => counts[p] !== 0);
      counts.forEach((n, p) => { before[p] = (before[p] ?? 0) + n; });
      expect([...(results[i]?.offsets ?? [])].sort((a, b) => a.partition - b.partition), `[${CLIENT}] ${label}: send #${i} base offsets`).toEqual(want);
    }
  }
  const counts = countsByPartition(records, partitions);
  expectReadBack(`[${CLIENT}] ${label}: read back from offset 0`, await readPartitions(`${label}: read`, topic, counts, 0), records, { partitions });
  expectReadBack(`[${CLIENT}] ${label}: read back from offset 7`, await readPartitions(`${label}: read from 7`, topic, counts, 7), records,
    { partitions, fromOffset: new Map([[0, 7], [1, 7], [2, 7]]) });
  for (let p = 0; p < partitions; p++) expectStoredBatches(`[${CLIENT}] ${label}`, broker, topic, p, { codec, idempotent, records: counts[p] ?? 0 });
}

/** One group member: consumes `count` records, committing each, then leaves. */
async function groupConsumeAll(what: string, groupId: string, topic: string, count: number): Promise<ConsumedRecord[]> {
  const consumer = new Consumer({ ...base('compat-platformatic-group'), groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
  const got: ConsumedRecord[] = [];
  try {
    await step(CLIENT, `${what}: receive ${count} records`, 45_000, async () => {
      const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: false, maxWaitTime: 500 });
      try {
        for await (const m of stream as AsyncIterable<Message>) {
          got.push({ partition: m.partition, offset: Number(m.offset), key: m.key, value: m.value, timestamp: Number(m.timestamp),
            headers: [...m.headers.entries()].map(([k, v]) => [k.toString(), v] as [string, Buffer | null]) });
          await m.commit();
          if (got.length >= count) break;
        }
      } finally {
        await stream.close();
      }
    }, broker);
  } finally {
    await closeQuietly('platformatic consumer close', () => forceClose(consumer), 20_000);
  }
  return got;
}

/** Committed offsets of a group as listConsumerGroupOffsets reports them. */
async function committedOffsets(what: string, a: Admin, groupId: string): Promise<Array<{ topic: string; partition: number; offset: bigint }>> {
  const offsets = await step(CLIENT, what, STEP_MS, () => a.listConsumerGroupOffsets({ groups: [groupId] }), broker);
  return offsets.flatMap((g) => g.topics.flatMap((t) => t.partitions.map((p) => {
    const x = p as unknown as { partitionIndex: number; committedOffset: bigint };
    return { topic: t.name, partition: x.partitionIndex, offset: x.committedOffset };
  }))).sort((a2, b) => a2.partition - b.partition);
}

describe('@platformatic/kafka', () => {
  it('admin: create a topic, then metadata (cluster id, brokers, controller, topics)', async () => {
    const created = await step(CLIENT, 'createTopics', STEP_MS, () => admin.createTopics({ topics: ['plt-meta'], partitions: 3, replicas: 1 }), broker);
    expect(created.map((t) => ({ name: t.name, partitions: t.partitions, replicas: t.replicas })), `[${CLIENT}] createTopics result`)
      .toEqual([{ name: 'plt-meta', partitions: 3, replicas: 1 }]);
    const md = await step(CLIENT, 'metadata', STEP_MS, () => admin.metadata({ topics: ['plt-meta'] }), broker);
    const topic = md.topics.get('plt-meta');
    expect({
      id: md.id, controllerId: md.controllerId,
      brokers: [...md.brokers.entries()].map(([id, b]) => ({ id, host: b.host, port: b.port })),
      topicId: topic?.id, partitionsCount: topic?.partitionsCount,
      partitions: topic?.partitions.map((p) => ({ leader: p.leader, replicas: p.replicas, isr: p.isr })),
    }, `[${CLIENT}] metadata`).toEqual({
      id: broker.clusterId, controllerId: broker.nodeId,
      brokers: [{ id: broker.nodeId, host: '127.0.0.1', port: broker.port }],
      topicId: created[0]?.id, partitionsCount: 3,
      partitions: [0, 1, 2].map(() => ({ leader: broker.nodeId, replicas: [broker.nodeId], isr: [broker.nodeId] })),
    });
    expect(topic?.id, `[${CLIENT}] metadata: a real topic id`).not.toBe('00000000-0000-0000-0000-000000000000');
    const listed = await step(CLIENT, 'listTopics', STEP_MS, () => admin.listTopics(), broker);
    expect(listed.filter((t) => !t.startsWith('__')), `[${CLIENT}] listTopics`).toEqual(['plt-meta']);
  });

  for (const codec of ALL_CODECS) {
    it(`produce and read back by partition/offset (Fetch by topic id), compression ${codec}`, async () => {
      await roundTrip(`codec ${codec}`, `plt-codec-${codec}`, codec, -1, false);
    });
  }

  for (const acks of [0, 1, -1]) {
    it(`produce with acks=${acks}`, async () => {
      await roundTrip(`acks=${acks}`, `plt-acks-${acks === -1 ? 'all' : acks}`, 'zstd', acks, false);
    });
  }

  it('idempotent producer: producer id and contiguous sequences', async () => {
    await roundTrip('idempotent', 'plt-idempotent', 'gzip', -1, true);
  });

  it('consumer group: consume, commit, resume from committed offsets', async () => {
    const topic = 'plt-group';
    const groupId = 'plt-group-1';
    const partitions = 3;
    await createTopicFixture(broker, topic, partitions);
    const first = recordsFor(`${topic}-a`, 30, partitions);
    const second = recordsFor(`${topic}-b`, 12, partitions);
    await withProducer({}, (p) => step(CLIENT, 'group: produce the first set', STEP_MS, () => p.send({ messages: first.map((r) => toMessage(topic, r)), acks: -1 }), broker));

    const consumeAll = (what: string, count: number): Promise<ConsumedRecord[]> => groupConsumeAll(what, groupId, topic, count);

    const got1 = await consumeAll('group: first member', first.length);
    expectReadBack(`[${CLIENT}] group: first member`, got1, first, { partitions });
    const offsets = await step(CLIENT, 'group: listConsumerGroupOffsets', STEP_MS, () => admin.listConsumerGroupOffsets({ groups: [groupId] }), broker);
    const committed = offsets.flatMap((g) => g.topics.flatMap((t) => t.partitions.map((p) => {
      const x = p as unknown as { partitionIndex: number; committedOffset: bigint };
      return { topic: t.name, partition: x.partitionIndex, offset: x.committedOffset };
    }))).sort((a, b) => a.partition - b.partition);
    expect(committed, `[${CLIENT}] group: committed offsets`).toEqual(countsByPartition(first, partitions).map((n, p) => ({ topic, partition: p, offset: BigInt(n) })));

    await withProducer({}, (p) => step(CLIENT, 'group: produce the second set', STEP_MS, () => p.send({ messages: second.map((r) => toMessage(topic, r)), acks: -1 }), broker));
    const got2 = await consumeAll('group: second member (resumes from committed)', second.length);
    expectReadBack(`[${CLIENT}] group: second member`, got2, second, { partitions, baseOffset: new Map(countsByPartition(first, partitions).map((n, p) => [p, n])) });
  });

  it('consumer group of 3 members: partitions split among them, and re-split when one leaves', async () => {
    const topic = 'plt-rebalance';
    const groupId = 'plt-rebalance-1';
    const partitions = 6;
    await createTopicFixture(broker, topic, partitions);
    const consumers = Array.from({ length: 3 }, (_, i) => new Consumer({ ...base(`compat-platformatic-member-${i}`), groupId, sessionTimeout: 10_000, rebalanceTimeout: 10_000, heartbeatInterval: 500 }));
    const streams: Array<{ close: () => Promise<void> }> = [];
    // Each member's own view: Consumer.assignments after its last JoinGroup/SyncGroup.
    const views = (members: readonly Consumer[]): number[][] => members.map((c) => (c.assignments ?? []).filter((a) => a.topic === topic).flatMap((a) => [...a.partitions]).sort((x, y) => x - y));
    const split = (members: readonly Consumer[]): boolean => {
      const v = views(members);
      const all = v.flat();
      return v.every((a) => a.length > 0) && all.length === partitions && new Set(all).size === partitions;
    };
    const awaitSplit = (what: string, members: readonly Consumer[]): Promise<number[][]> => step(CLIENT, what, 45_000, async () => {
      let seen = '';
      let since = Date.now();
      for (;;) {
        const now = split(members) ? JSON.stringify(views(members)) : '';
        if (now === '' || now !== seen) { seen = now; since = Date.now(); } else if (Date.now() - since >= 1_000) return views(members);
        await new Promise((r) => setTimeout(r, 50));
      }
    }, broker);
    try {
      for (const [i, c] of consumers.entries()) {
        streams.push(await step(CLIENT, `rebalance: member ${i} joins`, STEP_MS, () => c.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: false, maxWaitTime: 500 }), broker));
      }
      expectSplit(`[${CLIENT}] rebalance: 3 members`, await awaitSplit('rebalance: 3 members share 6 partitions', consumers), 3, partitions);
      await step(CLIENT, 'rebalance: member 2 leaves (LeaveGroup)', STEP_MS, async () => { await streams[2]?.close(); await consumers[2]?.close(); }, broker);
      expectSplit(`[${CLIENT}] rebalance: 2 members after one left`, await awaitSplit('rebalance: 2 remaining members take all 6 partitions', consumers.slice(0, 2)), 2, partitions);
      const described = await step(CLIENT, 'rebalance: describeGroups', STEP_MS, () => admin.describeGroups({ groups: [groupId] }), broker);
      const g = described.get(groupId);
      expect({ state: g?.state, members: g?.members.size }, `[${CLIENT}] rebalance: the group described after the leave`).toEqual({ state: 'STABLE', members: 2 });
    } finally {
      for (const s of streams) await closeQuietly('platformatic stream close', () => s.close());
      for (const c of consumers) await closeQuietly('platformatic consumer close', () => forceClose(c), 20_000);
    }
  });

  it('admin: describe and alter topic configs, create partitions, delete topic', async () => {
    const topic = 'plt-admin';
    await step(CLIENT, 'admin: createTopics', STEP_MS, () => admin.createTopics({ topics: [topic], partitions: 2, replicas: 1 }), broker);
    const describeConfigs = async (what: string): Promise<Record<string, [string | null, boolean]>> => {
      const d = await step(CLIENT, what, STEP_MS, () => admin.describeConfigs({ resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: ['retention.ms', 'cleanup.policy'] }] }), broker);
      // configSource 5 = DEFAULT_CONFIG
      return Object.fromEntries(d.flatMap((r) => r.configs.map((c) => [c.name, [c.value ?? null, c.configSource === 5]])));
    };
    expect(await describeConfigs('admin: describeConfigs of a new topic'), `[${CLIENT}] admin: describeConfigs of a new topic`)
      .toEqual({ 'retention.ms': ['604800000', true], 'cleanup.policy': ['delete', true] });
    await step(CLIENT, 'admin: incrementalAlterConfigs retention.ms', STEP_MS, () => admin.incrementalAlterConfigs({
      resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configs: [{ name: 'retention.ms', configOperation: IncrementalAlterConfigOperationTypes.SET, value: '3600000' }] }],
    }), broker);
    expect(await describeConfigs('admin: describeConfigs after the alter'), `[${CLIENT}] admin: describeConfigs after the alter`)
      .toEqual({ 'retention.ms': ['3600000', false], 'cleanup.policy': ['delete', true] });

    await step(CLIENT, 'admin: createPartitions 2 -> 5', STEP_MS, () => admin.createPartitions({ topics: [{ name: topic, count: 5 }] }), broker);
    const md = await step(CLIENT, 'admin: metadata after createPartitions', STEP_MS, () => admin.metadata({ topics: [topic], forceUpdate: true }), broker);
    const t = md.topics.get(topic);
    expect({ partitionsCount: t?.partitionsCount, partitions: t?.partitions.map((p) => ({ leader: p.leader, replicas: p.replicas, isr: p.isr })) }, `[${CLIENT}] admin: metadata after createPartitions`)
      .toEqual({ partitionsCount: 5, partitions: [0, 1, 2, 3, 4].map(() => ({ leader: broker.nodeId, replicas: [broker.nodeId], isr: [broker.nodeId] })) });

    await step(CLIENT, 'admin: deleteTopics', STEP_MS, () => admin.deleteTopics({ topics: [topic] }), broker);
    expect(await step(CLIENT, 'admin: listTopics after deleteTopics', STEP_MS, () => admin.listTopics(), broker), `[${CLIENT}] admin: listTopics after deleteTopics`).not.toContain(topic);
  });

  it('error: unknown topic with auto-create off', async () => {
    const error = await withProducer({}, (p) => expectFailure(CLIENT, 'send to an unknown topic', STEP_MS, () => p.send({ messages: [{ topic: 'plt-missing', value: Buffer.from('x') }] })));
    // The client turns Metadata's UNKNOWN_TOPIC_OR_PARTITION (code 3) for a topic into this UserError.
    expect({ code: error['code'], message: error.message.replace(/^\[[^\]]*\] [^:]*: /, '') }, `[${CLIENT}] send to an unknown topic: error`)
      .toEqual({ code: 'PLT_KFK_USER', message: 'Unknown topic plt-missing.' });
    const metaError = await expectFailure(CLIENT, 'metadata of an unknown topic', STEP_MS, () => admin.metadata({ topics: ['plt-missing'] }));
    expect({ code: metaError['code'], message: metaError.message.replace(/^\[[^\]]*\] [^:]*: /, '') }, `[${CLIENT}] metadata of an unknown topic: error`)
      .toEqual({ code: 'PLT_KFK_USER', message: 'Unknown topic plt-missing.' });
    const listed = await step(CLIENT, 'listTopics after the failure', STEP_MS, () => admin.listTopics(), broker);
    expect(listed, `[${CLIENT}] the unknown topic was not auto-created`).not.toContain('plt-missing');
  });

  it('error: a record larger than max.message.bytes gets MESSAGE_TOO_LARGE', async () => {
    const topic = 'plt-too-large';
    await createTopicFixture(broker, topic, 1, { 'max.message.bytes': String(MAX_MESSAGE_BYTES) });
    await withProducer({}, async (producer) => {
      const big = Buffer.from(Array.from({ length: 2 * MAX_MESSAGE_BYTES }, (_, i) => (i * 7919) % 251));
      const error = await expectFailure(CLIENT, 'send an oversized record', STEP_MS, () => producer.send({ messages: [{ topic, partition: 0, value: big }], acks: -1 }));
      expect(protocolErrorId(error), `[${CLIENT}] oversized record: protocol error (${error.name}: ${error.message})`).toBe('MESSAGE_TOO_LARGE');
      const ok = await step(CLIENT, 'send a small record after the rejection', STEP_MS, () => producer.send({ messages: [{ topic, partition: 0, value: Buffer.from('small') }], acks: -1 }), broker);
      expect(ok.offsets, `[${CLIENT}] small record after the rejection`).toEqual([{ topic, partition: 0, offset: 0n }]);
    });
  });

  it('error: creating an existing topic gives TOPIC_ALREADY_EXISTS', async () => {
    await createTopicFixture(broker, 'plt-exists', 2);
    const error = await expectFailure(CLIENT, 'createTopics of an existing topic', STEP_MS, () => admin.createTopics({ topics: ['plt-exists'], partitions: 4, replicas: 1 }));
    expect(protocolErrorId(error), `[${CLIENT}] create an existing topic: protocol error (${error.name}: ${error.message})`).toBe('TOPIC_ALREADY_EXISTS');
    const md = await step(CLIENT, 'metadata of the existing topic', STEP_MS, () => admin.metadata({ topics: ['plt-exists'] }), broker);
    expect(md.topics.get('plt-exists')?.partitionsCount, `[${CLIENT}] the existing topic keeps its 2 partitions`).toBe(2);
  });

  // Last: it restarts the broker.
  it('committed offsets survive a broker restart: a new member resumes exactly there', async () => {
    const topic = 'plt-restart';
    const groupId = 'plt-restart-1';
    const partitions = 3;
    await createTopicFixture(broker, topic, partitions);
    const first = recordsFor(`${topic}-a`, 30, partitions);
    const second = recordsFor(`${topic}-b`, 12, partitions);
    await withProducer({}, (p) => step(CLIENT, 'restart: produce the first set', STEP_MS, () => p.send({ messages: first.map((r) => toMessage(topic, r)), acks: -1 }), broker));
    expectReadBack(`[${CLIENT}] restart: first member`, await groupConsumeAll('restart: first member', groupId, topic, first.length), first, { partitions });
    const counts1 = countsByPartition(first, partitions);
    const want = counts1.map((n, p) => ({ topic, partition: p, offset: BigInt(n) }));
    expect(await committedOffsets('restart: listConsumerGroupOffsets before the restart', admin, groupId), `[${CLIENT}] restart: committed offsets before the restart`).toEqual(want);

    await step(CLIENT, 'restart: broker SIGTERM + start on the same data dir', 60_000, () => broker.restart(), broker);

    // A new admin client: the old one's connection died with the broker process.
    const fresh = new Admin(base('compat-platformatic-admin-2'));
    try {
      expect(await committedOffsets('restart: listConsumerGroupOffsets after the restart', fresh, groupId), `[${CLIENT}] restart: committed offsets after the restart`).toEqual(want);
    } finally {
      await closeQuietly('platformatic admin close', () => fresh.close());
    }
    await withProducer({}, (p) => step(CLIENT, 'restart: produce the second set', STEP_MS, () => p.send({ messages: second.map((r) => toMessage(topic, r)), acks: -1 }), broker));
    const got2 = await groupConsumeAll('restart: new member (resumes from committed)', groupId, topic, second.length);
    expectReadBack(`[${CLIENT}] restart: new member`, got2, second, { partitions, baseOffset: new Map(counts1.map((n, p) => [p, n])) });
  });
});

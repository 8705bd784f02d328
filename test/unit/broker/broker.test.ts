/**
 * The broker in-process on ephemeral ports with fresh data dirs, driven through our protocol client:
 * topic creation, produce, fetch (including long poll), list offsets, idempotent duplicates, restart with
 * the metadata log replayed and data intact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Broker } from '../../../broker/src/broker.ts';
import { brokerSettings } from '../../../broker/src/settings.ts';
import { BrokerConfig } from '../../../broker/src/config/index.ts';
import { KafkaConnection } from '../../../broker/src/client/kafka-connection.ts';
import { buildRecordBatch, forEachRecord, recordValue, readBatchSizeBytes } from '../../../broker/src/protocol/records/index.ts';
import { ErrorCode } from '../../../broker/src/protocol/error-codes.ts';
import {
  defaultFindCoordinatorRequest, defaultJoinGroupRequest, defaultSyncGroupRequest, defaultOffsetCommitRequest, defaultOffsetFetchRequest,
  defaultCreateTopicsRequest, defaultFetchRequest, defaultListOffsetsRequest, defaultMetadataRequest, defaultProduceRequest,
} from '../../../broker/src/protocol/generated/index.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'millrace-broker-'));

function newBroker(): Broker {
  const config = BrokerConfig.fromStatic({
    'process.roles': 'broker,controller', 'node.id': '1', 'controller.quorum.voters': '1@127.0.0.1:1',
    'controller.listener.names': 'CONTROLLER', listeners: 'PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
    'advertised.listeners': 'PLAINTEXT://127.0.0.1:0', 'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'inter.broker.listener.name': 'PLAINTEXT', 'log.dirs': join(dataDir, 'logs'), 'millrace.http.enable': 'false',
    'auto.create.topics.enable': 'false', 'group.initial.rebalance.delay.ms': '0', 'offsets.topic.num.partitions': '3', 'offsets.topic.replication.factor': '1',
  });
  return new Broker(brokerSettings(config), pino({ level: 'silent' }), { processMetrics: false });
}

let broker: Broker;
let client: KafkaConnection;
const connect = async (): Promise<KafkaConnection> => KafkaConnection.open({ host: '127.0.0.1', port: broker.port('PLAINTEXT'), requestTimeoutMs: 10_000 });

async function produce(topic: string, partition: number, values: string[], extra: { producerId?: bigint; baseSequence?: number } = {}) {
  const records = buildRecordBatch({
    producerId: extra.producerId ?? -1n, producerEpoch: extra.producerId === undefined ? -1 : 0, baseSequence: extra.baseSequence ?? -1,
    records: values.map((v) => ({ key: Buffer.from(`k-${v}`), value: Buffer.from(v) })),
  });
  const res = await client.send(0, 9, { ...defaultProduceRequest(), acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] });
  return res.responses[0]?.partitionResponses[0];
}

async function fetchValues(topic: string, partition: number, offset: bigint, opts: { maxWaitMs?: number; minBytes?: number; via?: KafkaConnection } = {}) {
  const req = { ...defaultFetchRequest(), replicaId: -1, maxWaitMs: opts.maxWaitMs ?? 0, minBytes: opts.minBytes ?? 0, maxBytes: 1 << 20, isolationLevel: 0 };
  req.topics = [{ topic, topicId: 'AAAAAAAAAAAAAAAAAAAAAA', partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20, replicaDirectoryId: 'AAAAAAAAAAAAAAAAAAAAAA' }] }];
  const res = await (opts.via ?? client).send(1, 12, req);
  const p = res.responses[0]?.partitions[0];
  const values: string[] = [];
  const records = p?.records ?? Buffer.alloc(0);
  for (let at = 0; at < records.length; at += readBatchSizeBytes(records, at)) {
    forEachRecord(records, at, (r) => { values.push((recordValue(r) as Buffer).toString()); });
  }
  return { errorCode: p?.errorCode, highWatermark: p?.highWatermark, values };
}

beforeAll(async () => {
  broker = newBroker();
  await broker.start();
  client = await connect();
});

afterAll(async () => {
  client.close();
  await broker.shutdown();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('single-node broker', () => {
  it('creates a topic and reports it in Metadata with a topic id and this broker as leader', async () => {
    const res = await client.send(19, 7, { ...defaultCreateTopicsRequest(), timeoutMs: 5000, topics: [{ name: 'orders', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }] });
    expect(res.topics[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(res.topics[0]?.numPartitions).toBe(2);
    const again = await client.send(19, 7, { ...defaultCreateTopicsRequest(), timeoutMs: 5000, topics: [{ name: 'orders', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }] });
    expect(again.topics[0]?.errorCode).toBe(ErrorCode.TOPIC_ALREADY_EXISTS);
    const md = await client.send(3, 12, { ...defaultMetadataRequest(), topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'orders' }] });
    expect(md.topics[0]?.topicId).toBe(res.topics[0]?.topicId);
    expect(md.topics[0]?.partitions.map((p) => [p.partitionIndex, p.leaderId, p.replicaNodes])).toEqual([[0, 1, [1]], [1, 1, [1]]]);
    expect(md.brokers.map((b) => [b.nodeId, b.port])).toEqual([[1, broker.port('PLAINTEXT')]]);
  });

  it('appends with consecutive offsets and serves them back', async () => {
    expect((await produce('orders', 0, ['a', 'b', 'c']))?.baseOffset).toBe(0n);
    expect((await produce('orders', 0, ['d']))?.baseOffset).toBe(3n);
    const got = await fetchValues('orders', 0, 0n);
    expect(got).toEqual({ errorCode: 0, highWatermark: 4n, values: ['a', 'b', 'c', 'd'] });
    const lo = await client.send(2, 7, { ...defaultListOffsetsRequest(), replicaId: -1, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }, { partitionIndex: 1, currentLeaderEpoch: -1, timestamp: -2n, maxNumOffsets: 1 }] }] });
    expect(lo.topics[0]?.partitions.map((p) => [p.partitionIndex, p.errorCode, p.offset])).toEqual([[0, 0, 4n], [1, 0, 0n]]);
  });

  it('answers errors per partition: unknown partition, out-of-range offset', async () => {
    expect((await produce('orders', 7, ['x']))?.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect((await produce('nope', 0, ['x']))?.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect((await fetchValues('orders', 0, 99n)).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
  });

  it('answers a duplicate idempotent batch with its original offset and appends it once', async () => {
    const first = await produce('orders', 1, ['p0', 'p1'], { producerId: 7000n, baseSequence: 0 });
    const dup = await produce('orders', 1, ['p0', 'p1'], { producerId: 7000n, baseSequence: 0 });
    expect([first?.errorCode, first?.baseOffset, dup?.errorCode, dup?.baseOffset]).toEqual([0, 0n, 0, 0n]);
    const gap = await produce('orders', 1, ['p5'], { producerId: 7000n, baseSequence: 5 });
    expect(gap?.errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect((await fetchValues('orders', 1, 0n)).values).toEqual(['p0', 'p1']);
  });

  it('parks a fetch until data arrives (long poll)', async () => {
    const other = await connect();
    const started = Date.now();
    const parked = fetchValues('orders', 0, 4n, { maxWaitMs: 5000, minBytes: 1, via: other });
    await new Promise((r) => setTimeout(r, 200));
    await produce('orders', 0, ['late']);
    const got = await parked;
    expect(got.values).toEqual(['late']);
    // Woken by the produce, not by the 5 s deadline (a bound, not a timing assertion: it cannot be flaky).
    expect(Date.now() - started).toBeLessThan(4900);
    other.close();
  });

  it('runs a consumer group: coordinator, MEMBER_ID_REQUIRED, join, sync, commit and fetch offsets', async () => {
    const find = await client.send(10, 4, { ...defaultFindCoordinatorRequest(), keyType: 0, coordinatorKeys: ['g1'] });
    expect(find.coordinators.map((c) => [c.key, c.errorCode, c.nodeId, c.port])).toEqual([['g1', 0, 1, broker.port('PLAINTEXT')]]);
    const join = { ...defaultJoinGroupRequest(), groupId: 'g1', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from([0]) }] };
    const first = await client.send(11, 5, join);
    expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    const joined = await client.send(11, 5, { ...join, memberId: first.memberId });
    expect([joined.errorCode, joined.generationId, joined.leader, joined.members.length]).toEqual([0, 1, first.memberId, 1]);
    const sync = await client.send(14, 3, { ...defaultSyncGroupRequest(), groupId: 'g1', generationId: 1, memberId: first.memberId, assignments: [{ memberId: first.memberId, assignment: Buffer.from('plan') }] });
    expect([sync.errorCode, sync.assignment.toString()]).toEqual([0, 'plan']);
    const commit = await client.send(8, 7, { ...defaultOffsetCommitRequest(), groupId: 'g1', generationIdOrMemberEpoch: 1, memberId: first.memberId, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 3n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: 'm' }] }] });
    expect(commit.topics[0]?.partitions[0]?.errorCode).toBe(0);
    const fetched = await client.send(9, 7, { ...defaultOffsetFetchRequest(), groupId: 'g1', topics: [{ name: 'orders', partitionIndexes: [0] }] });
    expect(fetched.topics[0]?.partitions[0]?.committedOffset).toBe(3n);
  });

  it('serves incremental fetch sessions (KIP-227): only partitions with news, forgotten partitions, epoch checks', async () => {
    const zero = 'AAAAAAAAAAAAAAAAAAAAAA';
    const part = (partition: number, fetchOffset: bigint) => ({ partition, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20, replicaDirectoryId: zero });
    const fetch = (sessionId: number, sessionEpoch: number, partitions: ReturnType<typeof part>[], forgotten: number[] = []) => client.send(1, 12, {
      ...defaultFetchRequest(), replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, sessionId, sessionEpoch,
      topics: partitions.length ? [{ topic: 'orders', topicId: zero, partitions }] : [],
      forgottenTopicsData: forgotten.length ? [{ topic: 'orders', topicId: zero, partitions: forgotten }] : [],
    });
    const summary = (r: Awaited<ReturnType<typeof fetch>>) => r.responses.flatMap((t) => t.partitions.map((p) => [p.partitionIndex, p.records?.length ?? 0]));
    const opened = await fetch(0, 0, [part(0, 5n), part(1, 2n)]);
    expect(opened.sessionId).toBeGreaterThan(0);
    expect(summary(opened)).toEqual([[0, 0], [1, 0]]);
    // Nothing changed: an incremental response names no partition.
    const quiet = await fetch(opened.sessionId, 1, []);
    expect([quiet.errorCode, quiet.sessionId, summary(quiet)]).toEqual([0, opened.sessionId, []]);
    await produce('orders', 1, ['s1']);
    const news = await fetch(opened.sessionId, 2, []);
    expect(summary(news).map(([p]) => p)).toEqual([1]);
    expect((summary(news)[0] as number[])[1]).toBeGreaterThan(0);
    // The client moves partition 1 forward and forgets partition 0; data for 0 is no longer sent.
    await produce('orders', 0, ['s0']);
    const moved = await fetch(opened.sessionId, 3, [part(1, 3n)], [0]);
    expect(summary(moved)).toEqual([]);
    expect((await fetch(opened.sessionId, 3, [])).errorCode).toBe(ErrorCode.INVALID_FETCH_SESSION_EPOCH);
    expect((await fetch(987654, 1, [])).errorCode).toBe(ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
    const closed = await fetch(opened.sessionId, -1, [part(0, 5n)]);
    expect([closed.sessionId, summary(closed).length]).toEqual([0, 1]);
    expect((await fetch(opened.sessionId, 4, [])).errorCode).toBe(ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
  });

  it('keeps topics and records across a restart (metadata log replayed, logs recovered)', async () => {
    client.close();
    await broker.shutdown();
    broker = newBroker();
    await broker.start();
    client = await connect();
    const got = await fetchValues('orders', 0, 0n);
    expect(got.values).toEqual(['a', 'b', 'c', 'd', 'late', 's0']);
    expect((await produce('orders', 0, ['after']))?.baseOffset).toBe(6n);
    // Committed offsets come back from __consumer_offsets.
    const find = await client.send(10, 4, { ...defaultFindCoordinatorRequest(), keyType: 0, coordinatorKeys: ['g1'] });
    expect(find.coordinators[0]?.errorCode).toBe(0);
    const fetched = await client.send(9, 7, { ...defaultOffsetFetchRequest(), groupId: 'g1', topics: [{ name: 'orders', partitionIndexes: [0] }] });
    expect([fetched.topics[0]?.partitions[0]?.committedOffset, fetched.topics[0]?.partitions[0]?.metadata]).toEqual([3n, 'm']);
  });
});

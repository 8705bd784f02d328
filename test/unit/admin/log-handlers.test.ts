/**
 * DeleteRecords, DescribeLogDirs, DescribeTopicPartitions and ElectLeaders against an in-process broker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { ErrorCode } from '../../../broker/src/protocol/error-codes.ts';
import {
  defaultCreateTopicsRequest, defaultDeleteRecordsRequest, defaultDescribeLogDirsRequest, defaultDescribeTopicPartitionsRequest,
  defaultElectLeadersRequest, defaultListOffsetsRequest,
} from '../../../broker/src/protocol/generated/index.ts';
import { buildRecordBatch } from '../../../broker/src/protocol/records/index.ts';
import { TOPIC_OPERATIONS_ALL } from '../../../broker/src/api/log-handlers.ts';
import { AdminHarness } from './admin-harness.ts';

const h = new AdminHarness();

beforeAll(async () => {
  await h.start();
});

afterAll(async () => {
  await h.stop();
});

async function deleteRecords(topic: string, partitions: [number, bigint][], version = 2) {
  const res = await h.client.send(21, version, {
    ...defaultDeleteRecordsRequest(), timeoutMs: 5000,
    topics: [{ name: topic, partitions: partitions.map(([partitionIndex, offset]) => ({ partitionIndex, offset })) }],
  });
  return res.topics[0]?.partitions.map((p) => [p.partitionIndex, p.errorCode, p.lowWatermark]);
}

async function earliestOffset(topic: string, partition: number): Promise<bigint | undefined> {
  const res = await h.client.send(2, 7, {
    ...defaultListOffsetsRequest(), replicaId: -1,
    topics: [{ name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp: -2n, maxNumOffsets: 1 }] }],
  });
  return res.topics[0]?.partitions[0]?.offset;
}

describe('DeleteRecords', () => {
  it('moves the log start: fetches below it are OFFSET_OUT_OF_RANGE and ListOffsets earliest is the new start', async () => {
    expect(await h.createTopic('trim', 2)).toBe(ErrorCode.NONE);
    for (const v of ['a', 'b', 'c', 'd', 'e']) await h.produce('trim', 0, [v]);
    expect(await deleteRecords('trim', [[0, 2n], [1, 0n]])).toEqual([[0, ErrorCode.NONE, 2n], [1, ErrorCode.NONE, 0n]]);
    expect(await h.fetch('trim', 0, 1n)).toMatchObject({ errorCode: ErrorCode.OFFSET_OUT_OF_RANGE });
    expect(await h.fetch('trim', 0, 2n)).toEqual({ errorCode: ErrorCode.NONE, logStartOffset: 2n, values: ['c', 'd', 'e'] });
    expect(await earliestOffset('trim', 0)).toBe(2n);

    // Below the current start changes nothing; -1 means the high watermark; beyond it is out of range.
    expect(await deleteRecords('trim', [[0, 1n]], 0)).toEqual([[0, ErrorCode.NONE, 2n]]);
    expect(await deleteRecords('trim', [[0, 6n]], 1)).toEqual([[0, ErrorCode.OFFSET_OUT_OF_RANGE, -1n]]);
    expect(await deleteRecords('trim', [[0, -7n]])).toEqual([[0, ErrorCode.OFFSET_OUT_OF_RANGE, -1n]]);
    expect(await deleteRecords('trim', [[0, -1n]])).toEqual([[0, ErrorCode.NONE, 5n]]);
    expect(await earliestOffset('trim', 0)).toBe(5n);
    expect(await h.fetch('trim', 0, 4n)).toMatchObject({ errorCode: ErrorCode.OFFSET_OUT_OF_RANGE });
    expect((await h.produce('trim', 0, ['f'])).baseOffset).toBe(5n);
    expect(await h.fetch('trim', 0, 5n)).toEqual({ errorCode: ErrorCode.NONE, logStartOffset: 5n, values: ['f'] });
  });

  it('answers per-partition errors: unknown partition or topic, internal topic, compact-only policy', async () => {
    expect(await deleteRecords('trim', [[7, 0n]])).toEqual([[7, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1n]]);
    expect(await deleteRecords('nope', [[0, 0n]])).toEqual([[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1n]]);
    expect(await deleteRecords('__consumer_offsets', [[0, 0n]])).toEqual([[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1n]]);
    // __transaction_state rather than __consumer_offsets, which the group coordinator would start using.
    expect(await h.createTopic('__transaction_state', 1)).toBe(ErrorCode.NONE);
    expect(await deleteRecords('__transaction_state', [[0, 0n]])).toEqual([[0, ErrorCode.INVALID_TOPIC_EXCEPTION, -1n]]);
    expect(await h.createTopic('compacted', 1, { 'cleanup.policy': 'compact' })).toBe(ErrorCode.NONE);
    expect(await deleteRecords('compacted', [[0, 0n]])).toEqual([[0, ErrorCode.POLICY_VIOLATION, -1n]]);
  });

  it('keeps the new log start across a restart', async () => {
    await h.restart();
    expect(await earliestOffset('trim', 0)).toBe(5n);
    expect(await h.fetch('trim', 0, 4n)).toMatchObject({ errorCode: ErrorCode.OFFSET_OUT_OF_RANGE });
  });
});

describe('DescribeLogDirs', () => {
  it('lists the log dir with each partition size, zero lag and the volume space (v4)', async () => {
    expect(await h.createTopic('sized', 2)).toBe(ErrorCode.NONE);
    let expectedBytes = 0;
    for (const v of ['one', 'two', 'three']) {
      expectedBytes += buildRecordBatch({ records: [{ key: null, value: Buffer.from(v) }] }).length;
      expect((await h.produce('sized', 0, [v])).errorCode).toBe(ErrorCode.NONE);
    }
    const res = await h.client.send(35, 4, { ...defaultDescribeLogDirsRequest(), topics: [{ topic: 'sized', partitions: [0, 1] }, { topic: 'nope', partitions: [0] }] });
    expect(res.errorCode).toBe(ErrorCode.NONE);
    expect(res.results.map((r) => [r.errorCode, r.logDir])).toEqual([[ErrorCode.NONE, resolve(h.logDir)]]);
    const dir = res.results[0];
    expect(dir?.topics).toEqual([{
      name: 'sized',
      partitions: [
        { partitionIndex: 0, partitionSize: BigInt(expectedBytes), offsetLag: 0n, isFutureKey: false },
        { partitionIndex: 1, partitionSize: 0n, offsetLag: 0n, isFutureKey: false },
      ],
    }]);
    expect(dir?.totalBytes).toBeGreaterThan(0n);
    expect(dir?.usableBytes).toBeGreaterThan(0n);
    expect(dir?.usableBytes).toBeLessThanOrEqual(dir?.totalBytes ?? 0n);
  });

  it('describes every partition when Topics is null; v1 has no volume space', async () => {
    const res = await h.client.send(35, 1, { ...defaultDescribeLogDirsRequest(), topics: null });
    const topics = res.results[0]?.topics ?? [];
    expect(topics.map((t) => t.name)).toEqual(['__transaction_state', 'compacted', 'sized', 'trim']);
    expect(topics.find((t) => t.name === 'trim')?.partitions.map((p) => p.partitionIndex)).toEqual([0, 1]);
    expect(topics.find((t) => t.name === 'trim')?.partitions[0]?.partitionSize).toBeGreaterThan(0n);
    expect([res.results[0]?.totalBytes, res.results[0]?.usableBytes]).toEqual([-1n, -1n]);
  });
});

describe('DescribeTopicPartitions', () => {
  it('pages through requested topics by cursor and partition limit, sorted, with unknown topics flagged', async () => {
    const created = await h.client.send(19, 7, {
      ...defaultCreateTopicsRequest(), timeoutMs: 5000,
      topics: [['dtp-b', 2], ['dtp-a', 3], ['dtp-c', 1]].map(([name, n]) => ({ name: name as string, numPartitions: n as number, replicationFactor: 1, assignments: [], configs: [] })),
    });
    const ids = new Map(created.topics.map((t) => [t.name, t.topicId]));
    const partition = (index: number) => ({
      errorCode: 0, partitionIndex: index, leaderId: 1, leaderEpoch: 0, replicaNodes: [1], isrNodes: [1],
      eligibleLeaderReplicas: [], lastKnownElr: [], offlineReplicas: [],
    });
    const topic = (name: string, partitions: number[]) => ({
      errorCode: 0, name, topicId: ids.get(name), isInternal: false, partitions: partitions.map(partition), topicAuthorizedOperations: TOPIC_OPERATIONS_ALL,
    });
    const requested = ['dtp-c', 'dtp-missing', 'dtp-a', 'dtp-b'].map((name) => ({ name }));

    const first = await h.client.send(75, 0, { ...defaultDescribeTopicPartitionsRequest(), topics: requested, responsePartitionLimit: 4 });
    expect(first.topics).toEqual([topic('dtp-a', [0, 1, 2]), topic('dtp-b', [0])]);
    expect(first.nextCursor).toEqual({ topicName: 'dtp-b', partitionIndex: 1 });

    const second = await h.client.send(75, 0, { ...defaultDescribeTopicPartitionsRequest(), topics: requested, responsePartitionLimit: 4, cursor: first.nextCursor });
    expect(second.topics).toEqual([
      topic('dtp-b', [1]),
      topic('dtp-c', [0]),
      { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name: 'dtp-missing', topicId: 'AAAAAAAAAAAAAAAAAAAAAA', isInternal: false, partitions: [], topicAuthorizedOperations: TOPIC_OPERATIONS_ALL },
    ]);
    expect(second.nextCursor).toBeNull();

    // A page that ends exactly at a topic boundary points at the next topic's first partition.
    const exact = await h.client.send(75, 0, { ...defaultDescribeTopicPartitionsRequest(), topics: requested, responsePartitionLimit: 3 });
    expect(exact.topics.map((t) => t.name)).toEqual(['dtp-a']);
    expect(exact.nextCursor).toEqual({ topicName: 'dtp-b', partitionIndex: 0 });
  });

  it('lists all topics from the cursor when none are named; a limit below 1 counts as 1; a bad cursor is INVALID_REQUEST', async () => {
    const all = await h.client.send(75, 0, { ...defaultDescribeTopicPartitionsRequest(), topics: [], responsePartitionLimit: 5, cursor: { topicName: 'dtp-a', partitionIndex: 1 } });
    expect(all.topics.map((t) => [t.name, t.partitions.map((p) => p.partitionIndex)])).toEqual([['dtp-a', [1, 2]], ['dtp-b', [0, 1]], ['dtp-c', [0]]]);
    expect(all.nextCursor).toEqual({ topicName: 'sized', partitionIndex: 0 });

    const one = await h.client.send(75, 0, { ...defaultDescribeTopicPartitionsRequest(), topics: [{ name: 'dtp-a' }], responsePartitionLimit: 0 });
    expect(one.topics.map((t) => [t.name, t.partitions.length])).toEqual([['dtp-a', 1]]);
    expect(one.nextCursor).toEqual({ topicName: 'dtp-a', partitionIndex: 1 });

    const bad = await h.client.send(75, 0, { ...defaultDescribeTopicPartitionsRequest(), topics: [{ name: 'dtp-a' }], cursor: { topicName: 'dtp-b', partitionIndex: 0 } });
    expect(bad.topics.map((t) => [t.name, t.errorCode])).toEqual([['dtp-a', ErrorCode.INVALID_REQUEST]]);
  });
});

describe('ElectLeaders', () => {
  it('answers ELECTION_NOT_NEEDED where the preferred replica leads, UNKNOWN_TOPIC_OR_PARTITION for unknown partitions', async () => {
    const before = h.broker.image.lastAppliedOffset;
    for (const [version, electionType] of [[2, 0], [2, 1], [0, 0]] as const) {
      const res = await h.client.send(43, version, {
        ...defaultElectLeadersRequest(), electionType, timeoutMs: 5000,
        topicPartitions: [{ topic: 'dtp-a', partitions: [0, 2, 9] }, { topic: 'nope', partitions: [0] }],
      });
      expect(res.errorCode).toBe(ErrorCode.NONE);
      expect(res.replicaElectionResults).toEqual([
        {
          topic: 'dtp-a',
          partitionResult: [
            { partitionId: 0, errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: 'Leader election not needed for topic partition.' },
            { partitionId: 2, errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: 'Leader election not needed for topic partition.' },
            { partitionId: 9, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'No such partition as dtp-a-9' },
          ],
        },
        { topic: 'nope', partitionResult: [{ partitionId: 0, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'No such topic as nope' }] },
      ]);
    }
    // All partitions (null): every topic is listed, and partitions needing no election are left out.
    const all = await h.client.send(43, 2, { ...defaultElectLeadersRequest(), electionType: 0, topicPartitions: null, timeoutMs: 5000 });
    expect(all.replicaElectionResults.map((r) => [r.topic, r.partitionResult])).toEqual(
      ['__transaction_state', 'compacted', 'dtp-a', 'dtp-b', 'dtp-c', 'sized', 'trim'].map((t) => [t, []]),
    );
    const badType = await h.client.send(43, 2, { ...defaultElectLeadersRequest(), electionType: 5, topicPartitions: null, timeoutMs: 5000 });
    expect([badType.errorCode, badType.replicaElectionResults]).toEqual([ErrorCode.INVALID_REQUEST, []]);
    expect(h.broker.image.lastAppliedOffset).toBe(before);
  });
});

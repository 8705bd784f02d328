/**
 * Restart safety with the real process: SIGKILL the broker while a producer with acks=all is writing; after a
 * restart every acknowledged record is readable (in order, once) and committed group offsets are intact.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KafkaConnection } from '../../../broker/src/client/kafka-connection.ts';
import { buildRecordBatch, forEachRecord, readBatchSizeBytes, recordValue } from '../../../broker/src/protocol/records/index.ts';
import {
  defaultCreateTopicsRequest, defaultFetchRequest, defaultFindCoordinatorRequest, defaultOffsetCommitRequest, defaultOffsetFetchRequest, defaultProduceRequest,
} from '../../../broker/src/protocol/generated/index.ts';
import { freePorts, startBrokerProcess } from './broker-process.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'millrace-kill-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

async function readAll(c: KafkaConnection, topic: string): Promise<string[]> {
  const values: string[] = [];
  let offset = 0n;
  for (;;) {
    const req = { ...defaultFetchRequest(), replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 22 };
    req.topics = [{ topic, topicId: 'AAAAAAAAAAAAAAAAAAAAAA', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 22, replicaDirectoryId: 'AAAAAAAAAAAAAAAAAAAAAA' }] }];
    const records = (await c.send(1, 12, req)).responses[0]?.partitions[0]?.records ?? Buffer.alloc(0);
    if (records.length === 0) return values;
    for (let at = 0; at < records.length; at += readBatchSizeBytes(records, at)) {
      const base = records.readBigInt64BE(at);
      forEachRecord(records, at, (r) => {
        if (base + BigInt(r.offsetDelta) >= offset) values.push((recordValue(r) as Buffer).toString());
      });
      offset = base + BigInt(records.readInt32BE(at + 23)) + 1n;
    }
  }
}

describe('restart safety', () => {
  it('keeps every acknowledged record and committed offsets across SIGKILL', async () => {
    const ports = await freePorts(3);
    let broker = await startBrokerProcess(dataDir, ports);
    let c = await KafkaConnection.open({ host: '127.0.0.1', port: broker.port });
    await c.send(19, 7, { ...defaultCreateTopicsRequest(), timeoutMs: 5000, topics: [{ name: 'safe', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }] });
    await c.send(10, 4, { ...defaultFindCoordinatorRequest(), keyType: 0, coordinatorKeys: ['kg'] });
    const commit = await c.send(8, 2, { ...defaultOffsetCommitRequest(), groupId: 'kg', generationIdOrMemberEpoch: -1, memberId: '', retentionTimeMs: -1n, topics: [{ name: 'safe', partitions: [{ partitionIndex: 0, committedOffset: 42n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: '' }] }] });
    expect(commit.topics[0]?.partitions[0]?.errorCode).toBe(0);

    // Pipelined acks=all produces; kill the process while they are in flight.
    const acked: string[] = [];
    let sent = 0;
    const producing = (async () => {
      for (;;) {
        const values = Array.from({ length: 5 }, (_, i) => `v-${sent + i}`);
        sent += 5;
        const records = buildRecordBatch({ records: values.map((v) => ({ key: null, value: Buffer.from(v) })) });
        try {
          const res = await c.send(0, 9, { ...defaultProduceRequest(), acks: -1, timeoutMs: 5000, topicData: [{ name: 'safe', partitionData: [{ index: 0, records }] }] });
          if (res.responses[0]?.partitionResponses[0]?.errorCode === 0) acked.push(...values);
        } catch {
          return; // the connection died with the broker
        }
      }
    })();
    while (acked.length < 500) await new Promise((r) => setTimeout(r, 5));
    broker.child.kill('SIGKILL');
    expect((await broker.exited).signal).toBe('SIGKILL');
    await producing;
    c.close();

    broker = await startBrokerProcess(dataDir, ports);
    c = await KafkaConnection.open({ host: '127.0.0.1', port: broker.port });
    const stored = await readAll(c, 'safe');
    // Everything acknowledged is there, in order and once; a batch in flight at the kill may or may not be.
    expect(stored.slice(0, acked.length)).toEqual(acked);
    expect(new Set(stored).size).toBe(stored.length);
    await c.send(10, 4, { ...defaultFindCoordinatorRequest(), keyType: 0, coordinatorKeys: ['kg'] });
    const fetched = await c.send(9, 7, { ...defaultOffsetFetchRequest(), groupId: 'kg', topics: [{ name: 'safe', partitionIndexes: [0] }] });
    expect(fetched.topics[0]?.partitions[0]?.committedOffset).toBe(42n);
    c.close();
    broker.child.kill('SIGTERM');
    expect((await broker.exited).code).toBe(0);
  }, 90_000);
});

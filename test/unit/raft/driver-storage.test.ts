// The driver's durable state with real files: the quorum-state file, record batches and snapshot files in
// Kafka's formats, and the metadata log store's recovery rules.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogEntry } from '../../../broker/src/raft/core/raft-log.ts';
import { MetadataLogStore } from '../../../broker/src/raft/driver/metadata-log-store.ts';
import { QuorumStateFile, QuorumStateFileError } from '../../../broker/src/raft/driver/quorum-state-file.ts';
import {
  RecordCodecError,
  decodeEntries,
  decodeSnapshot,
  encodeEntry,
  encodeSnapshot,
  parseSnapshotFileName,
  snapshotFileName,
} from '../../../broker/src/raft/driver/record-codec.ts';
import { isControlBatch, readAttributes, readLeaderEpoch } from '../../../broker/src/protocol/records/batch-header.ts';
import { silentLogger } from '../../../broker/src/log/log-events.ts';

const text = (s: string): Buffer => Buffer.from(s, 'utf8');

function dataEntry(baseOffset: number, epoch: number, values: readonly string[]): LogEntry {
  return { type: 'data', baseOffset, lastOffset: baseOffset + values.length - 1, epoch, appendTimestamp: 1_700_000_000_000 + baseOffset, records: values.map(text) };
}

function leaderChange(offset: number, epoch: number, leaderId: number): LogEntry {
  return { type: 'leader-change', baseOffset: offset, lastOffset: offset, epoch, appendTimestamp: 1_700_000_000_000, leaderId, voters: [1, 2, 3], grantingVoters: [1, leaderId] };
}

const plain = (entries: readonly LogEntry[]): unknown[] =>
  entries.map((e) => (e.type === 'data' ? { ...e, records: e.records.map((r) => Buffer.from(r).toString()) } : { ...e }));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'raft-driver-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('quorum-state file (Kafka FileQuorumStateStore format)', () => {
  it('writes version 0 JSON atomically and reads it back', () => {
    const file = new QuorumStateFile(dir);
    expect(file.read()).toBeNull();
    file.write({ epoch: 7, leaderId: 2, votedId: 3 });
    expect(JSON.parse(readFileSync(join(dir, 'quorum-state'), 'utf8'))).toEqual({
      clusterId: '',
      leaderId: 2,
      leaderEpoch: 7,
      votedId: 3,
      appliedOffset: 0,
      currentVoters: [],
      data_version: 0,
    });
    expect(readdirSync(dir)).toEqual(['quorum-state']); // no temp file left behind
    expect(file.read()).toEqual({ epoch: 7, leaderId: 2, votedId: 3 });
    file.write({ epoch: 8, leaderId: null, votedId: null });
    expect(file.read()).toEqual({ epoch: 8, leaderId: null, votedId: null });
  });

  it("reads Kafka's version 1 files and rejects damaged ones", () => {
    const file = new QuorumStateFile(dir);
    writeFileSync(join(dir, 'quorum-state'), '{"leaderId":-1,"leaderEpoch":2,"votedId":1,"votedDirectoryId":"J8aAPcfLQt2bqs1JT_rMgQ","data_version":1}');
    expect(file.read()).toEqual({ epoch: 2, leaderId: null, votedId: 1 });
    writeFileSync(join(dir, 'quorum-state'), '{"leaderId":1,"leaderEpoch":2,"votedId":-1,"data_version":2}');
    expect(() => file.read()).toThrow(QuorumStateFileError);
    writeFileSync(join(dir, 'quorum-state'), '{"leaderId":1,"lead');
    expect(() => file.read()).toThrow(QuorumStateFileError);
  });
});

describe('record batches and snapshot files', () => {
  it('round-trips data and leader-change batches (control batch, epoch stamped)', () => {
    const entries = [leaderChange(0, 3, 2), dataEntry(1, 3, ['a', 'bb', 'ccc'])];
    const bytes = Buffer.concat(entries.map(encodeEntry));
    expect(isControlBatch(readAttributes(bytes, 0))).toBe(true);
    expect(readLeaderEpoch(bytes, 0)).toBe(3);
    expect(plain(decodeEntries(bytes))).toEqual(plain(entries));
    // A corrupted byte fails the CRC.
    const damaged = Buffer.from(bytes);
    damaged[damaged.length - 1] = (damaged[damaged.length - 1] ?? 0) ^ 0xff;
    expect(() => decodeEntries(damaged)).toThrow(RecordCodecError);
  });

  it('writes snapshots as header, records, footer, named <offset>-<epoch>.checkpoint', () => {
    const records = Array.from({ length: 2500 }, (_, i) => text(`r${i}`));
    const bytes = encodeSnapshot(4, records, 1234);
    const decoded = decodeSnapshot(bytes);
    expect(decoded.records.map((r) => r.toString())).toEqual(records.map((r) => r.toString()));
    expect(decoded.lastContainedLogTimestamp).toBe(1234);
    expect(decodeSnapshot(encodeSnapshot(1, [], 0)).records).toEqual([]);
    expect(() => decodeSnapshot(bytes.subarray(0, bytes.length - 10))).toThrow(RecordCodecError);
    const name = snapshotFileName({ endOffset: 42n, epoch: 3 });
    expect(name).toBe('00000000000000000042-0000000003.checkpoint');
    expect(parseSnapshotFileName(name)).toEqual({ endOffset: 42n, epoch: 3 });
    expect(parseSnapshotFileName('00000000000000000042.log')).toBeNull();
  });
});

describe('metadata log store', () => {
  const open = (segmentBytes?: number) => MetadataLogStore.open({ dir, logger: silentLogger, ...(segmentBytes === undefined ? {} : { segmentBytes }) });

  it('recovers the flushed log after a restart, and truncation', async () => {
    const first = await open();
    expect(first.entries).toEqual([]);
    const entries = [leaderChange(0, 1, 1), dataEntry(1, 1, ['a', 'b']), dataEntry(3, 1, ['c']), leaderChange(4, 2, 2), dataEntry(5, 2, ['d', 'e'])];
    first.store.append(entries);
    await first.store.flush();
    first.store.truncate(4);
    await first.store.close();
    const second = await open();
    expect(plain(second.entries)).toEqual(plain(entries.slice(0, 3)));
    expect(second.snapshot).toBeNull();
    await second.store.close();
  });

  it('loses nothing flushed when the process dies (abandon), and whatever it keeps is whole batches', async () => {
    const first = await open();
    first.store.append([leaderChange(0, 1, 1), dataEntry(1, 1, ['a'])]);
    await first.store.flush();
    first.store.append([dataEntry(2, 1, ['b'])]);
    first.store.abandon();
    const second = await open();
    expect(second.entries.map((e) => e.baseOffset).slice(0, 2)).toEqual([0, 1]);
    await second.store.close();
  });

  it('deletes segments behind a snapshot and starts from the snapshot after a restart', async () => {
    const first = await open(200);
    const entries: LogEntry[] = [leaderChange(0, 1, 1)];
    for (let i = 1; i <= 40; i++) entries.push(dataEntry(i, 1, [`value-${i}-${'x'.repeat(40)}`]));
    first.store.append(entries);
    await first.store.flush();
    const segmentsBefore = first.store.partitionLog.segmentCount;
    const snapshot = { id: { endOffset: 31, epoch: 1 }, bytes: encodeSnapshot(1, [text('state')], 0) };
    await first.store.writeSnapshot(snapshot);
    first.store.deletePrefix(31);
    expect(first.store.partitionLog.segmentCount).toBeLessThan(segmentsBefore);
    expect(first.store.listSnapshots()).toEqual([{ endOffset: 31n, epoch: 1 }]);
    await first.store.close();

    const second = await open(200);
    expect(second.snapshot?.id).toEqual({ endOffset: 31, epoch: 1 });
    expect(decodeSnapshot(second.snapshot?.bytes ?? new Uint8Array()).records.map(String)).toEqual(['state']);
    expect(second.entries.map((e) => e.baseOffset)).toEqual(Array.from({ length: 10 }, (_, i) => 31 + i));
    expect(second.store.logStartOffset).toBe(31);
    await second.store.close();
  });

  it('installs a downloaded snapshot: file first, then an empty log at its end', async () => {
    const first = await open();
    first.store.append([leaderChange(0, 1, 1), dataEntry(1, 1, ['a'])]);
    await first.store.flush();
    first.store.installSnapshot({ id: { endOffset: 50, epoch: 4 }, bytes: encodeSnapshot(4, [text('s')], 0) });
    expect([first.store.logStartOffset, first.store.logEndOffset]).toEqual([50, 50]);
    first.store.append([dataEntry(50, 5, ['after'])]);
    await first.store.close();
    const second = await open();
    expect(second.snapshot?.id).toEqual({ endOffset: 50, epoch: 4 });
    expect(plain(second.entries)).toEqual(plain([dataEntry(50, 5, ['after'])]));
    await second.store.close();
  });

  it('restarts the log empty at the snapshot when a crash left the old log behind it (Raft InstallSnapshot rule)', async () => {
    const first = await open();
    // A diverging old log: its batch ending at offset 2 has epoch 1, the snapshot's has epoch 2.
    first.store.append([leaderChange(0, 1, 1), dataEntry(1, 1, ['a', 'b']), dataEntry(3, 1, ['c'])]);
    await first.store.flush();
    // The crash came after the snapshot file was written, before the log was reset.
    await first.store.writeSnapshot({ id: { endOffset: 3, epoch: 2 }, bytes: encodeSnapshot(2, [], 0) });
    await first.store.close();
    const second = await open();
    expect([second.snapshot?.id.endOffset, second.entries.length, second.store.logStartOffset, second.store.logEndOffset]).toEqual([3, 0, 3, 3]);
    await second.store.close();

    // A consistent log (same epoch at the snapshot's last offset) is kept after the snapshot.
    rmSync(dir, { recursive: true, force: true });
    const third = await open();
    third.store.append([leaderChange(0, 1, 1), dataEntry(1, 1, ['a', 'b']), dataEntry(3, 1, ['c'])]);
    await third.store.writeSnapshot({ id: { endOffset: 3, epoch: 1 }, bytes: encodeSnapshot(1, [], 0) });
    await third.store.close();
    const fourth = await open();
    expect(fourth.entries.map((e) => e.baseOffset)).toEqual([3]);
    await fourth.store.close();
  });

  it('skips a corrupt snapshot file for the previous one', async () => {
    const first = await open();
    first.store.append([leaderChange(0, 1, 1)]);
    await first.store.writeSnapshot({ id: { endOffset: 1, epoch: 1 }, bytes: encodeSnapshot(1, [], 0) });
    await first.store.close();
    writeFileSync(join(dir, snapshotFileName({ endOffset: 9n, epoch: 1 })), 'not a snapshot');
    const second = await open();
    expect(second.snapshot?.id).toEqual({ endOffset: 1, epoch: 1 });
    expect(readdirSync(dir).filter((n) => n.endsWith('.checkpoint'))).toEqual([snapshotFileName({ endOffset: 1n, epoch: 1 })]);
    await second.store.close();
  });
});

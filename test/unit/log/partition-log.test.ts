import { readFileSync, readdirSync, statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Compression,
  readBaseOffset,
  readBatchSizeBytes,
  readLeaderEpoch,
} from '../../../broker/src/protocol/records/batch-header.ts';
import { isLogError, LogError } from '../../../broker/src/log/errors.ts';
import { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, MAX_TIMESTAMP, type PartitionLog } from '../../../broker/src/log/partition-log.ts';
import {
  batch,
  cleanupTempDirs,
  decodeBatches,
  decodeRecords,
  ManualClock,
  openLog,
  readAll,
  simpleBatch,
  smallConfig,
  tempDir,
} from './helpers.ts';

afterEach(cleanupTempDirs);

const typed = (fn: () => unknown): LogError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof LogError) return err;
    throw err;
  }
  throw new Error('expected a LogError');
};

async function fresh(overrides: Parameters<typeof smallConfig>[0] = {}, clock = new ManualClock()): Promise<{ log: PartitionLog; dir: string; clock: ManualClock }> {
  const dir = tempDir();
  const log = await openLog(dir, clock, { config: smallConfig(overrides) });
  return { log, dir, clock };
}

describe('append', () => {
  it('assigns offsets and the leader epoch by patching the buffer in place', async () => {
    const { log } = await fresh();
    const b1 = simpleBatch(3);
    const b2 = simpleBatch(2);
    const r1 = log.appendAsLeader(b1, 7);
    expect(r1).toMatchObject({ firstOffset: 0n, lastOffset: 2n, batchCount: 1, recordCount: 3 });
    const r2 = log.appendAsLeader(Buffer.concat([b2, simpleBatch(1)]), 8);
    expect(r2).toMatchObject({ firstOffset: 3n, lastOffset: 5n, batchCount: 2 });
    expect(readBaseOffset(b1, 0)).toBe(0n);
    expect(readLeaderEpoch(b1, 0)).toBe(7);
    expect(log.logEndOffset).toBe(6n);
    expect(log.epochEntries).toEqual([
      { epoch: 7, startOffset: 0n },
      { epoch: 8, startOffset: 3n },
    ]);
    await log.close();
  });

  it('refuses a buffer that is not whole batches, leaving the log untouched', async () => {
    const { log } = await fresh();
    const b = simpleBatch(2);
    expect(typed(() => log.appendAsLeader(b.subarray(0, b.length - 1), 0)).code).toBe('LOG_INVALID_RECORDS');
    expect(typed(() => log.appendAsLeader(Buffer.concat([b, Buffer.alloc(10)]), 0)).code).toBe('LOG_INVALID_RECORDS');
    expect(log.logEndOffset).toBe(0n);
    await log.close();
  });

  it('keeps follower offsets, allows gaps, refuses offsets below the log end', async () => {
    const { log } = await fresh();
    log.appendAsFollower(simpleBatch(2, 1000n, { baseOffset: 0n, partitionLeaderEpoch: 1 }));
    log.appendAsFollower(simpleBatch(2, 1000n, { baseOffset: 10n, partitionLeaderEpoch: 2 }));
    expect(log.logEndOffset).toBe(12n);
    expect(log.epochEntries).toEqual([
      { epoch: 1, startOffset: 0n },
      { epoch: 2, startOffset: 10n },
    ]);
    const err = typed(() => log.appendAsFollower(simpleBatch(1, 1000n, { baseOffset: 11n })));
    expect(err.code).toBe('LOG_UNEXPECTED_APPEND_OFFSET');
    expect(err.offset).toBe(11n);
    const overlapping = Buffer.concat([simpleBatch(2, 1000n, { baseOffset: 12n }), simpleBatch(1, 1000n, { baseOffset: 13n })]);
    expect(typed(() => log.appendAsFollower(overlapping)).code).toBe('LOG_UNEXPECTED_APPEND_OFFSET');
    expect(log.logEndOffset).toBe(12n);
    await log.close();
  });

  it('rolls a new segment when an offset would not fit 32-bit relative offsets', async () => {
    const { log } = await fresh();
    log.appendAsFollower(simpleBatch(1, 1000n, { baseOffset: 0n }));
    log.appendAsFollower(simpleBatch(1, 1000n, { baseOffset: 3_000_000_000n }));
    expect(log.segmentBaseOffsets).toEqual([0n, 3_000_000_000n]);
    expect(readAll(log).map((b) => b.baseOffset)).toEqual([0n, 3_000_000_000n]);
    await log.close();
  });
});

describe('rolling', () => {
  it('rolls when the segment would exceed segment.bytes', async () => {
    const { log } = await fresh({ segmentBytes: 1000 });
    const size = simpleBatch(5).length;
    for (let i = 0; i < 10; i++) log.appendAsLeader(simpleBatch(5), 0);
    const perSegment = Math.floor(1000 / size);
    expect(log.segmentCount).toBe(Math.ceil(10 / perSegment));
    expect(log.segmentBaseOffsets[1]).toBe(BigInt(perSegment * 5));
    await log.close();
  });

  it('rolls on segment.ms measured from the first record time of the segment', async () => {
    const { log } = await fresh({ segmentMs: 60_000 });
    log.appendAsLeader(simpleBatch(1, 1_000_000n), 0);
    log.appendAsLeader(simpleBatch(1, 1_060_000n), 0);
    expect(log.segmentCount).toBe(1);
    log.appendAsLeader(simpleBatch(1, 1_060_001n), 0);
    expect(log.segmentBaseOffsets).toEqual([0n, 2n]);
    await log.close();
  });

  it('rolls when the offset index is full', async () => {
    // 3 entries of 8 bytes; an entry every ~0 bytes (index.interval.bytes = 0): every batch after the first.
    const { log } = await fresh({ segmentIndexBytes: 24, indexIntervalBytes: 0, segmentBytes: 1 << 20 });
    for (let i = 0; i < 8; i++) log.appendAsLeader(simpleBatch(1), 0);
    expect(log.segmentCount).toBeGreaterThan(1);
    await log.close();
  });

  it('writes sparse index entries every index.interval.bytes and a final time index entry on roll', async () => {
    const { log, dir } = await fresh({ indexIntervalBytes: 300, segmentBytes: 1 << 20 });
    const sizes: number[] = [];
    for (let i = 0; i < 20; i++) sizes.push(log.appendAsLeader(simpleBatch(3, BigInt(1000 + i)), 0).sizeBytes);
    log.roll();
    await log.close();
    const index = readFileSync(`${dir}/00000000000000000000.index`);
    // Expected entries by Kafka's rule: an entry for a batch once more than 300 bytes passed since the last one.
    const expected: [number, number][] = [];
    let since = 0;
    let position = 0;
    sizes.forEach((size, i) => {
      if (since > 300) {
        expected.push([i * 3 + 2, position]);
        since = 0;
      }
      since += size;
      position += size;
    });
    const actual: [number, number][] = [];
    for (let at = 0; at < index.length; at += 8) actual.push([index.readInt32BE(at), index.readInt32BE(at + 4)]);
    expect(actual).toEqual(expected);
    const timeIndex = readFileSync(`${dir}/00000000000000000000.timeindex`);
    expect(timeIndex.readBigInt64BE(timeIndex.length - 12)).toBe(1019n + 2n);
  });
});

describe('read', () => {
  it('returns the whole batch holding an offset, up to maxBytes, always at least one batch', async () => {
    const { log } = await fresh({ segmentBytes: 1 << 20 });
    for (let i = 0; i < 10; i++) log.appendAsLeader(simpleBatch(4), 0);
    const one = log.read(5n, { maxBytes: 1 });
    expect(decodeBatches(one.records).map((b) => b.baseOffset)).toEqual([4n]);
    expect(one.firstBatchOffset).toBe(4n);
    const batchBytes = one.records.length;
    const three = log.read(4n, { maxBytes: batchBytes * 3 + batchBytes - 1 });
    expect(decodeBatches(three.records).map((b) => b.baseOffset)).toEqual([4n, 8n, 12n]);
    expect(log.read(5n, { maxBytes: 1, minOneBatch: false }).records.length).toBe(0);
    expect(log.read(40n, { maxBytes: 1000 }).records.length).toBe(0);
    await log.close();
  });

  it('stops below maxOffset (the high watermark for consumers), excluding a straddling batch', async () => {
    const { log } = await fresh({ segmentBytes: 1 << 20 });
    for (let i = 0; i < 5; i++) log.appendAsLeader(simpleBatch(4), 0);
    log.updateHighWatermark(10n);
    const r = log.read(0n, { maxBytes: 1 << 20, maxOffset: log.highWatermark });
    expect(decodeBatches(r.records).map((b) => b.lastOffset)).toEqual([3n, 7n]);
    expect(log.read(8n, { maxBytes: 1 << 20, maxOffset: 10n }).records.length).toBe(0);
    expect(log.read(10n, { maxBytes: 1 << 20, maxOffset: 10n }).records.length).toBe(0);
    await log.close();
  });

  it('throws a typed out-of-range error outside [log start, log end]', async () => {
    const { log } = await fresh();
    log.appendAsLeader(simpleBatch(2), 0);
    expect(typed(() => log.read(3n, { maxBytes: 100 })).code).toBe('LOG_OFFSET_OUT_OF_RANGE');
    expect(typed(() => log.read(-1n, { maxBytes: 100 })).kafkaErrorCode).toBe(1);
    expect(log.read(2n, { maxBytes: 100 }).records.length).toBe(0);
    await log.close();
  });

  it('reads within one segment per call, then continues in the next', async () => {
    const { log } = await fresh({ segmentBytes: 600 });
    for (let i = 0; i < 10; i++) log.appendAsLeader(simpleBatch(3), 0);
    expect(log.segmentCount).toBeGreaterThanOrEqual(2);
    const first = log.read(0n, { maxBytes: 1 << 20 });
    const lastOfFirst = decodeBatches(first.records).at(-1)?.lastOffset ?? -1n;
    expect(lastOfFirst + 1n).toBe(log.segmentBaseOffsets[1]);
    expect(first.file?.path).toMatch(/00000000000000000000\.log$/);
    expect(readAll(log).flatMap((b) => b.records).length).toBe(30);
    await log.close();
  });

  it('serves the bytes exactly as appended', async () => {
    const { log } = await fresh();
    const original = batch([{ key: 'k', value: 'v'.repeat(100) }], { compression: Compression.gzip });
    log.appendAsLeader(original, 3);
    expect(log.read(0n, { maxBytes: 1000 }).records.equals(original)).toBe(true);
    await log.close();
  });
});

describe('offsets by timestamp (ListOffsets)', () => {
  it('finds the first record at or after a timestamp, inside batches, compressed or not', async () => {
    const { log } = await fresh({ indexIntervalBytes: 100 });
    const ts = [1000n, 1005n, 1003n, 1010n, 1020n, 1020n, 1030n];
    for (const [i, compression] of [Compression.none, Compression.gzip, Compression.zstd].entries()) {
      const records = ts.map((t, j) => ({ key: `k${j}`, value: `v${i}${j}`, timestampMs: t + BigInt(i * 100) }));
      log.appendAsLeader(batch(records, { compression }), 0);
    }
    const at = (t: bigint): bigint | undefined => log.fetchOffsetByTimestamp(t)?.offset;
    expect(at(0n)).toBe(0n);
    expect(at(1004n)).toBe(1n);
    expect(at(1006n)).toBe(3n);
    expect(at(1020n)).toBe(4n);
    expect(at(1031n)).toBe(7n);
    expect(at(1104n)).toBe(8n);
    expect(at(1225n)).toBe(20n);
    expect(log.fetchOffsetByTimestamp(1231n)).toBeNull();
    expect(log.fetchOffsetByTimestamp(EARLIEST_TIMESTAMP)).toMatchObject({ offset: 0n, timestampMs: -1n, leaderEpoch: 0 });
    expect(log.fetchOffsetByTimestamp(LATEST_TIMESTAMP)).toMatchObject({ offset: 21n, timestampMs: -1n });
    expect(log.fetchOffsetByTimestamp(MAX_TIMESTAMP)).toMatchObject({ offset: 20n, timestampMs: 1230n });
    await log.close();
  });

  it('answers from the log start on, even inside a batch', async () => {
    const { log } = await fresh();
    log.appendAsLeader(batch([1, 2, 3].map((i) => ({ key: `k${i}`, value: 'v', timestampMs: BigInt(4000 - i) }))), 0);
    log.appendAsLeader(simpleBatch(1, 100n), 0);
    log.updateHighWatermark(4n);
    log.deleteRecordsBefore(1n);
    expect(log.fetchOffsetByTimestamp(0n)?.offset).toBe(1n);
    expect(log.fetchOffsetByTimestamp(MAX_TIMESTAMP)).toMatchObject({ offset: 1n, timestampMs: 3998n });
    await log.close();
  });
});

describe('high watermark, DeleteRecords, truncation', () => {
  it('never moves the high watermark backwards or above the log end', async () => {
    const { log } = await fresh();
    log.appendAsLeader(simpleBatch(5), 0);
    expect(log.updateHighWatermark(3n)).toBe(3n);
    expect(log.updateHighWatermark(2n)).toBe(3n);
    expect(log.updateHighWatermark(99n)).toBe(5n);
    await log.close();
  });

  it('DeleteRecords moves the log start up to the high watermark only and drops whole segments below it', async () => {
    const { log } = await fresh({ segmentBytes: 600 });
    for (let i = 0; i < 10; i++) log.appendAsLeader(simpleBatch(3), 0);
    log.updateHighWatermark(20n);
    expect(typed(() => log.deleteRecordsBefore(21n)).code).toBe('LOG_OFFSET_OUT_OF_RANGE');
    const second = log.segmentBaseOffsets[1] ?? 0n;
    expect(log.deleteRecordsBefore(second + 1n)).toBe(second + 1n);
    expect(log.segmentBaseOffsets[0]).toBe(second);
    expect(typed(() => log.read(second, { maxBytes: 10 })).code).toBe('LOG_OFFSET_OUT_OF_RANGE');
    expect(decodeBatches(log.read(second + 1n, { maxBytes: 10 }).records)[0]?.baseOffset).toBe(second);
    expect(log.deleteRecordsBefore(0n)).toBe(second + 1n);
    await log.close();
  });

  it('truncateTo removes the batch holding the offset and everything after, and the epochs past it', async () => {
    const { log } = await fresh({ segmentBytes: 600 });
    for (let i = 0; i < 10; i++) log.appendAsLeader(simpleBatch(3), i < 5 ? 1 : 2);
    log.updateHighWatermark(30n);
    expect(log.truncateTo(31n)).toBe(false);
    expect(log.truncateTo(16n)).toBe(true);
    expect(log.logEndOffset).toBe(15n);
    expect(log.highWatermark).toBe(15n);
    expect(log.epochEntries).toEqual([{ epoch: 1, startOffset: 0n }]);
    expect(log.endOffsetForEpoch(1)).toEqual({ epoch: 1, endOffset: 15n });
    expect(readAll(log).at(-1)?.lastOffset).toBe(14n);
    // The log continues from there.
    expect(log.appendAsLeader(simpleBatch(1), 3).firstOffset).toBe(15n);
    expect(log.endOffsetForEpoch(1)).toEqual({ epoch: 1, endOffset: 15n });
    await log.close();
  });

  it('truncating below the first segment restarts the log empty there', async () => {
    const { log } = await fresh({ segmentBytes: 600 });
    for (let i = 0; i < 10; i++) log.appendAsLeader(simpleBatch(3), 0);
    log.updateHighWatermark(30n);
    log.deleteRecordsBefore(20n);
    log.truncateTo(5n);
    expect([log.logStartOffset, log.logEndOffset, log.highWatermark]).toEqual([5n, 5n, 5n]);
    expect(log.segmentBaseOffsets).toEqual([5n]);
    await log.close();
  });
});

describe('retention', () => {
  it('deletes segments older than retention.ms, never the active one nor at/after the high watermark', async () => {
    const clock = new ManualClock(10_000_000);
    const { log } = await fresh({ segmentBytes: 600, retentionMs: 60_000 }, clock);
    for (let i = 0; i < 30; i++) log.appendAsLeader(simpleBatch(3, BigInt(10_000_000 + i * 1000)), 0);
    const segments = log.segmentBaseOffsets;
    expect(segments.length).toBeGreaterThan(3);
    clock.advance(1_000_000);
    expect(log.deleteOldSegments()).toBe(0); // high watermark is 0
    log.updateHighWatermark(segments[2] ?? 0n);
    expect(log.deleteOldSegments()).toBe(2);
    expect(log.logStartOffset).toBe(segments[2]);
    log.updateHighWatermark(log.logEndOffset);
    log.deleteOldSegments();
    expect(log.segmentBaseOffsets).toEqual([segments.at(-1)]);
    expect(log.logStartOffset).toBe(segments.at(-1));
    await log.close();
    // Deleted files are unlinked once no background fsync holds them.
    expect(readdirSync(log.dir).filter((f) => f.endsWith('.deleted'))).toEqual([]);
  });

  it('keeps segments with recent records', async () => {
    const clock = new ManualClock(10_000_000);
    const { log } = await fresh({ segmentBytes: 600, retentionMs: 60_000 }, clock);
    // Six batches per segment, 20 s apart: a segment's newest record is 100 s after its oldest.
    for (let i = 0; i < 30; i++) log.appendAsLeader(simpleBatch(3, BigInt(10_000_000 + i * 20_000)), 0);
    log.updateHighWatermark(log.logEndOffset);
    const before = log.segmentCount;
    expect(before).toBe(5);
    // Now: 160 s after the last record of the 2nd segment (index 1), 40 s after that of the 3rd.
    clock.set(10_000_000 + 11 * 20_000 + 2 + 60_001); // the 2nd segment's newest record is batch 11's third
    expect(log.deleteOldSegments()).toBe(2);
    expect(log.logStartOffset).toBe(36n);
    await log.close();
  });

  it('deletes oldest segments while the log exceeds retention.bytes', async () => {
    const { log } = await fresh({ segmentBytes: 600, retentionBytes: 1300 });
    for (let i = 0; i < 20; i++) log.appendAsLeader(simpleBatch(3), 0);
    log.updateHighWatermark(log.logEndOffset);
    expect(log.deleteOldSegments()).toBeGreaterThan(0);
    expect(log.sizeBytes).toBeLessThanOrEqual(1300);
    // Deleting one more would go below the limit: Kafka stops as soon as the next deletion would.
    const oldest = statSync(`${log.dir}/${log.segmentBaseOffsets[0]!.toString().padStart(20, '0')}.log`).size;
    expect(log.sizeBytes - oldest).toBeLessThan(1300);
    await log.close();
  });
});

describe('durability', () => {
  it('does not fsync per write by default; flush advances the recovery point', async () => {
    const { log } = await fresh({ segmentBytes: 1 << 20 });
    const r = log.appendAsLeader(simpleBatch(3), 0);
    expect(r.flushed).toBeNull();
    expect(log.recoveryPoint).toBe(0n);
    await log.flush();
    expect(log.recoveryPoint).toBe(3n);
    await log.close();
  });

  it('flush.messages triggers a flush once enough records are unflushed', async () => {
    const { log } = await fresh({ flushMessages: 5, segmentBytes: 1 << 20 });
    expect(log.appendAsLeader(simpleBatch(3), 0).flushed).toBeNull();
    const r = log.appendAsLeader(simpleBatch(3), 0);
    expect(await r.flushed).toBeNull();
    expect(log.recoveryPoint).toBe(6n);
    await log.close();
  });

  it('flush.ms flushes when the last flush is old enough', async () => {
    const clock = new ManualClock();
    const { log } = await fresh({ flushMs: 1000, segmentBytes: 1 << 20 }, clock);
    log.appendAsLeader(simpleBatch(3), 0);
    await log.flushIfDue();
    expect(log.recoveryPoint).toBe(0n);
    clock.advance(1000);
    await log.flushIfDue();
    expect(log.recoveryPoint).toBe(3n);
    await log.close();
  });

  it('fsyncs a segment in the background when it rolls', async () => {
    const { log } = await fresh({ segmentBytes: 600 });
    for (let i = 0; i < 5; i++) log.appendAsLeader(simpleBatch(3), 0);
    await new Promise((r) => setTimeout(r, 50));
    expect(log.recoveryPoint).toBe(log.segmentBaseOffsets.at(-1));
    await log.close();
  });

  it('persists the leader epoch cache in Kafka format', async () => {
    const { log, dir } = await fresh();
    log.appendAsLeader(simpleBatch(1), 4);
    log.appendAsLeader(simpleBatch(1), 6);
    await log.close();
    expect(readFileSync(`${dir}/leader-epoch-checkpoint`, 'utf8')).toBe('0\n2\n4 0\n6 1\n');
  });
});

describe('closed and reopened logs', () => {
  it('refuses operations after close with a typed error', async () => {
    const { log } = await fresh();
    await log.close();
    const err = typed(() => log.appendAsLeader(simpleBatch(1), 0));
    expect(isLogError(err, 'LOG_CLOSED')).toBe(true);
  });

  it('reopens after a clean shutdown with the same offsets, epochs and data', async () => {
    const clock = new ManualClock();
    const { log, dir } = await fresh({ segmentBytes: 600 }, clock);
    for (let i = 0; i < 10; i++) log.appendAsLeader(simpleBatch(3, BigInt(1000 + i)), i);
    const before = readAll(log);
    await log.close();
    const again = await openLog(dir, clock, { config: smallConfig({ segmentBytes: 600 }), hadCleanShutdown: true, highWatermark: 30n });
    expect(readAll(again)).toEqual(before);
    expect(again.logEndOffset).toBe(30n);
    expect(again.latestEpoch).toBe(9);
    expect(again.fetchOffsetByTimestamp(1005n)?.offset).toBe(11n); // batch 3 holds 1003, 1004, 1005
    expect(decodeRecords(again.read(29n, { maxBytes: 1 }).records).at(-1)?.offset).toBe(29n);
    await again.close();
    expect(statSync(`${dir}/00000000000000000000.log`).size).toBeGreaterThan(0);
  });

  it('batches stay whole in every read result', async () => {
    const { log } = await fresh({ segmentBytes: 2000 });
    for (let i = 0; i < 30; i++) log.appendAsLeader(simpleBatch(1 + (i % 4)), 0);
    for (let o = 0n; o < log.logEndOffset; o++) {
      const r = log.read(o, { maxBytes: 250 });
      let at = 0;
      while (at < r.records.length) at += readBatchSizeBytes(r.records, at);
      expect(at).toBe(r.records.length);
    }
    await log.close();
  });
});

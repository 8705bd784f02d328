import { cpSync, readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ATTR_DELETE_HORIZON, Compression, isBatchCrcValid, readAttributes, readRecordsCount } from '../../../broker/src/protocol/records/batch-header.ts';
import type { PartitionLog } from '../../../broker/src/log/partition-log.ts';
import {
  batch,
  cleanupTempDirs,
  type DecodedRecord,
  faultyFs,
  fastFs,
  ManualClock,
  openLog,
  readAll,
  smallConfig,
  tempDir,
  verifyIndexes,
} from './helpers.ts';

afterEach(cleanupTempDirs);

const DAY_MS = 24 * 60 * 60 * 1000;
const config = smallConfig({ cleanupPolicy: ['compact'], segmentBytes: 700, indexIntervalBytes: 128 });
const records = (log: PartitionLog): DecodedRecord[] => readAll(log).flatMap((b) => b.records);
const summary = (rs: readonly DecodedRecord[]): string[] => rs.map((r) => `${r.offset}:${r.key}=${r.value}`);

/** Appends `rounds` rounds of writes to keys k0..k{keys-1} (one record per batch), then rolls and commits. */
function fill(log: PartitionLog, rounds: number, keys: number, startTimestampMs = 1_000n): void {
  let ts = startTimestampMs;
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < keys; k++) log.appendAsLeader(batch([{ key: `k${k}`, value: `r${r}`, timestampMs: ts++ }]), 0);
  }
  log.roll();
  log.updateHighWatermark(log.logEndOffset);
}

/** The records compaction must keep: the last per key below `end`, and everything from `end` on. */
function expectedAfter(before: readonly DecodedRecord[], end: bigint): string[] {
  const last = new Map<string, bigint>();
  for (const r of before) if (r.offset < end && r.key !== null) last.set(r.key, r.offset);
  return summary(before.filter((r) => r.offset >= end || (r.key !== null && last.get(r.key) === r.offset)));
}

describe('compaction', () => {
  it('keeps the last value per key below the active segment, with offsets unchanged', async () => {
    const dir = tempDir();
    const log = await openLog(dir, new ManualClock(), { config });
    fill(log, 6, 5);
    log.appendAsLeader(batch([{ key: 'k0', value: 'active' }]), 0);
    const before = records(log);
    const active = log.segmentBaseOffsets.at(-1) ?? 0n;
    const segmentsBefore = log.segmentCount;
    const result = await log.compact();
    expect(result.status).toBe('done');
    expect(result.recordsRemoved).toBe(25);
    expect(summary(records(log))).toEqual(expectedAfter(before, active));
    // Groups are sized by their sources (as Kafka's groupSegmentsBySize), so shrunken segments merge later.
    expect(log.segmentCount).toBeLessThanOrEqual(segmentsBefore);
    expect([log.logStartOffset, log.logEndOffset]).toEqual([0n, 31n]);
    expect(log.cleanerCheckpoint).toBe(active);
    // Reads at a removed offset return the next surviving batch.
    expect(readAll(log)[0]?.records[0]?.offset).toBe(25n);
    expect(log.read(3n, { maxBytes: 1 }).firstBatchOffset).toBe(25n);
    expect((await log.compact()).status).toBe('nothing-to-do');
    fill(log, 6, 5);
    const segmentsBeforeSecond = log.segmentCount;
    expect((await log.compact()).status).toBe('done');
    expect(log.segmentCount).toBeLessThan(segmentsBeforeSecond);
    await log.close();
    verifyIndexes(dir);
  });

  it('never compacts at or beyond the high watermark', async () => {
    const log = await openLog(tempDir(), new ManualClock(), { config });
    let ts = 1_000n;
    for (let r = 0; r < 4; r++) for (let k = 0; k < 3; k++) log.appendAsLeader(batch([{ key: `k${k}`, value: `r${r}`, timestampMs: ts++ }]), 0);
    log.roll();
    expect(log.segmentCount).toBeGreaterThan(2);
    // The high watermark sits inside the second segment: only the first may be compacted.
    const second = log.segmentBaseOffsets[1] ?? 0n;
    log.updateHighWatermark(second + 1n);
    const before = records(log);
    expect((await log.compact()).status).toBe('done');
    expect(summary(records(log))).toEqual(expectedAfter(before, second));
    expect(log.cleanerCheckpoint).toBe(second);
    log.updateHighWatermark(0n); // no effect: it never goes back
    expect(log.highWatermark).toBe(second + 1n);
    await log.close();
  });

  it('keeps tombstones for delete.retention.ms after they are first cleaned (KIP-534 delete horizon)', async () => {
    const clock = new ManualClock(10_000_000);
    const log = await openLog(tempDir(), clock, { config });
    fill(log, 2, 3);
    log.appendAsLeader(batch([{ key: 'k1', value: null }]), 0);
    log.roll();
    log.updateHighWatermark(log.logEndOffset);
    await log.compact();
    const tombstone = readAll(log).find((b) => b.records.some((r) => r.key === 'k1'));
    expect(tombstone?.records).toMatchObject([{ key: 'k1', value: null }]);
    const raw = log.read(tombstone?.baseOffset ?? 0n, { maxBytes: 1 }).records;
    expect(readAttributes(raw, 0) & ATTR_DELETE_HORIZON).toBe(ATTR_DELETE_HORIZON);
    expect(isBatchCrcValid(raw, 0)).toBe(true);
    expect(log.tombstoneHorizonMs).toBe(10_000_000 + DAY_MS);
    clock.advance(DAY_MS - 1);
    log.appendAsLeader(batch([{ key: 'k2', value: 'late' }]), 0);
    log.roll();
    log.updateHighWatermark(log.logEndOffset);
    await log.compact();
    expect(records(log).some((r) => r.key === 'k1')).toBe(true);
    clock.advance(1);
    await log.compact();
    expect(records(log).some((r) => r.key === 'k1')).toBe(false);
    expect(summary(records(log))).toEqual(['3:k0=r1', '7:k2=late']);
    await log.close();
  });

  it('keeps an emptied batch when it is the newest of a live producer, so its sequence continues', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const log = await openLog(dir, clock, { config });
    log.appendAsLeader(batch([{ key: 'a', value: '1' }, { key: 'b', value: '1' }], { producerId: 9n, producerEpoch: 0, baseSequence: 0 }), 0);
    log.appendAsLeader(batch([{ key: 'a', value: '2' }, { key: 'b', value: '2' }]), 0);
    log.appendAsLeader(batch([{ key: 'c', value: '1' }], { producerId: 10n, producerEpoch: 0, baseSequence: 0 }), 0);
    log.appendAsLeader(batch([{ key: 'c', value: '2' }], { producerId: 10n, producerEpoch: 0, baseSequence: 1 }), 0);
    log.roll();
    log.updateHighWatermark(log.logEndOffset);
    await log.compact();
    const batches = readAll(log);
    // Producer 9's only batch lost both records but survives empty; producer 10's first batch is simply gone.
    expect(batches.map((b) => [b.baseOffset, b.lastOffset, b.records.length])).toEqual([
      [0n, 1n, 0],
      [2n, 3n, 2],
      [5n, 5n, 1],
    ]);
    const empty = log.read(0n, { maxBytes: 1 }).records;
    expect(readRecordsCount(empty, 0)).toBe(0);
    expect(isBatchCrcValid(empty, 0)).toBe(true);
    await log.close();
    const again = await openLog(dir, clock, { config, hadCleanShutdown: true, highWatermark: 6n });
    expect(again.checkProducerState(batch([{ key: 'a', value: '3' }], { producerId: 9n, producerEpoch: 0, baseSequence: 2 }))).toEqual({ kind: 'append' });
    expect(again.checkProducerState(batch([{ key: 'a', value: '1' }, { key: 'b', value: '1' }], { producerId: 9n, producerEpoch: 0, baseSequence: 0 }))).toMatchObject({
      kind: 'duplicate',
      firstOffset: 0n,
    });
    await again.close();
  });

  it('rebuilds compressed batches in their codec, keeping the original last offset delta', async () => {
    const log = await openLog(tempDir(), new ManualClock(), { config });
    log.appendAsLeader(batch([{ key: 'a', value: '1' }, { key: 'b', value: '1' }, { key: 'c', value: '1' }], { compression: Compression.gzip }), 0);
    log.appendAsLeader(batch([{ key: 'c', value: '2' }, { key: 'a', value: '2' }], { compression: Compression.zstd }), 0);
    log.roll();
    log.updateHighWatermark(log.logEndOffset);
    await log.compact();
    const batches = readAll(log);
    expect(batches.map((b) => [b.baseOffset, b.lastOffset, summary(b.records)])).toEqual([
      [0n, 2n, ['1:b=1']],
      [3n, 4n, ['3:c=2', '4:a=2']],
    ]);
    const first = log.read(0n, { maxBytes: 1 }).records;
    expect(readAttributes(first, 0) & 7).toBe(Compression.gzip);
    await log.close();
  });

  it('drops records without a key and leaves transaction markers alone', async () => {
    const log = await openLog(tempDir(), new ManualClock(), { config });
    log.appendAsLeader(batch([{ key: null, value: 'x' }, { key: 'a', value: '1' }]), 0);
    log.appendAsLeader(batch([{ key: 'ctl', value: 'marker' }], { control: true, transactional: true, producerId: 3n, producerEpoch: 0 }), 0);
    log.roll();
    log.updateHighWatermark(log.logEndOffset);
    await log.compact();
    expect(summary(records(log))).toEqual(['1:a=1', '2:ctl=marker']);
    await log.close();
  });

  it('respects min.compaction.lag.ms', async () => {
    const clock = new ManualClock(1_000_000);
    const log = await openLog(tempDir(), clock, { config: smallConfig({ ...config, minCompactionLagMs: 60_000 }) });
    fill(log, 3, 2, 1_000_000n);
    expect((await log.compact()).status).toBe('nothing-to-do');
    clock.advance(61_000);
    expect((await log.compact()).status).toBe('done');
    await log.close();
  });

  it('stops the offset map at the key budget and finishes in a later pass', async () => {
    const log = await openLog(tempDir(), new ManualClock(), { config: smallConfig({ ...config, cleanerKeyBytesMax: 1024 }) });
    let ts = 1000n;
    for (let r = 0; r < 2; r++) for (let k = 0; k < 40; k++) log.appendAsLeader(batch([{ key: `key-${k}`, value: `${r}`, timestampMs: ts++ }]), 0);
    log.roll();
    log.updateHighWatermark(log.logEndOffset);
    const before = records(log);
    const first = await log.compact();
    expect(first.cleanedUpTo).toBeLessThan(log.logEndOffset);
    for (let i = 0; i < 10 && log.cleanerCheckpoint < log.logEndOffset; i++) await log.compact();
    expect(log.cleanerCheckpoint).toBe(log.logEndOffset);
    await log.compact();
    expect(summary(records(log))).toEqual(expectedAfter(before, log.logEndOffset));
    await log.close();
  });

  it('keeps the log end across a restart after truncating into a compacted-away range', async () => {
    // Found by the model test: keyless records are compacted away, a truncation lands in the gap, and the
    // log end (read back from the data at load) would move back and hand out used offsets again.
    const dir = tempDir();
    const clock = new ManualClock();
    const log = await openLog(dir, clock, { config });
    for (let i = 0; i < 4; i++) log.appendAsLeader(batch([{ key: null, value: `x${i}` }, { key: null, value: 'y' }]), 0);
    log.roll();
    log.updateHighWatermark(log.logEndOffset);
    await log.compact();
    expect(records(log)).toEqual([]);
    log.truncateTo(3n);
    expect(log.logEndOffset).toBe(3n);
    log.abandon();
    const again = await openLog(dir, clock, { config, highWatermark: 3n });
    expect(again.logEndOffset).toBe(3n);
    expect(again.appendAsLeader(batch([{ key: 'k', value: 'v' }]), 0).firstOffset).toBe(3n);
    await again.close();
  });

  it('runs in bounded steps: appends and reads proceed while it works', async () => {
    const log = await openLog(tempDir(), new ManualClock(), { config: smallConfig({ ...config, cleanerStepBytes: 256 }), fs: fastFs() });
    fill(log, 20, 10);
    log.updateConfig({ ...log.config, segmentBytes: 1 << 20 });
    let appendsDuring = 0;
    let done = false;
    const pass = log.compact().finally(() => {
      done = true;
    });
    while (!done) {
      log.appendAsLeader(batch([{ key: 'live', value: String(appendsDuring) }]), 0);
      log.read(log.logStartOffset, { maxBytes: 1000 });
      appendsDuring++;
      await new Promise((r) => setImmediate(r));
    }
    expect((await pass).status).toBe('done');
    expect(appendsDuring).toBeGreaterThan(5);
    expect(records(log).filter((r) => r.key === 'live')).toHaveLength(appendsDuring);
    await log.close();
  });

  it('aborts cleanly when the log is truncated under it', async () => {
    const dir = tempDir();
    const log = await openLog(dir, new ManualClock(), { config: smallConfig({ ...config, cleanerStepBytes: 128 }) });
    fill(log, 10, 10);
    const pass = log.compact();
    await new Promise((r) => setImmediate(r));
    log.truncateTo(5n);
    expect((await pass).status).toBe('aborted');
    expect(readdirSync(dir).filter((n) => /cleaned|swap/.test(n))).toEqual([]);
    expect(log.logEndOffset).toBe(5n);
    await log.close();
  });

  it('recovers to the old or the new state after a crash at any step of a compaction', async () => {
    const template = tempDir();
    const clock = new ManualClock();
    const seed = await openLog(template, clock, { config });
    fill(seed, 6, 4);
    const before = records(seed);
    const hw = seed.highWatermark;
    await seed.close();
    // Dry run to count the mutating filesystem calls a compaction makes.
    const probe = faultyFs({ noSync: true });
    const probeDir = tempDir();
    cpSync(template, probeDir, { recursive: true });
    const probeLog = await openLog(probeDir, clock, { config, fs: probe.fs, hadCleanShutdown: true, highWatermark: hw });
    const start = probe.raw.mutations;
    await probeLog.compact();
    const after = summary(records(probeLog));
    const steps = probe.raw.mutations - start;
    await probeLog.close();
    expect(steps).toBeGreaterThan(5);
    const beforeSet = new Set(summary(before));
    for (let k = 1; k <= steps; k++) {
      const dir = tempDir();
      cpSync(template, dir, { recursive: true });
      const { raw, fs } = faultyFs({ noSync: true });
      const log = await openLog(dir, clock, { config, fs, hadCleanShutdown: true, highWatermark: hw });
      raw.crashAtMutation = raw.mutations + k;
      await log.compact().catch(() => undefined);
      log.abandon();
      const recovered = await openLog(dir, clock, { config, fs: fastFs(), highWatermark: hw });
      const got = summary(records(recovered));
      // Every record the compaction keeps is there, and nothing that was not in the log before.
      for (const r of after) expect(got).toContain(r);
      for (const r of got) expect(beforeSet.has(r)).toBe(true);
      expect(recovered.logEndOffset).toBe(before.at(-1) === undefined ? 0n : (before.at(-1)?.offset ?? 0n) + 1n);
      await recovered.close();
      expect(readdirSync(dir).filter((n) => /cleaned|swap|deleted/.test(n))).toEqual([]);
      verifyIndexes(dir);
    }
  });
});

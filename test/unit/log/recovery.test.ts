import { readFileSync, readdirSync, statSync, truncateSync, unlinkSync, writeFileSync, appendFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { RecoveryProgress } from '../../../broker/src/log/log-events.ts';
import type { PartitionLog } from '../../../broker/src/log/partition-log.ts';
import {
  cleanupTempDirs,
  type DecodedBatch,
  ManualClock,
  openLog,
  readAll,
  scanSegmentFile,
  simpleBatch,
  smallConfig,
  tempDir,
  verifyIndexes,
  batch,
  decodeBatches,
} from './helpers.ts';

afterEach(cleanupTempDirs);

const config = smallConfig({ segmentBytes: 1500, indexIntervalBytes: 200 });
const segmentFile = (dir: string, i: number): string => {
  const name = readdirSync(dir)
    .filter((n) => /^\d{20}\.log$/.test(n))
    .sort()[i];
  if (name === undefined) throw new Error(`no segment ${i}`);
  return `${dir}/${name}`;
};

/** A log of `batches` batches of 1..4 records, epochs changing every 7 batches, closed uncleanly. */
async function buildLog(dir: string, clock: ManualClock, batches = 40): Promise<DecodedBatch[]> {
  const log = await openLog(dir, clock, { config });
  for (let i = 0; i < batches; i++) log.appendAsLeader(simpleBatch(1 + (i % 4), BigInt(5000 + i * 10)), Math.floor(i / 7));
  const all = readAll(log);
  log.abandon();
  return all;
}

interface Warning {
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

async function reopen(dir: string, clock: ManualClock, extra: Parameters<typeof openLog>[2] = {}): Promise<{ log: PartitionLog; warnings: Warning[] }> {
  const warnings: Warning[] = [];
  const logger = { info: () => undefined, warn: (fields: object, message: string) => warnings.push({ fields: fields as Record<string, unknown>, message }) };
  const log = await openLog(dir, clock, { config, logger, ...extra });
  return { log, warnings };
}

describe('recovery after an unclean stop', () => {
  it('keeps everything the page cache holds and rebuilds indexes, epochs and offsets', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const before = await buildLog(dir, clock);
    for (const n of readdirSync(dir).filter((f) => f.endsWith('index'))) unlinkSync(`${dir}/${n}`);
    unlinkSync(`${dir}/leader-epoch-checkpoint`);
    const { log, warnings } = await reopen(dir, clock);
    expect(warnings).toEqual([]);
    expect(readAll(log)).toEqual(before);
    expect(log.logEndOffset).toBe((before.at(-1)?.lastOffset ?? -1n) + 1n);
    expect(log.epochEntries.map((e) => e.epoch)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(log.recoveryPoint).toBe(log.logEndOffset);
    await log.close();
    verifyIndexes(dir, 200);
  });

  it('cuts the log at any byte position: exactly the whole batches before the cut survive', async () => {
    const template = tempDir();
    const clock = new ManualClock();
    const before = await buildLog(template, clock, 30);
    const files = readdirSync(template).filter((n) => /^\d{20}\.log$/.test(n)).sort();
    const sizes = files.map((f) => statSync(`${template}/${f}`).size);
    const total = sizes.reduce((a, b) => a + b, 0);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: total - 1 }), async (cut) => {
        const dir = tempDir();
        // Copy the template, then cut the byte stream at `cut`: the segment holding it is truncated and every
        // later segment is gone (what a crash before their data reached the disk looks like).
        let remaining = cut;
        const survivors: DecodedBatch[] = [];
        files.forEach((f, i) => {
          const bytes = readFileSync(`${template}/${f}`);
          const size = sizes[i] ?? 0;
          if (remaining <= 0) return;
          writeFileSync(`${dir}/${f}`, bytes.subarray(0, Math.min(size, remaining)));
          remaining -= size;
        });
        let offsetBytes = 0;
        files.forEach((f, i) => {
          const batches = scanSegmentFile(`${template}/${f}`);
          for (const b of batches) {
            if (offsetBytes + b.position + b.sizeBytes <= cut) {
              const match = before.find((x) => x.lastOffset === b.lastOffset);
              if (match !== undefined) survivors.push(match);
            }
          }
          offsetBytes += sizes[i] ?? 0;
        });
        const { log } = await reopen(dir, clock);
        expect(readAll(log)).toEqual(survivors);
        const expectedEnd = survivors.at(-1) === undefined ? log.segmentBaseOffsets[0] : (survivors.at(-1)?.lastOffset ?? 0n) + 1n;
        expect(log.logEndOffset).toBe(expectedEnd);
        await log.close();
        verifyIndexes(dir, 200);
      }),
      { numRuns: 40 },
    );
  });

  it('truncates at a corrupt byte in the middle and deletes every later segment, reporting file and position', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const before = await buildLog(dir, clock);
    const victim = segmentFile(dir, 1);
    const batches = scanSegmentFile(victim);
    const bad = batches[2];
    if (bad === undefined) throw new Error('segment too small');
    const bytes = readFileSync(victim);
    bytes.writeUInt8(bytes.readUInt8(bad.position + 70) ^ 0xff, bad.position + 70);
    writeFileSync(victim, bytes);
    const segmentsBefore = readdirSync(dir).filter((n) => n.endsWith('.log')).length;
    const { log, warnings } = await reopen(dir, clock);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.fields).toMatchObject({ file: victim, position: bad.position, segmentsDeleted: segmentsBefore - 2 });
    expect(String(warnings[0]?.fields.reason)).toMatch(/CRC/);
    const lastGood = batches[1]?.lastOffset ?? -1n;
    expect(readAll(log)).toEqual(before.filter((b) => b.lastOffset <= lastGood));
    expect(log.logEndOffset).toBe(lastGood + 1n);
    expect(log.segmentCount).toBe(2);
    expect(log.epochEntries.every((e) => e.startOffset <= lastGood)).toBe(true);
    // The log keeps working from the cut.
    expect(log.appendAsLeader(simpleBatch(1), 9).firstOffset).toBe(lastGood + 1n);
    await log.close();
    verifyIndexes(dir, 200);
  });

  it('drops trailing garbage and a torn header', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const before = await buildLog(dir, clock, 5);
    appendFileSync(segmentFile(dir, 0), Buffer.alloc(7, 0xab));
    const { log } = await reopen(dir, clock);
    expect(readAll(log)).toEqual(before);
    expect(statSync(segmentFile(dir, 0)).size).toBe(scanSegmentFile(segmentFile(dir, 0)).reduce((n, b) => n + b.sizeBytes, 0));
    await log.close();
  });

  it('rejects batches whose offsets go backwards', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const log = await openLog(dir, clock, { config: smallConfig({ segmentBytes: 1 << 20 }) });
    log.appendAsFollower(simpleBatch(2, 1000n, { baseOffset: 0n }));
    log.appendAsFollower(simpleBatch(2, 1000n, { baseOffset: 10n }));
    log.abandon();
    // Splice in a batch that claims offsets 5..6 after 10..11: recovery must cut there.
    appendFileSync(segmentFile(dir, 0), simpleBatch(2, 1000n, { baseOffset: 5n }));
    const { log: again, warnings } = await reopen(dir, clock, { config: smallConfig({ segmentBytes: 1 << 20 }) });
    expect(again.logEndOffset).toBe(12n);
    expect(String(warnings[0]?.fields.reason)).toMatch(/below the expected/);
    await again.close();
  });

  it('reports progress through the callback', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    await buildLog(dir, clock);
    const progress: RecoveryProgress[] = [];
    const { log } = await reopen(dir, clock, { onRecoveryProgress: (p) => progress.push(p) });
    expect(progress.length).toBeGreaterThan(2);
    const last = progress.at(-1);
    expect(last?.segmentsDone).toBe(last?.segmentsTotal);
    expect(last?.bytesDone).toBe(last?.bytesTotal);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.bytesDone).toBeGreaterThanOrEqual(progress[i - 1]!.bytesDone);
    await log.close();
  });
});

describe('what recovery trusts', () => {
  it('with the clean-shutdown marker it does not rescan (so it cannot see a flipped byte mid-log)', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    await buildLog(dir, clock);
    const { log: cleanly } = await reopen(dir, clock);
    await cleanly.close();
    const victim = segmentFile(dir, 0);
    const bytes = readFileSync(victim);
    bytes.writeUInt8(bytes.readUInt8(100) ^ 0xff, 100);
    writeFileSync(victim, bytes);
    const progress: RecoveryProgress[] = [];
    const trusted = await reopen(dir, clock, { hadCleanShutdown: true, onRecoveryProgress: (p) => progress.push(p) });
    expect(progress).toEqual([]);
    expect(trusted.log.segmentCount).toBeGreaterThan(2);
    trusted.log.abandon();
    const rescanned = await reopen(dir, clock, { hadCleanShutdown: false });
    expect(rescanned.log.segmentCount).toBe(1);
    expect(rescanned.warnings).toHaveLength(1);
    await rescanned.log.close();
  });

  it('reports structural damage inside a trusted segment as a typed error naming file and position', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const before = await buildLog(dir, clock);
    const { log: cleanly } = await reopen(dir, clock);
    await cleanly.close();
    const victim = segmentFile(dir, 0);
    const third = scanSegmentFile(victim)[2];
    if (third === undefined) throw new Error('segment too small');
    const bytes = readFileSync(victim);
    bytes.writeInt32BE(3, third.position + 8); // Length field: an impossible 15-byte batch
    writeFileSync(victim, bytes);
    unlinkSync(victim.replace('.log', '.index'));
    const { log } = await reopen(dir, clock, { hadCleanShutdown: true });
    const target = before.find((b) => b.lastOffset === third.lastOffset)?.baseOffset ?? 0n;
    let error: unknown;
    try {
      log.read(target, { maxBytes: 100 });
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'LOG_CORRUPT_FILE', path: victim, position: third.position });
    // What precedes the damage and the later segments are still served.
    expect(decodeBatches(log.read(0n, { maxBytes: 1 << 20 }).records).map((b) => b.lastOffset)).toEqual(before.slice(0, 2).map((b) => b.lastOffset));
    const nextSegment = log.segmentBaseOffsets[1] ?? 0n;
    expect(decodeBatches(log.read(nextSegment, { maxBytes: 1 }).records)[0]?.baseOffset).toBe(nextSegment);
    log.abandon();
    // A restart without the marker repairs it by truncation.
    const repaired = await reopen(dir, clock, { hadCleanShutdown: false });
    expect(repaired.log.logEndOffset).toBe(target);
    await repaired.log.close();
  });

  it('rescans only from the segment holding the recovery point', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    await buildLog(dir, clock);
    const { log: first } = await reopen(dir, clock);
    const recoveryPoint = first.segmentBaseOffsets[2] ?? 0n;
    first.abandon();
    const progress: RecoveryProgress[] = [];
    const { log } = await reopen(dir, clock, { recoveryPoint: recoveryPoint + 1n, onRecoveryProgress: (p) => progress.push(p) });
    expect(progress[0]?.segmentBaseOffset).toBe(recoveryPoint);
    expect(progress[0]?.segmentsTotal).toBe(log.segmentCount - 2);
    await log.close();
  });

  it('rebuilds missing or corrupt index files of trusted segments on first use', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const before = await buildLog(dir, clock);
    const { log: cleanly } = await reopen(dir, clock);
    await cleanly.close();
    const index = segmentFile(dir, 1).replace('.log', '.index');
    writeFileSync(index, Buffer.from([0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 2]));
    unlinkSync(segmentFile(dir, 2).replace('.log', '.timeindex'));
    const { log } = await reopen(dir, clock, { hadCleanShutdown: true });
    expect(readAll(log)).toEqual(before);
    expect(log.fetchOffsetByTimestamp(5000n + 25n * 10n)?.offset).toBe(before[25]?.baseOffset);
    await log.close();
    verifyIndexes(dir, 200);
  });

  it('recovers a torn active segment even with the marker', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const before = await buildLog(dir, clock);
    const { log: cleanly } = await reopen(dir, clock);
    await cleanly.close();
    const active = segmentFile(dir, readdirSync(dir).filter((n) => /^\d{20}\.log$/.test(n)).length - 1);
    truncateSync(active, statSync(active).size - 3);
    const { log, warnings } = await reopen(dir, clock, { hadCleanShutdown: true });
    expect(warnings.some((w) => /tail is corrupt/.test(w.message))).toBe(true);
    expect(readAll(log)).toEqual(before.slice(0, -1));
    await log.close();
  });

  it('rebuilds a corrupt leader-epoch-checkpoint from the batches', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    await buildLog(dir, clock);
    writeFileSync(`${dir}/leader-epoch-checkpoint`, '0\n2\n1 garbage\n');
    const { log, warnings } = await reopen(dir, clock, { hadCleanShutdown: true });
    expect(warnings.some((w) => /epoch checkpoint is corrupt/.test(w.message))).toBe(true);
    expect(log.epochEntries.map((e) => e.epoch)).toEqual([0, 1, 2, 3, 4, 5]);
    await log.close();
    expect(readFileSync(`${dir}/leader-epoch-checkpoint`, 'utf8')).toMatch(/^0\n6\n0 0\n/);
  });

  it('falls back from a corrupt producer snapshot to an older one plus replay', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const log = await openLog(dir, clock, { config });
    for (let i = 0; i < 30; i++) log.appendAsLeader(batch([{ key: 'k', value: 'v'.repeat(30) }], { producerId: 5n, producerEpoch: 0, baseSequence: i }), 0);
    await log.close();
    const snapshots = readdirSync(dir).filter((n) => n.endsWith('.snapshot')).sort();
    expect(snapshots.length).toBeGreaterThan(1);
    writeFileSync(`${dir}/${snapshots.at(-1)}`, 'not a snapshot');
    const { log: again, warnings } = await reopen(dir, clock, { hadCleanShutdown: true });
    expect(warnings.some((w) => /producer snapshot is corrupt/.test(w.message))).toBe(true);
    expect(again.checkProducerState(batch([{ key: 'k', value: 'x' }], { producerId: 5n, producerEpoch: 0, baseSequence: 29 }))).toMatchObject({ kind: 'duplicate', firstOffset: 29n });
    expect(again.checkProducerState(batch([{ key: 'k', value: 'x' }], { producerId: 5n, producerEpoch: 0, baseSequence: 30 }))).toEqual({ kind: 'append' });
    await again.close();
  });

  it('removes leftovers of interrupted work (.tmp, .deleted, .cleaned, orphan indexes)', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    await buildLog(dir, clock, 5);
    for (const n of ['leader-epoch-checkpoint.tmp', '00000000000000000000.log.deleted', '00000000000000000000.log.cleaned', '00000000000000099999.index']) {
      writeFileSync(`${dir}/${n}`, 'x');
    }
    const { log } = await reopen(dir, clock);
    await log.close();
    expect(readdirSync(dir).filter((n) => /tmp|deleted|cleaned|99999/.test(n))).toEqual([]);
  });
});

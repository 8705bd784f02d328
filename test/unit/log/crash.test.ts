/**
 * Crash tests. (1) A child process appends and flushes; the parent kills it with SIGKILL at random moments
 * and reopens the log each time: every record below the last offset the child reported flushed must be
 * intact, offsets contiguous, indexes equal to what a full scan dictates. (2) Segment files are cut and
 * bytes flipped at random positions: recovery keeps exactly the batches before the first bad byte.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { isBatchCrcValid, readBatchSizeBytes, readLastOffset } from '../../../broker/src/protocol/records/batch-header.ts';
import { PartitionLog } from '../../../broker/src/log/partition-log.ts';
import { CRASH_CONFIG, valueFor } from './crash-shared.ts';
import { cleanupTempDirs, readAll, tempDir, verifyIndexes } from './helpers.ts';

afterEach(cleanupTempDirs);

const NODE = fileURLToPath(new URL('../../../node_modules/.bin/node', import.meta.url));
const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

interface ChildRun {
  readonly flushed: bigint;
  readonly startedAt: bigint;
}

/** Runs the child until it has flushed at least `minFlushes` times plus a random delay, then SIGKILLs it. */
function runAndKill(dir: string, seed: number, recoveryPoint: bigint, extraMs: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [CHILD, dir, String(seed), String(recoveryPoint)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let flushed = -1n;
    let flushes = 0;
    let startedAt = -1n;
    let stderr = '';
    let buffered = '';
    let killTimer: NodeJS.Timeout | null = null;
    const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const [kind, value] = line.split(' ');
        if (kind === 'ready') startedAt = BigInt(value ?? '0');
        if (kind === 'flushed') {
          flushed = BigInt(value ?? '0');
          flushes++;
          if (flushes === 3 && killTimer === null) killTimer = setTimeout(() => child.kill('SIGKILL'), extraMs);
        }
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      clearTimeout(guard);
      if (killTimer !== null) clearTimeout(killTimer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited on its own (${String(signal)}): ${stderr}`));
      else resolve({ flushed, startedAt });
    });
  });
}

async function openAndCheck(dir: string, recoveryPoint: bigint): Promise<{ log: PartitionLog; end: bigint }> {
  const log = await PartitionLog.open({ dir, topicPartition: { topic: 'crash', partition: 0 }, config: CRASH_CONFIG, recoveryPoint });
  const batches = readAll(log);
  let expected = 0n;
  for (const b of batches) {
    expect(b.baseOffset).toBe(expected);
    for (const r of b.records) {
      expect(r.offset).toBe(expected);
      expect(r.value).toBe(valueFor(r.offset));
      expected++;
    }
  }
  expect(log.logEndOffset).toBe(expected);
  const epochs = log.epochEntries;
  for (let i = 1; i < epochs.length; i++) expect(epochs[i]!.startOffset > epochs[i - 1]!.startOffset).toBe(true);
  expect(epochs.every((e) => e.startOffset < log.logEndOffset)).toBe(true);
  return { log, end: expected };
}

describe('crash safety', () => {
  it('keeps every flushed record across SIGKILLs at random moments', async () => {
    const dir = tempDir();
    let recoveryPoint = 0n;
    let previousEnd = 0n;
    for (let round = 0; round < 5; round++) {
      const run = await runAndKill(dir, 1000 + round, recoveryPoint, Math.floor(Math.random() * 150));
      expect(run.startedAt).toBe(previousEnd);
      expect(run.flushed).toBeGreaterThan(previousEnd);
      const { log, end } = await openAndCheck(dir, run.flushed);
      expect(end >= run.flushed).toBe(true);
      await log.close();
      verifyIndexes(dir, CRASH_CONFIG.indexIntervalBytes);
      recoveryPoint = end;
      previousEnd = end;
    }
    expect(readdirSync(dir).filter((n) => n.endsWith('.log')).length).toBeGreaterThan(1);
  }, 60_000);

  it('keeps exactly the batches before the first bad byte when files are cut or damaged at random', async () => {
    const template = tempDir();
    await runAndKill(template, 7, 0n, 100);
    const segments = readdirSync(template)
      .filter((n) => /^\d{20}\.log$/.test(n))
      .sort();
    expect(segments.length).toBeGreaterThan(1);
    for (let trial = 0; trial < 12; trial++) {
      const dir = tempDir();
      cpSync(template, dir, { recursive: true });
      const victimIndex = Math.floor(Math.random() * segments.length);
      const path = `${dir}/${segments[victimIndex] ?? ''}`;
      const size = statSync(path).size;
      const position = Math.floor(Math.random() * size);
      if (trial % 2 === 0) {
        // A lost suffix: this segment is cut and the later ones never reached the disk.
        truncateSync(path, position);
        for (const later of segments.slice(victimIndex + 1)) unlinkSync(`${dir}/${later}`);
      } else {
        // Flip a byte the format protects: the Length field or anything from the CRC on. BaseOffset and
        // PartitionLeaderEpoch are outside the CRC by design (the leader patches them); recovery's offset
        // checks cover BaseOffset (recovery.test.ts, 'rejects batches whose offsets go backwards').
        const bytes = readFileSync(path);
        let start = 0;
        while (start + readBatchSizeBytes(bytes, start) <= position) start += readBatchSizeBytes(bytes, start);
        const batchSize = readBatchSizeBytes(bytes, start);
        const within = position - start;
        const target = within >= 8 && within < 12 ? position : start + 17 + (within % (batchSize - 17));
        bytes.writeUInt8(bytes.readUInt8(target) ^ (1 + Math.floor(Math.random() * 255)), target);
        writeFileSync(path, bytes);
      }
      // The expected survivors: whole, CRC-valid batches in order, up to the first bad byte of any segment.
      let lastGood = -1n;
      let broken = false;
      for (const name of segments) {
        if (broken || !existsSync(`${dir}/${name}`)) break;
        const buf = readFileSync(`${dir}/${name}`);
        let at = 0;
        while (at < buf.length) {
          const ok = at + 61 <= buf.length && readBatchSizeBytes(buf, at) >= 61 && at + readBatchSizeBytes(buf, at) <= buf.length && isBatchCrcValid(buf, at);
          if (!ok) {
            broken = true;
            break;
          }
          lastGood = readLastOffset(buf, at);
          at += readBatchSizeBytes(buf, at);
        }
      }
      const { log, end } = await openAndCheck(dir, 0n);
      expect(end).toBe(lastGood + 1n);
      await log.close();
      verifyIndexes(dir, CRASH_CONFIG.indexIntervalBytes);
    }
  }, 60_000);
});

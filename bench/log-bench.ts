/**
 * Partition log throughput: append MB/s and read MB/s for batches of 1 KiB records, beside a raw node:fs
 * baseline writing and reading the SAME bytes in the same run (same process, same disk, same page cache).
 *
 *   node_modules/.bin/node bench/log-bench.ts [--mb 256] [--repeats 3] [--dir /path]
 *
 * Scenarios: 1 record per batch (1 KiB batches) and 16 records per batch (~16 KiB, a typical producer batch).
 * Each measurement runs `repeats` times, alternating log and baseline, and the median is printed.
 *   append  : PartitionLog.appendAsLeader of prebuilt batches (offset/epoch patching, index upkeep, page cache)
 *   +fsync  : the same followed by one flush (fsync) at the end, vs writeSync + fdatasync
 *   read    : sequential PartitionLog.read with maxBytes 1 MiB (Kafka's max.partition.fetch.bytes) until the
 *             end, vs readSync of the file in 1 MiB chunks
 * A benchmark never fails: it prints numbers (house style: results go into docs, not CI gates).
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveLogConfig } from '../broker/src/log/config.ts';
import { PartitionLog } from '../broker/src/log/partition-log.ts';
import { buildRecordBatch } from '../broker/src/protocol/records/batch-builder.ts';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
};
const totalMiB = Number(arg('mb', '256'));
const repeats = Number(arg('repeats', '3'));
const baseDir = arg('dir', tmpdir());
const MiB = 1024 * 1024;
const RECORD_BYTES = 1024;
const READ_CHUNK = MiB;

function makeBatches(recordsPerBatch: number): Buffer[] {
  // 64 distinct batches reused in a cycle: appendAsLeader patches offsets in place, so reuse is safe.
  const batches: Buffer[] = [];
  for (let b = 0; b < 64; b++) {
    const records = [];
    for (let r = 0; r < recordsPerBatch; r++) {
      const value = Buffer.alloc(RECORD_BYTES);
      for (let i = 0; i < value.length; i += 4) value.writeUInt32BE(((b * 7919 + r * 104729 + i) * 2654435761) >>> 0, i);
      records.push({ key: Buffer.from(`key-${b}-${r}`), value, timestampMs: 1_700_000_000_000n + BigInt(b) });
    }
    batches.push(buildRecordBatch({ records }));
  }
  return batches;
}

interface Timing {
  appendMs: number;
  fsyncMs: number;
  readMs: number;
  bytes: number;
}

async function runLog(dir: string, batches: readonly Buffer[], count: number): Promise<Timing> {
  const log = await PartitionLog.open({ dir, topicPartition: { topic: 'bench', partition: 0 }, config: resolveLogConfig() });
  let bytes = 0;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const batch = batches[i % batches.length] as Buffer;
    log.appendAsLeader(batch, 0);
    bytes += batch.length;
  }
  const t1 = performance.now();
  await log.flush();
  const t2 = performance.now();
  let offset = 0n;
  let readBytes = 0;
  const end = log.logEndOffset;
  while (offset < end) {
    const r = log.read(offset, { maxBytes: READ_CHUNK });
    readBytes += r.records.length;
    // Continue after the last whole batch returned (its last offset + 1).
    const last = r.records.readBigInt64BE(lastBatchAt(r.records)) + BigInt(r.records.readInt32BE(lastBatchAt(r.records) + 23));
    offset = last + 1n;
  }
  const t3 = performance.now();
  if (readBytes !== bytes) throw new Error(`read ${readBytes} bytes, appended ${bytes}`);
  await log.close();
  return { appendMs: t1 - t0, fsyncMs: t2 - t1, readMs: t3 - t2, bytes };
}

function lastBatchAt(buf: Buffer): number {
  let at = 0;
  for (;;) {
    const next = at + buf.readInt32BE(at + 8) + 12;
    if (next >= buf.length) return at;
    at = next;
  }
}

function runRaw(dir: string, batches: readonly Buffer[], count: number): Timing {
  const path = join(dir, 'raw.bin');
  const fd = fs.openSync(path, 'w+');
  let bytes = 0;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const batch = batches[i % batches.length] as Buffer;
    fs.writeSync(fd, batch, 0, batch.length, bytes);
    bytes += batch.length;
  }
  const t1 = performance.now();
  fs.fdatasyncSync(fd);
  const t2 = performance.now();
  const buf = Buffer.allocUnsafe(READ_CHUNK);
  let position = 0;
  while (position < bytes) position += fs.readSync(fd, buf, 0, READ_CHUNK, position);
  const t3 = performance.now();
  fs.closeSync(fd);
  return { appendMs: t1 - t0, fsyncMs: t2 - t1, readMs: t3 - t2, bytes };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const mbps = (bytes: number, ms: number): string => (bytes / MiB / (ms / 1000)).toFixed(0).padStart(7);

async function scenario(recordsPerBatch: number): Promise<void> {
  const batches = makeBatches(recordsPerBatch);
  const batchBytes = batches[0]?.length ?? 1;
  const count = Math.ceil((totalMiB * MiB) / batchBytes);
  const logRuns: Timing[] = [];
  const rawRuns: Timing[] = [];
  for (let r = 0; r < repeats; r++) {
    const dir = fs.mkdtempSync(join(baseDir, 'millrace-log-bench-'));
    try {
      logRuns.push(await runLog(join(dir, 'log'), batches, count));
      rawRuns.push(runRaw(dir, batches, count));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const bytes = logRuns[0]?.bytes ?? 0;
  const pick = (runs: Timing[], f: (t: Timing) => number): number => median(runs.map(f));
  const rows: [string, number, number][] = [
    ['append (page cache)', pick(logRuns, (t) => t.appendMs), pick(rawRuns, (t) => t.appendMs)],
    ['append + final fsync', pick(logRuns, (t) => t.appendMs + t.fsyncMs), pick(rawRuns, (t) => t.appendMs + t.fsyncMs)],
    ['read (warm cache)', pick(logRuns, (t) => t.readMs), pick(rawRuns, (t) => t.readMs)],
  ];
  const recordsPerSec = (count * recordsPerBatch) / (pick(logRuns, (t) => t.appendMs) / 1000);
  console.log(`\n${recordsPerBatch} x ${RECORD_BYTES} B records per batch (${batchBytes} B batches), ${(bytes / MiB).toFixed(0)} MiB, median of ${repeats}`);
  console.log('  measurement               log MB/s   raw fs MB/s   log/raw');
  for (const [name, logMs, rawMs] of rows) {
    console.log(`  ${name.padEnd(24)} ${mbps(bytes, logMs)}      ${mbps(bytes, rawMs)}      ${(rawMs / logMs).toFixed(2)}`);
  }
  console.log(`  append records/s: ${recordsPerSec.toFixed(0)}`);
}

console.log(`log-bench: node ${process.version}, dir ${baseDir}`);
await scenario(1);
await scenario(16);

/**
 * Shared test helpers for the log suite: temp directories, batches built with the real batch builder,
 * a decoder for read results, and a fault-injecting filesystem.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRecordBatch, type BatchInput } from '../../../broker/src/protocol/records/batch-builder.ts';
import {
  type CompressionType,
  isBatchCrcValid,
  readBaseOffset,
  readMaxTimestamp,
  readBaseTimestamp,
  readBatchSizeBytes,
  readLastOffset,
} from '../../../broker/src/protocol/records/batch-header.ts';
import { forEachRecord } from '../../../broker/src/protocol/records/record-iterator.ts';
import { ManualClock } from '../../../broker/src/log/clock.ts';
import { type LogConfig, resolveLogConfig } from '../../../broker/src/log/config.ts';
import { type FileStat, type OpenMode, type RawFs, createLogFs, nodeRawFs } from '../../../broker/src/log/log-fs.ts';
import { PartitionLog, type PartitionLogOptions } from '../../../broker/src/log/partition-log.ts';

const created: string[] = [];

/** A fresh directory under os.tmpdir(), removed by cleanupTempDirs (call it in afterEach). */
export function tempDir(prefix = 'millrace-log-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

export function cleanupTempDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export interface TestRecord {
  readonly key: string | null;
  readonly value: string | null;
  readonly timestampMs?: bigint;
}

export interface TestBatchOptions {
  readonly producerId?: bigint;
  readonly producerEpoch?: number;
  readonly baseSequence?: number;
  readonly compression?: CompressionType;
  readonly baseOffset?: bigint;
  readonly partitionLeaderEpoch?: number;
  readonly logAppendTime?: boolean;
  readonly control?: boolean;
  readonly transactional?: boolean;
}

/** One batch built by the real builder (batch-builder.ts). */
export function batch(records: readonly TestRecord[], options: TestBatchOptions = {}): Buffer {
  const input: BatchInput = {
    ...options,
    ...(records[0]?.timestampMs === undefined ? { baseTimestampMs: 1_000n } : {}),
    records: records.map((r) => ({
      key: r.key === null ? null : Buffer.from(r.key),
      value: r.value === null ? null : Buffer.from(r.value),
      timestampMs: r.timestampMs ?? 1_000n,
    })),
  };
  return buildRecordBatch(input);
}

/** `count` records with keys `k<i>` and values `v<i>`, timestamps from `firstTimestampMs`. */
export function simpleBatch(count: number, firstTimestampMs = 1_000n, options: TestBatchOptions = {}): Buffer {
  const records: TestRecord[] = [];
  for (let i = 0; i < count; i++) records.push({ key: `k${i}`, value: `v${i}`, timestampMs: firstTimestampMs + BigInt(i) });
  return batch(records, options);
}

export interface DecodedRecord {
  readonly offset: bigint;
  readonly key: string | null;
  readonly value: string | null;
  readonly timestampMs: bigint;
}

export interface DecodedBatch {
  readonly baseOffset: bigint;
  readonly lastOffset: bigint;
  readonly sizeBytes: number;
  readonly records: DecodedRecord[];
}

/** Decodes whole batches (the log's read format). */
export function decodeBatches(buf: Buffer): DecodedBatch[] {
  const out: DecodedBatch[] = [];
  for (let at = 0; at < buf.length; ) {
    const size = readBatchSizeBytes(buf, at);
    const base = readBaseOffset(buf, at);
    const baseTs = readBaseTimestamp(buf, at);
    const records: DecodedRecord[] = [];
    forEachRecord(buf, at, (r) => {
      records.push({
        offset: base + BigInt(r.offsetDelta),
        key: r.keyLength < 0 ? null : r.buf.toString('utf8', r.keyOffset, r.keyOffset + r.keyLength),
        value: r.valueLength < 0 ? null : r.buf.toString('utf8', r.valueOffset, r.valueOffset + r.valueLength),
        timestampMs: baseTs + BigInt(r.timestampDelta),
      });
    });
    out.push({ baseOffset: base, lastOffset: readLastOffset(buf, at), sizeBytes: size, records });
    at += size;
  }
  return out;
}

export const decodeRecords = (buf: Buffer): DecodedRecord[] => decodeBatches(buf).flatMap((b) => b.records);

/** Every batch of the log from its start, by repeated reads. */
export function readAll(log: PartitionLog, maxOffset?: bigint): DecodedBatch[] {
  const out: DecodedBatch[] = [];
  let next = log.logStartOffset;
  for (let guard = 0; guard < 1_000_000; guard++) {
    const r = log.read(next, { maxBytes: 1 << 20, ...(maxOffset === undefined ? {} : { maxOffset }) });
    if (r.records.length === 0) return out;
    const batches = decodeBatches(r.records);
    out.push(...batches);
    next = (batches.at(-1)?.lastOffset ?? next) + 1n;
  }
  throw new Error('readAll did not terminate');
}

export function smallConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  return resolveLogConfig({ segmentBytes: 4096, indexIntervalBytes: 256, segmentIndexBytes: 4096, ...overrides });
}

export async function openLog(dir: string, clock: ManualClock, options: Partial<PartitionLogOptions> = {}): Promise<PartitionLog> {
  return PartitionLog.open({ dir, topicPartition: { topic: 'topic', partition: 0 }, clock, config: smallConfig(), ...options });
}

// ---- fault injection ------------------------------------------------------------------------------------------

const errno = (code: string, message: string): Error => Object.assign(new Error(`${code}: ${message}`), { code });

/**
 * A RawFs over node:fs that can fail on command:
 * - writeBudgetBytes: writes beyond the budget are cut short, then fail with ENOSPC (a filling disk);
 * - failOpen: opens of matching paths fail with EACCES;
 * - failDatasync: fsyncs fail with EIO;
 * - crashAtMutation: the N-th mutating call (write, truncate, rename, unlink, open-for-create) throws and so does
 *   every call after it, as if the process had died there. Files stay as they were at that moment.
 */
export class FaultyFs implements RawFs {
  writeBudgetBytes = Infinity;
  failOpen: RegExp | null = null;
  failDatasync = false;
  /** Skip fsync entirely (for tests where durability is not under test: it costs ~3 ms a call). */
  noSync = false;
  crashAtMutation = Infinity;
  mutations = 0;
  crashed = false;

  private mutate(what: string): void {
    if (this.crashed) throw errno('EIO', `simulated crash (after ${what})`);
    this.mutations++;
    if (this.mutations >= this.crashAtMutation) {
      this.crashed = true;
      throw errno('EIO', `simulated crash at ${what}`);
    }
  }

  private live(): void {
    if (this.crashed) throw errno('EIO', 'simulated crash');
  }

  open(path: string, mode: OpenMode): number {
    this.live();
    if (this.failOpen?.test(path) === true) throw errno('EACCES', `permission denied, open '${path}'`);
    if (mode === 'create' || mode === 'createExclusive') this.mutate(`open ${path}`);
    return nodeRawFs.open(path, mode);
  }
  close(fd: number): void {
    nodeRawFs.close(fd);
  }
  read(fd: number, buf: Buffer, bufOffset: number, length: number, position: number): number {
    this.live();
    return nodeRawFs.read(fd, buf, bufOffset, length, position);
  }
  write(fd: number, buf: Buffer, bufOffset: number, length: number, position: number): number {
    this.mutate('write');
    if (this.writeBudgetBytes <= 0) throw errno('ENOSPC', 'no space left on device, write');
    const n = Math.min(length, this.writeBudgetBytes);
    this.writeBudgetBytes -= n;
    return nodeRawFs.write(fd, buf, bufOffset, n, position);
  }
  truncate(fd: number, length: number): void {
    this.mutate('truncate');
    nodeRawFs.truncate(fd, length);
  }
  fstat(fd: number): FileStat {
    this.live();
    return nodeRawFs.fstat(fd);
  }
  async datasync(fd: number): Promise<void> {
    this.live();
    if (this.failDatasync) throw errno('EIO', 'i/o error, fdatasync');
    if (!this.noSync) await nodeRawFs.datasync(fd);
  }
  datasyncSync(fd: number): void {
    this.live();
    if (this.failDatasync) throw errno('EIO', 'i/o error, fdatasync');
    if (!this.noSync) nodeRawFs.datasyncSync(fd);
  }
  rename(from: string, to: string): void {
    this.mutate(`rename ${from}`);
    nodeRawFs.rename(from, to);
  }
  unlink(path: string): void {
    this.mutate(`unlink ${path}`);
    nodeRawFs.unlink(path);
  }
  readdir(dir: string): string[] {
    this.live();
    return nodeRawFs.readdir(dir);
  }
  mkdir(dir: string): void {
    this.live();
    nodeRawFs.mkdir(dir);
  }
  stat(path: string): FileStat | null {
    this.live();
    return nodeRawFs.stat(path);
  }
  readFile(path: string): Buffer {
    this.live();
    return nodeRawFs.readFile(path);
  }
  syncDir(dir: string): void {
    this.live();
    if (!this.noSync) nodeRawFs.syncDir(dir);
  }
  async removeTree(path: string): Promise<void> {
    this.live();
    await nodeRawFs.removeTree(path);
  }
}

export function faultyFs(options: { noSync?: boolean } = {}): { raw: FaultyFs; fs: ReturnType<typeof createLogFs> } {
  const raw = new FaultyFs();
  raw.noSync = options.noSync ?? false;
  return { raw, fs: createLogFs(raw) };
}

/** A filesystem without fsync, for tests that do not test durability. */
export const fastFs = (): ReturnType<typeof createLogFs> => faultyFs({ noSync: true }).fs;

export { ManualClock };

// ---- index verification ---------------------------------------------------------------------------------------

export interface ScannedBatch {
  readonly position: number;
  readonly sizeBytes: number;
  readonly lastOffset: bigint;
  readonly maxTimestampMs: bigint;
}

/** Every batch of a segment file (whole, CRC-valid batches only; stops at the first bad one). */
export function scanSegmentFile(path: string): ScannedBatch[] {
  const buf = readFileSync(path);
  const out: ScannedBatch[] = [];
  for (let at = 0; at + 61 <= buf.length; ) {
    const size = readBatchSizeBytes(buf, at);
    if (size < 61 || at + size > buf.length || !isBatchCrcValid(buf, at)) break;
    out.push({ position: at, sizeBytes: size, lastOffset: readLastOffset(buf, at), maxTimestampMs: readMaxTimestamp(buf, at) });
    at += size;
  }
  return out;
}

/**
 * Checks every segment's .index and .timeindex against a full scan of its .log: each offset entry points at
 * the start of the batch with that last offset, each time entry names a batch whose running max timestamp it
 * is, and (when `exactIntervalBytes` is given) the offset entries are exactly those Kafka's rule produces.
 */
export function verifyIndexes(dir: string, exactIntervalBytes?: number): void {
  for (const name of readdirSync(dir).filter((n) => /^\d{20}\.log$/.test(n)).sort()) {
    const base = BigInt(name.slice(0, 20));
    const batches = scanSegmentFile(`${dir}/${name}`);
    const logBytes = statSync(`${dir}/${name}`).size;
    const scannedBytes = batches.reduce((n, b) => n + b.sizeBytes, 0);
    if (scannedBytes !== logBytes) throw new Error(`${name}: ${logBytes - scannedBytes} bytes after the last valid batch`);
    const byPosition = new Map(batches.map((b) => [b.position, b]));
    const index = readFileSync(`${dir}/${name.replace('.log', '.index')}`);
    const entries: [bigint, number][] = [];
    for (let at = 0; at < index.length; at += 8) entries.push([base + BigInt(index.readInt32BE(at)), index.readInt32BE(at + 4)]);
    for (const [offset, position] of entries) {
      const b = byPosition.get(position);
      if (b === undefined || b.lastOffset !== offset) throw new Error(`${name}: index entry (${offset}, ${position}) is not a batch start`);
    }
    if (exactIntervalBytes !== undefined) {
      const expected: [bigint, number][] = [];
      let since = 0;
      for (const b of batches) {
        if (since > exactIntervalBytes) {
          expected.push([b.lastOffset, b.position]);
          since = 0;
        }
        since += b.sizeBytes;
      }
      if (JSON.stringify(expected.map(String)) !== JSON.stringify(entries.map(String))) {
        throw new Error(`${name}: index ${JSON.stringify(entries.map(String))} differs from the rule ${JSON.stringify(expected.map(String))}`);
      }
    }
    const timeIndex = readFileSync(`${dir}/${name.replace('.log', '.timeindex')}`);
    let runningMax = -1n;
    const runningMaxAt = new Map<bigint, bigint>();
    for (const b of batches) {
      if (b.maxTimestampMs > runningMax) runningMax = b.maxTimestampMs;
      runningMaxAt.set(b.lastOffset, runningMax);
    }
    let lastTs = -1n;
    for (let at = 0; at < timeIndex.length; at += 12) {
      const ts = timeIndex.readBigInt64BE(at);
      const offset = base + BigInt(timeIndex.readInt32BE(at + 8));
      if (ts <= lastTs || runningMaxAt.get(offset) !== ts) throw new Error(`${name}: time index entry (${ts}, ${offset}) disagrees with the scan`);
      lastTs = ts;
    }
    if (batches.length > 0 && timeIndex.length > 0 && lastTs > runningMax) throw new Error(`${name}: time index beyond the max timestamp`);
  }
}

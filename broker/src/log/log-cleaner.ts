/**
 * Log compaction (cleanup.policy=compact), Kafka's LogCleaner reduced to one log and run in bounded async
 * steps on the event loop. See DESIGN.md for the full argument; the pass, in order:
 *
 *   1. Cleanable range: non-active segments whose successor starts at or below the high watermark and whose
 *      newest record is older than min.compaction.lag.ms. Every one of them is pinned for the pass.
 *   2. Offset map: key -> last offset, over the dirty part [cleaner checkpoint, end of cleanable range),
 *      bounded by cleanerKeyBytesMax (the map then ends early, at a batch boundary; the rest waits for the
 *      next pass).
 *   3. Clean segments below the map's end, grouped so each group fits one segment (size, relative offsets),
 *      into `<base>.log.cleaned`. A record survives unless a later offset holds its key (or it has no key) or
 *      it is a tombstone whose delete horizon has passed. Offsets never change. A batch that loses records is
 *      rebuilt with its original base offset, last offset delta, producer fields and codec; a batch that loses
 *      all of them is dropped, except the newest batch of a live producer, kept empty (header only) so the
 *      producer's sequence stays continuous. Transaction markers (control batches) are kept.
 *   4. Tombstones get a delete horizon (now + delete.retention.ms, KIP-534: attribute bit 6, BaseTimestamp =
 *      horizon) the first time they are cleaned, and are dropped by the first pass after it.
 *   5. Swap (synchronous, PartitionLog.replaceSegments): fsync the .cleaned files, rename to .swap (commit),
 *      rename the old segments to .deleted, rename .swap to live names.
 *
 * After every step of at most cleanerStepBytes the pass yields, then re-checks that the log was not closed
 * and that its sources were not truncated or deleted; if so it deletes its .cleaned files and stops.
 */
import { buildRecordBatch, type RecordInput } from '../protocol/records/batch-builder.ts';
import {
  ATTR_COMPRESSION_MASK,
  ATTR_DELETE_HORIZON,
  ATTR_TIMESTAMP_LOG_APPEND,
  ATTR_TRANSACTIONAL,
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD_BYTES,
  BATCH_OFFSET_ATTRIBUTES,
  BATCH_OFFSET_BASE_TIMESTAMP,
  BATCH_OFFSET_CRC,
  BATCH_OFFSET_LAST_OFFSET_DELTA,
  BATCH_OFFSET_LENGTH,
  BATCH_OFFSET_MAX_TIMESTAMP,
  BATCH_OFFSET_RECORDS_COUNT,
  type CompressionType,
  compressionOf,
  computeBatchCrc,
  isControlBatch,
  readAttributes,
  readBaseOffset,
  readBaseSequence,
  readBaseTimestamp,
  readLastOffset,
  readLastOffsetDelta,
  readLeaderEpoch,
  readMaxTimestamp,
  readProducerEpoch,
  readProducerId,
} from '../protocol/records/batch-header.ts';
import { forEachRecord, readHeaders } from '../protocol/records/record-iterator.ts';
import { type Clock, yieldToEventLoop } from './clock.ts';
import { type LogConfig, INT32_MAX, hasCleanupPolicy } from './config.ts';
import { LogError, invariant } from './errors.ts';
import { CLEANED_FILE_SUFFIX } from './file-names.ts';
import type { LogLogger } from './log-events.ts';
import type { LogFs } from './log-fs.ts';
import { segmentParams } from './log-loader.ts';
import { LogSegment } from './segment.ts';

/** What the cleaner needs from a PartitionLog (live views, read after every await). */
export interface CleanableLog {
  readonly name: string;
  readonly dir: string;
  readonly fs: LogFs;
  readonly clock: Clock;
  readonly logger: LogLogger;
  readonly config: LogConfig;
  readonly segments: readonly LogSegment[];
  readonly highWatermark: bigint;
  readonly logStartOffset: bigint;
  readonly cleanerCheckpoint: bigint;
  readonly tombstoneHorizonMs: number | null;
  /** The log was closed, truncated or went offline: stop. */
  readonly aborted: boolean;
  isLastBatchOfProducer(producerId: bigint, lastOffset: bigint): boolean;
  replaceSegments(oldSegments: readonly LogSegment[], cleaned: LogSegment): void;
  setCleanerCheckpoint(offset: bigint, nextTombstoneHorizonMs: number | null): void;
}

export interface CompactionResult {
  readonly status: 'done' | 'nothing-to-do' | 'aborted' | 'not-compacted';
  readonly segmentsBefore: number;
  readonly segmentsAfter: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  readonly recordsRemoved: number;
  /** The cleaner checkpoint after the pass (first offset not covered by the offset map). */
  readonly cleanedUpTo: bigint;
}

const READ_CHUNK_BYTES = 1024 * 1024;
const WRITE_CHUNK_BYTES = 1024 * 1024;
/** Per-key overhead charged to the key budget (map entry, string header, bigint). */
const MAP_ENTRY_OVERHEAD_BYTES = 48;

class Aborted extends Error {}

export async function compactLog(log: CleanableLog): Promise<CompactionResult> {
  const nothing = (status: CompactionResult['status']): CompactionResult => ({
    status,
    segmentsBefore: 0,
    segmentsAfter: 0,
    bytesBefore: 0,
    bytesAfter: 0,
    recordsRemoved: 0,
    cleanedUpTo: log.cleanerCheckpoint,
  });
  if (!hasCleanupPolicy(log.config, 'compact')) return nothing('not-compacted');
  const nowMs = log.clock.nowMs();
  const cleanable = cleanableSegments(log, nowMs);
  const last = cleanable.at(-1);
  if (last === undefined) return nothing('nothing-to-do');
  const firstUncleanable = log.segments[log.segments.indexOf(last) + 1]?.baseOffset;
  invariant(firstUncleanable !== undefined, 'the active segment is never cleanable');
  const firstDirty = log.cleanerCheckpoint > log.logStartOffset ? log.cleanerCheckpoint : log.logStartOffset;
  const horizonDue = log.tombstoneHorizonMs !== null && nowMs >= log.tombstoneHorizonMs;
  if (firstDirty >= firstUncleanable && !horizonDue) return nothing('nothing-to-do');

  const sizes = new Map<LogSegment, number>(cleanable.map((s) => [s, s.sizeBytes]));
  for (const s of cleanable) s.pin();
  const pass = new CleanerPass(log, nowMs, sizes);
  try {
    const mapEnd = await pass.buildOffsetMap(cleanable, firstDirty, firstUncleanable);
    const toClean = cleanable.filter((s) => s.baseOffset < mapEnd);
    const groups = groupSegments(log, toClean, firstUncleanable);
    const bytesBefore = toClean.reduce((n, s) => n + s.sizeBytes, 0);
    let bytesAfter = 0;
    for (const group of groups) bytesAfter += await pass.cleanGroup(group);
    log.setCleanerCheckpoint(mapEnd > firstDirty ? mapEnd : firstDirty, pass.nextHorizonMs);
    log.logger.info(
      { log: log.name, segments: toClean.length, bytesBefore, bytesAfter, recordsRemoved: pass.recordsRemoved, cleanedUpTo: mapEnd.toString() },
      'compacted log',
    );
    return {
      status: 'done',
      segmentsBefore: toClean.length,
      segmentsAfter: groups.length,
      bytesBefore,
      bytesAfter,
      recordsRemoved: pass.recordsRemoved,
      cleanedUpTo: mapEnd,
    };
  } catch (err) {
    if (err instanceof Aborted) return nothing('aborted');
    throw err;
  } finally {
    for (const s of cleanable) s.unpin();
  }
}

function cleanableSegments(log: CleanableLog, nowMs: number): LogSegment[] {
  const out: LogSegment[] = [];
  const segments = log.segments;
  for (let i = 0; i < segments.length - 1; i++) {
    const s = segments[i];
    const next = segments[i + 1];
    if (s === undefined || next === undefined) break;
    if (next.baseOffset > log.highWatermark) break;
    if (log.config.minCompactionLagMs > 0 && s.largestTimestampMs > nowMs - log.config.minCompactionLagMs) break;
    out.push(s);
  }
  return out;
}

/** Consecutive segments that fit one segment: total size and relative offsets (Kafka's groupSegmentsBySize). */
function groupSegments(log: CleanableLog, segments: readonly LogSegment[], firstUncleanable: bigint): LogSegment[][] {
  const groups: LogSegment[][] = [];
  let i = 0;
  while (i < segments.length) {
    const first = segments[i];
    invariant(first !== undefined, 'group index out of range');
    const group = [first];
    let size = first.sizeBytes;
    i++;
    while (i < segments.length) {
      const s = segments[i];
      invariant(s !== undefined, 'group index out of range');
      const upper = (segments[i + 1]?.baseOffset ?? firstUncleanable) - 1n;
      if (size + s.sizeBytes > log.config.segmentBytes || upper - first.baseOffset > BigInt(INT32_MAX)) break;
      group.push(s);
      size += s.sizeBytes;
      i++;
    }
    groups.push(group);
  }
  return groups;
}

interface RecordSummary {
  readonly key: Buffer | null;
  readonly offset: bigint;
}

class CleanerPass {
  private readonly log: CleanableLog;
  private readonly nowMs: number;
  private readonly sizes: ReadonlyMap<LogSegment, number>;
  private readonly offsetMap = new Map<string, bigint>();
  private bytesSinceYield = 0;
  recordsRemoved = 0;
  nextHorizonMs: number | null = null;
  private warnedUnreadable = false;

  constructor(log: CleanableLog, nowMs: number, sizes: ReadonlyMap<LogSegment, number>) {
    this.log = log;
    this.nowMs = nowMs;
    this.sizes = sizes;
  }

  /** Key -> last offset over [firstDirty, end); returns where the map stops (end, or earlier when full). */
  async buildOffsetMap(cleanable: readonly LogSegment[], firstDirty: bigint, end: bigint): Promise<bigint> {
    let keyBytes = 0;
    for (const segment of cleanable) {
      const next = this.log.segments[this.log.segments.indexOf(segment) + 1];
      if (next !== undefined && next.baseOffset <= firstDirty) continue;
      const reader = segment.openReader(0, READ_CHUNK_BYTES);
      for (;;) {
        const step = reader.next(true);
        if (step.kind === 'end') break;
        if (step.kind === 'bad') throw this.corrupt(segment, step.position, step.reason);
        const lastOffset = readLastOffset(step.buf, step.at);
        if (lastOffset < firstDirty || isControlBatch(readAttributes(step.buf, step.at))) continue;
        const records = this.recordsOf(step.buf, step.at);
        if (records === null) continue;
        let batchKeyBytes = 0;
        for (const r of records) if (r.key !== null && !this.offsetMap.has(r.key.toString('latin1'))) batchKeyBytes += r.key.length + MAP_ENTRY_OVERHEAD_BYTES;
        if (keyBytes + batchKeyBytes > this.log.config.cleanerKeyBytesMax && this.offsetMap.size > 0) {
          // Full: the map covers everything before this batch.
          return readBaseOffset(step.buf, step.at);
        }
        keyBytes += batchKeyBytes;
        for (const r of records) if (r.key !== null) this.offsetMap.set(r.key.toString('latin1'), r.offset);
        await this.maybeYield(step.sizeBytes, [segment]);
      }
    }
    return end;
  }

  /** Cleans `group` into one new segment and swaps it in; returns its size. */
  async cleanGroup(group: readonly LogSegment[]): Promise<number> {
    const first = group[0];
    invariant(first !== undefined, 'empty compaction group');
    const cleaned = LogSegment.create(segmentParams(this.log, first.baseOffset, CLEANED_FILE_SUFFIX));
    try {
      const pending: Buffer[] = [];
      let pendingBytes = 0;
      const flushPending = (): void => {
        if (pendingBytes === 0) return;
        cleaned.append(pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingBytes));
        pending.length = 0;
        pendingBytes = 0;
      };
      for (const source of group) {
        const reader = source.openReader(0, READ_CHUNK_BYTES);
        for (;;) {
          const step = reader.next(true);
          if (step.kind === 'end') break;
          if (step.kind === 'bad') throw this.corrupt(source, step.position, step.reason);
          const kept = this.filterBatch(step.buf, step.at, step.sizeBytes);
          if (kept !== null) {
            pending.push(kept);
            pendingBytes += kept.length;
            if (pendingBytes >= WRITE_CHUNK_BYTES) flushPending();
          }
          if (this.bytesSinceYield + step.sizeBytes >= this.log.config.cleanerStepBytes) flushPending();
          await this.maybeYield(step.sizeBytes, group);
        }
      }
      flushPending();
      cleaned.onBecomeInactive();
      cleaned.lastModifiedMs = Math.max(...group.map((s) => s.lastModifiedMs));
      await cleaned.flush();
      this.checkSources(group);
      this.log.replaceSegments(group, cleaned);
      return cleaned.sizeBytes;
    } catch (err) {
      if (cleaned.fileSuffix === CLEANED_FILE_SUFFIX) cleaned.delete();
      throw err;
    }
  }

  /** The bytes to keep for the batch at buf[at] (a copy), or null to drop it. */
  private filterBatch(buf: Buffer, at: number, sizeBytes: number): Buffer | null {
    const attributes = readAttributes(buf, at);
    const original = (): Buffer => Buffer.from(buf.subarray(at, at + sizeBytes));
    if (isControlBatch(attributes)) return original();
    const baseOffset = readBaseOffset(buf, at);
    const baseTimestamp = readBaseTimestamp(buf, at);
    const logAppendTime = (attributes & ATTR_TIMESTAMP_LOG_APPEND) !== 0;
    const horizonMs = (attributes & ATTR_DELETE_HORIZON) !== 0 ? baseTimestamp : null;
    const horizonPassed = horizonMs !== null && BigInt(this.nowMs) >= horizonMs;
    const kept: RecordInput[] = [];
    let removed = 0;
    let tombstones = 0;
    let maxTimestamp = -1n;
    try {
      forEachRecord(buf.subarray(at, at + sizeBytes), 0, (r) => {
        const offset = baseOffset + BigInt(r.offsetDelta);
        const key = r.keyLength < 0 ? null : r.buf.subarray(r.keyOffset, r.keyOffset + r.keyLength);
        const latest = key === null ? undefined : this.offsetMap.get(key.toString('latin1'));
        const tombstone = r.valueLength < 0;
        if (key === null || (latest !== undefined && offset < latest) || (tombstone && horizonPassed)) {
          removed++;
          return;
        }
        if (tombstone) tombstones++;
        const timestampMs = baseTimestamp + BigInt(r.timestampDelta);
        if (timestampMs > maxTimestamp) maxTimestamp = timestampMs;
        kept.push({
          key: Buffer.from(key),
          value: tombstone ? null : Buffer.from(r.buf.subarray(r.valueOffset, r.valueOffset + r.valueLength)),
          headers: readHeaders(r).map((h) => ({ key: h.key, value: h.value === null ? null : Buffer.from(h.value) })),
          timestampMs,
          offsetDelta: r.offsetDelta,
        });
      });
    } catch (err) {
      // A batch we cannot decode (unknown codec, bad records) is kept as it is, never guessed at.
      if (!this.warnedUnreadable) {
        this.warnedUnreadable = true;
        this.log.logger.warn({ log: this.log.name, offset: baseOffset.toString(), error: String(err) }, 'compaction kept an unreadable batch as is');
      }
      return original();
    }
    const needsHorizon = tombstones > 0 && horizonMs === null;
    const newHorizonMs = needsHorizon ? BigInt(this.nowMs + this.log.config.deleteRetentionMs) : horizonMs;
    if (tombstones > 0 && newHorizonMs !== null) {
      const h = Number(newHorizonMs);
      if (this.nextHorizonMs === null || h < this.nextHorizonMs) this.nextHorizonMs = h;
    }
    if (removed === 0 && !needsHorizon) return original();
    this.recordsRemoved += removed;
    const producerId = readProducerId(buf, at);
    if (kept.length === 0) {
      return producerId >= 0n && this.log.isLastBatchOfProducer(producerId, readLastOffset(buf, at)) ? emptyBatchFrom(buf, at) : null;
    }
    const rebuilt = buildRecordBatch({
      baseOffset,
      partitionLeaderEpoch: readLeaderEpoch(buf, at),
      baseTimestampMs: newHorizonMs ?? kept[0]?.timestampMs ?? baseTimestamp,
      producerId,
      producerEpoch: readProducerEpoch(buf, at),
      baseSequence: readBaseSequence(buf, at),
      transactional: (attributes & ATTR_TRANSACTIONAL) !== 0,
      compression: compressionOf(attributes) as CompressionType,
      logAppendTime,
      records: kept,
    });
    // Kafka keeps the original last offset (the producer's last sequence depends on it) and, for log-append
    // time, the original max timestamp; the delete horizon flag marks BaseTimestamp as the horizon.
    rebuilt.writeInt32BE(readLastOffsetDelta(buf, at), BATCH_OFFSET_LAST_OFFSET_DELTA);
    rebuilt.writeBigInt64BE(logAppendTime ? readMaxTimestamp(buf, at) : maxTimestamp, BATCH_OFFSET_MAX_TIMESTAMP);
    if (newHorizonMs !== null) rebuilt.writeInt16BE(rebuilt.readInt16BE(BATCH_OFFSET_ATTRIBUTES) | ATTR_DELETE_HORIZON, BATCH_OFFSET_ATTRIBUTES);
    rebuilt.writeUInt32BE(computeBatchCrc(rebuilt, 0), BATCH_OFFSET_CRC);
    return rebuilt;
  }

  private recordsOf(buf: Buffer, at: number): RecordSummary[] | null {
    const baseOffset = readBaseOffset(buf, at);
    const out: RecordSummary[] = [];
    try {
      forEachRecord(buf, at, (r) => {
        out.push({ key: r.keyLength < 0 ? null : r.buf.subarray(r.keyOffset, r.keyOffset + r.keyLength), offset: baseOffset + BigInt(r.offsetDelta) });
      });
    } catch {
      return null;
    }
    return out;
  }

  private async maybeYield(bytes: number, sources: readonly LogSegment[]): Promise<void> {
    this.bytesSinceYield += bytes;
    if (this.bytesSinceYield < this.log.config.cleanerStepBytes) return;
    this.bytesSinceYield = 0;
    await yieldToEventLoop();
    this.checkSources(sources);
  }

  /** Stops the pass when the log moved under it (see the module comment). */
  private checkSources(sources: readonly LogSegment[]): void {
    if (this.log.aborted) throw new Aborted();
    for (const s of sources) {
      if (s.deleted || s.sizeBytes !== this.sizes.get(s) || !this.log.segments.includes(s)) throw new Aborted();
    }
  }

  private corrupt(segment: LogSegment, position: number, reason: string): LogError {
    return new LogError('LOG_CORRUPT_FILE', `${segment.logPath}: ${reason} at position ${position} (compaction)`, {
      path: segment.logPath,
      position,
    });
  }
}

/**
 * The header of the batch at buf[at] with no records: what Kafka writes for a batch whose records were all
 * compacted away but whose producer sequence must survive (DefaultRecordBatch.writeEmptyHeader).
 */
export function emptyBatchFrom(buf: Buffer, at: number): Buffer {
  const out = Buffer.from(buf.subarray(at, at + BATCH_HEADER_BYTES));
  out.writeInt32BE(BATCH_HEADER_BYTES - BATCH_LOG_OVERHEAD_BYTES, BATCH_OFFSET_LENGTH);
  out.writeInt16BE(readAttributes(buf, at) & ~(ATTR_COMPRESSION_MASK | ATTR_DELETE_HORIZON), BATCH_OFFSET_ATTRIBUTES);
  out.writeInt32BE(0, BATCH_OFFSET_RECORDS_COUNT);
  out.writeBigInt64BE(readMaxTimestamp(buf, at), BATCH_OFFSET_BASE_TIMESTAMP);
  out.writeUInt32BE(computeBatchCrc(out, 0), BATCH_OFFSET_CRC);
  return out;
}

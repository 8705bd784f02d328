/**
 * One log segment: `<base>.log` (whole record batches back to back) with its sparse `.index` and `.timeindex`.
 *
 * Invariants (asserted where they are established):
 * - every byte of the .log in [0, sizeBytes) belongs to a whole batch whose offsets are >= baseOffset,
 *   strictly increasing, and at most 2^31-1 past baseOffset;
 * - index entries follow Kafka's rule exactly (indexBatch): an entry for the batch that starts after more
 *   than index.interval.bytes of batches since the previous entry, so a rebuild reproduces the live index;
 * - the file descriptor stays open while an asynchronous fsync or a compaction pass holds a pin, even if the
 *   segment is deleted meanwhile (the descriptor number must never be reused under a reader).
 *
 * Indexes of segments loaded from disk are read lazily on first use, and rebuilt from the .log when missing or
 * failing their sanity check.
 */
import {
  BATCH_HEADER_BYTES,
  readBaseOffset,
  readBatchSizeBytes,
  readLastOffset,
  readMaxTimestamp,
} from '../protocol/records/batch-header.ts';
import { BatchReader, validateBatch, type ScanStep } from './batch-reader.ts';
import { RECORD_BATCH_BYTES_MAX } from './config.ts';
import type { Clock } from './clock.ts';
import { LogError, invariant } from './errors.ts';
import { DELETED_FILE_SUFFIX, INDEX_FILE_SUFFIX, LOG_FILE_SUFFIX, TIME_INDEX_FILE_SUFFIX, offsetFileName } from './file-names.ts';
import type { LogFs } from './log-fs.ts';
import { OffsetIndex } from './offset-index.ts';
import { findFirstRecordAtOrAfter, maxRecordTimestampFrom } from './record-search.ts';
import { NO_TIMESTAMP, TimeIndex, type TimestampOffset } from './time-index.ts';

export const RELATIVE_OFFSET_MAX = 0x7fffffffn;
const LOOKUP_CHUNK_BYTES = 16 * 1024;
const RECOVERY_CHUNK_BYTES = 1024 * 1024;
/** Shared by synchronous header walks: one at a time on the event loop, never across an await. */
const lookupScratch = Buffer.allocUnsafe(LOOKUP_CHUNK_BYTES);

export interface SegmentParams {
  readonly fs: LogFs;
  readonly clock: Clock;
  readonly dir: string;
  readonly baseOffset: bigint;
  readonly indexIntervalBytes: number;
  readonly maxIndexBytes: number;
  /** '' for live segments, '.cleaned' / '.swap' while compaction builds one. */
  readonly suffix?: string;
}

/** Where a batch lies in the segment file. */
export interface BatchLocation {
  readonly position: number;
  readonly sizeBytes: number;
  readonly baseOffset: bigint;
  readonly lastOffset: bigint;
}

export interface SegmentRead {
  /** Whole batches, ready to write to a socket. Empty when the maxOffset bound or maxBytes cut the first batch. */
  readonly records: Buffer;
  /** Byte range in the .log file the records came from. */
  readonly position: number;
  readonly firstBatch: BatchLocation;
}

export interface RecoveryOutcome {
  readonly validBytes: number;
  /** Set when bytes were cut: where and why. */
  readonly truncation: { readonly position: number; readonly reason: string; readonly bytesTruncated: number } | null;
  readonly nextOffset: bigint;
}

export class LogSegment {
  readonly baseOffset: bigint;
  readonly dir: string;
  private readonly fs: LogFs;
  private readonly clock: Clock;
  private readonly indexIntervalBytes: number;
  private readonly maxIndexBytes: number;
  private suffix: string;
  private fd: number;
  sizeBytes: number;
  private offsetIndexCache: OffsetIndex | null = null;
  private timeIndexCache: TimeIndex | null = null;
  private maxTimestampCache: TimestampOffset | null = null;
  private bytesSinceLastIndexEntry = 0;
  private nextOffsetCache: bigint | null = null;
  private rollingBasedTimestampCache: bigint | null | undefined = undefined;
  createdMs: number;
  lastModifiedMs: number;
  private pins = 0;
  private closeRequested = false;
  private closed = false;
  deleted = false;

  private constructor(params: SegmentParams, fd: number, sizeBytes: number, mtimeMs: number) {
    invariant(params.baseOffset >= 0n, () => `segment base offset ${params.baseOffset} is negative`);
    this.fs = params.fs;
    this.clock = params.clock;
    this.dir = params.dir;
    this.baseOffset = params.baseOffset;
    this.indexIntervalBytes = params.indexIntervalBytes;
    this.maxIndexBytes = params.maxIndexBytes;
    this.suffix = params.suffix ?? '';
    this.fd = fd;
    this.sizeBytes = sizeBytes;
    this.createdMs = params.clock.nowMs();
    this.lastModifiedMs = mtimeMs;
  }

  /** A new, empty segment (fails if its .log already exists, so a live file is never overwritten). */
  static create(params: SegmentParams): LogSegment {
    const suffix = params.suffix ?? '';
    const path = `${params.dir}/${offsetFileName(params.baseOffset, LOG_FILE_SUFFIX)}${suffix}`;
    const fd = params.fs.open(path, suffix === '' ? 'createExclusive' : 'create');
    const segment = new LogSegment(params, fd, 0, params.clock.nowMs());
    segment.offsetIndexCache = new OffsetIndex(params.baseOffset, params.maxIndexBytes);
    segment.timeIndexCache = new TimeIndex(params.baseOffset, params.maxIndexBytes);
    segment.maxTimestampCache = { timestampMs: NO_TIMESTAMP, offset: params.baseOffset };
    segment.nextOffsetCache = params.baseOffset;
    segment.rollingBasedTimestampCache = null;
    // Stale index files of a segment recreated at the same base (truncateFully) must not be trusted later.
    params.fs.unlinkIfExists(segment.indexPath);
    params.fs.unlinkIfExists(segment.timeIndexPath);
    return segment;
  }

  /** An existing segment; its indexes load lazily (call recover() instead when it is not trusted). */
  static open(params: SegmentParams): LogSegment {
    const suffix = params.suffix ?? '';
    const path = `${params.dir}/${offsetFileName(params.baseOffset, LOG_FILE_SUFFIX)}${suffix}`;
    const fd = params.fs.open(path, 'readWrite');
    try {
      const stat = params.fs.fstat(fd);
      return new LogSegment(params, fd, stat.size, stat.mtimeMs);
    } catch (err) {
      params.fs.close(fd);
      throw err;
    }
  }

  get logPath(): string {
    return `${this.dir}/${offsetFileName(this.baseOffset, LOG_FILE_SUFFIX)}${this.suffix}`;
  }

  get indexPath(): string {
    return `${this.dir}/${offsetFileName(this.baseOffset, INDEX_FILE_SUFFIX)}${this.suffix}`;
  }

  get timeIndexPath(): string {
    return `${this.dir}/${offsetFileName(this.baseOffset, TIME_INDEX_FILE_SUFFIX)}${this.suffix}`;
  }

  get fileSuffix(): string {
    return this.suffix;
  }

  get isOpen(): boolean {
    return !this.closed && !this.closeRequested;
  }

  get offsetIndex(): OffsetIndex {
    if (this.offsetIndexCache === null) this.loadIndexes();
    invariant(this.offsetIndexCache !== null, 'offset index not loaded');
    return this.offsetIndexCache;
  }

  get timeIndex(): TimeIndex {
    if (this.timeIndexCache === null) this.loadIndexes();
    invariant(this.timeIndexCache !== null, 'time index not loaded');
    return this.timeIndexCache;
  }

  /** Offset after the segment's last batch (baseOffset when empty). */
  get nextOffset(): bigint {
    if (this.nextOffsetCache === null) {
      const last = this.offsetIndex.lastEntry();
      let next = this.baseOffset;
      this.walkHeaders(last.position, (buf, at) => {
        next = readLastOffset(buf, at) + 1n;
        return false;
      });
      this.nextOffsetCache = next;
    }
    return this.nextOffsetCache;
  }

  /** Largest batch max timestamp in the segment and the last offset of the first batch that reached it. */
  get maxTimestampAndOffset(): TimestampOffset {
    if (this.maxTimestampCache === null) {
      // Loaded segments end with a final time index entry (written at roll/close/recovery), but refine by
      // scanning from it so an unrolled segment is exact too.
      const last = this.timeIndex.lastEntry();
      let best = last;
      const from = this.offsetIndex.lookup(last.offset).position;
      this.walkHeaders(from, (buf, at) => {
        const ts = readMaxTimestamp(buf, at);
        if (ts > best.timestampMs) best = { timestampMs: ts, offset: readLastOffset(buf, at) };
        return false;
      });
      this.maxTimestampCache = best;
    }
    return this.maxTimestampCache;
  }

  /** For retention: the newest record time, or the file's modification time when batches carry none. */
  get largestTimestampMs(): number {
    const ts = this.maxTimestampAndOffset.timestampMs;
    return ts >= 0n ? Number(ts) : this.lastModifiedMs;
  }

  /** segment.ms is measured from the first batch's max timestamp (Kafka's rollingBasedTimestamp). */
  get rollingBasedTimestampMs(): bigint | null {
    if (this.rollingBasedTimestampCache === undefined) {
      let ts: bigint | null = null;
      if (this.sizeBytes > 0) {
        this.walkHeaders(0, (buf, at) => {
          ts = readMaxTimestamp(buf, at);
          return true;
        });
      }
      this.rollingBasedTimestampCache = ts;
    }
    return this.rollingBasedTimestampCache;
  }

  /** Should the next append (of `appendBytes`, max timestamp `maxTimestampMs`, ending at `lastOffset`) roll? */
  shouldRoll(appendBytes: number, maxTimestampMs: bigint, lastOffset: bigint, segmentBytes: number, segmentMs: number): boolean {
    if (this.sizeBytes === 0) return false;
    if (this.sizeBytes > segmentBytes - appendBytes) return true;
    if (lastOffset - this.baseOffset > RELATIVE_OFFSET_MAX) return true;
    // One time-index slot stays free for the final entry written when the segment becomes inactive.
    if (this.offsetIndex.isFull || this.timeIndex.entries >= this.timeIndex.maxEntries - 1) return true;
    const first = this.rollingBasedTimestampMs;
    const waitedMs = first !== null && first >= 0n ? Number(maxTimestampMs - first) : this.clock.nowMs() - this.createdMs;
    return waitedMs > segmentMs;
  }

  /**
   * Appends whole batches (offsets already assigned) at the end of the file. On a write error the partial
   * bytes are cut off again, so the segment never holds a torn batch written by this process.
   */
  append(records: Buffer): void {
    invariant(!this.closed && !this.deleted, () => `append to closed segment ${this.logPath}`);
    invariant(this.sizeBytes + records.length <= 0x7fffffff, () => `segment ${this.logPath} would exceed 2^31-1 bytes`);
    const position = this.sizeBytes;
    try {
      this.fs.writeFully(this.fd, records, 0, records.length, position);
    } catch (err) {
      this.fs.truncate(this.fd, position);
      throw err;
    }
    let at = 0;
    let last = this.nextOffset - 1n;
    while (at < records.length) {
      const size = readBatchSizeBytes(records, at);
      const lastOffset = readLastOffset(records, at);
      invariant(lastOffset > last, () => `segment ${this.logPath}: batch last offset ${lastOffset} not after ${last}`);
      invariant(lastOffset - this.baseOffset <= RELATIVE_OFFSET_MAX, () => `offset ${lastOffset} overflows segment ${this.baseOffset}`);
      const maxTs = readMaxTimestamp(records, at);
      if (this.sizeBytes === 0 && at === 0) this.rollingBasedTimestampCache = maxTs;
      this.indexBatch(position + at, size, lastOffset, maxTs);
      last = lastOffset;
      at += size;
    }
    invariant(at === records.length, () => `append buffer has ${records.length - at} trailing bytes`);
    this.sizeBytes += records.length;
    this.nextOffsetCache = last + 1n;
    this.lastModifiedMs = this.clock.nowMs();
  }

  /** Kafka's indexing rule, shared by append and recovery so both build the same index. */
  private indexBatch(position: number, sizeBytes: number, lastOffset: bigint, maxTimestampMs: bigint): void {
    const max = this.maxTimestampAndOffset;
    if (maxTimestampMs > max.timestampMs) this.maxTimestampCache = { timestampMs: maxTimestampMs, offset: lastOffset };
    if (this.bytesSinceLastIndexEntry > this.indexIntervalBytes) {
      this.offsetIndex.append(lastOffset, position);
      const m = this.maxTimestampAndOffset;
      if (this.timeIndex.entries < this.timeIndex.maxEntries - 1) this.timeIndex.maybeAppend(m.timestampMs, m.offset);
      this.bytesSinceLastIndexEntry = 0;
    }
    this.bytesSinceLastIndexEntry += sizeBytes;
  }

  /** First batch whose last offset is >= target, or null when the segment has none. */
  translateOffset(target: bigint, startingPosition = 0): BatchLocation | null {
    const from = Math.max(startingPosition, this.offsetIndex.lookup(target).position);
    let found: BatchLocation | null = null;
    this.walkHeaders(from, (buf, at, position, sizeBytes) => {
      const lastOffset = readLastOffset(buf, at);
      if (lastOffset < target) return false;
      found = { position, sizeBytes, baseOffset: readBaseOffset(buf, at), lastOffset };
      return true;
    });
    return found;
  }

  /**
   * Whole batches from the one holding `startOffset`, at most `maxBytes` (but at least the first batch when
   * `minOneBatch`), only batches ending below `maxOffsetExclusive`. Null when no batch here reaches startOffset.
   */
  read(startOffset: bigint, maxBytes: number, maxOffsetExclusive: bigint, minOneBatch: boolean): SegmentRead | null {
    const first = this.translateOffset(startOffset);
    if (first === null) return null;
    const empty: SegmentRead = { records: Buffer.alloc(0), position: first.position, firstBatch: first };
    if (first.lastOffset >= maxOffsetExclusive) return empty;
    const limit = minOneBatch ? Math.max(maxBytes, first.sizeBytes) : maxBytes;
    const length = Math.min(limit, this.sizeBytes - first.position);
    if (length < first.sizeBytes) return empty;
    const buf = Buffer.allocUnsafe(length);
    const got = this.fs.readFully(this.fd, buf, 0, length, first.position);
    if (got < length) {
      throw new LogError('LOG_CORRUPT_FILE', `${this.logPath}: short read at ${first.position} (${got} of ${length} bytes)`, {
        path: this.logPath,
        position: first.position + got,
      });
    }
    // Trim to whole batches below the offset bound; the headers are in memory already. Damage after the
    // first batch ends the result there (the next read, starting at the damage, reports it).
    let at = 0;
    while (at + BATCH_HEADER_BYTES <= length) {
      const size = readBatchSizeBytes(buf, at);
      if (size < BATCH_HEADER_BYTES || size > RECORD_BATCH_BYTES_MAX) {
        if (at > 0) break;
        throw new LogError('LOG_CORRUPT_FILE', `${this.logPath}: batch length ${size} at position ${first.position + at}`, {
          path: this.logPath,
          position: first.position + at,
        });
      }
      if (at + size > length || readLastOffset(buf, at) >= maxOffsetExclusive) break;
      at += size;
    }
    return { records: buf.subarray(0, at), position: first.position, firstBatch: first };
  }

  /**
   * First record with timestamp >= target at an offset >= startingOffset (ListOffsets), or null.
   * Uses the time index to skip ahead, then the batch max timestamps, then the records of one batch.
   */
  findOffsetByTimestamp(targetMs: bigint, startingOffset: bigint): TimestampOffset | null {
    const entry = this.timeIndex.lookup(targetMs);
    const from = this.offsetIndex.lookup(entry.offset > startingOffset ? entry.offset : startingOffset).position;
    let candidate: BatchLocation | null = null;
    this.walkHeaders(from, (buf, at, position, sizeBytes) => {
      const lastOffset = readLastOffset(buf, at);
      if (lastOffset < startingOffset || readMaxTimestamp(buf, at) < targetMs) return false;
      candidate = { position, sizeBytes, baseOffset: readBaseOffset(buf, at), lastOffset };
      return true;
    });
    while (candidate !== null) {
      const loc: BatchLocation = candidate;
      const batch = this.readBatchAt(loc);
      const found = findFirstRecordAtOrAfter(batch, 0, targetMs, startingOffset);
      if (found !== null) return found;
      // A batch whose max timestamp is >= target always holds such a record, unless compaction emptied it or
      // its only such records are below startingOffset: keep walking.
      candidate = null;
      this.walkHeaders(loc.position + loc.sizeBytes, (buf, at, position, sizeBytes) => {
        if (readMaxTimestamp(buf, at) < targetMs) return false;
        candidate = { position, sizeBytes, baseOffset: readBaseOffset(buf, at), lastOffset: readLastOffset(buf, at) };
        return true;
      });
    }
    return null;
  }

  /**
   * Largest record timestamp at offsets >= startingOffset (-1 when none). Only the batch straddling
   * startingOffset is decoded; the others answer from their headers.
   */
  maxTimestampFrom(startingOffset: bigint): bigint {
    if (startingOffset <= this.baseOffset) return this.maxTimestampAndOffset.timestampMs;
    const first = this.translateOffset(startingOffset);
    if (first === null) return -1n;
    let max = maxRecordTimestampFrom(this.readBatchAt(first), 0, startingOffset);
    this.walkHeaders(first.position + first.sizeBytes, (buf, at) => {
      const ts = readMaxTimestamp(buf, at);
      if (ts > max) max = ts;
      return false;
    });
    return max;
  }

  readBatchAt(loc: BatchLocation): Buffer {
    const buf = Buffer.allocUnsafe(loc.sizeBytes);
    const got = this.fs.readFully(this.fd, buf, 0, loc.sizeBytes, loc.position);
    if (got < loc.sizeBytes) {
      throw new LogError('LOG_CORRUPT_FILE', `${this.logPath}: short read of batch at ${loc.position}`, { path: this.logPath, position: loc.position });
    }
    return buf;
  }

  /** A chunked reader over [from, sizeBytes); the caller pins the segment if it yields between reads. */
  openReader(from: number, chunkBytes: number): BatchReader {
    return new BatchReader(this.fs, this.fd, from, this.sizeBytes, chunkBytes);
  }

  /**
   * Walks batch headers from `position`; `visit` returns true to stop. A structurally bad batch throws a typed
   * corruption error naming the file and position (reads never truncate: only recovery does).
   */
  private walkHeaders(position: number, visit: (buf: Buffer, at: number, position: number, sizeBytes: number) => boolean): void {
    if (position >= this.sizeBytes) return;
    const reader = new BatchReader(this.fs, this.fd, position, this.sizeBytes, LOOKUP_CHUNK_BYTES, lookupScratch);
    for (;;) {
      const step: ScanStep = reader.next(false);
      if (step.kind === 'end') return;
      if (step.kind === 'bad') {
        throw new LogError('LOG_CORRUPT_FILE', `${this.logPath}: ${step.reason} at position ${step.position}`, {
          path: this.logPath,
          position: step.position,
        });
      }
      if (visit(step.buf, step.at, step.position, step.sizeBytes)) return;
    }
  }

  /**
   * Rescans the whole file: checks every batch (structure, magic, offsets, CRC), rebuilds both indexes and the
   * timestamp bookkeeping, calls `onBatch` for each valid batch, and truncates at the first bad byte.
   */
  recover(minBaseOffset: bigint, onBatch: (buf: Buffer, at: number) => void, onProgress?: (bytes: number) => void): RecoveryOutcome {
    this.offsetIndexCache = new OffsetIndex(this.baseOffset, this.maxIndexBytes);
    this.timeIndexCache = new TimeIndex(this.baseOffset, this.maxIndexBytes);
    this.maxTimestampCache = { timestampMs: NO_TIMESTAMP, offset: this.baseOffset };
    this.bytesSinceLastIndexEntry = 0;
    this.rollingBasedTimestampCache = null;
    const reader = new BatchReader(this.fs, this.fd, 0, this.sizeBytes, RECOVERY_CHUNK_BYTES);
    let expectedMin = minBaseOffset > this.baseOffset ? minBaseOffset : this.baseOffset;
    let validBytes = 0;
    let next = this.baseOffset;
    let problem: { position: number; reason: string } | null = null;
    let reportedBytes = 0;
    for (;;) {
      const step = reader.next(true);
      if (step.kind === 'end') break;
      if (step.kind === 'bad') {
        problem = { position: step.position, reason: step.reason };
        break;
      }
      const reason = validateBatch(step.buf, step.at, { minBaseOffset: expectedMin, segmentBaseOffset: this.baseOffset, checkCrc: true });
      if (reason !== null) {
        problem = { position: step.position, reason };
        break;
      }
      const lastOffset = readLastOffset(step.buf, step.at);
      const maxTs = readMaxTimestamp(step.buf, step.at);
      if (validBytes === 0) this.rollingBasedTimestampCache = maxTs;
      this.indexBatch(step.position, step.sizeBytes, lastOffset, maxTs);
      onBatch(step.buf, step.at);
      expectedMin = lastOffset + 1n;
      next = lastOffset + 1n;
      validBytes = step.position + step.sizeBytes;
      if (onProgress !== undefined && validBytes - reportedBytes >= RECOVERY_CHUNK_BYTES * 8) {
        reportedBytes = validBytes;
        onProgress(validBytes);
      }
    }
    let truncation: RecoveryOutcome['truncation'] = null;
    if (problem !== null) {
      const bytesTruncated = this.sizeBytes - validBytes;
      this.fs.truncate(this.fd, validBytes);
      this.sizeBytes = validBytes;
      truncation = { position: problem.position, reason: problem.reason, bytesTruncated };
    }
    // A closed segment ends with its largest timestamp in the time index; recovery writes the same entry.
    const m = this.maxTimestampAndOffset;
    this.timeIndex.maybeAppend(m.timestampMs, m.offset);
    this.nextOffsetCache = next;
    this.offsetIndex.fileEntries = -1;
    this.timeIndex.fileEntries = -1;
    this.persistIndexes();
    return { validBytes, truncation, nextOffset: next };
  }

  /**
   * Removes the batch holding `offset` and everything after it. Returns the base offset of the first removed
   * batch (null when nothing was removed). fsyncs, so truncated-away batches cannot reappear after a crash.
   */
  truncateTo(offset: bigint): bigint | null {
    const first = this.translateOffset(offset);
    if (first === null) return null;
    this.fs.truncate(this.fd, first.position);
    this.fs.datasyncSync(this.fd);
    this.sizeBytes = first.position;
    this.offsetIndex.truncateToPosition(first.position);
    this.timeIndex.truncateToOffset(first.baseOffset);
    this.maxTimestampCache = null;
    this.nextOffsetCache = null;
    const lastEntry = this.offsetIndex.lastEntry();
    this.bytesSinceLastIndexEntry = this.sizeBytes - lastEntry.position;
    if (this.sizeBytes === 0) {
      this.rollingBasedTimestampCache = null;
      this.createdMs = this.clock.nowMs();
    }
    this.persistIndexes();
    return first.baseOffset;
  }

  /** Marks the segment inactive: records its largest timestamp as the final time index entry. */
  onBecomeInactive(): void {
    const m = this.maxTimestampAndOffset;
    this.timeIndex.maybeAppend(m.timestampMs, m.offset);
    this.persistIndexes();
  }

  /** Writes index entries not yet on disk (no fsync). */
  persistIndexes(): void {
    if (this.offsetIndexCache !== null) this.persistIndexFile(this.indexPath, this.offsetIndexCache);
    if (this.timeIndexCache !== null) this.persistIndexFile(this.timeIndexPath, this.timeIndexCache);
  }

  private persistIndexFile(path: string, index: OffsetIndex | TimeIndex): void {
    if (!index.needsPersist) return;
    const entryBytes = index instanceof OffsetIndex ? 8 : 12;
    const from = index.fileEntries < 0 ? 0 : index.persistedCount;
    const fd = this.fs.open(path, from === 0 ? 'create' : 'readWrite');
    try {
      const tail = index.encodeFrom(from);
      if (tail.length > 0) this.fs.writeFully(fd, tail, 0, tail.length, from * entryBytes);
      this.fs.truncate(fd, index.entries * entryBytes);
    } finally {
      this.fs.close(fd);
    }
    index.persistedCount = index.entries;
    index.fileEntries = index.entries;
  }

  /** Reads the index files; a missing or insane one is rebuilt from the .log (Kafka rebuilds the same way). */
  private loadIndexes(): void {
    const offsetIndex = this.tryReadOffsetIndex();
    if (offsetIndex !== null) {
      this.offsetIndexCache = offsetIndex;
      const last = offsetIndex.lastEntry();
      this.bytesSinceLastIndexEntry = this.sizeBytes - last.position;
      const timeIndex = this.tryReadTimeIndex(this.nextOffset);
      if (timeIndex !== null) {
        this.timeIndexCache = timeIndex;
        return;
      }
    }
    this.rebuildIndexes();
  }

  private tryReadOffsetIndex(): OffsetIndex | null {
    if (this.fs.stat(this.indexPath) === null) return null;
    const decoded = OffsetIndex.decode(this.fs.readFile(this.indexPath), this.baseOffset, this.maxIndexBytes, this.sizeBytes);
    return typeof decoded === 'string' ? null : decoded;
  }

  private tryReadTimeIndex(nextOffset: bigint): TimeIndex | null {
    if (this.fs.stat(this.timeIndexPath) === null) return null;
    const decoded = TimeIndex.decode(this.fs.readFile(this.timeIndexPath), this.baseOffset, this.maxIndexBytes, nextOffset);
    return typeof decoded === 'string' ? null : decoded;
  }

  /** Rebuild for a trusted segment: corruption here is reported, not truncated (see DESIGN.md). */
  private rebuildIndexes(): void {
    const sizeBefore = this.sizeBytes;
    const outcome = this.recoverWithoutTruncation();
    if (outcome !== null) {
      throw new LogError('LOG_CORRUPT_FILE', `${this.logPath}: ${outcome.reason} at position ${outcome.position} while rebuilding its index`, {
        path: this.logPath,
        position: outcome.position,
      });
    }
    invariant(this.sizeBytes === sizeBefore, 'index rebuild changed the segment size');
  }

  private recoverWithoutTruncation(): { position: number; reason: string } | null {
    this.offsetIndexCache = new OffsetIndex(this.baseOffset, this.maxIndexBytes);
    this.timeIndexCache = new TimeIndex(this.baseOffset, this.maxIndexBytes);
    this.maxTimestampCache = { timestampMs: NO_TIMESTAMP, offset: this.baseOffset };
    this.bytesSinceLastIndexEntry = 0;
    this.nextOffsetCache = this.baseOffset;
    const reader = new BatchReader(this.fs, this.fd, 0, this.sizeBytes, RECOVERY_CHUNK_BYTES);
    let expectedMin = this.baseOffset;
    for (;;) {
      const step = reader.next(true);
      if (step.kind === 'end') break;
      if (step.kind === 'bad') return { position: step.position, reason: step.reason };
      const reason = validateBatch(step.buf, step.at, { minBaseOffset: expectedMin, segmentBaseOffset: this.baseOffset, checkCrc: true });
      if (reason !== null) return { position: step.position, reason };
      const lastOffset = readLastOffset(step.buf, step.at);
      this.indexBatch(step.position, step.sizeBytes, lastOffset, readMaxTimestamp(step.buf, step.at));
      expectedMin = lastOffset + 1n;
      this.nextOffsetCache = expectedMin;
    }
    const m = this.maxTimestampAndOffset;
    this.timeIndex.maybeAppend(m.timestampMs, m.offset);
    this.offsetIndex.fileEntries = -1;
    this.timeIndex.fileEntries = -1;
    this.persistIndexes();
    return null;
  }

  /** Persists indexes, then fsyncs the .log and both index files. */
  async flush(): Promise<void> {
    if (this.closed || this.closeRequested) return;
    this.persistIndexes();
    // Index files only exist once loaded or written; an unloaded index has nothing unsynced of ours.
    const indexPaths = this.offsetIndexCache === null ? [] : [this.indexPath, this.timeIndexPath];
    this.pin();
    const indexFds: number[] = [];
    try {
      for (const path of indexPaths) indexFds.push(this.fs.open(path, 'readWrite'));
      await this.fs.datasync(this.fd);
      for (const fd of indexFds) await this.fs.datasync(fd);
    } finally {
      for (const fd of indexFds) this.fs.close(fd);
      this.unpin();
    }
  }

  flushSync(): void {
    if (this.closed || this.closeRequested) return;
    this.persistIndexes();
    this.fs.datasyncSync(this.fd);
    const indexPaths = this.offsetIndexCache === null ? [] : [this.indexPath, this.timeIndexPath];
    for (const path of indexPaths) {
      const fd = this.fs.open(path, 'readWrite');
      try {
        this.fs.datasyncSync(fd);
      } finally {
        this.fs.close(fd);
      }
    }
  }

  pin(): void {
    invariant(!this.closed, () => `pin of closed segment ${this.logPath}`);
    this.pins++;
  }

  unpin(): void {
    invariant(this.pins > 0, () => `unpin of unpinned segment ${this.logPath}`);
    this.pins--;
    if (this.pins === 0 && this.closeRequested) this.finishClose();
  }

  /** Renames all three files from the current suffix to `suffix` (index files first: the .log is the commit). */
  changeSuffix(suffix: string): void {
    const from = { log: this.logPath, index: this.indexPath, time: this.timeIndexPath };
    this.suffix = suffix;
    for (const [oldPath, newPath] of [
      [from.index, this.indexPath],
      [from.time, this.timeIndexPath],
    ] as const) {
      if (this.fs.stat(oldPath) !== null) this.fs.rename(oldPath, newPath);
    }
    this.fs.rename(from.log, this.logPath);
  }

  /** Closes (persisting indexes with a final time entry); deferred while pinned. */
  close(): void {
    if (this.closed || this.closeRequested) return;
    if (!this.deleted && this.offsetIndexCache !== null) this.onBecomeInactive();
    this.closeRequested = true;
    if (this.pins === 0) this.finishClose();
  }

  /** Closes without touching the index files (the process is giving up on this directory). */
  closeQuietly(): void {
    if (this.closed || this.closeRequested) return;
    this.closeRequested = true;
    if (this.pins === 0) this.finishClose();
  }

  /**
   * Renames the files to `.deleted` (so a crash leaves nothing that looks live), then unlinks them once no pin
   * holds the descriptor.
   */
  delete(): void {
    if (this.deleted) return;
    this.deleted = true;
    for (const path of [this.indexPath, this.timeIndexPath, this.logPath]) {
      if (this.fs.stat(path) !== null) this.fs.rename(path, path + DELETED_FILE_SUFFIX);
    }
    this.closeRequested = true;
    if (this.pins === 0) this.finishClose();
  }

  private finishClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.fs.close(this.fd);
    if (this.deleted) {
      for (const path of [this.indexPath, this.timeIndexPath, this.logPath]) this.fs.unlinkIfExists(path + DELETED_FILE_SUFFIX);
    }
  }
}

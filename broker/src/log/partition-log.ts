/**
 * The log of one partition replica (Kafka's UnifiedLog + LocalLog): an ordered list of segments, the offsets
 * that bound it, the leader epoch cache and the producer state.
 *
 * Offsets, in order (asserted after every mutation by checkInvariants):
 *   first segment base <= logStartOffset <= highWatermark <= logEndOffset,  recoveryPoint <= logEndOffset
 * - logEndOffset (LEO): next offset to assign; only appends raise it, only truncation lowers it.
 * - highWatermark: set by the caller (replication); never goes back except by truncation; clamped to LEO.
 * - logStartOffset: raised by retention and DeleteRecords (never above the high watermark), lowered only by
 *   truncation below it (Kafka's truncateTo does the same).
 * - recoveryPoint: everything below it is fsynced; recovery after a crash rescans from it.
 *
 * Concurrency model: every public operation except flush/compact/close is synchronous and runs to completion
 * on the event loop, so no two mutations interleave and no lock is needed. Background work (fsync, compaction)
 * pins the segments it touches and re-checks the log after every await.
 */
import {
  BATCH_HEADER_BYTES,
  BATCH_MAGIC_V2,
  patchBaseOffset,
  patchLeaderEpoch,
  readBaseOffset,
  readBatchSizeBytes,
  readLastOffset,
  readLastOffsetDelta,
  readLeaderEpoch,
  readMagic,
  readMaxTimestamp,
  readRecordsCount,
} from '../protocol/records/batch-header.ts';
import { formatEpochCheckpoint } from './checkpoint-file.ts';
import { type Clock, systemClock } from './clock.ts';
import { type LogConfig, INT32_MAX, hasCleanupPolicy, resolveLogConfig } from './config.ts';
import { LogError, invariant, isLogError } from './errors.ts';
import { LEADER_EPOCH_CHECKPOINT_FILE, type TopicPartition } from './file-names.ts';
import { type EpochEndOffset, LeaderEpochCache } from './leader-epoch-cache.ts';
import { type LogLogger, type RecoveryProgress, silentLogger } from './log-events.ts';
import { type LogFs, defaultLogFs } from './log-fs.ts';
import { floorSegmentIndex, loadLog, rebuildProducerState, segmentParams } from './log-loader.ts';
import { type CleanableLog, type CompactionResult, compactLog } from './log-cleaner.ts';
import {
  type ProducerCheckResult,
  ProducerStateManager,
  deleteSnapshotsAbove,
  deleteSnapshotsBelow,
  writeSnapshot,
} from './producer-state.ts';
import { LogSegment, RELATIVE_OFFSET_MAX } from './segment.ts';
import type { TimestampOffset } from './time-index.ts';

/** ListOffsets special timestamps (the wire values). */
export const LATEST_TIMESTAMP = -1n;
export const EARLIEST_TIMESTAMP = -2n;
export const MAX_TIMESTAMP = -3n;
export const EARLIEST_LOCAL_TIMESTAMP = -4n;

/** Upper bound on one read (Kafka's fetch sizes are int32). */
export const READ_BYTES_MAX = INT32_MAX;

export interface PartitionLogOptions {
  readonly dir: string;
  readonly topicPartition: TopicPartition;
  readonly config?: LogConfig;
  readonly clock?: Clock;
  readonly fs?: LogFs;
  readonly logger?: LogLogger;
  /** From recovery-point-offset-checkpoint; recovery rescans from here. Default 0. */
  readonly recoveryPoint?: bigint;
  /** From log-start-offset-checkpoint. Default 0. */
  readonly logStartOffset?: bigint;
  /** From replication-offset-checkpoint. Clamped to [log start, log end]. */
  readonly highWatermark?: bigint;
  /** From cleaner-offset-checkpoint: first offset compaction has not seen yet. */
  readonly cleanerCheckpoint?: bigint;
  /** The log dir held the clean-shutdown marker: trust indexes, skip the rescan. Default false. */
  readonly hadCleanShutdown?: boolean;
  readonly onRecoveryProgress?: (progress: RecoveryProgress) => void;
  /** Called once when a background operation (fsync, compaction swap) fails and the log goes offline. */
  readonly onOffline?: (error: LogError) => void;
}

export interface AppendResult {
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
  readonly maxTimestampMs: bigint;
  readonly offsetOfMaxTimestamp: bigint;
  readonly batchCount: number;
  readonly recordCount: number;
  readonly sizeBytes: number;
  readonly logStartOffset: bigint;
  /**
   * Set when flush.messages triggered an fsync: resolves once it is done, with the error if it failed
   * (it never rejects, so an ignored promise cannot become an unhandled rejection).
   */
  readonly flushed: Promise<LogError | null> | null;
}

export interface ReadOptions {
  /** Soft byte limit (the first batch is returned whole even when larger, unless minOneBatch is false). */
  readonly maxBytes: number;
  /** Exclusive bound: only batches ending below it (consumers pass the high watermark). Default: LEO. */
  readonly maxOffset?: bigint;
  /** Kafka's minOneMessage. Default true. */
  readonly minOneBatch?: boolean;
}

export interface LogReadResult {
  /** Whole batches; empty when nothing is readable within the bounds. */
  readonly records: Buffer;
  /** Base offset of the first batch returned (may be below the requested offset), or null when empty. */
  readonly firstBatchOffset: bigint | null;
  /** Where the records lie on disk (the file and byte range), or null when empty. */
  readonly file: { readonly path: string; readonly position: number; readonly length: number } | null;
  readonly highWatermark: bigint;
  readonly logStartOffset: bigint;
  readonly logEndOffset: bigint;
}

export interface TimestampLookup extends TimestampOffset {
  /** Leader epoch of the batch holding `offset` (null when unknown). */
  readonly leaderEpoch: number | null;
}

/** Structural facts of an append buffer, gathered in one pass over its headers. */
interface BatchesInfo {
  readonly batchCount: number;
  readonly recordCount: number;
}

/** Walks an append buffer: whole v2 batches back to back, nothing else. */
function analyzeBatches(records: Buffer): BatchesInfo {
  let at = 0;
  let batchCount = 0;
  let recordCount = 0;
  while (at < records.length) {
    const remaining = records.length - at;
    if (remaining < BATCH_HEADER_BYTES) {
      throw new LogError('LOG_INVALID_RECORDS', `append buffer: ${remaining} trailing bytes at ${at} are not a batch`, { position: at });
    }
    const size = readBatchSizeBytes(records, at);
    if (size < BATCH_HEADER_BYTES || size > remaining) {
      throw new LogError('LOG_INVALID_RECORDS', `append buffer: batch at ${at} declares ${size} bytes, ${remaining} present`, { position: at });
    }
    if (readMagic(records, at) !== BATCH_MAGIC_V2 || readLastOffsetDelta(records, at) < 0 || readRecordsCount(records, at) < 0) {
      throw new LogError('LOG_INVALID_RECORDS', `append buffer: batch at ${at} has a bad magic, offset delta or count`, { position: at });
    }
    batchCount++;
    recordCount += readRecordsCount(records, at);
    at += size;
  }
  return { batchCount, recordCount };
}

export class PartitionLog {
  readonly dir: string;
  readonly topicPartition: TopicPartition;
  private configValue: LogConfig;
  private readonly clock: Clock;
  private readonly fs: LogFs;
  private readonly logger: LogLogger;
  private readonly onOffline: ((error: LogError) => void) | undefined;
  private segments: LogSegment[];
  private logStart: bigint;
  private logEnd: bigint;
  private hw: bigint;
  private recoveryPointValue: bigint;
  private cleanerCheckpointValue: bigint;
  private epochCache: LeaderEpochCache;
  private epochCacheUnsynced = false;
  private readonly producers: ProducerStateManager;
  private unflushedRecords = 0;
  private lastFlushMs: number;
  private failure: LogError | null = null;
  private closed = false;
  private readonly background = new Set<Promise<unknown>>();
  private compaction: Promise<CompactionResult> | null = null;
  private flushChain: Promise<void> = Promise.resolve();
  /** close() has begun: new operations are refused while it drains background work. */
  private closing = false;
  private compactionAbort = false;
  /** Earliest time a tombstone's delete horizon expires (compaction should run then), or null. */
  private nextDeleteHorizonMs: number | null = null;
  /** Bytes cut off by recovery when this log was opened. */
  readonly recoveryTruncatedBytes: number;

  private constructor(options: PartitionLogOptions, config: LogConfig, loaded: Awaited<ReturnType<typeof loadLog>>) {
    this.dir = options.dir;
    this.topicPartition = options.topicPartition;
    this.configValue = config;
    this.clock = options.clock ?? systemClock;
    this.fs = options.fs ?? defaultLogFs;
    this.logger = options.logger ?? silentLogger;
    this.onOffline = options.onOffline;
    this.segments = loaded.segments;
    this.logStart = loaded.logStartOffset;
    this.logEnd = loaded.logEndOffset;
    this.recoveryPointValue = loaded.recoveryPoint;
    this.epochCache = loaded.epochCache;
    this.producers = loaded.producerState;
    this.recoveryTruncatedBytes = loaded.truncatedBytes;
    const hw = options.highWatermark ?? this.logStart;
    this.hw = hw < this.logStart ? this.logStart : hw > this.logEnd ? this.logEnd : hw;
    const cleaner = options.cleanerCheckpoint ?? this.logStart;
    this.cleanerCheckpointValue = cleaner < this.logStart ? this.logStart : cleaner > this.logEnd ? this.logEnd : cleaner;
    this.lastFlushMs = this.clock.nowMs();
    if (loaded.epochCacheDirty) this.persistEpochCache(this.epochCache, true);
    this.checkInvariants();
  }

  /** Opens (creating if needed) and recovers the log in `dir`. */
  static async open(options: PartitionLogOptions): Promise<PartitionLog> {
    const config = options.config ?? resolveLogConfig();
    const loaded = await loadLog({
      dir: options.dir,
      topicPartition: options.topicPartition,
      config,
      clock: options.clock ?? systemClock,
      fs: options.fs ?? defaultLogFs,
      logger: options.logger ?? silentLogger,
      recoveryPoint: options.recoveryPoint ?? 0n,
      logStartOffset: options.logStartOffset ?? 0n,
      hadCleanShutdown: options.hadCleanShutdown ?? false,
      ...(options.onRecoveryProgress === undefined ? {} : { onRecoveryProgress: options.onRecoveryProgress }),
    });
    return new PartitionLog(options, config, loaded);
  }

  // ---- state ---------------------------------------------------------------------------------------------

  get config(): LogConfig {
    return this.configValue;
  }

  get logStartOffset(): bigint {
    return this.logStart;
  }

  get logEndOffset(): bigint {
    return this.logEnd;
  }

  get highWatermark(): bigint {
    return this.hw;
  }

  get recoveryPoint(): bigint {
    return this.recoveryPointValue;
  }

  get cleanerCheckpoint(): bigint {
    return this.cleanerCheckpointValue;
  }

  get latestEpoch(): number {
    return this.epochCache.latestEpoch;
  }

  get epochEntries(): readonly { readonly epoch: number; readonly startOffset: bigint }[] {
    return this.epochCache.entries;
  }

  get sizeBytes(): number {
    return this.segments.reduce((n, s) => n + s.sizeBytes, 0);
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Base offsets of the segments, oldest first. */
  get segmentBaseOffsets(): bigint[] {
    return this.segments.map((s) => s.baseOffset);
  }

  get isOffline(): boolean {
    return this.failure !== null;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get producerState(): ProducerStateManager {
    return this.producers;
  }

  /** When a tombstone's delete horizon next expires (the scheduler compacts then), or null. */
  get tombstoneHorizonMs(): number | null {
    return this.nextDeleteHorizonMs;
  }

  /** Changes topic configs (segment sizes apply to the next roll, as in Kafka). */
  updateConfig(config: LogConfig): void {
    this.configValue = config;
  }

  // ---- append ---------------------------------------------------------------------------------------------

  /**
   * Checks a client's batches against the producer state, before appendAsLeader (idempotence, KIP-98):
   * 'duplicate' carries the ORIGINAL offsets to answer with; 'error' carries the Kafka error code.
   */
  checkProducerState(records: Buffer): ProducerCheckResult {
    this.checkOpen();
    analyzeBatches(records);
    return this.producers.check(records);
  }

  /**
   * Appends validated batches as the leader: assigns offsets from the log end by patching BaseOffset in
   * place, and stamps `leaderEpoch` (both outside the CRC). The buffer is modified.
   */
  appendAsLeader(records: Buffer, leaderEpoch: number): AppendResult {
    this.checkWritable();
    invariant(Number.isInteger(leaderEpoch) && leaderEpoch >= -1 && leaderEpoch <= INT32_MAX, () => `leader epoch ${leaderEpoch} out of range`);
    const info = analyzeBatches(records);
    let next = this.logEnd;
    for (let at = 0; at < records.length; at += readBatchSizeBytes(records, at)) {
      patchBaseOffset(records, at, next);
      patchLeaderEpoch(records, at, leaderEpoch);
      next += BigInt(readLastOffsetDelta(records, at)) + 1n;
    }
    return this.appendBatches(records, info);
  }

  /**
   * Appends batches replicated from the leader, keeping their offsets and epochs. The first offset must be at
   * or above the log end (gaps are legal: the leader's log may be compacted) and offsets must increase.
   */
  appendAsFollower(records: Buffer): AppendResult {
    this.checkWritable();
    const info = analyzeBatches(records);
    let expected = this.logEnd;
    for (let at = 0; at < records.length; at += readBatchSizeBytes(records, at)) {
      const base = readBaseOffset(records, at);
      if (base < expected) {
        throw new LogError(
          'LOG_UNEXPECTED_APPEND_OFFSET',
          `${this.name}: follower batch at offset ${base} does not continue the log (expected >= ${expected})`,
          { offset: base },
        );
      }
      expected = readLastOffset(records, at) + 1n;
    }
    return this.appendBatches(records, info);
  }

  private appendBatches(records: Buffer, info: BatchesInfo): AppendResult {
    const firstOffset = records.length === 0 ? this.logEnd : readBaseOffset(records, 0);
    let maxTimestampMs = -1n;
    let offsetOfMaxTimestamp = -1n;
    let pos = 0;
    while (pos < records.length) {
      // A run: the longest prefix whose offsets are addressable from its first batch (always all of a
      // leader's append; a follower's may span more than 2^31 offsets after compaction on the leader).
      const runBase = readBaseOffset(records, pos);
      let end = pos;
      let runLast = runBase;
      let runMaxTs = -1n;
      while (end < records.length) {
        const last = readLastOffset(records, end);
        if (end > pos && last - runBase > RELATIVE_OFFSET_MAX) break;
        const ts = readMaxTimestamp(records, end);
        if (ts > runMaxTs) runMaxTs = ts;
        if (ts > maxTimestampMs) {
          maxTimestampMs = ts;
          offsetOfMaxTimestamp = last;
        }
        runLast = last;
        end += readBatchSizeBytes(records, end);
      }
      const run = records.subarray(pos, end);
      const segment = this.maybeRoll(run.length, runMaxTs, runBase, runLast);
      // Epoch entries are written before the data: a failed write leaves the log untouched, and an entry
      // whose data never landed is dropped by truncateFromEnd at the next load.
      const epochs = this.epochsAfter(run);
      if (epochs !== null) this.persistEpochCache(epochs, false);
      segment.append(run);
      if (epochs !== null) this.epochCache = epochs;
      for (let at = 0; at < run.length; at += readBatchSizeBytes(run, at)) this.producers.onBatch(run, at);
      this.logEnd = runLast + 1n;
      pos = end;
    }
    this.unflushedRecords += info.recordCount;
    const flushed = this.unflushedRecords >= this.configValue.flushMessages ? this.flushTracked() : null;
    this.checkInvariants();
    return {
      firstOffset,
      lastOffset: this.logEnd - 1n,
      maxTimestampMs,
      offsetOfMaxTimestamp,
      batchCount: info.batchCount,
      recordCount: info.recordCount,
      sizeBytes: records.length,
      logStartOffset: this.logStart,
      flushed,
    };
  }

  /** The epoch cache after the batches of `run`, or null when they change nothing. */
  private epochsAfter(run: Buffer): LeaderEpochCache | null {
    let next: LeaderEpochCache | null = null;
    for (let at = 0; at < run.length; at += readBatchSizeBytes(run, at)) {
      const epoch = readLeaderEpoch(run, at);
      if (epoch < 0) continue;
      const current = next ?? this.epochCache;
      const latest = current.latestEntry;
      if (latest !== undefined && latest.epoch === epoch) continue;
      next ??= new LeaderEpochCache(this.epochCache.entries);
      next.assign(epoch, readBaseOffset(run, at));
    }
    return next;
  }

  private maybeRoll(appendBytes: number, maxTimestampMs: bigint, firstOffset: bigint, lastOffset: bigint): LogSegment {
    const active = this.activeSegment;
    const c = this.configValue;
    const overflow = lastOffset - active.baseOffset > RELATIVE_OFFSET_MAX;
    if (overflow || active.shouldRoll(appendBytes, maxTimestampMs, lastOffset, c.segmentBytes, c.segmentMs)) {
      return this.rollAt(firstOffset);
    }
    return active;
  }

  /** Starts a new active segment at the log end (no-op when the active segment is empty). */
  roll(): void {
    this.checkWritable();
    this.rollAt(this.logEnd);
    this.checkInvariants();
  }

  private rollAt(newBase: bigint): LogSegment {
    invariant(newBase >= this.logEnd, () => `roll at ${newBase} below the log end ${this.logEnd}`);
    const active = this.activeSegment;
    if (active.sizeBytes === 0 && active.baseOffset === newBase) return active;
    // Producer state as of the new base, so a restart replays at most the active segment (Kafka does this).
    this.producers.mapEndOffset = newBase;
    writeSnapshot(this.fs, this.dir, this.producers, false);
    active.onBecomeInactive();
    const segment = LogSegment.create(segmentParams(this.paramsSource(), newBase));
    this.segments.push(segment);
    // fsync the finished segment off the append path (Kafka schedules the same flush on roll).
    void this.flushTracked(newBase);
    return segment;
  }

  private get activeSegment(): LogSegment {
    const active = this.segments.at(-1);
    invariant(active !== undefined, 'log has no segment');
    return active;
  }

  private paramsSource(): { dir: string; config: LogConfig; clock: Clock; fs: LogFs } {
    return { dir: this.dir, config: this.configValue, clock: this.clock, fs: this.fs };
  }

  // ---- offsets -------------------------------------------------------------------------------------------

  /**
   * Sets the high watermark: values above the log end are clamped to it, values below the current one are
   * ignored (it never goes back except by truncation). Returns the resulting high watermark.
   */
  updateHighWatermark(offset: bigint): bigint {
    this.checkOpen();
    const clamped = offset > this.logEnd ? this.logEnd : offset;
    if (clamped > this.hw) this.hw = clamped;
    this.checkInvariants();
    return this.hw;
  }

  /** OffsetForLeaderEpoch: the end offset of `epoch` in this log (see LeaderEpochCache.endOffsetFor). */
  endOffsetForEpoch(epoch: number): EpochEndOffset {
    this.checkOpen();
    return this.epochCache.endOffsetFor(epoch, this.logEnd);
  }

  /**
   * DeleteRecords: moves the log start up to `offset` (never beyond the high watermark) and deletes the
   * segments entirely below it. Returns the new log start offset.
   */
  deleteRecordsBefore(offset: bigint): bigint {
    this.checkWritable();
    if (offset > this.hw || offset < 0n) {
      throw new LogError('LOG_OFFSET_OUT_OF_RANGE', `${this.name}: cannot move the log start to ${offset}: the high watermark is ${this.hw}`, { offset });
    }
    if (offset > this.logStart) {
      this.logStart = offset;
      this.afterLogStartMoved();
      this.deleteSegmentsWhile((_segment, next) => next !== undefined && next.baseOffset <= this.logStart);
    }
    this.checkInvariants();
    return this.logStart;
  }

  // ---- read ----------------------------------------------------------------------------------------------

  /**
   * Whole batches from the one holding `startOffset`, up to maxBytes, from one segment (as Kafka). An offset
   * inside a batch returns that whole batch. Out of [log start, log end] throws LOG_OFFSET_OUT_OF_RANGE.
   */
  read(startOffset: bigint, options: ReadOptions): LogReadResult {
    this.checkOpen();
    invariant(Number.isInteger(options.maxBytes) && options.maxBytes >= 0 && options.maxBytes <= READ_BYTES_MAX, () => `maxBytes ${options.maxBytes} out of range`);
    const base = { highWatermark: this.hw, logStartOffset: this.logStart, logEndOffset: this.logEnd };
    const empty: LogReadResult = { records: Buffer.alloc(0), firstBatchOffset: null, file: null, ...base };
    if (startOffset > this.logEnd || startOffset < this.logStart) {
      throw new LogError(
        'LOG_OFFSET_OUT_OF_RANGE',
        `${this.name}: offset ${startOffset} is outside [${this.logStart}, ${this.logEnd}]`,
        { offset: startOffset },
      );
    }
    const bound = options.maxOffset === undefined || options.maxOffset > this.logEnd ? this.logEnd : options.maxOffset;
    if (startOffset >= bound) return empty;
    for (let i = floorSegmentIndex(this.segments, startOffset); i < this.segments.length; i++) {
      const segment = this.segments[i];
      if (segment === undefined || segment.baseOffset >= bound) break;
      const r = segment.read(startOffset, options.maxBytes, bound, options.minOneBatch ?? true);
      if (r === null) continue;
      if (r.records.length === 0) return empty;
      return {
        records: r.records,
        firstBatchOffset: r.firstBatch.baseOffset,
        file: { path: segment.logPath, position: r.position, length: r.records.length },
        ...base,
      };
    }
    return empty;
  }

  /**
   * ListOffsets: the first offset whose record timestamp is >= targetMs, or a special target (LATEST_TIMESTAMP,
   * EARLIEST_TIMESTAMP, EARLIEST_LOCAL_TIMESTAMP, MAX_TIMESTAMP). Null when no record qualifies. The caller
   * applies isolation (e.g. hides answers at or above the high watermark from consumers).
   */
  fetchOffsetByTimestamp(targetMs: bigint): TimestampLookup | null {
    this.checkOpen();
    if (targetMs === EARLIEST_TIMESTAMP || targetMs === EARLIEST_LOCAL_TIMESTAMP) {
      return { timestampMs: -1n, offset: this.logStart, leaderEpoch: this.epochCache.epochForOffset(this.logStart) };
    }
    if (targetMs === LATEST_TIMESTAMP) {
      const epoch = this.epochCache.latestEpoch;
      return { timestampMs: -1n, offset: this.logEnd, leaderEpoch: epoch < 0 ? null : epoch };
    }
    if (targetMs === MAX_TIMESTAMP) {
      // KIP-734: the record with the largest timestamp (the first of equals) at or after the log start.
      let best: LogSegment | null = null;
      let bestTs = -1n;
      for (const s of this.segments) {
        const ts = s.baseOffset < this.logStart ? s.maxTimestampFrom(this.logStart) : s.maxTimestampAndOffset.timestampMs;
        if (ts > bestTs) {
          best = s;
          bestTs = ts;
        }
      }
      if (best === null) return null;
      const found = best.findOffsetByTimestamp(bestTs, this.logStart);
      return found === null ? null : { ...found, leaderEpoch: this.epochCache.epochForOffset(found.offset) };
    }
    if (targetMs < 0n) throw new LogError('LOG_INVALID_ARGUMENT', `${this.name}: unsupported ListOffsets timestamp ${targetMs}`);
    for (const s of this.segments) {
      if (s.maxTimestampAndOffset.timestampMs < targetMs) continue;
      const found = s.findOffsetByTimestamp(targetMs, this.logStart);
      if (found !== null) return { ...found, leaderEpoch: this.epochCache.epochForOffset(found.offset) };
    }
    return null;
  }

  // ---- truncation ----------------------------------------------------------------------------------------

  /**
   * Follower truncation (divergence from the leader): removes every batch holding an offset >= target.
   * The log end becomes min(target, base of the first removed batch). Returns false when nothing changed.
   */
  truncateTo(target: bigint): boolean {
    this.checkWritable();
    if (target < 0n) throw new LogError('LOG_INVALID_ARGUMENT', `${this.name}: truncation offset ${target} is negative`);
    if (target >= this.logEnd) return false;
    this.compactionAbort = this.compaction !== null;
    if ((this.segments[0]?.baseOffset ?? 0n) > target) {
      this.truncateFullyAndStartAt(target);
      return true;
    }
    const keep = floorSegmentIndex(this.segments, target);
    const segment = this.segments[keep];
    invariant(segment !== undefined, 'truncation segment vanished');
    const firstRemoved = this.offlineOnFailure(() => {
      for (const s of this.segments.splice(keep + 1)) s.delete();
      return segment.truncateTo(target);
    });
    this.logEnd = firstRemoved !== null && firstRemoved < target ? firstRemoved : target;
    if (this.logEnd < segment.baseOffset) this.logEnd = segment.baseOffset;
    const epochs = new LeaderEpochCache(this.epochCache.entries);
    if (epochs.truncateFromEnd(this.logEnd)) {
      this.persistEpochCache(epochs, true);
      this.epochCache = epochs;
    }
    if (this.logStart > this.logEnd) this.logStart = this.logEnd;
    this.afterTruncation();
    this.offlineOnFailure(() => {
      // A truncation inside a gap (compaction removed the records there) leaves the log end past the last
      // batch. The log end is read back from the data at load, so persist it as the base offset of a new,
      // empty active segment: otherwise a restart would hand out those offsets again.
      if (this.logEnd > segment.nextOffset) this.rollAt(this.logEnd);
      this.fs.syncDir(this.dir);
    });
    this.checkInvariants();
    return true;
  }

  /** Deletes everything and restarts the log empty at `offset` (a follower far behind the leader's log start). */
  truncateFullyAndStartAt(offset: bigint): void {
    this.checkWritable();
    if (offset < 0n) throw new LogError('LOG_INVALID_ARGUMENT', `${this.name}: start offset ${offset} is negative`);
    this.compactionAbort = this.compaction !== null;
    this.offlineOnFailure(() => {
      for (const s of this.segments.splice(0)) s.delete();
      this.segments.push(LogSegment.create(segmentParams(this.paramsSource(), offset)));
      this.fs.syncDir(this.dir);
    });
    this.logStart = offset;
    this.logEnd = offset;
    this.hw = offset;
    const epochs = new LeaderEpochCache();
    this.persistEpochCache(epochs, true);
    this.epochCache = epochs;
    deleteSnapshotsAbove(this.fs, this.dir, -1n);
    this.producers.clear(offset);
    this.afterTruncation();
    this.checkInvariants();
  }

  private afterTruncation(): void {
    if (this.hw > this.logEnd) this.hw = this.logEnd;
    if (this.hw < this.logStart) this.hw = this.logStart;
    if (this.recoveryPointValue > this.logEnd) this.recoveryPointValue = this.logEnd;
    if (this.cleanerCheckpointValue > this.logEnd) this.cleanerCheckpointValue = this.logEnd;
    if (this.cleanerCheckpointValue < this.logStart) this.cleanerCheckpointValue = this.logStart;
    deleteSnapshotsAbove(this.fs, this.dir, this.logEnd);
    rebuildProducerState(this.fs, this.dir, this.segments, this.producers, this.logEnd, (err) =>
      this.logger.warn({ ...this.fields, error: err.message }, 'producer snapshot is corrupt'),
    );
  }

  // ---- retention -----------------------------------------------------------------------------------------

  /**
   * Deletes whole segments past retention.ms / retention.bytes (cleanup.policy=delete) and those below the
   * log start. Never the active segment, never one reaching the high watermark. Returns how many went.
   */
  deleteOldSegments(): number {
    if (this.closed || this.failure !== null) return 0;
    const c = this.configValue;
    let deleted = 0;
    if (hasCleanupPolicy(c, 'delete')) {
      if (c.retentionMs >= 0) {
        const now = this.clock.nowMs();
        deleted += this.deleteSegmentsWhile((s) => now - s.largestTimestampMs > c.retentionMs);
      }
      if (c.retentionBytes >= 0) {
        let excess = this.sizeBytes - c.retentionBytes;
        deleted += this.deleteSegmentsWhile((s) => {
          if (excess - s.sizeBytes < 0) return false;
          excess -= s.sizeBytes;
          return true;
        });
      }
    }
    deleted += this.deleteSegmentsWhile((_s, next) => next !== undefined && next.baseOffset <= this.logStart);
    this.checkInvariants();
    return deleted;
  }

  /** Deletes oldest non-active segments while `predicate` holds and the next segment starts at or below the HW. */
  private deleteSegmentsWhile(predicate: (segment: LogSegment, next: LogSegment | undefined) => boolean): number {
    let n = 0;
    while (this.segments.length > 1) {
      const segment = this.segments[0];
      const next = this.segments[1];
      invariant(segment !== undefined && next !== undefined, 'segment list changed under retention');
      if (next.baseOffset > this.hw || !predicate(segment, next)) break;
      this.segments.shift();
      this.offlineOnFailure(() => segment.delete());
      n++;
    }
    if (n > 0) {
      const first = this.segments[0];
      invariant(first !== undefined, 'retention deleted every segment');
      if (first.baseOffset > this.logStart) {
        this.logStart = first.baseOffset;
        this.afterLogStartMoved();
      }
      deleteSnapshotsBelow(this.fs, this.dir, first.baseOffset);
      this.logger.info({ ...this.fields, segments: n, logStartOffset: this.logStart.toString() }, 'deleted old segments');
    }
    return n;
  }

  private afterLogStartMoved(): void {
    const epochs = new LeaderEpochCache(this.epochCache.entries);
    if (epochs.truncateFromStart(this.logStart)) {
      this.persistEpochCache(epochs, false);
      this.epochCache = epochs;
    }
    if (this.cleanerCheckpointValue < this.logStart) this.cleanerCheckpointValue = this.logStart;
    if (this.recoveryPointValue < this.logStart) this.recoveryPointValue = this.logStart;
  }

  /** Forgets producers idle longer than producer.id.expiration.ms. */
  removeExpiredProducers(): number {
    if (this.closed) return 0;
    return this.producers.removeExpired(this.clock.nowMs(), this.configValue.producerIdExpirationMs);
  }

  // ---- compaction ----------------------------------------------------------------------------------------

  /** Fraction of cleanable bytes not yet compacted (the scheduler compares it with min.cleanable.dirty.ratio). */
  get dirtyRatio(): number {
    let clean = 0;
    let dirty = 0;
    for (let i = 0; i < this.segments.length - 1; i++) {
      const s = this.segments[i];
      const next = this.segments[i + 1];
      if (s === undefined || next === undefined) break;
      if (next.baseOffset > this.hw) break;
      if (next.baseOffset <= this.cleanerCheckpointValue) clean += s.sizeBytes;
      else dirty += s.sizeBytes;
    }
    return clean + dirty === 0 ? 0 : dirty / (clean + dirty);
  }

  /**
   * One compaction pass (cleanup.policy=compact) over the non-active segments below the high watermark, in
   * bounded async steps. Appends and reads continue meanwhile. Returns what it did; a pass that found the log
   * changed under it (truncation, retention) aborts cleanly and reports `aborted`.
   */
  compact(): Promise<CompactionResult> {
    this.checkWritable();
    if (this.compaction !== null) return this.compaction;
    this.compactionAbort = false;
    const run = compactLog(this.cleanerView())
      .catch((err: unknown) => {
        // Failures before the swap leave the log as it was (replaceSegments takes it offline itself when the
        // swap fails); a broken invariant means the log's state is unknown.
        const error = isLogError(err) ? err : new LogError('LOG_IO', `${this.name}: compaction failed: ${String(err)}`, { cause: err });
        if (error.code === 'LOG_INVARIANT') this.markOffline(error);
        throw error;
      })
      .finally(() => {
        this.compaction = null;
      });
    this.compaction = run;
    return run;
  }

  private cleanerView(): CleanableLog {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the cleaner reads live fields through closures
    const log = this;
    return {
      name: this.name,
      dir: this.dir,
      fs: this.fs,
      clock: this.clock,
      logger: this.logger,
      get config() {
        return log.configValue;
      },
      get segments() {
        return log.segments;
      },
      get highWatermark() {
        return log.hw;
      },
      get logStartOffset() {
        return log.logStart;
      },
      get cleanerCheckpoint() {
        return log.cleanerCheckpointValue;
      },
      get tombstoneHorizonMs() {
        return log.nextDeleteHorizonMs;
      },
      get aborted() {
        return log.compactionAbort || log.closed || log.failure !== null;
      },
      isLastBatchOfProducer: (producerId, lastOffset) => log.producers.isLastBatchOf(producerId, lastOffset),
      replaceSegments: (oldSegments, cleaned) => log.replaceSegments(oldSegments, cleaned),
      setCleanerCheckpoint: (offset, nextHorizonMs) => {
        if (offset > log.cleanerCheckpointValue) log.cleanerCheckpointValue = offset > log.logEnd ? log.logEnd : offset;
        log.nextDeleteHorizonMs = nextHorizonMs;
      },
    };
  }

  /**
   * The synchronous swap of compaction (DESIGN.md): `cleaned` (suffix .cleaned, fsynced) replaces
   * `oldSegments`, consecutive live segments. Commit point: the rename of its .log to .log.swap.
   */
  private replaceSegments(oldSegments: readonly LogSegment[], cleaned: LogSegment): void {
    const first = oldSegments[0];
    invariant(first !== undefined && first.baseOffset === cleaned.baseOffset, 'compaction swap must keep the first base offset');
    const at = this.segments.indexOf(first);
    invariant(at >= 0, 'compacted segments are no longer in the log');
    oldSegments.forEach((s, i) => invariant(this.segments[at + i] === s && !s.deleted, 'compacted segments changed during the swap'));
    invariant(at + oldSegments.length < this.segments.length, 'compaction must not replace the active segment');
    try {
      cleaned.changeSuffix('.swap');
      this.fs.syncDir(this.dir);
      this.segments.splice(at, oldSegments.length, cleaned);
      for (const s of oldSegments) s.delete();
      cleaned.changeSuffix('');
      this.fs.syncDir(this.dir);
    } catch (err) {
      // Past the commit point the directory is in an intermediate state that only a reload resolves.
      const error = isLogError(err) ? err : new LogError('LOG_IO', String(err), { cause: err });
      this.markOffline(error);
      throw error;
    }
    this.checkInvariants();
  }

  // ---- durability ----------------------------------------------------------------------------------------

  /**
   * fsyncs every segment holding data below `upTo` (default: the log end) that is not yet durable, persists
   * their indexes and the epoch checkpoint, and advances the recovery point. A failure takes the log offline.
   * Flushes run one at a time: a flush queued behind another only syncs what that one did not cover, so a burst
   * of rolls does not fsync the same segments over and over.
   */
  flush(upTo?: bigint): Promise<void> {
    this.checkOpen();
    return this.enqueueFlush(upTo);
  }

  private enqueueFlush(upTo: bigint | undefined): Promise<void> {
    const run = this.flushChain.then(() => this.flushNow(upTo));
    this.flushChain = run.catch(() => undefined);
    return run;
  }

  private async flushNow(upTo: bigint | undefined): Promise<void> {
    if (this.closed) return;
    if (this.failure !== null) throw this.failure;
    const target = upTo === undefined || upTo > this.logEnd ? this.logEnd : upTo;
    const unflushedAtStart = this.unflushedRecords;
    if (target <= this.recoveryPointValue && !this.epochCacheUnsynced) return;
    const toFlush = this.segments.filter((s, i) => {
      const next = this.segments[i + 1];
      return s.baseOffset < target && (next === undefined || next.baseOffset > this.recoveryPointValue);
    });
    try {
      for (const s of toFlush) await s.flush();
      if (this.epochCacheUnsynced) this.persistEpochCache(this.epochCache, true);
    } catch (err) {
      const error = isLogError(err) ? err : new LogError('LOG_IO', String(err), { cause: err });
      this.markOffline(error);
      throw error;
    }
    if (target > this.recoveryPointValue && target <= this.logEnd) this.recoveryPointValue = target;
    this.unflushedRecords = Math.max(0, this.unflushedRecords - unflushedAtStart);
    this.lastFlushMs = this.clock.nowMs();
  }

  /** flush.ms: flushes when the last flush is older than the config allows. */
  async flushIfDue(): Promise<void> {
    if (this.closed || this.failure !== null) return;
    if (this.clock.nowMs() - this.lastFlushMs >= this.configValue.flushMs && this.logEnd > this.recoveryPointValue) await this.flush();
  }

  /** A tracked background flush: never rejects (the failure takes the log offline instead). */
  private flushTracked(upTo?: bigint): Promise<LogError | null> {
    const p = this.enqueueFlush(upTo).then(
      () => null,
      (err: unknown) => (isLogError(err) ? err : new LogError('LOG_IO', String(err), { cause: err })),
    );
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
    return p;
  }

  /** Writes a producer snapshot at the log end (also done at roll and close). */
  takeProducerSnapshot(fsync = true): bigint {
    this.checkOpen();
    this.producers.mapEndOffset = this.logEnd;
    return writeSnapshot(this.fs, this.dir, this.producers, fsync);
  }

  private persistEpochCache(cache: LeaderEpochCache, fsync: boolean): void {
    this.fs.writeFileAtomic(`${this.dir}/${LEADER_EPOCH_CHECKPOINT_FILE}`, formatEpochCheckpoint(cache.entries), { fsync });
    this.epochCacheUnsynced = !fsync;
  }

  // ---- lifecycle -----------------------------------------------------------------------------------------

  /**
   * Stops background work, flushes everything, writes the producer snapshot and closes the files. After a
   * failure only closes (nothing more is written).
   */
  async close(): Promise<void> {
    if (this.closed || this.closing) return;
    this.closing = true;
    this.compactionAbort = true;
    try {
      if (this.compaction !== null) await this.compaction.catch(() => undefined);
      await Promise.all([...this.background]);
      if (this.failure === null) {
        await this.enqueueFlush(undefined);
        this.producers.mapEndOffset = this.logEnd;
        writeSnapshot(this.fs, this.dir, this.producers, true);
        deleteSnapshotsBelow(this.fs, this.dir, this.segments[0]?.baseOffset ?? 0n);
      }
    } finally {
      this.closed = true;
      for (const s of this.segments) {
        if (this.failure === null) s.close();
        else s.closeQuietly();
      }
    }
  }

  /** Closes without flushing (the directory is about to be deleted). */
  async closeForDeletion(): Promise<void> {
    if (this.closed || this.closing) return;
    this.closing = true;
    this.compactionAbort = true;
    if (this.compaction !== null) await this.compaction.catch(() => undefined);
    await Promise.all([...this.background]);
    await this.flushChain;
    this.closed = true;
    for (const s of this.segments) s.closeQuietly();
  }

  /**
   * Simulates a process crash for tests and tooling: drops every handle without persisting anything more.
   * The directory is left exactly as the page cache holds it.
   */
  abandon(): void {
    this.closed = true;
    this.closing = true;
    this.compactionAbort = true;
    for (const s of this.segments) s.closeQuietly();
  }

  // ---- internals -----------------------------------------------------------------------------------------

  private get name(): string {
    return `${this.topicPartition.topic}-${this.topicPartition.partition}`;
  }

  private get fields(): object {
    return { topic: this.topicPartition.topic, partition: this.topicPartition.partition };
  }

  private checkOpen(): void {
    if (this.closed || this.closing) throw new LogError('LOG_CLOSED', `${this.name}: the log is closed`);
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.failure !== null) throw this.failure;
  }

  private markOffline(cause: LogError): void {
    if (this.failure !== null) return;
    this.failure = new LogError('LOG_OFFLINE', `${this.name}: offline after ${cause.code}: ${cause.message}`, {
      ...(cause.path === null ? {} : { path: cause.path }),
      cause,
    });
    this.logger.warn({ ...this.fields, error: cause.message, code: cause.code }, 'log is offline after an I/O failure');
    this.onOffline?.(this.failure);
  }

  /**
   * Runs a multi-step change of the directory (deleting or truncating segments). If it fails part-way, memory
   * and disk disagree (e.g. truncated data still on disk), so the log goes offline until a reload sorts it out.
   */
  private offlineOnFailure<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      const error = isLogError(err) ? err : new LogError('LOG_IO', String(err), { cause: err });
      this.markOffline(error);
      throw error;
    }
  }

  /** The offset invariants from the module comment; on in production (they are cheap). */
  private checkInvariants(): void {
    const first = this.segments[0];
    invariant(first !== undefined, 'log has no segment');
    invariant(first.baseOffset <= this.logStart || this.segments.length === 1, () => `${this.name}: first segment ${first.baseOffset} above log start ${this.logStart}`);
    invariant(this.logStart <= this.hw, () => `${this.name}: log start ${this.logStart} above high watermark ${this.hw}`);
    invariant(this.hw <= this.logEnd, () => `${this.name}: high watermark ${this.hw} above log end ${this.logEnd}`);
    invariant(this.recoveryPointValue <= this.logEnd, () => `${this.name}: recovery point ${this.recoveryPointValue} above log end ${this.logEnd}`);
    invariant(this.activeSegment.baseOffset <= this.logEnd, () => `${this.name}: active segment starts beyond the log end`);
  }
}

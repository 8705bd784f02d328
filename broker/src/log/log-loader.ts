/**
 * Opening a partition directory: leftover cleanup, completion of an interrupted compaction swap, recovery
 * after an unclean stop, and rebuilding of the leader epoch cache and producer state. DESIGN.md explains the
 * rules; the steps, in order:
 *
 *   1. delete *.tmp, *.deleted and *.cleaned files (work that never reached its commit point);
 *   2. complete every `<base>.log.swap` (the commit point of a compaction): rescan it, delete the live
 *      segments it replaces (bases in [base, swap end)), rename it to `.log`;
 *   3. delete orphan index files, open the segments (creating one at the log start if there are none);
 *   4. load leader-epoch-checkpoint (a corrupt one is rebuilt from batch headers);
 *   5. without the clean-shutdown marker: rescan every segment from the one holding the recovery point,
 *      checking CRC and offsets, rebuilding indexes and epochs, truncating at the first bad byte and deleting
 *      every later segment. With the marker: trust the indexes, only check the active segment's tail;
 *   6. log start = max(checkpoint, first segment base); truncate the epoch cache to [log start, log end);
 *   7. producer state: newest valid snapshot <= log end, then replay batch headers from there.
 */
import { readLastOffset, readLeaderEpoch, readBaseOffset } from '../protocol/records/batch-header.ts';
import type { Clock } from './clock.ts';
import { parseEpochCheckpoint } from './checkpoint-file.ts';
import type { LogConfig } from './config.ts';
import { LogError, invariant, isLogError } from './errors.ts';
import {
  CLEANED_FILE_SUFFIX,
  DELETED_FILE_SUFFIX,
  INDEX_FILE_SUFFIX,
  LEADER_EPOCH_CHECKPOINT_FILE,
  LOG_FILE_SUFFIX,
  SWAP_FILE_SUFFIX,
  TEMP_FILE_SUFFIX,
  TIME_INDEX_FILE_SUFFIX,
  offsetFileName,
  parseOffsetFileName,
  type TopicPartition,
} from './file-names.ts';
import { LeaderEpochCache } from './leader-epoch-cache.ts';
import type { LogLogger, RecoveryProgress } from './log-events.ts';
import type { LogFs } from './log-fs.ts';
import { ProducerStateManager, deleteSnapshotsAbove, loadLatestSnapshot } from './producer-state.ts';
import { LogSegment, type SegmentParams } from './segment.ts';

export interface LoadParams {
  readonly dir: string;
  readonly topicPartition: TopicPartition;
  readonly config: LogConfig;
  readonly clock: Clock;
  readonly fs: LogFs;
  readonly logger: LogLogger;
  readonly recoveryPoint: bigint;
  readonly logStartOffset: bigint;
  readonly hadCleanShutdown: boolean;
  readonly onRecoveryProgress?: (progress: RecoveryProgress) => void;
}

export interface LoadedLog {
  readonly segments: LogSegment[];
  readonly logStartOffset: bigint;
  readonly logEndOffset: bigint;
  readonly recoveryPoint: bigint;
  readonly epochCache: LeaderEpochCache;
  /** The epoch cache differs from its file and must be written. */
  readonly epochCacheDirty: boolean;
  readonly producerState: ProducerStateManager;
  /** Bytes cut off by recovery (0 after a clean load). */
  readonly truncatedBytes: number;
}

export const segmentParams = (p: Pick<LoadParams, 'dir' | 'config' | 'clock' | 'fs'>, baseOffset: bigint, suffix = ''): SegmentParams => ({
  fs: p.fs,
  clock: p.clock,
  dir: p.dir,
  baseOffset,
  indexIntervalBytes: p.config.indexIntervalBytes,
  maxIndexBytes: p.config.segmentIndexBytes,
  suffix,
});

/** Index of the last segment with base <= offset (0 when offset precedes them all). */
export function floorSegmentIndex(segments: readonly LogSegment[], offset: bigint): number {
  let lo = 0;
  let hi = segments.length - 1;
  if (hi < 0 || (segments[0]?.baseOffset ?? 0n) > offset) return 0;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if ((segments[mid]?.baseOffset ?? 0n) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function removeSegmentFiles(fs: LogFs, dir: string, base: bigint): void {
  for (const suffix of [LOG_FILE_SUFFIX, INDEX_FILE_SUFFIX, TIME_INDEX_FILE_SUFFIX]) fs.unlinkIfExists(`${dir}/${offsetFileName(base, suffix)}`);
}

export async function loadLog(p: LoadParams): Promise<LoadedLog> {
  const { fs, dir, logger } = p;
  fs.mkdir(dir);
  const fields = { topic: p.topicPartition.topic, partition: p.topicPartition.partition, dir };

  // 1. Work that never reached its commit point.
  for (const name of fs.readdir(dir)) {
    if (name.endsWith(TEMP_FILE_SUFFIX) || name.endsWith(DELETED_FILE_SUFFIX) || name.endsWith(CLEANED_FILE_SUFFIX)) {
      fs.unlinkIfExists(`${dir}/${name}`);
    }
  }

  // 2. Compaction swaps past their commit point: finish them.
  const names = fs.readdir(dir);
  const liveBases = names
    .map(parseOffsetFileName)
    .filter((f) => f !== null && f.suffix === LOG_FILE_SUFFIX)
    .map((f) => (f as { offset: bigint }).offset);
  const swaps = names
    .map(parseOffsetFileName)
    .filter((f) => f !== null && f.suffix === LOG_FILE_SUFFIX + SWAP_FILE_SUFFIX)
    .map((f) => (f as { offset: bigint }).offset)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const base of swaps) {
    const swap = LogSegment.open(segmentParams(p, base, SWAP_FILE_SUFFIX));
    const outcome = swap.recover(base, () => undefined);
    for (const live of liveBases) {
      if (live >= base && live < outcome.nextOffset) removeSegmentFiles(fs, dir, live);
    }
    swap.changeSuffix('');
    swap.close();
    logger.info({ ...fields, baseOffset: base.toString() }, 'completed an interrupted compaction swap');
  }
  for (const name of fs.readdir(dir)) if (name.endsWith(SWAP_FILE_SUFFIX)) fs.unlinkIfExists(`${dir}/${name}`);
  if (swaps.length > 0) fs.syncDir(dir);

  // 3. Segments.
  const files = fs.readdir(dir).map(parseOffsetFileName).filter((f) => f !== null);
  const bases = files.filter((f) => f.suffix === LOG_FILE_SUFFIX).map((f) => f.offset);
  bases.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const baseSet = new Set(bases);
  for (const f of files) {
    if ((f.suffix === INDEX_FILE_SUFFIX || f.suffix === TIME_INDEX_FILE_SUFFIX) && !baseSet.has(f.offset)) {
      fs.unlinkIfExists(`${dir}/${offsetFileName(f.offset, f.suffix)}`);
    }
  }
  const segments: LogSegment[] = [];
  try {
    for (const base of bases) segments.push(LogSegment.open(segmentParams(p, base)));
    if (segments.length === 0) segments.push(LogSegment.create(segmentParams(p, p.logStartOffset)));
  } catch (err) {
    for (const s of segments) s.closeQuietly();
    throw err;
  }

  try {
    return await recoverAndRebuild(p, segments, fields);
  } catch (err) {
    for (const s of segments) s.closeQuietly();
    throw err;
  }
}

async function recoverAndRebuild(p: LoadParams, segments: LogSegment[], fields: object): Promise<LoadedLog> {
  const { fs, dir, logger } = p;
  // 4. Leader epochs (assigned again below for every rescanned batch).
  const epochPath = `${dir}/${LEADER_EPOCH_CHECKPOINT_FILE}`;
  let epochCache = new LeaderEpochCache();
  let rebuildEpochs = false;
  let epochCacheDirty = false;
  if (fs.stat(epochPath) !== null) {
    try {
      epochCache = new LeaderEpochCache(parseEpochCheckpoint(fs.readFile(epochPath), epochPath));
    } catch (err) {
      if (!isLogError(err, 'LOG_CORRUPT_FILE')) throw err;
      logger.warn({ ...fields, error: err.message }, 'leader epoch checkpoint is corrupt; rebuilding it from the log');
      rebuildEpochs = true;
    }
  }
  const assignEpoch = (buf: Buffer, at: number): void => {
    if (epochCache.assign(readLeaderEpoch(buf, at), readBaseOffset(buf, at))) epochCacheDirty = true;
  };

  // 5. Recovery.
  let truncatedBytes = 0;
  const recovered: LogSegment[] = [];
  const recoverFrom = (first: number): void => {
    const total = segments.length - first;
    const bytesTotal = segments.slice(first).reduce((n, s) => n + s.sizeBytes, 0);
    let bytesDone = 0;
    for (let i = first; i < segments.length; i++) {
      const segment = segments[i];
      invariant(segment !== undefined, 'segment index out of range');
      const report = (bytes: number): void =>
        p.onRecoveryProgress?.({
          topicPartition: p.topicPartition,
          segmentBaseOffset: segment.baseOffset,
          segmentsDone: i - first,
          segmentsTotal: total,
          bytesDone: bytesDone + bytes,
          bytesTotal,
        });
      report(0);
      const outcome = segment.recover(segment.baseOffset, assignEpoch, report);
      bytesDone += outcome.validBytes;
      recovered.push(segment);
      const next = segments[i + 1];
      const overlap = next !== undefined && outcome.nextOffset > next.baseOffset;
      if (outcome.truncation !== null || overlap) {
        const dropped = segments.splice(i + 1);
        for (const s of dropped) {
          truncatedBytes += s.sizeBytes;
          s.delete();
        }
        if (outcome.truncation !== null) truncatedBytes += outcome.truncation.bytesTruncated;
        logger.warn(
          {
            ...fields,
            file: segment.logPath,
            position: outcome.truncation?.position ?? outcome.validBytes,
            reason: outcome.truncation?.reason ?? `offsets overlap the next segment ${next?.baseOffset ?? ''}`,
            bytesTruncated: outcome.truncation?.bytesTruncated ?? 0,
            segmentsDeleted: dropped.length,
          },
          'recovery truncated the log at the first bad byte',
        );
        break;
      }
    }
    p.onRecoveryProgress?.({
      topicPartition: p.topicPartition,
      segmentBaseOffset: segments.at(-1)?.baseOffset ?? 0n,
      segmentsDone: total,
      segmentsTotal: total,
      bytesDone,
      bytesTotal,
    });
  };

  if (!p.hadCleanShutdown) {
    recoverFrom(floorSegmentIndex(segments, p.recoveryPoint));
  } else {
    // Trust the indexes, but a tail that does not parse still gets recovered rather than served.
    const last = segments.length - 1;
    try {
      void segments[last]?.nextOffset;
    } catch (err) {
      if (!isLogError(err, 'LOG_CORRUPT_FILE')) throw err;
      logger.warn({ ...fields, error: err.message }, 'active segment tail is corrupt despite a clean shutdown; recovering it');
      recoverFrom(last);
    }
  }
  if (rebuildEpochs) {
    epochCache = new LeaderEpochCache();
    for (const s of segments) scanHeaders(s, 0, assignEpoch);
    epochCacheDirty = true;
  }

  // 6. Offsets.
  const active = segments.at(-1);
  invariant(active !== undefined, 'a log has at least one segment');
  let logEndOffset = active.nextOffset;
  const firstBase = segments[0]?.baseOffset ?? 0n;
  const logStartOffset = p.logStartOffset > firstBase ? p.logStartOffset : firstBase;
  if (logStartOffset > logEndOffset) {
    // Everything below the checkpointed log start is deleted anyway, and what followed it was lost: start
    // an empty log there (Kafka does the same).
    logger.warn({ ...fields, logStartOffset: logStartOffset.toString(), logEndOffset: logEndOffset.toString() }, 'log end fell below the log start; starting empty at the log start');
    for (const s of segments.splice(0)) s.delete();
    segments.push(LogSegment.create(segmentParams(p, logStartOffset)));
    logEndOffset = logStartOffset;
    epochCacheDirty = epochCache.clear() || epochCacheDirty;
    deleteSnapshotsAbove(fs, dir, -1n);
  }
  if (epochCache.truncateFromEnd(logEndOffset)) epochCacheDirty = true;
  if (epochCache.truncateFromStart(logStartOffset)) epochCacheDirty = true;

  // 7. Producer state.
  deleteSnapshotsAbove(fs, dir, logEndOffset);
  const producerState = new ProducerStateManager(logStartOffset);
  rebuildProducerState(fs, dir, segments, producerState, logEndOffset, (err) => logger.warn({ ...fields, error: err.message }, 'producer snapshot is corrupt'));

  // Recovered bytes may still sit only in the page cache (the crash may have been the process, not the host).
  for (const s of recovered) if (s.isOpen) await s.flush();
  if (recovered.length > 0) fs.syncDir(dir);

  return {
    segments,
    logStartOffset,
    logEndOffset,
    recoveryPoint: logEndOffset,
    epochCache,
    epochCacheDirty,
    producerState,
    truncatedBytes,
  };
}

/** Visits every batch header of `segment` from `position` on. */
export function scanHeaders(segment: LogSegment, position: number, visit: (buf: Buffer, at: number) => void): void {
  const reader = segment.openReader(position, 64 * 1024);
  for (;;) {
    const step = reader.next(false);
    if (step.kind === 'end') return;
    if (step.kind === 'bad') {
      throw new LogError('LOG_CORRUPT_FILE', `${segment.logPath}: ${step.reason} at position ${step.position}`, {
        path: segment.logPath,
        position: step.position,
      });
    }
    visit(step.buf, step.at);
  }
}

/**
 * Loads the newest snapshot at or below `endOffset` and replays the batch headers after it (Kafka:
 * rebuildProducerState). Without a snapshot, replays from the first segment.
 */
export function rebuildProducerState(
  fs: LogFs,
  dir: string,
  segments: readonly LogSegment[],
  state: ProducerStateManager,
  endOffset: bigint,
  onCorrupt: (err: LogError) => void,
): void {
  const firstBase = segments[0]?.baseOffset ?? 0n;
  state.clear(firstBase);
  const snapshot = loadLatestSnapshot(fs, dir, state, endOffset, onCorrupt);
  let from = snapshot ?? firstBase;
  if (from < firstBase) from = firstBase;
  for (let i = floorSegmentIndex(segments, from); i < segments.length; i++) {
    const segment = segments[i];
    if (segment === undefined || segment.baseOffset >= endOffset) break;
    const start = segment.baseOffset >= from ? 0 : (segment.translateOffset(from)?.position ?? segment.sizeBytes);
    scanHeaders(segment, start, (buf, at) => {
      if (readLastOffset(buf, at) < endOffset) state.onBatch(buf, at);
    });
  }
  if (state.mapEndOffset < endOffset) state.mapEndOffset = endOffset;
}

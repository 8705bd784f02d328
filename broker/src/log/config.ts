/**
 * Per-log configuration: Kafka's topic-level log configs (names camel-cased, unit last), plus the broker-level
 * cleaner limits that bound compaction's memory and step size.
 *
 * Kafka's "Long.MAX_VALUE means never" (flush.messages, flush.ms) is written as Infinity here.
 */
import { LogError } from './errors.ts';

export type CleanupPolicy = 'delete' | 'compact';

export interface LogConfig {
  /** segment.bytes: roll when the active segment would exceed this. */
  readonly segmentBytes: number;
  /** segment.ms: roll when the active segment's first record is this old (by record time). */
  readonly segmentMs: number;
  /** segment.index.bytes: the offset and time indexes roll the segment once they hold this many bytes. */
  readonly segmentIndexBytes: number;
  /** index.interval.bytes: bytes of batches between two sparse index entries. */
  readonly indexIntervalBytes: number;
  /** retention.ms: delete segments whose newest record is older than this; -1 keeps forever. */
  readonly retentionMs: number;
  /** retention.bytes: delete oldest segments while the log is larger than this; -1 disables. */
  readonly retentionBytes: number;
  /** cleanup.policy: any of delete, compact. */
  readonly cleanupPolicy: readonly CleanupPolicy[];
  /** delete.retention.ms: how long compaction keeps tombstones after it first sees them (KIP-534 horizon). */
  readonly deleteRetentionMs: number;
  /** min.compaction.lag.ms: records younger than this are not compacted. */
  readonly minCompactionLagMs: number;
  /** min.cleanable.dirty.ratio: dirty bytes / cleanable bytes needed before the scheduler compacts. */
  readonly minCleanableDirtyRatio: number;
  /** flush.messages: fsync after this many records since the last flush (Infinity: never, Kafka's default). */
  readonly flushMessages: number;
  /** flush.ms: fsync when the last flush is this old (Infinity: never). */
  readonly flushMs: number;
  /** producer.id.expiration.ms: forget idle producers after this. */
  readonly producerIdExpirationMs: number;
  /** Broker level (log.cleaner.dedupe.buffer.size): key bytes the compaction offset map may hold. */
  readonly cleanerKeyBytesMax: number;
  /** Broker level: bytes compaction processes before yielding to the event loop. */
  readonly cleanerStepBytes: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;
export const INT32_MAX = 2 ** 31 - 1;

export const DEFAULT_LOG_CONFIG: LogConfig = {
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * DAY_MS,
  segmentIndexBytes: 10 * 1024 * 1024,
  indexIntervalBytes: 4096,
  retentionMs: 7 * DAY_MS,
  retentionBytes: -1,
  cleanupPolicy: ['delete'],
  deleteRetentionMs: DAY_MS,
  minCompactionLagMs: 0,
  minCleanableDirtyRatio: 0.5,
  flushMessages: Infinity,
  flushMs: Infinity,
  producerIdExpirationMs: DAY_MS,
  cleanerKeyBytesMax: 128 * 1024 * 1024,
  cleanerStepBytes: 1024 * 1024,
};

/**
 * Largest record batch the storage layer accepts when scanning a file. It is a structural bound (the
 * broker's socket.request.max.bytes default), not max.message.bytes: lowering a topic's max.message.bytes
 * must not make already-stored batches look corrupt.
 */
export const RECORD_BATCH_BYTES_MAX = 100 * 1024 * 1024;

function check(condition: boolean, name: string, value: unknown, rule: string): void {
  if (!condition) throw new LogError('LOG_INVALID_CONFIG', `${name}=${String(value)} must be ${rule}`);
}

/** Merges overrides over the defaults and validates every field. */
export function resolveLogConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  const c: LogConfig = { ...DEFAULT_LOG_CONFIG, ...overrides };
  const isInt = (v: number): boolean => Number.isSafeInteger(v);
  check(isInt(c.segmentBytes) && c.segmentBytes >= 1 && c.segmentBytes <= INT32_MAX, 'segmentBytes', c.segmentBytes, 'in [1, 2^31-1]');
  check(isInt(c.segmentMs) && c.segmentMs >= 1, 'segmentMs', c.segmentMs, '>= 1');
  check(isInt(c.segmentIndexBytes) && c.segmentIndexBytes >= 12 && c.segmentIndexBytes <= INT32_MAX, 'segmentIndexBytes', c.segmentIndexBytes, 'in [12, 2^31-1]');
  check(isInt(c.indexIntervalBytes) && c.indexIntervalBytes >= 0, 'indexIntervalBytes', c.indexIntervalBytes, '>= 0');
  check(isInt(c.retentionMs) && c.retentionMs >= -1, 'retentionMs', c.retentionMs, '>= -1');
  check(isInt(c.retentionBytes) && c.retentionBytes >= -1, 'retentionBytes', c.retentionBytes, '>= -1');
  check(
    c.cleanupPolicy.every((p) => p === 'delete' || p === 'compact'),
    'cleanupPolicy',
    c.cleanupPolicy.join(','),
    'a list of delete, compact',
  );
  check(isInt(c.deleteRetentionMs) && c.deleteRetentionMs >= 0, 'deleteRetentionMs', c.deleteRetentionMs, '>= 0');
  check(isInt(c.minCompactionLagMs) && c.minCompactionLagMs >= 0, 'minCompactionLagMs', c.minCompactionLagMs, '>= 0');
  check(c.minCleanableDirtyRatio >= 0 && c.minCleanableDirtyRatio <= 1, 'minCleanableDirtyRatio', c.minCleanableDirtyRatio, 'in [0, 1]');
  check(c.flushMessages === Infinity || (isInt(c.flushMessages) && c.flushMessages >= 1), 'flushMessages', c.flushMessages, '>= 1 or Infinity');
  check(c.flushMs === Infinity || (isInt(c.flushMs) && c.flushMs >= 0), 'flushMs', c.flushMs, '>= 0 or Infinity');
  check(isInt(c.producerIdExpirationMs) && c.producerIdExpirationMs >= 1, 'producerIdExpirationMs', c.producerIdExpirationMs, '>= 1');
  check(isInt(c.cleanerKeyBytesMax) && c.cleanerKeyBytesMax >= 1024, 'cleanerKeyBytesMax', c.cleanerKeyBytesMax, '>= 1024');
  check(isInt(c.cleanerStepBytes) && c.cleanerStepBytes >= 1, 'cleanerStepBytes', c.cleanerStepBytes, '>= 1');
  return c;
}

export const hasCleanupPolicy = (config: LogConfig, policy: CleanupPolicy): boolean => config.cleanupPolicy.includes(policy);

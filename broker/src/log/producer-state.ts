/**
 * Idempotent-producer state of one partition (Kafka's ProducerStateManager, KIP-98/KIP-360):
 * per producer id the epoch and the metadata of its last 5 batches (Kafka's NUM_BATCHES_TO_RETAIN, the
 * producer's max.in.flight.requests.per.connection bound), so a retried batch is answered with its ORIGINAL
 * offsets and a gap or a fenced epoch is refused.
 *
 * `check` is what the broker calls BEFORE appending a client's batches; it never mutates state. The log calls
 * `onBatch` for every batch it appends (leader, follower, recovery replay), without checks, as Kafka does for
 * replication-origin appends.
 *
 * Snapshots `<offset>.snapshot` hold the state as of that offset (every batch below it applied):
 *   Version int16 (=101, Millrace's: Kafka's v1 keeps only the last batch) | Crc uint32 (CRC32C of the rest) |
 *   ProducerCount int32 | per producer: ProducerId int64 | Epoch int16 | CoordinatorEpoch int32 |
 *   LastTimestamp int64 | BatchCount int8 | per batch: FirstSeq int32 | LastSeq int32 | FirstOffset int64 |
 *   LastOffset int64 | Timestamp int64
 * A snapshot failing its checks is deleted and an older one (or a replay from the log) takes its place.
 */
import { crc32c } from '@node-rs/crc32';
import {
  NO_PRODUCER_EPOCH,
  NO_SEQUENCE,
  isControlBatch,
  readAttributes,
  readBaseOffset,
  readBaseSequence,
  readBatchSizeBytes,
  readLastOffset,
  readLastOffsetDelta,
  readMaxTimestamp,
  readProducerEpoch,
  readProducerId,
} from '../protocol/records/batch-header.ts';
import {
  KAFKA_ERROR_INVALID_PRODUCER_EPOCH,
  KAFKA_ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER,
  LogError,
  invariant,
} from './errors.ts';
import { SNAPSHOT_FILE_SUFFIX, offsetFileName, parseOffsetFileName } from './file-names.ts';
import type { LogFs } from './log-fs.ts';

/** Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN. */
export const PRODUCER_BATCHES_RETAINED = 5;
export const SNAPSHOT_VERSION = 101;
/** Bound on producers read from one snapshot file (a corrupt count must not drive allocation). */
export const SNAPSHOT_PRODUCERS_MAX = 10_000_000;
const INT32_MAX = 0x7fffffff;

export interface ProducerBatch {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
  readonly timestampMs: bigint;
}

export interface ProducerEntry {
  readonly producerId: bigint;
  producerEpoch: number;
  coordinatorEpoch: number;
  lastTimestampMs: bigint;
  /** Oldest first, at most PRODUCER_BATCHES_RETAINED. */
  batches: ProducerBatch[];
}

export type ProducerCheckResult =
  | { readonly kind: 'append' }
  | {
      readonly kind: 'duplicate';
      readonly producerId: bigint;
      readonly firstOffset: bigint;
      readonly lastOffset: bigint;
      readonly timestampMs: bigint;
    }
  | {
      readonly kind: 'error';
      readonly error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' | 'INVALID_PRODUCER_EPOCH';
      readonly kafkaErrorCode: number;
      readonly producerId: bigint;
      readonly message: string;
    };

/** Sequence after adding `increment`, wrapping past INT32_MAX to 0 (Kafka's DefaultRecordBatch.incrementSequence). */
export function incrementSequence(sequence: number, increment: number): number {
  if (sequence > INT32_MAX - increment) return increment - (INT32_MAX - sequence) - 1;
  return sequence + increment;
}

const inSequence = (lastSeq: number, nextSeq: number): boolean =>
  nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === INT32_MAX);

const cloneEntry = (e: ProducerEntry): ProducerEntry => ({ ...e, batches: [...e.batches] });

export class ProducerStateManager {
  private readonly producers = new Map<bigint, ProducerEntry>();
  /** Every batch below this offset has been applied. */
  mapEndOffset: bigint;

  constructor(mapEndOffset = 0n) {
    this.mapEndOffset = mapEndOffset;
  }

  get size(): number {
    return this.producers.size;
  }

  entry(producerId: bigint): ProducerEntry | undefined {
    return this.producers.get(producerId);
  }

  entries(): IterableIterator<ProducerEntry> {
    return this.producers.values();
  }

  /**
   * Checks a client's batches against the state (Kafka: analyzeAndValidateProducerState + checkProducerEpoch +
   * checkSequence). Returns the first duplicate or error, else 'append'. Pure: the state is not modified.
   */
  check(records: Buffer): ProducerCheckResult {
    const pending = new Map<bigint, ProducerEntry>();
    for (let at = 0; at < records.length; at += readBatchSizeBytes(records, at)) {
      const producerId = readProducerId(records, at);
      if (producerId < 0n || isControlBatch(readAttributes(records, at))) continue;
      const epoch = readProducerEpoch(records, at);
      const firstSeq = readBaseSequence(records, at);
      const lastSeq = incrementSequence(firstSeq, readLastOffsetDelta(records, at));
      const committed = this.producers.get(producerId);
      if (committed !== undefined && committed.producerEpoch === epoch) {
        const dup = committed.batches.find((b) => b.firstSeq === firstSeq && b.lastSeq === lastSeq);
        if (dup !== undefined) {
          return { kind: 'duplicate', producerId, firstOffset: dup.firstOffset, lastOffset: dup.lastOffset, timestampMs: dup.timestampMs };
        }
      }
      const current = pending.get(producerId) ?? committed;
      if (current !== undefined && current.producerEpoch !== NO_PRODUCER_EPOCH) {
        if (epoch < current.producerEpoch) {
          return {
            kind: 'error',
            error: 'INVALID_PRODUCER_EPOCH',
            kafkaErrorCode: KAFKA_ERROR_INVALID_PRODUCER_EPOCH,
            producerId,
            message: `epoch ${epoch} of producer ${producerId} is older than the last seen epoch ${current.producerEpoch}`,
          };
        }
        if (epoch !== current.producerEpoch) {
          if (firstSeq !== 0) {
            return {
              kind: 'error',
              error: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
              kafkaErrorCode: KAFKA_ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER,
              producerId,
              message: `new epoch ${epoch} of producer ${producerId} must start at sequence 0, not ${firstSeq}`,
            };
          }
        } else {
          const lastKnown = current.batches.at(-1)?.lastSeq ?? NO_SEQUENCE;
          if (!inSequence(lastKnown, firstSeq)) {
            return {
              kind: 'error',
              error: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
              kafkaErrorCode: KAFKA_ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER,
              producerId,
              message: `producer ${producerId} epoch ${epoch}: sequence ${firstSeq} does not follow ${lastKnown}`,
            };
          }
        }
      }
      // Later batches of the same request are checked against this one.
      const next = current === undefined ? newEntry(producerId) : cloneEntry(current);
      applyBatch(next, records, at);
      pending.set(producerId, next);
    }
    return { kind: 'append' };
  }

  /** Applies an appended batch (no checks: the log holds it now). */
  onBatch(buf: Buffer, at: number): void {
    const lastOffset = readLastOffset(buf, at);
    const producerId = readProducerId(buf, at);
    if (producerId >= 0n) {
      let entry = this.producers.get(producerId);
      if (entry === undefined) {
        entry = newEntry(producerId);
        this.producers.set(producerId, entry);
      }
      applyBatch(entry, buf, at);
    }
    if (lastOffset + 1n > this.mapEndOffset) this.mapEndOffset = lastOffset + 1n;
  }

  /** Whether the batch ending at `lastOffset` is the newest batch of `producerId` (compaction keeps it). */
  isLastBatchOf(producerId: bigint, lastOffset: bigint): boolean {
    return this.producers.get(producerId)?.batches.at(-1)?.lastOffset === lastOffset;
  }

  /** Forgets producers idle for `expirationMs` (Kafka: producer.id.expiration.ms, by batch timestamp). */
  removeExpired(nowMs: number, expirationMs: number): number {
    let removed = 0;
    for (const [id, entry] of this.producers) {
      if (BigInt(nowMs) - entry.lastTimestampMs >= BigInt(expirationMs)) {
        this.producers.delete(id);
        removed++;
      }
    }
    return removed;
  }

  clear(mapEndOffset: bigint): void {
    this.producers.clear();
    this.mapEndOffset = mapEndOffset;
  }

  encodeSnapshot(): Buffer {
    let size = 2 + 4 + 4;
    for (const e of this.producers.values()) size += 8 + 2 + 4 + 8 + 1 + e.batches.length * 32;
    const buf = Buffer.alloc(size);
    let at = 0;
    buf.writeInt16BE(SNAPSHOT_VERSION, at);
    at += 2 + 4; // CRC filled below
    buf.writeInt32BE(this.producers.size, at);
    at += 4;
    for (const e of this.producers.values()) {
      buf.writeBigInt64BE(e.producerId, at);
      buf.writeInt16BE(e.producerEpoch, at + 8);
      buf.writeInt32BE(e.coordinatorEpoch, at + 10);
      buf.writeBigInt64BE(e.lastTimestampMs, at + 14);
      buf.writeInt8(e.batches.length, at + 22);
      at += 23;
      for (const b of e.batches) {
        buf.writeInt32BE(b.firstSeq, at);
        buf.writeInt32BE(b.lastSeq, at + 4);
        buf.writeBigInt64BE(b.firstOffset, at + 8);
        buf.writeBigInt64BE(b.lastOffset, at + 16);
        buf.writeBigInt64BE(b.timestampMs, at + 24);
        at += 32;
      }
    }
    invariant(at === size, () => `snapshot encoded ${at} of ${size} bytes`);
    buf.writeUInt32BE(crc32c(buf.subarray(6)) >>> 0, 2);
    return buf;
  }

  /** Replaces the state with a snapshot's; returns a reason instead when the bytes fail a check. */
  loadSnapshot(buf: Buffer, snapshotOffset: bigint): string | null {
    if (buf.length < 10) return `${buf.length} bytes is too short`;
    const version = buf.readInt16BE(0);
    if (version !== SNAPSHOT_VERSION) return `unsupported version ${version}`;
    if ((crc32c(buf.subarray(6)) >>> 0) !== buf.readUInt32BE(2)) return 'CRC mismatch';
    const count = buf.readInt32BE(6);
    if (count < 0 || count > SNAPSHOT_PRODUCERS_MAX) return `producer count ${count} out of range`;
    const parsed = new Map<bigint, ProducerEntry>();
    let at = 10;
    for (let i = 0; i < count; i++) {
      if (at + 23 > buf.length) return `truncated at producer ${i}`;
      const producerId = buf.readBigInt64BE(at);
      const batchCount = buf.readInt8(at + 22);
      if (producerId < 0n || batchCount < 0 || batchCount > PRODUCER_BATCHES_RETAINED) return `producer ${i} malformed`;
      const entry: ProducerEntry = {
        producerId,
        producerEpoch: buf.readInt16BE(at + 8),
        coordinatorEpoch: buf.readInt32BE(at + 10),
        lastTimestampMs: buf.readBigInt64BE(at + 14),
        batches: [],
      };
      at += 23;
      if (at + batchCount * 32 > buf.length) return `truncated in producer ${producerId}`;
      for (let j = 0; j < batchCount; j++) {
        const b: ProducerBatch = {
          firstSeq: buf.readInt32BE(at),
          lastSeq: buf.readInt32BE(at + 4),
          firstOffset: buf.readBigInt64BE(at + 8),
          lastOffset: buf.readBigInt64BE(at + 16),
          timestampMs: buf.readBigInt64BE(at + 24),
        };
        if (b.firstOffset > b.lastOffset || b.lastOffset >= snapshotOffset) return `producer ${producerId} batch ${j} beyond the snapshot offset`;
        entry.batches.push(b);
        at += 32;
      }
      parsed.set(producerId, entry);
    }
    if (at !== buf.length) return `${buf.length - at} trailing bytes`;
    this.producers.clear();
    for (const [id, e] of parsed) this.producers.set(id, e);
    this.mapEndOffset = snapshotOffset;
    return null;
  }
}

function newEntry(producerId: bigint): ProducerEntry {
  return { producerId, producerEpoch: NO_PRODUCER_EPOCH, coordinatorEpoch: -1, lastTimestampMs: -1n, batches: [] };
}

function applyBatch(entry: ProducerEntry, buf: Buffer, at: number): void {
  const epoch = readProducerEpoch(buf, at);
  if (epoch !== entry.producerEpoch) {
    entry.producerEpoch = epoch;
    entry.batches = [];
  }
  const timestampMs = readMaxTimestamp(buf, at);
  entry.lastTimestampMs = timestampMs;
  // Transaction markers move the epoch but are not data batches (no sequence numbers).
  if (isControlBatch(readAttributes(buf, at))) return;
  const firstSeq = readBaseSequence(buf, at);
  const batch: ProducerBatch = {
    firstSeq,
    lastSeq: incrementSequence(firstSeq, readLastOffsetDelta(buf, at)),
    firstOffset: readBaseOffset(buf, at),
    lastOffset: readLastOffset(buf, at),
    timestampMs,
  };
  if (entry.batches.length >= PRODUCER_BATCHES_RETAINED) entry.batches.shift();
  entry.batches.push(batch);
}

// ---- snapshot files ------------------------------------------------------------------------------------------

export function listSnapshotOffsets(fs: LogFs, dir: string): bigint[] {
  const offsets: bigint[] = [];
  for (const name of fs.readdir(dir)) {
    const parsed = parseOffsetFileName(name);
    if (parsed !== null && parsed.suffix === SNAPSHOT_FILE_SUFFIX) offsets.push(parsed.offset);
  }
  return offsets.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export const snapshotPath = (dir: string, offset: bigint): string => `${dir}/${offsetFileName(offset, SNAPSHOT_FILE_SUFFIX)}`;

export function writeSnapshot(fs: LogFs, dir: string, state: ProducerStateManager, fsync: boolean): bigint {
  const offset = state.mapEndOffset;
  fs.writeFileAtomic(snapshotPath(dir, offset), state.encodeSnapshot(), { fsync });
  return offset;
}

/**
 * Loads the newest valid snapshot at or below `maxOffset` into `state`; corrupt ones are deleted (reported
 * through `onCorrupt`). Returns the snapshot offset, or null when none was usable.
 */
export function loadLatestSnapshot(
  fs: LogFs,
  dir: string,
  state: ProducerStateManager,
  maxOffset: bigint,
  onCorrupt: (err: LogError) => void,
): bigint | null {
  const offsets = listSnapshotOffsets(fs, dir).filter((o) => o <= maxOffset);
  for (let i = offsets.length - 1; i >= 0; i--) {
    const offset = offsets[i];
    if (offset === undefined) continue;
    const path = snapshotPath(dir, offset);
    const reason = state.loadSnapshot(fs.readFile(path), offset);
    if (reason === null) return offset;
    onCorrupt(new LogError('LOG_CORRUPT_FILE', `${path}: ${reason}; deleted, falling back to an older snapshot`, { path, offset }));
    fs.unlinkIfExists(path);
  }
  return null;
}

/** Deletes snapshots with offset > `offset` (after a truncation they describe data that is gone). */
export function deleteSnapshotsAbove(fs: LogFs, dir: string, offset: bigint): void {
  for (const o of listSnapshotOffsets(fs, dir)) if (o > offset) fs.unlinkIfExists(snapshotPath(dir, o));
}

/** Deletes snapshots below `offset`, always keeping the newest one. */
export function deleteSnapshotsBelow(fs: LogFs, dir: string, offset: bigint): void {
  const all = listSnapshotOffsets(fs, dir);
  const newest = all.at(-1);
  for (const o of all) if (o < offset && o !== newest) fs.unlinkIfExists(snapshotPath(dir, o));
}

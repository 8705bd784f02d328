/**
 * Sparse time index of one segment: entries (int64 timestamp, int32 relative offset), 12 bytes big-endian,
 * as in Kafka's `.timeindex`.
 *
 * An entry (T, O) says "T is the largest timestamp among records up to the batch whose last offset is O";
 * entries are added only when T grows. So every batch before O's batch has a max timestamp < T, and a search
 * for the first record with timestamp >= target can start at the batch of the largest entry with T <= target.
 */
import { invariant } from './errors.ts';

export const TIME_INDEX_ENTRY_BYTES = 12;
const INITIAL_CAPACITY = 64;
export const NO_TIMESTAMP = -1n;

export interface TimestampOffset {
  readonly timestampMs: bigint;
  readonly offset: bigint;
}

export class TimeIndex {
  readonly baseOffset: bigint;
  readonly maxEntries: number;
  private timestamps: BigInt64Array;
  private relativeOffsets: Int32Array;
  private count = 0;
  persistedCount = 0;
  /** Entries the index file holds (-1: no file written yet); differs from `entries` after a truncation. */
  fileEntries = -1;

  constructor(baseOffset: bigint, maxIndexBytes: number) {
    this.baseOffset = baseOffset;
    this.maxEntries = Math.floor(maxIndexBytes / TIME_INDEX_ENTRY_BYTES);
    invariant(this.maxEntries >= 1, () => `time index capacity ${maxIndexBytes} bytes holds no entry`);
    const capacity = Math.min(INITIAL_CAPACITY, this.maxEntries);
    this.timestamps = new BigInt64Array(capacity);
    this.relativeOffsets = new Int32Array(capacity);
  }

  get entries(): number {
    return this.count;
  }

  get isFull(): boolean {
    return this.count >= this.maxEntries;
  }

  entry(i: number): TimestampOffset {
    invariant(i >= 0 && i < this.count, () => `time index entry ${i} out of [0, ${this.count})`);
    return { timestampMs: this.timestamps[i] ?? NO_TIMESTAMP, offset: this.baseOffset + BigInt(this.relativeOffsets[i] ?? 0) };
  }

  lastEntry(): TimestampOffset {
    return this.count === 0 ? { timestampMs: NO_TIMESTAMP, offset: this.baseOffset } : this.entry(this.count - 1);
  }

  /** Appends when `timestampMs` exceeds the last entry's; a full index ignores the entry (see OffsetIndex.append). */
  maybeAppend(timestampMs: bigint, offset: bigint): boolean {
    if (this.isFull) return false;
    const last = this.lastEntry();
    if (this.count > 0 && timestampMs <= last.timestampMs) return false;
    if (timestampMs < 0n) return false;
    invariant(this.count === 0 || offset >= last.offset, () => `time index offset ${offset} goes back from ${last.offset}`);
    const relative = offset - this.baseOffset;
    invariant(relative >= 0n && relative <= 0x7fffffffn, () => `offset ${offset} not relative-addressable from ${this.baseOffset}`);
    if (this.count === this.timestamps.length) this.grow();
    this.timestamps[this.count] = timestampMs;
    this.relativeOffsets[this.count] = Number(relative);
    this.count++;
    return true;
  }

  /** Largest entry with timestamp <= target, or (-1, baseOffset) when there is none. */
  lookup(targetMs: bigint): TimestampOffset {
    if (this.count === 0 || (this.timestamps[0] ?? 0n) > targetMs) return { timestampMs: NO_TIMESTAMP, offset: this.baseOffset };
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((this.timestamps[mid] ?? 0n) <= targetMs) lo = mid;
      else hi = mid - 1;
    }
    return this.entry(lo);
  }

  /** Drops entries pointing at offsets >= `offset` (their batches were truncated away). */
  truncateToOffset(offset: bigint): void {
    let keep = this.count;
    while (keep > 0 && this.baseOffset + BigInt(this.relativeOffsets[keep - 1] ?? 0) >= offset) keep--;
    this.count = keep;
    this.persistedCount = Math.min(this.persistedCount, keep);
  }

  get needsPersist(): boolean {
    return this.persistedCount < this.count || this.fileEntries !== this.count;
  }

  encodeFrom(from: number): Buffer {
    invariant(from >= 0 && from <= this.count, () => `encodeFrom ${from} out of [0, ${this.count}]`);
    const buf = Buffer.allocUnsafe((this.count - from) * TIME_INDEX_ENTRY_BYTES);
    for (let i = from; i < this.count; i++) {
      const at = (i - from) * TIME_INDEX_ENTRY_BYTES;
      buf.writeBigInt64BE(this.timestamps[i] ?? 0n, at);
      buf.writeInt32BE(this.relativeOffsets[i] ?? 0, at + 8);
    }
    return buf;
  }

  /** Parses and sanity-checks a time index file; `nextOffset` bounds the offsets it may name. */
  static decode(buf: Buffer, baseOffset: bigint, maxIndexBytes: number, nextOffsetBound: bigint): TimeIndex | string {
    if (buf.length % TIME_INDEX_ENTRY_BYTES !== 0) return `size ${buf.length} is not a multiple of ${TIME_INDEX_ENTRY_BYTES}`;
    const index = new TimeIndex(baseOffset, maxIndexBytes);
    const n = buf.length / TIME_INDEX_ENTRY_BYTES;
    if (n > index.maxEntries) return `${n} entries exceed the capacity ${index.maxEntries}`;
    let lastTs = -1n;
    let lastRel = -1;
    for (let i = 0; i < n; i++) {
      const ts = buf.readBigInt64BE(i * TIME_INDEX_ENTRY_BYTES);
      const rel = buf.readInt32BE(i * TIME_INDEX_ENTRY_BYTES + 8);
      if (ts <= lastTs || rel < lastRel || rel < 0 || baseOffset + BigInt(rel) >= nextOffsetBound) {
        return `entry ${i} (timestamp ${ts}, relative offset ${rel}) is out of order or beyond the segment`;
      }
      index.maybeAppend(ts, baseOffset + BigInt(rel));
      lastTs = ts;
      lastRel = rel;
    }
    index.persistedCount = n;
    index.fileEntries = n;
    return index;
  }

  private grow(): void {
    const capacity = Math.min(this.timestamps.length * 2, this.maxEntries);
    const ts = new BigInt64Array(capacity);
    const rel = new Int32Array(capacity);
    ts.set(this.timestamps);
    rel.set(this.relativeOffsets);
    this.timestamps = ts;
    this.relativeOffsets = rel;
  }
}

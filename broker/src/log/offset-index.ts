/**
 * Sparse offset index of one segment: entries (int32 offset relative to the segment base, int32 byte position
 * of a batch), big-endian on disk, 8 bytes each, as in Kafka's `.index`.
 *
 * An entry (O, P) says "the batch whose LAST offset is O starts at P". A lookup for target T returns the
 * largest entry with O <= T; the batch holding T starts at or after P, so a forward scan from P finds it.
 *
 * The entries live in memory (Node has no mmap); the segment writes the not-yet-persisted tail to the file on
 * flush, roll and close. Capacity is bounded by segment.index.bytes; a full index makes the log roll.
 */
import { invariant } from './errors.ts';

export const OFFSET_INDEX_ENTRY_BYTES = 8;
const INITIAL_CAPACITY = 64;

export interface OffsetPosition {
  readonly offset: bigint;
  readonly position: number;
}

export class OffsetIndex {
  readonly baseOffset: bigint;
  readonly maxEntries: number;
  private relativeOffsets: Int32Array;
  private positions: Int32Array;
  private count = 0;
  /** Entries [0, persistedCount) are on disk; the segment writes the rest. */
  persistedCount = 0;
  /** Entries the index file holds (-1: no file written yet); differs from `entries` after a truncation. */
  fileEntries = -1;

  constructor(baseOffset: bigint, maxIndexBytes: number) {
    this.baseOffset = baseOffset;
    this.maxEntries = Math.floor(maxIndexBytes / OFFSET_INDEX_ENTRY_BYTES);
    invariant(this.maxEntries >= 1, () => `offset index capacity ${maxIndexBytes} bytes holds no entry`);
    const capacity = Math.min(INITIAL_CAPACITY, this.maxEntries);
    this.relativeOffsets = new Int32Array(capacity);
    this.positions = new Int32Array(capacity);
  }

  get entries(): number {
    return this.count;
  }

  get isFull(): boolean {
    return this.count >= this.maxEntries;
  }

  get sizeBytes(): number {
    return this.count * OFFSET_INDEX_ENTRY_BYTES;
  }

  entry(i: number): OffsetPosition {
    invariant(i >= 0 && i < this.count, () => `offset index entry ${i} out of [0, ${this.count})`);
    return { offset: this.baseOffset + BigInt(this.relativeOffsets[i] ?? 0), position: this.positions[i] ?? 0 };
  }

  lastEntry(): OffsetPosition {
    return this.count === 0 ? { offset: this.baseOffset, position: 0 } : this.entry(this.count - 1);
  }

  /**
   * Adds an entry; returns false (and adds nothing) when the index is full. Skipping an entry only makes
   * lookups scan further, and a rebuild applies the same rule, so live and rebuilt indexes stay identical.
   */
  append(offset: bigint, position: number): boolean {
    if (this.isFull) return false;
    const relative = offset - this.baseOffset;
    invariant(relative >= 0n && relative <= 0x7fffffffn, () => `offset ${offset} not relative-addressable from ${this.baseOffset}`);
    const rel = Number(relative);
    if (this.count > 0) {
      const lastRel = this.relativeOffsets[this.count - 1] ?? -1;
      const lastPos = this.positions[this.count - 1] ?? -1;
      invariant(rel > lastRel && position > lastPos, () => `index append (${offset}, ${position}) not after last entry (${this.baseOffset + BigInt(lastRel)}, ${lastPos})`);
    }
    if (this.count === this.relativeOffsets.length) this.grow();
    this.relativeOffsets[this.count] = rel;
    this.positions[this.count] = position;
    this.count++;
    return true;
  }

  /** Largest entry with offset <= target, or (baseOffset, 0) when there is none. */
  lookup(target: bigint): OffsetPosition {
    const slot = this.largestLowerBoundSlot(target);
    return slot < 0 ? { offset: this.baseOffset, position: 0 } : this.entry(slot);
  }

  /** Drops entries whose batch starts at or after `position` (the segment was truncated there). */
  truncateToPosition(position: number): void {
    let keep = this.count;
    while (keep > 0 && (this.positions[keep - 1] ?? 0) >= position) keep--;
    this.count = keep;
    this.persistedCount = Math.min(this.persistedCount, keep);
  }

  get needsPersist(): boolean {
    return this.persistedCount < this.count || this.fileEntries !== this.count;
  }

  /** Big-endian bytes of entries [from, count). */
  encodeFrom(from: number): Buffer {
    invariant(from >= 0 && from <= this.count, () => `encodeFrom ${from} out of [0, ${this.count}]`);
    const buf = Buffer.allocUnsafe((this.count - from) * OFFSET_INDEX_ENTRY_BYTES);
    for (let i = from; i < this.count; i++) {
      const at = (i - from) * OFFSET_INDEX_ENTRY_BYTES;
      buf.writeInt32BE(this.relativeOffsets[i] ?? 0, at);
      buf.writeInt32BE(this.positions[i] ?? 0, at + 4);
    }
    return buf;
  }

  /**
   * Parses an index file and checks it against its segment (Kafka's sanityCheck, stricter): whole entries,
   * strictly increasing offsets and positions, positions inside the segment. Returns a reason on failure.
   */
  static decode(buf: Buffer, baseOffset: bigint, maxIndexBytes: number, segmentSizeBytes: number): OffsetIndex | string {
    if (buf.length % OFFSET_INDEX_ENTRY_BYTES !== 0) return `size ${buf.length} is not a multiple of ${OFFSET_INDEX_ENTRY_BYTES}`;
    const index = new OffsetIndex(baseOffset, maxIndexBytes);
    const n = buf.length / OFFSET_INDEX_ENTRY_BYTES;
    if (n > index.maxEntries) return `${n} entries exceed the capacity ${index.maxEntries}`;
    let lastRel = -1;
    let lastPos = -1;
    for (let i = 0; i < n; i++) {
      const rel = buf.readInt32BE(i * OFFSET_INDEX_ENTRY_BYTES);
      const pos = buf.readInt32BE(i * OFFSET_INDEX_ENTRY_BYTES + 4);
      if (rel <= lastRel || pos <= lastPos || rel < 0 || pos >= segmentSizeBytes) {
        return `entry ${i} (relative offset ${rel}, position ${pos}) is out of order or beyond the segment (${segmentSizeBytes} bytes)`;
      }
      index.append(baseOffset + BigInt(rel), pos);
      lastRel = rel;
      lastPos = pos;
    }
    index.persistedCount = n;
    index.fileEntries = n;
    return index;
  }

  private largestLowerBoundSlot(target: bigint): number {
    const relative = target - this.baseOffset;
    if (this.count === 0 || relative < 0n) return -1;
    const rel = relative > 0x7fffffffn ? 0x7fffffff : Number(relative);
    let lo = 0;
    let hi = this.count - 1;
    if ((this.relativeOffsets[0] ?? 0) > rel) return -1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((this.relativeOffsets[mid] ?? 0) <= rel) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private grow(): void {
    const capacity = Math.min(this.relativeOffsets.length * 2, this.maxEntries);
    const rel = new Int32Array(capacity);
    const pos = new Int32Array(capacity);
    rel.set(this.relativeOffsets);
    pos.set(this.positions);
    this.relativeOffsets = rel;
    this.positions = pos;
  }
}

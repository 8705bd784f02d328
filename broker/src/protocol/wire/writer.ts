/**
 * Growable big-endian writer used by all generated encoders.
 *
 * Small fields go into one contiguous scratch buffer. Byte fields at or above `zeroCopyThresholdBytes`
 * (record batches in Fetch responses) are NOT copied: the writer closes the current chunk and keeps a
 * reference to the caller's Buffer, so `chunks()` returns a list ready for a vectored socket write.
 * Buffers handed to the writer must not be modified until the chunks have been written out.
 */
import { EncodeError } from './decode-error.ts';
import type { Uuid } from './uuid.ts';
import type { TaggedField } from './reader.ts';

const ZERO_COPY_THRESHOLD_BYTES = 4096;
const INITIAL_SIZE_BYTES = 256;

export class Writer {
  private buf: Buffer;
  /** A DataView over `buf`: V8 writes bigints through DataView far faster than Buffer.writeBigInt64BE. */
  private view: DataView;
  private pos = 0;
  /** Start of the part of `buf` not yet moved to `done`. */
  private chunkStart = 0;
  private readonly done: Buffer[] = [];
  private doneBytes = 0;
  private readonly zeroCopyThresholdBytes: number;

  constructor(initialSizeBytes = INITIAL_SIZE_BYTES, zeroCopyThresholdBytes = ZERO_COPY_THRESHOLD_BYTES) {
    this.buf = Buffer.allocUnsafe(Math.max(16, initialSizeBytes));
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
    this.zeroCopyThresholdBytes = zeroCopyThresholdBytes;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.doneBytes + this.pos - this.chunkStart;
  }

  private ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const pending = this.pos - this.chunkStart;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, pending + bytes + INITIAL_SIZE_BYTES));
    this.buf.copy(next, 0, this.chunkStart, this.pos);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.length);
    this.chunkStart = 0;
    this.pos = pending;
  }

  int8(v: number): void {
    this.ensure(1);
    this.pos = this.buf.writeInt8(v, this.pos);
  }

  bool(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }

  int16(v: number): void {
    this.ensure(2);
    this.pos = this.buf.writeInt16BE(v, this.pos);
  }

  uint16(v: number): void {
    this.ensure(2);
    this.pos = this.buf.writeUInt16BE(v, this.pos);
  }

  int32(v: number): void {
    this.ensure(4);
    if ((v | 0) !== v) throw new RangeError(`int32 value ${v} is out of range`);
    this.view.setInt32(this.pos, v);
    this.pos += 4;
  }

  uint32(v: number): void {
    this.ensure(4);
    this.pos = this.buf.writeUInt32BE(v, this.pos);
  }

  int64(v: bigint): void {
    this.ensure(8);
    // DataView wraps out-of-range values silently where Buffer throws: keep Kafka's int64 contract explicit.
    if (v > 0x7fffffffffffffffn || v < -0x8000000000000000n) throw new RangeError(`int64 value ${v} is out of range`);
    this.view.setBigInt64(this.pos, v);
    this.pos += 8;
  }

  float64(v: number): void {
    this.ensure(8);
    this.pos = this.buf.writeDoubleBE(v, this.pos);
  }

  uuid(v: Uuid): void {
    this.ensure(16);
    const written = v.length === 22 ? this.buf.write(v, this.pos, 16, 'base64url') : 0;
    if (written !== 16) throw new EncodeError(`not a Kafka uuid (22 base64url characters): ${JSON.stringify(v)}`);
    this.pos += 16;
  }

  uvarint(v: number): void {
    this.ensure(5);
    let value = v >>> 0;
    while (value >= 0x80) {
      this.buf[this.pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    this.buf[this.pos++] = value;
  }

  nullableString(v: string | null): void {
    if (v === null) return this.int16(-1);
    const length = Buffer.byteLength(v, 'utf8');
    if (length > 0x7fff) throw new EncodeError(`string of ${length} bytes exceeds the int16 length limit`);
    this.int16(length);
    this.ensure(length);
    this.pos += this.buf.write(v, this.pos, length, 'utf8');
  }

  compactNullableString(v: string | null): void {
    if (v === null) return this.uvarint(0);
    const length = Buffer.byteLength(v, 'utf8');
    if (length > 0x7fff) throw new EncodeError(`string of ${length} bytes exceeds the int16 length limit`);
    this.uvarint(length + 1);
    this.ensure(length);
    this.pos += this.buf.write(v, this.pos, length, 'utf8');
  }

  /** int32-length bytes (and non-flexible `records`). */
  nullableBytes(v: Buffer | null): void {
    if (v === null) return this.int32(-1);
    this.int32(v.length);
    this.raw(v);
  }

  compactNullableBytes(v: Buffer | null): void {
    if (v === null) return this.uvarint(0);
    this.uvarint(v.length + 1);
    this.raw(v);
  }

  arrayLength(length: number, flexible: boolean): void {
    if (flexible) this.uvarint(length + 1);
    else this.int32(length);
  }

  /** Appends bytes; large buffers are referenced, not copied. */
  raw(v: Buffer): void {
    if (v.length >= this.zeroCopyThresholdBytes) {
      if (this.pos > this.chunkStart) {
        this.done.push(this.buf.subarray(this.chunkStart, this.pos));
        this.doneBytes += this.pos - this.chunkStart;
        this.chunkStart = this.pos;
      }
      this.done.push(v);
      this.doneBytes += v.length;
      return;
    }
    this.ensure(v.length);
    this.pos += v.copy(this.buf, this.pos);
  }

  /** Unknown tagged fields kept from a decode are written back verbatim. */
  rawTagged(field: TaggedField): void {
    this.uvarint(field.tag);
    this.uvarint(field.data.length);
    this.raw(field.data);
  }

  /** The written bytes as a list of chunks (zero-copy for large byte fields). */
  chunks(): Buffer[] {
    const out = this.done.slice();
    if (this.pos > this.chunkStart) out.push(this.buf.subarray(this.chunkStart, this.pos));
    return out;
  }

  /** The written bytes as one Buffer (copies only when there is more than one chunk). */
  toBuffer(): Buffer {
    const chunks = this.chunks();
    if (chunks.length === 1) return chunks[0] as Buffer;
    return Buffer.concat(chunks, this.length);
  }
}

/** Writes `encode` into a fresh writer and returns the bytes: for tagged fields, whose size precedes them. */
export function encodeToBuffer(encode: (w: Writer) => void): Buffer {
  const w = new Writer(64, Number.MAX_SAFE_INTEGER);
  encode(w);
  return w.toBuffer();
}

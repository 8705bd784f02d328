/**
 * Bounds-checked big-endian reader over one Buffer range, used by all generated decoders.
 *
 * Invariant: no read ever goes past `end`, and every length read from the wire is checked against the
 * remaining bytes BEFORE anything is allocated for it, so a hostile frame cannot make us allocate more
 * than its own size. Byte fields are returned as views (subarray) into the input: no copies.
 */
import { DecodeError } from './decode-error.ts';
import type { Uuid } from './uuid.ts';

const EMPTY = Buffer.alloc(0);

export interface TaggedField {
  readonly tag: number;
  readonly data: Buffer;
}

export class Reader {
  readonly buf: Buffer;
  pos: number;
  end: number;

  constructor(buf: Buffer, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(bytes: number, what: string): void {
    if (bytes > this.end - this.pos) {
      throw new DecodeError(`truncated input: ${what} needs ${bytes} bytes at position ${this.pos}, ${this.end - this.pos} remain`);
    }
  }

  int8(): number {
    this.need(1, 'int8');
    return this.buf.readInt8(this.pos++);
  }

  bool(): boolean {
    this.need(1, 'bool');
    return this.buf[this.pos++] !== 0;
  }

  int16(): number {
    this.need(2, 'int16');
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  uint16(): number {
    this.need(2, 'uint16');
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number {
    this.need(4, 'int32');
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint32(): number {
    this.need(4, 'uint32');
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  int64(): bigint {
    this.need(8, 'int64');
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  float64(): number {
    this.need(8, 'float64');
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  uuid(): Uuid {
    this.need(16, 'uuid');
    const v = this.buf.toString('base64url', this.pos, this.pos + 16);
    this.pos += 16;
    return v;
  }

  /** Unsigned LEB128 varint of at most 32 bits (5 bytes), as Kafka's ByteUtils.readUnsignedVarint. */
  uvarint(): number {
    let value = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) throw new DecodeError(`truncated input: unsigned varint at position ${this.pos}`);
      const b = this.buf[this.pos++] as number;
      if (i === 4 && b > 0x0f) throw new DecodeError(`unsigned varint longer than 32 bits at position ${this.pos - 1}`);
      value |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return value >>> 0;
      shift += 7;
    }
    throw new DecodeError(`unsigned varint longer than 5 bytes at position ${this.pos}`);
  }

  private utf8(length: number, what: string): string {
    this.need(length, what);
    const s = this.buf.toString('utf8', this.pos, this.pos + length);
    this.pos += length;
    return s;
  }

  private view(length: number, what: string): Buffer {
    this.need(length, what);
    const b = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return b;
  }

  /** int16-length string; -1 means null. */
  nullableString(): string | null {
    const length = this.int16();
    if (length < -1) throw new DecodeError(`negative string length ${length}`);
    return length === -1 ? null : this.utf8(length, 'string');
  }

  string(field: string): string {
    const s = this.nullableString();
    if (s === null) throw new DecodeError(`non-nullable field ${field} was serialized as null`);
    return s;
  }

  /** Unsigned-varint (N+1) length string; 0 means null. */
  compactNullableString(): string | null {
    const lengthPlusOne = this.uvarint();
    return lengthPlusOne === 0 ? null : this.utf8(lengthPlusOne - 1, 'compact string');
  }

  compactString(field: string): string {
    const s = this.compactNullableString();
    if (s === null) throw new DecodeError(`non-nullable field ${field} was serialized as null`);
    return s;
  }

  /** int32-length bytes (also the non-flexible `records` encoding); -1 means null. */
  nullableBytes(): Buffer | null {
    const length = this.int32();
    if (length < -1) throw new DecodeError(`negative bytes length ${length}`);
    return length === -1 ? null : length === 0 ? EMPTY : this.view(length, 'bytes');
  }

  bytes(field: string): Buffer {
    const b = this.nullableBytes();
    if (b === null) throw new DecodeError(`non-nullable field ${field} was serialized as null`);
    return b;
  }

  compactNullableBytes(): Buffer | null {
    const lengthPlusOne = this.uvarint();
    return lengthPlusOne === 0 ? null : lengthPlusOne === 1 ? EMPTY : this.view(lengthPlusOne - 1, 'compact bytes');
  }

  compactBytes(field: string): Buffer {
    const b = this.compactNullableBytes();
    if (b === null) throw new DecodeError(`non-nullable field ${field} was serialized as null`);
    return b;
  }

  /**
   * Array element count (int32, or unsigned varint N+1 when flexible); -1 means null.
   * Every element takes at least one byte on the wire except structs without fields, so a count above the
   * remaining bytes is rejected before any allocation, as Kafka's generated code does.
   */
  arrayLength(flexible: boolean): number {
    const length = flexible ? this.uvarint() - 1 : this.int32();
    if (length < -1) throw new DecodeError(`negative array length ${length}`);
    if (length > this.end - this.pos) {
      throw new DecodeError(`array of ${length} elements cannot fit in the ${this.end - this.pos} remaining bytes`);
    }
    return length;
  }

  /** Reads a tagged-field payload of `size` bytes as a sub-reader and advances past it. */
  taggedPayload(size: number): Reader {
    this.need(size, 'tagged field');
    const sub = new Reader(this.buf, this.pos, this.pos + size);
    this.pos += size;
    return sub;
  }

  /** Raw view of an unknown tagged field, kept so that re-encoding preserves it. */
  rawTagged(tag: number, size: number): TaggedField {
    return { tag, data: this.view(size, 'tagged field') };
  }

  /** Fails when a tagged field's payload was not consumed exactly. */
  expectEnd(what: string): void {
    if (this.pos !== this.end) throw new DecodeError(`${what}: ${this.end - this.pos} unread bytes in tagged field`);
  }
}

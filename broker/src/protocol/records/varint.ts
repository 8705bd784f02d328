/**
 * Zig-zag signed varints (int32) and varlongs (int64) as used inside record batch v2 (the protobuf encoding Java's
 * ByteUtils.readVarint/readVarlong implement). The request/response layer uses unsigned varints; those live with
 * the wire codecs, not here.
 *
 * Reads never allocate: the position travels in a caller-owned cursor object that the read advances, and the
 * value is the return value. Every read is bounds-checked against `end` (default: buf.length) and throws a
 * VarintError (a KafkaProtocolError) for a truncated or over-long encoding; it never reads past `end`.
 *
 * Strictness: a varint uses at most 5 bytes and its 5th byte may only carry the 4 bits that fit in 32; a varlong
 * uses at most 10 bytes and its 10th byte may only be 0 or 1. Java silently drops excess high bits of a 5th/10th
 * byte; no conforming writer produces them, so rejecting them costs nothing and removes an aliasing ambiguity.
 */
import { ErrorCode, KafkaProtocolError } from '../error-codes.ts';

/** Position in a buffer, advanced by reads. Reuse one per walk; no read allocates. */
export interface ReadCursor {
  offset: number;
}

export type VarintProblem = 'truncated' | 'overlong' | 'unsafe-integer';

export class VarintError extends KafkaProtocolError {
  readonly problem: VarintProblem;
  readonly at: number;

  constructor(problem: VarintProblem, at: number, what: string) {
    super(ErrorCode.CORRUPT_MESSAGE, `${problem} ${what} at byte ${at}`);
    this.name = 'VarintError';
    this.problem = problem;
    this.at = at;
  }
}

export const VARINT_BYTES_MAX = 5;
export const VARLONG_BYTES_MAX = 10;
const TWO_POW_27 = 134_217_728;

/** Reads a zig-zag varint (int32) at cursor.offset and advances the cursor past it. */
export function readVarint(buf: Buffer, cursor: ReadCursor, end: number = buf.length): number {
  const start = cursor.offset;
  let pos = start;
  if (pos >= end) throw new VarintError('truncated', start, 'varint');
  let b = buf[pos++]!;
  // One-byte values (|v| < 64) dominate record fields: keep them branch-light.
  if (b < 0x80) {
    cursor.offset = pos;
    return (b >>> 1) ^ -(b & 1);
  }
  let raw = b & 0x7f;
  let shift = 7;
  for (;;) {
    if (pos >= end) throw new VarintError('truncated', start, 'varint');
    b = buf[pos++]!;
    if (shift === 28) {
      if (b > 0x0f) throw new VarintError('overlong', start, 'varint');
      raw = (raw | (b << 28)) >>> 0;
      break;
    }
    raw |= (b & 0x7f) << shift;
    if (b < 0x80) break;
    shift += 7;
  }
  cursor.offset = pos;
  return (raw >>> 1) ^ -(raw & 1);
}

/**
 * Reads a zig-zag varlong at cursor.offset as a JS number. Values outside ±(2^53-1) cannot be represented exactly
 * and throw VarintError('unsafe-integer'); use readVarlongBig for the full int64 range.
 */
export function readVarlong(buf: Buffer, cursor: ReadCursor, end: number = buf.length): number {
  const start = cursor.offset;
  let pos = start;
  if (pos >= end) throw new VarintError('truncated', start, 'varlong');
  let b = buf[pos++]!;
  if (b < 0x80) {
    cursor.offset = pos;
    return (b >>> 1) ^ -(b & 1);
  }
  // The raw (zig-zagged) value is lo + hi * 2^28: lo holds the first 28 bits as an int, hi the remaining 36 bits
  // as an exact double, so no step ever rounds.
  let lo = b & 0x7f;
  let hi = 0;
  let shift = 7;
  for (;;) {
    if (pos >= end) throw new VarintError('truncated', start, 'varlong');
    b = buf[pos++]!;
    if (shift < 28) {
      lo |= (b & 0x7f) << shift;
    } else if (shift === 63) {
      if (b > 0x01) throw new VarintError('overlong', start, 'varlong');
      hi += b * 2 ** 35;
      break;
    } else {
      hi += (b & 0x7f) * 2 ** (shift - 28);
    }
    if (b < 0x80) break;
    shift += 7;
  }
  cursor.offset = pos;
  // |value| = floor(raw / 2) for non-negative, floor(raw / 2) + 1 for negative values.
  if (hi >= 2 ** 26) throw new VarintError('unsafe-integer', start, 'varlong');
  const magnitude = hi * TWO_POW_27 + (lo >>> 1);
  if ((lo & 1) === 0) return magnitude;
  if (magnitude === Number.MAX_SAFE_INTEGER) throw new VarintError('unsafe-integer', start, 'varlong');
  return -magnitude - 1;
}

/** Reads a zig-zag varlong as a bigint (full int64 range). Allocates; not for per-record hot paths. */
export function readVarlongBig(buf: Buffer, cursor: ReadCursor, end: number = buf.length): bigint {
  const start = cursor.offset;
  let pos = start;
  let raw = 0n;
  let shift = 0n;
  for (let i = 0; ; i++) {
    if (pos >= end) throw new VarintError('truncated', start, 'varlong');
    const b = buf[pos++]!;
    if (i === VARLONG_BYTES_MAX - 1 && b > 0x01) throw new VarintError('overlong', start, 'varlong');
    raw |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) break;
    shift += 7n;
  }
  cursor.offset = pos;
  return (raw >> 1n) ^ -(raw & 1n);
}

/** Bytes a zig-zag varint of `value` (an int32) occupies. */
export function sizeOfVarint(value: number): number {
  const raw = ((value << 1) ^ (value >> 31)) >>> 0;
  if (raw < 0x80) return 1;
  if (raw < 0x4000) return 2;
  if (raw < 0x200000) return 3;
  if (raw < 0x10000000) return 4;
  return 5;
}

/** Writes `value` (an int32) as a zig-zag varint at `offset`; returns the offset after it. */
export function writeVarint(buf: Buffer, offset: number, value: number): number {
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
    throw new RangeError(`varint value ${value} is not an int32`);
  }
  let raw = ((value << 1) ^ (value >> 31)) >>> 0;
  while (raw >= 0x80) {
    buf[offset++] = (raw & 0x7f) | 0x80;
    raw >>>= 7;
  }
  buf[offset++] = raw;
  return offset;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function zigZag64(value: bigint): bigint {
  if (value < INT64_MIN || value > INT64_MAX) throw new RangeError(`varlong value ${value} is not an int64`);
  return value >= 0n ? value << 1n : ((-value) << 1n) - 1n;
}

/** Bytes a zig-zag varlong of `value` occupies. */
export function sizeOfVarlong(value: number | bigint): number {
  if (typeof value === 'number' && value >= -0x40000000 && value < 0x40000000 && Number.isInteger(value)) {
    return sizeOfVarint(value);
  }
  let raw = zigZag64(BigInt(value));
  let size = 1;
  while (raw >= 0x80n) {
    raw >>= 7n;
    size++;
  }
  return size;
}

/** Writes `value` (an int64; numbers must be integers) as a zig-zag varlong; returns the offset after it. */
export function writeVarlong(buf: Buffer, offset: number, value: number | bigint): number {
  // Small values (the common timestamp delta) share the int32 encoding: zig-zag of |v| < 2^30 fits in 31 bits.
  if (typeof value === 'number' && value >= -0x40000000 && value < 0x40000000 && Number.isInteger(value)) {
    return writeVarint(buf, offset, value);
  }
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new RangeError(`varlong value ${value} is not a safe integer; pass a bigint`);
  }
  let raw = zigZag64(BigInt(value));
  while (raw >= 0x80n) {
    buf[offset++] = Number(raw & 0x7fn) | 0x80;
    raw >>= 7n;
  }
  buf[offset++] = Number(raw);
  return offset;
}

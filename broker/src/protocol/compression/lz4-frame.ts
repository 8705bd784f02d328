/**
 * LZ4 frame format (magic 0x184D2204), as Kafka uses for compression.type=lz4 with magic v2 batches.
 *
 * Encoding: lz4-napi's compressFrameSync (lz4_flex). Its frames have version 01, independent blocks, no block or
 * content checksum and a correct header checksum, which is exactly what Java's Lz4BlockInputStream reads (the
 * test suite pins those header bits). The "broken header checksum" variant (checksum over the magic too) belongs
 * to magic v0/v1 message sets only and is never produced or accepted here.
 *
 * Decoding: our own bounds-checked block decoder (see README.md for the measurements: it beat lz4-napi's
 * decompressFrameSync on Kafka-sized payloads, and it lets us bound the output exactly, which lz4-napi cannot:
 * LZ4 expands up to ~255x, so a 1 MiB batch could otherwise allocate ~255 MiB).
 *
 * Accepted frames follow Java's Lz4BlockInputStream rules, so that nothing we store is unreadable by a Java
 * consumer: version 01, block-independence set, reserved/dictionary-id bits clear, block max size 64 KB..4 MB,
 * valid header checksum, block checksums verified when present. Content size is honoured as an early bound and
 * cross-checked; a content checksum is skipped (the batch CRC already covers these bytes).
 */
import { compressFrameSync } from 'lz4-napi';
import { CompressionError } from './compression-error.ts';
import { xxhash32 } from './xxhash32.ts';

export const LZ4_FRAME_MAGIC = 0x184d2204;
const FLG_VERSION_MASK = 0xc0;
const FLG_VERSION_01 = 0x40;
const FLG_BLOCK_INDEPENDENCE = 0x20;
const FLG_BLOCK_CHECKSUM = 0x10;
const FLG_CONTENT_SIZE = 0x08;
const FLG_CONTENT_CHECKSUM = 0x04;
const FLG_RESERVED_AND_DICT_ID = 0x03;
const BD_RESERVED = 0x8f;
const BLOCK_UNCOMPRESSED_FLAG = 0x80000000;
/** LZ4 sequences can expand at most ~255:1 (each 0xFF length byte adds 255 output bytes). */
const LZ4_EXPANSION_MAX = 255;

/**
 * Decoding goes into a reused scratch buffer and the result is copied out at its exact size: frames rarely
 * declare their content size, so the output capacity is only an upper bound, and we do not want a 4 MB
 * allocation pinned behind a 300 KB result.
 */
const SCRATCH_BYTES_MAX = 8 * 1024 * 1024;
let scratch = Buffer.alloc(0);

function fail(problem: 'truncated' | 'malformed' | 'too-large', detail: string): never {
  throw new CompressionError('lz4', problem, detail);
}

/** Compresses `input` into one LZ4 frame that Java's Lz4BlockInputStream can read. */
export function lz4FrameCompress(input: Buffer): Buffer {
  return compressFrameSync(input);
}

// Result codes of decodeBlock below zero; callers turn them into errors with context.
const BLOCK_OUTPUT_FULL = -1;
const BLOCK_MALFORMED = -2;

/**
 * Decodes one LZ4 block from src[s, sEnd) into dst starting at d, never writing at or past dEnd.
 * Back-references may not reach before blockStart (blocks are independent). Returns the new output position,
 * BLOCK_OUTPUT_FULL, or BLOCK_MALFORMED. Returns codes instead of throwing to keep the loop monomorphic.
 */
function decodeBlock(src: Buffer, s: number, sEnd: number, dst: Buffer, d: number, dEnd: number, blockStart: number): number {
  while (s < sEnd) {
    const token = src[s++]!;
    let literalLength = token >>> 4;
    if (literalLength === 15) {
      let b: number;
      do {
        if (s >= sEnd) return BLOCK_MALFORMED;
        b = src[s++]!;
        literalLength += b;
      } while (b === 255);
    }
    if (s + literalLength > sEnd) return BLOCK_MALFORMED;
    if (d + literalLength > dEnd) return BLOCK_OUTPUT_FULL;
    if (literalLength < 32) {
      for (let i = 0; i < literalLength; i++) dst[d + i] = src[s + i]!;
    } else {
      src.copy(dst, d, s, s + literalLength);
    }
    s += literalLength;
    d += literalLength;
    // The last sequence of a block carries literals only.
    if (s === sEnd) break;
    if (s + 2 > sEnd) return BLOCK_MALFORMED;
    const matchOffset = src[s]! | (src[s + 1]! << 8);
    s += 2;
    if (matchOffset === 0 || matchOffset > d - blockStart) return BLOCK_MALFORMED;
    let matchLength = (token & 0x0f) + 4;
    if ((token & 0x0f) === 15) {
      let b: number;
      do {
        if (s >= sEnd) return BLOCK_MALFORMED;
        b = src[s++]!;
        matchLength += b;
      } while (b === 255);
    }
    if (d + matchLength > dEnd) return BLOCK_OUTPUT_FULL;
    let m = d - matchOffset;
    if (matchOffset >= matchLength && matchLength >= 32) {
      dst.copyWithin(d, m, m + matchLength);
      d += matchLength;
    } else {
      // Overlapping copies (offset < length) replicate a pattern and must go byte by byte.
      const stop = d + matchLength;
      while (d < stop) dst[d++] = dst[m++]!;
    }
  }
  return d;
}

interface FrameLayout {
  blocksStart: number;
  blockMaxBytes: number;
  blockChecksum: boolean;
  contentChecksum: boolean;
  /** Declared content size, or -1 when the frame does not declare it. */
  contentSizeBytes: number;
  /** Upper bound of the decoded size from the block headers. */
  outputBoundBytes: number;
}

function readFrameLayout(input: Buffer, maxBytes: number): FrameLayout {
  const length = input.length;
  if (length < 7) fail('truncated', `frame of ${length} bytes is shorter than the 7-byte minimum header`);
  const magic = input.readUInt32LE(0);
  if (magic !== LZ4_FRAME_MAGIC) fail('malformed', `bad frame magic 0x${magic.toString(16)}`);
  const flg = input[4]!;
  const bd = input[5]!;
  if ((flg & FLG_VERSION_MASK) !== FLG_VERSION_01) fail('malformed', `unsupported frame version ${flg >>> 6}`);
  if ((flg & FLG_RESERVED_AND_DICT_ID) !== 0) fail('malformed', 'reserved or dictionary-id flag bits are set');
  if ((flg & FLG_BLOCK_INDEPENDENCE) === 0) fail('malformed', 'dependent blocks are not supported (Kafka requires independent blocks)');
  if ((bd & BD_RESERVED) !== 0) fail('malformed', 'reserved block-descriptor bits are set');
  const blockSizeId = (bd >>> 4) & 0x07;
  if (blockSizeId < 4) fail('malformed', `block size id ${blockSizeId} is not in 4..7`);
  const blockMaxBytes = 1 << (2 * blockSizeId + 8);
  let p = 6;
  let contentSizeBytes = -1;
  if ((flg & FLG_CONTENT_SIZE) !== 0) {
    if (length < p + 9) fail('truncated', 'frame ends inside the content size field');
    const lo = input.readUInt32LE(p);
    const hi = input.readUInt32LE(p + 4);
    contentSizeBytes = hi * 2 ** 32 + lo;
    if (contentSizeBytes > maxBytes) fail('too-large', `declared content size ${contentSizeBytes} exceeds the ${maxBytes}-byte limit`);
    p += 8;
  }
  const headerChecksum = (xxhash32(input, 4, p) >>> 8) & 0xff;
  if (headerChecksum !== input[p]) fail('malformed', 'frame header checksum mismatch');
  p++;
  const blocksStart = p;
  const blockChecksum = (flg & FLG_BLOCK_CHECKSUM) !== 0;
  let outputBoundBytes = 0;
  for (;;) {
    if (p + 4 > length) fail('truncated', `frame ends at byte ${length} before its end mark`);
    const word = input.readUInt32LE(p);
    p += 4;
    if (word === 0) break;
    const blockBytes = (word & ~BLOCK_UNCOMPRESSED_FLAG) >>> 0;
    if (blockBytes > blockMaxBytes) fail('malformed', `block of ${blockBytes} bytes exceeds the frame's ${blockMaxBytes}-byte block maximum`);
    p += blockBytes + (blockChecksum ? 4 : 0);
    if (p > length) fail('truncated', `block at byte ${p - blockBytes} runs past the end of the frame`);
    outputBoundBytes += (word & BLOCK_UNCOMPRESSED_FLAG) !== 0 ? blockBytes : Math.min(blockMaxBytes, blockBytes * LZ4_EXPANSION_MAX);
  }
  const contentChecksum = (flg & FLG_CONTENT_CHECKSUM) !== 0;
  if (contentChecksum && p + 4 > length) fail('truncated', 'frame ends inside the content checksum');
  return { blocksStart, blockMaxBytes, blockChecksum, contentChecksum, contentSizeBytes, outputBoundBytes };
}

/**
 * Decompresses one LZ4 frame. Throws CompressionError('too-large') as soon as the output would exceed `maxBytes`,
 * never allocating more than min(maxBytes, a bound derived from the block headers).
 */
export function lz4FrameDecompress(input: Buffer, maxBytes: number): Buffer {
  const layout = readFrameLayout(input, maxBytes);
  const capacity = Math.min(maxBytes, layout.contentSizeBytes >= 0 ? layout.contentSizeBytes : layout.outputBoundBytes);
  let out: Buffer;
  if (capacity <= SCRATCH_BYTES_MAX) {
    if (scratch.length < capacity) scratch = Buffer.allocUnsafe(Math.max(capacity, Math.min(SCRATCH_BYTES_MAX, scratch.length * 2)));
    out = scratch;
  } else {
    out = Buffer.allocUnsafe(capacity);
  }
  let p = layout.blocksStart;
  let d = 0;
  for (;;) {
    const word = input.readUInt32LE(p);
    p += 4;
    if (word === 0) break;
    const blockBytes = (word & ~BLOCK_UNCOMPRESSED_FLAG) >>> 0;
    const blockStart = d;
    if (layout.blockChecksum && xxhash32(input, p, p + blockBytes) !== input.readUInt32LE(p + blockBytes)) {
      fail('malformed', `block checksum mismatch at byte ${p - 4}`);
    }
    if ((word & BLOCK_UNCOMPRESSED_FLAG) !== 0) {
      if (d + blockBytes > capacity) {
        if (capacity < maxBytes) fail('malformed', `output exceeds the declared content size ${layout.contentSizeBytes}`);
        fail('too-large', `output exceeds the ${maxBytes}-byte limit`);
      }
      input.copy(out, d, p, p + blockBytes);
      d += blockBytes;
    } else {
      const blockEnd = Math.min(capacity, d + layout.blockMaxBytes);
      const next = decodeBlock(input, p, p + blockBytes, out, d, blockEnd, blockStart);
      if (next === BLOCK_MALFORMED) fail('malformed', `invalid block at byte ${p - 4}`);
      if (next === BLOCK_OUTPUT_FULL) {
        if (d + layout.blockMaxBytes <= capacity) {
          fail('malformed', `block at byte ${p - 4} decodes to more than the ${layout.blockMaxBytes}-byte block maximum`);
        }
        // Below maxBytes the capacity is the declared content size (the header-derived bound cannot be exceeded).
        if (capacity < maxBytes) fail('malformed', `output exceeds the declared content size ${layout.contentSizeBytes}`);
        fail('too-large', `output exceeds the ${maxBytes}-byte limit`);
      }
      d = next;
    }
    p += blockBytes + (layout.blockChecksum ? 4 : 0);
  }
  if (layout.contentSizeBytes >= 0 && d !== layout.contentSizeBytes) {
    fail('malformed', `decoded ${d} bytes but the frame declares ${layout.contentSizeBytes}`);
  }
  if (out === scratch) return Buffer.from(out.subarray(0, d));
  // A fresh buffer far larger than its content is copied down so the slack is not kept alive by the result.
  return d < capacity - capacity / 4 ? Buffer.from(out.subarray(0, d)) : out.subarray(0, d);
}

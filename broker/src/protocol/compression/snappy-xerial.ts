/**
 * Snappy as Kafka carries it.
 *
 * Java producers write xerial snappy-java's stream framing (SnappyOutputStream): an 8-byte magic
 * `0x82 "SNAPPY" 0x00`, int32 BE version (1) and int32 BE minimum compatible version (1), then chunks of
 * `int32 BE compressed length | raw snappy block`, each block holding at most 32 KiB of input. Other clients
 * (librdkafka, some Go and JS clients) send one raw snappy block. Like Java's SnappyInputStream we read both:
 * a stream that does not start with the magic is one raw block, and a magic found where a chunk header is
 * expected starts a concatenated stream. We always write the xerial framing, as Java does.
 *
 * Every raw block states its decoded length in a uvarint preamble, so the output size is known exactly before
 * anything is decoded: a decompression bomb is refused without allocating.
 *
 * The napi binding is called with copyOutputData: true; see README.md (external buffers made it 3-5x slower).
 */
import { compressSync, uncompressSync } from 'snappy';
import { CompressionError } from './compression-error.ts';

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;
const XERIAL_VERSION = 1;
const XERIAL_MIN_COMPATIBLE_VERSION = 1;
/** snappy-java's default SnappyOutputStream block size, which Kafka's SnappyFactory uses. */
export const XERIAL_BLOCK_BYTES = 32 * 1024;
const SNAPPY_OPTIONS = { asBuffer: true, copyOutputData: true } as const;

function fail(problem: 'truncated' | 'malformed' | 'too-large', detail: string, cause?: unknown): never {
  throw new CompressionError('snappy', problem, detail, cause === undefined ? undefined : { cause });
}

function startsWithMagic(input: Buffer, at: number): boolean {
  return input.length - at >= XERIAL_MAGIC.length && input.compare(XERIAL_MAGIC, 0, XERIAL_MAGIC.length, at, at + XERIAL_MAGIC.length) === 0;
}

/** The decoded length a raw snappy block in [start, end) declares in its uvarint preamble. */
function rawDecodedLength(input: Buffer, start: number, end: number): number {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    if (start + i >= end) fail('truncated', `block at byte ${start} ends inside its length preamble`);
    const b = input[start + i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if (b < 0x80) {
      if (value > 0xffffffff) break;
      return value;
    }
  }
  return fail('malformed', `block at byte ${start} has an invalid length preamble`);
}

function decodeRawBlock(input: Buffer, start: number, end: number, out: Buffer, at: number, expectedBytes: number): void {
  let decoded: Buffer;
  try {
    decoded = uncompressSync(input.subarray(start, end), SNAPPY_OPTIONS) as Buffer;
  } catch (error) {
    fail('malformed', `invalid snappy block at byte ${start}`, error);
  }
  if (decoded.length !== expectedBytes) fail('malformed', `block at byte ${start} decoded to ${decoded.length} bytes, preamble says ${expectedBytes}`);
  decoded.copy(out, at);
}

/** Compresses `input` in snappy-java's xerial framing, the way Java producers do. */
export function snappyCompressXerial(input: Buffer): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.allocUnsafe(XERIAL_HEADER_BYTES);
  XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(XERIAL_VERSION, 8);
  header.writeInt32BE(XERIAL_MIN_COMPATIBLE_VERSION, 12);
  parts.push(header);
  for (let at = 0; at < input.length; at += XERIAL_BLOCK_BYTES) {
    const block = compressSync(input.subarray(at, Math.min(input.length, at + XERIAL_BLOCK_BYTES)), { copyOutputData: true });
    const length = Buffer.allocUnsafe(4);
    length.writeInt32BE(block.length, 0);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

/** Decompresses xerial-framed or raw snappy; refuses output larger than `maxBytes` before decoding. */
export function snappyDecompress(input: Buffer, maxBytes: number): Buffer {
  if (!startsWithMagic(input, 0)) {
    const decodedBytes = rawDecodedLength(input, 0, input.length);
    if (decodedBytes > maxBytes) fail('too-large', `raw block declares ${decodedBytes} bytes, over the ${maxBytes}-byte limit`);
    const out = Buffer.allocUnsafe(decodedBytes);
    decodeRawBlock(input, 0, input.length, out, 0, decodedBytes);
    return out;
  }
  // Pass 1: walk the chunk headers and preambles to learn (and bound) the exact output size.
  let totalBytes = 0;
  let chunkCount = 0;
  let p = 0;
  while (p < input.length) {
    if (startsWithMagic(input, p)) {
      if (input.length - p < XERIAL_HEADER_BYTES) fail('truncated', `stream header at byte ${p} is cut short`);
      const compatible = input.readInt32BE(p + 12);
      if (compatible > XERIAL_VERSION) fail('malformed', `stream needs reader version ${compatible}`);
      p += XERIAL_HEADER_BYTES;
      continue;
    }
    if (input.length - p < 4) fail('truncated', `chunk header at byte ${p} is cut short`);
    const chunkBytes = input.readInt32BE(p);
    if (chunkBytes < 0) fail('malformed', `negative chunk length ${chunkBytes} at byte ${p}`);
    if (p + 4 + chunkBytes > input.length) fail('truncated', `chunk at byte ${p} declares ${chunkBytes} bytes past the end`);
    totalBytes += rawDecodedLength(input, p + 4, p + 4 + chunkBytes);
    if (totalBytes > maxBytes) fail('too-large', `output exceeds the ${maxBytes}-byte limit`);
    chunkCount++;
    p += 4 + chunkBytes;
  }
  // Pass 2: decode each chunk into place.
  const out = Buffer.allocUnsafe(totalBytes);
  let at = 0;
  p = 0;
  for (let i = 0; i < chunkCount; ) {
    if (startsWithMagic(input, p)) {
      p += XERIAL_HEADER_BYTES;
      continue;
    }
    const chunkBytes = input.readInt32BE(p);
    const decodedBytes = rawDecodedLength(input, p + 4, p + 4 + chunkBytes);
    decodeRawBlock(input, p + 4, p + 4 + chunkBytes, out, at, decodedBytes);
    at += decodedBytes;
    p += 4 + chunkBytes;
    i++;
  }
  return out;
}

/**
 * Record batch compression codecs (attributes bits 0-2), synchronous and bounded.
 *
 *   compress(type, buf)             -> bytes as Kafka's Java producer writes them for that codec
 *   decompress(type, buf, maxBytes) -> the decoded bytes, or a CompressionError; output above maxBytes is
 *                                      refused before (snappy, lz4 with content size) or while (gzip, zstd, lz4)
 *                                      it is produced, so a decompression bomb cannot exhaust memory.
 *
 * Implementations were chosen by measurement: see README.md beside this file.
 */
import zlib from 'node:zlib';
import { Compression, type CompressionType } from '../records/batch-header.ts';
import { CompressionError } from './compression-error.ts';
import { lz4FrameCompress, lz4FrameDecompress } from './lz4-frame.ts';
import { snappyCompressXerial, snappyDecompress } from './snappy-xerial.ts';

export { CompressionError, type CompressionProblem } from './compression-error.ts';
export { LZ4_FRAME_MAGIC, lz4FrameCompress, lz4FrameDecompress } from './lz4-frame.ts';
export { XERIAL_BLOCK_BYTES, snappyCompressXerial, snappyDecompress } from './snappy-xerial.ts';
export { xxhash32 } from './xxhash32.ts';

const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

/** Kafka's name for a codec id (compression.type values), or `unknown(<id>)`. */
export const compressionName = (type: number): string => CODEC_NAMES[type] ?? `unknown(${type})`;

export const isCompressionType = (type: number): type is CompressionType =>
  Number.isInteger(type) && type >= Compression.none && type <= Compression.zstd;

function zlibFailure(codec: string, error: unknown, maxBytes: number): CompressionError {
  const code = (error as { code?: unknown }).code;
  if (code === 'ERR_BUFFER_TOO_LARGE') return new CompressionError(codec, 'too-large', `output exceeds the ${maxBytes}-byte limit`, { cause: error });
  // zlib reports a stream that stops early as Z_BUF_ERROR ("unexpected end of file").
  if (code === 'Z_BUF_ERROR') return new CompressionError(codec, 'truncated', 'stream ends early', { cause: error });
  const message = error instanceof Error ? error.message : String(error);
  return new CompressionError(codec, 'malformed', message, { cause: error });
}

/** Compresses a records area with the codec of `type`; `none` returns `input` itself (no copy). */
export function compress(type: CompressionType, input: Buffer): Buffer {
  switch (type) {
    case Compression.none:
      return input;
    case Compression.gzip:
      // zlib's default level (6) is Kafka's default compression.gzip.level.
      return zlib.gzipSync(input);
    case Compression.snappy:
      return snappyCompressXerial(input);
    case Compression.lz4:
      return lz4FrameCompress(input);
    case Compression.zstd:
      // zstd's default level (3) is Kafka's default compression.zstd.level; the frame records the content size.
      return zlib.zstdCompressSync(input, { pledgedSrcSize: input.length });
    default:
      throw new CompressionError(compressionName(type), 'unsupported', `codec id ${String(type)} is not defined by Kafka`);
  }
}

/**
 * Decompresses `input` compressed with the codec of `type`, producing at most `maxBytes` bytes.
 * Throws CompressionError (a KafkaProtocolError, CORRUPT_MESSAGE) for truncated, malformed, over-limit or
 * unsupported input; never any other error type.
 */
export function decompress(type: number, input: Buffer, maxBytes: number): Buffer {
  if (!(maxBytes >= 0)) throw new RangeError(`maxBytes must be a non-negative number, got ${maxBytes}`);
  switch (type) {
    case Compression.none:
      if (input.length > maxBytes) throw new CompressionError('none', 'too-large', `${input.length} bytes exceed the ${maxBytes}-byte limit`);
      return input;
    case Compression.gzip:
      try {
        // maxOutputLength must be >= 1; a zero limit is enforced by the length check below.
        const out = zlib.gunzipSync(input, { maxOutputLength: Math.max(1, maxBytes) });
        if (out.length > maxBytes) throw new CompressionError('gzip', 'too-large', `output exceeds the ${maxBytes}-byte limit`);
        return out;
      } catch (error) {
        if (error instanceof CompressionError) throw error;
        throw zlibFailure('gzip', error, maxBytes);
      }
    case Compression.snappy:
      return snappyDecompress(input, maxBytes);
    case Compression.lz4:
      return lz4FrameDecompress(input, maxBytes);
    case Compression.zstd:
      try {
        const out = zlib.zstdDecompressSync(input, { maxOutputLength: Math.max(1, maxBytes) });
        if (out.length > maxBytes) throw new CompressionError('zstd', 'too-large', `output exceeds the ${maxBytes}-byte limit`);
        return out;
      } catch (error) {
        if (error instanceof CompressionError) throw error;
        throw zlibFailure('zstd', error, maxBytes);
      }
    default:
      throw new CompressionError(compressionName(type), 'unsupported', `codec id ${type} is not defined by Kafka`);
  }
}

/**
 * Sequential reader of record batches in a segment file, in bounded chunks.
 *
 * Used by recovery (full batches, CRC checked), offset/timestamp lookups (headers only) and compaction.
 * Reads go in chunks of `chunkBytes` so walking many small batches costs few syscalls; a batch larger than
 * the chunk gets one read of its own. Memory is bounded by max(chunkBytes, RECORD_BATCH_BYTES_MAX).
 *
 * The reader reports structure problems (torn header, length out of range, batch past the end of file) as a
 * `bad` step; validateBatch adds the content checks. It never throws on bad bytes: recovery truncates there.
 */
import {
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD_BYTES,
  BATCH_MAGIC_V2,
  isBatchCrcValid,
  readBaseOffset,
  readBatchSizeBytes,
  readLastOffsetDelta,
  readMagic,
  readRecordsCount,
} from '../protocol/records/batch-header.ts';
import { RECORD_BATCH_BYTES_MAX } from './config.ts';
import type { LogFs } from './log-fs.ts';

export type ScanStep =
  | { readonly kind: 'batch'; readonly buf: Buffer; readonly at: number; readonly position: number; readonly sizeBytes: number }
  | { readonly kind: 'end' }
  | { readonly kind: 'bad'; readonly position: number; readonly reason: string };

export const DEFAULT_SCAN_CHUNK_BYTES = 64 * 1024;

export class BatchReader {
  private readonly fs: LogFs;
  private readonly fd: number;
  private readonly endPosition: number;
  private readonly chunkBytes: number;
  private buf: Buffer;
  private bufStart = 0;
  private bufLength = 0;
  /** File position of the next batch. */
  position: number;

  /** `scratch`, when given, is used as the chunk buffer (callers share one for synchronous header walks). */
  constructor(fs: LogFs, fd: number, startPosition: number, endPosition: number, chunkBytes = DEFAULT_SCAN_CHUNK_BYTES, scratch?: Buffer) {
    this.fs = fs;
    this.fd = fd;
    this.position = startPosition;
    this.endPosition = endPosition;
    this.chunkBytes = scratch === undefined ? chunkBytes : Math.min(chunkBytes, scratch.length);
    this.buf = scratch ?? Buffer.allocUnsafe(chunkBytes);
  }

  /**
   * Next batch at `position`. `wholeBatch` false only guarantees the 61 header bytes are in `buf` (lookups);
   * true guarantees the whole batch (CRC checks, copying). Advances `position` past the batch.
   */
  next(wholeBatch: boolean): ScanStep {
    const at = this.position;
    if (at === this.endPosition) return { kind: 'end' };
    const remaining = this.endPosition - at;
    if (remaining < BATCH_LOG_OVERHEAD_BYTES) return { kind: 'bad', position: at, reason: `torn batch header: ${remaining} bytes left` };
    this.ensure(at, BATCH_LOG_OVERHEAD_BYTES);
    const rel = at - this.bufStart;
    const sizeBytes = readBatchSizeBytes(this.buf, rel);
    if (sizeBytes < BATCH_HEADER_BYTES || sizeBytes > RECORD_BATCH_BYTES_MAX) {
      return { kind: 'bad', position: at, reason: `batch length ${sizeBytes - BATCH_LOG_OVERHEAD_BYTES} out of range` };
    }
    if (sizeBytes > remaining) return { kind: 'bad', position: at, reason: `torn batch: ${sizeBytes} bytes declared, ${remaining} left` };
    this.ensure(at, wholeBatch ? sizeBytes : BATCH_HEADER_BYTES);
    this.position = at + sizeBytes;
    return { kind: 'batch', buf: this.buf, at: at - this.bufStart, position: at, sizeBytes };
  }

  /** Makes file bytes [position, position + length) available in `buf`. */
  private ensure(position: number, length: number): void {
    if (position >= this.bufStart && position + length <= this.bufStart + this.bufLength) return;
    const want = Math.min(Math.max(this.chunkBytes, length), this.endPosition - position);
    if (want > this.buf.length) this.buf = Buffer.allocUnsafe(want);
    const got = this.fs.readFully(this.fd, this.buf, 0, want, position);
    this.bufStart = position;
    // A file shorter than its recorded size reads short; the caller sees a torn batch on the next check.
    this.bufLength = got;
    if (got < length) {
      // Zero the missing tail so the header checks see an impossible batch rather than stale bytes.
      this.buf.fill(0, got, Math.min(this.buf.length, length));
    }
  }
}

export interface BatchExpectations {
  /** Offsets must be >= this (strictly after the previous batch). */
  readonly minBaseOffset: bigint;
  /** Segment base: relative offsets must fit an int32. */
  readonly segmentBaseOffset: bigint;
  readonly checkCrc: boolean;
}

/** Content checks on a whole batch (magic, offsets, count, CRC). Returns the reason it is bad, or null. */
export function validateBatch(buf: Buffer, at: number, expect: BatchExpectations): string | null {
  const magic = readMagic(buf, at);
  if (magic !== BATCH_MAGIC_V2) return `magic ${magic} is not ${BATCH_MAGIC_V2}`;
  const lastOffsetDelta = readLastOffsetDelta(buf, at);
  if (lastOffsetDelta < 0) return `negative last offset delta ${lastOffsetDelta}`;
  const count = readRecordsCount(buf, at);
  // Compaction may leave fewer records than the offset span (even zero), never more.
  if (count < 0 || count > lastOffsetDelta + 1) return `records count ${count} does not fit last offset delta ${lastOffsetDelta}`;
  const baseOffset = readBaseOffset(buf, at);
  if (baseOffset < expect.minBaseOffset) return `base offset ${baseOffset} is below the expected ${expect.minBaseOffset}`;
  const lastRelative = baseOffset + BigInt(lastOffsetDelta) - expect.segmentBaseOffset;
  if (lastRelative > 0x7fffffffn) return `last offset ${baseOffset + BigInt(lastOffsetDelta)} overflows the segment's relative offsets`;
  if (expect.checkCrc && !isBatchCrcValid(buf, at)) return `CRC mismatch at base offset ${baseOffset}`;
  return null;
}

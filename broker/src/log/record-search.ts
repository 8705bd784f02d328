/**
 * Record-level timestamp search inside one batch (ListOffsets by timestamp needs the exact record offset,
 * not the batch's). Decompresses through the shared record iterator when the batch is compressed.
 */
import {
  ATTR_TIMESTAMP_LOG_APPEND,
  readAttributes,
  readBaseOffset,
  readBaseTimestamp,
  readMaxTimestamp,
} from '../protocol/records/batch-header.ts';
import { forEachRecord } from '../protocol/records/record-iterator.ts';
import { LogError } from './errors.ts';
import type { TimestampOffset } from './time-index.ts';

/**
 * First record of the batch at `buf[at]` with offset >= minOffset and timestamp >= targetMs, or null.
 * Log-append-time batches give every record the batch MaxTimestamp (Kafka's DefaultRecordBatch does the same).
 */
export function findFirstRecordAtOrAfter(buf: Buffer, at: number, targetMs: bigint, minOffset: bigint): TimestampOffset | null {
  const baseOffset = readBaseOffset(buf, at);
  const logAppendTime = (readAttributes(buf, at) & ATTR_TIMESTAMP_LOG_APPEND) !== 0;
  const baseTimestamp = readBaseTimestamp(buf, at);
  const maxTimestamp = readMaxTimestamp(buf, at);
  let found: TimestampOffset | null = null;
  try {
    forEachRecord(buf, at, (record) => {
      if (found !== null) return;
      const offset = baseOffset + BigInt(record.offsetDelta);
      if (offset < minOffset) return;
      const timestampMs = logAppendTime ? maxTimestamp : baseTimestamp + BigInt(record.timestampDelta);
      if (timestampMs >= targetMs) found = { timestampMs, offset };
    });
  } catch (err) {
    throw new LogError('LOG_CORRUPT_FILE', `records of batch at offset ${baseOffset} are unreadable: ${err instanceof Error ? err.message : String(err)}`, {
      offset: baseOffset,
      cause: err,
    });
  }
  return found;
}

/** Largest record timestamp among records of the batch at `buf[at]` with offset >= minOffset (-1 if none). */
export function maxRecordTimestampFrom(buf: Buffer, at: number, minOffset: bigint): bigint {
  const baseOffset = readBaseOffset(buf, at);
  if (baseOffset >= minOffset) return readMaxTimestamp(buf, at);
  const logAppendTime = (readAttributes(buf, at) & ATTR_TIMESTAMP_LOG_APPEND) !== 0;
  const baseTimestamp = readBaseTimestamp(buf, at);
  const maxTimestamp = readMaxTimestamp(buf, at);
  let max = -1n;
  try {
    forEachRecord(buf, at, (record) => {
      if (baseOffset + BigInt(record.offsetDelta) < minOffset) return;
      const ts = logAppendTime ? maxTimestamp : baseTimestamp + BigInt(record.timestampDelta);
      if (ts > max) max = ts;
    });
  } catch (err) {
    throw new LogError('LOG_CORRUPT_FILE', `records of batch at offset ${baseOffset} are unreadable: ${err instanceof Error ? err.message : String(err)}`, {
      offset: baseOffset,
      cause: err,
    });
  }
  return max;
}

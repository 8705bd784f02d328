/**
 * Builds record batches v2 (the layout is in batch-header.ts, the record layout in record-iterator.ts).
 *
 * The builder writes exactly what Kafka's MemoryRecordsBuilder writes for the same input: BaseTimestamp is the
 * first record's timestamp unless given, timestamp and offset deltas are relative to it and to BaseOffset,
 * MaxTimestamp is the largest record timestamp (or BaseTimestamp itself for log-append-time batches, where it
 * is the append time), LastOffsetDelta is the last record's offset delta, and the CRC32C covers Attributes..end.
 *
 * Bad input from our own code (non-increasing offset deltas, out-of-range numeric fields) throws RangeError:
 * it is a programming error, not a client error, so it carries no Kafka error code.
 */
import { compress } from '../compression/index.ts';
import {
  ATTR_CONTROL,
  ATTR_TIMESTAMP_LOG_APPEND,
  ATTR_TRANSACTIONAL,
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD_BYTES,
  BATCH_MAGIC_V2,
  BATCH_OFFSET_ATTRIBUTES,
  BATCH_OFFSET_BASE_OFFSET,
  BATCH_OFFSET_BASE_SEQUENCE,
  BATCH_OFFSET_BASE_TIMESTAMP,
  BATCH_OFFSET_CRC,
  BATCH_OFFSET_LAST_OFFSET_DELTA,
  BATCH_OFFSET_LEADER_EPOCH,
  BATCH_OFFSET_LENGTH,
  BATCH_OFFSET_MAGIC,
  BATCH_OFFSET_MAX_TIMESTAMP,
  BATCH_OFFSET_PRODUCER_EPOCH,
  BATCH_OFFSET_PRODUCER_ID,
  BATCH_OFFSET_RECORDS_COUNT,
  Compression,
  type CompressionType,
  computeBatchCrc,
  NO_PARTITION_LEADER_EPOCH,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
} from './batch-header.ts';
import { sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from './varint.ts';

export interface RecordInput {
  key: Buffer | null;
  value: Buffer | null;
  headers?: ReadonlyArray<{ key: string; value: Buffer | null }>;
  /** Record timestamp; defaults to the batch BaseTimestamp. */
  timestampMs?: bigint;
  /** Offset relative to BaseOffset; defaults to the record's index. Must increase strictly. */
  offsetDelta?: number;
}

export interface BatchInput {
  baseOffset?: bigint;
  partitionLeaderEpoch?: number;
  /** Defaults to the first record's timestamp, else the current time; -1 for an empty batch. */
  baseTimestampMs?: bigint;
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
  transactional?: boolean;
  control?: boolean;
  compression?: CompressionType;
  /** Sets the log-append-time attribute; MaxTimestamp becomes BaseTimestamp (the append time). */
  logAppendTime?: boolean;
  records: readonly RecordInput[];
}

/** No-timestamp marker (RecordBatch.NO_TIMESTAMP). */
export const NO_TIMESTAMP = -1n;
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A varlong-ready timestamp delta: a number when exact, else the bigint. */
function timestampDelta(timestampMs: bigint | undefined, baseTimestampMs: bigint): number | bigint {
  if (timestampMs === undefined || timestampMs === baseTimestampMs) return 0;
  const delta = timestampMs - baseTimestampMs;
  return delta >= MIN_SAFE && delta <= MAX_SAFE ? Number(delta) : delta;
}

const sizeOfBytesField = (bytes: Buffer | null): number => (bytes === null ? 1 : sizeOfVarint(bytes.length) + bytes.length);

function writeBytesField(buf: Buffer, at: number, bytes: Buffer | null): number {
  if (bytes === null) return writeVarint(buf, at, -1);
  at = writeVarint(buf, at, bytes.length);
  bytes.copy(buf, at);
  return at + bytes.length;
}

/** Builds one record batch v2 from `input`; see the module comment for the defaults. */
export function buildRecordBatch(input: BatchInput): Buffer {
  const { records } = input;
  const count = records.length;
  const compression = input.compression ?? Compression.none;
  const baseTimestampMs = input.baseTimestampMs ?? records[0]?.timestampMs ?? (count === 0 ? NO_TIMESTAMP : BigInt(Date.now()));

  // Pass 1: sizes, deltas and the timestamp maximum; remembered per record so pass 2 only writes.
  const deltas: Array<number | bigint> = new Array<number | bigint>(count);
  const offsetDeltas = new Int32Array(count);
  const bodySizes = new Int32Array(count);
  const headerKeyBytes: number[] = [];
  let recordsBytes = 0;
  let maxTimestampMs = NO_TIMESTAMP;
  let previousOffsetDelta = -1;
  for (let i = 0; i < count; i++) {
    const record = records[i]!;
    const offsetDelta = record.offsetDelta ?? i;
    if (!Number.isInteger(offsetDelta) || offsetDelta <= previousOffsetDelta || offsetDelta > 0x7fffffff) {
      throw new RangeError(`record ${i}: offset delta ${offsetDelta} must be an int32 greater than ${previousOffsetDelta}`);
    }
    previousOffsetDelta = offsetDelta;
    offsetDeltas[i] = offsetDelta;
    const delta = timestampDelta(record.timestampMs, baseTimestampMs);
    deltas[i] = delta;
    const recordTimestampMs = record.timestampMs ?? baseTimestampMs;
    if (recordTimestampMs > maxTimestampMs) maxTimestampMs = recordTimestampMs;
    let body = 1 + sizeOfVarlong(delta) + sizeOfVarint(offsetDelta) + sizeOfBytesField(record.key) + sizeOfBytesField(record.value);
    const headers = record.headers ?? [];
    body += sizeOfVarint(headers.length);
    for (const header of headers) {
      const keyBytes = Buffer.byteLength(header.key, 'utf8');
      headerKeyBytes.push(keyBytes);
      body += sizeOfVarint(keyBytes) + keyBytes + sizeOfBytesField(header.value);
    }
    bodySizes[i] = body;
    recordsBytes += sizeOfVarint(body) + body;
  }
  if (input.logAppendTime === true) maxTimestampMs = baseTimestampMs;

  // Pass 2: records, straight after the header when uncompressed, else into a scratch area to compress.
  const uncompressed = compression === Compression.none;
  const recordsBuf = uncompressed ? Buffer.allocUnsafe(BATCH_HEADER_BYTES + recordsBytes) : Buffer.allocUnsafe(recordsBytes);
  let at = uncompressed ? BATCH_HEADER_BYTES : 0;
  let headerKeyIndex = 0;
  for (let i = 0; i < count; i++) {
    const record = records[i]!;
    at = writeVarint(recordsBuf, at, bodySizes[i]!);
    recordsBuf[at++] = 0; // record attributes: unused in v2
    at = writeVarlong(recordsBuf, at, deltas[i]!);
    at = writeVarint(recordsBuf, at, offsetDeltas[i]!);
    at = writeBytesField(recordsBuf, at, record.key);
    at = writeBytesField(recordsBuf, at, record.value);
    const headers = record.headers ?? [];
    at = writeVarint(recordsBuf, at, headers.length);
    for (const header of headers) {
      at = writeVarint(recordsBuf, at, headerKeyBytes[headerKeyIndex++]!);
      at += recordsBuf.write(header.key, at, 'utf8');
      at = writeBytesField(recordsBuf, at, header.value);
    }
  }

  let batch: Buffer;
  if (uncompressed) {
    batch = recordsBuf;
  } else {
    const compressed = compress(compression, recordsBuf);
    batch = Buffer.allocUnsafe(BATCH_HEADER_BYTES + compressed.length);
    compressed.copy(batch, BATCH_HEADER_BYTES);
  }

  let attributes = compression;
  if (input.logAppendTime === true) attributes |= ATTR_TIMESTAMP_LOG_APPEND;
  if (input.transactional === true) attributes |= ATTR_TRANSACTIONAL;
  if (input.control === true) attributes |= ATTR_CONTROL;

  batch.writeBigInt64BE(input.baseOffset ?? 0n, BATCH_OFFSET_BASE_OFFSET);
  batch.writeInt32BE(batch.length - BATCH_LOG_OVERHEAD_BYTES, BATCH_OFFSET_LENGTH);
  batch.writeInt32BE(input.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH, BATCH_OFFSET_LEADER_EPOCH);
  batch.writeInt8(BATCH_MAGIC_V2, BATCH_OFFSET_MAGIC);
  batch.writeInt16BE(attributes, BATCH_OFFSET_ATTRIBUTES);
  batch.writeInt32BE(count === 0 ? -1 : previousOffsetDelta, BATCH_OFFSET_LAST_OFFSET_DELTA);
  batch.writeBigInt64BE(baseTimestampMs, BATCH_OFFSET_BASE_TIMESTAMP);
  batch.writeBigInt64BE(maxTimestampMs, BATCH_OFFSET_MAX_TIMESTAMP);
  batch.writeBigInt64BE(input.producerId ?? NO_PRODUCER_ID, BATCH_OFFSET_PRODUCER_ID);
  batch.writeInt16BE(input.producerEpoch ?? NO_PRODUCER_EPOCH, BATCH_OFFSET_PRODUCER_EPOCH);
  batch.writeInt32BE(input.baseSequence ?? NO_SEQUENCE, BATCH_OFFSET_BASE_SEQUENCE);
  batch.writeInt32BE(count, BATCH_OFFSET_RECORDS_COUNT);
  batch.writeUInt32BE(computeBatchCrc(batch, 0), BATCH_OFFSET_CRC);
  return batch;
}

/**
 * Record batch v2 header: fixed-offset accessors over a Buffer that holds one or more batches.
 *
 * Layout (61 bytes, big-endian):
 *   BaseOffset int64 | Length int32 | PartitionLeaderEpoch int32 | Magic int8 | CRC uint32 |
 *   Attributes int16 | LastOffsetDelta int32 | BaseTimestamp int64 | MaxTimestamp int64 |
 *   ProducerId int64 | ProducerEpoch int16 | BaseSequence int32 | RecordsCount int32
 *
 * `Length` counts the bytes after the Length field, so a whole batch is `Length + 12` bytes.
 * The CRC32C covers Attributes..end; BaseOffset, Length and PartitionLeaderEpoch lie outside it, which
 * is what lets a leader assign offsets and stamp its epoch in place (patchBaseOffset/patchLeaderEpoch).
 * MaxTimestamp is inside the CRC: patching it (log-append time) requires a CRC update (patchMaxTimestamp).
 *
 * These functions never allocate: the produce and fetch hot paths walk batches through them.
 */
import { crc32c } from '@node-rs/crc32';

export const BATCH_OFFSET_BASE_OFFSET = 0;
export const BATCH_OFFSET_LENGTH = 8;
export const BATCH_OFFSET_LEADER_EPOCH = 12;
export const BATCH_OFFSET_MAGIC = 16;
export const BATCH_OFFSET_CRC = 17;
export const BATCH_OFFSET_ATTRIBUTES = 21;
export const BATCH_OFFSET_LAST_OFFSET_DELTA = 23;
export const BATCH_OFFSET_BASE_TIMESTAMP = 27;
export const BATCH_OFFSET_MAX_TIMESTAMP = 35;
export const BATCH_OFFSET_PRODUCER_ID = 43;
export const BATCH_OFFSET_PRODUCER_EPOCH = 51;
export const BATCH_OFFSET_BASE_SEQUENCE = 53;
export const BATCH_OFFSET_RECORDS_COUNT = 57;
export const BATCH_HEADER_BYTES = 61;
/** BaseOffset + Length: the bytes that precede what `Length` counts. */
export const BATCH_LOG_OVERHEAD_BYTES = 12;
export const BATCH_MAGIC_V2 = 2;

export const ATTR_COMPRESSION_MASK = 0x07;
export const ATTR_TIMESTAMP_LOG_APPEND = 0x08;
export const ATTR_TRANSACTIONAL = 0x10;
export const ATTR_CONTROL = 0x20;
export const ATTR_DELETE_HORIZON = 0x40;

export const Compression = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
export type CompressionType = (typeof Compression)[keyof typeof Compression];

export const NO_PRODUCER_ID = -1n;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;

export const readBaseOffset = (buf: Buffer, at: number): bigint => buf.readBigInt64BE(at + BATCH_OFFSET_BASE_OFFSET);
export const readBatchLength = (buf: Buffer, at: number): number => buf.readInt32BE(at + BATCH_OFFSET_LENGTH);
/** Total bytes of the batch starting at `at` (Length + 12). */
export const readBatchSizeBytes = (buf: Buffer, at: number): number => buf.readInt32BE(at + BATCH_OFFSET_LENGTH) + BATCH_LOG_OVERHEAD_BYTES;
export const readLeaderEpoch = (buf: Buffer, at: number): number => buf.readInt32BE(at + BATCH_OFFSET_LEADER_EPOCH);
export const readMagic = (buf: Buffer, at: number): number => buf.readInt8(at + BATCH_OFFSET_MAGIC);
export const readCrc = (buf: Buffer, at: number): number => buf.readUInt32BE(at + BATCH_OFFSET_CRC);
export const readAttributes = (buf: Buffer, at: number): number => buf.readInt16BE(at + BATCH_OFFSET_ATTRIBUTES);
export const readLastOffsetDelta = (buf: Buffer, at: number): number => buf.readInt32BE(at + BATCH_OFFSET_LAST_OFFSET_DELTA);
export const readBaseTimestamp = (buf: Buffer, at: number): bigint => buf.readBigInt64BE(at + BATCH_OFFSET_BASE_TIMESTAMP);
export const readMaxTimestamp = (buf: Buffer, at: number): bigint => buf.readBigInt64BE(at + BATCH_OFFSET_MAX_TIMESTAMP);
export const readProducerId = (buf: Buffer, at: number): bigint => buf.readBigInt64BE(at + BATCH_OFFSET_PRODUCER_ID);
export const readProducerEpoch = (buf: Buffer, at: number): number => buf.readInt16BE(at + BATCH_OFFSET_PRODUCER_EPOCH);
export const readBaseSequence = (buf: Buffer, at: number): number => buf.readInt32BE(at + BATCH_OFFSET_BASE_SEQUENCE);
export const readRecordsCount = (buf: Buffer, at: number): number => buf.readInt32BE(at + BATCH_OFFSET_RECORDS_COUNT);
/** Offset of the last record in the batch. */
export const readLastOffset = (buf: Buffer, at: number): bigint =>
  readBaseOffset(buf, at) + BigInt(readLastOffsetDelta(buf, at));

export const compressionOf = (attributes: number): number => attributes & ATTR_COMPRESSION_MASK;
export const isControlBatch = (attributes: number): boolean => (attributes & ATTR_CONTROL) !== 0;
export const isTransactionalBatch = (attributes: number): boolean => (attributes & ATTR_TRANSACTIONAL) !== 0;

/** CRC32C over Attributes..end of the batch at `at`, as stored in the CRC field. */
export function computeBatchCrc(buf: Buffer, at: number): number {
  const end = at + readBatchSizeBytes(buf, at);
  return crc32c(buf.subarray(at + BATCH_OFFSET_ATTRIBUTES, end)) >>> 0;
}

export const isBatchCrcValid = (buf: Buffer, at: number): boolean => computeBatchCrc(buf, at) === readCrc(buf, at);

/** Sets BaseOffset in place. Outside the CRC: no re-checksum needed. */
export function patchBaseOffset(buf: Buffer, at: number, baseOffset: bigint): void {
  buf.writeBigInt64BE(baseOffset, at + BATCH_OFFSET_BASE_OFFSET);
}

/** Sets PartitionLeaderEpoch in place. Outside the CRC: no re-checksum needed. */
export function patchLeaderEpoch(buf: Buffer, at: number, epoch: number): void {
  buf.writeInt32BE(epoch, at + BATCH_OFFSET_LEADER_EPOCH);
}

/**
 * Sets MaxTimestamp (and the log-append-time attribute when `logAppendTime`) in place and rewrites the CRC.
 * Used for message.timestamp.type=LogAppendTime, where the broker overwrites the batch timestamp.
 */
export function patchMaxTimestamp(buf: Buffer, at: number, maxTimestamp: bigint, logAppendTime: boolean): void {
  buf.writeBigInt64BE(maxTimestamp, at + BATCH_OFFSET_MAX_TIMESTAMP);
  if (logAppendTime) {
    const attributes = readAttributes(buf, at) | ATTR_TIMESTAMP_LOG_APPEND;
    buf.writeInt16BE(attributes, at + BATCH_OFFSET_ATTRIBUTES);
  }
  buf.writeUInt32BE(computeBatchCrc(buf, at), at + BATCH_OFFSET_CRC);
}

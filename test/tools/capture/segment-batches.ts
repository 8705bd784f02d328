// Reads only the fixed 61-byte header of each v2 record batch in a Kafka log segment, to describe the
// fixture files (batch count, offsets, codec, producer fields). Records themselves are not decoded here.
export type Codec = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
export const CODECS: readonly Codec[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

export interface BatchHeader {
  /** Byte position of the batch in the segment. */
  position: number;
  baseOffset: string;
  /** Bytes after the length field. */
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  compression: Codec | `unknown-${number}`;
  timestampType: 'CreateTime' | 'LogAppendTime';
  isTransactional: boolean;
  isControl: boolean;
  lastOffsetDelta: number;
  baseTimestamp: string;
  maxTimestamp: string;
  producerId: string;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

export function readBatchHeaders(segment: Buffer): BatchHeader[] {
  const out: BatchHeader[] = [];
  let pos = 0;
  while (pos + 12 <= segment.length) {
    const batchLength = segment.readInt32BE(pos + 8);
    if (batchLength <= 0) break; // preallocated tail
    if (pos + 12 + batchLength > segment.length) throw new Error(`truncated batch at byte ${pos}`);
    const magic = segment.readInt8(pos + 16);
    if (magic !== 2) throw new Error(`batch at byte ${pos} has magic ${magic}, expected 2`);
    const attributes = segment.readInt16BE(pos + 21);
    const codecId = attributes & 0x7;
    out.push({
      position: pos,
      baseOffset: segment.readBigInt64BE(pos).toString(),
      batchLength,
      partitionLeaderEpoch: segment.readInt32BE(pos + 12),
      magic,
      crc: segment.readUInt32BE(pos + 17),
      attributes,
      compression: CODECS[codecId] ?? `unknown-${codecId}`,
      timestampType: (attributes & 0x8) !== 0 ? 'LogAppendTime' : 'CreateTime',
      isTransactional: (attributes & 0x10) !== 0,
      isControl: (attributes & 0x20) !== 0,
      lastOffsetDelta: segment.readInt32BE(pos + 23),
      baseTimestamp: segment.readBigInt64BE(pos + 27).toString(),
      maxTimestamp: segment.readBigInt64BE(pos + 35).toString(),
      producerId: segment.readBigInt64BE(pos + 43).toString(),
      producerEpoch: segment.readInt16BE(pos + 51),
      baseSequence: segment.readInt32BE(pos + 53),
      recordCount: segment.readInt32BE(pos + 57),
    });
    pos += 12 + batchLength;
  }
  return out;
}

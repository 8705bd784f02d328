/**
 * Walks the records of one record batch v2 without materialising them.
 *
 * Each record is exposed through ONE reused RecordView whose fields are offsets into `view.buf`, the records
 * area: the batch buffer itself for uncompressed batches (no copy), or the decompressed bytes otherwise. A view
 * is valid only during the callback; copy what you need to keep.
 *
 * Record layout (all varints zig-zag): length varint | attributes int8 | timestampDelta varlong |
 * offsetDelta varint | keyLength varint (-1 = null) | key | valueLength varint (-1 = null) | value |
 * headerCount varint | headers (keyLength varint >= 0 | key utf-8 | valueLength varint (-1 = null) | value)*
 *
 * Errors (all KafkaProtocolError):
 *   - batch framing (short header, bad Length, bytes missing, unknown magic or codec): CORRUPT_MESSAGE
 *   - magic 0/1 (legacy message sets, not accepted since Kafka 4.0 for produce): INVALID_RECORD
 *   - undecodable compressed payload or output above `decompressedBytesMax`: CompressionError (CORRUPT_MESSAGE)
 *   - record structure (bad varint, lengths past the record, count mismatch, leftover bytes): INVALID_RECORD,
 *     matching the InvalidRecordException Kafka's DefaultRecord/DefaultRecordBatch throw for the same faults.
 * The CRC is not checked here (see batch-validator.ts); callers reading their own log may skip it.
 */
import { decompress } from '../compression/index.ts';
import { ErrorCode, KafkaProtocolError } from '../error-codes.ts';
import {
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD_BYTES,
  BATCH_MAGIC_V2,
  BATCH_OFFSET_LENGTH,
  BATCH_OFFSET_MAGIC,
  Compression,
  compressionOf,
  readAttributes,
  readRecordsCount,
} from './batch-header.ts';
import { type ReadCursor, readVarint, readVarlong, VarintError } from './varint.ts';

/** Default bound on a batch's decompressed records area (64 MiB): above any real batch, far below a bomb's reach. */
export const DEFAULT_DECOMPRESSED_BYTES_MAX = 64 * 1024 * 1024;

export interface RecordView {
  /** The records area that every offset below points into. */
  buf: Buffer;
  /** 0-based position of the record in its batch. */
  index: number;
  /** Where the record (its length varint) starts in `buf`. */
  recordOffset: number;
  /** Bytes of the whole record including its length varint. */
  sizeBytes: number;
  attributes: number;
  /** Milliseconds relative to the batch BaseTimestamp. */
  timestampDelta: number;
  offsetDelta: number;
  keyOffset: number;
  /** -1 = null key. */
  keyLength: number;
  valueOffset: number;
  /** -1 = null value. */
  valueLength: number;
  headerCount: number;
  /** Where the first header starts in `buf` (equals the record end when headerCount is 0). */
  headersOffset: number;
}

export interface ForEachRecordOptions {
  /** Upper bound for a compressed batch's decompressed records area; default DEFAULT_DECOMPRESSED_BYTES_MAX. */
  decompressedBytesMax?: number;
}

/** The bytes holding a batch's records, after decompression when needed. */
export interface RecordsArea {
  buf: Buffer;
  start: number;
  end: number;
  recordCount: number;
  compression: number;
}

export const newRecordView = (): RecordView => ({
  buf: Buffer.alloc(0),
  index: 0,
  recordOffset: 0,
  sizeBytes: 0,
  attributes: 0,
  timestampDelta: 0,
  offsetDelta: 0,
  keyOffset: 0,
  keyLength: -1,
  valueOffset: 0,
  valueLength: -1,
  headerCount: 0,
  headersOffset: 0,
});

const corrupt = (detail: string): KafkaProtocolError => new KafkaProtocolError(ErrorCode.CORRUPT_MESSAGE, detail);
const invalid = (detail: string, cause?: unknown): KafkaProtocolError =>
  new KafkaProtocolError(ErrorCode.INVALID_RECORD, detail, cause === undefined ? undefined : { cause });

/**
 * Checks the framing of the batch at `at` (header present, Length sane, every byte present, magic 2) and returns
 * its total size in bytes. Throws when the batch is not entirely inside `batchBuf`, so no later read can leave it.
 */
export function checkBatchFraming(batchBuf: Buffer, at: number): number {
  const available = batchBuf.length - at;
  if (at < 0 || available < BATCH_LOG_OVERHEAD_BYTES) throw corrupt(`batch at byte ${at}: ${Math.max(0, available)} bytes, too few for the batch length field`);
  const length = batchBuf.readInt32BE(at + BATCH_OFFSET_LENGTH);
  const sizeBytes = length + BATCH_LOG_OVERHEAD_BYTES;
  if (length < 0 || sizeBytes < BATCH_HEADER_BYTES) throw corrupt(`batch at byte ${at}: size ${sizeBytes} is below the ${BATCH_HEADER_BYTES}-byte batch header`);
  if (sizeBytes > available) throw corrupt(`batch at byte ${at}: declares ${sizeBytes} bytes but only ${available} are present`);
  const magic = batchBuf.readInt8(at + BATCH_OFFSET_MAGIC);
  if (magic === 0 || magic === 1) throw new KafkaProtocolError(ErrorCode.INVALID_RECORD, `batch at byte ${at}: magic ${magic} message sets are not supported, only magic 2`);
  if (magic !== BATCH_MAGIC_V2) throw corrupt(`batch at byte ${at}: invalid magic ${magic}`);
  return sizeBytes;
}

/** Checks the framing of the batch at `at` and returns its records area, decompressed if needed. */
export function openRecordsArea(batchBuf: Buffer, at: number, decompressedBytesMax: number = DEFAULT_DECOMPRESSED_BYTES_MAX): RecordsArea {
  const sizeBytes = checkBatchFraming(batchBuf, at);
  const compression = compressionOf(readAttributes(batchBuf, at));
  const recordCount = readRecordsCount(batchBuf, at);
  if (recordCount < 0) throw invalid(`batch at byte ${at}: invalid record count ${recordCount}`);
  const start = at + BATCH_HEADER_BYTES;
  const end = at + sizeBytes;
  if (compression === Compression.none) return { buf: batchBuf, start, end, recordCount, compression };
  if (compression > Compression.zstd) throw corrupt(`batch at byte ${at}: unknown compression codec id ${compression}`);
  const decompressed = decompress(compression, batchBuf.subarray(start, end), decompressedBytesMax);
  return { buf: decompressed, start: 0, end: decompressed.length, recordCount, compression };
}

/**
 * Parses `area.recordCount` records, filling `view` for each and calling `visit`. The records must fill the area
 * exactly. Returns the number of records visited (= area.recordCount).
 */
export function walkRecords(area: RecordsArea, view: RecordView, visit: (record: RecordView) => void): number {
  const { buf, end, recordCount } = area;
  const cursor: ReadCursor = { offset: area.start };
  view.buf = buf;
  let index = 0;
  try {
    for (; index < recordCount; index++) {
      const recordOffset = cursor.offset;
      const bodyBytes = readVarint(buf, cursor, end);
      const bodyStart = cursor.offset;
      const bodyEnd = bodyStart + bodyBytes;
      if (bodyBytes < 1 || bodyEnd > end) {
        throw invalid(`record ${index}: invalid record size ${bodyBytes} with ${end - bodyStart} bytes left in the batch`);
      }
      view.index = index;
      view.recordOffset = recordOffset;
      view.sizeBytes = bodyEnd - recordOffset;
      view.attributes = buf[bodyStart]!;
      cursor.offset = bodyStart + 1;
      view.timestampDelta = readVarlong(buf, cursor, bodyEnd);
      view.offsetDelta = readVarint(buf, cursor, bodyEnd);
      const keyLength = readVarint(buf, cursor, bodyEnd);
      if (keyLength < -1) throw invalid(`record ${index}: invalid key length ${keyLength}`);
      view.keyOffset = cursor.offset;
      view.keyLength = keyLength;
      if (keyLength > 0) {
        cursor.offset += keyLength;
        if (cursor.offset > bodyEnd) throw invalid(`record ${index}: key of ${keyLength} bytes runs past the record`);
      }
      const valueLength = readVarint(buf, cursor, bodyEnd);
      if (valueLength < -1) throw invalid(`record ${index}: invalid value length ${valueLength}`);
      view.valueOffset = cursor.offset;
      view.valueLength = valueLength;
      if (valueLength > 0) {
        cursor.offset += valueLength;
        if (cursor.offset > bodyEnd) throw invalid(`record ${index}: value of ${valueLength} bytes runs past the record`);
      }
      const headerCount = readVarint(buf, cursor, bodyEnd);
      if (headerCount < 0) throw invalid(`record ${index}: invalid header count ${headerCount}`);
      view.headerCount = headerCount;
      view.headersOffset = cursor.offset;
      // Each header takes at least 2 bytes, so a huge count fails on the bytes long before it can spin.
      for (let h = 0; h < headerCount; h++) {
        const headerKeyLength = readVarint(buf, cursor, bodyEnd);
        if (headerKeyLength < 0) throw invalid(`record ${index}: header ${h} has invalid key length ${headerKeyLength}`);
        cursor.offset += headerKeyLength;
        if (cursor.offset > bodyEnd) throw invalid(`record ${index}: header ${h} key runs past the record`);
        const headerValueLength = readVarint(buf, cursor, bodyEnd);
        if (headerValueLength < -1) throw invalid(`record ${index}: header ${h} has invalid value length ${headerValueLength}`);
        if (headerValueLength > 0) {
          cursor.offset += headerValueLength;
          if (cursor.offset > bodyEnd) throw invalid(`record ${index}: header ${h} value runs past the record`);
        }
      }
      if (cursor.offset !== bodyEnd) {
        throw invalid(`record ${index}: expected to read ${bodyBytes} bytes in the record body, but read ${cursor.offset - bodyStart}`);
      }
      visit(view);
    }
  } catch (error) {
    if (error instanceof VarintError) throw invalid(`record ${index}: ${error.detail}`, error);
    throw error;
  }
  if (cursor.offset !== end) {
    throw invalid(`batch declares ${recordCount} records but ${end - cursor.offset} bytes remain after them`);
  }
  return recordCount;
}

/**
 * Calls `visit` for every record of the batch at `batchBuf[at]`, decompressing if needed. The RecordView passed
 * in is reused for every record and only valid during the call. Returns the number of records.
 */
export function forEachRecord(batchBuf: Buffer, at: number, visit: (record: RecordView) => void, opts?: ForEachRecordOptions): number {
  const area = openRecordsArea(batchBuf, at, opts?.decompressedBytesMax ?? DEFAULT_DECOMPRESSED_BYTES_MAX);
  return walkRecords(area, newRecordView(), visit);
}

/** Calls `visit` with the offsets of each header of the record in `view` (valid during the record callback). */
export function forEachHeader(
  view: RecordView,
  visit: (buf: Buffer, keyOffset: number, keyLength: number, valueOffset: number, valueLength: number) => void,
): void {
  // walkRecords already validated the header bytes, so these reads stay in bounds.
  const cursor: ReadCursor = { offset: view.headersOffset };
  const { buf } = view;
  for (let h = 0; h < view.headerCount; h++) {
    const keyLength = readVarint(buf, cursor);
    const keyOffset = cursor.offset;
    cursor.offset += keyLength;
    const valueLength = readVarint(buf, cursor);
    const valueOffset = cursor.offset;
    if (valueLength > 0) cursor.offset += valueLength;
    visit(buf, keyOffset, keyLength, valueOffset, valueLength);
  }
}

/** The record key as a view into the records area (no copy), or null. */
export const recordKey = (view: RecordView): Buffer | null =>
  view.keyLength < 0 ? null : view.buf.subarray(view.keyOffset, view.keyOffset + view.keyLength);

/** The record value as a view into the records area (no copy), or null. */
export const recordValue = (view: RecordView): Buffer | null =>
  view.valueLength < 0 ? null : view.buf.subarray(view.valueOffset, view.valueOffset + view.valueLength);

/** Decodes the headers of the record in `view` (allocates; for tests, tools and slow paths). */
export function readHeaders(view: RecordView): Array<{ key: string; value: Buffer | null }> {
  const headers: Array<{ key: string; value: Buffer | null }> = [];
  forEachHeader(view, (buf, keyOffset, keyLength, valueOffset, valueLength) => {
    headers.push({
      key: buf.toString('utf8', keyOffset, keyOffset + keyLength),
      value: valueLength < 0 ? null : buf.subarray(valueOffset, valueOffset + valueLength),
    });
  });
  return headers;
}

/**
 * Leader-side validation of the `records` bytes of one produce partition, and shallow validation of replicated
 * bytes, following Kafka 4.x (ProduceRequest.validateRecords, UnifiedLog.analyzeAndValidateRecords,
 * LogValidator.validateBatch/validateRecord). Batches are walked as buffers: headers are read in place and, for
 * uncompressed batches, records are parsed with in-place varint reads, with no allocation per record.
 *
 * Checks for origin 'client' (a Produce request), in Kafka's order, with the code the client sees:
 *   1. at least one batch                                            INVALID_RECORD
 *   2. batch framing: Length sane, every byte present                 CORRUPT_MESSAGE
 *   3. magic: 0/1 -> INVALID_RECORD (Produce v3+ allows magic 2 only), anything else not 2 -> CORRUPT_MESSAGE
 *   4. zstd when the request version predates it (zstdAllowed=false)  UNSUPPORTED_COMPRESSION_TYPE
 *   5. exactly one batch per partition                                INVALID_RECORD
 *   6. BaseOffset 0                                                   INVALID_RECORD
 *   7. batch size <= max.message.bytes                                MESSAGE_TOO_LARGE
 *   8. CRC32C                                                         CORRUPT_MESSAGE
 *   9. known codec id; payload decompresses within the bound         INVALID_RECORD
 *  10. LastOffsetDelta + 1 == RecordsCount > 0, no control batch, producer fields consistent  INVALID_RECORD
 *  11. records parse exactly, offset deltas are 0..n-1               INVALID_RECORD
 *  12. per record: key present on compacted topics (INVALID_RECORD), timestamp within
 *      message.timestamp.before/after.max.ms, no client-set log-append time (INVALID_TIMESTAMP); all records are
 *      checked and listed like Kafka's RecordErrors, INVALID_TIMESTAMP winning if any timestamp failed.
 *
 * Deliberate differences from Kafka, all stricter on input no real client sends:
 *   - a trailing partial batch is rejected (CORRUPT_MESSAGE) where Kafka silently trims it;
 *   - offset deltas must be 0..n-1 (Kafka rewrites compressed batches with other deltas and ignores them in
 *     uncompressed ones); we never rewrite batches, so we refuse them;
 *   - a transactional flag without a producer id, a producer id below -1, or a producer id with a negative
 *     epoch is INVALID_RECORD (Kafka lets the producer-state check or nothing catch these). A sequence without
 *     a producer id is accepted as Kafka does: kafkajs sends producer id -1 with epoch 0 and sequence 0;
 *   - an undecodable compressed payload is INVALID_RECORD (Kafka surfaces it as UNKNOWN_SERVER_ERROR) and a
 *     payload decompressing beyond `decompressedBytesMax` is refused (Kafka has no such bound).
 *
 * Origin 'replication' (bytes fetched from a leader, or read back from our own log) is shallow, as Kafka's
 * follower append is: any number of batches, framing, magic, CRC, known codec, RecordsCount consistent with
 * LastOffsetDelta (compaction leaves gaps and empty batches), offsets increasing across batches. Set
 * `walkRecords: true` to also parse every record (offset deltas strictly increasing within the batch).
 */
import { CompressionError } from '../compression/index.ts';
import { ErrorCode, errorName, KafkaProtocolError } from '../error-codes.ts';
import {
  ATTR_TIMESTAMP_LOG_APPEND,
  ATTR_CONTROL,
  ATTR_TRANSACTIONAL,
  BATCH_HEADER_BYTES,
  Compression,
  type CompressionType,
  compressionOf,
  computeBatchCrc,
  readAttributes,
  readBaseOffset,
  readBaseSequence,
  readBaseTimestamp,
  readCrc,
  readLastOffsetDelta,
  readLeaderEpoch,
  readMaxTimestamp,
  readProducerEpoch,
  readProducerId,
  readRecordsCount,
} from './batch-header.ts';
import { checkBatchFraming, DEFAULT_DECOMPRESSED_BYTES_MAX, newRecordView, openRecordsArea, type RecordsArea, type RecordView, walkRecords } from './record-iterator.ts';

/** Kafka's default max.message.bytes (1 MiB + the 12-byte log overhead). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;
/** At most this many per-record errors are listed in a failure (Kafka lists all; a 1 MiB batch can hold ~150k). */
export const RECORD_ERRORS_MAX = 1000;

export type AppendOrigin = 'client' | 'replication';
export type TimestampType = 'CreateTime' | 'LogAppendTime';

export interface ValidationLimits {
  /** 'client' for Produce requests (default), 'replication' for follower fetches and log reads. */
  origin?: AppendOrigin;
  /** max.message.bytes of the topic; default DEFAULT_MAX_MESSAGE_BYTES. Not applied to replication. */
  maxMessageBytes?: number;
  /** Bound on one batch's decompressed records; default DEFAULT_DECOMPRESSED_BYTES_MAX. */
  decompressedBytesMax?: number;
  /** cleanup.policy contains compact: every record needs a key. */
  compactedTopic?: boolean;
  /** message.timestamp.type of the topic; default CreateTime. */
  timestampType?: TimestampType;
  /** message.timestamp.before.max.ms; absent = no limit. */
  timestampBeforeMaxMs?: number;
  /** message.timestamp.after.max.ms; absent = no limit. */
  timestampAfterMaxMs?: number;
  /** The clock for timestamp checks; default Date.now(). */
  nowMs?: number;
  /** false for Produce versions before 7, which may not carry zstd. Default true. */
  zstdAllowed?: boolean;
  /** Parse records for origin 'replication' too (always done for 'client'). */
  walkRecords?: boolean;
}

/** What the produce path needs to know about one batch, read in place from its header and records. */
export interface BatchSummary {
  /** Byte offset of the batch in the validated buffer. */
  readonly position: number;
  readonly sizeBytes: number;
  readonly baseOffset: bigint;
  readonly lastOffsetDelta: number;
  readonly recordCount: number;
  readonly partitionLeaderEpoch: number;
  readonly attributes: number;
  readonly compression: CompressionType;
  readonly transactional: boolean;
  readonly control: boolean;
  /** The batch carries the log-append-time attribute. */
  readonly logAppendTime: boolean;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly baseTimestampMs: bigint;
  /** MaxTimestamp as stored in the header. */
  readonly headerMaxTimestampMs: bigint;
  /**
   * The largest record timestamp when records were walked (what Kafka writes back into MaxTimestamp for
   * CreateTime topics), else the header value. -1 when there is no timestamp.
   */
  readonly maxTimestampMs: bigint;
  /** Offset delta of the record holding maxTimestampMs, -1 when unknown or none. */
  readonly offsetDeltaOfMaxTimestamp: number;
  /** Size of the records area after decompression (equals the stored size when uncompressed). */
  readonly recordsBytes: number;
}

export interface RecordError {
  readonly batchIndex: number;
  /** Index of the record within its batch (Kafka's RecordError.batchIndex). */
  readonly recordIndex: number;
  readonly message: string;
}

export interface ValidationOk {
  readonly ok: true;
  readonly errorCode: 0;
  readonly batchCount: number;
  readonly recordCount: number;
  readonly sizeBytes: number;
  /** Largest maxTimestampMs over the batches, -1 when none. */
  readonly maxTimestampMs: bigint;
  readonly first: BatchSummary;
  readonly last: BatchSummary;
}

export interface ValidationFailure {
  readonly ok: false;
  readonly errorCode: number;
  readonly errorName: string;
  readonly message: string;
  /** The batch that failed (0-based), and its byte offset in the buffer. */
  readonly batchIndex: number;
  readonly position: number;
  readonly recordErrors: readonly RecordError[];
}

export type ValidationResult = ValidationOk | ValidationFailure;

/** Thrown inside the walk and turned into a ValidationFailure at the top; never escapes validateRecords. */
class BatchRejected extends Error {
  readonly errorCode: number;
  readonly recordErrors: readonly RecordError[];

  constructor(errorCode: number, message: string, recordErrors: readonly RecordError[] = []) {
    super(message);
    this.errorCode = errorCode;
    this.recordErrors = recordErrors;
  }
}

const reject = (errorCode: number, message: string): BatchRejected => new BatchRejected(errorCode, message);

interface ResolvedLimits {
  client: boolean;
  maxMessageBytes: number;
  decompressedBytesMax: number;
  compactedTopic: boolean;
  topicLogAppendTime: boolean;
  timestampBeforeMaxMs: number;
  timestampAfterMaxMs: number;
  nowMs: number;
  zstdAllowed: boolean;
  walkRecords: boolean;
}

function resolveLimits(limits: ValidationLimits): ResolvedLimits {
  const client = (limits.origin ?? 'client') === 'client';
  return {
    client,
    maxMessageBytes: limits.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    decompressedBytesMax: limits.decompressedBytesMax ?? DEFAULT_DECOMPRESSED_BYTES_MAX,
    compactedTopic: limits.compactedTopic ?? false,
    topicLogAppendTime: limits.timestampType === 'LogAppendTime',
    timestampBeforeMaxMs: limits.timestampBeforeMaxMs ?? Infinity,
    timestampAfterMaxMs: limits.timestampAfterMaxMs ?? Infinity,
    nowMs: limits.nowMs ?? Date.now(),
    zstdAllowed: limits.zstdAllowed ?? true,
    walkRecords: client || limits.walkRecords === true,
  };
}

/** Framing + magic (+ the zstd gate for clients), ahead of everything else as in ProduceRequest.validateRecords. */
function checkFramingAndMagic(buf: Buffer, at: number, limits: ResolvedLimits): number {
  let sizeBytes: number;
  try {
    sizeBytes = checkBatchFraming(buf, at);
  } catch (error) {
    if (error instanceof KafkaProtocolError) throw reject(error.errorCode, error.detail);
    throw error;
  }
  if (limits.client && !limits.zstdAllowed && compressionOf(readAttributes(buf, at)) === Compression.zstd) {
    throw reject(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, 'Produce requests before version 7 may not use zstd compression');
  }
  return sizeBytes;
}

interface RecordWalkState {
  recordErrors: RecordError[];
  timestampErrorSeen: boolean;
  maxTimestampMs: bigint;
  offsetDeltaOfMaxTimestamp: number;
}

/**
 * Walks the records of the client batch at `at`, collecting per-record errors like LogValidator does.
 * Structural faults throw; key and timestamp faults are collected so the client learns about all of them.
 */
function walkClientRecords(area: RecordsArea, buf: Buffer, at: number, batchIndex: number, limits: ResolvedLimits): RecordWalkState {
  const attributes = readAttributes(buf, at);
  const batchLogAppendTime = (attributes & ATTR_TIMESTAMP_LOG_APPEND) !== 0;
  const headerMaxTimestamp = readMaxTimestamp(buf, at);
  const baseTimestamp = readBaseTimestamp(buf, at);
  const baseNumber = Number(baseTimestamp);
  const headerMaxNumber = Number(headerMaxTimestamp);
  // Timestamps are compared as numbers (no per-record bigint); int64 values beyond 2^53 take the slow path.
  const exact = Number.isSafeInteger(baseNumber) && Number.isSafeInteger(headerMaxNumber);
  const { compactedTopic, topicLogAppendTime, timestampBeforeMaxMs, timestampAfterMaxMs, nowMs } = limits;
  const state: RecordWalkState = { recordErrors: [], timestampErrorSeen: false, maxTimestampMs: -1n, offsetDeltaOfMaxTimestamp: -1 };
  let maxNumber = -1;
  let maxBig = -1n;
  const addError = (recordIndex: number, message: string): void => {
    if (state.recordErrors.length < RECORD_ERRORS_MAX) state.recordErrors.push({ batchIndex, recordIndex, message });
  };
  const visit = (record: RecordView): void => {
    if (record.offsetDelta !== record.index) {
      throw reject(ErrorCode.INVALID_RECORD, `record ${record.index} of batch ${batchIndex} has offset delta ${record.offsetDelta}, expected ${record.index}`);
    }
    if (compactedTopic && record.keyLength < 0) {
      addError(record.index, 'Compacted topic cannot accept message without key');
      return;
    }
    if (exact) {
      const timestamp = batchLogAppendTime ? headerMaxNumber : baseNumber + record.timestampDelta;
      if (!topicLogAppendTime && timestamp !== -1) {
        if (nowMs - timestamp > timestampBeforeMaxMs || timestamp - nowMs > timestampAfterMaxMs) {
          state.timestampErrorSeen = true;
          addError(record.index, `Timestamp ${timestamp} of message with offset ${record.offsetDelta} is out of range. The timestamp should be within [${nowMs - timestampBeforeMaxMs}, ${nowMs + timestampAfterMaxMs}]`);
          return;
        }
      } else if (batchLogAppendTime) {
        state.timestampErrorSeen = true;
        addError(record.index, 'Invalid timestamp type in message. Producer should not set timestamp type to LogAppendTime.');
        return;
      }
      if (timestamp > maxNumber) {
        maxNumber = timestamp;
        state.offsetDeltaOfMaxTimestamp = record.offsetDelta;
      }
    } else {
      const timestamp = batchLogAppendTime ? headerMaxTimestamp : baseTimestamp + BigInt(record.timestampDelta);
      if (!topicLogAppendTime && timestamp !== -1n) {
        const ts = Number(timestamp);
        if (nowMs - ts > timestampBeforeMaxMs || ts - nowMs > timestampAfterMaxMs) {
          state.timestampErrorSeen = true;
          addError(record.index, `Timestamp ${timestamp} of message with offset ${record.offsetDelta} is out of range`);
          return;
        }
      } else if (batchLogAppendTime) {
        state.timestampErrorSeen = true;
        addError(record.index, 'Invalid timestamp type in message. Producer should not set timestamp type to LogAppendTime.');
        return;
      }
      if (timestamp > maxBig) {
        maxBig = timestamp;
        state.offsetDeltaOfMaxTimestamp = record.offsetDelta;
      }
    }
  };
  walkRecords(area, newRecordView(), visit);
  state.maxTimestampMs = exact ? BigInt(maxNumber) : maxBig;
  return state;
}

/** Parses the records of a replicated batch: structure plus strictly increasing offset deltas. */
function walkReplicatedRecords(area: RecordsArea, buf: Buffer, at: number, batchIndex: number): RecordWalkState {
  const lastOffsetDelta = readLastOffsetDelta(buf, at);
  const baseTimestamp = readBaseTimestamp(buf, at);
  const logAppendTime = (readAttributes(buf, at) & ATTR_TIMESTAMP_LOG_APPEND) !== 0;
  const state: RecordWalkState = { recordErrors: [], timestampErrorSeen: false, maxTimestampMs: -1n, offsetDeltaOfMaxTimestamp: -1 };
  let previous = -1;
  let maxDelta = -Infinity;
  walkRecords(area, newRecordView(), (record) => {
    if (record.offsetDelta <= previous || record.offsetDelta > lastOffsetDelta) {
      throw reject(ErrorCode.INVALID_RECORD, `record ${record.index} of batch ${batchIndex} has offset delta ${record.offsetDelta} after ${previous}, last offset delta ${lastOffsetDelta}`);
    }
    previous = record.offsetDelta;
    if (record.timestampDelta > maxDelta) {
      maxDelta = record.timestampDelta;
      state.offsetDeltaOfMaxTimestamp = record.offsetDelta;
    }
  });
  // In a log-append-time batch every record's timestamp is the header MaxTimestamp.
  if (logAppendTime) state.maxTimestampMs = readMaxTimestamp(buf, at);
  else if (area.recordCount > 0) state.maxTimestampMs = baseTimestamp + BigInt(maxDelta);
  return state;
}

function validateBatchFields(buf: Buffer, at: number, limits: ResolvedLimits): void {
  const attributes = readAttributes(buf, at);
  const lastOffsetDelta = readLastOffsetDelta(buf, at);
  const recordCount = readRecordsCount(buf, at);
  const producerId = readProducerId(buf, at);
  const producerEpoch = readProducerEpoch(buf, at);
  const baseSequence = readBaseSequence(buf, at);
  if (limits.client) {
    const countFromOffsets = lastOffsetDelta + 1;
    if (countFromOffsets <= 0) throw reject(ErrorCode.INVALID_RECORD, `Batch has an invalid offset range: last offset delta ${lastOffsetDelta}`);
    if (recordCount <= 0) throw reject(ErrorCode.INVALID_RECORD, `Invalid reported count for record batch: ${recordCount}`);
    if (countFromOffsets !== recordCount) {
      throw reject(ErrorCode.INVALID_RECORD, `Inconsistent batch offset range [0, ${lastOffsetDelta}] and count of records ${recordCount}`);
    }
    if ((attributes & ATTR_CONTROL) !== 0) throw reject(ErrorCode.INVALID_RECORD, 'Clients are not allowed to write control records');
    if (producerId >= 0n && baseSequence < 0) {
      throw reject(ErrorCode.INVALID_RECORD, `Invalid sequence number ${baseSequence} in record batch with producerId ${producerId}`);
    }
    if (producerId < -1n) throw reject(ErrorCode.INVALID_RECORD, `Invalid producer id ${producerId}`);
    if (producerId === -1n && (attributes & ATTR_TRANSACTIONAL) !== 0) {
      throw reject(ErrorCode.INVALID_RECORD, 'Transactional batch without a producer id');
    }
    if (producerId >= 0n && producerEpoch < 0) {
      throw reject(ErrorCode.INVALID_RECORD, `Invalid producer epoch ${producerEpoch} for producerId ${producerId}`);
    }
  } else {
    if (recordCount < 0) throw reject(ErrorCode.INVALID_RECORD, `Invalid reported count for record batch: ${recordCount}`);
    if (recordCount > 0 && recordCount > lastOffsetDelta + 1) {
      throw reject(ErrorCode.INVALID_RECORD, `Batch holds ${recordCount} records but its offset range has ${lastOffsetDelta + 1}`);
    }
  }
}

function failureFrom(rejected: BatchRejected, batchIndex: number, position: number): ValidationFailure {
  return {
    ok: false,
    errorCode: rejected.errorCode,
    errorName: errorName(rejected.errorCode),
    message: rejected.message,
    batchIndex,
    position,
    recordErrors: rejected.recordErrors,
  };
}

/**
 * Validates the `records` bytes of one produce partition (origin 'client') or of a replicated chunk
 * (origin 'replication'). Never throws for bad input: every problem comes back as a ValidationFailure.
 */
export function validateRecords(buf: Buffer, limits: ValidationLimits = {}): ValidationResult {
  const resolved = resolveLimits(limits);
  let batchIndex = 0;
  let position = 0;
  try {
    if (buf.length === 0) throw reject(ErrorCode.INVALID_RECORD, 'Produce requests must have at least one record batch per partition');
    let first: BatchSummary | undefined;
    let last: BatchSummary | undefined;
    let recordTotal = 0;
    let maxTimestampMs = -1n;
    let previousLastOffset = -1n;
    while (position < buf.length) {
      const at = position;
      const sizeBytes = checkFramingAndMagic(buf, at, resolved);
      if (resolved.client && batchIndex === 0 && sizeBytes < buf.length) {
        throw reject(ErrorCode.INVALID_RECORD, 'Produce requests are only allowed to contain exactly one record batch per partition');
      }
      const baseOffset = readBaseOffset(buf, at);
      if (resolved.client && baseOffset !== 0n) {
        throw reject(ErrorCode.INVALID_RECORD, `The baseOffset of the record batch in the append should be 0, but it is ${baseOffset}`);
      }
      if (resolved.client && sizeBytes > resolved.maxMessageBytes) {
        throw reject(ErrorCode.MESSAGE_TOO_LARGE, `The record batch size in the append is ${sizeBytes} bytes which exceeds the maximum configured value of ${resolved.maxMessageBytes}`);
      }
      const storedCrc = readCrc(buf, at);
      if (computeBatchCrc(buf, at) !== storedCrc) throw reject(ErrorCode.CORRUPT_MESSAGE, `Record is corrupt (stored crc = ${storedCrc})`);
      const attributes = readAttributes(buf, at);
      const compression = compressionOf(attributes);
      if (compression > Compression.zstd) throw reject(ErrorCode.INVALID_RECORD, `Unknown compression codec id ${compression}`);
      validateBatchFields(buf, at, resolved);
      const lastOffsetDelta = readLastOffsetDelta(buf, at);
      if (!resolved.client) {
        if (baseOffset <= previousLastOffset) {
          throw reject(ErrorCode.INVALID_RECORD, `Out of order offsets: batch base offset ${baseOffset} is not above the previous last offset ${previousLastOffset}`);
        }
        previousLastOffset = baseOffset + BigInt(lastOffsetDelta);
      }
      const headerMaxTimestampMs = readMaxTimestamp(buf, at);
      let batchMaxTimestampMs = headerMaxTimestampMs;
      let offsetDeltaOfMaxTimestamp = -1;
      let recordsBytes = sizeBytes - BATCH_HEADER_BYTES;
      if (resolved.walkRecords) {
        let area: RecordsArea;
        try {
          area = openRecordsArea(buf, at, resolved.decompressedBytesMax);
        } catch (error) {
          if (error instanceof CompressionError) throw reject(ErrorCode.INVALID_RECORD, `Failed to decompress the record batch: ${error.detail}`);
          if (error instanceof KafkaProtocolError) throw reject(error.errorCode, error.detail);
          throw error;
        }
        recordsBytes = area.end - area.start;
        let walk: RecordWalkState;
        try {
          walk = resolved.client ? walkClientRecords(area, buf, at, batchIndex, resolved) : walkReplicatedRecords(area, buf, at, batchIndex);
        } catch (error) {
          if (error instanceof KafkaProtocolError) throw reject(error.errorCode, error.detail);
          throw error;
        }
        if (walk.recordErrors.length > 0) throw recordErrorsRejection(walk);
        batchMaxTimestampMs = walk.maxTimestampMs;
        offsetDeltaOfMaxTimestamp = walk.offsetDeltaOfMaxTimestamp;
      }
      const summary: BatchSummary = {
        position: at,
        sizeBytes,
        baseOffset,
        lastOffsetDelta,
        recordCount: readRecordsCount(buf, at),
        partitionLeaderEpoch: readLeaderEpoch(buf, at),
        attributes,
        compression: compression as CompressionType,
        transactional: (attributes & ATTR_TRANSACTIONAL) !== 0,
        control: (attributes & ATTR_CONTROL) !== 0,
        logAppendTime: (attributes & ATTR_TIMESTAMP_LOG_APPEND) !== 0,
        producerId: readProducerId(buf, at),
        producerEpoch: readProducerEpoch(buf, at),
        baseSequence: readBaseSequence(buf, at),
        baseTimestampMs: readBaseTimestamp(buf, at),
        headerMaxTimestampMs,
        maxTimestampMs: batchMaxTimestampMs,
        offsetDeltaOfMaxTimestamp,
        recordsBytes,
      };
      first ??= summary;
      last = summary;
      recordTotal += summary.recordCount;
      if (batchMaxTimestampMs > maxTimestampMs) maxTimestampMs = batchMaxTimestampMs;
      position = at + sizeBytes;
      batchIndex++;
    }
    if (first === undefined || last === undefined) throw reject(ErrorCode.INVALID_RECORD, 'no record batch');
    return { ok: true, errorCode: 0, batchCount: batchIndex, recordCount: recordTotal, sizeBytes: buf.length, maxTimestampMs, first, last };
  } catch (error) {
    if (error instanceof BatchRejected) return failureFrom(error, batchIndex, position);
    // Anything else is a bug in this module; report it as Kafka would an unexpected server error, never crash.
    const message = error instanceof Error ? error.message : String(error);
    return failureFrom(new BatchRejected(ErrorCode.UNKNOWN_SERVER_ERROR, `unexpected validation failure: ${message}`), batchIndex, position);
  }
}

function recordErrorsRejection(walk: RecordWalkState): BatchRejected {
  const errors = walk.recordErrors;
  if (walk.timestampErrorSeen) {
    return new BatchRejected(ErrorCode.INVALID_TIMESTAMP, 'One or more records have been rejected due to invalid timestamp', errors);
  }
  const shown = errors
    .slice(0, 3)
    .map((e) => `RecordError(batchIndex=${e.recordIndex}, message='${e.message}')`)
    .join(', ');
  return new BatchRejected(
    ErrorCode.INVALID_RECORD,
    `One or more records have been rejected due to ${errors.length} record errors in total, and only showing the first three errors at most: [${shown}]`,
    errors,
  );
}

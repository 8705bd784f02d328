/**
 * Typed errors of the log storage engine, with stable codes.
 *
 * Every code is listed in ERROR_CATALOGUE with the Kafka error code a handler should answer with, and is
 * documented in DESIGN.md (a unit test checks both stay in step). Operating errors (disk full, permission,
 * corruption) name the file and, where known, the byte position and offset, so an operator can act on them.
 * Producer-state outcomes (duplicate, out-of-order sequence, fenced epoch) are NOT thrown: they are values
 * returned by the check function, because they are normal protocol answers, not failures.
 */

// Kafka protocol error codes used by the catalogue (clients/src/main/java/.../protocol/Errors.java).
export const KAFKA_ERROR_NONE = 0;
export const KAFKA_ERROR_OFFSET_OUT_OF_RANGE = 1;
export const KAFKA_ERROR_CORRUPT_MESSAGE = 2;
export const KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION = 3;
export const KAFKA_ERROR_INVALID_RECORD = 87;
export const KAFKA_ERROR_KAFKA_STORAGE_ERROR = 56;
export const KAFKA_ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER = 45;
export const KAFKA_ERROR_INVALID_PRODUCER_EPOCH = 47;
export const KAFKA_ERROR_UNKNOWN_SERVER_ERROR = -1;

export const ERROR_CATALOGUE = {
  LOG_CORRUPT_FILE: {
    kafkaErrorCode: KAFKA_ERROR_KAFKA_STORAGE_ERROR,
    meaning: 'a file failed a structural or CRC check where it could not be repaired by truncation',
  },
  LOG_DISK_FULL: {
    kafkaErrorCode: KAFKA_ERROR_KAFKA_STORAGE_ERROR,
    meaning: 'ENOSPC or EDQUOT while writing; the partial write was rolled back',
  },
  LOG_PERMISSION_DENIED: {
    kafkaErrorCode: KAFKA_ERROR_KAFKA_STORAGE_ERROR,
    meaning: 'EACCES, EPERM or EROFS on a log file or directory',
  },
  LOG_IO: { kafkaErrorCode: KAFKA_ERROR_KAFKA_STORAGE_ERROR, meaning: 'any other I/O error from the filesystem' },
  LOG_OFFLINE: {
    kafkaErrorCode: KAFKA_ERROR_KAFKA_STORAGE_ERROR,
    meaning: 'an earlier background I/O failure left the log in an unknown state; it refuses further writes',
  },
  LOG_CLOSED: { kafkaErrorCode: KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION, meaning: 'the log was closed or deleted' },
  LOG_OFFSET_OUT_OF_RANGE: {
    kafkaErrorCode: KAFKA_ERROR_OFFSET_OUT_OF_RANGE,
    meaning: 'a read or DeleteRecords offset lies outside [log start, log end] (or beyond the high watermark)',
  },
  LOG_UNEXPECTED_APPEND_OFFSET: {
    kafkaErrorCode: KAFKA_ERROR_UNKNOWN_SERVER_ERROR,
    meaning: 'a follower append does not continue the log (first offset below the log end or offsets not increasing)',
  },
  LOG_INVALID_RECORDS: {
    kafkaErrorCode: KAFKA_ERROR_CORRUPT_MESSAGE,
    meaning: 'an append buffer is not a sequence of whole v2 record batches',
  },
  LOG_INVALID_ARGUMENT: { kafkaErrorCode: KAFKA_ERROR_UNKNOWN_SERVER_ERROR, meaning: 'a caller passed a value outside its domain' },
  LOG_INVALID_CONFIG: { kafkaErrorCode: KAFKA_ERROR_UNKNOWN_SERVER_ERROR, meaning: 'a log configuration value is out of range' },
  LOG_DIR_MISMATCH: {
    kafkaErrorCode: KAFKA_ERROR_KAFKA_STORAGE_ERROR,
    meaning: 'meta.properties names another cluster id or node id or has an unsupported version, or a partition is in two dirs',
  },
  LOG_PARTITION_EXISTS: { kafkaErrorCode: KAFKA_ERROR_UNKNOWN_SERVER_ERROR, meaning: 'createLog for a partition that already has a log' },
  LOG_PARTITION_NOT_FOUND: { kafkaErrorCode: KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION, meaning: 'no log for that partition' },
  LOG_INVARIANT: {
    kafkaErrorCode: KAFKA_ERROR_UNKNOWN_SERVER_ERROR,
    meaning: 'an internal invariant failed: a bug; the assertion stays on in production',
  },
} as const;

export type LogErrorCode = keyof typeof ERROR_CATALOGUE;

export interface LogErrorDetails {
  readonly path?: string;
  /** Byte position inside `path`. */
  readonly position?: number;
  /** Log offset concerned. */
  readonly offset?: bigint;
  readonly cause?: unknown;
}

export class LogError extends Error {
  readonly code: LogErrorCode;
  readonly path: string | null;
  readonly position: number | null;
  readonly offset: bigint | null;

  constructor(code: LogErrorCode, message: string, details: LogErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'LogError';
    this.code = code;
    this.path = details.path ?? null;
    this.position = details.position ?? null;
    this.offset = details.offset ?? null;
  }

  get kafkaErrorCode(): number {
    return ERROR_CATALOGUE[this.code].kafkaErrorCode;
  }
}

export const isLogError = (err: unknown, code?: LogErrorCode): err is LogError =>
  err instanceof LogError && (code === undefined || err.code === code);

/** Maps an errno-style error from node:fs to a typed LogError naming the operation and path. */
export function ioError(err: unknown, operation: string, path: string): LogError {
  if (err instanceof LogError) return err;
  const errno = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  const detail = err instanceof Error ? err.message : String(err);
  const message = `${operation} ${path}: ${detail}`;
  if (errno === 'ENOSPC' || errno === 'EDQUOT') return new LogError('LOG_DISK_FULL', message, { path, cause: err });
  if (errno === 'EACCES' || errno === 'EPERM' || errno === 'EROFS') {
    return new LogError('LOG_PERMISSION_DENIED', message, { path, cause: err });
  }
  return new LogError('LOG_IO', message, { path, cause: err });
}

/** Invariant check that stays on in production (TigerBeetle style): a failure is a bug, never bad input. */
export function invariant(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new LogError('LOG_INVARIANT', typeof message === 'string' ? message : message());
  }
}

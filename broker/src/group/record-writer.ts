/**
 * Appends coordinator records through the injected `append` and runs each write's completion in append
 * order, whatever order the appends settle in. Completions mutate coordinator state (materialise offsets,
 * move a group to Stable), so applying them in log order keeps memory equal to a replay of the log.
 */
import { ErrorCode } from '../protocol/error-codes.ts';
import type { CoordinatorRecord } from './coordinator-records.ts';
import { invariant } from './invariant.ts';

export type AppendRecords = (records: readonly CoordinatorRecord[]) => Promise<void>;

/**
 * The Kafka error code a failed append is reported with (GroupCoordinatorService.handleOperationException):
 * the append error is read from an `errorCode` (KafkaProtocolError) or `kafkaErrorCode` (LogError) property;
 * anything else is UNKNOWN_SERVER_ERROR.
 */
export function appendErrorToResponseError(error: unknown): number {
  const code = kafkaErrorCodeOf(error);
  switch (code) {
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.REQUEST_TIMED_OUT:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR;
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
    case ErrorCode.INVALID_FETCH_SIZE:
    case ErrorCode.NONE:
      return ErrorCode.UNKNOWN_SERVER_ERROR;
    case ErrorCode.NETWORK_EXCEPTION:
      // Kafka answers a failed transaction verification this way so that old clients retry.
      return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    default:
      return code;
  }
}

function kafkaErrorCodeOf(error: unknown): number {
  if (typeof error === 'object' && error !== null) {
    const withCode = error as { errorCode?: unknown; kafkaErrorCode?: unknown };
    if (typeof withCode.errorCode === 'number' && Number.isInteger(withCode.errorCode)) return withCode.errorCode;
    if (typeof withCode.kafkaErrorCode === 'number' && Number.isInteger(withCode.kafkaErrorCode)) return withCode.kafkaErrorCode;
  }
  return ErrorCode.UNKNOWN_SERVER_ERROR;
}

const ignore = (): void => {};

export class RecordWriter {
  private readonly append: AppendRecords;
  private tail: Promise<void> = Promise.resolve();
  private inFlight = 0;

  constructor(append: AppendRecords) {
    this.append = append;
  }

  /** Writes whose completion has not run yet. */
  get pendingWrites(): number {
    return this.inFlight;
  }

  /**
   * Appends `records` now and calls `onDone(errorCode)` once the append settled and every earlier write's
   * onDone ran: NONE on success, else the mapped Kafka error. Resolves with onDone's result.
   */
  write<T>(records: readonly CoordinatorRecord[], onDone: (errorCode: number) => T): Promise<T> {
    invariant(records.length > 0, 'a write carries at least one record');
    // Settle now: a rejection observed only when earlier writes finish would be reported as unhandled.
    let settled: Promise<number>;
    try {
      settled = this.append(records).then(
        (): number => ErrorCode.NONE,
        (error: unknown) => appendErrorToResponseError(error),
      );
    } catch (error) {
      settled = Promise.resolve(appendErrorToResponseError(error));
    }
    this.inFlight++;
    const result = this.tail
      .then(() => settled)
      .then((errorCode) => {
        this.inFlight--;
        return onDone(errorCode);
      });
    this.tail = result.then(ignore, ignore);
    return result;
  }
}

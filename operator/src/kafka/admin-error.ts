/**
 * The one error type of the operator's Kafka admin client. It carries Kafka's error code and name (the
 * protocol's own, e.g. TOPIC_ALREADY_EXISTS) so callers branch on `errorName`, never on message text; the
 * message names everything needed to act on it: the API, the broker (id and address) and the resource.
 *
 * Client-side failures use the codes Kafka's Java client uses for them: a lost or refused connection is
 * NETWORK_EXCEPTION, no answer in time is REQUEST_TIMED_OUT, no version both sides speak is
 * UNSUPPORTED_VERSION, and a response we cannot decode is UNKNOWN_SERVER_ERROR.
 */
import { errorInfo, errorName, isRetriable } from '../../../broker/src/protocol/error-codes.ts';

export interface KafkaAdminErrorInit {
  readonly errorCode: number;
  /** Kafka's API name, e.g. CreateTopics. */
  readonly api: string;
  /** `<host>:<port>`, with the node id when known: `broker 1 (10.0.0.7:9092)`; null before any broker was chosen. */
  readonly broker: string | null;
  /** The topic (or other resource) the error is about; null for a whole-request error. */
  readonly resource?: string | null;
  /** The broker's error message, or ours; Kafka's default text for the code when null or empty. */
  readonly detail?: string | null;
  readonly cause?: unknown;
}

export class KafkaAdminError extends Error {
  override readonly name = 'KafkaAdminError';
  readonly errorCode: number;
  /** Kafka's name of the code, e.g. TOPIC_ALREADY_EXISTS; UNKNOWN_ERROR_CODE(<n>) for unassigned codes. */
  readonly errorName: string;
  readonly api: string;
  readonly broker: string | null;
  readonly resource: string | null;
  /** The server's (or our) explanation without the context prefix. */
  readonly detail: string;

  constructor(init: KafkaAdminErrorInit) {
    const detail = init.detail === null || init.detail === undefined || init.detail === '' ? (errorInfo(init.errorCode)?.message ?? '') : init.detail;
    const resource = init.resource ?? null;
    const subject = resource === null ? init.api : `${init.api} for ${JSON.stringify(resource)}`;
    const where = init.broker === null ? '' : ` at ${init.broker}`;
    super(`${subject}${where} failed: ${errorName(init.errorCode)}${detail === '' ? '' : `: ${detail}`}`, init.cause === undefined ? undefined : { cause: init.cause });
    this.errorCode = init.errorCode;
    this.errorName = errorName(init.errorCode);
    this.api = init.api;
    this.broker = init.broker;
    this.resource = resource;
    this.detail = detail;
  }

  /** Whether Kafka clients treat the code as retriable (Kafka's RetriableException hierarchy). */
  get retriable(): boolean {
    return isRetriable(this.errorCode);
  }
}

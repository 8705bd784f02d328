/**
 * The transport the runtime is written against, and the errors it raises.
 *
 * KubeHttp is the whole of it: a JSON request and a streaming watch. Everything above it (apply.ts,
 * informer.ts, leader-election.ts, events.ts) uses only this interface, so unit tests substitute a fake and
 * never load a client library. kube-client.ts implements it over node:http(s) with a kubeconfig.
 */
import { STATUS_CODES } from 'node:http';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export type QueryValue = string | number | boolean | undefined;

export interface KubeRequest {
  readonly method: HttpMethod;
  /** Path from the server root, e.g. /apis/apps/v1/namespaces/ns/statefulsets/x. */
  readonly path: string;
  readonly query?: Readonly<Record<string, QueryValue>>;
  /** Serialized as JSON (JSON is also valid YAML, so it serves application/apply-patch+yaml as well). */
  readonly body?: unknown;
  /** Default application/json when there is a body. */
  readonly contentType?: string;
  readonly signal?: AbortSignal;
}

/** One line of a watch stream, as the API server sends it. */
export interface RawWatchEvent {
  readonly type: string;
  readonly object: unknown;
}

export interface WatchRequest {
  readonly path: string;
  readonly query?: Readonly<Record<string, QueryValue>>;
  /** The stream is closed with an error when no byte arrives for this long. */
  readonly idleTimeoutMs?: number;
}

export interface KubeHttp {
  /** Resolves with the parsed JSON body of a 2xx response; rejects with KubeApiError otherwise. */
  request<T = unknown>(request: KubeRequest): Promise<T>;
  /**
   * Streams a watch (watch=true is added). Calls onEvent per event in order. Resolves when the server ends the
   * stream or the signal aborts; rejects on a non-200 answer (KubeApiError), a broken connection, an idle
   * timeout, a malformed event, or when onEvent throws (the stream is closed first).
   */
  watch(request: WatchRequest, onEvent: (event: RawWatchEvent) => void, signal: AbortSignal): Promise<void>;
  /** Closes pooled connections. */
  close(): void;
}

/** The Status object the API server returns with errors (and with watch ERROR events). */
export interface KubeStatus {
  readonly kind?: 'Status';
  readonly status?: string;
  readonly message?: string;
  readonly reason?: string;
  readonly code?: number;
  readonly details?: unknown;
}

/** A non-2xx answer from the API server. The message names the request, the code, the reason and the server's message. */
export class KubeApiError extends Error {
  readonly statusCode: number;
  /** The Status reason (NotFound, Conflict, AlreadyExists, Expired, Invalid, Forbidden, ...), or "" if none. */
  readonly reason: string;
  readonly method: string;
  readonly path: string;
  readonly status: KubeStatus | undefined;

  constructor(method: string, path: string, statusCode: number, status: KubeStatus | undefined, bodyText?: string) {
    const reason = status?.reason ?? '';
    const detail = status?.message ?? (bodyText !== undefined && bodyText.length > 0 ? bodyText.slice(0, 500) : (STATUS_CODES[statusCode] ?? 'no message'));
    super(`${method} ${path}: ${statusCode}${reason === '' ? '' : ` ${reason}`}: ${detail}`);
    this.name = 'KubeApiError';
    this.statusCode = statusCode;
    this.reason = reason;
    this.method = method;
    this.path = path;
    this.status = status;
  }
}

export const isKubeApiError = (error: unknown): error is KubeApiError => error instanceof KubeApiError;
export const isNotFound = (error: unknown): boolean => isKubeApiError(error) && error.statusCode === 404;
export const isConflict = (error: unknown): boolean => isKubeApiError(error) && error.statusCode === 409 && error.reason !== 'AlreadyExists';
export const isAlreadyExists = (error: unknown): boolean => isKubeApiError(error) && error.statusCode === 409 && error.reason === 'AlreadyExists';
/** 410 Gone / reason Expired: the resourceVersion is too old (watch) or a continue token expired (list). */
export const isGone = (error: unknown): boolean => isKubeApiError(error) && (error.statusCode === 410 || error.reason === 'Expired' || error.reason === 'Gone');

/** The message of any thrown value, for logs and error messages. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

import type { ApiKey, RequestByApiKey, ResponseByApiKey } from '../protocol/generated/index.ts';

/** What a handler knows about the request besides its body. Handlers never see bytes. */
export interface RequestContext {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
  /** Remote address of the client connection. */
  readonly clientHost: string;
  readonly connectionId: string;
  readonly listenerName: string;
}

/**
 * A request handler: decoded request in, decoded response out (or null for no response, as for acks=0
 * Produce). It may take as long as the API allows (long-poll Fetch, JoinGroup): the connection answers in
 * request order regardless.
 */
export type Handler<K extends ApiKey> = (
  ctx: RequestContext,
  request: RequestByApiKey[K],
) => Promise<ResponseByApiKey[K] | null> | ResponseByApiKey[K] | null;

/** The dispatch table: one handler per API key. */
export type HandlerTable = { [K in ApiKey]?: Handler<K> };

/** Observes every request for metrics; must not throw. */
export interface RequestObserver {
  onRequest(apiKey: number, apiVersion: number, requestBytes: number, responseBytes: number, latencyMs: number): void;
  onConnection(open: boolean): void;
  onProtocolError(reason: string): void;
}

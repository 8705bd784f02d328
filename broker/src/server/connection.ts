/**
 * One client connection: framing, in-order processing, backpressure and limits.
 *
 * Requests on a connection are processed one at a time, in arrival order, as Kafka does (it mutes a channel
 * until its response is sent): clients pipeline, and per-connection ordering is what makes their pipelined
 * Produce requests append in order. Frames already received wait in `inbound`.
 *
 * Limits: a frame whose size is negative or above `maxRequestBytes` closes the connection (nothing else can
 * be parsed after it). Reading pauses while unprocessed bytes exceed `maxBufferedBytes` or while responses
 * are not drained by the peer (socket backpressure), and resumes when they are. An idle connection is
 * closed after `idleTimeoutMs`.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { FrameError, beginResponseFrame, finishFrame, parseRequestFrame } from '../protocol/framing.ts';
import { apiSpec, type ApiKey } from '../protocol/generated/index.ts';
import { DecodeError, EncodeError } from '../protocol/wire/decode-error.ts';
import { CloseConnection } from './close-connection.ts';
import type { HandlerTable, RequestContext, RequestObserver, Handler } from './request-context.ts';

export interface ConnectionOptions {
  readonly connectionId: string;
  readonly listenerName: string;
  readonly maxRequestBytes: number;
  readonly maxBufferedBytes: number;
  readonly idleTimeoutMs: number;
  /** Handles requests the table does not (ApiVersions, version checks); returns undefined to fall through. */
  readonly handlers: HandlerTable;
  /** Versions this listener accepts per API key (what it advertises); others close the connection. */
  readonly acceptsVersion: (apiKey: number, apiVersion: number) => boolean;
  readonly logger: Logger;
  readonly observer?: RequestObserver;
}

export class Connection {
  private readonly socket: Socket;
  private readonly options: ConnectionOptions;
  private readonly inbound: Buffer[] = [];
  private inboundBytes = 0;
  private processing = false;
  private closed = false;
  private readonly clientHost: string;

  constructor(socket: Socket, options: ConnectionOptions) {
    this.socket = socket;
    this.options = options;
    this.clientHost = socket.remoteAddress ?? 'unknown';
    socket.setNoDelay(true);
    socket.setTimeout(options.idleTimeoutMs, () => this.close('idle timeout'));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.pump());
    socket.on('error', (error) => this.options.logger.debug({ err: error, connectionId: options.connectionId }, 'connection error'));
    socket.on('close', () => { this.closed = true; });
  }

  /** Closes the connection; pending requests are dropped (the client retries on another connection). */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.options.logger.debug({ connectionId: this.options.connectionId, reason }, 'closing connection');
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.inbound.push(chunk);
    this.inboundBytes += chunk.length;
    this.pump();
  }

  /** Size of the first buffered frame including its prefix, or -1 when not yet known. */
  private firstFrameBytes(): number {
    if (this.inboundBytes < 4) return -1;
    const head = this.inbound[0] as Buffer;
    if (head.length >= 4) return head.readInt32BE(0) + 4;
    return Buffer.concat(this.inbound).readInt32BE(0) + 4;
  }

  /**
   * Reads only while the peer drains our responses and the unprocessed backlog is small. A frame that has
   * only partly arrived is always allowed to complete (its size was already checked against the limit).
   */
  private updateFlow(): void {
    if (this.closed) return;
    const first = this.firstFrameBytes();
    const frameComplete = first >= 0 && this.inboundBytes >= first;
    const shouldPause = this.socket.writableNeedDrain || (this.inboundBytes > this.options.maxBufferedBytes && frameComplete);
    if (shouldPause && !this.socket.isPaused()) this.socket.pause();
    else if (!shouldPause && this.socket.isPaused()) this.socket.resume();
  }

  /** Removes and returns the next whole frame (without its size prefix), or null. */
  private nextFrame(): Buffer | null {
    if (this.inboundBytes < 4) return null;
    let head = this.inbound[0] as Buffer;
    if (head.length < 4) {
      head = Buffer.concat(this.inbound);
      this.inbound.length = 0;
      this.inbound.push(head);
    }
    const size = head.readInt32BE(0);
    if (size < 0 || size > this.options.maxRequestBytes) {
      this.options.observer?.onProtocolError('FRAME_SIZE');
      this.options.logger.warn({ connectionId: this.options.connectionId, clientHost: this.clientHost, sizeBytes: size, maxRequestBytes: this.options.maxRequestBytes },
        'closing connection: request frame size is negative or above socket.request.max.bytes');
      this.close('bad frame size');
      return null;
    }
    if (this.inboundBytes < size + 4) return null;
    let frame: Buffer;
    if (head.length >= size + 4) {
      frame = head.subarray(4, size + 4);
      if (head.length === size + 4) this.inbound.shift();
      else this.inbound[0] = head.subarray(size + 4);
    } else {
      const all = Buffer.concat(this.inbound);
      frame = all.subarray(4, size + 4);
      this.inbound.length = 0;
      if (all.length > size + 4) this.inbound.push(all.subarray(size + 4));
    }
    this.inboundBytes -= size + 4;
    return frame;
  }

  private pump(): void {
    if (this.closed) return;
    if (this.processing) return this.updateFlow();
    const frame = this.socket.writableNeedDrain ? null : this.nextFrame();
    this.updateFlow();
    if (frame === null) return;
    this.processing = true;
    this.handle(frame)
      .catch((error: unknown) => {
        if (error instanceof CloseConnection) {
          this.options.logger.debug({ connectionId: this.options.connectionId, reason: error.message }, 'closing connection as the protocol requires');
          this.close(error.message);
          return;
        }
        this.options.logger.error({ err: error, connectionId: this.options.connectionId }, 'unexpected error while handling a request; closing the connection');
        this.close('handler failure');
      })
      .finally(() => {
        this.processing = false;
        this.pump();
      });
  }

  private async handle(frame: Buffer): Promise<void> {
    const startMs = performance.now();
    let parsed;
    try {
      parsed = parseRequestFrame(frame);
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      this.options.observer?.onProtocolError(error.code);
      this.options.logger.info({ connectionId: this.options.connectionId, clientHost: this.clientHost, apiKey: error.apiKey, apiVersion: error.apiVersion, reason: error.message },
        'closing connection: request cannot be parsed');
      this.close(error.code);
      return;
    }
    const { header, body } = parsed;
    const apiKey = header.requestApiKey;
    const apiVersion = header.requestApiVersion;
    const handler = (this.options.handlers as Record<number, Handler<ApiKey> | undefined>)[apiKey];
    const spec = apiSpec(apiKey);
    if (handler === undefined || spec === undefined || (apiKey !== 18 && !this.options.acceptsVersion(apiKey, apiVersion))) {
      this.options.observer?.onProtocolError('UNSUPPORTED_API');
      this.options.logger.info({ connectionId: this.options.connectionId, clientId: header.clientId, apiKey, apiVersion },
        `closing connection: ${spec?.name ?? `API key ${apiKey}`} v${apiVersion} is not supported on listener ${this.options.listenerName}`);
      this.close('unsupported api');
      return;
    }
    // ApiVersions above our range is answered in the v0 format (KIP-511), so the body is not parsed.
    let request: unknown;
    try {
      request = apiKey === 18 && apiVersion > spec.maxVersion ? spec.request.create() : spec.request.read(body, apiVersion);
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      this.options.observer?.onProtocolError('MALFORMED_BODY');
      this.options.logger.info({ connectionId: this.options.connectionId, clientId: header.clientId, api: spec.name, apiVersion, reason: error.message },
        'closing connection: malformed request body');
      this.close('malformed request');
      return;
    }
    const ctx: RequestContext = {
      apiKey, apiVersion, correlationId: header.correlationId, clientId: header.clientId,
      clientHost: this.clientHost, connectionId: this.options.connectionId, listenerName: this.options.listenerName,
    };
    const response = await handler(ctx, request as never);
    if (this.closed) return;
    let responseBytes = 0;
    if (response !== null) {
      // An ApiVersions request above our range gets a v0 body (error + ApiKeys) that any client can read.
      const responseVersion = apiKey === 18 && apiVersion > spec.maxVersion ? 0 : apiVersion;
      const w = beginResponseFrame(apiKey, responseVersion, header.correlationId, 512);
      try {
        spec.response.write(w, response, responseVersion);
      } catch (error) {
        if (!(error instanceof EncodeError)) throw error;
        throw new Error(`${spec.name} v${responseVersion} response cannot be encoded: ${error.message}`, { cause: error });
      }
      const chunks = finishFrame(w);
      responseBytes = w.length;
      this.socket.cork();
      for (const chunk of chunks) this.socket.write(chunk);
      this.socket.uncork();
    }
    this.options.observer?.onRequest(apiKey, apiVersion, frame.length + 4, responseBytes, performance.now() - startMs);
  }
}

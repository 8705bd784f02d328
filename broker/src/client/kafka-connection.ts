/**
 * A minimal Kafka protocol client connection built on the generated codec: one socket, pipelined requests,
 * responses matched by correlation id. Used by our own tools (the operator's admin client, tests, raft
 * networking) — applications use real Kafka clients.
 */
import { connect, type Socket } from 'node:net';
import { API_SPECS, type ApiKey, type RequestByApiKey, type ResponseByApiKey } from '../protocol/generated/index.ts';
import { encodeRequestFrame, parseResponseHeader } from '../protocol/framing.ts';
import { Reader } from '../protocol/wire/reader.ts';

export interface KafkaConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly clientId?: string;
  readonly connectTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  /** Largest response frame accepted. */
  readonly maxResponseBytes?: number;
}

interface Pending {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly resolve: (frame: Buffer) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class KafkaConnectionError extends Error {
  override readonly name = 'KafkaConnectionError';
}

export class KafkaConnection {
  private readonly socket: Socket;
  private readonly options: KafkaConnectionOptions;
  private readonly pending = new Map<number, Pending>();
  private nextCorrelationId = 1;
  private buffered: Buffer = Buffer.alloc(0);
  private closedError: Error | null = null;

  private constructor(socket: Socket, options: KafkaConnectionOptions) {
    this.socket = socket;
    this.options = options;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.failAll(new KafkaConnectionError(`connection to ${options.host}:${options.port} closed`)));
    socket.on('error', (error) => this.failAll(new KafkaConnectionError(`connection to ${options.host}:${options.port} failed: ${error.message}`, { cause: error })));
  }

  static open(options: KafkaConnectionOptions): Promise<KafkaConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: options.host, port: options.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new KafkaConnectionError(`connecting to ${options.host}:${options.port} timed out after ${options.connectTimeoutMs ?? 10_000} ms`));
      }, options.connectTimeoutMs ?? 10_000);
      socket.once('connect', () => { clearTimeout(timer); resolve(new KafkaConnection(socket, options)); });
      socket.once('error', (error) => { clearTimeout(timer); reject(new KafkaConnectionError(`cannot connect to ${options.host}:${options.port}: ${error.message}`, { cause: error })); });
    });
  }

  /** Sends a request and resolves with its decoded response. */
  async send<K extends ApiKey>(apiKey: K, apiVersion: number, request: RequestByApiKey[K]): Promise<ResponseByApiKey[K]> {
    const frame = await this.sendRaw(apiKey, apiVersion, (w) => API_SPECS[apiKey].request.write(w, request, apiVersion));
    const r = new Reader(frame);
    parseResponseHeader(r, apiKey, apiVersion);
    return API_SPECS[apiKey].response.read(r, apiVersion);
  }

  /** Sends a request whose body the caller writes; resolves with the whole response frame (header included). */
  sendRaw(apiKey: number, apiVersion: number, writeBody: Parameters<typeof encodeRequestFrame>[1]): Promise<Buffer> {
    if (this.closedError) return Promise.reject(this.closedError);
    const correlationId = this.nextCorrelationId++;
    const chunks = encodeRequestFrame({ requestApiKey: apiKey, requestApiVersion: apiVersion, correlationId, clientId: this.options.clientId ?? 'millrace' }, writeBody);
    return new Promise<Buffer>((resolve, reject) => {
      const timeoutMs = this.options.requestTimeoutMs ?? 30_000;
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(new KafkaConnectionError(`request (API ${apiKey} v${apiVersion}) timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(correlationId, { apiKey, apiVersion, resolve, reject, timer });
      this.socket.cork();
      for (const chunk of chunks) this.socket.write(chunk);
      this.socket.uncork();
    });
  }

  /** Writes bytes as they are (tests: malformed frames). */
  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  get isClosed(): boolean {
    return this.closedError !== null;
  }

  /** Resolves when the peer closes the connection. */
  waitClosed(): Promise<void> {
    if (this.closedError) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 4) {
      const size = this.buffered.readInt32BE(0);
      if (size < 4 || size > (this.options.maxResponseBytes ?? 256 * 1024 * 1024)) {
        this.failAll(new KafkaConnectionError(`response frame size ${size} is invalid`));
        this.socket.destroy();
        return;
      }
      if (this.buffered.length < size + 4) return;
      const frame = this.buffered.subarray(4, size + 4);
      this.buffered = this.buffered.subarray(size + 4);
      const correlationId = frame.readInt32BE(0);
      const pending = this.pending.get(correlationId);
      if (pending === undefined) continue;
      this.pending.delete(correlationId);
      clearTimeout(pending.timer);
      pending.resolve(frame);
    }
  }

  private failAll(error: Error): void {
    this.closedError ??= error;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(error);
      this.pending.delete(id);
    }
  }
}

/**
 * A TCP listener that turns accepted sockets into Connections sharing one dispatch table.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { Connection, type ConnectionOptions } from './connection.ts';
import type { HandlerTable, RequestObserver } from './request-context.ts';

export interface SocketServerOptions {
  readonly listenerName: string;
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly maxRequestBytes: number;
  readonly idleTimeoutMs: number;
  readonly handlers: HandlerTable;
  readonly acceptsVersion: ConnectionOptions['acceptsVersion'];
  readonly logger: Logger;
  readonly observer?: RequestObserver;
}

export class SocketServer {
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  private readonly options: SocketServerOptions;
  private nextConnectionId = 0;

  constructor(options: SocketServerOptions) {
    this.options = options;
    this.server = createServer({ noDelay: true, keepAlive: true }, (socket) => this.accept(socket));
  }

  /** Starts listening; resolves with the bound port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => reject(new Error(`cannot listen on ${this.options.host}:${this.options.port} for listener ${this.options.listenerName}: ${error.message}`, { cause: error }));
      this.server.once('error', onError);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', onError);
        const address = this.server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : this.options.port);
      });
    });
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  private accept(socket: Socket): void {
    const observer = this.options.observer;
    const connection = new Connection(socket, {
      connectionId: `${this.options.listenerName}-${this.nextConnectionId++}`,
      listenerName: this.options.listenerName,
      maxRequestBytes: this.options.maxRequestBytes,
      // Up to one maximal request may wait unprocessed before we stop reading the socket.
      maxBufferedBytes: Math.min(this.options.maxRequestBytes, 64 * 1024 * 1024),
      idleTimeoutMs: this.options.idleTimeoutMs,
      handlers: this.options.handlers,
      acceptsVersion: this.options.acceptsVersion,
      logger: this.options.logger,
      ...(observer ? { observer } : {}),
    });
    this.connections.add(connection);
    observer?.onConnection(true);
    socket.on('close', () => {
      this.connections.delete(connection);
      observer?.onConnection(false);
    });
  }

  /** Stops accepting and closes every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const connection of this.connections) connection.close('server shutdown');
    await closed;
  }
}

/**
 * The admin HTTP server (config key millrace.http.listener, e.g. 127.0.0.1:9644), separate from the Kafka
 * listeners so that probes and scrapes work while the broker is starting, recovering or shutting down:
 *
 *   GET /metrics     Prometheus text format from the broker's own metrics registry
 *   GET /healthz     liveness: 200 while the process answers and is not shutting down, else 503
 *   GET /readyz      readiness: 200 only in state 'running', else 503 with the reason
 *   GET /v1/broker   broker state for the operator (shape in README.md; type BrokerStatus)
 *
 * HEAD works on each (fastify's exposeHeadRoutes). Every response is JSON except /metrics, and none is cached.
 * Per-request logging is off unless logRequests is set: probes every few seconds would drown the log.
 */
import { STATUS_CODES } from 'node:http';
import { fastify, LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { BrokerMetrics } from '../metrics/broker-metrics.ts';
import { BROKER_STATUS_JSON_SCHEMA, brokerStatusDocument, isLive, readiness, type BrokerStatusSource } from './broker-status.ts';

export interface AdminServerOptions {
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly status: BrokerStatusSource;
  readonly metrics: BrokerMetrics;
  /** A child logger with component=http is made from it. */
  readonly logger: Logger;
  /** Log one line per request (default false). */
  readonly logRequests?: boolean;
}

// Limits: the server only answers small GETs, so anything slow or large is a misbehaving client.
const CONNECTION_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 10_000;
const BODY_BYTES_MAX = 16 * 1024;

export class AdminServer {
  private readonly app: FastifyInstance;
  private readonly options: AdminServerOptions;
  private readonly logger: Logger;
  private closed: Promise<void> | null = null;

  constructor(options: AdminServerOptions) {
    this.options = options;
    this.logger = options.logger.child({ component: 'http' });
    // Typed as fastify's base logger so the instance has the default FastifyInstance type.
    const loggerInstance: FastifyBaseLogger = this.logger;
    this.app = fastify({
      loggerInstance,
      logController: new LogController({ disableRequestLogging: !(options.logRequests ?? false) }),
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      bodyLimit: BODY_BYTES_MAX,
      // Idle keep-alive connections (Prometheus, kubelet) must not hold close() open.
      forceCloseConnections: 'idle',
    });
    this.routes();
  }

  private routes(): void {
    const { status, metrics } = this.options;
    const app = this.app;

    app.addHook('onSend', (_request, reply, payload, done) => {
      reply.header('cache-control', 'no-store');
      done(null, payload);
    });

    // Request logging being off also silences fastify's default error handler, so server errors are logged here.
    app.setErrorHandler((error: FastifyError, request, reply) => {
      const statusCode = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500;
      if (statusCode >= 500) this.logger.error({ err: error, url: request.url }, 'admin HTTP request failed');
      return reply.code(statusCode).send({ statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message: error.message });
    });

    app.get('/healthz', (_request, reply) => {
      const s = status.status();
      const live = isLive(s);
      return reply.code(live ? 200 : 503).send({ live, state: s.state });
    });

    app.get('/readyz', (_request, reply) => {
      const r = readiness(status.status());
      return reply.code(r.ready ? 200 : 503).send(r);
    });

    app.get('/v1/broker', { schema: { response: { 200: BROKER_STATUS_JSON_SCHEMA } } }, (_request, reply) => reply.send(brokerStatusDocument(status.status())));

    app.get('/metrics', async (_request, reply) => {
      const body = await metrics.registry.metrics();
      return reply.header('content-type', metrics.registry.contentType).send(body);
    });
  }

  /** Starts listening; resolves with the bound port. */
  async listen(): Promise<number> {
    const { host, port } = this.options;
    try {
      await this.app.listen({ host, port, listenTextResolver: (address) => `admin HTTP server listening on ${address}` });
    } catch (error) {
      throw new Error(`cannot listen on ${host}:${port} for the admin HTTP server (millrace.http.listener): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    const address = this.app.server.address();
    return typeof address === 'object' && address !== null ? address.port : port;
  }

  /** Stops accepting, lets requests in flight finish, closes idle keep-alive connections. Idempotent. */
  close(): Promise<void> {
    this.closed ??= this.app.close();
    return this.closed;
  }
}

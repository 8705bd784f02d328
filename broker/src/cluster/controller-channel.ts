/**
 * The broker's channel to the active controller (Kafka's NodeToControllerChannelManager): sends a request to
 * whichever controller currently leads the metadata quorum, and retries on a lost connection or a
 * NOT_CONTROLLER answer after the leader moves, until the caller's deadline.
 *
 * In combined mode, when this process is itself the active controller, requests go straight to the local
 * handlers (no socket). Versions are negotiated per connection with ApiVersions.
 */
import type { Logger } from 'pino';
import { API_SPECS, type ApiKey, type RequestByApiKey, type ResponseByApiKey } from '../protocol/generated/index.ts';
import { KafkaConnection } from '../client/kafka-connection.ts';
import { ErrorCode } from '../protocol/error-codes.ts';

export interface ControllerAddress {
  readonly id: number;
  readonly host: string;
  readonly port: number;
}

/** The local controller, when this process has the controller role. */
export interface LocalController {
  isActive(): boolean;
  handle<K extends ApiKey>(apiKey: K, apiVersion: number, request: RequestByApiKey[K]): Promise<ResponseByApiKey[K]>;
}

export interface ControllerChannelOptions {
  /** The controllers' addresses (static voters, or the voter endpoints the metadata log holds). */
  readonly controllers: readonly ControllerAddress[] | (() => readonly ControllerAddress[]);
  /** The quorum's current leader as this process knows it (null while unknown). */
  readonly leaderId: () => number | null;
  readonly local: LocalController | null;
  readonly clientId: string;
  readonly logger: Logger;
  readonly requestTimeoutMs?: number;
  readonly retryBackoffMs?: number;
}

export class ControllerUnavailableError extends Error {
  override readonly name = 'ControllerUnavailableError';
}

interface OpenConnection {
  readonly id: number;
  readonly connection: KafkaConnection;
  readonly versions: ReadonlyMap<number, { min: number; max: number }>;
}

/** Does this response say "not the active controller" (top-level or per item)? */
export function saysNotController(response: unknown): boolean {
  if (typeof response !== 'object' || response === null) return false;
  const r = response as Record<string, unknown>;
  if (r['errorCode'] === ErrorCode.NOT_CONTROLLER) return true;
  for (const value of Object.values(r)) {
    if (Array.isArray(value) && value.some((item: unknown) => typeof item === 'object' && item !== null && (item as Record<string, unknown>)['errorCode'] === ErrorCode.NOT_CONTROLLER)) return true;
  }
  return false;
}

export class ControllerChannel {
  private readonly options: ControllerChannelOptions;
  private current: OpenConnection | null = null;
  private opening: Promise<OpenConnection> | null = null;
  private nextGuess = 0;
  private closed = false;

  constructor(options: ControllerChannelOptions) {
    this.options = options;
  }

  /**
   * Sends `request` to the active controller at the highest version both sides support (at most
   * `maxVersion`), retrying until `timeoutMs` passes.
   */
  async send<K extends ApiKey>(apiKey: K, request: RequestByApiKey[K], options: { timeoutMs?: number; maxVersion?: number } = {}): Promise<ResponseByApiKey[K]> {
    const deadline = Date.now() + (options.timeoutMs ?? this.options.requestTimeoutMs ?? 30_000);
    const spec = API_SPECS[apiKey];
    let lastProblem = 'no controller answered';
    for (let attempt = 0; !this.closed; attempt++) {
      if (attempt > 0) {
        if (Date.now() >= deadline) break;
        await sleep(Math.min(this.options.retryBackoffMs ?? 100, Math.max(0, deadline - Date.now())));
      }
      const local = this.options.local;
      if (local !== null && local.isActive()) {
        const version = Math.min(spec.maxVersion, options.maxVersion ?? spec.maxVersion);
        const response = await local.handle(apiKey, version, request);
        if (!saysNotController(response)) return response;
        lastProblem = 'the local controller lost leadership';
        continue;
      }
      let open: OpenConnection;
      try {
        open = await this.connection();
      } catch (error) {
        lastProblem = error instanceof Error ? error.message : String(error);
        continue;
      }
      const theirs = open.versions.get(apiKey);
      const max = Math.min(spec.maxVersion, options.maxVersion ?? spec.maxVersion, theirs?.max ?? -1);
      if (theirs === undefined || max < Math.max(spec.minVersion, theirs.min)) {
        throw new ControllerUnavailableError(`controller ${open.id} does not support ${spec.name} (API ${apiKey})`);
      }
      try {
        const response = await open.connection.send(apiKey, max, request);
        if (!saysNotController(response)) return response;
        lastProblem = `controller ${open.id} is not the active controller`;
        this.drop(open);
      } catch (error) {
        lastProblem = `controller ${open.id}: ${error instanceof Error ? error.message : String(error)}`;
        this.drop(open);
      }
    }
    throw new ControllerUnavailableError(`${spec.name} could not reach the active controller: ${lastProblem}`);
  }

  close(): void {
    this.closed = true;
    this.current?.connection.close();
    this.current = null;
  }

  private drop(open: OpenConnection): void {
    open.connection.close();
    if (this.current === open) this.current = null;
  }

  private connection(): Promise<OpenConnection> {
    const leader = this.options.leaderId();
    if (this.current !== null && !this.current.connection.isClosed && (leader === null || leader === this.current.id)) return Promise.resolve(this.current);
    if (this.current !== null) this.drop(this.current);
    this.opening ??= this.open(leader).finally(() => { this.opening = null; });
    return this.opening;
  }

  private async open(leader: number | null): Promise<OpenConnection> {
    const controllers = typeof this.options.controllers === 'function' ? this.options.controllers() : this.options.controllers;
    if (controllers.length === 0) throw new ControllerUnavailableError('no controllers are configured (controller.quorum.voters)');
    // The known leader, else each controller in turn: a non-leader answers NOT_CONTROLLER and we move on.
    const target = controllers.find((c) => c.id === leader) ?? controllers[this.nextGuess++ % controllers.length];
    if (target === undefined) throw new ControllerUnavailableError('no controller address to try');
    const connection = await KafkaConnection.open({
      host: target.host, port: target.port, clientId: this.options.clientId,
      connectTimeoutMs: 5000, requestTimeoutMs: this.options.requestTimeoutMs ?? 30_000,
    });
    try {
      const apiVersions = await connection.send(18, 3, { clientSoftwareName: 'millrace', clientSoftwareVersion: '0.1.0' });
      const versions = new Map(apiVersions.apiKeys.map((k) => [k.apiKey, { min: k.minVersion, max: k.maxVersion }]));
      const open = { id: target.id, connection, versions };
      this.current = open;
      return open;
    } catch (error) {
      connection.close();
      throw error;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Outbound raft requests: one KafkaConnection per remote node (static voters, bootstrap servers under
 * Kafka's pseudo ids -2, -3, ..., and addresses learned later: voters' endpoints from the voter set, leader
 * endpoints from responses; setPeer replaces an address), opened on first use, versions negotiated
 * with ApiVersions (the highest version both sides implement), reconnected with exponential backoff after
 * a failure. A request that cannot be sent, times out or comes back on a closed connection rejects; the
 * driver reports it to the core (requestFailed) which retries.
 *
 * A request timeout closes the connection (as Kafka's NetworkClient does): the server answers in order, so
 * a connection with an unanswered request cannot be trusted to answer later ones promptly.
 */
import type { Logger } from 'pino';
import { KafkaConnection } from '../../client/kafka-connection.ts';
import type { RequestByApiKey, ResponseByApiKey } from '../../protocol/generated/index.ts';
import { RAFT_API_VERSIONS, ApiKeys, type Endpoint, type RaftApiKey } from './wire.ts';

const API_VERSIONS_VERSION = 3;

export interface PeerNetworkOptions {
  readonly localId: number;
  readonly peers: readonly Endpoint[];
  readonly requestTimeoutMs: number;
  /** First reconnect delay after a failure; doubles up to reconnectBackoffMaxMs. */
  readonly reconnectBackoffMs: number;
  readonly reconnectBackoffMaxMs: number;
  readonly logger: Logger;
  /** The wall clock (for backoff). */
  readonly nowMs: () => number;
}

export class PeerUnavailableError extends Error {
  override readonly name = 'PeerUnavailableError';
}

interface Ready {
  readonly connection: KafkaConnection;
  readonly versions: ReadonlyMap<number, number>;
}

class PeerConnection {
  readonly #peer: Endpoint;
  readonly #options: PeerNetworkOptions;
  #ready: Ready | null = null;
  #connecting: Promise<Ready> | null = null;
  #failures = 0;
  #retryAtMs = 0;
  #closed = false;

  constructor(peer: Endpoint, options: PeerNetworkOptions) {
    this.#peer = peer;
    this.#options = options;
  }

  get peer(): Endpoint {
    return this.#peer;
  }

  async request<K extends RaftApiKey>(apiKey: K, build: (version: number) => RequestByApiKey[K]): Promise<ResponseByApiKey[K]> {
    const ready = await this.#connect();
    const version = ready.versions.get(apiKey);
    if (version === undefined) throw new PeerUnavailableError(`node ${this.#peer.id} does not support API ${apiKey} in a version we implement`);
    try {
      return await ready.connection.send(apiKey, version, build(version));
    } catch (error) {
      this.#drop(ready, error);
      throw error;
    }
  }

  #connect(): Promise<Ready> {
    if (this.#closed) return Promise.reject(new PeerUnavailableError('the raft network is closed'));
    if (this.#ready !== null && !this.#ready.connection.isClosed) return Promise.resolve(this.#ready);
    this.#ready = null;
    if (this.#connecting !== null) return this.#connecting;
    const now = this.#options.nowMs();
    if (now < this.#retryAtMs) return Promise.reject(new PeerUnavailableError(`node ${this.#peer.id} is backing off for ${this.#retryAtMs - now} ms`));
    const connecting = this.#open().then(
      (ready) => {
        this.#connecting = null;
        this.#failures = 0;
        if (this.#closed) {
          ready.connection.close();
          throw new PeerUnavailableError('the raft network is closed');
        }
        this.#ready = ready;
        return ready;
      },
      (error: unknown) => {
        this.#connecting = null;
        this.#backOff();
        this.#options.logger.debug({ peer: this.#peer.id, err: error }, 'cannot connect to a quorum peer');
        throw error;
      },
    );
    this.#connecting = connecting;
    return connecting;
  }

  async #open(): Promise<Ready> {
    const { host, port } = this.#peer;
    const connection = await KafkaConnection.open({
      host,
      port,
      clientId: `raft-client-${this.#options.localId}`,
      connectTimeoutMs: this.#options.requestTimeoutMs,
      requestTimeoutMs: this.#options.requestTimeoutMs,
    });
    try {
      const response = await connection.send(ApiKeys.API_VERSIONS, API_VERSIONS_VERSION, { clientSoftwareName: 'millrace-raft', clientSoftwareVersion: '1' });
      if (response.errorCode !== 0) throw new PeerUnavailableError(`node ${this.#peer.id} answered ApiVersions with error ${response.errorCode}`);
      const versions = new Map<number, number>();
      for (const theirs of response.apiKeys) {
        const ours = RAFT_API_VERSIONS.get(theirs.apiKey as RaftApiKey);
        if (ours === undefined) continue;
        const max = Math.min(ours.max, theirs.maxVersion);
        if (max >= Math.max(ours.min, theirs.minVersion)) versions.set(theirs.apiKey, max);
      }
      return { connection, versions };
    } catch (error) {
      connection.close();
      throw error;
    }
  }

  #drop(ready: Ready, error: unknown): void {
    if (this.#ready === ready) this.#ready = null;
    ready.connection.close();
    this.#backOff();
    this.#options.logger.debug({ peer: this.#peer.id, err: error }, 'quorum request failed; reconnecting');
  }

  #backOff(): void {
    this.#failures++;
    const delay = Math.min(this.#options.reconnectBackoffMaxMs, this.#options.reconnectBackoffMs * 2 ** Math.min(this.#failures - 1, 16));
    this.#retryAtMs = this.#options.nowMs() + delay;
  }

  close(): void {
    this.#closed = true;
    this.#ready?.connection.close();
    this.#ready = null;
    void this.#connecting?.then((ready) => ready.connection.close(), () => undefined);
  }
}

export class PeerNetwork {
  readonly #peers = new Map<number, PeerConnection>();
  readonly #options: PeerNetworkOptions;
  #closed = false;

  constructor(options: PeerNetworkOptions) {
    this.#options = options;
    for (const peer of options.peers) if (peer.id !== options.localId) this.#peers.set(peer.id, new PeerConnection(peer, options));
  }

  /** Adds the address of node `peer.id`, or replaces it (the old connection is closed). */
  setPeer(peer: Endpoint): void {
    if (this.#closed || peer.id === this.#options.localId) return;
    const existing = this.#peers.get(peer.id);
    if (existing !== undefined && existing.peer.host === peer.host && existing.peer.port === peer.port) return;
    existing?.close();
    this.#peers.set(peer.id, new PeerConnection(peer, this.#options));
  }

  /** The address known for node `id`. */
  peer(id: number): Endpoint | undefined {
    return this.#peers.get(id)?.peer;
  }

  /** Sends a request to node `destinationId`; `build` gets the negotiated version. */
  send<K extends RaftApiKey>(destinationId: number, apiKey: K, build: (version: number) => RequestByApiKey[K]): Promise<ResponseByApiKey[K]> {
    const peer = this.#peers.get(destinationId);
    if (peer === undefined) return Promise.reject(new PeerUnavailableError(`no address for node ${destinationId}`));
    return peer.request(apiKey, build);
  }

  close(): void {
    this.#closed = true;
    for (const peer of this.#peers.values()) peer.close();
  }
}

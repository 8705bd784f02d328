/**
 * The operator's Kafka admin client: the few admin APIs the topic controller needs, on our own protocol
 * client (KafkaConnection) and the generated codec. No third-party Kafka client is involved.
 *
 * - Bootstrap: the first reachable `host:port` of the list (then every broker Metadata lists) answers a
 *   Metadata request, which names the brokers and the controller.
 * - Versions: every connection starts with ApiVersions; each request then goes out at the highest version
 *   both the broker and our codec support, and is built for that version (the codec refuses a non-default
 *   field the version lacks, so e.g. AllowAutoTopicCreation is only set from Metadata v4).
 * - Routing: admin requests go to Metadata's ControllerId, as kafkajs and the Java admin do (a KRaft broker
 *   forwards them to the active controller). Items answered NOT_CONTROLLER are retried after a metadata
 *   refresh; so are lost connections and timeouts, with exponential backoff, until the call's
 *   `operationTimeoutMs` has passed.
 * - Errors: per-item Kafka errors come back in the per-item results (`error`), never thrown; a call throws
 *   KafkaAdminError only when it could not get an answer at all (no broker reachable, timeout, no common
 *   version, undecodable response). Every message names the API, the broker and the Kafka error name.
 *
 * A retried request may have been applied before its connection failed: CreateTopics then answers
 * TOPIC_ALREADY_EXISTS and DeleteTopics UNKNOWN_TOPIC_OR_PARTITION, as with Kafka's own clients. The topic
 * controller is level-triggered and reads the topic state again on its next pass.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { KafkaConnection, KafkaConnectionError } from '../../../broker/src/client/kafka-connection.ts';
import { ErrorCode } from '../../../broker/src/protocol/error-codes.ts';
import { parseResponseHeader } from '../../../broker/src/protocol/framing.ts';
import {
  API_SPECS, defaultCreatePartitionsRequest, defaultCreateTopicsRequest, defaultDeleteTopicsRequest, defaultDescribeConfigsRequest,
  defaultIncrementalAlterConfigsRequest, defaultMetadataRequest,
  type ApiKey, type ApiVersionsResponse, type MetadataResponse, type RequestByApiKey, type ResponseByApiKey,
} from '../../../broker/src/protocol/generated/index.ts';
import { DecodeError, EncodeError } from '../../../broker/src/protocol/wire/decode-error.ts';
import { Reader } from '../../../broker/src/protocol/wire/reader.ts';
import { ZERO_UUID } from '../../../broker/src/protocol/wire/uuid.ts';
import { formatBrokerAddress, parseBrokerAddress, type BrokerAddress } from './addresses.ts';
import { KafkaAdminError } from './admin-error.ts';
import { clientRange, formatRange, negotiateVersion, type VersionRange } from './versions.ts';

export { KafkaAdminError } from './admin-error.ts';

// ---------------------------------------------------------------------------------------------------------
// Public types

export interface KafkaAdminClientOptions {
  /** `host:port` entries (IPv6 as `[addr]:port`); at least one. */
  readonly bootstrapServers: readonly string[];
  /** The request header's client id; default `millrace-operator`. */
  readonly clientId?: string;
  /** TCP connect timeout per attempt; default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /** Time to wait for one response; default 15000 ms. The connection is closed when it passes. */
  readonly requestTimeoutMs?: number;
  /** Budget of one call, retries included; default 30000 ms. */
  readonly operationTimeoutMs?: number;
  /** First retry backoff, doubled per retry up to 2000 ms; default 100 ms. */
  readonly retryBackoffMs?: number;
  /** Cluster metadata (brokers, controller) older than this is refreshed before use; default 60000 ms. */
  readonly metadataMaxAgeMs?: number;
}

export interface ClusterDescription {
  readonly clusterId: string | null;
  /** The node admin requests go to; -1 when the broker did not say (Metadata v0). */
  readonly controllerId: number;
  readonly brokers: readonly { readonly id: number; readonly host: string; readonly port: number; readonly rack: string | null }[];
}

export interface TopicDescription {
  readonly name: string;
  /** null when absent, or before Metadata v10. */
  readonly topicId: string | null;
  /** Partition count; 0 with `error`. */
  readonly partitions: number;
  /** Replicas of the lowest-numbered partition; 0 with `error`. */
  readonly replicationFactor: number;
  readonly internal: boolean;
  /** e.g. UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist. */
  readonly error?: KafkaAdminError;
}

export interface NewTopic {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  /** Topic-level config overrides. */
  readonly configs?: Readonly<Record<string, string>>;
}

export interface CreateTopicResult {
  readonly name: string;
  /** The new topic's id (CreateTopics v7+); null otherwise. */
  readonly topicId: string | null;
  readonly error?: KafkaAdminError;
}

export interface TopicResult {
  readonly name: string;
  readonly error?: KafkaAdminError;
}

export interface NewPartitions {
  readonly name: string;
  /** The partition count after the call (not the number added). */
  readonly totalCount: number;
}

/** Java's ConfigEntry.ConfigSource names, by DescribeConfigs ConfigSource id. */
export const CONFIG_SOURCE_NAMES = [
  'UNKNOWN', 'DYNAMIC_TOPIC_CONFIG', 'DYNAMIC_BROKER_CONFIG', 'DYNAMIC_DEFAULT_BROKER_CONFIG', 'STATIC_BROKER_CONFIG',
  'DEFAULT_CONFIG', 'DYNAMIC_BROKER_LOGGER_CONFIG', 'DYNAMIC_CLIENT_METRICS_CONFIG', 'DYNAMIC_GROUP_CONFIG',
] as const;
export type ConfigSourceName = (typeof CONFIG_SOURCE_NAMES)[number];

export interface ConfigEntry {
  readonly name: string;
  /** Kafka's string form; null for sensitive values. */
  readonly value: string | null;
  /** DYNAMIC_TOPIC_CONFIG for a topic-level override; the other sources are defaults of some layer. */
  readonly source: ConfigSourceName;
  readonly readOnly: boolean;
  readonly isSensitive: boolean;
}

export interface TopicConfigs {
  readonly name: string;
  /** Every config of the topic (empty with `error`). */
  readonly configs: readonly ConfigEntry[];
  /** The topic-level overrides only (source DYNAMIC_TOPIC_CONFIG), key -> value. Needs DescribeConfigs v1+. */
  readonly overrides: Readonly<Record<string, string | null>>;
  readonly error?: KafkaAdminError;
}

export interface TopicConfigAlteration {
  readonly name: string;
  /** Keys to set at topic level. */
  readonly set?: Readonly<Record<string, string>>;
  /** Topic-level overrides to remove (the topic falls back to the broker's value). */
  readonly delete?: readonly string[];
}

export interface ValidateOnlyOption {
  /** Let the broker check the request without applying it. */
  readonly validateOnly?: boolean;
}

// ---------------------------------------------------------------------------------------------------------
// Internals

const CLIENT_SOFTWARE_NAME = 'millrace-operator';
const CLIENT_SOFTWARE_VERSION = '0.1.0';
const MAX_BACKOFF_MS = 2000;
const RESOURCE_TYPE_TOPIC = 2;
const OP_SET = 0;
const OP_DELETE = 1;

/** Errors a call retries: the answer may differ after a reconnect or metadata refresh. */
const RETRIED_CODES: ReadonlySet<number> = new Set([
  ErrorCode.NETWORK_EXCEPTION, ErrorCode.REQUEST_TIMED_OUT, ErrorCode.NOT_CONTROLLER, ErrorCode.BROKER_NOT_AVAILABLE,
]);

const API_METADATA = 3;
const API_CREATE_TOPICS = 19;
const API_DELETE_TOPICS = 20;
const API_DESCRIBE_CONFIGS = 32;
const API_CREATE_PARTITIONS = 37;
const API_INCREMENTAL_ALTER_CONFIGS = 44;
const API_API_VERSIONS = 18;

interface Session {
  readonly key: string;
  readonly conn: KafkaConnection;
  readonly versions: ReadonlyMap<number, VersionRange>;
}

interface ClusterMetadata {
  readonly clusterId: string | null;
  readonly controllerId: number;
  readonly brokers: ReadonlyMap<number, BrokerAddress & { readonly rack: string | null }>;
  readonly fetchedAt: number;
}

/** One item of a per-item response, keyed like the request item. */
interface ItemAnswer<R> {
  readonly key: string;
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly value: R;
}

interface Settled<R> {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  /** null when the response had no entry for the item. */
  readonly value: R | null;
  readonly broker: string;
}

const apiName = (apiKey: number): string => API_SPECS[apiKey as ApiKey].name;

export class KafkaAdminClient {
  private readonly bootstrap: readonly BrokerAddress[];
  private readonly clientId: string;
  private readonly connectTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly operationTimeoutMs: number;
  private readonly retryBackoffMs: number;
  private readonly metadataMaxAgeMs: number;

  private readonly sessions = new Map<string, Session>();
  private readonly connecting = new Map<string, Promise<Session>>();
  private metadata: ClusterMetadata | null = null;
  private metadataStale = true;
  private refreshing: Promise<ClusterMetadata> | null = null;
  private closed = false;
  private readonly abort = new AbortController();

  constructor(options: KafkaAdminClientOptions) {
    if (options.bootstrapServers.length === 0) throw new TypeError('KafkaAdminClient needs at least one bootstrap server (host:port)');
    this.bootstrap = options.bootstrapServers.map(parseBrokerAddress);
    this.clientId = options.clientId ?? CLIENT_SOFTWARE_NAME;
    this.connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs ?? 5000);
    this.requestTimeoutMs = positive('requestTimeoutMs', options.requestTimeoutMs ?? 15_000);
    this.operationTimeoutMs = positive('operationTimeoutMs', options.operationTimeoutMs ?? 30_000);
    this.retryBackoffMs = positive('retryBackoffMs', options.retryBackoffMs ?? 100);
    this.metadataMaxAgeMs = positive('metadataMaxAgeMs', options.metadataMaxAgeMs ?? 60_000);
  }

  // ---- Public API ----------------------------------------------------------------------------------------

  /** Brokers, controller and cluster id, from a fresh Metadata request. */
  async describeCluster(): Promise<ClusterDescription> {
    const md = await this.retrying('Metadata', (deadline) => this.fetchMetadata(deadline));
    return {
      clusterId: md.clusterId,
      controllerId: md.controllerId,
      brokers: [...md.brokers].sort(([a], [b]) => a - b).map(([id, b]) => ({ id, host: b.host, port: b.port, rack: b.rack })),
    };
  }

  /** Partition count, replication factor and id of each topic (Metadata; never auto-creates a topic). */
  async describeTopics(names: readonly string[]): Promise<TopicDescription[]> {
    if (names.length === 0) return [];
    const wanted = [...new Set(names)];
    const { response, version, broker } = await this.retrying('Metadata', async (deadline) => {
      const session = await this.adminSession(deadline);
      const answer = await this.call(session, API_METADATA, deadline, (v) => {
        const request = defaultMetadataRequest();
        if (v >= 4) {
          request.topics = wanted.map((name) => ({ topicId: ZERO_UUID, name }));
          request.allowAutoTopicCreation = false;
        } else {
          // Before v4 a broker may auto-create any topic named in Metadata: ask for all topics instead.
          request.topics = v === 0 ? [] : null;
        }
        return request;
      });
      this.absorbMetadata(answer.response, answer.version);
      return { ...answer, broker: this.label(session.key) };
    });
    const byName = new Map(response.topics.map((t) => [t.name, t]));
    return names.map((name): TopicDescription => {
      const t = byName.get(name);
      const failed = (errorCode: number, detail: string | null): TopicDescription => ({
        name, topicId: null, partitions: 0, replicationFactor: 0, internal: false,
        error: new KafkaAdminError({ errorCode, api: 'Metadata', broker, resource: name, detail }),
      });
      if (t === undefined) return failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${name}' does not exist.`);
      if (t.errorCode !== ErrorCode.NONE) return failed(t.errorCode, t.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION ? `The topic '${name}' does not exist.` : null);
      const first = [...t.partitions].sort((a, b) => a.partitionIndex - b.partitionIndex)[0];
      return {
        name,
        topicId: version >= 10 && t.topicId !== ZERO_UUID ? t.topicId : null,
        partitions: t.partitions.length,
        replicationFactor: first?.replicaNodes.length ?? 0,
        internal: t.isInternal,
      };
    });
  }

  /** Creates topics in one request; per-topic results in input order. */
  async createTopics(topics: readonly NewTopic[], options: ValidateOnlyOption = {}): Promise<CreateTopicResult[]> {
    if (topics.length === 0) return [];
    const settled = await this.batch(API_CREATE_TOPICS, topics, (t) => t.name, async (session, items, deadline) => {
      const { response } = await this.call(session, API_CREATE_TOPICS, deadline, () => ({
        ...defaultCreateTopicsRequest(),
        timeoutMs: this.serverTimeout(deadline),
        validateOnly: options.validateOnly ?? false,
        topics: items.map((t) => ({
          name: t.name,
          numPartitions: t.partitions,
          replicationFactor: t.replicationFactor,
          assignments: [],
          configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
        })),
      }));
      return response.topics.map((t) => ({ key: t.name, errorCode: t.errorCode, errorMessage: t.errorMessage, value: t.topicId }));
    });
    return topics.map((t) => {
      const s = settled.get(t.name) as Settled<string>;
      const error = this.itemError(API_CREATE_TOPICS, t.name, s);
      const topicId = s.value !== null && s.value !== ZERO_UUID ? s.value : null;
      return error === undefined ? { name: t.name, topicId } : { name: t.name, topicId, error };
    });
  }

  /** Grows topics to `totalCount` partitions (CreatePartitions); a decrease is INVALID_PARTITIONS. */
  async createPartitions(requests: readonly NewPartitions[], options: ValidateOnlyOption = {}): Promise<TopicResult[]> {
    if (requests.length === 0) return [];
    const settled = await this.batch(API_CREATE_PARTITIONS, requests, (r) => r.name, async (session, items, deadline) => {
      const { response } = await this.call(session, API_CREATE_PARTITIONS, deadline, () => ({
        ...defaultCreatePartitionsRequest(),
        timeoutMs: this.serverTimeout(deadline),
        validateOnly: options.validateOnly ?? false,
        topics: items.map((r) => ({ name: r.name, count: r.totalCount, assignments: null })),
      }));
      return response.results.map((r) => ({ key: r.name, errorCode: r.errorCode, errorMessage: r.errorMessage, value: null }));
    });
    return requests.map((r) => this.topicResult(API_CREATE_PARTITIONS, r.name, settled.get(r.name) as Settled<null>));
  }

  /** Every config of each topic with its source; `overrides` holds the topic-level ones. */
  async describeTopicConfigs(names: readonly string[]): Promise<TopicConfigs[]> {
    if (names.length === 0) return [];
    const wanted = [...new Set(names)];
    const settled = await this.batch(API_DESCRIBE_CONFIGS, wanted, (n) => n, async (session, items, deadline) => {
      const { response, version } = await this.call(session, API_DESCRIBE_CONFIGS, deadline, () => ({
        ...defaultDescribeConfigsRequest(),
        resources: items.map((name) => ({ resourceType: RESOURCE_TYPE_TOPIC, resourceName: name, configurationKeys: null })),
      }));
      return response.results
        .filter((r) => r.resourceType === RESOURCE_TYPE_TOPIC)
        .map((r) => ({
          key: r.resourceName,
          errorCode: r.errorCode,
          errorMessage: r.errorMessage,
          value: r.configs.map((c): ConfigEntry => ({
            name: c.name,
            value: c.value,
            // ConfigSource exists from v1; v0 only says whether the value is a default.
            source: version >= 1 ? (CONFIG_SOURCE_NAMES[c.configSource] ?? 'UNKNOWN') : c.isDefault ? 'DEFAULT_CONFIG' : 'UNKNOWN',
            readOnly: c.readOnly,
            isSensitive: c.isSensitive,
          })),
        }));
    });
    return names.map((name): TopicConfigs => {
      const s = settled.get(name) as Settled<ConfigEntry[]>;
      const error = this.itemError(API_DESCRIBE_CONFIGS, name, s);
      if (error !== undefined) return { name, configs: [], overrides: {}, error };
      const configs = s.value ?? [];
      const overrides: Record<string, string | null> = {};
      for (const c of configs) if (c.source === 'DYNAMIC_TOPIC_CONFIG') overrides[c.name] = c.value;
      return { name, configs, overrides };
    });
  }

  /** Sets and deletes topic-level config overrides (IncrementalAlterConfigs); per-topic results. */
  async incrementalAlterConfigs(alterations: readonly TopicConfigAlteration[], options: ValidateOnlyOption = {}): Promise<TopicResult[]> {
    if (alterations.length === 0) return [];
    const settled = await this.batch(API_INCREMENTAL_ALTER_CONFIGS, alterations, (a) => a.name, async (session, items, deadline) => {
      const { response } = await this.call(session, API_INCREMENTAL_ALTER_CONFIGS, deadline, () => ({
        ...defaultIncrementalAlterConfigsRequest(),
        validateOnly: options.validateOnly ?? false,
        resources: items.map((a) => ({
          resourceType: RESOURCE_TYPE_TOPIC,
          resourceName: a.name,
          configs: [
            ...Object.entries(a.set ?? {}).map(([name, value]) => ({ name, configOperation: OP_SET, value })),
            ...(a.delete ?? []).map((name) => ({ name, configOperation: OP_DELETE, value: null })),
          ],
        })),
      }));
      return response.responses
        .filter((r) => r.resourceType === RESOURCE_TYPE_TOPIC)
        .map((r) => ({ key: r.resourceName, errorCode: r.errorCode, errorMessage: r.errorMessage, value: null }));
    });
    return alterations.map((a) => this.topicResult(API_INCREMENTAL_ALTER_CONFIGS, a.name, settled.get(a.name) as Settled<null>));
  }

  /** Deletes topics by name; per-topic results (UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist). */
  async deleteTopics(names: readonly string[]): Promise<TopicResult[]> {
    if (names.length === 0) return [];
    const settled = await this.batch(API_DELETE_TOPICS, names, (n) => n, async (session, items, deadline) => {
      const { response } = await this.call(session, API_DELETE_TOPICS, deadline, (v) => {
        const request = { ...defaultDeleteTopicsRequest(), timeoutMs: this.serverTimeout(deadline) };
        // v6 names topics in Topics (name or id); before it, in TopicNames.
        if (v >= 6) request.topics = items.map((name) => ({ name, topicId: ZERO_UUID }));
        else request.topicNames = [...items];
        return request;
      });
      return response.responses.map((r) => ({ key: r.name ?? '', errorCode: r.errorCode, errorMessage: r.errorMessage, value: null }));
    });
    return names.map((name) => this.topicResult(API_DELETE_TOPICS, name, settled.get(name) as Settled<null>));
  }

  /** Closes every connection; calls in progress and later calls fail. */
  close(): Promise<void> {
    this.closed = true;
    this.abort.abort();
    for (const session of this.sessions.values()) session.conn.close();
    this.sessions.clear();
    return Promise.all([...this.connecting.values()].map((p) => p.then((s) => s.conn.close(), () => undefined))).then(() => undefined);
  }

  // ---- Results -------------------------------------------------------------------------------------------

  private itemError(apiKey: number, name: string, s: Settled<unknown>): KafkaAdminError | undefined {
    if (s.errorCode === ErrorCode.NONE) return undefined;
    return new KafkaAdminError({ errorCode: s.errorCode, api: apiName(apiKey), broker: s.broker, resource: name, detail: s.errorMessage });
  }

  private topicResult(apiKey: number, name: string, s: Settled<unknown>): TopicResult {
    const error = this.itemError(apiKey, name, s);
    return error === undefined ? { name } : { name, error };
  }

  // ---- Per-item requests to the controller ---------------------------------------------------------------

  /**
   * Sends `items` to the admin node and settles each by key. Items answered NOT_CONTROLLER are sent again
   * after a metadata refresh until the call's deadline; then they settle with that error.
   */
  private async batch<I, R>(
    apiKey: number, items: readonly I[], keyOf: (item: I) => string,
    exchange: (session: Session, items: readonly I[], deadline: number) => Promise<readonly ItemAnswer<R>[]>,
  ): Promise<Map<string, Settled<R>>> {
    const api = apiName(apiKey);
    const settled = new Map<string, Settled<R>>();
    const notController = new Map<string, Settled<R>>();
    let pending = [...items];
    try {
      await this.retrying(api, async (deadline) => {
        const session = await this.adminSession(deadline);
        const answers = await exchange(session, pending, deadline);
        const broker = this.label(session.key);
        const byKey = new Map(answers.map((a) => [a.key, a]));
        const again: I[] = [];
        for (const item of pending) {
          const key = keyOf(item);
          const a = byKey.get(key);
          if (a === undefined) {
              // Only a broken broker leaves an item out of its response.
            settled.set(key, { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: 'the response has no result for this item', value: null, broker });
          } else if (a.errorCode === ErrorCode.NOT_CONTROLLER) {
            notController.set(key, { errorCode: a.errorCode, errorMessage: a.errorMessage, value: a.value, broker });
            again.push(item);
          } else {
            settled.set(key, { errorCode: a.errorCode, errorMessage: a.errorMessage, value: a.value, broker });
          }
        }
        pending = again;
        if (again.length > 0) {
          throw new KafkaAdminError({ errorCode: ErrorCode.NOT_CONTROLLER, api, broker, detail: `${again.length} item(s) were sent to a node that is not the controller` });
        }
      });
    } catch (error) {
      if (!(error instanceof KafkaAdminError) || error.errorCode !== ErrorCode.NOT_CONTROLLER) throw error;
      for (const item of pending) {
        const key = keyOf(item);
        const last = notController.get(key);
        if (last !== undefined) settled.set(key, last);
      }
    }
    return settled;
  }

  // ---- Retries -------------------------------------------------------------------------------------------

  private async retrying<T>(api: string, attempt: (deadline: number) => Promise<T>): Promise<T> {
    this.assertOpen(api);
    const started = Date.now();
    const deadline = started + this.operationTimeoutMs;
    let backoff = this.retryBackoffMs;
    for (let attempts = 1; ; attempts++) {
      try {
        return await attempt(deadline);
      } catch (error) {
        this.assertOpen(api);
        if (!(error instanceof KafkaAdminError) || !RETRIED_CODES.has(error.errorCode)) throw error;
        this.metadataStale = true;
        if (Date.now() + backoff >= deadline) {
          const context = error.api === api ? '' : `${api}: `;
          throw new KafkaAdminError({
            errorCode: error.errorCode, api: error.api, broker: error.broker, resource: error.resource,
            detail: `${error.detail} (${context}gave up after ${attempts} attempt(s) in ${Date.now() - started} ms)`, cause: error,
          });
        }
        try {
          await sleep(backoff, undefined, { signal: this.abort.signal });
        } catch {
          this.assertOpen(api);
        }
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  private assertOpen(api: string): void {
    if (this.closed) throw new Error(`${api}: the Kafka admin client is closed`);
  }

  /** The request's own timeout field: what is left of the call, capped by the request timeout. */
  private serverTimeout(deadline: number): number {
    return Math.max(1, Math.min(this.requestTimeoutMs, deadline - Date.now()));
  }

  // ---- Metadata ------------------------------------------------------------------------------------------

  /** The session of the node admin requests go to (Metadata's controller, else any listed broker). */
  private async adminSession(deadline: number): Promise<Session> {
    const md = await this.clusterMetadata(deadline);
    const address = md.brokers.get(md.controllerId) ?? md.brokers.values().next().value;
    if (address === undefined) {
      throw new KafkaAdminError({ errorCode: ErrorCode.BROKER_NOT_AVAILABLE, api: 'Metadata', broker: null, detail: 'the cluster metadata lists no broker' });
    }
    return this.session(address, deadline);
  }

  private clusterMetadata(deadline: number): Promise<ClusterMetadata> {
    const md = this.metadata;
    if (md !== null && !this.metadataStale && Date.now() - md.fetchedAt < this.metadataMaxAgeMs) return Promise.resolve(md);
    this.refreshing ??= this.fetchMetadata(deadline).finally(() => { this.refreshing = null; });
    return this.refreshing;
  }

  /** Asks the known brokers, then the bootstrap servers, until one answers Metadata. */
  private async fetchMetadata(deadline: number): Promise<ClusterMetadata> {
    const known = this.metadata === null ? [] : [...this.metadata.brokers.values()];
    const candidates = new Map<string, BrokerAddress>();
    for (const a of [...known, ...this.bootstrap]) candidates.set(formatBrokerAddress(a), { host: a.host, port: a.port });
    const failures: KafkaAdminError[] = [];
    for (const address of candidates.values()) {
      if (Date.now() >= deadline) break;
      try {
        const session = await this.session(address, deadline);
        // No topics: v1+ answers brokers and controller only (v0 reads [] as "all topics", which is harmless).
        const { response, version } = await this.call(session, API_METADATA, deadline, () => ({ ...defaultMetadataRequest(), topics: [] }));
        return this.absorbMetadata(response, version);
      } catch (error) {
        if (!(error instanceof KafkaAdminError)) throw error;
        failures.push(error);
      }
    }
    const last = failures.at(-1);
    const tried = failures.map((f) => `${f.broker ?? '?'}: ${f.errorName}: ${f.detail}`).join('; ');
    throw new KafkaAdminError({
      errorCode: last?.errorCode ?? ErrorCode.REQUEST_TIMED_OUT, api: 'Metadata', broker: null,
      detail: `no broker answered (bootstrap ${this.bootstrap.map(formatBrokerAddress).join(',')}${tried === '' ? '' : `; ${tried}`})`,
      cause: last,
    });
  }

  private absorbMetadata(response: MetadataResponse, version: number): ClusterMetadata {
    const brokers = new Map(response.brokers.map((b) => [b.nodeId, { host: b.host, port: b.port, rack: b.rack }] as const));
    const md: ClusterMetadata = { clusterId: response.clusterId, controllerId: version >= 1 ? response.controllerId : -1, brokers, fetchedAt: Date.now() };
    this.metadata = md;
    this.metadataStale = false;
    return md;
  }

  /** `broker 1 (host:port)` when the metadata knows the address, else `host:port`. */
  private label(key: string): string {
    for (const [id, b] of this.metadata?.brokers ?? []) if (formatBrokerAddress(b) === key) return `broker ${id} (${key})`;
    return key;
  }

  // ---- Connections ---------------------------------------------------------------------------------------

  private session(address: BrokerAddress, deadline: number): Promise<Session> {
    const key = formatBrokerAddress(address);
    const existing = this.sessions.get(key);
    if (existing !== undefined && !existing.conn.isClosed) return Promise.resolve(existing);
    if (existing !== undefined) this.sessions.delete(key);
    let pending = this.connecting.get(key);
    if (pending === undefined) {
      pending = this.openSession(address, key, deadline).finally(() => this.connecting.delete(key));
      this.connecting.set(key, pending);
    }
    return pending;
  }

  private async openSession(address: BrokerAddress, key: string, deadline: number): Promise<Session> {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new KafkaAdminError({ errorCode: ErrorCode.REQUEST_TIMED_OUT, api: 'ApiVersions', broker: this.label(key), detail: 'no time left to connect' });
    let conn: KafkaConnection;
    try {
      conn = await KafkaConnection.open({
        host: address.host, port: address.port, clientId: this.clientId,
        connectTimeoutMs: Math.min(this.connectTimeoutMs, remaining),
        // Our own timer (raced) is authoritative; the connection's is a backstop.
        requestTimeoutMs: this.requestTimeoutMs + 1000,
      });
    } catch (error) {
      throw this.transportError(error, 'ApiVersions', key, null);
    }
    if (this.closed) {
      conn.close();
      throw new Error('ApiVersions: the Kafka admin client is closed');
    }
    try {
      const versions = await this.apiVersions(conn, key, deadline);
      const session: Session = { key, conn, versions };
      this.sessions.set(key, session);
      return session;
    } catch (error) {
      conn.close();
      throw error;
    }
  }

  /**
   * ApiVersions at our highest version. A broker that does not know that version answers
   * UNSUPPORTED_VERSION with its ranges in a v0 body (KIP-511), which is all we need.
   */
  private async apiVersions(conn: KafkaConnection, key: string, deadline: number): Promise<Map<number, VersionRange>> {
    const spec = API_SPECS[API_API_VERSIONS];
    const version = clientRange(API_API_VERSIONS)?.max ?? 0;
    let response: ApiVersionsResponse;
    try {
      const frame = await this.raced(conn, key, 'ApiVersions', deadline, conn.sendRaw(API_API_VERSIONS, version, (w) => spec.request.write(w, { clientSoftwareName: CLIENT_SOFTWARE_NAME, clientSoftwareVersion: CLIENT_SOFTWARE_VERSION }, version)));
      const r = new Reader(frame);
      parseResponseHeader(r, API_API_VERSIONS, version);
      const errorCode = r.remaining >= 2 ? frame.readInt16BE(r.pos) : ErrorCode.NONE;
      response = spec.response.read(r, errorCode === ErrorCode.UNSUPPORTED_VERSION ? 0 : version);
    } catch (error) {
      throw this.transportError(error, 'ApiVersions', key, conn, version);
    }
    if (response.errorCode !== ErrorCode.NONE && !(response.errorCode === ErrorCode.UNSUPPORTED_VERSION && response.apiKeys.length > 0)) {
      throw new KafkaAdminError({ errorCode: response.errorCode, api: 'ApiVersions', broker: this.label(key), detail: null });
    }
    return new Map(response.apiKeys.map((k) => [k.apiKey, { min: k.minVersion, max: k.maxVersion }]));
  }

  /** Sends one request at the negotiated version, built by `build` for that version. */
  private async call<K extends ApiKey>(
    session: Session, apiKey: K, deadline: number, build: (version: number) => RequestByApiKey[K],
  ): Promise<{ response: ResponseByApiKey[K]; version: number }> {
    const api = apiName(apiKey);
    const brokerRange = session.versions.get(apiKey);
    const version = negotiateVersion(apiKey, brokerRange);
    if (version === null) {
      throw new KafkaAdminError({
        errorCode: ErrorCode.UNSUPPORTED_VERSION, api, broker: this.label(session.key),
        detail: `no common version: the broker supports ${api} versions ${formatRange(brokerRange)}, this client ${formatRange(clientRange(apiKey))}`,
      });
    }
    try {
      const response = await this.raced(session.conn, session.key, api, deadline, session.conn.send(apiKey, version, build(version)));
      return { response, version };
    } catch (error) {
      throw this.transportError(error, api, session.key, session.conn, version);
    }
  }

  /** Resolves with `promise`, or closes the connection and fails when the request or call time is up. */
  private raced<T>(conn: KafkaConnection, key: string, api: string, deadline: number, promise: Promise<T>): Promise<T> {
    promise.catch(() => undefined); // abandoned on timeout: its rejection is expected and handled here
    const ms = Math.max(0, Math.min(this.requestTimeoutMs, deadline - Date.now()));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.dropSession(key, conn);
        reject(new KafkaAdminError({ errorCode: ErrorCode.REQUEST_TIMED_OUT, api, broker: this.label(key), detail: `no response within ${ms} ms` }));
      }, ms);
      promise.then(
        (value) => { clearTimeout(timer); resolve(value); },
        (error: unknown) => { clearTimeout(timer); reject(error instanceof Error ? error : new Error(String(error))); },
      );
    });
  }

  private dropSession(key: string, conn: KafkaConnection): void {
    if (this.sessions.get(key)?.conn === conn) this.sessions.delete(key);
    conn.close();
  }

  /** Turns connection and codec failures into KafkaAdminError naming the broker and API. */
  private transportError(error: unknown, api: string, key: string, conn: KafkaConnection | null, version?: number): unknown {
    if (error instanceof KafkaAdminError) return error;
    const broker = this.label(key);
    const at = version === undefined ? api : `${api} v${version}`;
    if (error instanceof KafkaConnectionError) {
      if (conn !== null) this.dropSession(key, conn);
      const timedOut = /timed out/.test(error.message);
      return new KafkaAdminError({ errorCode: timedOut ? ErrorCode.REQUEST_TIMED_OUT : ErrorCode.NETWORK_EXCEPTION, api, broker, detail: error.message, cause: error });
    }
    if (error instanceof EncodeError) {
      return new KafkaAdminError({ errorCode: ErrorCode.UNSUPPORTED_VERSION, api, broker, detail: `the request cannot be written at ${at}: ${error.message}`, cause: error });
    }
    if (error instanceof DecodeError) {
      if (conn !== null) this.dropSession(key, conn);
      return new KafkaAdminError({ errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, api, broker, detail: `the ${at} response could not be decoded: ${error.message}`, cause: error });
    }
    return error;
  }
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) throw new TypeError(`KafkaAdminClient option ${name} must be a positive number of milliseconds, got ${value}`);
  return value;
}

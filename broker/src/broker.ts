/**
 * One Millrace process in combined mode (controller + broker, single voter): wires the log manager, the
 * metadata log and image, the controller, the replica manager, the request handlers, the Kafka listeners
 * and the admin HTTP server, and runs their lifecycle.
 *
 * Startup: starting -> recovering (logs and metadata load) -> running. Shutdown (SIGTERM): shutting_down,
 * listeners stop, parked requests complete, logs close with checkpoints and the clean-shutdown marker.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { LogManager } from './log/log-manager.ts';
import { readMetaProperties } from './log/meta-properties.ts';
import { defaultLogFs } from './log/log-fs.ts';
import type { LogConfig } from './log/config.ts';
import { resolveTopicConfig, type BrokerConfig } from './config/index.ts';
import { MetadataImage } from './metadata/metadata-image.ts';
import { LocalMetadataLog } from './metadata/local-metadata-log.ts';
import { metadataRecord, type MetadataRecord } from './metadata/metadata-record.ts';
import { Controller, type TopicConfigProblem } from './controller/controller.ts';
import { ReplicaManager } from './replication/replica-manager.ts';
import { SocketServer } from './server/socket-server.ts';
import { KAFKA_40_BROKER_RANGES, REJECTED_BELOW, advertisedVersions, type VersionRange } from './server/api-versions.ts';
import type { HandlerTable } from './server/request-context.ts';
import { createApiVersionsHandler, type SupportedFeature } from './api/api-versions-handler.ts';
import { createMetadataHandler } from './api/metadata-handler.ts';
import { createProduceHandler } from './api/produce-handler.ts';
import { createFetchHandler } from './api/fetch-handler.ts';
import { FetchSessionCache } from './api/fetch-sessions.ts';
import { createListOffsetsHandler } from './api/list-offsets-handler.ts';
import { createOffsetForLeaderEpochHandler } from './api/offset-for-leader-epoch-handler.ts';
import { createInitProducerIdHandler, ProducerIdManager } from './api/init-producer-id-handler.ts';
import { createAdminHandlers } from './api/admin-handlers.ts';
import { createConfigHandlers } from './api/config-handlers.ts';
import { createLogHandlers } from './api/log-handlers.ts';
import { createGroupHandlers } from './api/group-handlers.ts';
import { GroupService } from './coordinator/group-service.ts';
import type { TopicSettings } from './api/topic-settings.ts';
import { BrokerMetrics } from './metrics/broker-metrics.ts';
import { AdminServer } from './http/admin-server.ts';
import type { BrokerState, BrokerStatus } from './http/broker-status.ts';
import { randomUuid } from './protocol/wire/uuid.ts';

export const MILLRACE_VERSION = '0.1.0';

export interface ListenerAddress {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/** Everything the broker needs, already resolved and validated from configuration. */
export interface BrokerSettings {
  /** The validated static configuration these settings were resolved from (DescribeConfigs, dynamic configs). */
  readonly config: BrokerConfig;
  readonly nodeId: number;
  /** Used when the log dirs are not formatted yet; null generates one (and keeps it in meta.properties). */
  readonly clusterId: string | null;
  readonly logDirs: readonly string[];
  readonly metadataLogDir: string;
  readonly listeners: readonly ListenerAddress[];
  readonly advertisedListeners: readonly ListenerAddress[];
  readonly httpListener: { readonly host: string; readonly port: number } | null;
  readonly rack: string | null;
  readonly numPartitions: number;
  readonly defaultReplicationFactor: number;
  readonly autoCreateTopicsEnable: boolean;
  readonly socketRequestMaxBytes: number;
  readonly connectionsMaxIdleMs: number;
  readonly fetchMaxBytes: number;
  /** Effective log config of a topic given its overrides. */
  readonly logConfig: (overrides: ReadonlyMap<string, string>) => LogConfig;
  /** Effective handler settings of a topic given its overrides. */
  readonly topicSettings: (overrides: ReadonlyMap<string, string>) => TopicSettings;
  readonly validateTopicConfigs: (configs: ReadonlyMap<string, string>) => TopicConfigProblem | null;
}

/** Kafka 4.0 features this broker supports (ApiVersions SupportedFeatures). */
export const SUPPORTED_FEATURES: readonly SupportedFeature[] = [
  { name: 'metadata.version', minVersion: 7, maxVersion: 25 },
  { name: 'kraft.version', minVersion: 0, maxVersion: 0 },
  { name: 'group.version', minVersion: 0, maxVersion: 0 },
  { name: 'transaction.version', minVersion: 0, maxVersion: 0 },
];
/** metadata.version 4.0-IV3. */
const METADATA_VERSION_LEVEL = 25;

export class Broker {
  readonly settings: BrokerSettings;
  readonly logger: Logger;
  readonly image = new MetadataImage();
  readonly metrics: BrokerMetrics;
  private state: BrokerState = 'starting';
  private recovery = { logsTotal: 0, logsRecovered: 0 };
  private readonly startedAtMs = Date.now();
  private clusterIdValue: string | null = null;
  private logManager: LogManager | null = null;
  private metadataLog: LocalMetadataLog | null = null;
  private controller: Controller | null = null;
  private replicas: ReplicaManager | null = null;
  private groups: GroupService | null = null;
  private readonly servers: SocketServer[] = [];
  private readonly boundPorts = new Map<string, number>();
  private admin: AdminServer | null = null;
  private adminPort: number | null = null;

  constructor(settings: BrokerSettings, logger: Logger, options: { processMetrics?: boolean } = {}) {
    this.settings = settings;
    this.logger = logger;
    this.metrics = new BrokerMetrics({ logger, processMetrics: options.processMetrics ?? true });
  }

  get clusterId(): string {
    if (this.clusterIdValue === null) throw new Error('the broker has not started');
    return this.clusterIdValue;
  }

  /** The port a listener is bound to (useful with port 0). */
  port(listenerName: string): number {
    const port = this.boundPorts.get(listenerName);
    if (port === undefined) throw new Error(`no listener named ${listenerName}`);
    return port;
  }

  get httpPort(): number | null {
    return this.adminPort;
  }

  status(): BrokerStatus {
    return {
      nodeId: this.settings.nodeId,
      clusterId: this.clusterIdValue,
      state: this.state,
      ...(this.state === 'recovering' ? { recovery: { logsTotal: this.recovery.logsTotal, logsRecovered: this.recovery.logsRecovered } } : {}),
      processRoles: ['broker', 'controller'],
      listeners: this.settings.advertisedListeners.map((l) => ({ name: l.name, host: l.host, port: this.boundPorts.get(l.name) ?? l.port, securityProtocol: 'PLAINTEXT' })),
      version: MILLRACE_VERSION,
      uptimeMs: Date.now() - this.startedAtMs,
      metadataOffset: Number(this.image.lastAppliedOffset),
      leaderCount: this.replicas?.leaderCount ?? 0,
      partitionCount: [...(this.replicas?.hostedPartitions ?? [])].length,
      underReplicatedPartitions: 0,
    };
  }

  async start(): Promise<void> {
    const { settings, logger } = this;
    if (settings.httpListener !== null) {
      this.admin = new AdminServer({ host: settings.httpListener.host, port: settings.httpListener.port, status: this, metrics: this.metrics, logger });
      this.adminPort = await this.admin.listen();
    }
    this.state = 'recovering';
    this.clusterIdValue = this.discoverClusterId();
    logger.info({ clusterId: this.clusterIdValue, nodeId: settings.nodeId, logDirs: settings.logDirs }, 'loading logs');

    this.metadataLog = await LocalMetadataLog.open(settings.metadataLogDir, this.image, logger.child({ component: 'metadata' }), false);
    this.logManager = await LogManager.open({
      logDirs: settings.logDirs,
      clusterId: this.clusterIdValue,
      nodeId: settings.nodeId,
      topicConfig: (topic) => settings.logConfig(this.image.topicConfig(topic)),
      defaultConfig: settings.logConfig(new Map()),
      logger: logger.child({ component: 'log' }),
      onRecoveryProgress: () => { this.recovery.logsRecovered++; },
    });
    this.logManager.start();

    this.controller = new Controller({
      image: this.image,
      log: this.metadataLog,
      defaultNumPartitions: settings.numPartitions,
      defaultReplicationFactor: settings.defaultReplicationFactor,
      validateTopicConfigs: settings.validateTopicConfigs,
      describeTopicConfigs: (overrides) => resolveTopicConfig(overrides, settings.config).describe(),
      randomBytes,
    });
    this.replicas = new ReplicaManager({ nodeId: settings.nodeId, image: this.image, logManager: this.logManager, logger: logger.child({ component: 'replicas' }) });
    const config = settings.config;
    const controller = this.controller;
    this.groups = new GroupService({
      nodeId: settings.nodeId,
      image: this.image,
      replicas: this.replicas,
      offsetsTopicPartitions: config.get('offsets.topic.num.partitions'),
      offsetsTopicReplicationFactor: config.get('offsets.topic.replication.factor'),
      config: {
        groupMinSessionTimeoutMs: config.get('group.min.session.timeout.ms'),
        groupMaxSessionTimeoutMs: config.get('group.max.session.timeout.ms'),
        groupInitialRebalanceDelayMs: config.get('group.initial.rebalance.delay.ms'),
        groupMaxSize: config.get('group.max.size'),
        offsetMetadataMaxBytes: config.get('offset.metadata.max.bytes'),
        offsetsRetentionMs: config.offsetsRetentionMs,
        offsetsRetentionCheckIntervalMs: Number(config.get('offsets.retention.check.interval.ms')),
      },
      createOffsetsTopic: async (partitions, replicationFactor) => {
        const created = await controller.createTopics({
          topics: [{ name: '__consumer_offsets', numPartitions: partitions, replicationFactor, assignments: [], configs: [
            { name: 'cleanup.policy', value: 'compact' }, { name: 'compression.type', value: 'producer' }, { name: 'segment.bytes', value: '104857600' },
          ] }],
          timeoutMs: 30_000, validateOnly: false,
        });
        const result = created.topics[0];
        if (result !== undefined && result.errorCode !== 0 && result.errorCode !== 36) {
          logger.warn({ errorCode: result.errorCode, reason: result.errorMessage },
            'cannot create __consumer_offsets, so consumer groups are unavailable: check offsets.topic.replication.factor against the number of brokers');
        }
      },
      logger: logger.child({ component: 'groups' }),
    });
    this.image.onChange(() => { void this.groups?.sync(); });
    await this.controller.write(this.bootstrapRecords());
    await this.groups.sync();

    const handlers = this.handlers();
    const advertised = advertisedVersions(Object.keys(handlers).map(Number), KAFKA_40_BROKER_RANGES);
    handlers[18] = createApiVersionsHandler({
      advertised: () => advertised,
      supportedFeatures: SUPPORTED_FEATURES,
      finalizedFeatures: () => ({ epoch: this.image.lastAppliedOffset, levels: this.image.features }),
    });
    const acceptsVersion = (apiKey: number, version: number): boolean => {
      const range: VersionRange | undefined = advertised.get(apiKey);
      return range !== undefined && version >= range.min && version <= range.max && version >= (REJECTED_BELOW.get(apiKey) ?? 0);
    };
    for (const listener of settings.listeners) {
      const server = new SocketServer({
        listenerName: listener.name, host: listener.host, port: listener.port,
        maxRequestBytes: settings.socketRequestMaxBytes, idleTimeoutMs: settings.connectionsMaxIdleMs,
        handlers, acceptsVersion, logger: logger.child({ component: 'network', listener: listener.name }), observer: this.metrics,
      });
      this.boundPorts.set(listener.name, await server.listen());
      this.servers.push(server);
    }
    // Advertised ports of listeners bound to port 0 (tests) are only known now: re-register with them.
    if (settings.listeners.some((l) => l.port === 0)) await this.controller.write([this.registrationRecord()]);
    this.state = 'running';
    logger.info({ listeners: [...this.boundPorts].map(([name, port]) => `${name}:${port}`), httpPort: this.adminPort }, 'broker started');
  }

  private discoverClusterId(): string {
    for (const dir of [this.settings.metadataLogDir, ...this.settings.logDirs]) {
      const meta = readMetaProperties(defaultLogFs, dir);
      if (meta !== null) return meta.clusterId;
    }
    return this.settings.clusterId ?? randomUuid(randomBytes);
  }

  private registrationRecord(): MetadataRecord {
    const { settings } = this;
    return metadataRecord(0, {
      brokerId: settings.nodeId,
      isMigratingZkBroker: false,
      incarnationId: randomUuid(randomBytes),
      brokerEpoch: this.image.lastAppliedOffset + 1n,
      endPoints: settings.advertisedListeners.map((l) => ({ name: l.name, host: l.host, port: this.boundPorts.get(l.name) ?? l.port, securityProtocol: 0 })),
      features: SUPPORTED_FEATURES.map((f) => ({ name: f.name, minSupportedVersion: f.minVersion, maxSupportedVersion: f.maxVersion })),
      rack: settings.rack,
      fenced: false,
      inControlledShutdown: false,
      logDirs: [],
    });
  }

  /** First start: the finalized metadata.version. Every start: this broker's registration (a new epoch). */
  private bootstrapRecords(): MetadataRecord[] {
    const records: MetadataRecord[] = [];
    if (!this.image.features.has('metadata.version')) records.push(metadataRecord(12, { name: 'metadata.version', featureLevel: METADATA_VERSION_LEVEL }));
    records.push(this.registrationRecord());
    return records;
  }

  private handlers(): HandlerTable {
    const replicas = this.replicas as ReplicaManager;
    const controller = this.controller as Controller;
    const { settings } = this;
    // Resolving a topic's settings walks config synonyms (about 7% of produce CPU in a profile): cache per
    // topic, dropped on every metadata change and whenever the effective broker config changes.
    let resolveTopicSettings = (topic: string): TopicSettings => settings.topicSettings(this.image.topicConfig(topic));
    const settingsCache = new Map<string, TopicSettings>();
    this.image.onChange(() => settingsCache.clear());
    const topicSettings = {
      settings: (topic: string): TopicSettings => {
        let cached = settingsCache.get(topic);
        if (cached === undefined) settingsCache.set(topic, (cached = resolveTopicSettings(topic)));
        return cached;
      },
    };
    const table: HandlerTable = {};
    table[0] = createProduceHandler({ replicas, topicSettings, metrics: this.metrics, nowMs: () => Date.now() });
    table[1] = createFetchHandler({
      replicas, image: this.image, metrics: this.metrics, fetchMaxBytes: settings.fetchMaxBytes,
      sessions: new FetchSessionCache(settings.config.get('max.incremental.fetch.session.cache.slots')),
    });
    table[2] = createListOffsetsHandler({ replicas });
    table[3] = createMetadataHandler({
      image: this.image,
      clusterId: () => this.clusterId,
      controllerId: () => settings.nodeId,
      autoCreateTopicsEnabled: () => settings.autoCreateTopicsEnable,
      autoCreateTopics: async (names) => {
        await controller.createTopics({ topics: names.map((name) => ({ name, numPartitions: -1, replicationFactor: -1, assignments: [], configs: [] })), timeoutMs: 30_000, validateOnly: false });
      },
    });
    table[22] = createInitProducerIdHandler({ producerIds: new ProducerIdManager(() => controller.allocateProducerIds(settings.nodeId, this.image.brokers.get(settings.nodeId)?.epoch ?? -1n)) });
    table[23] = createOffsetForLeaderEpochHandler({ replicas });
    Object.assign(table, createAdminHandlers({ controller, image: this.image, clusterId: () => this.clusterId, nodeId: settings.nodeId }));
    Object.assign(table, createConfigHandlers({
      controller, image: this.image, replicas, nodeId: settings.nodeId, staticConfig: settings.config, logger: this.logger.child({ component: 'configs' }),
      // KIP-226: produce resolves topic settings against the effective (static + dynamic) broker config.
      onEffectiveConfig: (effective) => {
        resolveTopicSettings = (topic: string) => effective.topicSettings(this.image.topicConfig(topic));
        settingsCache.clear();
      },
    }), createLogHandlers({ replicas, logManager: this.logManager as LogManager, image: this.image, controller }));
    Object.assign(table, createGroupHandlers({ groups: this.groups as GroupService, image: this.image, nodeId: settings.nodeId }));
    return table;
  }

  /** Clean shutdown: stop serving, let parked requests finish, close logs with checkpoints and the marker. */
  async shutdown(): Promise<void> {
    if (this.state === 'shutting_down') return;
    this.state = 'shutting_down';
    this.logger.info('shutting down');
    this.groups?.shutdown();
    await this.replicas?.shutdown();
    await Promise.all(this.servers.map((s) => s.close()));
    await this.logManager?.shutdown();
    await this.metadataLog?.close();
    await this.admin?.close();
    this.logger.info('shutdown complete');
  }
}

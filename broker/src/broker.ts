/**
 * One Millrace process (Kafka's KafkaRaftServer): `process.roles` = broker, controller, or both.
 * - Every node runs the KRaft metadata quorum (a voter on controllers, an observer on brokers) and applies
 *   the committed metadata log to its image.
 * - Controller role: serves the controller listener (raft RPCs, broker registration and heartbeats, and the
 *   admin APIs brokers forward); while it leads the quorum it is the active controller, the only writer.
 * - Broker role: logs, replicas, groups and the client listeners; registers with the active controller,
 *   heartbeats, serves once unfenced, forwards admin requests to the active controller.
 *
 * Startup: starting -> recovering (logs and metadata load, registration) -> running. Shutdown (SIGTERM):
 * controlled shutdown (leaderships move away), listeners stop, parked requests complete, logs close with
 * checkpoints and the clean-shutdown marker, the quorum resigns leadership if it held it.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { LogManager } from './log/log-manager.ts';
import { readMetaProperties } from './log/meta-properties.ts';
import { defaultLogFs } from './log/log-fs.ts';
import type { LogConfig } from './log/config.ts';
import { resolveTopicConfig, type BrokerConfig } from './config/index.ts';
import { MetadataImage } from './metadata/metadata-image.ts';
import { MetadataLoader } from './metadata/metadata-loader.ts';
import { metadataRecord } from './metadata/metadata-record.ts';
import { Controller, type TopicConfigProblem } from './controller/controller.ts';
import { ClusterControl } from './controller/cluster-control.ts';
import { ControllerChannel } from './cluster/controller-channel.ts';
import { BrokerLifecycle } from './cluster/broker-lifecycle.ts';
import { CONTROLLER_APIS, notControllerResponse, type ControllerApiKey } from './cluster/not-controller.ts';
import { MetadataQuorum, type LeaderAndEpoch, type RaftTimingOverrides } from './raft/driver/metadata-quorum.ts';
import { KRAFT_VERSION_FEATURE } from './raft/driver/wire.ts';
import type { ApiKey, RequestByApiKey, ResponseByApiKey } from './protocol/generated/index.ts';
import { errorName } from './protocol/error-codes.ts';
import type { HostedLogs } from './api/dynamic-broker-config.ts';
import type { LogHandlerDeps } from './api/log-handlers.ts';
import { ReplicaManager } from './replication/replica-manager.ts';
import { SocketServer } from './server/socket-server.ts';
import { KAFKA_40_BROKER_RANGES, KAFKA_40_CONTROLLER_RANGES, REJECTED_BELOW, advertisedVersions, type VersionRange } from './server/api-versions.ts';
import type { Handler, HandlerTable, RequestContext } from './server/request-context.ts';
import { CloseConnection } from './server/close-connection.ts';
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
  readonly processRoles: readonly ('broker' | 'controller')[];
  /** Client listeners (broker role). */
  readonly listeners: readonly ListenerAddress[];
  /** controller.listener.names listeners this node binds (controller role). */
  readonly controllerListeners: readonly ListenerAddress[];
  /** controller.quorum.voters (static quorum); empty with a dynamic quorum. */
  readonly quorumVoters: readonly { readonly id: number; readonly host: string; readonly port: number }[];
  /** controller.quorum.bootstrap.servers (dynamic quorum, KIP-853). */
  readonly quorumBootstrapServers: readonly { readonly host: string; readonly port: number }[];
  /** millrace.quorum.standalone / millrace.quorum.initial.controllers: how a dynamic quorum starts. */
  readonly quorumStandalone: boolean;
  readonly quorumInitialControllers: readonly { readonly id: number; readonly host: string; readonly port: number; readonly directoryId: string }[];
  readonly raftTiming: RaftTimingOverrides;
  /** broker.heartbeat.interval.ms, broker.session.timeout.ms, initial.broker.registration.timeout.ms */
  readonly heartbeatIntervalMs: number;
  readonly sessionTimeoutMs: number;
  readonly registrationTimeoutMs: number;
  /** How long a broker waits for the controller to move its leaderships away at shutdown. */
  readonly controlledShutdownTimeoutMs: number;
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
  KRAFT_VERSION_FEATURE,
  { name: 'group.version', minVersion: 0, maxVersion: 0 },
  { name: 'transaction.version', minVersion: 0, maxVersion: 0 },
];
/** metadata.version 4.0-IV3. */
const METADATA_VERSION_LEVEL = 25;
/** How often the active controller looks for expired broker sessions. */
const FENCING_CHECK_INTERVAL_MS = 250;
/** Raft RPCs served on the controller listener (Fetch only for __cluster_metadata). */
const RAFT_APIS = [1, 52, 53, 54, 55, 59, 80, 81, 82] as const;
/** How long a broker waits for its image to show a forwarded topic creation or deletion. */
const FORWARD_VISIBILITY_WAIT_MS = 5000;
/** Admin APIs a broker forwards to the active controller (DescribeQuorum too, as Kafka's brokers do). */
const FORWARDED_APIS = [19, 20, 33, 37, 43, 44, 55] as const;
/** What the controller listener advertises: the raft and controller APIs, and the admin APIs it answers. */
const CONTROLLER_LISTENER_RANGES: ReadonlyMap<number, VersionRange> = new Map([
  ...[...KAFKA_40_BROKER_RANGES].filter(([apiKey]) => ([1, ...FORWARDED_APIS] as number[]).includes(apiKey)),
  ...KAFKA_40_CONTROLLER_RANGES,
]);

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
  private quorum: MetadataQuorum | null = null;
  private controller: Controller | null = null;
  /** True once this process is the quorum leader and its controller has caught up with the log. */
  private controllerActive = false;
  private activationEpoch = -1;
  private fencingTimer: NodeJS.Timeout | null = null;
  /** Controller-bound handlers of the local controller (controller role). */
  private controllerTable: HandlerTable = {};
  private channel: ControllerChannel | null = null;
  private lifecycle: BrokerLifecycle | null = null;
  private replicas: ReplicaManager | null = null;
  private groups: GroupService | null = null;
  private readonly brokerServers: SocketServer[] = [];
  private readonly controllerServers: SocketServer[] = [];
  private readonly boundPorts = new Map<string, number>();
  private admin: AdminServer | null = null;
  private adminPort: number | null = null;

  private readonly onFatalError: ((error: Error) => void) | null;

  constructor(settings: BrokerSettings, logger: Logger, options: { processMetrics?: boolean; onFatalError?: (error: Error) => void } = {}) {
    this.settings = settings;
    this.logger = logger;
    this.metrics = new BrokerMetrics({ logger, processMetrics: options.processMetrics ?? true });
    this.onFatalError = options.onFatalError ?? null;
  }

  /** The metadata quorum stopped on an unrecoverable error: this node can no longer follow metadata. */
  private fatal(error: Error): void {
    this.logger.fatal({ err: error }, `the metadata quorum stopped: ${error.message}; this node must restart`);
    this.onFatalError?.(error);
  }

  get clusterId(): string {
    if (this.clusterIdValue === null) throw new Error('the broker has not started');
    return this.clusterIdValue;
  }

  get isBroker(): boolean {
    return this.settings.processRoles.includes('broker');
  }

  get isController(): boolean {
    return this.settings.processRoles.includes('controller');
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

  /** The metadata quorum as this node sees it (DescribeQuorum data). */
  quorumState(): ReturnType<MetadataQuorum['describe']> | null {
    return this.quorum?.describe() ?? null;
  }

  status(): BrokerStatus {
    return {
      nodeId: this.settings.nodeId,
      clusterId: this.clusterIdValue,
      state: this.state,
      ...(this.state === 'recovering' ? { recovery: { logsTotal: this.recovery.logsTotal, logsRecovered: this.recovery.logsRecovered } } : {}),
      processRoles: [...this.settings.processRoles],
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
    logger.info({ clusterId: this.clusterIdValue, nodeId: settings.nodeId, roles: settings.processRoles, logDirs: settings.logDirs }, 'loading logs');

    // Controllers bind their listener first: a dynamic quorum needs its real endpoint, and requests that
    // arrive before the quorum opens are refused (peers retry).
    if (this.isController) {
      await this.listen(settings.controllerListeners, this.controllerListenerTable(), CONTROLLER_LISTENER_RANGES, this.controllerServers);
    }
    const controllerListener = settings.controllerListeners[0];
    const localEndpoint = controllerListener === undefined ? undefined
      // A wildcard listener is reached at the address the voters list gives this node (its DNS name in
      // Kubernetes), else at this machine's name.
      : { host: controllerListener.host === '0.0.0.0' || controllerListener.host === '::' ? (settings.quorumVoters.find((v) => v.id === settings.nodeId)?.host ?? hostname()) : controllerListener.host, port: this.boundPorts.get(controllerListener.name) ?? controllerListener.port };

    // The metadata quorum: a voter on controllers, an observer on brokers. Committed records feed the image.
    const quorum = await MetadataQuorum.open({
      localId: settings.nodeId,
      clusterId: this.clusterIdValue,
      voters: settings.quorumVoters,
      ...(settings.quorumBootstrapServers.length > 0 ? { bootstrapServers: settings.quorumBootstrapServers } : {}),
      ...(settings.quorumStandalone ? { standalone: true } : {}),
      ...(settings.quorumInitialControllers.length > 0 ? { initialVoters: settings.quorumInitialControllers } : {}),
      ...(localEndpoint === undefined ? {} : { localEndpoint }),
      metadataLogDir: settings.metadataLogDir,
      logger: logger.child({ component: 'raft' }),
      timing: settings.raftTiming,
      listenerName: settings.config.controllerListenerNames[0] ?? 'CONTROLLER',
      segmentBytes: settings.config.get('metadata.log.segment.bytes'),
      onFatalError: (error) => this.fatal(error),
    });
    this.quorum = quorum;
    const loader = new MetadataLoader(this.image, quorum, logger.child({ component: 'metadata' }), {
      maxBytesBetweenSnapshots: Number(settings.config.get('metadata.log.max.record.bytes.between.snapshots')),
      maxIntervalMs: Number(settings.config.get('metadata.log.max.snapshot.interval.ms')),
    });
    quorum.register({
      handleCommit: (batch) => loader.handleCommit(batch),
      handleLoadSnapshot: (snapshot) => loader.handleLoadSnapshot(snapshot),
      handleLeaderChange: (leader) => this.onLeaderChange(leader),
    });

    if (this.isController) {
      this.controller = new Controller({
        image: this.image,
        log: loader,
        defaultNumPartitions: settings.numPartitions,
        defaultReplicationFactor: settings.defaultReplicationFactor,
        validateTopicConfigs: settings.validateTopicConfigs,
        describeTopicConfigs: (overrides) => resolveTopicConfig(overrides, settings.config).describe(),
        randomBytes,
        clusterControl: new ClusterControl({
          image: this.image, clusterId: this.clusterIdValue, sessionTimeoutMs: settings.sessionTimeoutMs, finalizedFeatures: () => this.image.features,
        }),
      });
      this.controllerTable = this.controllerHandlers(this.controller);
    }

    const staticControllers = settings.quorumVoters.map((v) => ({ id: v.id, host: v.host, port: v.port }));
    this.channel = new ControllerChannel({
      // Static voters, or with a dynamic quorum the voters' endpoints as the metadata log knows them.
      controllers: () => (staticControllers.length > 0 ? staticControllers
        : quorum.describe().voters.flatMap((v) => (v.endpoint === null || v.endpoint === undefined ? [] : [{ id: v.id, host: v.endpoint.host, port: v.endpoint.port }]))),
      leaderId: () => quorum.leaderAndEpoch().leaderId,
      local: this.isController ? { isActive: () => this.controllerActive, handle: (apiKey, version, request) => this.handleLocally(apiKey, version, request) } : null,
      clientId: `millrace-node-${settings.nodeId}`,
      logger: logger.child({ component: 'controller-channel' }),
      requestTimeoutMs: settings.config.get('controller.quorum.request.timeout.ms'),
    });

    if (this.isBroker) await this.startBrokerRole();
    await quorum.start();
    if (this.isBroker) await this.registerBroker();
    this.state = 'running';
    logger.info({ listeners: [...this.boundPorts].map(([name, port]) => `${name}:${port}`), httpPort: this.adminPort, roles: settings.processRoles }, 'node started');
  }

  /** Logs, replicas, groups and the broker listeners (they accept connections before registration). */
  private async startBrokerRole(): Promise<void> {
    const { settings, logger } = this;
    const channel = this.channel as ControllerChannel;
    this.logManager = await LogManager.open({
      logDirs: settings.logDirs,
      clusterId: this.clusterId,
      nodeId: settings.nodeId,
      topicConfig: (topic) => settings.logConfig(this.image.topicConfig(topic)),
      defaultConfig: settings.logConfig(new Map()),
      logger: logger.child({ component: 'log' }),
      onRecoveryProgress: () => { this.recovery.logsRecovered++; },
    });
    this.logManager.start();
    this.replicas = new ReplicaManager({ nodeId: settings.nodeId, image: this.image, logManager: this.logManager, logger: logger.child({ component: 'replicas' }) });
    const config = settings.config;
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
        const created = await channel.send(19, {
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
    await this.listen(settings.listeners, this.brokerHandlers(), KAFKA_40_BROKER_RANGES, this.brokerServers);
  }

  /** Registers with the active controller and waits to be unfenced (Kafka: the broker serves once caught up). */
  private async registerBroker(): Promise<void> {
    const { settings, logger } = this;
    this.lifecycle = new BrokerLifecycle({
      nodeId: settings.nodeId,
      clusterId: this.clusterId,
      incarnationId: randomUuid(randomBytes),
      channel: this.channel as ControllerChannel,
      listeners: () => settings.advertisedListeners.map((l) => ({ name: l.name, host: l.host, port: this.boundPorts.get(l.name) ?? l.port, securityProtocol: 0 })),
      features: SUPPORTED_FEATURES,
      rack: settings.rack,
      heartbeatIntervalMs: settings.heartbeatIntervalMs,
      registrationTimeoutMs: settings.registrationTimeoutMs,
      metadataOffset: () => this.image.lastAppliedOffset,
      readyToUnfence: () => this.state !== 'shutting_down',
      logger: logger.child({ component: 'lifecycle' }),
    });
    await this.lifecycle.start();
    await this.groups?.sync();
    await this.lifecycle.waitRunning();
    // Serve once this broker's own image shows it unfenced, so its Metadata answers list itself.
    await this.waitForImage(() => this.image.brokers.get(settings.nodeId)?.fenced === false, settings.registrationTimeoutMs);
  }

  /** Leadership of the metadata quorum moved: the controller activates (after catching up) or steps down. */
  private onLeaderChange(leader: LeaderAndEpoch): void {
    const { settings, logger } = this;
    const controller = this.controller;
    if (controller === null) return;
    if (leader.leaderId !== settings.nodeId) {
      if (this.controllerActive) logger.info({ leaderId: leader.leaderId, epoch: leader.epoch }, 'no longer the active controller');
      this.controllerActive = false;
      this.activationEpoch = -1;
      if (this.fencingTimer !== null) clearInterval(this.fencingTimer);
      this.fencingTimer = null;
      return;
    }
    if (this.activationEpoch === leader.epoch) return;
    this.activationEpoch = leader.epoch;
    const epoch = leader.epoch;
    // A no-op write commits only after everything before it: once it is applied, the image is current.
    void controller.write([metadataRecord(20, {})]).then(async () => {
      if (this.activationEpoch !== epoch) return;
      controller.activate();
      if (!this.image.features.has('metadata.version')) {
        await controller.write([metadataRecord(12, { name: 'metadata.version', featureLevel: METADATA_VERSION_LEVEL })]);
      }
      if (this.activationEpoch !== epoch) return;
      this.controllerActive = true;
      logger.info({ epoch }, 'this node is the active controller');
      this.fencingTimer = setInterval(() => {
        controller.fenceExpiredBrokers().then((fenced) => {
          if (fenced.length > 0) logger.warn({ brokers: fenced }, 'fenced brokers whose heartbeat session expired');
        }, (error: unknown) => { logger.debug({ err: error }, 'fencing check failed'); });
      }, FENCING_CHECK_INTERVAL_MS);
      this.fencingTimer.unref();
    }, (error: unknown) => {
      logger.info({ err: error, epoch }, 'controller activation did not complete (leadership moved)');
    });
  }

  private async listen(listeners: readonly ListenerAddress[], handlers: HandlerTable, ranges: ReadonlyMap<number, VersionRange>, into: SocketServer[]): Promise<void> {
    const { settings, logger } = this;
    const advertised = advertisedVersions(Object.keys(handlers).map(Number), ranges);
    handlers[18] = createApiVersionsHandler({
      advertised: () => advertised,
      supportedFeatures: SUPPORTED_FEATURES,
      finalizedFeatures: () => ({ epoch: this.image.lastAppliedOffset, levels: this.image.features }),
    });
    const acceptsVersion = (apiKey: number, version: number): boolean => {
      const range: VersionRange | undefined = advertised.get(apiKey);
      return range !== undefined && version >= range.min && version <= range.max && version >= (REJECTED_BELOW.get(apiKey) ?? 0);
    };
    for (const listener of listeners) {
      const server = new SocketServer({
        listenerName: listener.name, host: listener.host, port: listener.port,
        maxRequestBytes: settings.socketRequestMaxBytes, idleTimeoutMs: settings.connectionsMaxIdleMs,
        handlers, acceptsVersion, logger: logger.child({ component: 'network', listener: listener.name }), observer: this.metrics,
      });
      this.boundPorts.set(listener.name, await server.listen());
      into.push(server);
    }
  }

  private discoverClusterId(): string {
    for (const dir of [this.settings.metadataLogDir, ...this.settings.logDirs]) {
      const meta = readMetaProperties(defaultLogFs, dir);
      if (meta !== null) return meta.clusterId;
    }
    return this.settings.clusterId ?? randomUuid(randomBytes);
  }

  /** A controller-bound request from this process's own broker side (combined mode). */
  private async handleLocally<K extends ApiKey>(apiKey: K, apiVersion: number, request: RequestByApiKey[K]): Promise<ResponseByApiKey[K]> {
    const handler = this.controllerTable[apiKey];
    if (handler === undefined) throw new Error(`the controller has no handler for API ${apiKey}`);
    const ctx: RequestContext = { apiKey, apiVersion, correlationId: 0, clientId: 'local', clientHost: 'local', connectionId: 'local', listenerName: 'local' };
    const response = await handler(ctx, request);
    if (response === null) throw new Error(`the controller gave no response to API ${apiKey}`);
    return response;
  }

  /** The active controller's own handlers for controller-bound APIs. */
  private controllerHandlers(controller: Controller): HandlerTable {
    const { settings } = this;
    const table: HandlerTable = {};
    Object.assign(table, pick(createAdminHandlers({ controller, image: this.image, clusterId: () => this.clusterId, controllerId: () => settings.nodeId }), [19, 20, 37]));
    // Config writes: validated here against the image, as Kafka's controller does; no local logs to update.
    const noLogs: HostedLogs = { hostedPartitions: [], reconcile: () => Promise.resolve() };
    Object.assign(table, pick(createConfigHandlers({
      controller, image: this.image, replicas: noLogs, nodeId: settings.nodeId, staticConfig: settings.config, logger: this.logger.child({ component: 'configs' }),
    }), [33, 44]));
    Object.assign(table, pick(createLogHandlers({
      replicas: { leaderPartition: () => undefined, hostedPartitions: [] } as unknown as LogHandlerDeps['replicas'],
      logManager: { logDirs: [], logDirOf: () => undefined },
      image: this.image, controller,
    }), [43]));
    table[55] = (ctx, request) => (this.quorum as MetadataQuorum).handleRaftRequest(55, ctx.apiVersion, request);
    table[62] = (_ctx, request) => controller.registerBroker(request);
    table[63] = (_ctx, request) => controller.brokerHeartbeat(request);
    table[64] = async (_ctx, request) => {
      const errorCode = await controller.unregisterBroker(request.brokerId);
      return { throttleTimeMs: 0, errorCode, errorMessage: errorCode === 0 ? null : errorName(errorCode) };
    };
    table[67] = async (_ctx, request) => {
      const block = await controller.allocateProducerIds(request.brokerId, request.brokerEpoch);
      return { throttleTimeMs: 0, errorCode: 0, producerIdStart: block.start, producerIdLen: block.length };
    };
    return table;
  }

  /** The controller listener: raft RPCs, and controller-bound APIs answered only while active. */
  private controllerListenerTable(): HandlerTable {
    const table: HandlerTable = {};
    const raft = <K extends ApiKey>(apiKey: K): Handler<K> => (ctx, request) => {
      // Before the quorum opens, close the connection: the peer reconnects and retries.
      if (this.quorum === null) throw new CloseConnection('the metadata quorum is not open yet');
      return this.quorum.handleRaftRequest(apiKey, ctx.apiVersion, request);
    };
    for (const apiKey of RAFT_APIS) (table as Record<number, unknown>)[apiKey] = raft(apiKey);
    const onlyWhileActive = <K extends ControllerApiKey>(apiKey: K): Handler<K> => async (ctx, request) => {
      if (!this.controllerActive) return notControllerResponse(apiKey, request);
      try {
        return await this.handleLocally(apiKey, ctx.apiVersion, request);
      } catch (error) {
        // Leadership moved while the operation waited for its commit: the sender retries on the new leader.
        if (!this.controllerActive) return notControllerResponse(apiKey, request);
        throw error;
      }
    };
    for (const apiKey of CONTROLLER_APIS) (table as Record<number, unknown>)[apiKey] = onlyWhileActive(apiKey);
    return table;
  }

  private brokerHandlers(): HandlerTable {
    const replicas = this.replicas as ReplicaManager;
    const channel = this.channel as ControllerChannel;
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
    const controllerWrites = { write: (): Promise<void> => Promise.reject(new Error('brokers forward controller writes')) };
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
      controllerId: () => this.controllerIdForClients(),
      autoCreateTopicsEnabled: () => settings.autoCreateTopicsEnable,
      autoCreateTopics: async (names) => {
        await channel.send(19, { topics: names.map((name) => ({ name, numPartitions: -1, replicationFactor: -1, assignments: [], configs: [] })), timeoutMs: 30_000, validateOnly: false });
      },
    });
    table[22] = createInitProducerIdHandler({
      producerIds: new ProducerIdManager(async () => {
        const response = await channel.send(67, { brokerId: settings.nodeId, brokerEpoch: this.lifecycle?.brokerEpoch ?? -1n });
        if (response.errorCode !== 0) throw new Error(`the controller refused a producer id block: ${errorName(response.errorCode)}`);
        return { start: response.producerIdStart, length: response.producerIdLen };
      }),
    });
    table[23] = createOffsetForLeaderEpochHandler({ replicas });
    Object.assign(table, pick(createAdminHandlers({ controller: null as unknown as Controller, image: this.image, clusterId: () => this.clusterId, controllerId: () => this.controllerIdForClients() }), [60]));
    Object.assign(table, createConfigHandlers({
      controller: controllerWrites, image: this.image, replicas, nodeId: settings.nodeId, staticConfig: settings.config, logger: this.logger.child({ component: 'configs' }),
      // KIP-226: produce resolves topic settings against the effective (static + dynamic) broker config.
      onEffectiveConfig: (effective) => {
        resolveTopicSettings = (topic: string) => effective.topicSettings(this.image.topicConfig(topic));
        settingsCache.clear();
      },
    }), createLogHandlers({ replicas, logManager: this.logManager as LogManager, image: this.image, controller: controllerWrites }));
    Object.assign(table, createGroupHandlers({ groups: this.groups as GroupService, image: this.image, nodeId: settings.nodeId }));
    // Any broker accepts admin requests and forwards them to the active controller (in-process when combined).
    const forward = <K extends ControllerApiKey>(apiKey: K): Handler<K> => async (ctx, request) => {
      try {
        const response = await channel.send(apiKey, request, { maxVersion: ctx.apiVersion });
        // Read-your-writes: answer once this broker's own image shows the change, so a client's next
        // Metadata here (kafkajs waitForLeaders) sees the topic. Bounded: the change is committed anyway.
        await this.waitForImage(() => this.showsForwardedChange(apiKey, response), FORWARD_VISIBILITY_WAIT_MS);
        return response;
      } catch (error) {
        this.logger.warn({ err: error, apiKey }, 'forwarding to the active controller failed');
        return notControllerResponse(apiKey, request);
      }
    };
    for (const apiKey of FORWARDED_APIS) (table as Record<number, unknown>)[apiKey] = forward(apiKey);
    return table;
  }

  /**
   * The "controller" clients are told about (Metadata, DescribeCluster): as in Kafka's KRaft brokers, a live
   * broker, which forwards what clients send it. This broker when its image shows it live.
   */
  private controllerIdForClients(): number {
    const self = this.image.brokers.get(this.settings.nodeId);
    if (self !== undefined && !self.fenced) return self.id;
    let lowest = -1;
    for (const b of this.image.brokers.values()) if (!b.fenced && (lowest === -1 || b.id < lowest)) lowest = b.id;
    return lowest;
  }

  /** Resolves when `done()` holds for the image (checked after each applied batch) or after `timeoutMs`. */
  private waitForImage(done: () => boolean, timeoutMs: number): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(finish, timeoutMs);
      const unsubscribe = this.image.onChange(() => { if (done()) finish(); });
      function finish(): void {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      }
    });
  }

  /** Does the local image already reflect the successful parts of a forwarded admin response? */
  private showsForwardedChange(apiKey: number, response: unknown): boolean {
    const image = this.image;
    switch (apiKey) {
      case 19:
        // A topic and its partitions arrive in one batch: presence is enough.
        return (response as ResponseByApiKey[19]).topics.every((t) => t.errorCode !== 0 || image.topicsByName.has(t.name));
      case 20:
        return (response as ResponseByApiKey[20]).responses.every((t) => t.errorCode !== 0 || t.name === null || !image.topicsByName.has(t.name));
      default:
        return true;
    }
  }

  /** Clean shutdown: controlled shutdown with the controller, stop serving, close logs with checkpoints. */
  async shutdown(): Promise<void> {
    if (this.state === 'shutting_down') return;
    const wasRunning = this.state === 'running';
    this.state = 'shutting_down';
    this.logger.info('shutting down');
    if (this.lifecycle !== null && wasRunning) await this.lifecycle.controlledShutdown(this.settings.controlledShutdownTimeoutMs);
    this.lifecycle?.stop();
    if (this.fencingTimer !== null) clearInterval(this.fencingTimer);
    this.groups?.shutdown();
    await this.replicas?.shutdown();
    await Promise.all(this.brokerServers.map((s) => s.close()));
    this.channel?.close();
    await this.logManager?.shutdown();
    // A resigning leader keeps answering votes and fetches until its successor is up: close the quorum
    // before the controller listener.
    await this.quorum?.close();
    await Promise.all(this.controllerServers.map((s) => s.close()));
    await this.admin?.close();
    this.logger.info('shutdown complete');
  }
}

function pick(table: HandlerTable, keys: readonly number[]): HandlerTable {
  const out: Record<number, unknown> = {};
  for (const key of keys) {
    const handler = (table as Record<number, unknown>)[key];
    if (handler === undefined) throw new Error(`no handler for API ${key}`);
    out[key] = handler;
  }
  return out;
}

/**
 * Turns the validated broker configuration (broker/src/config) into the resolved settings the broker runs
 * with, including per-topic resolution of log and handler settings from topic overrides.
 */
import { hostname } from 'node:os';
import type { BrokerSettings } from './broker.ts';
import { longToNumber, resolveTopicConfig, validateTopicConfigs, type BrokerConfig } from './config/index.ts';
import { resolveLogConfig, type CleanupPolicy, type LogConfig } from './log/config.ts';
import type { TopicSettings } from './api/topic-settings.ts';

const asNumber = (v: bigint | number): number => (typeof v === 'bigint' ? longToNumber(v) : v);

export function brokerSettings(config: BrokerConfig): BrokerSettings {
  const controllerNames = new Set(config.controllerListenerNames);
  const logConfig = (overrides: ReadonlyMap<string, string>): LogConfig => {
    const t = resolveTopicConfig(overrides, config);
    return resolveLogConfig({
      segmentBytes: asNumber(t.get('segment.bytes')),
      segmentMs: asNumber(t.get('segment.ms')),
      segmentIndexBytes: asNumber(t.get('segment.index.bytes')),
      indexIntervalBytes: asNumber(t.get('index.interval.bytes')),
      retentionMs: asNumber(t.get('retention.ms')),
      retentionBytes: asNumber(t.get('retention.bytes')),
      cleanupPolicy: t.get('cleanup.policy') as CleanupPolicy[],
      deleteRetentionMs: asNumber(t.get('delete.retention.ms')),
      minCompactionLagMs: asNumber(t.get('min.compaction.lag.ms')),
      minCleanableDirtyRatio: asNumber(t.get('min.cleanable.dirty.ratio')),
      flushMessages: asNumber(t.get('flush.messages')),
      flushMs: asNumber(t.get('flush.ms')),
    });
  };
  const topicSettings = (overrides: ReadonlyMap<string, string>): TopicSettings => {
    const t = resolveTopicConfig(overrides, config);
    return {
      maxMessageBytes: asNumber(t.get('max.message.bytes')),
      compacted: (t.get('cleanup.policy') as string[]).includes('compact'),
      logAppendTime: t.get('message.timestamp.type') === 'LogAppendTime',
      timestampBeforeMaxMs: asNumber(t.get('message.timestamp.before.max.ms')),
      timestampAfterMaxMs: asNumber(t.get('message.timestamp.after.max.ms')),
      minInsyncReplicas: asNumber(t.get('min.insync.replicas')),
    };
  };
  return {
    config,
    nodeId: config.nodeId,
    clusterId: config.get('millrace.cluster.id'),
    logDirs: config.logDirs,
    metadataLogDir: config.metadataLogDir,
    // A listener without a host binds every interface; advertised without a host uses this machine's name (as Kafka).
    processRoles: [...config.processRoles],
    listeners: config.isBroker ? config.listeners.filter((l) => !controllerNames.has(l.name)).map((l) => ({ name: l.name, host: l.host ?? '0.0.0.0', port: l.port })) : [],
    controllerListeners: config.isController ? config.controllerListeners.map((l) => ({ name: l.name, host: l.host ?? '0.0.0.0', port: l.port })) : [],
    quorumVoters: config.quorumVoters.map((v) => ({ id: v.id, host: v.host, port: v.port })),
    quorumBootstrapServers: config.quorumBootstrapServers,
    quorumStandalone: config.get('millrace.quorum.standalone'),
    quorumInitialControllers: config.initialControllers.map((c) => ({ id: c.id, host: c.host, port: c.port, directoryId: c.directoryId })),
    raftTiming: {
      electionTimeoutMs: config.get('controller.quorum.election.timeout.ms'),
      electionBackoffMaxMs: config.get('controller.quorum.election.backoff.max.ms'),
      fetchTimeoutMs: config.get('controller.quorum.fetch.timeout.ms'),
      requestTimeoutMs: config.get('controller.quorum.request.timeout.ms'),
      retryBackoffMs: config.get('controller.quorum.retry.backoff.ms'),
      appendLingerMs: config.get('controller.quorum.append.linger.ms'),
    },
    heartbeatIntervalMs: config.get('broker.heartbeat.interval.ms'),
    sessionTimeoutMs: config.get('broker.session.timeout.ms'),
    registrationTimeoutMs: config.get('initial.broker.registration.timeout.ms'),
    controlledShutdownTimeoutMs: 30_000,
    advertisedListeners: config.advertisedBrokerListeners.map((l) => ({ name: l.name, host: l.host ?? hostname(), port: l.port })),
    httpListener: config.httpListener,
    rack: config.get('broker.rack'),
    numPartitions: config.get('num.partitions'),
    defaultReplicationFactor: config.get('default.replication.factor'),
    autoCreateTopicsEnable: config.get('auto.create.topics.enable'),
    socketRequestMaxBytes: config.get('socket.request.max.bytes'),
    connectionsMaxIdleMs: asNumber(config.get('connections.max.idle.ms')),
    fetchMaxBytes: config.get('fetch.max.bytes'),
    logConfig,
    topicSettings,
    validateTopicConfigs: (configs) => {
      const result = validateTopicConfigs(configs, { broker: config });
      return result.ok ? null : { errorCode: result.errorCode, message: result.errorMessage };
    },
  };
}

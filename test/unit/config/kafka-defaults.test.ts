/**
 * Every broker and topic key checked against Kafka 4.1's generated configuration documentation
 * (kafka_config.html / topic_config.html): type, default, valid values, importance and update mode
 * (broker) or server default property (topic). The rows are transcribed from those pages; "REQUIRED" is a
 * key with no default, '' an empty string or list, null a null default, and SKIP a key where Millrace checks
 * more than Kafka's validator does (listener syntax), so the "Valid Values" cell is not compared.
 */
import { describe, expect, it } from 'vitest';
import { BROKER_CONFIG_DEF } from '../../../broker/src/config/broker-config.ts';
import { NO_DEFAULT, toKafkaString, type ConfigKey } from '../../../broker/src/config/config-def.ts';
import { loadBrokerConfig, SINGLE_NODE_SERVER_PROPERTIES } from '../../../broker/src/config/load-broker-config.ts';
import { resolveTopicConfig, serverSynonym, TOPIC_CONFIG_DEF } from '../../../broker/src/config/topic-config.ts';

const REQUIRED = Symbol('REQUIRED');
const SKIP = Symbol('SKIP');
type Row = readonly [name: string, type: string, dflt: string | null | typeof REQUIRED, valid: string | typeof SKIP, importance: string, mode: string];

// prettier-ignore
const KAFKA_BROKER_DOC: readonly Row[] = [
  ['process.roles', 'list', REQUIRED, '[broker, controller]', 'high', 'read-only'],
  ['node.id', 'int', REQUIRED, '[0,...]', 'high', 'read-only'],
  ['broker.id', 'int', '-1', '', 'high', 'read-only'],
  ['controller.listener.names', 'string', null, '', 'high', 'read-only'],
  ['controller.quorum.voters', 'list', '', SKIP, 'high', 'read-only'],
  ['controller.quorum.bootstrap.servers', 'list', '', SKIP, 'high', 'read-only'],
  ['controller.quorum.election.timeout.ms', 'int', '1000', '[0,...]', 'high', 'read-only'],
  ['controller.quorum.election.backoff.max.ms', 'int', '1000', '[0,...]', 'high', 'read-only'],
  ['controller.quorum.fetch.timeout.ms', 'int', '2000', '[0,...]', 'high', 'read-only'],
  ['controller.quorum.request.timeout.ms', 'int', '2000', '[0,...]', 'medium', 'read-only'],
  ['controller.quorum.retry.backoff.ms', 'int', '20', '[0,...]', 'low', 'read-only'],
  ['controller.quorum.append.linger.ms', 'int', '25', '[0,...]', 'medium', 'read-only'],
  ['broker.heartbeat.interval.ms', 'int', '2000', '', 'medium', 'read-only'],
  ['broker.session.timeout.ms', 'int', '9000', '', 'medium', 'read-only'],
  ['initial.broker.registration.timeout.ms', 'int', '60000', '', 'medium', 'read-only'],
  ['controlled.shutdown.enable', 'boolean', 'true', '', 'medium', 'read-only'],
  ['metadata.log.dir', 'string', null, '', 'high', 'read-only'],
  ['metadata.log.segment.bytes', 'int', '1073741824', '[8388608,...]', 'high', 'read-only'],
  ['metadata.log.segment.ms', 'long', '604800000', '', 'high', 'read-only'],
  ['metadata.max.retention.bytes', 'long', '104857600', '', 'high', 'read-only'],
  ['metadata.max.retention.ms', 'long', '604800000', '', 'high', 'read-only'],
  ['metadata.log.max.record.bytes.between.snapshots', 'long', '20971520', '[1,...]', 'high', 'read-only'],
  ['metadata.log.max.snapshot.interval.ms', 'long', '3600000', '[0,...]', 'high', 'read-only'],
  ['metadata.max.idle.interval.ms', 'int', '500', '[0,...]', 'low', 'read-only'],
  ['listeners', 'string', 'PLAINTEXT://:9092', SKIP, 'high', 'per-broker'],
  ['advertised.listeners', 'string', null, SKIP, 'high', 'read-only'],
  ['listener.security.protocol.map', 'string', 'SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT', SKIP, 'low', 'per-broker'],
  ['inter.broker.listener.name', 'string', null, '', 'medium', 'read-only'],
  ['security.inter.broker.protocol', 'string', 'PLAINTEXT', '[PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL]', 'medium', 'read-only'],
  ['early.start.listeners', 'string', null, '', 'high', 'read-only'],
  ['socket.send.buffer.bytes', 'int', '102400', '', 'high', 'read-only'],
  ['socket.receive.buffer.bytes', 'int', '102400', '', 'high', 'read-only'],
  ['socket.request.max.bytes', 'int', '104857600', '[1,...]', 'high', 'read-only'],
  ['socket.listen.backlog.size', 'int', '50', '[1,...]', 'medium', 'read-only'],
  ['connections.max.idle.ms', 'long', '600000', '', 'medium', 'read-only'],
  ['max.connections', 'int', '2147483647', '[0,...]', 'medium', 'cluster-wide'],
  ['max.connections.per.ip', 'int', '2147483647', '[0,...]', 'medium', 'cluster-wide'],
  ['max.connections.per.ip.overrides', 'string', '', '', 'medium', 'cluster-wide'],
  ['max.connection.creation.rate', 'int', '2147483647', '[0,...]', 'medium', 'cluster-wide'],
  ['queued.max.requests', 'int', '500', '[1,...]', 'high', 'read-only'],
  ['queued.max.request.bytes', 'long', '-1', '', 'medium', 'read-only'],
  ['request.timeout.ms', 'int', '30000', '', 'high', 'read-only'],
  ['socket.connection.setup.timeout.ms', 'long', '10000', '', 'medium', 'read-only'],
  ['socket.connection.setup.timeout.max.ms', 'long', '30000', '', 'medium', 'read-only'],
  ['num.network.threads', 'int', '3', '[1,...]', 'high', 'cluster-wide'],
  ['num.io.threads', 'int', '8', '[1,...]', 'high', 'cluster-wide'],
  ['background.threads', 'int', '10', '[1,...]', 'high', 'cluster-wide'],
  ['log.dir', 'string', '/tmp/kafka-logs', '', 'high', 'read-only'],
  ['log.dirs', 'string', null, '', 'high', 'read-only'],
  ['num.partitions', 'int', '1', '[1,...]', 'medium', 'read-only'],
  ['num.recovery.threads.per.data.dir', 'int', '2', '[1,...]', 'high', 'cluster-wide'],
  ['log.segment.bytes', 'int', '1073741824', '[1048576,...]', 'high', 'cluster-wide'],
  ['log.roll.ms', 'long', null, '', 'high', 'cluster-wide'],
  ['log.roll.hours', 'int', '168', '[1,...]', 'high', 'read-only'],
  ['log.roll.jitter.ms', 'long', null, '', 'high', 'cluster-wide'],
  ['log.roll.jitter.hours', 'int', '0', '[0,...]', 'high', 'read-only'],
  ['log.retention.ms', 'long', null, '', 'high', 'cluster-wide'],
  ['log.retention.minutes', 'int', null, '', 'high', 'read-only'],
  ['log.retention.hours', 'int', '168', '', 'high', 'read-only'],
  ['log.retention.bytes', 'long', '-1', '', 'high', 'cluster-wide'],
  ['log.retention.check.interval.ms', 'long', '300000', '[1,...]', 'medium', 'read-only'],
  ['log.segment.delete.delay.ms', 'long', '60000', '[0,...]', 'high', 'cluster-wide'],
  ['log.flush.interval.messages', 'long', '9223372036854775807', '[1,...]', 'high', 'cluster-wide'],
  ['log.flush.interval.ms', 'long', null, '', 'high', 'cluster-wide'],
  ['log.flush.scheduler.interval.ms', 'long', '9223372036854775807', '', 'high', 'read-only'],
  ['log.flush.offset.checkpoint.interval.ms', 'int', '60000', '[0,...]', 'high', 'read-only'],
  ['log.flush.start.offset.checkpoint.interval.ms', 'int', '60000', '[0,...]', 'high', 'read-only'],
  ['log.index.interval.bytes', 'int', '4096', '[0,...]', 'medium', 'cluster-wide'],
  ['log.index.size.max.bytes', 'int', '10485760', '[4,...]', 'medium', 'cluster-wide'],
  ['log.preallocate', 'boolean', 'false', '', 'medium', 'cluster-wide'],
  ['log.cleanup.policy', 'list', 'delete', '[compact, delete]', 'medium', 'cluster-wide'],
  ['log.cleaner.enable', 'boolean', 'true', '', 'medium', 'read-only'],
  ['log.cleaner.threads', 'int', '1', '[0,...]', 'medium', 'cluster-wide'],
  ['log.cleaner.backoff.ms', 'long', '15000', '[0,...]', 'medium', 'cluster-wide'],
  ['log.cleaner.dedupe.buffer.size', 'long', '134217728', '', 'medium', 'cluster-wide'],
  ['log.cleaner.io.buffer.size', 'int', '524288', '[0,...]', 'medium', 'cluster-wide'],
  ['log.cleaner.io.buffer.load.factor', 'double', '0.9', '', 'medium', 'cluster-wide'],
  ['log.cleaner.io.max.bytes.per.second', 'double', '1.7976931348623157E308', '', 'medium', 'cluster-wide'],
  ['log.cleaner.delete.retention.ms', 'long', '86400000', '[0,...]', 'medium', 'cluster-wide'],
  ['log.cleaner.min.compaction.lag.ms', 'long', '0', '[0,...]', 'medium', 'cluster-wide'],
  ['log.cleaner.max.compaction.lag.ms', 'long', '9223372036854775807', '[1,...]', 'medium', 'cluster-wide'],
  ['log.cleaner.min.cleanable.ratio', 'double', '0.5', '[0,...,1]', 'medium', 'cluster-wide'],
  ['log.message.timestamp.type', 'string', 'CreateTime', '[CreateTime, LogAppendTime]', 'medium', 'cluster-wide'],
  ['log.message.timestamp.before.max.ms', 'long', '9223372036854775807', '[0,...]', 'medium', 'cluster-wide'],
  ['log.message.timestamp.after.max.ms', 'long', '3600000', '[0,...]', 'medium', 'cluster-wide'],
  ['log.local.retention.ms', 'long', '-2', '[-2,...]', 'medium', 'cluster-wide'],
  ['log.local.retention.bytes', 'long', '-2', '[-2,...]', 'medium', 'cluster-wide'],
  ['log.dir.failure.timeout.ms', 'long', '30000', '[1,...]', 'low', 'read-only'],
  ['message.max.bytes', 'int', '1048588', '[0,...]', 'high', 'cluster-wide'],
  ['compression.type', 'string', 'producer', '[uncompressed, zstd, lz4, snappy, gzip, producer]', 'high', 'cluster-wide'],
  ['compression.gzip.level', 'int', '-1', '[1,...,9] or -1', 'medium', 'cluster-wide'],
  ['compression.lz4.level', 'int', '9', '[1,...,17]', 'medium', 'cluster-wide'],
  ['compression.zstd.level', 'int', '3', '[-131072,...,22]', 'medium', 'cluster-wide'],
  ['min.insync.replicas', 'int', '1', '[1,...]', 'high', 'cluster-wide'],
  ['auto.create.topics.enable', 'boolean', 'true', '', 'high', 'read-only'],
  ['delete.topic.enable', 'boolean', 'true', '', 'high', 'read-only'],
  ['default.replication.factor', 'int', '1', '', 'medium', 'read-only'],
  ['unclean.leader.election.enable', 'boolean', 'false', '', 'high', 'cluster-wide'],
  ['auto.leader.rebalance.enable', 'boolean', 'true', '', 'high', 'read-only'],
  ['leader.imbalance.check.interval.seconds', 'long', '300', '[1,...]', 'high', 'read-only'],
  ['broker.rack', 'string', null, '', 'medium', 'read-only'],
  ['replica.lag.time.max.ms', 'long', '30000', '', 'high', 'read-only'],
  ['replica.fetch.min.bytes', 'int', '1', '', 'high', 'read-only'],
  ['replica.fetch.wait.max.ms', 'int', '500', '', 'high', 'read-only'],
  ['replica.fetch.max.bytes', 'int', '1048576', '[0,...]', 'medium', 'read-only'],
  ['replica.fetch.response.max.bytes', 'int', '10485760', '[0,...]', 'medium', 'read-only'],
  ['replica.fetch.backoff.ms', 'int', '1000', '[0,...]', 'medium', 'read-only'],
  ['replica.socket.timeout.ms', 'int', '30000', '', 'high', 'read-only'],
  ['replica.socket.receive.buffer.bytes', 'int', '65536', '', 'high', 'read-only'],
  ['replica.high.watermark.checkpoint.interval.ms', 'long', '5000', '', 'high', 'read-only'],
  ['num.replica.fetchers', 'int', '1', '', 'high', 'cluster-wide'],
  ['fetch.max.bytes', 'int', '57671680', '[1024,...]', 'medium', 'read-only'],
  ['max.incremental.fetch.session.cache.slots', 'int', '1000', '[0,...]', 'medium', 'read-only'],
  ['group.initial.rebalance.delay.ms', 'int', '3000', '', 'medium', 'read-only'],
  ['group.min.session.timeout.ms', 'int', '6000', '', 'medium', 'read-only'],
  ['group.max.session.timeout.ms', 'int', '1800000', '', 'medium', 'read-only'],
  ['group.max.size', 'int', '2147483647', '[1,...]', 'medium', 'read-only'],
  ['group.coordinator.rebalance.protocols', 'list', 'classic,consumer,streams', '[consumer, classic, share, streams]', 'medium', 'read-only'],
  ['group.coordinator.threads', 'int', '4', '[1,...]', 'high', 'read-only'],
  ['group.coordinator.append.linger.ms', 'int', '5', '[0,...]', 'medium', 'read-only'],
  ['group.consumer.session.timeout.ms', 'int', '45000', '[1,...]', 'medium', 'read-only'],
  ['group.consumer.min.session.timeout.ms', 'int', '45000', '[1,...]', 'medium', 'read-only'],
  ['group.consumer.max.session.timeout.ms', 'int', '60000', '[1,...]', 'medium', 'read-only'],
  ['group.consumer.heartbeat.interval.ms', 'int', '5000', '[1,...]', 'medium', 'read-only'],
  ['group.consumer.min.heartbeat.interval.ms', 'int', '5000', '[1,...]', 'medium', 'read-only'],
  ['group.consumer.max.heartbeat.interval.ms', 'int', '15000', '[1,...]', 'medium', 'read-only'],
  ['group.consumer.max.size', 'int', '2147483647', '[1,...]', 'medium', 'read-only'],
  ['group.consumer.assignors', 'list', 'uniform,range', '', 'medium', 'read-only'],
  ['group.consumer.migration.policy', 'string', 'bidirectional', '(case insensitive) [DISABLED, DOWNGRADE, UPGRADE, BIDIRECTIONAL]', 'medium', 'read-only'],
  ['offsets.retention.minutes', 'int', '10080', '[1,...]', 'high', 'read-only'],
  ['offsets.retention.check.interval.ms', 'long', '600000', '[1,...]', 'high', 'read-only'],
  ['offsets.topic.num.partitions', 'int', '50', '[1,...]', 'high', 'read-only'],
  ['offsets.topic.replication.factor', 'short', '3', '[1,...]', 'high', 'read-only'],
  ['offsets.topic.segment.bytes', 'int', '104857600', '[1,...]', 'high', 'read-only'],
  ['offsets.topic.compression.codec', 'int', '0', '', 'high', 'read-only'],
  ['offsets.commit.timeout.ms', 'int', '5000', '[1,...]', 'high', 'read-only'],
  ['offsets.load.buffer.size', 'int', '5242880', '[1,...]', 'high', 'read-only'],
  ['offset.metadata.max.bytes', 'int', '4096', '', 'high', 'read-only'],
  ['transaction.state.log.num.partitions', 'int', '50', '[1,...]', 'high', 'read-only'],
  ['transaction.state.log.replication.factor', 'short', '3', '[1,...]', 'high', 'read-only'],
  ['transaction.state.log.min.isr', 'int', '2', '[1,...]', 'high', 'read-only'],
  ['transaction.state.log.segment.bytes', 'int', '104857600', '[1,...]', 'high', 'read-only'],
  ['transaction.state.log.load.buffer.size', 'int', '5242880', '[1,...]', 'high', 'read-only'],
  ['transaction.max.timeout.ms', 'int', '900000', '[1,...]', 'high', 'read-only'],
  ['transactional.id.expiration.ms', 'int', '604800000', '[1,...]', 'high', 'read-only'],
  ['transaction.abort.timed.out.transaction.cleanup.interval.ms', 'int', '10000', '[1,...]', 'low', 'read-only'],
  ['transaction.remove.expired.transaction.cleanup.interval.ms', 'int', '3600000', '[1,...]', 'low', 'read-only'],
  ['transaction.partition.verification.enable', 'boolean', 'true', '', 'low', 'cluster-wide'],
  ['producer.id.expiration.ms', 'int', '86400000', '[1,...]', 'low', 'cluster-wide'],
  ['share.coordinator.state.topic.num.partitions', 'int', '50', '[1,...]', 'high', 'read-only'],
  ['share.coordinator.state.topic.replication.factor', 'short', '3', '[1,...]', 'high', 'read-only'],
  ['share.coordinator.state.topic.min.isr', 'short', '2', '[1,...]', 'high', 'read-only'],
  ['share.coordinator.state.topic.segment.bytes', 'int', '104857600', '[1,...]', 'high', 'read-only'],
];

type TopicRow = readonly [name: string, type: string, dflt: string, valid: string, serverDefault: string | null];

// prettier-ignore
const KAFKA_TOPIC_DOC: readonly TopicRow[] = [
  ['cleanup.policy', 'list', 'delete', '[compact, delete]', 'log.cleanup.policy'],
  ['compression.gzip.level', 'int', '-1', '[1,...,9] or -1', 'compression.gzip.level'],
  ['compression.lz4.level', 'int', '9', '[1,...,17]', 'compression.lz4.level'],
  ['compression.type', 'string', 'producer', '[uncompressed, zstd, lz4, snappy, gzip, producer]', 'compression.type'],
  ['compression.zstd.level', 'int', '3', '[-131072,...,22]', 'compression.zstd.level'],
  ['delete.retention.ms', 'long', '86400000', '[0,...]', 'log.cleaner.delete.retention.ms'],
  ['file.delete.delay.ms', 'long', '60000', '[0,...]', 'log.segment.delete.delay.ms'],
  ['flush.messages', 'long', '9223372036854775807', '[1,...]', 'log.flush.interval.messages'],
  ['flush.ms', 'long', '9223372036854775807', '[0,...]', 'log.flush.interval.ms'],
  ['follower.replication.throttled.replicas', 'list', '', '[partitionId]:[brokerId],[partitionId]:[brokerId],...', null],
  ['index.interval.bytes', 'int', '4096', '[0,...]', 'log.index.interval.bytes'],
  ['leader.replication.throttled.replicas', 'list', '', '[partitionId]:[brokerId],[partitionId]:[brokerId],...', null],
  ['local.retention.bytes', 'long', '-2', '[-2,...]', 'log.local.retention.bytes'],
  ['local.retention.ms', 'long', '-2', '[-2,...]', 'log.local.retention.ms'],
  ['max.compaction.lag.ms', 'long', '9223372036854775807', '[1,...]', 'log.cleaner.max.compaction.lag.ms'],
  ['max.message.bytes', 'int', '1048588', '[0,...]', 'message.max.bytes'],
  ['message.timestamp.after.max.ms', 'long', '3600000', '[0,...]', 'log.message.timestamp.after.max.ms'],
  ['message.timestamp.before.max.ms', 'long', '9223372036854775807', '[0,...]', 'log.message.timestamp.before.max.ms'],
  ['message.timestamp.type', 'string', 'CreateTime', '[CreateTime, LogAppendTime]', 'log.message.timestamp.type'],
  ['min.cleanable.dirty.ratio', 'double', '0.5', '[0,...,1]', 'log.cleaner.min.cleanable.ratio'],
  ['min.compaction.lag.ms', 'long', '0', '[0,...]', 'log.cleaner.min.compaction.lag.ms'],
  ['min.insync.replicas', 'int', '1', '[1,...]', 'min.insync.replicas'],
  ['preallocate', 'boolean', 'false', '', 'log.preallocate'],
  ['remote.log.copy.disable', 'boolean', 'false', '', null],
  ['remote.log.delete.on.disable', 'boolean', 'false', '', null],
  ['remote.storage.enable', 'boolean', 'false', '', null],
  ['retention.bytes', 'long', '-1', '', 'log.retention.bytes'],
  ['retention.ms', 'long', '604800000', '[-1,...]', 'log.retention.ms'],
  ['segment.bytes', 'int', '1073741824', '[1048576,...]', 'log.segment.bytes'],
  ['segment.index.bytes', 'int', '10485760', '[4,...]', 'log.index.size.max.bytes'],
  ['segment.jitter.ms', 'long', '0', '[0,...]', 'log.roll.jitter.ms'],
  ['segment.ms', 'long', '604800000', '[1,...]', 'log.roll.ms'],
  ['unclean.leader.election.enable', 'boolean', 'false', '', 'unclean.leader.election.enable'],
];

const defaultString = (key: ConfigKey): string | null | typeof REQUIRED =>
  key.default === NO_DEFAULT ? REQUIRED : key.default === null ? null : toKafkaString(key.type, key.default);

describe('broker keys match Kafka 4.1 documentation', () => {
  it.each(KAFKA_BROKER_DOC.map((row) => [row[0], row] as const))('%s', (name, [, type, dflt, valid, importance, mode]) => {
    const key = BROKER_CONFIG_DEF.get(name) as ConfigKey | undefined;
    expect(key, `${name} is defined`).toBeDefined();
    if (key === undefined) return;
    expect(key.type).toBe(type);
    expect(defaultString(key)).toBe(dflt);
    if (valid !== SKIP) expect(key.validator?.allowed ?? '').toBe(valid);
    expect(key.importance).toBe(importance);
    expect(key.updateMode).toBe(mode);
  });

  it('every Kafka key Millrace defines is in the table (so no default goes unchecked)', () => {
    const documented = new Set(KAFKA_BROKER_DOC.map((r) => r[0]));
    const undocumented = BROKER_CONFIG_DEF.names().filter((n) => !documented.has(n) && !n.startsWith('millrace.'));
    expect(undocumented).toEqual([]);
  });

  it('Millrace keys have the documented defaults', () => {
    expect(defaultString(BROKER_CONFIG_DEF.get('millrace.http.listener') as ConfigKey)).toBe('127.0.0.1:9644');
    expect(defaultString(BROKER_CONFIG_DEF.get('millrace.http.enable') as ConfigKey)).toBe('true');
    expect(defaultString(BROKER_CONFIG_DEF.get('millrace.cluster.id') as ConfigKey)).toBeNull();
  });

  it('every key has one line of documentation', () => {
    for (const key of BROKER_CONFIG_DEF.keys()) {
      expect(key.doc.length, key.name).toBeGreaterThan(10);
      expect(key.doc, key.name).not.toContain('\n');
    }
  });
});

describe('topic keys match Kafka 4.1 documentation', () => {
  it.each(KAFKA_TOPIC_DOC.map((row) => [row[0], row] as const))('%s', (name, [, type, dflt, valid, serverDefault]) => {
    const key = TOPIC_CONFIG_DEF.get(name) as ConfigKey | undefined;
    expect(key, `${name} is defined`).toBeDefined();
    if (key === undefined) return;
    expect(key.type).toBe(type);
    expect(defaultString(key)).toBe(dflt);
    expect(key.validator?.allowed ?? '').toBe(valid);
    expect(key.importance).toBe('medium');
    expect(serverSynonym(name)).toBe(serverDefault);
  });

  it('Millrace defines exactly the documented topic keys', () => {
    expect(TOPIC_CONFIG_DEF.names().sort()).toEqual(KAFKA_TOPIC_DOC.map((r) => r[0]).sort());
  });

  it('a topic with no overrides on a default broker gets the documented topic defaults', () => {
    const { config } = loadBrokerConfig({ env: {}, propertiesFile: 'server.properties', readFile: () => SINGLE_NODE_SERVER_PROPERTIES });
    const topic = resolveTopicConfig({}, config);
    for (const [name, , dflt] of KAFKA_TOPIC_DOC) {
      expect(topic.entry(name as Parameters<typeof topic.entry>[0]).valueString, name).toBe(dflt);
    }
  });
});

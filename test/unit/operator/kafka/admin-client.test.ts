/**
 * The operator's admin client against the real broker process (broker/src/main.ts): the calls the topic
 * controller makes, their per-topic errors, the plan's round trip (create, observe, revert an out-of-band
 * change), batches, a broker restart, and a broker that is not there.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KafkaConnection } from '../../../../broker/src/client/kafka-connection.ts';
import type { KafkaTopicSpec } from '../../../../operator/src/api/kafka-topic-types.ts';
import { KafkaAdminClient, KafkaAdminError, type TopicConfigs } from '../../../../operator/src/kafka/admin-client.ts';
import { planTopic, type ObservedTopic, type TopicAction } from '../../../../operator/src/topic/plan.ts';
import { freePorts, startBrokerProcess, type BrokerProcess } from '../../broker/broker-process.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'millrace-admin-'));
let ports: number[];
let broker: BrokerProcess;
let admin: KafkaAdminClient;

beforeAll(async () => {
  ports = await freePorts(3);
  broker = await startBrokerProcess(dataDir, ports);
  admin = new KafkaAdminClient({ bootstrapServers: [`127.0.0.1:${broker.port}`], retryBackoffMs: 50 });
});

afterAll(async () => {
  // Guarded: when beforeAll failed, neither may exist.
  await (admin as KafkaAdminClient | undefined)?.close();
  const b = broker as BrokerProcess | undefined;
  if (b !== undefined && b.child.exitCode === null && b.child.signalCode === null) {
    b.child.kill('SIGTERM');
    await b.exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

/** What the topic controller would read: the topic and its overrides, or null when it does not exist. */
async function observe(name: string): Promise<ObservedTopic | null> {
  const [topic] = await admin.describeTopics([name]);
  if (topic?.error?.errorName === 'UNKNOWN_TOPIC_OR_PARTITION') return null;
  if (topic?.error !== undefined) throw topic.error;
  const [configs] = await admin.describeTopicConfigs([name]);
  if (configs?.error !== undefined) throw configs.error;
  return { partitions: topic?.partitions ?? 0, replicationFactor: topic?.replicationFactor ?? 0, overrides: configs?.overrides ?? {} };
}

/** Runs a plan's actions with the admin client, as the topic controller will. */
async function run(actions: readonly TopicAction[]): Promise<void> {
  for (const a of actions) {
    const [result] = a.type === 'create'
      ? await admin.createTopics([{ name: a.topic, partitions: a.partitions, replicationFactor: a.replicationFactor, configs: a.configs }])
      : a.type === 'create-partitions'
        ? await admin.createPartitions([{ name: a.topic, totalCount: a.totalCount }])
        : await admin.incrementalAlterConfigs([{ name: a.topic, set: a.set, delete: a.delete }]);
    if (result?.error !== undefined) throw result.error;
  }
}

const overridesOf = (c: TopicConfigs | undefined): Readonly<Record<string, string | null>> => c?.overrides ?? {};

describe('KafkaAdminClient against the broker process', () => {
  it('negotiates versions and finds the controller', async () => {
    const cluster = await admin.describeCluster();
    expect(cluster.controllerId).toBe(1);
    expect(cluster.brokers).toEqual([{ id: 1, host: '127.0.0.1', port: broker.port, rack: null }]);
    expect(cluster.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('creates a topic with configs and describes it', async () => {
    const [created] = await admin.createTopics([{ name: 'orders', partitions: 3, replicationFactor: 1, configs: { 'retention.ms': '86400000', 'cleanup.policy': 'compact' } }]);
    expect(created?.error).toBeUndefined();
    expect(created?.topicId).toMatch(/^[A-Za-z0-9_-]{22}$/);

    const [described] = await admin.describeTopics(['orders']);
    expect(described).toEqual({ name: 'orders', topicId: created?.topicId, partitions: 3, replicationFactor: 1, internal: false });

    const [configs] = await admin.describeTopicConfigs(['orders']);
    expect(configs?.error).toBeUndefined();
    expect(configs?.overrides).toEqual({ 'cleanup.policy': 'compact', 'retention.ms': '86400000' });
    // Defaults are there too, with a source that tells them from overrides.
    const segment = configs?.configs.find((c) => c.name === 'segment.bytes');
    expect(segment).toMatchObject({ value: '1073741824', source: 'DEFAULT_CONFIG' });
    expect(configs?.configs.find((c) => c.name === 'retention.ms')?.source).toBe('DYNAMIC_TOPIC_CONFIG');
  });

  it('answers TOPIC_ALREADY_EXISTS per topic, alongside a topic that succeeds', async () => {
    const results = await admin.createTopics([
      { name: 'orders', partitions: 1, replicationFactor: 1 },
      { name: 'orders-dlq', partitions: 1, replicationFactor: 1 },
    ]);
    expect(results[0]?.error).toBeInstanceOf(KafkaAdminError);
    expect(results[0]?.error?.errorName).toBe('TOPIC_ALREADY_EXISTS');
    expect(results[0]?.error?.message).toBe(`CreateTopics for "orders" at broker 1 (127.0.0.1:${broker.port}) failed: TOPIC_ALREADY_EXISTS: Topic 'orders' already exists.`);
    expect(results[1]?.error).toBeUndefined();
  });

  it('grows partitions, and refuses a decrease with INVALID_PARTITIONS', async () => {
    expect(await admin.createPartitions([{ name: 'orders', totalCount: 5 }])).toEqual([{ name: 'orders' }]);
    expect((await admin.describeTopics(['orders']))[0]?.partitions).toBe(5);

    const [shrink] = await admin.createPartitions([{ name: 'orders', totalCount: 2 }]);
    expect(shrink?.error?.errorName).toBe('INVALID_PARTITIONS');
    expect(shrink?.error?.message).toMatch(/^CreatePartitions for "orders" at broker 1 \(127\.0\.0\.1:\d+\) failed: INVALID_PARTITIONS: .*5 partition/);
    expect((await admin.describeTopics(['orders']))[0]?.partitions).toBe(5);
  });

  it('sets and deletes config overrides', async () => {
    const [altered] = await admin.incrementalAlterConfigs([{ name: 'orders', set: { 'retention.ms': '3600000', 'segment.ms': '600000' }, delete: ['cleanup.policy'] }]);
    expect(altered).toEqual({ name: 'orders' });
    expect(overridesOf((await admin.describeTopicConfigs(['orders']))[0])).toEqual({ 'retention.ms': '3600000', 'segment.ms': '600000' });

    // A bad value is refused per topic with the broker's reason, and nothing changes.
    const [bad] = await admin.incrementalAlterConfigs([{ name: 'orders', set: { 'cleanup.policy': 'shred' } }]);
    expect(bad?.error?.errorName).toBe('INVALID_CONFIG');
    expect(bad?.error?.message).toMatch(/^IncrementalAlterConfigs for "orders" at broker 1 .* failed: INVALID_CONFIG: .*shred/);
    expect(overridesOf((await admin.describeTopicConfigs(['orders']))[0])).toEqual({ 'retention.ms': '3600000', 'segment.ms': '600000' });
  });

  it('converges a KafkaTopic with the plan, then detects and reverts an out-of-band change', async () => {
    const spec: KafkaTopicSpec = {
      partitions: 4,
      replicas: 1,
      // Written as a user would: numbers, booleans, spaces; Kafka renders them differently.
      config: { 'retention.ms': 86_400_000, 'cleanup.policy': 'compact, delete', 'min.cleanable.dirty.ratio': 1, 'unclean.leader.election.enable': true },
    };
    expect(await observe('payments')).toBeNull();
    const create = planTopic('payments', spec, null);
    await run(create.actions);
    const created = await observe('payments');
    expect(created).toEqual({
      partitions: 4, replicationFactor: 1,
      overrides: { 'cleanup.policy': 'compact,delete', 'min.cleanable.dirty.ratio': '1.0', 'retention.ms': '86400000', 'unclean.leader.election.enable': 'true' },
    });
    expect(planTopic('payments', spec, created)).toEqual({ actions: [], problems: [] });

    // Someone changes the topic with another tool: a changed value, a new override, more partitions.
    expect(await admin.incrementalAlterConfigs([{ name: 'payments', set: { 'retention.ms': '1000', 'max.message.bytes': '2048' } }])).toEqual([{ name: 'payments' }]);
    expect(await admin.createPartitions([{ name: 'payments', totalCount: 6 }])).toEqual([{ name: 'payments' }]);

    const drifted = await observe('payments');
    const revert = planTopic('payments', spec, drifted);
    expect(revert.actions).toEqual([{ type: 'alter-configs', topic: 'payments', set: { 'retention.ms': '86400000' }, delete: ['max.message.bytes'] }]);
    expect(revert.problems.map((p) => [p.reason, p.path])).toEqual([['NotSupported', 'spec.partitions']]);
    await run(revert.actions);

    const reverted = await observe('payments');
    expect(reverted?.overrides).toEqual(created?.overrides);
    expect(reverted?.partitions).toBe(6); // never shrunk
    expect(planTopic('payments', { ...spec, partitions: 6 }, reverted)).toEqual({ actions: [], problems: [] });
  });

  it('reports an unknown topic per item in every API', async () => {
    const name = 'no-such-topic';
    const [described] = await admin.describeTopics([name]);
    expect(described?.error?.errorName).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect(described?.error?.message).toMatch(/^Metadata for "no-such-topic" at broker 1 \(127\.0\.0\.1:\d+\) failed: UNKNOWN_TOPIC_OR_PARTITION/);
    expect((await admin.describeTopicConfigs([name]))[0]?.error?.errorName).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect((await admin.createPartitions([{ name, totalCount: 3 }]))[0]?.error?.errorName).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect((await admin.incrementalAlterConfigs([{ name, set: { 'retention.ms': '1' } }]))[0]?.error?.errorName).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect((await admin.deleteTopics([name]))[0]?.error?.errorName).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    // Describing a missing topic never creates it, whatever auto.create.topics.enable says.
    expect((await admin.describeTopics([name]))[0]?.error?.errorName).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });

  it('validateOnly checks without creating', async () => {
    const [checked] = await admin.createTopics([{ name: 'dry-run', partitions: 2, replicationFactor: 1 }], { validateOnly: true });
    expect(checked?.error).toBeUndefined();
    const [tooMany] = await admin.createTopics([{ name: 'dry-run', partitions: 2, replicationFactor: 3 }], { validateOnly: true });
    expect(tooMany?.error?.errorName).toBe('INVALID_REPLICATION_FACTOR');
    expect(await observe('dry-run')).toBeNull();
  });

  it('creates, describes and deletes a batch of 20 topics, one request per call', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `batch-${String(i).padStart(2, '0')}`);
    const send = vi.spyOn(KafkaConnection.prototype, 'send');
    const created = await admin.createTopics(names.map((name, i) => ({ name, partitions: 1 + (i % 4), replicationFactor: 1, configs: { 'retention.ms': String(60_000 * (i + 1)) } })));
    expect(created.map((r) => [r.name, r.error])).toEqual(names.map((n) => [n, undefined]));
    expect(new Set(created.map((r) => r.topicId)).size).toBe(20);

    const described = await admin.describeTopics(names);
    expect(described.map((d) => [d.name, d.partitions])).toEqual(names.map((n, i) => [n, 1 + (i % 4)]));
    const configs = await admin.describeTopicConfigs(names);
    expect(configs.map((c) => c.overrides['retention.ms'])).toEqual(names.map((_, i) => String(60_000 * (i + 1))));

    expect(await admin.createPartitions(names.map((name) => ({ name, totalCount: 8 })))).toEqual(names.map((name) => ({ name })));
    expect(await admin.incrementalAlterConfigs(names.map((name) => ({ name, delete: ['retention.ms'] })))).toEqual(names.map((name) => ({ name })));
    expect((await admin.describeTopicConfigs(names)).every((c) => Object.keys(c.overrides).length === 0)).toBe(true);

    expect(await admin.deleteTopics(names)).toEqual(names.map((name) => ({ name })));
    const apiKeys = send.mock.calls.map(([apiKey]) => apiKey).filter((k) => k !== 3 && k !== 18);
    send.mockRestore();
    expect(apiKeys).toEqual([19, 32, 37, 44, 32, 20]);
    expect((await admin.describeTopics(names)).every((d) => d.error?.errorName === 'UNKNOWN_TOPIC_OR_PARTITION')).toBe(true);
  });

  it('deletes a topic', async () => {
    expect(await admin.deleteTopics(['orders', 'orders-dlq'])).toEqual([{ name: 'orders' }, { name: 'orders-dlq' }]);
    expect(await observe('orders')).toBeNull();
    const [again] = await admin.deleteTopics(['orders']);
    expect(again?.error?.errorName).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });

  it('reconnects after the broker restarts', async () => {
    broker.child.kill('SIGTERM');
    expect((await broker.exited).code).toBe(0);
    broker = await startBrokerProcess(dataDir, ports);
    const [payments] = await admin.describeTopics(['payments']);
    expect(payments?.error).toBeUndefined();
    expect(payments?.partitions).toBe(6);
    expect((await admin.createTopics([{ name: 'after-restart', partitions: 1, replicationFactor: 1 }]))[0]?.error).toBeUndefined();
  });
});

describe('KafkaAdminClient without a broker', () => {
  it('fails quickly with a connection error naming the address and the API', async () => {
    const [port] = await freePorts(1);
    const client = new KafkaAdminClient({ bootstrapServers: [`127.0.0.1:${port}`], operationTimeoutMs: 1000, retryBackoffMs: 50 });
    try {
      const started = Date.now();
      const error = await client.createTopics([{ name: 'x', partitions: 1, replicationFactor: 1 }]).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(error).toBeInstanceOf(KafkaAdminError);
      const e = error as KafkaAdminError;
      expect(e.errorName).toBe('NETWORK_EXCEPTION');
      expect(e.message).toContain(`Metadata failed: NETWORK_EXCEPTION: no broker answered (bootstrap 127.0.0.1:${port}; 127.0.0.1:${port}: NETWORK_EXCEPTION: cannot connect to 127.0.0.1:${port}: connect ECONNREFUSED`);
      expect(e.message).toMatch(/\(CreateTopics: gave up after \d+ attempt\(s\) in \d+ ms\)$/);
    } finally {
      await client.close();
    }
  });
});

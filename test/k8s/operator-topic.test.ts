/**
 * The KafkaTopic controller against a real kube-apiserver (one per file, no controller manager: nothing here
 * needs the garbage collector) and a real single-node broker process. The operator runs in-process with the
 * topic controller only; its `bootstrapFor` points the KafkaCluster "local" at the broker, and the
 * KafkaCluster "via-status" is pointed at it the default way: its status.listeners, written with kubectl
 * (--subresource=status) since no cluster controller runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANNOTATION_PAUSE_RECONCILIATION, ANNOTATION_TOPIC_UNMANAGED } from '../../operator/src/api/constants.ts';
import { KAFKA_TOPIC_CONTROLLER_NAME } from '../../operator/src/controllers/kafka-topic-controller.ts';
import { defaultBootstrapFor, TOPIC_FINALIZER } from '../../operator/src/controllers/topic-status.ts';
import { KafkaAdminClient } from '../../operator/src/kafka/admin-client.ts';
import { Resources, type KubeObject } from '../../operator/src/runtime/index.ts';
import { freePorts, startBrokerProcess, type BrokerProcess } from '../unit/broker/broker-process.ts';
import { clusterManifest, condition, sleep, startK8sEnv, topicManifest, until, type K8sEnv, type StoredTopic } from './helpers/k8s-env.ts';
import { startInProcessOperator, type InProcessOperator } from './helpers/operator-in-process.ts';

const NS = 'topics';
const RESYNC_MS = 1_000;

let env: K8sEnv;
let broker: BrokerProcess;
let admin: KafkaAdminClient;
let operator: InProcessOperator;
let bootstrap: string;
const dataDir = mkdtempSync(join(tmpdir(), 'millrace-topic-op-'));

beforeAll(async () => {
  const [envReady, brokerReady] = await Promise.all([
    startK8sEnv({ controllerManager: false }),
    freePorts(3).then((ports) => startBrokerProcess(dataDir, ports)),
  ]);
  env = envReady;
  broker = brokerReady;
  bootstrap = `127.0.0.1:${broker.port}`;
  admin = new KafkaAdminClient({ bootstrapServers: [bootstrap], retryBackoffMs: 50 });
  await env.createNamespace(NS);
  await env.kubectl(['apply', '-f', '-'], JSON.stringify(clusterManifest('local', NS)));
  await env.kubectl(['apply', '-f', '-'], JSON.stringify(clusterManifest('via-status', NS)));
  operator = await startInProcessOperator({
    http: env.http,
    namespace: NS,
    cluster: false,
    topic: { resyncMs: RESYNC_MS, bootstrapFor: (cluster) => (cluster.metadata.name === 'local' ? [bootstrap] : defaultBootstrapFor(cluster)) },
  });
});

afterAll(async () => {
  await operator?.stop();
  await admin?.close();
  const b = broker as BrokerProcess | undefined;
  if (b !== undefined && b.child.exitCode === null && b.child.signalCode === null) {
    b.child.kill('SIGTERM');
    await b.exited;
  }
  await env?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------
// Helpers

const getTopic = (name: string): Promise<StoredTopic | null> => env.client.get<StoredTopic>(Resources.KafkaTopic, NS, name);

async function applyTopic(obj: KubeObject): Promise<void> {
  await env.kubectl(['apply', '-f', '-'], JSON.stringify(obj));
}

async function patchTopic(name: string, patch: unknown, type: 'merge' | 'json' = 'merge'): Promise<void> {
  await env.kubectl(['-n', NS, 'patch', 'kafkatopic', name, `--type=${type}`, '-p', JSON.stringify(patch)]);
}

interface KafkaState {
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly topicId: string | null;
  readonly overrides: Readonly<Record<string, string | null>>;
}

/** The topic as Kafka reports it; null when it does not exist. */
async function inKafka(name: string): Promise<KafkaState | null> {
  const [topic] = await admin.describeTopics([name]);
  if (topic?.error?.errorName === 'UNKNOWN_TOPIC_OR_PARTITION') return null;
  if (topic?.error !== undefined) throw topic.error;
  const [configs] = await admin.describeTopicConfigs([name]);
  if (configs?.error !== undefined) throw configs.error;
  return { partitions: topic?.partitions ?? 0, replicationFactor: topic?.replicationFactor ?? 0, topicId: topic?.topicId ?? null, overrides: configs?.overrides ?? {} };
}

/** Waits for the KafkaTopic's status to be Ready at its current generation. */
async function untilReady(name: string, timeoutMs = 30_000): Promise<StoredTopic> {
  return until(async () => {
    const t = await getTopic(name);
    return t !== null && t.status?.observedGeneration === t.metadata.generation && condition(t, 'Ready')?.status === 'True' ? t : undefined;
  }, `KafkaTopic ${name} Ready at its generation`, timeoutMs);
}

async function untilReason(name: string, reason: string, timeoutMs = 30_000): Promise<StoredTopic> {
  return until(async () => {
    const t = await getTopic(name);
    return t !== null && t.status?.observedGeneration === t.metadata.generation && condition(t, 'NotReady')?.reason === reason ? t : undefined;
  }, `KafkaTopic ${name} NotReady with reason ${reason}`, timeoutMs);
}

async function topicEvents(name: string): Promise<{ reason: string; message: string; type: string }[]> {
  const list = await env.client.list<KubeObject & { reason: string; message: string; type: string; involvedObject: { kind: string } }>(Resources.Event, { namespace: NS, fieldSelector: `involvedObject.name=${name}` });
  return list.items.filter((e) => e.involvedObject.kind === 'KafkaTopic').map((e) => ({ reason: e.reason, message: e.message, type: e.type }));
}

// ---------------------------------------------------------------------------------------------------------

describe('KafkaTopic controller (in-process operator, real broker)', () => {
  it('creates the Kafka topic with its partitions, replication factor and config; status Ready with topicName and topicId; adds the finalizer', async () => {
    await applyTopic(topicManifest('orders', NS, 'local', { partitions: 3, replicas: 1, config: { 'retention.ms': 86_400_000, 'cleanup.policy': 'delete' } }));
    const topic = await untilReady('orders');
    const kafka = await inKafka('orders');
    expect(kafka).toMatchObject({ partitions: 3, replicationFactor: 1, overrides: { 'retention.ms': '86400000', 'cleanup.policy': 'delete' } });
    expect(topic.status).toMatchObject({ observedGeneration: 1, topicName: 'orders', topicId: kafka?.topicId });
    expect(topic.status?.topicId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(topic.metadata.finalizers).toEqual([TOPIC_FINALIZER]);
    expect(condition(topic, 'NotReady')).toBeUndefined();
    await until(async () => (await topicEvents('orders')).some((e) => e.reason === 'Created' && e.message.startsWith('Created Kafka topic "orders" with 3 partition(s)')), 'the Created event');
  });

  it('grows the partitions', async () => {
    await patchTopic('orders', { spec: { partitions: 6 } });
    await until(async () => (await inKafka('orders'))?.partitions === 6, 'six partitions in Kafka');
    expect((await untilReady('orders')).status?.observedGeneration).toBe(2);
    await until(async () => (await topicEvents('orders')).some((e) => e.reason === 'PartitionsIncreased' && e.message.includes('from 3 to 6')), 'the PartitionsIncreased event');
  });

  it('changes the config: sets, changes and removes overrides', async () => {
    await patchTopic('orders', { spec: { config: { 'retention.ms': 3_600_000, 'cleanup.policy': null, 'segment.bytes': 1_048_576 } } });
    await until(async () => {
      const o = (await inKafka('orders'))?.overrides;
      return o?.['retention.ms'] === '3600000' && o['segment.bytes'] === '1048576' && !('cleanup.policy' in o);
    }, 'the new overrides in Kafka');
    expect((await inKafka('orders'))?.overrides).toEqual({ 'retention.ms': '3600000', 'segment.bytes': '1048576' });
    await untilReady('orders');
  });

  it('reverts changes made directly in Kafka (periodic resync)', async () => {
    const [result] = await admin.incrementalAlterConfigs([{ name: 'orders', set: { 'retention.ms': '1234', 'max.message.bytes': '2000' }, delete: ['segment.bytes'] }]);
    expect(result?.error).toBeUndefined();
    expect((await inKafka('orders'))?.overrides).toEqual({ 'retention.ms': '1234', 'max.message.bytes': '2000' });
    const startedAt = Date.now();
    await until(async () => {
      const o = (await inKafka('orders'))?.overrides;
      return o !== undefined && JSON.stringify(o) === JSON.stringify({ 'retention.ms': '3600000', 'segment.bytes': '1048576' });
    }, 'the out-of-band change reverted', 15_000);
    expect(Date.now() - startedAt).toBeLessThan(RESYNC_MS * 5);
    await until(async () => (await topicEvents('orders')).some((e) => e.reason === 'ConfigUpdated' && e.message.includes('removed max.message.bytes')), 'the ConfigUpdated event');

    // A topic deleted behind the operator's back is created again, and the status follows its new id.
    const oldId = (await inKafka('orders'))?.topicId;
    const [deleted] = await admin.deleteTopics(['orders']);
    expect(deleted?.error).toBeUndefined();
    const recreated = await until(async () => {
      const k = await inKafka('orders');
      return k !== null && k.topicId !== oldId ? k : undefined;
    }, 'the topic re-created', 15_000);
    expect(recreated).toMatchObject({ partitions: 6, overrides: { 'retention.ms': '3600000', 'segment.bytes': '1048576' } });
    await until(async () => (await getTopic('orders'))?.status?.topicId === recreated.topicId, 'the new topicId in the status');
  });

  it('reports a partition decrease as NotReady reason NotSupported and leaves the topic alone', async () => {
    await patchTopic('orders', { spec: { partitions: 2 } });
    const topic = await untilReason('orders', 'NotSupported');
    expect(condition(topic, 'Ready')).toMatchObject({ status: 'False', reason: 'NotSupported' });
    expect(condition(topic, 'NotReady')?.message).toContain('has 6 partitions and spec.partitions is 2');
    await sleep(RESYNC_MS * 1.5);
    expect((await inKafka('orders'))?.partitions).toBe(6);
    await until(async () => (await topicEvents('orders')).some((e) => e.type === 'Warning' && e.reason === 'NotSupported'), 'the Warning event');

    // A replication factor change is refused the same way; restoring the spec makes it Ready again.
    await patchTopic('orders', { spec: { partitions: 6, replicas: 3 } });
    expect(condition(await untilReason('orders', 'NotSupported'), 'NotReady')?.message).toContain('replication factor 1 and spec.replicas is 3');
    await patchTopic('orders', { spec: { replicas: 1 } });
    await untilReady('orders');
  });

  it('deletes the Kafka topic through the finalizer when the KafkaTopic is deleted', async () => {
    expect(await inKafka('orders')).not.toBeNull();
    await env.kubectl(['-n', NS, 'delete', 'kafkatopic', 'orders', '--wait=true', '--timeout=30s']);
    expect(await getTopic('orders')).toBeNull();
    await until(async () => (await inKafka('orders')) === null, 'the Kafka topic deleted');
  });

  it('two KafkaTopics for one Kafka topic: the younger gets ResourceConflict and takes over when the older is deleted', async () => {
    await applyTopic(topicManifest('dup-a', NS, 'local', { topicName: 'shared', partitions: 2 }));
    await untilReady('dup-a');
    // creationTimestamp has a one-second resolution; make sure dup-b is strictly younger.
    await sleep(1_100);
    await applyTopic(topicManifest('dup-b', NS, 'local', { topicName: 'shared', partitions: 4 }));
    const loser = await untilReason('dup-b', 'ResourceConflict');
    expect(condition(loser, 'Ready')).toMatchObject({ status: 'False', reason: 'ResourceConflict' });
    expect(condition(loser, 'NotReady')?.message).toContain(`already managed by the older KafkaTopic ${NS}/dup-a`);
    expect(loser.metadata.finalizers ?? []).toEqual([]);
    await sleep(RESYNC_MS * 1.5);
    expect((await inKafka('shared'))?.partitions).toBe(2); // the loser is not acted on
    expect(condition(await getTopic('dup-a'), 'Ready')?.status).toBe('True');

    // The older one goes: the Kafka topic stays (dup-b still declares it) and dup-b manages it from now on.
    await env.kubectl(['-n', NS, 'delete', 'kafkatopic', 'dup-a', '--wait=true', '--timeout=30s']);
    const winner = await untilReady('dup-b');
    expect(winner.metadata.finalizers).toEqual([TOPIC_FINALIZER]);
    expect((await inKafka('shared'))?.partitions).toBe(4);
    await until(async () => (await topicEvents('dup-a')).some((e) => e.reason === 'TopicNotDeleted' && e.message.includes(`${NS}/dup-b still declares it`)), 'the TopicNotDeleted event of dup-a');
  });

  it('pauses a KafkaTopic on the annotation: ReconciliationPaused only, nothing changed in Kafka', async () => {
    await env.kubectl(['-n', NS, 'annotate', 'kafkatopic', 'dup-b', `${ANNOTATION_PAUSE_RECONCILIATION}=true`]);
    await until(async () => (await getTopic('dup-b'))?.status?.conditions?.map((c) => c.type).join() === 'ReconciliationPaused', 'ReconciliationPaused only');
    await patchTopic('dup-b', { spec: { partitions: 5 } });
    await sleep(RESYNC_MS * 1.5);
    expect((await inKafka('shared'))?.partitions).toBe(4);
    await env.kubectl(['-n', NS, 'annotate', 'kafkatopic', 'dup-b', `${ANNOTATION_PAUSE_RECONCILIATION}-`]);
    await until(async () => (await inKafka('shared'))?.partitions === 5, 'the edit applied after unpausing');
    await untilReady('dup-b');
  });

  it('leaves the Kafka topic in place when an unmanaged KafkaTopic is deleted (no finalizer)', async () => {
    await applyTopic(topicManifest('keep', NS, 'local', { partitions: 1 }, { [ANNOTATION_TOPIC_UNMANAGED]: 'true' }));
    const kept = await untilReady('keep');
    expect(kept.metadata.finalizers ?? []).toEqual([]);
    expect((await inKafka('keep'))?.partitions).toBe(1);
    await env.kubectl(['-n', NS, 'delete', 'kafkatopic', 'keep', '--wait=true', '--timeout=30s']);
    await sleep(RESYNC_MS);
    expect((await inKafka('keep'))?.partitions).toBe(1);

    // Marking a managed KafkaTopic unmanaged removes its finalizer.
    await applyTopic(topicManifest('later', NS, 'local', { partitions: 1 }));
    expect((await untilReady('later')).metadata.finalizers).toEqual([TOPIC_FINALIZER]);
    await env.kubectl(['-n', NS, 'annotate', 'kafkatopic', 'later', `${ANNOTATION_TOPIC_UNMANAGED}=true`]);
    await until(async () => ((await getTopic('later'))?.metadata.finalizers ?? []).length === 0, 'the finalizer removed');
    await env.kubectl(['-n', NS, 'delete', 'kafkatopic', 'later', '--wait=true', '--timeout=30s']);
    await sleep(RESYNC_MS);
    expect(await inKafka('later')).not.toBeNull();
  });

  it("reads the bootstrap servers from the KafkaCluster's status.listeners by default", async () => {
    await applyTopic(topicManifest('via-status-topic', NS, 'via-status', { partitions: 2 }));
    await untilReason('via-status-topic', 'ClusterNotReady');
    await env.kubectl(['-n', NS, 'patch', 'kafkacluster', 'via-status', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { listeners: [{ name: 'plain', bootstrapServers: bootstrap }] } })]);
    await untilReady('via-status-topic');
    expect((await inKafka('via-status-topic'))?.partitions).toBe(2);
  });

  it('reports a missing KafkaCluster (ClusterNotFound) and an invalid topic config (InvalidConfigValue) without touching Kafka', async () => {
    await applyTopic(topicManifest('orphan', NS, 'no-such-cluster'));
    const orphan = await untilReason('orphan', 'ClusterNotFound');
    expect(orphan.metadata.finalizers ?? []).toEqual([]);
    await applyTopic(topicManifest('bad-config', NS, 'local', { config: { 'cleanup.policy': 'sometimes' } }));
    expect(condition(await untilReason('bad-config', 'InvalidConfigValue'), 'NotReady')?.message).toContain('cleanup.policy');
    expect(await inKafka('orphan')).toBeNull();
    expect(await inKafka('bad-config')).toBeNull();
    // Neither has a finalizer, so both go at once.
    await env.kubectl(['-n', NS, 'delete', 'kafkatopic', 'orphan', 'bad-config', '--wait=true', '--timeout=30s']);
  });

  it('never failed a reconcile except on purpose', () => {
    expect(operator.errors.map((e) => `${e.key}: ${String(e.error)}`)).toEqual([]);
    expect(operator.reconciles(KAFKA_TOPIC_CONTROLLER_NAME, `${NS}/dup-b`)).toBeGreaterThan(0);
  });
});

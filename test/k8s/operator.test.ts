/**
 * The KafkaCluster controller against a real etcd + kube-apiserver + kube-controller-manager (one control
 * plane for the file). The operator runs in-process (Manager + controllers) for the behaviour tests, and as
 * real `node operator/src/main.ts` processes for the process and leader election tests.
 *
 * No kubelet runs: the StatefulSet controller creates Pods that never start. Pod readiness is simulated by
 * patching the Pods' status (phase Running, condition Ready), from which the StatefulSet controller itself
 * computes readyReplicas, as it would for real pods.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANNOTATION_CONFIG_HASH, ANNOTATION_PAUSE_RECONCILIATION, LABEL_CLUSTER } from '../../operator/src/api/constants.ts';
import type { KafkaCluster } from '../../operator/src/api/kafka-cluster-types.ts';
import { PatchContentType, Resources, type KubeObject, type ResourceType } from '../../operator/src/runtime/index.ts';
import { buildClusterResources } from '../../operator/src/specs/cluster-resources.ts';
import { KAFKA_CLUSTER_CONTROLLER_NAME } from '../../operator/src/controllers/kafka-cluster-controller.ts';
import { clusterManifest, condition, sleep, startK8sEnv, until, type K8sEnv, type StoredCluster, type StoredMeta } from './helpers/k8s-env.ts';
import { startInProcessOperator, type InProcessOperator } from './helpers/operator-in-process.ts';
import { startOperatorProcess, type OperatorProcess } from './helpers/operator-process.ts';

const NS = 'clusters';
const CHILD_TYPES: readonly ResourceType[] = [Resources.StatefulSet, Resources.ConfigMap, Resources.Service, Resources.PodDisruptionBudget];

let env: K8sEnv;

beforeAll(async () => {
  env = await startK8sEnv();
  for (const ns of [NS, 'restart', 'lease']) await env.createNamespace(ns);
});

afterAll(async () => {
  await env?.stop();
});

// ---------------------------------------------------------------------------------------------------------
// Helpers

type Stored = KubeObject & { metadata: StoredMeta; spec?: Record<string, unknown>; data?: Record<string, string>; status?: Record<string, unknown> };

const getCluster = (ns: string, name: string): Promise<StoredCluster | null> => env.client.get<StoredCluster>(Resources.KafkaCluster, ns, name);

async function applyManifest(obj: KubeObject): Promise<void> {
  await env.kubectl(['apply', '-f', '-'], JSON.stringify(obj));
}

async function patchCluster(ns: string, name: string, patch: unknown, type: 'merge' | 'json' = 'merge'): Promise<void> {
  await env.kubectl(['-n', ns, 'patch', 'kafkacluster', name, `--type=${type}`, '-p', JSON.stringify(patch)]);
}

/** Every child (by the cluster label) as "Kind/name". */
async function childNames(ns: string, cluster: string): Promise<string[]> {
  const names: string[] = [];
  for (const type of CHILD_TYPES) {
    const list = await env.client.list<Stored>(type, { namespace: ns, labelSelector: `${LABEL_CLUSTER}=${cluster}` });
    for (const item of list.items) names.push(`${type.kind}/${item.metadata.name ?? ''}`);
  }
  return names.sort();
}

async function getChild(type: ResourceType, ns: string, name: string): Promise<Stored | null> {
  return env.client.get<Stored>(type, ns, name);
}

/** Marks every pod of the cluster Running and Ready (what a kubelet would report). */
async function markPodsReady(ns: string, cluster: string): Promise<number> {
  const pods = await env.client.list<Stored>(Resources.Pod, { namespace: ns, labelSelector: `${LABEL_CLUSTER}=${cluster}` });
  for (const pod of pods.items) {
    await env.client.patch(Resources.Pod, ns, pod.metadata.name ?? '', { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } }, PatchContentType.Merge, 'status');
  }
  return pods.items.length;
}

async function eventMessages(ns: string, name: string): Promise<{ reason: string; message: string; type: string }[]> {
  const list = await env.client.list<KubeObject & { reason: string; message: string; type: string; involvedObject: { kind: string } }>(Resources.Event, { namespace: ns, fieldSelector: `involvedObject.name=${name}` });
  return list.items.filter((e) => e.involvedObject.kind === 'KafkaCluster').map((e) => ({ reason: e.reason, message: e.message, type: e.type }));
}

const ownerRefOf = (cluster: StoredCluster) => ({
  apiVersion: 'kafka.millrace.dev/v1alpha1',
  kind: 'KafkaCluster',
  name: cluster.metadata.name,
  uid: cluster.metadata.uid,
  controller: true,
  blockOwnerDeletion: true,
});

/** What must not change when nothing changed: resourceVersion, generation and the operator's managed fields of every child and the cluster. */
async function snapshot(ns: string, cluster: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const ours = (o: Stored) => (o.metadata.managedFields as { manager: string; operation: string; time?: string; subresource?: string }[] | undefined)
    ?.filter((f) => f.manager === 'millrace-operator')
    .map((f) => `${f.operation}${f.subresource === undefined ? '' : `/${f.subresource}`}@${f.time ?? ''}`);
  for (const type of CHILD_TYPES) {
    const list = await env.client.list<Stored>(type, { namespace: ns, labelSelector: `${LABEL_CLUSTER}=${cluster}` });
    for (const o of list.items) {
      // StatefulSets and PDBs get status updates from kube-controller-manager: their resourceVersion is not ours alone.
      const rv = type === Resources.StatefulSet || type === Resources.PodDisruptionBudget ? undefined : o.metadata.resourceVersion;
      out[`${type.kind}/${o.metadata.name ?? ''}`] = { rv, generation: o.metadata.generation, ours: ours(o), spec: o.spec ?? o.data };
    }
  }
  const kc = await env.client.get<Stored>(Resources.KafkaCluster, ns, cluster);
  out[`KafkaCluster/${cluster}`] = { rv: kc?.metadata.resourceVersion, ours: kc === null ? [] : ours(kc) };
  return out;
}

// ---------------------------------------------------------------------------------------------------------

describe('KafkaCluster controller (in-process operator)', () => {
  let operator: InProcessOperator;

  beforeAll(async () => {
    operator = await startInProcessOperator({ http: env.http, namespace: NS, topic: false });
  });

  afterAll(async () => {
    await operator?.stop();
  });

  it('creates the StatefulSets, Services, ConfigMaps and PDB with controller owner references, and reports NotReady/PodsNotReady', async () => {
    await applyManifest(clusterManifest('orders', NS));
    const cluster = await until(async () => {
      const c = await getCluster(NS, 'orders');
      // First "has not observed its latest spec yet", then the pod counts once the StatefulSet controller has.
      return c?.status?.observedGeneration === 1 && /controllers \(0\/3 pods ready\), brokers \(0\/2 pods ready\)/.test(condition(c, 'NotReady')?.message ?? '') ? c : undefined;
    }, 'the status with pod counts');

    expect(await childNames(NS, 'orders')).toEqual([
      'ConfigMap/orders-brokers-config',
      'ConfigMap/orders-controllers-config',
      'PodDisruptionBudget/orders-nodes',
      'Service/orders-bootstrap',
      'Service/orders-nodes',
      'StatefulSet/orders-brokers',
      'StatefulSet/orders-controllers',
    ]);
    // Every child is what the builders make for the stored cluster, owned by it.
    const built = buildClusterResources(cluster as unknown as KafkaCluster);
    if (!built.ok) throw new Error('the manifest must be valid');
    for (const desired of built.objects) {
      const type = CHILD_TYPES.find((t) => t.kind === desired.kind) ?? Resources.ConfigMap;
      const stored = await getChild(type, NS, desired.metadata.name);
      expect(stored?.metadata.ownerReferences, `${desired.kind} ${desired.metadata.name}`).toEqual([ownerRefOf(cluster)]);
      expect(stored?.metadata.labels).toMatchObject(desired.metadata.labels);
      if (desired.kind === 'ConfigMap') expect(stored?.data).toEqual(desired.data);
      if (desired.kind === 'StatefulSet') expect(stored?.spec).toMatchObject({ replicas: desired.spec.replicas, ordinals: desired.spec.ordinals, template: { metadata: { annotations: desired.spec.template.metadata.annotations } } });
    }

    const status = cluster.status;
    expect(status?.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(status?.listeners).toEqual([{ name: 'plain', bootstrapServers: `orders-bootstrap.${NS}.svc:9092` }]);
    expect(status?.nodePools).toEqual([{ name: 'controllers', replicas: 3, nodeIds: [0, 1, 2] }, { name: 'brokers', replicas: 2, nodeIds: [100, 101] }]);
    expect(status?.runningVersion).toBeUndefined();
    expect(condition(cluster, 'Ready')).toMatchObject({ status: 'False', reason: 'PodsNotReady', observedGeneration: 1 });
    expect(condition(cluster, 'NotReady')?.message).toBe('node pools not ready: controllers (0/3 pods ready), brokers (0/2 pods ready)');

    const events = await until(async () => {
      const e = await eventMessages(NS, 'orders');
      return e.filter((x) => x.reason === 'Created').length === 7 ? e : undefined;
    }, 'seven Created events');
    expect(events.map((e) => e.message)).toEqual(expect.arrayContaining(['Created StatefulSet orders-brokers', 'Created ConfigMap orders-controllers-config', 'Created PodDisruptionBudget orders-nodes']));
  });

  it('turns Ready when every pool reports all replicas ready, with runningVersion', async () => {
    await until(async () => (await markPodsReady(NS, 'orders')) === 5, 'five pods to mark ready');
    const cluster = await until(async () => {
      const c = await getCluster(NS, 'orders');
      return condition(c, 'Ready')?.status === 'True' ? c : undefined;
    }, 'Ready=True');
    expect(condition(cluster, 'Ready')).toMatchObject({ reason: 'Ready', observedGeneration: 1 });
    expect(condition(cluster, 'NotReady')).toBeUndefined();
    expect(cluster.status?.runningVersion).toBe('0.1.0');
    await until(async () => (await eventMessages(NS, 'orders')).some((e) => e.reason === 'Ready'), 'the Ready event');
    // Nothing to do any more: a reconcile (caused by a label change) writes no status.
    const since = operator.mark();
    const touched = await env.client.patch<Stored>(Resources.KafkaCluster, NS, 'orders', { metadata: { labels: { touch: '1' } } }, PatchContentType.Merge);
    await operator.waitForReconcile(KAFKA_CLUSTER_CONTROLLER_NAME, `${NS}/orders`, since);
    await sleep(200);
    expect((await getCluster(NS, 'orders'))?.metadata.resourceVersion).toBe(touched.metadata.resourceVersion);
  });

  it('applies spec edits: a broker config key and a pool scale-up update the ConfigMaps, StatefulSets and status', async () => {
    const hashBefore = (await getChild(Resources.StatefulSet, NS, 'orders-brokers'))?.spec as { template: { metadata: { annotations: Record<string, string> } } };
    await patchCluster(NS, 'orders', { spec: { config: { 'log.retention.hours': 24 } } });
    await until(async () => (await getChild(Resources.ConfigMap, NS, 'orders-brokers-config'))?.data?.['server.properties']?.includes('log.retention.hours=24'), 'the brokers ConfigMap with the new key');
    // One reconcile applies the ConfigMap, then the StatefulSet: wait for the second write too.
    const hashOf = async (): Promise<string | undefined> =>
      ((await getChild(Resources.StatefulSet, NS, 'orders-brokers'))?.spec as typeof hashBefore | undefined)?.template.metadata.annotations[ANNOTATION_CONFIG_HASH];
    const oldHash = hashBefore.template.metadata.annotations[ANNOTATION_CONFIG_HASH];
    await until(async () => (await hashOf()) !== oldHash, 'the brokers StatefulSet with the new config hash');
    const hashAfter = await hashOf();
    expect(hashAfter).not.toBe(hashBefore.template.metadata.annotations[ANNOTATION_CONFIG_HASH]);
    expect((await getChild(Resources.ConfigMap, NS, 'orders-controllers-config'))?.data?.['server.properties']).toContain('log.retention.hours=24');

    await patchCluster(NS, 'orders', [{ op: 'replace', path: '/spec/nodePools/1/replicas', value: 3 }], 'json');
    await until(async () => (await getChild(Resources.StatefulSet, NS, 'orders-brokers'))?.spec?.replicas === 3, 'the brokers StatefulSet scaled to 3');
    const cluster = await until(async () => {
      const c = await getCluster(NS, 'orders');
      return c?.status?.observedGeneration === 3 && condition(c, 'NotReady')?.message.includes('brokers (2/3 pods ready)') === true ? c : undefined;
    }, 'status of generation 3 naming the brokers pool');
    expect(condition(cluster, 'NotReady')?.message).not.toContain('controllers');
    expect(condition(cluster, 'Ready')).toMatchObject({ status: 'False', reason: 'PodsNotReady', observedGeneration: 3 });
    expect(cluster.status?.nodePools?.find((p) => p.name === 'brokers')).toEqual({ name: 'brokers', replicas: 3, nodeIds: [100, 101, 102] });
    // The pods keep running the version they ran.
    expect(cluster.status?.runningVersion).toBe('0.1.0');
    const messages = (await eventMessages(NS, 'orders')).map((e) => e.message);
    expect(messages).toEqual(expect.arrayContaining(['Updated ConfigMap orders-brokers-config', 'Updated StatefulSet orders-brokers']));

    await until(async () => (await markPodsReady(NS, 'orders')) === 6, 'six pods to mark ready');
    await until(async () => condition(await getCluster(NS, 'orders'), 'Ready')?.status === 'True', 'Ready again');
  });

  it('deletes the StatefulSet and ConfigMap of a removed pool', async () => {
    await patchCluster(NS, 'orders', [{ op: 'add', path: '/spec/nodePools/-', value: { name: 'extra', roles: ['broker'], replicas: 1, nodeIdOffset: 200, storage: { type: 'ephemeral' } } }], 'json');
    await until(async () => (await childNames(NS, 'orders')).includes('StatefulSet/orders-extra'), 'the extra pool StatefulSet');
    expect(await childNames(NS, 'orders')).toContain('ConfigMap/orders-extra-config');
    await patchCluster(NS, 'orders', [{ op: 'remove', path: '/spec/nodePools/2' }], 'json');
    await until(async () => !(await childNames(NS, 'orders')).some((n) => n.includes('extra')), 'the extra pool children deleted');
    expect(await childNames(NS, 'orders')).toHaveLength(7);
    const messages = (await eventMessages(NS, 'orders')).map((e) => e.message);
    expect(messages).toEqual(expect.arrayContaining(['Deleted StatefulSet orders-extra: no longer in the spec', 'Deleted ConfigMap orders-extra-config: no longer in the spec']));
  });

  it('refuses an invalid KafkaCluster at the API server with a readable message (CRD validation)', async () => {
    const noController = clusterManifest('refused', NS, { nodePools: [{ name: 'brokers', roles: ['broker'], replicas: 1, nodeIdOffset: 0, storage: { type: 'ephemeral' } }] });
    const r = await env.kubectlResult(['apply', '-f', '-'], JSON.stringify(noController));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('at least one node pool needs the controller role');
    const offset = await env.kubectlResult(['-n', NS, 'patch', 'kafkacluster', 'orders', '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/nodePools/1/nodeIdOffset', value: 500 }])]);
    expect(offset.code).not.toBe(0);
    expect(offset.stderr).toContain('nodeIdOffset is immutable');
    expect(await getCluster(NS, 'refused')).toBeNull();
  });

  it('reports a spec the CRD accepts but the operator refuses (node.id in spec.config) as NotReady/ForbiddenConfigKey, touching nothing', async () => {
    await applyManifest(clusterManifest('forbidden', NS, { config: { 'node.id': 7 } }));
    const cluster = await until(async () => {
      const c = await getCluster(NS, 'forbidden');
      return condition(c, 'NotReady')?.reason === 'ForbiddenConfigKey' ? c : undefined;
    }, 'NotReady/ForbiddenConfigKey');
    expect(condition(cluster, 'NotReady')?.message).toContain('node.id');
    expect(condition(cluster, 'Ready')).toMatchObject({ status: 'False', reason: 'ForbiddenConfigKey', observedGeneration: 1 });
    expect(cluster.status?.observedGeneration).toBe(1);
    expect(await childNames(NS, 'forbidden')).toEqual([]);
    await until(async () => (await eventMessages(NS, 'forbidden')).some((e) => e.type === 'Warning' && e.reason === 'ForbiddenConfigKey'), 'the Warning event');

    // Fixing the spec lets the operator proceed.
    await patchCluster(NS, 'forbidden', [{ op: 'remove', path: '/spec/config/node.id' }], 'json');
    await until(async () => (await childNames(NS, 'forbidden')).length === 7, 'children after the fix');
    const fixed = await until(async () => {
      const c = await getCluster(NS, 'forbidden');
      return c?.status?.observedGeneration === 2 && condition(c, 'NotReady')?.reason === 'PodsNotReady' ? c : undefined;
    }, 'PodsNotReady after the fix');
    expect(fixed.status?.listeners).toHaveLength(1);
  });

  it('pauses on the annotation: ReconciliationPaused only, spec edits wait until it is removed', async () => {
    await env.kubectl(['-n', NS, 'annotate', 'kafkacluster', 'orders', `${ANNOTATION_PAUSE_RECONCILIATION}=true`]);
    const paused = await until(async () => {
      const c = await getCluster(NS, 'orders');
      return condition(c, 'ReconciliationPaused')?.status === 'True' ? c : undefined;
    }, 'ReconciliationPaused');
    expect(paused.status?.conditions?.map((c) => c.type)).toEqual(['ReconciliationPaused']);
    const generation = paused.status?.observedGeneration;
    const cmBefore = await getChild(Resources.ConfigMap, NS, 'orders-brokers-config');

    const since = operator.mark();
    await patchCluster(NS, 'orders', { spec: { config: { 'log.retention.hours': 48 } } });
    await operator.waitForReconcile(KAFKA_CLUSTER_CONTROLLER_NAME, `${NS}/orders`, since);
    await sleep(300);
    const cmPaused = await getChild(Resources.ConfigMap, NS, 'orders-brokers-config');
    expect(cmPaused?.metadata.resourceVersion).toBe(cmBefore?.metadata.resourceVersion);
    const stillPaused = await getCluster(NS, 'orders');
    expect(stillPaused?.status?.observedGeneration).toBe(generation);
    expect(stillPaused?.status?.conditions?.map((c) => c.type)).toEqual(['ReconciliationPaused']);

    await env.kubectl(['-n', NS, 'annotate', 'kafkacluster', 'orders', `${ANNOTATION_PAUSE_RECONCILIATION}-`]);
    await until(async () => (await getChild(Resources.ConfigMap, NS, 'orders-brokers-config'))?.data?.['server.properties']?.includes('log.retention.hours=48'), 'the edit applied after unpausing');
    const resumed = await until(async () => {
      const c = await getCluster(NS, 'orders');
      return c !== null && c.status?.observedGeneration === c.metadata.generation && condition(c, 'Ready') !== undefined ? c : undefined;
    }, 'a current status after unpausing');
    expect(condition(resumed, 'ReconciliationPaused')).toBeUndefined();
  });

  it('garbage-collects every child when the KafkaCluster is deleted', async () => {
    expect(await childNames(NS, 'orders')).toHaveLength(7);
    await env.kubectl(['-n', NS, 'delete', 'kafkacluster', 'orders', '--wait=true']);
    await until(async () => (await childNames(NS, 'orders')).length === 0, 'the garbage collector to delete the children', 60_000, 250);
    await until(async () => (await env.client.list(Resources.Pod, { namespace: NS, labelSelector: `${LABEL_CLUSTER}=orders` })).items.length === 0, 'the pods gone', 60_000, 250);
    expect(operator.errors.filter((e) => e.key === `${NS}/orders`)).toEqual([]);
  });
});

describe('KafkaCluster controller across operator restarts', () => {
  it('converges to the same state after a restart mid-way, and a restart rewrites nothing unchanged', async () => {
    const ns = 'restart';
    const first = await startInProcessOperator({ http: env.http, namespace: ns, topic: false });
    try {
      await applyManifest(clusterManifest('events', ns));
      await until(async () => (await markPodsReady(ns, 'events')) === 5, 'five pods');
      await until(async () => condition(await getCluster(ns, 'events'), 'Ready')?.status === 'True', 'Ready');
    } finally {
      await first.stop();
    }

    // While no operator runs: scale the brokers. Nothing happens.
    const before = await snapshot(ns, 'events');
    await patchCluster(ns, 'events', [{ op: 'replace', path: '/spec/nodePools/1/replicas', value: 3 }], 'json');
    await sleep(500);
    expect((await getChild(Resources.StatefulSet, ns, 'events-brokers'))?.spec?.replicas).toBe(2);

    // A new operator converges: only the brokers StatefulSet changes.
    const second = await startInProcessOperator({ http: env.http, namespace: ns, topic: false });
    try {
      await until(async () => (await getChild(Resources.StatefulSet, ns, 'events-brokers'))?.spec?.replicas === 3, 'the brokers scaled by the new operator');
      await until(async () => (await markPodsReady(ns, 'events')) === 6, 'six pods');
      await until(async () => {
        const c = await getCluster(ns, 'events');
        return c?.status?.observedGeneration === 2 && condition(c, 'Ready')?.status === 'True';
      }, 'Ready at generation 2');
      const after = await snapshot(ns, 'events');
      for (const name of Object.keys(before)) {
        if (name === 'StatefulSet/events-brokers' || name === 'KafkaCluster/events') continue;
        expect(after[name], `${name} must not have been rewritten`).toEqual(before[name]);
      }
      expect(after['StatefulSet/events-brokers']).not.toEqual(before['StatefulSet/events-brokers']);
    } finally {
      await second.stop();
    }

    // A restart with nothing to do writes nothing at all (children or status).
    await sleep(500);
    const settled = await snapshot(ns, 'events');
    const third = await startInProcessOperator({ http: env.http, namespace: ns, topic: false });
    try {
      await until(() => third.reconciles(KAFKA_CLUSTER_CONTROLLER_NAME, `${ns}/events`) >= 1, 'a reconcile by the third operator');
      await sleep(1_000);
      expect(third.errors).toEqual([]);
      expect(await snapshot(ns, 'events')).toEqual(settled);
    } finally {
      await third.stop();
    }
  });
});

describe('the operator process', () => {
  it('exits non-zero with a clear message on bad flags and a bad kubeconfig', async () => {
    const badFlag = startOperatorProcess(env.cp.kubeconfigPath, 'bad-flag', ['--bogus']);
    const badDuration = startOperatorProcess(env.cp.kubeconfigPath, 'bad-duration', ['--topic-resync', 'soon']);
    const noConfig = startOperatorProcess('/nonexistent/kubeconfig', 'no-config', []);
    expect((await badFlag.exited).code).toBe(2);
    expect(badFlag.output()).toContain("Unknown option '--bogus'");
    expect((await badDuration.exited).code).toBe(2);
    expect(badDuration.output()).toContain('--topic-resync: "soon" is not a duration');
    expect((await noConfig.exited).code).toBe(1);
    expect(noConfig.output()).toContain('cannot load the Kubernetes configuration');
  });

  it('two processes: exactly one holds the Lease and acts; after kill -9 of the leader the other takes over within the lease duration', async () => {
    const ns = 'lease';
    const args = ['--namespace', ns, '--watch-namespace', ns, '--metrics-address', '127.0.0.1:0', '--lease-duration', '4s', '--renew-deadline', '3s', '--retry-period', '500ms'];
    const a = startOperatorProcess(env.cp.kubeconfigPath, 'operator-a', args);
    let b: OperatorProcess | undefined;
    try {
      await a.waitForLog(/^Acquired leader lease$/);
      b = startOperatorProcess(env.cp.kubeconfigPath, 'operator-b', args);
      await b.waitForLog(/^Waiting for leader election$/);
      await b.waitForLog(/^New leader elected: operator-a$/);
      const lease = await env.client.get<KubeObject & { spec: { holderIdentity: string } }>(Resources.Lease, ns, 'millrace-operator-leader');
      expect(lease?.spec.holderIdentity).toBe('operator-a');

      await applyManifest(clusterManifest('ha', ns));
      await a.waitForLog(/^Created StatefulSet ha-brokers$/);
      await until(async () => condition(await getCluster(ns, 'ha'), 'NotReady')?.reason === 'PodsNotReady', 'status by operator-a');
      await sleep(1_000);
      expect(b.hasLog(/^Acquired leader lease$/)).toBe(false);
      expect(b.hasLog(/^Starting workers$/)).toBe(false);
      expect(b.logs().filter((l) => l.msg === 'Reconciling')).toEqual([]);

      const killedAt = Date.now();
      await a.kill9();
      await b.waitForLog(/^Acquired leader lease$/, 15_000);
      const takeoverMs = Date.now() - killedAt;
      // The lease is 4 s, counted from operator-b's last sight of a renewal (at most one retry period before the
      // kill); it then needs up to one retry period (plus 20 % jitter) to try again. The rest is slack for a busy machine.
      expect(takeoverMs).toBeLessThan(4_000 + 2 * 600 + 2_000);
      const taken = await env.client.get<KubeObject & { spec: { holderIdentity: string; leaseTransitions: number } }>(Resources.Lease, ns, 'millrace-operator-leader');
      expect(taken?.spec).toMatchObject({ holderIdentity: 'operator-b', leaseTransitions: 1 });

      await patchCluster(ns, 'ha', { spec: { config: { 'log.retention.hours': 12 } } });
      await b.waitForLog(/^Updated ConfigMap ha-brokers-config$/);
      expect((await getChild(Resources.ConfigMap, ns, 'ha-brokers-config'))?.data?.['server.properties']).toContain('log.retention.hours=12');

      // Health, readiness and metrics of the leader.
      const listening = b.logs().find((l) => typeof l.msg === 'string' && l.msg.startsWith('Operator HTTP server'));
      const url = /(http:\/\/[^\s]+)/.exec(listening?.msg ?? '')?.[1];
      expect(url).toBeDefined();
      expect((await fetch(`${url ?? ''}/healthz`)).status).toBe(200);
      expect(await (await fetch(`${url ?? ''}/readyz`)).json()).toEqual({ ready: true, leader: true });
      expect(await (await fetch(`${url ?? ''}/metrics`)).text()).toMatch(/leader_election_master_status\{name="millrace-operator-leader"\} 1/);

      // Graceful shutdown releases the lease.
      expect(await b.stop()).toEqual({ code: 0, signal: null });
      const released = await env.client.get<KubeObject & { spec: { holderIdentity: string } }>(Resources.Lease, ns, 'millrace-operator-leader');
      expect(released?.spec.holderIdentity).toBe('');
    } finally {
      await a.kill9();
      await b?.kill9();
    }
  });
});

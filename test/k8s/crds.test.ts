/**
 * The CRDs and the objects the operator builds, against a real kube-apiserver (and kube-controller-manager):
 * what the unit tests cannot prove. The CRDs install with kubectl's client-side apply and become Established;
 * valid custom resources are accepted and invalid ones refused with a readable message; the CEL transition
 * rules refuse changes to immutable fields (and only those); every object of buildClusterResources passes
 * the API server's validation, the StatefulSet controller makes pods whose ordinals are the node ids, and the
 * garbage collector follows the owner references.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_GROUP_VERSION, KIND_KAFKA_TOPIC, LABEL_CLUSTER, LABEL_POD_INDEX } from '../../operator/src/api/constants.ts';
import { crdFiles, parseCrdFile } from '../../operator/src/api/crds.ts';
import { KAFKA_CLUSTER_CRD_NAME } from '../../operator/src/api/kafka-cluster-schema.ts';
import type { KafkaCluster, KafkaClusterSpec, NodePool, NodeRole } from '../../operator/src/api/kafka-cluster-types.ts';
import { KAFKA_TOPIC_CRD_NAME } from '../../operator/src/api/kafka-topic-schema.ts';
import type { KafkaTopic, KafkaTopicSpec } from '../../operator/src/api/kafka-topic-types.ts';
import type { CustomResourceDefinition } from '../../operator/src/api/openapi.ts';
import { validateKafkaCluster } from '../../operator/src/api/validate-kafka-cluster.ts';
import { validateKafkaTopic } from '../../operator/src/api/validate-kafka-topic.ts';
import { buildClusterResources } from '../../operator/src/specs/cluster-resources.ts';
import type { ChildObject, StatefulSet } from '../../operator/src/specs/kube-types.ts';
import { BROKERS, CONTROLLERS, threeByThree } from '../unit/operator/fixtures.ts';
import { startControlPlane, type ControlPlane, type KubectlResult } from './control-plane/control-plane.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const NS = 'streaming';

let cp: ControlPlane;

beforeAll(async () => {
  cp = await startControlPlane({ log: (line) => process.stderr.write(`${line}\n`) });
  await kubectlOk(['create', 'namespace', NS]);
});

afterAll(async () => {
  await cp?.stop();
});

// ---------------------------------------------------------------------------------------------------------
// Helpers

async function kubectlOk(args: readonly string[], input?: string): Promise<KubectlResult> {
  const r = await cp.kubectl(args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
  return r;
}

async function kubectlJson<T>(args: readonly string[]): Promise<T> {
  return JSON.parse((await kubectlOk([...args, '-o', 'json'])).stdout) as T;
}

/** The kubectl call must fail, and its message must contain every one of `messages`. Returns stderr. */
async function expectRefused(args: readonly string[], input: string | undefined, ...messages: readonly string[]): Promise<string> {
  const r = await cp.kubectl(args, input === undefined ? {} : { input });
  expect(r.code, `expected a refusal, got:\n${r.stdout}`).not.toBe(0);
  for (const m of messages) expect(r.stderr).toContain(m);
  return r.stderr;
}

/** No "Warning:" lines from the API server (deprecated fields, unknown formats, CEL cost notes, ...). */
function expectNoWarnings(r: KubectlResult): void {
  expect(r.stderr.split('\n').filter((l) => /warning/i.test(l))).toEqual([]);
}

/** A CR as a user writes it: no uid or generation (the API server assigns them). */
function manifest(cr: KafkaCluster | KafkaTopic): string {
  const { uid: _uid, generation: _generation, ...metadata } = cr.metadata;
  return JSON.stringify({ ...cr, metadata });
}

function cluster(name: string, spec: Partial<KafkaClusterSpec> = {}): KafkaCluster {
  const base = threeByThree(spec);
  return { ...base, metadata: { ...base.metadata, name } };
}

function topic(name: string, spec: Partial<KafkaTopicSpec> = {}): KafkaTopic {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: KIND_KAFKA_TOPIC,
    metadata: { name, namespace: NS, uid: 'assigned-by-the-api-server', labels: { [LABEL_CLUSTER]: 'orders' } },
    spec: { partitions: 6, replicas: 3, config: { 'retention.ms': 86_400_000, 'cleanup.policy': 'compact' }, ...spec },
  };
}

/** JSON patch of a namespaced object; returns the kubectl result without judging it. */
function jsonPatch(resource: string, ops: readonly object[]): Promise<KubectlResult> {
  return cp.kubectl(['patch', '-n', NS, resource, '--type=json', '-p', JSON.stringify(ops)]);
}

async function createCluster(cr: KafkaCluster): Promise<KafkaCluster> {
  await kubectlOk(['create', '-f', '-'], manifest(cr));
  const uid = (await kubectlOk(['get', '-n', NS, 'kafkacluster', cr.metadata.name, '-o', 'jsonpath={.metadata.uid}'])).stdout;
  expect(uid).toMatch(/^[0-9a-f-]{36}$/);
  return { ...cr, metadata: { ...cr.metadata, uid } };
}

function build(cr: KafkaCluster): readonly ChildObject[] {
  const result = buildClusterResources(cr);
  if (!result.ok) throw new Error(`fixture is invalid: ${JSON.stringify(result.validation.problems)}`);
  return result.objects;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

interface Named {
  readonly metadata: { readonly name: string; readonly labels?: Record<string, string> };
}
interface ListOf<T> {
  readonly items: readonly T[];
}

const names = (list: ListOf<Named>): string[] => list.items.map((i) => i.metadata.name).sort();

// ---------------------------------------------------------------------------------------------------------

describe('CRDs', () => {
  it('install with client-side kubectl apply, without warnings, and become Established', async () => {
    const applied = await kubectlOk(['apply', '-f', join(REPO, 'crds')]);
    expect(applied.stdout).toContain(`customresourcedefinition.apiextensions.k8s.io/${KAFKA_CLUSTER_CRD_NAME} created`);
    expect(applied.stdout).toContain(`customresourcedefinition.apiextensions.k8s.io/${KAFKA_TOPIC_CRD_NAME} created`);
    expectNoWarnings(applied);
    await kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', `crd/${KAFKA_CLUSTER_CRD_NAME}`, `crd/${KAFKA_TOPIC_CRD_NAME}`]);

    for (const name of [KAFKA_CLUSTER_CRD_NAME, KAFKA_TOPIC_CRD_NAME]) {
      const crd = await kubectlJson<{ status: { conditions: { type: string; status: string; message?: string }[] } }>(['get', 'crd', name]);
      const conditions = Object.fromEntries(crd.status.conditions.map((c) => [c.type, c.status]));
      expect(conditions, JSON.stringify(crd.status.conditions)).toMatchObject({ Established: 'True', NamesAccepted: 'True' });
      // A non-structural schema would be reported here (and would disable pruning and CEL).
      expect(conditions['NonStructuralSchema']).toBeUndefined();
    }
    // The API server kept every field of our files (nothing pruned or rewritten; it only adds defaults).
    for (const file of crdFiles()) {
      const live = await kubectlJson<CustomResourceDefinition>(['get', 'crd', file.crd.metadata.name]);
      const applied = parseCrdFile(readFileSync(join(REPO, file.path), 'utf8')) as CustomResourceDefinition;
      expect(live.spec, file.path).toMatchObject(applied.spec);
    }
  });

  it('re-apply (client-side, then server-side as DESIGN.md documents) changes nothing', async () => {
    const again = await kubectlOk(['apply', '-f', join(REPO, 'crds')]);
    expect(again.stdout).toContain(`${KAFKA_CLUSTER_CRD_NAME} unchanged`);
    const ssa = await kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', join(REPO, 'crds')]);
    expect(ssa.stdout).toContain(`${KAFKA_CLUSTER_CRD_NAME} serverside-applied`);
    expectNoWarnings(ssa);
  });

  it('publish their schema: kubectl explain shows the field descriptions', async () => {
    const explained = await until('the OpenAPI of the new kinds', 30_000, async () => {
      const r = await cp.kubectl(['explain', 'kafkacluster.spec.nodePools.nodeIdOffset']);
      return r.code === 0 ? r.stdout : null;
    });
    expect(explained).toContain('Node id of the first pod (StatefulSet ordinals start here). Immutable.');
    expect((await kubectlOk(['explain', 'kt.spec.topicName'])).stdout).toContain('defaults to metadata.name');
  });
});

describe('valid custom resources', () => {
  it('accepts the three-by-three KafkaCluster of the unit fixtures, and prints its columns', async () => {
    const cr = cluster('valid');
    expect(validateKafkaCluster(cr).problems).toEqual([]);
    const r = await kubectlOk(['apply', '-f', '-'], manifest(cr));
    expect(r.stdout).toContain('kafkacluster.kafka.millrace.dev/valid created');
    expectNoWarnings(r);
    const stored = await kubectlJson<KafkaCluster>(['get', '-n', NS, 'kafkacluster', 'valid']);
    // Nothing pruned: every field we wrote is declared in the schema.
    expect(stored.spec).toEqual(cr.spec);
    const table = (await kubectlOk(['get', '-n', NS, 'kc', '-o', 'wide'])).stdout;
    expect(table.split('\n')[0]).toMatch(/NAME\s+READY\s+VERSION\s+CLUSTER-ID\s+BOOTSTRAP\s+AGE/);
    expect(table).toContain('valid');
  });

  it('accepts a combined-mode cluster on ephemeral storage', async () => {
    const pool: NodePool = { name: 'nodes', roles: ['controller', 'broker'], replicas: 1, nodeIdOffset: 0, storage: { type: 'ephemeral', sizeLimit: '5Gi' } };
    const cr = cluster('combined', { nodePools: [pool] });
    expect(validateKafkaCluster(cr).problems).toEqual([]);
    await kubectlOk(['create', '-f', '-'], manifest(cr));
  });

  it('accepts KafkaTopics with and without topicName, and prints the cluster column', async () => {
    for (const t of [topic('order-events'), topic('orders-v1', { topicName: 'Orders_v1.events' })]) {
      expect(validateKafkaTopic(t).problems).toEqual([]);
      const r = await kubectlOk(['apply', '-f', '-'], manifest(t));
      expectNoWarnings(r);
      expect((await kubectlJson<KafkaTopic>(['get', '-n', NS, 'kafkatopic', t.metadata.name])).spec).toEqual(t.spec);
    }
    const table = (await kubectlOk(['get', '-n', NS, 'kt'])).stdout.split('\n');
    expect(table[0]).toMatch(/NAME\s+CLUSTER\s+PARTITIONS\s+REPLICAS\s+READY\s+AGE/);
    expect(table.find((l) => l.startsWith('order-events'))).toMatch(/^order-events\s+orders\s+6\s+3\s/);
  });
});

describe('invalid custom resources are refused with a readable message', () => {
  const create = (cr: KafkaCluster | KafkaTopic, ...messages: string[]) => expectRefused(['create', '-f', '-'], manifest(cr), ...messages);

  it('a missing required field', async () => {
    const { image: _image, ...spec } = threeByThree().spec;
    const cr = { ...cluster('no-image'), spec } as unknown as KafkaCluster;
    await create(cr, 'The KafkaCluster "no-image" is invalid', 'spec.image: Required value');
    const { partitions: _partitions, ...topicSpec } = topic('no-partitions').spec;
    await create({ ...topic('no-partitions'), spec: topicSpec } as unknown as KafkaTopic, 'spec.partitions: Required value');
  });

  it('a value outside an enum', async () => {
    const cr = cluster('bad-role', { nodePools: [{ ...CONTROLLERS, roles: ['observer' as NodeRole] }, BROKERS] });
    await create(cr, 'spec.nodePools[0].roles[0]: Unsupported value: "observer": supported values: "broker", "controller"');
    const badStorage = cluster('bad-storage', { nodePools: [CONTROLLERS, { ...BROKERS, storage: { type: 'nfs' } as unknown as NodePool['storage'] }] });
    await create(badStorage, 'spec.nodePools[1].storage.type: Unsupported value: "nfs"');
  });

  it('numbers out of range, patterns, duplicate list keys and unknown fields', async () => {
    await create(cluster('big', { nodePools: [CONTROLLERS, { ...BROKERS, replicas: 1001 }] }), 'spec.nodePools[1].replicas: Invalid value: 1001: spec.nodePools[1].replicas in body should be less than or equal to 1000');
    await create(cluster('bad-name', { nodePools: [CONTROLLERS, { ...BROKERS, name: 'Brokers' }] }), 'spec.nodePools[1].name: Invalid value: "Brokers"', 'should match');
    await create(cluster('dup', { nodePools: [CONTROLLERS, { ...BROKERS, name: 'controllers' }] }), 'spec.nodePools[1]: Duplicate value');
    await create(cluster('low-port', { listeners: [{ name: 'plain', port: 80, type: 'internal' }] }), 'spec.listeners[0].port: Invalid value: 80');
    await create(topic('zero', { partitions: 0 }), 'spec.partitions: Invalid value: 0: spec.partitions in body should be greater than or equal to 1');
    const typo = { ...cluster('typo'), spec: { ...threeByThree().spec, nodePool: [] } } as unknown as KafkaCluster;
    await create(typo, 'unknown field "spec.nodePool"');
  });

  it('the CEL shape rules, with their messages', async () => {
    await create(cluster('no-brokers', { nodePools: [CONTROLLERS] }), 'at least one node pool needs the broker role');
    await create(cluster('no-controllers', { nodePools: [BROKERS] }), 'at least one node pool needs the controller role');
    const noSize = { ...BROKERS, storage: { type: 'persistent-claim' } } as unknown as NodePool;
    await create(cluster('no-size', { nodePools: [CONTROLLERS, noSize] }), 'persistent-claim storage needs size');
    const mixed = { ...BROKERS, storage: { type: 'ephemeral', size: '1Gi' } } as unknown as NodePool;
    await create(cluster('mixed', { nodePools: [CONTROLLERS, mixed] }), 'size, class and deleteClaim apply to persistent-claim storage only');
    const limit = { ...BROKERS, storage: { type: 'persistent-claim', size: '1Gi', sizeLimit: '1Gi' } } as unknown as NodePool;
    await create(cluster('limit', { nodePools: [CONTROLLERS, limit] }), 'sizeLimit applies to ephemeral storage only');
    await create(cluster('reserved', { listeners: [{ name: 'controller', port: 9092, type: 'internal' }] }), 'controller and replication are reserved listener names');
    await create(topic('dots', { topicName: '..' }), 'topic name cannot be "." or ".."');
  });
});

describe('CEL transition rules', () => {
  it('refuse changes to a node pool\'s roles, nodeIdOffset, storage type and storage class', async () => {
    await createCluster(cluster('immutable'));
    const kc = 'kafkacluster/immutable';
    const refused = async (ops: readonly object[], message: string, path: string) => {
      const r = await jsonPatch(kc, ops);
      expect(r.code, r.stdout).not.toBe(0);
      expect(r.stderr).toContain('The KafkaCluster "immutable" is invalid');
      expect(r.stderr).toContain(message);
      expect(r.stderr).toContain(path);
    };
    await refused([{ op: 'replace', path: '/spec/nodePools/1/nodeIdOffset', value: 200 }], 'nodeIdOffset is immutable', 'spec.nodePools[1].nodeIdOffset');
    await refused([{ op: 'replace', path: '/spec/nodePools/0/roles', value: ['controller', 'broker'] }], 'roles are immutable', 'spec.nodePools[0].roles');
    await refused([{ op: 'replace', path: '/spec/nodePools/1/storage', value: { type: 'ephemeral' } }], 'storage.type is immutable', 'spec.nodePools[1].storage.type');
    await refused([{ op: 'replace', path: '/spec/nodePools/0/storage/class', value: 'standard' }], 'storage.class is immutable', 'spec.nodePools[0].storage.class');
    await refused([{ op: 'remove', path: '/spec/nodePools/0/storage/class' }], 'storage.class is immutable', 'spec.nodePools[0].storage');
    await refused([{ op: 'add', path: '/spec/nodePools/1/storage/class', value: 'standard' }], 'storage.class is immutable', 'spec.nodePools[1].storage');
  });

  it('allow what may change: replicas, size, new pools, pool order (pools are paired by name)', async () => {
    const kc = 'kafkacluster/immutable';
    const ok = async (ops: readonly object[]) => {
      const r = await jsonPatch(kc, ops);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    };
    await ok([{ op: 'replace', path: '/spec/nodePools/1/replicas', value: 5 }]);
    await ok([{ op: 'replace', path: '/spec/nodePools/1/storage/size', value: '200Gi' }]);
    const newPool: NodePool = { name: 'brokers-b', roles: ['broker'], replicas: 2, nodeIdOffset: 200, storage: { type: 'ephemeral' } };
    await ok([{ op: 'add', path: '/spec/nodePools/-', value: newPool }]);
    const stored = await kubectlJson<KafkaCluster>(['get', '-n', NS, kc]);
    await ok([{ op: 'replace', path: '/spec/nodePools', value: [...stored.spec.nodePools].reverse() }]);
    const after = await kubectlJson<KafkaCluster>(['get', '-n', NS, kc]);
    expect(after.spec.nodePools.map((p) => [p.name, p.replicas, p.nodeIdOffset])).toEqual([['brokers-b', 2, 200], ['brokers', 5, 100], ['controllers', 3, 0]]);
  });

  it('refuse setting, changing or removing a KafkaTopic\'s topicName, and allow growing partitions', async () => {
    const message = 'spec.topicName is immutable (it cannot be set, changed or removed after creation)';
    await kubectlOk(['create', '-f', '-'], manifest(topic('t-unnamed')));
    await kubectlOk(['create', '-f', '-'], manifest(topic('t-named', { topicName: 'Orders_v1.events' })));
    for (const [resource, op] of [
      ['kafkatopic/t-unnamed', { op: 'add', path: '/spec/topicName', value: 'orders.v2' }],
      ['kafkatopic/t-named', { op: 'replace', path: '/spec/topicName', value: 'orders.v2' }],
      ['kafkatopic/t-named', { op: 'remove', path: '/spec/topicName' }],
    ] as const) {
      const r = await jsonPatch(resource, [op]);
      expect(r.code, `${resource} ${JSON.stringify(op)}: ${r.stdout}`).not.toBe(0);
      expect(r.stderr).toContain(`The KafkaTopic "${resource.split('/')[1]}" is invalid`);
      expect(r.stderr).toContain(message);
    }
    const grown = await jsonPatch('kafkatopic/t-named', [{ op: 'replace', path: '/spec/partitions', value: 12 }]);
    expect(grown.stderr).toBe('');
    expect(grown.code).toBe(0);
  });
});

describe('objects built by buildClusterResources', () => {
  interface Pod extends Named {
    readonly spec: { readonly containers: readonly { readonly env?: readonly { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[] }[] };
  }
  interface Pvc extends Named {
    readonly spec: { readonly storageClassName?: string; readonly resources: { readonly requests: Record<string, string> } };
  }

  it('pass API server validation (server-side dry run, then server-side apply as the operator will)', async () => {
    const cr = await createCluster(cluster('orders'));
    const objects = build(cr);
    const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects });
    const dry = await kubectlOk(['apply', '--dry-run=server', '--server-side', '--field-manager=millrace-operator', '-f', '-'], list);
    expectNoWarnings(dry);
    const applied = await kubectlOk(['apply', '--server-side', '--field-manager=millrace-operator', '-f', '-'], list);
    expectNoWarnings(applied);
    for (const o of objects) expect(applied.stdout).toContain(`/${o.metadata.name} serverside-applied`);

    const selector = `${LABEL_CLUSTER}=orders`;
    const stored = await kubectlJson<ListOf<Named & { kind: string }>>(['get', '-n', NS, 'configmap,statefulset,service,poddisruptionbudget', '-l', selector]);
    expect(stored.items.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort());

    // Nothing dropped or changed: a disabled feature gate or a wrong field path would silently lose a field.
    // (toMatchObject: the API server only adds defaults, e.g. fieldRef.apiVersion "v1".)
    for (const built of objects) {
      const live = await kubectlJson<ChildObject>(['get', '-n', NS, built.kind.toLowerCase(), built.metadata.name]);
      expect(live, `${built.kind}/${built.metadata.name}`).toMatchObject(built);
    }
    const sts = await kubectlJson<StatefulSet>(['get', '-n', NS, 'statefulset', 'orders-brokers']);
    expect(sts.spec.ordinals).toEqual({ start: 100 });
    expect(sts.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
  });

  it('make pods whose ordinals are the node ids, with the node id from the pod-index label, and PVCs per pod', async () => {
    const podList = await until('6 pods of orders', 90_000, async () => {
      const pods = await kubectlJson<ListOf<Pod>>(['get', '-n', NS, 'pods', '-l', `${LABEL_CLUSTER}=orders`]);
      return pods.items.length === 6 ? pods : null;
    });
    expect(names(podList)).toEqual(['orders-brokers-100', 'orders-brokers-101', 'orders-brokers-102', 'orders-controllers-0', 'orders-controllers-1', 'orders-controllers-2']);
    for (const pod of podList.items) {
      const ordinal = pod.metadata.name.split('-').at(-1);
      expect(pod.metadata.labels?.[LABEL_POD_INDEX], pod.metadata.name).toBe(ordinal);
      const nodeId = pod.spec.containers[0]?.env?.find((e) => e.name === 'MILLRACE_NODE_ID');
      expect(nodeId?.valueFrom?.fieldRef?.fieldPath).toBe(`metadata.labels['${LABEL_POD_INDEX}']`);
    }
    const pvcs = await until('6 PVCs of orders', 60_000, async () => {
      const list = await kubectlJson<ListOf<Pvc>>(['get', '-n', NS, 'pvc', '-l', `${LABEL_CLUSTER}=orders`]);
      return list.items.length === 6 ? list : null;
    });
    expect(names(pvcs)).toEqual(['data-orders-brokers-100', 'data-orders-brokers-101', 'data-orders-brokers-102', 'data-orders-controllers-0', 'data-orders-controllers-1', 'data-orders-controllers-2']);
    const byName = new Map(pvcs.items.map((p) => [p.metadata.name, p]));
    expect(byName.get('data-orders-controllers-0')?.spec.storageClassName).toBe('fast-ssd');
    expect(byName.get('data-orders-brokers-100')?.spec.resources.requests['storage']).toBe('100Gi');
  });

  it('of a combined ephemeral cluster are accepted, and garbage-collected with their KafkaCluster', async () => {
    const cr = await createCluster(cluster('solo', { nodePools: [{ name: 'nodes', roles: ['controller', 'broker'], replicas: 1, nodeIdOffset: 7, storage: { type: 'ephemeral', sizeLimit: '5Gi' } }] }));
    const objects = build(cr);
    const applied = await kubectlOk(['apply', '--server-side', '--field-manager=millrace-operator', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
    expectNoWarnings(applied);
    const pod = await until('pod solo-nodes-7', 90_000, async () => {
      const r = await cp.kubectl(['get', '-n', NS, 'pod', 'solo-nodes-7', '-o', 'json']);
      return r.code === 0 ? (JSON.parse(r.stdout) as Pod) : null;
    });
    expect(pod.metadata.labels?.[LABEL_POD_INDEX]).toBe('7');

    await kubectlOk(['delete', '-n', NS, 'kafkacluster', 'solo', '--wait=true']);
    const kinds = 'configmap,statefulset,service,poddisruptionbudget,pod';
    await until('the garbage collector to delete the children of solo', 90_000, async () => {
      const left = await kubectlJson<ListOf<Named>>(['get', '-n', NS, kinds, '-l', `${LABEL_CLUSTER}=solo`]);
      return left.items.length === 0 ? true : null;
    });
  });
});

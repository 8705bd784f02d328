import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { KafkaCluster, KafkaClusterStatus } from '../../../../operator/src/api/kafka-cluster-types.ts';
import { validateKafkaCluster } from '../../../../operator/src/api/validate-kafka-cluster.ts';
import {
  applyFailedStatus,
  childChange,
  childrenToDelete,
  clusterReadiness,
  clusterStatus,
  invalidSpecStatus,
  managedStatusEqual,
  pausedStatus,
  poolReadiness,
  type ObservedStatefulSet,
} from '../../../../operator/src/controllers/cluster-status.ts';
import type { KubeObject } from '../../../../operator/src/runtime/index.ts';
import { buildClusterResources } from '../../../../operator/src/specs/cluster-resources.ts';
import { BROKERS, CONTROLLERS, threeByThree } from '../fixtures.ts';

const T1 = '2026-01-01T00:00:00Z';
const T2 = '2026-01-01T00:05:00Z';

function sts(name: string, opts: { generation?: number; observed?: number; ready?: number } = {}): ObservedStatefulSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, generation: opts.generation ?? 1 },
    status: { ...(opts.observed === undefined ? {} : { observedGeneration: opts.observed }), ...(opts.ready === undefined ? {} : { readyReplicas: opts.ready }) },
  };
}

const withStatus = (cluster: KafkaCluster, status: KafkaClusterStatus | undefined): KafkaCluster => (status === undefined ? cluster : { ...cluster, status });

describe('readiness', () => {
  const cluster = threeByThree();

  it('a pool is ready when its StatefulSet observed its spec and all replicas are ready', () => {
    expect(poolReadiness(cluster, CONTROLLERS, undefined)).toEqual({ pool: 'controllers', ready: false, detail: 'StatefulSet orders-controllers does not exist yet' });
    expect(poolReadiness(cluster, CONTROLLERS, sts('orders-controllers', { generation: 2, observed: 1, ready: 3 }))).toMatchObject({ ready: false, detail: expect.stringContaining('has not observed its latest spec yet (generation 2, observed 1)') as unknown });
    expect(poolReadiness(cluster, CONTROLLERS, sts('orders-controllers', { generation: 2 }))).toMatchObject({ ready: false });
    expect(poolReadiness(cluster, CONTROLLERS, sts('orders-controllers', { generation: 2, observed: 2, ready: 2 }))).toEqual({ pool: 'controllers', ready: false, detail: '2/3 pods ready' });
    expect(poolReadiness(cluster, CONTROLLERS, sts('orders-controllers', { generation: 2, observed: 2, ready: 3 }))).toEqual({ pool: 'controllers', ready: true, detail: '3/3 pods ready' });
    expect(poolReadiness(cluster, CONTROLLERS, sts('orders-controllers', { generation: 2, observed: 2 }))).toEqual({ pool: 'controllers', ready: false, detail: '0/3 pods ready' });
  });

  it('the cluster is ready when every pool is, else PodsNotReady naming the pools that are not', () => {
    const all = new Map([['orders-controllers', sts('orders-controllers', { observed: 1, ready: 3 })], ['orders-brokers', sts('orders-brokers', { observed: 1, ready: 3 })]]);
    expect(clusterReadiness(cluster, all)).toEqual({ ready: true, message: 'every node pool is ready: controllers (3/3 pods ready), brokers (3/3 pods ready)' });
    const some = new Map([['orders-controllers', sts('orders-controllers', { observed: 1, ready: 3 })], ['orders-brokers', sts('orders-brokers', { observed: 1, ready: 1 })]]);
    expect(clusterReadiness(cluster, some)).toEqual({ ready: false, reason: 'PodsNotReady', message: 'node pools not ready: brokers (1/3 pods ready)' });
    expect(clusterReadiness(cluster, new Map())).toMatchObject({ ready: false, message: expect.stringMatching(/^node pools not ready: controllers \(.*\), brokers \(.*\)$/) as unknown });
  });

  it('a pool scaled to zero is ready with no pods', () => {
    const scaled = threeByThree({ nodePools: [CONTROLLERS, { ...BROKERS, replicas: 0 }] });
    expect(poolReadiness(scaled, { ...BROKERS, replicas: 0 }, sts('orders-brokers', { observed: 1 }))).toMatchObject({ ready: true });
  });
});

describe('status', () => {
  const cluster = threeByThree();

  it('a valid cluster: observedGeneration, spec-derived fields, conditions; runningVersion once ready', () => {
    const notReady = clusterStatus(cluster, { ready: false, reason: 'PodsNotReady', message: 'm' }, T1);
    expect(notReady).toMatchObject({
      observedGeneration: 4,
      clusterId: 'bxwqnjtNTl-Ke5wNHi86Sw',
      listeners: [{ name: 'plain', bootstrapServers: 'orders-bootstrap.streaming.svc:9092' }],
      nodePools: [{ name: 'controllers', replicas: 3, nodeIds: [0, 1, 2] }, { name: 'brokers', replicas: 3, nodeIds: [100, 101, 102] }],
    });
    expect(notReady.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`)).toEqual(['Ready=False/PodsNotReady', 'NotReady=True/PodsNotReady']);
    expect('runningVersion' in notReady).toBe(false);

    const ready = clusterStatus(withStatus(cluster, notReady), { ready: true, message: 'ok' }, T2);
    expect(ready.runningVersion).toBe('0.1.0');
    expect(ready.conditions).toEqual([{ type: 'Ready', status: 'True', reason: 'Ready', message: 'ok', lastTransitionTime: T2, observedGeneration: 4 }]);

    // Not ready again (e.g. a new version rolling out): the version that ran is kept.
    const upgrading = { ...withStatus(cluster, ready), spec: { ...cluster.spec, version: '0.2.0' } };
    expect(clusterStatus(upgrading, { ready: false, reason: 'PodsNotReady', message: 'm' }, T2).runningVersion).toBe('0.1.0');
  });

  it('the recorded clusterId wins over the uid-derived one', () => {
    const recorded = withStatus(cluster, { clusterId: 'AAAAAAAAAAAAAAAAAAAAAA' });
    expect(clusterStatus(recorded, { ready: true, message: '' }, T1).clusterId).toBe('AAAAAAAAAAAAAAAAAAAAAA');
  });

  it('an invalid spec: NotReady with the validation reason, the previous deployment fields kept', () => {
    const previous = clusterStatus(cluster, { ready: true, message: 'ok' }, T1);
    const invalid = { ...withStatus(cluster, previous), metadata: { ...cluster.metadata, generation: 5 }, spec: { ...cluster.spec, config: { 'node.id': 3 } } };
    const status = invalidSpecStatus(invalid, validateKafkaCluster(invalid), T2);
    expect(status.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`)).toEqual(['Ready=False/ForbiddenConfigKey', 'NotReady=True/ForbiddenConfigKey']);
    expect(status.conditions[1]?.message).toContain('spec.config["node.id"]');
    expect(status.observedGeneration).toBe(5);
    expect(status.listeners).toEqual(previous.listeners);
    expect(status.nodePools).toEqual(previous.nodePools);
    expect(status.runningVersion).toBe('0.1.0');
  });

  it('a failed apply: NotReady reason ApplyFailed', () => {
    expect(applyFailedStatus(cluster, 'applying StatefulSet x failed: 422', T1).conditions[0]).toMatchObject({ status: 'False', reason: 'ApplyFailed', message: 'applying StatefulSet x failed: 422' });
  });

  it('paused: only ReconciliationPaused; observedGeneration stays at the last reconciled generation', () => {
    const previous = clusterStatus(cluster, { ready: true, message: 'ok' }, T1);
    const edited = { ...withStatus(cluster, previous), metadata: { ...cluster.metadata, generation: 9 } };
    const status = pausedStatus(edited, T2);
    expect(status.conditions.map((c) => c.type)).toEqual(['ReconciliationPaused']);
    expect(status.observedGeneration).toBe(4);
    expect(status.listeners).toEqual(previous.listeners);
    expect(managedStatusEqual(status, pausedStatus(withStatus(edited, status as KafkaClusterStatus), '2030-01-01T00:00:00Z'))).toBe(true);
  });

  it('is a fixed point: recomputed from its own result at a later time, nothing changes (no status write, no hot loop)', () => {
    fc.assert(
      fc.property(fc.constantFrom('ready', 'pods', 'invalid', 'paused'), fc.boolean(), (kind, withPrevious) => {
        const base = withPrevious ? withStatus(cluster, clusterStatus(cluster, { ready: true, message: 'x' }, T1)) : cluster;
        const compute = (c: KafkaCluster, now: string) =>
          kind === 'ready' ? clusterStatus(c, { ready: true, message: 'ok' }, now)
            : kind === 'pods' ? clusterStatus(c, { ready: false, reason: 'PodsNotReady', message: 'm' }, now)
              : kind === 'invalid' ? invalidSpecStatus(c, { valid: false, problems: [{ reason: 'ForbiddenConfigKey', path: 'p', message: 'm' }] }, now)
                : pausedStatus(c, now);
        const first = compute(base, T1);
        const written = withStatus(base, first);
        expect(managedStatusEqual(written.status, compute(written, T2))).toBe(true);
        expect(managedStatusEqual(base.status, first)).toBe(false);
      }),
    );
  });
});

describe('children', () => {
  const cluster = threeByThree();
  const built = buildClusterResources(cluster);
  if (!built.ok) throw new Error('fixture must be valid');
  const uid = cluster.metadata.uid;

  const existing = (kind: string, name: string, ownerUid = uid, extra: Partial<KubeObject['metadata']> = {}): KubeObject => ({
    apiVersion: 'v1',
    kind,
    metadata: { name, namespace: 'streaming', uid: `${name}-uid`, ownerReferences: [{ apiVersion: 'kafka.millrace.dev/v1alpha1', kind: 'KafkaCluster', name: 'orders', uid: ownerUid, controller: true }], ...extra },
  });

  it('deletes owned children the spec no longer produces, and nothing else', () => {
    const live = [
      ...built.objects.map((o) => existing(o.kind, o.metadata.name)),
      existing('StatefulSet', 'orders-extra'),
      existing('ConfigMap', 'orders-extra-config'),
      existing('ConfigMap', 'orders-old-config', 'another-uid'), // a previous incarnation's: not ours
      existing('ConfigMap', 'orders-gone-config', uid, { deletionTimestamp: T1 }), // already going
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'unowned', namespace: 'streaming' } },
      { ...existing('ConfigMap', 'not-controller'), metadata: { ...existing('ConfigMap', 'not-controller').metadata, ownerReferences: [{ apiVersion: 'kafka.millrace.dev/v1alpha1', kind: 'KafkaCluster', name: 'orders', uid, controller: false }] } },
    ];
    expect(childrenToDelete(built.objects, live, uid).map((o) => `${o.kind ?? ''}/${o.metadata.name ?? ''}`)).toEqual(['ConfigMap/orders-extra-config', 'StatefulSet/orders-extra']);
    expect(childrenToDelete(built.objects, built.objects.map((o) => existing(o.kind, o.metadata.name)), uid)).toEqual([]);
  });

  it('matches by kind and name: a Service named like a removed ConfigMap is not spared by it', () => {
    const live = [existing('ConfigMap', 'orders-nodes')];
    expect(childrenToDelete(built.objects, live, uid).map((o) => o.kind)).toEqual(['ConfigMap']);
  });

  it('tells created, updated and unchanged apart, ignoring status-only changes', () => {
    type Child = KubeObject & { spec?: unknown; status?: unknown; data?: unknown };
    const v = (o: Child): Child => o;
    const before: Child = { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 's', uid: 'u1', resourceVersion: '10', labels: { a: '1' } }, spec: { replicas: 3 }, status: { readyReplicas: 0 } };
    expect(childChange(undefined, before)).toBe('created');
    expect(childChange(before, { ...before, metadata: { ...before.metadata, uid: 'u2', resourceVersion: '20' } })).toBe('created');
    expect(childChange(before, before)).toBe('unchanged');
    expect(childChange(before, v({ ...before, metadata: { ...before.metadata, resourceVersion: '11' }, status: { readyReplicas: 3 } }))).toBe('unchanged');
    expect(childChange(before, v({ ...before, metadata: { ...before.metadata, resourceVersion: '12' }, spec: { replicas: 4 } }))).toBe('updated');
    expect(childChange(before, { ...before, metadata: { ...before.metadata, resourceVersion: '13', labels: { a: '2' } } })).toBe('updated');
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', uid: 'u', resourceVersion: '1' }, data: { k: 'v' } };
    expect(childChange(cm, v({ ...cm, metadata: { ...cm.metadata, resourceVersion: '2' }, data: { k: 'w' } }))).toBe('updated');
  });
});

/**
 * The KafkaCluster controller's decisions, as pure functions of the CR and what the caches and the API server
 * returned (no I/O; time enters as a parameter):
 *
 *   poolReadiness / clusterReadiness   Ready when every pool's StatefulSet has observed its current spec
 *                                      (status.observedGeneration == metadata.generation) and reports
 *                                      readyReplicas == the pool's replicas; else PodsNotReady naming the pools.
 *   clusterStatus                      the whole status the controller owns for a valid spec.
 *   invalidSpecStatus / pausedStatus   the status for an invalid spec / a paused cluster: the rest of the
 *                                      previous status is kept (it still describes what is deployed).
 *   childrenToDelete                   owned children (controller reference to this cluster's uid) that the
 *                                      current spec no longer produces, e.g. a removed pool's StatefulSet.
 *   childChange                        created / updated / unchanged, from the object before and after an apply,
 *                                      for "Created StatefulSet x" style Events and logs.
 *   managedStatusEqual                 whether writing the status would change anything.
 */
import type { Condition } from '../api/conditions.ts';
import type { KafkaCluster, KafkaClusterStatus, NodePool } from '../api/kafka-cluster-types.ts';
import { validationCondition, type ValidationResult } from '../api/validate-kafka-cluster.ts';
import type { KubeObject } from '../runtime/index.ts';
import { statefulSetName } from '../specs/metadata.ts';
import { specDerivedStatus } from '../specs/status.ts';
import { ControllerReason, jsonEqual, nextConditions, pausedConditionSpecs, readinessConditionSpecs, type Readiness } from './status-helpers.ts';

/** The parts of a StatefulSet readiness is computed from. */
export interface ObservedStatefulSet extends KubeObject {
  readonly spec?: { readonly replicas?: number };
  readonly status?: {
    readonly observedGeneration?: number;
    readonly replicas?: number;
    readonly readyReplicas?: number;
  };
}

export interface PoolReadiness {
  readonly pool: string;
  readonly ready: boolean;
  /** e.g. "2/3 pods ready". */
  readonly detail: string;
}

export function poolReadiness(cluster: KafkaCluster, pool: NodePool, sts: ObservedStatefulSet | undefined): PoolReadiness {
  const name = statefulSetName(cluster, pool);
  if (sts === undefined) return { pool: pool.name, ready: false, detail: `StatefulSet ${name} does not exist yet` };
  const generation = sts.metadata.generation;
  const observed = sts.status?.observedGeneration;
  if (generation !== undefined && (observed === undefined || observed < generation)) {
    return { pool: pool.name, ready: false, detail: `StatefulSet ${name} has not observed its latest spec yet (generation ${generation}, observed ${observed ?? 'none'})` };
  }
  const ready = sts.status?.readyReplicas ?? 0;
  return { pool: pool.name, ready: ready === pool.replicas, detail: `${ready}/${pool.replicas} pods ready` };
}

/** Ready when every pool is; otherwise PodsNotReady with the pools that are not, in spec order. */
export function clusterReadiness(cluster: KafkaCluster, statefulSets: ReadonlyMap<string, ObservedStatefulSet>): Readiness {
  const pools = cluster.spec.nodePools.map((pool) => poolReadiness(cluster, pool, statefulSets.get(statefulSetName(cluster, pool))));
  const notReady = pools.filter((p) => !p.ready);
  if (notReady.length === 0) {
    return { ready: true, message: `every node pool is ready: ${pools.map((p) => `${p.pool} (${p.detail})`).join(', ')}` };
  }
  return {
    ready: false,
    reason: ControllerReason.PodsNotReady,
    message: `node pools not ready: ${notReady.map((p) => `${p.pool} (${p.detail})`).join(', ')}`,
  };
}

/** The status fields the cluster controller owns (everything in the schema). */
export interface ManagedClusterStatus {
  readonly conditions: readonly Condition[];
  readonly observedGeneration?: number;
  readonly clusterId?: string;
  readonly listeners?: NonNullable<KafkaClusterStatus['listeners']>;
  readonly nodePools?: NonNullable<KafkaClusterStatus['nodePools']>;
  readonly runningVersion?: string;
}

/** T with the properties that may be undefined made optional (and never undefined). */
type Defined<T> =
  & { [K in keyof T as undefined extends T[K] ? never : K]: T[K] }
  & { [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined> };

/** Drops the properties whose value is undefined (exactOptionalPropertyTypes: absent, not undefined). */
const defined = <T extends object>(o: T): Defined<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Defined<T>;

/**
 * Status of a valid, reconciled cluster: observedGeneration, the spec-derived fields (cluster id, bootstrap
 * addresses, pools' replicas and node ids), Ready/NotReady, and runningVersion = spec.version once ready
 * (kept from before while not ready: the pods still run what they ran).
 */
export function clusterStatus(cluster: KafkaCluster, readiness: Readiness, now: string): ManagedClusterStatus {
  const previous = cluster.status;
  const derived = specDerivedStatus(cluster);
  const runningVersion = readiness.ready ? (cluster.spec.version ?? previous?.runningVersion) : previous?.runningVersion;
  return defined({
    conditions: nextConditions(previous?.conditions, readinessConditionSpecs(readiness), cluster.metadata.generation, now),
    observedGeneration: cluster.metadata.generation,
    clusterId: derived.clusterId,
    listeners: derived.listeners,
    nodePools: derived.nodePools,
    runningVersion,
  });
}

/** Status of a spec the operator refuses: NotReady with the first problem's reason and every problem's message. */
export function invalidSpecStatus(cluster: KafkaCluster, validation: ValidationResult, now: string): ManagedClusterStatus {
  const previous = cluster.status;
  const condition = validationCondition(validation, cluster.metadata.generation, new Date(now));
  const readiness: Readiness = condition === null
    ? { ready: false, reason: 'InvalidSpec', message: 'the spec is invalid' }
    : { ready: false, reason: condition.reason, message: condition.message };
  return defined({
    ...keptStatus(previous),
    conditions: nextConditions(previous?.conditions, readinessConditionSpecs(readiness), cluster.metadata.generation, now),
    observedGeneration: cluster.metadata.generation,
    clusterId: specDerivedStatus(cluster).clusterId,
  });
}

/** Status of a failed apply: NotReady reason ApplyFailed; the rest as for a valid spec. */
export function applyFailedStatus(cluster: KafkaCluster, message: string, now: string): ManagedClusterStatus {
  return clusterStatus(cluster, { ready: false, reason: ControllerReason.ApplyFailed, message }, now);
}

/** Status of a paused cluster: only ReconciliationPaused; observedGeneration and the rest stay as they were. */
export function pausedStatus(cluster: KafkaCluster, now: string): ManagedClusterStatus {
  const previous = cluster.status;
  return defined({
    ...keptStatus(previous),
    observedGeneration: previous?.observedGeneration,
    clusterId: previous?.clusterId,
    conditions: nextConditions(previous?.conditions, pausedConditionSpecs('KafkaCluster'), cluster.metadata.generation, now),
  });
}

function keptStatus(previous: KafkaClusterStatus | undefined): Pick<ManagedClusterStatus, 'listeners' | 'nodePools' | 'runningVersion'> {
  return defined({ listeners: previous?.listeners, nodePools: previous?.nodePools, runningVersion: previous?.runningVersion });
}

/** Whether `current` already holds `desired` (the fields the controller owns), so no write is needed. */
export function managedStatusEqual(current: KafkaClusterStatus | undefined, desired: ManagedClusterStatus): boolean {
  const c = current ?? {};
  const pick = (s: Partial<ManagedClusterStatus>) => defined({
    conditions: s.conditions ?? [],
    observedGeneration: s.observedGeneration,
    clusterId: s.clusterId,
    listeners: s.listeners,
    nodePools: s.nodePools,
    runningVersion: s.runningVersion,
  });
  return jsonEqual(pick(c), pick(desired));
}

// ---------------------------------------------------------------------------------------------------------
// Children

/** kind/name: how desired and existing children are matched (all children live in the cluster's namespace). */
export const childId = (obj: KubeObject): string => `${obj.kind ?? ''}/${obj.metadata.name ?? ''}`;

/** True when `obj` has a controller reference to the KafkaCluster with this uid. */
export function isControlledBy(obj: KubeObject, ownerUid: string): boolean {
  return (obj.metadata.ownerReferences ?? []).some((r) => r.controller === true && r.uid === ownerUid);
}

/**
 * The existing children to delete: controlled by this cluster (by uid, so a same-named cluster re-created
 * meanwhile is never touched), not produced by the current spec, and not already being deleted.
 */
export function childrenToDelete(desired: readonly KubeObject[], existing: readonly KubeObject[], ownerUid: string): KubeObject[] {
  const wanted = new Set(desired.map(childId));
  return existing
    .filter((obj) => isControlledBy(obj, ownerUid) && !wanted.has(childId(obj)) && obj.metadata.deletionTimestamp === undefined)
    .sort((a, b) => (childId(a) < childId(b) ? -1 : childId(a) > childId(b) ? 1 : 0));
}

export type ChildChange = 'created' | 'updated' | 'unchanged';

/** The parts of a child the operator writes (status and bookkeeping excluded). */
function content(obj: KubeObject): unknown {
  const o = obj as KubeObject & { spec?: unknown; data?: unknown };
  return { labels: o.metadata.labels ?? {}, annotations: o.metadata.annotations ?? {}, ownerReferences: o.metadata.ownerReferences ?? [], spec: o.spec, data: o.data };
}

/**
 * What an apply did, from the object before (the cache; undefined when absent) and the one the API server
 * returned. Unchanged when the resourceVersion is the same, or when only fields the operator does not write
 * changed (status, managedFields): a cache a little behind the server never reads as an update.
 */
export function childChange(before: KubeObject | undefined, after: KubeObject): ChildChange {
  if (before === undefined || before.metadata.uid !== after.metadata.uid) return 'created';
  if (before.metadata.resourceVersion === after.metadata.resourceVersion) return 'unchanged';
  return jsonEqual(content(before), content(after)) ? 'unchanged' : 'updated';
}

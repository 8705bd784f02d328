/**
 * Pure helpers shared by both controllers: the condition set they write, semantic equality of statuses (so a
 * status is written only when it changes), Kafka error names as condition reasons, and finalizer patches.
 *
 * Condition model (both kinds, Strimzi's shape plus a Ready that is always present):
 *   ready        [Ready=True  reason Ready]
 *   not ready    [Ready=False reason R, NotReady=True reason R]   (same reason and message on both)
 *   paused       [ReconciliationPaused=True]                      (nothing else: nothing was reconciled)
 * Ready is always present outside a pause, so `kubectl wait --for=condition=Ready` and the Ready printer
 * column work; NotReady=True carries the reason as Strimzi's users expect. lastTransitionTime is kept while a
 * condition's status holds (upsertCondition), so an unchanged state yields an equal status and no write.
 */
import { ConditionReason, upsertCondition, type Condition, type ConditionStatus, type ConditionType } from '../api/conditions.ts';

/** Condition reasons of the controllers, beyond the API's ConditionReason (validation and lifecycle). */
export const ControllerReason = {
  /** KafkaCluster: some pool's pods are not all Ready (or its StatefulSet has not observed the spec yet). */
  PodsNotReady: 'PodsNotReady',
  /** KafkaCluster: the API server refused a child object (message: which and why). */
  ApplyFailed: 'ApplyFailed',
  /** KafkaTopic: the KafkaCluster named by the cluster label does not exist in the namespace. */
  ClusterNotFound: 'ClusterNotFound',
  /** KafkaTopic: the KafkaCluster has no bootstrap address yet (status.listeners), or is being deleted. */
  ClusterNotReady: 'ClusterNotReady',
} as const;

/** What a reconcile concluded, before it becomes conditions. */
export type Readiness =
  | { readonly ready: true; readonly message: string }
  | { readonly ready: false; readonly reason: string; readonly message: string };

export interface ConditionSpec {
  readonly type: ConditionType;
  readonly status: ConditionStatus;
  readonly reason: string;
  readonly message: string;
}

/**
 * The conditions to write: exactly `desired`, in that order, each with the lastTransitionTime of the previous
 * condition of its type when the status did not change (else `now`). Types not in `desired` are dropped.
 */
export function nextConditions(previous: readonly Condition[] | undefined, desired: readonly ConditionSpec[], generation: number | undefined, now: string): Condition[] {
  const before = previous ?? [];
  return desired.map((d) => {
    const next: Condition = { ...d, lastTransitionTime: now, ...(generation === undefined ? {} : { observedGeneration: generation }) };
    const merged = upsertCondition(before, next).find((c) => c.type === d.type);
    return merged ?? next;
  });
}

/** The condition specs of a readiness result (see the model above). */
export function readinessConditionSpecs(readiness: Readiness): ConditionSpec[] {
  if (readiness.ready) return [{ type: 'Ready', status: 'True', reason: ConditionReason.Ready, message: readiness.message }];
  return [
    { type: 'Ready', status: 'False', reason: readiness.reason, message: readiness.message },
    { type: 'NotReady', status: 'True', reason: readiness.reason, message: readiness.message },
  ];
}

export function pausedConditionSpecs(kind: string): ConditionSpec[] {
  return [{
    type: 'ReconciliationPaused',
    status: 'True',
    reason: ConditionReason.ReconciliationPaused,
    message: `the ${kind} has the pause-reconciliation annotation set to "true": the operator changes nothing until it is removed`,
  }];
}

/** True when the conditions say the object is paused (the last status written while paused). */
export function isPausedStatus(conditions: readonly Condition[] | undefined): boolean {
  return (conditions ?? []).some((c) => c.type === 'ReconciliationPaused' && c.status === 'True');
}

/** The Ready condition's status, or undefined. */
export function readyStatus(conditions: readonly Condition[] | undefined): ConditionStatus | undefined {
  return (conditions ?? []).find((c) => c.type === 'Ready')?.status;
}

/**
 * JSON equality ignoring key order; properties whose value is undefined count as absent (as after a JSON
 * round trip through the API server).
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra).filter((k) => ra[k] !== undefined);
  const kb = Object.keys(rb).filter((k) => rb[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(rb, k) && jsonEqual(ra[k], rb[k]));
}

/** UNKNOWN_TOPIC_OR_PARTITION -> UnknownTopicOrPartition: a Kafka error name as an UpperCamelCase condition reason. */
export function kafkaErrorReason(errorName: string): string {
  const words = errorName.split(/[^A-Za-z0-9]+/).filter((w) => w !== '');
  const reason = words.map((w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase()).join('');
  return /^[A-Za-z]/.test(reason) ? reason : `Kafka${reason}`;
}

/** A JSON patch (RFC 6902) op. */
export type JsonPatchOp =
  | { readonly op: 'test' | 'add' | 'replace'; readonly path: string; readonly value: unknown }
  | { readonly op: 'remove'; readonly path: string };

/**
 * The JSON patch that adds `finalizer`, or null when present. It tests what it read first (the list, or the
 * resourceVersion when there is no list), so a concurrent change makes the patch fail instead of losing
 * someone else's finalizer; the reconcile is then retried with fresh data.
 */
export function addFinalizerPatch(current: readonly string[] | undefined, resourceVersion: string | undefined, finalizer: string): JsonPatchOp[] | null {
  if (current?.includes(finalizer) === true) return null;
  if (current === undefined || current.length === 0) {
    const guard: JsonPatchOp[] = resourceVersion === undefined ? [] : [{ op: 'test', path: '/metadata/resourceVersion', value: resourceVersion }];
    return [...guard, { op: 'add', path: '/metadata/finalizers', value: [finalizer] }];
  }
  return [{ op: 'test', path: '/metadata/finalizers', value: current }, { op: 'add', path: '/metadata/finalizers/-', value: finalizer }];
}

/** The JSON patch that removes `finalizer`, or null when absent (tests the list it read first). */
export function removeFinalizerPatch(current: readonly string[] | undefined, finalizer: string): JsonPatchOp[] | null {
  if (current?.includes(finalizer) !== true) return null;
  return [{ op: 'test', path: '/metadata/finalizers', value: current }, { op: 'replace', path: '/metadata/finalizers', value: current.filter((f) => f !== finalizer) }];
}

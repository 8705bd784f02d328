/**
 * Status conditions shared by both kinds. Types follow Strimzi (Ready / NotReady / Warning /
 * ReconciliationPaused, each with status "True"), because users compare with it; reasons are constants so
 * that alerts and tests match on them rather than on message text.
 */
export type ConditionType = 'Ready' | 'NotReady' | 'Warning' | 'ReconciliationPaused';
export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  readonly type: ConditionType;
  readonly status: ConditionStatus;
  /** UpperCamelCase, one of ConditionReason. */
  readonly reason: string;
  readonly message: string;
  /** RFC 3339 time of the last status change of this condition type. */
  readonly lastTransitionTime: string;
  readonly observedGeneration?: number;
}

export const ConditionReason = {
  // KafkaCluster spec problems (validateKafkaCluster)
  InvalidSpec: 'InvalidSpec',
  ForbiddenConfigKey: 'ForbiddenConfigKey',
  UnknownConfigKey: 'UnknownConfigKey',
  InvalidConfigValue: 'InvalidConfigValue',
  NoControllerPool: 'NoControllerPool',
  NoBrokerPool: 'NoBrokerPool',
  DuplicatePoolName: 'DuplicatePoolName',
  NodeIdOverlap: 'NodeIdOverlap',
  InvalidStorage: 'InvalidStorage',
  InvalidListener: 'InvalidListener',
  InvalidName: 'InvalidName',
  // Lifecycle
  ReconciliationPaused: 'ReconciliationPaused',
  Ready: 'Ready',
  // KafkaTopic
  NotSupported: 'NotSupported',
  ResourceConflict: 'ResourceConflict',
} as const;
export type ConditionReason = (typeof ConditionReason)[keyof typeof ConditionReason];

/**
 * Sets `next` in a condition list (one entry per type): a new type is appended, an existing one replaced, and
 * its lastTransitionTime kept when the status did not change (Kubernetes' meta.SetStatusCondition rule).
 */
export function upsertCondition(conditions: readonly Condition[], next: Condition): Condition[] {
  const current = conditions.find((c) => c.type === next.type);
  if (current === undefined) return [...conditions, next];
  const merged = current.status === next.status ? { ...next, lastTransitionTime: current.lastTransitionTime } : next;
  return conditions.map((c) => (c.type === next.type ? merged : c));
}

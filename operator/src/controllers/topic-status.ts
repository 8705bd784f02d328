/**
 * The KafkaTopic controller's decisions, as pure functions (no I/O; time enters as a parameter):
 *
 *   defaultBootstrapFor     the cluster's first listener's bootstrap servers from its status, or null
 *   deletionDecision        what to do with a KafkaTopic being deleted: nothing (no finalizer of ours),
 *                           release (remove the finalizer, leave the Kafka topic), or delete the Kafka topic
 *                           and then release
 *   deletionGivenUp         whether a deletion that keeps failing has waited long enough to release anyway
 *   planReadiness           Ready, or NotReady with the Kafka error / NotSupported problems of a pass
 *   topicStatus / pausedTopicStatus / managedTopicStatusEqual   the status the controller owns
 */
import type { Condition } from '../api/conditions.ts';
import { ANNOTATION_PAUSE_RECONCILIATION, ANNOTATION_TOPIC_UNMANAGED, API_GROUP, LABEL_CLUSTER } from '../api/constants.ts';
import type { KafkaCluster } from '../api/kafka-cluster-types.ts';
import { effectiveTopicName, type KafkaTopic, type KafkaTopicStatus } from '../api/kafka-topic-types.ts';
import type { TopicPlan } from '../topic/plan.ts';
import type { KubeObject } from '../runtime/index.ts';
import { jsonEqual, kafkaErrorReason, nextConditions, pausedConditionSpecs, readinessConditionSpecs, type Readiness } from './status-helpers.ts';

/** On a KafkaTopic while the operator manages its Kafka topic: deleting the resource deletes the topic first. */
export const TOPIC_FINALIZER = `${API_GROUP}/topic-finalizer`;

/** How long a deletion may keep failing (cluster unreachable) before the finalizer is removed anyway. */
export const DELETION_TIMEOUT_MS_DEFAULT = 5 * 60_000;

/** `host:port` entries of the cluster's first listener (status.listeners[0].bootstrapServers), or null. */
export function defaultBootstrapFor(cluster: KafkaCluster): string[] | null {
  const servers = (cluster.status?.listeners?.[0]?.bootstrapServers ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  return servers.length === 0 ? null : servers;
}

const annotationTrue = (obj: KubeObject, annotation: string): boolean => obj.metadata.annotations?.[annotation]?.toLowerCase() === 'true';
export const isUnmanaged = (topic: KubeObject): boolean => annotationTrue(topic, ANNOTATION_TOPIC_UNMANAGED);
export const isPaused = (obj: KubeObject): boolean => annotationTrue(obj, ANNOTATION_PAUSE_RECONCILIATION);
export const hasFinalizer = (obj: KubeObject, finalizer = TOPIC_FINALIZER): boolean => obj.metadata.finalizers?.includes(finalizer) === true;
export const isDeleting = (obj: KubeObject): boolean => obj.metadata.deletionTimestamp !== undefined;

/** The KafkaTopic's cluster label value, or undefined. */
export const clusterNameOf = (topic: KubeObject): string | undefined => {
  const name = topic.metadata.labels?.[LABEL_CLUSTER];
  return name === undefined || name === '' ? undefined : name;
};

export type DeletionDecision =
  | { readonly action: 'none' }
  /** Remove the finalizer and leave the Kafka topic; warning: report it as a Warning Event. */
  | { readonly action: 'release'; readonly message: string; readonly warning: boolean }
  /** DeleteTopics(topicName) on the cluster, then remove the finalizer; bootstrap null: no address known yet. */
  | { readonly action: 'delete-topic'; readonly topicName: string; readonly bootstrap: readonly string[] | null };

export interface DeletionInput {
  readonly topic: KafkaTopic & { readonly metadata: { readonly finalizers?: readonly string[]; readonly annotations?: Readonly<Record<string, string>> } };
  /** The KafkaCluster named by the label (undefined when absent). */
  readonly cluster: (KafkaCluster & { readonly metadata: { readonly deletionTimestamp?: string } }) | undefined;
  /** Bootstrap servers of that cluster (null: none known). */
  readonly bootstrap: readonly string[] | null;
  /** Other KafkaTopics, not being deleted, of the same cluster naming the same Kafka topic. */
  readonly otherClaimants: readonly KafkaTopic[];
  /** Whether the topic name is one Kafka accepts (an invalid one was never created). */
  readonly validName: boolean;
}

export function deletionDecision(input: DeletionInput): DeletionDecision {
  const { topic, cluster } = input;
  if (!hasFinalizer(topic)) return { action: 'none' };
  const topicName = effectiveTopicName(topic);
  const quoted = JSON.stringify(topicName);
  if (isUnmanaged(topic)) return { action: 'release', message: `Kafka topic ${quoted} left in place: the KafkaTopic has the unmanaged annotation`, warning: false };
  if (isPaused(topic)) return { action: 'release', message: `Kafka topic ${quoted} left in place: reconciliation of the KafkaTopic is paused`, warning: false };
  if (!input.validName) return { action: 'release', message: `nothing to delete: ${quoted} is not a valid Kafka topic name`, warning: false };
  const other = input.otherClaimants[0];
  if (other !== undefined) {
    return { action: 'release', message: `Kafka topic ${quoted} left in place: the KafkaTopic ${other.metadata.namespace}/${other.metadata.name} still declares it`, warning: false };
  }
  const clusterName = clusterNameOf(topic) ?? '';
  if (cluster === undefined) {
    return { action: 'release', message: `the KafkaCluster ${JSON.stringify(clusterName)} does not exist, so Kafka topic ${quoted} cannot be deleted (it went with its cluster)`, warning: true };
  }
  if (cluster.metadata.deletionTimestamp !== undefined) {
    return { action: 'release', message: `the KafkaCluster ${JSON.stringify(clusterName)} is being deleted, so Kafka topic ${quoted} goes with it`, warning: true };
  }
  return { action: 'delete-topic', topicName, bootstrap: input.bootstrap };
}

/** True when the deletion started `timeoutMs` or more ago (or its time is unreadable). */
export function deletionGivenUp(deletionTimestamp: string | undefined, nowMs: number, timeoutMs: number): boolean {
  if (deletionTimestamp === undefined) return false;
  const started = Date.parse(deletionTimestamp);
  return Number.isNaN(started) || nowMs - started >= timeoutMs;
}

/** A failed Kafka call as a readiness: the reason is the Kafka error name in UpperCamelCase. */
export function kafkaErrorReadiness(error: { readonly errorName: string; readonly message: string }): Readiness {
  return { ready: false, reason: kafkaErrorReason(error.errorName), message: error.message };
}

/**
 * The outcome of a pass: the first failed action's Kafka error, else the plan's problems (NotSupported:
 * partition decrease, replication factor change), else Ready.
 */
export function planReadiness(topicName: string, plan: TopicPlan, failure: { readonly errorName: string; readonly message: string } | undefined, spec: KafkaTopic['spec']): Readiness {
  if (failure !== undefined) return kafkaErrorReadiness(failure);
  const first = plan.problems[0];
  if (first !== undefined) return { ready: false, reason: first.reason, message: plan.problems.map((p) => `${p.path}: ${p.message}`).join('; ') };
  const configs = Object.keys(spec.config ?? {}).length;
  return {
    ready: true,
    message: `Kafka topic ${JSON.stringify(topicName)} has ${spec.partitions} partition(s), replication factor ${spec.replicas}`
      + (configs === 0 ? ' and no config overrides' : ` and the ${configs} config override(s) of the spec`),
  };
}

/** The status fields the topic controller owns. */
export interface ManagedTopicStatus {
  readonly conditions: readonly Condition[];
  readonly observedGeneration?: number;
  readonly topicName?: string;
  readonly topicId?: string;
}

/** Status after a pass: observedGeneration, topicName, topicId (kept from before when not known now), conditions. */
export function topicStatus(topic: KafkaTopic, readiness: Readiness, topicId: string | null | undefined, now: string): ManagedTopicStatus {
  const previous = topic.status;
  const id = topicId === null ? undefined : (topicId ?? previous?.topicId);
  return {
    conditions: nextConditions(previous?.conditions, readinessConditionSpecs(readiness), topic.metadata.generation, now),
    ...(topic.metadata.generation === undefined ? {} : { observedGeneration: topic.metadata.generation }),
    topicName: effectiveTopicName(topic),
    ...(id === undefined ? {} : { topicId: id }),
  };
}

/** Status of a paused KafkaTopic: only ReconciliationPaused; the rest as before. */
export function pausedTopicStatus(topic: KafkaTopic, now: string): ManagedTopicStatus {
  const previous = topic.status;
  return {
    conditions: nextConditions(previous?.conditions, pausedConditionSpecs('KafkaTopic'), topic.metadata.generation, now),
    ...(previous?.observedGeneration === undefined ? {} : { observedGeneration: previous.observedGeneration }),
    ...(previous?.topicName === undefined ? {} : { topicName: previous.topicName }),
    ...(previous?.topicId === undefined ? {} : { topicId: previous.topicId }),
  };
}

export function managedTopicStatusEqual(current: KafkaTopicStatus | undefined, desired: ManagedTopicStatus): boolean {
  const pick = (s: Partial<ManagedTopicStatus> | undefined) => ({
    conditions: s?.conditions ?? [],
    observedGeneration: s?.observedGeneration,
    topicName: s?.topicName,
    topicId: s?.topicId,
  });
  return jsonEqual(pick(current), pick(desired));
}

/** A readiness for the cases that stop a pass before any Kafka call. */
export const notReady = (reason: string, message: string): Readiness => ({ ready: false, reason, message });

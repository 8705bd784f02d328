/**
 * KafkaTopic (kafka.millrace.dev/v1alpha1): one Kafka topic of the KafkaCluster named by the
 * `kafka.millrace.dev/cluster` label (LABEL_CLUSTER). The schema is kafka-topic-schema.ts.
 */
import type { API_GROUP_VERSION, KIND_KAFKA_TOPIC } from './constants.ts';
import type { Condition } from './conditions.ts';
import type { ConfigScalar, ObjectMeta } from './object-meta.ts';

export interface KafkaTopicSpec {
  /** The Kafka topic name; defaults to metadata.name (which cannot hold upper case or '_'). Immutable. */
  readonly topicName?: string;
  /** Can grow (CreatePartitions); a decrease is reported as Ready=False, reason NotSupported. */
  readonly partitions: number;
  readonly replicas: number;
  /** Topic config (retention.ms, cleanup.policy, ...). */
  readonly config?: Readonly<Record<string, ConfigScalar>>;
}

export interface KafkaTopicStatus {
  readonly conditions?: readonly Condition[];
  readonly observedGeneration?: number;
  readonly topicName?: string;
  readonly topicId?: string;
}

export interface KafkaTopic {
  readonly apiVersion: typeof API_GROUP_VERSION;
  readonly kind: typeof KIND_KAFKA_TOPIC;
  readonly metadata: ObjectMeta;
  readonly spec: KafkaTopicSpec;
  readonly status?: KafkaTopicStatus;
}

/** The Kafka topic name a KafkaTopic stands for. */
export function effectiveTopicName(topic: Pick<KafkaTopic, 'metadata' | 'spec'>): string {
  return topic.spec.topicName ?? topic.metadata.name;
}

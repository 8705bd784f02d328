/**
 * Checks of a KafkaTopic that need broker knowledge: the cluster label, the topic name Kafka accepts, and the
 * topic config validated by the broker's own CreateTopics code (validateTopicConfigs), so a KafkaTopic the
 * broker would refuse is reported before any admin call. Cluster-dependent checks (replicas <= brokers,
 * partition decreases, two resources for one topic) belong to the topic controller.
 */
import { validateTopicConfigs } from '../../../broker/src/config/topic-config.ts';
import { LABEL_CLUSTER } from './constants.ts';
import { ConditionReason } from './conditions.ts';
import { effectiveTopicName, type KafkaTopic } from './kafka-topic-types.ts';
import { TOPIC_NAME_PATTERN } from './kafka-topic-schema.ts';
import { configValueString, type ValidationProblem, type ValidationResult } from './validate-kafka-cluster.ts';

/** The same pattern the CRD enforces on spec.topicName; checked here too because metadata.name is the default. */
const TOPIC_NAME = new RegExp(TOPIC_NAME_PATTERN);

export function validateKafkaTopic(topic: KafkaTopic): ValidationResult {
  const problems: ValidationProblem[] = [];
  const cluster = topic.metadata.labels?.[LABEL_CLUSTER];
  if (cluster === undefined || cluster === '') {
    problems.push({ reason: ConditionReason.InvalidSpec, path: `metadata.labels["${LABEL_CLUSTER}"]`, message: `the ${LABEL_CLUSTER} label must name the KafkaCluster` });
  }
  const name = effectiveTopicName(topic);
  if (!TOPIC_NAME.test(name) || name === '.' || name === '..') {
    problems.push({ reason: ConditionReason.InvalidName, path: 'spec.topicName', message: `${JSON.stringify(name)} is not a valid Kafka topic name (1-249 of a-z A-Z 0-9 . _ -, not "." or "..")` });
  }
  if (!Number.isInteger(topic.spec.partitions) || topic.spec.partitions < 1) {
    problems.push({ reason: ConditionReason.InvalidSpec, path: 'spec.partitions', message: 'partitions must be a positive integer' });
  }
  if (!Number.isInteger(topic.spec.replicas) || topic.spec.replicas < 1 || topic.spec.replicas > 32_767) {
    problems.push({ reason: ConditionReason.InvalidSpec, path: 'spec.replicas', message: 'replicas must be an integer from 1 to 32767' });
  }
  const entries: [string, string][] = [];
  for (const key of Object.keys(topic.spec.config ?? {}).sort()) {
    const value = configValueString(topic.spec.config?.[key]);
    if (value === null) {
      problems.push({ reason: ConditionReason.InvalidConfigValue, path: `spec.config[${JSON.stringify(key)}]`, message: `${key} must be a string, number or boolean` });
    } else {
      entries.push([key, value]);
    }
  }
  const checked = validateTopicConfigs(entries);
  if (!checked.ok) problems.push({ reason: ConditionReason.InvalidConfigValue, path: 'spec.config', message: checked.errorMessage });
  return { valid: problems.length === 0, problems };
}

/**
 * OpenAPI schema, CEL rules and printer columns of the KafkaTopic CRD: the single source of
 * crds/kafkatopic.yaml. Partition decreases are not refused here but reported by the topic controller
 * (Ready=False, reason NotSupported), so that the spec a user wrote stays visible next to the reason.
 */
import { API_GROUP, KIND_KAFKA_TOPIC, LABEL_CLUSTER } from './constants.ts';
import { CONDITIONS_SCHEMA, configMap, int, obj, str, type JsonSchema, type PrinterColumn } from './openapi.ts';

/** Kafka's own limits: 249 characters of [a-zA-Z0-9._-], not "." or "..". */
export const TOPIC_NAME_PATTERN = '^[a-zA-Z0-9._-]{1,249}$';
export const TOPIC_CONFIG_KEYS_MAX = 128;

const specSchema = obj('Desired state of the topic.', {
  topicName: str('Kafka topic name; defaults to metadata.name. Immutable.', { pattern: TOPIC_NAME_PATTERN, maxLength: 249 }),
  partitions: int('Number of partitions; can only grow.', { minimum: 1, maximum: 100_000 }),
  replicas: int('Replication factor.', { minimum: 1, maximum: 32_767 }),
  config: configMap('Topic config (retention.ms, cleanup.policy, ...).', TOPIC_CONFIG_KEYS_MAX),
}, ['partitions', 'replicas'], {
  'x-kubernetes-validations': [
    {
      rule: '(has(self.topicName) ? self.topicName : \'\') == (has(oldSelf.topicName) ? oldSelf.topicName : \'\')',
      message: 'spec.topicName is immutable (it cannot be set, changed or removed after creation)',
    },
    { rule: '!has(self.topicName) || (self.topicName != \'.\' && self.topicName != \'..\')', message: 'topic name cannot be "." or ".."' },
  ],
});

const statusSchema = obj('Observed state, written by the operator.', {
  conditions: CONDITIONS_SCHEMA,
  observedGeneration: int('metadata.generation last reconciled.', { minimum: 0 }),
  topicName: str('Kafka topic name.'),
  topicId: str('Kafka topic id (base64 UUID).'),
});

export const KAFKA_TOPIC_SCHEMA: JsonSchema = obj(`A Kafka topic of the KafkaCluster named by the ${LABEL_CLUSTER} label.`, {
  apiVersion: str('APIVersion of the object.'),
  kind: str('Kind of the object.'),
  metadata: { type: 'object' },
  spec: specSchema,
  status: statusSchema,
}, ['spec']);

export const KAFKA_TOPIC_PRINTER_COLUMNS: readonly PrinterColumn[] = [
  { name: 'Cluster', type: 'string', jsonPath: `.metadata.labels.${LABEL_CLUSTER.replaceAll('.', '\\.')}` },
  { name: 'Topic', type: 'string', jsonPath: '.status.topicName', priority: 1 },
  { name: 'Partitions', type: 'integer', jsonPath: '.spec.partitions' },
  { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas' },
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
];

export const KAFKA_TOPIC_NAMES = {
  kind: KIND_KAFKA_TOPIC,
  listKind: `${KIND_KAFKA_TOPIC}List`,
  plural: 'kafkatopics',
  singular: 'kafkatopic',
  shortNames: ['kt'],
  categories: ['millrace', 'kafka'],
} as const;

export const KAFKA_TOPIC_CRD_NAME = `${KAFKA_TOPIC_NAMES.plural}.${API_GROUP}`;

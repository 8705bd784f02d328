/**
 * Names shared by the CRDs, the builders and (later) the controllers: API group, labels, annotations, ports.
 * Changing any of these is a breaking change for running clusters (selectors and DNS names depend on them).
 */
export const API_GROUP = 'kafka.millrace.dev';
export const API_VERSION = 'v1alpha1';
export const API_GROUP_VERSION = `${API_GROUP}/${API_VERSION}`;

export const KIND_KAFKA_CLUSTER = 'KafkaCluster';
export const KIND_KAFKA_TOPIC = 'KafkaTopic';

/** On every child object and pod, and on KafkaTopics: the KafkaCluster it belongs to. */
export const LABEL_CLUSTER = `${API_GROUP}/cluster`;
/** On pool children and pods: the node pool name. */
export const LABEL_POOL = `${API_GROUP}/pool`;
/** "true" on pods of pools with the broker role (the bootstrap Service selects them). */
export const LABEL_BROKER_ROLE = `${API_GROUP}/broker-role`;
/** "true" on pods of pools with the controller role. */
export const LABEL_CONTROLLER_ROLE = `${API_GROUP}/controller-role`;
/** Kubernetes 1.28+ puts the pod ordinal on every StatefulSet pod; node.id is read from it. */
export const LABEL_POD_INDEX = 'apps.kubernetes.io/pod-index';

/** "true" on a KafkaCluster or KafkaTopic: the operator leaves it alone and sets ReconciliationPaused. */
export const ANNOTATION_PAUSE_RECONCILIATION = `${API_GROUP}/pause-reconciliation`;
/** "true" on a pod (one pod) or a KafkaCluster (every pod): the roller restarts it. */
export const ANNOTATION_MANUAL_ROLLING_UPDATE = `${API_GROUP}/manual-rolling-update`;
/** "true" on a KafkaTopic: deleting the resource leaves the Kafka topic in place. */
export const ANNOTATION_TOPIC_UNMANAGED = `${API_GROUP}/unmanaged`;
/** On the pod template: hash of the rendered server.properties, so a config change is a new revision. */
export const ANNOTATION_CONFIG_HASH = `${API_GROUP}/config-hash`;

export const OPERATOR_NAME = 'millrace-operator';

/** Ports the operator owns; client listeners must use other ports. */
export const REPLICATION_PORT = 9091;
export const CONTROLLER_PORT = 9093;
export const ADMIN_HTTP_PORT = 9644;
export const REPLICATION_LISTENER_NAME = 'REPLICATION';
export const CONTROLLER_LISTENER_NAME = 'CONTROLLER';

/** Paths inside the broker container. */
export const CONFIG_MOUNT_PATH = '/etc/millrace';
export const CONFIG_FILE_NAME = 'server.properties';
export const DATA_MOUNT_PATH = '/var/lib/millrace';
/** A subdirectory, because the root of a fresh volume may hold lost+found. */
export const LOG_DIR = `${DATA_MOUNT_PATH}/kafka-log`;

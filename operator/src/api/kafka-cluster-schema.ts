/**
 * OpenAPI schema, CEL rules and printer columns of the KafkaCluster CRD: the single source of
 * crds/kafkacluster.yaml (written by operator/tools/gen-crds.ts).
 *
 * CEL is used for what only the API server can see (transition rules comparing with oldSelf) and for cheap
 * shape checks; everything that needs broker knowledge (config keys and values, node id overlaps, name
 * lengths) is in validateKafkaCluster, which reports a NotReady condition. Every list and map a rule walks has
 * maxItems / maxProperties so the API server's CEL cost estimate stays bounded.
 *
 * No scale subresource: a CRD's scale subresource needs one specReplicasPath without array indices, and pools
 * are list entries here. `kubectl scale` support needs pools as their own kind (a future KafkaNodePool).
 */
import { API_GROUP, KIND_KAFKA_CLUSTER } from './constants.ts';
import { LISTENER_TYPES, NODE_ROLES, STORAGE_TYPES } from './kafka-cluster-types.ts';
import { arr, bool, CONDITIONS_SCHEMA, configMap, int, obj, quantity, str, type JsonSchema, type PrinterColumn } from './openapi.ts';

export const NODE_POOLS_MAX = 16;
export const LISTENERS_MAX = 8;
export const REPLICAS_MAX = 1000;
export const NODE_ID_MAX = 1_000_000;
export const CONFIG_KEYS_MAX = 256;

const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

const storageSchema = obj('Storage of the pool\'s log directory.', {
  type: str('ephemeral (emptyDir, lost when the pod goes) or persistent-claim (a PVC per pod). Immutable.', {
    enum: [...STORAGE_TYPES],
    'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'storage.type is immutable' }],
  }),
  size: str('persistent-claim: size of each PVC, e.g. 100Gi.', { pattern: '^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$', maxLength: 32 }),
  class: str('persistent-claim: StorageClass name; the default class when omitted. Immutable.', {
    maxLength: 253,
    'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'storage.class is immutable' }],
  }),
  deleteClaim: bool('persistent-claim: delete the PVCs when the KafkaCluster is deleted (default false).'),
  sizeLimit: str('ephemeral: sizeLimit of the emptyDir, e.g. 5Gi.', { pattern: '^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$', maxLength: 32 }),
}, ['type'], {
  'x-kubernetes-validations': [
    { rule: 'self.type != \'persistent-claim\' || has(self.size)', message: 'persistent-claim storage needs size', reason: 'FieldValueRequired' },
    { rule: 'self.type == \'persistent-claim\' || (!has(self.size) && !has(self.class) && !has(self.deleteClaim))', message: 'size, class and deleteClaim apply to persistent-claim storage only' },
    { rule: 'self.type == \'ephemeral\' || !has(self.sizeLimit)', message: 'sizeLimit applies to ephemeral storage only' },
    { rule: 'has(self.class) == has(oldSelf.class)', message: 'storage.class is immutable' },
  ],
});

const resourceList = (description: string): JsonSchema => ({
  type: 'object',
  description,
  maxProperties: 16,
  additionalProperties: quantity('A quantity.'),
});

const nodePoolSchema = obj('A group of nodes with the same roles, storage and resources (one StatefulSet).', {
  name: str('Pool name (DNS label); pods are <cluster>-<name>-<nodeId>.', { pattern: DNS_LABEL, maxLength: 20 }),
  roles: arr('broker, controller, or both (combined mode). Immutable.', str('A role.', { enum: [...NODE_ROLES] }), {
    minItems: 1,
    maxItems: 2,
    'x-kubernetes-list-type': 'set',
    'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'roles are immutable' }],
  }),
  replicas: int('Number of nodes.', { minimum: 0, maximum: REPLICAS_MAX }),
  nodeIdOffset: int('Node id of the first pod (StatefulSet ordinals start here). Immutable.', {
    minimum: 0,
    maximum: NODE_ID_MAX,
    'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'nodeIdOffset is immutable' }],
  }),
  storage: storageSchema,
  resources: obj('Container resources of the broker.', {
    requests: resourceList('Requested resources (cpu, memory, ...).'),
    limits: resourceList('Resource limits (cpu, memory, ...).'),
  }),
  rackLabel: str('Node label holding the rack or zone, e.g. topology.kubernetes.io/zone; pods are spread over it.', { maxLength: 316 }),
}, ['name', 'roles', 'replicas', 'nodeIdOffset', 'storage']);

const listenerSchema = obj('A client listener.', {
  name: str('Lower-case name; the Kafka listener name is its upper-case form. Not "controller" or "replication".', {
    pattern: '^[a-z][a-z0-9]{0,10}$',
    'x-kubernetes-validations': [{ rule: 'self != \'controller\' && self != \'replication\'', message: 'controller and replication are reserved listener names' }],
  }),
  port: int('Container and Service port.', { minimum: 1024, maximum: 65535 }),
  type: str('internal: reachable inside the Kubernetes cluster.', { enum: [...LISTENER_TYPES] }),
}, ['name', 'port', 'type']);

const specSchema = obj('Desired state of the cluster.', {
  image: str('Broker container image.', { minLength: 1, maxLength: 512 }),
  version: str('Millrace version of the image, reported back in status.runningVersion.', { maxLength: 64 }),
  nodePools: arr('Node pools; at least one with the controller role and one with the broker role.', nodePoolSchema, {
    minItems: 1,
    maxItems: NODE_POOLS_MAX,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['name'],
  }),
  listeners: arr('Client listeners.', listenerSchema, {
    minItems: 1,
    maxItems: LISTENERS_MAX,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['name'],
  }),
  config: configMap('Broker config (server.properties keys and values). Keys the operator owns are refused.', CONFIG_KEYS_MAX),
}, ['image', 'nodePools', 'listeners'], {
  'x-kubernetes-validations': [
    { rule: 'self.nodePools.exists(p, \'controller\' in p.roles)', message: 'at least one node pool needs the controller role' },
    { rule: 'self.nodePools.exists(p, \'broker\' in p.roles)', message: 'at least one node pool needs the broker role' },
  ],
});

const statusSchema = obj('Observed state, written by the operator.', {
  conditions: CONDITIONS_SCHEMA,
  observedGeneration: int('metadata.generation last reconciled.', { minimum: 0 }),
  clusterId: str('Kafka cluster id (meta.properties cluster.id).'),
  runningVersion: str('Version every node runs.'),
  listeners: arr('Bootstrap addresses per listener.', obj('A listener.', {
    name: str('Listener name.'),
    bootstrapServers: str('host:port list for bootstrap.servers.'),
  }, ['name']), { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] }),
  nodePools: arr('Per pool: replicas and node ids.', obj('A pool.', {
    name: str('Pool name.'),
    replicas: int('Pods that exist.', { minimum: 0 }),
    nodeIds: arr('Node ids of the pool.', int('A node id.', { minimum: 0 }), { 'x-kubernetes-list-type': 'set' }),
  }, ['name']), { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] }),
});

export const KAFKA_CLUSTER_SCHEMA: JsonSchema = obj('A Millrace (Kafka-compatible) cluster in KRaft mode.', {
  apiVersion: str('APIVersion of the object.'),
  kind: str('Kind of the object.'),
  metadata: { type: 'object' },
  spec: specSchema,
  status: statusSchema,
}, ['spec']);

export const KAFKA_CLUSTER_PRINTER_COLUMNS: readonly PrinterColumn[] = [
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Ready condition' },
  { name: 'Version', type: 'string', jsonPath: '.status.runningVersion' },
  { name: 'Cluster-Id', type: 'string', jsonPath: '.status.clusterId', priority: 1 },
  { name: 'Bootstrap', type: 'string', jsonPath: '.status.listeners[0].bootstrapServers', priority: 1 },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
];

export const KAFKA_CLUSTER_NAMES = {
  kind: KIND_KAFKA_CLUSTER,
  listKind: `${KIND_KAFKA_CLUSTER}List`,
  plural: 'kafkaclusters',
  singular: 'kafkacluster',
  shortNames: ['kc'],
  categories: ['millrace', 'kafka'],
} as const;

export const KAFKA_CLUSTER_CRD_NAME = `${KAFKA_CLUSTER_NAMES.plural}.${API_GROUP}`;

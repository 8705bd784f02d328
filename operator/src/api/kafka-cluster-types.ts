/**
 * KafkaCluster (kafka.millrace.dev/v1alpha1): one Millrace cluster in KRaft mode, made of node pools.
 * The OpenAPI schema that the API server enforces is kafka-cluster-schema.ts; a unit test checks that a fully
 * populated value of these types only uses fields the schema declares.
 */
import type { API_GROUP_VERSION, KIND_KAFKA_CLUSTER } from './constants.ts';
import type { Condition } from './conditions.ts';
import type { ConfigScalar, ObjectMeta } from './object-meta.ts';

export type NodeRole = 'broker' | 'controller';
export const NODE_ROLES: readonly NodeRole[] = ['broker', 'controller'];

export interface EphemeralStorage {
  readonly type: 'ephemeral';
  /** Quantity, e.g. "10Gi"; the emptyDir's sizeLimit. */
  readonly sizeLimit?: string;
}

export interface PersistentClaimStorage {
  readonly type: 'persistent-claim';
  /** Quantity, e.g. "100Gi". Growing it is allowed (the runtime resizes PVCs); shrinking is refused. */
  readonly size: string;
  /** StorageClass name; the cluster default when omitted. Immutable. */
  readonly class?: string;
  /** Delete the PVCs when the KafkaCluster is deleted (default false: keep the data). */
  readonly deleteClaim?: boolean;
}

export type NodePoolStorage = EphemeralStorage | PersistentClaimStorage;
export const STORAGE_TYPES = ['ephemeral', 'persistent-claim'] as const;

/** Quantities keyed by resource name (cpu, memory, ...), as in a container's resources. */
export interface ResourceRequirements {
  readonly requests?: Readonly<Record<string, string | number>>;
  readonly limits?: Readonly<Record<string, string | number>>;
}

export interface NodePool {
  /** DNS label; part of the StatefulSet and pod names. Immutable (it is the list key). */
  readonly name: string;
  /** broker, controller or both (combined mode). Immutable. */
  readonly roles: readonly NodeRole[];
  readonly replicas: number;
  /**
   * First node id of this pool; pod ordinals start here (StatefulSet spec.ordinals.start), so pod
   * `<cluster>-<pool>-7` is node 7. Immutable; pools' ranges [offset, offset + replicas) must not overlap.
   */
  readonly nodeIdOffset: number;
  readonly storage: NodePoolStorage;
  readonly resources?: ResourceRequirements;
  /** Node label whose value is the rack (e.g. topology.kubernetes.io/zone); pods are spread over it. */
  readonly rackLabel?: string;
}

export type ListenerType = 'internal';
export const LISTENER_TYPES: readonly ListenerType[] = ['internal'];

/**
 * A client listener. Only in-cluster listeners exist in v1alpha1; `type` is an enum so that nodeport,
 * loadbalancer, and later `tls` / `authentication` fields are additive changes.
 */
export interface Listener {
  /** Lower-case name, e.g. "plain"; the Kafka listener name is its upper-case form. */
  readonly name: string;
  readonly port: number;
  readonly type: ListenerType;
}

export interface KafkaClusterSpec {
  /** Container image of the broker. */
  readonly image: string;
  /** Millrace version the image runs, reported back as status.runningVersion once the pods run it. */
  readonly version?: string;
  readonly nodePools: readonly NodePool[];
  readonly listeners: readonly Listener[];
  /** Broker config (server.properties keys). Keys the operator owns are refused (FORBIDDEN_CONFIG_KEYS). */
  readonly config?: Readonly<Record<string, ConfigScalar>>;
}

export interface ListenerStatus {
  readonly name: string;
  readonly bootstrapServers: string;
}

export interface NodePoolStatus {
  readonly name: string;
  readonly replicas: number;
  readonly nodeIds: readonly number[];
}

export interface KafkaClusterStatus {
  readonly conditions?: readonly Condition[];
  readonly observedGeneration?: number;
  /** Kafka cluster id (22-character base64 UUID) written into every node's meta.properties. */
  readonly clusterId?: string;
  readonly listeners?: readonly ListenerStatus[];
  readonly nodePools?: readonly NodePoolStatus[];
  readonly runningVersion?: string;
}

export interface KafkaCluster {
  readonly apiVersion: typeof API_GROUP_VERSION;
  readonly kind: typeof KIND_KAFKA_CLUSTER;
  readonly metadata: ObjectMeta;
  readonly spec: KafkaClusterSpec;
  readonly status?: KafkaClusterStatus;
}

/**
 * Names, labels and owner references of the objects built for a KafkaCluster. Selector labels are a small,
 * fixed subset: a StatefulSet's selector is immutable, so it must never include anything that can change.
 */
import {
  API_GROUP_VERSION,
  KIND_KAFKA_CLUSTER,
  LABEL_BROKER_ROLE,
  LABEL_CLUSTER,
  LABEL_CONTROLLER_ROLE,
  LABEL_POOL,
  OPERATOR_NAME,
} from '../api/constants.ts';
import type { KafkaCluster, NodePool } from '../api/kafka-cluster-types.ts';
import type { ChildMeta, Labels, OwnerReference } from './kube-types.ts';

export const headlessServiceName = (cluster: KafkaCluster): string => `${cluster.metadata.name}-nodes`;
export const bootstrapServiceName = (cluster: KafkaCluster): string => `${cluster.metadata.name}-bootstrap`;
export const podDisruptionBudgetName = (cluster: KafkaCluster): string => `${cluster.metadata.name}-nodes`;
export const statefulSetName = (cluster: KafkaCluster, pool: Pick<NodePool, 'name'>): string => `${cluster.metadata.name}-${pool.name}`;
export const configMapName = (cluster: KafkaCluster, pool: Pick<NodePool, 'name'>): string => `${cluster.metadata.name}-${pool.name}-config`;

export type Component = 'node' | 'bootstrap';

/** Labels on every object the operator creates for the cluster (Kubernetes' recommended labels plus ours). */
export function standardLabels(cluster: KafkaCluster, component: Component, pool?: Pick<NodePool, 'name'>): Labels {
  return {
    'app.kubernetes.io/name': 'millrace',
    'app.kubernetes.io/instance': cluster.metadata.name,
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': 'millrace',
    'app.kubernetes.io/managed-by': OPERATOR_NAME,
    [LABEL_CLUSTER]: cluster.metadata.name,
    ...(pool === undefined ? {} : { [LABEL_POOL]: pool.name }),
  };
}

/** Selects every pod of the cluster. */
export function clusterSelector(cluster: KafkaCluster): Labels {
  return { [LABEL_CLUSTER]: cluster.metadata.name };
}

/** Selects the pods of one pool (the StatefulSet selector; immutable). */
export function poolSelector(cluster: KafkaCluster, pool: Pick<NodePool, 'name'>): Labels {
  return { [LABEL_CLUSTER]: cluster.metadata.name, [LABEL_POOL]: pool.name };
}

/** Pod labels: standard labels plus role flags (the bootstrap Service selects broker-role pods). */
export function podLabels(cluster: KafkaCluster, pool: NodePool): Labels {
  return {
    ...standardLabels(cluster, 'node', pool),
    [LABEL_BROKER_ROLE]: String(pool.roles.includes('broker')),
    [LABEL_CONTROLLER_ROLE]: String(pool.roles.includes('controller')),
  };
}

export function ownerReference(cluster: KafkaCluster): OwnerReference {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: KIND_KAFKA_CLUSTER,
    name: cluster.metadata.name,
    uid: cluster.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function childMeta(cluster: KafkaCluster, name: string, labels: Labels): ChildMeta {
  return { name, namespace: cluster.metadata.namespace, labels, ownerReferences: [ownerReference(cluster)] };
}

/**
 * Node ids, pod DNS names, quorum voters and bootstrap addresses of a KafkaCluster.
 *
 * Node id scheme: a pool owns the range [nodeIdOffset, nodeIdOffset + replicas). Its StatefulSet starts its
 * ordinals at nodeIdOffset (spec.ordinals.start), so a pod's ordinal IS its node id: pod `<cluster>-<pool>-7`
 * is node 7, and the pod reads it from its own `apps.kubernetes.io/pod-index` label through the downward API,
 * with no entrypoint arithmetic. Offsets are immutable (CEL) and ranges must not overlap (validation), so a
 * node id never moves to another pod, pool or volume, and scaling a pool adds or removes ids at its top end.
 */
import { CONTROLLER_PORT, REPLICATION_LISTENER_NAME, REPLICATION_PORT } from '../api/constants.ts';
import type { KafkaCluster, NodePool } from '../api/kafka-cluster-types.ts';
import { bootstrapServiceName, headlessServiceName, statefulSetName } from './metadata.ts';

export function poolNodeIds(pool: Pick<NodePool, 'nodeIdOffset' | 'replicas'>): number[] {
  return Array.from({ length: pool.replicas }, (_, i) => pool.nodeIdOffset + i);
}

/** Namespace-qualified DNS suffix of pods behind the headless Service (resolved through the search path). */
export function podDnsSuffix(cluster: KafkaCluster): string {
  return `${headlessServiceName(cluster)}.${cluster.metadata.namespace}.svc`;
}

export function podName(cluster: KafkaCluster, pool: Pick<NodePool, 'name'>, nodeId: number): string {
  return `${statefulSetName(cluster, pool)}-${nodeId}`;
}

export function podDnsName(cluster: KafkaCluster, pool: Pick<NodePool, 'name'>, nodeId: number): string {
  return `${podName(cluster, pool, nodeId)}.${podDnsSuffix(cluster)}`;
}

export interface Voter {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

/** Every node of every controller-role pool, ordered by node id. */
export function controllerVoters(cluster: KafkaCluster): Voter[] {
  return cluster.spec.nodePools
    .filter((p) => p.roles.includes('controller'))
    .flatMap((p) => poolNodeIds(p).map((nodeId) => ({ nodeId, host: podDnsName(cluster, p, nodeId), port: CONTROLLER_PORT })))
    .sort((a, b) => a.nodeId - b.nodeId);
}

/** controller.quorum.voters: `{id}@{host}:{port}` entries joined by commas. */
export function quorumVotersString(cluster: KafkaCluster): string {
  return controllerVoters(cluster).map((v) => `${v.nodeId}@${v.host}:${v.port}`).join(',');
}

/** Kafka listener name of a client listener. */
export const kafkaListenerName = (name: string): string => name.toUpperCase();

/**
 * advertised.listeners of a broker-role pod, with the pod name left as the Kubernetes env reference
 * $(POD_NAME) that the kubelet expands when it starts the container.
 */
export function advertisedListenersTemplate(cluster: KafkaCluster): string {
  const host = `$(POD_NAME).${podDnsSuffix(cluster)}`;
  return [
    `${REPLICATION_LISTENER_NAME}://${host}:${REPLICATION_PORT}`,
    ...cluster.spec.listeners.map((l) => `${kafkaListenerName(l.name)}://${host}:${l.port}`),
  ].join(',');
}

/** bootstrap.servers for clients in the cluster, per client listener (for status.listeners). */
export function bootstrapServers(cluster: KafkaCluster): { name: string; bootstrapServers: string }[] {
  const host = `${bootstrapServiceName(cluster)}.${cluster.metadata.namespace}.svc`;
  return cluster.spec.listeners.map((l) => ({ name: l.name, bootstrapServers: `${host}:${l.port}` }));
}

/**
 * The parts of KafkaCluster status that follow from the spec alone: cluster id, bootstrap addresses and each
 * pool's node ids. The cluster controller merges them with what it observes (ready replicas, running version,
 * conditions) before it writes the status subresource.
 */
import type { KafkaCluster, KafkaClusterStatus } from '../api/kafka-cluster-types.ts';
import { clusterIdOf } from './server-properties.ts';
import { bootstrapServers, poolNodeIds } from './topology.ts';

export function specDerivedStatus(cluster: KafkaCluster): Required<Pick<KafkaClusterStatus, 'clusterId' | 'listeners' | 'nodePools'>> {
  return {
    clusterId: clusterIdOf(cluster),
    listeners: bootstrapServers(cluster),
    nodePools: cluster.spec.nodePools.map((p) => ({ name: p.name, replicas: p.replicas, nodeIds: poolNodeIds(p) })),
  };
}

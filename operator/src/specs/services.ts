/**
 * Services of a KafkaCluster: one headless Service governing every pool's StatefulSet (stable pod DNS names
 * for voters and advertised listeners) and one bootstrap Service over the broker-role pods.
 */
import { ADMIN_HTTP_PORT, CONTROLLER_PORT, LABEL_BROKER_ROLE, REPLICATION_PORT } from '../api/constants.ts';
import type { KafkaCluster } from '../api/kafka-cluster-types.ts';
import type { Service, ServicePort } from './kube-types.ts';
import { bootstrapServiceName, childMeta, clusterSelector, headlessServiceName, standardLabels } from './metadata.ts';

const tcp = (name: string, port: number): ServicePort => ({ name, port, targetPort: port, protocol: 'TCP' });

const clientPorts = (cluster: KafkaCluster): ServicePort[] => cluster.spec.listeners.map((l) => tcp(l.name, l.port));

export function buildHeadlessService(cluster: KafkaCluster): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMeta(cluster, headlessServiceName(cluster), standardLabels(cluster, 'node')),
    spec: {
      type: 'ClusterIP',
      clusterIP: 'None',
      // Controllers must resolve each other before any of them is Ready (no quorum yet, so not ready).
      publishNotReadyAddresses: true,
      selector: clusterSelector(cluster),
      ports: [tcp('replication', REPLICATION_PORT), tcp('controller', CONTROLLER_PORT), tcp('admin', ADMIN_HTTP_PORT), ...clientPorts(cluster)],
    },
  };
}

export function buildBootstrapService(cluster: KafkaCluster): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMeta(cluster, bootstrapServiceName(cluster), standardLabels(cluster, 'bootstrap')),
    spec: {
      type: 'ClusterIP',
      selector: { ...clusterSelector(cluster), [LABEL_BROKER_ROLE]: 'true' },
      ports: clientPorts(cluster),
    },
  };
}

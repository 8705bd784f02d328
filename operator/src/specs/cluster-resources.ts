/**
 * Every object a KafkaCluster needs, as a pure function of the CR: per pool a ConfigMap and a StatefulSet,
 * then one headless Service, one bootstrap Service and one PodDisruptionBudget. Nothing is built from an
 * invalid spec: the result is then the validation problems, for the NotReady condition.
 */
import type { KafkaCluster, NodePool } from '../api/kafka-cluster-types.ts';
import { validateKafkaCluster, type ValidationResult } from '../api/validate-kafka-cluster.ts';
import type { ChildObject, ConfigMap, PodDisruptionBudget } from './kube-types.ts';
import { CONFIG_FILE_NAME } from '../api/constants.ts';
import { childMeta, clusterSelector, configMapName, podDisruptionBudgetName, standardLabels } from './metadata.ts';
import { renderServerProperties } from './server-properties.ts';
import { buildStatefulSet } from './stateful-set.ts';
import { buildBootstrapService, buildHeadlessService } from './services.ts';

export function buildConfigMap(cluster: KafkaCluster, pool: NodePool): ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: childMeta(cluster, configMapName(cluster, pool), standardLabels(cluster, 'node', pool)),
    data: { [CONFIG_FILE_NAME]: renderServerProperties(cluster, pool) },
  };
}

/** At most one pod of the cluster voluntarily disrupted at a time (drains, autoscaler), like the roller. */
export function buildPodDisruptionBudget(cluster: KafkaCluster): PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: childMeta(cluster, podDisruptionBudgetName(cluster), standardLabels(cluster, 'node')),
    spec: { maxUnavailable: 1, selector: { matchLabels: clusterSelector(cluster) } },
  };
}

export type BuildResult =
  | { readonly ok: true; readonly objects: readonly ChildObject[] }
  | { readonly ok: false; readonly validation: ValidationResult };

export function buildClusterResources(cluster: KafkaCluster): BuildResult {
  const validation = validateKafkaCluster(cluster);
  if (!validation.valid) return { ok: false, validation };
  const objects: ChildObject[] = [];
  for (const pool of cluster.spec.nodePools) objects.push(buildConfigMap(cluster, pool), buildStatefulSet(cluster, pool));
  objects.push(buildHeadlessService(cluster), buildBootstrapService(cluster), buildPodDisruptionBudget(cluster));
  return { ok: true, objects };
}

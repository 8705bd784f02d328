/**
 * Resource types (client-go's GroupVersionResource plus kind and scope) and their REST paths.
 *
 * The table is explicit rather than discovered: the operator knows at build time every kind it touches, and a
 * static table needs no discovery request, cannot pick a wrong plural, and lets the paths be unit-tested.
 */
import { API_GROUP, API_VERSION, KIND_KAFKA_CLUSTER, KIND_KAFKA_TOPIC } from '../api/constants.ts';
import { KAFKA_CLUSTER_NAMES } from '../api/kafka-cluster-schema.ts';
import { KAFKA_TOPIC_NAMES } from '../api/kafka-topic-schema.ts';

export interface ResourceType {
  /** "" for the core group. */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  /** The lower-case plural in the REST path. */
  readonly plural: string;
  readonly namespaced: boolean;
}

export function apiVersionOf(resource: ResourceType): string {
  return resource.group === '' ? resource.version : `${resource.group}/${resource.version}`;
}

/** "StatefulSet.apps", "Pod" (as kubectl and the API server's messages name kinds). */
export function describeResource(resource: ResourceType): string {
  return resource.group === '' ? resource.kind : `${resource.kind}.${resource.group}`;
}

const core = (kind: string, plural: string, namespaced = true): ResourceType => ({ group: '', version: 'v1', kind, plural, namespaced });

export const Resources = {
  Pod: core('Pod', 'pods'),
  Service: core('Service', 'services'),
  ConfigMap: core('ConfigMap', 'configmaps'),
  Secret: core('Secret', 'secrets'),
  PersistentVolumeClaim: core('PersistentVolumeClaim', 'persistentvolumeclaims'),
  Event: core('Event', 'events'),
  Namespace: core('Namespace', 'namespaces', false),
  Node: core('Node', 'nodes', false),
  StatefulSet: { group: 'apps', version: 'v1', kind: 'StatefulSet', plural: 'statefulsets', namespaced: true },
  PodDisruptionBudget: { group: 'policy', version: 'v1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets', namespaced: true },
  Lease: { group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', plural: 'leases', namespaced: true },
  KafkaCluster: { group: API_GROUP, version: API_VERSION, kind: KIND_KAFKA_CLUSTER, plural: KAFKA_CLUSTER_NAMES.plural, namespaced: true },
  KafkaTopic: { group: API_GROUP, version: API_VERSION, kind: KIND_KAFKA_TOPIC, plural: KAFKA_TOPIC_NAMES.plural, namespaced: true },
} as const satisfies Record<string, ResourceType>;

export const BUILTIN_RESOURCES: readonly ResourceType[] = Object.values(Resources);

/**
 * The REST path of a collection (no name) or an object, optionally a subresource:
 * /api/v1/namespaces/ns/pods/p, /apis/apps/v1/statefulsets (all namespaces), /apis/g/v/namespaces/ns/x/n/status.
 * A namespaced resource without a namespace addresses all namespaces (lists and watches only).
 */
export function resourcePath(resource: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  const root = resource.group === '' ? `/api/${resource.version}` : `/apis/${resource.group}/${resource.version}`;
  if (!resource.namespaced && namespace !== undefined) throw new Error(`${describeResource(resource)} is cluster-scoped; no namespace may be given (got "${namespace}")`);
  if (resource.namespaced && namespace === undefined && name !== undefined) throw new Error(`${describeResource(resource)} "${name}" is namespaced; a namespace is required`);
  if (subresource !== undefined && name === undefined) throw new Error(`subresource "${subresource}" of ${describeResource(resource)} needs an object name`);
  let path = root;
  if (namespace !== undefined) path += `/namespaces/${encodeURIComponent(namespace)}`;
  path += `/${resource.plural}`;
  if (name !== undefined) path += `/${encodeURIComponent(name)}`;
  if (subresource !== undefined) path += `/${subresource}`;
  return path;
}

/** Finds the resource type of an object by apiVersion and kind among known types. */
export class ResourceTable {
  private readonly byGvk = new Map<string, ResourceType>();

  constructor(resources: readonly ResourceType[] = BUILTIN_RESOURCES) {
    for (const r of resources) this.byGvk.set(`${apiVersionOf(r)}|${r.kind}`, r);
  }

  /** Throws, naming the apiVersion and kind, when the type is unknown. */
  lookup(apiVersion: string | undefined, kind: string | undefined): ResourceType {
    if (apiVersion === undefined || kind === undefined) throw new Error(`object has no ${apiVersion === undefined ? 'apiVersion' : 'kind'}; both are needed to find its REST path`);
    const r = this.byGvk.get(`${apiVersion}|${kind}`);
    if (r === undefined) throw new Error(`unknown resource type ${kind} in ${apiVersion}: add it to the ResourceTable given to the client`);
    return r;
  }
}

/**
 * The shape of any Kubernetes object as the runtime sees it (only metadata is interpreted), and object keys.
 *
 * A key is client-go's MetaNamespaceKey: "namespace/name" for namespaced objects, "name" for cluster-scoped
 * ones. It is what the informer cache is indexed by and what a work queue holds.
 */

export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly controller?: boolean;
  readonly blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  readonly name?: string;
  readonly generateName?: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly generation?: number;
  readonly creationTimestamp?: string;
  readonly deletionTimestamp?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly ownerReferences?: readonly OwnerReference[];
  readonly finalizers?: readonly string[];
}

export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: ObjectMeta;
}

/** The object a request is about, parsed from its key. */
export interface ObjectKey {
  /** undefined for cluster-scoped objects. */
  readonly namespace: string | undefined;
  readonly name: string;
}

export function keyOf(namespace: string | undefined, name: string): string {
  return namespace === undefined || namespace === '' ? name : `${namespace}/${name}`;
}

/** The key of an object; throws if it has no name (an object from the API server always has one). */
export function objectKey(obj: KubeObject): string {
  const name = obj.metadata.name;
  if (name === undefined || name === '') throw new Error(`object of kind ${obj.kind ?? '(unknown)'} has no metadata.name, so it has no key`);
  return keyOf(obj.metadata.namespace, name);
}

export function parseKey(key: string): ObjectKey {
  const slash = key.indexOf('/');
  if (slash < 0) return { namespace: undefined, name: key };
  if (slash === 0 || slash === key.length - 1 || key.indexOf('/', slash + 1) >= 0) throw new Error(`invalid object key "${key}": expected "name" or "namespace/name"`);
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** "apps/v1" -> "apps"; "v1" -> "" (the core group). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/**
 * Writes (and direct reads) of Kubernetes objects: the one generic apply the controllers use.
 *
 *   apply(desired)          server-side apply: PATCH application/apply-patch+yaml, fieldManager=millrace-operator,
 *                           force=true. The body is JSON (valid YAML). The server merges by field ownership,
 *                           so the desired object lists only the fields the operator owns; fields it stops
 *                           listing are removed if no other manager owns them.
 *   applyStatus(desired)    the same on the /status subresource (spec and metadata in the body are ignored there).
 *   patchStatus(...)        JSON merge patch of .status on /status, for the odd field SSA cannot express.
 *   get(...)                GET; null on 404.
 *   delete(...)             DELETE with propagationPolicy (Background by default); false if already gone.
 *   create / update         POST / PUT (update carries metadata.resourceVersion: a stale one fails with 409).
 *   reconcileObject(...)    desired null = delete, else apply (DESIGN.md's "one generic apply").
 *
 * Errors are KubeApiError with the method, path, status code, reason and the server's message.
 */
import type { KubeHttp } from './kube-api.ts';
import { isNotFound } from './kube-api.ts';
import { listAll, type ListResult, type Selector } from './informer.ts';
import type { KubeObject } from './objects.ts';
import { describeResource, resourcePath, ResourceTable, type ResourceType } from './resources.ts';
import { OPERATOR_NAME } from '../api/constants.ts';

export const FIELD_MANAGER = OPERATOR_NAME;

export const PatchContentType = {
  Apply: 'application/apply-patch+yaml',
  Merge: 'application/merge-patch+json',
  Json: 'application/json-patch+json',
  StrategicMerge: 'application/strategic-merge-patch+json',
} as const;
export type PatchContentType = (typeof PatchContentType)[keyof typeof PatchContentType];

export type PropagationPolicy = 'Background' | 'Foreground' | 'Orphan';

export interface DeleteOptions {
  /** Default Background (the garbage collector removes dependents after the object is gone). */
  readonly propagationPolicy?: PropagationPolicy;
  readonly gracePeriodSeconds?: number;
  /** Delete only if the object still has this uid / resourceVersion (409 Conflict otherwise). */
  readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string };
}

export interface ObjectClientOptions {
  readonly http: KubeHttp;
  /** Default millrace-operator. */
  readonly fieldManager?: string;
  /** Types apply/create/update may be given (default: BUILTIN_RESOURCES). */
  readonly resources?: ResourceTable;
}

export class ObjectClient {
  readonly http: KubeHttp;
  readonly fieldManager: string;
  readonly resources: ResourceTable;

  constructor(options: ObjectClientOptions) {
    this.http = options.http;
    this.fieldManager = options.fieldManager ?? FIELD_MANAGER;
    this.resources = options.resources ?? new ResourceTable();
  }

  /** The object, or null if it does not exist. */
  async get<T extends KubeObject>(resource: ResourceType, namespace: string | undefined, name: string, signal?: AbortSignal): Promise<T | null> {
    try {
      return await this.http.request<T>({ method: 'GET', path: resourcePath(resource, scoped(resource, namespace), name), ...(signal === undefined ? {} : { signal }) });
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  /** Every matching object (all pages). Prefer an informer's cache for anything read repeatedly. */
  async list<T extends KubeObject>(resource: ResourceType, selector: Selector = {}, signal?: AbortSignal): Promise<ListResult<T>> {
    const namespace = scoped(resource, selector.namespace);
    const { labelSelector, fieldSelector } = selector;
    const scopedSelector: Selector = {
      ...(namespace === undefined ? {} : { namespace }),
      ...(labelSelector === undefined ? {} : { labelSelector }),
      ...(fieldSelector === undefined ? {} : { fieldSelector }),
    };
    return listAll<T>(this.http, resource, scopedSelector, signal);
  }

  /** Server-side apply of the desired object (force: the operator takes over conflicting fields). */
  async apply<T extends KubeObject>(desired: T, signal?: AbortSignal): Promise<T> {
    return this.applyTo(desired, undefined, signal);
  }

  /** Server-side apply on the /status subresource; desired carries apiVersion, kind, metadata.name/namespace and status. */
  async applyStatus<T extends KubeObject>(desired: T, signal?: AbortSignal): Promise<T> {
    return this.applyTo(desired, 'status', signal);
  }

  /** JSON merge patch of { status } on the /status subresource (null values delete fields). */
  async patchStatus<T extends KubeObject>(resource: ResourceType, namespace: string | undefined, name: string, status: unknown, signal?: AbortSignal): Promise<T> {
    return this.patch<T>(resource, namespace, name, { status }, PatchContentType.Merge, 'status', signal);
  }

  /** A PATCH of any type (the fieldManager is always sent). */
  async patch<T extends KubeObject>(
    resource: ResourceType,
    namespace: string | undefined,
    name: string,
    body: unknown,
    contentType: PatchContentType,
    subresource?: string,
    signal?: AbortSignal,
  ): Promise<T> {
    return this.http.request<T>({
      method: 'PATCH',
      path: resourcePath(resource, scoped(resource, namespace), name, subresource),
      query: { fieldManager: this.fieldManager },
      body,
      contentType,
      ...(signal === undefined ? {} : { signal }),
    });
  }

  async create<T extends KubeObject>(obj: T, signal?: AbortSignal): Promise<T> {
    const resource = this.resourceOf(obj);
    return this.http.request<T>({
      method: 'POST',
      path: resourcePath(resource, scoped(resource, obj.metadata.namespace)),
      query: { fieldManager: this.fieldManager },
      body: obj,
      ...(signal === undefined ? {} : { signal }),
    });
  }

  /** PUT of the whole object; with metadata.resourceVersion set, a concurrent change fails with 409 Conflict. */
  async update<T extends KubeObject>(obj: T, signal?: AbortSignal): Promise<T> {
    const resource = this.resourceOf(obj);
    return this.http.request<T>({
      method: 'PUT',
      path: resourcePath(resource, scoped(resource, obj.metadata.namespace), nameOf(obj, resource)),
      query: { fieldManager: this.fieldManager },
      body: obj,
      ...(signal === undefined ? {} : { signal }),
    });
  }

  /** Deletes; resolves false if the object did not exist. */
  async delete(resource: ResourceType, namespace: string | undefined, name: string, options: DeleteOptions = {}, signal?: AbortSignal): Promise<boolean> {
    const body = {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      propagationPolicy: options.propagationPolicy ?? 'Background',
      ...(options.gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds: options.gracePeriodSeconds }),
      ...(options.preconditions === undefined ? {} : { preconditions: options.preconditions }),
    };
    try {
      await this.http.request({ method: 'DELETE', path: resourcePath(resource, scoped(resource, namespace), name), body, ...(signal === undefined ? {} : { signal }) });
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /** desired null: delete the named object (if present); otherwise apply desired. */
  async reconcileObject<T extends KubeObject>(resource: ResourceType, namespace: string | undefined, name: string, desired: T | null): Promise<T | null> {
    if (desired === null) {
      await this.delete(resource, namespace, name);
      return null;
    }
    return this.apply(desired);
  }

  resourceOf(obj: KubeObject): ResourceType {
    return this.resources.lookup(obj.apiVersion, obj.kind);
  }

  private async applyTo<T extends KubeObject>(desired: T, subresource: string | undefined, signal: AbortSignal | undefined): Promise<T> {
    const resource = this.resourceOf(desired);
    if (desired.metadata.resourceVersion !== undefined) {
      // Sent along, it would turn the apply into a compare-and-swap that fails as soon as anything else writes.
      throw new Error(`apply of ${describeResource(resource)} "${desired.metadata.name ?? ''}": desired objects must not carry metadata.resourceVersion`);
    }
    return this.http.request<T>({
      method: 'PATCH',
      path: resourcePath(resource, scoped(resource, desired.metadata.namespace), nameOf(desired, resource), subresource),
      query: { fieldManager: this.fieldManager, force: true },
      body: desired,
      contentType: PatchContentType.Apply,
      ...(signal === undefined ? {} : { signal }),
    });
  }
}

function nameOf(obj: KubeObject, resource: ResourceType): string {
  const name = obj.metadata.name;
  if (name === undefined || name === '') throw new Error(`${describeResource(resource)} object has no metadata.name`);
  return name;
}

/** The namespace a path takes: none for cluster-scoped types, whatever the object says. */
function scoped(resource: ResourceType, namespace: string | undefined): string | undefined {
  if (!resource.namespaced) return undefined;
  return namespace === '' ? undefined : namespace;
}

/**
 * An in-memory stand-in for the API server behind the KubeHttp interface, for manager tests: objects per
 * collection with resourceVersions, list, get, create, update (with the resourceVersion precondition),
 * apply/merge patches (a shallow merge, not real field ownership), delete, and watches that receive ADDED /
 * MODIFIED / DELETED events. Label selectors are not evaluated. Requests are recorded; fail() injects errors.
 */
import { KubeApiError, type KubeHttp, type KubeRequest, type RawWatchEvent, type WatchRequest } from '../../../../operator/src/runtime/kube-api.ts';
import type { KubeObject } from '../../../../operator/src/runtime/objects.ts';
import { apiVersionOf, type ResourceType } from '../../../../operator/src/runtime/resources.ts';

type Obj = KubeObject & Record<string, unknown>;

interface ParsedPath {
  readonly collection: string;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly subresource: string | undefined;
}

interface Watcher {
  readonly collection: string;
  readonly namespace: string | undefined;
  readonly onEvent: (event: RawWatchEvent) => void;
}

export function parsePath(path: string): ParsedPath {
  const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(path);
  if (m === null) throw new Error(`fake API server cannot parse path ${path}`);
  const gv = m[1] ?? `${m[2] ?? ''}/${m[3] ?? ''}`;
  return { collection: `${gv}/${m[5] ?? ''}`, namespace: m[4], name: m[6], subresource: m[7] };
}

export class FakeKubeApi implements KubeHttp {
  readonly requests: KubeRequest[] = [];
  private readonly store = new Map<string, Obj>();
  private readonly watchers = new Set<Watcher>();
  private rv = 100;
  private uid = 0;
  private failures: ((request: KubeRequest) => Error | undefined)[] = [];

  /** Every later request for which `match` returns an error fails with it. */
  fail(match: (request: KubeRequest) => Error | undefined): void {
    this.failures.push(match);
  }

  clearFailures(): void {
    this.failures = [];
  }

  /** Creates or replaces an object directly (as another client would), notifying watchers. */
  put(resource: ResourceType, obj: KubeObject): Obj {
    const collection = `${apiVersionOf(resource)}/${resource.plural}`;
    const key = this.key(collection, obj.metadata.namespace, obj.metadata.name ?? '');
    const old = this.store.get(key);
    const stored: Obj = {
      ...(obj as Obj),
      apiVersion: apiVersionOf(resource),
      kind: resource.kind,
      metadata: { uid: old?.metadata.uid ?? `uid-${++this.uid}`, generation: 1, ...obj.metadata, resourceVersion: String(++this.rv) },
    };
    this.store.set(key, stored);
    this.notify(collection, old === undefined ? 'ADDED' : 'MODIFIED', stored);
    return stored;
  }

  remove(resource: ResourceType, namespace: string | undefined, name: string): void {
    const collection = `${apiVersionOf(resource)}/${resource.plural}`;
    const key = this.key(collection, namespace, name);
    const old = this.store.get(key);
    if (old === undefined) return;
    this.store.delete(key);
    this.notify(collection, 'DELETED', { ...old, metadata: { ...old.metadata, resourceVersion: String(++this.rv) } });
  }

  find(resource: ResourceType, namespace: string | undefined, name: string): Obj | undefined {
    return this.store.get(this.key(`${apiVersionOf(resource)}/${resource.plural}`, namespace, name));
  }

  watcherCount(): number {
    return this.watchers.size;
  }

  request<T = unknown>(request: KubeRequest): Promise<T> {
    this.requests.push(request);
    for (const f of this.failures) {
      const error = f(request);
      if (error !== undefined) return Promise.reject(error);
    }
    try {
      return Promise.resolve(this.handle(request) as T);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  watch(request: WatchRequest, onEvent: (event: RawWatchEvent) => void, signal: AbortSignal): Promise<void> {
    const { collection, namespace } = parsePath(request.path);
    const watcher: Watcher = { collection, namespace, onEvent };
    this.watchers.add(watcher);
    return new Promise((resolve) => {
      const stop = (): void => {
        this.watchers.delete(watcher);
        resolve();
      };
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
    });
  }

  close(): void {}

  private handle(request: KubeRequest): unknown {
    const p = parsePath(request.path);
    const path = request.path;
    if (p.name === undefined) {
      if (request.method === 'GET') {
        const prefix = p.namespace === undefined ? `${p.collection}|` : `${p.collection}|${p.namespace}|`;
        const items = [...this.store.entries()].filter(([k]) => k.startsWith(prefix)).map(([, v]) => v);
        return { metadata: { resourceVersion: String(this.rv) }, items };
      }
      if (request.method === 'POST') {
        const body = request.body as Obj;
        const key = this.key(p.collection, p.namespace, body.metadata.name ?? '');
        if (this.store.has(key)) throw new KubeApiError('POST', path, 409, { reason: 'AlreadyExists', message: `"${body.metadata.name ?? ''}" already exists` });
        return this.write(p.collection, key, { ...body, metadata: { ...body.metadata, uid: `uid-${++this.uid}` } }, 'ADDED');
      }
    } else {
      const key = this.key(p.collection, p.namespace, p.name);
      const current = this.store.get(key);
      const notFound = (): KubeApiError => new KubeApiError(request.method, path, 404, { reason: 'NotFound', message: `"${p.name ?? ''}" not found` });
      switch (request.method) {
        case 'GET':
          if (current === undefined) throw notFound();
          return current;
        case 'PUT': {
          const body = request.body as Obj;
          if (current === undefined) throw notFound();
          if (body.metadata.resourceVersion !== current.metadata.resourceVersion) throw new KubeApiError('PUT', path, 409, { reason: 'Conflict', message: 'the object has been modified; please apply your changes to the latest version and try again' });
          return this.write(p.collection, key, { ...body, metadata: { ...body.metadata, ...(current.metadata.uid === undefined ? {} : { uid: current.metadata.uid }) } }, 'MODIFIED');
        }
        case 'PATCH': {
          const body = request.body as Obj;
          if (p.subresource === 'status') {
            if (current === undefined) throw notFound();
            return this.write(p.collection, key, { ...current, status: body.status }, 'MODIFIED');
          }
          if (current === undefined) {
            if (request.contentType !== 'application/apply-patch+yaml') throw notFound();
            return this.write(p.collection, key, { ...body, metadata: { ...body.metadata, uid: `uid-${++this.uid}` } }, 'ADDED');
          }
          const merged: Obj = { ...current, ...body, metadata: { ...current.metadata, ...body.metadata } };
          return this.write(p.collection, key, merged, 'MODIFIED');
        }
        case 'DELETE': {
          if (current === undefined) throw notFound();
          this.store.delete(key);
          this.notify(p.collection, 'DELETED', current);
          return { kind: 'Status', status: 'Success' };
        }
        default:
          break;
      }
    }
    throw new Error(`fake API server does not handle ${request.method} ${path}`);
  }

  private write(collection: string, key: string, obj: Obj, type: 'ADDED' | 'MODIFIED'): Obj {
    const stored: Obj = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } };
    this.store.set(key, stored);
    this.notify(collection, type, stored);
    return stored;
  }

  private notify(collection: string, type: string, object: Obj): void {
    for (const w of this.watchers) {
      if (w.collection !== collection) continue;
      if (w.namespace !== undefined && w.namespace !== object.metadata.namespace) continue;
      w.onEvent({ type, object });
    }
  }

  private key(collection: string, namespace: string | undefined, name: string): string {
    return `${collection}|${namespace ?? ''}|${name}`;
  }
}

/**
 * An informer: a local cache of one resource type, kept current by list + watch, that tells handlers what
 * changed. Written on KubeHttp rather than wrapping client-node's ListWatch (see README.md for why).
 *
 * The loop (client-go's Reflector.ListAndWatch, simplified):
 *   1. List (paginated, limit 500, consistent read). Replace the cache: handlers see add for new objects,
 *      update for changed ones (resourceVersion differs), delete for vanished ones. Now hasSynced().
 *   2. Watch from the list's resourceVersion with allowWatchBookmarks and a random 5-10 min timeoutSeconds.
 *      ADDED / MODIFIED / DELETED update the cache and call handlers; BOOKMARK only advances the
 *      resourceVersion; ERROR ends the watch with the Status it carries.
 *   3. When the server ends the watch normally: watch again from the last resourceVersion (step 2).
 *      On 410 Gone (resourceVersion too old, as a watch ERROR event or an HTTP status): relist (step 1) at once.
 *      On any other failure (list or watch): log the cause, wait (exponential backoff, 800 ms doubling to
 *      30 s, reset by any success), then relist if the failure was in the list, else re-watch.
 *
 * Handlers must be cheap and never block: the runtime's handlers only map an object to keys and add them to a
 * work queue. A throwing handler is logged and does not disturb the informer or other handlers.
 * Handlers added after the cache has data first receive an add for every cached object.
 */
import type { Logger } from 'pino';
import { sleep, systemClock, type Clock, type TimerHandle } from './clock.ts';
import { errorMessage, isGone, KubeApiError, type KubeHttp, type KubeStatus, type RawWatchEvent } from './kube-api.ts';
import { keyOf, objectKey, type KubeObject } from './objects.ts';
import { apiVersionOf, describeResource, resourcePath, type ResourceType } from './resources.ts';

export interface EventHandler<T extends KubeObject = KubeObject> {
  onAdd?(obj: T): void;
  onUpdate?(oldObj: T, newObj: T): void;
  /** Called with the last known state of the object. */
  onDelete?(obj: T): void;
}

export interface ListResult<T> {
  readonly items: readonly T[];
  readonly resourceVersion: string;
}

export interface WatchOptions {
  readonly resourceVersion: string;
  readonly timeoutSeconds: number;
}

/** The two API calls an informer needs, so tests can script them. */
export interface ListerWatcher<T extends KubeObject = KubeObject> {
  /** Every object (all pages) and the collection's resourceVersion. */
  list(signal: AbortSignal): Promise<ListResult<T>>;
  /** Resolves when the stream ends normally or the signal aborts; rejects on failure. */
  watch(options: WatchOptions, onEvent: (event: RawWatchEvent) => void, signal: AbortSignal): Promise<void>;
}

export interface Selector {
  /** undefined: all namespaces (or a cluster-scoped resource). */
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
}

export const LIST_PAGE_SIZE = 500;

/** Every object of a type (all pages, limit 500 each), with apiVersion and kind filled in, and the list's resourceVersion. */
export async function listAll<T extends KubeObject>(http: KubeHttp, resource: ResourceType, selector: Selector = {}, signal?: AbortSignal): Promise<ListResult<T>> {
  const path = resourcePath(resource, selector.namespace);
  const items: T[] = [];
  let continueToken: string | undefined;
  let resourceVersion: string;
  do {
    const page = await http.request<{ items?: T[] | null; metadata?: { resourceVersion?: string; continue?: string } }>({
      method: 'GET',
      path,
      query: { labelSelector: selector.labelSelector, fieldSelector: selector.fieldSelector, limit: LIST_PAGE_SIZE, continue: continueToken },
      ...(signal === undefined ? {} : { signal }),
    });
    // Items of a list carry no apiVersion/kind; fill them in so cached objects are self-describing.
    for (const item of page.items ?? []) items.push({ apiVersion: apiVersionOf(resource), kind: resource.kind, ...item });
    resourceVersion = page.metadata?.resourceVersion ?? '';
    continueToken = page.metadata?.continue === '' ? undefined : page.metadata?.continue;
  } while (continueToken !== undefined);
  return { items, resourceVersion };
}

/** List + watch over HTTP for one resource type, namespace and selector. */
export function kubeListerWatcher<T extends KubeObject = KubeObject>(http: KubeHttp, resource: ResourceType, selector: Selector = {}): ListerWatcher<T> {
  const path = resourcePath(resource, selector.namespace);
  const filters = { labelSelector: selector.labelSelector, fieldSelector: selector.fieldSelector };
  return {
    list: (signal) => listAll<T>(http, resource, selector, signal),
    watch(options, onEvent, signal) {
      return http.watch(
        {
          path,
          query: { ...filters, resourceVersion: options.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: options.timeoutSeconds },
          // The server ends the stream after timeoutSeconds; silence well past that means a dead connection.
          idleTimeoutMs: (options.timeoutSeconds + 60) * 1000,
        },
        onEvent,
        signal,
      );
    },
  };
}

export interface InformerOptions<T extends KubeObject> {
  readonly resource: ResourceType;
  readonly listerWatcher: ListerWatcher<T>;
  readonly logger: Logger;
  readonly selector?: Selector;
  readonly clock?: Clock;
  /** Backoff after failures: 800 ms doubling to 30 s (client-go's reflector). */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** Watch timeoutSeconds is drawn from [min, 2*min) (default 300, client-go's minWatchTimeout). */
  readonly watchTimeoutMinSeconds?: number;
  /** Every period, onUpdate(obj, obj) for every cached object (0 = never, the default). */
  readonly resyncPeriodMs?: number;
  /** In [0, 1); default Math.random. */
  readonly random?: () => number;
}

type InformerState = 'new' | 'running' | 'stopped';

export class Informer<T extends KubeObject = KubeObject> {
  readonly resource: ResourceType;
  readonly selector: Selector;
  private readonly listerWatcher: ListerWatcher<T>;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly watchTimeoutMinSeconds: number;
  private readonly resyncPeriodMs: number;
  private readonly random: () => number;

  private readonly store = new Map<string, T>();
  private readonly handlers: EventHandler<T>[] = [];
  private state: InformerState = 'new';
  private synced = false;
  private resourceVersion: string | undefined;
  private failures = 0;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private resyncTimer: TimerHandle | undefined;
  private readonly syncWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];

  constructor(options: InformerOptions<T>) {
    this.resource = options.resource;
    this.selector = options.selector ?? {};
    this.listerWatcher = options.listerWatcher;
    this.clock = options.clock ?? systemClock;
    this.backoffBaseMs = options.backoffBaseMs ?? 800;
    this.backoffMaxMs = options.backoffMaxMs ?? 30_000;
    this.watchTimeoutMinSeconds = options.watchTimeoutMinSeconds ?? 300;
    this.resyncPeriodMs = options.resyncPeriodMs ?? 0;
    this.random = options.random ?? Math.random;
    this.logger = options.logger.child({ informer: describeResource(this.resource), namespace: this.selector.namespace ?? '(all)', labelSelector: this.selector.labelSelector });
  }

  /** Registers handlers; if the cache already holds objects, calls onAdd for each of them first. */
  addHandler(handler: EventHandler<T>): void {
    this.handlers.push(handler);
    for (const obj of this.store.values()) this.call('onAdd', () => handler.onAdd?.(obj));
  }

  start(): void {
    if (this.state !== 'new') throw new Error(`informer for ${describeResource(this.resource)} cannot be started twice`);
    this.state = 'running';
    this.loop = this.run();
    if (this.resyncPeriodMs > 0) this.scheduleResync();
  }

  /** Stops the watch and the loop; resolves once the loop has exited. Pending waitForSync() calls reject. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.abort.abort();
    if (this.resyncTimer !== undefined) this.clock.clearTimeout(this.resyncTimer);
    for (const waiter of this.syncWaiters.splice(0)) waiter.reject(new Error(`informer for ${describeResource(this.resource)} stopped before its cache synced`));
    await this.loop;
  }

  /** True once the first list has been applied to the cache and handlers. */
  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    if (this.state === 'stopped') return Promise.reject(new Error(`informer for ${describeResource(this.resource)} is stopped and never synced`));
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      this.syncWaiters.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.syncWaiters.indexOf(waiter);
          if (i >= 0) this.syncWaiters.splice(i, 1);
          reject(new Error(`gave up waiting for the ${describeResource(this.resource)} cache to sync`));
        },
        { once: true },
      );
    });
  }

  /** The cached object with this key ("namespace/name" or "name"). Treat it as read-only. */
  get(key: string): T | undefined {
    return this.store.get(key);
  }

  getByName(namespace: string | undefined, name: string): T | undefined {
    return this.store.get(keyOf(namespace, name));
  }

  /** Cached objects, optionally of one namespace and/or matching every given label. */
  list(filter: { namespace?: string; labels?: Readonly<Record<string, string>> } = {}): T[] {
    const out: T[] = [];
    for (const obj of this.store.values()) {
      if (filter.namespace !== undefined && obj.metadata.namespace !== filter.namespace) continue;
      if (filter.labels !== undefined && !Object.entries(filter.labels).every(([k, v]) => obj.metadata.labels?.[k] === v)) continue;
      out.push(obj);
    }
    return out;
  }

  keys(): string[] {
    return [...this.store.keys()];
  }

  /** The resourceVersion the next watch starts from (undefined: the next step is a list). */
  lastResourceVersion(): string | undefined {
    return this.resourceVersion;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      let phase: 'list' | 'watch' = 'list';
      try {
        if (this.resourceVersion === undefined) {
          const result = await this.listerWatcher.list(signal);
          if (signal.aborted) break;
          this.replace(result.items);
          this.resourceVersion = result.resourceVersion;
          this.failures = 0;
          this.markSynced();
        }
        phase = 'watch';
        await this.watchOnce(signal);
        this.failures = 0;
      } catch (error) {
        if (signal.aborted) break;
        if (isGone(error)) {
          this.logger.info({ resourceVersion: this.resourceVersion, cause: errorMessage(error) }, 'Resource version expired; relisting');
          this.resourceVersion = undefined;
          continue;
        }
        this.failures += 1;
        const delayMs = Math.min(this.backoffBaseMs * 2 ** Math.min(this.failures - 1, 30), this.backoffMaxMs);
        this.logger.warn({ err: error, failures: this.failures, retryInMs: delayMs }, `${phase === 'list' ? 'List' : 'Watch'} of ${describeResource(this.resource)} failed: ${errorMessage(error)}`);
        await sleep(this.clock, delayMs, signal);
      }
    }
  }

  private async watchOnce(signal: AbortSignal): Promise<void> {
    const resourceVersion = this.resourceVersion;
    if (resourceVersion === undefined) throw new Error('watch without a resourceVersion');
    const timeoutSeconds = Math.floor(this.watchTimeoutMinSeconds * (1 + this.random()));
    let failure: Error | undefined;
    const watchAbort = new AbortController();
    const onStop = (): void => watchAbort.abort();
    signal.addEventListener('abort', onStop, { once: true });
    try {
      await this.listerWatcher.watch(
        { resourceVersion, timeoutSeconds },
        (event) => {
          if (failure !== undefined || signal.aborted) return;
          failure = this.applyWatchEvent(event);
          if (failure !== undefined) watchAbort.abort();
        },
        watchAbort.signal,
      );
    } finally {
      signal.removeEventListener('abort', onStop);
    }
    if (failure !== undefined) throw failure;
  }

  /** Applies one watch event; returns an error that must end the watch, if any. */
  private applyWatchEvent(event: RawWatchEvent): Error | undefined {
    const what = describeResource(this.resource);
    if (event.type === 'ERROR') {
      const status = (event.object ?? {}) as KubeStatus;
      return new KubeApiError('WATCH', what, status.code ?? 500, status);
    }
    const obj = event.object as T | undefined;
    const rv = obj?.metadata?.resourceVersion;
    if (obj === undefined || obj === null || typeof obj !== 'object' || obj.metadata === undefined) return new Error(`watch of ${what}: ${event.type} event without an object`);
    if (event.type === 'BOOKMARK') {
      if (rv !== undefined) this.resourceVersion = rv;
      return undefined;
    }
    let key: string;
    try {
      key = objectKey(obj);
    } catch (error) {
      return new Error(`watch of ${what}: ${errorMessage(error)}`);
    }
    switch (event.type) {
      case 'ADDED':
      case 'MODIFIED': {
        const old = this.store.get(key);
        this.store.set(key, obj);
        if (old === undefined) this.dispatch('onAdd', (h) => h.onAdd?.(obj));
        else this.dispatch('onUpdate', (h) => h.onUpdate?.(old, obj));
        break;
      }
      case 'DELETED': {
        const old = this.store.get(key);
        this.store.delete(key);
        this.dispatch('onDelete', (h) => h.onDelete?.(old ?? obj));
        break;
      }
      default:
        return new Error(`watch of ${what}: unknown event type ${event.type}`);
    }
    if (rv !== undefined) this.resourceVersion = rv;
    this.failures = 0;
    return undefined;
  }

  /** Makes the cache equal to a fresh list, telling handlers the difference. */
  private replace(items: readonly T[]): void {
    const fresh = new Map<string, T>();
    for (const obj of items) fresh.set(objectKey(obj), obj);
    for (const [key, old] of this.store) {
      if (fresh.has(key)) continue;
      this.store.delete(key);
      this.dispatch('onDelete', (h) => h.onDelete?.(old));
    }
    for (const [key, obj] of fresh) {
      const old = this.store.get(key);
      this.store.set(key, obj);
      if (old === undefined) this.dispatch('onAdd', (h) => h.onAdd?.(obj));
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.dispatch('onUpdate', (h) => h.onUpdate?.(old, obj));
    }
  }

  private markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    this.logger.info({ objects: this.store.size }, `Cache of ${describeResource(this.resource)} synced`);
    for (const waiter of this.syncWaiters.splice(0)) waiter.resolve();
  }

  private scheduleResync(): void {
    this.resyncTimer = this.clock.setTimeout(() => {
      if (this.state !== 'running') return;
      for (const obj of this.store.values()) this.dispatch('onUpdate', (h) => h.onUpdate?.(obj, obj));
      this.scheduleResync();
    }, this.resyncPeriodMs);
  }

  private dispatch(what: keyof EventHandler<T>, call: (handler: EventHandler<T>) => void): void {
    for (const handler of this.handlers) this.call(what, () => call(handler));
  }

  private call(what: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.logger.error({ err: error }, `${what} handler for ${describeResource(this.resource)} threw: ${errorMessage(error)}`);
    }
  }
}

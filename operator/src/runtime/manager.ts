/**
 * The manager runs controllers, as controller-runtime's manager does:
 *
 *   run():
 *     1. HTTP server: /healthz (200 while the process answers), /readyz (200 once every informer cache has
 *        synced, else 503 naming the unsynced ones), /metrics (the registry: process metrics, workqueue_*,
 *        controller_runtime_*, leader_election_master_status).
 *     2. Informers start on every replica (a standby keeps a warm cache and takes over quickly).
 *     3. Leader election (unless disabled). Only the leader runs reconcilers: on acquiring the lease it waits for
 *        every cache to sync, then starts `concurrency` workers per controller.
 *     4. Waits for SIGTERM/SIGINT (or shutdown()).
 *
 *   Graceful shutdown (first signal): queues stop handing out work; reconciles in flight get
 *   gracefulShutdownTimeoutMs (30 s) to finish, after which their AbortSignal fires; the lease is released
 *   only if none is still running (otherwise it is left to expire, so a successor cannot overlap a straggler);
 *   informers stop; the HTTP server closes; run() resolves. A second signal exits at once with code 1.
 *
 *   Leadership lost (renewal failed for renewDeadline, or another replica holds the lease): every reconcile's
 *   AbortSignal fires, queues stop, and the process exits with code 1 at once (controller-runtime does the
 *   same): a replica that is no longer sure it leads must not write, and a restart is the simple way back.
 *
 *   Workers: get a key, reconcile it, then:
 *     returned nothing / {}         -> forget the key's backoff                   result="success"
 *     returned { requeueAfterMs }   -> forget the backoff, addAfter(key, ms)       result="requeue_after"
 *     threw                         -> addRateLimited(key) (250 ms doubling to 5 min), log "Reconcile failed"
 *                                      with the key and the error                  result="error"
 *   A key is never reconciled by two workers at once (the work queue guarantees it).
 */
import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { fastify, LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { ObjectClient } from './apply.ts';
import { systemClock, type Clock, type TimerHandle } from './clock.ts';
import { KubeEventRecorder, kubeEventSink, type EventRecorder } from './events.ts';
import { enqueueHandler, keysForControllerOwner, keysForObject, type KeyMapper, type Predicate } from './handlers.ts';
import { Informer, kubeListerWatcher, type Selector } from './informer.ts';
import { errorMessage, type KubeHttp } from './kube-api.ts';
import { HttpKubeClient, loadKubeConfig } from './kube-client.ts';
import { defaultIdentity, kubeLeaseClient, LeaderElector, type LeaseClient } from './leader-election.ts';
import { controllerMetrics, leaderElectionMetric, workQueueMetrics, type ControllerMetrics } from './metrics.ts';
import { parseKey, type KubeObject, type ObjectKey } from './objects.ts';
import { apiVersionOf, describeResource, ResourceTable, type ResourceType } from './resources.ts';
import { WorkQueue, type BackoffOptions } from './work-queue.ts';
import { OPERATOR_NAME } from '../api/constants.ts';
import type { KubeConfig } from '@kubernetes/client-node';

export interface ReconcileRequest extends ObjectKey {
  /** "namespace/name" or "name". */
  readonly key: string;
  /** Fires when the reconcile must stop: leadership lost, or graceful shutdown timed out. */
  readonly signal: AbortSignal;
}

export interface ReconcileResult {
  /** Reconcile this key again after this long (e.g. to poll a rolling restart). */
  readonly requeueAfterMs?: number;
}

/** What a controller watches and how an event on it maps to keys of the controller's queue. */
export interface WatchSource<T extends KubeObject = KubeObject> {
  readonly resource: ResourceType;
  readonly selector?: Selector;
  readonly map: KeyMapper<T>;
  readonly predicate?: Predicate<T>;
}

export interface WatchSourceOptions<T extends KubeObject = KubeObject> {
  readonly selector?: Selector;
  readonly predicate?: Predicate<T>;
}

/** The controller's own kind: each object's key (controller-runtime's For()). */
export function watchPrimary<T extends KubeObject = KubeObject>(resource: ResourceType, options: WatchSourceOptions<T> = {}): WatchSource<T> {
  return { resource, map: keysForObject, ...options };
}

/** Children: the key of their controller owner of kind `owner` (controller-runtime's Owns()). */
export function watchOwned<T extends KubeObject = KubeObject>(resource: ResourceType, owner: ResourceType, options: WatchSourceOptions<T> = {}): WatchSource<T> {
  return { resource, map: keysForControllerOwner(owner), ...options };
}

/** Anything else: keys computed by `map` (controller-runtime's Watches() with EnqueueRequestsFromMapFunc). */
export function watchMapped<T extends KubeObject = KubeObject>(resource: ResourceType, map: KeyMapper<T>, options: WatchSourceOptions<T> = {}): WatchSource<T> {
  return { resource, map, ...options };
}

export interface Controller {
  /** Unique; the `controller` and `name` label of the metrics. */
  readonly name: string;
  readonly watches: readonly WatchSource[];
  /** Concurrent reconciles (default 1). */
  readonly concurrency?: number;
  /** Retry backoff after errors (default 250 ms doubling to 5 min). */
  readonly backoff?: Partial<BackoffOptions>;
  reconcile(request: ReconcileRequest): Promise<ReconcileResult | void>;
}

export interface LeaderElectionOptions {
  /** Default: POD_NAMESPACE, else the service account's namespace, else the kubeconfig context's, else "default". */
  readonly namespace?: string;
  /** Default millrace-operator-leader. */
  readonly name?: string;
  /** Default POD_NAME, else hostname_uuid. */
  readonly identity?: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  /** Replaces the API server Lease (tests). */
  readonly leaseClient?: LeaseClient;
}

export interface ManagerOptions {
  /** Default: loadKubeConfig() (KUBECONFIG, ~/.kube/config, in-cluster). Ignored when http is given. */
  readonly kubeConfig?: KubeConfig;
  /** Replaces the HTTP transport (tests). */
  readonly http?: KubeHttp;
  readonly logger?: Logger;
  /** Default: a new Registry. */
  readonly registry?: Registry;
  /** prom-client's process and Node.js metrics on the registry (default true). */
  readonly processMetrics?: boolean;
  readonly clock?: Clock;
  /** false disables leader election (one replica only!). */
  readonly leaderElection?: LeaderElectionOptions | false;
  /** false: no HTTP server. Default 0.0.0.0:8080; port 0 picks a free port. */
  readonly server?: { readonly host?: string; readonly port?: number } | false;
  readonly gracefulShutdownTimeoutMs?: number;
  /** Every period, every cached object is reported as updated (default 10 h, controller-runtime's SyncPeriod; 0 = never). */
  readonly resyncPeriodMs?: number;
  /** Install SIGTERM/SIGINT handlers (default true). */
  readonly handleSignals?: boolean;
  /** How the process exits on lost leadership or a second signal (default process.exit). */
  readonly exit?: (code: number) => void;
  /** Extra resource types for ObjectClient.apply (default: the built-in table). */
  readonly resources?: ResourceTable;
  readonly informerBackoff?: { readonly baseMs?: number; readonly maxMs?: number };
}

export const GRACEFUL_SHUTDOWN_TIMEOUT_MS_DEFAULT = 30_000;
export const RESYNC_PERIOD_MS_DEFAULT = 10 * 60 * 60_000;
export const LEASE_NAME_DEFAULT = `${OPERATOR_NAME}-leader`;
const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
const CONCURRENCY_MAX = 64;

interface RunningController {
  readonly controller: Controller;
  readonly queue: WorkQueue;
  readonly metrics: ControllerMetrics;
  readonly concurrency: number;
  workers: Promise<void>[];
}

type ManagerState = 'new' | 'running' | 'stopping' | 'stopped';

export class Manager {
  readonly client: ObjectClient;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly events: EventRecorder;
  readonly http: KubeHttp;

  private readonly options: ManagerOptions;
  private readonly clock: Clock;
  private readonly kubeConfig: KubeConfig | undefined;
  /** The transport was made here (not passed in), so shutdown closes it. */
  private readonly ownsHttp: boolean;
  private readonly informers = new Map<string, Informer>();
  private readonly controllers = new Map<string, RunningController>();
  private readonly recorder: KubeEventRecorder;
  private readonly exit: (code: number) => void;
  private elector: LeaderElector | undefined;
  private server: FastifyInstance | undefined;
  private state: ManagerState = 'new';
  private workersStarted = false;
  /** Aborted when reconciles must stop (leadership lost, shutdown timeout). */
  private readonly reconcileAbort = new AbortController();
  /** Aborted when shutdown begins. */
  private readonly shutdownAbort = new AbortController();
  private shutdownPromise: Promise<void> | undefined;
  private resolveRun: (() => void) | undefined;
  private readonly signalHandlers: [NodeJS.Signals, () => void][] = [];
  private boundPort: number | undefined;

  constructor(options: ManagerOptions = {}) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? pino({ name: OPERATOR_NAME });
    this.registry = options.registry ?? new Registry();
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.exit = options.exit ?? ((code) => process.exit(code));
    this.ownsHttp = options.http === undefined;
    if (options.http !== undefined) {
      this.http = options.http;
    } else {
      this.kubeConfig = options.kubeConfig ?? loadKubeConfig();
      this.http = new HttpKubeClient(this.kubeConfig);
    }
    this.client = new ObjectClient({ http: this.http, ...(options.resources === undefined ? {} : { resources: options.resources }) });
    this.recorder = new KubeEventRecorder({ sink: kubeEventSink(this.client), logger: this.logger.child({ component: 'events' }), clock: this.clock });
    this.events = this.recorder;
  }

  /**
   * The shared informer (cache) for a resource type and selector; controllers read their objects from it.
   * Created on first use; started at once if the manager is already running.
   */
  informer<T extends KubeObject = KubeObject>(resource: ResourceType, selector: Selector = {}): Informer<T> {
    const id = JSON.stringify([apiVersionOf(resource), resource.kind, selector.namespace ?? null, selector.labelSelector ?? null, selector.fieldSelector ?? null]);
    let informer = this.informers.get(id);
    if (informer === undefined) {
      const backoff = this.options.informerBackoff;
      informer = new Informer({
        resource,
        selector,
        listerWatcher: kubeListerWatcher(this.http, resource, selector),
        logger: this.logger,
        clock: this.clock,
        resyncPeriodMs: this.options.resyncPeriodMs ?? RESYNC_PERIOD_MS_DEFAULT,
        ...(backoff?.baseMs === undefined ? {} : { backoffBaseMs: backoff.baseMs }),
        ...(backoff?.maxMs === undefined ? {} : { backoffMaxMs: backoff.maxMs }),
      });
      this.informers.set(id, informer);
      if (this.state === 'running') informer.start();
    }
    return informer as unknown as Informer<T>;
  }

  addController(controller: Controller): void {
    if (this.state === 'stopping' || this.state === 'stopped') throw new Error(`cannot add controller ${controller.name}: the manager is shutting down`);
    if (this.controllers.has(controller.name)) throw new Error(`a controller named ${controller.name} is already registered`);
    if (controller.watches.length === 0) throw new Error(`controller ${controller.name} watches nothing`);
    const concurrency = controller.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > CONCURRENCY_MAX) throw new Error(`controller ${controller.name}: concurrency must be an integer in [1, ${CONCURRENCY_MAX}], got ${concurrency}`);
    const queue = new WorkQueue({
      name: controller.name,
      clock: this.clock,
      metrics: workQueueMetrics(this.registry, controller.name),
      ...(controller.backoff === undefined ? {} : { backoff: controller.backoff }),
    });
    const running: RunningController = { controller, queue, metrics: controllerMetrics(this.registry, controller.name, concurrency), concurrency, workers: [] };
    this.controllers.set(controller.name, running);
    for (const source of controller.watches) {
      this.informer(source.resource, source.selector ?? {}).addHandler(enqueueHandler(queue, source.map, source.predicate));
    }
    if (this.workersStarted) void this.startLateController(running);
  }

  /** True when every informer has synced (the /readyz condition). */
  isReady(): boolean {
    return [...this.informers.values()].every((i) => i.hasSynced());
  }

  /** True while reconcilers may run: leading, or leader election disabled. */
  isLeader(): boolean {
    return this.options.leaderElection === false ? this.state === 'running' : (this.elector?.isLeader() ?? false);
  }

  /** The HTTP server's port once listening. */
  port(): number | undefined {
    return this.boundPort;
  }

  /** Runs until shutdown completes (signal or shutdown()). Rejects only if startup fails (e.g. the port is taken). */
  async run(): Promise<void> {
    if (this.state !== 'new') throw new Error('the manager can run only once');
    this.state = 'running';
    const done = new Promise<void>((resolve) => (this.resolveRun = resolve));
    if (this.options.handleSignals ?? true) this.installSignalHandlers();
    try {
      if (this.options.server !== false) await this.startServer(this.options.server ?? {});
    } catch (error) {
      this.removeSignalHandlers();
      this.state = 'stopped';
      throw error;
    }
    for (const informer of this.informers.values()) informer.start();
    if (this.options.leaderElection === false) {
      this.logger.warn('Leader election is disabled: run a single replica only');
      void this.startControllers();
    } else {
      this.startLeaderElection(this.options.leaderElection ?? {});
    }
    await done;
  }

  /** Graceful shutdown (idempotent); resolves when done. */
  shutdown(reason = 'shutdown requested'): Promise<void> {
    this.shutdownPromise ??= this.doShutdown(reason);
    return this.shutdownPromise;
  }

  private startLeaderElection(config: LeaderElectionOptions): void {
    const namespace = config.namespace ?? this.defaultNamespace();
    const name = config.name ?? LEASE_NAME_DEFAULT;
    const setMetric = leaderElectionMetric(this.registry, name);
    this.elector = new LeaderElector({
      lease: config.leaseClient ?? kubeLeaseClient(this.client, namespace, name),
      leaseName: `${namespace}/${name}`,
      identity: config.identity ?? defaultIdentity(),
      clock: this.clock,
      logger: this.logger.child({ component: 'leader-election' }),
      ...(config.leaseDurationMs === undefined ? {} : { leaseDurationMs: config.leaseDurationMs }),
      ...(config.renewDeadlineMs === undefined ? {} : { renewDeadlineMs: config.renewDeadlineMs }),
      ...(config.retryPeriodMs === undefined ? {} : { retryPeriodMs: config.retryPeriodMs }),
      onLeadingChanged: setMetric,
      onStartedLeading: () => void this.startControllers(),
      onStoppedLeading: (reason) => {
        if (reason === 'lost') this.leadershipLost();
      },
    });
    this.logger.info({ lease: `${namespace}/${name}`, identity: this.elector.identity }, 'Waiting for leader election');
    this.elector.start();
  }

  private async startControllers(): Promise<void> {
    if (this.state !== 'running' || this.workersStarted) return;
    try {
      await Promise.all([...this.informers.values()].map((i) => i.waitForSync(this.shutdownAbort.signal)));
    } catch (error) {
      if (this.state === 'running') this.logger.error({ err: error }, `Controllers not started: ${errorMessage(error)}`);
      return;
    }
    if (this.state !== 'running' || this.workersStarted) return;
    this.workersStarted = true;
    for (const running of this.controllers.values()) this.startWorkers(running);
  }

  /** A controller added while workers already run: start it once the caches it watches have synced. */
  private async startLateController(running: RunningController): Promise<void> {
    try {
      await Promise.all(running.controller.watches.map((w) => this.informer(w.resource, w.selector ?? {}).waitForSync(this.shutdownAbort.signal)));
    } catch (error) {
      if (this.state === 'running') this.logger.error({ err: error, controller: running.controller.name }, `Controller not started: ${errorMessage(error)}`);
      return;
    }
    if (this.state === 'running') this.startWorkers(running);
  }

  private startWorkers(running: RunningController): void {
    this.logger.info({ controller: running.controller.name, workers: running.concurrency }, 'Starting workers');
    for (let i = 0; i < running.concurrency; i++) running.workers.push(this.worker(running));
  }

  private async worker(running: RunningController): Promise<void> {
    for (;;) {
      const key = await running.queue.get();
      if (key === undefined) return;
      await this.reconcileOne(running, key);
    }
  }

  private async reconcileOne(running: RunningController, key: string): Promise<void> {
    const { controller, queue, metrics } = running;
    const log = this.logger.child({ controller: controller.name, key });
    const startedMs = this.clock.now();
    metrics.activeWorkers(1);
    try {
      const request: ReconcileRequest = { key, ...parseKey(key), signal: this.reconcileAbort.signal };
      log.info('Reconciling');
      const result = await controller.reconcile(request);
      const seconds = (this.clock.now() - startedMs) / 1000;
      queue.forget(key);
      const requeueAfterMs = result?.requeueAfterMs;
      if (requeueAfterMs !== undefined && requeueAfterMs > 0) {
        queue.addAfter(key, requeueAfterMs);
        metrics.reconciled('requeue_after', seconds);
        log.debug({ durationMs: Math.round(seconds * 1000), requeueAfterMs }, 'Reconciled; requeued');
      } else {
        metrics.reconciled('success', seconds);
        log.debug({ durationMs: Math.round(seconds * 1000) }, 'Reconciled');
      }
    } catch (error) {
      const seconds = (this.clock.now() - startedMs) / 1000;
      metrics.reconciled('error', seconds);
      const retryInMs = queue.addRateLimited(key);
      log.error({ err: error, error: errorMessage(error), failures: queue.numRequeues(key), retryInMs, durationMs: Math.round(seconds * 1000) }, 'Reconcile failed');
    } finally {
      queue.done(key);
      metrics.activeWorkers(-1);
    }
  }

  private leadershipLost(): void {
    this.logger.error('Leader election lost: stopping every reconcile and exiting');
    this.reconcileAbort.abort(new Error('leader election lost'));
    for (const running of this.controllers.values()) void running.queue.shutDown();
    this.exit(1);
  }

  private async doShutdown(reason: string): Promise<void> {
    if (this.state === 'new' || this.state === 'stopped') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    this.logger.info({ reason }, 'Shutting down');
    this.shutdownAbort.abort();
    const timeoutMs = this.options.gracefulShutdownTimeoutMs ?? GRACEFUL_SHUTDOWN_TIMEOUT_MS_DEFAULT;

    // 1. Stop taking work; let reconciles in flight finish within the timeout.
    const inFlight = [...this.controllers.values()].reduce((n, c) => n + c.queue.inFlight(), 0);
    if (inFlight > 0) this.logger.info({ inFlight, timeoutMs }, 'Waiting for reconciles in flight');
    const drained = Promise.all([...this.controllers.values()].map((c) => c.queue.shutDown())).then(() => true);
    const finished = await raceTimeout(this.clock, drained, timeoutMs);
    if (!finished) {
      const stuck = [...this.controllers.values()].filter((c) => c.queue.inFlight() > 0).map((c) => c.controller.name);
      this.logger.warn({ controllers: stuck, timeoutMs }, `Reconciles still running after ${timeoutMs} ms; aborting them`);
      this.reconcileAbort.abort(new Error('graceful shutdown timed out'));
    }

    // 2. Release the lease, unless a reconcile may still be writing (then the lease runs out by itself).
    await this.elector?.stop({ release: finished });

    // 3. Stop the informers, flush events (bounded), close the server and connections.
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
    await raceTimeout(this.clock, this.recorder.flush(), 2_000);
    await this.server?.close();
    if (this.ownsHttp) this.http.close();
    this.removeSignalHandlers();
    this.state = 'stopped';
    this.logger.info('Shut down');
    this.resolveRun?.();
  }

  private installSignalHandlers(): void {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const handler = (): void => {
        if (this.shutdownPromise !== undefined) {
          this.logger.warn({ signal }, 'Second signal during shutdown: exiting now');
          this.exit(1);
          return;
        }
        void this.shutdown(`received ${signal}`);
      };
      process.on(signal, handler);
      this.signalHandlers.push([signal, handler]);
    }
  }

  private removeSignalHandlers(): void {
    for (const [signal, handler] of this.signalHandlers.splice(0)) process.off(signal, handler);
  }

  private defaultNamespace(): string {
    const fromEnv = process.env.POD_NAMESPACE;
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    try {
      const fromFile = readFileSync(SERVICE_ACCOUNT_NAMESPACE_FILE, 'utf8').trim();
      if (fromFile !== '') return fromFile;
    } catch {
      // Not in a cluster.
    }
    const context = this.kubeConfig?.getContextObject(this.kubeConfig.getCurrentContext());
    return context?.namespace !== undefined && context.namespace !== '' ? context.namespace : 'default';
  }

  private async startServer(config: { readonly host?: string; readonly port?: number }): Promise<void> {
    const host = config.host ?? '0.0.0.0';
    const port = config.port ?? 8080;
    const loggerInstance: FastifyBaseLogger = this.logger.child({ component: 'http' });
    const app = fastify({
      loggerInstance,
      logController: new LogController({ disableRequestLogging: true }),
      connectionTimeout: 10_000,
      requestTimeout: 10_000,
      bodyLimit: 16 * 1024,
      forceCloseConnections: 'idle',
    });
    app.setErrorHandler((error: FastifyError, request, reply) => {
      const statusCode = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500;
      if (statusCode >= 500) this.logger.error({ err: error, url: request.url }, `HTTP request failed: ${error.message}`);
      return reply.code(statusCode).send({ statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message: error.message });
    });
    app.get('/healthz', (_request, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }));
    app.get('/readyz', (_request, reply) => {
      const unsynced = [...this.informers.values()].filter((i) => !i.hasSynced()).map((i) => `${describeResource(i.resource)}${i.selector.namespace === undefined ? '' : ` in ${i.selector.namespace}`}`);
      const ready = unsynced.length === 0;
      return reply
        .header('cache-control', 'no-store')
        .code(ready ? 200 : 503)
        .send(ready ? { ready, leader: this.isLeader() } : { ready, reason: `caches not synced: ${unsynced.join(', ')}` });
    });
    app.get('/metrics', async (_request, reply) => {
      const body = await this.registry.metrics();
      return reply.header('content-type', this.registry.contentType).header('cache-control', 'no-store').send(body);
    });
    try {
      await app.listen({ host, port, listenTextResolver: (address) => `Operator HTTP server (health, readiness, metrics) listening on ${address}` });
    } catch (error) {
      throw new Error(`cannot listen on ${host}:${port} for the operator's health and metrics server: ${errorMessage(error)}`, { cause: error });
    }
    this.server = app;
    const address = app.server.address();
    this.boundPort = typeof address === 'object' && address !== null ? address.port : port;
  }
}

/** true if the promise settled within timeoutMs (by the clock), false otherwise. */
async function raceTimeout(clock: Clock, promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let handle: TimerHandle | undefined;
  const timeout = new Promise<false>((resolve) => (handle = clock.setTimeout(() => resolve(false), timeoutMs)));
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    if (handle !== undefined) clock.clearTimeout(handle);
  }
}

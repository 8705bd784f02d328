import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock, formatMicroTime } from '../../../../operator/src/runtime/clock.ts';
import type { LeaseClient, LeaseSpec, LeaseState } from '../../../../operator/src/runtime/leader-election.ts';
import { Manager, watchOwned, watchPrimary, type Controller, type ManagerOptions, type ReconcileRequest, type ReconcileResult } from '../../../../operator/src/runtime/manager.ts';
import type { KubeObject } from '../../../../operator/src/runtime/objects.ts';
import { Resources } from '../../../../operator/src/runtime/resources.ts';
import { FakeKubeApi } from './fake-kube-api.ts';

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly key?: string;
  readonly controller?: string;
  readonly error?: string;
  readonly retryInMs?: number;
}

const cluster = (name: string): KubeObject => ({ metadata: { name, namespace: 'streaming' } });

/** Polls (in real time) until the condition holds; the fake clock does not move meanwhile. */
async function until(condition: () => boolean, what = 'condition'): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

class FakeLease implements LeaseClient {
  current: LeaseState | null = null;
  failing = false;
  private rv = 0;
  get(): Promise<LeaseState | null> {
    return this.failing ? Promise.reject(new Error('connection refused')) : Promise.resolve(this.current);
  }
  create(spec: LeaseSpec): Promise<LeaseState> {
    return this.set(spec);
  }
  update(spec: LeaseSpec, resourceVersion: string): Promise<LeaseState> {
    if (this.current?.resourceVersion !== resourceVersion) return Promise.reject(new Error('409 Conflict'));
    return this.set(spec);
  }
  private set(spec: LeaseSpec): Promise<LeaseState> {
    if (this.failing) return Promise.reject(new Error('connection refused'));
    this.current = { spec, resourceVersion: String(++this.rv) };
    return Promise.resolve(this.current);
  }
}

const managers: Manager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.shutdown('test cleanup')));
});

function setup(options: Partial<ManagerOptions> = {}) {
  const api = new FakeKubeApi();
  const clock = new FakeClock();
  const logs: LogLine[] = [];
  const exits: number[] = [];
  const registry = new Registry();
  const manager = new Manager({
    http: api,
    logger: pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line) as LogLine) }),
    registry,
    processMetrics: false,
    clock,
    leaderElection: false,
    server: { host: '127.0.0.1', port: 0 },
    handleSignals: false,
    exit: (code) => exits.push(code),
    ...options,
  });
  managers.push(manager);
  return { api, clock, logs, exits, registry, manager };
}

function controller(reconcile: (request: ReconcileRequest) => Promise<ReconcileResult | void>, extra: Partial<Controller> = {}): Controller {
  return {
    name: 'kafkacluster',
    watches: [watchPrimary(Resources.KafkaCluster), watchOwned(Resources.StatefulSet, Resources.KafkaCluster)],
    reconcile,
    ...extra,
  };
}

async function get(manager: Manager, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${manager.port() ?? 0}${path}`);
  return { status: res.status, body: await res.text() };
}

describe('Manager', () => {
  it('reconciles primary objects and the owners of owned objects; serves health, readiness and metrics', async () => {
    const { api, manager, logs } = setup();
    const owner = api.put(Resources.KafkaCluster, cluster('orders'));
    const keys: string[] = [];
    manager.addController(controller((req) => {
      keys.push(`${req.key} ns=${req.namespace ?? ''} name=${req.name}`);
      return Promise.resolve();
    }));
    const running = manager.run();
    await until(() => keys.length === 1, 'first reconcile');
    expect(keys).toEqual(['streaming/orders ns=streaming name=orders']);
    expect(manager.isReady()).toBe(true);

    api.put(Resources.StatefulSet, {
      metadata: { name: 'orders-brokers', namespace: 'streaming', ownerReferences: [{ apiVersion: 'kafka.millrace.dev/v1alpha1', kind: 'KafkaCluster', name: 'orders', uid: owner.metadata.uid ?? '', controller: true }] },
    });
    await until(() => keys.length === 2, 'reconcile for the owned StatefulSet');
    expect(keys[1]).toBe('streaming/orders ns=streaming name=orders');

    expect(await get(manager, '/healthz')).toEqual({ status: 200, body: '{"status":"ok"}' });
    expect(await get(manager, '/readyz')).toEqual({ status: 200, body: '{"ready":true,"leader":true}' });
    const metrics = (await get(manager, '/metrics')).body;
    expect(metrics).toContain('controller_runtime_reconcile_total{controller="kafkacluster",result="success"} 2');
    expect(metrics).toContain('controller_runtime_reconcile_total{controller="kafkacluster",result="error"} 0');
    expect(metrics).toContain('controller_runtime_reconcile_errors_total{controller="kafkacluster"} 0');
    expect(metrics).toContain('controller_runtime_reconcile_time_seconds_count{controller="kafkacluster"} 2');
    expect(metrics).toContain('controller_runtime_max_concurrent_reconciles{controller="kafkacluster"} 1');
    expect(metrics).toContain('workqueue_adds_total{name="kafkacluster"} 2');
    expect(logs.filter((l) => l.msg === 'Reconciling').map((l) => [l.controller, l.key])).toEqual([
      ['kafkacluster', 'streaming/orders'],
      ['kafkacluster', 'streaming/orders'],
    ]);

    await manager.shutdown();
    await running;
    expect(api.watcherCount()).toBe(0);
  });

  it('answers /readyz 503, naming the caches, until they sync', async () => {
    const { api, manager } = setup();
    api.fail((r) => (r.path.includes('kafkaclusters') ? new Error('list refused') : undefined));
    manager.addController(controller(() => Promise.resolve()));
    void manager.run();
    await until(() => manager.port() !== undefined, 'server');
    await until(() => api.requests.length >= 2, 'lists');
    const res = await get(manager, '/readyz');
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toEqual({ ready: false, reason: 'caches not synced: KafkaCluster.kafka.millrace.dev' });
  });

  it('retries a failed reconcile with backoff, logs "Reconcile failed" with key and error, and honours requeueAfterMs', async () => {
    const { api, clock, manager, logs, registry } = setup();
    api.put(Resources.KafkaCluster, cluster('orders'));
    const results: (() => Promise<ReconcileResult | void>)[] = [
      () => Promise.reject(new Error('apply StatefulSet streaming/orders-brokers: 422 Invalid: spec.ordinals.start: Invalid value')),
      () => Promise.reject(new Error('still failing')),
      () => Promise.resolve({ requeueAfterMs: 60_000 }),
      () => Promise.resolve(),
    ];
    let calls = 0;
    manager.addController(controller(() => {
      const next = results[calls++];
      return next === undefined ? Promise.resolve() : next();
    }));
    void manager.run();
    await until(() => calls === 1, 'first reconcile');
    await until(() => logs.some((l) => l.msg === 'Reconcile failed'), 'failure log');
    const failure = logs.find((l) => l.msg === 'Reconcile failed');
    expect(failure).toMatchObject({ level: 50, controller: 'kafkacluster', key: 'streaming/orders', error: 'apply StatefulSet streaming/orders-brokers: 422 Invalid: spec.ordinals.start: Invalid value', retryInMs: 250 });

    await clock.advanceAsync(249);
    expect(calls).toBe(1);
    await clock.advanceAsync(1);
    await until(() => calls === 2, 'retry after 250 ms');
    await until(() => logs.filter((l) => l.msg === 'Reconcile failed').length === 2, 'second failure log');
    expect(logs.filter((l) => l.msg === 'Reconcile failed').at(-1)?.retryInMs).toBe(500);
    await clock.advanceAsync(500);
    await until(() => calls === 3, 'retry after 500 ms');
    // Success with requeueAfter: not before 60 s.
    await clock.advanceAsync(59_999);
    expect(calls).toBe(3);
    await clock.advanceAsync(1);
    await until(() => calls === 4, 'requeue after 60 s');
    const metrics = await registry.metrics();
    expect(metrics).toContain('controller_runtime_reconcile_total{controller="kafkacluster",result="error"} 2');
    expect(metrics).toContain('controller_runtime_reconcile_total{controller="kafkacluster",result="requeue_after"} 1');
    expect(metrics).toContain('controller_runtime_reconcile_errors_total{controller="kafkacluster"} 2');
  });

  it('never reconciles one key on two workers at once, while other keys proceed in parallel', async () => {
    const { api, manager } = setup();
    for (const name of ['a', 'b', 'c']) api.put(Resources.KafkaCluster, cluster(name));
    const active = new Map<string, number>();
    let maxSameKey = 0;
    let maxParallel = 0;
    let done = 0;
    const gates: (() => void)[] = [];
    manager.addController(
      controller(async (req) => {
        active.set(req.key, (active.get(req.key) ?? 0) + 1);
        maxSameKey = Math.max(maxSameKey, active.get(req.key) ?? 0);
        maxParallel = Math.max(maxParallel, [...active.values()].reduce((a, b) => a + b, 0));
        await new Promise<void>((r) => gates.push(r));
        active.set(req.key, (active.get(req.key) ?? 0) - 1);
        done++;
      }, { concurrency: 4 }),
    );
    void manager.run();
    await until(() => gates.length === 3, 'three keys in parallel');
    // Events for 'a' while it is being reconciled: deferred, merged into one more pass.
    api.put(Resources.KafkaCluster, { metadata: { name: 'a', namespace: 'streaming', labels: { v: '2' } } });
    api.put(Resources.KafkaCluster, { metadata: { name: 'a', namespace: 'streaming', labels: { v: '3' } } });
    await new Promise((r) => setTimeout(r, 20));
    expect(gates).toHaveLength(3);
    for (const g of gates.splice(0)) g();
    await until(() => gates.length === 1, 'the deferred pass for a');
    gates.splice(0).forEach((g) => g());
    await until(() => done === 4, 'all passes');
    expect(maxSameKey).toBe(1);
    expect(maxParallel).toBe(3);
  });

  it('runs reconcilers only while leading: syncs caches as a standby, starts when the lease is released', async () => {
    const lease = new FakeLease();
    lease.current = { spec: { holderIdentity: 'other', leaseDurationSeconds: 15, renewTime: formatMicroTime(Date.now()), acquireTime: formatMicroTime(Date.now()), leaseTransitions: 0 }, resourceVersion: '1' };
    const { api, clock, manager, registry } = setup({ leaderElection: { leaseClient: lease, identity: 'me' } });
    api.put(Resources.KafkaCluster, cluster('orders'));
    let calls = 0;
    manager.addController(controller(() => {
      calls++;
      return Promise.resolve();
    }));
    void manager.run();
    await until(() => manager.isReady(), 'caches');
    await clock.advanceAsync(10_000);
    expect(calls).toBe(0);
    expect(manager.isLeader()).toBe(false);
    expect((await get(manager, '/readyz')).body).toBe('{"ready":true,"leader":false}');
    expect(await registry.metrics()).toContain('leader_election_master_status{name="millrace-operator-leader"} 0');

    lease.current = { spec: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 0 }, resourceVersion: '2' };
    await clock.advanceAsync(2_400);
    await until(() => calls === 1, 'reconcile after acquiring');
    expect(manager.isLeader()).toBe(true);
    expect(lease.current.spec).toMatchObject({ holderIdentity: 'me', leaseTransitions: 1 });
    expect(await registry.metrics()).toContain('leader_election_master_status{name="millrace-operator-leader"} 1');
  });

  it('on lost leadership aborts reconciles in flight and exits with code 1', async () => {
    const lease = new FakeLease();
    const { api, clock, manager, exits, logs } = setup({ leaderElection: { leaseClient: lease, identity: 'me' } });
    api.put(Resources.KafkaCluster, cluster('orders'));
    let aborted: unknown;
    manager.addController(controller((req) => new Promise<void>((resolve) => req.signal.addEventListener('abort', () => {
      aborted = req.signal.reason;
      resolve();
    }))));
    void manager.run();
    await until(() => manager.isLeader(), 'leadership');
    await until(() => logs.some((l) => l.msg === 'Reconciling'), 'reconcile in flight');
    lease.failing = true;
    await clock.advanceAsync(10_000);
    expect(exits).toEqual([1]);
    expect(aborted).toEqual(new Error('leader election lost'));
    expect(logs.some((l) => l.msg === 'Leader election lost: stopping every reconcile and exiting')).toBe(true);
  });

  it('shuts down gracefully: waits for the reconcile in flight, then releases the lease and stops watching', async () => {
    const lease = new FakeLease();
    const { api, manager } = setup({ leaderElection: { leaseClient: lease, identity: 'me' } });
    api.put(Resources.KafkaCluster, cluster('orders'));
    const gates: (() => void)[] = [];
    manager.addController(controller(() => new Promise<void>((r) => gates.push(r))));
    const running = manager.run();
    await until(() => gates.length === 1, 'reconcile in flight');
    let stopped = false;
    const shutdown = manager.shutdown('test').then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(stopped).toBe(false);
    expect(lease.current?.spec.holderIdentity).toBe('me');
    api.put(Resources.KafkaCluster, cluster('payments')); // no new work is taken
    gates.splice(0).forEach((g) => g());
    await shutdown;
    await running;
    expect(gates).toHaveLength(0);
    expect(lease.current?.spec).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
    expect(api.watcherCount()).toBe(0);
  });

  it('aborts reconciles still running after the graceful timeout and then leaves the lease to expire', async () => {
    const lease = new FakeLease();
    const { api, clock, manager, logs } = setup({ leaderElection: { leaseClient: lease, identity: 'me' }, gracefulShutdownTimeoutMs: 5_000 });
    api.put(Resources.KafkaCluster, cluster('orders'));
    let signal: AbortSignal | undefined;
    manager.addController(controller((req) => {
      signal = req.signal;
      return new Promise<void>(() => {}); // ignores the signal: never finishes
    }));
    void manager.run();
    await until(() => signal !== undefined, 'reconcile in flight');
    const shutdown = manager.shutdown('test');
    await clock.advanceAsync(5_000);
    await shutdown;
    expect(signal?.aborted).toBe(true);
    expect(lease.current?.spec.holderIdentity).toBe('me'); // not released: a straggler may still write
    expect(logs.some((l) => l.msg === 'Reconciles still running after 5000 ms; aborting them')).toBe(true);
  });

  it('installs SIGTERM/SIGINT handlers while running and removes them on shutdown', async () => {
    const { manager } = setup({ handleSignals: true });
    manager.addController(controller(() => Promise.resolve()));
    const before = process.listenerCount('SIGTERM');
    const running = manager.run();
    await until(() => manager.port() !== undefined, 'server');
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    expect(process.listenerCount('SIGINT')).toBeGreaterThan(0);
    await manager.shutdown();
    await running;
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });

  it('starts a controller added while running once its own cache has synced', async () => {
    const { api, manager } = setup();
    api.put(Resources.KafkaTopic, { metadata: { name: 'events', namespace: 'streaming' } });
    manager.addController(controller(() => Promise.resolve()));
    void manager.run();
    await until(() => manager.isReady(), 'first caches');
    const topics: string[] = [];
    manager.addController({
      name: 'kafkatopic',
      watches: [watchPrimary(Resources.KafkaTopic)],
      reconcile: (req) => {
        topics.push(req.key);
        return Promise.resolve();
      },
    });
    await until(() => topics.length === 1, 'the late controller reconciling');
    expect(topics).toEqual(['streaming/events']);
  });

  it('refuses bad controller definitions with the reason', () => {
    const { manager } = setup();
    manager.addController(controller(() => Promise.resolve()));
    expect(() => manager.addController(controller(() => Promise.resolve()))).toThrow(/already registered/);
    expect(() => manager.addController(controller(() => Promise.resolve(), { name: 'x', concurrency: 0 }))).toThrow(/concurrency must be an integer/);
    expect(() => manager.addController(controller(() => Promise.resolve(), { name: 'y', watches: [] }))).toThrow(/watches nothing/);
  });
});

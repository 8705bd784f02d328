/**
 * Prometheus metrics of the runtime, named as controller-runtime and client-go name them so existing
 * dashboards and alerts work unchanged:
 *
 *   workqueue_depth{name}                               gauge: keys waiting (queued or deferred behind processing)
 *   workqueue_adds_total{name}                          counter: keys accepted by add() (merged repeats not counted)
 *   workqueue_retries_total{name}                       counter: addRateLimited() and addAfter() calls
 *   workqueue_queue_duration_seconds{name}              histogram: time from add to get
 *   workqueue_work_duration_seconds{name}               histogram: time from get to done
 *   controller_runtime_reconcile_total{controller,result} counter: result = success | error | requeue_after
 *   controller_runtime_reconcile_errors_total{controller} counter
 *   controller_runtime_reconcile_time_seconds{controller} histogram
 *   controller_runtime_active_workers{controller}       gauge
 *   controller_runtime_max_concurrent_reconciles{controller} gauge
 *   leader_election_master_status{name}                 gauge: 1 while this replica holds the lease
 *
 * Several queues and controllers share one Registry: each metric is registered once and labelled per owner.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

// client-go's workqueue buckets: 10 ns to 1000 s by powers of ten.
const WORKQUEUE_BUCKETS_SECONDS = Array.from({ length: 12 }, (_, i) => 1e-8 * 10 ** i);
// controller-runtime's reconcile_time_seconds buckets.
const RECONCILE_BUCKETS_SECONDS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10,
  15, 20, 25, 30, 40, 50, 60,
];

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing instanceof Counter) return existing;
  if (existing !== undefined) throw new Error(`metric ${name} is already registered with another type`);
  return new Counter({ name, help, labelNames, registers: [registry] });
}

function gauge<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Gauge<L> {
  const existing = registry.getSingleMetric(name);
  if (existing instanceof Gauge) return existing;
  if (existing !== undefined) throw new Error(`metric ${name} is already registered with another type`);
  return new Gauge({ name, help, labelNames, registers: [registry] });
}

function histogram<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[], buckets: number[]): Histogram<L> {
  const existing = registry.getSingleMetric(name);
  if (existing instanceof Histogram) return existing;
  if (existing !== undefined) throw new Error(`metric ${name} is already registered with another type`);
  return new Histogram({ name, help, labelNames, buckets, registers: [registry] });
}

/** What a WorkQueue reports; every method is cheap and never throws. */
export interface WorkQueueMetrics {
  depth(value: number): void;
  added(): void;
  retried(): void;
  queued(seconds: number): void;
  worked(seconds: number): void;
}

export const noWorkQueueMetrics: WorkQueueMetrics = { depth: () => {}, added: () => {}, retried: () => {}, queued: () => {}, worked: () => {} };

export function workQueueMetrics(registry: Registry, queueName: string): WorkQueueMetrics {
  const depth = gauge(registry, 'workqueue_depth', 'Current depth of workqueue', ['name']);
  const adds = counter(registry, 'workqueue_adds_total', 'Total number of adds handled by workqueue', ['name']);
  const retries = counter(registry, 'workqueue_retries_total', 'Total number of retries handled by workqueue', ['name']);
  const queueDuration = histogram(registry, 'workqueue_queue_duration_seconds', 'How long in seconds an item stays in workqueue before being requested', ['name'], WORKQUEUE_BUCKETS_SECONDS);
  const workDuration = histogram(registry, 'workqueue_work_duration_seconds', 'How long in seconds processing an item from workqueue takes.', ['name'], WORKQUEUE_BUCKETS_SECONDS);
  const labels = { name: queueName };
  depth.set(labels, 0);
  adds.inc(labels, 0);
  retries.inc(labels, 0);
  return {
    depth: (value) => depth.set(labels, value),
    added: () => adds.inc(labels),
    retried: () => retries.inc(labels),
    queued: (seconds) => queueDuration.observe(labels, Math.max(0, seconds)),
    worked: (seconds) => workDuration.observe(labels, Math.max(0, seconds)),
  };
}

export type ReconcileResultLabel = 'success' | 'error' | 'requeue_after';

export interface ControllerMetrics {
  reconciled(result: ReconcileResultLabel, seconds: number): void;
  activeWorkers(delta: number): void;
}

export function controllerMetrics(registry: Registry, controller: string, maxConcurrentReconciles: number): ControllerMetrics {
  const total = counter(registry, 'controller_runtime_reconcile_total', 'Total number of reconciliations per controller', ['controller', 'result']);
  const errors = counter(registry, 'controller_runtime_reconcile_errors_total', 'Total number of reconciliation errors per controller', ['controller']);
  const time = histogram(registry, 'controller_runtime_reconcile_time_seconds', 'Length of time per reconciliation per controller', ['controller'], RECONCILE_BUCKETS_SECONDS);
  const active = gauge(registry, 'controller_runtime_active_workers', 'Number of currently used workers per controller', ['controller']);
  const max = gauge(registry, 'controller_runtime_max_concurrent_reconciles', 'Maximum number of concurrent reconciles per controller', ['controller']);
  for (const result of ['success', 'error', 'requeue_after'] as const) total.inc({ controller, result }, 0);
  errors.inc({ controller }, 0);
  active.set({ controller }, 0);
  max.set({ controller }, maxConcurrentReconciles);
  return {
    reconciled: (result, seconds) => {
      total.inc({ controller, result });
      if (result === 'error') errors.inc({ controller });
      time.observe({ controller }, Math.max(0, seconds));
    },
    activeWorkers: (delta) => active.inc({ controller }, delta),
  };
}

export function leaderElectionMetric(registry: Registry, leaseName: string): (leading: boolean) => void {
  const status = gauge(registry, 'leader_election_master_status', 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master.', ['name']);
  status.set({ name: leaseName }, 0);
  return (leading) => status.set({ name: leaseName }, leading ? 1 : 0);
}

/**
 * A keyed work queue with client-go's semantics (workqueue.TypedRateLimitingInterface):
 *
 *   - add(key) while the key is queued merges: the key is processed once.
 *   - A key handed out by get() is "processing" until done(key). It is never handed out twice at once: an add
 *     during processing marks it dirty, and done() re-queues it (at the back).
 *   - addRateLimited(key): add after a per-key exponential backoff, baseDelayMs * 2^(failures so far), capped
 *     at maxDelayMs. forget(key) resets the count (call it on success).
 *   - addAfter(key, ms): add once ms have passed (requeueAfter). Several pending addAfter calls for one key
 *     keep the earliest. An immediate add() does not cancel a pending one (as in client-go: one extra,
 *     harmless, level-triggered reconcile).
 *   - shutDown(): no more adds, get() resolves undefined from now on, queued keys are dropped (the informers
 *     re-derive them on the next start); resolves once every key in processing is done().
 *     shutDownWithDrain(): no more adds, but get() keeps handing out queued keys until none is left; resolves
 *     when the queue is empty and nothing is processing.
 *
 * Invariants (asserted): a key is never both queued and processing; every queued key is dirty.
 * Time comes only from the injected Clock.
 */
import { systemClock, type Clock, type TimerHandle } from './clock.ts';
import { noWorkQueueMetrics, type WorkQueueMetrics } from './metrics.ts';

export interface BackoffOptions {
  /** First retry delay (default 250 ms). */
  readonly baseDelayMs: number;
  /** Upper bound of a retry delay (default 5 min). */
  readonly maxDelayMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseDelayMs: 250, maxDelayMs: 5 * 60_000 };

/** The delay before retry number failures+1: base * 2^failures, capped. Pure. */
export function backoffDelayMs(failures: number, options: BackoffOptions = DEFAULT_BACKOFF): number {
  if (failures < 0 || !Number.isInteger(failures)) throw new Error(`failures must be a non-negative integer, got ${failures}`);
  // 2^60 already exceeds any cap; clamping the exponent keeps the arithmetic finite.
  return Math.min(options.baseDelayMs * 2 ** Math.min(failures, 60), options.maxDelayMs);
}

export interface WorkQueueOptions {
  /** The `name` label of the workqueue_* metrics (the controller name). */
  readonly name: string;
  readonly clock?: Clock;
  readonly backoff?: Partial<BackoffOptions>;
  readonly metrics?: WorkQueueMetrics;
}

interface Delayed {
  readonly readyAtMs: number;
  readonly timer: TimerHandle;
}

export class WorkQueue {
  readonly name: string;
  private readonly clock: Clock;
  private readonly backoff: BackoffOptions;
  private readonly metrics: WorkQueueMetrics;

  /** FIFO of keys ready to hand out. */
  private queue: string[] = [];
  /** Keys that need processing: queued ones, and processing ones re-added meanwhile. Value: when first added. */
  private readonly dirty = new Map<string, number>();
  /** Keys handed out and not yet done(). Value: when handed out. */
  private readonly processing = new Map<string, number>();
  private readonly delayed = new Map<string, Delayed>();
  private readonly failures = new Map<string, number>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;
  private draining = false;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(options: WorkQueueOptions) {
    this.name = options.name;
    this.clock = options.clock ?? systemClock;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    if (!(this.backoff.baseDelayMs > 0) || !(this.backoff.maxDelayMs >= this.backoff.baseDelayMs)) {
      throw new Error(`work queue ${this.name}: backoff needs 0 < baseDelayMs <= maxDelayMs, got ${this.backoff.baseDelayMs} and ${this.backoff.maxDelayMs}`);
    }
    this.metrics = options.metrics ?? noWorkQueueMetrics;
  }

  add(key: string): void {
    if (this.shuttingDown) return;
    if (this.dirty.has(key)) return; // merged with the pending one
    this.dirty.set(key, this.clock.now());
    this.metrics.added();
    this.metrics.depth(this.dirty.size);
    if (this.processing.has(key)) return; // deferred until done(key)
    this.queue.push(key);
    this.handOut();
  }

  /** Adds the key once delayMs have passed; with several pending, the earliest wins. delayMs <= 0 adds now. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    this.metrics.retried();
    if (!(delayMs > 0)) {
      this.add(key);
      return;
    }
    const readyAtMs = this.clock.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending !== undefined) {
      if (pending.readyAtMs <= readyAtMs) return;
      this.clock.clearTimeout(pending.timer);
    }
    const timer = this.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.delayed.set(key, { readyAtMs, timer });
  }

  /** Adds the key after its backoff and counts one more failure for it; returns the delay. */
  addRateLimited(key: string): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    const delayMs = backoffDelayMs(failures, this.backoff);
    this.addAfter(key, delayMs);
    return delayMs;
  }

  /** Resets the key's backoff (after a successful reconcile). Does not cancel a pending addAfter. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Failures counted for the key since the last forget(). */
  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Resolves with the next key (now processing), or undefined once the queue is shut down (and drained). */
  get(): Promise<string | undefined> {
    if (this.queue.length > 0) return Promise.resolve(this.take());
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks the key processed; re-queues it if it was added meanwhile. */
  done(key: string): void {
    const startedMs = this.processing.get(key);
    if (startedMs === undefined) return; // not handed out (or done twice): nothing to do
    this.processing.delete(key);
    this.metrics.worked((this.clock.now() - startedMs) / 1000);
    if (this.dirty.has(key)) {
      if (this.shuttingDown && !this.draining) {
        this.dirty.delete(key);
        this.metrics.depth(this.dirty.size);
      } else {
        this.queue.push(key);
        this.handOut();
      }
    }
    this.checkIdle();
  }

  /** Keys ready to hand out now. */
  len(): number {
    return this.queue.length;
  }

  /** Keys waiting, including ones deferred behind their own processing (the workqueue_depth value). */
  depth(): number {
    return this.dirty.size;
  }

  /** Keys handed out and not yet done. */
  inFlight(): number {
    return this.processing.size;
  }

  /** Keys with a pending addAfter / addRateLimited. */
  delayedCount(): number {
    return this.delayed.size;
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Stops handing out work at once (queued keys dropped); resolves when every key in processing is done. */
  shutDown(): Promise<void> {
    this.beginShutdown(false);
    for (const key of this.queue) this.dirty.delete(key);
    this.queue = [];
    this.metrics.depth(this.dirty.size);
    this.releaseWaiters();
    return this.whenIdle();
  }

  /** No more adds; queued keys are still handed out; resolves when the queue is empty and nothing is processing. */
  shutDownWithDrain(): Promise<void> {
    this.beginShutdown(true);
    if (this.queue.length === 0) this.releaseWaiters();
    return this.whenIdle();
  }

  private beginShutdown(drain: boolean): void {
    this.shuttingDown = true;
    this.draining = this.draining || drain;
    for (const { timer } of this.delayed.values()) this.clock.clearTimeout(timer);
    this.delayed.clear();
  }

  private take(): string {
    const key = this.queue.shift();
    if (key === undefined) throw new Error(`work queue ${this.name}: take() on an empty queue`);
    const addedMs = this.dirty.get(key);
    if (addedMs === undefined || this.processing.has(key)) throw new Error(`work queue ${this.name}: invariant broken for key ${key} (queued but not dirty, or already processing)`);
    this.dirty.delete(key);
    const now = this.clock.now();
    this.processing.set(key, now);
    this.metrics.depth(this.dirty.size);
    this.metrics.queued((now - addedMs) / 1000);
    if (this.shuttingDown && this.queue.length === 0) this.releaseWaiters();
    return key;
  }

  private handOut(): void {
    while (this.waiters.length > 0 && this.queue.length > 0) {
      const waiter = this.waiters.shift();
      waiter?.(this.take());
    }
  }

  private releaseWaiters(): void {
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }

  private whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.processing.size === 0 && this.queue.length === 0;
  }

  private checkIdle(): void {
    if (!this.shuttingDown || !this.isIdle()) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
    this.releaseWaiters();
  }
}

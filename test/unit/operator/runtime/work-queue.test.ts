import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../../operator/src/runtime/clock.ts';
import { workQueueMetrics } from '../../../../operator/src/runtime/metrics.ts';
import { backoffDelayMs, WorkQueue } from '../../../../operator/src/runtime/work-queue.ts';

const newQueue = (clock = new FakeClock(), backoff?: { baseDelayMs: number; maxDelayMs: number }): WorkQueue =>
  new WorkQueue({ name: 'test', clock, ...(backoff === undefined ? {} : { backoff }) });

/** get() that must resolve at once (the queue has a key ready). */
async function take(queue: WorkQueue): Promise<string | undefined> {
  let resolved = false;
  const p = queue.get().then((k) => {
    resolved = true;
    return k;
  });
  await Promise.resolve();
  await Promise.resolve();
  expect(resolved, 'get() should not block here').toBe(true);
  return p;
}

describe('WorkQueue: add, get, done', () => {
  it('hands keys out in FIFO order and merges repeats while queued', async () => {
    const q = newQueue();
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/a');
    q.add('ns/a');
    expect(q.len()).toBe(2);
    expect(await take(q)).toBe('ns/a');
    expect(await take(q)).toBe('ns/b');
    expect(q.len()).toBe(0);
  });

  it('never hands out a key that is processing; a re-add is deferred until done()', async () => {
    const q = newQueue();
    q.add('k');
    expect(await take(q)).toBe('k');
    q.add('k');
    q.add('k');
    expect(q.len()).toBe(0); // deferred, not queued
    expect(q.depth()).toBe(1);
    let second: string | undefined;
    const waiting = q.get().then((k) => (second = k));
    await Promise.resolve();
    expect(second).toBeUndefined();
    q.done('k');
    await waiting;
    expect(second).toBe('k'); // once, though added twice
    q.done('k');
    expect(q.len()).toBe(0);
    expect(q.depth()).toBe(0);
  });

  it('a done() without a re-add does not requeue', async () => {
    const q = newQueue();
    q.add('k');
    await take(q);
    q.done('k');
    expect(q.len()).toBe(0);
  });

  it('wakes blocked get() callers one key each', async () => {
    const q = newQueue();
    const a = q.get();
    const b = q.get();
    q.add('x');
    q.add('y');
    expect(await a).toBe('x');
    expect(await b).toBe('y');
  });

  it('keeps two workers off the same key while processing other keys', async () => {
    const q = newQueue();
    q.add('a');
    q.add('b');
    const first = await take(q);
    q.add(first ?? '');
    const second = await take(q);
    expect(second).toBe('b'); // 'a' is deferred, not handed to the second worker
    expect(q.len()).toBe(0);
    q.done('a');
    expect(await take(q)).toBe('a');
  });
});

describe('WorkQueue: backoff', () => {
  it('backoffDelayMs doubles from the base to the cap', () => {
    const opts = { baseDelayMs: 250, maxDelayMs: 5 * 60_000 };
    expect([0, 1, 2, 3, 4].map((n) => backoffDelayMs(n, opts))).toEqual([250, 500, 1000, 2000, 4000]);
    expect(backoffDelayMs(10, opts)).toBe(256_000);
    expect(backoffDelayMs(11, opts)).toBe(300_000);
    expect(backoffDelayMs(5000, opts)).toBe(300_000);
    expect(() => backoffDelayMs(-1, opts)).toThrow(/non-negative integer/);
  });

  it('addRateLimited waits base * 2^failures, and forget() resets it', async () => {
    const clock = new FakeClock();
    const q = newQueue(clock, { baseDelayMs: 100, maxDelayMs: 1000 });
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      const d = q.addRateLimited('k');
      delays.push(d);
      clock.advance(d - 1);
      expect(q.len(), `not ready 1 ms before ${d} ms`).toBe(0);
      clock.advance(1);
      expect(q.len()).toBe(1);
      await take(q);
      q.done('k');
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(q.numRequeues('k')).toBe(6);
    q.forget('k');
    expect(q.numRequeues('k')).toBe(0);
    expect(q.addRateLimited('k')).toBe(100);
  });

  it('keeps backoff per key', () => {
    const q = newQueue(new FakeClock(), { baseDelayMs: 100, maxDelayMs: 1000 });
    q.addRateLimited('a');
    q.addRateLimited('a');
    expect(q.addRateLimited('a')).toBe(400);
    expect(q.addRateLimited('b')).toBe(100);
  });

  it('refuses a backoff whose cap is below its base', () => {
    expect(() => newQueue(new FakeClock(), { baseDelayMs: 100, maxDelayMs: 10 })).toThrow(/baseDelayMs <= maxDelayMs/);
  });
});

describe('WorkQueue: addAfter', () => {
  it('adds once the delay has passed', () => {
    const clock = new FakeClock();
    const q = newQueue(clock);
    q.addAfter('k', 1000);
    clock.advance(999);
    expect(q.len()).toBe(0);
    clock.advance(1);
    expect(q.len()).toBe(1);
  });

  it('keeps the earliest of several pending delays', () => {
    const clock = new FakeClock();
    const q = newQueue(clock);
    q.addAfter('k', 5000);
    q.addAfter('k', 1000); // earlier: replaces
    q.addAfter('k', 3000); // later: ignored
    expect(q.delayedCount()).toBe(1);
    clock.advance(1000);
    expect(q.len()).toBe(1);
    expect(clock.pendingTimers()).toBe(0); // the 5000 ms timer was cancelled, the 3000 ms one never set
  });

  it('a zero or negative delay adds at once', () => {
    const q = newQueue();
    q.addAfter('k', 0);
    expect(q.len()).toBe(1);
  });

  it('an immediate add does not cancel a pending addAfter (one extra, level-triggered pass)', async () => {
    const clock = new FakeClock();
    const q = newQueue(clock);
    q.addAfter('k', 1000);
    q.add('k');
    await take(q);
    q.done('k');
    clock.advance(1000);
    expect(q.len()).toBe(1);
  });
});

describe('WorkQueue: shutdown', () => {
  it('shutDown drops queued keys, releases blocked getters, ignores adds, and waits for keys in processing', async () => {
    const clock = new FakeClock();
    const q = newQueue(clock);
    q.add('busy');
    q.add('queued');
    expect(await take(q)).toBe('busy');
    q.addAfter('later', 1000);
    const blocked = q.get(); // takes 'queued'
    expect(await blocked).toBe('queued');
    const idle = q.get();
    let drained = false;
    const shutdown = q.shutDown().then(() => (drained = true));
    expect(await idle).toBeUndefined();
    expect(await q.get()).toBeUndefined();
    q.add('new');
    expect(q.len()).toBe(0);
    expect(clock.pendingTimers()).toBe(0); // the delayed add is cancelled
    q.add('busy'); // ignored: shutting down
    q.done('busy');
    await Promise.resolve();
    expect(drained).toBe(false); // 'queued' is still processing
    q.done('queued');
    await shutdown;
    expect(drained).toBe(true);
    expect(q.len()).toBe(0);
  });

  it('shutDown resolves at once when nothing is processing', async () => {
    const q = newQueue();
    q.add('a');
    await q.shutDown();
    expect(q.isShuttingDown()).toBe(true);
    expect(await q.get()).toBeUndefined();
  });

  it('shutDownWithDrain still hands out queued keys and resolves once they are all done', async () => {
    const q = newQueue();
    q.add('a');
    q.add('b');
    let drained = false;
    const shutdown = q.shutDownWithDrain().then(() => (drained = true));
    q.add('c'); // ignored
    expect(await take(q)).toBe('a');
    expect(await take(q)).toBe('b');
    expect(await q.get()).toBeUndefined();
    q.done('a');
    await Promise.resolve();
    expect(drained).toBe(false);
    q.done('b');
    await shutdown;
    expect(drained).toBe(true);
  });
});

describe('WorkQueue: metrics', () => {
  it('reports depth, adds, retries and durations under controller-runtime names with a name label', async () => {
    const registry = new Registry();
    const clock = new FakeClock();
    const q = new WorkQueue({ name: 'kafkacluster', clock, metrics: workQueueMetrics(registry, 'kafkacluster') });
    q.add('a');
    q.add('a'); // merged: not an add
    q.add('b');
    clock.advance(2000);
    await take(q);
    clock.advance(500);
    q.done('a');
    q.addRateLimited('a');
    q.addAfter('c', 10);
    const text = await registry.metrics();
    expect(text).toContain('workqueue_depth{name="kafkacluster"} 1');
    expect(text).toContain('workqueue_adds_total{name="kafkacluster"} 2');
    expect(text).toContain('workqueue_retries_total{name="kafkacluster"} 2');
    expect(text).toContain('workqueue_queue_duration_seconds_sum{name="kafkacluster"} 2');
    expect(text).toContain('workqueue_work_duration_seconds_sum{name="kafkacluster"} 0.5');
    // A second queue shares the metrics on the same registry.
    expect(() => workQueueMetrics(registry, 'kafkatopic')).not.toThrow();
    expect(await registry.metrics()).toContain('workqueue_depth{name="kafkatopic"} 0');
  });
});

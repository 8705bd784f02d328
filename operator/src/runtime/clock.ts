/**
 * Time, injected. Every runtime component that waits (queue backoff, requeueAfter, informer relist backoff,
 * leader election, event timestamps) reads time and sets timers only through a Clock, so unit tests drive them
 * with FakeClock and nothing depends on the wall clock or on real waiting.
 */

/** Opaque: whatever the clock's setTimeout returned. */
export type TimerHandle = object;

export interface Clock {
  /** Milliseconds since the Unix epoch. Used for both intervals and wall-clock timestamps. */
  now(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/**
 * The real clock. now() is monotonic (performance.now() offset by the process start time), so a wall-clock
 * step (NTP) cannot make a backoff or a lease look expired; it still reads as epoch milliseconds for
 * timestamps. Timers are unref'd: waiting for a retry never by itself keeps the process alive.
 */
export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimeout: (callback, delayMs) => {
    const timer = setTimeout(callback, Math.max(0, delayMs));
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Resolves after delayMs on the given clock, or at once when the signal aborts (never rejects). */
export function sleep(clock: Clock, delayMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      resolve();
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, delayMs);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** RFC 3339 with exactly six fractional digits: the API server parses metav1.MicroTime with that layout only. */
export function formatMicroTime(epochMs: number): string {
  const iso = new Date(Math.floor(epochMs)).toISOString(); // 2024-01-02T03:04:05.678Z
  return `${iso.slice(0, 23)}000Z`;
}

/** RFC 3339 to the second (metav1.Time). */
export function formatTime(epochMs: number): string {
  return `${new Date(Math.floor(epochMs)).toISOString().slice(0, 19)}Z`;
}

interface FakeTimer {
  readonly id: { readonly seq: number };
  readonly dueMs: number;
  readonly callback: () => void;
}

/**
 * A deterministic clock for tests: time moves only through advance()/advanceAsync(); timers fire in due-time
 * order (ties in creation order), each seeing now() equal to its due time.
 */
export class FakeClock implements Clock {
  private nowMs: number;
  private nextId = 1;
  private timers: FakeTimer[] = [];

  constructor(startMs = Date.UTC(2025, 0, 1)) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const timer: FakeTimer = { id: { seq: this.nextId++ }, dueMs: this.nowMs + Math.max(0, delayMs), callback };
    this.timers.push(timer);
    return timer.id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  /** Number of timers not yet fired. */
  pendingTimers(): number {
    return this.timers.length;
  }

  /** Due time of the next timer, if any. */
  nextDueMs(): number | undefined {
    return this.next()?.dueMs;
  }

  /** Moves time forward, firing due timers synchronously (including timers they set that fall inside the window). */
  advance(ms: number): void {
    const target = this.nowMs + ms;
    for (;;) {
      const timer = this.next();
      if (timer === undefined || timer.dueMs > target) break;
      this.fire(timer);
    }
    this.nowMs = target;
  }

  /**
   * Like advance(), but lets promise continuations run before and after each timer, so async loops (awaiting
   * sleep() or fake I/O) make progress as they would in real time.
   */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.nowMs + ms;
    await flushMicrotasks();
    for (;;) {
      const timer = this.next();
      if (timer === undefined || timer.dueMs > target) break;
      this.fire(timer);
      await flushMicrotasks();
    }
    this.nowMs = target;
    await flushMicrotasks();
  }

  private next(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.timers) if (best === undefined || t.dueMs < best.dueMs || (t.dueMs === best.dueMs && t.id.seq < best.id.seq)) best = t;
    return best;
  }

  private fire(timer: FakeTimer): void {
    this.timers = this.timers.filter((t) => t !== timer);
    this.nowMs = Math.max(this.nowMs, timer.dueMs);
    timer.callback();
  }
}

/** Runs every queued promise continuation (several rounds, since continuations queue more). */
export async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

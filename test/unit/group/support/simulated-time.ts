/**
 * A clock and timer queue that only move when told to. Timers fire in (due time, creation order) order, the
 * clock jumping to each due time, with microtasks flushed after every timer so that promise continuations
 * (append completions, responses) interleave exactly as they would between real timer callbacks.
 */
import type { CoordinatorTime, TimerHandle } from '../../../../broker/src/group/index.ts';

interface PendingTimer {
  readonly id: number;
  readonly dueMs: number;
  readonly fn: () => void;
}

/** Lets every queued promise continuation run (setImmediate runs after the microtask queue drains). */
export const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class SimulatedTime implements CoordinatorTime {
  private now: number;
  private nextId = 1;
  private readonly timers = new Map<number, PendingTimer>();

  constructor(startMs = 1_700_000_000_000) {
    this.now = startMs;
  }

  nowMs(): number {
    return this.now;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    if (!(delayMs >= 0)) throw new RangeError(`negative timer delay ${delayMs}`);
    const id = this.nextId++;
    this.timers.set(id, { id, dueMs: this.now + delayMs, fn });
    return id;
  }

  clearTimer(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward by `deltaMs`, firing every timer that falls due on the way. */
  async advance(deltaMs: number): Promise<void> {
    if (!(deltaMs >= 0)) throw new RangeError(`cannot go back in time (${deltaMs})`);
    const targetMs = this.now + deltaMs;
    await flush();
    for (;;) {
      let next: PendingTimer | undefined;
      for (const timer of this.timers.values()) {
        if (timer.dueMs <= targetMs && (next === undefined || timer.dueMs < next.dueMs || (timer.dueMs === next.dueMs && timer.id < next.id))) {
          next = timer;
        }
      }
      if (next === undefined) break;
      this.timers.delete(next.id);
      this.now = Math.max(this.now, next.dueMs);
      next.fn();
      await flush();
    }
    this.now = targetMs;
  }
}

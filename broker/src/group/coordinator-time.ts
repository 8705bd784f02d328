/**
 * The coordinator's only view of time. The broker passes Date.now/setTimeout/clearTimeout; tests pass a
 * simulated clock, so a seed replays a run exactly. `setTimer` must never call `fn` synchronously.
 */
export type TimerHandle = unknown;

export interface CoordinatorTime {
  nowMs(): number;
  setTimer(delayMs: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

interface TimerEntry {
  readonly handle: TimerHandle;
  readonly token: object;
}

/**
 * Timers addressed by key, like Kafka's coordinator Timer: scheduling a key replaces its previous timer.
 * A timer that fires after it was cancelled or replaced does nothing (the token check), so callbacks never
 * run for stale state even if the injected clock delivers a cleared timer.
 */
export class KeyedTimers {
  private readonly time: CoordinatorTime;
  private readonly entries = new Map<string, TimerEntry>();

  constructor(time: CoordinatorTime) {
    this.time = time;
  }

  schedule(key: string, delayMs: number, fn: () => void): void {
    this.cancel(key);
    const token = {};
    const handle = this.time.setTimer(Math.max(0, delayMs), () => {
      const entry = this.entries.get(key);
      if (entry === undefined || entry.token !== token) return;
      this.entries.delete(key);
      fn();
    });
    this.entries.set(key, { handle, token });
  }

  cancel(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.time.clearTimer(entry.handle);
  }

  cancelAll(): void {
    for (const entry of this.entries.values()) this.time.clearTimer(entry.handle);
    this.entries.clear();
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Timer keys: JSON arrays so that no group id or member id can make two keys collide. */
export const joinTimerKey = (groupId: string): string => JSON.stringify(['join', groupId]);
export const syncTimerKey = (groupId: string): string => JSON.stringify(['sync', groupId]);
export const heartbeatTimerKey = (groupId: string, memberId: string): string =>
  JSON.stringify(['heartbeat', groupId, memberId]);
export const CLEANUP_TIMER_KEY = JSON.stringify(['cleanup']);

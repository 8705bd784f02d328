/**
 * Parked long-poll fetches (Kafka's fetch purgatory, reduced to what a single process needs): a waiter
 * registers interest in partitions and is woken when any of them receives data, is deleted, or when its
 * deadline passes. Waking re-runs the fetch, which decides whether it now has enough bytes.
 */
export interface Waiter {
  readonly keys: readonly string[];
  readonly wake: () => void;
}

export class DataWaiters {
  private readonly byKey = new Map<string, Set<Waiter>>();

  /** Resolves when one of `keys` gets data or after `timeoutMs`, whichever is first. */
  wait(keys: readonly string[], timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      const waiter: Waiter = {
        keys,
        wake: () => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          this.remove(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, Math.max(0, timeoutMs));
      for (const key of keys) {
        let set = this.byKey.get(key);
        if (!set) this.byKey.set(key, (set = new Set()));
        set.add(waiter);
      }
    });
  }

  notify(key: string): void {
    const set = this.byKey.get(key);
    if (!set) return;
    for (const waiter of [...set]) waiter.wake();
  }

  /** Wakes every waiter (shutdown). */
  cancelAll(): void {
    for (const set of [...this.byKey.values()]) for (const waiter of [...set]) waiter.wake();
  }

  get size(): number {
    let n = 0;
    for (const set of this.byKey.values()) n += set.size;
    return n;
  }

  private remove(waiter: Waiter): void {
    for (const key of waiter.keys) {
      const set = this.byKey.get(key);
      set?.delete(waiter);
      if (set?.size === 0) this.byKey.delete(key);
    }
  }
}

/**
 * Time source injected into the log (segment.ms rolls, retention, producer expiry, delete horizons,
 * schedulers), so tests and simulations control time instead of sleeping.
 */
export interface Clock {
  /** Wall-clock milliseconds since the epoch (compared with record timestamps). */
  nowMs(): number;
}

export const systemClock: Clock = { nowMs: () => Date.now() };

/** A clock that only moves when told to. */
export class ManualClock implements Clock {
  private currentMs: number;

  constructor(startMs = 1_700_000_000_000) {
    this.currentMs = startMs;
  }

  nowMs(): number {
    return this.currentMs;
  }

  advance(deltaMs: number): void {
    if (!(deltaMs >= 0)) throw new RangeError(`ManualClock cannot go backwards (delta ${deltaMs})`);
    this.currentMs += deltaMs;
  }

  set(ms: number): void {
    if (ms < this.currentMs) throw new RangeError(`ManualClock cannot go backwards (${ms} < ${this.currentMs})`);
    this.currentMs = ms;
  }
}

/** Lets appends and fetches run between bounded steps of background work (compaction, recovery). */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The coordinator's `__consumer_offsets` partition, simulated. In auto mode appends succeed at once (or fail
 * with queued errors); in manual mode they stay pending until the test settles them, in any order. The log's
 * content is the successful appends in CALL order (offsets are assigned at append time), whatever order they
 * settle in.
 */
import type { CoordinatorRecord } from '../../../../broker/src/group/index.ts';

interface LogEntry {
  readonly seq: number;
  readonly records: readonly CoordinatorRecord[];
  status: 'pending' | 'ok' | 'failed';
  resolve?: () => void;
  reject?: (error: unknown) => void;
}

/** An append error as the broker's log layer would raise it: a Kafka error code on `errorCode`. */
export class AppendError extends Error {
  readonly errorCode: number;

  constructor(errorCode: number) {
    super(`append failed with Kafka error ${errorCode}`);
    this.errorCode = errorCode;
  }
}

export class SimulatedLog {
  manual: boolean;
  private readonly entries: LogEntry[] = [];
  private readonly queuedFailures: Error[] = [];

  constructor(options: { manual?: boolean } = {}) {
    this.manual = options.manual ?? false;
  }

  readonly append = (records: readonly CoordinatorRecord[]): Promise<void> => {
    const entry: LogEntry = { seq: this.entries.length, records: [...records], status: 'pending' };
    this.entries.push(entry);
    if (!this.manual) {
      const failure = this.queuedFailures.shift();
      if (failure !== undefined) {
        entry.status = 'failed';
        return Promise.reject(failure);
      }
      entry.status = 'ok';
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
    });
  };

  /** The next auto-mode append fails with `error`. */
  failNext(error: Error): void {
    this.queuedFailures.push(error);
  }

  get pendingCount(): number {
    return this.entries.filter((e) => e.status === 'pending').length;
  }

  /** Settles the `index`-th pending append (0 = oldest): success, or failure with `error`. */
  settle(index = 0, error?: unknown): void {
    const entry = this.entries.filter((e) => e.status === 'pending')[index];
    if (entry === undefined) throw new Error(`no pending append #${index}`);
    if (error === undefined) {
      entry.status = 'ok';
      entry.resolve?.();
    } else {
      entry.status = 'failed';
      entry.reject?.(error);
    }
  }

  settleAll(): void {
    while (this.pendingCount > 0) this.settle(0);
  }

  /** Every durable record, in log order. */
  get records(): CoordinatorRecord[] {
    return this.entries.filter((e) => e.status === 'ok').flatMap((e) => e.records);
  }

  get appendCount(): number {
    return this.entries.length;
  }
}

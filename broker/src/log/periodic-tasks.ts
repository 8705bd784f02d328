/**
 * Periodic tasks driven by an injected clock. `runDue()` runs every task whose time has come, one after the
 * other; the owner calls it from a timer in production (`start`) and directly from tests after moving a
 * ManualClock, so a test never sleeps.
 */
import type { Clock } from './clock.ts';
import { invariant } from './errors.ts';
import type { LogLogger } from './log-events.ts';

export interface PeriodicTask {
  readonly name: string;
  /** Infinity disables the task. */
  readonly intervalMs: number;
  readonly run: () => Promise<void> | void;
}

/** Bound on registered tasks (they are a fixed, small set). */
const TASKS_MAX = 64;

export class PeriodicTasks {
  private readonly clock: Clock;
  private readonly logger: LogLogger;
  private readonly tasks: { task: PeriodicTask; dueMs: number }[] = [];
  private running: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(clock: Clock, logger: LogLogger) {
    this.clock = clock;
    this.logger = logger;
  }

  add(task: PeriodicTask): void {
    invariant(this.tasks.length < TASKS_MAX, 'too many periodic tasks');
    invariant(task.intervalMs > 0, () => `task ${task.name}: interval ${task.intervalMs} must be positive`);
    this.tasks.push({ task, dueMs: this.clock.nowMs() + task.intervalMs });
  }

  /** Runs the due tasks; a call while a run is in progress joins that run. Task errors are logged, not thrown. */
  runDue(): Promise<void> {
    this.running ??= this.runDueOnce().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async runDueOnce(): Promise<void> {
    for (const entry of this.tasks) {
      const now = this.clock.nowMs();
      if (now < entry.dueMs) continue;
      entry.dueMs = now + entry.task.intervalMs;
      try {
        await entry.task.run();
      } catch (err) {
        this.logger.warn({ task: entry.task.name, error: err instanceof Error ? err.message : String(err) }, 'periodic task failed');
      }
    }
  }

  /** Calls runDue every `tickMs` on a real timer that does not keep the process alive. */
  start(tickMs: number): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.runDue(), tickMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.running !== null) await this.running;
  }
}

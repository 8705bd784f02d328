/**
 * One container of a pod: a local process in its own mount and UTS namespaces (mounts.ts), restarted by the
 * pod's restartPolicy with the kubelet's crash-loop backoff, probed (startup, then liveness and readiness),
 * stopped with SIGTERM and, after the grace period, SIGKILL of its whole process group. Its output goes to
 * `<containerDir>/<restartCount>.log` (kubectl logs reads the current one; --previous the one before).
 *
 * The container's launch (argv, env, mounts) is asked of the pod worker at every start, as the kubelet
 * recomputes env and config for each new container.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants as osConstants } from 'node:os';
import type { Container, ContainerState, ContainerStatus, Probe } from './kube.ts';
import { errorText, rfc3339 } from './kube.ts';
import { trackGroup, untrackGroup } from './process-guard.ts';
import { runProbe } from './probes.ts';

export interface Launch {
  /** The script run by bash inside the new namespaces. */
  readonly script: string;
  readonly env: Readonly<Record<string, string>>;
  /** For exec probes and messages. */
  readonly argv: readonly string[];
}

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

export interface ContainerHooks {
  /** Builds the launch; throws to report a config error (the container waits and it is tried again). */
  prepare(container: Container, restartCount: number): Promise<Launch>;
  /** Something in the status changed. */
  changed(): void;
  log(line: string): void;
  /** A Kubernetes Event on the pod. */
  event(type: 'Normal' | 'Warning', reason: string, message: string): void;
}

export interface ContainerOptions {
  readonly container: Container;
  readonly containerDir: string;
  readonly podIp: string;
  readonly restartPolicy: RestartPolicy;
  /** Pod's terminationGracePeriodSeconds, for liveness kills. */
  readonly graceSeconds: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** A container that ran this long resets the backoff (kubelet: 10 min). */
  readonly backoffResetMs: number;
  readonly hooks: ContainerHooks;
  readonly unshare: string;
  readonly bash: string;
  /** Previous restart count (agent restarted with pods already bound). */
  readonly initialRestartCount?: number;
}

const CONFIG_RETRY_MS = 1_000;

function signalNumber(signal: NodeJS.Signals | null): number {
  if (signal === null) return 0;
  return (osConstants.signals as Record<string, number>)[signal] ?? 0;
}

class ProbeLoop {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private successes = 0;
  private failures = 0;
  private readonly probe: Probe;
  private readonly attempt: () => Promise<{ ok: boolean; message: string }>;
  private readonly onResult: (state: 'success' | 'failure' | 'pending', message: string) => void;

  constructor(probe: Probe, attempt: () => Promise<{ ok: boolean; message: string }>, onResult: (state: 'success' | 'failure' | 'pending', message: string) => void) {
    this.probe = probe;
    this.attempt = attempt;
    this.onResult = onResult;
  }

  start(): void {
    this.schedule((this.probe.initialDelaySeconds ?? 0) * 1000);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => { void this.tick(); }, ms);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const result = await this.attempt();
    if (this.stopped) return;
    if (result.ok) {
      this.failures = 0;
      this.successes++;
      this.onResult(this.successes >= (this.probe.successThreshold ?? 1) ? 'success' : 'pending', result.message);
    } else {
      this.successes = 0;
      this.failures++;
      this.onResult(this.failures >= (this.probe.failureThreshold ?? 3) ? 'failure' : 'pending', result.message);
      if (this.failures >= (this.probe.failureThreshold ?? 3)) this.failures = 0;
    }
    this.schedule((this.probe.periodSeconds ?? 10) * 1000);
  }
}

export class ContainerRunner {
  readonly name: string;
  readonly container: Container;
  private readonly options: ContainerOptions;
  private restartCount: number;
  private state: ContainerState = { waiting: { reason: 'ContainerCreating' } };
  private lastState: ContainerState = {};
  private ready = false;
  private started = false;
  private child: ChildProcess | undefined;
  private childExited: Promise<void> | undefined;
  private env: Readonly<Record<string, string>> = {};
  private probes: ProbeLoop[] = [];
  private stopping = false;
  private stopGraceMs = 0;
  private wake: (() => void) | undefined;
  private killReason: string | undefined;
  private crashes = 0;
  private loop: Promise<void> | undefined;
  /** The container finished for good (will not restart). */
  private finished = false;
  private exitCode: number | undefined;
  private containerId = '';
  private startedAtMs = 0;

  constructor(options: ContainerOptions) {
    this.options = options;
    this.container = options.container;
    this.name = options.container.name;
    this.restartCount = options.initialRestartCount ?? 0;
    mkdirSync(options.containerDir, { recursive: true });
  }

  /** Starts the run loop (once). */
  start(): void {
    this.loop ??= this.run();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get isRunning(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get isFinished(): boolean {
    return this.finished;
  }

  get succeeded(): boolean {
    return this.finished && this.exitCode === 0;
  }

  get isReady(): boolean {
    return this.ready;
  }

  get hasStarted(): boolean {
    return this.started;
  }

  /** Path of the current log file (restartCount.log), and the previous one. */
  logPath(previous = false): string {
    return join(this.options.containerDir, `${previous ? this.restartCount - 1 : this.restartCount}.log`);
  }

  status(): ContainerStatus {
    const image = this.container.image ?? '';
    return {
      name: this.name,
      state: this.state,
      lastState: this.lastState,
      ready: this.ready,
      started: this.started,
      restartCount: this.restartCount,
      image,
      imageID: `node-agent://${image}`,
      ...(this.containerId === '' ? {} : { containerID: this.containerId }),
    };
  }

  /** Stops the container for good: SIGTERM, SIGKILL of the process group after graceMs. Resolves once it is stopped. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.stopGraceMs = graceMs;
    this.wake?.();
    if (this.isRunning) await this.kill(graceMs, 'the pod is being deleted');
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      let launch: Launch;
      try {
        launch = await this.options.hooks.prepare(this.container, this.restartCount);
      } catch (error) {
        const message = errorText(error);
        const waiting = this.state.waiting;
        if (waiting?.message !== message) {
          this.options.hooks.log(`container ${this.name}: cannot start: ${message}`);
          this.options.hooks.event('Warning', 'Failed', `Error: ${message}`);
        }
        this.state = { waiting: { reason: 'CreateContainerConfigError', message } };
        this.options.hooks.changed();
        await this.pause(CONFIG_RETRY_MS);
        continue;
      }
      if (this.stopping) break;
      const { code, signal } = await this.runOnce(launch);
      if (this.stopping) break;
      const exitCode = code ?? 128 + signalNumber(signal);
      const restart = this.options.restartPolicy === 'Always' || (this.options.restartPolicy === 'OnFailure' && exitCode !== 0);
      if (!restart) {
        this.finished = true;
        this.exitCode = exitCode;
        this.options.hooks.changed();
        return;
      }
      const ranMs = Date.now() - this.startedAtMs;
      if (ranMs >= this.options.backoffResetMs) this.crashes = 0;
      const delay = this.crashes === 0 ? 0 : Math.min(this.options.backoffBaseMs * 2 ** (this.crashes - 1), this.options.backoffMaxMs);
      this.crashes++;
      this.lastState = this.state;
      if (delay > 0) {
        const message = `back-off ${Math.round(delay / 1000)}s restarting failed container=${this.name}`;
        this.state = { waiting: { reason: 'CrashLoopBackOff', message } };
        this.options.hooks.event('Warning', 'BackOff', `Back-off restarting failed container ${this.name}`);
        this.options.hooks.changed();
        await this.pause(delay);
        if (this.stopping) break;
      }
      this.restartCount++;
      this.state = { waiting: { reason: 'ContainerCreating' } };
      this.options.hooks.changed();
    }
    // Stopped by the pod's deletion: keep the last terminated state (or waiting if it never ran).
    this.finished = true;
    this.options.hooks.changed();
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.wake = undefined; resolve(); }, ms);
      this.wake = () => { clearTimeout(timer); this.wake = undefined; resolve(); };
    });
  }

  private runOnce(launch: Launch): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const dir = this.options.containerDir;
    const scriptPath = join(dir, `start-${this.restartCount}.sh`);
    writeFileSync(scriptPath, launch.script, { mode: 0o700 });
    const logPath = this.logPath();
    const fd = openSync(logPath, 'a');
    const child = spawn(this.options.unshare, ['--mount', '--uts', '--propagation', 'private', this.options.bash, '--noprofile', '--norc', scriptPath], {
      env: { ...launch.env },
      stdio: ['ignore', fd, fd],
      detached: true,
    });
    closeSync(fd);
    const pgid = child.pid;
    if (pgid !== undefined) trackGroup(pgid);
    this.child = child;
    this.env = launch.env;
    this.ready = false;
    this.started = this.container.startupProbe === undefined;
    this.startedAtMs = Date.now();
    this.killReason = undefined;
    this.containerId = `node-agent://${this.name}-${this.restartCount}-${child.pid ?? 0}`;
    const startedAt = rfc3339(this.startedAtMs);
    this.state = { running: { startedAt } };
    this.options.hooks.log(`container ${this.name}: started pid ${child.pid ?? '?'} (${launch.argv.join(' ')}); log ${logPath}`);
    this.options.hooks.event('Normal', this.restartCount === 0 ? 'Started' : 'Started', `Started container ${this.name}`);
    this.options.hooks.changed();

    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      let done = false;
      child.once('exit', (code, signal) => { if (!done) { done = true; resolve({ code, signal }); } });
      child.once('error', (error) => {
        writeFileSync(logPath, `\nnode agent: cannot start ${this.options.unshare}: ${error.message}\n`, { flag: 'a' });
        if (!done) { done = true; resolve({ code: 128, signal: null }); }
      });
    });
    this.childExited = exited.then(() => undefined);
    this.startProbes();
    return exited.then((result) => {
      // Stray processes of the container's group (children that outlived the main process) go with it.
      if (pgid !== undefined) {
        try { process.kill(-pgid, 'SIGKILL'); } catch { /* none left */ }
        untrackGroup(pgid);
      }
      this.stopProbes();
      const finishedAt = rfc3339(Date.now());
      const exitCode = result.code ?? 128 + signalNumber(result.signal);
      const reason = this.killReason === undefined ? (exitCode === 0 ? 'Completed' : 'Error') : 'Error';
      const sig = signalNumber(result.signal);
      this.state = {
        terminated: {
          exitCode,
          ...(sig === 0 ? {} : { signal: sig }),
          reason,
          ...(this.killReason === undefined ? {} : { message: this.killReason }),
          startedAt,
          finishedAt,
          containerID: this.containerId,
        },
      };
      this.ready = false;
      if (exitCode !== 0 && !this.stopping) {
        this.options.hooks.log(`container ${this.name}: exited with ${exitCode}${result.signal === null ? '' : ` (${result.signal})`}${this.killReason === undefined ? '' : ` after ${this.killReason}`}; log ${logPath}:\n${tailOf(logPath, 15)}`);
      } else {
        this.options.hooks.log(`container ${this.name}: exited with ${exitCode}${result.signal === null ? '' : ` (${result.signal})`}; log ${logPath}`);
      }
      this.options.hooks.changed();
      return result;
    });
  }

  private startProbes(): void {
    const c = this.container;
    const target = () => ({ podIp: this.options.podIp, container: c, pid: this.child?.pid, env: this.env });
    const startOthers = (): void => {
      if (c.readinessProbe !== undefined) {
        const loop = new ProbeLoop(c.readinessProbe, () => runProbe(c.readinessProbe ?? {}, target()), (state, message) => {
          if (state === 'success' && !this.ready) {
            this.ready = true;
            this.options.hooks.changed();
          } else if (state === 'failure' && this.ready) {
            this.ready = false;
            this.options.hooks.event('Warning', 'Unhealthy', `Readiness probe failed: ${message}`);
            this.options.hooks.changed();
          }
        });
        this.probes.push(loop);
        loop.start();
      } else {
        this.ready = true;
        this.options.hooks.changed();
      }
      if (c.livenessProbe !== undefined) {
        const probe = c.livenessProbe;
        const loop = new ProbeLoop(probe, () => runProbe(probe, target()), (state, message) => {
          // A container being stopped for the pod's deletion is not restarted.
          if (state !== 'failure' || this.stopping) return;
          this.options.hooks.event('Warning', 'Unhealthy', `Liveness probe failed: ${message}`);
          this.options.hooks.log(`container ${this.name}: liveness probe failed (${message}); restarting it`);
          const grace = (probe.terminationGracePeriodSeconds ?? this.options.graceSeconds) * 1000;
          void this.kill(grace, `Container ${this.name} failed liveness probe, will be restarted`);
        });
        this.probes.push(loop);
        loop.start();
      }
    };
    if (c.startupProbe !== undefined) {
      const probe = c.startupProbe;
      const loop = new ProbeLoop(probe, () => runProbe(probe, target()), (state, message) => {
        if (state === 'success' && !this.started) {
          this.started = true;
          loop.stop();
          this.options.hooks.changed();
          startOthers();
        } else if (state === 'failure' && !this.stopping) {
          loop.stop();
          this.options.hooks.event('Warning', 'Unhealthy', `Startup probe failed: ${message}`);
          void this.kill((probe.terminationGracePeriodSeconds ?? this.options.graceSeconds) * 1000, `Container ${this.name} failed startup probe, will be restarted`);
        }
      });
      this.probes.push(loop);
      loop.start();
    } else {
      startOthers();
    }
  }

  private stopProbes(): void {
    for (const p of this.probes) p.stop();
    this.probes = [];
  }

  /** SIGTERM to the main process, SIGKILL to its process group after graceMs; resolves when it has exited. */
  private async kill(graceMs: number, reason: string): Promise<void> {
    const child = this.child;
    const exited = this.childExited;
    if (child === undefined || exited === undefined || child.pid === undefined || !this.isRunning) return;
    this.killReason ??= reason;
    this.options.hooks.event('Normal', 'Killing', `Stopping container ${this.name}`);
    try {
      process.kill(child.pid, 'SIGTERM');
    } catch {
      // gone
    }
    const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), Math.max(0, graceMs)).unref())]);
    if (timedOut) {
      this.options.hooks.log(`container ${this.name}: still running ${graceMs} ms after SIGTERM; SIGKILL`);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
      }
      await exited;
    }
  }

  /** Grace period used by the last stop() (for messages). */
  get lastStopGraceMs(): number {
    return this.stopGraceMs;
  }
}

export function tailOf(path: string, lines: number): string {
  try {
    if (!existsSync(path)) return '(no log)';
    return readFileSync(path, 'utf8').split('\n').slice(-lines - 1).join('\n');
  } catch {
    return '(log unreadable)';
  }
}

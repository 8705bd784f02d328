/**
 * The operator as a real process (`node operator/src/main.ts`), as Dockerfile.operator and the Helm chart run
 * it: KUBECONFIG in the environment, flags on the command line, pino JSON logs on stdout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO, until } from './k8s-env.ts';

export interface LogLine {
  readonly level?: number;
  readonly msg?: string;
  readonly [key: string]: unknown;
}

export interface OperatorProcess {
  readonly child: ChildProcess;
  readonly identity: string;
  /** Parsed JSON log lines so far. */
  logs(): LogLine[];
  /** Everything written (stdout and stderr), for failure messages. */
  output(): string;
  /** Waits for a log line whose msg matches. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<LogLine>;
  hasLog(pattern: RegExp): boolean;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after 15 s; resolves when the process has exited. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL (no lease release, no cleanup). */
  kill9(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export function startOperatorProcess(kubeconfig: string, identity: string, args: readonly string[], env: Readonly<Record<string, string>> = {}): OperatorProcess {
  const child = spawn(process.execPath, [join(REPO, 'operator/src/main.ts'), ...args], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KUBECONFIG: kubeconfig, POD_NAME: identity, LOG_LEVEL: 'info', ...env },
  });
  live.add(child);
  const lines: LogLine[] = [];
  let out = '';
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    out = (out + text).slice(-500_000);
    partial += text;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      if (line.trim() === '') continue;
      try {
        lines.push(JSON.parse(line) as LogLine);
      } catch {
        lines.push({ msg: line });
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    out = (out + chunk.toString()).slice(-500_000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolveExit({ code, signal });
    });
  });
  const hasLog = (pattern: RegExp): boolean => lines.some((l) => typeof l.msg === 'string' && pattern.test(l.msg));
  return {
    child,
    identity,
    logs: () => [...lines],
    output: () => out,
    hasLog,
    exited,
    waitForLog: (pattern, timeoutMs = 30_000) =>
      until(() => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`operator ${identity} exited (${child.exitCode ?? child.signalCode}):\n${out.slice(-4000)}`);
        return lines.find((l) => typeof l.msg === 'string' && pattern.test(l.msg));
      }, () => `operator ${identity} to log ${String(pattern)}; output so far:\n${out.slice(-4000)}`, timeoutMs, 50),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        const result = await exited;
        clearTimeout(timer);
        return result;
      }
      return exited;
    },
    kill9: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

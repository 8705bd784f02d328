// Runs a child process with a time limit, optional stdin, and captured output.
import { spawn } from 'node:child_process';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  /** Allowed exit codes (default [0]). */
  okCodes?: number[];
  cwd?: string;
}

export async function runProcess(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 120_000;
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...(options.cwd !== undefined ? { cwd: options.cwd } : {}) });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  child.stdin.on('error', () => undefined);
  child.stdin.end(options.input ?? '');
  const result = await new Promise<RunResult>((resolvePromise, reject) => {
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${cmd}: ${err.message}${(err as NodeJS.ErrnoException).code === 'ENOENT' ? ' (not installed?)' : ''}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
  const shown = `${cmd} ${args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a}'`)).join(' ')}`;
  if (timedOut) {
    throw new Error(`timed out after ${timeoutMs} ms: ${shown}\n--- stderr (tail):\n${stderr.slice(-3000)}`);
  }
  if (!(options.okCodes ?? [0]).includes(result.code ?? -1)) {
    throw new Error(`exit ${result.code ?? result.signal}: ${shown}\n--- stderr (tail):\n${stderr.slice(-3000)}`);
  }
  return result;
}

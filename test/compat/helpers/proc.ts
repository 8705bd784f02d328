// Child processes with a hard time limit and captured output, for the external client programs.
import { spawn } from 'node:child_process';

export interface ProcResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface ProcOptions {
  input?: string;
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

const shellQuote = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`);

export const commandLine = (cmd: string, args: readonly string[]): string => [cmd, ...args].map(shellQuote).join(' ');

export const tail = (text: string, lines = 25): string => text.trimEnd().split('\n').slice(-lines).join('\n');

/** Runs a program to completion; rejects only when it cannot start or outlives timeoutMs (then it is killed). */
export async function run(cmd: string, args: readonly string[], options: ProcOptions): Promise<ProcResult> {
  const started = Date.now();
  const child = spawn(cmd, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs);
  child.stdin.on('error', () => undefined);
  child.stdin.end(options.input ?? '');
  const result = await new Promise<ProcResult>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${cmd}: ${err.message}${err.code === 'ENOENT' ? ' (not installed? run bash test/compat/setup.sh)' : ''}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
  if (timedOut) {
    throw new Error(`timed out after ${options.timeoutMs} ms (killed): ${commandLine(cmd, args)}\n--- stdout (tail):\n${tail(stdout)}\n--- stderr (tail):\n${tail(stderr)}`);
  }
  return result;
}

/** Runs a program that prints one JSON document as its last stdout line; a non-zero exit is an error. */
export async function runJson<T>(cmd: string, args: readonly string[], options: ProcOptions): Promise<T> {
  const r = await run(cmd, args, options);
  const shown = commandLine(cmd, args);
  if (r.code !== 0) {
    throw new Error(`exit ${r.code ?? r.signal} after ${r.ms} ms: ${shown}\n--- stdout (tail):\n${tail(r.stdout)}\n--- stderr (tail):\n${tail(r.stderr)}`);
  }
  const last = r.stdout.trimEnd().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`no JSON result on the last stdout line of: ${shown}\n--- stdout (tail):\n${tail(r.stdout)}\n--- stderr (tail):\n${tail(r.stderr)}`);
  }
}

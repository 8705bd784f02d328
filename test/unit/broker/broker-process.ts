/** Starts the real broker process (broker/src/main.ts) on free loopback ports with a given data dir. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

const REPO = join(import.meta.dirname, '../../..');
const NODE = process.execPath;

export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => { const a = s.address(); if (a === null || typeof a === 'string') throw new Error('no port'); return a.port; });
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

export interface BrokerProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly httpPort: number;
  output(): string;
  /** Resolves with the exit code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startBrokerProcess(dataDir: string, ports: readonly number[], overrides: readonly string[] = []): Promise<BrokerProcess> {
  const [port, controllerPort, httpPort] = ports as [number, number, number];
  const args = [
    join(REPO, 'broker/src/main.ts'),
    '--override', `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    '--override', `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    '--override', `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    '--override', `log.dirs=${join(dataDir, 'logs')}`,
    '--override', `millrace.http.listener=127.0.0.1:${httpPort}`,
    '--override', 'group.initial.rebalance.delay.ms=0',
    ...overrides.flatMap((o) => ['--override', o]),
  ];
  const child = spawn(NODE, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'warn' } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-200_000); });
  child.stderr.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-200_000); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`broker exited with ${child.exitCode} before it was ready:\n${out}`);
    try {
      const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`broker not ready within 30 s:\n${out}`); }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, port, httpPort, output: () => out, exited };
}

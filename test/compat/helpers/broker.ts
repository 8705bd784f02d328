// A real Millrace broker process for one test file: free loopback ports, a fresh data dir, /readyz before
// use, SIGTERM at the end (a clean shutdown must exit 0).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './tools.ts';
import { tail } from './proc.ts';

const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 20_000;
const MAX_LOG_CHARS = 4 * 1024 * 1024;

async function reservePorts(count: number): Promise<number[]> {
  // Hold every socket open until all are bound, so the ports are distinct.
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, HOST, () => resolve(s));
  })));
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** GET with a deadline; null when the server cannot be reached. */
export async function httpGet(url: string, timeoutMs: number): Promise<{ status: number; body: string } | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  } catch {
    return null;
  }
}

/** Header of one v2 record batch as stored on disk. */
export interface StoredBatch {
  baseOffset: bigint;
  lastOffsetDelta: number;
  attributes: number;
  /** attributes & 7: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd */
  codec: number;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

interface Launched {
  port: number;
  controllerPort: number;
  httpPort: number;
  dataDir: string;
  child: ChildProcess;
  clusterId: string;
  nodeId: number;
  output: () => string;
  exited: Promise<void>;
  exitInfo: () => ExitInfo | null;
}

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export const CODEC_IDS = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
export type Codec = keyof typeof CODEC_IDS;
export const ALL_CODECS: readonly Codec[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

export class TestBroker {
  readonly label: string;
  readonly port: number;
  readonly httpPort: number;
  readonly dataDir: string;
  readonly bootstrap: string;
  readonly clusterId: string;
  readonly nodeId: number;
  private readonly controllerPort: number;
  private readonly overrides: Readonly<Record<string, string>>;
  private child: ChildProcess;
  private exited: Promise<void>;
  private readonly killOnExit: () => void;
  private readOutput: () => string;
  private exitInfo: () => ExitInfo | null;
  /** Log output of earlier processes (before restart()), kept for log(). */
  private earlierOutput = '';

  private constructor(init: Launched & { label: string; overrides: Readonly<Record<string, string>> }) {
    this.label = init.label;
    this.port = init.port;
    this.controllerPort = init.controllerPort;
    this.overrides = init.overrides;
    this.httpPort = init.httpPort;
    this.dataDir = init.dataDir;
    this.bootstrap = `${HOST}:${init.port}`;
    this.child = init.child;
    this.clusterId = init.clusterId;
    this.nodeId = init.nodeId;
    this.readOutput = init.output;
    this.exited = init.exited;
    this.exitInfo = init.exitInfo;
    this.killOnExit = () => { if (this.exitInfo() === null) this.child.kill('SIGKILL'); };
    process.once('exit', this.killOnExit);
  }

  /** Starts a broker; overrides are Kafka config keys (for example auto.create.topics.enable=false). */
  static async start(label: string, overrides: Readonly<Record<string, string>> = {}): Promise<TestBroker> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        return await TestBroker.startOnce(label, overrides);
      } catch (error) {
        lastError = error;
        // Another process may have taken a reserved port between reservation and bind: retry on new ports.
        if (!(error instanceof Error && /EADDRINUSE/.test(error.message))) throw error;
      }
    }
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  private static async startOnce(label: string, overrides: Readonly<Record<string, string>>): Promise<TestBroker> {
    const [port, controllerPort, httpPort] = (await reservePorts(3)) as [number, number, number];
    const dataDir = mkdtempSync(join(tmpdir(), `millrace-compat-${label}-`));
    try {
      return new TestBroker({ ...await TestBroker.launch(label, { port, controllerPort, httpPort, dataDir }, overrides), label, overrides });
    } catch (error) {
      rmSync(dataDir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Spawns the broker process on the given ports and data dir and waits for /readyz. */
  private static async launch(label: string, at: { port: number; controllerPort: number; httpPort: number; dataDir: string }, overrides: Readonly<Record<string, string>>): Promise<Launched> {
    const { port, controllerPort, httpPort, dataDir } = at;
    const settings: Record<string, string> = {
      'listeners': `PLAINTEXT://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}`,
      'advertised.listeners': `PLAINTEXT://${HOST}:${port}`,
      'controller.quorum.voters': `1@${HOST}:${controllerPort}`,
      'log.dirs': join(dataDir, 'logs'),
      'metadata.log.dir': join(dataDir, 'meta'),
      'millrace.http.listener': `${HOST}:${httpPort}`,
      ...overrides,
    };
    const args = [join(REPO, 'broker/src/main.ts'), ...Object.entries(settings).flatMap(([k, v]) => ['--override', `${k}=${v}`])];
    const node = existsSync(join(REPO, 'node_modules/.bin/node')) ? join(REPO, 'node_modules/.bin/node') : process.execPath;
    const child = spawn(node, args, { cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: process.env['MILLRACE_COMPAT_LOG_LEVEL'] ?? 'info' } });
    let output = '';
    const append = (chunk: string): void => {
      output += chunk;
      if (output.length > MAX_LOG_CHARS) output = output.slice(-MAX_LOG_CHARS / 2);
    };
    child.stdout?.setEncoding('utf8').on('data', append);
    child.stderr?.setEncoding('utf8').on('data', append);
    let exitInfo: ExitInfo | null = null;
    const exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => { exitInfo = { code, signal }; resolve(); });
      child.once('error', (err) => { append(`\nspawn error: ${err.message}\n`); exitInfo = { code: -1, signal: null }; resolve(); });
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    let ready = false;
    while (Date.now() < deadline && exitInfo === null) {
      const r = await httpGet(`http://${HOST}:${httpPort}/readyz`, 1000);
      if (r?.status === 200) { ready = true; break; }
      await sleep(100);
    }
    if (!ready) {
      child.kill('SIGKILL');
      await exited;
      const how = exitInfo === null ? `not ready within ${START_TIMEOUT_MS} ms` : `exited early (${JSON.stringify(exitInfo)})`;
      throw new Error(`[${label}] broker start: ${how}: node ${args.join(' ')}\n--- broker log (tail):\n${tail(output, 40)}`);
    }
    const status = await httpGet(`http://${HOST}:${httpPort}/v1/broker`, 5000);
    const parsed = status?.status === 200 ? JSON.parse(status.body) as { clusterId?: unknown; nodeId?: unknown } : {};
    if (typeof parsed.clusterId !== 'string' || typeof parsed.nodeId !== 'number') {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`[${label}] broker start: GET /v1/broker gave no clusterId/nodeId: ${status?.status} ${status?.body}`);
    }
    return {
      port, controllerPort, httpPort, dataDir, child, clusterId: parsed.clusterId, nodeId: parsed.nodeId,
      output: () => output, exited, exitInfo: () => exitInfo,
    };
  }

  /**
   * SIGTERM (must exit 0), then a new broker process on the same ports and data dir; resolves once it is
   * ready again with the same cluster id and node id.
   */
  async restart(): Promise<void> {
    await this.terminate('restart');
    this.earlierOutput += `${this.readOutput()}\n--- broker restarted ---\n`;
    if (this.earlierOutput.length > MAX_LOG_CHARS) this.earlierOutput = this.earlierOutput.slice(-MAX_LOG_CHARS / 2);
    // The ports cannot change (clients keep the bootstrap address): retry a bind failure a few times.
    const at = { port: this.port, controllerPort: this.controllerPort, httpPort: this.httpPort, dataDir: this.dataDir };
    let next: Launched | undefined;
    for (let attempt = 1; next === undefined; attempt++) {
      try {
        next = await TestBroker.launch(this.label, at, this.overrides);
      } catch (error) {
        if (attempt >= 3 || !(error instanceof Error && /EADDRINUSE/.test(error.message))) throw error;
        await sleep(1_000);
      }
    }
    this.child = next.child;
    this.exited = next.exited;
    this.readOutput = next.output;
    this.exitInfo = next.exitInfo;
    if (next.clusterId !== this.clusterId || next.nodeId !== this.nodeId) {
      throw new Error(`[${this.label}] broker restart: cluster id/node id changed from ${this.clusterId}/${this.nodeId} to ${next.clusterId}/${next.nodeId}`);
    }
  }

  /** The log output of the current process, after the output of the processes before a restart. */
  private allOutput(): string {
    return this.earlierOutput + this.readOutput();
  }

  /** The broker's log output so far (pino JSON lines). */
  log(): string {
    return this.allOutput();
  }

  /** WARN/ERROR lines of the broker log (the useful part when a client step fails); the whole tail if it died. */
  problems(max = 15): string {
    const exit = this.exitInfo();
    if (exit !== null) {
      return `THE BROKER PROCESS EXITED (${JSON.stringify(exit)}) before stop() was called; its log ends with:\n${tail(this.log(), 40)}`;
    }
    const lines = this.log().split('\n').filter((l) => /"level":(40|50|60)/.test(l) && !/overridden by command-line/.test(l));
    return lines.slice(-max).join('\n');
  }

  /** Record batch headers of a partition, read from the broker's segment files. */
  storedBatches(topic: string, partition: number): StoredBatch[] {
    const dir = join(this.dataDir, 'logs', `${topic}-${partition}`);
    if (!existsSync(dir)) throw new Error(`[${this.label}] no partition directory ${dir}`);
    const batches: StoredBatch[] = [];
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.log')).sort()) {
      const buf = readFileSync(join(dir, file));
      let pos = 0;
      while (pos + 61 <= buf.length) {
        const batchLength = buf.readInt32BE(pos + 8);
        if (batchLength <= 0 || pos + 12 + batchLength > buf.length) break;
        const attributes = buf.readInt16BE(pos + 21);
        batches.push({
          baseOffset: buf.readBigInt64BE(pos),
          lastOffsetDelta: buf.readInt32BE(pos + 23),
          attributes,
          codec: attributes & 7,
          producerId: buf.readBigInt64BE(pos + 43),
          producerEpoch: buf.readInt16BE(pos + 51),
          baseSequence: buf.readInt32BE(pos + 53),
          recordCount: buf.readInt32BE(pos + 57),
        });
        pos += 12 + batchLength;
      }
    }
    return batches;
  }

  /** SIGTERM and wait; rejects unless the process exits 0 in time. Removes the data dir after a clean stop. */
  async stop(): Promise<void> {
    process.removeListener('exit', this.killOnExit);
    await this.terminate('stop');
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** SIGTERM the current process and wait; rejects unless it exits 0 in time (the data dir is kept). */
  private async terminate(what: string): Promise<void> {
    const exitedEarly = this.exitInfo() !== null;
    if (!exitedEarly) {
      this.child.kill('SIGTERM');
      const timedOut = await Promise.race([this.exited.then(() => false), sleep(STOP_TIMEOUT_MS).then(() => true)]);
      if (timedOut) {
        this.child.kill('SIGKILL');
        await this.exited;
        throw new Error(`[${this.label}] broker ${what}: still running ${STOP_TIMEOUT_MS} ms after SIGTERM (killed); data kept in ${this.dataDir}\n--- broker log (tail):\n${tail(this.log(), 30)}`);
      }
    }
    const exit = this.exitInfo();
    if (exitedEarly) {
      throw new Error(`[${this.label}] broker ${what}: the process had already exited (${JSON.stringify(exit)}) before SIGTERM; data kept in ${this.dataDir}\n--- broker log (tail):\n${tail(this.log(), 40)}`);
    }
    if (exit?.code !== 0) {
      throw new Error(`[${this.label}] broker ${what}: expected exit code 0 after SIGTERM, got ${JSON.stringify(exit)}; data kept in ${this.dataDir}\n--- broker log (tail):\n${tail(this.log(), 30)}`);
    }
  }
}

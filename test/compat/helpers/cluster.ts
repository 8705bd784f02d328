/**
 * A multi-process Millrace cluster on loopback: each node is a real `broker/src/main.ts` process on its own
 * 127.0.0.x address (controllers and brokers as separate processes, as a production KRaft cluster runs),
 * with its own data dir that survives kill -9 and restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './tools.ts';
import { tail } from './proc.ts';
import { httpGet } from './broker.ts';

const START_TIMEOUT_MS = 60_000;
const MAX_LOG_CHARS = 2 * 1024 * 1024;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface NodeSpec {
  readonly id: number;
  readonly roles: readonly ('broker' | 'controller')[];
  readonly host: string;
}

interface Ports {
  readonly broker: number;
  readonly controller: number;
  readonly http: number;
}

interface Running {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  exit: { code: number | null; signal: string | null } | null;
}

export interface NodeStatus {
  readonly nodeId: number;
  readonly clusterId: string | null;
  readonly state: string;
  readonly processRoles: readonly string[];
  readonly leaderCount: number;
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (address !== null && typeof address !== 'string' ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export class TestCluster {
  readonly clusterId: string;
  readonly nodes: readonly NodeSpec[];
  private readonly dataRoot: string;
  private readonly ports = new Map<number, Ports>();
  private readonly running = new Map<number, Running>();
  private readonly output = new Map<number, string>();
  private readonly overrides: Readonly<Record<string, string>>;
  /** Dynamic quorum (KIP-853): nodes find controllers through bootstrap servers; this one starts standalone. */
  private readonly standaloneId: number | null;

  private constructor(nodes: readonly NodeSpec[], clusterId: string, overrides: Readonly<Record<string, string>>, standaloneId: number | null) {
    this.nodes = nodes;
    this.clusterId = clusterId;
    this.overrides = overrides;
    this.standaloneId = standaloneId;
    this.dataRoot = mkdtempSync(join(tmpdir(), 'millrace-cluster-'));
    process.once('exit', () => { for (const r of this.running.values()) if (r.exit === null) r.child.kill('SIGKILL'); });
  }

  /** Starts every node (controllers first, all in parallel) and waits until each is ready. */
  static async start(
    nodes: readonly NodeSpec[], overrides: Readonly<Record<string, string>> = {}, options: { readonly dynamicQuorumFrom?: number } = {},
  ): Promise<TestCluster> {
    const cluster = new TestCluster(nodes, randomBytes(16).toString('base64url'), overrides, options.dynamicQuorumFrom ?? null);
    for (const n of nodes) {
      cluster.ports.set(n.id, { broker: await freePort(n.host), controller: await freePort(n.host), http: await freePort(n.host) });
    }
    for (const n of nodes) cluster.launch(n.id);
    await Promise.all(nodes.map((n) => cluster.waitReady(n.id)));
    return cluster;
  }

  /** host:port of a controller's CONTROLLER listener. */
  controllerEndpoint(id: number): { host: string; port: number } {
    return { host: this.spec(id).host, port: this.portsOf(id).controller };
  }

  /** The node's metadata log directory id (KIP-853), as the quorum persisted it. */
  directoryId(id: number): string {
    return readFileSync(join(this.dataRoot, `node-${id}`, 'meta', '__cluster_metadata-0', 'directory.id'), 'utf8').trim();
  }

  get controllers(): NodeSpec[] {
    return this.nodes.filter((n) => n.roles.includes('controller'));
  }

  get brokers(): NodeSpec[] {
    return this.nodes.filter((n) => n.roles.includes('broker'));
  }

  /** bootstrap.servers over every broker. */
  get bootstrap(): string {
    return this.brokers.map((b) => this.brokerAddress(b.id)).join(',');
  }

  brokerAddress(id: number): string {
    return `${this.spec(id).host}:${this.portsOf(id).broker}`;
  }

  brokerPort(id: number): number {
    return this.portsOf(id).broker;
  }

  private spec(id: number): NodeSpec {
    const spec = this.nodes.find((n) => n.id === id);
    if (spec === undefined) throw new Error(`no node ${id}`);
    return spec;
  }

  private portsOf(id: number): Ports {
    const ports = this.ports.get(id);
    if (ports === undefined) throw new Error(`no ports for node ${id}`);
    return ports;
  }

  private config(id: number): Record<string, string> {
    const spec = this.spec(id);
    const ports = this.portsOf(id);
    const voters = this.controllers.map((c) => `${c.id}@${c.host}:${this.portsOf(c.id).controller}`).join(',');
    const quorum: Record<string, string> = this.standaloneId === null
      ? { 'controller.quorum.voters': voters }
      : {
          // The default properties file names a static voter: clear it.
          'controller.quorum.voters': '',
          'controller.quorum.bootstrap.servers': this.controllers.map((c) => `${c.host}:${this.portsOf(c.id).controller}`).join(','),
          ...(id === this.standaloneId ? { 'millrace.quorum.standalone': 'true' } : {}),
        };
    const listeners: string[] = [];
    if (spec.roles.includes('broker')) listeners.push(`PLAINTEXT://${spec.host}:${ports.broker}`);
    if (spec.roles.includes('controller')) listeners.push(`CONTROLLER://${spec.host}:${ports.controller}`);
    const dir = join(this.dataRoot, `node-${id}`);
    return {
      'process.roles': spec.roles.join(','),
      'node.id': String(id),
      ...quorum,
      'controller.listener.names': 'CONTROLLER',
      'listeners': listeners.join(','),
      ...(spec.roles.includes('broker') ? { 'advertised.listeners': `PLAINTEXT://${spec.host}:${ports.broker}`, 'inter.broker.listener.name': 'PLAINTEXT' } : {}),
      'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      'log.dirs': join(dir, 'logs'),
      'metadata.log.dir': join(dir, 'meta'),
      'millrace.http.listener': `${spec.host}:${ports.http}`,
      'millrace.cluster.id': this.clusterId,
      'offsets.topic.replication.factor': '1',
      ...this.overrides,
    };
  }

  private launch(id: number): void {
    const args = [join(REPO, 'broker/src/main.ts'), ...Object.entries(this.config(id)).flatMap(([k, v]) => ['--override', `${k}=${v}`])];
    const node = existsSync(join(REPO, 'node_modules/.bin/node')) ? join(REPO, 'node_modules/.bin/node') : process.execPath;
    const child = spawn(node, args, { cwd: this.dataRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: process.env['MILLRACE_COMPAT_LOG_LEVEL'] ?? 'info' } });
    const append = (chunk: string): void => {
      let text = (this.output.get(id) ?? '') + chunk;
      if (text.length > MAX_LOG_CHARS) text = text.slice(-MAX_LOG_CHARS / 2);
      this.output.set(id, text);
    };
    child.stdout?.setEncoding('utf8').on('data', append);
    child.stderr?.setEncoding('utf8').on('data', append);
    const running: Running = { child, exit: null, exited: Promise.resolve() };
    (running as { exited: Promise<void> }).exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => { running.exit = { code, signal }; resolve(); });
    });
    this.running.set(id, running);
  }

  /** Waits until the node's /readyz says 200 (brokers: registered and unfenced; controllers: running). */
  async waitReady(id: number, timeoutMs = START_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const running = this.running.get(id);
    while (Date.now() < deadline) {
      if (running?.exit !== null && running?.exit !== undefined) break;
      const r = await httpGet(`http://${this.spec(id).host}:${this.portsOf(id).http}/readyz`, 1000);
      if (r?.status === 200) return;
      await sleep(100);
    }
    const how = running?.exit ? `exited (${JSON.stringify(running.exit)})` : `not ready within ${timeoutMs} ms`;
    throw new Error(`node ${id} ${how}\n--- node ${id} log (tail):\n${tail(this.log(id), 40)}`);
  }

  async status(id: number): Promise<NodeStatus | null> {
    const r = await httpGet(`http://${this.spec(id).host}:${this.portsOf(id).http}/v1/broker`, 2000);
    return r?.status === 200 ? JSON.parse(r.body) as NodeStatus : null;
  }

  /** kill -9: no shutdown, no flush beyond what the node already made durable. */
  async kill(id: number): Promise<void> {
    const running = this.running.get(id);
    if (running === undefined || running.exit !== null) return;
    running.child.kill('SIGKILL');
    await running.exited;
    this.output.set(id, `${this.output.get(id) ?? ''}\n--- killed (SIGKILL) ---\n`);
  }

  /** Starts a stopped node again on the same address, ports and data dir. */
  async restart(id: number): Promise<void> {
    const running = this.running.get(id);
    if (running !== undefined && running.exit === null) throw new Error(`node ${id} is still running`);
    this.launch(id);
    await this.waitReady(id);
  }

  isRunning(id: number): boolean {
    const running = this.running.get(id);
    return running !== undefined && running.exit === null;
  }

  log(id: number): string {
    return this.output.get(id) ?? '';
  }

  /** SIGTERM every node (brokers first), SIGKILL after a grace period, then remove the data. */
  async stop(): Promise<void> {
    const order = [...this.brokers, ...this.controllers];
    for (const n of order) {
      const running = this.running.get(n.id);
      if (running === undefined || running.exit !== null) continue;
      running.child.kill('SIGTERM');
      const timer = setTimeout(() => running.child.kill('SIGKILL'), 15_000);
      await running.exited;
      clearTimeout(timer);
    }
    rmSync(this.dataRoot, { recursive: true, force: true });
  }
}

/**
 * A real, throwaway Kubernetes control plane for tests (envtest style, no Docker): etcd, kube-apiserver and
 * optionally kube-controller-manager as local processes on free loopback ports, with a fresh CA and
 * certificates made by openssl, in a temp dir that stop() removes. There is no scheduler and no kubelet: pods
 * are created (by the StatefulSet controller) but never run.
 *
 * The binaries come from provision.sh (built once from the Go module proxy, cached outside the repo).
 * Several control planes can run at once (tests run in parallel). Processes never outlive their owner: stop()
 * ends them (SIGTERM, then SIGKILL), an exit hook kills them if the owner forgets, and a detached watchdog
 * kills them and removes the temp dir if the owner is itself killed.
 *
 *   const cp = await startControlPlane({ log: console.log });
 *   await cp.kubectl(['get', 'namespaces']);
 *   await cp.stop();
 *
 * CLI:
 *   node test/k8s/control-plane/control-plane.ts up [--no-controller-manager]   (until Ctrl-C / SIGTERM)
 *   node test/k8s/control-plane/control-plane.ts provision
 *
 * Environment: MILLRACE_CACHE, MILLRACE_K8S_VERSION, MILLRACE_ETCD_VERSION (see provision.sh);
 * MILLRACE_K8S_BIN_DIR uses binaries from that directory instead of the cache;
 * MILLRACE_K8S_KEEP=1 keeps the temp dir (certificates, logs, etcd data) after stop().
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEFAULT_K8S_VERSION = 'v1.36.3';
export const BINARIES = ['kube-apiserver', 'kube-controller-manager', 'kubectl', 'etcd'] as const;
export const SERVICE_CLUSTER_IP_RANGE = '10.0.0.0/24';
export const FIRST_SERVICE_IP = '10.0.0.1';

const HERE = dirname(fileURLToPath(import.meta.url));
export const PROVISION_SCRIPT = join(HERE, 'provision.sh');
const HOST = '127.0.0.1';
const OPENSSL = existsSync('/usr/bin/openssl') ? '/usr/bin/openssl' : 'openssl';

const ETCD_READY_TIMEOUT_MS = 30_000;
const APISERVER_READY_TIMEOUT_MS = 90_000;
const CONTROLLER_MANAGER_READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
const KUBECTL_TIMEOUT_MS = 60_000;
const START_ATTEMPTS = 3;

export interface ControlPlaneOptions {
  /** Start kube-controller-manager (StatefulSet controller, garbage collector, ...). Default true. */
  readonly controllerManager?: boolean;
  /** Progress lines (provisioning, certificates, each process up). */
  readonly log?: (line: string) => void;
  /**
   * Extra command-line flags, appended after ours (a later flag wins), e.g.
   * `{ apiserver: ['--watch-cache=false'], etcd: ['--auto-compaction-retention=1s'] }`.
   */
  readonly extraArgs?: {
    readonly etcd?: readonly string[];
    readonly apiserver?: readonly string[];
    readonly controllerManager?: readonly string[];
  };
}

export interface KubectlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface KubectlOptions {
  /** Written to kubectl's stdin (e.g. for `apply -f -`). */
  readonly input?: string;
  /** Default 60 s; kubectl is killed after it and the result has code 124. */
  readonly timeoutMs?: number;
}

export interface ControlPlaneLogs {
  readonly etcd: string;
  readonly apiserver: string;
  /** Absent when the controller manager was not started. */
  readonly controllerManager?: string;
}

export interface ControlPlane {
  /** Admin kubeconfig (CN=admin, O=system:masters), self-contained (certificates inline). */
  readonly kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** Directory of the cached binaries. */
  readonly binDir: string;
  /** The temp dir: certificates, kubeconfigs, etcd data, logs. Removed by stop(). */
  readonly dir: string;
  /** Directory of the process logs (inside dir). */
  readonly logDir: string;
  readonly logs: ControlPlaneLogs;
  /** PEM files inside dir: the cluster CA and the admin client certificate, for HTTPS clients. */
  readonly caCertPath: string;
  readonly adminCertPath: string;
  readonly adminKeyPath: string;
  /** Runs the cached kubectl with --kubeconfig of this control plane. Never throws for a non-zero exit. */
  kubectl(args: readonly string[], opts?: KubectlOptions): Promise<KubectlResult>;
  /** SIGTERM every process (controller manager, API server, etcd), SIGKILL after a timeout, remove dir. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------
// Binaries

function cacheRoot(): string {
  return join(process.env['MILLRACE_CACHE'] ?? join(homedir(), '.cache', 'millrace'), 'k8s');
}

export function k8sVersion(): string {
  return process.env['MILLRACE_K8S_VERSION'] ?? DEFAULT_K8S_VERSION;
}

function hasBinaries(dir: string): boolean {
  return BINARIES.every((b) => existsSync(join(dir, b)));
}

/** MILLRACE_K8S_BIN_DIR, when set: binaries from elsewhere (provision.sh is then not consulted). */
function overrideBinDir(): string | null {
  const override = process.env['MILLRACE_K8S_BIN_DIR'];
  if (override === undefined || override === '') return null;
  if (!hasBinaries(override)) throw new Error(`MILLRACE_K8S_BIN_DIR=${override} lacks one of ${BINARIES.join(', ')}`);
  return override;
}

/** True when the binaries of the default version are all in the cache (provision.sh will answer "cached"). */
export function binariesCached(): boolean {
  const dir = join(cacheRoot(), k8sVersion(), 'bin');
  return hasBinaries(dir) && existsSync(join(dir, '.stamp'));
}

/**
 * Runs provision.sh (a no-op under a second when cached; tens of minutes on 2 cores the first time), streaming
 * its progress lines to log. Returns the directory of the binaries.
 */
export async function provision(log: (line: string) => void = () => {}): Promise<string> {
  const child = spawn('bash', [PROVISION_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
  let binDir: string | null = null;
  let stderrTail = '';
  const onLines = (isErr: boolean) => {
    let buffered = '';
    return (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('bin: ')) binDir = line.slice('bin: '.length).trim();
        else log(line);
        if (isErr) stderrTail = (stderrTail + line + '\n').slice(-4000);
      }
    };
  };
  child.stdout.on('data', onLines(false));
  child.stderr.on('data', onLines(true));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0 || binDir === null) {
    throw new Error(`provision.sh failed (exit ${code}); see its output above.\n${stderrTail}`);
  }
  return binDir;
}

/**
 * The binary directory. provision.sh decides (its cached answer takes milliseconds and knows the stamps and a
 * fallback version); when it has to build, its progress goes to log.
 */
async function ensureBinaries(log: (line: string) => void): Promise<string> {
  const override = overrideBinDir();
  if (override !== null) return override;
  if (!binariesCached()) log('control plane binaries are not cached yet: running provision.sh (the first build takes tens of minutes)');
  return provision(log);
}

// ---------------------------------------------------------------------------------------------------------
// Certificates

function run(file: string, args: readonly string[], opts: { cwd?: string; input?: string; timeoutMs?: number } = {}): Promise<KubectlResult> {
  return new Promise((resolveRun) => {
    const child = execFile(file, args, { cwd: opts.cwd, timeout: opts.timeoutMs ?? 0, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      let code = 0;
      if (error !== null) {
        const e = error as NodeJS.ErrnoException & { code?: unknown; killed?: boolean };
        code = e.killed === true ? 124 : typeof e.code === 'number' ? e.code : 127;
        if (code === 127 && stderr === '') stderr = String(error.message);
      }
      resolveRun({ code, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

async function openssl(dir: string, args: readonly string[]): Promise<void> {
  const r = await run(OPENSSL, args, { cwd: dir, timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed (exit ${r.code}): ${r.stderr}`);
}

interface CertSpec {
  readonly name: string;
  readonly subject: Readonly<Record<string, string>>;
  readonly extendedKeyUsage: 'serverAuth' | 'clientAuth';
  readonly altNames?: readonly string[];
}

function opensslConfig(subject: Readonly<Record<string, string>>, extensions: readonly string[]): string {
  return [
    '[req]',
    'distinguished_name = dn',
    'prompt = no',
    '[dn]',
    ...Object.entries(subject).map(([k, v]) => `${k} = ${v}`),
    '[ext]',
    ...extensions,
    '',
  ].join('\n');
}

/** A CA, then leaf certificates signed by it (EC P-256: fast to make), and the service-account RSA key pair. */
async function makeCertificates(dir: string, leaves: readonly CertSpec[]): Promise<void> {
  writeFileSync(join(dir, 'ca.cnf'), opensslConfig({ CN: 'millrace-test-ca' }, [
    'basicConstraints = critical,CA:TRUE',
    'keyUsage = critical,keyCertSign,cRLSign,digitalSignature',
    'subjectKeyIdentifier = hash',
  ]));
  await openssl(dir, [
    'req', '-x509', '-new', '-config', 'ca.cnf', '-extensions', 'ext', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3650',
  ]);
  const leafJobs = leaves.map(async (leaf) => {
    const extensions = [
      'basicConstraints = critical,CA:FALSE',
      'keyUsage = critical,digitalSignature',
      `extendedKeyUsage = ${leaf.extendedKeyUsage}`,
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
    ];
    if (leaf.altNames !== undefined) extensions.push(`subjectAltName = ${leaf.altNames.join(',')}`);
    writeFileSync(join(dir, `${leaf.name}.cnf`), opensslConfig(leaf.subject, extensions));
    await openssl(dir, [
      'req', '-x509', '-new', '-config', `${leaf.name}.cnf`, '-extensions', 'ext', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
      '-nodes', '-keyout', `${leaf.name}.key`, '-out', `${leaf.name}.crt`, '-days', '365', '-CA', 'ca.crt', '-CAkey', 'ca.key',
    ]);
  });
  const saJob = (async () => {
    await openssl(dir, ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key']);
    await openssl(dir, ['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
  })();
  await Promise.all([...leafJobs, saJob]);
}

function kubeconfig(opts: { server: string; user: string; caPem: string; certPem: string; keyPem: string }): string {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  // JSON is valid YAML, and needs no quoting rules of our own.
  return `${JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'millrace-test', cluster: { server: opts.server, 'certificate-authority-data': b64(opts.caPem) } }],
    users: [{ name: opts.user, user: { 'client-certificate-data': b64(opts.certPem), 'client-key-data': b64(opts.keyPem) } }],
    contexts: [{ name: `${opts.user}@millrace-test`, context: { cluster: 'millrace-test', user: opts.user, namespace: 'default' } }],
    'current-context': `${opts.user}@millrace-test`,
    preferences: {},
  }, null, 2)}\n`;
}

// ---------------------------------------------------------------------------------------------------------
// Processes

async function reservePorts(count: number): Promise<number[]> {
  // Hold every socket open until all are bound, so the ports are distinct.
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolveListen, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, HOST, () => resolveListen(s));
  })));
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((resolveClose) => s.close(() => resolveClose()))));
  return ports;
}

const sleep = (ms: number): Promise<void> => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

function tailOf(path: string, lines = 40): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines - 1).join('\n');
  } catch {
    return '(no log)';
  }
}

interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logPath: string;
  readonly exited: Promise<void>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
}

/** Every live process of every control plane of this Node process, for the exit hook. */
const livePids = new Set<number>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pid of livePids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (process.env['MILLRACE_K8S_KEEP'] !== '1') {
      for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
    }
  });
}

function writePidFile(dir: string, procs: readonly Proc[]): void {
  writeFileSync(join(dir, 'pids'), `${procs.map((p) => p.child.pid).filter((p) => p !== undefined).join(' ')}\n`);
}

/**
 * A detached shell that outlives us if we are SIGKILLed (e.g. a vitest worker torn down): when our pid is
 * gone and stop() has not run, it ends the processes listed in <dir>/pids and removes the dir.
 */
function startWatchdog(dir: string): void {
  const script = [
    'parent=$1; dir=$2',
    'while kill -0 "$parent" 2>/dev/null && [ -d "$dir" ] && [ ! -e "$dir/stopped" ]; do sleep 1; done',
    '[ -d "$dir" ] && [ ! -e "$dir/stopped" ] || exit 0',
    'pids=$(cat "$dir/pids" 2>/dev/null || true)',
    'if [ -n "$pids" ]; then kill -TERM $pids 2>/dev/null; sleep 5; kill -KILL $pids 2>/dev/null; fi',
    '[ "${MILLRACE_K8S_KEEP:-}" = 1 ] || rm -rf "$dir"',
  ].join('\n');
  const child = spawn('bash', ['-c', script, 'millrace-k8s-watchdog', String(process.pid), dir], { detached: true, stdio: 'ignore' });
  child.unref();
}

function launch(name: string, binary: string, args: readonly string[], logPath: string): Proc {
  const fd = openSync(logPath, 'a');
  // Own process group (detached): a Ctrl-C in the terminal reaches us, and we stop the processes in order.
  const child = spawn(binary, args, { stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  const proc: Proc = {
    name,
    child,
    logPath,
    exit: null,
    exited: new Promise<void>((resolveExit) => {
      child.once('exit', (code, signal) => {
        proc.exit = { code, signal };
        if (child.pid !== undefined) livePids.delete(child.pid);
        resolveExit();
      });
      child.once('error', (error) => {
        proc.exit = { code: 127, signal: null };
        writeFileSync(logPath, `\nspawn failed: ${error.message}\n`, { flag: 'a' });
        resolveExit();
      });
    }),
  };
  if (child.pid !== undefined) livePids.add(child.pid);
  return proc;
}

async function stopProc(proc: Proc, timeoutMs: number): Promise<void> {
  if (proc.exit !== null || proc.child.pid === undefined) return;
  try {
    process.kill(proc.child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const killed = await Promise.race([proc.exited.then(() => false), sleep(timeoutMs).then(() => true)]);
  if (killed && proc.exit === null) {
    try {
      process.kill(proc.child.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
    await proc.exited;
  }
}

interface TlsMaterial {
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
}

/** GET over HTTPS; null when the connection fails (not up yet). */
function httpsGet(url: string, tls: TlsMaterial | 'insecure', timeoutMs = 5_000): Promise<{ status: number; body: string } | null> {
  return new Promise((resolveGet) => {
    const req = request(url, {
      method: 'GET',
      timeout: timeoutMs,
      ...(tls === 'insecure' ? { rejectUnauthorized: false } : { ca: tls.ca, ...(tls.cert === undefined ? {} : { cert: tls.cert }), ...(tls.key === undefined ? {} : { key: tls.key }) }),
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolveGet({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolveGet(null));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolveGet(null));
    req.end();
  });
}

async function httpGet(url: string, timeoutMs = 5_000): Promise<{ status: number; body: string } | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  } catch {
    return null;
  }
}

class StartError extends Error {
  readonly portInUse: boolean;
  constructor(message: string, portInUse: boolean) {
    super(message);
    this.name = 'StartError';
    this.portInUse = portInUse;
  }
}

/** Polls probe until it returns true; fails early when proc exits, with the tail of its log. */
async function waitFor(proc: Proc, what: string, timeoutMs: number, probe: () => Promise<{ ok: boolean; detail: string }>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exit !== null) {
      const log = tailOf(proc.logPath);
      throw new StartError(
        `${proc.name} exited (code ${proc.exit.code}, signal ${proc.exit.signal}) before ${what}; last lines of ${proc.logPath}:\n${log}`,
        /address already in use/i.test(log),
      );
    }
    const r = await probe();
    if (r.ok) return;
    if (Date.now() > deadline) {
      throw new StartError(`${proc.name}: ${what} not reached within ${timeoutMs / 1000} s (last answer: ${r.detail}); last lines of ${proc.logPath}:\n${tailOf(proc.logPath)}`, false);
    }
    await sleep(200);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The control plane

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const t0 = performance.now();
  const userLog = options.log ?? (() => {});
  const log = (line: string) => userLog(`[k8s +${((performance.now() - t0) / 1000).toFixed(1)}s] ${line}`);
  const withControllerManager = options.controllerManager ?? true;

  const binDir = await ensureBinaries((line) => userLog(line));
  const bin = (name: (typeof BINARIES)[number]) => join(binDir, name);

  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), 'millrace-k8s-'));
  liveDirs.add(dir);
  startWatchdog(dir);
  const procs: Proc[] = [];
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // Reverse start order: controller manager, API server, etcd.
    for (const p of [...procs].reverse()) await stopProc(p, STOP_TIMEOUT_MS);
    writeFileSync(join(dir, 'stopped'), '');
    liveDirs.delete(dir);
    if (process.env['MILLRACE_K8S_KEEP'] === '1') userLog(`[k8s] stopped; kept ${dir} (MILLRACE_K8S_KEEP=1)`);
    else rmSync(dir, { recursive: true, force: true });
  };

  try {
    log(`binaries: ${binDir}; dir: ${dir}`);
    const apiserverSans = ['IP:127.0.0.1', `IP:${FIRST_SERVICE_IP}`, 'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local'];
    await makeCertificates(dir, [
      { name: 'apiserver', subject: { CN: 'kube-apiserver' }, extendedKeyUsage: 'serverAuth', altNames: apiserverSans },
      { name: 'admin', subject: { O: 'system:masters', CN: 'admin' }, extendedKeyUsage: 'clientAuth' },
      { name: 'controller-manager', subject: { CN: 'system:kube-controller-manager' }, extendedKeyUsage: 'clientAuth' },
    ]);
    const pem = (name: string) => readFile(join(dir, name), 'utf8');
    const [caPem, adminCert, adminKey, kcmCert, kcmKey] = await Promise.all([
      pem('ca.crt'), pem('admin.crt'), pem('admin.key'), pem('controller-manager.crt'), pem('controller-manager.key'),
    ]);
    log('certificates ready (CA, API server, admin, controller manager, service-account key)');

    let attempt = 0;
    let server = '';
    let kcmLogPath: string | undefined;
    const etcdLog = join(dir, 'etcd.log');
    const apiserverLog = join(dir, 'kube-apiserver.log');
    const kubeconfigPath = join(dir, 'admin.kubeconfig');
    for (;;) {
      attempt++;
      try {
        const [etcdClientPort, etcdPeerPort, apiserverPort, kcmPort] = (await reservePorts(4)) as [number, number, number, number];
        const etcdUrl = `http://${HOST}:${etcdClientPort}`;
        const peerUrl = `http://${HOST}:${etcdPeerPort}`;
        rmSync(join(dir, 'etcd'), { recursive: true, force: true });
        const etcd = launch('etcd', bin('etcd'), [
          '--name=default',
          `--data-dir=${join(dir, 'etcd')}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=${peerUrl}`,
          `--initial-advertise-peer-urls=${peerUrl}`,
          `--initial-cluster=default=${peerUrl}`,
          '--initial-cluster-state=new',
          '--unsafe-no-fsync',
          '--log-level=warn',
          ...(options.extraArgs?.etcd ?? []),
        ], etcdLog);
        procs.push(etcd);
        writePidFile(dir, procs);
        await waitFor(etcd, '/health', ETCD_READY_TIMEOUT_MS, async () => {
          const r = await httpGet(`${etcdUrl}/health`);
          return { ok: r !== null && r.status === 200, detail: r === null ? 'connection refused' : `HTTP ${r.status} ${r.body.trim()}` };
        });
        log(`etcd ready on ${etcdUrl}`);

        server = `https://${HOST}:${apiserverPort}`;
        const apiserver = launch('kube-apiserver', bin('kube-apiserver'), [
          `--etcd-servers=${etcdUrl}`,
          `--bind-address=${HOST}`,
          `--advertise-address=${HOST}`,
          `--secure-port=${apiserverPort}`,
          `--cert-dir=${join(dir, 'apiserver-certs')}`,
          `--tls-cert-file=${join(dir, 'apiserver.crt')}`,
          `--tls-private-key-file=${join(dir, 'apiserver.key')}`,
          `--client-ca-file=${join(dir, 'ca.crt')}`,
          '--authorization-mode=Node,RBAC',
          `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
          '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
          `--service-account-key-file=${join(dir, 'sa.pub')}`,
          `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
          '--allow-privileged=true',
          // The "kubernetes" Service's endpoint would be 127.0.0.1, which Endpoints validation refuses.
          '--endpoint-reconciler-type=none',
          '--profiling=false',
          '--v=1',
          ...(options.extraArgs?.apiserver ?? []),
        ], apiserverLog);
        procs.push(apiserver);
        writePidFile(dir, procs);
        const adminTls: TlsMaterial = { ca: caPem, cert: adminCert, key: adminKey };
        await waitFor(apiserver, '/readyz', APISERVER_READY_TIMEOUT_MS, async () => {
          const r = await httpsGet(`${server}/readyz?verbose`, adminTls);
          if (r === null) return { ok: false, detail: 'connection refused' };
          const failing = r.body.split('\n').filter((l) => l.startsWith('[-]')).join('; ');
          return { ok: r.status === 200, detail: `HTTP ${r.status}${failing === '' ? '' : `: ${failing}`}` };
        });
        log(`kube-apiserver ready on ${server}`);

        await writeFile(kubeconfigPath, kubeconfig({ server, user: 'admin', caPem, certPem: adminCert, keyPem: adminKey }), { mode: 0o600 });

        if (withControllerManager) {
          const kcmKubeconfig = join(dir, 'controller-manager.kubeconfig');
          await writeFile(kcmKubeconfig, kubeconfig({ server, user: 'system:kube-controller-manager', caPem, certPem: kcmCert, keyPem: kcmKey }), { mode: 0o600 });
          kcmLogPath = join(dir, 'kube-controller-manager.log');
          const kcm = launch('kube-controller-manager', bin('kube-controller-manager'), [
            `--kubeconfig=${kcmKubeconfig}`,
            // No --authentication/authorization-kubeconfig: only /healthz is used, which is always allowed,
            // and delegated authentication would look for a request-header CA this API server does not have.
            `--bind-address=${HOST}`,
            `--secure-port=${kcmPort}`,
            `--cert-dir=${join(dir, 'controller-manager-certs')}`,
            // Else it creates /usr/libexec/kubernetes/kubelet-plugins/volume/exec on the host.
            `--flex-volume-plugin-dir=${join(dir, 'flexvolume')}`,
            '--use-service-account-credentials=true',
            `--service-account-private-key-file=${join(dir, 'sa.key')}`,
            `--root-ca-file=${join(dir, 'ca.crt')}`,
            `--cluster-signing-cert-file=${join(dir, 'ca.crt')}`,
            `--cluster-signing-key-file=${join(dir, 'ca.key')}`,
            `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
            '--leader-elect=false',
            '--controllers=*',
            '--profiling=false',
            '--v=1',
            ...(options.extraArgs?.controllerManager ?? []),
          ], kcmLogPath);
          procs.push(kcm);
          writePidFile(dir, procs);
          await waitFor(kcm, '/healthz', CONTROLLER_MANAGER_READY_TIMEOUT_MS, async () => {
            const r = await httpsGet(`https://${HOST}:${kcmPort}/healthz`, 'insecure');
            return { ok: r !== null && r.status === 200, detail: r === null ? 'connection refused' : `HTTP ${r.status} ${r.body.trim().slice(0, 300)}` };
          });
          log(`kube-controller-manager healthy on https://${HOST}:${kcmPort}`);
        }
        break;
      } catch (error) {
        // Another process may have taken a port between reservePorts and the bind: start again on fresh ports.
        if (error instanceof StartError && error.portInUse && attempt < START_ATTEMPTS) {
          log(`a port was taken meanwhile (${error.message.split('\n')[0]}); retrying on fresh ports`);
          for (const p of procs.splice(0).reverse()) await stopProc(p, STOP_TIMEOUT_MS);
          continue;
        }
        throw error;
      }
    }

    const logs: ControlPlaneLogs = { etcd: etcdLog, apiserver: apiserverLog, ...(kcmLogPath === undefined ? {} : { controllerManager: kcmLogPath }) };
    const kubectl = (args: readonly string[], opts: KubectlOptions = {}): Promise<KubectlResult> =>
      run(bin('kubectl'), [`--kubeconfig=${kubeconfigPath}`, ...args], {
        timeoutMs: opts.timeoutMs ?? KUBECTL_TIMEOUT_MS,
        ...(opts.input === undefined ? {} : { input: opts.input }),
      });
    log(`control plane up in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return {
      kubeconfigPath,
      server,
      binDir,
      dir,
      logDir: dir,
      logs,
      caCertPath: join(dir, 'ca.crt'),
      adminCertPath: join(dir, 'admin.crt'),
      adminKeyPath: join(dir, 'admin.key'),
      kubectl,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------
// CLI

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const print = (line: string) => process.stderr.write(`${line}\n`);
  if (command === 'provision') {
    const dir = await provision(print);
    process.stdout.write(`${dir}\n`);
    return 0;
  }
  if (command === 'up') {
    const cp = await startControlPlane({ controllerManager: !rest.includes('--no-controller-manager'), log: print });
    process.stdout.write(`export KUBECONFIG=${cp.kubeconfigPath}\n`);
    print(`server ${cp.server}; logs in ${cp.logDir}; Ctrl-C or SIGTERM stops it`);
    await new Promise<void>((resolveSignal) => {
      process.once('SIGINT', () => resolveSignal());
      process.once('SIGTERM', () => resolveSignal());
    });
    print('stopping');
    await cp.stop();
    print('stopped');
    return 0;
  }
  print('usage: node test/k8s/control-plane/control-plane.ts up [--no-controller-manager] | provision');
  return 2;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}

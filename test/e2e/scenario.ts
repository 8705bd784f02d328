/**
 * The end-to-end scenario: Helm chart -> operator -> a 3-controller/3-broker KafkaCluster -> a KafkaTopic -> a
 * real client producing and consuming through the bootstrap Service -> everything deleted again. One command:
 *
 *   node test/e2e/scenario.ts                          # --cluster-access local (default)
 *   node test/e2e/scenario.ts --cluster-access kind --operator-image <ref> --broker-image <ref>
 *
 * local: a throwaway control plane (test/k8s/control-plane: etcd, kube-apiserver, kube-controller-manager)
 *        and the node agent (test/k8s/node-agent), which runs every pod as a local process on its own
 *        127.0.x.y address; kubectl from the control plane's binaries.
 * kind:  the cluster of the current kubeconfig (KUBECONFIG / ~/.kube/config) and `kubectl` from PATH; the
 *        images must be pullable by (or loaded into) the nodes.
 *
 * Phases 2 to 6 are the same commands in both modes (kubectl, helm, Jobs with the kcat image and the broker
 * image), so what passes locally is what runs in kind. Each phase is timed; a failure names its phase, prints
 * diagnostics (pods, events, resource statuses, container log tails) and exits 1. See README.md here.
 */
import { execFile } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OPERATOR_NS = 'millrace-system';
const NS = 'kafka-e2e';
const RELEASE = 'millrace';
const CLUSTER = 'orders';
const TOPIC = 'e2e-events';
const MESSAGES = 100;
const CLUSTER_LABEL = 'kafka.millrace.dev/cluster';

// ---------------------------------------------------------------------------------------------------------
// Options

interface Options {
  readonly access: 'local' | 'kind';
  readonly operatorImage: string;
  readonly brokerImage: string;
  readonly kcatImage: string;
  /** Keep everything running at the end (local: until Ctrl-C) and skip phase 6. */
  readonly keep: boolean;
  /** Multiplies every wait (slow machines). */
  readonly timeoutScale: number;
  readonly kubectl: string;
  /** Replication factor of the scenario's topic (3, as the production sample; 1 to run without replication). */
  readonly topicReplicas: number;
}

const USAGE = `usage: node test/e2e/scenario.ts [--cluster-access local|kind] [--operator-image ref] [--broker-image ref]
       [--kcat-image ref] [--kubectl path] [--topic-replicas 1|3] [--timeout-scale n] [--keep]`;

function parseOptions(argv: readonly string[]): Options {
  const o = {
    access: 'local' as 'local' | 'kind',
    operatorImage: 'ghcr.io/millrace/millrace-operator:0.1.0',
    brokerImage: 'ghcr.io/millrace/millrace-broker:0.1.0',
    kcatImage: 'docker.io/edenhill/kcat:1.7.1',
    keep: false,
    timeoutScale: 1,
    kubectl: 'kubectl',
    // RF 1 until data replication exists: with RF 3 nothing replicates, so the high watermark never moves.
    topicReplicas: 1,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const eq = arg.indexOf('=');
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      const v = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (v === undefined || v === '') throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--cluster-access': {
        const v = value();
        if (v !== 'local' && v !== 'kind') throw new Error(`--cluster-access must be local or kind (got ${v})\n${USAGE}`);
        o.access = v;
        break;
      }
      case '--operator-image': o.operatorImage = value(); break;
      case '--broker-image': o.brokerImage = value(); break;
      case '--kcat-image': o.kcatImage = value(); break;
      case '--kubectl': o.kubectl = value(); break;
      case '--timeout-scale': o.timeoutScale = Number(value()); break;
      case '--keep': o.keep = true; break;
      case '--topic-replicas': o.topicReplicas = Number(value()); break;
      case '--help': case '-h': process.stdout.write(`${USAGE}\n`); process.exit(0); break;
      default: throw new Error(`unknown argument ${arg}\n${USAGE}`);
    }
  }
  if (!(o.timeoutScale > 0)) throw new Error('--timeout-scale must be a positive number');
  if (![1, 2, 3].includes(o.topicReplicas)) throw new Error('--topic-replicas must be 1, 2 or 3');
  return o;
}

// ---------------------------------------------------------------------------------------------------------
// Output

const t0 = performance.now();
const elapsed = (): string => `${((performance.now() - t0) / 1000).toFixed(1)}s`;
let logFile: string | undefined;
function say(line: string): void {
  process.stdout.write(`[e2e +${elapsed()}] ${line}\n`);
  if (logFile !== undefined) appendFileSync(logFile, `[e2e +${elapsed()}] ${line}\n`);
}
/** Unprefixed output (summary, diagnostics): stdout and the log file. */
function emit(text: string): void {
  process.stdout.write(text);
  if (logFile !== undefined) appendFileSync(logFile, text);
}
/** Detail lines (control plane, agent): to the work dir's log file only. */
function detail(line: string): void {
  if (logFile !== undefined) appendFileSync(logFile, `${line}\n`);
}

class PhaseError extends Error {
  readonly phase: string;
  constructor(phase: string, cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.phase = phase;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------------
// Commands

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(file: string, args: readonly string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  return new Promise((resolveRun) => {
    const child = execFile(file, args, { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8', env: opts.env ?? process.env, cwd: REPO }, (error, stdout, stderr) => {
      let code = 0;
      if (error !== null) {
        const e = error as NodeJS.ErrnoException & { killed?: boolean };
        code = e.killed === true ? 124 : typeof e.code === 'number' ? e.code : 127;
        if (stderr === '') stderr = error.message;
      }
      resolveRun({ code, stdout, stderr });
    });
    child.stdin?.end(opts.input ?? '');
  });
}

interface Cluster {
  readonly mode: 'local' | 'kind';
  kubectl(args: readonly string[], input?: string, timeoutMs?: number): Promise<Result>;
  helm(args: readonly string[]): Promise<Result>;
  /** Local only: extra diagnostics (agent log tail). */
  extraDiagnostics(): string;
  /** Local only: processes of pods still run by the agent. */
  runningPods(): number;
  teardown(): Promise<void>;
  describe(): string;
}

async function kubectlOk(c: Cluster, args: readonly string[], input?: string, timeoutMs?: number): Promise<string> {
  const r = await c.kubectl(args, input, timeoutMs);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

async function getJson<T>(c: Cluster, args: readonly string[]): Promise<T | null> {
  const r = await c.kubectl([...args, '-o', 'json']);
  if (r.code !== 0) {
    if (/NotFound|not found/.test(r.stderr)) return null;
    throw new Error(`kubectl ${args.join(' ')} -o json failed (exit ${r.code}): ${r.stderr.trim()}`);
  }
  return JSON.parse(r.stdout) as T;
}

const apply = (c: Cluster, obj: unknown): Promise<string> => kubectlOk(c, ['apply', '-f', '-'], JSON.stringify(obj));

async function until<T>(what: string | (() => string), timeoutMs: number, probe: () => Promise<T | null | undefined | false>, intervalMs = 1000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== null && v !== undefined && v !== false) return v;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const described = typeof what === 'string' ? what : what();
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${described}${lastError === undefined ? '' : ` (last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)})`}`);
    }
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Kubernetes shapes (only what the scenario reads)

interface Condition { type: string; status: string; reason?: string; message?: string }
interface Meta { name: string; namespace?: string; uid?: string; labels?: Record<string, string>; deletionTimestamp?: string; finalizers?: string[] }
interface PodJson {
  metadata: Meta;
  spec: { nodeName?: string; containers: { name: string }[] };
  status?: { phase?: string; podIP?: string; conditions?: Condition[]; containerStatuses?: { name: string; ready: boolean; restartCount: number; state?: Record<string, { reason?: string; message?: string; exitCode?: number }> }[] };
}
interface List<T> { items: T[] }
interface KafkaClusterJson { metadata: Meta; status?: { conditions?: Condition[]; clusterId?: string; listeners?: { name: string; bootstrapServers: string }[] } }
interface KafkaTopicJson { metadata: Meta; status?: { conditions?: Condition[]; topicId?: string; topicName?: string } }
interface JobJson { metadata: Meta; status?: { conditions?: Condition[]; succeeded?: number; failed?: number } }
interface BrokerStatus { nodeId: number; clusterId: string | null; state: string; processRoles: string[]; metadataOffset: number }

const isReady = (conditions: readonly Condition[] | undefined): boolean => (conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

function podSummary(p: PodJson): string {
  const states = (p.status?.containerStatuses ?? []).map((s) => {
    const [state, info] = Object.entries(s.state ?? {})[0] ?? ['?', {}];
    return `${s.name}:${state}${info.reason === undefined ? '' : `(${info.reason})`}${s.ready ? ' ready' : ''}${s.restartCount > 0 ? ` restarts=${s.restartCount}` : ''}`;
  });
  return `${p.metadata.name} ${p.status?.phase ?? '?'} ${p.status?.podIP ?? '-'} ${p.spec.nodeName ?? '(unscheduled)'} [${states.join(', ')}]`;
}

function splitImage(ref: string): { repository: string; tag?: string; digest?: string } {
  const at = ref.indexOf('@');
  if (at >= 0) return { repository: ref.slice(0, at), digest: ref.slice(at + 1) };
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? { repository: ref.slice(0, colon), tag: ref.slice(colon + 1) } : { repository: ref };
}

// ---------------------------------------------------------------------------------------------------------
// Cluster access

const HELM = join(REPO, 'test/k8s/tools/helm.sh');

async function localCluster(workDir: string): Promise<Cluster> {
  // Loaded only in local mode: kind needs neither the control plane nor the agent.
  const { startControlPlane } = await import('../k8s/control-plane/control-plane.ts');
  const { NodeAgent } = await import('../k8s/node-agent/agent.ts');
  const cp = await startControlPlane({ log: detail });
  say(`control plane up: ${cp.server} (logs ${cp.logDir})`);
  const agentLog = join(workDir, 'node-agent.log');
  let agent: Awaited<ReturnType<typeof NodeAgent.start>>;
  try {
    agent = await NodeAgent.start({
      kubeconfig: cp.kubeconfigPath,
      stateDir: join(workDir, 'node'),
      zone: 'zone-a',
      backoffBaseMs: 2_000,
      backoffMaxMs: 30_000,
      log: (line) => appendFileSync(agentLog, `${new Date().toISOString()} ${line}\n`),
    });
  } catch (error) {
    await cp.stop();
    throw error;
  }
  say(`node agent up: node ${agent.nodeName}, pods on ${agent.podSubnet}0/24, hosts file ${agent.hostsFile}, log ${agentLog}`);
  const env = { ...process.env, KUBECONFIG: cp.kubeconfigPath };
  return {
    mode: 'local',
    kubectl: (args, input, timeoutMs) => cp.kubectl(args, { ...(input === undefined ? {} : { input }), ...(timeoutMs === undefined ? {} : { timeoutMs }) }),
    helm: (args) => run('bash', [HELM, ...args], { env, timeoutMs: 1_800_000 }),
    extraDiagnostics: () => {
      let tail: string;
      try {
        tail = readFileSync(agentLog, 'utf8').split('\n').slice(-60).join('\n');
      } catch {
        tail = '(no agent log)';
      }
      return `--- node agent log (${agentLog}), last lines:\n${tail}`;
    },
    runningPods: () => agent.runningPodCount(),
    teardown: async () => {
      await agent.stop();
      await cp.stop();
    },
    describe: () => `local control plane ${cp.server}; export KUBECONFIG=${cp.kubeconfigPath}; kubectl at ${cp.binDir}/kubectl; pods' hosts file ${agent.hostsFile}`,
  };
}

async function kindCluster(options: Options): Promise<Cluster> {
  const kubectl = (args: readonly string[], input?: string, timeoutMs?: number) => run(options.kubectl, args, { ...(input === undefined ? {} : { input }), timeoutMs: timeoutMs ?? 120_000 });
  const ctx = await kubectl(['config', 'current-context']);
  if (ctx.code !== 0) throw new Error(`no current kubeconfig context: ${ctx.stderr.trim()}`);
  const nodes = await kubectl(['get', 'nodes', '-o', 'name']);
  if (nodes.code !== 0) throw new Error(`the cluster of context ${ctx.stdout.trim()} does not answer: ${nodes.stderr.trim()}`);
  say(`using context ${ctx.stdout.trim()} (${nodes.stdout.trim().split('\n').length} node(s))`);
  return {
    mode: 'kind',
    kubectl,
    helm: (args) => run('bash', [HELM, ...args], { timeoutMs: 1_800_000 }),
    extraDiagnostics: () => '',
    runningPods: () => 0,
    teardown: () => Promise.resolve(),
    describe: () => `context ${ctx.stdout.trim()}`,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Diagnostics

async function diagnostics(c: Cluster): Promise<string> {
  const out: string[] = [];
  const section = async (title: string, args: readonly string[]): Promise<void> => {
    const r = await c.kubectl(args, undefined, 30_000);
    out.push(`--- ${title}\n${(r.stdout + r.stderr).trim()}`);
  };
  await section('nodes', ['get', 'nodes', '-o', 'wide']);
  await section('pods (all namespaces)', ['get', 'pods', '-A', '-o', 'wide']);
  for (const ns of [OPERATOR_NS, NS]) {
    const pods = await getJson<List<PodJson>>(c, ['-n', ns, 'get', 'pods']).catch(() => null);
    for (const p of pods?.items ?? []) {
      out.push(`--- pod ${ns}/${podSummary(p)}`);
      for (const s of p.status?.containerStatuses ?? []) {
        const logs = await c.kubectl(['-n', ns, 'logs', p.metadata.name, '-c', s.name, '--tail=25'], undefined, 30_000);
        out.push(`    logs of ${s.name} (last 25 lines):\n${(logs.stdout + logs.stderr).trim().split('\n').map((l) => `      ${l.slice(0, 400)}`).join('\n')}`);
        if (s.restartCount > 0) {
          const prev = await c.kubectl(['-n', ns, 'logs', p.metadata.name, '-c', s.name, '--previous', '--tail=15'], undefined, 30_000);
          out.push(`    previous logs of ${s.name}:\n${(prev.stdout + prev.stderr).trim().split('\n').map((l) => `      ${l.slice(0, 400)}`).join('\n')}`);
        }
      }
    }
    const events = await c.kubectl(['-n', ns, 'get', 'events', '--sort-by=.lastTimestamp'], undefined, 30_000);
    // Locally, the endpoints controllers refuse the 127.x pod IPs (the agent's DNS does not need them): noise.
    const lines = (events.stdout + events.stderr).trim().split('\n').filter((l) => !l.includes('may not be in the loopback range'));
    out.push(`--- events in ${ns} (last 40${c.mode === 'local' ? ', without the endpoints controllers\' loopback refusals' : ''})\n${lines.slice(-40).join('\n')}`);
  }
  await section('KafkaClusters and KafkaTopics', ['get', 'kafkaclusters,kafkatopics', '-A', '-o', 'jsonpath={range .items[*]}{.kind} {.metadata.namespace}/{.metadata.name} finalizers={.metadata.finalizers} status={.status}{"\\n"}{end}']);
  await section('Jobs, StatefulSets, PVCs', ['-n', NS, 'get', 'jobs,statefulsets,pvc', '-o', 'wide']);
  const extra = c.extraDiagnostics();
  if (extra !== '') out.push(extra);
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// Jobs

interface JobManifest {
  readonly metadata: { readonly name: string; readonly namespace: string; readonly labels?: Record<string, string> };
  readonly [key: string]: unknown;
}

function kcatJob(name: string, image: string, args: readonly string[], volumes: { configMap?: string } = {}): JobManifest {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: NS, labels: { 'app.kubernetes.io/part-of': 'millrace-e2e' } },
    spec: {
      backoffLimit: 2,
      activeDeadlineSeconds: 180,
      template: {
        metadata: { labels: { 'app.kubernetes.io/part-of': 'millrace-e2e' } },
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: 5,
          containers: [{
            name: 'kcat',
            image,
            imagePullPolicy: 'IfNotPresent',
            args: [...args],
            ...(volumes.configMap === undefined ? {} : { volumeMounts: [{ name: 'input', mountPath: '/tmp/input', readOnly: true }] }),
            resources: { requests: { cpu: '50m', memory: '32Mi' } },
          }],
          ...(volumes.configMap === undefined ? {} : { volumes: [{ name: 'input', configMap: { name: volumes.configMap } }] }),
        },
      },
    },
  };
}

/** Runs a Job to completion; returns the logs of its (last) pod. Throws with the logs when it fails. */
async function runJob(c: Cluster, job: JobManifest, timeoutMs: number): Promise<string> {
  const name = job.metadata.name;
  await c.kubectl(['-n', NS, 'delete', 'job', name, '--ignore-not-found', '--wait=true', '--timeout=60s']);
  await apply(c, job);
  const done = await until(`Job ${name} to finish`, timeoutMs, async () => {
    const j = await getJson<JobJson>(c, ['-n', NS, 'get', 'job', name]);
    const finished = (j?.status?.conditions ?? []).find((cond) => (cond.type === 'Complete' || cond.type === 'Failed') && cond.status === 'True');
    return finished ?? null;
  });
  const logs = await c.kubectl(['-n', NS, 'logs', `job/${name}`, '--tail=-1'], undefined, 60_000);
  if (done.type !== 'Complete') throw new Error(`Job ${name} failed (${done.reason ?? ''}: ${done.message ?? ''}); its logs:\n${logs.stdout}${logs.stderr}`);
  if (logs.code !== 0) throw new Error(`kubectl logs job/${name} failed: ${logs.stderr.trim()}`);
  return logs.stdout;
}

// ---------------------------------------------------------------------------------------------------------
// The phases

interface State {
  bootstrap: string;
  clusterId: string;
}

async function phaseOperator(c: Cluster, o: Options, scale: number): Promise<void> {
  // A previous run that failed (kind keeps its state) would make `helm install` or `create namespace` fail.
  const leftovers = [
    ...((await c.kubectl(['get', 'namespace', NS])).code === 0 ? [`namespace ${NS}`] : []),
    ...((await c.helm(['status', RELEASE, '--namespace', OPERATOR_NS])).code === 0 ? [`helm release ${OPERATOR_NS}/${RELEASE}`] : []),
  ];
  if (leftovers.length > 0) {
    throw new Error(`left over from an earlier run: ${leftovers.join(', ')}; remove them with\n  helm uninstall ${RELEASE} -n ${OPERATOR_NS}; kubectl delete kafkatopics,kafkaclusters -n ${NS} --all; kubectl delete namespace ${NS} ${OPERATOR_NS}`);
  }
  const op = splitImage(o.operatorImage);
  const broker = splitImage(o.brokerImage);
  const set = [
    `image.repository=${op.repository}`,
    ...(op.tag === undefined ? [] : [`image.tag=${op.tag}`]),
    ...(op.digest === undefined ? [] : [`image.digest=${op.digest}`]),
    `brokerImage.repository=${broker.repository}`,
    ...(broker.tag === undefined ? [] : [`brokerImage.tag=${broker.tag}`]),
  ].flatMap((s) => ['--set', s]);
  const r = await c.helm(['install', RELEASE, join(REPO, 'helm/millrace'), '--namespace', OPERATOR_NS, '--create-namespace', ...set]);
  if (r.code !== 0) throw new Error(`helm install failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
  say(`helm install ${RELEASE} helm/millrace -n ${OPERATOR_NS}: ${r.stdout.split('\n').find((l) => l.startsWith('STATUS')) ?? 'done'}`);
  const selector = `app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component=operator`;
  const pod = await until(() => `the operator pod (${selector}) Running and Ready`, 240_000 * scale, async () => {
    const pods = await getJson<List<PodJson>>(c, ['-n', OPERATOR_NS, 'get', 'pods', '-l', selector]);
    return (pods?.items ?? []).find((p) => p.status?.phase === 'Running' && isReady(p.status.conditions)) ?? null;
  });
  say(`operator pod ${podSummary(pod)}`);
  // The CRDs came with the chart (crds/).
  await kubectlOk(c, ['wait', '--for=condition=Established', 'crd/kafkaclusters.kafka.millrace.dev', 'crd/kafkatopics.kafka.millrace.dev', '--timeout=60s']);
}

/** The production sample, made small: 1Gi volumes (deleted with the cluster), small requests, the given image. */
async function clusterManifest(c: Cluster, o: Options): Promise<Record<string, unknown>> {
  const obj = JSON.parse(await kubectlOk(c, ['create', '--dry-run=client', '-o', 'json', '-f', join(REPO, 'examples/kafkacluster-production.yaml')])) as {
    metadata: Record<string, unknown>;
    spec: { image: string; nodePools: { name: string; storage: Record<string, unknown>; resources?: unknown }[] };
  };
  if (obj.metadata['name'] !== CLUSTER) throw new Error(`examples/kafkacluster-production.yaml names the cluster ${String(obj.metadata['name'])}, the scenario expects ${CLUSTER}`);
  obj.metadata['namespace'] = NS;
  obj.spec.image = o.brokerImage;
  for (const pool of obj.spec.nodePools) {
    pool.storage = { ...pool.storage, size: '1Gi', deleteClaim: true };
    pool.resources = { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } };
  }
  return obj;
}

/**
 * Run from a pod (a Job with the broker image, so the same in every mode; the API server's pod proxy refuses
 * loopback pod IPs): every node's admin /v1/broker by its pod DNS name, then DescribeQuorum through the bootstrap
 * Service at the highest version both sides know (at most 2). Prints one JSON line.
 */
const QUORUM_CHECK = `
const { pathToFileURL } = await import('node:url');
const { KafkaConnection } = await import(pathToFileURL(process.cwd() + '/broker/src/client/kafka-connection.ts').href);
const nodes = {};
for (const host of process.env.NODES.split(',')) {
  let status = null;
  for (let attempt = 0; attempt < 20 && status === null; attempt++) {
    try {
      const res = await fetch('http://' + host + ':9644/v1/broker', { signal: AbortSignal.timeout(5000) });
      if (res.ok) status = await res.json();
    } catch {}
    if (status === null) await new Promise((r) => setTimeout(r, 1000));
  }
  nodes[host.split('.')[0]] = status;
}
const [host, port] = process.env.BOOTSTRAP.split(',')[0].split(':');
let quorum = null;
let last = '';
for (let attempt = 0; attempt < 20 && quorum === null; attempt++) {
  try {
    const conn = await KafkaConnection.open({ host, port: Number(port), requestTimeoutMs: 10000 });
    const versions = await conn.send(18, 3, { clientSoftwareName: 'millrace-e2e', clientSoftwareVersion: '1' });
    const range = versions.apiKeys.find((k) => k.apiKey === 55);
    const version = Math.min(range?.maxVersion ?? 0, 2);
    const r = await conn.send(55, version, { topics: [{ topicName: '__cluster_metadata', partitions: [{ partitionIndex: 0 }] }] });
    conn.close();
    const p = r.topics[0]?.partitions[0];
    if (r.errorCode === 0 && p !== undefined && p.errorCode === 0) {
      quorum = { version, leaderId: p.leaderId, leaderEpoch: p.leaderEpoch, voters: p.currentVoters.map((v) => v.replicaId), observers: p.observers.map((v) => v.replicaId) };
    } else {
      last = JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
    }
  } catch (error) {
    last = String((error && error.stack) || error);
  }
  if (quorum === null) await new Promise((r) => setTimeout(r, 1000));
}
console.log(JSON.stringify({ nodes, quorum, quorumError: quorum === null ? last : undefined }));
`;

async function phaseCluster(c: Cluster, o: Options, scale: number, state: State): Promise<void> {
  await kubectlOk(c, ['create', 'namespace', NS]);
  // Pods are refused until the namespace's default ServiceAccount exists.
  await until(`ServiceAccount ${NS}/default`, 60_000 * scale, async () => (await c.kubectl(['-n', NS, 'get', 'serviceaccount', 'default'])).code === 0);
  await apply(c, await clusterManifest(c, o));
  say(`applied KafkaCluster ${NS}/${CLUSTER} (3 controllers, 3 brokers; from examples/kafkacluster-production.yaml with 1Gi volumes)`);
  const expected = ['orders-controllers-0', 'orders-controllers-1', 'orders-controllers-2', 'orders-brokers-100', 'orders-brokers-101', 'orders-brokers-102'];
  let last = '';
  await until(() => `all 6 pods Ready (last: ${last})`, 420_000 * scale, async () => {
    const pods = await getJson<List<PodJson>>(c, ['-n', NS, 'get', 'pods', '-l', `${CLUSTER_LABEL}=${CLUSTER}`]);
    const items = pods?.items ?? [];
    last = items.map(podSummary).join('; ') || 'no pods';
    return expected.every((n) => items.some((p) => p.metadata.name === n && isReady(p.status?.conditions)));
  }, 2000);
  say('all 6 pods Ready');
  const cluster = await until(() => 'KafkaCluster Ready with a bootstrap address', 180_000 * scale, async () => {
    const kc = await getJson<KafkaClusterJson>(c, ['-n', NS, 'get', 'kafkacluster', CLUSTER]);
    return kc !== null && isReady(kc.status?.conditions) && (kc.status?.listeners?.[0]?.bootstrapServers ?? '') !== '' ? kc : null;
  });
  state.bootstrap = cluster.status?.listeners?.[0]?.bootstrapServers ?? '';
  state.clusterId = cluster.status?.clusterId ?? '';
  say(`KafkaCluster Ready: bootstrap ${state.bootstrap}, cluster id ${state.clusterId}`);
  // Every node's own view (admin /v1/broker) and DescribeQuorum, from a pod.
  const nodes = expected.map((pod) => `${pod}.${CLUSTER}-nodes.${NS}.svc`);
  const out = await runJob(c, {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'e2e-quorum', namespace: NS, labels: { 'app.kubernetes.io/part-of': 'millrace-e2e' } },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: 150,
      template: {
        metadata: { labels: { 'app.kubernetes.io/part-of': 'millrace-e2e' } },
        spec: {
          restartPolicy: 'Never',
          containers: [{
            name: 'quorum',
            image: o.brokerImage,
            imagePullPolicy: 'IfNotPresent',
            command: ['node', '--input-type=module', '-e', QUORUM_CHECK],
            env: [{ name: 'BOOTSTRAP', value: state.bootstrap }, { name: 'NODES', value: nodes.join(',') }],
          }],
        },
      },
    },
  }, 180_000 * scale);
  const report = JSON.parse(out.trim().split('\n').filter((l) => l.startsWith('{')).at(-1) ?? '{}') as { nodes?: Record<string, BrokerStatus | null>; quorum?: { leaderId: number; voters: number[]; observers: number[] } | null; quorumError?: string };
  for (const pod of expected) {
    const s = report.nodes?.[pod];
    if (s === undefined || s === null || s.state !== 'running' || s.clusterId !== state.clusterId || s.metadataOffset < 0) {
      throw new Error(`${pod} /v1/broker: ${JSON.stringify(s ?? null)} (want state running, cluster id ${state.clusterId}, a metadata offset); Job output: ${out.trim().slice(0, 1500)}`);
    }
  }
  say('every node reports state running with the cluster id (its admin /v1/broker, by pod DNS name from a pod)');
  if (report.quorum === null || report.quorum === undefined) throw new Error(`DescribeQuorum through ${state.bootstrap} failed: ${report.quorumError ?? out.trim().slice(0, 1500)}`);
  const quorum = report.quorum;
  const voters = [...quorum.voters].sort((a, b) => a - b).join(',');
  const observers = [...quorum.observers].sort((a, b) => a - b).join(',');
  if (voters !== '0,1,2' || quorum.leaderId < 0 || quorum.leaderId > 2) throw new Error(`DescribeQuorum: ${JSON.stringify(quorum)} (want voters 0,1,2 and a leader among them)`);
  say(`KRaft quorum: leader ${quorum.leaderId}, voters [${voters}], observers [${observers}]`);
  if (observers !== '100,101,102') say(`note: DescribeQuorum lists observers [${observers}], expected the brokers [100,101,102]`);
}

async function phaseTopic(c: Cluster, o: Options, scale: number, state: State): Promise<void> {
  const topic = JSON.parse(await kubectlOk(c, ['create', '--dry-run=client', '-o', 'json', '-f', join(REPO, 'examples/kafkatopic.yaml')])) as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
  topic.metadata = { name: TOPIC, namespace: NS, labels: { [CLUSTER_LABEL]: CLUSTER } };
  const rf = o.topicReplicas;
  topic.spec = { ...topic.spec, partitions: 3, replicas: rf, config: { ...(topic.spec['config'] as object), 'min.insync.replicas': Math.min(2, rf) } };
  await apply(c, topic);
  const ready = await until(() => `KafkaTopic ${TOPIC} Ready`, 120_000 * scale, async () => {
    const t = await getJson<KafkaTopicJson>(c, ['-n', NS, 'get', 'kafkatopic', TOPIC]);
    return t !== null && isReady(t.status?.conditions) ? t : null;
  });
  say(`KafkaTopic Ready: topicId ${ready.status?.topicId ?? '?'}, finalizers ${JSON.stringify(ready.metadata.finalizers ?? [])}`);
  const metadata = await runJob(c, kcatJob('e2e-metadata', o.kcatImage, ['-b', state.bootstrap, '-L', '-J', '-t', TOPIC]), 150_000 * scale);
  const doc = JSON.parse(metadata.trim().split('\n').filter((l) => l.startsWith('{')).at(-1) ?? '{}') as { brokers?: { id: number }[]; topics?: { topic: string; partitions?: { replicas?: unknown[] }[]; error?: string }[] };
  const t = doc.topics?.find((x) => x.topic === TOPIC);
  if (t === undefined || t.error !== undefined || (t.partitions?.length ?? 0) !== 3 || (t.partitions ?? []).some((p) => (p.replicas?.length ?? 0) !== rf)) {
    throw new Error(`kcat -L does not show ${TOPIC} with 3 partitions of ${rf} replicas: ${metadata.trim().slice(0, 2000)}`);
  }
  say(`kcat -L: ${TOPIC} has 3 partitions x ${rf} replicas; brokers [${(doc.brokers ?? []).map((b) => b.id).sort((a, b) => a - b).join(',')}]`);
}

async function phaseClient(c: Cluster, o: Options, scale: number, state: State): Promise<void> {
  const lines = Array.from({ length: MESSAGES }, (_, i) => `key-${i % 10}:message-${i}`);
  await apply(c, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'e2e-messages', namespace: NS }, data: { 'messages.txt': `${lines.join('\n')}\n` } });
  const produced = await runJob(c, kcatJob('e2e-produce', o.kcatImage, ['-b', state.bootstrap, '-t', TOPIC, '-P', '-K', ':', '-l', '-X', 'acks=all', '/tmp/input/messages.txt'], { configMap: 'e2e-messages' }), 150_000 * scale);
  say(`produced ${MESSAGES} messages with acks=all (kcat Job)${produced.trim() === '' ? '' : `: ${produced.trim().slice(0, 300)}`}`);
  const consumed = await runJob(c, kcatJob('e2e-consume', o.kcatImage, ['-b', state.bootstrap, '-t', TOPIC, '-C', '-o', 'beginning', '-c', String(MESSAGES), '-e', '-q', '-f', '%k:%s\\n']), 150_000 * scale);
  const got = consumed.split('\n').filter((l) => l.startsWith('key-')).sort();
  const want = [...lines].sort();
  const missing = want.filter((l) => !got.includes(l));
  if (missing.length > 0 || got.length !== want.length) {
    // Where the records went: the end offsets (high watermarks) the partitions report to clients.
    const offsets = await runJob(c, kcatJob('e2e-offsets', o.kcatImage, ['-b', state.bootstrap, '-Q', ...[0, 1, 2].flatMap((p) => ['-t', `${TOPIC}:${p}:-1`])]), 150_000 * scale)
      .catch((error: unknown) => `(the offsets Job failed: ${error instanceof Error ? error.message : String(error)})`);
    throw new Error(`consumed ${got.length} of ${MESSAGES} messages; missing ${missing.length} (first: ${missing.slice(0, 5).join(', ')}); consumer output:\n${consumed.slice(0, 2000)}\nend offsets (kcat -Q, latest) after the producer's acks=all succeeded:\n${offsets.trim()}`);
  }
  say(`consumed all ${MESSAGES} messages back, keys and values intact (kcat Job)`);
}

async function phaseCleanup(c: Cluster, o: Options, scale: number, state: State): Promise<void> {
  // 1. The topic: the operator deletes it in Kafka, then removes its finalizer.
  await kubectlOk(c, ['-n', NS, 'delete', 'kafkatopic', TOPIC, '--wait=false']);
  await until(() => `KafkaTopic ${TOPIC} gone (finalizer removed by the operator)`, 120_000 * scale, async () => (await getJson<KafkaTopicJson>(c, ['-n', NS, 'get', 'kafkatopic', TOPIC])) === null);
  const listing = await runJob(c, kcatJob('e2e-metadata-after', o.kcatImage, ['-b', state.bootstrap, '-L', '-J']), 150_000 * scale);
  const doc = JSON.parse(listing.trim().split('\n').filter((l) => l.startsWith('{')).at(-1) ?? '{}') as { topics?: { topic: string }[] };
  if ((doc.topics ?? []).some((t) => t.topic === TOPIC)) throw new Error(`the Kafka topic ${TOPIC} still exists after its KafkaTopic was deleted`);
  say(`KafkaTopic deleted; topic ${TOPIC} gone from Kafka`);
  await kubectlOk(c, ['-n', NS, 'delete', 'jobs', '-l', 'app.kubernetes.io/part-of=millrace-e2e', '--wait=false']);

  // 2. The cluster: the garbage collector removes its StatefulSets, Services, ConfigMaps, PDB; pods stop; PVCs
  // go with their StatefulSet (deleteClaim: true).
  const t = performance.now();
  await kubectlOk(c, ['-n', NS, 'delete', 'kafkacluster', CLUSTER, '--wait=false']);
  let left = '';
  await until(() => `the cluster's pods, StatefulSets, Services, ConfigMaps, PDB and PVCs gone (left: ${left})`, 360_000 * scale, async () => {
    const r = await kubectlOk(c, ['-n', NS, 'get', 'pods,statefulsets,services,configmaps,poddisruptionbudgets,persistentvolumeclaims', '-l', `${CLUSTER_LABEL}=${CLUSTER}`, '-o', 'name']);
    const pvcs = await kubectlOk(c, ['-n', NS, 'get', 'persistentvolumeclaims', '-o', 'name']);
    left = `${r} ${pvcs}`.trim().replace(/\s+/g, ' ');
    return left === '';
  }, 2000);
  say(`KafkaCluster deleted; pods, children and PVCs gone after ${((performance.now() - t) / 1000).toFixed(1)} s`);

  // 3. The operator.
  const r = await c.helm(['uninstall', RELEASE, '--namespace', OPERATOR_NS, '--wait', '--timeout', '3m']);
  if (r.code !== 0) throw new Error(`helm uninstall failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  await until('the operator pod gone', 120_000 * scale, async () => ((await getJson<List<PodJson>>(c, ['-n', OPERATOR_NS, 'get', 'pods']))?.items.length ?? 0) === 0);
  say('helm uninstall done; operator pod gone');

  // 4. The namespaces: nothing may hold them (a KafkaTopic finalizer without an operator would).
  await kubectlOk(c, ['delete', 'namespace', NS, OPERATOR_NS, '--wait=false']);
  await until(() => `namespaces ${NS} and ${OPERATOR_NS} deleted`, 180_000 * scale, async () => {
    const a = await c.kubectl(['get', 'namespace', NS]);
    const b = await c.kubectl(['get', 'namespace', OPERATOR_NS]);
    return a.code !== 0 && b.code !== 0;
  }, 2000);
  const stray = await kubectlOk(c, ['get', 'kafkatopics,kafkaclusters', '-A', '-o', 'name']);
  if (stray.trim() !== '') throw new Error(`resources left: ${stray.trim()}`);
  if (c.runningPods() > 0) throw new Error(`the node agent still runs ${c.runningPods()} pod(s)`);
  say('namespaces deleted; no KafkaCluster or KafkaTopic left anywhere; no pod process left');
}

// ---------------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  const workDir = mkdtempSync(join(tmpdir(), 'millrace-e2e-'));
  logFile = join(workDir, 'e2e.log');
  say(`cluster access: ${options.access}; topic replicas ${options.topicReplicas}; operator image ${options.operatorImage}; broker image ${options.brokerImage}; kcat image ${options.kcatImage}; work dir ${workDir}`);
  const timings: { name: string; seconds: number; ok: boolean }[] = [];
  const scale = options.timeoutScale;
  const state: State = { bootstrap: '', clusterId: '' };
  let cluster: Cluster | undefined;
  let failed: PhaseError | undefined;

  const phase = async (n: number, name: string, fn: () => Promise<void>): Promise<void> => {
    const start = performance.now();
    say(`phase ${n} ${name} ...`);
    try {
      await fn();
    } catch (error) {
      timings.push({ name: `${n} ${name}`, seconds: (performance.now() - start) / 1000, ok: false });
      throw new PhaseError(`${n} ${name}`, error);
    }
    const seconds = (performance.now() - start) / 1000;
    timings.push({ name: `${n} ${name}`, seconds, ok: true });
    say(`phase ${n} ${name} done in ${seconds.toFixed(1)} s`);
  };

  try {
    await phase(1, options.access === 'local' ? 'cluster (control plane + node agent)' : 'cluster (current kubeconfig)', async () => {
      cluster = options.access === 'local' ? await localCluster(workDir) : await kindCluster(options);
    });
    const c = cluster as unknown as Cluster;
    await phase(2, 'operator (helm install)', () => phaseOperator(c, options, scale));
    await phase(3, 'KafkaCluster (3 controllers + 3 brokers)', () => phaseCluster(c, options, scale, state));
    await phase(4, 'KafkaTopic', () => phaseTopic(c, options, scale, state));
    await phase(5, 'produce and consume (kcat Jobs)', () => phaseClient(c, options, scale, state));
    if (!options.keep) await phase(6, 'cleanup (topic, cluster, helm uninstall, namespaces)', () => phaseCleanup(c, options, scale, state));
  } catch (error) {
    failed = error instanceof PhaseError ? error : new PhaseError('?', error);
  }

  const total = (performance.now() - t0) / 1000;
  emit(`\n${'phase'.padEnd(58)} seconds\n`);
  for (const t of timings) emit(`${`${t.ok ? 'ok  ' : 'FAIL'} ${t.name}`.padEnd(58)} ${t.seconds.toFixed(1).padStart(7)}\n`);
  emit(`${'total'.padEnd(58)} ${total.toFixed(1).padStart(7)}\n\n`);

  if (failed !== undefined) {
    emit(`E2E FAILED in phase ${failed.phase}: ${failed.message}\n`);
    if (cluster !== undefined) {
      emit('\n=== diagnostics ===\n');
      try {
        emit(`${await diagnostics(cluster)}\n`);
      } catch (error) {
        emit(`(diagnostics failed: ${error instanceof Error ? error.message : String(error)})\n`);
      }
    }
    emit(`\nfull log: ${logFile}\n`);
  } else {
    say(`E2E PASSED in ${total.toFixed(1)} s`);
  }

  if (cluster !== undefined) {
    if (options.keep || (failed !== undefined && process.env['MILLRACE_E2E_KEEP_ON_FAILURE'] === '1')) {
      say(`kept: ${cluster.describe()}; Ctrl-C ends it`);
      if (cluster.mode === 'local') {
        await new Promise<void>((r) => { process.once('SIGINT', () => r()); process.once('SIGTERM', () => r()); });
      }
    }
    await cluster.teardown();
  }
  if (failed === undefined && !options.keep && process.env['MILLRACE_E2E_KEEP_WORKDIR'] !== '1') rmSync(workDir, { recursive: true, force: true });
  return failed === undefined ? 0 : 1;
}

main().then((code) => { process.exitCode = code; }, (error: unknown) => {
  process.stderr.write(`e2e: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});

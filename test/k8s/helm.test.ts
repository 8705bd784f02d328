/**
 * The Helm chart (helm/millrace) and the sample manifests (examples/), with a real helm (test/k8s/tools/helm.sh,
 * built once from the Go module proxy) and a real kube-apiserver:
 * - helm lint --strict; the chart's crds/ is byte-identical to the repository's crds/ (no drift); every value is
 *   documented in the chart README; the rendered objects in both scopes (cluster-wide, one namespace); the
 *   Deployment's flags and environment are accepted by the operator's own parser; refused value combinations.
 * - Against the API server: a real `helm install` (CRDs from crds/), `upgrade` and `uninstall`; `helm template`
 *   output in both scopes, with the optional CRD upgrade hook, passes `kubectl apply --dry-run=server`; the
 *   examples pass the API server (dry run) and the operator's validation; and the operator process, run with
 *   the chart's ServiceAccount token (so the chart's RBAC is what the API server enforces), reconciles a
 *   KafkaCluster, reports a KafkaTopic and removes its finalizer without a single refused request; in the
 *   namespaced scope it may act in its namespace only.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KafkaCluster } from '../../operator/src/api/kafka-cluster-types.ts';
import type { KafkaTopic } from '../../operator/src/api/kafka-topic-types.ts';
import { validateKafkaCluster } from '../../operator/src/api/validate-kafka-cluster.ts';
import { validateKafkaTopic } from '../../operator/src/api/validate-kafka-topic.ts';
import { parseOperatorArgs } from '../../operator/src/controllers/operator-config.ts';
import { TOPIC_FINALIZER } from '../../operator/src/controllers/topic-status.ts';
import { startControlPlane, type ControlPlane, type KubectlResult } from './control-plane/control-plane.ts';
import { REPO, until } from './helpers/k8s-env.ts';
import { startOperatorProcess, type OperatorProcess } from './helpers/operator-process.ts';

const HELM_SH = join(REPO, 'test/k8s/tools/helm.sh');
const CHART = join(REPO, 'helm/millrace');
const EXAMPLES = join(REPO, 'examples');
const RELEASE_NS = 'millrace-system';
const OPERATOR_IMAGE = 'ghcr.io/millrace/millrace-operator';
const BROKER_IMAGE = 'ghcr.io/millrace/millrace-broker';

// ---------------------------------------------------------------------------------------------------------
// Manifests

interface Meta {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly finalizers?: readonly string[];
}

interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: Meta;
  readonly [key: string]: unknown;
}

interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}

interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { readonly fieldRef?: { readonly fieldPath: string } };
}

interface Container {
  readonly name: string;
  readonly image: string;
  readonly args?: readonly string[];
  readonly env?: readonly EnvVar[];
  readonly ports?: readonly { readonly name: string; readonly containerPort: number }[];
  readonly livenessProbe?: { readonly httpGet?: { readonly path: string; readonly port: string | number } };
  readonly readinessProbe?: { readonly httpGet?: { readonly path: string; readonly port: string | number } };
  readonly securityContext?: Readonly<Record<string, unknown>>;
  readonly resources?: Readonly<Record<string, unknown>>;
}

interface Deployment extends Manifest {
  readonly spec: {
    readonly replicas: number;
    readonly template: {
      readonly spec: {
        readonly serviceAccountName: string;
        readonly securityContext?: Readonly<Record<string, unknown>>;
        readonly terminationGracePeriodSeconds?: number;
        readonly containers: readonly Container[];
      };
    };
  };
}

function parseManifests(text: string): Manifest[] {
  return loadAll(text).filter((d): d is Manifest => d !== null && typeof d === 'object');
}

function find<T extends Manifest = Manifest>(objects: readonly Manifest[], kind: string, name: string): T {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found as T;
}

function kinds(objects: readonly Manifest[]): string[] {
  return objects.map((o) => `${o.kind}/${o.metadata.namespace === undefined ? '' : `${o.metadata.namespace}/`}${o.metadata.name}`).sort();
}

function operatorContainer(objects: readonly Manifest[], name = 'millrace-operator'): Container {
  const container = find<Deployment>(objects, 'Deployment', name).spec.template.spec.containers[0];
  if (container === undefined) throw new Error('the Deployment has no container');
  return container;
}

function envOf(container: Container, fieldRefs: Readonly<Record<string, string>> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    const path = e.valueFrom?.fieldRef?.fieldPath;
    env[e.name] = path === undefined ? (e.value ?? '') : (fieldRefs[path] ?? `<${path}>`);
  }
  return env;
}

function rulesOf(role: Manifest): PolicyRule[] {
  return (role as Manifest & { rules: PolicyRule[] }).rules;
}

/** The verbs a rule list grants on group/resource (ignoring rules limited to resourceNames). */
function verbsFor(rules: readonly PolicyRule[], group: string, resource: string): string[] {
  return rules
    .filter((r) => r.resourceNames === undefined && r.apiGroups.includes(group) && r.resources.includes(resource))
    .flatMap((r) => r.verbs)
    .sort();
}

// ---------------------------------------------------------------------------------------------------------
// Processes

interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(file: string, args: readonly string[], options: { input?: string; env?: Readonly<Record<string, string>>; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(file, args, { cwd: REPO, env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code: code ?? (signal === null ? 1 : 128), stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

// Helm's own config, cache and data in a temp dir (nothing written to ~/.config/helm), and the kubeconfig of the
// test control plane once there is one.
const helmHome = mkdtempSync(join(tmpdir(), 'millrace-helm-test-'));
let helmKubeconfig: string | undefined;

function helm(args: readonly string[], timeoutMs = 120_000): Promise<RunResult> {
  return run('bash', [HELM_SH, ...args], {
    timeoutMs,
    env: {
      HELM_CONFIG_HOME: join(helmHome, 'config'),
      HELM_CACHE_HOME: join(helmHome, 'cache'),
      HELM_DATA_HOME: join(helmHome, 'data'),
      ...(helmKubeconfig === undefined ? {} : { KUBECONFIG: helmKubeconfig }),
    },
  });
}

async function helmOk(args: readonly string[]): Promise<string> {
  const r = await helm(args);
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** `helm template` with --set values; the release namespace is millrace-system unless given. */
async function template(release: string, values: Readonly<Record<string, string | number | boolean>> = {}, namespace = RELEASE_NS): Promise<{ text: string; objects: Manifest[] }> {
  const sets = Object.entries(values).flatMap(([k, v]) => ['--set', `${k}=${String(v)}`]);
  const text = await helmOk(['template', release, CHART, '--namespace', namespace, ...sets]);
  return { text, objects: parseManifests(text) };
}

afterAll(() => {
  rmSync(helmHome, { recursive: true, force: true });
});

beforeAll(async () => {
  // The first run builds helm from the Go module proxy (minutes on 2 cores); later runs find it cached.
  const r = await run('bash', [HELM_SH, '--provision-only'], { timeoutMs: 1_500_000 });
  if (r.stderr.trim() !== '') process.stderr.write(r.stderr);
  if (r.code !== 0) throw new Error(`test/k8s/tools/helm.sh could not provide helm (exit ${r.code}):\n${r.stderr}`);
}, 1_600_000);

// ---------------------------------------------------------------------------------------------------------

describe('the chart', () => {
  it("has crds/ byte-identical to the repository's crds/ (generated by operator/tools/gen-crds.ts)", () => {
    const repoFiles = readdirSync(join(REPO, 'crds')).sort();
    const chartFiles = readdirSync(join(CHART, 'crds')).sort();
    expect(chartFiles).toEqual(repoFiles);
    for (const file of repoFiles) {
      const same = readFileSync(join(REPO, 'crds', file)).equals(readFileSync(join(CHART, 'crds', file)));
      expect(same, `helm/millrace/crds/${file} differs from crds/${file}: cp crds/*.yaml helm/millrace/crds/`).toBe(true);
    }
  });

  it('passes helm lint --strict in both scopes, and against the values schema', async () => {
    for (const sets of [[], ['--set', 'scope=namespace', '--set', 'watchNamespace=team-a'], ['--set', 'crds.upgradeJob.enabled=true', '--set', 'metrics.serviceMonitor.enabled=true']]) {
      const r = await helm(['lint', '--strict', CHART, ...sets]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    }
  });

  it("has the package's version as appVersion, which is the default tag of both images", async () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    const chart = await helmOk(['show', 'chart', CHART]);
    expect(chart).toMatch(new RegExp(`^appVersion: "?${pkg.version.replaceAll('.', '\\.')}"?$`, 'm'));
    const { objects, text } = await template('millrace');
    expect(operatorContainer(objects).image).toBe(`${OPERATOR_IMAGE}:${pkg.version}`);
    expect(text).not.toContain(':latest');
    const values = await helmOk(['show', 'values', CHART]);
    expect(values).toContain(`repository: ${BROKER_IMAGE}`);
    // Every example runs the broker image of this version.
    for (const file of ['kafkacluster-dev.yaml', 'kafkacluster-production.yaml']) {
      const [cluster] = parseManifests(readFileSync(join(EXAMPLES, file), 'utf8')) as unknown as KafkaCluster[];
      expect(cluster?.spec.image).toBe(`${BROKER_IMAGE}:${pkg.version}`);
      expect(cluster?.spec.version).toBe(pkg.version);
    }
  });

  it('documents every value in its README (and nothing that is not a value)', () => {
    const values = (loadAll(readFileSync(join(CHART, 'values.yaml'), 'utf8'))[0] ?? {}) as Record<string, unknown>;
    const leaves: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (node !== null && typeof node === 'object' && !Array.isArray(node) && Object.keys(node).length > 0) {
        for (const [k, v] of Object.entries(node)) walk(v, path === '' ? k : `${path}.${k}`);
      } else {
        leaves.push(path);
      }
    };
    walk(values, '');
    const readme = readFileSync(join(CHART, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Values'));
    const documented = new Set([...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1] ?? ''));
    // A leaf is documented by its own row or by a row for an enclosing object (resources, probes, ...).
    const undocumented = leaves.filter((leaf) => !leaf.split('.').some((_, i, parts) => documented.has(parts.slice(0, i + 1).join('.'))));
    expect(undocumented).toEqual([]);
    const paths = new Set(leaves.flatMap((leaf) => leaf.split('.').map((_, i, parts) => parts.slice(0, i + 1).join('.'))));
    expect([...documented].filter((key) => !paths.has(key))).toEqual([]);
  });

  it('renders, cluster-wide: the operator Deployment, ServiceAccount, ClusterRole and binding, a leader election Role, the metrics Service', async () => {
    const { objects } = await template('millrace');
    expect(kinds(objects)).toEqual([
      'ClusterRole/millrace-edit',
      'ClusterRole/millrace-operator',
      'ClusterRole/millrace-view',
      'ClusterRoleBinding/millrace-operator',
      `Deployment/${RELEASE_NS}/millrace-operator`,
      `Role/${RELEASE_NS}/millrace-operator-leader-election`,
      `RoleBinding/${RELEASE_NS}/millrace-operator-leader-election`,
      `Service/${RELEASE_NS}/millrace-operator-metrics`,
      `ServiceAccount/${RELEASE_NS}/millrace-operator`,
    ]);
    const rules = rulesOf(find(objects, 'ClusterRole', 'millrace-operator'));
    const g = 'kafka.millrace.dev';
    expect(verbsFor(rules, g, 'kafkaclusters')).toEqual(['get', 'list', 'watch']);
    expect(verbsFor(rules, g, 'kafkatopics')).toEqual(['get', 'list', 'patch', 'watch']);
    expect(verbsFor(rules, g, 'kafkaclusters/status')).toEqual(['get', 'patch']);
    expect(verbsFor(rules, g, 'kafkatopics/status')).toEqual(['get', 'patch']);
    expect(verbsFor(rules, g, 'kafkaclusters/finalizers')).toEqual(['update']);
    expect(verbsFor(rules, g, 'kafkatopics/finalizers')).toEqual(['update']);
    const children = ['create', 'delete', 'get', 'list', 'patch', 'watch'];
    expect(verbsFor(rules, 'apps', 'statefulsets')).toEqual(children);
    expect(verbsFor(rules, '', 'services')).toEqual(children);
    expect(verbsFor(rules, '', 'configmaps')).toEqual(children);
    expect(verbsFor(rules, 'policy', 'poddisruptionbudgets')).toEqual(children);
    expect(verbsFor(rules, '', 'pods')).toEqual(['delete', 'get', 'list', 'watch']);
    expect(verbsFor(rules, '', 'persistentvolumeclaims')).toEqual(['delete', 'get', 'list', 'patch', 'watch']);
    expect(verbsFor(rules, '', 'events')).toEqual(['create', 'patch']);
    // Least privilege: nothing else, no wildcards, no secrets.
    const granted = rules.flatMap((r) => r.resources.map((res) => `${r.apiGroups.join(',')}/${res}`)).sort();
    expect(granted).toEqual([
      '/configmaps', '/events', '/persistentvolumeclaims', '/pods', '/services', 'apps/statefulsets',
      `${g}/kafkaclusters`, `${g}/kafkaclusters/finalizers`, `${g}/kafkaclusters/status`,
      `${g}/kafkatopics`, `${g}/kafkatopics/finalizers`, `${g}/kafkatopics/status`, 'policy/poddisruptionbudgets',
    ]);
    expect(JSON.stringify(objects)).not.toContain('"*"');
    // Leases only in the release namespace: create, and get/update of the one Lease by name.
    const leaseRules = rulesOf(find(objects, 'Role', 'millrace-operator-leader-election'));
    expect(leaseRules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['millrace-leader'], verbs: ['get', 'update'] },
    ]);

    const deployment = find<Deployment>(objects, 'Deployment', 'millrace-operator');
    expect(deployment.spec.replicas).toBe(1);
    const pod = deployment.spec.template.spec;
    expect(pod.serviceAccountName).toBe('millrace-operator');
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(pod.terminationGracePeriodSeconds).toBe(45);
    const container = operatorContainer(objects);
    expect(container.args).toContain('--leader-elect');
    expect(container.env).toEqual(expect.arrayContaining([
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'WATCH_NAMESPACE', value: '' },
    ]));
    expect(container.ports).toEqual([{ name: 'metrics', containerPort: 8080, protocol: 'TCP' }]);
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(container.resources).toMatchObject({ requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '512Mi' } });
  });

  it('renders, for one namespace: a Role and RoleBinding there instead of the ClusterRole and its binding', async () => {
    const { objects } = await template('team', { scope: 'namespace', watchNamespace: 'team-a' }, 'team-ops');
    expect(kinds(objects)).toEqual([
      'ClusterRole/team-millrace-edit',
      'ClusterRole/team-millrace-view',
      'Deployment/team-ops/team-millrace-operator',
      'Role/team-a/team-millrace-operator',
      'Role/team-ops/team-millrace-operator-leader-election',
      'RoleBinding/team-a/team-millrace-operator',
      'RoleBinding/team-ops/team-millrace-operator-leader-election',
      'Service/team-ops/team-millrace-operator-metrics',
      'ServiceAccount/team-ops/team-millrace-operator',
    ]);
    const cluster = await template('team', {}, 'team-ops');
    expect(rulesOf(find(objects, 'Role', 'team-millrace-operator'))).toEqual(rulesOf(find(cluster.objects, 'ClusterRole', 'team-millrace-operator')));
    expect(find(objects, 'RoleBinding', 'team-millrace-operator')).toMatchObject({
      roleRef: { kind: 'Role', name: 'team-millrace-operator' },
      subjects: [{ kind: 'ServiceAccount', name: 'team-millrace-operator', namespace: 'team-ops' }],
    });
    expect(envOf(operatorContainer(objects, 'team-millrace-operator'))['WATCH_NAMESPACE']).toBe('team-a');
    // Without watchNamespace: the release namespace.
    const own = await template('team', { scope: 'namespace' }, 'team-ops');
    expect(envOf(operatorContainer(own.objects, 'team-millrace-operator'))['WATCH_NAMESPACE']).toBe('team-ops');
    expect(find(own.objects, 'Role', 'team-millrace-operator').metadata.namespace).toBe('team-ops');
  });

  it("renders flags and environment that the operator's own parser accepts, as configured", async () => {
    for (const [values, expected] of [
      [{}, { watchNamespace: undefined, leaderElection: true, leaseName: 'millrace-leader' }],
      [{ scope: 'namespace', 'leaderElection.enabled': false, logLevel: 'debug', 'metrics.port': 9090, topicResync: '2m', gracefulShutdownTimeout: '1m' },
        { watchNamespace: RELEASE_NS, leaderElection: false, logLevel: 'debug', metricsPort: 9090, topicResyncMs: 120_000, gracefulShutdownTimeoutMs: 60_000 }],
      [{ 'leaderElection.leaseName': 'ops-lease', 'leaderElection.leaseDuration': '30s', 'leaderElection.renewDeadline': '20s' },
        { leaseName: 'ops-lease', leaseDurationMs: 30_000, renewDeadlineMs: 20_000 }],
    ] as const) {
      const { objects } = await template('millrace', values);
      const container = operatorContainer(objects);
      const env = envOf(container, { 'metadata.name': 'millrace-operator-abc', 'metadata.namespace': RELEASE_NS });
      const config = parseOperatorArgs(container.args ?? [], env);
      expect(config).toMatchObject({ help: false, leaseNamespace: RELEASE_NS, metricsHost: '0.0.0.0', metricsPort: 8080, logLevel: 'info', ...expected });
      expect(container.ports?.[0]?.containerPort).toBe(config.metricsPort);
      const grace = find<Deployment>(objects, 'Deployment', 'millrace-operator').spec.template.spec.terminationGracePeriodSeconds;
      expect(grace).toBe(config.gracefulShutdownTimeoutMs / 1000 + 15);
    }
  });

  it('refuses inconsistent values with a message', async () => {
    const refused = async (sets: readonly string[], message: RegExp): Promise<void> => {
      const r = await helm(['template', 'millrace', CHART, ...sets.flatMap((s) => ['--set', s])]);
      expect(r.code, r.stdout).not.toBe(0);
      expect(r.stderr).toMatch(message);
    };
    await refused(['replicaCount=2', 'leaderElection.enabled=false'], /replicaCount > 1 needs leaderElection.enabled/);
    await refused(['watchNamespace=team-a'], /watchNamespace is only used with scope=namespace/);
    await refused(['scope=everywhere'], /scope.*must be one of 'cluster', 'namespace'/);
    await refused(['logLevel=loud'], /logLevel/);
    await refused(['topicResync=often'], /topicResync/);
    await refused(['imagePullPolicy=Always'], /additional properties 'imagePullPolicy' not allowed/);
    await refused(['serviceAccount.create=false'], /serviceAccount.name is required/);
  });

  it('renders the optional ServiceMonitor, and the CRD upgrade hook with the chart CRDs as they are', async () => {
    const { objects } = await template('millrace', { 'metrics.serviceMonitor.enabled': true, 'metrics.serviceMonitor.labels.release': 'prom', 'crds.upgradeJob.enabled': true });
    expect(find(objects, 'ServiceMonitor', 'millrace-operator')).toMatchObject({
      metadata: { labels: { release: 'prom' } },
      spec: { endpoints: [{ port: 'http-metrics', path: '/metrics' }] },
    });
    const hooks = objects.filter((o) => o.metadata.annotations?.['helm.sh/hook'] !== undefined);
    expect(kinds(hooks)).toEqual([
      'ClusterRole/millrace-crds', 'ClusterRoleBinding/millrace-crds', `ConfigMap/${RELEASE_NS}/millrace-crds`, `Job/${RELEASE_NS}/millrace-crds`, `ServiceAccount/${RELEASE_NS}/millrace-crds`,
    ]);
    for (const hook of hooks) expect(hook.metadata.annotations?.['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    const data = find<Manifest & { data: Record<string, string> }>(objects, 'ConfigMap', 'millrace-crds').data;
    expect(Object.keys(data).sort()).toEqual(readdirSync(join(REPO, 'crds')).sort());
    for (const [file, content] of Object.entries(data)) expect(content.trimEnd()).toBe(readFileSync(join(REPO, 'crds', file), 'utf8').trimEnd());
    expect(JSON.stringify(find(objects, 'Job', 'millrace-crds'))).toContain('"apply","--server-side","--force-conflicts"');
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('against a real kube-apiserver', () => {
  let cp: ControlPlane;
  const operators: OperatorProcess[] = [];
  const tmp = mkdtempSync(join(tmpdir(), 'millrace-helm-kube-'));

  const kubectlResult = (args: readonly string[], input?: string): Promise<KubectlResult> => cp.kubectl(args, input === undefined ? {} : { input });
  const kubectl = async (args: readonly string[], input?: string): Promise<string> => {
    const r = await kubectlResult(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const getJson = async <T>(args: readonly string[]): Promise<T | null> => {
    const r = await kubectlResult([...args, '-o', 'json']);
    if (r.code !== 0) {
      if (/NotFound|not found/.test(r.stderr)) return null;
      throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr}`);
    }
    return JSON.parse(r.stdout) as T;
  };
  const canI = async (serviceAccount: string, args: readonly string[]): Promise<boolean> => {
    const r = await kubectlResult(['auth', 'can-i', `--as=system:serviceaccount:${serviceAccount}`, ...args]);
    return r.stdout.trim() === 'yes';
  };

  /** A kubeconfig that authenticates as the ServiceAccount, with a token from the TokenRequest API. */
  const serviceAccountKubeconfig = async (namespace: string, name: string): Promise<string> => {
    const token = (await kubectl(['create', 'token', name, '-n', namespace, '--duration=1h'])).trim();
    const path = join(tmp, `${namespace}-${name}.kubeconfig`);
    writeFileSync(path, JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server: cp.server, 'certificate-authority-data': readFileSync(cp.caCertPath).toString('base64') } }],
      users: [{ name, user: { token } }],
      contexts: [{ name, context: { cluster: 'test', user: name, namespace } }],
      'current-context': name,
    }), { mode: 0o600 });
    return path;
  };

  /** The operator process as the installed Deployment runs it: its args and env, its ServiceAccount's token. */
  const startAsDeployment = async (namespace: string, deploymentName: string, identity: string): Promise<OperatorProcess> => {
    const deployment = await getJson<Deployment>(['get', 'deployment', deploymentName, '-n', namespace]);
    if (deployment === null) throw new Error(`no Deployment ${namespace}/${deploymentName}`);
    const container = deployment.spec.template.spec.containers[0];
    if (container === undefined) throw new Error('no container');
    const kubeconfig = await serviceAccountKubeconfig(namespace, deployment.spec.template.spec.serviceAccountName);
    // The metrics port of a pod is its own; here it would collide with other tests: any free port.
    const args = (container.args ?? []).map((a) => (a.startsWith('--metrics-address=') ? '--metrics-address=127.0.0.1:0' : a));
    const env = envOf(container, { 'metadata.name': identity, 'metadata.namespace': namespace });
    const op = startOperatorProcess(kubeconfig, identity, args, env);
    operators.push(op);
    await op.waitForLog(/^Acquired leader lease$/);
    return op;
  };

  const expectNoRefusedRequest = (op: OperatorProcess): void => {
    const refused = op.output().split('\n').filter((l) => /forbidden|\b403\b|\b401\b|Unauthorized/i.test(l));
    expect(refused).toEqual([]);
  };

  interface Conditioned { status?: { conditions?: { type: string; status: string; reason: string }[] } }
  const conditionOf = (obj: Conditioned | null, type: string) => obj?.status?.conditions?.find((c) => c.type === type);

  beforeAll(async () => {
    // With kube-controller-manager: its clusterrole-aggregation controller fills the view/edit/admin roles.
    cp = await startControlPlane({ log: (line) => process.stderr.write(`${line}\n`) });
    helmKubeconfig = cp.kubeconfigPath;
    for (const ns of ['streaming', 'team-a']) await kubectl(['create', 'namespace', ns]);
  });

  afterAll(async () => {
    for (const op of operators) await op.stop();
    helmKubeconfig = undefined;
    await cp?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('helm install creates the CRDs from crds/, the operator objects, and prints the NOTES', async () => {
    const out = await helmOk(['install', 'millrace', CHART, '--namespace', RELEASE_NS, '--create-namespace']);
    expect(out).toContain('STATUS: deployed');
    expect(out).toContain(`this chart's broker image is ${BROKER_IMAGE}:0.1.0`);
    expect(out).toContain(`kubectl patch kafkatopic <name> --type=merge -p '{"metadata":{"finalizers":[]}}'`);
    await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/kafkaclusters.kafka.millrace.dev', 'crd/kafkatopics.kafka.millrace.dev']);
    for (const [kind, name] of [['deployment', 'millrace-operator'], ['serviceaccount', 'millrace-operator'], ['service', 'millrace-operator-metrics'], ['role', 'millrace-operator-leader-election']]) {
      await kubectl(['get', kind ?? '', name ?? '', '-n', RELEASE_NS]);
    }
    await kubectl(['get', 'clusterrole/millrace-operator', 'clusterrolebinding/millrace-operator']);
    // The aggregated roles: a namespace editor may manage KafkaClusters, a viewer only read them.
    await kubectl(['create', 'rolebinding', 'alice-edit', '--clusterrole=edit', '--user=alice', '-n', 'streaming']);
    await kubectl(['create', 'rolebinding', 'bob-view', '--clusterrole=view', '--user=bob', '-n', 'streaming']);
    const userCan = async (user: string, verb: string, resource: string, ...more: string[]): Promise<boolean> =>
      (await kubectlResult(['auth', 'can-i', `--as=${user}`, verb, resource, '-n', 'streaming', ...more])).stdout.trim() === 'yes';
    await until(async () => (await userCan('alice', 'create', 'kafkaclusters.kafka.millrace.dev')) && (await userCan('bob', 'list', 'kafkatopics.kafka.millrace.dev')), 'the edit and view roles to aggregate the Millrace rules');
    expect(await userCan('bob', 'delete', 'kafkatopics.kafka.millrace.dev')).toBe(false);
    expect(await userCan('alice', 'delete', 'kafkaclusters.kafka.millrace.dev')).toBe(true);
    expect(await userCan('alice', 'patch', 'kafkaclusters.kafka.millrace.dev', '--subresource=status')).toBe(false);
    expect(await userCan('bob', 'get', 'kafkaclusters.kafka.millrace.dev', '--subresource=status')).toBe(true);
  });

  it("passes the examples through the API server (dry run) and the operator's validation", async () => {
    const r = await kubectlResult(['apply', '--dry-run=server', '-n', 'streaming', '-f', EXAMPLES]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').sort()).toEqual([
      'kafkacluster.kafka.millrace.dev/dev created (server dry run)',
      'kafkacluster.kafka.millrace.dev/orders created (server dry run)',
      'kafkatopic.kafka.millrace.dev/events created (server dry run)',
    ]);
    expect(r.stderr.split('\n').filter((l) => /warning/i.test(l))).toEqual([]);
    for (const file of readdirSync(EXAMPLES)) {
      for (const obj of parseManifests(readFileSync(join(EXAMPLES, file), 'utf8'))) {
        const withNs = { ...obj, metadata: { ...obj.metadata, namespace: 'streaming' } };
        const result = obj.kind === 'KafkaCluster' ? validateKafkaCluster(withNs as unknown as KafkaCluster) : validateKafkaTopic(withNs as unknown as KafkaTopic);
        expect(result.problems, `${file}: ${obj.kind} ${obj.metadata.name}`).toEqual([]);
        expect(result.valid).toBe(true);
      }
    }
  });

  it('passes helm template output through kubectl apply --dry-run=server, in both scopes and with the CRD upgrade hook', async () => {
    for (const [release, values] of [
      ['dry', {}],
      ['dry-ns', { scope: 'namespace', watchNamespace: 'team-a' }],
      ['dry-own', { scope: 'namespace', 'crds.upgradeJob.enabled': true, replicaCount: 2 }],
    ] as const) {
      const { text, objects } = await template(release, values);
      const r = await kubectlResult(['apply', '--dry-run=server', '-f', '-'], text);
      expect(r.code, `${release}: ${r.stderr}`).toBe(0);
      expect(r.stdout.trim().split('\n')).toHaveLength(objects.length);
      expect(r.stderr.split('\n').filter((l) => /warning/i.test(l))).toEqual([]);
    }
  });

  it("runs the operator under the chart's ServiceAccount and RBAC (cluster scope): it reconciles, reports and finalizes without a refused request", async () => {
    const sa = `${RELEASE_NS}:millrace-operator`;
    // What the RBAC allows, and what it does not.
    expect(await canI(sa, ['list', 'kafkaclusters.kafka.millrace.dev', '--all-namespaces'])).toBe(true);
    expect(await canI(sa, ['patch', 'statefulsets.apps', '-n', 'streaming'])).toBe(true);
    expect(await canI(sa, ['delete', 'pods', '-n', 'streaming'])).toBe(true);
    expect(await canI(sa, ['update', 'leases.coordination.k8s.io/millrace-leader', '-n', RELEASE_NS])).toBe(true);
    expect(await canI(sa, ['update', 'leases.coordination.k8s.io/other', '-n', RELEASE_NS])).toBe(false);
    expect(await canI(sa, ['create', 'leases.coordination.k8s.io', '-n', 'streaming'])).toBe(false);
    expect(await canI(sa, ['get', 'secrets', '-n', 'streaming'])).toBe(false);
    expect(await canI(sa, ['get', 'nodes'])).toBe(false);
    expect(await canI(sa, ['create', 'pods', '-n', 'streaming'])).toBe(false);
    expect(await canI(sa, ['delete', 'kafkaclusters.kafka.millrace.dev', '-n', 'streaming'])).toBe(false);

    const op = await startAsDeployment(RELEASE_NS, 'millrace-operator', 'millrace-operator-test-0');
    const lease = await getJson<{ spec: { holderIdentity: string } }>(['get', 'lease', 'millrace-leader', '-n', RELEASE_NS]);
    expect(lease?.spec.holderIdentity).toBe('millrace-operator-test-0');

    // The dev example: every child applied, the status written (pods never run here: PodsNotReady), Events.
    await kubectl(['apply', '-n', 'streaming', '-f', join(EXAMPLES, 'kafkacluster-dev.yaml')]);
    await op.waitForLog(/^Created StatefulSet dev-combined$/);
    const cluster = await until(async () => {
      const c = await getJson<Conditioned & { status?: { observedGeneration?: number } }>(['get', 'kafkacluster', 'dev', '-n', 'streaming']);
      return c?.status?.observedGeneration === 1 && conditionOf(c, 'NotReady')?.reason === 'PodsNotReady' ? c : null;
    }, 'the dev KafkaCluster status (NotReady/PodsNotReady)');
    expect(conditionOf(cluster, 'Ready')?.status).toBe('False');
    const children = await kubectl(['get', 'statefulsets,configmaps,services,poddisruptionbudgets', '-n', 'streaming', '-l', 'kafka.millrace.dev/cluster=dev', '-o', 'name']);
    expect(children.trim().split('\n').sort()).toEqual([
      'configmap/dev-combined-config', 'poddisruptionbudget.policy/dev-nodes', 'service/dev-bootstrap', 'service/dev-nodes', 'statefulset.apps/dev-combined',
    ]);
    await until(async () => (await kubectl(['get', 'events', '-n', 'streaming', '-o', 'json'])).includes('"component": "millrace-operator"'), 'an Event by the operator');

    // A KafkaTopic of a cluster that does not exist: status ClusterNotFound (no Kafka connection is attempted).
    await kubectl(['apply', '-n', 'streaming', '-f', '-'], JSON.stringify({
      apiVersion: 'kafka.millrace.dev/v1alpha1', kind: 'KafkaTopic', metadata: { name: 'orphan', labels: { 'kafka.millrace.dev/cluster': 'absent' } }, spec: { partitions: 1, replicas: 1 },
    }));
    await until(async () => conditionOf(await getJson<Conditioned>(['get', 'kafkatopic', 'orphan', '-n', 'streaming']), 'NotReady')?.reason === 'ClusterNotFound', 'the KafkaTopic status (ClusterNotFound)');
    // Its finalizer (as a previous run would have left it) is removed by the operator once it is deleted.
    await kubectl(['patch', 'kafkatopic', 'orphan', '-n', 'streaming', '--type=merge', '-p', JSON.stringify({ metadata: { finalizers: [TOPIC_FINALIZER] } })]);
    await kubectl(['delete', 'kafkatopic', 'orphan', '-n', 'streaming', '--wait=false']);
    await until(async () => (await getJson(['get', 'kafkatopic', 'orphan', '-n', 'streaming'])) === null, 'the operator to remove the finalizer of the deleted KafkaTopic');

    expectNoRefusedRequest(op);
    const stopped = await op.stop();
    expect(stopped.code).toBe(0);
    await kubectl(['delete', 'kafkacluster', 'dev', '-n', 'streaming']);
  });

  it('runs the operator of a namespaced release (scope=namespace) with access to its watched namespace only', async () => {
    await helmOk(['install', 'team', CHART, '--namespace', 'team-ops', '--create-namespace', '--set', 'scope=namespace', '--set', 'watchNamespace=team-a']);
    const sa = 'team-ops:team-millrace-operator';
    expect(await canI(sa, ['list', 'kafkaclusters.kafka.millrace.dev', '-n', 'team-a'])).toBe(true);
    expect(await canI(sa, ['list', 'kafkaclusters.kafka.millrace.dev', '-n', 'streaming'])).toBe(false);
    expect(await canI(sa, ['list', 'kafkaclusters.kafka.millrace.dev', '--all-namespaces'])).toBe(false);
    expect(await canI(sa, ['patch', 'statefulsets.apps', '-n', 'streaming'])).toBe(false);
    expect(await canI(sa, ['update', 'leases.coordination.k8s.io/team-millrace-leader', '-n', 'team-ops'])).toBe(true);

    const op = await startAsDeployment('team-ops', 'team-millrace-operator', 'team-operator-test-0');
    await kubectl(['apply', '-n', 'team-a', '-f', join(EXAMPLES, 'kafkacluster-dev.yaml')]);
    await op.waitForLog(/^Created StatefulSet dev-combined$/);
    await until(async () => conditionOf(await getJson<Conditioned>(['get', 'kafkacluster', 'dev', '-n', 'team-a']), 'NotReady')?.reason === 'PodsNotReady', 'the team-a KafkaCluster status');
    expectNoRefusedRequest(op);
    expect((await op.stop()).code).toBe(0);
    await helmOk(['uninstall', 'team', '--namespace', 'team-ops']);
  });

  it('helm upgrade changes the Deployment; helm uninstall removes the operator and leaves the CRDs', async () => {
    const out = await helmOk(['upgrade', 'millrace', CHART, '--namespace', RELEASE_NS, '--reuse-values', '--set', 'logLevel=debug']);
    expect(out).toContain('REVISION: 2');
    const deployment = await getJson<Deployment>(['get', 'deployment', 'millrace-operator', '-n', RELEASE_NS]);
    expect(deployment?.spec.template.spec.containers[0]?.args).toContain('--log-level=debug');
    await helmOk(['uninstall', 'millrace', '--namespace', RELEASE_NS]);
    expect(await getJson(['get', 'deployment', 'millrace-operator', '-n', RELEASE_NS])).toBeNull();
    expect(await getJson(['get', 'clusterrole', 'millrace-operator'])).toBeNull();
    expect(await getJson(['get', 'crd', 'kafkaclusters.kafka.millrace.dev'])).not.toBeNull();
    expect(await getJson(['get', 'crd', 'kafkatopics.kafka.millrace.dev'])).not.toBeNull();
  });
});

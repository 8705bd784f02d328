/**
 * The local node agent (test/k8s/node-agent) against a real control plane (etcd, kube-apiserver,
 * kube-controller-manager): pods are bound and run as local processes on their own 127.0.x.y address, with their
 * volumes in a private mount namespace, probes driving readiness, SIGTERM on deletion, StatefulSet pods finding
 * each other by their DNS names, and PVC data outliving its pods.
 *
 * Agent log: <stateDir>/agent.log (the path is printed at the start); NODE_AGENT_VERBOSE=1 also prints it.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../../broker/src/client/kafka-connection.ts';
import { startControlPlane, type ControlPlane } from './control-plane/control-plane.ts';
import { canRunAgent, NodeAgent } from './node-agent/agent.ts';
import type { Pod } from './node-agent/kube.ts';

const NS = 'agent-test';
const runnable = canRunAgent();

let cp: ControlPlane;
let agent: NodeAgent;
let stateDir: string;
let agentLog: string;

async function until<T>(probe: () => T | Promise<T>, what: string | (() => string), timeoutMs = 60_000, intervalMs = 200): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const tail = existsSync(agentLog) ? readFileSync(agentLog, 'utf8').split('\n').slice(-40).join('\n') : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}${lastError === undefined ? '' : ` (last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)})`}\n--- agent log (${agentLog}), last lines:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

async function kubectl(args: readonly string[], input?: string): Promise<string> {
  const r = await cp.kubectl(args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

const apply = (obj: unknown): Promise<string> => kubectl(['apply', '-f', '-'], JSON.stringify(obj));

async function getPod(name: string): Promise<Pod | null> {
  const r = await cp.kubectl(['-n', NS, 'get', 'pod', name, '-o', 'json']);
  return r.code === 0 ? (JSON.parse(r.stdout) as Pod) : null;
}

const isReady = (pod: Pod | null): boolean => (pod?.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

function containerLogTail(pod: string, container: string, lines = 15): string {
  const path = agent.logPath(NS, pod, container);
  if (path === undefined || !existsSync(path)) return '(no log)';
  return `${path}:\n${readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n')}`;
}

async function readyPod(name: string, timeoutMs = 90_000): Promise<Pod> {
  let last: Pod | null = null;
  return until(async () => {
    last = await getPod(name);
    return isReady(last) ? last : null;
  }, () => `pod ${name} Ready (last status: ${JSON.stringify(last?.status ?? null)})\n--- its container log ${containerLogTail(name, last?.spec.containers[0]?.name ?? 'broker')}`, timeoutMs);
}

/** Runs a command in the mount namespace of a container's main process. */
function inContainer(pod: string, container: string, command: readonly string[]): string {
  const pid = agent.containerPid(NS, pod, container);
  if (pid === undefined) throw new Error(`container ${container} of ${pod} is not running`);
  return execFileSync('nsenter', ['-t', String(pid), '-m', '-u', '--', ...command], { encoding: 'utf8' });
}

/** Local addresses of the TCP listeners of a process and its threads. */
function listenersOf(pid: number): string[] {
  const out = execFileSync('ss', ['-Hltnp'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(`pid=${pid},`)).map((l) => l.trim().split(/\s+/)[3] ?? '');
}

async function apiVersionsOk(host: string, port: number): Promise<number> {
  const conn = await KafkaConnection.open({ host, port, connectTimeoutMs: 5_000, requestTimeoutMs: 5_000 });
  try {
    const r = await conn.send(18, 3, { clientSoftwareName: 'node-agent-test', clientSoftwareVersion: '1' });
    if (r.errorCode !== 0) throw new Error(`ApiVersions error ${r.errorCode}`);
    return r.apiKeys.length;
  } finally {
    conn.close();
  }
}

const CLUSTER_ID = Buffer.from('node-agent-test1').toString('base64url'); // 22 characters: 16 bytes

/** A single-node KRaft config (broker + controller); node id, advertised listener and voter come from the env. */
const SINGLE_NODE_PROPERTIES = [
  'process.roles=broker,controller',
  'listeners=PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093',
  'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
  'controller.listener.names=CONTROLLER',
  'inter.broker.listener.name=PLAINTEXT',
  'log.dirs=/var/lib/millrace/kafka-log',
  'millrace.http.listener=0.0.0.0:9644',
  `millrace.cluster.id=${CLUSTER_ID}`,
  'offsets.topic.replication.factor=1',
  '',
].join('\n');

const brokerProbes = {
  readinessProbe: { httpGet: { path: '/readyz', port: 'admin' }, periodSeconds: 1, failureThreshold: 3 },
  livenessProbe: { httpGet: { path: '/healthz', port: 'admin' }, initialDelaySeconds: 10, periodSeconds: 5, failureThreshold: 6 },
  ports: [{ name: 'kafka', containerPort: 9092 }, { name: 'controller', containerPort: 9093 }, { name: 'admin', containerPort: 9644 }],
};

beforeAll(async () => {
  if (!runnable.ok) return;
  stateDir = mkdtempSync(join(tmpdir(), 'node-agent-test-'));
  agentLog = join(stateDir, 'agent.log');
  process.stderr.write(`[node-agent.test] agent log: ${agentLog}\n`);
  cp = await startControlPlane({ log: (line) => process.stderr.write(`${line}\n`) });
  agent = await NodeAgent.start({
    kubeconfig: cp.kubeconfigPath,
    stateDir,
    zone: 'zone-a',
    backoffBaseMs: 500,
    backoffMaxMs: 2_000,
    volumeRefreshMs: 1_000,
    log: (line) => {
      appendFileSync(agentLog, `${new Date().toISOString()} ${line}\n`);
      if (process.env['NODE_AGENT_VERBOSE'] === '1') process.stderr.write(`${line}\n`);
    },
  });
  await kubectl(['create', 'namespace', NS]);
  // The ServiceAccount admission refuses pods until the controller manager has made the default ServiceAccount.
  await until(async () => (await cp.kubectl(['-n', NS, 'get', 'serviceaccount', 'default'])).code === 0, 'the default ServiceAccount');
}, 180_000);

afterAll(async () => {
  await agent?.stop();
  await cp?.stop();
  if (stateDir !== undefined && process.env['MILLRACE_K8S_KEEP'] !== '1') rmSync(stateDir, { recursive: true, force: true });
}, 120_000);

describe.skipIf(!runnable.ok)('node agent', () => {
  it('registers a Ready Node with capacity, the zone label and a Lease', async () => {
    const node = JSON.parse(await kubectl(['get', 'node', agent.nodeName, '-o', 'json'])) as { metadata: { labels: Record<string, string> }; status: { conditions: { type: string; status: string }[]; allocatable: Record<string, string> } };
    expect(node.metadata.labels['topology.kubernetes.io/zone']).toBe('zone-a');
    expect(node.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(Number(node.status.allocatable['cpu'])).toBeGreaterThan(0);
    const lease = JSON.parse(await kubectl(['-n', 'kube-node-lease', 'get', 'lease', agent.nodeName, '-o', 'json'])) as { spec: { holderIdentity: string; renewTime: string } };
    expect(lease.spec.holderIdentity).toBe(agent.nodeName);
  });

  it('runs a bare broker Pod with a ConfigMap and a PVC: Ready with its own IP, Kafka on podIP:9092, kubectl logs; deletion sends SIGTERM', async () => {
    await apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'single-config', namespace: NS }, data: { 'server.properties': SINGLE_NODE_PROPERTIES } });
    await apply({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'single-data', namespace: NS }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } });
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'single', namespace: NS, labels: { app: 'single' } },
      spec: {
        terminationGracePeriodSeconds: 30,
        containers: [{
          name: 'broker',
          image: 'ghcr.io/millrace/millrace-broker:dev',
          env: [
            { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
            { name: 'MILLRACE_CONFIG_FILE', value: '/etc/millrace/server.properties' },
            { name: 'MILLRACE_NODE_ID', value: '1' },
            { name: 'MILLRACE_ADVERTISED_LISTENERS', value: 'PLAINTEXT://$(POD_IP):9092' },
            { name: 'MILLRACE_CONTROLLER_QUORUM_VOTERS', value: '1@$(POD_IP):9093' },
          ],
          volumeMounts: [{ name: 'config', mountPath: '/etc/millrace', readOnly: true }, { name: 'data', mountPath: '/var/lib/millrace' }],
          ...brokerProbes,
        }],
        volumes: [{ name: 'config', configMap: { name: 'single-config' } }, { name: 'data', persistentVolumeClaim: { claimName: 'single-data' } }],
      },
    });
    const pod = await readyPod('single');
    const ip = pod.status?.podIP ?? '';
    expect(ip.startsWith(agent.podSubnet)).toBe(true);
    expect(pod.status?.podIPs).toEqual([{ ip }]);
    expect(pod.status?.hostIP).toBe('127.0.0.1');
    expect(pod.status?.phase).toBe('Running');
    expect(pod.status?.containerStatuses?.[0]).toMatchObject({ name: 'broker', ready: true, started: true, restartCount: 0 });
    expect(await apiVersionsOk(ip, 9092)).toBeGreaterThan(10);

    // Only the pod IP is bound (the listen shim), and the volumes are where the pod asked.
    const pid = agent.containerPid(NS, 'single', 'broker') ?? 0;
    const listeners = listenersOf(pid);
    expect(listeners.sort()).toEqual([`${ip}:9092`, `${ip}:9093`, `${ip}:9644`].sort());
    expect(inContainer('single', 'broker', ['cat', '/etc/millrace/server.properties'])).toContain(`millrace.cluster.id=${CLUSTER_ID}`);
    expect(inContainer('single', 'broker', ['cat', '/var/lib/millrace/kafka-log/meta.properties'])).toContain(CLUSTER_ID);
    expect(existsSync(join(agent.pvcPath(NS, 'single-data'), 'kafka-log', 'meta.properties'))).toBe(true);
    expect(existsSync('/etc/millrace')).toBe(false); // created in the container's private overlay only
    // The service account token, CA and namespace of the projected volume.
    expect(inContainer('single', 'broker', ['cat', '/var/run/secrets/kubernetes.io/serviceaccount/namespace'])).toBe(NS);
    expect(inContainer('single', 'broker', ['cat', '/var/run/secrets/kubernetes.io/serviceaccount/token'])).toMatch(/^ey/);
    // The PVC was bound (the agent's PersistentVolume + the controller manager's PV controller).
    await until(async () => (await kubectl(['-n', NS, 'get', 'pvc', 'single-data', '-o', 'jsonpath={.status.phase}'])) === 'Bound', 'PVC single-data Bound');
    // kubectl logs through the API server and the agent's kubelet endpoint.
    expect(await kubectl(['-n', NS, 'logs', 'single', '--tail=200'])).toMatch(/"msg"/);

    // Deletion: SIGTERM, a clean exit, the pod object removed.
    const logPath = agent.logPath(NS, 'single', 'broker') ?? '';
    await kubectl(['-n', NS, 'delete', 'pod', 'single', '--wait=false']);
    await until(async () => (await getPod('single')) === null, 'pod single deleted', 60_000);
    const log = readFileSync(logPath, 'utf8');
    expect(log).toMatch(/"signal":"SIGTERM"/);
    expect(() => process.kill(pid, 0)).toThrow();
    expect(readFileSync(agentLog, 'utf8')).toMatch(/pod agent-test\/single: container broker: exited with 0/);
  });

  it('runs a StatefulSet of 2 brokers that find each other by pod DNS names, and PVC data survives a pod delete/recreate', async () => {
    const voters = '0@quorum-0.quorum-nodes.agent-test.svc:9093,1@quorum-1.quorum-nodes.agent-test.svc:9093';
    await apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'quorum-config', namespace: NS }, data: { 'server.properties': SINGLE_NODE_PROPERTIES.replace('offsets.topic.replication.factor=1', `offsets.topic.replication.factor=1\ncontroller.quorum.voters=${voters}`) } });
    await apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'quorum-nodes', namespace: NS },
      spec: { clusterIP: 'None', publishNotReadyAddresses: true, selector: { app: 'quorum' }, ports: [{ name: 'kafka', port: 9092, targetPort: 9092 }, { name: 'controller', port: 9093, targetPort: 9093 }] },
    });
    await apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'quorum-bootstrap', namespace: NS },
      spec: { selector: { app: 'quorum' }, ports: [{ name: 'kafka', port: 9092, targetPort: 9092 }] },
    });
    await apply({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'quorum', namespace: NS },
      spec: {
        replicas: 2,
        serviceName: 'quorum-nodes',
        podManagementPolicy: 'Parallel',
        updateStrategy: { type: 'OnDelete' },
        selector: { matchLabels: { app: 'quorum' } },
        template: {
          metadata: { labels: { app: 'quorum' } },
          spec: {
            // When both voters stop at once, the last one cannot finish its controlled shutdown (no quorum) and
            // waits for SIGKILL: keep that short here.
            terminationGracePeriodSeconds: 10,
            containers: [{
              name: 'broker',
              image: 'millrace/broker:dev',
              env: [
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'MILLRACE_CONFIG_FILE', value: '/etc/millrace/server.properties' },
                { name: 'MILLRACE_NODE_ID', valueFrom: { fieldRef: { fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']" } } },
                { name: 'MILLRACE_ADVERTISED_LISTENERS', value: 'PLAINTEXT://$(POD_NAME).quorum-nodes.agent-test.svc:9092' },
                // The controller listener on the pod's DNS name rather than 0.0.0.0: the broker advertises a
                // wildcard controller listener to its peers as os.hostname() (the bare pod name), which only
                // the pod itself can resolve, in a real cluster as here; this test is about the agent.
                { name: 'MILLRACE_LISTENERS', value: 'PLAINTEXT://0.0.0.0:9092,CONTROLLER://$(POD_NAME).quorum-nodes.agent-test.svc:9093' },
              ],
              volumeMounts: [{ name: 'config', mountPath: '/etc/millrace', readOnly: true }, { name: 'data', mountPath: '/var/lib/millrace' }],
              ...brokerProbes,
            }],
            volumes: [{ name: 'config', configMap: { name: 'quorum-config' } }],
          },
        },
        volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
      },
    });
    const [p0, p1] = await Promise.all([readyPod('quorum-0', 90_000), readyPod('quorum-1', 90_000)]);
    const ip0 = p0.status?.podIP ?? '';
    const ip1 = p1.status?.podIP ?? '';
    expect(ip0).not.toBe(ip1);

    // DNS inside the pods: pod names of the headless Service, the ClusterIP Service -> ready pods.
    const hosts = inContainer('quorum-0', 'broker', ['getent', 'hosts', 'quorum-1.quorum-nodes.agent-test.svc']);
    expect(hosts.split(/\s+/)[0]).toBe(ip1);
    expect(inContainer('quorum-1', 'broker', ['getent', 'hosts', 'quorum-0.quorum-nodes.agent-test.svc.cluster.local']).split(/\s+/)[0]).toBe(ip0);
    expect(inContainer('quorum-1', 'broker', ['getent', 'ahosts', 'quorum-bootstrap.agent-test.svc'])).toMatch(new RegExp(`${ip0.replace(/\./g, '\\.')}|${ip1.replace(/\./g, '\\.')}`));
    expect(inContainer('quorum-0', 'broker', ['hostname']).trim()).toBe('quorum-0');
    expect(inContainer('quorum-0', 'broker', ['cat', '/etc/hostname']).trim()).toBe('quorum-0');
    // A pod resolves its own bare hostname (the kubelet's hosts line), not another pod's.
    expect(inContainer('quorum-0', 'broker', ['getent', 'hosts', 'quorum-0']).split(/\s+/)[0]).toBe(ip0);
    expect(() => inContainer('quorum-1', 'broker', ['getent', 'hosts', 'quorum-0'])).toThrow();
    // The quorum of two voters formed over those names: both nodes run (a broker is Ready only once registered
    // with the active controller) with one cluster id and a metadata log.
    for (const ip of [ip0, ip1]) {
      expect(await apiVersionsOk(ip, 9092)).toBeGreaterThan(10);
      const status = await (await fetch(`http://${ip}:9644/v1/broker`)).json() as { state: string; clusterId: string; metadataOffset: number };
      expect(status).toMatchObject({ state: 'running', clusterId: CLUSTER_ID });
      expect(status.metadataOffset).toBeGreaterThan(0);
    }

    // PVC data survives the pod: a file written in quorum-0's volume is there in its successor.
    inContainer('quorum-0', 'broker', ['sh', '-c', 'echo kept > /var/lib/millrace/marker']);
    const meta = inContainer('quorum-0', 'broker', ['cat', '/var/lib/millrace/kafka-log/meta.properties']);
    const oldUid = p0.metadata.uid;
    await kubectl(['-n', NS, 'delete', 'pod', 'quorum-0', '--wait=false']);
    const successor = await until(async () => {
      const p = await getPod('quorum-0');
      return p !== null && p.metadata.uid !== oldUid && isReady(p) ? p : null;
    }, 'quorum-0 re-created by the StatefulSet controller and Ready', 120_000);
    expect(successor.status?.podIP).not.toBe(ip0); // a new pod gets a new address, as in a cluster
    expect(inContainer('quorum-0', 'broker', ['cat', '/var/lib/millrace/marker']).trim()).toBe('kept');
    expect(inContainer('quorum-0', 'broker', ['cat', '/var/lib/millrace/kafka-log/meta.properties'])).toBe(meta);
    // The other pod resolves the successor's new address.
    await until(() => inContainer('quorum-1', 'broker', ['getent', 'hosts', 'quorum-0.quorum-nodes.agent-test.svc']).startsWith(successor.status?.podIP ?? '-'), 'quorum-1 resolving the new quorum-0');
    expect(await apiVersionsOk(successor.status?.podIP ?? '', 9092)).toBeGreaterThan(10);

    await kubectl(['-n', NS, 'delete', 'statefulset', 'quorum', '--wait=false']);
    await until(async () => (await getPod('quorum-0')) === null && (await getPod('quorum-1')) === null, 'StatefulSet pods gone', 90_000);
  }, 300_000);

  it('drives probes, restart policies and backoff; exec probes run inside the container', async () => {
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'probes', namespace: NS },
      spec: {
        terminationGracePeriodSeconds: 2,
        containers: [
          {
            // Ready only once /tmp/ready exists in its emptyDir at /tmp (exec probe via nsenter). /tmp hides the
            // agent's state dir inside the container: the service account volume must still be mounted.
            name: 'exec-ready',
            image: 'busybox',
            command: ['sh', '-c', 'trap "echo got SIGTERM; exit 0" TERM; while true; do sleep 0.2; done'],
            volumeMounts: [{ name: 'scratch', mountPath: '/tmp' }],
            readinessProbe: { exec: { command: ['test', '-e', '/tmp/ready'] }, periodSeconds: 1 },
          },
          {
            // Its liveness probe always fails: it is killed and restarted, with growing backoff.
            name: 'unhealthy',
            image: 'busybox',
            command: ['sh', '-c', 'sleep 1000'],
            livenessProbe: { tcpSocket: { port: 1 }, periodSeconds: 1, failureThreshold: 1 },
          },
        ],
        volumes: [{ name: 'scratch', emptyDir: {} }],
      },
    });
    await until(async () => (await getPod('probes'))?.status?.phase === 'Running', 'pod probes Running');
    await until(async () => ((await getPod('probes'))?.status?.containerStatuses?.find((c) => c.name === 'unhealthy')?.restartCount ?? 0) >= 2, 'the liveness probe restarting its container twice');
    let pod = await getPod('probes');
    expect(isReady(pod)).toBe(false);
    expect(pod?.status?.containerStatuses?.find((c) => c.name === 'unhealthy')?.lastState?.terminated?.exitCode).toBe(143);
    expect(inContainer('probes', 'exec-ready', ['cat', '/var/run/secrets/kubernetes.io/serviceaccount/namespace'])).toBe(NS);
    inContainer('probes', 'exec-ready', ['touch', '/tmp/ready']);
    expect(existsSync(join(stateDir, 'pods')) && !existsSync('/tmp/ready')).toBe(true);
    await until(async () => (await getPod('probes'))?.status?.containerStatuses?.find((c) => c.name === 'exec-ready')?.ready === true, 'exec readiness probe passing');
    pod = await getPod('probes');
    expect(pod?.status?.conditions?.find((c) => c.type === 'ContainersReady')?.status).toBe('False');
    const logPath = agent.logPath(NS, 'probes', 'exec-ready') ?? '';
    await kubectl(['-n', NS, 'delete', 'pod', 'probes', '--wait=false']);
    await until(async () => (await getPod('probes')) === null, 'pod probes deleted', 30_000);
    expect(readFileSync(logPath, 'utf8')).toContain('got SIGTERM');

    // restartPolicy: Never -> Failed; OnFailure -> restarted until it succeeds -> Succeeded.
    const marker = join(stateDir, 'on-failure-marker');
    writeFileSync(marker, '');
    await apply({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'never', namespace: NS }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox', command: ['sh', '-c', 'exit 3'] }] } });
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'on-failure', namespace: NS },
      spec: { restartPolicy: 'OnFailure', containers: [{ name: 'c', image: 'busybox', command: ['sh', '-c', `echo x >> ${marker}; [ $(wc -l < ${marker}) -ge 3 ]`] }] },
    });
    const never = await until(async () => { const p = await getPod('never'); return p?.status?.phase === 'Failed' ? p : null; }, 'pod never Failed');
    expect(never.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(3);
    const onFailure = await until(async () => { const p = await getPod('on-failure'); return p?.status?.phase === 'Succeeded' ? p : null; }, 'pod on-failure Succeeded');
    expect(onFailure.status?.containerStatuses?.[0]?.restartCount).toBe(2);
    await kubectl(['-n', NS, 'delete', 'pod', 'never', 'on-failure', '--wait=true', '--timeout=30s']);
  });
});

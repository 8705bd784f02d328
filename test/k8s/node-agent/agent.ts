/**
 * The local node agent: a kubelet stand-in for the test control plane (test/k8s/control-plane), so that pods
 * run as local processes. See README.md in this directory for what it does and does not do.
 *
 *   const agent = await NodeAgent.start({ kubeconfig: cp.kubeconfigPath, stateDir, zone: 'zone-a', log });
 *   ...
 *   await agent.stop();          // kills every pod's processes (SIGTERM, then SIGKILL), leaves API objects alone
 *
 * CLI (until SIGINT/SIGTERM):
 *   node test/k8s/node-agent/agent.ts --kubeconfig <file> --state-dir <dir> [--node-name n] [--zone z]
 *        [--subnet <third octet>] [--label k=v]... [--backoff-base-ms n]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, statfsSync, writeFileSync, ftruncateSync, writeSync } from 'node:fs';
import { availableParallelism, hostname, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import { HttpKubeClient } from '../../../operator/src/runtime/kube-client.ts';
import { isAlreadyExists, isConflict, isNotFound, type KubeHttp } from '../../../operator/src/runtime/kube-api.ts';
import { Informer, kubeListerWatcher } from '../../../operator/src/runtime/informer.ts';
import { Resources, type ResourceType } from '../../../operator/src/runtime/resources.ts';
import type { Server } from 'node:https';
import type { NodeResources } from './env.ts';
import { clusterHostsLines, renderHostsFile, renderPodHostsFile, servicePortWarnings } from './hosts.ts';
import { defaultImageRules, findNode, type ImageRule } from './images.ts';
import { claimSubnet, IpPool, type SubnetLease } from './ip-pool.ts';
import type { ConfigMap, PersistentVolumeClaim, Pod, PodStatus, Secret, Service } from './kube.ts';
import { errorText, nsName, POD_TERMINAL_PHASES, rfc3339, sleep } from './kube.ts';
import { selfSignedCertificate, startKubeletServer } from './kubelet-server.ts';
import { PodWorker, type PodHost } from './pod-worker.ts';
import { guardStateDir, releaseStateDir } from './process-guard.ts';
import type { ConfigMapData, ServiceAccountToken, VolumeSources } from './volumes.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, '../../..');
export const BIND_SHIM = join(HERE, 'bind-pod-ip.ts');
export const AGENT_LABEL = 'node-agent.millrace.dev/node';
export const PROVISIONER = 'node-agent.millrace.dev';
export const ZONE_LABEL = 'topology.kubernetes.io/zone';
const HOST_IP = '127.0.0.1';

export interface NodeAgentOptions {
  /** kubeconfig file of a user allowed to do what a kubelet and a PV provisioner do (the test admin). */
  readonly kubeconfig: string;
  /** Pods' directories, logs, PVC data, the hosts file; created if missing. Reuse it to keep PVC data. */
  readonly stateDir: string;
  /** Default: node-127-0-<subnet>. */
  readonly nodeName?: string;
  /** topology.kubernetes.io/zone of the Node. */
  readonly zone?: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** Third octet of the pod subnet 127.0.<n>.0/24 (default: a free one, see ip-pool.ts). */
  readonly subnet?: number;
  /** Rules tried before the default table. */
  readonly images?: readonly ImageRule[];
  /** Replace the default table instead of extending it. */
  readonly replaceDefaultImages?: boolean;
  /** Progress and diagnostics (one line each). Default: stderr. */
  readonly log?: (line: string) => void;
  /** Crash-loop backoff: first delay and cap (kubelet: 10 s, 5 min). */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** Lease renewal (default 10 s) and Node status refresh (default 60 s). */
  readonly leaseRenewMs?: number;
  readonly nodeStatusMs?: number;
  /** Rewrite of ConfigMap/Secret/token volumes (default 10 s). */
  readonly volumeRefreshMs?: number;
  /** Upper bound of the grace period when the agent stops (default 10 s). */
  readonly shutdownGraceMs?: number;
  /** Bind unscheduled pods to this node (default true; there is no scheduler). */
  readonly schedule?: boolean;
  /** Create a PersistentVolume for each unbound PVC (default true; there is no provisioner). */
  readonly provisionVolumes?: boolean;
}

interface Informers {
  readonly pods: Informer<Pod>;
  readonly services: Informer<Service>;
  readonly configMaps: Informer<ConfigMap>;
  readonly secrets: Informer<Secret>;
  readonly pvcs: Informer<PersistentVolumeClaim>;
}


/**
 * Rewrites a hosts file in place (same inode: containers have it bind-mounted, a rename would not reach them).
 * The new content is written over the old one before the file is cut to length, so a reader never sees it
 * empty. Creates the file when missing.
 */
function writeInPlace(path: string, content: string, last: Map<string, string>): void {
  if (last.get(path) === content) return;
  if (!existsSync(path)) {
    writeFileSync(path, content);
  } else {
    const fd = openSync(path, 'r+');
    try {
      const bytes = Buffer.from(content, 'utf8');
      writeSync(fd, bytes, 0, bytes.length, 0);
      ftruncateSync(fd, bytes.length);
    } finally {
      closeSync(fd);
    }
  }
  last.set(path, content);
}

function nodeResources(stateDir: string): NodeResources {
  let ephemeralStorage = 100 * 2 ** 30;
  try {
    const fs = statfsSync(stateDir);
    ephemeralStorage = fs.blocks * fs.bsize;
  } catch {
    // keep the default
  }
  return { cpu: availableParallelism(), memory: totalmem(), ephemeralStorage };
}

export class NodeAgent {
  readonly nodeName: string;
  readonly stateDir: string;
  /** The cluster DNS hosts file (also what pods see as /etc/hosts). */
  readonly hostsFile: string;
  /** e.g. "127.0.42." */
  readonly podSubnet: string;
  private readonly options: NodeAgentOptions;
  private readonly http: KubeHttp & { close(): void };
  private readonly log: (line: string) => void;
  private readonly subnet: SubnetLease;
  private readonly ips: IpPool;
  private readonly images: readonly ImageRule[];
  private readonly workers = new Map<string, PodWorker>();
  private readonly binding = new Set<string>();
  private readonly provisioning = new Set<string>();
  private readonly warnedServices = new Set<string>();
  private readonly apiServer: { host: string; port: number };
  private readonly node: NodeResources;
  private informers: Informers | undefined;
  private kubeletServer: Server | undefined;
  private kubeletPort = 0;
  private nodeUid = '';
  private hostsTimer: NodeJS.Timeout | undefined;
  /** Last content written, per hosts file. */
  private readonly lastHosts = new Map<string, string>();
  private heartbeat: NodeJS.Timeout | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly logger: Logger;

  private constructor(options: NodeAgentOptions, kubeConfig: KubeConfig) {
    this.options = options;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.stateDir = resolve(options.stateDir);
    mkdirSync(this.stateDir, { recursive: true });
    this.subnet = claimSubnet(options.subnet);
    this.podSubnet = this.subnet.prefix;
    this.ips = new IpPool(this.subnet.prefix);
    this.nodeName = options.nodeName ?? `node-127-0-${this.subnet.octet}`;
    this.hostsFile = join(this.stateDir, 'hosts');
    const defaults = options.replaceDefaultImages === true ? [] : defaultImageRules(REPO, findNode(REPO));
    this.images = [...(options.images ?? []), ...defaults];
    this.http = new HttpKubeClient(kubeConfig);
    const server = new URL(kubeConfig.getCurrentCluster()?.server ?? 'https://127.0.0.1:6443');
    this.apiServer = { host: server.hostname.replace(/^\[|\]$/g, ''), port: Number(server.port === '' ? 443 : server.port) };
    this.node = nodeResources(this.stateDir);
    this.logger = pino({ level: 'warn', base: null }, { write: (s: string) => this.log(`[node-agent] informer: ${s.trim()}`) });
  }

  static async start(options: NodeAgentOptions): Promise<NodeAgent> {
    const kc = new KubeConfig();
    kc.loadFromFile(options.kubeconfig);
    const agent = new NodeAgent(options, kc);
    try {
      await agent.run();
    } catch (error) {
      await agent.stop();
      throw error;
    }
    return agent;
  }

  private say(line: string): void {
    this.log(`[node-agent ${this.nodeName}] ${line}`);
  }

  // -------------------------------------------------------------------------------------------------------
  // Startup

  private async run(): Promise<void> {
    guardStateDir(this.stateDir);
    writeFileSync(this.hostsFile, renderHostsFile({ pods: [], services: [] }));
    const tls = selfSignedCertificate(this.stateDir, this.nodeName);
    const kubelet = await startKubeletServer({ container: (ns, pod, c) => this.findContainer(ns, pod, c) }, tls, (l) => this.say(l));
    this.kubeletServer = kubelet.server;
    this.kubeletPort = kubelet.port;
    await this.registerNode();
    await this.renewLease();
    this.heartbeat = setInterval(() => { void this.renewLease().catch((e: unknown) => this.say(`lease renewal failed: ${errorText(e)}`)); }, this.options.leaseRenewMs ?? 10_000);
    this.statusTimer = setInterval(() => { void this.updateNodeStatus().catch((e: unknown) => this.say(`node status update failed: ${errorText(e)}`)); }, this.options.nodeStatusMs ?? 60_000);

    const informer = <T extends Pod | Service | ConfigMap | Secret | PersistentVolumeClaim>(resource: ResourceType): Informer<T> =>
      new Informer<T>({ resource, listerWatcher: kubeListerWatcher<T>(this.http, resource), logger: this.logger });
    this.informers = {
      pods: informer<Pod>(Resources.Pod),
      services: informer<Service>(Resources.Service),
      configMaps: informer<ConfigMap>(Resources.ConfigMap),
      secrets: informer<Secret>(Resources.Secret),
      pvcs: informer<PersistentVolumeClaim>(Resources.PersistentVolumeClaim),
    };
    const inf = this.informers;
    inf.services.addHandler({ onAdd: () => this.hostsSoon(), onUpdate: () => this.hostsSoon(), onDelete: () => this.hostsSoon() });
    const sourceChanged = (obj: ConfigMap | Secret): void => {
      for (const w of this.workers.values()) if (w.current.metadata.namespace === obj.metadata.namespace) w.refreshVolumesSoon();
    };
    inf.configMaps.addHandler({ onAdd: sourceChanged, onUpdate: (_o, n) => sourceChanged(n) });
    inf.secrets.addHandler({ onAdd: sourceChanged, onUpdate: (_o, n) => sourceChanged(n) });
    if (this.options.provisionVolumes !== false) {
      inf.pvcs.addHandler({ onAdd: (p) => this.onPvc(p), onUpdate: (_o, p) => this.onPvc(p), onDelete: (p) => { void this.onPvcDeleted(p); } });
    }
    for (const i of [inf.services, inf.configMaps, inf.secrets, inf.pvcs]) i.start();
    await Promise.all([inf.services, inf.configMaps, inf.secrets, inf.pvcs].map((i) => i.waitForSync()));
    inf.pods.addHandler({ onAdd: (p) => this.onPod(p), onUpdate: (_o, p) => this.onPod(p), onDelete: (p) => this.onPodDeleted(p) });
    inf.pods.start();
    await inf.pods.waitForSync();
    this.say(`ready: pods on ${this.podSubnet}0/24, state ${this.stateDir}, hosts file ${this.hostsFile}, kubelet API https://${HOST_IP}:${this.kubeletPort}`);
  }

  private nodeStatus(): Record<string, unknown> {
    const now = rfc3339(Date.now());
    const capacity = {
      cpu: String(this.node.cpu),
      memory: `${Math.floor(this.node.memory / 1024)}Ki`,
      'ephemeral-storage': `${Math.floor(this.node.ephemeralStorage / 1024)}Ki`,
      pods: '250',
    };
    const condition = (type: string, status: string, reason: string, message: string) => ({ type, status, reason, message, lastHeartbeatTime: now, lastTransitionTime: now });
    return {
      capacity,
      allocatable: capacity,
      conditions: [
        condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'the node agent does not measure memory pressure'),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'the node agent does not measure disk pressure'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'the node agent does not measure PID pressure'),
        condition('Ready', 'True', 'KubeletReady', 'millrace node agent is posting ready status'),
      ],
      addresses: [{ type: 'InternalIP', address: HOST_IP }],
      daemonEndpoints: { kubeletEndpoint: { Port: this.kubeletPort } },
      nodeInfo: {
        machineID: '', systemUUID: '', bootID: '', kernelVersion: release(), osImage: 'millrace node agent (local processes)',
        containerRuntimeVersion: 'node-agent://0.1.0', kubeletVersion: this.kubeletVersion, kubeProxyVersion: '', operatingSystem: 'linux', architecture: process.arch === 'x64' ? 'amd64' : process.arch,
      },
    };
  }

  private kubeletVersion = 'v0.0.0';

  private async registerNode(): Promise<void> {
    try {
      const v = await this.http.request<{ gitVersion?: string }>({ method: 'GET', path: '/version' });
      this.kubeletVersion = v.gitVersion ?? this.kubeletVersion;
    } catch {
      // keep the placeholder
    }
    const labels: Record<string, string> = {
      'kubernetes.io/hostname': this.nodeName,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': process.arch === 'x64' ? 'amd64' : process.arch,
      [AGENT_LABEL]: 'true',
      ...(this.options.zone === undefined ? {} : { [ZONE_LABEL]: this.options.zone }),
      ...(this.options.labels ?? {}),
    };
    const body = { apiVersion: 'v1', kind: 'Node', metadata: { name: this.nodeName, labels }, spec: {}, status: this.nodeStatus() };
    let node: { metadata: { uid?: string } };
    try {
      node = await this.http.request({ method: 'POST', path: '/api/v1/nodes', body });
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
      node = await this.http.request({ method: 'PATCH', path: `/api/v1/nodes/${this.nodeName}`, body: { metadata: { labels } }, contentType: 'application/strategic-merge-patch+json' });
    }
    this.nodeUid = node.metadata.uid ?? '';
    await this.updateNodeStatus();
    this.say(`registered Node ${this.nodeName} (${this.options.zone === undefined ? 'no zone' : `zone ${this.options.zone}`})`);
  }

  private async updateNodeStatus(): Promise<void> {
    await this.http.request({ method: 'PATCH', path: `/api/v1/nodes/${this.nodeName}/status`, body: { status: this.nodeStatus() }, contentType: 'application/strategic-merge-patch+json' });
  }

  private async renewLease(): Promise<void> {
    const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${this.nodeName}`;
    const renewTime = `${new Date().toISOString().slice(0, 23)}000Z`;
    try {
      await this.http.request({ method: 'PATCH', path, body: { spec: { holderIdentity: this.nodeName, leaseDurationSeconds: 40, renewTime } }, contentType: 'application/merge-patch+json' });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await this.http.request({
        method: 'POST',
        path: '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases',
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.nodeName, namespace: 'kube-node-lease', ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: this.nodeName, uid: this.nodeUid }] },
          spec: { holderIdentity: this.nodeName, leaseDurationSeconds: 40, renewTime },
        },
      });
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Pods

  private onPod(pod: Pod): void {
    this.hostsSoon();
    if (this.stopped) return;
    const uid = pod.metadata.uid ?? '';
    if (pod.spec.nodeName === undefined || pod.spec.nodeName === '') {
      if (this.options.schedule !== false && pod.metadata.deletionTimestamp === undefined && !POD_TERMINAL_PHASES.has(pod.status?.phase ?? '')) void this.bind(pod);
      return;
    }
    if (pod.spec.nodeName !== this.nodeName) return;
    const worker = this.workers.get(uid);
    if (worker !== undefined) {
      worker.update(pod);
      return;
    }
    if (POD_TERMINAL_PHASES.has(pod.status?.phase ?? '') || pod.metadata.deletionTimestamp !== undefined) {
      // Not running here (finished before, or the agent restarted): a deleted one only needs its object removed.
      if (pod.metadata.deletionTimestamp !== undefined) void this.deletePodObject(pod).catch((e: unknown) => this.say(`deleting pod ${nsName(pod.metadata)} failed: ${errorText(e)}`));
      return;
    }
    const w = new PodWorker(pod, this.podHost());
    this.workers.set(uid, w);
    this.say(`pod ${nsName(pod.metadata)}: starting (uid ${uid})`);
    w.start();
  }

  private onPodDeleted(pod: Pod): void {
    this.hostsSoon();
    const uid = pod.metadata.uid ?? '';
    const w = this.workers.get(uid);
    if (w === undefined) return;
    // Gone from the API (force deletion, or our own delete): stop what still runs, without writing anything.
    void w.terminate(2_000, false).then(() => {
      if (this.workers.get(uid) === w) this.workers.delete(uid);
      this.lastHosts.delete(w.hostsPath);
    });
  }

  private async bind(pod: Pod): Promise<void> {
    const uid = pod.metadata.uid ?? '';
    if (this.binding.has(uid)) return;
    this.binding.add(uid);
    try {
      await this.http.request({
        method: 'POST',
        path: `/api/v1/namespaces/${pod.metadata.namespace ?? ''}/pods/${pod.metadata.name ?? ''}/binding`,
        body: { apiVersion: 'v1', kind: 'Binding', metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace, uid }, target: { apiVersion: 'v1', kind: 'Node', name: this.nodeName } },
      });
      this.say(`pod ${nsName(pod.metadata)}: bound to ${this.nodeName}`);
    } catch (error) {
      // 409: another agent bound it first, or it was bound meanwhile.
      if (!isConflict(error) && !isNotFound(error) && !isAlreadyExists(error)) this.say(`binding pod ${nsName(pod.metadata)} failed: ${errorText(error)}`);
    } finally {
      this.binding.delete(uid);
    }
  }

  private async deletePodObject(pod: Pod): Promise<void> {
    try {
      await this.http.request({
        method: 'DELETE',
        path: `/api/v1/namespaces/${pod.metadata.namespace ?? ''}/pods/${pod.metadata.name ?? ''}`,
        body: { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } },
      });
    } catch (error) {
      if (!isNotFound(error) && !isConflict(error)) throw error;
    }
  }

  private findContainer(ns: string, pod: string, container: string) {
    for (const w of this.workers.values()) {
      if (w.current.metadata.namespace === ns && w.current.metadata.name === pod) {
        const r = w.runner(container);
        if (r !== undefined) return r;
      }
    }
    return undefined;
  }

  private podHost(): PodHost {
    const inf = this.informers;
    if (inf === undefined) throw new Error('not started');
    const volumes: VolumeSources = {
      configMap: async (ns, name) => {
        const cm = inf.configMaps.getByName(ns, name) ?? await this.getOrNull<ConfigMap>(`/api/v1/namespaces/${ns}/configmaps/${name}`);
        return cm === null || cm === undefined ? undefined : { data: cm.data ?? {}, binaryData: cm.binaryData ?? {} } satisfies ConfigMapData;
      },
      secret: async (ns, name) => {
        const s = inf.secrets.getByName(ns, name) ?? await this.getOrNull<Secret>(`/api/v1/namespaces/${ns}/secrets/${name}`);
        return s === null || s === undefined ? undefined : new Map(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
      },
      token: (pod, audience, expirationSeconds) => this.requestToken(pod, audience, expirationSeconds),
    };
    return {
      nodeName: this.nodeName,
      hostIp: HOST_IP,
      stateDir: this.stateDir,
      images: this.images,
      node: this.node,
      apiServer: this.apiServer,
      bindShim: BIND_SHIM,
      unshare: 'unshare',
      bash: '/bin/bash',
      backoffBaseMs: this.options.backoffBaseMs ?? 10_000,
      backoffMaxMs: this.options.backoffMaxMs ?? 300_000,
      volumeRefreshMs: this.options.volumeRefreshMs ?? 10_000,
      volumes,
      services: (ns) => inf.services.list({ namespace: ns }),
      pvcDir: async (ns, claim) => {
        const pvc = inf.pvcs.getByName(ns, claim) ?? await this.getOrNull<PersistentVolumeClaim>(`/api/v1/namespaces/${ns}/persistentvolumeclaims/${claim}`);
        if (pvc === null || pvc === undefined) throw new Error(`persistentvolumeclaim "${claim}" not found`);
        if (pvc.metadata.deletionTimestamp !== undefined) throw new Error(`persistentvolumeclaim "${claim}" is being deleted`);
        return this.pvcDataDir(ns, claim, pvc.metadata.uid ?? '');
      },
      allocateIp: (pod) => this.ips.allocate(pod.metadata.uid ?? '', pod.status?.podIP),
      releaseIp: (uid) => this.ips.release(uid),
      updateHosts: () => this.writeHosts(),
      writeStatus: (pod, status) => this.writePodStatus(pod, status),
      deletePod: (pod) => this.deletePodObject(pod),
      event: (pod, type, reason, message) => { void this.event(pod, type, reason, message); },
      log: (line) => this.say(line),
    };
  }

  private async getOrNull<T>(path: string): Promise<T | null> {
    try {
      return await this.http.request<T>({ method: 'GET', path });
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  private async writePodStatus(pod: Pod, status: PodStatus): Promise<void> {
    await this.http.request({
      method: 'PATCH',
      path: `/api/v1/namespaces/${pod.metadata.namespace ?? ''}/pods/${pod.metadata.name ?? ''}/status`,
      body: { metadata: { uid: pod.metadata.uid }, status },
      contentType: 'application/strategic-merge-patch+json',
    });
  }

  private async requestToken(pod: Pod, audience: string | undefined, expirationSeconds: number): Promise<ServiceAccountToken> {
    const sa = pod.spec.serviceAccountName ?? 'default';
    const ns = pod.metadata.namespace ?? 'default';
    const r = await this.http.request<{ status?: { token?: string; expirationTimestamp?: string } }>({
      method: 'POST',
      path: `/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`,
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: {
          audiences: audience === undefined || audience === '' ? [] : [audience],
          expirationSeconds,
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid },
        },
      },
    });
    const token = r.status?.token;
    if (token === undefined) throw new Error(`TokenRequest for ${ns}/${sa} returned no token`);
    const expiresAt = Date.parse(r.status?.expirationTimestamp ?? '') || Date.now() + expirationSeconds * 1000;
    return { token, expiresAt };
  }

  private async event(pod: Pod, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    if (this.stopped) return;
    const now = rfc3339(Date.now());
    try {
      await this.http.request({
        method: 'POST',
        path: `/api/v1/namespaces/${pod.metadata.namespace ?? 'default'}/events`,
        body: {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { generateName: `${pod.metadata.name ?? 'pod'}.`, namespace: pod.metadata.namespace },
          involvedObject: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, namespace: pod.metadata.namespace, uid: pod.metadata.uid },
          reason,
          message: message.slice(0, 1000),
          type,
          source: { component: 'kubelet', host: this.nodeName },
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
          reportingComponent: 'kubelet',
          reportingInstance: this.nodeName,
        },
      });
    } catch {
      // Events are best effort.
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // PVCs: the provisioner stand-in

  /** `<state>/pvcs/<ns>/<claim>`; a PVC re-created under the same name (new uid) starts empty, as a new volume would. */
  private pvcDataDir(ns: string, claim: string, uid: string): string {
    const dir = join(this.stateDir, 'pvcs', ns, claim);
    const marker = `${dir}.uid`;
    mkdirSync(dirname(dir), { recursive: true });
    const recorded = existsSync(marker) ? readFileSync(marker, 'utf8').trim() : null;
    if (recorded !== uid) {
      if (recorded !== null) {
        this.say(`PVC ${ns}/${claim} was re-created (uid ${recorded} -> ${uid}): its old data at ${dir} is removed`);
        rmSync(dir, { recursive: true, force: true });
      }
      writeFileSync(marker, uid);
    }
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  private onPvc(pvc: PersistentVolumeClaim): void {
    if (this.stopped || pvc.metadata.deletionTimestamp !== undefined) return;
    if ((pvc.spec?.volumeName ?? '') !== '' || pvc.status?.phase === 'Bound') return;
    const uid = pvc.metadata.uid ?? '';
    if (this.provisioning.has(uid)) return;
    this.provisioning.add(uid);
    void this.provision(pvc).catch((e: unknown) => {
      this.provisioning.delete(uid);
      this.say(`provisioning a volume for PVC ${nsName(pvc.metadata)} failed: ${errorText(e)}`);
    });
  }

  private async provision(pvc: PersistentVolumeClaim): Promise<void> {
    const ns = pvc.metadata.namespace ?? '';
    const name = pvc.metadata.name ?? '';
    const uid = pvc.metadata.uid ?? '';
    const dir = this.pvcDataDir(ns, name, uid);
    const pv = {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: `pvc-${uid}`, labels: { [AGENT_LABEL]: this.nodeName }, annotations: { 'pv.kubernetes.io/provisioned-by': PROVISIONER } },
      spec: {
        capacity: { storage: pvc.spec?.resources?.requests?.['storage'] ?? '1Gi' },
        accessModes: pvc.spec?.accessModes ?? ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: pvc.spec?.storageClassName ?? '',
        volumeMode: pvc.spec?.volumeMode ?? 'Filesystem',
        hostPath: { path: dir, type: 'DirectoryOrCreate' },
        claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: ns, name, uid },
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [this.nodeName] }] }] } },
      },
    };
    try {
      await this.http.request({ method: 'POST', path: '/api/v1/persistentvolumes', body: pv });
      this.say(`PVC ${ns}/${name}: PersistentVolume pvc-${uid} -> ${dir}`);
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
  }

  private async onPvcDeleted(pvc: PersistentVolumeClaim): Promise<void> {
    const uid = pvc.metadata.uid ?? '';
    this.provisioning.delete(uid);
    if (this.stopped) return;
    try {
      const pv = await this.getOrNull<{ metadata: { labels?: Record<string, string> } }>(`/api/v1/persistentvolumes/pvc-${uid}`);
      if (pv !== null && pv.metadata.labels?.[AGENT_LABEL] !== undefined) {
        await this.http.request({ method: 'DELETE', path: `/api/v1/persistentvolumes/pvc-${uid}` }).catch((e: unknown) => { if (!isNotFound(e)) throw e; });
      }
    } catch (error) {
      this.say(`deleting PersistentVolume pvc-${uid} failed: ${errorText(error)}`);
    }
    const dir = join(this.stateDir, 'pvcs', pvc.metadata.namespace ?? '', pvc.metadata.name ?? '');
    const marker = `${dir}.uid`;
    if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === uid) {
      rmSync(dir, { recursive: true, force: true });
      rmSync(marker, { force: true });
      this.say(`PVC ${nsName(pvc.metadata)} deleted: its data at ${dir} is removed`);
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Cluster DNS

  private hostsSoon(): void {
    if (this.hostsTimer !== undefined || this.stopped) return;
    this.hostsTimer = setTimeout(() => {
      this.hostsTimer = undefined;
      this.writeHosts();
    }, 20);
  }

  private writeHosts(): void {
    const inf = this.informers;
    if (inf === undefined) return;
    const services = inf.services.list();
    for (const w of servicePortWarnings(services)) {
      if (this.warnedServices.has(w)) continue;
      this.warnedServices.add(w);
      this.say(`warning: ${w}`);
    }
    const input = { pods: inf.pods.list(), services, podIp: (p: Pod) => this.ips.get(p.metadata.uid ?? '') };
    const lines = clusterHostsLines(input);
    writeInPlace(this.hostsFile, renderHostsFile(input), this.lastHosts);
    for (const w of this.workers.values()) {
      if (w.ip === '' || w.isDone) continue;
      writeInPlace(w.hostsPath, renderPodHostsFile(w.current, w.ip, lines), this.lastHosts);
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Queries for tests

  /** The pod IP the agent gave a pod (while it runs here). */
  podIp(namespace: string, name: string): string | undefined {
    for (const w of this.workers.values()) if (w.current.metadata.namespace === namespace && w.current.metadata.name === name && w.ip !== '') return w.ip;
    return undefined;
  }

  /** The current log file of a container (while the pod is known here). */
  logPath(namespace: string, pod: string, container: string): string | undefined {
    return this.findContainer(namespace, pod, container)?.logPath();
  }

  /** PID of a container's main process, while it runs. */
  containerPid(namespace: string, pod: string, container: string): number | undefined {
    const r = this.findContainer(namespace, pod, container);
    return r?.isRunning === true ? r.pid : undefined;
  }

  /** Pods whose containers this agent still runs (or is about to). */
  runningPodCount(): number {
    return [...this.workers.values()].filter((w) => !w.isDone).length;
  }

  /** Where a PVC's data lives. */
  pvcPath(namespace: string, claim: string): string {
    return join(this.stateDir, 'pvcs', namespace, claim);
  }

  // -------------------------------------------------------------------------------------------------------
  // Shutdown

  /** Kills every pod's processes (SIGTERM, SIGKILL after min(grace, shutdownGraceMs)); API objects are left as they are. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    if (this.statusTimer !== undefined) clearInterval(this.statusTimer);
    if (this.hostsTimer !== undefined) clearTimeout(this.hostsTimer);
    const inf = this.informers;
    if (inf !== undefined) await Promise.all(Object.values(inf).map((i: Informer<Pod>) => i.stop()));
    const grace = this.options.shutdownGraceMs ?? 10_000;
    await Promise.all([...this.workers.values()].map((w) => {
      const podGrace = (w.current.spec.terminationGracePeriodSeconds ?? 30) * 1000;
      return w.terminate(Math.min(podGrace, grace), false);
    }));
    this.workers.clear();
    await new Promise<void>((r) => { if (this.kubeletServer === undefined) r(); else this.kubeletServer.close(() => r()); this.kubeletServer?.closeAllConnections(); });
    this.http.close();
    this.subnet.release();
    releaseStateDir(this.stateDir);
    this.say('stopped');
  }
}

// ---------------------------------------------------------------------------------------------------------
// CLI

function parseArgs(argv: readonly string[]): NodeAgentOptions {
  let kubeconfig = process.env['KUBECONFIG'];
  let stateDir: string | undefined;
  const labels: Record<string, string> = {};
  const o: { -readonly [K in keyof NodeAgentOptions]?: NodeAgentOptions[K] } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--kubeconfig': kubeconfig = value(); break;
      case '--state-dir': stateDir = value(); break;
      case '--node-name': o.nodeName = value(); break;
      case '--zone': o.zone = value(); break;
      case '--subnet': o.subnet = Number(value()); break;
      case '--label': { const [k, v] = value().split('=', 2); labels[k ?? ''] = v ?? ''; break; }
      case '--backoff-base-ms': o.backoffBaseMs = Number(value()); break;
      default: throw new Error(`unknown flag ${a}`);
    }
  }
  if (kubeconfig === undefined || kubeconfig === '') throw new Error('--kubeconfig (or KUBECONFIG) is required');
  if (stateDir === undefined) throw new Error('--state-dir is required');
  return { ...o, kubeconfig, stateDir, labels };
}

async function main(argv: readonly string[]): Promise<number> {
  let options: NodeAgentOptions;
  try {
    options = parseArgs(argv);
  } catch (error) {
    process.stderr.write(`${errorText(error)}\nusage: node test/k8s/node-agent/agent.ts --kubeconfig <file> --state-dir <dir> [--node-name n] [--zone z] [--subnet n] [--label k=v]... [--backoff-base-ms n]\n`);
    return 2;
  }
  const agent = await NodeAgent.start(options);
  process.stdout.write(`${JSON.stringify({ node: agent.nodeName, hostsFile: agent.hostsFile, podSubnet: `${agent.podSubnet}0/24`, host: hostname() })}\n`);
  await new Promise<void>((r) => {
    process.once('SIGINT', () => r());
    process.once('SIGTERM', () => r());
  });
  await agent.stop();
  await sleep(10);
  return 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (error: unknown) => {
    process.stderr.write(`node agent: ${errorText(error)}\n`);
    process.exitCode = 1;
  });
}

/** Exposed for tests: whether this machine can run the agent (unshare and mount namespaces as root). */
export function canRunAgent(): { ok: boolean; reason: string } {
  try {
    execFileSync('unshare', ['--mount', '--uts', '--propagation', 'private', 'true'], { stdio: 'pipe' });
    return { ok: true, reason: '' };
  } catch (error) {
    return { ok: false, reason: `unshare --mount --uts failed (the agent needs root and mount namespaces): ${errorText(error)}` };
  }
}

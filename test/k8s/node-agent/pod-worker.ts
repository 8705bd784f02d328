/**
 * One pod on the agent's node, from binding to deletion (the kubelet's pod worker, much simplified):
 *
 *   1. sandbox: a 127.x.y.z address (the pod IP), the pod's directories, its volumes (waits, with a message,
 *      until its ConfigMaps, Secrets and PVCs exist), the hosts file updated with its own names;
 *   2. init containers one at a time, each to a successful exit (sidecars with restartPolicy Always keep running);
 *   3. the containers (container.ts), each restarted by the pod's restartPolicy;
 *   4. status through pods/status whenever it changes: phase, conditions (PodScheduled,
 *      PodReadyToStartContainers, Initialized, ContainersReady, Ready), podIP(s), hostIP(s), startTime,
 *      container statuses;
 *   5. deletion (deletionTimestamp): every container gets SIGTERM, SIGKILL after the pod's grace period, the final
 *      status (Succeeded when every container exited 0, else Failed) is written, then the pod object is deleted
 *      with grace period 0 (uid precondition), and the pod's directories except logs and PVC data are removed.
 *
 * Volumes that come from the API (ConfigMaps, Secrets, projected tokens) are refreshed every few seconds and
 * when the agent sees their sources change.
 */
import { chmodSync, existsSync, mkdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ContainerRunner, type Launch, type RestartPolicy } from './container.ts';
import { containerEnv, expandVars, type EnvSources, type NodeResources } from './env.ts';
import { containerArgv, findImageRule, lookPath, type ImageRule } from './images.ts';
import type { Container, ContainerStatus, Pod, PodCondition, PodStatus, Service } from './kube.ts';
import { errorText, nsName, rfc3339 } from './kube.ts';
import { planNamespace, type BindMount } from './mounts.ts';
import { volumeFiles, VolumeError, writeAtomic, type ServiceAccountToken, type VolumeSources } from './volumes.ts';

export interface PodHost {
  readonly nodeName: string;
  readonly hostIp: string;
  readonly stateDir: string;
  readonly images: readonly ImageRule[];
  readonly node: NodeResources;
  readonly apiServer: { readonly host: string; readonly port: number };
  readonly bindShim: string;
  readonly unshare: string;
  readonly bash: string;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  readonly volumeRefreshMs: number;
  readonly volumes: VolumeSources;
  services(namespace: string): readonly Service[];
  /** The data directory of a PVC (it must exist and not be deleted). */
  pvcDir(namespace: string, claim: string): Promise<string>;
  allocateIp(pod: Pod): string;
  releaseIp(uid: string): void;
  /** Rewrites the hosts files now (the cluster's and every pod's, the pod's own names included). */
  updateHosts(): void;
  writeStatus(pod: Pod, status: PodStatus): Promise<void>;
  /** Deletes the pod object with grace period 0. */
  deletePod(pod: Pod): Promise<void>;
  event(pod: Pod, type: 'Normal' | 'Warning', reason: string, message: string): void;
  log(line: string): void;
}

const SANDBOX_RETRY_MS = 1_000;
const STATUS_DEBOUNCE_MS = 50;

type Phase = 'sandbox' | 'init' | 'running' | 'terminating' | 'done';

export class PodWorker {
  readonly uid: string;
  private pod: Pod;
  private readonly host: PodHost;
  private phase: Phase = 'sandbox';
  private podIp = '';
  private readonly podDir: string;
  private readonly volumePaths = new Map<string, string>();
  private readonly tokens = new Map<string, ServiceAccountToken & { issuedAt: number }>();
  private readonly initRunners: ContainerRunner[] = [];
  private readonly runners: ContainerRunner[] = [];
  private sandboxMessage: string | undefined;
  private sandboxReady = false;
  private initialized = false;
  private readonly transitions = new Map<string, { status: string; time: string }>();
  private readonly startTime: string;
  private statusTimer: NodeJS.Timeout | undefined;
  private statusWrite: Promise<void> = Promise.resolve();
  private lastStatusJson = '';
  private refreshTimer: NodeJS.Timeout | undefined;
  private terminating: Promise<void> | undefined;
  private graceMs = Number.POSITIVE_INFINITY;
  private abandoned = false;
  private finalPhase: 'Succeeded' | 'Failed' | undefined;
  private main: Promise<void> | undefined;

  constructor(pod: Pod, host: PodHost) {
    this.pod = pod;
    this.host = host;
    this.uid = pod.metadata.uid ?? '';
    this.podDir = join(host.stateDir, 'pods', `${pod.metadata.namespace ?? ''}_${pod.metadata.name ?? ''}_${this.uid}`);
    this.startTime = pod.status?.startTime ?? rfc3339(Date.now());
  }

  get key(): string {
    return nsName(this.pod.metadata);
  }

  get ip(): string {
    return this.podIp;
  }

  /** The pod's /etc/hosts (kept current by the agent while the pod has an IP). */
  get hostsPath(): string {
    return join(this.podDir, 'hosts');
  }

  get current(): Pod {
    return this.pod;
  }

  get isDone(): boolean {
    return this.phase === 'done';
  }

  /** The runner of a container (for logs), init containers included. */
  runner(name: string): ContainerRunner | undefined {
    return [...this.runners, ...this.initRunners].find((r) => r.name === name);
  }

  containerNames(): string[] {
    return [...this.initRunners, ...this.runners].map((r) => r.name);
  }

  start(): void {
    this.main ??= this.run().catch((error: unknown) => this.host.log(`pod ${this.key}: worker failed: ${errorText(error)}`));
  }

  /** A newer version of the pod object. */
  update(pod: Pod): void {
    this.pod = pod;
    if (pod.metadata.deletionTimestamp !== undefined) {
      const grace = (pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30) * 1000;
      void this.terminate(grace, true);
    }
  }

  /** Volumes whose sources may have changed. */
  refreshVolumesSoon(): void {
    if (this.phase === 'init' || this.phase === 'running') void this.refreshVolumes();
  }

  /**
   * Stops every container (SIGTERM, SIGKILL after graceMs). With deleteObject: final status, then the pod object is
   * deleted. Called again with a shorter grace period, it shortens the wait.
   */
  terminate(graceMs: number, deleteObject: boolean): Promise<void> {
    if (graceMs < this.graceMs) {
      this.graceMs = graceMs;
      if (this.terminating !== undefined) for (const r of [...this.initRunners, ...this.runners]) void r.stop(graceMs);
    }
    if (!deleteObject) this.abandoned = true;
    this.terminating ??= this.doTerminate();
    return this.terminating;
  }

  private async doTerminate(): Promise<void> {
    this.phase = 'terminating';
    if (this.refreshTimer !== undefined) clearInterval(this.refreshTimer);
    const all = [...this.initRunners, ...this.runners];
    if (all.length > 0) this.host.log(`pod ${this.key}: stopping ${all.length} container(s) (grace ${Math.round(this.graceMs / 1000)} s)`);
    await Promise.all(all.map((r) => r.stop(this.graceMs)));
    await this.main;
    const everyOk = this.runners.length > 0 && this.runners.every((r) => r.status().state?.terminated?.exitCode === 0);
    this.finalPhase = everyOk ? 'Succeeded' : 'Failed';
    if (!this.abandoned) {
      try {
        this.scheduleStatus(0);
        await this.flushStatus();
        await this.host.deletePod(this.pod);
        this.host.log(`pod ${this.key}: deleted`);
      } catch (error) {
        this.host.log(`pod ${this.key}: final status or delete failed: ${errorText(error)}`);
      }
    }
    this.cleanup();
    this.phase = 'done';
  }

  private cleanup(): void {
    if (this.statusTimer !== undefined) clearTimeout(this.statusTimer);
    if (this.refreshTimer !== undefined) clearInterval(this.refreshTimer);
    if (this.podIp !== '') this.host.releaseIp(this.uid);
    // Logs stay (for diagnostics); volumes and stages go. PVC data lives elsewhere.
    rmSync(join(this.podDir, 'volumes'), { recursive: true, force: true });
    this.host.updateHosts();
  }

  private async run(): Promise<void> {
    this.podIp = this.host.allocateIp(this.pod);
    mkdirSync(join(this.podDir, 'volumes'), { recursive: true });
    this.host.updateHosts();
    this.scheduleStatus();
    // 1. Sandbox: volumes.
    while (this.phase === 'sandbox') {
      try {
        await this.setUpVolumes();
        this.sandboxReady = true;
        this.sandboxMessage = undefined;
        break;
      } catch (error) {
        const message = errorText(error);
        if (message !== this.sandboxMessage) {
          this.host.log(`pod ${this.key}: waiting: ${message}`);
          this.host.event(this.pod, 'Warning', 'FailedMount', message);
        }
        this.sandboxMessage = message;
        this.scheduleStatus();
        await new Promise((r) => setTimeout(r, SANDBOX_RETRY_MS));
      }
    }
    if (this.phase !== 'sandbox') return;
    this.host.updateHosts();
    this.refreshTimer = setInterval(() => { void this.refreshVolumes(); }, this.host.volumeRefreshMs);
    this.phase = 'init';
    this.scheduleStatus();

    // 2. Init containers.
    const podPolicy: RestartPolicy = this.pod.spec.restartPolicy ?? 'Always';
    for (const c of this.pod.spec.initContainers ?? []) {
      if (this.phase !== 'init') return;
      const sidecar = c.restartPolicy === 'Always';
      const runner = this.makeRunner(c, sidecar ? 'Always' : podPolicy === 'Never' ? 'Never' : 'OnFailure', true);
      this.initRunners.push(runner);
      runner.start();
      if (sidecar) continue;
      while (!runner.isFinished && this.phase === 'init') await new Promise((r) => setTimeout(r, 100));
      if (!runner.succeeded) {
        if (this.phase === 'init') {
          this.host.log(`pod ${this.key}: init container ${c.name} failed; the pod fails`);
          this.finalPhase = 'Failed';
          this.phase = 'done';
          this.scheduleStatus();
          this.releaseIfFinished();
        }
        return;
      }
    }
    if (this.phase !== 'init') return;
    this.initialized = true;
    this.phase = 'running';

    // 3. Containers.
    for (const c of this.pod.spec.containers) {
      const runner = this.makeRunner(c, podPolicy, false);
      this.runners.push(runner);
      runner.start();
    }
    this.scheduleStatus();
  }

  private makeRunner(c: Container, policy: RestartPolicy, init: boolean): ContainerRunner {
    const previous = [...(this.pod.status?.containerStatuses ?? []), ...(this.pod.status?.initContainerStatuses ?? [])].find((s) => s.name === c.name);
    return new ContainerRunner({
      container: c,
      containerDir: join(this.podDir, init ? 'init-containers' : 'containers', c.name),
      podIp: this.podIp,
      restartPolicy: policy,
      graceSeconds: this.pod.spec.terminationGracePeriodSeconds ?? 30,
      backoffBaseMs: this.host.backoffBaseMs,
      backoffMaxMs: this.host.backoffMaxMs,
      backoffResetMs: 10 * 60_000,
      unshare: this.host.unshare,
      bash: this.host.bash,
      ...(previous === undefined || previous.state?.running === undefined && previous.state?.terminated === undefined ? {} : { initialRestartCount: previous.restartCount + 1 }),
      hooks: {
        prepare: (container, restartCount) => this.prepare(container, restartCount, init),
        changed: () => { this.scheduleStatus(); this.releaseIfFinished(); },
        log: (line) => this.host.log(`pod ${this.key}: ${line}`),
        event: (type, reason, message) => this.host.event(this.pod, type, reason, message),
      },
    });
  }

  /** Restart policy Never/OnFailure: once every container is finished, the pod is Succeeded or Failed. */
  private releaseIfFinished(): void {
    if (this.phase !== 'running' || this.runners.length === 0 || !this.runners.every((r) => r.isFinished)) return;
    this.finalPhase = this.runners.every((r) => r.succeeded) ? 'Succeeded' : 'Failed';
    this.phase = 'done';
    if (this.refreshTimer !== undefined) clearInterval(this.refreshTimer);
    for (const r of this.initRunners) void r.stop((this.pod.spec.terminationGracePeriodSeconds ?? 30) * 1000);
    this.host.releaseIp(this.uid);
    this.host.updateHosts();
    this.host.log(`pod ${this.key}: ${this.finalPhase}`);
    this.scheduleStatus();
  }

  // -------------------------------------------------------------------------------------------------------
  // Volumes

  private volumeContext() {
    return { pod: this.pod, podIp: this.podIp, hostIp: this.host.hostIp, node: this.host.node, sources: this.host.volumes, tokens: this.tokens, now: () => Date.now() };
  }

  private async setUpVolumes(): Promise<void> {
    const ns = this.pod.metadata.namespace ?? 'default';
    for (const volume of this.pod.spec.volumes ?? []) {
      const dir = join(this.podDir, 'volumes', volume.name);
      if (volume.persistentVolumeClaim !== undefined) {
        this.volumePaths.set(volume.name, await this.host.pvcDir(ns, volume.persistentVolumeClaim.claimName));
      } else if (volume.emptyDir !== undefined) {
        mkdirSync(dir, { recursive: true });
        chmodSync(dir, 0o777); // as the kubelet makes them: writable by any runAsUser
        this.volumePaths.set(volume.name, dir);
      } else if (volume.hostPath !== undefined) {
        const type = volume.hostPath.type ?? '';
        if (type === 'DirectoryOrCreate') mkdirSync(volume.hostPath.path, { recursive: true });
        else if (!existsSync(volume.hostPath.path) && type !== '') throw new VolumeError(`hostPath ${volume.hostPath.path} does not exist`);
        this.volumePaths.set(volume.name, volume.hostPath.path);
      } else {
        const files = await volumeFiles(volume, this.volumeContext());
        if (files === null) throw new VolumeError(`volume "${volume.name}": unsupported volume type (${Object.keys(volume).filter((k) => k !== 'name').join(', ')})`);
        writeAtomic(dir, files);
        this.volumePaths.set(volume.name, dir);
      }
    }
  }

  private refreshing = false;

  private async refreshVolumes(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      for (const volume of this.pod.spec.volumes ?? []) {
        if (volume.configMap === undefined && volume.secret === undefined && volume.projected === undefined && volume.downwardAPI === undefined) continue;
        try {
          const files = await volumeFiles(volume, this.volumeContext());
          if (files !== null && writeAtomic(join(this.podDir, 'volumes', volume.name), files)) this.host.log(`pod ${this.key}: volume ${volume.name} updated`);
        } catch (error) {
          this.host.log(`pod ${this.key}: refreshing volume ${volume.name} failed: ${errorText(error)}`);
        }
      }
    } finally {
      this.refreshing = false;
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Container launch

  private envSources(): EnvSources {
    const ns = this.pod.metadata.namespace ?? 'default';
    return {
      configMap: async (name) => {
        const cm = await this.host.volumes.configMap(ns, name);
        return cm === undefined ? undefined : { ...cm.data, ...Object.fromEntries(Object.entries(cm.binaryData).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')])) };
      },
      secret: async (name) => {
        const s = await this.host.volumes.secret(ns, name);
        return s === undefined ? undefined : Object.fromEntries([...s].map(([k, v]) => [k, v.toString('utf8')]));
      },
      services: () => this.host.services(ns),
    };
  }

  private async prepare(container: Container, restartCount: number, init: boolean): Promise<Launch> {
    const image = container.image ?? '';
    const rule = findImageRule(this.host.images, image);
    if (rule === undefined) throw new Error(`ErrImagePull: the node agent has no local command for image "${image}" (known: ${this.host.images.map((r) => r.name).join(', ')})`);
    const podEnv = await containerEnv({
      pod: this.pod,
      container,
      podIp: this.podIp,
      hostIp: this.host.hostIp,
      apiServer: this.host.apiServer,
      node: this.host.node,
      sources: this.envSources(),
    });
    const hostname = (this.pod.spec.hostname ?? this.pod.metadata.name ?? 'pod').slice(0, 63);
    const containerDir = join(this.podDir, init ? 'init-containers' : 'containers', container.name);
    // HOME: an empty directory of the container, never the agent's own home (a ~/.kube/config there would
    // win over the in-cluster service account in client libraries).
    const env: Record<string, string> = { HOME: containerDir, ...(rule.env ?? {}), HOSTNAME: hostname, ...podEnv };
    if (rule.nodeProgram === true) {
      const shim = `${pathToFileURL(this.host.bindShim).href}?ip=${this.podIp}`;
      env['NODE_OPTIONS'] = `--import=${shim}${env['NODE_OPTIONS'] === undefined || env['NODE_OPTIONS'] === '' ? '' : ` ${env['NODE_OPTIONS']}`}`;
    }
    const workingDir = container.workingDir ?? rule.workingDir ?? containerDir;
    let argv = containerArgv(container, rule, env);
    argv[0] = lookPath(argv[0] ?? '', env['PATH'], workingDir);
    // runAsUser / runAsGroup / fsGroup / supplementalGroups (pod, overridden per container): setpriv before exec.
    // Other securityContext fields (readOnlyRootFilesystem, capabilities, seccomp) are not applied.
    const sc = { ...(this.pod.spec.securityContext ?? {}), ...(container.securityContext ?? {}) };
    if (sc.runAsUser !== undefined) {
      const groups = [...(sc.fsGroup === undefined ? [] : [sc.fsGroup]), ...(this.pod.spec.securityContext?.supplementalGroups ?? [])];
      argv = ['/usr/bin/setpriv', `--reuid=${sc.runAsUser}`, `--regid=${sc.runAsGroup ?? 0}`, groups.length === 0 ? '--clear-groups' : `--groups=${groups.join(',')}`, '--', ...argv];
    } else if (sc.runAsNonRoot === true) {
      throw new Error(`container has runAsNonRoot and the image (run by the node agent) would run as root: set runAsUser`);
    }

    const hostnameFile = join(this.podDir, 'hostname');
    writeFileSync(hostnameFile, `${hostname}\n`);
    const mounts: BindMount[] = [
      { source: this.hostsPath, target: '/etc/hosts', readOnly: true, file: true },
      { source: hostnameFile, target: '/etc/hostname', readOnly: true, file: true },
    ];
    for (const m of container.volumeMounts ?? []) {
      const base = this.volumePaths.get(m.name);
      if (base === undefined) throw new Error(`volumeMount ${m.name} of container ${container.name} names no volume of the pod`);
      const sub = m.subPathExpr !== undefined ? expandVars(m.subPathExpr, env) : (m.subPath ?? '');
      let source = sub === '' ? base : resolve(base, sub);
      if (sub !== '') {
        if (!existsSync(source)) mkdirSync(source, { recursive: true });
        source = realpathSync(source);
      }
      const file = existsSync(source) && !statSync(source).isDirectory();
      const pvc = (this.pod.spec.volumes ?? []).find((v) => v.name === m.name)?.persistentVolumeClaim;
      mounts.push({ source, target: m.mountPath, readOnly: m.readOnly === true || pvc?.readOnly === true, file });
    }
    const stageDir = join(containerDir, 'stage');
    mkdirSync(stageDir, { recursive: true });
    const imagePaths = [
      ...(rule.workingDir === undefined ? [] : [rule.workingDir]),
      ...(argv[0] !== undefined && argv[0].startsWith('/') ? [dirname(argv[0])] : []),
      ...(rule.nodeProgram === true ? [dirname(this.host.bindShim)] : []),
      ...(rule.entrypoint[0]?.startsWith('/') === true ? [dirname(rule.entrypoint[0])] : []),
      ...(rule.cmd[0]?.startsWith('/') === true ? [dirname(rule.cmd[0])] : []),
    ];
    const plan = planNamespace({ mounts, stageDir, stateDir: this.host.stateDir, hostname, workingDir, argv, imagePaths });
    for (const dir of plan.hostMkdirs) {
      if (!existsSync(dir)) {
        this.host.log(`pod ${this.key}: container ${container.name}: mount point ${dir} created on the host (its nearest existing parent is / or holds the agent's state dir, so it cannot be overlaid)`);
        mkdirSync(dir, { recursive: true });
      }
    }
    if (restartCount === 0) this.host.event(this.pod, 'Normal', 'Created', `Created container ${container.name}`);
    return { script: plan.script, env, argv };
  }

  // -------------------------------------------------------------------------------------------------------
  // Status

  private condition(type: string, ok: boolean, reason?: string, message?: string): PodCondition {
    const status = ok ? 'True' : 'False';
    const prev = this.transitions.get(type);
    let time = prev?.time ?? rfc3339(Date.now());
    if (prev === undefined || prev.status !== status) {
      time = rfc3339(Date.now());
      this.transitions.set(type, { status, time });
    }
    // null, not absent: the status is a strategic merge patch (conditions merge by type), and an absent field
    // would keep the reason and message of the previous state.
    return { type, status, lastProbeTime: null, lastTransitionTime: time, reason: reason ?? null, message: message ?? null };
  }

  private waitingStatus(c: Container): ContainerStatus {
    const message = this.sandboxMessage;
    return {
      name: c.name,
      state: { waiting: { reason: init(this.phase) ? 'PodInitializing' : 'ContainerCreating', ...(message === undefined ? {} : { message }) } },
      lastState: {},
      ready: false,
      started: false,
      restartCount: 0,
      image: c.image ?? '',
      imageID: '',
    };
    function init(phase: Phase): boolean {
      return phase === 'init';
    }
  }

  computeStatus(): PodStatus {
    const spec = this.pod.spec;
    const containerStatuses = spec.containers.map((c) => this.runners.find((r) => r.name === c.name)?.status() ?? this.waitingStatus(c));
    const initContainerStatuses = (spec.initContainers ?? []).map((c) => this.initRunners.find((r) => r.name === c.name)?.status() ?? this.waitingStatus(c));
    const allReady = this.runners.length === spec.containers.length && this.runners.every((r) => r.isReady);
    const notReady = containerStatuses.filter((s) => !s.ready).map((s) => s.name);
    const gates = (spec.readinessGates ?? []).every((g) => (this.pod.status?.conditions ?? []).some((c) => c.type === g.conditionType && c.status === 'True'));
    let phase: string;
    if (this.finalPhase !== undefined) phase = this.finalPhase;
    else if (this.phase === 'sandbox' || this.phase === 'init') phase = 'Pending';
    else if (containerStatuses.some((s) => s.state?.waiting !== undefined && s.lastState?.terminated === undefined && s.restartCount === 0 && s.state.waiting.reason !== 'CrashLoopBackOff')) phase = 'Pending';
    else phase = 'Running';
    const terminalNow = phase === 'Succeeded' || phase === 'Failed';
    const conditions: PodCondition[] = [
      this.condition('PodReadyToStartContainers', this.sandboxReady && !terminalNow),
      this.condition('Initialized', this.initialized, this.initialized ? undefined : 'ContainersNotInitialized', this.initialized ? undefined : `containers with incomplete status: [${(spec.initContainers ?? []).map((c) => c.name).join(' ')}]`),
      this.condition('Ready', allReady && gates && !terminalNow, allReady && gates && !terminalNow ? undefined : terminalNow ? 'PodCompleted' : 'ContainersNotReady', allReady && gates && !terminalNow ? undefined : terminalNow ? undefined : `containers with unready status: [${notReady.join(' ')}]`),
      this.condition('ContainersReady', allReady && !terminalNow, allReady && !terminalNow ? undefined : terminalNow ? 'PodCompleted' : 'ContainersNotReady', allReady && !terminalNow ? undefined : terminalNow ? undefined : `containers with unready status: [${notReady.join(' ')}]`),
      this.condition('PodScheduled', true),
    ];
    return {
      phase,
      conditions,
      hostIP: this.host.hostIp,
      hostIPs: [{ ip: this.host.hostIp }],
      ...(this.podIp === '' ? {} : { podIP: this.podIp, podIPs: [{ ip: this.podIp }] }),
      startTime: this.startTime,
      containerStatuses,
      ...(initContainerStatuses.length === 0 ? {} : { initContainerStatuses }),
    };
  }

  private scheduleStatus(delayMs = STATUS_DEBOUNCE_MS): void {
    if (this.abandoned) return;
    if (this.statusTimer !== undefined) return;
    this.statusTimer = setTimeout(() => {
      this.statusTimer = undefined;
      this.statusWrite = this.statusWrite.then(() => this.writeStatusNow());
    }, delayMs);
  }

  private async flushStatus(): Promise<void> {
    if (this.statusTimer !== undefined) {
      clearTimeout(this.statusTimer);
      this.statusTimer = undefined;
      this.statusWrite = this.statusWrite.then(() => this.writeStatusNow());
    }
    await this.statusWrite;
  }

  private async writeStatusNow(): Promise<void> {
    if (this.abandoned) return;
    const status = this.computeStatus();
    const json = JSON.stringify(status);
    if (json === this.lastStatusJson) return;
    try {
      await this.host.writeStatus(this.pod, status);
      this.lastStatusJson = json;
    } catch (error) {
      const message = errorText(error);
      // The pod is gone: nothing to report to.
      if (/\b404\b/.test(message)) return;
      this.host.log(`pod ${this.key}: status update failed (retrying): ${message}`);
      setTimeout(() => this.scheduleStatus(0), 1000).unref();
    }
  }
}

/**
 * The KafkaCluster controller: level-triggered reconcile of one KafkaCluster key (see README.md).
 *
 *   absent / being deleted   nothing: owner references let the garbage collector delete the children
 *   paused (annotation)      status = [ReconciliationPaused] only; no child is read or written
 *   invalid spec             NotReady with the validation reason + a Warning Event; no child is touched
 *   otherwise                server-side apply of every desired child; delete the owned children the spec no
 *                            longer produces; status (observedGeneration, cluster id, bootstrap addresses,
 *                            pools, Ready / NotReady=PodsNotReady, runningVersion) through /status
 *
 * Reads come from informer caches (the cluster, and its children selected by the cluster label); writes are
 * server-side applies, which the API server turns into no-ops when nothing changed, so a restart or a resync
 * rewrites nothing. The status is written only when it differs from the cached one, and the primary watch
 * ignores status-only updates, so the controller's own writes never trigger it again.
 */
import type { Logger } from 'pino';
import { ANNOTATION_PAUSE_RECONCILIATION, LABEL_CLUSTER } from '../api/constants.ts';
import type { KafkaCluster } from '../api/kafka-cluster-types.ts';
import {
  anyOf,
  errorMessage,
  formatTime,
  generationChanged,
  keyOf,
  metadataChanged,
  Resources,
  watchOwned,
  watchPrimary,
  type Controller,
  type EventRecorder,
  type Informer,
  type KubeObject,
  type Manager,
  type ObjectClient,
  type ObjectMeta,
  type ReconcileRequest,
  type ResourceType,
  type Selector,
  type WatchSource,
} from '../runtime/index.ts';
import { buildClusterResources } from '../specs/cluster-resources.ts';
import {
  applyFailedStatus,
  childChange,
  childId,
  childrenToDelete,
  clusterReadiness,
  clusterStatus,
  invalidSpecStatus,
  managedStatusEqual,
  pausedStatus,
  type ManagedClusterStatus,
  type ObservedStatefulSet,
} from './cluster-status.ts';
import { isPausedStatus, readyStatus } from './status-helpers.ts';

/** A KafkaCluster as the API server stores it (with resourceVersion, deletionTimestamp, ...). */
export type StoredKafkaCluster = KafkaCluster & { readonly metadata: KafkaCluster['metadata'] & ObjectMeta };

export const KAFKA_CLUSTER_CONTROLLER_NAME = 'kafkacluster';

/** The kinds of child objects the builders produce. */
export const CLUSTER_CHILD_RESOURCES: readonly ResourceType[] = [Resources.ConfigMap, Resources.StatefulSet, Resources.Service, Resources.PodDisruptionBudget];

export interface KafkaClusterControllerOptions {
  /** Watch one namespace; undefined: all namespaces. */
  readonly namespace?: string;
  /** Wall clock (epoch ms) for lastTransitionTime; default Date.now. */
  readonly now?: () => number;
}

/** An annotation is on when its value is "true" (any case), as kubectl users write it. */
export function annotationTrue(obj: KubeObject, annotation: string): boolean {
  return obj.metadata.annotations?.[annotation]?.toLowerCase() === 'true';
}

const CREATED_MEMORY_MAX = 4096;

export class KafkaClusterController implements Controller {
  readonly name = KAFKA_CLUSTER_CONTROLLER_NAME;
  readonly watches: readonly WatchSource[];

  private readonly clusters: Informer<StoredKafkaCluster>;
  private readonly children = new Map<string, { readonly resource: ResourceType; readonly informer: Informer }>();
  private readonly client: ObjectClient;
  private readonly events: EventRecorder;
  private readonly logger: Logger;
  private readonly now: () => number;
  /** uids of children this process created, so a cache that has not caught up never reports them twice. */
  private readonly created = new Set<string>();

  constructor(manager: Manager, options: KafkaClusterControllerOptions = {}) {
    const scope: Selector = options.namespace === undefined ? {} : { namespace: options.namespace };
    // Children are cached only if they carry the cluster label (every object the builders make does).
    const childScope: Selector = { ...scope, labelSelector: LABEL_CLUSTER };
    this.clusters = manager.informer<StoredKafkaCluster>(Resources.KafkaCluster, scope);
    for (const resource of CLUSTER_CHILD_RESOURCES) this.children.set(resource.kind, { resource, informer: manager.informer(resource, childScope) });
    this.watches = [
      // Spec edits and annotation changes (pause); status-only updates (ours included) are ignored.
      watchPrimary(Resources.KafkaCluster, { selector: scope, predicate: anyOf(generationChanged, metadataChanged) }),
      ...CLUSTER_CHILD_RESOURCES.map((r) => watchOwned(r, Resources.KafkaCluster, { selector: childScope })),
    ];
    this.client = manager.client;
    this.events = manager.events;
    this.logger = manager.logger.child({ controller: this.name });
    this.now = options.now ?? Date.now;
  }

  async reconcile({ key, signal }: ReconcileRequest): Promise<void> {
    const cluster = this.clusters.get(key);
    // Gone, or going (foreground deletion): the garbage collector deletes the children through their owner references.
    if (cluster === undefined || cluster.metadata.deletionTimestamp !== undefined) return;
    const log = this.logger.child({ kafkacluster: key });
    const now = formatTime(this.now());

    if (annotationTrue(cluster, ANNOTATION_PAUSE_RECONCILIATION)) {
      const wasPaused = isPausedStatus(cluster.status?.conditions);
      await this.writeStatus(cluster, pausedStatus(cluster, now), signal);
      if (!wasPaused) {
        log.info('Reconciliation paused: the pause-reconciliation annotation is set');
        this.events.event(cluster, 'Normal', 'ReconciliationPaused', 'Reconciliation paused by the pause-reconciliation annotation; spec changes are not applied until it is removed');
      }
      return;
    }

    const built = buildClusterResources(cluster);
    if (!built.ok) {
      const status = invalidSpecStatus(cluster, built.validation, now);
      if (await this.writeStatus(cluster, status, signal)) {
        const notReady = status.conditions.find((c) => c.type === 'NotReady');
        log.warn({ reason: notReady?.reason, problems: built.validation.problems }, `Invalid spec, nothing applied: ${notReady?.message ?? ''}`);
        this.events.event(cluster, 'Warning', notReady?.reason ?? 'InvalidSpec', `Invalid spec, nothing applied: ${notReady?.message ?? ''}`);
      }
      return;
    }

    // 1. Apply every desired child.
    const applied = new Map<string, KubeObject>();
    for (const desired of built.objects) {
      const child = this.childType(desired.kind);
      const name = desired.metadata.name;
      const before = child.informer.get(keyOf(desired.metadata.namespace, name));
      let after: KubeObject;
      try {
        after = await this.client.apply<KubeObject>(desired, signal);
      } catch (error) {
        const message = `applying ${desired.kind} ${name} failed: ${errorMessage(error)}`;
        this.events.event(cluster, 'Warning', 'ApplyFailed', message);
        await this.writeStatus(cluster, applyFailedStatus(cluster, message, now), signal).catch((statusError: unknown) => {
          log.warn({ err: statusError }, `Could not record the failed apply in the status: ${errorMessage(statusError)}`);
        });
        throw error;
      }
      applied.set(childId(desired), after);
      let change = childChange(before, after);
      const uid = after.metadata.uid ?? '';
      if (change === 'created' && before === undefined && this.created.has(uid)) change = 'unchanged';
      if (change === 'created') {
        if (this.created.size >= CREATED_MEMORY_MAX) this.created.clear();
        this.created.add(uid);
      }
      if (change !== 'unchanged') {
        const verb = change === 'created' ? 'Created' : 'Updated';
        log.info({ kind: desired.kind, name, resourceVersion: after.metadata.resourceVersion }, `${verb} ${desired.kind} ${name}`);
        this.events.event(cluster, 'Normal', verb, `${verb} ${desired.kind} ${name}`);
      }
    }

    // 2. Delete owned children the spec no longer produces (e.g. a removed pool's StatefulSet and ConfigMap).
    const existing = [...this.children.values()].flatMap((c) => c.informer.list({ namespace: cluster.metadata.namespace, labels: { [LABEL_CLUSTER]: cluster.metadata.name } }));
    for (const obj of childrenToDelete(built.objects, existing, cluster.metadata.uid)) {
      const { resource } = this.childType(obj.kind ?? '');
      const name = obj.metadata.name ?? '';
      const uid = obj.metadata.uid;
      const deleted = await this.client.delete(resource, cluster.metadata.namespace, name, { propagationPolicy: 'Background', ...(uid === undefined ? {} : { preconditions: { uid } }) }, signal);
      if (deleted) {
        log.info({ kind: resource.kind, name }, `Deleted ${resource.kind} ${name}`);
        this.events.event(cluster, 'Normal', 'Deleted', `Deleted ${resource.kind} ${name}: no longer in the spec`);
      }
    }

    // 3. Status, from the StatefulSets as the API server just returned them.
    const statefulSets = new Map<string, ObservedStatefulSet>();
    for (const obj of applied.values()) if (obj.kind === Resources.StatefulSet.kind && obj.metadata.name !== undefined) statefulSets.set(obj.metadata.name, obj);
    const readiness = clusterReadiness(cluster, statefulSets);
    const wasReady = readyStatus(cluster.status?.conditions) === 'True';
    const wrote = await this.writeStatus(cluster, clusterStatus(cluster, readiness, now), signal);
    if (wrote && readiness.ready && !wasReady) {
      log.info(`Cluster ready: ${readiness.message}`);
      this.events.event(cluster, 'Normal', 'Ready', `Cluster ready: ${readiness.message}`);
    } else if (wrote && !readiness.ready) {
      log.info({ reason: readiness.reason }, `Cluster not ready: ${readiness.message}`);
    }
  }

  private childType(kind: string): { readonly resource: ResourceType; readonly informer: Informer } {
    const child = this.children.get(kind);
    if (child === undefined) throw new Error(`the KafkaCluster controller does not manage objects of kind ${kind}`);
    return child;
  }

  /** Writes the status through /status unless the cached one already equals it; true if it wrote. */
  private async writeStatus(cluster: StoredKafkaCluster, status: ManagedClusterStatus, signal: AbortSignal): Promise<boolean> {
    if (managedStatusEqual(cluster.status, status)) return false;
    await this.client.applyStatus(
      { apiVersion: cluster.apiVersion, kind: cluster.kind, metadata: { name: cluster.metadata.name, namespace: cluster.metadata.namespace }, status },
      signal,
    );
    return true;
  }
}

/**
 * The KafkaTopic controller: level-triggered reconcile of one KafkaTopic key (see README.md).
 *
 *   absent                   nothing
 *   being deleted            our finalizer: DeleteTopics, then remove the finalizer; the Kafka topic is left in
 *                            place when the resource is unmanaged or paused, when another live KafkaTopic
 *                            declares the same topic, or when the cluster is gone; a deletion that keeps
 *                            failing (cluster unreachable) removes the finalizer after deletionTimeoutMs
 *   paused (annotation)      status = [ReconciliationPaused] only
 *   unmanaged (annotation)   reconciled as usual but without the finalizer: deleting the resource leaves the topic
 *   invalid spec             NotReady with the validation reason; no Kafka call
 *   no such KafkaCluster     NotReady ClusterNotFound
 *   conflict                 another, older KafkaTopic of the cluster names the same topic: NotReady
 *                            ResourceConflict, no Kafka call
 *   otherwise                finalizer; describe the topic and its config; planTopic; CreateTopics /
 *                            CreatePartitions / IncrementalAlterConfigs (one call per action type); status
 *                            (observedGeneration, topicName, topicId, Ready or NotReady with NotSupported or
 *                            the Kafka error); requeue after resyncMs, so out-of-band changes are reverted
 *
 * One KafkaAdminClient per distinct bootstrap list, cached; close() closes them (the operator's shutdown).
 */
import type { Logger } from 'pino';
import { LABEL_CLUSTER } from '../api/constants.ts';
import type { KafkaCluster } from '../api/kafka-cluster-types.ts';
import { effectiveTopicName, type KafkaTopic } from '../api/kafka-topic-types.ts';
import { ConditionReason } from '../api/conditions.ts';
import { validateKafkaTopic } from '../api/validate-kafka-topic.ts';
import { KafkaAdminClient, KafkaAdminError } from '../kafka/admin-client.ts';
import {
  anyOf,
  errorMessage,
  formatTime,
  generationChanged,
  isNotFound,
  keyOf,
  metadataChanged,
  objectKey,
  PatchContentType,
  Resources,
  watchMapped,
  watchPrimary,
  type BackoffOptions,
  type Controller,
  type EventRecorder,
  type Informer,
  type KubeObject,
  type Manager,
  type ObjectClient,
  type ObjectMeta,
  type Predicate,
  type ReconcileRequest,
  type ReconcileResult,
  type Selector,
  type WatchSource,
} from '../runtime/index.ts';
import { planTopic, resolveTopicOwnership, type ObservedTopic, type TopicAction } from '../topic/plan.ts';
import type { StoredKafkaCluster } from './kafka-cluster-controller.ts';
import { addFinalizerPatch, ControllerReason, isPausedStatus, jsonEqual, kafkaErrorReason, removeFinalizerPatch, type Readiness } from './status-helpers.ts';
import {
  clusterNameOf,
  defaultBootstrapFor,
  DELETION_TIMEOUT_MS_DEFAULT,
  deletionDecision,
  deletionGivenUp,
  hasFinalizer,
  isDeleting,
  isPaused,
  isUnmanaged,
  kafkaErrorReadiness,
  managedTopicStatusEqual,
  notReady,
  pausedTopicStatus,
  planReadiness,
  TOPIC_FINALIZER,
  topicStatus,
  type ManagedTopicStatus,
} from './topic-status.ts';

/** A KafkaTopic as the API server stores it. */
export type StoredKafkaTopic = KafkaTopic & { readonly metadata: KafkaTopic['metadata'] & ObjectMeta };

export const KAFKA_TOPIC_CONTROLLER_NAME = 'kafkatopic';
export const TOPIC_RESYNC_MS_DEFAULT = 60_000;

export type BootstrapFor = (cluster: KafkaCluster) => readonly string[] | null;

export interface KafkaTopicControllerOptions {
  /** Watch one namespace; undefined: all namespaces. */
  readonly namespace?: string;
  /** Where the cluster's brokers answer; default status.listeners[0].bootstrapServers. */
  readonly bootstrapFor?: BootstrapFor;
  /** Every managed topic is compared with Kafka again after this long (default 60 s). */
  readonly resyncMs?: number;
  /** A deletion failing for this long removes the finalizer anyway (default 5 min). */
  readonly deletionTimeoutMs?: number;
  /** Concurrent reconciles (default 2). */
  readonly concurrency?: number;
  /** Wall clock (epoch ms); default Date.now. */
  readonly now?: () => number;
  /** Makes the admin client of a bootstrap list (default: KafkaAdminClient, 15 s per call). */
  readonly adminClient?: (bootstrapServers: readonly string[]) => KafkaAdminClient;
}

const UNKNOWN_TOPIC = 'UNKNOWN_TOPIC_OR_PARTITION';

const deletionChanged: Predicate = (e) => e.kind !== 'update' || e.oldObject?.metadata.deletionTimestamp !== e.object.metadata.deletionTimestamp;

export class KafkaTopicController implements Controller {
  readonly name = KAFKA_TOPIC_CONTROLLER_NAME;
  readonly watches: readonly WatchSource[];
  readonly concurrency: number;
  readonly backoff: Partial<BackoffOptions>;

  private readonly topics: Informer<StoredKafkaTopic>;
  private readonly clusters: Informer<StoredKafkaCluster>;
  private readonly client: ObjectClient;
  private readonly events: EventRecorder;
  private readonly logger: Logger;
  private readonly bootstrapFor: BootstrapFor;
  private readonly resyncMs: number;
  private readonly deletionTimeoutMs: number;
  private readonly now: () => number;
  private readonly makeAdmin: (bootstrapServers: readonly string[]) => KafkaAdminClient;
  /** Admin clients by bootstrap list, with when each was last used (idle ones are closed). */
  private readonly admins = new Map<string, { readonly client: KafkaAdminClient; lastUsedMs: number }>();
  private readonly adminIdleMs: number;
  private closed = false;

  constructor(manager: Manager, options: KafkaTopicControllerOptions = {}) {
    const scope: Selector = options.namespace === undefined ? {} : { namespace: options.namespace };
    this.topics = manager.informer<StoredKafkaTopic>(Resources.KafkaTopic, scope);
    this.clusters = manager.informer<StoredKafkaCluster>(Resources.KafkaCluster, scope);
    this.client = manager.client;
    this.events = manager.events;
    this.logger = manager.logger.child({ controller: KAFKA_TOPIC_CONTROLLER_NAME });
    this.bootstrapFor = options.bootstrapFor ?? defaultBootstrapFor;
    this.resyncMs = options.resyncMs ?? TOPIC_RESYNC_MS_DEFAULT;
    this.deletionTimeoutMs = options.deletionTimeoutMs ?? DELETION_TIMEOUT_MS_DEFAULT;
    this.now = options.now ?? Date.now;
    this.concurrency = options.concurrency ?? 2;
    // Failures retry from 250 ms, doubling, but never wait longer than a resync.
    this.backoff = { maxDelayMs: Math.max(this.resyncMs, 1_000) };
    // A bootstrap list no KafkaTopic has used for ten resyncs (at least 10 min) belongs to a cluster that moved or went.
    this.adminIdleMs = Math.max(10 * this.resyncMs, 10 * 60_000);
    this.makeAdmin = options.adminClient ?? ((bootstrapServers) => new KafkaAdminClient({ bootstrapServers, operationTimeoutMs: 15_000, connectTimeoutMs: 5_000 }));
    const bootstrapChanged: Predicate = (e) => {
      if (e.kind !== 'update' || e.oldObject === undefined) return true;
      const before = this.bootstrapFor(e.oldObject as StoredKafkaCluster);
      const after = this.bootstrapFor(e.object as StoredKafkaCluster);
      return !jsonEqual(before, after);
    };
    this.watches = [
      // Spec edits, annotations and labels, the start of a deletion; not status-only updates (ours).
      watchPrimary(Resources.KafkaTopic, { selector: scope, predicate: anyOf(generationChanged, metadataChanged, deletionChanged) }),
      // A KafkaTopic appearing, going or relabelled changes who owns its Kafka topic: reconcile the others.
      watchMapped(Resources.KafkaTopic, (t) => this.siblingKeys(t), { selector: scope, predicate: anyOf(metadataChanged, deletionChanged) }),
      // A cluster appearing, going, or getting its bootstrap address: reconcile its topics.
      watchMapped(Resources.KafkaCluster, (c) => this.topicKeysOf(c), { selector: scope, predicate: anyOf(bootstrapChanged, deletionChanged) }),
    ];
  }

  /** Closes every cached admin client. Reconciles after this fail. */
  async close(): Promise<void> {
    this.closed = true;
    const admins = [...this.admins.values()];
    this.admins.clear();
    await Promise.all(admins.map((a) => a.client.close()));
  }

  async reconcile({ key, signal }: ReconcileRequest): Promise<ReconcileResult | void> {
    const topic = this.topics.get(key);
    if (topic === undefined) return;
    const log = this.logger.child({ kafkatopic: key });
    const clusterName = clusterNameOf(topic);
    const cluster = clusterName === undefined ? undefined : this.clusters.get(keyOf(topic.metadata.namespace, clusterName));

    if (isDeleting(topic)) {
      await this.finalize(topic, cluster, log, signal);
      return;
    }

    if (isPaused(topic)) {
      const wasPaused = isPausedStatus(topic.status?.conditions);
      await this.writeStatus(topic, pausedTopicStatus(topic, this.nowText()), signal);
      if (!wasPaused) {
        log.info('Reconciliation paused: the pause-reconciliation annotation is set');
        this.events.event(topic, 'Normal', 'ReconciliationPaused', 'Reconciliation paused by the pause-reconciliation annotation; nothing is changed in Kafka until it is removed');
      }
      return;
    }

    // Unmanaged: no finalizer, so deleting the resource leaves the Kafka topic.
    if (isUnmanaged(topic) && hasFinalizer(topic)) {
      await this.removeFinalizer(topic, signal);
      log.info('Finalizer removed: the KafkaTopic is unmanaged, deleting it will leave the Kafka topic in place');
    }

    const validation = validateKafkaTopic(topic);
    const invalid = validation.problems[0];
    if (invalid !== undefined) {
      const message = validation.problems.map((p) => `${p.path}: ${p.message}`).join('; ');
      await this.report(topic, notReady(invalid.reason, `invalid spec, nothing done in Kafka: ${message}`), undefined, log, signal);
      return;
    }

    const topicName = effectiveTopicName(topic);
    if (cluster === undefined) {
      await this.report(topic, notReady(ControllerReason.ClusterNotFound, `the KafkaCluster ${JSON.stringify(clusterName)} named by the cluster label does not exist in namespace ${topic.metadata.namespace}`), undefined, log, signal);
      return { requeueAfterMs: this.resyncMs };
    }

    const ownership = resolveTopicOwnership(this.claimants(topic)).get(`${topic.metadata.namespace}/${topic.metadata.name}`);
    if (ownership !== undefined && !ownership.owner) {
      await this.report(topic, notReady(ownership.problem.reason, ownership.problem.message), null, log, signal);
      return { requeueAfterMs: this.resyncMs };
    }

    if (cluster.metadata.deletionTimestamp !== undefined) {
      await this.report(topic, notReady(ControllerReason.ClusterNotReady, `the KafkaCluster ${JSON.stringify(clusterName)} is being deleted`), undefined, log, signal);
      return { requeueAfterMs: this.resyncMs };
    }
    const bootstrap = this.bootstrapFor(cluster);
    if (bootstrap === null || bootstrap.length === 0) {
      await this.report(topic, notReady(ControllerReason.ClusterNotReady, `the KafkaCluster ${JSON.stringify(clusterName)} has no bootstrap address yet (status.listeners)`), undefined, log, signal);
      return { requeueAfterMs: this.resyncMs };
    }

    // Before anything is created in Kafka: the finalizer, so the topic is deleted with the resource.
    if (!isUnmanaged(topic)) await this.addFinalizer(topic, signal);

    const admin = this.admin(bootstrap);
    let observed: ObservedTopic | null;
    let topicId: string | null;
    try {
      ({ observed, topicId } = await observe(admin, topicName));
    } catch (error) {
      if (error instanceof KafkaAdminError) await this.report(topic, kafkaErrorReadiness(error), undefined, log, signal);
      throw error;
    }

    const plan = planTopic(topicName, topic.spec, observed);
    let failure: KafkaAdminError | undefined;
    for (const action of plan.actions) {
      try {
        const result = await execute(admin, action);
        if (result.topicId !== null) topicId = result.topicId;
        if (result.error !== undefined) {
          failure = result.error;
          break;
        }
      } catch (error) {
        if (!(error instanceof KafkaAdminError)) throw error;
        failure = error;
        break;
      }
      const message = describeAction(action, observed);
      log.info({ topic: topicName, action: action.type }, message);
      this.events.event(topic, 'Normal', actionReason(action), message);
    }

    const readiness = planReadiness(topicName, plan, failure, topic.spec);
    await this.report(topic, readiness, topicId, log, signal);
    // Retriable Kafka errors (network, timeouts, not controller) back off; the rest wait for a spec change or a resync.
    if (failure?.retriable === true) throw failure;
    return { requeueAfterMs: this.resyncMs };
  }

  // ---- Deletion --------------------------------------------------------------------------------------------

  private async finalize(topic: StoredKafkaTopic, cluster: StoredKafkaCluster | undefined, log: Logger, signal: AbortSignal): Promise<void> {
    const others = this.claimants(topic).filter((t) => t.metadata.name !== topic.metadata.name);
    const validName = !validateKafkaTopic(topic).problems.some((p) => p.reason === ConditionReason.InvalidName);
    const decision = deletionDecision({ topic, cluster, bootstrap: cluster === undefined ? null : this.bootstrapFor(cluster), otherClaimants: others, validName });
    if (decision.action === 'none') return;
    if (decision.action === 'release') {
      await this.removeFinalizer(topic, signal);
      (decision.warning ? log.warn.bind(log) : log.info.bind(log))(`Finalizer removed: ${decision.message}`);
      this.events.event(topic, decision.warning ? 'Warning' : 'Normal', 'TopicNotDeleted', decision.message);
      return;
    }
    const { topicName, bootstrap } = decision;
    try {
      if (bootstrap === null || bootstrap.length === 0) throw new Error(`the KafkaCluster ${JSON.stringify(clusterNameOf(topic))} has no bootstrap address (status.listeners)`);
      const [result] = await this.admin(bootstrap).deleteTopics([topicName]);
      if (result?.error !== undefined && result.error.errorName !== UNKNOWN_TOPIC) throw result.error;
      const message = result?.error === undefined ? `Deleted Kafka topic ${JSON.stringify(topicName)}` : `Kafka topic ${JSON.stringify(topicName)} was already gone`;
      log.info({ topic: topicName }, message);
      this.events.event(topic, 'Normal', 'Deleted', message);
    } catch (error) {
      if (deletionGivenUp(topic.metadata.deletionTimestamp, this.now(), this.deletionTimeoutMs)) {
        const message = `gave up deleting Kafka topic ${JSON.stringify(topicName)} after ${Math.round(this.deletionTimeoutMs / 1000)} s and removed the finalizer; the topic may remain in Kafka: ${errorMessage(error)}`;
        log.warn({ err: error, topic: topicName }, message);
        this.events.event(topic, 'Warning', 'TopicNotDeleted', message);
        await this.removeFinalizer(topic, signal);
        return;
      }
      const retrying = `deleting Kafka topic ${JSON.stringify(topicName)} failed (retrying; the finalizer is removed anyway ${Math.round(this.deletionTimeoutMs / 1000)} s after the deletion began)`;
      const readiness: Readiness = error instanceof KafkaAdminError
        ? notReady(kafkaErrorReason(error.errorName), `${retrying}: ${error.message}`)
        : notReady(ControllerReason.ClusterNotReady, `${retrying}: ${errorMessage(error)}`);
      await this.report(topic, readiness, undefined, log, signal).catch(() => undefined);
      throw error;
    }
    await this.removeFinalizer(topic, signal);
  }

  // ---- Helpers -----------------------------------------------------------------------------------------------

  /** Live (not being deleted) KafkaTopics of the same namespace and cluster naming the same Kafka topic, `topic` included if live. */
  private claimants(topic: StoredKafkaTopic): StoredKafkaTopic[] {
    const cluster = clusterNameOf(topic);
    const name = effectiveTopicName(topic);
    return this.topics.list({ namespace: topic.metadata.namespace }).filter((t) => !isDeleting(t) && clusterNameOf(t) === cluster && effectiveTopicName(t) === name);
  }

  private siblingKeys(obj: KubeObject): string[] {
    const topic = obj as StoredKafkaTopic;
    if (topic.spec === undefined) return [];
    const cluster = clusterNameOf(topic);
    const name = effectiveTopicName(topic);
    return this.topics
      .list({ namespace: topic.metadata.namespace })
      .filter((t) => t.metadata.name !== topic.metadata.name && clusterNameOf(t) === cluster && effectiveTopicName(t) === name)
      .map((t) => objectKey(t));
  }

  private topicKeysOf(cluster: KubeObject): string[] {
    const name = cluster.metadata.name;
    if (name === undefined) return [];
    return this.topics.list({ namespace: cluster.metadata.namespace ?? '', labels: { [LABEL_CLUSTER]: name } }).map((t) => objectKey(t));
  }

  private admin(bootstrap: readonly string[]): KafkaAdminClient {
    if (this.closed) throw new Error('the KafkaTopic controller is closed');
    const id = [...bootstrap].sort().join(',');
    const now = this.now();
    for (const [other, entry] of this.admins) {
      if (other !== id && now - entry.lastUsedMs > this.adminIdleMs) {
        this.admins.delete(other);
        void entry.client.close();
      }
    }
    let entry = this.admins.get(id);
    if (entry === undefined) {
      entry = { client: this.makeAdmin(bootstrap), lastUsedMs: now };
      this.admins.set(id, entry);
    }
    entry.lastUsedMs = now;
    return entry.client;
  }

  private nowText(): string {
    return formatTime(this.now());
  }

  /**
   * Writes the status for a readiness (unless unchanged). A Warning Event goes with every NotReady that is
   * written (a new reason or message), so `kubectl describe` shows what went wrong without repeating it.
   * topicId: the id if known, null to drop it (not ours), undefined to keep the previous one.
   */
  private async report(topic: StoredKafkaTopic, readiness: Readiness, topicId: string | null | undefined, log: Logger, signal: AbortSignal): Promise<void> {
    const wrote = await this.writeStatus(topic, topicStatus(topic, readiness, topicId, this.nowText()), signal);
    if (!wrote) return;
    if (readiness.ready) {
      log.info(readiness.message);
    } else {
      log.warn({ reason: readiness.reason }, readiness.message);
      this.events.event(topic, 'Warning', readiness.reason, readiness.message);
    }
  }

  private async writeStatus(topic: StoredKafkaTopic, status: ManagedTopicStatus, signal: AbortSignal): Promise<boolean> {
    if (managedTopicStatusEqual(topic.status, status)) return false;
    await this.client.applyStatus({ apiVersion: topic.apiVersion, kind: topic.kind, metadata: { name: topic.metadata.name, namespace: topic.metadata.namespace }, status }, signal);
    return true;
  }

  private async addFinalizer(topic: StoredKafkaTopic, signal: AbortSignal): Promise<void> {
    const patch = addFinalizerPatch(topic.metadata.finalizers, topic.metadata.resourceVersion, TOPIC_FINALIZER);
    if (patch === null) return;
    await this.client.patch(Resources.KafkaTopic, topic.metadata.namespace, topic.metadata.name, patch, PatchContentType.Json, undefined, signal);
  }

  private async removeFinalizer(topic: StoredKafkaTopic, signal: AbortSignal): Promise<void> {
    const patch = removeFinalizerPatch(topic.metadata.finalizers, TOPIC_FINALIZER);
    if (patch === null) return;
    try {
      await this.client.patch(Resources.KafkaTopic, topic.metadata.namespace, topic.metadata.name, patch, PatchContentType.Json, undefined, signal);
    } catch (error) {
      // Already gone: nothing left to release.
      if (!isNotFound(error)) throw error;
    }
  }
}

/** The topic as Kafka reports it, or null when it does not exist; throws KafkaAdminError when Kafka cannot say. */
async function observe(admin: KafkaAdminClient, name: string): Promise<{ observed: ObservedTopic | null; topicId: string | null }> {
  const [described] = await admin.describeTopics([name]);
  if (described?.error !== undefined) {
    if (described.error.errorName === UNKNOWN_TOPIC) return { observed: null, topicId: null };
    throw described.error;
  }
  const [configs] = await admin.describeTopicConfigs([name]);
  if (configs?.error !== undefined) throw configs.error;
  return {
    observed: { partitions: described?.partitions ?? 0, replicationFactor: described?.replicationFactor ?? 0, overrides: configs?.overrides ?? {} },
    topicId: described?.topicId ?? null,
  };
}

/** Runs one action (one admin call, which carries every item of its type). */
async function execute(admin: KafkaAdminClient, action: TopicAction): Promise<{ error?: KafkaAdminError; topicId: string | null }> {
  switch (action.type) {
    case 'create': {
      const [r] = await admin.createTopics([{ name: action.topic, partitions: action.partitions, replicationFactor: action.replicationFactor, configs: action.configs }]);
      return { ...(r?.error === undefined ? {} : { error: r.error }), topicId: r?.topicId ?? null };
    }
    case 'create-partitions': {
      const [r] = await admin.createPartitions([{ name: action.topic, totalCount: action.totalCount }]);
      return { ...(r?.error === undefined ? {} : { error: r.error }), topicId: null };
    }
    case 'alter-configs': {
      const [r] = await admin.incrementalAlterConfigs([{ name: action.topic, set: action.set, delete: action.delete }]);
      return { ...(r?.error === undefined ? {} : { error: r.error }), topicId: null };
    }
  }
}

function actionReason(action: TopicAction): string {
  return action.type === 'create' ? 'Created' : action.type === 'create-partitions' ? 'PartitionsIncreased' : 'ConfigUpdated';
}

function describeAction(action: TopicAction, observed: ObservedTopic | null): string {
  const quoted = JSON.stringify(action.topic);
  switch (action.type) {
    case 'create':
      return `Created Kafka topic ${quoted} with ${action.partitions} partition(s), replication factor ${action.replicationFactor}`
        + (Object.keys(action.configs).length === 0 ? '' : ` and config ${Object.entries(action.configs).map(([k, v]) => `${k}=${v}`).join(', ')}`);
    case 'create-partitions':
      return `Increased the partitions of Kafka topic ${quoted} from ${observed?.partitions ?? '?'} to ${action.totalCount}`;
    case 'alter-configs': {
      const parts = [
        ...Object.entries(action.set).map(([k, v]) => `set ${k}=${v}`),
        ...action.delete.map((k) => `removed ${k}`),
      ];
      return `Updated the config of Kafka topic ${quoted}: ${parts.join(', ')}`;
    }
  }
}

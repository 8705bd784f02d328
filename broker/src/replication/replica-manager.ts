/**
 * The partitions this broker hosts, following the metadata image: it opens a log for every partition the
 * image places here, leads the ones whose leader is this broker, and serves appends and reads for them.
 *
 * High watermark: the minimum log end offset over the ISR (the leader's own LEO when the ISR is only the
 * leader); it never moves back. Followers' fetch positions will feed `followerLogEnd` once data replication
 * lands; until then a partition whose ISR names other brokers keeps its high watermark where it is.
 *
 * Appends from clients run one partition at a time through the log synchronously (the log writes to the page
 * cache; fsync follows the flush policy), so a produce request's batches land in request order.
 */
import type { Logger } from 'pino';
import type { LogManager } from '../log/log-manager.ts';
import type { PartitionLog, LogReadResult } from '../log/partition-log.ts';
import type { MetadataImage, PartitionState } from '../metadata/metadata-image.ts';
import type { Uuid } from '../protocol/wire/uuid.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { DataWaiters } from './data-waiters.ts';

export interface HostedPartition {
  readonly topic: string;
  readonly topicId: Uuid;
  readonly partition: number;
  readonly log: PartitionLog;
  /** State from the image when this broker last applied it. */
  state: PartitionState;
}

export type PartitionLookup =
  | { readonly ok: true; readonly partition: HostedPartition }
  | { readonly ok: false; readonly errorCode: number };

export interface ReplicaManagerOptions {
  readonly nodeId: number;
  readonly image: MetadataImage;
  readonly logManager: LogManager;
  readonly logger: Logger;
}

export const partitionKey = (topic: string, partition: number): string => `${topic}-${partition}`;

export class ReplicaManager {
  private readonly options: ReplicaManagerOptions;
  private readonly hosted = new Map<string, HostedPartition>();
  /** Serializes reconciliations with the image (log creation and deletion are async). */
  private reconciling: Promise<void> = Promise.resolve();
  readonly waiters = new DataWaiters();

  constructor(options: ReplicaManagerOptions) {
    this.options = options;
  }

  get hostedPartitions(): Iterable<HostedPartition> {
    return this.hosted.values();
  }

  get leaderCount(): number {
    let n = 0;
    for (const p of this.hosted.values()) if (p.state.leader === this.options.nodeId) n++;
    return n;
  }

  /**
   * Brings the hosted partitions in line with the image: creates logs for new replicas here, deletes logs of
   * partitions removed or moved away, and refreshes leader state. Safe to call after every metadata change.
   */
  reconcile(): Promise<void> {
    this.reconciling = this.reconciling.then(() => this.reconcileNow());
    return this.reconciling;
  }

  private async reconcileNow(): Promise<void> {
    const { image, nodeId, logManager, logger } = this.options;
    const wanted = new Set<string>();
    for (const topic of image.topicsByName.values()) {
      for (const state of topic.partitions.values()) {
        if (!state.replicas.includes(nodeId)) continue;
        const key = partitionKey(topic.name, state.partition);
        wanted.add(key);
        const existing = this.hosted.get(key);
        if (existing && existing.topicId === topic.id) {
          existing.state = state;
          continue;
        }
        if (existing) await this.drop(key, existing);
        const tp = { topic: topic.name, partition: state.partition };
        const log = logManager.getLog(tp) ?? (await logManager.createLog(tp, topic.id));
        const hosted: HostedPartition = { topic: topic.name, topicId: topic.id, partition: state.partition, log, state };
        this.hosted.set(key, hosted);
        logger.info({ topic: topic.name, partition: state.partition, leaderEpoch: state.leaderEpoch, leader: state.leader === nodeId }, 'hosting partition');
      }
    }
    for (const [key, hosted] of this.hosted) {
      if (!wanted.has(key)) await this.drop(key, hosted);
    }
    for (const hosted of this.hosted.values()) this.maybeAdvanceHighWatermark(hosted);
  }

  private async drop(key: string, hosted: HostedPartition): Promise<void> {
    this.hosted.delete(key);
    this.waiters.notify(key);
    await this.options.logManager.deleteLog({ topic: hosted.topic, partition: hosted.partition });
    this.options.logger.info({ topic: hosted.topic, partition: hosted.partition }, 'deleted partition log');
  }

  /** The partition if this broker leads it, else the error a client should get. */
  leaderPartition(topic: string, partition: number, currentLeaderEpoch = -1): PartitionLookup {
    const hosted = this.hosted.get(partitionKey(topic, partition));
    if (hosted === undefined) {
      const inImage = this.options.image.topicPartition(topic, partition);
      return { ok: false, errorCode: inImage === undefined ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.NOT_LEADER_OR_FOLLOWER };
    }
    if (hosted.state.leader !== this.options.nodeId) return { ok: false, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
    // KIP-320: a client that knows an older epoch is fenced; one that knows a newer epoch is ahead of us.
    if (currentLeaderEpoch >= 0 && currentLeaderEpoch < hosted.state.leaderEpoch) return { ok: false, errorCode: ErrorCode.FENCED_LEADER_EPOCH };
    if (currentLeaderEpoch > hosted.state.leaderEpoch) return { ok: false, errorCode: ErrorCode.UNKNOWN_LEADER_EPOCH };
    if (hosted.log.isOffline) return { ok: false, errorCode: ErrorCode.KAFKA_STORAGE_ERROR };
    return { ok: true, partition: hosted };
  }

  hostedPartition(topic: string, partition: number): HostedPartition | undefined {
    return this.hosted.get(partitionKey(topic, partition));
  }

  /** After a leader append: advances the high watermark and wakes fetches parked on this partition. */
  afterAppend(hosted: HostedPartition): void {
    this.maybeAdvanceHighWatermark(hosted);
    this.waiters.notify(partitionKey(hosted.topic, hosted.partition));
  }

  private maybeAdvanceHighWatermark(hosted: HostedPartition): void {
    if (hosted.state.leader !== this.options.nodeId) return;
    const othersInIsr = hosted.state.isr.some((id) => id !== this.options.nodeId);
    if (othersInIsr) return; // needs follower positions (data replication)
    const leo = hosted.log.logEndOffset;
    if (leo > hosted.log.highWatermark) hosted.log.updateHighWatermark(leo);
  }

  /** Reads for a consumer: whole batches below the high watermark. */
  readForConsumer(hosted: HostedPartition, fetchOffset: bigint, maxBytes: number, minOneBatch: boolean): LogReadResult | { readonly errorCode: number } {
    const log = hosted.log;
    if (fetchOffset < log.logStartOffset || fetchOffset > log.logEndOffset) return { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE };
    return log.read(fetchOffset, { maxBytes, maxOffset: log.highWatermark, minOneBatch });
  }

  async shutdown(): Promise<void> {
    await this.reconciling;
    this.waiters.cancelAll();
  }
}

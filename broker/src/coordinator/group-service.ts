/**
 * Runs the classic group coordinator (broker/src/group, a pure state machine) against real time and the
 * `__consumer_offsets` logs: one coordinator shard per offsets partition this broker leads, as Kafka does.
 *
 * - A group lives in partition abs(javaHashCode(groupId)) % offsets.topic.num.partitions.
 * - `__consumer_offsets` is created on the first FindCoordinator for a group, with
 *   offsets.topic.num.partitions partitions and offsets.topic.replication.factor replicas.
 * - When this broker starts hosting an offsets partition, its shard replays the partition's log
 *   (`load`) before it answers; until then requests get COORDINATOR_LOAD_IN_PROGRESS.
 * - A shard's writes are record batches appended to its partition as leader; the write completes once the
 *   high watermark covers it (immediately while the ISR is the leader alone).
 * - Timer callbacks are guarded: a coordinator bug in a timer is logged, never a process crash.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { GroupCoordinator, type CoordinatorRecord, type GroupCoordinatorConfig } from '../group/index.ts';
import type { CoordinatorTime } from '../group/index.ts';
import { buildRecordBatch } from '../protocol/records/batch-builder.ts';
import { forEachRecord, recordKey, recordValue } from '../protocol/records/record-iterator.ts';
import { readBatchSizeBytes, readLastOffset, readAttributes, isControlBatch } from '../protocol/records/batch-header.ts';
import type { ReplicaManager, HostedPartition } from '../replication/replica-manager.ts';
import type { MetadataImage } from '../metadata/metadata-image.ts';

export const GROUP_METADATA_TOPIC = '__consumer_offsets';
const LOAD_CHUNK_BYTES = 1024 * 1024;

/** Java's String.hashCode (UTF-16 code units, int32 overflow): Kafka's partitioning of group ids. */
export function javaStringHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

export const partitionForGroup = (groupId: string, partitions: number): number => (javaStringHashCode(groupId) & 0x7fffffff) % partitions;

export interface GroupServiceOptions {
  readonly nodeId: number;
  readonly image: MetadataImage;
  readonly replicas: ReplicaManager;
  readonly offsetsTopicPartitions: number;
  readonly offsetsTopicReplicationFactor: number;
  readonly config: Partial<GroupCoordinatorConfig>;
  /** Creates the offsets topic through the controller; resolves when it is in the image (or already was). */
  readonly createOffsetsTopic: (partitions: number, replicationFactor: number) => Promise<void>;
  readonly logger: Logger;
}

class ShardTime implements CoordinatorTime {
  private readonly logger: Logger;
  constructor(logger: Logger) { this.logger = logger; }
  nowMs(): number { return Date.now(); }
  setTimer(delayMs: number, fn: () => void): unknown {
    return setTimeout(() => {
      try { fn(); } catch (error) { this.logger.error({ err: error }, 'group coordinator timer failed; the group state may need a coordinator restart'); }
    }, Math.max(0, delayMs));
  }
  clearTimer(handle: unknown): void { clearTimeout(handle as NodeJS.Timeout); }
}

export class GroupService {
  private readonly options: GroupServiceOptions;
  private readonly shards = new Map<number, GroupCoordinator>();
  private creating: Promise<void> | null = null;
  private closed = false;

  constructor(options: GroupServiceOptions) {
    this.options = options;
  }

  /** The partition count of the existing offsets topic, or the configured one before it exists. */
  get partitionCount(): number {
    return this.options.image.topicsByName.get(GROUP_METADATA_TOPIC)?.partitions.size ?? this.options.offsetsTopicPartitions;
  }

  partitionFor(groupId: string): number {
    return partitionForGroup(groupId, this.partitionCount);
  }

  /** Ensures the offsets topic exists (FindCoordinator for a group). */
  async ensureOffsetsTopic(): Promise<void> {
    if (this.options.image.topicsByName.has(GROUP_METADATA_TOPIC)) return;
    this.creating ??= this.options.createOffsetsTopic(this.options.offsetsTopicPartitions, this.options.offsetsTopicReplicationFactor)
      .finally(() => { this.creating = null; });
    await this.creating;
    await this.sync();
  }

  /** The shard coordinating `groupId`, or null when this broker does not (NOT_COORDINATOR). */
  shardFor(groupId: string): GroupCoordinator | null {
    return this.shards.get(this.partitionFor(groupId)) ?? null;
  }

  allShards(): GroupCoordinator[] {
    return [...this.shards.values()];
  }

  /** Starts shards for offsets partitions this broker now leads and stops the others. Call after metadata changes. */
  async sync(): Promise<void> {
    if (this.closed) return;
    await this.options.replicas.reconcile();
    const led = new Map<number, HostedPartition>();
    for (const hosted of this.options.replicas.hostedPartitions) {
      if (hosted.topic === GROUP_METADATA_TOPIC && hosted.state.leader === this.options.nodeId) led.set(hosted.partition, hosted);
    }
    for (const [partition, shard] of this.shards) {
      if (!led.has(partition)) {
        shard.shutdown();
        this.shards.delete(partition);
      }
    }
    for (const [partition, hosted] of led) {
      if (this.shards.has(partition)) continue;
      const logger = this.options.logger.child({ offsetsPartition: partition });
      const shard = new GroupCoordinator({
        time: new ShardTime(logger),
        append: (records) => this.append(hosted, records),
        randomUuid: () => randomUUID(),
        config: this.options.config,
        logger,
      });
      this.shards.set(partition, shard);
      const summary = shard.load(this.readAll(hosted));
      logger.info({ summary }, 'group coordinator shard loaded');
    }
  }

  private readAll(hosted: HostedPartition): CoordinatorRecord[] {
    const log = hosted.log;
    const out: CoordinatorRecord[] = [];
    let offset = log.logStartOffset;
    while (offset < log.highWatermark) {
      const { records: chunk } = log.read(offset, { maxBytes: LOAD_CHUNK_BYTES, maxOffset: log.highWatermark });
      if (chunk.length === 0) break;
      for (let at = 0; at < chunk.length; at += readBatchSizeBytes(chunk, at)) {
        const last = readLastOffset(chunk, at);
        if (last >= offset && !isControlBatch(readAttributes(chunk, at))) {
          forEachRecord(chunk, at, (r) => {
            const key = recordKey(r);
            if (key === null) return;
            const value = recordValue(r);
            out.push({ key: Buffer.from(key), value: value === null ? null : Buffer.from(value) });
          });
        }
        offset = last + 1n;
      }
    }
    return out;
  }

  private append(hosted: HostedPartition, records: readonly CoordinatorRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    const lookup = this.options.replicas.leaderPartition(hosted.topic, hosted.partition);
    if (!lookup.ok) return Promise.reject(new Error(`no longer the leader of ${hosted.topic}-${hosted.partition} (error ${lookup.errorCode})`));
    try {
      const batch = buildRecordBatch({ records: records.map((r) => ({ key: r.key, value: r.value })) });
      lookup.partition.log.appendAsLeader(batch, lookup.partition.state.leaderEpoch);
      this.options.replicas.afterAppend(lookup.partition);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  shutdown(): void {
    this.closed = true;
    for (const shard of this.shards.values()) shard.shutdown();
    this.shards.clear();
  }
}

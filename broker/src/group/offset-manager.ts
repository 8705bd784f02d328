/**
 * Committed offsets (Kafka's OffsetMetadataManager): OffsetCommit, OffsetFetch, OffsetDelete, the offset
 * part of DeleteGroups, and retention.
 *
 * The store only ever changes by replaying records: a commit's offsets are materialised when its append
 * succeeds (in append order, see RecordWriter), so OffsetFetch never returns an offset that is not durable and
 * the store always equals a replay of the log. Commits whose append is still in flight are tracked per
 * partition so that deletions and expiry write tombstones after them instead of racing them.
 */
import { ErrorCode } from '../protocol/error-codes.ts';
import type { OffsetCommitRequest } from '../protocol/generated/clients/offset-commit-request.ts';
import type { OffsetCommitResponse, OffsetCommitResponseOffsetCommitResponseTopic } from '../protocol/generated/clients/offset-commit-response.ts';
import type { OffsetDeleteRequest } from '../protocol/generated/clients/offset-delete-request.ts';
import type { OffsetDeleteResponse, OffsetDeleteResponseOffsetDeleteResponseTopic } from '../protocol/generated/clients/offset-delete-response.ts';
import type { OffsetFetchRequestOffsetFetchRequestTopics } from '../protocol/generated/clients/offset-fetch-request.ts';
import type {
  OffsetFetchResponseOffsetFetchResponseGroup,
  OffsetFetchResponseOffsetFetchResponsePartitions,
} from '../protocol/generated/clients/offset-fetch-response.ts';
import type { ClassicGroup } from './classic-group.ts';
import type { ClassicGroupManager } from './classic-group-manager.ts';
import { GroupState } from './classic-group-state.ts';
import type { CoordinatorContext } from './coordinator-context.ts';
import {
  offsetCommitRecord,
  offsetCommitTombstone,
  type CoordinatorRecord,
  type OffsetAndMetadata,
} from './coordinator-records.ts';

/** Commits that asked for no explicit retention (OffsetCommit v2-v4 retentionTimeMs, -1 elsewhere). */
const DEFAULT_RETENTION_TIME_MS = -1n;
/** OffsetCommit v1's per-partition commit timestamp when absent. */
const DEFAULT_COMMIT_TIMESTAMP = -1n;
/** OffsetFetch's answer for a partition without a committed offset. */
const INVALID_OFFSET = -1n;

type PartitionOffsets = Map<number, OffsetAndMetadata>;

/** group -> topic -> partition -> offset. Empty maps are pruned. */
export class OffsetStore {
  private readonly byGroup = new Map<string, Map<string, PartitionOffsets>>();

  get(groupId: string, topic: string, partition: number): OffsetAndMetadata | undefined {
    return this.byGroup.get(groupId)?.get(topic)?.get(partition);
  }

  put(groupId: string, topic: string, partition: number, offset: OffsetAndMetadata): void {
    let topics = this.byGroup.get(groupId);
    if (topics === undefined) this.byGroup.set(groupId, (topics = new Map<string, PartitionOffsets>()));
    let partitions = topics.get(topic);
    if (partitions === undefined) topics.set(topic, (partitions = new Map<number, OffsetAndMetadata>()));
    partitions.set(partition, offset);
  }

  remove(groupId: string, topic: string, partition: number): void {
    const topics = this.byGroup.get(groupId);
    const partitions = topics?.get(topic);
    if (topics === undefined || partitions === undefined) return;
    partitions.delete(partition);
    if (partitions.size === 0) topics.delete(topic);
    if (topics.size === 0) this.byGroup.delete(groupId);
  }

  hasGroup(groupId: string): boolean {
    return this.byGroup.has(groupId);
  }

  /** A group's offsets by topic (live view; do not mutate the store while iterating). */
  groupOffsets(groupId: string): ReadonlyMap<string, ReadonlyMap<number, OffsetAndMetadata>> | undefined {
    return this.byGroup.get(groupId);
  }

  *entries(): IterableIterator<{ groupId: string; topic: string; partition: number; offset: OffsetAndMetadata }> {
    for (const [groupId, topics] of this.byGroup) {
      for (const [topic, partitions] of topics) {
        for (const [partition, offset] of partitions) yield { groupId, topic, partition, offset };
      }
    }
  }

  get size(): number {
    let count = 0;
    for (const topics of this.byGroup.values()) for (const partitions of topics.values()) count += partitions.size;
    return count;
  }
}

interface PendingOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: OffsetAndMetadata;
}

const partitionKey = (topic: string, partition: number): string => JSON.stringify([topic, partition]);

export class OffsetManager {
  readonly store = new OffsetStore();
  private readonly ctx: CoordinatorContext;
  private readonly groups: ClassicGroupManager;
  /** group -> partition key -> number of commits in flight for it. */
  private readonly inFlight = new Map<string, Map<string, { topic: string; partition: number; count: number }>>();

  constructor(ctx: CoordinatorContext, groups: ClassicGroupManager) {
    this.ctx = ctx;
    this.groups = groups;
  }

  // ---------------------------------------------------------------- OffsetCommit

  commit(request: OffsetCommitRequest, apiVersion: number): Promise<OffsetCommitResponse> {
    const { groupId, memberId, groupInstanceId } = request;
    const generationId = request.generationIdOrMemberEpoch;
    let group = this.groups.groups.get(groupId);
    let createdSimpleGroup = false;
    if (group === undefined) {
      if (generationId >= 0) {
        // From v9 the group's absence is reported as such; older clients expect ILLEGAL_GENERATION.
        return Promise.resolve(commitErrorResponse(request, apiVersion >= 9 ? ErrorCode.GROUP_ID_NOT_FOUND : ErrorCode.ILLEGAL_GENERATION));
      }
      // An admin client or a consumer without group management: a "simple" group without protocol type.
      group = this.groups.newGroup(groupId);
      createdSimpleGroup = true;
    }
    const validationError = group.validateOffsetCommit(memberId, groupInstanceId, generationId);
    if (validationError !== ErrorCode.NONE) return Promise.resolve(commitErrorResponse(request, validationError));
    // A commit keeps a classic member's session alive.
    if (group.is(GroupState.Stable) || group.is(GroupState.PreparingRebalance)) {
      this.groups.rescheduleHeartbeat(group, group.requireMember(memberId));
    }

    const nowMs = this.ctx.time.nowMs();
    const expireTimestampMs =
      request.retentionTimeMs === DEFAULT_RETENTION_TIME_MS ? null : clampToSafe(nowMs + Number(request.retentionTimeMs));
    const response: OffsetCommitResponse = { throttleTimeMs: 0, topics: [] };
    const records: CoordinatorRecord[] = [];
    const pending: PendingOffset[] = [];
    for (const topic of request.topics) {
      const topicResponse: OffsetCommitResponseOffsetCommitResponseTopic = { name: topic.name, partitions: [] };
      response.topics.push(topicResponse);
      for (const partition of topic.partitions) {
        const metadata = partition.committedMetadata;
        if (metadata !== null && metadata.length > this.ctx.config.offsetMetadataMaxBytes) {
          topicResponse.partitions.push({ partitionIndex: partition.partitionIndex, errorCode: ErrorCode.OFFSET_METADATA_TOO_LARGE });
          continue;
        }
        topicResponse.partitions.push({ partitionIndex: partition.partitionIndex, errorCode: ErrorCode.NONE });
        const offset: OffsetAndMetadata = {
          committedOffset: partition.committedOffset,
          leaderEpoch: partition.committedLeaderEpoch,
          metadata: metadata ?? '',
          commitTimestampMs: partition.commitTimestamp === DEFAULT_COMMIT_TIMESTAMP ? nowMs : Number(partition.commitTimestamp),
          expireTimestampMs,
        };
        records.push(offsetCommitRecord(groupId, topic.name, partition.partitionIndex, offset));
        pending.push({ topic: topic.name, partition: partition.partitionIndex, offset });
      }
    }
    if (records.length === 0) {
      if (createdSimpleGroup) this.dropUnusedSimpleGroup(groupId);
      return Promise.resolve(response);
    }

    this.trackInFlight(groupId, pending, 1);
    return this.ctx.writer.write(records, (errorCode) => {
      this.trackInFlight(groupId, pending, -1);
      if (errorCode !== ErrorCode.NONE) {
        if (createdSimpleGroup) this.dropUnusedSimpleGroup(groupId);
        return commitErrorResponse(request, errorCode);
      }
      for (const p of pending) this.replayOffset(groupId, p.topic, p.partition, p.offset);
      return response;
    });
  }

  /** A simple group created for a commit whose append failed: forget it again unless something else uses it. */
  private dropUnusedSimpleGroup(groupId: string): void {
    const group = this.groups.groups.get(groupId);
    if (group === undefined || !group.is(GroupState.Empty) || group.protocolType !== null || group.generationId !== 0) return;
    if (group.numPendingJoinMembers > 0 || this.store.hasGroup(groupId) || this.inFlight.has(groupId)) return;
    this.groups.groups.delete(groupId);
  }

  private trackInFlight(groupId: string, offsets: readonly PendingOffset[], delta: 1 | -1): void {
    let byPartition = this.inFlight.get(groupId);
    if (byPartition === undefined) this.inFlight.set(groupId, (byPartition = new Map<string, { topic: string; partition: number; count: number }>()));
    for (const { topic, partition } of offsets) {
      const key = partitionKey(topic, partition);
      const entry = byPartition.get(key) ?? { topic, partition, count: 0 };
      entry.count += delta;
      if (entry.count === 0) byPartition.delete(key);
      else byPartition.set(key, entry);
    }
    if (byPartition.size === 0) this.inFlight.delete(groupId);
  }

  hasInFlightCommits(groupId: string): boolean {
    return this.inFlight.has(groupId);
  }

  private isInFlight(groupId: string, topic: string, partition: number): boolean {
    return this.inFlight.get(groupId)?.has(partitionKey(topic, partition)) === true;
  }

  /**
   * Applies one offset record (a commit, or a tombstone when `offset` is null): both for successful appends
   * and for load. Like Kafka, an offset for an unknown group creates a simple group.
   */
  replayOffset(groupId: string, topic: string, partition: number, offset: OffsetAndMetadata | null): void {
    if (offset === null) {
      this.store.remove(groupId, topic, partition);
      return;
    }
    if (!this.groups.groups.has(groupId)) this.groups.newGroup(groupId);
    this.store.put(groupId, topic, partition, offset);
  }

  // ---------------------------------------------------------------- OffsetFetch

  /** One group of an OffsetFetch (v8+ shape); `topics` null means every committed partition. */
  fetch(groupId: string, topics: readonly OffsetFetchRequestOffsetFetchRequestTopics[] | null): OffsetFetchResponseOffsetFetchResponseGroup {
    const group = this.groups.groups.get(groupId);
    const groupMissing = group === undefined || group.is(GroupState.Dead);
    if (topics === null) {
      const all = groupMissing ? undefined : this.store.groupOffsets(groupId);
      return {
        groupId,
        errorCode: ErrorCode.NONE,
        topics: [...(all ?? new Map<string, ReadonlyMap<number, OffsetAndMetadata>>())].map(([name, partitions]) => ({
          name,
          partitions: [...partitions].map(([partitionIndex, offset]) => fetchedPartition(partitionIndex, offset)),
        })),
      };
    }
    return {
      groupId,
      errorCode: ErrorCode.NONE,
      topics: topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitionIndexes.map((partitionIndex) =>
          fetchedPartition(partitionIndex, groupMissing ? undefined : this.store.get(groupId, topic.name, partitionIndex)),
        ),
      })),
    };
  }

  // ---------------------------------------------------------------- OffsetDelete

  delete(request: OffsetDeleteRequest): Promise<OffsetDeleteResponse> {
    const group = this.groups.groups.get(request.groupId);
    if (group === undefined) return Promise.resolve(deleteErrorResponse(ErrorCode.GROUP_ID_NOT_FOUND));
    const validationError = group.validateOffsetDelete();
    if (validationError !== ErrorCode.NONE) return Promise.resolve(deleteErrorResponse(validationError));

    const records: CoordinatorRecord[] = [];
    const tombstoned: { topic: string; partition: number }[] = [];
    const topics: OffsetDeleteResponseOffsetDeleteResponseTopic[] = request.topics.map((topic) => {
      if (group.isSubscribedToTopic(topic.name)) {
        return {
          name: topic.name,
          partitions: topic.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC })),
        };
      }
      return {
        name: topic.name,
        partitions: topic.partitions.map((p) => {
          if (this.hasOffsetOrCommitInFlight(request.groupId, topic.name, p.partitionIndex)) {
            records.push(offsetCommitTombstone(request.groupId, topic.name, p.partitionIndex));
            tombstoned.push({ topic: topic.name, partition: p.partitionIndex });
          }
          return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE };
        }),
      };
    });
    const response: OffsetDeleteResponse = { errorCode: ErrorCode.NONE, throttleTimeMs: 0, topics };
    if (records.length === 0) return Promise.resolve(response);
    return this.ctx.writer.write(records, (errorCode) => {
      if (errorCode !== ErrorCode.NONE) return deleteErrorResponse(errorCode);
      for (const t of tombstoned) this.replayOffset(request.groupId, t.topic, t.partition, null);
      return response;
    });
  }

  private hasOffsetOrCommitInFlight(groupId: string, topic: string, partition: number): boolean {
    return this.store.get(groupId, topic, partition) !== undefined || this.isInFlight(groupId, topic, partition);
  }

  /** Tombstones for every offset of a group being deleted, including commits still in flight. */
  tombstonesForGroup(groupId: string): { records: CoordinatorRecord[]; partitions: { topic: string; partition: number }[] } {
    const partitions = new Map<string, { topic: string; partition: number }>();
    for (const [topic, byPartition] of this.store.groupOffsets(groupId) ?? []) {
      for (const partition of byPartition.keys()) partitions.set(partitionKey(topic, partition), { topic, partition });
    }
    for (const [key, entry] of this.inFlight.get(groupId) ?? []) partitions.set(key, { topic: entry.topic, partition: entry.partition });
    const list = [...partitions.values()];
    return { records: list.map((p) => offsetCommitTombstone(groupId, p.topic, p.partition)), partitions: list };
  }

  // ---------------------------------------------------------------- Retention

  /**
   * Adds tombstones for the group's expired offsets (Kafka's cleanupExpiredOffsets) to `records` and returns
   * whether every offset of the group expired, i.e. whether an Empty group may be deleted too.
   */
  collectExpiredOffsets(group: ClassicGroup, records: CoordinatorRecord[], expired: { topic: string; partition: number }[]): boolean {
    const offsets = this.store.groupOffsets(group.groupId);
    if (offsets === undefined) return true;
    const base = group.offsetExpirationBase();
    if (base === null) return false;
    const nowMs = this.ctx.time.nowMs();
    const retentionMs = this.ctx.config.offsetsRetentionMs;
    let allExpired = true;
    for (const [topic, partitions] of offsets) {
      if (group.isSubscribedToTopic(topic)) {
        allExpired = false;
        continue;
      }
      for (const [partition, offset] of partitions) {
        const isExpired =
          offset.expireTimestampMs !== null
            ? nowMs >= offset.expireTimestampMs // an explicit retention from OffsetCommit v2-v4
            : nowMs - base(offset.commitTimestampMs) >= retentionMs;
        if (isExpired && !this.isInFlight(group.groupId, topic, partition)) {
          records.push(offsetCommitTombstone(group.groupId, topic, partition));
          expired.push({ topic, partition });
        } else {
          allExpired = false;
        }
      }
    }
    return allExpired;
  }
}

function clampToSafe(ms: number): number {
  return Math.min(Math.max(ms, Number.MIN_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
}

function fetchedPartition(partitionIndex: number, offset: OffsetAndMetadata | undefined): OffsetFetchResponseOffsetFetchResponsePartitions {
  return {
    partitionIndex,
    committedOffset: offset?.committedOffset ?? INVALID_OFFSET,
    committedLeaderEpoch: offset?.leaderEpoch ?? -1,
    metadata: offset?.metadata ?? '',
    errorCode: ErrorCode.NONE,
  };
}

/** Kafka's OffsetCommitRequest.getErrorResponse: the error on every partition of the request. */
export function commitErrorResponse(request: OffsetCommitRequest, errorCode: number): OffsetCommitResponse {
  return {
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
    })),
  };
}

export function deleteErrorResponse(errorCode: number): OffsetDeleteResponse {
  return { errorCode, throttleTimeMs: 0, topics: [] };
}

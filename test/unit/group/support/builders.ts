/** Request builders with sensible defaults for group coordinator tests. */
import { Writer } from '../../../../broker/src/protocol/wire/writer.ts';
import { writeConsumerProtocolSubscription } from '../../../../broker/src/protocol/generated/clients/consumer-protocol-subscription.ts';
import { defaultJoinGroupRequest, type JoinGroupRequest, type JoinGroupRequestJoinGroupRequestProtocol } from '../../../../broker/src/protocol/generated/clients/join-group-request.ts';
import { defaultSyncGroupRequest, type SyncGroupRequest } from '../../../../broker/src/protocol/generated/clients/sync-group-request.ts';
import { defaultHeartbeatRequest, type HeartbeatRequest } from '../../../../broker/src/protocol/generated/clients/heartbeat-request.ts';
import { defaultLeaveGroupRequest, type LeaveGroupRequest } from '../../../../broker/src/protocol/generated/clients/leave-group-request.ts';
import { defaultOffsetCommitRequest, type OffsetCommitRequest } from '../../../../broker/src/protocol/generated/clients/offset-commit-request.ts';
import { defaultOffsetFetchRequest, type OffsetFetchRequest } from '../../../../broker/src/protocol/generated/clients/offset-fetch-request.ts';
import type { RequestContext } from '../../../../broker/src/group/index.ts';

export const GROUP_ID = 'orders-consumers';
export const TOPIC = 'orders';

export function requestContext(apiVersion: number, clientId = 'consumer', clientHost = '/10.0.0.1'): RequestContext {
  return { apiVersion, clientId, clientHost };
}

/** Consumer protocol member metadata: int16 version, then a ConsumerProtocolSubscription. */
export function consumerSubscription(topics: readonly string[], version = 1): Buffer {
  const w = new Writer();
  w.int16(version);
  writeConsumerProtocolSubscription(w, { topics: [...topics], userData: null, ownedPartitions: [], generationId: -1, rackId: null }, version);
  return w.toBuffer();
}

export function consumerProtocols(
  topics: readonly string[] = [TOPIC],
  names: readonly string[] = ['range'],
): JoinGroupRequestJoinGroupRequestProtocol[] {
  return names.map((name) => ({ name, metadata: consumerSubscription(topics) }));
}

export function joinRequest(fields: Partial<JoinGroupRequest> = {}): JoinGroupRequest {
  return {
    ...defaultJoinGroupRequest(),
    groupId: GROUP_ID,
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 30_000,
    protocolType: 'consumer',
    protocols: consumerProtocols(),
    ...fields,
  };
}

export function syncRequest(fields: Partial<SyncGroupRequest> = {}): SyncGroupRequest {
  return { ...defaultSyncGroupRequest(), groupId: GROUP_ID, ...fields };
}

export function heartbeatRequest(fields: Partial<HeartbeatRequest> = {}): HeartbeatRequest {
  return { ...defaultHeartbeatRequest(), groupId: GROUP_ID, ...fields };
}

export function leaveRequest(fields: Partial<LeaveGroupRequest> = {}): LeaveGroupRequest {
  return { ...defaultLeaveGroupRequest(), groupId: GROUP_ID, ...fields };
}

export interface OffsetToCommit {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly metadata?: string | null;
  readonly leaderEpoch?: number;
}

export function commitRequest(
  memberId: string,
  generationId: number,
  offsets: readonly OffsetToCommit[],
  fields: Partial<OffsetCommitRequest> = {},
): OffsetCommitRequest {
  const byTopic = new Map<string, OffsetToCommit[]>();
  for (const o of offsets) byTopic.set(o.topic, [...(byTopic.get(o.topic) ?? []), o]);
  return {
    ...defaultOffsetCommitRequest(),
    groupId: GROUP_ID,
    memberId,
    generationIdOrMemberEpoch: generationId,
    topics: [...byTopic].map(([name, list]) => ({
      name,
      partitions: list.map((o) => ({
        partitionIndex: o.partition,
        committedOffset: o.offset,
        committedLeaderEpoch: o.leaderEpoch ?? -1,
        commitTimestamp: -1n,
        committedMetadata: o.metadata === undefined ? '' : o.metadata,
      })),
    })),
    ...fields,
  };
}

/** OffsetFetch v8+ for several groups; `topics` null fetches every committed partition. */
export function fetchGroupsRequest(groups: readonly { groupId: string; topics: { name: string; partitionIndexes: number[] }[] | null }[]): OffsetFetchRequest {
  return {
    ...defaultOffsetFetchRequest(),
    groups: groups.map((g) => ({ groupId: g.groupId, memberId: null, memberEpoch: -1, topics: g.topics })),
  };
}

/** OffsetFetch v0-v7 for one group. */
export function fetchRequest(groupId: string, topics: { name: string; partitionIndexes: number[] }[] | null): OffsetFetchRequest {
  return { ...defaultOffsetFetchRequest(), groupId, topics };
}

/** Test assignments: int32 generation, then the partition list, so a member can tell which leader made it. */
export function encodeAssignment(generationId: number, partitions: readonly number[]): Buffer {
  const buf = Buffer.alloc(8 + 4 * partitions.length);
  buf.writeInt32BE(generationId, 0);
  buf.writeInt32BE(partitions.length, 4);
  partitions.forEach((p, i) => buf.writeInt32BE(p, 8 + 4 * i));
  return buf;
}

export function decodeAssignment(buf: Buffer): { generationId: number; partitions: number[] } | null {
  if (buf.length < 8) return null;
  const count = buf.readInt32BE(4);
  if (buf.length !== 8 + 4 * count) return null;
  return { generationId: buf.readInt32BE(0), partitions: Array.from({ length: count }, (_, i) => buf.readInt32BE(8 + 4 * i)) };
}

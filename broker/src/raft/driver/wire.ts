/**
 * Core messages <-> the generated Kafka RPC types (Vote 52, BeginQuorumEpoch 53, EndQuorumEpoch 54,
 * Fetch 1 on __cluster_metadata-0, FetchSnapshot 59, DescribeQuorum 55), as Kafka's KafkaRaftClient and
 * RaftUtil build and validate them; plus the KIP-853 admin RPCs AddRaftVoter 80, RemoveRaftVoter 81 and
 * UpdateRaftVoter 82 (validation and responses; the quorum answers them), and the replica directory ids
 * (Vote v1 candidate/voter, BeginQuorumEpoch v1 voter, Fetch v17 and FetchSnapshot v1 replica).
 *
 * Requests carry the sender's cluster id (a mismatch is answered with INCONSISTENT_CLUSTER_ID), the
 * single topic partition `__cluster_metadata-0` (Fetch v13+ by topic id 0...01), and the sender's replica
 * id (Fetch: ReplicaState.ReplicaId from v15, ReplicaId before; Vote: CandidateId; Begin/EndQuorumEpoch:
 * LeaderId; FetchSnapshot: ReplicaId).
 *
 * Pre-vote (KIP-996) is VoteRequest v2's PreVote field in Kafka 4.0; the generated codec stops at v1, so
 * until it is regenerated a pre-vote travels as a tagged field of the partition (tag PRE_VOTE_TAG, one byte
 * 1). Between Millrace controllers that is equivalent; a Kafka voter would ignore the tag and answer a
 * real vote for epoch + 1, which stays safe (the candidate then campaigns in that epoch).
 */
import {
  defaultFetchResponsePartitionData,
  type AddRaftVoterResponse,
  type RemoveRaftVoterResponse,
  type UpdateRaftVoterResponse,
  type BeginQuorumEpochRequest as WireBeginQuorumEpochRequest,
  type BeginQuorumEpochResponse as WireBeginQuorumEpochResponse,
  type DescribeQuorumResponse as WireDescribeQuorumResponse,
  type EndQuorumEpochRequest as WireEndQuorumEpochRequest,
  type EndQuorumEpochResponse as WireEndQuorumEpochResponse,
  type FetchRequest as WireFetchRequest,
  type FetchResponse as WireFetchResponse,
  type FetchSnapshotRequest as WireFetchSnapshotRequest,
  type FetchSnapshotResponse as WireFetchSnapshotResponse,
  type VoteRequest as WireVoteRequest,
  type VoteResponse as WireVoteResponse,
} from '../../protocol/generated/index.ts';
import { METADATA_TOPIC_ID, ZERO_UUID } from '../../protocol/wire/uuid.ts';
import type { TaggedField } from '../../protocol/wire/reader.ts';
import {
  RaftErrorCode,
  type BeginQuorumEpochRequest,
  type BeginQuorumEpochResponse,
  type EndQuorumEpochRequest,
  type EndQuorumEpochResponse,
  type FetchRequest,
  type FetchResponse,
  type FetchSnapshotRequest,
  type FetchSnapshotResponse,
  type RaftRequest,
  type RaftResponse,
  type VoteRequest,
  type VoteResponse,
} from '../core/messages.ts';
import type { QuorumDescription } from '../core/raft-node.ts';
import type { VoterEndpoint } from '../core/voter-set.ts';
import { decodeEntries, encodeEntries, toOffset } from './record-codec.ts';
import { METADATA_PARTITION, METADATA_TOPIC } from './metadata-log-store.ts';

export const ApiKeys = {
  FETCH: 1,
  API_VERSIONS: 18,
  VOTE: 52,
  BEGIN_QUORUM_EPOCH: 53,
  END_QUORUM_EPOCH: 54,
  DESCRIBE_QUORUM: 55,
  FETCH_SNAPSHOT: 59,
  ADD_RAFT_VOTER: 80,
  REMOVE_RAFT_VOTER: 81,
  UPDATE_RAFT_VOTER: 82,
} as const;
export type RaftApiKey = (typeof ApiKeys)[Exclude<keyof typeof ApiKeys, 'API_VERSIONS'>];
/** The KIP-853 voter-change APIs (answered by the leader after the change, not by a single core step). */
export type VoterChangeApiKey = typeof ApiKeys.ADD_RAFT_VOTER | typeof ApiKeys.REMOVE_RAFT_VOTER | typeof ApiKeys.UPDATE_RAFT_VOTER;

/** The raft APIs the driver serves, with the versions its codecs implement (what a controller listener advertises). */
export const RAFT_API_VERSIONS: ReadonlyMap<RaftApiKey, { readonly min: number; readonly max: number }> = new Map([
  // Raft fetches need LastFetchedEpoch (v12+).
  [ApiKeys.FETCH, { min: 12, max: 17 }],
  [ApiKeys.VOTE, { min: 0, max: 1 }],
  [ApiKeys.BEGIN_QUORUM_EPOCH, { min: 0, max: 1 }],
  [ApiKeys.END_QUORUM_EPOCH, { min: 0, max: 1 }],
  [ApiKeys.DESCRIBE_QUORUM, { min: 0, max: 2 }],
  [ApiKeys.FETCH_SNAPSHOT, { min: 0, max: 1 }],
  [ApiKeys.ADD_RAFT_VOTER, { min: 0, max: 0 }],
  [ApiKeys.REMOVE_RAFT_VOTER, { min: 0, max: 0 }],
  [ApiKeys.UPDATE_RAFT_VOTER, { min: 0, max: 0 }],
]);

/** The kraft.version range this node supports (ApiVersions SupportedFeatures `kraft.version`, KIP-853). */
export const KRAFT_VERSION_FEATURE = { name: 'kraft.version', minVersion: 0, maxVersion: 1 } as const;

/** Millrace's carrier for KIP-996's PreVote until the codec has VoteRequest v2 (see the module comment). */
export const PRE_VOTE_TAG = 0x4d52;

export const WireError = {
  NONE: 0,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  NOT_LEADER_OR_FOLLOWER: 6,
  REQUEST_TIMED_OUT: 7,
  BROKER_NOT_AVAILABLE: 8,
  UNSUPPORTED_VERSION: 35,
  INVALID_REQUEST: 42,
  FENCED_LEADER_EPOCH: 74,
  UNKNOWN_LEADER_EPOCH: 75,
  INCONSISTENT_VOTER_SET: 94,
  SNAPSHOT_NOT_FOUND: 98,
  POSITION_OUT_OF_RANGE: 99,
  UNKNOWN_TOPIC_ID: 100,
  INCONSISTENT_CLUSTER_ID: 104,
  INVALID_VOTER_KEY: 125,
  DUPLICATE_VOTER: 126,
  VOTER_NOT_FOUND: 127,
} as const;

export interface Endpoint {
  readonly id: number;
  readonly host: string;
  readonly port: number;
}

/** What the mapping needs to know about this node and the cluster. */
export interface WireContext {
  readonly clusterId: string;
  readonly localId: number;
  readonly listenerName: string;
  /** Controller endpoints by id (for NodeEndpoints / LeaderEndpoints); the driver keeps it current. */
  readonly endpoints: ReadonlyMap<number, Endpoint>;
  /** This replica's directory id (KIP-853); ZERO_UUID / absent when unknown. */
  readonly localDirectoryId?: string;
  /** The directory id of voter `id` in the voter set in effect (ZERO_UUID when unknown). */
  readonly directoryIdOf?: (id: number) => string;
  readonly fetchMaxWaitMs: number;
  readonly fetchMaxBytes: number;
  readonly snapshotMaxBytes: number;
}

const leaderOrNone = (id: number | null): number => id ?? -1;
const localDirectory = (ctx: WireContext): string => ctx.localDirectoryId ?? ZERO_UUID;
const directoryOf = (ctx: WireContext, id: number): string => ctx.directoryIdOf?.(id) ?? ZERO_UUID;
/** Kafka's isValidVoterKey: a request naming this replica's id, and directory id when both are known. */
const isLocalKey = (ctx: WireContext, id: number, directoryId: string): boolean =>
  id === ctx.localId && (directoryId === ZERO_UUID || localDirectory(ctx) === ZERO_UUID || directoryId === localDirectory(ctx));
const optionalLeader = (id: number): number | null => (id < 0 ? null : id);
const knownError = (code: number): RaftErrorCode =>
  (Object.values(RaftErrorCode) as number[]).includes(code) ? (code as RaftErrorCode) : RaftErrorCode.NOT_LEADER_OR_FOLLOWER;

function endpointsOf(ctx: WireContext, ids: readonly (number | null)[]): { nodeId: number; host: string; port: number }[] {
  const out: { nodeId: number; host: string; port: number }[] = [];
  for (const id of ids) {
    const e = id === null ? undefined : ctx.endpoints.get(id);
    if (e !== undefined && !out.some((o) => o.nodeId === e.id)) out.push({ nodeId: e.id, host: e.host, port: e.port });
  }
  return out;
}

function leaderEndpoints(ctx: WireContext): { name: string; host: string; port: number }[] {
  const e = ctx.endpoints.get(ctx.localId);
  return e === undefined ? [] : [{ name: ctx.listenerName, host: e.host, port: e.port }];
}

// ---- outbound requests ---------------------------------------------------------------------------------

export type OutboundRequest =
  | { readonly apiKey: typeof ApiKeys.VOTE; readonly body: WireVoteRequest }
  | { readonly apiKey: typeof ApiKeys.BEGIN_QUORUM_EPOCH; readonly body: WireBeginQuorumEpochRequest }
  | { readonly apiKey: typeof ApiKeys.END_QUORUM_EPOCH; readonly body: WireEndQuorumEpochRequest }
  | { readonly apiKey: typeof ApiKeys.FETCH; readonly body: WireFetchRequest }
  | { readonly apiKey: typeof ApiKeys.FETCH_SNAPSHOT; readonly body: WireFetchSnapshotRequest };

export function apiKeyOf(request: RaftRequest): RaftApiKey {
  switch (request.kind) {
    case 'VoteRequest':
      return ApiKeys.VOTE;
    case 'BeginQuorumEpochRequest':
      return ApiKeys.BEGIN_QUORUM_EPOCH;
    case 'EndQuorumEpochRequest':
      return ApiKeys.END_QUORUM_EPOCH;
    case 'FetchRequest':
      return ApiKeys.FETCH;
    case 'FetchSnapshotRequest':
      return ApiKeys.FETCH_SNAPSHOT;
  }
}

/** The wire request for a core request, at `version`. */
export function encodeRequest(ctx: WireContext, request: RaftRequest, version: number): OutboundRequest {
  switch (request.kind) {
    case 'VoteRequest': {
      const tagged: TaggedField[] = request.preVote ? [{ tag: PRE_VOTE_TAG, data: Buffer.from([1]) }] : [];
      return {
        apiKey: ApiKeys.VOTE,
        body: {
          clusterId: ctx.clusterId,
          voterId: request.destinationId,
          topics: [
            {
              topicName: METADATA_TOPIC,
              partitions: [
                {
                  partitionIndex: METADATA_PARTITION,
                  candidateEpoch: request.candidateEpoch,
                  candidateId: request.candidateId,
                  candidateDirectoryId: version >= 1 ? localDirectory(ctx) : ZERO_UUID,
                  voterDirectoryId: version >= 1 ? directoryOf(ctx, request.destinationId) : ZERO_UUID,
                  lastOffsetEpoch: request.lastOffsetEpoch,
                  lastOffset: BigInt(request.lastOffset),
                  ...(tagged.length > 0 ? { _unknownTaggedFields: tagged } : {}),
                },
              ],
            },
          ],
        },
      };
    }
    case 'BeginQuorumEpochRequest':
      return {
        apiKey: ApiKeys.BEGIN_QUORUM_EPOCH,
        body: {
          clusterId: ctx.clusterId,
          voterId: request.destinationId,
          topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: METADATA_PARTITION, voterDirectoryId: version >= 1 ? directoryOf(ctx, request.destinationId) : ZERO_UUID, leaderId: request.leaderId, leaderEpoch: request.leaderEpoch }] }],
          leaderEndpoints: leaderEndpoints(ctx),
        },
      };
    case 'EndQuorumEpochRequest':
      return {
        apiKey: ApiKeys.END_QUORUM_EPOCH,
        body: {
          clusterId: ctx.clusterId,
          topics: [
            {
              topicName: METADATA_TOPIC,
              partitions: [
                {
                  partitionIndex: METADATA_PARTITION,
                  leaderId: request.leaderId,
                  leaderEpoch: request.leaderEpoch,
                  preferredSuccessors: version === 0 ? [...request.preferredSuccessors] : [],
                  preferredCandidates: version >= 1 ? request.preferredSuccessors.map((candidateId) => ({ candidateId, candidateDirectoryId: directoryOf(ctx, candidateId) })) : [],
                },
              ],
            },
          ],
          leaderEndpoints: leaderEndpoints(ctx),
        },
      };
    case 'FetchRequest':
      return {
        apiKey: ApiKeys.FETCH,
        body: {
          clusterId: ctx.clusterId,
          replicaId: version < 15 ? ctx.localId : -1,
          replicaState: { replicaId: version >= 15 ? ctx.localId : -1, replicaEpoch: -1n },
          maxWaitMs: ctx.fetchMaxWaitMs,
          minBytes: 0,
          maxBytes: ctx.fetchMaxBytes,
          isolationLevel: 0,
          sessionId: 0,
          sessionEpoch: -1,
          topics: [
            {
              topic: METADATA_TOPIC,
              topicId: METADATA_TOPIC_ID,
              partitions: [
                {
                  partition: METADATA_PARTITION,
                  currentLeaderEpoch: request.currentLeaderEpoch,
                  fetchOffset: BigInt(request.fetchOffset),
                  lastFetchedEpoch: request.lastFetchedEpoch,
                  logStartOffset: -1n,
                  partitionMaxBytes: ctx.fetchMaxBytes,
                  replicaDirectoryId: version >= 17 ? localDirectory(ctx) : ZERO_UUID,
                },
              ],
            },
          ],
          forgottenTopicsData: [],
          rackId: '',
        },
      };
    case 'FetchSnapshotRequest':
      return {
        apiKey: ApiKeys.FETCH_SNAPSHOT,
        body: {
          clusterId: ctx.clusterId,
          replicaId: ctx.localId,
          maxBytes: ctx.snapshotMaxBytes,
          topics: [
            {
              name: METADATA_TOPIC,
              partitions: [
                {
                  partition: METADATA_PARTITION,
                  currentLeaderEpoch: request.currentLeaderEpoch,
                  snapshotId: { endOffset: BigInt(request.snapshotId.endOffset), epoch: request.snapshotId.epoch },
                  position: BigInt(request.position),
                  replicaDirectoryId: version >= 1 ? localDirectory(ctx) : ZERO_UUID,
                },
              ],
            },
          ],
        },
      };
  }
}

// ---- inbound responses ---------------------------------------------------------------------------------

/** Why a response could not become a core message (the request then counts as failed). */
export class ResponseError extends Error {
  override readonly name = 'ResponseError';
  readonly errorCode: number;
  constructor(message: string, errorCode: number) {
    super(message);
    this.errorCode = errorCode;
  }
}

function single<T>(items: readonly { readonly partitions: readonly T[] }[] | undefined, what: string): T {
  const partition = items?.[0]?.partitions[0];
  if (items?.length !== 1 || items[0]?.partitions.length !== 1 || partition === undefined) throw new ResponseError(`${what}: expected one partition of ${METADATA_TOPIC}`, WireError.INVALID_REQUEST);
  return partition;
}

function topLevel(errorCode: number, what: string): void {
  if (errorCode !== WireError.NONE) throw new ResponseError(`${what}: error ${errorCode}`, errorCode);
}

/** The core response for the wire response to `request` (echoing what the request asked). */
export function decodeResponse(request: RaftRequest, response: unknown): RaftResponse {
  const envelope = { sourceId: request.destinationId, destinationId: request.sourceId };
  switch (request.kind) {
    case 'VoteRequest': {
      const r = response as WireVoteResponse;
      topLevel(r.errorCode, 'Vote');
      const p = single(r.topics, 'Vote');
      return { kind: 'VoteResponse', ...envelope, errorCode: knownError(p.errorCode), leaderEpoch: p.leaderEpoch, leaderId: optionalLeader(p.leaderId), voteGranted: p.voteGranted, preVote: request.preVote } satisfies VoteResponse;
    }
    case 'BeginQuorumEpochRequest': {
      const r = response as WireBeginQuorumEpochResponse;
      topLevel(r.errorCode, 'BeginQuorumEpoch');
      const p = single(r.topics, 'BeginQuorumEpoch');
      return { kind: 'BeginQuorumEpochResponse', ...envelope, errorCode: knownError(p.errorCode), leaderEpoch: p.leaderEpoch, leaderId: optionalLeader(p.leaderId) } satisfies BeginQuorumEpochResponse;
    }
    case 'EndQuorumEpochRequest': {
      const r = response as WireEndQuorumEpochResponse;
      topLevel(r.errorCode, 'EndQuorumEpoch');
      const p = single(r.topics, 'EndQuorumEpoch');
      return { kind: 'EndQuorumEpochResponse', ...envelope, errorCode: knownError(p.errorCode), leaderEpoch: p.leaderEpoch, leaderId: optionalLeader(p.leaderId) } satisfies EndQuorumEpochResponse;
    }
    case 'FetchRequest': {
      const r = response as WireFetchResponse;
      topLevel(r.errorCode, 'Fetch');
      const p = single(r.responses, 'Fetch');
      if (p.errorCode !== WireError.NONE && p.errorCode !== WireError.NOT_LEADER_OR_FOLLOWER && p.errorCode !== WireError.FENCED_LEADER_EPOCH) {
        throw new ResponseError(`Fetch: partition error ${p.errorCode}`, p.errorCode);
      }
      const diverging = p.divergingEpoch.epoch >= 0 ? { epoch: p.divergingEpoch.epoch, endOffset: toOffset(p.divergingEpoch.endOffset, 'diverging end offset') } : null;
      const snapshotId = p.snapshotId.epoch >= 0 && p.snapshotId.endOffset >= 0n ? { endOffset: toOffset(p.snapshotId.endOffset, 'snapshot end offset'), epoch: p.snapshotId.epoch } : null;
      const records = p.records === null || p.records.length === 0 || p.errorCode !== WireError.NONE ? [] : decodeEntries(p.records, 'fetch response');
      return {
        kind: 'FetchResponse',
        ...envelope,
        errorCode: knownError(p.errorCode),
        leaderEpoch: p.currentLeader.leaderEpoch,
        leaderId: optionalLeader(p.currentLeader.leaderId),
        highWatermark: p.highWatermark < 0n ? 0 : toOffset(p.highWatermark, 'high watermark'),
        logStartOffset: p.logStartOffset < 0n ? 0 : toOffset(p.logStartOffset, 'log start offset'),
        fetchOffset: request.fetchOffset,
        lastFetchedEpoch: request.lastFetchedEpoch,
        divergingEpoch: diverging,
        snapshotId,
        records,
      } satisfies FetchResponse;
    }
    case 'FetchSnapshotRequest': {
      const r = response as WireFetchSnapshotResponse;
      topLevel(r.errorCode, 'FetchSnapshot');
      const p = single(r.topics, 'FetchSnapshot');
      return {
        kind: 'FetchSnapshotResponse',
        ...envelope,
        errorCode: knownError(p.errorCode),
        leaderEpoch: p.currentLeader.leaderEpoch,
        leaderId: optionalLeader(p.currentLeader.leaderId),
        // Answer the question we asked: a response for another snapshot or position is ignored by the core.
        snapshotId: p.errorCode === WireError.NONE ? { endOffset: toOffset(p.snapshotId.endOffset, 'snapshot end offset'), epoch: p.snapshotId.epoch } : request.snapshotId,
        size: p.errorCode === WireError.NONE ? toOffset(p.size, 'snapshot size') : -1,
        position: p.errorCode === WireError.NONE ? toOffset(p.position, 'snapshot position') : request.position,
        bytes: p.unalignedRecords,
      } satisfies FetchSnapshotResponse;
    }
  }
}

// ---- inbound requests ----------------------------------------------------------------------------------

/** An inbound request as the core sees it, or the wire response to send without asking the core. */
export type DecodedRequest = { readonly ok: true; readonly message: RaftRequest; readonly maxWaitMs: number } | { readonly ok: false; readonly response: unknown };

const validCluster = (ctx: WireContext, clusterId: string | null): boolean => clusterId === null || clusterId === ctx.clusterId;

export function decodeRequest(ctx: WireContext, apiKey: RaftApiKey, version: number, body: unknown): DecodedRequest {
  const destinationId = ctx.localId;
  switch (apiKey) {
    case ApiKeys.VOTE: {
      const r = body as WireVoteRequest;
      if (!validCluster(ctx, r.clusterId)) return { ok: false, response: voteError(WireError.INCONSISTENT_CLUSTER_ID) };
      const p = r.topics[0]?.partitions[0];
      if (r.topics.length !== 1 || r.topics[0]?.topicName !== METADATA_TOPIC || r.topics[0].partitions.length !== 1 || p?.partitionIndex !== METADATA_PARTITION) {
        return { ok: false, response: voteError(WireError.INVALID_REQUEST) };
      }
      if (version >= 1 && !isLocalKey(ctx, r.voterId, p.voterDirectoryId)) return { ok: false, response: voteError(WireError.INVALID_VOTER_KEY) };
      const preVote = p._unknownTaggedFields?.some((f) => f.tag === PRE_VOTE_TAG && f.data[0] === 1) ?? false;
      return {
        ok: true,
        maxWaitMs: 0,
        message: { kind: 'VoteRequest', sourceId: p.candidateId, destinationId, candidateEpoch: p.candidateEpoch, candidateId: p.candidateId, lastOffsetEpoch: p.lastOffsetEpoch, lastOffset: toOffset(p.lastOffset, 'last offset'), preVote } satisfies VoteRequest,
      };
    }
    case ApiKeys.BEGIN_QUORUM_EPOCH: {
      const r = body as WireBeginQuorumEpochRequest;
      if (!validCluster(ctx, r.clusterId)) return { ok: false, response: beginError(WireError.INCONSISTENT_CLUSTER_ID) };
      const p = r.topics[0]?.partitions[0];
      if (r.topics.length !== 1 || r.topics[0]?.topicName !== METADATA_TOPIC || r.topics[0].partitions.length !== 1 || p?.partitionIndex !== METADATA_PARTITION) {
        return { ok: false, response: beginError(WireError.INVALID_REQUEST) };
      }
      if (version >= 1 && !isLocalKey(ctx, r.voterId, p.voterDirectoryId)) return { ok: false, response: beginError(WireError.INVALID_VOTER_KEY) };
      return { ok: true, maxWaitMs: 0, message: { kind: 'BeginQuorumEpochRequest', sourceId: p.leaderId, destinationId, leaderEpoch: p.leaderEpoch, leaderId: p.leaderId } satisfies BeginQuorumEpochRequest };
    }
    case ApiKeys.END_QUORUM_EPOCH: {
      const r = body as WireEndQuorumEpochRequest;
      if (!validCluster(ctx, r.clusterId)) return { ok: false, response: endError(WireError.INCONSISTENT_CLUSTER_ID) };
      const p = r.topics[0]?.partitions[0];
      if (r.topics.length !== 1 || r.topics[0]?.topicName !== METADATA_TOPIC || r.topics[0].partitions.length !== 1 || p?.partitionIndex !== METADATA_PARTITION) {
        return { ok: false, response: endError(WireError.INVALID_REQUEST) };
      }
      const preferredSuccessors = version >= 1 ? p.preferredCandidates.map((c) => c.candidateId) : p.preferredSuccessors;
      return { ok: true, maxWaitMs: 0, message: { kind: 'EndQuorumEpochRequest', sourceId: p.leaderId, destinationId, leaderEpoch: p.leaderEpoch, leaderId: p.leaderId, preferredSuccessors } satisfies EndQuorumEpochRequest };
    }
    case ApiKeys.FETCH: {
      const r = body as WireFetchRequest;
      if (!validCluster(ctx, r.clusterId)) return { ok: false, response: { throttleTimeMs: 0, errorCode: WireError.INCONSISTENT_CLUSTER_ID, sessionId: 0, responses: [], nodeEndpoints: [] } satisfies WireFetchResponse };
      const topic = r.topics[0];
      const p = topic?.partitions[0];
      const sameTopic = version >= 13 ? topic?.topicId === METADATA_TOPIC_ID : topic?.topic === METADATA_TOPIC;
      if (r.topics.length !== 1 || topic === undefined || topic.partitions.length !== 1 || !sameTopic || p?.partition !== METADATA_PARTITION) {
        return { ok: false, response: { throttleTimeMs: 0, errorCode: WireError.INVALID_REQUEST, sessionId: 0, responses: [], nodeEndpoints: [] } satisfies WireFetchResponse };
      }
      const replicaId = version >= 15 ? r.replicaState.replicaId : r.replicaId;
      if (replicaId < 0 || p.fetchOffset < 0n || p.lastFetchedEpoch < 0 || p.lastFetchedEpoch > p.currentLeaderEpoch || r.maxWaitMs < 0) {
        return { ok: false, response: fetchPartitionError(ctx, version, WireError.INVALID_REQUEST) };
      }
      return {
        ok: true,
        maxWaitMs: r.maxWaitMs,
        message: {
          kind: 'FetchRequest',
          sourceId: replicaId,
          destinationId,
          currentLeaderEpoch: p.currentLeaderEpoch,
          fetchOffset: toOffset(p.fetchOffset, 'fetch offset'),
          lastFetchedEpoch: p.lastFetchedEpoch,
          ...(version >= 17 && p.replicaDirectoryId !== ZERO_UUID ? { replicaDirectoryId: p.replicaDirectoryId } : {}),
        } satisfies FetchRequest,
      };
    }
    case ApiKeys.FETCH_SNAPSHOT: {
      const r = body as WireFetchSnapshotRequest;
      if (!validCluster(ctx, r.clusterId)) return { ok: false, response: { throttleTimeMs: 0, errorCode: WireError.INCONSISTENT_CLUSTER_ID, topics: [], nodeEndpoints: [] } satisfies WireFetchSnapshotResponse };
      const p = r.topics[0]?.partitions[0];
      if (r.topics.length !== 1 || r.topics[0]?.name !== METADATA_TOPIC || r.topics[0].partitions.length !== 1 || p?.partition !== METADATA_PARTITION || r.replicaId < 0) {
        return { ok: false, response: { throttleTimeMs: 0, errorCode: WireError.INVALID_REQUEST, topics: [], nodeEndpoints: [] } satisfies WireFetchSnapshotResponse };
      }
      if (p.position < 0n || p.position > BigInt(Number.MAX_SAFE_INTEGER) || p.snapshotId.endOffset < 0n) {
        return { ok: false, response: snapshotPartitionError(WireError.POSITION_OUT_OF_RANGE, p.snapshotId, p.position) };
      }
      return {
        ok: true,
        maxWaitMs: 0,
        message: {
          kind: 'FetchSnapshotRequest',
          sourceId: r.replicaId,
          destinationId,
          currentLeaderEpoch: p.currentLeaderEpoch,
          snapshotId: { endOffset: toOffset(p.snapshotId.endOffset, 'snapshot end offset'), epoch: p.snapshotId.epoch },
          position: toOffset(p.position, 'snapshot position'),
        } satisfies FetchSnapshotRequest,
      };
    }
    case ApiKeys.DESCRIBE_QUORUM:
    case ApiKeys.ADD_RAFT_VOTER:
    case ApiKeys.REMOVE_RAFT_VOTER:
    case ApiKeys.UPDATE_RAFT_VOTER:
      throw new Error(`API ${apiKey} is not answered by a single core step`);
  }
}

function voteError(errorCode: number): WireVoteResponse {
  return { errorCode, topics: [], nodeEndpoints: [] };
}
function beginError(errorCode: number): WireBeginQuorumEpochResponse {
  return { errorCode, topics: [], nodeEndpoints: [] };
}
function endError(errorCode: number): WireEndQuorumEpochResponse {
  return { errorCode, topics: [], nodeEndpoints: [] };
}
function fetchPartitionError(ctx: WireContext, version: number, errorCode: number): WireFetchResponse {
  const partition = { ...defaultFetchResponsePartitionData(), partitionIndex: METADATA_PARTITION, errorCode, highWatermark: -1n, records: Buffer.alloc(0) };
  return { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses: [{ topic: version < 13 ? METADATA_TOPIC : '', topicId: METADATA_TOPIC_ID, partitions: [partition] }], nodeEndpoints: [] };
}
function snapshotPartitionError(errorCode: number, snapshotId: { endOffset: bigint; epoch: number }, position: bigint): WireFetchSnapshotResponse {
  return {
    throttleTimeMs: 0,
    errorCode: 0,
    topics: [{ name: METADATA_TOPIC, partitions: [{ index: METADATA_PARTITION, errorCode, snapshotId, currentLeader: { leaderId: -1, leaderEpoch: -1 }, size: -1n, position, unalignedRecords: Buffer.alloc(0) }] }],
    nodeEndpoints: [],
  };
}

/** A response the node answers while it cannot serve (shutting down): BROKER_NOT_AVAILABLE, as Kafka. */
export function unavailableResponse(apiKey: RaftApiKey): unknown {
  const errorCode = WireError.BROKER_NOT_AVAILABLE;
  switch (apiKey) {
    case ApiKeys.VOTE:
      return voteError(errorCode);
    case ApiKeys.BEGIN_QUORUM_EPOCH:
      return beginError(errorCode);
    case ApiKeys.END_QUORUM_EPOCH:
      return endError(errorCode);
    case ApiKeys.FETCH:
      return { throttleTimeMs: 0, errorCode, sessionId: 0, responses: [], nodeEndpoints: [] } satisfies WireFetchResponse;
    case ApiKeys.FETCH_SNAPSHOT:
      return { throttleTimeMs: 0, errorCode, topics: [], nodeEndpoints: [] } satisfies WireFetchSnapshotResponse;
    case ApiKeys.DESCRIBE_QUORUM:
      return { errorCode, errorMessage: 'the quorum is shutting down', topics: [], nodes: [] } satisfies WireDescribeQuorumResponse;
    case ApiKeys.ADD_RAFT_VOTER:
    case ApiKeys.REMOVE_RAFT_VOTER:
      return voterChangeResponse(apiKey, errorCode, 'the quorum is shutting down');
    case ApiKeys.UPDATE_RAFT_VOTER:
      return updateVoterResponse(errorCode, null, -1, null);
  }
}

/** AddRaftVoter / RemoveRaftVoter response. */
export function voterChangeResponse(apiKey: typeof ApiKeys.ADD_RAFT_VOTER | typeof ApiKeys.REMOVE_RAFT_VOTER, errorCode: number, errorMessage: string | null): AddRaftVoterResponse | RemoveRaftVoterResponse {
  void apiKey; // same shape
  return { throttleTimeMs: 0, errorCode, errorMessage };
}

/** UpdateRaftVoter response, with the current leader and its endpoint (Kafka's RaftUtil.updateVoterResponse). */
export function updateVoterResponse(errorCode: number, leaderId: number | null, leaderEpoch: number, leader: Endpoint | null): UpdateRaftVoterResponse {
  return { throttleTimeMs: 0, errorCode, currentLeader: { leaderId: leaderId ?? -1, leaderEpoch, host: leader?.host ?? '', port: leader?.port ?? -1 } };
}

/** A voter's endpoint on `listenerName` (else its first one) as an Endpoint of node `id`. */
export function endpointFor(id: number, endpoints: readonly VoterEndpoint[], listenerName: string): Endpoint | null {
  const e = endpoints.find((x) => x.name === listenerName) ?? endpoints[0];
  return e === undefined ? null : { id, host: e.host, port: e.port };
}

/** Leader endpoints a raft response or request carries (Vote / Fetch / FetchSnapshot NodeEndpoints, Begin/EndQuorumEpoch LeaderEndpoints). */
export function endpointsCarried(apiKey: RaftApiKey, kind: 'request' | 'response', body: unknown, listenerName: string): Endpoint[] {
  const out: Endpoint[] = [];
  const b = body as { nodeEndpoints?: readonly { nodeId: number; host: string; port: number }[]; leaderEndpoints?: readonly { name: string; host: string; port: number }[]; topics?: readonly { partitions: readonly { leaderId?: number }[] }[] };
  if (kind === 'response') {
    for (const e of b.nodeEndpoints ?? []) if (e.nodeId >= 0 && e.port > 0) out.push({ id: e.nodeId, host: e.host, port: e.port });
  } else if (apiKey === ApiKeys.BEGIN_QUORUM_EPOCH || apiKey === ApiKeys.END_QUORUM_EPOCH) {
    const leaderId = b.topics?.[0]?.partitions[0]?.leaderId;
    const e = (b.leaderEndpoints ?? []).find((x) => x.name === listenerName) ?? b.leaderEndpoints?.[0];
    if (leaderId !== undefined && leaderId >= 0 && e !== undefined && e.port > 0) out.push({ id: leaderId, host: e.host, port: e.port });
  }
  return out;
}

// ---- outbound responses --------------------------------------------------------------------------------

/** The wire response for a core response, at the request's `version`. */
export function encodeResponse(ctx: WireContext, response: RaftResponse, version: number): unknown {
  switch (response.kind) {
    case 'VoteResponse':
      return {
        errorCode: 0,
        topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: METADATA_PARTITION, errorCode: response.errorCode, leaderId: leaderOrNone(response.leaderId), leaderEpoch: response.leaderEpoch, voteGranted: response.voteGranted }] }],
        nodeEndpoints: version >= 1 ? endpointsOf(ctx, [response.leaderId]) : [],
      } satisfies WireVoteResponse;
    case 'BeginQuorumEpochResponse':
      return {
        errorCode: 0,
        topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: METADATA_PARTITION, errorCode: response.errorCode, leaderId: leaderOrNone(response.leaderId), leaderEpoch: response.leaderEpoch }] }],
        nodeEndpoints: version >= 1 ? endpointsOf(ctx, [response.leaderId]) : [],
      } satisfies WireBeginQuorumEpochResponse;
    case 'EndQuorumEpochResponse':
      return {
        errorCode: 0,
        topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: METADATA_PARTITION, errorCode: response.errorCode, leaderId: leaderOrNone(response.leaderId), leaderEpoch: response.leaderEpoch }] }],
        nodeEndpoints: version >= 1 ? endpointsOf(ctx, [response.leaderId]) : [],
      } satisfies WireEndQuorumEpochResponse;
    case 'FetchResponse': {
      const failed = response.errorCode !== RaftErrorCode.NONE;
      const partition = {
        ...defaultFetchResponsePartitionData(),
        partitionIndex: METADATA_PARTITION,
        errorCode: response.errorCode,
        highWatermark: failed ? -1n : BigInt(response.highWatermark),
        logStartOffset: BigInt(response.logStartOffset),
        divergingEpoch: response.divergingEpoch === null ? { epoch: -1, endOffset: -1n } : { epoch: response.divergingEpoch.epoch, endOffset: BigInt(response.divergingEpoch.endOffset) },
        currentLeader: { leaderId: leaderOrNone(response.leaderId), leaderEpoch: response.leaderEpoch },
        snapshotId: response.snapshotId === null ? { endOffset: -1n, epoch: -1 } : { endOffset: BigInt(response.snapshotId.endOffset), epoch: response.snapshotId.epoch },
        abortedTransactions: null,
        records: response.records.length === 0 ? Buffer.alloc(0) : encodeEntries(response.records),
      };
      return {
        throttleTimeMs: 0,
        errorCode: 0,
        sessionId: 0,
        responses: [{ topic: METADATA_TOPIC, topicId: METADATA_TOPIC_ID, partitions: [partition] }],
        // Kafka's RaftUtil.singletonFetchResponse: the leader's endpoint whenever it is known (v16+), so a
        // replica that found the leader through a bootstrap server can reach it.
        nodeEndpoints: version >= 16 ? endpointsOf(ctx, [response.leaderId]).map((e) => ({ ...e, rack: null })) : [],
      } satisfies WireFetchResponse;
    }
    case 'FetchSnapshotResponse': {
      const ok = response.errorCode === RaftErrorCode.NONE;
      return {
        throttleTimeMs: 0,
        errorCode: 0,
        topics: [
          {
            name: METADATA_TOPIC,
            partitions: [
              {
                index: METADATA_PARTITION,
                errorCode: response.errorCode,
                snapshotId: ok ? { endOffset: BigInt(response.snapshotId.endOffset), epoch: response.snapshotId.epoch } : { endOffset: -1n, epoch: -1 },
                currentLeader: { leaderId: leaderOrNone(response.leaderId), leaderEpoch: response.leaderEpoch },
                size: BigInt(response.size),
                position: BigInt(response.position),
                unalignedRecords: Buffer.from(response.bytes.buffer, response.bytes.byteOffset, response.bytes.byteLength),
              },
            ],
          },
        ],
        nodeEndpoints: version >= 1 && !ok ? endpointsOf(ctx, [response.leaderId]) : [],
      } satisfies WireFetchSnapshotResponse;
    }
  }
}

/** DescribeQuorum (KIP-595 / KIP-836): answered by the leader; others say NOT_LEADER_OR_FOLLOWER. */
export function describeQuorumResponse(
  ctx: WireContext,
  description: QuorumDescription | null,
  voters: readonly { readonly id: number; readonly listeners: readonly VoterEndpoint[] }[],
  version: number,
): WireDescribeQuorumResponse {
  // v2 (KIP-853): the voters' listeners.
  const nodes = version >= 2 ? voters.filter((v) => v.listeners.length > 0).map((v) => ({ nodeId: v.id, listeners: v.listeners.map((l) => ({ name: l.name, host: l.host, port: l.port })) })) : [];
  if (description === null) {
    return {
      errorCode: 0,
      errorMessage: null,
      topics: [
        {
          topicName: METADATA_TOPIC,
          partitions: [{ partitionIndex: METADATA_PARTITION, errorCode: WireError.NOT_LEADER_OR_FOLLOWER, errorMessage: null, leaderId: -1, leaderEpoch: -1, highWatermark: -1n, currentVoters: [], observers: [] }],
        },
      ],
      nodes,
    };
  }
  const replica = (r: QuorumDescription['voters'][number]): WireDescribeQuorumResponse['topics'][number]['partitions'][number]['currentVoters'][number] => ({
    replicaId: r.replicaId,
    replicaDirectoryId: version >= 2 ? r.directoryId : ZERO_UUID,
    logEndOffset: BigInt(r.logEndOffset),
    lastFetchTimestamp: BigInt(r.lastFetchTimestamp),
    lastCaughtUpTimestamp: BigInt(r.lastCaughtUpTimestamp),
  });
  return {
    errorCode: 0,
    errorMessage: null,
    topics: [
      {
        topicName: METADATA_TOPIC,
        partitions: [
          {
            partitionIndex: METADATA_PARTITION,
            errorCode: 0,
            errorMessage: null,
            leaderId: description.leaderId,
            leaderEpoch: description.leaderEpoch,
            highWatermark: BigInt(description.highWatermark),
            currentVoters: description.voters.map(replica),
            observers: description.observers.map(replica),
          },
        ],
      },
    ],
    nodes,
  };
}

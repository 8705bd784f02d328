// KRaft RPCs as the pure core sees them: decoded, already routed, shaped like Kafka's
// Vote / BeginQuorumEpoch / EndQuorumEpoch / Fetch / FetchSnapshot (KIP-595, KIP-630, pre-vote from
// KIP-996). Differences from the wire format, all mapped by the driver:
// - an unknown leader is `null` rather than -1;
// - single-partition (`__cluster_metadata-0`) only, so topic/partition arrays are flattened away;
// - a response echoes what its request asked (FetchResponse: `fetchOffset` and `lastFetchedEpoch`;
//   VoteResponse: `preVote`), so a receiver can tell whether it still answers a question about its current
//   state (the driver knows them from the correlation id);
// - records are log entries (one entry per record batch; offsets are record offsets).
import type { LogEntry, OffsetAndEpoch, SnapshotId } from './raft-log.ts';

export const RaftErrorCode = {
  NONE: 0,
  NOT_LEADER_OR_FOLLOWER: 6,
  REQUEST_TIMED_OUT: 7,
  UNSUPPORTED_VERSION: 35,
  INVALID_REQUEST: 42,
  FENCED_LEADER_EPOCH: 74,
  INCONSISTENT_VOTER_SET: 94,
  SNAPSHOT_NOT_FOUND: 98,
  POSITION_OUT_OF_RANGE: 99,
  DUPLICATE_VOTER: 126,
  VOTER_NOT_FOUND: 127,
} as const;
export type RaftErrorCode = (typeof RaftErrorCode)[keyof typeof RaftErrorCode];

interface Envelope {
  readonly sourceId: number;
  readonly destinationId: number;
}

export interface VoteRequest extends Envelope {
  readonly kind: 'VoteRequest';
  readonly candidateEpoch: number;
  readonly candidateId: number;
  readonly lastOffsetEpoch: number;
  /** The candidate's log end offset (Kafka's LastOffset field). */
  readonly lastOffset: number;
  /** KIP-996: a pre-vote asks "would you vote for me?" without bumping anybody's epoch. */
  readonly preVote: boolean;
}

export interface VoteResponse extends Envelope {
  readonly kind: 'VoteResponse';
  readonly errorCode: RaftErrorCode;
  readonly leaderEpoch: number;
  readonly leaderId: number | null;
  readonly voteGranted: boolean;
  readonly preVote: boolean;
}

export interface BeginQuorumEpochRequest extends Envelope {
  readonly kind: 'BeginQuorumEpochRequest';
  readonly leaderEpoch: number;
  readonly leaderId: number;
}

export interface BeginQuorumEpochResponse extends Envelope {
  readonly kind: 'BeginQuorumEpochResponse';
  readonly errorCode: RaftErrorCode;
  readonly leaderEpoch: number;
  readonly leaderId: number | null;
}

export interface EndQuorumEpochRequest extends Envelope {
  readonly kind: 'EndQuorumEpochRequest';
  readonly leaderEpoch: number;
  readonly leaderId: number;
  readonly preferredSuccessors: readonly number[];
}

export interface EndQuorumEpochResponse extends Envelope {
  readonly kind: 'EndQuorumEpochResponse';
  readonly errorCode: RaftErrorCode;
  readonly leaderEpoch: number;
  readonly leaderId: number | null;
}

export interface FetchRequest extends Envelope {
  readonly kind: 'FetchRequest';
  readonly currentLeaderEpoch: number;
  readonly fetchOffset: number;
  readonly lastFetchedEpoch: number;
  /** The fetching replica's directory id (Fetch v17 ReplicaDirectoryId, KIP-853); absent when unknown. */
  readonly replicaDirectoryId?: string;
}

export interface FetchResponse extends Envelope {
  readonly kind: 'FetchResponse';
  readonly errorCode: RaftErrorCode;
  readonly leaderEpoch: number;
  readonly leaderId: number | null;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly fetchOffset: number;
  readonly lastFetchedEpoch: number;
  /** Kafka's DivergingEpoch {epoch, endOffset}: the follower truncates there and fetches again. */
  readonly divergingEpoch: { readonly epoch: number; readonly endOffset: number } | null;
  /** Kafka's SnapshotId: the fetch offset is below the log start; download this snapshot (FetchSnapshot). */
  readonly snapshotId: SnapshotId | null;
  readonly records: readonly LogEntry[];
}

export interface FetchSnapshotRequest extends Envelope {
  readonly kind: 'FetchSnapshotRequest';
  readonly currentLeaderEpoch: number;
  readonly snapshotId: SnapshotId;
  /** Byte position in the snapshot to read from. */
  readonly position: number;
}

export interface FetchSnapshotResponse extends Envelope {
  readonly kind: 'FetchSnapshotResponse';
  readonly errorCode: RaftErrorCode;
  readonly leaderEpoch: number;
  readonly leaderId: number | null;
  readonly snapshotId: SnapshotId;
  /** Total size of the snapshot in bytes (-1 with an error). */
  readonly size: number;
  readonly position: number;
  readonly bytes: Uint8Array;
}

export type RaftMessage =
  | VoteRequest
  | VoteResponse
  | BeginQuorumEpochRequest
  | BeginQuorumEpochResponse
  | EndQuorumEpochRequest
  | EndQuorumEpochResponse
  | FetchRequest
  | FetchResponse
  | FetchSnapshotRequest
  | FetchSnapshotResponse;

export type RaftRequest = VoteRequest | BeginQuorumEpochRequest | EndQuorumEpochRequest | FetchRequest | FetchSnapshotRequest;
export type RaftResponse = Exclude<RaftMessage, RaftRequest>;

const RESPONSE_KIND = {
  VoteRequest: 'VoteResponse',
  BeginQuorumEpochRequest: 'BeginQuorumEpochResponse',
  EndQuorumEpochRequest: 'EndQuorumEpochResponse',
  FetchRequest: 'FetchResponse',
  FetchSnapshotRequest: 'FetchSnapshotResponse',
} as const;

export function isRequest(message: RaftMessage): message is RaftRequest {
  return message.kind in RESPONSE_KIND;
}

/** The response kind that answers a request kind. */
export function responseKindOf(kind: RaftRequest['kind']): RaftResponse['kind'] {
  return RESPONSE_KIND[kind];
}

export type { OffsetAndEpoch, SnapshotId };

// KRaft RPCs as the pure core sees them: decoded, already routed, shaped like Kafka's
// Vote / BeginQuorumEpoch / EndQuorumEpoch / Fetch (KIP-595, pre-vote from KIP-996).
// Differences from the wire format, all mapped by the driver:
// - an unknown leader is `null` rather than -1;
// - single-partition (`__cluster_metadata-0`) only, so topic/partition arrays are flattened away;
// - FetchResponse echoes `fetchOffset` and `lastFetchedEpoch` so a follower can tell whether a response
//   still answers a question about its current log (the driver knows them from the correlation id);
// - records are log entries (one entry per record batch in the real log).
import type { LogEntry, OffsetAndEpoch } from './raft-log.ts';

export const RaftErrorCode = {
  NONE: 0,
  NOT_LEADER_OR_FOLLOWER: 6,
  FENCED_LEADER_EPOCH: 74,
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
}

export interface FetchResponse extends Envelope {
  readonly kind: 'FetchResponse';
  readonly errorCode: RaftErrorCode;
  readonly leaderEpoch: number;
  readonly leaderId: number | null;
  readonly highWatermark: number;
  readonly fetchOffset: number;
  readonly lastFetchedEpoch: number;
  /** Kafka's DivergingEpoch {epoch, endOffset}: the follower truncates there and fetches again. */
  readonly divergingEpoch: { readonly epoch: number; readonly endOffset: number } | null;
  readonly records: readonly LogEntry[];
}

export type RaftMessage =
  | VoteRequest
  | VoteResponse
  | BeginQuorumEpochRequest
  | BeginQuorumEpochResponse
  | EndQuorumEpochRequest
  | EndQuorumEpochResponse
  | FetchRequest
  | FetchResponse;

export type { OffsetAndEpoch };

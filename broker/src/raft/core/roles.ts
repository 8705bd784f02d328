// One class per quorum role (after Kafka's QuorumState / *State.java). Roles are plain state objects;
// RaftNode drives them and calls assertTransition() on every change.
//
// Legal transitions (epoch e is the epoch before the transition):
//
//   Unattached  -> Unattached   on learning of a higher epoch
//               -> Voted        on granting a vote in epoch e
//               -> Prospective  on election timeout (KIP-996 pre-vote, epoch unchanged)
//               -> Follower     on discovering the leader of epoch e
//   Voted       -> Unattached   on learning of a higher epoch
//               -> Prospective  on election timeout
//               -> Follower     on discovering the leader of epoch e
//   Prospective -> Unattached   on learning of a higher epoch, or pre-vote lost/timed out with no vote
//               -> Voted        on granting a vote in epoch e, or pre-vote lost/timed out while holding
//                               a vote (the vote of epoch e is never forgotten)
//               -> Candidate    on a majority of pre-votes; epoch becomes e + 1, votes for itself
//               -> Follower     on discovering the leader of epoch e
//   Candidate   -> Unattached   on learning of a higher epoch
//               -> Prospective  on election timeout (back to pre-vote, keeps its self-vote)
//               -> Leader       on a majority of votes
//               -> Follower     on discovering the leader of epoch e
//   Leader      -> Unattached   on learning of a higher epoch
//               -> Resigned     on graceful resignation or a failed check-quorum
//   Follower    -> Unattached   on learning of a higher epoch
//               -> Prospective  on fetch timeout
//               -> Voted        (a non-voter holding a vote of epoch e) on fetch timeout: it looks for the
//                               leader again, keeping the vote
//   Resigned    -> Unattached   on learning of a higher epoch
//               -> Voted        on election timeout (keeps its self-vote of epoch e)
//
// A higher epoch always passes through Unattached first; the message that carried it is then handled in
// the new epoch (so "Follower of a higher epoch" is Unattached -> Follower).
// Observers (a local node that is not a voter: a broker) only ever are Unattached or Follower:
//   Unattached  -> Unattached   on learning of a higher epoch
//               -> Follower     on discovering the leader of epoch e (a fetch to any voter names it)
//   Follower    -> Unattached   on learning of a higher epoch, or on fetch timeout (same epoch: an observer
//                               holds no vote, so nothing is forgotten; it then looks for the leader again)
// With dynamic voters (KIP-853) membership changes under a replica's feet, so a non-voter may also hold a
// vote (Voted: votes are granted to any candidate, as the voter set may be stale) or be a Leader removed
// from the voter set (it resigns once the removal commits); a non-voter never becomes Prospective,
// Candidate or Leader. A non-voter without a leader (Unattached, Voted) looks for one like an observer.
// Restart: persisted {epoch, leaderId, votedId} restores Resigned (leaderId = self), Follower (leaderId
// known), Voted (votedId known) or Unattached.

import { assert } from './assert.ts';
import { NO_DIRECTORY_ID } from './voter-set.ts';

export class UnattachedState {
  readonly kind = 'unattached';
  readonly epoch: number;
  readonly electionDeadlineMs: number;
  constructor(epoch: number, electionDeadlineMs: number) {
    this.epoch = epoch;
    this.electionDeadlineMs = electionDeadlineMs;
  }
}

/** Unattached with a vote: granted `votedId` its vote in `epoch`, and can grant no other. */
export class VotedState {
  readonly kind = 'voted';
  readonly epoch: number;
  readonly votedId: number;
  readonly electionDeadlineMs: number;
  constructor(epoch: number, votedId: number, electionDeadlineMs: number) {
    this.epoch = epoch;
    this.votedId = votedId;
    this.electionDeadlineMs = electionDeadlineMs;
  }
}

export class ProspectiveState {
  readonly kind = 'prospective';
  readonly epoch: number;
  readonly votedId: number | null;
  readonly electionDeadlineMs: number;
  readonly granted = new Set<number>();
  readonly rejected = new Set<number>();
  constructor(epoch: number, votedId: number | null, electionDeadlineMs: number, localId: number) {
    this.epoch = epoch;
    this.votedId = votedId;
    this.electionDeadlineMs = electionDeadlineMs;
    this.granted.add(localId);
  }
}

export class CandidateState {
  readonly kind = 'candidate';
  readonly epoch: number;
  readonly electionDeadlineMs: number;
  readonly granted = new Set<number>();
  readonly rejected = new Set<number>();
  constructor(epoch: number, electionDeadlineMs: number, localId: number) {
    this.epoch = epoch;
    this.electionDeadlineMs = electionDeadlineMs;
    this.granted.add(localId);
  }
}

/** What the leader knows about a replica that fetches from it (Kafka's LeaderState.ReplicaState). */
export interface FetchProgress {
  /** The fetching replica's directory id (NO_DIRECTORY_ID when unknown). */
  directoryId: string;
  /** Highest fetchOffset seen from a valid (non-diverging) fetch: the replica's flushed log end. */
  endOffset: number;
  /** False until the replica's first valid fetch in this epoch (DescribeQuorum then reports -1). */
  fetched: boolean;
  /** Last fetch or fetch-snapshot of any kind (check quorum, DescribeQuorum). */
  lastFetchMs: number;
  /** Kafka's lastCaughtUpTimestamp: when the replica last had everything the leader had. -1 = never. */
  lastCaughtUpMs: number;
  /** The leader's log end at the replica's previous fetch (for lastCaughtUpMs). */
  lastFetchLeaderEndOffset: number;
}

export interface ReplicaProgress extends FetchProgress {
  beginQuorumAcked: boolean;
  lastBeginQuorumSentMs: number;
}

/** Kafka's ReplicaState.updateFetchState: record a valid fetch at `fetchOffset`. */
export function recordFetch(progress: FetchProgress, fetchOffset: number, leaderEndOffset: number, nowMs: number): void {
  if (fetchOffset >= leaderEndOffset) progress.lastCaughtUpMs = Math.max(progress.lastCaughtUpMs, nowMs);
  else if (progress.lastFetchLeaderEndOffset > 0 && fetchOffset >= progress.lastFetchLeaderEndOffset) {
    progress.lastCaughtUpMs = Math.max(progress.lastCaughtUpMs, progress.lastFetchMs);
  }
  progress.lastFetchMs = nowMs;
  progress.lastFetchLeaderEndOffset = leaderEndOffset;
  progress.fetched = true;
  if (fetchOffset > progress.endOffset) progress.endOffset = fetchOffset;
}

/** An AddRaftVoter / RemoveRaftVoter whose VotersRecord waits to commit (one at a time, KIP-853). */
export interface PendingVoterChange {
  readonly changeId: number;
  readonly kind: 'add' | 'remove';
  /** Offset of the VotersRecord: the change is done once the high watermark passes it. */
  readonly offset: number;
  /** REQUEST_TIMED_OUT after this (the record stays in the log and may still commit, as in Kafka). */
  readonly deadlineMs: number;
}

export class LeaderState {
  readonly kind = 'leader';
  readonly epoch: number;
  /** Offset of this epoch's leader-change entry; the HW may pass it only once that entry commits. */
  readonly epochStartOffset: number;
  /**
   * The other voters of the current (latest) voter set; only they (and the leader, while it is a voter)
   * count for the high watermark and check quorum. Follows every voter set change.
   */
  readonly replicas = new Map<number, ReplicaProgress>();
  /** Observers that fetched recently (DescribeQuorum, AddRaftVoter catch-up); forgotten after a session timeout. */
  readonly observers = new Map<number, FetchProgress>();
  /** The membership change in flight, if any. */
  voterChange: PendingVoterChange | null = null;
  constructor(epoch: number, epochStartOffset: number, otherVoterIds: readonly number[], nowMs: number) {
    this.epoch = epoch;
    this.epochStartOffset = epochStartOffset;
    for (const id of otherVoterIds) {
      // Elected counts as contact: check-quorum grants every voter a full window to start fetching.
      this.replicas.set(id, {
        directoryId: NO_DIRECTORY_ID,
        endOffset: 0,
        fetched: false,
        lastFetchMs: nowMs,
        lastCaughtUpMs: -1,
        lastFetchLeaderEndOffset: 0,
        beginQuorumAcked: false,
        lastBeginQuorumSentMs: nowMs,
      });
    }
  }
}

/** The Fetch or FetchSnapshot a follower has in flight to its leader. */
export interface InflightFetch {
  readonly kind: 'fetch' | 'snapshot';
  readonly sentAtMs: number;
  /** Sent again at this time if still unanswered (sooner after a reported failure). */
  retryAtMs: number;
}

/** A snapshot being downloaded from the leader with FetchSnapshot, chunk by chunk (KIP-630). */
export interface SnapshotDownload {
  readonly id: { readonly endOffset: number; readonly epoch: number };
  readonly chunks: Uint8Array[];
  /** Bytes received so far: the position of the next FetchSnapshot. */
  received: number;
}

export class FollowerState {
  readonly kind = 'follower';
  readonly epoch: number;
  readonly leaderId: number;
  readonly votedId: number | null;
  fetchDeadlineMs: number;
  inflightFetch: InflightFetch | null = null;
  /** Set while the log is below the leader's log start and its snapshot is being downloaded. */
  fetchingSnapshot: SnapshotDownload | null = null;
  /** A fetch is owed as soon as the log is flushed. */
  fetchAfterFlush = false;
  /** The leader sent EndQuorumEpoch: it is gone, so pre-votes may be granted (KIP-996). */
  leaderResigned = false;
  constructor(epoch: number, leaderId: number, votedId: number | null, fetchDeadlineMs: number) {
    this.epoch = epoch;
    this.leaderId = leaderId;
    this.votedId = votedId;
    this.fetchDeadlineMs = fetchDeadlineMs;
  }
}

export class ResignedState {
  readonly kind = 'resigned';
  readonly epoch: number;
  readonly electionDeadlineMs: number;
  readonly preferredSuccessors: readonly number[];
  readonly endQuorumAcked = new Set<number>();
  lastEndQuorumSentMs: number;
  constructor(epoch: number, electionDeadlineMs: number, preferredSuccessors: readonly number[], nowMs: number) {
    this.epoch = epoch;
    this.electionDeadlineMs = electionDeadlineMs;
    this.preferredSuccessors = preferredSuccessors;
    this.lastEndQuorumSentMs = nowMs;
  }
}

export type RoleState =
  | UnattachedState
  | VotedState
  | ProspectiveState
  | CandidateState
  | LeaderState
  | FollowerState
  | ResignedState;

export type RoleKind = RoleState['kind'];

const LEGAL_TRANSITIONS: Readonly<Record<RoleKind, readonly RoleKind[]>> = {
  unattached: ['unattached', 'voted', 'prospective', 'follower'],
  voted: ['unattached', 'prospective', 'follower'],
  prospective: ['unattached', 'voted', 'candidate', 'follower'],
  candidate: ['unattached', 'prospective', 'leader', 'follower'],
  leader: ['unattached', 'resigned'],
  follower: ['unattached', 'prospective', 'voted'],
  resigned: ['unattached', 'voted'],
};

/** The vote a role holds in its epoch (what the quorum-state file records as votedId). */
export function votedIdOf(role: RoleState, localId: number): number | null {
  switch (role.kind) {
    case 'unattached':
      return null;
    case 'voted':
    case 'prospective':
    case 'follower':
      return role.votedId;
    case 'candidate':
    case 'leader':
    case 'resigned':
      return localId;
  }
}

export function leaderIdOf(role: RoleState, localId: number): number | null {
  if (role.kind === 'follower') return role.leaderId;
  if (role.kind === 'leader' || role.kind === 'resigned') return localId;
  return null;
}

/** Preconditions of every transition; RaftNode checks vote counts and log rules before calling. */
export function assertTransition(from: RoleState, to: RoleState, localId: number, isVoter = true): void {
  const label = `${from.kind}(e${from.epoch}) -> ${to.kind}(e${to.epoch})`;
  assert(LEGAL_TRANSITIONS[from.kind].includes(to.kind), `illegal transition ${label}`);
  assert(isVoter || (to.kind !== 'prospective' && to.kind !== 'candidate' && to.kind !== 'leader'), `a non-voter cannot become ${to.kind}: ${label}`);
  assert(to.epoch >= from.epoch, `epoch went backwards: ${label}`);
  const fromVote = votedIdOf(from, localId);
  switch (to.kind) {
    case 'unattached':
      // Same epoch only when the old role held no vote: a vote of epoch e is never forgotten.
      assert(to.epoch > from.epoch || fromVote === null, `unattached in the same epoch would drop a vote: ${label}`);
      break;
    case 'voted':
      assert(to.epoch === from.epoch, `vote outside the current epoch: ${label}`);
      assert(fromVote === null || fromVote === to.votedId, `second vote in epoch ${to.epoch}: ${label}`);
      break;
    case 'prospective':
      assert(to.epoch === from.epoch, `pre-vote must not bump the epoch: ${label}`);
      assert(to.votedId === fromVote, `prospective changed the vote: ${label}`);
      break;
    case 'candidate':
      assert(to.epoch === from.epoch + 1, `candidate must campaign in epoch + 1: ${label}`);
      break;
    case 'leader':
      assert(to.epoch === from.epoch && from.kind === 'candidate', `leader without winning: ${label}`);
      break;
    case 'follower':
      assert(to.epoch === from.epoch, `follower must first move to the leader's epoch: ${label}`);
      assert(to.leaderId !== localId, `follower of itself: ${label}`);
      assert(to.votedId === fromVote, `follower changed the vote: ${label}`);
      break;
    case 'resigned':
      assert(to.epoch === from.epoch, `resign in another epoch: ${label}`);
      break;
  }
}

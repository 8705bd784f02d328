// The KRaft consensus core (KIP-595 + KIP-996 pre-vote) as a pure, deterministic state machine in the
// style of etcd raft: inputs are tick(nowMs), receive(message), propose(values), resign(), and
// logFlushed(); every input returns a Ready describing what the driver must do. The core performs no
// I/O, reads no clock and draws randomness only from the injected `random`.
//
// Driver contract for a Ready, in order:
//   1. persist `quorumState` (if not null) durably;
//   2. apply `logOps` to the log in order (truncations, appends);
//   3. send `messages` now;
//   4. send `messagesAfterPersist` only once steps 1-2 are durable (log flushed), then report the
//      flush with logFlushed(endOffset). These are the messages whose meaning depends on durable state:
//      votes granted, vote requests of a campaign, and fetches (a fetch offset acknowledges the log).
//   5. hand `committed` entries to the state machine (they are at or below `highWatermark`).
//
// Out of scope for this step: snapshots (FetchSnapshot, log start > 0), dynamic voters (KIP-853),
// observers beyond serving their fetches, parked (long-poll) fetches and linger batching.

import { assert } from './assert.ts';
import { RaftErrorCode, type FetchRequest, type FetchResponse, type RaftMessage, type VoteRequest, type VoteResponse } from './messages.ts';
import { RaftLog, type LogEntry } from './raft-log.ts';
import {
  CandidateState,
  FollowerState,
  LeaderState,
  ProspectiveState,
  ResignedState,
  UnattachedState,
  VotedState,
  assertTransition,
  leaderIdOf,
  votedIdOf,
  type RoleKind,
  type RoleState,
} from './roles.ts';

export interface RaftConfig {
  readonly localId: number;
  readonly voterIds: readonly number[];
  /** Base election timeout; each election draws base + random(0..electionJitterMs). */
  readonly electionTimeoutMs: number;
  readonly electionJitterMs: number;
  /** A follower that has not heard from its leader for this long starts a pre-vote. */
  readonly fetchTimeoutMs: number;
  /** Retry interval for an unacknowledged BeginQuorumEpoch / EndQuorumEpoch. */
  readonly requestTimeoutMs: number;
  /**
   * A fetch unanswered this long is sent again. Kafka parks a fetch on the leader for up to
   * fetch.max.wait.ms (500); this core answers at once, so a silent fetch means a lost one.
   */
  readonly fetchRetryMs: number;
  /** Limit on entries returned by one fetch. */
  readonly fetchEntriesMax: number;
  /** Limit on values accepted by one propose(). */
  readonly proposeEntriesMax: number;
}

export const DEFAULT_RAFT_TIMING = {
  electionTimeoutMs: 1000,
  electionJitterMs: 1000,
  fetchTimeoutMs: 2000,
  requestTimeoutMs: 2000,
  fetchRetryMs: 500,
  fetchEntriesMax: 64,
  proposeEntriesMax: 64,
} as const;

/** The quorum-state file (Kafka's quorum-state JSON): written before any vote or campaign leaves. */
export interface QuorumStateRecord {
  readonly epoch: number;
  readonly leaderId: number | null;
  readonly votedId: number | null;
}

export type LogOp =
  | { readonly kind: 'append'; readonly entries: readonly LogEntry[] }
  | { readonly kind: 'truncate'; readonly endOffset: number };

export interface RoleChange {
  readonly from: RoleKind;
  readonly to: RoleKind;
  readonly epoch: number;
  readonly leaderId: number | null;
}

export interface Ready {
  readonly quorumState: QuorumStateRecord | null;
  readonly logOps: readonly LogOp[];
  readonly messages: readonly RaftMessage[];
  readonly messagesAfterPersist: readonly RaftMessage[];
  readonly highWatermark: number;
  readonly committed: readonly LogEntry[];
  readonly roleChanges: readonly RoleChange[];
}

export interface PersistedRaftState {
  readonly quorumState: QuorumStateRecord | null;
  /** The durable log (flushed entries only). */
  readonly entries: readonly LogEntry[];
}

export type ProposeResult =
  | { readonly accepted: true; readonly firstOffset: number; readonly ready: Ready }
  | { readonly accepted: false; readonly epoch: number; readonly leaderId: number | null };

type Durability = 'now' | 'after-persist';

const EMPTY_VALUE = new Uint8Array(0);

export class RaftNode {
  readonly #config: RaftConfig;
  readonly #random: () => number;
  readonly #log: RaftLog;
  readonly #otherVoterIds: readonly number[];
  #role: RoleState;
  #nowMs: number;
  #highWatermark = 0;
  #flushedEndOffset: number;
  #leaderHighWatermark = 0;
  #persistedQuorumState: QuorumStateRecord | null;
  /** The leader of this epoch that we stopped following; see #observeEpoch. */
  #abandonedLeader: { readonly epoch: number; readonly leaderId: number } | null = null;

  // Pending Ready.
  #quorumStateOut: QuorumStateRecord | null = null;
  #logOps: LogOp[] = [];
  #messages: RaftMessage[] = [];
  #messagesAfterPersist: RaftMessage[] = [];
  #committed: LogEntry[] = [];
  #roleChanges: RoleChange[] = [];

  constructor(config: RaftConfig, persisted: PersistedRaftState, random: () => number, nowMs: number) {
    assert(config.voterIds.includes(config.localId), 'local id must be a voter (observers are not supported yet)');
    assert(new Set(config.voterIds).size === config.voterIds.length, 'duplicate voter id');
    assert(config.fetchEntriesMax > 0 && config.proposeEntriesMax > 0, 'limits must be positive');
    this.#config = config;
    this.#random = random;
    this.#nowMs = nowMs;
    this.#log = new RaftLog(persisted.entries);
    this.#flushedEndOffset = this.#log.endOffset;
    this.#otherVoterIds = config.voterIds.filter((id) => id !== config.localId);
    this.#persistedQuorumState = persisted.quorumState;
    const qs = persisted.quorumState;
    const deadline = this.#electionDeadline();
    if (qs === null) this.#role = new UnattachedState(0, deadline);
    else if (qs.leaderId === config.localId) this.#role = new ResignedState(qs.epoch, deadline, [], nowMs - config.requestTimeoutMs);
    else if (qs.leaderId !== null) this.#role = new FollowerState(qs.epoch, qs.leaderId, qs.votedId, nowMs + config.fetchTimeoutMs);
    else if (qs.votedId !== null) this.#role = new VotedState(qs.epoch, qs.votedId, deadline);
    else this.#role = new UnattachedState(qs.epoch, deadline);
  }

  // ---- read-only views -------------------------------------------------------------------------

  get role(): RoleKind {
    return this.#role.kind;
  }
  get epoch(): number {
    return this.#role.epoch;
  }
  /** The leader we advertise: a resigned leader advertises none. */
  get leaderId(): number | null {
    return this.#role.kind === 'resigned' ? null : leaderIdOf(this.#role, this.#config.localId);
  }
  get votedId(): number | null {
    return votedIdOf(this.#role, this.#config.localId);
  }
  get highWatermark(): number {
    return this.#highWatermark;
  }
  get logEndOffset(): number {
    return this.#log.endOffset;
  }
  get flushedEndOffset(): number {
    return this.#flushedEndOffset;
  }
  get log(): readonly LogEntry[] {
    return this.#log.entries();
  }
  /** The role object, for tests and metrics; do not mutate. */
  get roleState(): Readonly<RoleState> {
    return this.#role;
  }

  // ---- inputs ----------------------------------------------------------------------------------

  tick(nowMs: number): Ready {
    this.#advanceClock(nowMs);
    const role = this.#role;
    switch (role.kind) {
      case 'unattached':
      case 'voted':
        if (nowMs >= role.electionDeadlineMs) this.#becomeProspective();
        break;
      case 'prospective':
        if (nowMs >= role.electionDeadlineMs) this.#abandonPreVote();
        break;
      case 'candidate':
        if (nowMs >= role.electionDeadlineMs) this.#becomeProspective();
        break;
      case 'follower':
        if (nowMs >= role.fetchDeadlineMs) {
          this.#abandonedLeader = { epoch: role.epoch, leaderId: role.leaderId };
          this.#becomeProspective();
        } else if (role.inflightFetch === null || nowMs - role.inflightFetch.sentAtMs >= this.#config.fetchRetryMs) {
          this.#sendFetch(role);
        }
        break;
      case 'leader':
        this.#leaderTick(role);
        break;
      case 'resigned':
        if (nowMs >= role.electionDeadlineMs) {
          this.#transition(new VotedState(role.epoch, this.#config.localId, this.#electionDeadline()));
        } else if (nowMs - role.lastEndQuorumSentMs >= this.#config.requestTimeoutMs) {
          this.#sendEndQuorumEpoch(role);
        }
        break;
    }
    return this.#drain();
  }

  receive(message: RaftMessage, nowMs: number): Ready {
    this.#advanceClock(nowMs);
    assert(message.destinationId === this.#config.localId, `message for ${message.destinationId} delivered to ${this.#config.localId}`);
    switch (message.kind) {
      case 'VoteRequest':
        this.#onVoteRequest(message);
        break;
      case 'VoteResponse':
        this.#onVoteResponse(message);
        break;
      case 'BeginQuorumEpochRequest': {
        const known = this.#observeEpoch(message.leaderEpoch, message.leaderId, message.sourceId);
        this.#send(
          {
            kind: 'BeginQuorumEpochResponse',
            sourceId: this.#config.localId,
            destinationId: message.sourceId,
            errorCode: known ? RaftErrorCode.NONE : RaftErrorCode.FENCED_LEADER_EPOCH,
            leaderEpoch: this.epoch,
            leaderId: this.leaderId,
          },
          'now',
        );
        break;
      }
      case 'BeginQuorumEpochResponse': {
        this.#observeEpoch(message.leaderEpoch, message.leaderId, message.sourceId);
        const role = this.#role;
        if (role.kind === 'leader' && message.leaderEpoch === role.epoch && message.errorCode === RaftErrorCode.NONE) {
          const replica = role.replicas.get(message.sourceId);
          if (replica !== undefined) replica.beginQuorumAcked = true;
        }
        break;
      }
      case 'EndQuorumEpochRequest': {
        const known = this.#observeEpoch(message.leaderEpoch, message.leaderId, message.sourceId);
        const role = this.#role;
        if (known && role.kind === 'follower' && role.leaderId === message.leaderId && message.leaderEpoch === role.epoch) {
          // KIP-595: the first preferred successor campaigns at once, the others back off by rank.
          const rank = message.preferredSuccessors.indexOf(this.#config.localId);
          // With no preference everyone draws a random backoff; with one, non-successors wait a full
          // election timeout so the successors go first.
          const backoffMs =
            rank >= 0
              ? rank * (this.#config.electionTimeoutMs / 4)
              : message.preferredSuccessors.length === 0
                ? this.#randomJitter()
                : this.#config.electionTimeoutMs + this.#randomJitter();
          role.leaderResigned = true;
          this.#abandonedLeader = { epoch: role.epoch, leaderId: role.leaderId };
          role.fetchDeadlineMs = Math.min(role.fetchDeadlineMs, this.#nowMs + backoffMs);
        }
        this.#send(
          {
            kind: 'EndQuorumEpochResponse',
            sourceId: this.#config.localId,
            destinationId: message.sourceId,
            errorCode: known ? RaftErrorCode.NONE : RaftErrorCode.FENCED_LEADER_EPOCH,
            leaderEpoch: this.epoch,
            leaderId: this.leaderId,
          },
          'now',
        );
        break;
      }
      case 'EndQuorumEpochResponse': {
        this.#observeEpoch(message.leaderEpoch, message.leaderId, message.sourceId);
        const role = this.#role;
        if (role.kind === 'resigned' && message.leaderEpoch === role.epoch) role.endQuorumAcked.add(message.sourceId);
        break;
      }
      case 'FetchRequest':
        this.#onFetchRequest(message);
        break;
      case 'FetchResponse':
        this.#onFetchResponse(message);
        break;
    }
    return this.#drain();
  }

  /** Leader only: append `values` as data entries of the current epoch. */
  propose(values: readonly Uint8Array[], nowMs: number): ProposeResult {
    this.#advanceClock(nowMs);
    const role = this.#role;
    if (role.kind !== 'leader') return { accepted: false, epoch: role.epoch, leaderId: this.leaderId };
    assert(values.length > 0 && values.length <= this.#config.proposeEntriesMax, `propose of ${values.length} values`);
    const firstOffset = this.#log.endOffset;
    this.#appendLocal(values.map((value, i) => ({ offset: firstOffset + i, epoch: role.epoch, type: 'data' as const, value })));
    return { accepted: true, firstOffset, ready: this.#drain() };
  }

  /** Graceful shutdown of a leader: resign and tell the voters (EndQuorumEpoch). */
  resign(preferredSuccessors: readonly number[], nowMs: number): Ready {
    this.#advanceClock(nowMs);
    assert(this.#role.kind === 'leader', `resign as ${this.#role.kind}`);
    this.#resign(preferredSuccessors);
    return this.#drain();
  }

  /** The driver made the log durable up to `endOffset`. */
  logFlushed(endOffset: number, nowMs: number): Ready {
    this.#advanceClock(nowMs);
    assert(endOffset <= this.#log.endOffset, `flushed ${endOffset} beyond log end ${this.#log.endOffset}`);
    this.#flushedEndOffset = Math.max(this.#flushedEndOffset, endOffset);
    const role = this.#role;
    if (role.kind === 'leader') this.#maybeAdvanceLeaderHighWatermark(role);
    else if (role.kind === 'follower') {
      this.#maybeAdvanceFollowerHighWatermark();
      if (role.fetchAfterFlush) this.#sendFetch(role);
    }
    return this.#drain();
  }

  // ---- elections -------------------------------------------------------------------------------

  #onVoteRequest(request: VoteRequest): void {
    const reply = (granted: boolean): void => {
      this.#send(
        {
          kind: 'VoteResponse',
          sourceId: this.#config.localId,
          destinationId: request.sourceId,
          errorCode: request.candidateEpoch < this.epoch ? RaftErrorCode.FENCED_LEADER_EPOCH : RaftErrorCode.NONE,
          leaderEpoch: this.epoch,
          leaderId: this.leaderId,
          voteGranted: granted,
          preVote: request.preVote,
        },
        // A granted vote must be durable before the candidate can count it.
        granted && !request.preVote ? 'after-persist' : 'now',
      );
    };
    const upToDate = this.#log.isUpToDate(request.lastOffsetEpoch, request.lastOffset);
    if (request.preVote) {
      // KIP-996: a pre-vote changes no state; it is refused while we still have a live leader.
      reply(request.candidateEpoch > this.epoch && upToDate && !this.#hasLiveLeader() && this.#config.voterIds.includes(request.candidateId));
      return;
    }
    if (request.candidateEpoch < this.epoch) {
      reply(false);
      return;
    }
    this.#observeEpoch(request.candidateEpoch, null, request.sourceId);
    const role = this.#role;
    const candidateId = request.candidateId;
    let canVote: boolean;
    switch (role.kind) {
      case 'unattached':
        canVote = true;
        break;
      case 'voted':
        canVote = role.votedId === candidateId;
        break;
      case 'prospective':
        canVote = role.votedId === null || role.votedId === candidateId;
        break;
      default:
        canVote = false;
    }
    const granted = canVote && upToDate && this.#config.voterIds.includes(candidateId);
    if (granted && !(role.kind === 'voted' && role.votedId === candidateId)) {
      this.#transition(new VotedState(role.epoch, candidateId, this.#electionDeadline()));
    }
    reply(granted);
  }

  #onVoteResponse(response: VoteResponse): void {
    this.#observeEpoch(response.leaderEpoch, response.leaderId, response.sourceId);
    const role = this.#role;
    if (!this.#config.voterIds.includes(response.sourceId)) return; // only voters count
    if (response.preVote) {
      if (role.kind !== 'prospective' || response.leaderEpoch > role.epoch) return;
      (response.voteGranted ? role.granted : role.rejected).add(response.sourceId);
      if (this.#isMajority(role.granted.size)) this.#becomeCandidate(role);
      else if (this.#isMajority(role.rejected.size)) this.#abandonPreVote();
      return;
    }
    if (role.kind !== 'candidate' || response.leaderEpoch !== role.epoch) return;
    (response.voteGranted ? role.granted : role.rejected).add(response.sourceId);
    if (this.#isMajority(role.granted.size)) this.#becomeLeader(role);
  }

  #becomeProspective(): void {
    const role = this.#role;
    const votedId = votedIdOf(role, this.#config.localId);
    const prospective = new ProspectiveState(role.epoch, votedId, this.#electionDeadline(), this.#config.localId);
    this.#transition(prospective);
    if (this.#isMajority(prospective.granted.size)) {
      this.#becomeCandidate(prospective);
      return;
    }
    for (const id of this.#otherVoterIds) this.#send(this.#voteRequest(id, role.epoch + 1, true), 'now');
  }

  /** Pre-vote lost or timed out: wait for the next election timeout, keeping any vote of this epoch. */
  #abandonPreVote(): void {
    const role = this.#role;
    assert(role.kind === 'prospective', 'abandon pre-vote outside prospective');
    const deadline = this.#electionDeadline();
    this.#transition(role.votedId === null ? new UnattachedState(role.epoch, deadline) : new VotedState(role.epoch, role.votedId, deadline));
  }

  #becomeCandidate(from: ProspectiveState): void {
    assert(this.#isMajority(from.granted.size), 'candidate without a pre-vote majority');
    const candidate = new CandidateState(from.epoch + 1, this.#electionDeadline(), this.#config.localId);
    this.#transition(candidate);
    if (this.#isMajority(candidate.granted.size)) {
      this.#becomeLeader(candidate);
      return;
    }
    for (const id of this.#otherVoterIds) this.#send(this.#voteRequest(id, candidate.epoch, false), 'after-persist');
  }

  #becomeLeader(from: CandidateState): void {
    assert(this.#isMajority(from.granted.size), 'leader without a vote majority');
    const leader = new LeaderState(from.epoch, this.#log.endOffset, this.#otherVoterIds, this.#nowMs);
    this.#transition(leader);
    // KIP-595: the leader's first entry of its epoch is a LeaderChangeMessage control record.
    this.#appendLocal([{ offset: this.#log.endOffset, epoch: leader.epoch, type: 'leader-change', value: EMPTY_VALUE }]);
    for (const id of this.#otherVoterIds) {
      this.#send({ kind: 'BeginQuorumEpochRequest', sourceId: this.#config.localId, destinationId: id, leaderEpoch: leader.epoch, leaderId: this.#config.localId }, 'now');
    }
  }

  #resign(preferredSuccessors: readonly number[]): void {
    const resigned = new ResignedState(this.epoch, this.#electionDeadline(), preferredSuccessors, this.#nowMs);
    this.#transition(resigned);
    this.#sendEndQuorumEpoch(resigned);
  }

  #sendEndQuorumEpoch(role: ResignedState): void {
    role.lastEndQuorumSentMs = this.#nowMs;
    for (const id of this.#otherVoterIds) {
      if (role.endQuorumAcked.has(id)) continue;
      this.#send(
        {
          kind: 'EndQuorumEpochRequest',
          sourceId: this.#config.localId,
          destinationId: id,
          leaderEpoch: role.epoch,
          leaderId: this.#config.localId,
          preferredSuccessors: role.preferredSuccessors,
        },
        'now',
      );
    }
  }

  #voteRequest(destinationId: number, candidateEpoch: number, preVote: boolean): VoteRequest {
    return {
      kind: 'VoteRequest',
      sourceId: this.#config.localId,
      destinationId,
      candidateEpoch,
      candidateId: this.#config.localId,
      lastOffsetEpoch: this.#log.lastEpoch,
      lastOffset: this.#log.endOffset,
      preVote,
    };
  }

  #hasLiveLeader(): boolean {
    const role = this.#role;
    if (role.kind === 'leader') return true;
    return role.kind === 'follower' && !role.leaderResigned && this.#nowMs < role.fetchDeadlineMs;
  }

  // ---- epochs ----------------------------------------------------------------------------------

  /**
   * Apply the epoch rule: a higher epoch moves us to Unattached in that epoch first; a known leader of
   * our (possibly new) epoch makes us its follower. Returns false when the message's epoch is stale.
   */
  #observeEpoch(epoch: number, leaderId: number | null, sourceId: number): boolean {
    if (epoch < this.epoch) return false;
    if (epoch > this.epoch) this.#transition(new UnattachedState(epoch, this.#electionDeadline()));
    if (leaderId === null) return true;
    const role = this.#role;
    // Hearsay about a leader we gave up on (fetch timeout, EndQuorumEpoch, NOT_LEADER) must not pull us
    // back into following it, or a quorum of stale followers keeps re-attaching each other to a dead
    // leader. Only the leader itself can bring us back.
    const abandoned = this.#abandonedLeader;
    if (abandoned !== null && abandoned.epoch === epoch && abandoned.leaderId === leaderId && sourceId !== leaderId) return true;
    if (leaderId === this.#config.localId) {
      // Peers may still name us after we resigned (and timed out of Resigned); we must at least have
      // voted for ourselves in that epoch.
      assert(votedIdOf(role, this.#config.localId) === this.#config.localId, `told we lead epoch ${epoch} while ${role.kind}`);
      return true;
    }
    switch (role.kind) {
      case 'leader':
      case 'resigned':
        assert(false, `two leaders in epoch ${epoch}: ${this.#config.localId} and ${leaderId}`);
        break;
      case 'follower':
        assert(role.leaderId === leaderId, `two leaders in epoch ${epoch}: ${role.leaderId} and ${leaderId}`);
        break;
      default: {
        const follower = new FollowerState(epoch, leaderId, votedIdOf(role, this.#config.localId), this.#nowMs + this.#config.fetchTimeoutMs);
        this.#transition(follower);
        this.#sendFetch(follower);
      }
    }
    return true;
  }

  // ---- replication -----------------------------------------------------------------------------

  #onFetchRequest(request: FetchRequest): void {
    // A Fetch names no leader, but a higher epoch in it still moves us forward.
    this.#observeEpoch(request.currentLeaderEpoch, null, request.sourceId);
    const role = this.#role;
    const base = {
      kind: 'FetchResponse' as const,
      sourceId: this.#config.localId,
      destinationId: request.sourceId,
      leaderEpoch: this.epoch,
      leaderId: this.leaderId,
      highWatermark: this.#highWatermark,
      fetchOffset: request.fetchOffset,
      lastFetchedEpoch: request.lastFetchedEpoch,
      divergingEpoch: null,
      records: [],
    };
    if (request.currentLeaderEpoch < this.epoch) {
      this.#send({ ...base, errorCode: RaftErrorCode.FENCED_LEADER_EPOCH }, 'now');
      return;
    }
    if (role.kind !== 'leader') {
      this.#send({ ...base, errorCode: RaftErrorCode.NOT_LEADER_OR_FOLLOWER }, 'now');
      return;
    }
    const replica = role.replicas.get(request.sourceId);
    if (replica !== undefined) {
      replica.lastFetchMs = this.#nowMs;
      replica.beginQuorumAcked = true;
    }
    const valid = request.fetchOffset === 0 && request.lastFetchedEpoch === 0;
    const endOfEpoch = this.#log.endOffsetForEpoch(request.lastFetchedEpoch);
    if (!valid && (endOfEpoch.epoch !== request.lastFetchedEpoch || endOfEpoch.offset < request.fetchOffset)) {
      this.#send({ ...base, errorCode: RaftErrorCode.NONE, divergingEpoch: { epoch: endOfEpoch.epoch, endOffset: endOfEpoch.offset } }, 'now');
      return;
    }
    if (replica !== undefined && request.fetchOffset > replica.endOffset) {
      replica.endOffset = request.fetchOffset;
      this.#maybeAdvanceLeaderHighWatermark(role);
    }
    this.#send(
      {
        ...base,
        errorCode: RaftErrorCode.NONE,
        highWatermark: this.#highWatermark,
        records: this.#log.read(request.fetchOffset, this.#config.fetchEntriesMax),
      },
      'now',
    );
  }

  #onFetchResponse(response: FetchResponse): void {
    this.#observeEpoch(response.leaderEpoch, response.leaderId, response.sourceId);
    const role = this.#role;
    if (
      role.kind !== 'follower' ||
      response.leaderEpoch !== role.epoch ||
      response.sourceId !== role.leaderId ||
      // The response must answer a question about our log as it is now (end offset and last epoch):
      // anything else is stale, reordered or duplicated. A stale DivergingEpoch would truncate
      // entries that are fine.
      response.fetchOffset !== this.#log.endOffset ||
      response.lastFetchedEpoch !== this.#log.lastEpoch
    ) {
      return;
    }
    role.inflightFetch = null;
    if (response.errorCode === RaftErrorCode.NOT_LEADER_OR_FOLLOWER) {
      // Our leader says it no longer leads (it resigned): stop vouching for it in pre-votes.
      role.leaderResigned = true;
      this.#abandonedLeader = { epoch: role.epoch, leaderId: role.leaderId };
    }
    if (response.errorCode !== RaftErrorCode.NONE) return;
    role.fetchDeadlineMs = this.#nowMs + this.#config.fetchTimeoutMs;
    if (response.divergingEpoch !== null) {
      const truncateTo = this.#log.truncationOffsetFor(response.divergingEpoch);
      assert(truncateTo >= this.#highWatermark, `truncation to ${truncateTo} below the high watermark ${this.#highWatermark}`);
      assert(truncateTo < this.#log.endOffset, `diverging epoch did not shorten the log (to ${truncateTo})`);
      this.#log.truncateTo(truncateTo);
      this.#flushedEndOffset = Math.min(this.#flushedEndOffset, truncateTo);
      this.#logOps.push({ kind: 'truncate', endOffset: truncateTo });
      this.#sendFetch(role);
      return;
    }
    if (response.records.length > 0) {
      for (const [i, entry] of response.records.entries()) {
        assert(entry.offset === response.fetchOffset + i, `fetched entry at ${entry.offset}, expected ${response.fetchOffset + i}`);
      }
      this.#appendLocal(response.records);
    }
    this.#leaderHighWatermark = Math.max(this.#leaderHighWatermark, response.highWatermark);
    this.#maybeAdvanceFollowerHighWatermark();
    if (response.records.length > 0) this.#sendFetch(role);
  }

  #sendFetch(role: FollowerState): void {
    role.inflightFetch = { fetchOffset: this.#log.endOffset, sentAtMs: this.#nowMs };
    if (this.#flushedEndOffset < this.#log.endOffset) {
      // Voters flush before acknowledging: the fetch offset tells the leader our log is durable up to
      // there, so the fetch waits for logFlushed() (the in-flight marker stops tick from re-sending).
      role.fetchAfterFlush = true;
      return;
    }
    role.fetchAfterFlush = false;
    this.#send(
      {
        kind: 'FetchRequest',
        sourceId: this.#config.localId,
        destinationId: role.leaderId,
        currentLeaderEpoch: role.epoch,
        fetchOffset: this.#log.endOffset,
        lastFetchedEpoch: this.#log.lastEpoch,
      },
      // The fetch offset acknowledges our log to the leader, so it must be durable first.
      'after-persist',
    );
  }

  #leaderTick(role: LeaderState): void {
    // Check quorum: resign when a majority (us included) has not fetched within 1.5 x fetch timeout.
    const checkQuorumMs = 1.5 * this.#config.fetchTimeoutMs;
    let live = 1;
    for (const replica of role.replicas.values()) if (this.#nowMs - replica.lastFetchMs <= checkQuorumMs) live++;
    if (!this.#isMajority(live)) {
      this.#resign([]);
      return;
    }
    for (const [id, replica] of role.replicas) {
      if (replica.beginQuorumAcked || this.#nowMs - replica.lastBeginQuorumSentMs < this.#config.requestTimeoutMs) continue;
      replica.lastBeginQuorumSentMs = this.#nowMs;
      this.#send({ kind: 'BeginQuorumEpochRequest', sourceId: this.#config.localId, destinationId: id, leaderEpoch: role.epoch, leaderId: this.#config.localId }, 'now');
    }
  }

  #maybeAdvanceLeaderHighWatermark(role: LeaderState): void {
    // Our own contribution is the flushed log end: unflushed entries could vanish in a crash.
    const endOffsets = [this.#flushedEndOffset, ...Array.from(role.replicas.values(), (r) => r.endOffset)].sort((a, b) => b - a);
    const candidate = endOffsets[Math.floor(this.#config.voterIds.length / 2)] ?? 0;
    // Only once an entry of our own epoch (the leader-change entry) is committed (KIP-595).
    if (candidate > role.epochStartOffset) this.#setHighWatermark(candidate);
  }

  #maybeAdvanceFollowerHighWatermark(): void {
    this.#setHighWatermark(Math.min(this.#leaderHighWatermark, this.#flushedEndOffset));
  }

  #setHighWatermark(offset: number): void {
    if (offset <= this.#highWatermark) return; // never backwards
    assert(offset <= this.#log.endOffset, `high watermark ${offset} beyond log end ${this.#log.endOffset}`);
    for (let o = this.#highWatermark; o < offset; o++) {
      const entry = this.#log.entryAt(o);
      assert(entry !== undefined, `missing committed entry ${o}`);
      this.#committed.push(entry);
    }
    this.#highWatermark = offset;
  }

  #appendLocal(entries: readonly LogEntry[]): void {
    for (const entry of entries) this.#log.append(entry);
    this.#logOps.push({ kind: 'append', entries });
  }

  // ---- plumbing --------------------------------------------------------------------------------

  #transition(to: RoleState): void {
    const from = this.#role;
    assertTransition(from, to, this.#config.localId);
    this.#role = to;
    this.#roleChanges.push({ from: from.kind, to: to.kind, epoch: to.epoch, leaderId: leaderIdOf(to, this.#config.localId) });
    const record: QuorumStateRecord = { epoch: to.epoch, leaderId: leaderIdOf(to, this.#config.localId), votedId: votedIdOf(to, this.#config.localId) };
    const last = this.#persistedQuorumState;
    if (last === null || last.epoch !== record.epoch || last.leaderId !== record.leaderId || last.votedId !== record.votedId) {
      this.#persistedQuorumState = record;
      this.#quorumStateOut = record;
    }
  }

  #send(message: RaftMessage, durability: Durability): void {
    (durability === 'now' ? this.#messages : this.#messagesAfterPersist).push(message);
  }

  #isMajority(count: number): boolean {
    return count * 2 > this.#config.voterIds.length;
  }

  #randomJitter(): number {
    const r = this.#random();
    assert(r >= 0 && r < 1, `random() returned ${r}`);
    return Math.floor(r * this.#config.electionJitterMs);
  }

  #electionDeadline(): number {
    return this.#nowMs + this.#config.electionTimeoutMs + this.#randomJitter();
  }

  #advanceClock(nowMs: number): void {
    assert(nowMs >= this.#nowMs, `clock went backwards: ${nowMs} < ${this.#nowMs}`);
    this.#nowMs = nowMs;
  }

  #drain(): Ready {
    const ready: Ready = {
      quorumState: this.#quorumStateOut,
      logOps: this.#logOps,
      messages: this.#messages,
      messagesAfterPersist: this.#messagesAfterPersist,
      highWatermark: this.#highWatermark,
      committed: this.#committed,
      roleChanges: this.#roleChanges,
    };
    this.#quorumStateOut = null;
    this.#logOps = [];
    this.#messages = [];
    this.#messagesAfterPersist = [];
    this.#committed = [];
    this.#roleChanges = [];
    return ready;
  }
}

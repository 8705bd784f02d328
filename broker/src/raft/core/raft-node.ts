// The KRaft consensus core (KIP-595 + KIP-996 pre-vote + KIP-630 snapshots, with observers) as a pure,
// deterministic state machine in the style of etcd raft: inputs are tick(nowMs), receive(message),
// propose(records), resign(), logFlushed(), requestFailed() and snapshotCreated(); every input returns a
// Ready describing what the driver must do. The core performs no I/O, reads no clock and draws randomness
// only from the injected `random`.
//
// Offsets are Kafka record offsets; a log entry is one record batch (see raft-log.ts).
//
// Driver contract for a Ready, in order:
//   1. persist `quorumState` (if not null) durably;
//   2. apply `logOps` to the log in order (truncations, appends, snapshot installs, prefix deletions).
//      An `install-snapshot` op is durable once applied: write the snapshot file durably first, then
//      replace the log with an empty one starting at the snapshot's end offset;
//   3. send `messages` now;
//   4. send `messagesAfterPersist` only once steps 1-2 are durable (log flushed), then report the
//      flush with logFlushed(endOffset). These are the messages whose meaning depends on durable state:
//      votes granted, vote requests of a campaign, and fetches (a fetch offset acknowledges the log).
//   5. hand the state machine `loadSnapshot` (replace all state) if not null, then the `committed`
//      entries (they are below `highWatermark`).
// A request that could not be delivered or was not answered (connection refused, timeout) may be
// reported with requestFailed(); the core then retries sooner than its own timers would.
//
// A local node that is not in `voterIds` is an observer (a broker): it never votes or campaigns, finds the
// leader by fetching from the voters in turn, and follows it like a voter, but its fetches do not count
// for the high watermark.

import { assert } from './assert.ts';
import {
  RaftErrorCode,
  type FetchRequest,
  type FetchResponse,
  type FetchSnapshotRequest,
  type FetchSnapshotResponse,
  type RaftMessage,
  type RaftRequest,
  type VoteRequest,
  type VoteResponse,
} from './messages.ts';
import { RaftLog, type LeaderChangeEntry, type LogEntry, type SnapshotId } from './raft-log.ts';
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
  recordFetch,
  votedIdOf,
  type FetchProgress,
  type RoleKind,
  type RoleState,
  type SnapshotDownload,
} from './roles.ts';

export interface RaftConfig {
  readonly localId: number;
  /** The static voter set. The local node is an observer when it is not in it. */
  readonly voterIds: readonly number[];
  /** Base election timeout; each election draws base + random(0..electionJitterMs). */
  readonly electionTimeoutMs: number;
  readonly electionJitterMs: number;
  /** A follower that has not heard from its leader for this long starts a pre-vote (an observer looks for the leader again). */
  readonly fetchTimeoutMs: number;
  /** Retry interval for an unacknowledged BeginQuorumEpoch / EndQuorumEpoch. */
  readonly requestTimeoutMs: number;
  /**
   * A Fetch / FetchSnapshot unanswered this long is sent again. The driver parks fetches on the leader
   * for up to fetch.max.wait.ms, so it sets this above that plus the request timeout.
   */
  readonly fetchRetryMs: number;
  /** Retry delay after requestFailed() (Kafka's quorum.retry.backoff.ms). */
  readonly retryBackoffMs: number;
  /** Limit on batches returned by one fetch. */
  readonly fetchEntriesMax: number;
  /** Soft limit on the bytes of one fetch response (at least one batch is returned). */
  readonly fetchBytesMax: number;
  /** Limit on records accepted by one propose() (one batch). */
  readonly proposeRecordsMax: number;
  /** Bytes of snapshot returned by one FetchSnapshot response. */
  readonly snapshotChunkBytes: number;
  /** The leader forgets an observer that has not fetched for this long (DescribeQuorum). */
  readonly observerSessionTimeoutMs: number;
}

export const DEFAULT_RAFT_TIMING = {
  electionTimeoutMs: 1000,
  electionJitterMs: 1000,
  fetchTimeoutMs: 2000,
  requestTimeoutMs: 2000,
  fetchRetryMs: 500,
  retryBackoffMs: 20,
  fetchEntriesMax: 64,
  fetchBytesMax: 8 * 1024 * 1024,
  proposeRecordsMax: 10_000,
  snapshotChunkBytes: 1024 * 1024,
  observerSessionTimeoutMs: 300_000,
} as const;

/** The quorum-state file (Kafka's quorum-state JSON): written before any vote or campaign leaves. */
export interface QuorumStateRecord {
  readonly epoch: number;
  readonly leaderId: number | null;
  readonly votedId: number | null;
}

/** A snapshot: its id and its serialized content (the driver's checkpoint file; opaque to the core). */
export interface SnapshotData {
  readonly id: SnapshotId;
  readonly bytes: Uint8Array;
}

export type LogOp =
  | { readonly kind: 'append'; readonly entries: readonly LogEntry[] }
  | { readonly kind: 'truncate'; readonly endOffset: number }
  /** Write the snapshot durably, then replace the log with an empty one starting at its end offset. */
  | { readonly kind: 'install-snapshot'; readonly snapshot: SnapshotData }
  /** The log below snapshotId.endOffset is covered by a durable snapshot and may be deleted. */
  | { readonly kind: 'delete-prefix'; readonly snapshotId: SnapshotId };

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
  /** Replace the state machine's state with this snapshot before applying `committed`. */
  readonly loadSnapshot: SnapshotData | null;
  readonly committed: readonly LogEntry[];
  readonly roleChanges: readonly RoleChange[];
}

export interface PersistedRaftState {
  readonly quorumState: QuorumStateRecord | null;
  /** The latest durable snapshot; the log starts at its end offset. */
  readonly snapshot?: SnapshotData | null;
  /** The durable log (flushed entries only), from the snapshot's end offset (or 0). */
  readonly entries: readonly LogEntry[];
}

export type ProposeResult =
  | { readonly accepted: true; readonly baseOffset: number; readonly lastOffset: number; readonly ready: Ready }
  | { readonly accepted: false; readonly epoch: number; readonly leaderId: number | null };

export interface ReplicaDescription {
  readonly replicaId: number;
  /** -1 when unknown. */
  readonly logEndOffset: number;
  readonly lastFetchTimestamp: number;
  readonly lastCaughtUpTimestamp: number;
}

/** DescribeQuorum as the leader sees it. */
export interface QuorumDescription {
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly highWatermark: number;
  readonly voters: readonly ReplicaDescription[];
  readonly observers: readonly ReplicaDescription[];
}

type Durability = 'now' | 'after-persist';

/** An observer without a leader fetches from the voters in turn until one names the leader. */
interface Discovery {
  next: number;
  /** The discovery fetch in flight (destination -1: none, waiting until retryAtMs). */
  inflight: { readonly destinationId: number; readonly retryAtMs: number } | null;
}

const EMPTY_BYTES = new Uint8Array(0);

export class RaftNode {
  readonly #config: RaftConfig;
  readonly #random: () => number;
  readonly #log: RaftLog;
  readonly #otherVoterIds: readonly number[];
  readonly #isVoter: boolean;
  #role: RoleState;
  #nowMs: number;
  #highWatermark: number;
  #flushedEndOffset: number;
  #leaderHighWatermark = 0;
  #persistedQuorumState: QuorumStateRecord | null;
  #latestSnapshot: SnapshotData | null;
  /** The leader of this epoch that we stopped following; see #observeEpoch. */
  #abandonedLeader: { readonly epoch: number; readonly leaderId: number } | null = null;
  readonly #discovery: Discovery = { next: 0, inflight: null };

  // Pending Ready.
  #quorumStateOut: QuorumStateRecord | null = null;
  #logOps: LogOp[] = [];
  #messages: RaftMessage[] = [];
  #messagesAfterPersist: RaftMessage[] = [];
  #loadSnapshot: SnapshotData | null = null;
  #committed: LogEntry[] = [];
  #roleChanges: RoleChange[] = [];

  constructor(config: RaftConfig, persisted: PersistedRaftState, random: () => number, nowMs: number) {
    assert(config.voterIds.length > 0, 'no voters');
    assert(new Set(config.voterIds).size === config.voterIds.length, 'duplicate voter id');
    assert(config.fetchEntriesMax > 0 && config.proposeRecordsMax > 0 && config.snapshotChunkBytes > 0, 'limits must be positive');
    this.#config = config;
    this.#random = random;
    this.#nowMs = nowMs;
    this.#isVoter = config.voterIds.includes(config.localId);
    const snapshot = persisted.snapshot ?? null;
    this.#latestSnapshot = snapshot;
    this.#log = new RaftLog(snapshot?.id ?? null, persisted.entries);
    this.#flushedEndOffset = this.#log.endOffset;
    // Everything in the snapshot is committed; the rest of the log is re-established by the leader.
    this.#highWatermark = this.#log.startOffset;
    this.#otherVoterIds = config.voterIds.filter((id) => id !== config.localId);
    this.#persistedQuorumState = persisted.quorumState;
    const qs = persisted.quorumState;
    const deadline = this.#electionDeadline();
    if (qs === null) this.#role = new UnattachedState(0, deadline);
    else if (!this.#isVoter) {
      this.#role = qs.leaderId !== null && qs.leaderId !== config.localId ? new FollowerState(qs.epoch, qs.leaderId, null, nowMs + config.fetchTimeoutMs) : new UnattachedState(qs.epoch, deadline);
    } else if (qs.leaderId === config.localId) this.#role = new ResignedState(qs.epoch, deadline, [], nowMs - config.requestTimeoutMs);
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
  get isVoter(): boolean {
    return this.#isVoter;
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
  get logStartOffset(): number {
    return this.#log.startOffset;
  }
  get logEndOffset(): number {
    return this.#log.endOffset;
  }
  get lastFetchedEpoch(): number {
    return this.#log.lastEpoch;
  }
  get flushedEndOffset(): number {
    return this.#flushedEndOffset;
  }
  /** Entries from the log start offset. */
  get log(): readonly LogEntry[] {
    return this.#log.entries();
  }
  get latestSnapshotId(): SnapshotId | null {
    return this.#latestSnapshot?.id ?? null;
  }
  /** The entry holding `offset`, if the log still has it. */
  entryAt(offset: number): LogEntry | undefined {
    return this.#log.entryAt(offset);
  }
  /** The role object, for tests and metrics; do not mutate. */
  get roleState(): Readonly<RoleState> {
    return this.#role;
  }

  /** DescribeQuorum data; null unless this node is the leader. */
  describeQuorum(): QuorumDescription | null {
    const role = this.#role;
    if (role.kind !== 'leader') return null;
    const describe = (replicaId: number, p: FetchProgress): ReplicaDescription => ({
      replicaId,
      logEndOffset: p.fetched ? p.endOffset : -1,
      lastFetchTimestamp: p.fetched ? p.lastFetchMs : -1,
      lastCaughtUpTimestamp: p.lastCaughtUpMs,
    });
    const self: ReplicaDescription = { replicaId: this.#config.localId, logEndOffset: this.#log.endOffset, lastFetchTimestamp: this.#nowMs, lastCaughtUpTimestamp: this.#nowMs };
    const voters = this.#config.voterIds.map((id) => {
      const p = role.replicas.get(id);
      return p === undefined ? self : describe(id, p);
    });
    const observers = [...role.observers].sort(([a], [b]) => a - b).map(([id, p]) => describe(id, p));
    return { leaderId: this.#config.localId, leaderEpoch: role.epoch, highWatermark: this.#highWatermark, voters, observers };
  }

  // ---- inputs ----------------------------------------------------------------------------------

  tick(nowMs: number): Ready {
    this.#advanceClock(nowMs);
    const role = this.#role;
    switch (role.kind) {
      case 'unattached':
        if (!this.#isVoter) this.#discover();
        else if (nowMs >= role.electionDeadlineMs) this.#becomeProspective();
        break;
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
          if (this.#isVoter) this.#becomeProspective();
          else {
            // An observer holds no vote: it forgets the leader and looks for it again.
            this.#transition(new UnattachedState(role.epoch, this.#electionDeadline()));
            this.#discover();
          }
        } else if (role.inflightFetch === null || nowMs >= role.inflightFetch.retryAtMs) {
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
      case 'FetchSnapshotRequest':
        this.#onFetchSnapshotRequest(message);
        break;
      case 'FetchSnapshotResponse':
        this.#onFetchSnapshotResponse(message);
        break;
    }
    return this.#drain();
  }

  /** Leader only: append `records` (values) as one data batch of the current epoch. */
  propose(records: readonly Uint8Array[], nowMs: number): ProposeResult {
    this.#advanceClock(nowMs);
    const role = this.#role;
    if (role.kind !== 'leader') return { accepted: false, epoch: role.epoch, leaderId: this.leaderId };
    assert(records.length > 0 && records.length <= this.#config.proposeRecordsMax, `propose of ${records.length} records`);
    const baseOffset = this.#log.endOffset;
    const lastOffset = baseOffset + records.length - 1;
    this.#appendLocal([{ type: 'data', baseOffset, lastOffset, epoch: role.epoch, appendTimestamp: nowMs, records }]);
    return { accepted: true, baseOffset, lastOffset, ready: this.#drain() };
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

  /**
   * A request this node sent was not answered (connection failure, request timeout). Optional: the core
   * also retries on its own timers; this only makes the retry come sooner.
   */
  requestFailed(request: RaftRequest, nowMs: number): Ready {
    this.#advanceClock(nowMs);
    if (request.sourceId !== this.#config.localId) return this.#drain();
    const retryAtMs = this.#nowMs + this.#config.retryBackoffMs;
    const role = this.#role;
    switch (request.kind) {
      case 'FetchRequest':
      case 'FetchSnapshotRequest':
        if (this.#discovery.inflight?.destinationId === request.destinationId) this.#discovery.inflight = { destinationId: -1, retryAtMs };
        if (role.kind === 'follower' && role.leaderId === request.destinationId && role.inflightFetch !== null) {
          role.inflightFetch.retryAtMs = Math.min(role.inflightFetch.retryAtMs, retryAtMs);
        }
        break;
      case 'BeginQuorumEpochRequest':
        if (role.kind === 'leader' && request.leaderEpoch === role.epoch) {
          const replica = role.replicas.get(request.destinationId);
          if (replica !== undefined && !replica.beginQuorumAcked) {
            replica.lastBeginQuorumSentMs = Math.min(replica.lastBeginQuorumSentMs, retryAtMs - this.#config.requestTimeoutMs);
          }
        }
        break;
      default:
        break;
    }
    return this.#drain();
  }

  /**
   * The state machine wrote a durable snapshot of its state after every record below `id.endOffset`
   * (committed, on a batch boundary, `id.epoch` the epoch of the batch ending there). The log start moves
   * there, and the driver may delete the log below it.
   */
  snapshotCreated(snapshot: SnapshotData, nowMs: number): Ready {
    this.#advanceClock(nowMs);
    const id = snapshot.id;
    if (id.endOffset > this.#log.startOffset) {
      assert(id.endOffset <= this.#highWatermark, `snapshot at ${id.endOffset} beyond the high watermark ${this.#highWatermark}`);
      this.#log.advanceStart(id);
      this.#flushedEndOffset = Math.max(this.#flushedEndOffset, id.endOffset);
      this.#latestSnapshot = snapshot;
      this.#logOps.push({ kind: 'delete-prefix', snapshotId: id });
    }
    return this.#drain();
  }

  // ---- elections -------------------------------------------------------------------------------

  #onVoteRequest(request: VoteRequest): void {
    const reply = (granted: boolean, errorCode: RaftErrorCode = RaftErrorCode.NONE): void => {
      this.#send(
        {
          kind: 'VoteResponse',
          sourceId: this.#config.localId,
          destinationId: request.sourceId,
          errorCode: request.candidateEpoch < this.epoch ? RaftErrorCode.FENCED_LEADER_EPOCH : errorCode,
          leaderEpoch: this.epoch,
          leaderId: this.leaderId,
          voteGranted: granted,
          preVote: request.preVote,
        },
        // A granted vote must be durable before the candidate can count it.
        granted && !request.preVote ? 'after-persist' : 'now',
      );
    };
    if (!this.#isVoter) {
      // Kafka's validateVoterOnlyRequest: an observer takes no part in elections.
      reply(false, RaftErrorCode.INCONSISTENT_VOTER_SET);
      return;
    }
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
    assert(this.#isVoter, 'an observer cannot campaign');
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
    // KIP-595: the leader's first batch of its epoch is a LeaderChangeMessage control record.
    const offset = this.#log.endOffset;
    const entry: LeaderChangeEntry = {
      type: 'leader-change',
      baseOffset: offset,
      lastOffset: offset,
      epoch: leader.epoch,
      appendTimestamp: this.#nowMs,
      leaderId: this.#config.localId,
      voters: this.#config.voterIds,
      grantingVoters: [...from.granted].sort((a, b) => a - b),
    };
    this.#appendLocal([entry]);
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
        this.#discovery.inflight = null;
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
    const log = this.#log;
    const base = {
      kind: 'FetchResponse' as const,
      sourceId: this.#config.localId,
      destinationId: request.sourceId,
      leaderEpoch: this.epoch,
      leaderId: this.leaderId,
      highWatermark: this.#highWatermark,
      logStartOffset: log.startOffset,
      fetchOffset: request.fetchOffset,
      lastFetchedEpoch: request.lastFetchedEpoch,
      divergingEpoch: null,
      snapshotId: null,
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
    const progress = this.#progressOf(role, request.sourceId);
    // Kafka's ReplicatedLog.validateOffsetAndEpoch: a snapshot when the fetch position is behind the log
    // start (or disagrees with the snapshot's epoch there), else DivergingEpoch when the follower's last
    // epoch ends before its fetch offset in our log.
    const start = log.startOffset;
    if (!(start === 0 && request.fetchOffset === 0)) {
      if (
        start > 0 &&
        (request.fetchOffset < start || (request.fetchOffset === start && request.lastFetchedEpoch !== log.startEpoch) || request.lastFetchedEpoch < log.startEpoch)
      ) {
        const snapshot = this.#latestSnapshot;
        assert(snapshot !== null && snapshot.id.endOffset >= start, `log starts at ${start} without a snapshot`);
        if (progress !== null) progress.lastFetchMs = this.#nowMs;
        this.#send({ ...base, errorCode: RaftErrorCode.NONE, snapshotId: snapshot.id }, 'now');
        return;
      }
      const endOfEpoch = log.endOffsetForEpoch(request.lastFetchedEpoch);
      if (endOfEpoch.epoch !== request.lastFetchedEpoch || endOfEpoch.offset < request.fetchOffset) {
        if (progress !== null) progress.lastFetchMs = this.#nowMs;
        this.#send({ ...base, errorCode: RaftErrorCode.NONE, divergingEpoch: { epoch: endOfEpoch.epoch, endOffset: endOfEpoch.offset } }, 'now');
        return;
      }
    }
    if (progress !== null) {
      recordFetch(progress, request.fetchOffset, log.endOffset, this.#nowMs);
      if (role.replicas.has(request.sourceId)) this.#maybeAdvanceLeaderHighWatermark(role);
    }
    this.#send(
      {
        ...base,
        errorCode: RaftErrorCode.NONE,
        highWatermark: this.#highWatermark,
        records: log.read(request.fetchOffset, this.#config.fetchEntriesMax, this.#config.fetchBytesMax),
      },
      'now',
    );
  }

  /** The leader's record of a replica (voter or observer) that fetches from it; null for ourselves. */
  #progressOf(role: LeaderState, replicaId: number): FetchProgress | null {
    if (replicaId === this.#config.localId) return null;
    const voter = role.replicas.get(replicaId);
    if (voter !== undefined) {
      voter.beginQuorumAcked = true;
      return voter;
    }
    let observer = role.observers.get(replicaId);
    if (observer === undefined) {
      observer = { endOffset: 0, fetched: false, lastFetchMs: this.#nowMs, lastCaughtUpMs: -1, lastFetchLeaderEndOffset: 0 };
      role.observers.set(replicaId, observer);
    }
    return observer;
  }

  #onFetchResponse(response: FetchResponse): void {
    this.#observeEpoch(response.leaderEpoch, response.leaderId, response.sourceId);
    this.#discoveryAnswered(response.sourceId);
    const role = this.#role;
    if (
      role.kind !== 'follower' ||
      response.leaderEpoch !== role.epoch ||
      response.sourceId !== role.leaderId ||
      // While a snapshot downloads, fetch responses are stale by definition.
      role.fetchingSnapshot !== null ||
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
      if (!this.#isVoter) {
        // An observer gets no EndQuorumEpoch and has no election to wait for: look for the next leader now.
        this.#transition(new UnattachedState(role.epoch, this.#electionDeadline()));
        this.#discover();
      }
    }
    if (response.errorCode !== RaftErrorCode.NONE) return;
    role.fetchDeadlineMs = this.#nowMs + this.#config.fetchTimeoutMs;
    if (response.divergingEpoch !== null) {
      const truncateTo = this.#log.truncationOffsetFor(response.divergingEpoch);
      assert(truncateTo >= this.#highWatermark, `truncation to ${truncateTo} below the high watermark ${this.#highWatermark}`);
      assert(truncateTo < this.#log.endOffset, `diverging epoch did not shorten the log (to ${truncateTo})`);
      const end = this.#log.truncateTo(truncateTo);
      assert(end >= this.#highWatermark, `truncation to ${end} below the high watermark ${this.#highWatermark}`);
      this.#flushedEndOffset = Math.min(this.#flushedEndOffset, end);
      this.#logOps.push({ kind: 'truncate', endOffset: end });
      this.#sendFetch(role);
      return;
    }
    if (response.snapshotId !== null) {
      // Our fetch offset is behind the leader's log start: download its snapshot (KIP-630).
      assert(response.snapshotId.endOffset >= this.#highWatermark, `snapshot ${response.snapshotId.endOffset} below the high watermark ${this.#highWatermark}`);
      role.fetchingSnapshot = { id: response.snapshotId, chunks: [], received: 0 };
      this.#sendFetch(role);
      return;
    }
    if (response.records.length > 0) {
      const first = response.records[0];
      assert(first?.baseOffset === response.fetchOffset, `fetched batch at ${first?.baseOffset}, expected ${response.fetchOffset}`);
      this.#appendLocal(response.records);
    }
    this.#leaderHighWatermark = Math.max(this.#leaderHighWatermark, response.highWatermark);
    this.#maybeAdvanceFollowerHighWatermark();
    if (response.records.length > 0) this.#sendFetch(role);
  }

  #onFetchSnapshotRequest(request: FetchSnapshotRequest): void {
    this.#observeEpoch(request.currentLeaderEpoch, null, request.sourceId);
    const role = this.#role;
    const reply = (errorCode: RaftErrorCode, size = -1, bytes: Uint8Array = EMPTY_BYTES): void => {
      this.#send(
        {
          kind: 'FetchSnapshotResponse',
          sourceId: this.#config.localId,
          destinationId: request.sourceId,
          errorCode,
          leaderEpoch: this.epoch,
          leaderId: this.leaderId,
          snapshotId: request.snapshotId,
          size,
          position: request.position,
          bytes,
        },
        'now',
      );
    };
    if (request.currentLeaderEpoch < this.epoch) return reply(RaftErrorCode.FENCED_LEADER_EPOCH);
    if (role.kind !== 'leader') return reply(RaftErrorCode.NOT_LEADER_OR_FOLLOWER);
    // A replica downloading a snapshot is alive (check quorum counts it).
    const progress = this.#progressOf(role, request.sourceId);
    if (progress !== null) progress.lastFetchMs = this.#nowMs;
    const snapshot = this.#latestSnapshot;
    if (snapshot === null || snapshot.id.endOffset !== request.snapshotId.endOffset || snapshot.id.epoch !== request.snapshotId.epoch) {
      return reply(RaftErrorCode.SNAPSHOT_NOT_FOUND);
    }
    const size = snapshot.bytes.length;
    if (request.position < 0 || request.position >= size) return reply(RaftErrorCode.POSITION_OUT_OF_RANGE);
    reply(RaftErrorCode.NONE, size, snapshot.bytes.subarray(request.position, request.position + this.#config.snapshotChunkBytes));
  }

  #onFetchSnapshotResponse(response: FetchSnapshotResponse): void {
    this.#observeEpoch(response.leaderEpoch, response.leaderId, response.sourceId);
    const role = this.#role;
    const download = role.kind === 'follower' ? role.fetchingSnapshot : null;
    if (
      role.kind !== 'follower' ||
      download === null ||
      response.leaderEpoch !== role.epoch ||
      response.sourceId !== role.leaderId ||
      response.snapshotId.endOffset !== download.id.endOffset ||
      response.snapshotId.epoch !== download.id.epoch ||
      response.position !== download.received
    ) {
      return;
    }
    role.inflightFetch = null;
    if (response.errorCode === RaftErrorCode.NOT_LEADER_OR_FOLLOWER) {
      role.leaderResigned = true;
      this.#abandonedLeader = { epoch: role.epoch, leaderId: role.leaderId };
    }
    if (response.errorCode === RaftErrorCode.SNAPSHOT_NOT_FOUND) {
      // The leader replaced the snapshot meanwhile: start over with a Fetch, which names the new one.
      role.fetchingSnapshot = null;
      role.fetchDeadlineMs = this.#nowMs + this.#config.fetchTimeoutMs;
      this.#sendFetch(role);
      return;
    }
    if (response.errorCode !== RaftErrorCode.NONE) return;
    assert(response.bytes.length > 0 && response.position + response.bytes.length <= response.size, `snapshot chunk of ${response.bytes.length} bytes at ${response.position} of ${response.size}`);
    role.fetchDeadlineMs = this.#nowMs + this.#config.fetchTimeoutMs;
    download.chunks.push(response.bytes);
    download.received += response.bytes.length;
    if (download.received === response.size) this.#installSnapshot(role, download);
    else this.#sendFetch(role);
  }

  #installSnapshot(role: FollowerState, download: SnapshotDownload): void {
    const bytes = new Uint8Array(download.received);
    let at = 0;
    for (const chunk of download.chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    const snapshot: SnapshotData = { id: download.id, bytes };
    assert(snapshot.id.endOffset >= this.#highWatermark, `installing snapshot ${snapshot.id.endOffset} below the high watermark ${this.#highWatermark}`);
    role.fetchingSnapshot = null;
    this.#log.resetTo(snapshot.id);
    this.#flushedEndOffset = snapshot.id.endOffset;
    this.#latestSnapshot = snapshot;
    this.#logOps.push({ kind: 'install-snapshot', snapshot });
    // The snapshot holds the state after everything committed below its end: it replaces whatever the
    // state machine was about to receive.
    this.#committed = [];
    this.#loadSnapshot = snapshot;
    this.#highWatermark = snapshot.id.endOffset;
    this.#leaderHighWatermark = Math.max(this.#leaderHighWatermark, snapshot.id.endOffset);
    this.#sendFetch(role);
  }

  #sendFetch(role: FollowerState): void {
    const download = role.fetchingSnapshot;
    const retryAtMs = this.#nowMs + this.#config.fetchRetryMs;
    if (download !== null) {
      role.inflightFetch = { kind: 'snapshot', sentAtMs: this.#nowMs, retryAtMs };
      role.fetchAfterFlush = false;
      this.#send(
        {
          kind: 'FetchSnapshotRequest',
          sourceId: this.#config.localId,
          destinationId: role.leaderId,
          currentLeaderEpoch: role.epoch,
          snapshotId: download.id,
          position: download.received,
        },
        'now',
      );
      return;
    }
    role.inflightFetch = { kind: 'fetch', sentAtMs: this.#nowMs, retryAtMs };
    if (this.#flushedEndOffset < this.#log.endOffset) {
      // Voters flush before acknowledging: the fetch offset tells the leader our log is durable up to
      // there, so the fetch waits for logFlushed() (the in-flight marker stops tick from re-sending).
      role.fetchAfterFlush = true;
      return;
    }
    role.fetchAfterFlush = false;
    this.#send(this.#fetchRequest(role.leaderId, role.epoch), 'after-persist');
  }

  #fetchRequest(destinationId: number, epoch: number): FetchRequest {
    return {
      kind: 'FetchRequest',
      sourceId: this.#config.localId,
      destinationId,
      currentLeaderEpoch: epoch,
      fetchOffset: this.#log.endOffset,
      lastFetchedEpoch: this.#log.lastEpoch,
    };
  }

  /** Observer without a leader: fetch from the next voter; any answer names the leader if it knows one. */
  #discover(): void {
    const discovery = this.#discovery;
    if (discovery.inflight !== null && this.#nowMs < discovery.inflight.retryAtMs) return;
    const voters = this.#config.voterIds;
    const destinationId = voters[discovery.next % voters.length];
    assert(destinationId !== undefined, 'no voter to fetch from');
    discovery.next++;
    discovery.inflight = { destinationId, retryAtMs: this.#nowMs + this.#config.fetchRetryMs };
    // The fetch offset acknowledges nothing for an observer, but waiting for a pending flush is harmless.
    this.#send(this.#fetchRequest(destinationId, this.epoch), 'after-persist');
  }

  #discoveryAnswered(sourceId: number): void {
    const discovery = this.#discovery;
    if (discovery.inflight?.destinationId !== sourceId) return;
    // Still no leader after the answer: try the next voter after a backoff.
    discovery.inflight = this.#role.kind === 'unattached' ? { destinationId: -1, retryAtMs: this.#nowMs + this.#config.retryBackoffMs } : null;
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
    for (const [id, observer] of role.observers) {
      if (this.#nowMs - observer.lastFetchMs > this.#config.observerSessionTimeoutMs) role.observers.delete(id);
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
    const entries = this.#log.entries();
    let next = this.#highWatermark;
    for (let i = this.#log.indexOf(next); next < offset; i++) {
      const entry = entries[i];
      assert(entry !== undefined && entry.baseOffset === next, `missing committed batch at ${next}`);
      this.#committed.push(entry);
      next = entry.lastOffset + 1;
    }
    assert(next === offset, `high watermark ${offset} inside the batch ending at ${next}`);
    this.#highWatermark = offset;
  }

  #appendLocal(entries: readonly LogEntry[]): void {
    for (const entry of entries) this.#log.append(entry);
    this.#logOps.push({ kind: 'append', entries });
  }

  // ---- plumbing --------------------------------------------------------------------------------

  #transition(to: RoleState): void {
    const from = this.#role;
    assertTransition(from, to, this.#config.localId, this.#isVoter);
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
      loadSnapshot: this.#loadSnapshot,
      committed: this.#committed,
      roleChanges: this.#roleChanges,
    };
    this.#quorumStateOut = null;
    this.#logOps = [];
    this.#messages = [];
    this.#messagesAfterPersist = [];
    this.#loadSnapshot = null;
    this.#committed = [];
    this.#roleChanges = [];
    return ready;
  }
}

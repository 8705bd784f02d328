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
// A local node that is not in the voter set is an observer (a broker): it never campaigns, finds the
// leader by fetching from the bootstrap servers and voters in turn, and follows it like a voter, but its
// fetches do not count for the high watermark.
//
// Dynamic voters (KIP-853, kraft.version 1): the voter set is the latest VotersRecord in the log (or the
// snapshot / bootstrap checkpoint), committed or not, instead of the static `voterIds` (voter-set.ts). The
// leader changes it one voter at a time (addVoter / removeVoter / updateVoter): only once it has committed
// an entry of its epoch and no other change is uncommitted or in flight. A change takes effect as soon as
// it is appended: elections, check quorum and the high watermark use the new set. A leader removed from
// the set resigns once the removal commits. With dynamic voters, votes are granted to candidates outside
// the local voter set (it may be stale), and non-voters vote too; only voters campaign.

import { assert } from './assert.ts';
import {
  RaftErrorCode,
  type BeginQuorumEpochResponse,
  type FetchRequest,
  type FetchResponse,
  type FetchSnapshotRequest,
  type FetchSnapshotResponse,
  type RaftMessage,
  type RaftRequest,
  type VoteRequest,
  type VoteResponse,
} from './messages.ts';
import { RaftLog, voterSetOf, type LeaderChangeEntry, type LogEntry, type SnapshotId, type VotersEntry } from './raft-log.ts';
import {
  KRAFT_VERSION_RECONFIG,
  NO_DIRECTORY_ID,
  VoterHistory,
  addVoter as withVoterAdded,
  findVoter,
  isVoterKey,
  normalize,
  removeVoter as withVoterRemoved,
  sameVoterSet,
  staticVoterSet,
  updateVoter as withVoterUpdated,
  voterIdsOf,
  type ReplicaKey,
  type VoterNode,
  type VoterSet,
} from './voter-set.ts';
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
  /** The local replica's directory id: its voter key is (localId, localDirectoryId). Default NO_DIRECTORY_ID. */
  readonly localDirectoryId?: string;
  /**
   * The static voter set (controller.quorum.voters, kraft.version 0), used until a voter set is found in
   * the snapshot, the bootstrap checkpoint or the log. May be empty when `bootstrapIds` are given. The
   * local node is an observer when it is not in the voter set in effect.
   */
  readonly voterIds: readonly number[];
  /**
   * controller.quorum.bootstrap.servers as pseudo node ids (Kafka numbers them -2, -3, ...; the driver
   * maps them to addresses). A node without a leader fetches from them (then from the known voters) to
   * find it.
   */
  readonly bootstrapIds?: readonly number[];
  /**
   * Reads the voter set a snapshot holds (its KRaftVersionRecord + VotersRecord), or null for a snapshot
   * without one (kraft.version 0). Needed to restart from and install snapshots with dynamic voters.
   */
  readonly snapshotVoters?: (bytes: Uint8Array) => VoterSet | null;
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

/** The end of an AddRaftVoter / RemoveRaftVoter / UpdateRaftVoter accepted earlier (see VoterChangeResult). */
export interface VoterChangeOutcome {
  readonly changeId: number;
  /** NONE once the VotersRecord committed (UpdateRaftVoter: once appended, as Kafka answers); else why not. */
  readonly errorCode: RaftErrorCode;
  readonly message: string | null;
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
  /** Voter changes that ended (answer the AddRaftVoter / RemoveRaftVoter / UpdateRaftVoter requests). */
  readonly voterChanges: readonly VoterChangeOutcome[];
}

/** addVoter / removeVoter / updateVoter: accepted (the outcome comes later in a Ready, by changeId) or refused. */
export type VoterChangeResult =
  | { readonly accepted: true; readonly changeId: number; readonly offset: number; readonly ready: Ready }
  | { readonly accepted: false; readonly errorCode: RaftErrorCode; readonly message: string; readonly ready: Ready };

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
  readonly directoryId: string;
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
  readonly #localKey: ReplicaKey;
  readonly #voters: VoterHistory;
  #nextChangeId = 1;
  #role: RoleState;
  #nowMs: number;
  #highWatermark: number;
  #flushedEndOffset: number;
  #leaderHighWatermark = 0;
  #persistedQuorumState: QuorumStateRecord | null;
  #latestSnapshot: SnapshotData | null;
  /** The leader of this epoch that we stopped following; see #observeEpoch. */
  #abandonedLeader: { readonly epoch: number; readonly leaderId: number } | null = null;
  /** Leader by its own vote alone (a single voter), until the next logFlushed (see #send). */
  #unconfirmedLeader = false;
  readonly #discovery: Discovery = { next: 0, inflight: null };

  // Pending Ready.
  #quorumStateOut: QuorumStateRecord | null = null;
  #logOps: LogOp[] = [];
  #messages: RaftMessage[] = [];
  #messagesAfterPersist: RaftMessage[] = [];
  #loadSnapshot: SnapshotData | null = null;
  #committed: LogEntry[] = [];
  #roleChanges: RoleChange[] = [];
  #voterChanges: VoterChangeOutcome[] = [];

  constructor(config: RaftConfig, persisted: PersistedRaftState, random: () => number, nowMs: number) {
    assert(new Set(config.voterIds).size === config.voterIds.length, 'duplicate voter id');
    assert(config.fetchEntriesMax > 0 && config.proposeRecordsMax > 0 && config.snapshotChunkBytes > 0, 'limits must be positive');
    this.#config = config;
    this.#random = random;
    this.#nowMs = nowMs;
    this.#localKey = { id: config.localId, directoryId: config.localDirectoryId ?? NO_DIRECTORY_ID };
    const snapshot = persisted.snapshot ?? null;
    this.#latestSnapshot = snapshot;
    this.#log = new RaftLog(snapshot?.id ?? null, persisted.entries);
    // The voter set: the snapshot's (or the bootstrap checkpoint's, a snapshot at offset 0), else the
    // static configuration; then every VotersRecord in the log after it.
    this.#voters = this.#baseVoters(snapshot);
    for (const entry of this.#log.entries()) {
      const voters = voterSetOf(entry);
      if (voters !== undefined) this.#voters.append(entry.lastOffset, voters);
    }
    assert(this.#voters.latest.length > 0 || (config.bootstrapIds?.length ?? 0) > 0, 'no voters and no bootstrap servers');
    this.#flushedEndOffset = this.#log.endOffset;
    // Everything in the snapshot is committed; the rest of the log is re-established by the leader.
    this.#highWatermark = this.#log.startOffset;
    this.#persistedQuorumState = persisted.quorumState;
    const qs = persisted.quorumState;
    const deadline = this.#electionDeadline();
    // Non-voters restore the same way: with dynamic voters they may hold a vote (or have led) in the epoch.
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
  /** Is the local replica a voter of the voter set in effect? */
  get isVoter(): boolean {
    return isVoterKey(this.#voters.latest, this.#localKey);
  }
  /**
   * May this replica campaign? A voter of the set in effect may; so may a voter of any set in effect at or
   * after our high watermark, i.e. while a VotersRecord that removes us is not known to be committed
   * (after a restart the high watermark is the log start). Otherwise a leader that removed itself from a
   * two-voter set and crashed before the removal committed could never be replaced: the other voter,
   * lacking the record, needs its vote, and it refuses (its log is longer). Safety does not depend on who
   * campaigns: votes are counted in the candidate's latest voter set (Raft's single-server changes), so
   * such a candidate counts only the new set's votes, and resigns once the removal commits.
   */
  /** Is this node the whole voter set? */
  #isOnlyVoter(): boolean {
    const voters = this.#voters.latest;
    return voters.length === 1 && this.isVoter;
  }

  get mayCampaign(): boolean {
    return this.isVoter || this.#voters.setsFrom(this.#highWatermark).some((voters) => isVoterKey(voters, this.#localKey));
  }
  /** The voter set in effect (the latest in the log, committed or not). */
  get voterSet(): VoterSet {
    return this.#voters.latest;
  }
  /** kraft.version: 1 when the voter set is data (log, snapshot, bootstrap checkpoint), 0 when static. */
  get kraftVersion(): number {
    return this.#voters.dynamic ? KRAFT_VERSION_RECONFIG : 0;
  }
  /** Offset of the VotersRecord of the voter set in effect; -1 when it is not in the log. */
  get voterSetOffset(): number {
    return this.#voters.latestOffset;
  }
  /**
   * The voter set after every record below `endOffset` (what a snapshot ending there holds), with
   * `dynamic` false when it is the static configuration (the snapshot then holds no voter set).
   */
  votersAt(endOffset: number): { readonly voters: VoterSet; readonly dynamic: boolean } {
    return this.#voters.at(endOffset);
  }
  /** The voter change the leader has in flight, if any. */
  get pendingVoterChange(): { readonly kind: 'add' | 'remove'; readonly offset: number } | null {
    return this.#role.kind === 'leader' ? this.#role.voterChange : null;
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
      directoryId: p.directoryId,
      logEndOffset: p.fetched ? p.endOffset : -1,
      lastFetchTimestamp: p.fetched ? p.lastFetchMs : -1,
      lastCaughtUpTimestamp: p.lastCaughtUpMs,
    });
    const self: ReplicaDescription = { replicaId: this.#config.localId, directoryId: this.#localKey.directoryId, logEndOffset: this.#log.endOffset, lastFetchTimestamp: this.#nowMs, lastCaughtUpTimestamp: this.#nowMs };
    const voters = this.#voters.latest.map((v) => {
      const p = role.replicas.get(v.id);
      return p === undefined ? (v.id === this.#config.localId ? self : describe(v.id, emptyProgress(v.directoryId, -1))) : describe(v.id, p);
    });
    const observers = [...role.observers].sort(([a], [b]) => a - b).map(([id, p]) => describe(id, p));
    // A leader removed from the voter set (until the removal commits and it resigns) reports itself as an observer.
    if (!this.isVoter) observers.unshift(self);
    return { leaderId: this.#config.localId, leaderEpoch: role.epoch, highWatermark: this.#highWatermark, voters, observers };
  }

  // ---- inputs ----------------------------------------------------------------------------------

  tick(nowMs: number): Ready {
    this.#advanceClock(nowMs);
    const role = this.#role;
    switch (role.kind) {
      case 'unattached':
      case 'voted':
        // A non-voter (observer, removed voter, voter-to-be) looks for the leader instead of campaigning.
        if (!this.mayCampaign) this.#discover();
        // The only voter has nobody to wait for (Kafka: candidate at once when it is the only voter).
        else if (nowMs >= role.electionDeadlineMs || this.#isOnlyVoter()) this.#becomeProspective();
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
          if (this.mayCampaign) this.#becomeProspective();
          else this.#becomeLeaderless(role);
        } else if (role.inflightFetch === null || nowMs >= role.inflightFetch.retryAtMs) {
          this.#sendFetch(role);
        }
        break;
      case 'leader':
        this.#leaderTick(role);
        break;
      case 'resigned':
        if (nowMs >= role.electionDeadlineMs || this.#isOnlyVoter()) {
          this.#transition(new VotedState(role.epoch, this.#config.localId, this.#electionDeadline()));
        } else if (nowMs - role.lastEndQuorumSentMs >= this.#config.requestTimeoutMs) {
          this.#sendEndQuorumEpoch(role);
        }
        break;
    }
    return this.#drain();
  }

  /** The body of a Begin/EndQuorumEpoch answer: accepted when the sender's epoch is known, else fenced. */
  #epochAnswer(destinationId: number, known: boolean): Omit<BeginQuorumEpochResponse, 'kind'> {
    return {
      sourceId: this.#config.localId,
      destinationId,
      errorCode: known ? RaftErrorCode.NONE : RaftErrorCode.FENCED_LEADER_EPOCH,
      leaderEpoch: this.epoch,
      leaderId: this.leaderId,
    };
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
        this.#send({ kind: 'BeginQuorumEpochResponse', ...this.#epochAnswer(message.sourceId, known) }, 'now');
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
        this.#send({ kind: 'EndQuorumEpochResponse', ...this.#epochAnswer(message.sourceId, known) }, 'now');
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

  /**
   * AddRaftVoter (KIP-853), on the leader. Kafka's checks, in its order: no change in flight and the HW
   * established in this epoch (else REQUEST_TIMED_OUT), kraft.version 1 (UNSUPPORTED_VERSION), no
   * uncommitted VotersRecord (REQUEST_TIMED_OUT), the id not a voter yet (DUPLICATE_VOTER), the new voter
   * supports kraft.version 1 (INVALID_REQUEST), and it is caught up: it fetches from this leader as an
   * observer with that directory id, and had everything the leader had within the last fetch timeout
   * (REQUEST_TIMED_OUT). Then the new set is appended; the outcome (NONE once it commits, REQUEST_TIMED_OUT
   * after `timeoutMs`, NOT_LEADER_OR_FOLLOWER if leadership is lost) comes in a later Ready.
   */
  addVoter(voter: VoterNode, timeoutMs: number, nowMs: number): VoterChangeResult {
    this.#advanceClock(nowMs);
    const role = this.#role;
    if (role.kind !== 'leader') return this.#refuse(RaftErrorCode.NOT_LEADER_OR_FOLLOWER, 'not the leader');
    const blocked = this.#voterChangeBlocked(role);
    if (blocked !== null) return blocked;
    const current = this.#voters.latest;
    if (findVoter(current, voter.id) !== undefined) return this.#refuse(RaftErrorCode.DUPLICATE_VOTER, `replica ${voter.id} is already a voter`);
    if (voter.kraftVersion.min > KRAFT_VERSION_RECONFIG || voter.kraftVersion.max < KRAFT_VERSION_RECONFIG) {
      return this.#refuse(RaftErrorCode.INVALID_REQUEST, `voter ${voter.id} supports kraft.version ${voter.kraftVersion.min}..${voter.kraftVersion.max}, not ${KRAFT_VERSION_RECONFIG}`);
    }
    const progress = role.observers.get(voter.id);
    const window = this.#config.fetchTimeoutMs;
    if (progress === undefined || progress.directoryId !== voter.directoryId || !progress.fetched || this.#nowMs - progress.lastFetchMs > window || progress.lastCaughtUpMs < this.#nowMs - window) {
      return this.#refuse(RaftErrorCode.REQUEST_TIMED_OUT, `replica ${voter.id} is not fetching from the leader or is lagging behind`);
    }
    const next = withVoterAdded(current, voter);
    assert(next !== null, `cannot add ${voter.id}`);
    return this.#acceptVoterChange(role, 'add', next, timeoutMs);
  }

  /**
   * RemoveRaftVoter (KIP-853), on the leader: the same preconditions as addVoter, then the key must match a
   * voter exactly and one voter must remain (VOTER_NOT_FOUND). A leader that removes itself resigns once
   * the removal commits.
   */
  removeVoter(key: ReplicaKey, timeoutMs: number, nowMs: number): VoterChangeResult {
    this.#advanceClock(nowMs);
    const role = this.#role;
    if (role.kind !== 'leader') return this.#refuse(RaftErrorCode.NOT_LEADER_OR_FOLLOWER, 'not the leader');
    const blocked = this.#voterChangeBlocked(role);
    if (blocked !== null) return blocked;
    const next = withVoterRemoved(this.#voters.latest, key);
    if (next === null) return this.#refuse(RaftErrorCode.VOTER_NOT_FOUND, `cannot remove ${key.id}/${key.directoryId} from voters ${voterIdsOf(this.#voters.latest).join(',')}`);
    return this.#acceptVoterChange(role, 'remove', next, timeoutMs);
  }

  /**
   * UpdateRaftVoter (KIP-853), on the leader: a voter's endpoints / supported kraft.version. The same
   * preconditions; the range must include kraft.version 1 and the endpoints must not be empty
   * (INVALID_REQUEST); the key must match a voter (VOTER_NOT_FOUND). Answered (NONE) once appended, as
   * Kafka does; it still blocks other changes until it commits.
   */
  updateVoter(voter: VoterNode, nowMs: number): VoterChangeResult {
    this.#advanceClock(nowMs);
    const role = this.#role;
    if (role.kind !== 'leader') return this.#refuse(RaftErrorCode.NOT_LEADER_OR_FOLLOWER, 'not the leader');
    const blocked = this.#voterChangeBlocked(role);
    if (blocked !== null) return blocked;
    if (voter.kraftVersion.min > KRAFT_VERSION_RECONFIG || voter.kraftVersion.max < KRAFT_VERSION_RECONFIG || voter.endpoints.length === 0) {
      return this.#refuse(RaftErrorCode.INVALID_REQUEST, `voter ${voter.id}: no endpoint, or kraft.version ${KRAFT_VERSION_RECONFIG} not supported`);
    }
    const next = withVoterUpdated(this.#voters.latest, voter);
    if (next === null) return this.#refuse(RaftErrorCode.VOTER_NOT_FOUND, `${voter.id}/${voter.directoryId} is not a voter`);
    const changeId = this.#nextChangeId++;
    const offset = this.#appendVoters(role, next);
    this.#voterChanges.push({ changeId, errorCode: RaftErrorCode.NONE, message: null });
    return { accepted: true, changeId, offset, ready: this.#drain() };
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
    // A flush is reported after the quorum state written before it is durable too.
    this.#unconfirmedLeader = false;
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
      const read = this.#config.snapshotVoters;
      if (read !== undefined) {
        // The snapshot must hold the voter set in effect at its end (votersAt), so replicas installing it
        // or restarting from it use the right set.
        const expected = this.#voters.at(id.endOffset);
        const held = read(snapshot.bytes);
        assert(expected.dynamic ? held !== null && sameVoterSet(normalize(held), expected.voters) : held === null, `snapshot at ${id.endOffset} does not hold the voter set in effect there`);
      }
      this.#log.advanceStart(id);
      this.#voters.compactTo(id.endOffset);
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
    // With bootstrap servers a replica runs KIP-853 even before it has seen a voter set (a voter added while
    // its log was empty, say): it votes like any replica with dynamic voters.
    const dynamic = this.#voters.dynamic || (this.#config.bootstrapIds?.length ?? 0) > 0;
    if (!dynamic && !this.isVoter) {
      // Kafka's validateVoterOnlyRequest: with static voters an observer takes no part in elections.
      reply(false, RaftErrorCode.INCONSISTENT_VOTER_SET);
      return;
    }
    // KIP-853: with dynamic voters our voter set may be stale, so candidates outside it get votes too
    // (only the candidate's own voter set counts them).
    const candidateKnown = dynamic || this.#voterIds().includes(request.candidateId);
    const upToDate = this.#log.isUpToDate(request.lastOffsetEpoch, request.lastOffset);
    if (request.preVote) {
      // KIP-996: a pre-vote changes no state; it is refused while we still have a live leader.
      reply(request.candidateEpoch > this.epoch && upToDate && !this.#hasLiveLeader() && candidateKnown);
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
    const granted = canVote && upToDate && candidateKnown;
    if (granted && !(role.kind === 'voted' && role.votedId === candidateId)) {
      this.#transition(new VotedState(role.epoch, candidateId, this.#electionDeadline()));
    }
    reply(granted);
  }

  #onVoteResponse(response: VoteResponse): void {
    this.#observeEpoch(response.leaderEpoch, response.leaderId, response.sourceId);
    const role = this.#role;
    if (!this.#voterIds().includes(response.sourceId)) return; // only voters (of our voter set) count
    if (response.preVote) {
      if (role.kind !== 'prospective' || response.leaderEpoch > role.epoch) return;
      (response.voteGranted ? role.granted : role.rejected).add(response.sourceId);
      if (this.#isMajority(this.#votesOf(role.granted))) this.#becomeCandidate(role);
      else if (this.#isMajority(role.rejected.size)) this.#abandonPreVote();
      return;
    }
    if (role.kind !== 'candidate' || response.leaderEpoch !== role.epoch) return;
    (response.voteGranted ? role.granted : role.rejected).add(response.sourceId);
    if (this.#isMajority(this.#votesOf(role.granted))) this.#becomeLeader(role);
  }

  #becomeProspective(): void {
    assert(this.mayCampaign, 'an observer cannot campaign');
    const role = this.#role;
    const votedId = votedIdOf(role, this.#config.localId);
    const prospective = new ProspectiveState(role.epoch, votedId, this.#electionDeadline(), this.#config.localId);
    this.#transition(prospective);
    if (this.#isMajority(this.#votesOf(prospective.granted))) {
      this.#becomeCandidate(prospective);
      return;
    }
    for (const id of this.#otherVoterIds()) this.#send(this.#voteRequest(id, role.epoch + 1, true), 'now');
  }

  /** Pre-vote lost or timed out: wait for the next election timeout, keeping any vote of this epoch. */
  #abandonPreVote(): void {
    const role = this.#role;
    assert(role.kind === 'prospective', 'abandon pre-vote outside prospective');
    const deadline = this.#electionDeadline();
    this.#transition(role.votedId === null ? new UnattachedState(role.epoch, deadline) : new VotedState(role.epoch, role.votedId, deadline));
  }

  #becomeCandidate(from: ProspectiveState): void {
    assert(this.#isMajority(this.#votesOf(from.granted)), 'candidate without a pre-vote majority');
    const candidate = new CandidateState(from.epoch + 1, this.#electionDeadline(), this.#config.localId);
    this.#transition(candidate);
    if (this.#isMajority(this.#votesOf(candidate.granted))) {
      this.#becomeLeader(candidate);
      return;
    }
    for (const id of this.#otherVoterIds()) this.#send(this.#voteRequest(id, candidate.epoch, false), 'after-persist');
  }

  #becomeLeader(from: CandidateState): void {
    assert(this.#isMajority(this.#votesOf(from.granted)), 'leader without a vote majority');
    const leader = new LeaderState(from.epoch, this.#log.endOffset, this.#otherVoterIds(), this.#nowMs);
    this.#transition(leader);
    // Votes from others mean our candidacy was durable (vote requests wait for it); our own vote does not.
    this.#unconfirmedLeader = [...from.granted].every((id) => id === this.#config.localId);
    this.#syncLeaderReplicas(leader);
    // KIP-595: the leader's first batch of its epoch is a LeaderChangeMessage control record. A voter set
    // that came from the bootstrap checkpoint is not in the log yet: the batch carries it too (KIP-853).
    const offset = this.#log.endOffset;
    const bootstrap = this.#voters.fromBootstrap ? this.#voters.latest : null;
    const entry: LeaderChangeEntry = {
      type: 'leader-change',
      baseOffset: offset,
      lastOffset: bootstrap === null ? offset : offset + 2,
      epoch: leader.epoch,
      appendTimestamp: this.#nowMs,
      leaderId: this.#config.localId,
      voters: this.#voterIds(),
      grantingVoters: [...from.granted].sort((a, b) => a - b),
      ...(bootstrap === null ? {} : { voterSet: bootstrap }),
    };
    this.#appendLocal([entry]);
    for (const id of this.#otherVoterIds()) {
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
    for (const id of this.#otherVoterIds()) {
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
    // Instead we probe it with a Fetch: if it answers, it is alive and we follow it (with dynamic voters
    // the leader may be outside our stale voter set, so neither its BeginQuorumEpoch nor our votes reach
    // it). (A replica that cannot campaign blocks no election: it may follow hearsay, e.g. a bootstrap
    // server's answer, whose source is an address rather than the leader's id.)
    const abandoned = this.#abandonedLeader;
    if (abandoned !== null && abandoned.epoch === epoch && abandoned.leaderId === leaderId && sourceId !== leaderId && this.mayCampaign) {
      this.#probe(leaderId);
      return true;
    }
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
    const progress = this.#progressOf(role, request.sourceId, request.replicaDirectoryId ?? NO_DIRECTORY_ID);
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
      if (role.replicas.get(request.sourceId) === progress) this.#maybeAdvanceLeaderHighWatermark(role);
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

  /**
   * The leader's record of a replica (voter or observer) that fetches from it; null for ourselves. A
   * replica counts as the voter only if its directory id matches the voter's (Kafka's matchesKey): a
   * replica with the voter's id on a new disk is an observer. `directoryId` undefined: not known
   * (FetchSnapshot), any record with the id.
   */
  #progressOf(role: LeaderState, replicaId: number, directoryId?: string): FetchProgress | null {
    if (replicaId === this.#config.localId) return null;
    const voter = role.replicas.get(replicaId);
    if (voter !== undefined && (directoryId === undefined || voter.directoryId === NO_DIRECTORY_ID || voter.directoryId === directoryId)) {
      voter.beginQuorumAcked = true;
      return voter;
    }
    let observer = role.observers.get(replicaId);
    if (observer === undefined || (directoryId !== undefined && observer.directoryId !== directoryId)) {
      observer = emptyProgress(directoryId ?? NO_DIRECTORY_ID, this.#nowMs);
      role.observers.set(replicaId, observer);
    }
    return observer;
  }

  /** The leader's replica progress follows the voter set in effect (Kafka's updateVoterAndObserverStates). */
  #syncLeaderReplicas(role: LeaderState): void {
    const voters = this.#voters.latest;
    for (const voter of voters) {
      if (voter.id === this.#config.localId) continue;
      let replica = role.replicas.get(voter.id);
      if (replica !== undefined && voter.directoryId !== NO_DIRECTORY_ID && replica.directoryId !== voter.directoryId && replica.directoryId !== NO_DIRECTORY_ID) {
        // Another replica with this id: it stays an observer.
        role.observers.set(voter.id, replica);
        replica = undefined;
      }
      if (replica === undefined) {
        const observer = role.observers.get(voter.id);
        if (observer !== undefined && (voter.directoryId === NO_DIRECTORY_ID || observer.directoryId === voter.directoryId)) {
          role.observers.delete(voter.id);
          replica = { ...observer, beginQuorumAcked: observer.fetched, lastBeginQuorumSentMs: this.#nowMs };
        } else {
          // Counts as contact for check quorum, like the voters of a new leader.
          replica = { ...emptyProgress(voter.directoryId, this.#nowMs), beginQuorumAcked: false, lastBeginQuorumSentMs: this.#nowMs - this.#config.requestTimeoutMs };
        }
        role.replicas.set(voter.id, replica);
      }
      if (replica.directoryId === NO_DIRECTORY_ID) replica.directoryId = voter.directoryId;
    }
    for (const [id, replica] of role.replicas) {
      if (findVoter(voters, id) !== undefined) continue;
      role.replicas.delete(id);
      const { beginQuorumAcked: _acked, lastBeginQuorumSentMs: _sent, ...observer } = replica;
      role.observers.set(id, observer);
    }
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
      // An observer gets no EndQuorumEpoch and has no election to wait for: look for the next leader now.
      if (!this.mayCampaign) this.#becomeLeaderless(role);
    }
    if (response.errorCode !== RaftErrorCode.NONE) return;
    role.fetchDeadlineMs = this.#nowMs + this.#config.fetchTimeoutMs;
    if (response.divergingEpoch !== null) {
      const truncateTo = this.#log.truncationOffsetFor(response.divergingEpoch);
      assert(truncateTo >= this.#highWatermark, `truncation to ${truncateTo} below the high watermark ${this.#highWatermark}`);
      assert(truncateTo < this.#log.endOffset, `diverging epoch did not shorten the log (to ${truncateTo})`);
      const end = this.#log.truncateTo(truncateTo);
      assert(end >= this.#highWatermark, `truncation to ${end} below the high watermark ${this.#highWatermark}`);
      // A voter set appended after the truncation point is reverted (Kafka's truncateNewEntries).
      this.#voters.truncateTo(end);
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
    const fresh = this.#baseVoters(snapshot);
    this.#voters.reset(fresh.latest, fresh.source);
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
    const directoryId = this.#localKey.directoryId;
    return {
      kind: 'FetchRequest',
      sourceId: this.#config.localId,
      destinationId,
      currentLeaderEpoch: epoch,
      fetchOffset: this.#log.endOffset,
      lastFetchedEpoch: this.#log.lastEpoch,
      ...(directoryId === NO_DIRECTORY_ID ? {} : { replicaDirectoryId: directoryId }),
    };
  }

  /**
   * A non-voter without a leader: fetch from the next bootstrap server or voter; any answer names the
   * leader if it knows one.
   */
  #discover(): void {
    const discovery = this.#discovery;
    if (discovery.inflight !== null && this.#nowMs < discovery.inflight.retryAtMs) return;
    const targets = [...(this.#config.bootstrapIds ?? []), ...this.#otherVoterIds()];
    if (targets.length === 0) return;
    const destinationId = targets[discovery.next % targets.length];
    assert(destinationId !== undefined, 'no voter to fetch from');
    discovery.next++;
    discovery.inflight = { destinationId, retryAtMs: this.#nowMs + this.#config.fetchRetryMs };
    // The fetch offset acknowledges nothing for an observer, but waiting for a pending flush is harmless.
    this.#send(this.#fetchRequest(destinationId, this.epoch), 'after-persist');
  }

  /** Fetch from a leader we only heard of (see #observeEpoch); its answer makes us its follower. */
  #probe(leaderId: number): void {
    const role = this.#role;
    if (role.kind === 'leader' || role.kind === 'follower' || role.kind === 'resigned') return;
    const discovery = this.#discovery;
    if (discovery.inflight !== null && this.#nowMs < discovery.inflight.retryAtMs) return;
    discovery.inflight = { destinationId: leaderId, retryAtMs: this.#nowMs + this.#config.fetchRetryMs };
    this.#send(this.#fetchRequest(leaderId, this.epoch), 'after-persist');
  }

  #discoveryAnswered(sourceId: number): void {
    const discovery = this.#discovery;
    if (discovery.inflight?.destinationId !== sourceId) return;
    // Still no leader after the answer: try the next voter after a backoff.
    discovery.inflight = this.#role.kind === 'unattached' ? { destinationId: -1, retryAtMs: this.#nowMs + this.#config.retryBackoffMs } : null;
  }

  #leaderTick(role: LeaderState): void {
    const change = role.voterChange;
    if (change !== null && this.#nowMs >= change.deadlineMs) {
      // The record stays in the log and may still commit; only the request gives up (as Kafka).
      role.voterChange = null;
      this.#voterChanges.push({ changeId: change.changeId, errorCode: RaftErrorCode.REQUEST_TIMED_OUT, message: `the voter change at offset ${change.offset} did not commit in time` });
    }
    // Check quorum: resign when a majority (us included, if a voter) has not fetched within 1.5 x fetch timeout.
    const checkQuorumMs = 1.5 * this.#config.fetchTimeoutMs;
    let live = this.isVoter ? 1 : 0;
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
    // Over the voter set in effect. Our own contribution (while we are a voter) is the flushed log end:
    // unflushed entries could vanish in a crash.
    const endOffsets = this.#voters.latest
      .map((v) => (v.id === this.#config.localId ? (this.isVoter ? this.#flushedEndOffset : 0) : (role.replicas.get(v.id)?.endOffset ?? 0)))
      .sort((a, b) => b - a);
    const candidate = endOffsets[Math.floor(endOffsets.length / 2)] ?? 0;
    // Only once an entry of our own epoch (the leader-change entry) is committed (KIP-595).
    if (candidate > role.epochStartOffset) this.#setHighWatermark(candidate);
    const change = role.voterChange;
    if (change !== null && this.#highWatermark > change.offset) {
      role.voterChange = null;
      this.#voterChanges.push({ changeId: change.changeId, errorCode: RaftErrorCode.NONE, message: null });
    }
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
    let votersChanged = false;
    for (const entry of entries) {
      this.#log.append(entry);
      const voters = voterSetOf(entry);
      if (voters !== undefined) {
        // The new voter set takes effect as soon as it is appended (KIP-853).
        this.#voters.append(entry.lastOffset, voters);
        votersChanged = true;
      }
    }
    this.#logOps.push({ kind: 'append', entries });
    const role = this.#role;
    if (votersChanged && role.kind === 'leader') {
      this.#syncLeaderReplicas(role);
      this.#maybeAdvanceLeaderHighWatermark(role);
    }
  }

  // ---- voter changes (KIP-853) -----------------------------------------------------------------

  /** The set from the snapshot (or bootstrap checkpoint) if it holds one, else the static configuration. */
  #baseVoters(snapshot: SnapshotData | null): VoterHistory {
    const held = snapshot === null ? null : (this.#config.snapshotVoters?.(snapshot.bytes) ?? null);
    if (snapshot === null || held === null) return new VoterHistory(staticVoterSet(this.#config.voterIds), 'static');
    return new VoterHistory(normalize(held), snapshot.id.endOffset === 0 ? 'bootstrap' : 'snapshot');
  }

  #voterIds(): number[] {
    return voterIdsOf(this.#voters.latest);
  }

  #otherVoterIds(): number[] {
    return this.#voterIds().filter((id) => id !== this.#config.localId);
  }

  #refuse(errorCode: RaftErrorCode, message: string): VoterChangeResult {
    return { accepted: false, errorCode, message, ready: this.#drain() };
  }

  /** Kafka's common preconditions of AddVoter / RemoveVoter / UpdateVoter. */
  #voterChangeBlocked(role: LeaderState): VoterChangeResult | null {
    if (role.voterChange !== null) return this.#refuse(RaftErrorCode.REQUEST_TIMED_OUT, 'waiting for the previous voter change to commit');
    if (this.#highWatermark <= role.epochStartOffset) return this.#refuse(RaftErrorCode.REQUEST_TIMED_OUT, 'the leader has not committed an entry of its epoch yet');
    if (!this.#voters.dynamic) return this.#refuse(RaftErrorCode.UNSUPPORTED_VERSION, 'kraft.version is 0: the voter set is static (controller.quorum.voters)');
    if (this.#voters.latestOffset >= this.#highWatermark) {
      return this.#refuse(RaftErrorCode.REQUEST_TIMED_OUT, `the voter change at offset ${this.#voters.latestOffset} is not committed yet (high watermark ${this.#highWatermark})`);
    }
    return null;
  }

  #acceptVoterChange(role: LeaderState, kind: 'add' | 'remove', voters: VoterSet, timeoutMs: number): VoterChangeResult {
    const changeId = this.#nextChangeId++;
    const offset = this.#appendVoters(role, voters);
    role.voterChange = { changeId, kind, offset, deadlineMs: this.#nowMs + Math.max(1, timeoutMs) };
    return { accepted: true, changeId, offset, ready: this.#drain() };
  }

  /** Appends a VotersRecord batch; returns its offset. */
  #appendVoters(role: LeaderState, voters: VoterSet): number {
    const offset = this.#log.endOffset;
    const entry: VotersEntry = { type: 'voters', baseOffset: offset, lastOffset: offset, epoch: role.epoch, appendTimestamp: this.#nowMs, voterSet: voters };
    this.#appendLocal([entry]);
    return offset;
  }

  /** A leader removed from the voter set resigns once the removal committed (Kafka's RemoveVoterHandler). */
  #maybeResignRemovedLeader(): void {
    const role = this.#role;
    if (role.kind !== 'leader' || this.isVoter || this.#voters.latestOffset >= this.#highWatermark) return;
    const successors = [...role.replicas]
      .sort(([a, p], [b, q]) => q.endOffset - p.endOffset || a - b)
      .map(([id]) => id);
    this.#resign(successors);
  }

  /** A non-voter lost its leader: keep any vote of the epoch, and look for the leader. */
  #becomeLeaderless(role: FollowerState): void {
    const deadline = this.#electionDeadline();
    this.#transition(role.votedId === null ? new UnattachedState(role.epoch, deadline) : new VotedState(role.epoch, role.votedId, deadline));
    this.#discover();
  }

  // ---- plumbing --------------------------------------------------------------------------------

  #transition(to: RoleState): void {
    const from = this.#role;
    assertTransition(from, to, this.#config.localId, this.mayCampaign);
    if (from.kind === 'leader' && from.voterChange !== null) {
      const change = from.voterChange;
      from.voterChange = null;
      this.#voterChanges.push({ changeId: change.changeId, errorCode: RaftErrorCode.NOT_LEADER_OR_FOLLOWER, message: 'leadership was lost before the voter change committed' });
    }
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
    // A leader elected by its own vote alone has told nobody its epoch yet, and its quorum state may not be
    // durable: until the first flush everything it says waits for persistence, or a crash could let it
    // lead the same epoch twice with different logs.
    const now = durability === 'now' && !(this.#unconfirmedLeader && this.#role.kind === 'leader');
    (now ? this.#messages : this.#messagesAfterPersist).push(message);
  }

  /** Votes (pre-votes) from voters of the voter set in effect; our own counts only if we are one of them. */
  #votesOf(granted: ReadonlySet<number>): number {
    let votes = 0;
    for (const id of granted) if (id === this.#config.localId ? this.isVoter : findVoter(this.#voters.latest, id) !== undefined) votes++;
    return votes;
  }

  #isMajority(count: number): boolean {
    return count * 2 > this.#voters.latest.length;
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
    this.#maybeResignRemovedLeader();
    const ready: Ready = {
      quorumState: this.#quorumStateOut,
      logOps: this.#logOps,
      messages: this.#messages,
      messagesAfterPersist: this.#messagesAfterPersist,
      highWatermark: this.#highWatermark,
      loadSnapshot: this.#loadSnapshot,
      committed: this.#committed,
      roleChanges: this.#roleChanges,
      voterChanges: this.#voterChanges,
    };
    this.#quorumStateOut = null;
    this.#logOps = [];
    this.#messages = [];
    this.#messagesAfterPersist = [];
    this.#loadSnapshot = null;
    this.#committed = [];
    this.#roleChanges = [];
    this.#voterChanges = [];
    return ready;
  }
}

function emptyProgress(directoryId: string, nowMs: number): FetchProgress {
  return { directoryId, endOffset: 0, fetched: false, lastFetchMs: nowMs, lastCaughtUpMs: -1, lastFetchLeaderEndOffset: 0 };
}

/**
 * MetadataQuorum: the KRaft metadata quorum of one node, i.e. the pure core (../core) connected to real
 * I/O. A voter on controllers (`localId` in `voters`), an observer on brokers.
 *
 * Public API (what the node composition uses):
 *   const quorum = await MetadataQuorum.open({ localId, clusterId, voters, metadataLogDir, logger, timing });
 *   quorum.register(listener);          // before start(): handleCommit / handleLoadSnapshot / handleLeaderChange
 *   await quorum.start();               // loads the latest snapshot into the listener, starts ticking
 *   await quorum.propose(records);      // leader only; resolves once committed AND passed to handleCommit
 *   await quorum.createSnapshot(end, epoch, records);   // the listener's state at a committed batch end
 *   quorum.handleRaftRequest(apiKey, version, request); // controller listener: Vote, Begin/EndQuorumEpoch,
 *                                                       // Fetch (__cluster_metadata-0), FetchSnapshot, DescribeQuorum
 *   quorum.describe(); quorum.leaderAndEpoch(); quorum.isLeader(); quorum.highWatermark();
 *   await quorum.close();               // a leader resigns first (EndQuorumEpoch); close({ resign: false }) does not
 *
 * Listener contract: handleLoadSnapshot replaces all state with the snapshot's; handleCommit batches then
 * follow in log order, contiguously, each once per process lifetime (after a restart the log after the
 * snapshot is replayed again as the high watermark passes it, which it does only once the quorum has a
 * leader). Control batches (leader changes) are not passed. Callbacks run synchronously on the event loop;
 * a callback that throws stops the quorum (onFatalError): continuing would let the state machine diverge.
 *
 * How the core's Ready contract is met (raft-node.ts):
 *   1. quorum state: written synchronously and durably (temp file, fsync, rename, fsync dir) at once;
 *   2. log ops: applied synchronously to the PartitionLog of __cluster_metadata-0; snapshot installs
 *      write and fsync the snapshot file before resetting the log;
 *   3. messages: requests go out on per-peer connections; responses answer the inbound request they
 *      belong to (every core response is a direct reply, found in the Ready of its request);
 *   4. messagesAfterPersist: held until a flush covering the log end at the time has completed; one flush
 *      runs at a time and reports logFlushed(end) (lowered to any truncation made meanwhile);
 *   5. loadSnapshot / committed: passed to the listener; proposals resolve after their batch was passed.
 * Fetches are long polls: a leader's answer with no data is parked until the log end, the high watermark
 * or the leadership changes, or the request's MaxWaitMs passes, then the fetch is run again.
 */
import type { Logger } from 'pino';
import { join } from 'node:path';
import type { ApiKey, DescribeQuorumRequest, RequestByApiKey, ResponseByApiKey } from '../../protocol/generated/index.ts';
import { RaftInvariantError } from '../core/assert.ts';
import { isRequest, type RaftMessage, type RaftRequest, type RaftResponse } from '../core/messages.ts';
import type { LogEntry } from '../core/raft-log.ts';
import { DEFAULT_RAFT_TIMING, RaftNode, type LogOp, type QuorumStateRecord, type RaftConfig, type Ready, type SnapshotData } from '../core/raft-node.ts';
import type { LogFs } from '../../log/log-fs.ts';
import { MetadataLogStore, METADATA_PARTITION, METADATA_TOPIC } from './metadata-log-store.ts';
import { PeerNetwork } from './peer-network.ts';
import { QuorumStateFile } from './quorum-state-file.ts';
import { decodeSnapshot, encodeSnapshot } from './record-codec.ts';
import {
  ApiKeys,
  apiKeyOf,
  decodeRequest,
  decodeResponse,
  describeQuorumResponse,
  encodeRequest,
  encodeResponse,
  unavailableResponse,
  type Endpoint,
  type RaftApiKey,
  type WireContext,
} from './wire.ts';

// ---- public types --------------------------------------------------------------------------------------

export interface CommittedBatch {
  readonly baseOffset: bigint;
  readonly lastOffset: bigint;
  readonly epoch: number;
  /** The leader's clock when it appended the batch. */
  readonly appendTimestamp: number;
  /** Record values. */
  readonly records: readonly Buffer[];
}

export interface LoadedSnapshot {
  /** Exclusive end offset: the state after every record below it. */
  readonly offset: bigint;
  readonly epoch: number;
  readonly records: readonly Buffer[];
}

export interface LeaderAndEpoch {
  readonly leaderId: number | null;
  readonly epoch: number;
}

export interface RaftListener {
  handleCommit(batch: CommittedBatch): void;
  /** Replace all state with the snapshot's. */
  handleLoadSnapshot(snapshot: LoadedSnapshot): void;
  handleLeaderChange(leader: LeaderAndEpoch): void;
}

/** controller.quorum.* settings; all optional (Kafka's defaults). */
export interface RaftTimingOverrides {
  /** controller.quorum.election.timeout.ms: each election waits this plus a random amount up to it. */
  readonly electionTimeoutMs?: number;
  /** controller.quorum.election.backoff.max.ms: accepted; pre-vote (KIP-996) takes its place. */
  readonly electionBackoffMaxMs?: number;
  /** controller.quorum.fetch.timeout.ms */
  readonly fetchTimeoutMs?: number;
  /** controller.quorum.request.timeout.ms */
  readonly requestTimeoutMs?: number;
  /** controller.quorum.retry.backoff.ms */
  readonly retryBackoffMs?: number;
  /** controller.quorum.append.linger.ms: proposals within this window share one batch. */
  readonly appendLingerMs?: number;
  /** Fetch MaxWaitMs (Kafka: 500). */
  readonly fetchMaxWaitMs?: number;
  /** How often the core is ticked (default 50 ms). */
  readonly tickIntervalMs?: number;
  /** Bytes of snapshot per FetchSnapshot response (default 1 MiB). */
  readonly snapshotChunkBytes?: number;
}

export interface MetadataQuorumOptions {
  readonly localId: number;
  readonly clusterId: string;
  /** controller.quorum.voters; the node is an observer unless `localId` is one of them. */
  readonly voters: readonly Endpoint[];
  /** metadata.log.dir: the log lives in `<dir>/__cluster_metadata-0`. */
  readonly metadataLogDir: string;
  readonly logger: Logger;
  readonly timing?: RaftTimingOverrides;
  /** Wall clock (ms); default Date.now. Never seen going backwards by the core. */
  readonly clock?: { nowMs(): number };
  /** Name of the controller listener (DescribeQuorum nodes, leader endpoints). Default CONTROLLER. */
  readonly listenerName?: string;
  /** metadata.log.segment.bytes */
  readonly segmentBytes?: number;
  /** Election jitter source; default Math.random. */
  readonly random?: () => number;
  /** Called once when the quorum stops after an unrecoverable error (I/O, invariant, listener failure). */
  readonly onFatalError?: (error: Error) => void;
  /** Records per proposal batch (default 10 000). */
  readonly proposeRecordsMax?: number;
  /** Filesystem seam of the metadata log (tests: fault injection). */
  readonly fs?: LogFs;
}

export interface ReplicaInfo {
  readonly replicaId: number;
  /** -1 when unknown. */
  readonly logEndOffset: bigint;
  readonly lastFetchTimestamp: number;
  readonly lastCaughtUpTimestamp: number;
}

/** DescribeQuorum data as this node sees it (replica progress is known only on the leader). */
export interface QuorumInfo {
  readonly localId: number;
  readonly isVoter: boolean;
  readonly role: RaftNode['role'];
  readonly leaderId: number | null;
  readonly leaderEpoch: number;
  readonly highWatermark: bigint;
  readonly logStartOffset: bigint;
  readonly logEndOffset: bigint;
  readonly latestSnapshot: { readonly endOffset: bigint; readonly epoch: number } | null;
  readonly currentVoters: readonly ReplicaInfo[];
  readonly observers: readonly ReplicaInfo[];
}

/** propose() on a node that is not the leader, or that lost leadership before the batch committed. */
export class NotLeaderError extends Error {
  override readonly name = 'NotLeaderError';
  readonly code = 'RAFT_NOT_LEADER';
  readonly leaderId: number | null;
  readonly epoch: number;
  constructor(leaderId: number | null, epoch: number, message?: string) {
    super(message ?? `not the metadata quorum leader (leader ${leaderId ?? 'unknown'}, epoch ${epoch})`);
    this.leaderId = leaderId;
    this.epoch = epoch;
  }
}

export class MetadataQuorumError extends Error {
  override readonly name = 'MetadataQuorumError';
  readonly code = 'RAFT_QUORUM';
}

// ---- implementation ------------------------------------------------------------------------------------

interface PendingProposal {
  readonly batchBaseOffset: number;
  readonly epoch: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly resolve: (range: { baseOffset: bigint; lastOffset: bigint }) => void;
  readonly reject: (error: Error) => void;
}

interface LingerBatch {
  readonly records: Buffer[];
  readonly waiters: { readonly at: number; readonly count: number; readonly resolve: PendingProposal['resolve']; readonly reject: PendingProposal['reject'] }[];
  timer: NodeJS.Timeout | null;
}

/** Something that may go out only once the log is durable up to `requiredEnd`. */
interface AfterFlush {
  requiredEnd: number;
  readonly isFetch: boolean;
  readonly release: () => void;
  readonly drop: () => void;
}

const DEFAULT_TICK_MS = 50;
const WARN_INTERVAL_MS = 10_000;
const DEFAULT_FETCH_MAX_WAIT_MS = 500;
const DEFAULT_LINGER_MS = 25;

export class MetadataQuorum {
  readonly localId: number;
  readonly isVoter: boolean;
  readonly #options: MetadataQuorumOptions;
  readonly #logger: Logger;
  readonly #node: RaftNode;
  readonly #store: MetadataLogStore;
  readonly #stateFile: QuorumStateFile;
  readonly #network: PeerNetwork;
  readonly #ctx: WireContext;
  readonly #voterIds: readonly number[];
  readonly #tickIntervalMs: number;
  readonly #fetchTimeoutMs: number;
  readonly #lingerMs: number;
  readonly #proposeRecordsMax: number;
  readonly #maxParkMs: number;
  #startupSnapshot: SnapshotData | null;
  #listener: RaftListener | null = null;
  #started = false;
  #closing = false;
  #closed = false;
  #fatal: Error | null = null;
  #timer: NodeJS.Timeout | null = null;
  #lastClockMs = 0;
  #lastLeader: LeaderAndEpoch | null = null;
  readonly #pending = new Map<number, PendingProposal[]>();
  #linger: LingerBatch | null = null;
  // Durability tracking (see the module comment, step 4).
  #durableEnd: number;
  #flushing: Promise<void> | null = null;
  #truncatedSinceFlushStart = Infinity;
  #afterFlush: AfterFlush[] = [];
  /** Last warning per (peer, problem), to keep a misconfigured peer from flooding the log. */
  readonly #warnedAt = new Map<string, number>();
  /** Parked fetches waiting for a change. */
  readonly #wakers = new Set<() => void>();

  private constructor(options: MetadataQuorumOptions, node: RaftNode, store: MetadataLogStore, stateFile: QuorumStateFile, snapshot: SnapshotData | null, clockMs: number) {
    this.#options = options;
    this.localId = options.localId;
    this.#logger = options.logger;
    this.#node = node;
    this.isVoter = node.isVoter;
    this.#store = store;
    this.#stateFile = stateFile;
    this.#startupSnapshot = snapshot;
    this.#lastClockMs = clockMs;
    this.#durableEnd = node.logEndOffset;
    this.#voterIds = options.voters.map((v) => v.id);
    const timing = options.timing ?? {};
    this.#tickIntervalMs = timing.tickIntervalMs ?? DEFAULT_TICK_MS;
    this.#fetchTimeoutMs = timing.fetchTimeoutMs ?? DEFAULT_RAFT_TIMING.fetchTimeoutMs;
    this.#lingerMs = timing.appendLingerMs ?? DEFAULT_LINGER_MS;
    this.#proposeRecordsMax = options.proposeRecordsMax ?? DEFAULT_RAFT_TIMING.proposeRecordsMax;
    const requestTimeoutMs = timing.requestTimeoutMs ?? DEFAULT_RAFT_TIMING.requestTimeoutMs;
    const fetchMaxWaitMs = timing.fetchMaxWaitMs ?? DEFAULT_FETCH_MAX_WAIT_MS;
    this.#maxParkMs = Math.max(0, Math.min(fetchMaxWaitMs, requestTimeoutMs / 2));
    this.#ctx = {
      clusterId: options.clusterId,
      localId: options.localId,
      listenerName: options.listenerName ?? 'CONTROLLER',
      endpoints: new Map(options.voters.map((v) => [v.id, v])),
      fetchMaxWaitMs,
      fetchMaxBytes: DEFAULT_RAFT_TIMING.fetchBytesMax,
      snapshotMaxBytes: timing.snapshotChunkBytes ?? DEFAULT_RAFT_TIMING.snapshotChunkBytes,
    };
    this.#network = new PeerNetwork({
      localId: options.localId,
      peers: options.voters,
      requestTimeoutMs,
      reconnectBackoffMs: Math.max(1, timing.retryBackoffMs ?? DEFAULT_RAFT_TIMING.retryBackoffMs),
      reconnectBackoffMaxMs: 1000,
      logger: options.logger,
      nowMs: () => this.#nowMs(),
    });
  }

  /** Opens the metadata log and quorum state (recovering them) and builds the core. Nothing runs until start(). */
  static async open(options: MetadataQuorumOptions): Promise<MetadataQuorum> {
    if (options.voters.length === 0) throw new MetadataQuorumError('controller.quorum.voters is empty');
    if (new Set(options.voters.map((v) => v.id)).size !== options.voters.length) throw new MetadataQuorumError('controller.quorum.voters lists a voter twice');
    const dir = join(options.metadataLogDir, `${METADATA_TOPIC}-${METADATA_PARTITION}`);
    const { store, snapshot, entries } = await MetadataLogStore.open({
      dir,
      logger: options.logger,
      ...(options.segmentBytes === undefined ? {} : { segmentBytes: options.segmentBytes }),
      ...(options.fs === undefined ? {} : { fs: options.fs }),
    });
    try {
      const stateFile = new QuorumStateFile(dir, options.fs);
      let quorumState = stateFile.read();
      // The epoch never goes below the log's last epoch (a log written before this quorum state existed,
      // e.g. by the single-voter metadata log): moving to that epoch without a vote is always safe.
      const lastEpoch = entries.at(-1)?.epoch ?? snapshot?.id.epoch ?? 0;
      if ((quorumState?.epoch ?? 0) < lastEpoch) {
        quorumState = { epoch: lastEpoch, leaderId: null, votedId: null } satisfies QuorumStateRecord;
        stateFile.write(quorumState);
      }
      const timing = options.timing ?? {};
      const requestTimeoutMs = timing.requestTimeoutMs ?? DEFAULT_RAFT_TIMING.requestTimeoutMs;
      const fetchMaxWaitMs = timing.fetchMaxWaitMs ?? DEFAULT_FETCH_MAX_WAIT_MS;
      const electionTimeoutMs = timing.electionTimeoutMs ?? DEFAULT_RAFT_TIMING.electionTimeoutMs;
      const config: RaftConfig = {
        ...DEFAULT_RAFT_TIMING,
        localId: options.localId,
        voterIds: options.voters.map((v) => v.id),
        electionTimeoutMs,
        electionJitterMs: electionTimeoutMs,
        fetchTimeoutMs: timing.fetchTimeoutMs ?? DEFAULT_RAFT_TIMING.fetchTimeoutMs,
        requestTimeoutMs,
        // A fetch may be parked on the leader for MaxWaitMs: only a real timeout means it is lost.
        fetchRetryMs: fetchMaxWaitMs + requestTimeoutMs,
        retryBackoffMs: timing.retryBackoffMs ?? DEFAULT_RAFT_TIMING.retryBackoffMs,
        snapshotChunkBytes: timing.snapshotChunkBytes ?? DEFAULT_RAFT_TIMING.snapshotChunkBytes,
        proposeRecordsMax: options.proposeRecordsMax ?? DEFAULT_RAFT_TIMING.proposeRecordsMax,
      };
      const clockMs = (options.clock ?? { nowMs: () => Date.now() }).nowMs();
      const node = new RaftNode(config, { quorumState, snapshot, entries }, options.random ?? Math.random, clockMs);
      options.logger.info(
        { localId: options.localId, voter: node.isVoter, role: node.role, epoch: node.epoch, logStartOffset: node.logStartOffset, logEndOffset: node.logEndOffset, snapshot: snapshot?.id ?? null },
        'opened the metadata quorum',
      );
      return new MetadataQuorum(options, node, store, stateFile, snapshot, clockMs);
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  register(listener: RaftListener): void {
    if (this.#started) throw new MetadataQuorumError('register the listener before start()');
    this.#listener = listener;
  }

  /** Loads the latest local snapshot into the listener and starts the quorum (timers, network). */
  start(): Promise<void> {
    if (this.#started) return Promise.resolve();
    this.#started = true;
    const snapshot = this.#startupSnapshot;
    this.#startupSnapshot = null;
    this.#guard(() => {
      if (snapshot !== null) this.#loadSnapshot(snapshot);
      this.#notifyLeader();
    });
    this.#timer = setInterval(() => this.#step((now) => this.#node.tick(now)), this.#tickIntervalMs);
    this.#timer.unref();
    this.#step((now) => this.#node.tick(now));
    return Promise.resolve();
  }

  /**
   * Stops the quorum. A leader first resigns: it tells the voters (EndQuorumEpoch, naming the others as
   * preferred successors) and keeps serving raft requests (answering fetches with NOT_LEADER_OR_FOLLOWER,
   * voting) until it learns the next leader or a fetch timeout passes, as Kafka's graceful shutdown does.
   * `resign: false` skips that (tests: the same as the process dying, as far as the others can tell).
   */
  async close(options: { readonly resign?: boolean } = {}): Promise<void> {
    if (this.#closed || this.#closing) return;
    this.#closing = true;
    if (this.#linger !== null) this.#failLinger(new NotLeaderError(null, this.#node.epoch, 'the metadata quorum is shutting down'));
    if (options.resign !== false && this.#fatal === null && this.#node.role === 'leader') {
      const resignedEpoch = this.#node.epoch;
      const others = this.#voterIds.filter((id) => id !== this.localId);
      this.#step((now) => this.#node.resign(others, now));
      const deadline = Date.now() + this.#fetchTimeoutMs;
      const succeeded = (): boolean => this.#node.epoch > resignedEpoch && this.#node.leaderId !== null && this.#node.leaderId !== this.localId;
      while (others.length > 0 && !succeeded() && this.#fatal === null && Date.now() < deadline) await sleep(this.#tickIntervalMs);
      this.#logger.info({ epoch: this.#node.epoch, leaderId: this.#node.leaderId }, succeeded() ? 'resigned the metadata quorum leadership; a successor took over' : 'resigned the metadata quorum leadership; no successor seen yet');
    }
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#rejectPending(new NotLeaderError(null, this.#node.epoch, 'the metadata quorum is shutting down'));
    this.#wakeAll();
    for (const item of this.#afterFlush) item.drop();
    this.#afterFlush = [];
    this.#network.close();
    await this.#flushing?.catch(() => undefined);
    await this.#store.close();
  }

  leaderAndEpoch(): LeaderAndEpoch {
    return { leaderId: this.#node.leaderId, epoch: this.#node.epoch };
  }

  isLeader(): boolean {
    return this.#node.role === 'leader' && !this.#closing;
  }

  highWatermark(): bigint {
    return BigInt(this.#node.highWatermark);
  }

  /**
   * Leader only: appends the records as (part of) one batch and resolves with their offsets once the batch
   * is committed and was passed to handleCommit. Proposals within appendLingerMs share a batch. Rejects with
   * NotLeaderError when this node is not the leader or loses leadership before the commit.
   */
  propose(records: readonly Buffer[]): Promise<{ baseOffset: bigint; lastOffset: bigint }> {
    if (this.#closing || this.#closed || this.#fatal !== null) return Promise.reject(new NotLeaderError(null, this.#node.epoch, 'the metadata quorum is not running'));
    if (this.#node.role !== 'leader') return Promise.reject(new NotLeaderError(this.#node.leaderId, this.#node.epoch));
    if (records.length === 0) return Promise.reject(new MetadataQuorumError('propose() needs at least one record'));
    if (records.length > this.#proposeRecordsMax) return Promise.reject(new MetadataQuorumError(`a proposal of ${records.length} records exceeds the ${this.#proposeRecordsMax}-record batch limit`));
    return new Promise((resolve, reject) => {
      const open = this.#linger;
      if (open !== null && open.records.length + records.length > this.#proposeRecordsMax) {
        // The open batch is full: it goes now (after the current call stack), this proposal starts the next.
        this.#linger = null;
        if (open.timer !== null) clearTimeout(open.timer);
        open.timer = null;
        queueMicrotask(() => this.#flushBatch(open));
      }
      const batch = (this.#linger ??= { records: [], waiters: [], timer: null });
      batch.waiters.push({ at: batch.records.length, count: records.length, resolve, reject });
      batch.records.push(...records);
      // Never synchronously: propose() may be called from a listener callback, in the middle of a Ready.
      batch.timer ??= setTimeout(() => this.#flushLinger(), Math.max(0, this.#lingerMs));
    });
  }

  /**
   * The listener's state after every record below `committedEndOffset` (a committed batch end; `epoch` is
   * that batch's epoch). Writes `<offset>-<epoch>.checkpoint` durably, then lets the log start move there
   * and the segments behind it go. A snapshot at or below the current log start is ignored.
   */
  async createSnapshot(committedEndOffset: bigint, epoch: number, records: readonly Buffer[]): Promise<void> {
    const end = Number(committedEndOffset);
    if (end <= this.#node.logStartOffset) return;
    if (end > this.#node.highWatermark) throw new MetadataQuorumError(`snapshot at ${end} is beyond the high watermark ${this.#node.highWatermark}`);
    const last = this.#node.entryAt(end - 1);
    if (last === undefined || last.lastOffset + 1 !== end || last.epoch !== epoch) {
      throw new MetadataQuorumError(`snapshot at ${end} (epoch ${epoch}) does not end on a committed batch of that epoch`);
    }
    const snapshot: SnapshotData = { id: { endOffset: end, epoch }, bytes: encodeSnapshot(epoch, records, last.appendTimestamp) };
    await this.#store.writeSnapshot(snapshot);
    if (this.#closed || this.#fatal !== null) return;
    this.#step((now) => this.#node.snapshotCreated(snapshot, now));
    this.#logger.info({ endOffset: end, epoch, records: records.length, bytes: snapshot.bytes.length }, 'created a metadata snapshot');
  }

  describe(): QuorumInfo {
    const node = this.#node;
    const description = node.describeQuorum();
    const big = (r: { replicaId: number; logEndOffset: number; lastFetchTimestamp: number; lastCaughtUpTimestamp: number }): ReplicaInfo => ({ ...r, logEndOffset: BigInt(r.logEndOffset) });
    const snapshot = node.latestSnapshotId;
    return {
      localId: this.localId,
      isVoter: node.isVoter,
      role: node.role,
      leaderId: node.leaderId,
      leaderEpoch: node.epoch,
      highWatermark: BigInt(node.highWatermark),
      logStartOffset: BigInt(node.logStartOffset),
      logEndOffset: BigInt(node.logEndOffset),
      latestSnapshot: snapshot === null ? null : { endOffset: BigInt(snapshot.endOffset), epoch: snapshot.epoch },
      currentVoters:
        description?.voters.map(big) ??
        this.#voterIds.map((id) => ({ replicaId: id, logEndOffset: id === this.localId ? BigInt(node.logEndOffset) : -1n, lastFetchTimestamp: -1, lastCaughtUpTimestamp: -1 })),
      observers: description?.observers.map(big) ?? [],
    };
  }

  /**
   * Serves a raft request from the controller listener (Vote 52, BeginQuorumEpoch 53, EndQuorumEpoch 54,
   * Fetch 1 of __cluster_metadata-0, FetchSnapshot 59, DescribeQuorum 55). Fetches are long polls.
   */
  async handleRaftRequest<K extends ApiKey>(apiKey: K, apiVersion: number, request: RequestByApiKey[K]): Promise<ResponseByApiKey[K]> {
    const key = apiKey as number as RaftApiKey;
    if (!isRaftApi(key)) throw new MetadataQuorumError(`API ${apiKey} is not a raft API`);
    const respond = (response: unknown): ResponseByApiKey[K] => response as ResponseByApiKey[K];
    // While closing, a resigned leader still answers (NOT_LEADER_OR_FOLLOWER, votes) until close() ends.
    if (!this.#started || this.#closed || this.#fatal !== null) return respond(unavailableResponse(key));
    if (key === ApiKeys.DESCRIBE_QUORUM) {
      const body = request as DescribeQuorumRequest;
      const partition = body.topics[0]?.partitions[0];
      if (body.topics.length !== 1 || body.topics[0]?.topicName !== METADATA_TOPIC || partition?.partitionIndex !== METADATA_PARTITION) {
        return respond({ errorCode: 3, errorMessage: null, topics: [], nodes: [] });
      }
      return respond(describeQuorumResponse(this.#ctx, this.#node.describeQuorum(), this.#voterIds, apiVersion));
    }
    const decoded = decodeRequest(this.#ctx, key, apiVersion, request);
    if (!decoded.ok) return respond(decoded.response);
    const message = decoded.message;
    const parkUntil = Date.now() + Math.min(decoded.maxWaitMs, this.#maxParkMs);
    for (;;) {
      const reply = this.#exchange(message);
      if (reply === null) return respond(unavailableResponse(key));
      if (reply.requiredEnd !== null) {
        const durable = await this.#whenDurable(reply.requiredEnd);
        if (!durable) return respond(unavailableResponse(key));
      }
      const response = reply.message;
      const remainingMs = parkUntil - Date.now();
      if (
        response.kind === 'FetchResponse' &&
        response.errorCode === 0 &&
        response.records.length === 0 &&
        response.divergingEpoch === null &&
        response.snapshotId === null &&
        remainingMs > 0 &&
        this.#node.role === 'leader' &&
        !this.#closing
      ) {
        await this.#waitForChange(remainingMs);
        if (this.#closed || this.#fatal !== null) return respond(encodeResponse(this.#ctx, response, apiVersion));
        continue;
      }
      return respond(encodeResponse(this.#ctx, response, apiVersion));
    }
  }

  // ---- core plumbing -----------------------------------------------------------------------------------

  #nowMs(): number {
    const now = (this.#options.clock ?? { nowMs: () => Date.now() }).nowMs();
    if (now > this.#lastClockMs) this.#lastClockMs = now;
    return this.#lastClockMs;
  }

  /** Runs one core input and processes its Ready; any failure stops the quorum. */
  #step(input: (nowMs: number) => Ready): void {
    if (this.#fatal !== null || this.#closed) return;
    this.#guard(() => this.#process(input(this.#nowMs())));
  }

  #guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#die(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Feeds an inbound request to the core and takes its reply out of the Ready. */
  #exchange(request: RaftRequest): { message: RaftResponse; requiredEnd: number | null } | null {
    if (this.#fatal !== null || this.#closed) return null;
    let reply: { message: RaftResponse; requiredEnd: number | null } | null = null;
    this.#guard(() => {
      const ready = this.#node.receive(request, this.#nowMs());
      const isReply = (m: RaftMessage): m is RaftResponse => !isRequest(m) && m.destinationId === request.sourceId && m.kind === request.kind.replace('Request', 'Response');
      const now = ready.messages.find(isReply);
      const later = now === undefined ? ready.messagesAfterPersist.find(isReply) : undefined;
      const found = now ?? later;
      if (found === undefined) throw new RaftInvariantError(`the core did not answer ${request.kind} from ${request.sourceId}`);
      this.#process({
        ...ready,
        messages: ready.messages.filter((m) => m !== found),
        messagesAfterPersist: ready.messagesAfterPersist.filter((m) => m !== found),
      });
      reply = { message: found, requiredEnd: later === undefined ? null : this.#store.logEndOffset };
    });
    return reply;
  }

  #process(ready: Ready): void {
    const node = this.#node;
    const before = { end: this.#store.logEndOffset, hw: node.highWatermark };
    // 1. Quorum state: synchronous and durable.
    if (ready.quorumState !== null) this.#stateFile.write(ready.quorumState);
    // 2. Log operations, in order.
    for (const op of ready.logOps) this.#applyOp(op);
    this.#store.updateHighWatermark(ready.highWatermark);
    // 3. Messages.
    for (const message of ready.messages) this.#send(message);
    // 4. Messages that wait for the log to be durable.
    for (const message of ready.messagesAfterPersist) {
      if (this.#store.logEndOffset <= this.#durableEnd) this.#send(message);
      else this.#afterFlush.push({ requiredEnd: this.#store.logEndOffset, isFetch: message.kind === 'FetchRequest', release: () => this.#send(message), drop: () => undefined });
    }
    this.#maybeFlush();
    // 5. The state machine.
    if (ready.loadSnapshot !== null) {
      this.#loadSnapshot(ready.loadSnapshot);
      this.#rejectPending(new NotLeaderError(node.leaderId, node.epoch, 'the log was replaced by a snapshot'));
    }
    for (const entry of ready.committed) this.#commit(entry);
    if (ready.roleChanges.length > 0) {
      if (node.role !== 'leader') {
        const error = new NotLeaderError(node.leaderId, node.epoch);
        this.#rejectPending(error);
        if (this.#linger !== null) this.#failLinger(error);
      }
      this.#notifyLeader();
      const last = ready.roleChanges.at(-1);
      this.#logger.info({ role: node.role, epoch: node.epoch, leaderId: node.leaderId, from: ready.roleChanges[0]?.from, changes: ready.roleChanges.length, last }, 'metadata quorum role changed');
    }
    if (this.#store.logEndOffset !== before.end || node.highWatermark !== before.hw || ready.roleChanges.length > 0) this.#wakeAll();
  }

  #applyOp(op: LogOp): void {
    switch (op.kind) {
      case 'append':
        this.#store.append(op.entries);
        break;
      case 'truncate':
        this.#store.truncate(op.endOffset);
        this.#onTruncated(op.endOffset);
        break;
      case 'install-snapshot':
        this.#store.installSnapshot(op.snapshot);
        this.#onTruncated(op.snapshot.id.endOffset);
        // The snapshot file is fsynced and the log reset synchronously: durable at once.
        this.#durableEnd = op.snapshot.id.endOffset;
        this.#logger.info({ endOffset: op.snapshot.id.endOffset, epoch: op.snapshot.id.epoch, bytes: op.snapshot.bytes.length }, 'installed a metadata snapshot from the leader');
        break;
      case 'delete-prefix':
        this.#store.deletePrefix(op.snapshotId.endOffset);
        break;
    }
  }

  /** The log was cut at `end`: nothing past it is durable, and fetches claiming more are stale. */
  #onTruncated(end: number): void {
    this.#durableEnd = Math.min(this.#durableEnd, end);
    this.#truncatedSinceFlushStart = Math.min(this.#truncatedSinceFlushStart, end);
    const kept: AfterFlush[] = [];
    for (const item of this.#afterFlush) {
      if (item.isFetch && item.requiredEnd > end) {
        item.drop();
        continue;
      }
      item.requiredEnd = Math.min(item.requiredEnd, end);
      kept.push(item);
    }
    this.#afterFlush = kept;
  }

  #maybeFlush(): void {
    if (this.#flushing !== null || this.#closed || this.#store.logEndOffset <= this.#durableEnd) return;
    const target = this.#store.logEndOffset;
    this.#truncatedSinceFlushStart = Infinity;
    this.#flushing = this.#store.flush().then(
      () => {
        this.#flushing = null;
        if (this.#closed || this.#fatal !== null) return;
        const durable = Math.min(target, this.#truncatedSinceFlushStart);
        this.#durableEnd = Math.max(this.#durableEnd, durable);
        const ready: AfterFlush[] = [];
        const waiting: AfterFlush[] = [];
        for (const item of this.#afterFlush) (item.requiredEnd <= this.#durableEnd ? ready : waiting).push(item);
        this.#afterFlush = waiting;
        for (const item of ready) item.release();
        this.#step((now) => this.#node.logFlushed(Math.min(this.#durableEnd, this.#node.logEndOffset), now));
        this.#maybeFlush();
      },
      (error: unknown) => {
        this.#flushing = null;
        this.#die(error instanceof Error ? error : new Error(String(error)));
      },
    );
  }

  /** Resolves true once the log is durable up to `end` (false if the quorum stops first). */
  #whenDurable(end: number): Promise<boolean> {
    if (end <= this.#durableEnd) return Promise.resolve(true);
    return new Promise((resolve) => {
      this.#afterFlush.push({ requiredEnd: end, isFetch: false, release: () => resolve(true), drop: () => resolve(false) });
      this.#maybeFlush();
    });
  }

  /** Sends a core request to its destination; the answer (or the failure) goes back into the core. */
  #send(message: RaftMessage): void {
    if (!isRequest(message)) {
      // Every response is the reply to an inbound request and was taken out of its Ready (#exchange).
      this.#logger.debug({ kind: message.kind, to: message.destinationId }, 'dropping an unrequested raft response');
      return;
    }
    const request = message;
    const apiKey = apiKeyOf(request);
    void this.#network
      .send(request.destinationId, apiKey, (version) => encodeRequest(this.#ctx, request, version).body as never)
      .then(
        (wire) => {
          if (this.#closed) return;
          let response: RaftResponse;
          try {
            response = decodeResponse(request, wire);
          } catch (error) {
            // A misconfigured peer (other cluster id, unsupported records) answers every retry the same way.
            const key = `${request.destinationId}:${error instanceof Error ? error.message : String(error)}`;
            const now = Date.now();
            if ((this.#warnedAt.get(key) ?? -Infinity) + WARN_INTERVAL_MS <= now) {
              this.#warnedAt.set(key, now);
              this.#logger.warn({ to: request.destinationId, kind: request.kind, err: error }, 'unusable raft response');
            }
            this.#step((now) => this.#node.requestFailed(request, now));
            return;
          }
          this.#step((now) => this.#node.receive(response, now));
        },
        (error: unknown) => {
          if (this.#closed) return;
          this.#logger.debug({ to: request.destinationId, kind: request.kind, err: error }, 'raft request failed');
          this.#step((now) => this.#node.requestFailed(request, now));
        },
      );
  }

  // ---- state machine -----------------------------------------------------------------------------------

  #loadSnapshot(snapshot: SnapshotData): void {
    const decoded = decodeSnapshot(snapshot.bytes);
    this.#listener?.handleLoadSnapshot({ offset: BigInt(snapshot.id.endOffset), epoch: snapshot.id.epoch, records: decoded.records });
  }

  #commit(entry: LogEntry): void {
    if (entry.type === 'data') {
      this.#listener?.handleCommit({
        baseOffset: BigInt(entry.baseOffset),
        lastOffset: BigInt(entry.lastOffset),
        epoch: entry.epoch,
        appendTimestamp: entry.appendTimestamp,
        records: entry.records.map((r) => (Buffer.isBuffer(r) ? r : Buffer.from(r.buffer, r.byteOffset, r.byteLength))),
      });
    }
    const waiting = this.#pending.get(entry.baseOffset);
    if (waiting === undefined) return;
    this.#pending.delete(entry.baseOffset);
    for (const p of waiting) {
      if (p.epoch === entry.epoch && entry.type === 'data') p.resolve({ baseOffset: BigInt(p.baseOffset), lastOffset: BigInt(p.lastOffset) });
      else p.reject(new NotLeaderError(this.#node.leaderId, this.#node.epoch, `another batch was committed at offset ${entry.baseOffset}`));
    }
  }

  #notifyLeader(): void {
    const current = this.leaderAndEpoch();
    const last = this.#lastLeader;
    if (last !== null && last.leaderId === current.leaderId && last.epoch === current.epoch) return;
    this.#lastLeader = current;
    this.#listener?.handleLeaderChange(current);
  }

  #flushLinger(): void {
    const batch = this.#linger;
    if (batch === null) return;
    this.#linger = null;
    if (batch.timer !== null) clearTimeout(batch.timer);
    this.#flushBatch(batch);
  }

  #flushBatch(batch: LingerBatch): void {
    if (this.#fatal !== null || this.#closed) {
      for (const w of batch.waiters) w.reject(new NotLeaderError(null, this.#node.epoch, 'the metadata quorum is not running'));
      return;
    }
    let result: ReturnType<RaftNode['propose']> | null = null;
    this.#guard(() => {
      result = this.#node.propose(batch.records, this.#nowMs());
    });
    const proposed = result as ReturnType<RaftNode['propose']> | null;
    if (proposed === null || !proposed.accepted) {
      const error = new NotLeaderError(this.#node.leaderId, this.#node.epoch);
      for (const w of batch.waiters) w.reject(error);
      return;
    }
    const epoch = this.#node.epoch;
    this.#pending.set(
      proposed.baseOffset,
      batch.waiters.map((w) => ({
        batchBaseOffset: proposed.baseOffset,
        epoch,
        baseOffset: proposed.baseOffset + w.at,
        lastOffset: proposed.baseOffset + w.at + w.count - 1,
        resolve: w.resolve,
        reject: w.reject,
      })),
    );
    this.#guard(() => this.#process(proposed.ready));
  }

  #failLinger(error: Error): void {
    const batch = this.#linger;
    if (batch === null) return;
    this.#linger = null;
    if (batch.timer !== null) clearTimeout(batch.timer);
    for (const w of batch.waiters) w.reject(error);
  }

  #rejectPending(error: Error): void {
    const all = [...this.#pending.values()].flat();
    this.#pending.clear();
    for (const p of all) p.reject(error);
  }

  // ---- parked fetches ----------------------------------------------------------------------------------

  #waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wakers.add(done);
    });
  }

  #wakeAll(): void {
    for (const wake of [...this.#wakers]) wake();
  }

  #die(error: Error): void {
    if (this.#fatal !== null) return;
    this.#fatal = error;
    this.#logger.error({ err: error }, 'the metadata quorum stopped after an unrecoverable error');
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#rejectPending(new NotLeaderError(null, this.#node.epoch, `the metadata quorum stopped: ${error.message}`));
    if (this.#linger !== null) this.#failLinger(new NotLeaderError(null, this.#node.epoch, `the metadata quorum stopped: ${error.message}`));
    this.#wakeAll();
    for (const item of this.#afterFlush) item.drop();
    this.#afterFlush = [];
    this.#options.onFatalError?.(error);
  }

  /** The error that stopped the quorum, if any. */
  get fatalError(): Error | null {
    return this.#fatal;
  }

  /** Tests: the store under the quorum. */
  get store(): MetadataLogStore {
    return this.#store;
  }
}

function isRaftApi(apiKey: number): apiKey is RaftApiKey {
  return apiKey === ApiKeys.FETCH || apiKey === ApiKeys.VOTE || apiKey === ApiKeys.BEGIN_QUORUM_EPOCH || apiKey === ApiKeys.END_QUORUM_EPOCH || apiKey === ApiKeys.DESCRIBE_QUORUM || apiKey === ApiKeys.FETCH_SNAPSHOT;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

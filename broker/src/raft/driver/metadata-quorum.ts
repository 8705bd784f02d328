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
 *
 * Dynamic voters (KIP-853, kraft.version 1):
 *   - `bootstrapServers` (controller.quorum.bootstrap.servers): addresses, under Kafka's pseudo ids -2, -3,
 *     ..., that a replica without a leader fetches from to find it; `voters` may then be empty.
 *   - `standalone` (`kafka-storage format --standalone`) / `initialVoters` (`--initial-controllers`): on the
 *     first start, with an empty log, the bootstrap checkpoint `00000000000000000000-0000000000.checkpoint`
 *     (KRaftVersionRecord 1 + VotersRecord) is written; the first leader copies the set into the log.
 *   - the replica's directory id: directory-id.ts.
 *   - the voter set is the core's (log / snapshot); the address book follows it (the controller listener's
 *     endpoint of each voter), plus leader endpoints learned from responses (Fetch v16+ NodeEndpoints,
 *     BeginQuorumEpoch LeaderEndpoints, ...).
 *   - AddRaftVoter 80 / RemoveRaftVoter 81 / UpdateRaftVoter 82 are served by the leader (addVoter,
 *     removeVoter, updateVoter); Add and Remove answer once the new VotersRecord committed.
 */
import type { Logger } from 'pino';
import { join } from 'node:path';
import type {
  AddRaftVoterRequest,
  ApiKey,
  DescribeQuorumRequest,
  RemoveRaftVoterRequest,
  RequestByApiKey,
  ResponseByApiKey,
  UpdateRaftVoterRequest,
} from '../../protocol/generated/index.ts';
import { KafkaConnection } from '../../client/kafka-connection.ts';
import { ZERO_UUID } from '../../protocol/wire/uuid.ts';
import { RaftInvariantError } from '../core/assert.ts';
import { isRequest, type RaftMessage, type RaftRequest, type RaftResponse } from '../core/messages.ts';
import type { LogEntry } from '../core/raft-log.ts';
import { DEFAULT_RAFT_TIMING, RaftNode, type LogOp, type QuorumStateRecord, type RaftConfig, type Ready, type SnapshotData, type VoterChangeOutcome, type VoterChangeResult } from '../core/raft-node.ts';
import { findVoter, normalize, type VoterEndpoint, type VoterNode, type VoterSet } from '../core/voter-set.ts';
import { resolveDirectoryId } from './directory-id.ts';
import { defaultLogFs, type LogFs } from '../../log/log-fs.ts';
import { MetadataLogStore, METADATA_PARTITION, METADATA_TOPIC } from './metadata-log-store.ts';
import { PeerNetwork } from './peer-network.ts';
import { QuorumStateFile } from './quorum-state-file.ts';
import { decodeSnapshot, encodeBootstrapSnapshot, encodeSnapshot, readSnapshotVoters } from './record-codec.ts';
import {
  ApiKeys,
  apiKeyOf,
  decodeRequest,
  decodeResponse,
  describeQuorumResponse,
  encodeRequest,
  encodeResponse,
  endpointFor,
  endpointsCarried,
  unavailableResponse,
  updateVoterResponse,
  voterChangeResponse,
  KRAFT_VERSION_FEATURE,
  WireError,
  type Endpoint,
  type RaftApiKey,
  type VoterChangeApiKey,
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

/** One of `--initial-controllers` (Kafka's `id@host:port:directoryId`). */
export interface InitialVoter {
  readonly id: number;
  readonly directoryId: string;
  readonly host: string;
  readonly port: number;
}

/** The answer to AddRaftVoter / RemoveRaftVoter / UpdateRaftVoter. */
export interface VoterChangeAnswer {
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

export interface MetadataQuorumOptions {
  readonly localId: number;
  readonly clusterId: string;
  /**
   * controller.quorum.voters (static voters, kraft.version 0); the node is an observer unless `localId` is
   * one of them. May be empty with dynamic voters (`bootstrapServers`, `standalone`, `initialVoters`).
   * Once the log (or a snapshot, or the bootstrap checkpoint) holds a voter set, that set is used instead.
   */
  readonly voters: readonly Endpoint[];
  /** controller.quorum.bootstrap.servers (KIP-853): where a replica without a known leader asks for it. */
  readonly bootstrapServers?: readonly { readonly host: string; readonly port: number }[];
  /**
   * `kafka-storage format --standalone`: on the first start (empty log, no quorum state) write the
   * bootstrap checkpoint with this node (`localEndpoint`) as the only voter.
   */
  readonly standalone?: boolean;
  /**
   * `kafka-storage format --initial-controllers`: on the first start (empty log, no quorum state) write the
   * bootstrap checkpoint with these voters. Give every initial controller the same list.
   */
  readonly initialVoters?: readonly InitialVoter[];
  /** This replica's directory id; by default read from / created in `__cluster_metadata-0/directory.id` (directory-id.ts). */
  readonly directoryId?: string;
  /**
   * This node's endpoint on the controller listener (advertised): its VotersRecord entry with
   * `standalone`, the LeaderEndpoints of its requests. Default: its entry in `voters`.
   */
  readonly localEndpoint?: { readonly host: string; readonly port: number };
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
  /** The replica's directory id (ZERO_UUID when unknown). */
  readonly directoryId: string;
  /** -1 when unknown. */
  readonly logEndOffset: bigint;
  readonly lastFetchTimestamp: number;
  readonly lastCaughtUpTimestamp: number;
}

/** DescribeQuorum data as this node sees it (replica progress is known only on the leader). */
export interface QuorumInfo {
  readonly localId: number;
  /** This replica's directory id. */
  readonly directoryId: string;
  readonly isVoter: boolean;
  /** 1: dynamic voters (the voter set is in the log); 0: static controller.quorum.voters. */
  readonly kraftVersion: number;
  /** The voter set in effect, with the voters' controller endpoints when known. */
  readonly voters: readonly { readonly id: number; readonly directoryId: string; readonly endpoint: Endpoint | null }[];
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
  /** This replica's directory id (KIP-853 voter key). */
  readonly directoryId: string;
  readonly #options: MetadataQuorumOptions;
  readonly #logger: Logger;
  readonly #node: RaftNode;
  readonly #store: MetadataLogStore;
  readonly #stateFile: QuorumStateFile;
  readonly #network: PeerNetwork;
  readonly #ctx: WireContext;
  /** Controller endpoints by node id (WireContext.endpoints): static voters, the voter set, learned leaders. */
  readonly #endpoints = new Map<number, Endpoint>();
  #knownVoterSet: VoterSet | null = null;
  readonly #voterChangeWaiters = new Map<number, (outcome: VoterChangeAnswer) => void>();
  readonly #requestTimeoutMs: number;
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

  private constructor(options: MetadataQuorumOptions, node: RaftNode, store: MetadataLogStore, stateFile: QuorumStateFile, snapshot: SnapshotData | null, clockMs: number, directoryId: string) {
    this.#options = options;
    this.localId = options.localId;
    this.directoryId = directoryId;
    this.#logger = options.logger;
    this.#node = node;
    this.#store = store;
    this.#stateFile = stateFile;
    this.#startupSnapshot = snapshot;
    this.#lastClockMs = clockMs;
    this.#durableEnd = node.logEndOffset;
    for (const v of options.voters) this.#endpoints.set(v.id, v);
    const local = options.localEndpoint;
    if (local !== undefined) this.#endpoints.set(options.localId, { id: options.localId, host: local.host, port: local.port });
    const timing = options.timing ?? {};
    this.#tickIntervalMs = timing.tickIntervalMs ?? DEFAULT_TICK_MS;
    this.#fetchTimeoutMs = timing.fetchTimeoutMs ?? DEFAULT_RAFT_TIMING.fetchTimeoutMs;
    this.#lingerMs = timing.appendLingerMs ?? DEFAULT_LINGER_MS;
    this.#proposeRecordsMax = options.proposeRecordsMax ?? DEFAULT_RAFT_TIMING.proposeRecordsMax;
    const requestTimeoutMs = timing.requestTimeoutMs ?? DEFAULT_RAFT_TIMING.requestTimeoutMs;
    this.#requestTimeoutMs = requestTimeoutMs;
    const fetchMaxWaitMs = timing.fetchMaxWaitMs ?? DEFAULT_FETCH_MAX_WAIT_MS;
    this.#maxParkMs = Math.max(0, Math.min(fetchMaxWaitMs, requestTimeoutMs / 2));
    this.#ctx = {
      clusterId: options.clusterId,
      localId: options.localId,
      listenerName: options.listenerName ?? 'CONTROLLER',
      endpoints: this.#endpoints,
      localDirectoryId: directoryId,
      directoryIdOf: (id) => findVoter(this.#node.voterSet, id)?.directoryId ?? ZERO_UUID,
      fetchMaxWaitMs,
      fetchMaxBytes: DEFAULT_RAFT_TIMING.fetchBytesMax,
      snapshotMaxBytes: timing.snapshotChunkBytes ?? DEFAULT_RAFT_TIMING.snapshotChunkBytes,
    };
    this.#network = new PeerNetwork({
      localId: options.localId,
      // Bootstrap servers under Kafka's pseudo ids -2, -3, ...
      peers: [...options.voters, ...(options.bootstrapServers ?? []).map((b, i) => ({ id: bootstrapId(i), host: b.host, port: b.port }))],
      requestTimeoutMs,
      reconnectBackoffMs: Math.max(1, timing.retryBackoffMs ?? DEFAULT_RAFT_TIMING.retryBackoffMs),
      reconnectBackoffMaxMs: 1000,
      logger: options.logger,
      nowMs: () => this.#nowMs(),
    });
    this.#syncVoterEndpoints();
  }

  /** Opens the metadata log and quorum state (recovering them) and builds the core. Nothing runs until start(). */
  static async open(options: MetadataQuorumOptions): Promise<MetadataQuorum> {
    const dynamic = (options.bootstrapServers?.length ?? 0) > 0 || options.standalone === true || options.initialVoters !== undefined;
    if (options.voters.length === 0 && !dynamic) throw new MetadataQuorumError('controller.quorum.voters is empty (and there are no controller.quorum.bootstrap.servers)');
    if (new Set(options.voters.map((v) => v.id)).size !== options.voters.length) throw new MetadataQuorumError('controller.quorum.voters lists a voter twice');
    if (options.standalone === true && options.initialVoters !== undefined) throw new MetadataQuorumError('standalone and initialVoters exclude each other (kafka-storage format --standalone / --initial-controllers)');
    if (options.initialVoters !== undefined && (options.initialVoters.length === 0 || new Set(options.initialVoters.map((v) => v.id)).size !== options.initialVoters.length)) {
      throw new MetadataQuorumError('initialVoters must list each initial controller once');
    }
    const dir = join(options.metadataLogDir, `${METADATA_TOPIC}-${METADATA_PARTITION}`);
    const directoryId = resolveDirectoryId(options.fs ?? defaultLogFs, dir, options.metadataLogDir, {
      configured: options.directoryId,
      initialVoter: options.initialVoters?.find((v) => v.id === options.localId)?.directoryId,
    });
    const opened = await MetadataLogStore.open({
      dir,
      logger: options.logger,
      ...(options.segmentBytes === undefined ? {} : { segmentBytes: options.segmentBytes }),
      ...(options.fs === undefined ? {} : { fs: options.fs }),
    });
    const { store, entries } = opened;
    let snapshot = opened.snapshot;
    try {
      const stateFile = new QuorumStateFile(dir, options.fs);
      let quorumState = stateFile.read();
      const bootstrapVoters = MetadataQuorum.#bootstrapVoters(options, directoryId);
      if (bootstrapVoters !== null && snapshot === null && entries.length === 0 && store.logEndOffset === 0 && quorumState === null) {
        // `kafka-storage format --standalone / --initial-controllers`, done at the first start.
        snapshot = { id: { endOffset: 0, epoch: 0 }, bytes: encodeBootstrapSnapshot(bootstrapVoters) };
        await store.writeSnapshot(snapshot);
        options.logger.info({ voters: bootstrapVoters.map((v) => `${v.id}@${v.endpoints[0]?.host ?? '?'}:${v.endpoints[0]?.port ?? '?'}:${v.directoryId}`) }, 'wrote the bootstrap checkpoint of the dynamic voter set');
      }
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
        localDirectoryId: directoryId,
        voterIds: options.voters.map((v) => v.id),
        bootstrapIds: (options.bootstrapServers ?? []).map((_, i) => bootstrapId(i)),
        snapshotVoters: readSnapshotVoters,
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
        {
          localId: options.localId,
          directoryId,
          voter: node.isVoter,
          kraftVersion: node.kraftVersion,
          voters: node.voterSet.map((v) => v.id),
          role: node.role,
          epoch: node.epoch,
          logStartOffset: node.logStartOffset,
          logEndOffset: node.logEndOffset,
          snapshot: snapshot?.id ?? null,
        },
        'opened the metadata quorum',
      );
      return new MetadataQuorum(options, node, store, stateFile, snapshot, clockMs, directoryId);
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  /** The voters of the bootstrap checkpoint to write, if an option asks for one. */
  static #bootstrapVoters(options: MetadataQuorumOptions, directoryId: string): VoterSet | null {
    const listener = options.listenerName ?? 'CONTROLLER';
    const node = (id: number, dir: string, host: string, port: number): VoterNode => ({ id, directoryId: dir, endpoints: [{ name: listener, host, port }], kraftVersion: { min: KRAFT_VERSION_FEATURE.minVersion, max: KRAFT_VERSION_FEATURE.maxVersion } });
    if (options.standalone === true) {
      const local = options.localEndpoint ?? options.voters.find((v) => v.id === options.localId);
      if (local === undefined) throw new MetadataQuorumError('standalone needs localEndpoint (the controller listener of this node)');
      return [node(options.localId, directoryId, local.host, local.port)];
    }
    if (options.initialVoters !== undefined) return normalize(options.initialVoters.map((v) => node(v.id, v.directoryId, v.host, v.port)));
    return null;
  }

  /** This replica's voter key and whether it is a voter of the voter set in effect. */
  get isVoter(): boolean {
    return this.#node.isVoter;
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
      // The bootstrap checkpoint (0-0) holds no state machine records.
      if (snapshot !== null && snapshot.id.endOffset > 0) this.#loadSnapshot(snapshot);
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
      const others = this.#node.voterSet.map((v) => v.id).filter((id) => id !== this.localId);
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
    this.#failVoterChanges(WireError.NOT_LEADER_OR_FOLLOWER, 'the metadata quorum is shutting down');
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
    // With dynamic voters the snapshot holds the voter set in effect at its end (as Kafka's snapshots do).
    const voters = this.#node.votersAt(end);
    const snapshot: SnapshotData = { id: { endOffset: end, epoch }, bytes: encodeSnapshot(epoch, records, last.appendTimestamp, voters.dynamic ? voters.voters : null) };
    await this.#store.writeSnapshot(snapshot);
    if (this.#closed || this.#fatal !== null) return;
    this.#step((now) => this.#node.snapshotCreated(snapshot, now));
    this.#logger.info({ endOffset: end, epoch, records: records.length, bytes: snapshot.bytes.length }, 'created a metadata snapshot');
  }

  describe(): QuorumInfo {
    const node = this.#node;
    const description = node.describeQuorum();
    const big = (r: { replicaId: number; directoryId: string; logEndOffset: number; lastFetchTimestamp: number; lastCaughtUpTimestamp: number }): ReplicaInfo => ({ ...r, logEndOffset: BigInt(r.logEndOffset) });
    const snapshot = node.latestSnapshotId;
    return {
      localId: this.localId,
      directoryId: this.directoryId,
      isVoter: node.isVoter,
      kraftVersion: node.kraftVersion,
      voters: node.voterSet.map((v) => ({ id: v.id, directoryId: v.directoryId, endpoint: this.#endpointOf(v) })),
      role: node.role,
      leaderId: node.leaderId,
      leaderEpoch: node.epoch,
      highWatermark: BigInt(node.highWatermark),
      logStartOffset: BigInt(node.logStartOffset),
      logEndOffset: BigInt(node.logEndOffset),
      latestSnapshot: snapshot === null ? null : { endOffset: BigInt(snapshot.endOffset), epoch: snapshot.epoch },
      currentVoters:
        description?.voters.map(big) ??
        node.voterSet.map((v) => ({ replicaId: v.id, directoryId: v.directoryId, logEndOffset: v.id === this.localId ? BigInt(node.logEndOffset) : -1n, lastFetchTimestamp: -1, lastCaughtUpTimestamp: -1 })),
      observers: description?.observers.map(big) ?? [],
    };
  }

  // ---- dynamic voters (KIP-853) --------------------------------------------------------------------------

  /** The controller endpoint known for node `id` (the voter set, static voters, learned leaders). */
  endpointOf(id: number): Endpoint | undefined {
    return this.#endpoints.get(id);
  }

  /** The leader's controller endpoint, if the leader and its address are known (e.g. to route controller requests). */
  leaderEndpoint(): Endpoint | undefined {
    const leaderId = this.#node.leaderId;
    return leaderId === null ? undefined : this.#endpoints.get(leaderId);
  }

  /**
   * AddRaftVoter on the leader: `voter` must be fetching from this leader as an observer with that
   * directory id and be caught up. Its ApiVersions is asked first (reachable, kraft.version range; a node
   * that does not advertise `kraft.version` is taken to support 0..1). Resolves once the new voter set
   * committed (NONE), or with Kafka's error (NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT, DUPLICATE_VOTER,
   * UNSUPPORTED_VERSION, INVALID_REQUEST).
   */
  async addVoter(voter: { readonly id: number; readonly directoryId: string; readonly endpoints: readonly VoterEndpoint[] }, timeoutMs = this.#requestTimeoutMs): Promise<VoterChangeAnswer> {
    const refused = this.#voterChangeRefused();
    if (refused !== null) return refused;
    if (voter.directoryId === ZERO_UUID) return { errorCode: WireError.INVALID_REQUEST, errorMessage: 'the new voter needs a directory id' };
    const endpoint = voter.endpoints.find((e) => e.name === this.#ctx.listenerName);
    if (endpoint === undefined) return { errorCode: WireError.INVALID_REQUEST, errorMessage: `the new voter has no ${this.#ctx.listenerName} listener` };
    const range = await this.#probeKRaftVersion(endpoint);
    if (range === null) return { errorCode: WireError.REQUEST_TIMED_OUT, errorMessage: `new voter ${voter.id} at ${endpoint.host}:${endpoint.port} is not ready to receive requests` };
    const node: VoterNode = { id: voter.id, directoryId: voter.directoryId, endpoints: voter.endpoints, kraftVersion: range };
    return this.#voterChange((now) => this.#node.addVoter(node, timeoutMs, now));
  }

  /** RemoveRaftVoter on the leader; resolves once the new voter set committed (a removed leader then resigns). */
  removeVoter(key: { readonly id: number; readonly directoryId: string }, timeoutMs = this.#requestTimeoutMs): Promise<VoterChangeAnswer> {
    const refused = this.#voterChangeRefused();
    if (refused !== null) return Promise.resolve(refused);
    return this.#voterChange((now) => this.#node.removeVoter(key, timeoutMs, now));
  }

  /** UpdateRaftVoter on the leader: a voter's endpoints / kraft.version range; answered once appended. */
  updateVoter(voter: VoterNode): Promise<VoterChangeAnswer> {
    const refused = this.#voterChangeRefused();
    if (refused !== null) return Promise.resolve(refused);
    if (!voter.endpoints.some((e) => e.name === this.#ctx.listenerName)) return Promise.resolve({ errorCode: WireError.INVALID_REQUEST, errorMessage: `no ${this.#ctx.listenerName} listener` });
    return this.#voterChange((now) => this.#node.updateVoter(voter, now));
  }

  #voterChangeRefused(): VoterChangeAnswer | null {
    if (!this.#started || this.#closing || this.#closed || this.#fatal !== null) return { errorCode: WireError.BROKER_NOT_AVAILABLE, errorMessage: 'the metadata quorum is not running' };
    if (this.#node.role !== 'leader') return { errorCode: WireError.NOT_LEADER_OR_FOLLOWER, errorMessage: `not the leader (leader ${this.#node.leaderId ?? 'unknown'}, epoch ${this.#node.epoch})` };
    return null;
  }

  #voterChange(input: (nowMs: number) => VoterChangeResult): Promise<VoterChangeAnswer> {
    const refused = this.#voterChangeRefused();
    if (refused !== null) return Promise.resolve(refused);
    let result: VoterChangeResult | null = null;
    this.#guard(() => {
      result = input(this.#nowMs());
    });
    const done = result as VoterChangeResult | null;
    if (done === null) return Promise.resolve({ errorCode: WireError.BROKER_NOT_AVAILABLE, errorMessage: 'the metadata quorum stopped' });
    if (!done.accepted) {
      this.#guard(() => this.#process(done.ready));
      return Promise.resolve({ errorCode: done.errorCode, errorMessage: done.message });
    }
    const answer = new Promise<VoterChangeAnswer>((resolve) => this.#voterChangeWaiters.set(done.changeId, resolve));
    this.#logger.info({ changeId: done.changeId, offset: done.offset }, 'appended a voter set change');
    this.#guard(() => this.#process(done.ready));
    return answer;
  }

  #voterChangeEnded(outcome: VoterChangeOutcome): void {
    const resolve = this.#voterChangeWaiters.get(outcome.changeId);
    if (resolve === undefined) return;
    this.#voterChangeWaiters.delete(outcome.changeId);
    this.#logger.info({ changeId: outcome.changeId, errorCode: outcome.errorCode, message: outcome.message, voters: this.#node.voterSet.map((v) => v.id) }, 'voter set change ended');
    resolve({ errorCode: outcome.errorCode, errorMessage: outcome.message });
  }

  #failVoterChanges(errorCode: number, message: string): void {
    const waiters = [...this.#voterChangeWaiters.values()];
    this.#voterChangeWaiters.clear();
    for (const resolve of waiters) resolve({ errorCode, errorMessage: message });
  }

  /** ApiVersions of a new voter: its kraft.version range, or null when it does not answer. */
  async #probeKRaftVersion(endpoint: VoterEndpoint): Promise<{ min: number; max: number } | null> {
    let connection: KafkaConnection | null = null;
    try {
      connection = await KafkaConnection.open({ host: endpoint.host, port: endpoint.port, clientId: `raft-client-${this.localId}`, connectTimeoutMs: this.#requestTimeoutMs, requestTimeoutMs: this.#requestTimeoutMs });
      const response = await connection.send(ApiKeys.API_VERSIONS, 3, { clientSoftwareName: 'millrace-raft', clientSoftwareVersion: '1' });
      if (response.errorCode !== 0) return null;
      const feature = response.supportedFeatures.find((f) => f.name === KRAFT_VERSION_FEATURE.name);
      return feature === undefined ? { min: KRAFT_VERSION_FEATURE.minVersion, max: KRAFT_VERSION_FEATURE.maxVersion } : { min: feature.minVersion, max: feature.maxVersion };
    } catch (error) {
      this.#logger.info({ endpoint, err: error }, 'the new voter did not answer ApiVersions');
      return null;
    } finally {
      connection?.close();
    }
  }

  /** The voter's endpoint on the controller listener (from the voter set, else the address book). */
  #endpointOf(voter: VoterNode): Endpoint | null {
    return endpointFor(voter.id, voter.endpoints, this.#ctx.listenerName) ?? this.#endpoints.get(voter.id) ?? null;
  }

  /** The address book follows the voter set in effect. */
  #syncVoterEndpoints(): void {
    const voters = this.#node.voterSet;
    if (voters === this.#knownVoterSet) return;
    this.#knownVoterSet = voters;
    for (const voter of voters) {
      const endpoint = endpointFor(voter.id, voter.endpoints, this.#ctx.listenerName);
      if (endpoint !== null) this.#learnEndpoint(endpoint);
    }
  }

  #learnEndpoint(endpoint: Endpoint): void {
    const known = this.#endpoints.get(endpoint.id);
    if (known?.host === endpoint.host && known.port === endpoint.port) return;
    // Our own address is ours to say (localEndpoint / static voters), unless we have none.
    if (endpoint.id === this.localId && known !== undefined) return;
    this.#endpoints.set(endpoint.id, endpoint);
    this.#network.setPeer(endpoint);
  }

  /** AddRaftVoter 80 / RemoveRaftVoter 81 / UpdateRaftVoter 82 from the wire (Kafka's KafkaRaftClient validation). */
  async #handleVoterChangeRequest(key: VoterChangeApiKey, request: unknown): Promise<unknown> {
    const clusterOk = (clusterId: string | null): boolean => clusterId === null || clusterId === this.#ctx.clusterId;
    switch (key) {
      case ApiKeys.ADD_RAFT_VOTER: {
        const r = request as AddRaftVoterRequest;
        if (!clusterOk(r.clusterId)) return voterChangeResponse(key, WireError.INCONSISTENT_CLUSTER_ID, null);
        const answer = await this.addVoter({ id: r.voterId, directoryId: r.voterDirectoryId, endpoints: r.listeners.map((l) => ({ name: l.name, host: l.host, port: l.port })) }, r.timeoutMs > 0 ? r.timeoutMs : this.#requestTimeoutMs);
        return voterChangeResponse(key, answer.errorCode, answer.errorMessage);
      }
      case ApiKeys.REMOVE_RAFT_VOTER: {
        const r = request as RemoveRaftVoterRequest;
        if (!clusterOk(r.clusterId)) return voterChangeResponse(key, WireError.INCONSISTENT_CLUSTER_ID, null);
        const answer = await this.removeVoter({ id: r.voterId, directoryId: r.voterDirectoryId });
        return voterChangeResponse(key, answer.errorCode, answer.errorMessage);
      }
      case ApiKeys.UPDATE_RAFT_VOTER: {
        const r = request as UpdateRaftVoterRequest;
        const answer = (errorCode: number): unknown => {
          const leaderId = this.#node.leaderId;
          return updateVoterResponse(errorCode, leaderId, this.#node.epoch, leaderId === null ? null : (this.#endpoints.get(leaderId) ?? null));
        };
        if (!clusterOk(r.clusterId)) return answer(WireError.INCONSISTENT_CLUSTER_ID);
        if (r.currentLeaderEpoch < this.#node.epoch) return answer(WireError.FENCED_LEADER_EPOCH);
        if (r.currentLeaderEpoch > this.#node.epoch) return answer(WireError.UNKNOWN_LEADER_EPOCH);
        const result = await this.updateVoter({
          id: r.voterId,
          directoryId: r.voterDirectoryId,
          endpoints: r.listeners.map((l) => ({ name: l.name, host: l.host, port: l.port })),
          kraftVersion: { min: r.kRaftVersionFeature.minSupportedVersion, max: r.kRaftVersionFeature.maxSupportedVersion },
        });
        return answer(result.errorCode);
      }
    }
  }

  /**
   * Serves a raft request from the controller listener (Vote 52, BeginQuorumEpoch 53, EndQuorumEpoch 54,
   * Fetch 1 of __cluster_metadata-0, FetchSnapshot 59, DescribeQuorum 55, AddRaftVoter 80, RemoveRaftVoter
   * 81, UpdateRaftVoter 82). Fetches are long polls; Add/RemoveRaftVoter answer once the change committed.
   */
  async handleRaftRequest<K extends ApiKey>(apiKey: K, apiVersion: number, request: RequestByApiKey[K]): Promise<ResponseByApiKey[K]> {
    const key = apiKey as number as RaftApiKey;
    if (!isRaftApi(key)) throw new MetadataQuorumError(`API ${apiKey} is not a raft API`);
    const respond = (response: unknown): ResponseByApiKey[K] => response as ResponseByApiKey[K];
    // While closing, a resigned leader still answers (NOT_LEADER_OR_FOLLOWER, votes) until close() ends.
    if (!this.#started || this.#closed || this.#fatal !== null) return respond(unavailableResponse(key));
    if (key === ApiKeys.ADD_RAFT_VOTER || key === ApiKeys.REMOVE_RAFT_VOTER || key === ApiKeys.UPDATE_RAFT_VOTER) return respond(await this.#handleVoterChangeRequest(key, request));
    if (key === ApiKeys.DESCRIBE_QUORUM) {
      const body = request as DescribeQuorumRequest;
      const partition = body.topics[0]?.partitions[0];
      if (body.topics.length !== 1 || body.topics[0]?.topicName !== METADATA_TOPIC || partition?.partitionIndex !== METADATA_PARTITION) {
        return respond({ errorCode: 3, errorMessage: null, topics: [], nodes: [] });
      }
      const voters = this.#node.voterSet.map((v) => {
        const e = this.#endpointOf(v);
        return { id: v.id, listeners: v.endpoints.length > 0 ? v.endpoints : e === null ? [] : [{ name: this.#ctx.listenerName, host: e.host, port: e.port }] };
      });
      return respond(describeQuorumResponse(this.#ctx, this.#node.describeQuorum(), voters, apiVersion));
    }
    // A leader announcing itself tells us where it is.
    for (const endpoint of endpointsCarried(key, 'request', request, this.#ctx.listenerName)) this.#learnEndpoint(endpoint);
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
    // 1. Quorum state: synchronous and durable (version 1 with dynamic voters, with the voted directory id).
    const qs = ready.quorumState;
    if (qs !== null) this.#stateFile.write(qs, node.kraftVersion === 0 ? null : { votedDirectoryId: qs.votedId === null ? ZERO_UUID : (findVoter(node.voterSet, qs.votedId)?.directoryId ?? ZERO_UUID) });
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
    this.#syncVoterEndpoints();
    for (const outcome of ready.voterChanges) this.#voterChangeEnded(outcome);
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
          // Leader endpoints in the answer (Fetch v16+ NodeEndpoints...): known before the core acts on it.
          for (const endpoint of endpointsCarried(apiKey, 'response', wire, this.#ctx.listenerName)) this.#learnEndpoint(endpoint);
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
    this.#failVoterChanges(WireError.BROKER_NOT_AVAILABLE, `the metadata quorum stopped: ${error.message}`);
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
  return (Object.values(ApiKeys) as number[]).includes(apiKey) && apiKey !== ApiKeys.API_VERSIONS;
}

/** Kafka's pseudo node id of the i-th bootstrap server (RequestManager: -2, -3, ...). */
const bootstrapId = (i: number): number => -(i + 2);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// Seeded, deterministic simulation of a KRaft quorum (after Kafka's RaftEventSimulationTest and
// TigerBeetle's VOPR): simulated clock, network (loss, delay, reordering, duplication, partitions,
// connection failures reported back to the sender) and disks (quorum-state writes and log appends become
// durable only at a simulated flush; a crash loses whatever was not flushed; snapshots are durable when
// written, as the driver fsyncs them before telling the core).
// Voters are nodes 1..n; some seeds add observers (nodes n+1..), which follow the leader without voting.
// Every node runs a state machine (a rolling hash of the committed records) that takes snapshots now and
// then, so slow or restarted replicas are forced onto FetchSnapshot.
// Membership (KIP-853) depends on the seed too: static voters (controller.quorum.voters), or dynamic
// voters bootstrapped like `kafka-storage format --standalone` (node 1 alone) or `--initial-controllers`
// (nodes 1..n), found through bootstrap servers (nodes 1 and 2); during the fault phase the leader is asked
// to add, remove and update voters one at a time (nodes may be added, removed, the leader itself too).
// The same seed always produces the same run. Invariants are checked after every event.

import {
  DEFAULT_RAFT_TIMING,
  RaftNode,
  type QuorumStateRecord,
  type RaftConfig,
  type Ready,
  type SnapshotData,
} from '../../../broker/src/raft/core/raft-node.ts';
import { isRequest, type RaftMessage, type RaftRequest } from '../../../broker/src/raft/core/messages.ts';
import { RaftLog, voterSetOf, type LogEntry } from '../../../broker/src/raft/core/raft-log.ts';
import { sameVoterSet, voterIdsOf, type VoterNode, type VoterSet } from '../../../broker/src/raft/core/voter-set.ts';

// ---- deterministic randomness ----------------------------------------------------------------------

export class SeededRandom {
  #state: number;
  constructor(seed: number) {
    this.#state = (seed ^ 0x9e3779b9) >>> 0;
  }
  /** mulberry32: uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(minInclusive: number, maxInclusive: number): number {
    return minInclusive + Math.floor(this.next() * (maxInclusive - minInclusive + 1));
  }
  chance(probability: number): boolean {
    return this.next() < probability;
  }
  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
}

// ---- event queue -----------------------------------------------------------------------------------

type SimEvent =
  /** `alias`: the request was sent to a bootstrap server id (negative) that maps to the destination node. */
  | { readonly kind: 'deliver'; readonly message: RaftMessage; readonly alias?: number }
  | { readonly kind: 'reconfigure' }
  | { readonly kind: 'failed'; readonly request: RaftRequest; readonly incarnation: number }
  | { readonly kind: 'tick'; readonly nodeId: number; readonly incarnation: number }
  | { readonly kind: 'flush'; readonly nodeId: number; readonly incarnation: number }
  | { readonly kind: 'chaos' }
  | { readonly kind: 'heal' }
  | { readonly kind: 'propose' }
  | { readonly kind: 'snapshot' };

interface Scheduled {
  readonly atMs: number;
  readonly seq: number;
  readonly event: SimEvent;
}

class EventQueue {
  readonly #heap: Scheduled[] = [];
  #seq = 0;
  get size(): number {
    return this.#heap.length;
  }
  push(atMs: number, event: SimEvent): void {
    const heap = this.#heap;
    heap.push({ atMs, seq: this.#seq++, event });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!EventQueue.#before(heap[i], heap[parent])) break;
      this.#swap(i, parent);
      i = parent;
    }
  }
  pop(): Scheduled | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && EventQueue.#before(heap[left], heap[smallest])) smallest = left;
      if (right < heap.length && EventQueue.#before(heap[right], heap[smallest])) smallest = right;
      if (smallest === i) break;
      this.#swap(i, smallest);
      i = smallest;
    }
    return top;
  }
  static #before(a: Scheduled | undefined, b: Scheduled | undefined): boolean {
    if (a === undefined || b === undefined) return false;
    return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
  }
  #swap(i: number, j: number): void {
    const heap = this.#heap;
    const a = heap[i];
    const b = heap[j];
    if (a === undefined || b === undefined) return;
    heap[i] = b;
    heap[j] = a;
  }
}


// ---- simulated node + disk -------------------------------------------------------------------------

interface SimDisk {
  /** Durable quorum state; `pendingQuorumState` is written but not yet synced (lost on crash). */
  quorumState: QuorumStateRecord | null;
  pendingQuorumState: QuorumStateRecord | null;
  /** The latest snapshot (durable as soon as written). */
  snapshot: SnapshotData | null;
  /** Batches from the snapshot's end offset (or 0); those ending at or below `flushedEnd` are durable. */
  entries: LogEntry[];
  flushedEnd: number;
}

/** The replicated state machine: a rolling hash of every committed data record, as of `offset`. */
interface StateMachine {
  offset: number;
  hash: number;
}

interface SimNode {
  readonly id: number;
  /** Static membership only: a voter of controller.quorum.voters (dynamic membership asks the core). */
  readonly isVoter: boolean;
  readonly disk: SimDisk;
  raft: RaftNode | null; // null while crashed
  incarnation: number;
  flushScheduled: boolean;
  /** messagesAfterPersist waiting for the next flush. */
  pendingAfterFlush: RaftMessage[];
  /** Highest HW seen in this incarnation (the HW must never go back). */
  highWatermark: number;
  /** Offset up to which the in-memory log was compared with the committed log. */
  verifiedOffset: number;
  restartAtMs: number;
  sm: StateMachine;
  /** This incarnation's clock: its own offset and rate (±5%), and jittered ticks (its own random stream). */
  clock: { offsetMs: number; rate: number; random: SeededRandom };
}

export interface SimulationOptions {
  readonly seed: number;
  /** Simulated duration of the fault phase. */
  readonly chaosMs: number;
  /** After faults heal, a leader must commit a new entry (and every observer apply it) within this bound. */
  readonly healBoundMs: number;
  /** How often each node is ticked (default 100 ms). */
  readonly tickIntervalMs?: number;
}

export interface SimulationResult {
  readonly seed: number;
  readonly voters: number;
  readonly observers: number;
  readonly events: number;
  /** Committed records (offsets), control batches included. */
  readonly committed: number;
  readonly maxEpoch: number;
  readonly crashes: number;
  /** Follower truncations after a DivergingEpoch: proof that divergence was exercised. */
  readonly truncations: number;
  readonly snapshotsCreated: number;
  /** Snapshots downloaded with FetchSnapshot and installed. */
  readonly snapshotsInstalled: number;
  readonly healedInMs: number;
  readonly membership: Membership;
  /** Voter changes requested of a leader / accepted by it / committed (AddRaftVoter, RemoveRaftVoter, UpdateRaftVoter). */
  readonly voterChangesRequested: number;
  readonly voterChangesAccepted: number;
  readonly voterChangesCommitted: number;
  /** Largest voter set seen committed. */
  readonly maxVoters: number;
  /** Leaders that resigned after committing their own removal. */
  readonly removedLeaders: number;
}

/** static: controller.quorum.voters; standalone / initial: dynamic voters from a bootstrap checkpoint. */
export type Membership = 'static' | 'standalone' | 'initial';

export class SimulationFailure extends Error {
  override readonly name = 'SimulationFailure';
}

/** The voter count is a function of the seed, so RAFT_SIM_SEED alone replays a run exactly. */
export function votersForSeed(seed: number): number {
  return seed % 2 === 1 ? 3 : 5;
}

/** Observers (brokers) on two seeds out of three. */
export function observersForSeed(seed: number): number {
  return seed % 3;
}

/** A third of the seeds each. */
export function membershipForSeed(seed: number): Membership {
  const modes: readonly Membership[] = ['static', 'standalone', 'initial'];
  return modes[Math.floor(seed / 2) % 3] ?? 'static';
}

/** Bootstrap servers (controller.quorum.bootstrap.servers) of dynamic seeds: ids -2, -3 are nodes 1, 2. */
const BOOTSTRAP_IDS = [-2, -3] as const;
const bootstrapNode = (alias: number): number => -alias - 1;
const MAX_SIM_VOTERS = 5;
const MAX_UNCOMMITTED = 60;

function directoryIdOf(id: number): string {
  return `sim-directory-${id}`;
}

function voterNodeOf(id: number, port = 9093): VoterNode {
  return { id, directoryId: directoryIdOf(id), endpoints: [{ name: 'CONTROLLER', host: `node-${id}`, port }], kraftVersion: { min: 0, max: 1 } };
}

const TRACE_MAX = Number(process.env.RAFT_SIM_TRACE ?? 40);
const HASH_SEED = 0x811c9dc5;

function mixHash(hash: number, record: Uint8Array): number {
  let h = hash ^ record.length;
  for (const byte of record) h = Math.imul(h ^ byte, 0x01000193);
  return h >>> 0;
}

/** The state machine after applying `entry` (control batches change only the offset). */
function applyEntry(sm: StateMachine, entry: LogEntry): StateMachine {
  let hash = sm.hash;
  if (entry.type === 'data') for (const record of entry.records) hash = mixHash(hash, record);
  return { offset: entry.lastOffset + 1, hash };
}

/**
 * A snapshot's content: offset, hash and the voter set in effect (dynamic membership), padded so that
 * downloads take a varying number of chunks.
 */
function encodeSnapshot(sm: StateMachine, padding: number, voters: VoterSet | null): Uint8Array {
  // Compact (small snapshot chunks make every byte a round trip): the simulation's voters are voterNodeOf(id, port).
  const json = new TextEncoder().encode(voters === null ? '' : voters.map((v) => (v.endpoints[0]?.port === 9093 ? `${v.id}` : `${v.id}:${v.endpoints[0]?.port ?? 0}`)).join(','));
  const bytes = new Uint8Array(16 + json.length + padding);
  const view = new DataView(bytes.buffer);
  view.setFloat64(0, sm.offset);
  view.setUint32(8, sm.hash);
  view.setUint32(12, json.length);
  bytes.set(json, 16);
  for (let i = 16 + json.length; i < bytes.length; i++) bytes[i] = i & 0xff;
  return bytes;
}

function decodeSnapshot(bytes: Uint8Array): StateMachine & { readonly voters: VoterSet | null } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(12);
  const voters =
    length === 0
      ? null
      : new TextDecoder()
          .decode(bytes.subarray(16, 16 + length))
          .split(',')
          .map((v) => {
            const [id, port] = v.split(':').map(Number);
            return voterNodeOf(id ?? 0, port);
          });
  return { offset: view.getFloat64(0), hash: view.getUint32(8), voters };
}

function diskEnd(disk: SimDisk): number {
  const last = disk.entries.at(-1);
  return last === undefined ? (disk.snapshot?.id.endOffset ?? 0) : last.lastOffset + 1;
}

export class Simulation {
  readonly #options: SimulationOptions;
  readonly #rng: SeededRandom;
  readonly #queue = new EventQueue();
  readonly #nodes: SimNode[] = [];
  readonly #voterIds: number[];
  readonly #trace: string[] = [];
  readonly #leaderOfEpoch = new Map<number, number>();
  /** The committed log: every batch any node committed (handed to its state machine), in every incarnation. */
  readonly #committed = new RaftLog();
  /** State machine hash after each committed batch, by its end offset. */
  readonly #hashAt = new Map<number, number>([[0, HASH_SEED]]);
  /**
   * For each committed batch (by base offset), the epoch of the first node seen committing it. That is at
   * least the epoch whose leader committed it, so "a leader of epoch E holds every entry committed in an
   * epoch <= E" is sound to check with it (a deposed leader of an older epoch legitimately lacks entries
   * committed after it was elected).
   */
  readonly #committedEpoch = new Map<number, number>();
  readonly #membership: Membership;
  /** Dynamic membership: the voter set of the bootstrap checkpoint. */
  readonly #bootstrapVoters: VoterSet | null;
  /** Voter sets in the committed log, by the offset of their VotersRecord. */
  readonly #committedVoters: { readonly offset: number; readonly voters: VoterSet }[] = [];
  #voterChangesRequested = 0;
  #voterChangesAccepted = 0;
  #voterChangesCommitted = 0;
  #maxVoters = 0;
  #removedLeaders = 0;
  #nowMs = 0;
  #events = 0;
  #crashes = 0;
  #truncations = 0;
  #snapshotsCreated = 0;
  #snapshotsInstalled = 0;
  #partition: number[] | null = null; // group id per node index, null = connected
  #lossProbability = 0;
  #healed = false;
  #nextValue = 0;
  /** Small fetch batches on some seeds, so a follower can hold an old-epoch entry without the next one. */
  readonly #fetchEntriesMax: number;
  /** Small snapshot chunks on some seeds, so downloads take many FetchSnapshot round trips. */
  readonly #snapshotChunkBytes: number;

  constructor(options: SimulationOptions) {
    this.#options = options;
    this.#rng = new SeededRandom(options.seed);
    this.#fetchEntriesMax = this.#rng.pick([2, 3, 64]);
    this.#snapshotChunkBytes = this.#rng.pick([7, 32, 1 << 20]);
    const voters = votersForSeed(options.seed);
    const observers = observersForSeed(options.seed);
    this.#voterIds = Array.from({ length: voters }, (_, i) => i + 1);
    this.#membership = membershipForSeed(options.seed);
    // `--standalone`: node 1 alone; `--initial-controllers`: nodes 1..n. The others start empty.
    this.#bootstrapVoters = this.#membership === 'static' ? null : (this.#membership === 'standalone' ? [1] : this.#voterIds).map((id) => voterNodeOf(id));
    this.#maxVoters = this.#bootstrapVoters?.length ?? voters;
    for (let id = 1; id <= voters + observers; id++) {
      const bootstrap = this.#bootstrapVoters !== null && this.#bootstrapVoters.some((v) => v.id === id);
      const checkpoint: SnapshotData | null = bootstrap ? { id: { endOffset: 0, epoch: 0 }, bytes: encodeSnapshot({ offset: 0, hash: HASH_SEED }, 0, this.#bootstrapVoters) } : null;
      const disk: SimDisk = { quorumState: null, pendingQuorumState: null, snapshot: checkpoint, entries: [], flushedEnd: 0 };
      const node: SimNode = {
        id,
        isVoter: id <= voters,
        disk,
        raft: null,
        incarnation: 0,
        flushScheduled: false,
        pendingAfterFlush: [],
        highWatermark: 0,
        verifiedOffset: 0,
        restartAtMs: 0,
        clock: { offsetMs: 0, rate: 1, random: new SeededRandom(0) },
        sm: { offset: 0, hash: HASH_SEED },
      };
      this.#nodes.push(node);
      this.#start(node);
    }
  }

  run(): SimulationResult {
    this.#queue.push(this.#rng.int(100, 500), { kind: 'chaos' });
    this.#queue.push(this.#rng.int(50, 200), { kind: 'propose' });
    this.#queue.push(this.#rng.int(500, 3000), { kind: 'snapshot' });
    if (this.#membership !== 'static') this.#queue.push(this.#rng.int(500, 1500), { kind: 'reconfigure' });
    this.#queue.push(this.#options.chaosMs, { kind: 'heal' });
    const healAtMs = this.#options.chaosMs;
    let healedInMs: number;
    for (;;) {
      const next = this.#queue.pop();
      if (next === undefined) this.#fail('event queue ran dry');
      this.#nowMs = next.atMs;
      this.#events++;
      try {
        this.#handle(next.event);
      } catch (error) {
        if (error instanceof SimulationFailure) throw error;
        this.#fail(`the core threw ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      }
      this.#checkInvariants(this.#events % 64 === 0);
      if (this.#healed) {
        const elapsedMs = this.#nowMs - healAtMs;
        if (this.#stableLeaderCommitted()) {
          healedInMs = elapsedMs;
          break;
        }
        if (elapsedMs > this.#options.healBoundMs) this.#fail(`no leader committed (and observers applied) within ${this.#options.healBoundMs} ms after healing`);
      }
    }
    this.#checkInvariants(true);
    return {
      seed: this.#options.seed,
      voters: this.#voterIds.length,
      observers: this.#nodes.length - this.#voterIds.length,
      events: this.#events,
      committed: this.#committed.endOffset,
      maxEpoch: Math.max(0, ...this.#leaderOfEpoch.keys()),
      crashes: this.#crashes,
      truncations: this.#truncations,
      snapshotsCreated: this.#snapshotsCreated,
      snapshotsInstalled: this.#snapshotsInstalled,
      healedInMs,
      membership: this.#membership,
      voterChangesRequested: this.#voterChangesRequested,
      voterChangesAccepted: this.#voterChangesAccepted,
      voterChangesCommitted: this.#voterChangesCommitted,
      maxVoters: this.#maxVoters,
      removedLeaders: this.#removedLeaders,
    };
  }

  // ---- events ----------------------------------------------------------------------------------------

  #handle(event: SimEvent): void {
    switch (event.kind) {
      case 'deliver': {
        const message = event.message;
        const node = this.#node(message.destinationId);
        if (node.raft === null || !this.#connected(message.sourceId, message.destinationId)) {
          this.#log(`drop ${describe(message)}`);
          this.#maybeReportFailure(message, event.alias);
          return;
        }
        this.#log(`deliver ${describe(message)}${event.alias === undefined ? '' : ` (bootstrap ${event.alias})`}`);
        const ready = node.raft.receive(message, this.#localNow(node));
        const alias = event.alias;
        if (alias === undefined) {
          this.#apply(node, ready);
          return;
        }
        // The sender asked a bootstrap server: the answer comes from that address (the driver reports
        // it under the id it sent to).
        const fromAlias = (m: RaftMessage): RaftMessage => (!isRequest(m) && m.destinationId === message.sourceId ? { ...m, sourceId: alias } : m);
        this.#apply(node, { ...ready, messages: ready.messages.map(fromAlias), messagesAfterPersist: ready.messagesAfterPersist.map(fromAlias) });
        return;
      }
      case 'reconfigure':
        if (!this.#healed) {
          this.#reconfigure();
          this.#queue.push(this.#nowMs + this.#rng.int(200, 1500), event);
        }
        return;
      case 'failed': {
        const node = this.#node(event.request.sourceId);
        if (node.raft === null || node.incarnation !== event.incarnation) return;
        this.#log(`failed ${describe(event.request)}`);
        this.#apply(node, node.raft.requestFailed(event.request, this.#localNow(node)));
        return;
      }
      case 'tick': {
        const node = this.#node(event.nodeId);
        if (node.raft === null || node.incarnation !== event.incarnation) return;
        this.#apply(node, node.raft.tick(this.#localNow(node)));
        // Jittered ticks from the node's own random stream (the fault schedule's stream is untouched).
        const interval = this.#options.tickIntervalMs ?? 100;
        this.#queue.push(this.#nowMs + node.clock.random.int(Math.ceil(interval * 0.5), Math.floor(interval * 1.5)), event);
        return;
      }
      case 'flush': {
        const node = this.#node(event.nodeId);
        if (node.raft === null || node.incarnation !== event.incarnation) return;
        node.flushScheduled = false;
        node.disk.flushedEnd = diskEnd(node.disk);
        if (node.disk.pendingQuorumState !== null) node.disk.quorumState = node.disk.pendingQuorumState;
        node.disk.pendingQuorumState = null;
        this.#log(`flush n${node.id} to ${node.disk.flushedEnd}`);
        const pending = node.pendingAfterFlush;
        node.pendingAfterFlush = [];
        this.#apply(node, node.raft.logFlushed(node.disk.flushedEnd, this.#localNow(node)));
        for (const message of pending) this.#transmit(message);
        return;
      }
      case 'heal':
        this.#heal();
        return;
      case 'chaos':
        if (!this.#healed) {
          this.#chaos();
          this.#queue.push(this.#nowMs + this.#rng.int(100, 800), event);
        }
        return;
      case 'propose': {
        const leader = this.#nodes.find((n) => n.raft?.role === 'leader');
        // The client keeps a bounded number of uncommitted records in flight (as a real one would): a
        // leader that cannot commit (e.g. a voter set change it cannot get acknowledged) does not pile up
        // a backlog that slow fetches must then drain.
        if (leader?.raft != null && leader.raft.logEndOffset - leader.raft.highWatermark < MAX_UNCOMMITTED) {
          // After healing the client slows down, so the liveness bound measures recovery, not backlog.
          const batches = this.#healed ? 1 : this.#rng.int(1, 2);
          for (let b = 0; b < batches; b++) {
            const count = this.#healed ? 1 : this.#rng.int(1, 3);
            const records = Array.from({ length: count }, () => new TextEncoder().encode(`v${this.#nextValue++}`));
            const result = leader.raft.propose(records, this.#localNow(leader));
            if (result.accepted) {
              this.#log(`propose ${count} at n${leader.id} offsets ${result.baseOffset}..${result.lastOffset}`);
              this.#apply(leader, result.ready);
            }
          }
        }
        this.#queue.push(this.#nowMs + (this.#healed ? this.#rng.int(300, 600) : this.#rng.int(50, 300)), event);
        return;
      }
      case 'snapshot': {
        // A state machine snapshots what it applied; the leader more often, so laggards need FetchSnapshot.
        const up = this.#nodes.filter((n) => n.raft !== null);
        const leader = up.find((n) => n.raft?.role === 'leader');
        const node = leader !== undefined && this.#rng.chance(0.6) ? leader : up.length > 0 ? this.#rng.pick(up) : undefined;
        if (node !== undefined) this.#takeSnapshot(node);
        this.#queue.push(this.#nowMs + this.#rng.int(300, 3000), event);
        return;
      }
    }
  }

  #takeSnapshot(node: SimNode): void {
    const raft = node.raft;
    if (raft === null || node.sm.offset <= raft.logStartOffset) return;
    const last = this.#committed.entryAt(node.sm.offset - 1);
    if (last === undefined) this.#fail(`n${node.id} applied up to ${node.sm.offset}, beyond the committed log`);
    const voters = raft.votersAt(node.sm.offset);
    const snapshot: SnapshotData = { id: { endOffset: node.sm.offset, epoch: last.epoch }, bytes: encodeSnapshot(node.sm, this.#rng.int(0, 120), voters.dynamic ? voters.voters : null) };
    // The driver makes the snapshot durable before telling the core.
    node.disk.snapshot = snapshot;
    this.#snapshotsCreated++;
    this.#log(`snapshot n${node.id} at ${snapshot.id.endOffset}/${snapshot.id.epoch}`);
    this.#apply(node, raft.snapshotCreated(snapshot, this.#localNow(node)));
  }

  /** Asks the leader to add, remove or update a voter (it refuses while another change is in flight). */
  #reconfigure(): void {
    const rng = this.#rng;
    const leader = this.#nodes.find((n) => n.raft?.role === 'leader');
    const raft = leader?.raft;
    if (leader === undefined || raft == null) return;
    const voters = raft.voterSet;
    const candidates = this.#nodes.filter((n) => n.raft !== null && !voters.some((v) => v.id === n.id));
    const timeoutMs = rng.int(300, 3000);
    const roll = rng.next();
    let op: string;
    let result: ReturnType<typeof raft.addVoter>;
    if (roll < 0.1) {
      const voter = rng.pick(voters);
      op = `update ${voter.id}`;
      result = raft.updateVoter(voterNodeOf(voter.id, rng.int(9000, 9999)), this.#localNow(leader));
    } else if (candidates.length > 0 && voters.length < MAX_SIM_VOTERS && (voters.length <= 2 || roll < 0.55)) {
      const target = rng.pick(candidates);
      op = `add ${target.id}`;
      result = raft.addVoter(voterNodeOf(target.id), timeoutMs, this.#localNow(leader));
    } else if (voters.length > 1) {
      const voter = rng.pick(voters);
      op = `remove ${voter.id}`;
      result = raft.removeVoter({ id: voter.id, directoryId: voter.directoryId }, timeoutMs, this.#localNow(leader));
    } else {
      return;
    }
    this.#voterChangesRequested++;
    if (result.accepted) this.#voterChangesAccepted++;
    this.#log(`n${leader.id} ${op}: ${result.accepted ? `accepted at ${result.offset}` : `refused ${result.errorCode} ${result.message}`}`);
    this.#apply(leader, result.ready);
  }

  #chaos(): void {
    const rng = this.#rng;
    const roll = rng.next();
    // Restart crashed nodes whose downtime is over.
    for (const node of this.#nodes) if (node.raft === null && this.#nowMs >= node.restartAtMs) this.#start(node);
    if (roll < 0.2) {
      const up = this.#nodes.filter((n) => n.raft !== null);
      if (up.length > 0) this.#crash(rng.pick(up), rng.int(200, 4000));
    } else if (roll < 0.35) {
      this.#partition = this.#nodes.map(() => rng.int(0, 1));
      this.#log(`partition ${this.#partition.join('')}`);
    } else if (roll < 0.45) {
      const isolated = rng.int(0, this.#nodes.length - 1);
      this.#partition = this.#nodes.map((_, i) => (i === isolated ? 1 : 0));
      this.#log(`isolate n${isolated + 1}`);
    } else if (roll < 0.65) {
      this.#partition = null;
      this.#log('partition healed');
    } else if (roll < 0.8) {
      this.#lossProbability = rng.pick([0, 0, 0.01, 0.05, 0.2]);
      this.#log(`loss ${this.#lossProbability}`);
    } else if (roll < 0.85) {
      const leader = this.#nodes.find((n) => n.raft?.role === 'leader');
      if (leader?.raft != null) {
        const others = voterIdsOf(leader.raft.voterSet).filter((id) => id !== leader.id);
        const successors = rng.chance(0.5) && others.length > 0 ? [rng.pick(others)] : [];
        this.#log(`resign n${leader.id} successors ${successors.join(',')}`);
        this.#apply(leader, leader.raft.resign(successors, this.#localNow(leader)));
      }
    }
    // else: a quiet period.
  }

  #heal(): void {
    this.#healed = true;
    this.#partition = null;
    this.#lossProbability = 0;
    this.#log('HEAL: all nodes up, network connected, no loss');
    for (const node of this.#nodes) if (node.raft === null) this.#start(node);
  }

  /**
   * Liveness: a leader has committed a data batch proposed after healing (its HW covers a batch of its own
   * epoch holding a post-heal value), and every observer has applied it too.
   */
  #stableLeaderCommitted(): boolean {
    for (const node of this.#nodes) {
      const raft = node.raft;
      if (raft?.role !== 'leader' || raft.highWatermark === 0 || !raft.isVoter) continue;
      const last = raft.entryAt(raft.highWatermark - 1);
      if (last === undefined || last.epoch !== raft.epoch || last.type !== 'data' || !this.#healedValue(last)) continue;
      // Every non-voter (observers, removed voters, nodes never added) has applied it too.
      const voters = voterIdsOf(raft.voterSet);
      return this.#nodes.every((n) => voters.includes(n.id) || n.sm.offset >= last.lastOffset + 1);
    }
    return false;
  }

  #healValueFrom = -1;
  #healedValue(entry: LogEntry): boolean {
    if (this.#healValueFrom < 0) this.#healValueFrom = this.#nextValue;
    if (entry.type !== 'data') return false;
    const record = entry.records.at(-1);
    return record !== undefined && Number(new TextDecoder().decode(record).slice(1)) >= this.#healValueFrom;
  }

  // ---- nodes -----------------------------------------------------------------------------------------

  #start(node: SimNode): void {
    node.incarnation++;
    const dynamic = this.#membership !== 'static';
    const config: RaftConfig = {
      ...DEFAULT_RAFT_TIMING,
      fetchEntriesMax: this.#fetchEntriesMax,
      snapshotChunkBytes: this.#snapshotChunkBytes,
      localId: node.id,
      localDirectoryId: directoryIdOf(node.id),
      // Dynamic membership: no controller.quorum.voters, only bootstrap servers.
      voterIds: dynamic ? [] : this.#voterIds,
      ...(dynamic ? { bootstrapIds: BOOTSTRAP_IDS } : {}),
      snapshotVoters: (bytes) => decodeSnapshot(bytes).voters,
    };
    const random = new SeededRandom(this.#options.seed * 1009 + node.id * 101 + node.incarnation);
    // A restart recovers only what was flushed, from the latest snapshot on (the driver's job).
    const disk = node.disk;
    disk.entries = disk.entries.filter((e) => e.lastOffset < disk.flushedEnd);
    disk.pendingQuorumState = null;
    // Each incarnation gets its own clock: an arbitrary offset and a rate within ±5% of real time.
    const clockRandom = new SeededRandom(this.#options.seed * 7919 + node.id * 131 + node.incarnation * 17 + 5);
    node.clock = { offsetMs: clockRandom.int(0, 1_000_000), rate: 0.95 + clockRandom.int(0, 100) / 1000, random: clockRandom };
    node.raft = new RaftNode(config, { quorumState: disk.quorumState, snapshot: disk.snapshot, entries: disk.entries.slice() }, () => random.next(), this.#localNow(node));
    node.flushScheduled = false;
    node.pendingAfterFlush = [];
    node.highWatermark = 0;
    node.verifiedOffset = 0;
    // The driver loads the latest snapshot into the state machine at start; the log after it is replayed
    // as the high watermark passes it again.
    node.sm = { offset: 0, hash: HASH_SEED };
    if (disk.snapshot !== null) this.#loadSnapshot(node, disk.snapshot);
    this.#log(`start n${node.id}#${node.incarnation} as ${node.raft.role} e${node.raft.epoch} log ${node.raft.logStartOffset}..${node.raft.logEndOffset}`);
    this.#queue.push(this.#nowMs + this.#rng.int(1, 100), { kind: 'tick', nodeId: node.id, incarnation: node.incarnation });
  }

  /** What `node`'s clock reads now: monotonic within an incarnation, never the same as another node's. */
  #localNow(node: SimNode): number {
    return Math.floor(node.clock.offsetMs + this.#nowMs * node.clock.rate);
  }

  #crash(node: SimNode, downMs: number): void {
    this.#crashes++;
    const disk = node.disk;
    const before = disk.entries.length;
    disk.entries = disk.entries.filter((e) => e.lastOffset < disk.flushedEnd);
    disk.pendingQuorumState = null;
    node.raft = null;
    node.pendingAfterFlush = [];
    node.restartAtMs = this.#nowMs + downMs;
    this.#log(`crash n${node.id} losing ${before - disk.entries.length} unflushed batches, down ${downMs} ms`);
  }

  /** The driver: persist quorum state, write log ops, send, hold after-persist messages for the flush. */
  #apply(node: SimNode, ready: Ready): void {
    const disk = node.disk;
    if (ready.quorumState !== null) disk.pendingQuorumState = ready.quorumState;
    for (const op of ready.logOps) {
      switch (op.kind) {
        case 'truncate':
          this.#truncations++;
          this.#log(`n${node.id} truncates to ${op.endOffset}`);
          disk.entries = disk.entries.filter((e) => e.lastOffset < op.endOffset);
          disk.flushedEnd = Math.min(disk.flushedEnd, op.endOffset);
          node.verifiedOffset = Math.min(node.verifiedOffset, op.endOffset);
          break;
        case 'append':
          disk.entries.push(...op.entries);
          break;
        case 'install-snapshot':
          // Snapshot file first (durable), then the log restarts empty at its end.
          this.#snapshotsInstalled++;
          this.#log(`n${node.id} installs snapshot ${op.snapshot.id.endOffset}/${op.snapshot.id.epoch}`);
          disk.snapshot = op.snapshot;
          disk.entries = [];
          disk.flushedEnd = op.snapshot.id.endOffset;
          node.verifiedOffset = op.snapshot.id.endOffset;
          break;
        case 'delete-prefix': {
          const start = op.snapshotId.endOffset;
          if (disk.snapshot?.id.endOffset !== start) this.#fail(`n${node.id} deletes its log below ${start} without a durable snapshot there`);
          disk.entries = disk.entries.filter((e) => e.baseOffset >= start);
          disk.flushedEnd = Math.max(disk.flushedEnd, start);
          node.verifiedOffset = Math.max(node.verifiedOffset, start);
          break;
        }
      }
    }
    for (const change of ready.roleChanges) {
      this.#log(`n${node.id} ${change.from} -> ${change.to} e${change.epoch} leader ${change.leaderId}`);
      if (change.from === 'leader' && change.to === 'resigned' && node.raft !== null && !node.raft.isVoter) this.#removedLeaders++;
    }
    for (const outcome of ready.voterChanges) {
      this.#log(`n${node.id} voter change ${outcome.changeId} ended: ${outcome.errorCode} ${outcome.message ?? ''}`);
      if (outcome.errorCode === 0) this.#voterChangesCommitted++;
    }
    if (ready.loadSnapshot !== null) this.#loadSnapshot(node, ready.loadSnapshot);
    for (const entry of ready.committed) this.#commit(node, entry);
    for (const message of ready.messages) this.#transmit(message);
    const unflushed = diskEnd(disk) > disk.flushedEnd || disk.pendingQuorumState !== null;
    if (unflushed || node.flushScheduled) node.pendingAfterFlush.push(...ready.messagesAfterPersist);
    else for (const message of ready.messagesAfterPersist) this.#transmit(message);
    if (unflushed && !node.flushScheduled) {
      node.flushScheduled = true;
      // Mostly fast disks, sometimes a slow sync: widens the windows in which a crash loses state.
      const flushMs = this.#rng.chance(0.2) ? this.#rng.int(50, 400) : this.#rng.int(1, 30);
      this.#queue.push(this.#nowMs + flushMs, { kind: 'flush', nodeId: node.id, incarnation: node.incarnation });
    }
  }

  /** State machine safety: a loaded snapshot is exactly the committed state at its offset. */
  #loadSnapshot(node: SimNode, snapshot: SnapshotData): void {
    // The bootstrap checkpoint (0-0) holds no state; the driver does not hand it to the state machine.
    if (snapshot.id.endOffset === 0) return;
    const { voters, ...sm } = decodeSnapshot(snapshot.bytes);
    const committedVoters = this.#committedVotersAt(sm.offset);
    if (!(voters === null ? committedVoters === null : committedVoters !== null && sameVoterSet(voters, committedVoters))) {
      this.#fail(`n${node.id} snapshot ${sm.offset} holds voters ${voters === null ? 'none' : voterIdsOf(voters).join(',')}, the committed voter set there is ${committedVoters === null ? 'static' : voterIdsOf(committedVoters).join(',')}`);
    }
    if (sm.offset !== snapshot.id.endOffset) this.#fail(`n${node.id} snapshot ${snapshot.id.endOffset} holds state at ${sm.offset}`);
    const expected = this.#hashAt.get(sm.offset);
    if (expected === undefined || expected !== sm.hash) this.#fail(`n${node.id} loaded snapshot ${sm.offset} whose state is not the committed state there`);
    const last = this.#committed.entryAt(sm.offset - 1);
    if (last?.epoch !== snapshot.id.epoch) this.#fail(`n${node.id} snapshot ${sm.offset} has epoch ${snapshot.id.epoch}, the committed batch there ${last?.epoch}`);
    this.#log(`n${node.id} loads snapshot ${sm.offset}`);
    node.sm = sm;
  }

  /** State machine safety: batches are applied in order, and every node applies the same batch at an offset. */
  #commit(node: SimNode, entry: LogEntry): void {
    if (entry.baseOffset !== node.sm.offset) this.#fail(`n${node.id} applies the batch at ${entry.baseOffset} after ${node.sm.offset}`);
    const committedEnd = this.#committed.endOffset;
    if (entry.baseOffset === committedEnd) {
      this.#committed.append(entry);
      const voters = voterSetOf(entry);
      if (voters !== undefined) {
        this.#committedVoters.push({ offset: entry.lastOffset, voters });
        this.#maxVoters = Math.max(this.#maxVoters, voters.length);
      }
      this.#committedEpoch.set(entry.baseOffset, node.raft?.epoch ?? entry.epoch);
      this.#hashAt.set(entry.lastOffset + 1, applyEntry(node.sm, entry).hash);
    } else if (entry.baseOffset > committedEnd) {
      this.#fail(`n${node.id} commits ${show(entry)} past the end of the committed log ${committedEnd}`);
    } else {
      const committed = this.#committed.entryAt(entry.baseOffset);
      if (committed === undefined || !sameEntry(committed, entry)) {
        this.#fail(`n${node.id} commits ${show(entry)} but ${committed === undefined ? 'nothing' : show(committed)} was committed there`);
      }
    }
    node.sm = applyEntry(node.sm, entry);
    if (this.#hashAt.get(node.sm.offset) !== node.sm.hash) this.#fail(`n${node.id} state at ${node.sm.offset} differs from the committed state`);
  }

  #transmit(original: RaftMessage): void {
    // A request to a bootstrap server goes to the node at that address.
    const alias = original.destinationId < 0 ? original.destinationId : undefined;
    const message = alias === undefined ? original : { ...original, destinationId: bootstrapNode(alias) };
    if (!this.#connected(message.sourceId, message.destinationId)) {
      this.#maybeReportFailure(message, alias);
      return;
    }
    if (this.#rng.chance(this.#lossProbability)) return;
    const rng = this.#rng;
    // Mostly short delays, sometimes long ones: reordering comes from the spread.
    const delayMs = rng.chance(0.05) ? rng.int(50, 1500) : rng.int(1, 20);
    const event: SimEvent = alias === undefined ? { kind: 'deliver', message } : { kind: 'deliver', message, alias };
    this.#queue.push(this.#nowMs + delayMs, event);
    if (rng.chance(0.01)) this.#queue.push(this.#nowMs + rng.int(1, 500), event); // duplicate
  }

  /** A request that cannot reach its destination is reported back half the time (connection refused, timeout). */
  #maybeReportFailure(message: RaftMessage, alias?: number): void {
    if (!isRequest(message) || !this.#rng.chance(0.5)) return;
    const sender = this.#node(message.sourceId);
    if (sender.raft === null) return;
    const request = alias === undefined ? message : { ...message, destinationId: alias };
    this.#queue.push(this.#nowMs + this.#rng.int(1, 300), { kind: 'failed', request, incarnation: sender.incarnation });
  }

  /** Dynamic membership: the committed voter set after every record below `endOffset`; null when static. */
  #committedVotersAt(endOffset: number): VoterSet | null {
    if (this.#bootstrapVoters === null) return null;
    let voters = this.#bootstrapVoters;
    for (const entry of this.#committedVoters) if (entry.offset < endOffset) voters = entry.voters;
    return voters;
  }

  #connected(a: number, b: number): boolean {
    const p = this.#partition;
    return p === null || p[a - 1] === p[b - 1];
  }

  #node(id: number): SimNode {
    const node = this.#nodes[id - 1];
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  // ---- invariants ------------------------------------------------------------------------------------

  #checkInvariants(full: boolean): void {
    for (const node of this.#nodes) {
      const raft = node.raft;
      if (raft === null) continue;
      if (this.#membership === 'static') {
        if (!node.isVoter && raft.role !== 'unattached' && raft.role !== 'follower') this.#fail(`observer n${node.id} is ${raft.role}`);
      } else if (!raft.isVoter) {
        // A non-voter campaigns only while its removal may not be committed; a leader removed from the
        // voter set resigns once that commits.
        if ((raft.role === 'prospective' || raft.role === 'candidate') && !raft.mayCampaign) this.#fail(`non-voter n${node.id} is ${raft.role}`);
        if (raft.role === 'leader' && raft.voterSetOffset < raft.highWatermark) this.#fail(`n${node.id} still leads after its removal committed`);
      }
      // At most one leader per epoch, across all incarnations.
      if (raft.role === 'leader') {
        const known = this.#leaderOfEpoch.get(raft.epoch);
        if (known === undefined) {
          this.#leaderOfEpoch.set(raft.epoch, node.id);
          // Leader completeness: a new leader holds every committed entry.
          this.#checkLeaderCompleteness(node, raft.epoch, 'new leader is missing committed entries');
        } else if (known !== node.id) this.#fail(`two leaders in epoch ${raft.epoch}: n${known} and n${node.id}`);
      }
      // The HW never goes back within an incarnation and never passes the log end.
      const hw = raft.highWatermark;
      if (hw < node.highWatermark) this.#fail(`n${node.id} high watermark went back ${node.highWatermark} -> ${hw}`);
      if (hw > raft.logEndOffset) this.#fail(`n${node.id} high watermark ${hw} beyond log end ${raft.logEndOffset}`);
      if (node.sm.offset !== hw) this.#fail(`n${node.id} applied up to ${node.sm.offset}, its high watermark is ${hw}`);
      node.highWatermark = hw;
      // Committed entries are never lost or changed: the batches below each HW equal the committed log.
      if (full || node.verifiedOffset < raft.logStartOffset) node.verifiedOffset = raft.logStartOffset;
      let offset = node.verifiedOffset;
      while (offset < hw) {
        const entry = raft.entryAt(offset);
        if (entry === undefined) this.#fail(`n${node.id} has no batch at ${offset} below its HW ${hw}`);
        const committed = this.#committed.entryAt(offset);
        if (committed === undefined || !sameEntry(committed, entry)) {
          this.#fail(`n${node.id} holds ${show(entry)} but ${committed === undefined ? 'nothing' : show(committed)} was committed`);
        }
        offset = entry.lastOffset + 1;
      }
      node.verifiedOffset = Math.max(node.verifiedOffset, hw);
    }
    if (full) {
      // A leader of the highest epoch any live node has seen holds every committed entry (a deposed
      // leader of an older epoch need not).
      const maxEpoch = Math.max(...this.#nodes.map((n) => n.raft?.epoch ?? 0));
      for (const node of this.#nodes) {
        if (node.raft?.role === 'leader' && node.raft.epoch === maxEpoch) {
          this.#checkLeaderCompleteness(node, node.raft.epoch, 'current leader is missing committed entries');
        }
      }
      // Durability: the committed prefix is on the flushed disks (snapshot + log) of enough voters that every
      // majority of the voter set intersects them, so it survives any crash and every electable leader has
      // it: for the committed voter set, and for the voter set of the current leader (it may hold one
      // uncommitted change).
      const committedEnd = this.#committed.endOffset;
      const sets: { readonly what: string; readonly ids: readonly number[] }[] = [];
      const committedVoters = this.#committedVotersAt(committedEnd);
      sets.push({ what: 'committed voter set', ids: committedVoters === null ? this.#voterIds : voterIdsOf(committedVoters) });
      for (const node of this.#nodes) {
        if (node.raft?.role === 'leader' && node.raft.epoch === maxEpoch) sets.push({ what: `leader n${node.id}'s voter set`, ids: voterIdsOf(node.raft.voterSet) });
      }
      for (const { what, ids } of sets) {
        let durable = 0;
        for (const node of this.#nodes) if (ids.includes(node.id) && this.#durablyHolds(node.disk, committedEnd)) durable++;
        const majority = Math.floor(ids.length / 2) + 1;
        if (durable + majority <= ids.length) this.#fail(`committed prefix of ${committedEnd} offsets is durable on only ${durable} of the ${ids.length} voters of the ${what} (${ids.join(',')})`);
      }
    }
  }

  #durablyHolds(disk: SimDisk, end: number): boolean {
    let offset = disk.snapshot?.id.endOffset ?? 0;
    if (offset > end || disk.flushedEnd < end) return false;
    for (const entry of disk.entries) {
      if (offset >= end) break;
      const committed = this.#committed.entryAt(entry.baseOffset);
      if (entry.baseOffset !== offset || committed === undefined || !sameEntry(entry, committed)) return false;
      offset = entry.lastOffset + 1;
    }
    return offset >= end;
  }

  #checkLeaderCompleteness(node: SimNode, epoch: number, what: string): void {
    const raft = node.raft;
    if (raft === null) return;
    const snapshotEnd = raft.logStartOffset;
    // Everything below the log start is in the leader's snapshot (checked when it was made or loaded).
    if (snapshotEnd > 0 && this.#hashAt.get(snapshotEnd) === undefined) this.#fail(`${what}: n${node.id} log starts at ${snapshotEnd}, not a committed batch end`);
    for (const committed of this.#committed.entries()) {
      if (committed.lastOffset < snapshotEnd) continue;
      if ((this.#committedEpoch.get(committed.baseOffset) ?? 0) > epoch) continue;
      const entry = raft.entryAt(committed.baseOffset);
      if (entry === undefined || !sameEntry(entry, committed)) {
        this.#fail(`${what}: n${node.id} offset ${committed.baseOffset} has ${entry === undefined ? 'nothing' : show(entry)}`);
      }
    }
  }

  #log(line: string): void {
    this.#trace.push(`${this.#nowMs}ms ${line}`);
    if (this.#trace.length > TRACE_MAX) this.#trace.shift();
  }

  #fail(message: string): never {
    const seed = this.#options.seed;
    throw new SimulationFailure(
      `seed ${seed} (${this.#voterIds.length} voters, ${this.#nodes.length - this.#voterIds.length} observers) failed after ${this.#events} events at ${this.#nowMs} ms: ${message}\n` +
        `replay: RAFT_SIM_SEED=${seed} npx vitest run test/unit/raft/simulation.test.ts\n` +
        `last events:\n  ${this.#trace.join('\n  ')}`,
    );
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function sameEntry(a: LogEntry, b: LogEntry): boolean {
  if (a === b) return true;
  if (a.baseOffset !== b.baseOffset || a.lastOffset !== b.lastOffset || a.epoch !== b.epoch || a.appendTimestamp !== b.appendTimestamp) return false;
  if (a.type === 'data' && b.type === 'data') return a.records.length === b.records.length && a.records.every((r, i) => { const other = b.records[i]; return other !== undefined && sameBytes(r, other); });
  const sameSet = (x: VoterSet | undefined, y: VoterSet | undefined): boolean => (x === undefined ? y === undefined : y !== undefined && sameVoterSet(x, y));
  if (a.type === 'leader-change' && b.type === 'leader-change') return a.leaderId === b.leaderId && a.grantingVoters.join() === b.grantingVoters.join() && a.voters.join() === b.voters.join() && sameSet(a.voterSet, b.voterSet);
  if (a.type === 'voters' && b.type === 'voters') return sameSet(a.voterSet, b.voterSet);
  return false;
}

function show(entry: LogEntry): string {
  const what =
    entry.type === 'data' ? entry.records.map((r) => new TextDecoder().decode(r)).join(',') : entry.type === 'voters' ? `voters ${voterIdsOf(entry.voterSet).join(',')}` : `leader ${entry.leaderId}${entry.voterSet === undefined ? '' : ` voters ${voterIdsOf(entry.voterSet).join(',')}`}`;
  return `{${entry.baseOffset}..${entry.lastOffset}, epoch ${entry.epoch}, ${entry.type} ${what}}`;
}

function describe(message: RaftMessage): string {
  const base = `${message.kind} n${message.sourceId}->n${message.destinationId}`;
  switch (message.kind) {
    case 'VoteRequest':
      return `${base} e${message.candidateEpoch}${message.preVote ? ' pre' : ''} last ${message.lastOffsetEpoch}/${message.lastOffset}`;
    case 'VoteResponse':
      return `${base} e${message.leaderEpoch}${message.preVote ? ' pre' : ''} granted ${message.voteGranted}`;
    case 'FetchRequest':
      return `${base} e${message.currentLeaderEpoch} offset ${message.fetchOffset} lastEpoch ${message.lastFetchedEpoch}`;
    case 'FetchResponse': {
      const extra = message.divergingEpoch !== null ? ` diverging ${message.divergingEpoch.epoch}/${message.divergingEpoch.endOffset}` : message.snapshotId !== null ? ` snapshot ${message.snapshotId.endOffset}/${message.snapshotId.epoch}` : '';
      return `${base} e${message.leaderEpoch} err ${message.errorCode} hw ${message.highWatermark} batches ${message.records.length}${extra}`;
    }
    case 'FetchSnapshotRequest':
      return `${base} e${message.currentLeaderEpoch} snapshot ${message.snapshotId.endOffset}/${message.snapshotId.epoch} at ${message.position}`;
    case 'FetchSnapshotResponse':
      return `${base} e${message.leaderEpoch} err ${message.errorCode} snapshot ${message.snapshotId.endOffset} at ${message.position} +${message.bytes.length}/${message.size}`;
    default:
      return `${base} e${message.leaderEpoch}`;
  }
}

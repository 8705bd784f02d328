// Seeded, deterministic simulation of a KRaft quorum (after Kafka's RaftEventSimulationTest and
// TigerBeetle's VOPR): simulated clock, network (loss, delay, reordering, duplication, partitions) and
// disks (quorum-state writes and log appends become durable only at a simulated flush; a crash loses
// whatever was not flushed).
// The same seed always produces the same run. Invariants are checked after every event.

import {
  DEFAULT_RAFT_TIMING,
  RaftNode,
  type QuorumStateRecord,
  type RaftConfig,
  type Ready,
} from '../../../broker/src/raft/core/raft-node.ts';
import type { RaftMessage } from '../../../broker/src/raft/core/messages.ts';
import type { LogEntry } from '../../../broker/src/raft/core/raft-log.ts';

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
  | { readonly kind: 'deliver'; readonly message: RaftMessage }
  | { readonly kind: 'tick'; readonly nodeId: number; readonly incarnation: number }
  | { readonly kind: 'flush'; readonly nodeId: number; readonly incarnation: number }
  | { readonly kind: 'chaos' }
  | { readonly kind: 'heal' }
  | { readonly kind: 'propose' };

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
  entries: LogEntry[];
  flushedLength: number;
}

interface SimNode {
  readonly id: number;
  readonly disk: SimDisk;
  raft: RaftNode | null; // null while crashed
  incarnation: number;
  flushScheduled: boolean;
  /** messagesAfterPersist waiting for the next flush. */
  pendingAfterFlush: RaftMessage[];
  /** Highest HW seen in this incarnation (the HW must never go back). */
  highWatermark: number;
  /** Prefix of the in-memory log already compared with the committed log. */
  verifiedLength: number;
  restartAtMs: number;
}

export interface SimulationOptions {
  readonly seed: number;
  /** Simulated duration of the fault phase. */
  readonly chaosMs: number;
  /** After faults heal, a leader must commit a new entry within this bound. */
  readonly healBoundMs: number;
  /** How often each node is ticked (default 100 ms). */
  readonly tickIntervalMs?: number;
}

export interface SimulationResult {
  readonly seed: number;
  readonly voters: number;
  readonly events: number;
  readonly committed: number;
  readonly maxEpoch: number;
  readonly crashes: number;
  /** Follower truncations after a DivergingEpoch: proof that divergence was exercised. */
  readonly truncations: number;
  readonly healedInMs: number;
}

export class SimulationFailure extends Error {
  override readonly name = 'SimulationFailure';
}

/** The voter count is a function of the seed, so RAFT_SIM_SEED alone replays a run exactly. */
export function votersForSeed(seed: number): number {
  return seed % 2 === 1 ? 3 : 5;
}

const TRACE_MAX = Number(process.env.RAFT_SIM_TRACE ?? 40);

export class Simulation {
  readonly #options: SimulationOptions;
  readonly #rng: SeededRandom;
  readonly #queue = new EventQueue();
  readonly #nodes: SimNode[] = [];
  readonly #voterIds: number[];
  readonly #trace: string[] = [];
  readonly #leaderOfEpoch = new Map<number, number>();
  /** The committed log: every entry below any node's HW, in every incarnation. */
  readonly #committed: LogEntry[] = [];
  /**
   * For each committed offset, the epoch of the first node seen with its HW past it. That is at least
   * the epoch whose leader committed it, so "a leader of epoch E holds every entry committed in an
   * epoch <= E" is sound to check with it (a deposed leader of an older epoch legitimately lacks
   * entries committed after it was elected).
   */
  readonly #committedEpoch: number[] = [];
  #nowMs = 0;
  #events = 0;
  #crashes = 0;
  #truncations = 0;
  #partition: number[] | null = null; // group id per node index, null = connected
  #lossProbability = 0;
  #healed = false;
  #nextValue = 0;
  /** Small fetch batches on some seeds, so a follower can hold an old-epoch entry without the next one. */
  readonly #fetchEntriesMax: number;

  constructor(options: SimulationOptions) {
    this.#options = options;
    this.#rng = new SeededRandom(options.seed);
    this.#fetchEntriesMax = this.#rng.pick([2, 3, 64]);
    const voters = votersForSeed(options.seed);
    this.#voterIds = Array.from({ length: voters }, (_, i) => i + 1);
    for (const id of this.#voterIds) {
      const disk: SimDisk = { quorumState: null, pendingQuorumState: null, entries: [], flushedLength: 0 };
      const node: SimNode = {
        id,
        disk,
        raft: null,
        incarnation: 0,
        flushScheduled: false,
        pendingAfterFlush: [],
        highWatermark: 0,
        verifiedLength: 0,
        restartAtMs: 0,
      };
      this.#nodes.push(node);
      this.#start(node);
    }
  }

  run(): SimulationResult {
    this.#queue.push(this.#rng.int(100, 500), { kind: 'chaos' });
    this.#queue.push(this.#rng.int(50, 200), { kind: 'propose' });
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
        if (elapsedMs > this.#options.healBoundMs) this.#fail(`no leader committed within ${this.#options.healBoundMs} ms after healing`);
      }
    }
    this.#checkInvariants(true);
    return {
      seed: this.#options.seed,
      voters: this.#voterIds.length,
      events: this.#events,
      committed: this.#committed.length,
      maxEpoch: Math.max(0, ...this.#leaderOfEpoch.keys()),
      crashes: this.#crashes,
      truncations: this.#truncations,
      healedInMs,
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
          return;
        }
        this.#log(`deliver ${describe(message)}`);
        this.#apply(node, node.raft.receive(message, this.#nowMs));
        return;
      }
      case 'tick': {
        const node = this.#node(event.nodeId);
        if (node.raft === null || node.incarnation !== event.incarnation) return;
        this.#apply(node, node.raft.tick(this.#nowMs));
        this.#queue.push(this.#nowMs + (this.#options.tickIntervalMs ?? 100), event);
        return;
      }
      case 'flush': {
        const node = this.#node(event.nodeId);
        if (node.raft === null || node.incarnation !== event.incarnation) return;
        node.flushScheduled = false;
        node.disk.flushedLength = node.disk.entries.length;
        if (node.disk.pendingQuorumState !== null) node.disk.quorumState = node.disk.pendingQuorumState;
        node.disk.pendingQuorumState = null;
        this.#log(`flush n${node.id} to ${node.disk.flushedLength}`);
        const pending = node.pendingAfterFlush;
        node.pendingAfterFlush = [];
        this.#apply(node, node.raft.logFlushed(node.disk.flushedLength, this.#nowMs));
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
        if (leader?.raft != null) {
          // After healing the client slows down, so the liveness bound measures recovery, not backlog.
          const count = this.#healed ? 1 : this.#rng.int(1, 3);
          const values = Array.from({ length: count }, () => new TextEncoder().encode(`v${this.#nextValue++}`));
          const result = leader.raft.propose(values, this.#nowMs);
          if (result.accepted) {
            this.#log(`propose ${count} at n${leader.id} offset ${result.firstOffset}`);
            this.#apply(leader, result.ready);
          }
        }
        this.#queue.push(this.#nowMs + (this.#healed ? this.#rng.int(300, 600) : this.#rng.int(50, 300)), event);
        return;
      }
    }
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
        const successors = rng.chance(0.5) ? [rng.pick(this.#voterIds.filter((id) => id !== leader.id))] : [];
        this.#log(`resign n${leader.id} successors ${successors.join(',')}`);
        this.#apply(leader, leader.raft.resign(successors, this.#nowMs));
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

  #stableLeaderCommitted(): boolean {
    // Liveness: a leader has committed an entry proposed after healing (its HW covers a data entry of its
    // own epoch at or past the heal point).
    for (const node of this.#nodes) {
      const raft = node.raft;
      if (raft?.role !== 'leader') continue;
      const last = raft.log[raft.highWatermark - 1];
      if (last !== undefined && last.epoch === raft.epoch && last.type === 'data' && this.#healedValue(last)) return true;
    }
    return false;
  }

  #healValueFrom = -1;
  #healedValue(entry: LogEntry): boolean {
    if (this.#healValueFrom < 0) this.#healValueFrom = this.#nextValue;
    const text = new TextDecoder().decode(entry.value);
    return Number(text.slice(1)) >= this.#healValueFrom;
  }

  // ---- nodes -----------------------------------------------------------------------------------------

  #start(node: SimNode): void {
    node.incarnation++;
    const config: RaftConfig = { ...DEFAULT_RAFT_TIMING, fetchEntriesMax: this.#fetchEntriesMax, localId: node.id, voterIds: this.#voterIds };
    const random = new SeededRandom(this.#options.seed * 1009 + node.id * 101 + node.incarnation);
    // A restart recovers only what was flushed.
    node.disk.entries.length = node.disk.flushedLength;
    node.raft = new RaftNode(config, { quorumState: node.disk.quorumState, entries: node.disk.entries.slice() }, () => random.next(), this.#nowMs);
    node.flushScheduled = false;
    node.pendingAfterFlush = [];
    node.highWatermark = 0;
    node.verifiedLength = 0;
    this.#log(`start n${node.id}#${node.incarnation} as ${node.raft.role} e${node.raft.epoch} log ${node.raft.logEndOffset}`);
    this.#queue.push(this.#nowMs + this.#rng.int(1, 100), { kind: 'tick', nodeId: node.id, incarnation: node.incarnation });
  }

  #crash(node: SimNode, downMs: number): void {
    this.#crashes++;
    const lost = node.disk.entries.length - node.disk.flushedLength;
    node.disk.entries.length = node.disk.flushedLength;
    node.disk.pendingQuorumState = null;
    node.raft = null;
    node.pendingAfterFlush = [];
    node.restartAtMs = this.#nowMs + downMs;
    this.#log(`crash n${node.id} losing ${lost} unflushed entries, down ${downMs} ms`);
  }

  /** The driver: persist quorum state, write log ops, send, hold after-persist messages for the flush. */
  #apply(node: SimNode, ready: Ready): void {
    const disk = node.disk;
    if (ready.quorumState !== null) disk.pendingQuorumState = ready.quorumState;
    for (const op of ready.logOps) {
      if (op.kind === 'truncate') {
        this.#truncations++;
        this.#log(`n${node.id} truncates to ${op.endOffset}`);
        disk.entries.length = op.endOffset;
        disk.flushedLength = Math.min(disk.flushedLength, op.endOffset);
        node.verifiedLength = Math.min(node.verifiedLength, op.endOffset);
      } else {
        disk.entries.push(...op.entries);
      }
    }
    for (const change of ready.roleChanges) this.#log(`n${node.id} ${change.from} -> ${change.to} e${change.epoch} leader ${change.leaderId}`);
    for (const message of ready.messages) this.#transmit(message);
    const unflushed = disk.entries.length > disk.flushedLength || disk.pendingQuorumState !== null;
    if (unflushed || node.flushScheduled) node.pendingAfterFlush.push(...ready.messagesAfterPersist);
    else for (const message of ready.messagesAfterPersist) this.#transmit(message);
    if (unflushed && !node.flushScheduled) {
      node.flushScheduled = true;
      // Mostly fast disks, sometimes a slow sync: widens the windows in which a crash loses state.
      const flushMs = this.#rng.chance(0.2) ? this.#rng.int(50, 400) : this.#rng.int(1, 30);
      this.#queue.push(this.#nowMs + flushMs, { kind: 'flush', nodeId: node.id, incarnation: node.incarnation });
    }
  }

  #transmit(message: RaftMessage): void {
    if (!this.#connected(message.sourceId, message.destinationId) || this.#rng.chance(this.#lossProbability)) return;
    const rng = this.#rng;
    // Mostly short delays, sometimes long ones: reordering comes from the spread.
    const delayMs = rng.chance(0.05) ? rng.int(50, 1500) : rng.int(1, 20);
    this.#queue.push(this.#nowMs + delayMs, { kind: 'deliver', message });
    if (rng.chance(0.01)) this.#queue.push(this.#nowMs + rng.int(1, 500), { kind: 'deliver', message }); // duplicate
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
      node.highWatermark = hw;
      // Committed entries are never lost or changed: the prefix below each HW equals the committed log.
      const log = raft.log;
      if (full || log.length < node.verifiedLength) node.verifiedLength = 0;
      for (let offset = node.verifiedLength; offset < hw; offset++) {
        const entry = log[offset];
        if (entry === undefined) this.#fail(`n${node.id} has no entry at ${offset} below its HW ${hw}`);
        const committed = this.#committed[offset];
        if (committed === undefined) {
          this.#committed.push(entry);
          this.#committedEpoch.push(raft.epoch);
        }
        else if (!sameEntry(committed, entry)) {
          this.#fail(`n${node.id} offset ${offset} is ${show(entry)} but ${show(committed)} was committed`);
        }
      }
      node.verifiedLength = Math.max(node.verifiedLength, hw);
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
      // Durability: the committed prefix is on the flushed disks of a majority, so it survives any crash.
      let durable = 0;
      for (const node of this.#nodes) {
        const disk = node.disk;
        if (disk.flushedLength < this.#committed.length) continue;
        if (this.#committed.every((entry, i) => disk.entries[i] !== undefined && sameEntry(entry, disk.entries[i]))) durable++;
      }
      if (durable * 2 <= this.#nodes.length) this.#fail(`committed prefix of ${this.#committed.length} is durable on only ${durable} nodes`);
    }
  }

  #checkLeaderCompleteness(node: SimNode, epoch: number, what: string): void {
    const log = node.raft?.log ?? [];
    for (let offset = 0; offset < this.#committed.length; offset++) {
      if ((this.#committedEpoch[offset] ?? 0) > epoch) continue;
      const entry = log[offset];
      const committed = this.#committed[offset];
      if (entry === undefined || committed === undefined || !sameEntry(entry, committed)) {
        this.#fail(`${what}: n${node.id} offset ${offset} has ${entry === undefined ? 'nothing' : show(entry)}`);
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
      `seed ${seed} (${this.#voterIds.length} voters) failed after ${this.#events} events at ${this.#nowMs} ms: ${message}\n` +
        `replay: RAFT_SIM_SEED=${seed} npx vitest run test/unit/raft/simulation.test.ts\n` +
        `last events:\n  ${this.#trace.join('\n  ')}`,
    );
  }
}

function sameEntry(a: LogEntry, b: LogEntry): boolean {
  if (a === b) return true;
  if (a.offset !== b.offset || a.epoch !== b.epoch || a.type !== b.type || a.value.length !== b.value.length) return false;
  return a.value.every((byte, i) => byte === b.value[i]);
}

function show(entry: LogEntry): string {
  return `{offset ${entry.offset}, epoch ${entry.epoch}, ${entry.type} ${new TextDecoder().decode(entry.value)}}`;
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
    case 'FetchResponse':
      return `${base} e${message.leaderEpoch} err ${message.errorCode} hw ${message.highWatermark} records ${message.records.length}${message.divergingEpoch === null ? '' : ` diverging ${message.divergingEpoch.epoch}/${message.divergingEpoch.endOffset}`}`;
    default:
      return `${base} e${message.leaderEpoch}`;
  }
}

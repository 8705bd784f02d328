// Small synchronous drivers for unit tests of the raft core.
import { DEFAULT_RAFT_TIMING, RaftNode, type PersistedRaftState, type RaftConfig, type Ready } from '../../../broker/src/raft/core/raft-node.ts';
import type { RaftMessage } from '../../../broker/src/raft/core/messages.ts';
import type { LogEntry } from '../../../broker/src/raft/core/raft-log.ts';

export const VOTERS = [1, 2, 3] as const;

export function config(localId: number, voterIds: readonly number[] = VOTERS): RaftConfig {
  return { ...DEFAULT_RAFT_TIMING, localId, voterIds };
}

/** random() = 0: every election timeout is exactly electionTimeoutMs. */
export function node(localId: number, persisted: PersistedRaftState = { quorumState: null, entries: [] }, nowMs = 0, voterIds: readonly number[] = VOTERS): RaftNode {
  return new RaftNode(config(localId, voterIds), persisted, () => 0, nowMs);
}

/** One single-record data batch per epoch given: batch i holds offset i. */
export function entries(epochs: readonly number[]): LogEntry[] {
  return batches(epochs.map((epoch) => [epoch, 1] as const));
}

/** Data batches of [epoch, record count] from `baseOffset`. */
export function batches(spec: readonly (readonly [number, number])[], baseOffset = 0): LogEntry[] {
  const out: LogEntry[] = [];
  let offset = baseOffset;
  for (const [epoch, count] of spec) {
    const records = Array.from({ length: count }, (_, i) => new Uint8Array([(offset + i) & 0xff]));
    out.push({ type: 'data', baseOffset: offset, lastOffset: offset + count - 1, epoch, appendTimestamp: 0, records });
    offset += count;
  }
  return out;
}

export function allMessages(ready: Ready): RaftMessage[] {
  return [...ready.messages, ...ready.messagesAfterPersist];
}

export function only<K extends RaftMessage['kind']>(messages: readonly RaftMessage[], kind: K): Extract<RaftMessage, { kind: K }>[] {
  return messages.filter((m): m is Extract<RaftMessage, { kind: K }> => m.kind === kind);
}

/**
 * A lossless cluster that delivers every message at once and flushes every log op immediately:
 * enough to exercise the happy paths deterministically.
 */
export class TinyCluster {
  readonly nodes = new Map<number, RaftNode>();
  nowMs = 0;
  readonly down = new Set<number>();

  constructor(voterIds: readonly number[] = VOTERS, persisted?: (id: number) => PersistedRaftState, observerIds: readonly number[] = []) {
    for (const id of [...voterIds, ...observerIds]) this.nodes.set(id, node(id, persisted?.(id) ?? { quorumState: null, entries: [] }, 0, voterIds));
  }

  get(id: number): RaftNode {
    const raft = this.nodes.get(id);
    if (raft === undefined) throw new Error(`no node ${id}`);
    return raft;
  }

  /** Apply a Ready: flush at once, then deliver everything (recursively, breadth first). */
  pump(from: number, ready: Ready, nowMs = this.nowMs): void {
    this.nowMs = nowMs;
    const queue: RaftMessage[] = [];
    const settle = (id: number, r: Ready): void => {
      queue.push(...r.messages);
      let flushed = r;
      const raft = this.get(id);
      if (r.logOps.length > 0) {
        flushed = raft.logFlushed(raft.logEndOffset, this.nowMs);
        queue.push(...flushed.messages);
      }
      queue.push(...r.messagesAfterPersist, ...(flushed === r ? [] : flushed.messagesAfterPersist));
    };
    settle(from, ready);
    for (let steps = 0; queue.length > 0; steps++) {
      if (steps > 10_000) throw new Error('message storm');
      const message = queue.shift();
      if (message === undefined || this.down.has(message.destinationId) || this.down.has(message.sourceId)) continue;
      settle(message.destinationId, this.get(message.destinationId).receive(message, this.nowMs));
    }
  }

  tickAll(nowMs: number): void {
    this.nowMs = nowMs;
    for (const [id, raft] of this.nodes) if (!this.down.has(id)) this.pump(id, raft.tick(nowMs));
  }

  /** Propose on the leader, then let every node fetch once (followers then hold it, the leader commits it). */
  propose(values: readonly number[], nowMs = this.nowMs): void {
    const leader = this.leader();
    if (leader === undefined) throw new Error('no leader');
    const result = leader.propose(values.map((v) => new Uint8Array([v])), nowMs);
    if (!result.accepted) throw new Error('not accepted');
    const id = [...this.nodes].find(([, n]) => n === leader)?.[0] ?? -1;
    this.pump(id, result.ready, nowMs);
    this.tickAll(nowMs);
  }

  leader(): RaftNode | undefined {
    return [...this.nodes.values()].find((n) => n.role === 'leader');
  }
}

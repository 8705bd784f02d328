// Dynamic voters (KIP-853) in the pure core: the voter set from the bootstrap checkpoint, the log and
// snapshots; AddVoter / RemoveVoter / UpdateVoter on the leader with Kafka's preconditions and errors; the
// new set in effect as soon as it is appended (high watermark, elections); a removed leader resigning;
// truncation reverting a voter set; static voters refusing changes.
import { describe, expect, it } from 'vitest';
import { RaftInvariantError } from '../../../broker/src/raft/core/assert.ts';
import { RaftErrorCode, type FetchResponse, type RaftMessage } from '../../../broker/src/raft/core/messages.ts';
import { DEFAULT_RAFT_TIMING, RaftNode, type PersistedRaftState, type RaftConfig, type Ready, type SnapshotData } from '../../../broker/src/raft/core/raft-node.ts';
import type { LogEntry } from '../../../broker/src/raft/core/raft-log.ts';
import { NO_DIRECTORY_ID, VoterHistory, voterIdsOf, type VoterNode, type VoterSet } from '../../../broker/src/raft/core/voter-set.ts';
import { TinyCluster, allMessages, only } from './helpers.ts';

const dir = (id: number): string => `directory-of-${id}`;
const voter = (id: number, port = 9093): VoterNode => ({ id, directoryId: dir(id), endpoints: [{ name: 'CONTROLLER', host: `h${id}`, port }], kraftVersion: { min: 0, max: 1 } });
const votersOf = (...ids: number[]): VoterSet => ids.map((id) => voter(id));

/** Snapshot bytes in these tests: JSON of { voters }. */
const snapshotBytes = (voters: VoterSet | null): Uint8Array => new TextEncoder().encode(JSON.stringify({ voters }));
const readVoters = (bytes: Uint8Array): VoterSet | null => (JSON.parse(new TextDecoder().decode(bytes)) as { voters: VoterSet | null }).voters;
const bootstrap = (voters: VoterSet): PersistedRaftState => ({ quorumState: null, snapshot: { id: { endOffset: 0, epoch: 0 }, bytes: snapshotBytes(voters) }, entries: [] });
const EMPTY: PersistedRaftState = { quorumState: null, entries: [] };

function config(id: number): RaftConfig {
  // Bootstrap server -2 is node 1.
  return { ...DEFAULT_RAFT_TIMING, localId: id, localDirectoryId: dir(id), voterIds: [], bootstrapIds: [-2], snapshotVoters: readVoters };
}

/** A lossless cluster of dynamic-voter nodes that flushes at once and delivers breadth first (after TinyCluster). */
class Cluster {
  readonly nodes = new Map<number, RaftNode>();
  readonly down = new Set<number>();
  readonly outcomes: { id: number; changeId: number; errorCode: number }[] = [];
  nowMs = 0;

  add(id: number, persisted: PersistedRaftState = EMPTY): RaftNode {
    const raft = new RaftNode(config(id), persisted, () => 0, this.nowMs);
    this.nodes.set(id, raft);
    return raft;
  }

  get(id: number): RaftNode {
    const raft = this.nodes.get(id);
    if (raft === undefined) throw new Error(`no node ${id}`);
    return raft;
  }

  leader(): RaftNode | undefined {
    return [...this.nodes.values()].find((n) => n.role === 'leader');
  }

  pump(from: number, ready: Ready): void {
    const queue: { message: RaftMessage; alias?: number }[] = [];
    const settle = (id: number, r: Ready, alias?: number): void => {
      for (const o of r.voterChanges) this.outcomes.push({ id, changeId: o.changeId, errorCode: o.errorCode });
      const raft = this.get(id);
      const flushed = r.logOps.length > 0 || r.quorumState !== null ? raft.logFlushed(raft.logEndOffset, this.nowMs) : null;
      for (const o of flushed?.voterChanges ?? []) this.outcomes.push({ id, changeId: o.changeId, errorCode: o.errorCode });
      // Answers to a request sent to a bootstrap server come from that address.
      const out = [...r.messages, ...r.messagesAfterPersist, ...(flushed === null ? [] : [...flushed.messages, ...flushed.messagesAfterPersist])];
      for (const message of out) queue.push({ message: alias !== undefined && message.kind.endsWith('Response') ? { ...message, sourceId: alias } : message });
    };
    settle(from, ready);
    for (let steps = 0; queue.length > 0; steps++) {
      if (steps > 10_000) throw new Error('message storm');
      const next = queue.shift();
      if (next === undefined) break;
      const alias = next.message.destinationId < 0 ? next.message.destinationId : undefined;
      const destination = alias === undefined ? next.message.destinationId : -alias - 1;
      if (this.down.has(destination) || this.down.has(next.message.sourceId) || !this.nodes.has(destination)) continue;
      settle(destination, this.get(destination).receive({ ...next.message, destinationId: destination }, this.nowMs), alias);
    }
  }

  tickAll(nowMs: number): void {
    this.nowMs = nowMs;
    for (const [id, raft] of this.nodes) if (!this.down.has(id)) this.pump(id, raft.tick(nowMs));
  }

  propose(value: number): void {
    const leader = this.leader();
    if (leader === undefined) throw new Error('no leader');
    const result = leader.propose([new Uint8Array([value])], this.nowMs);
    if (!result.accepted) throw new Error('not accepted');
    this.pump(this.idOf(leader), result.ready);
  }

  idOf(raft: RaftNode): number {
    return [...this.nodes].find(([, n]) => n === raft)?.[0] ?? -1;
  }
}

describe('voter history', () => {
  it('tracks the latest set, reverts on truncation, folds into the base at the log start', () => {
    const h = new VoterHistory(votersOf(1), 'bootstrap');
    expect([h.dynamic, h.fromBootstrap, h.latestOffset]).toEqual([true, true, -1]);
    h.append(2, votersOf(1));
    h.append(7, votersOf(1, 2));
    h.append(9, votersOf(1, 2, 3));
    expect(voterIdsOf(h.latest)).toEqual([1, 2, 3]);
    expect(voterIdsOf(h.at(8).voters)).toEqual([1, 2]); // the record at 7 is below 8
    expect(voterIdsOf(h.at(7).voters)).toEqual([1]);
    expect(h.truncateTo(9)).toBe(true);
    expect([voterIdsOf(h.latest), h.latestOffset]).toEqual([[1, 2], 7]);
    h.compactTo(8);
    expect([voterIdsOf(h.latest), h.latestOffset, h.source]).toEqual([[1, 2], -1, 'snapshot']);
    expect(new VoterHistory(votersOf(1, 2), 'static').dynamic).toBe(false);
  });
});

describe('bootstrap and AddVoter', () => {
  it('a standalone controller leads, copies the bootstrap voter set into its first batch, and adds a caught-up observer', () => {
    const c = new Cluster();
    const n1 = c.add(1, bootstrap(votersOf(1)));
    expect([n1.kraftVersion, n1.isVoter, voterIdsOf(n1.voterSet), n1.voterSetOffset]).toEqual([1, true, [1], -1]);
    const n2 = c.add(2);
    expect([n2.kraftVersion, n2.isVoter, n2.voterSet.length]).toEqual([0, false, 0]);
    c.tickAll(1000);
    expect(n1.role).toBe('leader');
    const first = n1.log[0];
    expect(first).toMatchObject({ type: 'leader-change', baseOffset: 0, lastOffset: 2, voters: [1] });
    expect(first?.type === 'leader-change' ? voterIdsOf(first.voterSet ?? []) : null).toEqual([1]);
    expect(n1.voterSetOffset).toBe(2);
    // The observer found the leader through bootstrap server -2 and replicated the voter set.
    c.tickAll(1100);
    expect([n2.role, n2.leaderId, n2.kraftVersion, voterIdsOf(n2.voterSet)]).toEqual(['follower', 1, 1, [1]]);

    // A voter that has not fetched yet (node 3 does not exist) is refused: it is not caught up.
    expect(n1.addVoter(voter(3), 5000, 1150)).toMatchObject({ accepted: false, errorCode: RaftErrorCode.REQUEST_TIMED_OUT });
    // A directory id other than the one fetching: not caught up either.
    expect(n1.addVoter({ ...voter(2), directoryId: 'other' }, 5000, 1150)).toMatchObject({ accepted: false, errorCode: RaftErrorCode.REQUEST_TIMED_OUT });
    expect(n1.addVoter({ ...voter(2), kraftVersion: { min: 0, max: 0 } }, 5000, 1150)).toMatchObject({ accepted: false, errorCode: RaftErrorCode.INVALID_REQUEST });
    expect(n1.addVoter(voter(1), 5000, 1150)).toMatchObject({ accepted: false, errorCode: RaftErrorCode.DUPLICATE_VOTER });

    c.nowMs = 1200;
    const added = n1.addVoter(voter(2), 5000, 1200);
    if (!added.accepted) throw new Error(added.message);
    // In effect as soon as appended: the leader now needs node 2 for the high watermark.
    expect([voterIdsOf(n1.voterSet), n1.voterSetOffset, n1.pendingVoterChange?.kind]).toEqual([[1, 2], added.offset, 'add']);
    expect(n1.highWatermark).toBeLessThanOrEqual(added.offset);
    // One change at a time.
    expect(n1.removeVoter({ id: 2, directoryId: dir(2) }, 5000, 1200)).toMatchObject({ accepted: false, errorCode: RaftErrorCode.REQUEST_TIMED_OUT });
    c.pump(1, added.ready);
    c.tickAll(1300);
    expect(c.outcomes).toContainEqual({ id: 1, changeId: added.changeId, errorCode: RaftErrorCode.NONE });
    expect([n1.highWatermark > added.offset, n1.pendingVoterChange, n2.isVoter]).toEqual([true, null, true]);

    // The HW is computed over {1, 2}: without node 2 nothing commits.
    c.down.add(2);
    const hw = n1.highWatermark;
    c.propose(7);
    c.tickAll(1400);
    expect(n1.highWatermark).toBe(hw);
    c.down.delete(2);
    c.tickAll(1500);
    expect(n1.highWatermark).toBeGreaterThan(hw);
  });

  it('refuses changes before the leader committed an entry of its epoch, and with static voters', () => {
    const c = new Cluster();
    const n1 = c.add(1, bootstrap(votersOf(1)));
    // Elected but its first batch not flushed: no high watermark yet.
    n1.tick(1000);
    expect(n1.role).toBe('leader');
    expect(n1.addVoter(voter(2), 5000, 1001)).toMatchObject({ accepted: false, errorCode: RaftErrorCode.REQUEST_TIMED_OUT });
    expect(new RaftNode(config(5), EMPTY, () => 0, 0).addVoter(voter(6), 1, 0)).toMatchObject({ accepted: false, errorCode: RaftErrorCode.NOT_LEADER_OR_FOLLOWER });

    const s = new TinyCluster([1, 2, 3]);
    s.tickAll(1000);
    const leader = s.leader();
    expect(leader?.kraftVersion).toBe(0);
    expect(leader?.addVoter(voter(4), 5000, 1001)).toMatchObject({ accepted: false, errorCode: RaftErrorCode.UNSUPPORTED_VERSION });
    expect(leader?.removeVoter({ id: 3, directoryId: NO_DIRECTORY_ID }, 5000, 1001)).toMatchObject({ accepted: false, errorCode: RaftErrorCode.UNSUPPORTED_VERSION });
  });

  it('times out a change that does not commit: the record stays appended and blocks the next change until it commits', () => {
    const c = new Cluster();
    const n1 = c.add(1, bootstrap(votersOf(1, 2)));
    const n2 = c.add(2, bootstrap(votersOf(1, 2)));
    const n3 = c.add(3);
    c.tickAll(1000);
    c.tickAll(1100);
    const leader = c.leader();
    if (leader === undefined) throw new Error('no leader');
    const follower = leader === n1 ? n2 : n1;
    expect(n3.role).toBe('follower');
    c.down.add(c.idOf(follower));
    c.nowMs = 1150;
    const added = leader.addVoter(voter(3), 300, 1150);
    if (!added.accepted) throw new Error(added.message);
    c.pump(c.idOf(leader), added.ready);
    // {1,2,3} needs two of three: the follower is down but node 3 fetches, so it commits anyway.
    c.tickAll(1200);
    expect(c.outcomes.map((o) => o.errorCode)).toEqual([RaftErrorCode.NONE]);
    // Now remove node 3 while node 3 is down too: {leader, follower} cannot commit.
    c.down.add(3);
    c.tickAll(1300);
    const removed = leader.removeVoter({ id: 3, directoryId: dir(3) }, 300, 1300);
    if (!removed.accepted) throw new Error(removed.message);
    c.pump(c.idOf(leader), removed.ready);
    c.tickAll(1700);
    expect(c.outcomes.at(-1)).toEqual({ id: c.idOf(leader), changeId: removed.changeId, errorCode: RaftErrorCode.REQUEST_TIMED_OUT });
    expect(voterIdsOf(leader.voterSet)).toEqual([1, 2]); // still appended
    const again = leader.removeVoter({ id: 3, directoryId: dir(3) }, 300, 1700);
    expect(again).toMatchObject({ accepted: false, errorCode: RaftErrorCode.REQUEST_TIMED_OUT }); // uncommitted
  });
});

describe('RemoveVoter and UpdateVoter', () => {
  it('a leader that removes itself leads until the removal commits, then resigns; the others elect a successor', () => {
    const c = new Cluster();
    for (const id of [1, 2, 3]) c.add(id, bootstrap(votersOf(1, 2, 3)));
    c.tickAll(1000);
    c.tickAll(1100);
    const leader = c.leader();
    if (leader === undefined) throw new Error('no leader');
    const id = c.idOf(leader);
    c.nowMs = 1150;
    expect(leader.removeVoter({ id: 4, directoryId: dir(4) }, 1000, 1150)).toMatchObject({ accepted: false, errorCode: RaftErrorCode.VOTER_NOT_FOUND });
    expect(leader.removeVoter({ id, directoryId: 'not-mine' }, 1000, 1150)).toMatchObject({ accepted: false, errorCode: RaftErrorCode.VOTER_NOT_FOUND });
    const others = [1, 2, 3].filter((x) => x !== id);
    c.down.add(others[0] ?? 0);
    c.down.add(others[1] ?? 0);
    const removed = leader.removeVoter({ id, directoryId: dir(id) }, 5000, 1150);
    if (!removed.accepted) throw new Error(removed.message);
    c.pump(id, removed.ready);
    // Not committed yet (the others are down): still leading, though not a voter; it counts itself for nothing.
    expect([leader.role, leader.isVoter, leader.mayCampaign]).toEqual(['leader', false, true]);
    c.down.clear();
    c.tickAll(1200);
    expect(c.outcomes).toContainEqual({ id, changeId: removed.changeId, errorCode: RaftErrorCode.NONE });
    expect(leader.role).toBe('resigned');
    c.tickAll(1300);
    c.tickAll(3000);
    const successor = c.leader();
    expect(successor).toBeDefined();
    expect(c.idOf(successor as RaftNode)).not.toBe(id);
    expect(voterIdsOf((successor as RaftNode).voterSet)).toEqual(others);
    // The removed node follows as an observer and never campaigns.
    for (let t = 3100; t <= 3500; t += 100) c.tickAll(t);
    expect([leader.role, leader.leaderId, leader.isVoter, leader.mayCampaign]).toEqual(['follower', c.idOf(successor as RaftNode), false, false]);
  });

  it('UpdateVoter replaces a voter’s endpoints, answered at once; unknown voters and bad ranges are refused', () => {
    const c = new Cluster();
    const n1 = c.add(1, bootstrap(votersOf(1)));
    c.tickAll(1000);
    expect(n1.updateVoter(voter(2), 1001)).toMatchObject({ accepted: false, errorCode: RaftErrorCode.VOTER_NOT_FOUND });
    expect(n1.updateVoter({ ...voter(1), endpoints: [] }, 1001)).toMatchObject({ accepted: false, errorCode: RaftErrorCode.INVALID_REQUEST });
    const updated = n1.updateVoter(voter(1, 19093), 1001);
    if (!updated.accepted) throw new Error(updated.message);
    expect(updated.ready.voterChanges).toEqual([{ changeId: updated.changeId, errorCode: RaftErrorCode.NONE, message: null }]);
    expect(n1.voterSet[0]?.endpoints[0]?.port).toBe(19093);
  });
});

describe('voter sets in the log and in snapshots', () => {
  const leaderChange = (offset: number, epoch: number, voterSet?: VoterSet): LogEntry => ({
    type: 'leader-change',
    baseOffset: offset,
    lastOffset: voterSet === undefined ? offset : offset + 2,
    epoch,
    appendTimestamp: 0,
    leaderId: 1,
    voters: [1, 2],
    grantingVoters: [1],
    ...(voterSet === undefined ? {} : { voterSet }),
  });

  it('a follower that truncates an appended voter set reverts to the previous one', () => {
    const entries: LogEntry[] = [leaderChange(0, 1, votersOf(1, 2)), { type: 'voters', baseOffset: 3, lastOffset: 3, epoch: 1, appendTimestamp: 0, voterSet: votersOf(1, 2, 3) }];
    const f = new RaftNode(config(2), { quorumState: { epoch: 2, leaderId: 1, votedId: null }, snapshot: { id: { endOffset: 0, epoch: 0 }, bytes: snapshotBytes(votersOf(1, 2)) }, entries }, () => 0, 0);
    expect(voterIdsOf(f.voterSet)).toEqual([1, 2, 3]);
    const fetch = only(allMessages(f.tick(10)), 'FetchRequest')[0];
    if (fetch === undefined) throw new Error('no fetch');
    const diverging: FetchResponse = {
      kind: 'FetchResponse',
      sourceId: 1,
      destinationId: 2,
      errorCode: RaftErrorCode.NONE,
      leaderEpoch: 2,
      leaderId: 1,
      highWatermark: 3,
      logStartOffset: 0,
      fetchOffset: fetch.fetchOffset,
      lastFetchedEpoch: fetch.lastFetchedEpoch,
      divergingEpoch: { epoch: 1, endOffset: 3 },
      snapshotId: null,
      records: [],
    };
    expect(f.receive(diverging, 11).logOps).toEqual([{ kind: 'truncate', endOffset: 3 }]);
    expect([voterIdsOf(f.voterSet), f.voterSetOffset]).toEqual([[1, 2], 2]);
  });

  it('a snapshot must hold the voter set in effect at its end; installing one sets the voter set', () => {
    const c = new Cluster();
    const n1 = c.add(1, bootstrap(votersOf(1)));
    c.tickAll(1000);
    c.propose(1);
    const end = n1.highWatermark;
    const last = n1.entryAt(end - 1);
    const id = { endOffset: end, epoch: last?.epoch ?? 0 };
    expect(n1.votersAt(end)).toEqual({ voters: votersOf(1), dynamic: true });
    const wrong: SnapshotData = { id, bytes: snapshotBytes(votersOf(1, 2)) };
    expect(() => n1.snapshotCreated(wrong, 1100)).toThrow(RaftInvariantError);
    n1.snapshotCreated({ id, bytes: snapshotBytes(votersOf(1)) }, 1100);
    expect([n1.logStartOffset, voterIdsOf(n1.voterSet), n1.kraftVersion]).toEqual([end, [1], 1]);
    // A fresh observer downloads the snapshot and gets the voter set from it.
    const n2 = c.add(2);
    c.tickAll(1200);
    c.tickAll(1300);
    expect([n2.logStartOffset, n2.kraftVersion, voterIdsOf(n2.voterSet), n2.role]).toEqual([end, 1, [1], 'follower']);
  });
});

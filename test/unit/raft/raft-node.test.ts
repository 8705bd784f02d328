import { describe, expect, it } from 'vitest';
import { RaftErrorCode, type RaftMessage, type VoteRequest, type VoteResponse } from '../../../broker/src/raft/core/messages.ts';
import type { PersistedRaftState } from '../../../broker/src/raft/core/raft-node.ts';
import { TinyCluster, allMessages, entries, node, only } from './helpers.ts';

function voteRequest(sourceId: number, candidateEpoch: number, lastOffsetEpoch: number, lastOffset: number, preVote = false): VoteRequest {
  return { kind: 'VoteRequest', sourceId, destinationId: 1, candidateEpoch, candidateId: sourceId, lastOffsetEpoch, lastOffset, preVote };
}

function voteResponse(sourceId: number, leaderEpoch: number, voteGranted: boolean, preVote: boolean): VoteResponse {
  return { kind: 'VoteResponse', sourceId, destinationId: 1, errorCode: RaftErrorCode.NONE, leaderEpoch, leaderId: null, voteGranted, preVote };
}

function votes(messages: readonly RaftMessage[]): VoteResponse[] {
  return only(messages, 'VoteResponse');
}

describe('election transitions', () => {
  it('goes Unattached -> Prospective -> Candidate -> Leader, persisting before campaigning', () => {
    const n = node(1);
    expect([n.role, n.epoch]).toEqual(['unattached', 0]);
    expect(n.tick(999).roleChanges).toEqual([]);

    const preVote = n.tick(1000);
    expect([n.role, n.epoch]).toEqual(['prospective', 0]);
    const preVotes = only(preVote.messages, 'VoteRequest');
    expect(preVotes.map((m) => [m.destinationId, m.candidateEpoch, m.preVote])).toEqual([[2, 1, true], [3, 1, true]]);
    expect(preVote.messagesAfterPersist).toEqual([]);

    const campaign = n.receive(voteResponse(2, 0, true, true), 1001);
    expect([n.role, n.epoch, n.votedId]).toEqual(['candidate', 1, 1]);
    expect(campaign.quorumState).toEqual({ epoch: 1, leaderId: null, votedId: 1 });
    // Vote requests wait for the quorum state to be durable.
    expect(campaign.messages).toEqual([]);
    expect(only(campaign.messagesAfterPersist, 'VoteRequest').map((m) => [m.destinationId, m.candidateEpoch, m.preVote])).toEqual([[2, 1, false], [3, 1, false]]);

    const elected = n.receive(voteResponse(3, 1, true, false), 1002);
    expect([n.role, n.epoch, n.leaderId]).toEqual(['leader', 1, 1]);
    expect(elected.quorumState).toEqual({ epoch: 1, leaderId: 1, votedId: 1 });
    expect(elected.logOps).toEqual([
      { kind: 'append', entries: [{ type: 'leader-change', baseOffset: 0, lastOffset: 0, epoch: 1, appendTimestamp: 1002, leaderId: 1, voters: [1, 2, 3], grantingVoters: [1, 3] }] },
    ]);
    expect(only(elected.messages, 'BeginQuorumEpochRequest').map((m) => m.destinationId)).toEqual([2, 3]);
    expect(elected.roleChanges).toEqual([{ from: 'candidate', to: 'leader', epoch: 1, leaderId: 1 }]);
  });

  it('abandons a lost pre-vote without bumping the epoch', () => {
    const n = node(1, { quorumState: { epoch: 4, leaderId: null, votedId: 3 }, entries: [] });
    expect(n.role).toBe('voted');
    n.tick(1000);
    expect(n.role).toBe('prospective');
    n.receive(voteResponse(2, 4, false, true), 1001);
    n.receive(voteResponse(3, 4, false, true), 1002);
    // Back to waiting, and the vote for 3 in epoch 4 is kept.
    expect([n.role, n.epoch, n.votedId]).toEqual(['voted', 4, 3]);
  });

  it('a candidate that times out returns to pre-vote in its epoch', () => {
    const n = node(1);
    n.tick(1000);
    n.receive(voteResponse(2, 0, true, true), 1000);
    expect(n.role).toBe('candidate');
    n.tick(2000);
    expect([n.role, n.epoch, n.votedId]).toEqual(['prospective', 1, 1]);
  });

  it('restores its role from the quorum-state file', () => {
    const restore = (quorumState: PersistedRaftState['quorumState']): string => node(1, { quorumState, entries: [] }).role;
    expect(restore(null)).toBe('unattached');
    expect(restore({ epoch: 3, leaderId: 1, votedId: 1 })).toBe('resigned');
    expect(restore({ epoch: 3, leaderId: 2, votedId: null })).toBe('follower');
    expect(restore({ epoch: 3, leaderId: null, votedId: 2 })).toBe('voted');
    expect(restore({ epoch: 3, leaderId: null, votedId: null })).toBe('unattached');
  });

  it('a higher epoch in any message moves even a leader to that epoch first', () => {
    const c = new TinyCluster();
    c.tickAll(1000);
    const leader = c.get(1);
    expect(leader.role).toBe('leader');
    const ready = leader.receive({ kind: 'BeginQuorumEpochRequest', sourceId: 2, destinationId: 1, leaderEpoch: 5, leaderId: 2 }, 1100);
    expect(ready.roleChanges.map((r) => `${r.from}->${r.to}@${r.epoch}`)).toEqual(['leader->unattached@5', 'unattached->follower@5']);
    expect(ready.quorumState).toEqual({ epoch: 5, leaderId: 2, votedId: null });
    expect([leader.role, leader.leaderId]).toEqual(['follower', 2]);
  });

  it('a follower whose leader goes silent starts a pre-vote after the fetch timeout', () => {
    const c = new TinyCluster();
    c.tickAll(1000);
    const follower = c.get(2);
    expect(follower.role).toBe('follower');
    c.down.add(1);
    follower.tick(2999);
    expect(follower.role).toBe('follower');
    follower.tick(3000);
    expect([follower.role, follower.epoch]).toEqual(['prospective', 1]);
  });
});

describe('vote rules', () => {
  it('grants one vote per epoch, and the grant waits for the quorum state', () => {
    const n = node(1);
    const first = n.receive(voteRequest(2, 1, 0, 0), 10);
    expect(first.quorumState).toEqual({ epoch: 1, leaderId: null, votedId: 2 });
    expect(votes(first.messages)).toEqual([]);
    expect(votes(first.messagesAfterPersist).map((v) => v.voteGranted)).toEqual([true]);
    expect([n.role, n.votedId]).toEqual(['voted', 2]);

    const other = n.receive(voteRequest(3, 1, 0, 0), 11);
    expect(votes(allMessages(other)).map((v) => v.voteGranted)).toEqual([false]);
    expect(other.quorumState).toBeNull();

    const again = n.receive(voteRequest(2, 1, 0, 0), 12);
    expect(votes(allMessages(again)).map((v) => v.voteGranted)).toEqual([true]);
  });

  it('refuses a candidate whose log is behind ours, but still moves to its epoch', () => {
    const n = node(1, { quorumState: { epoch: 2, leaderId: null, votedId: null }, entries: entries([1, 2, 2]) });
    const stale = n.receive(voteRequest(2, 5, 2, 2), 10); // same last epoch, shorter
    expect(votes(allMessages(stale)).map((v) => [v.voteGranted, v.leaderEpoch])).toEqual([[false, 5]]);
    expect(stale.quorumState).toEqual({ epoch: 5, leaderId: null, votedId: null });
    expect(n.role).toBe('unattached');
    const olderEpoch = n.receive(voteRequest(3, 5, 1, 10), 11); // longer but older last epoch
    expect(votes(allMessages(olderEpoch)).map((v) => v.voteGranted)).toEqual([false]);
    const equal = n.receive(voteRequest(3, 5, 2, 3), 12);
    expect(votes(allMessages(equal)).map((v) => v.voteGranted)).toEqual([true]);
  });

  it('refuses a stale epoch with FENCED_LEADER_EPOCH and keeps its own', () => {
    const n = node(1, { quorumState: { epoch: 3, leaderId: null, votedId: null }, entries: [] });
    const ready = n.receive(voteRequest(2, 2, 0, 0), 10);
    expect(votes(allMessages(ready)).map((v) => [v.voteGranted, v.errorCode, v.leaderEpoch])).toEqual([[false, RaftErrorCode.FENCED_LEADER_EPOCH, 3]]);
    expect(n.epoch).toBe(3);
  });

  it('a leader, follower or candidate of the epoch does not vote for someone else', () => {
    const c = new TinyCluster();
    c.tickAll(1000);
    for (const id of [1, 2]) {
      const raft = c.get(id);
      const ready = raft.receive({ ...voteRequest(3, 1, 1, 1), destinationId: id }, 1100);
      expect(votes(allMessages(ready)).map((v) => v.voteGranted)).toEqual([false]);
    }
  });

  it('pre-votes change no state and are refused while the leader is live', () => {
    const c = new TinyCluster();
    c.tickAll(1000);
    const follower = c.get(2);
    const log = follower.logEndOffset;
    const refused = follower.receive({ ...voteRequest(3, 2, 1, log, true), destinationId: 2 }, 1100);
    expect(votes(refused.messages).map((v) => [v.voteGranted, v.preVote])).toEqual([[false, true]]);
    expect([follower.role, follower.epoch, refused.quorumState]).toEqual(['follower', 1, null]);

    // After the leader resigns (EndQuorumEpoch), the same pre-vote is granted, still without state change.
    c.pump(1, c.get(1).resign([], 1200), 1200);
    const granted = follower.receive({ ...voteRequest(3, 2, 1, log, true), destinationId: 2 }, 1201);
    expect(votes(granted.messages).map((v) => v.voteGranted)).toEqual([true]);
    expect([follower.epoch, granted.quorumState]).toEqual([1, null]);
  });
});

describe('replication and the high watermark', () => {
  it('replicates by fetch and commits on a majority', () => {
    const c = new TinyCluster();
    c.tickAll(1000);
    const leader = c.get(1);
    expect(leader.highWatermark).toBe(1); // the leader-change entry
    const result = leader.propose([new Uint8Array([7]), new Uint8Array([8])], 1010);
    if (!result.accepted) throw new Error('not leader');
    // One batch of two records: offsets 1 and 2 (record offsets, as on the wire).
    expect([result.baseOffset, result.lastOffset]).toEqual([1, 2]);
    c.pump(1, result.ready, 1010);
    c.tickAll(1100);
    for (const id of [1, 2, 3]) {
      expect(c.get(id).highWatermark).toBe(3);
      expect(c.get(id).log.map((e) => [e.baseOffset, e.lastOffset, e.epoch])).toEqual([[0, 0, 1], [1, 2, 1]]);
    }
    expect(c.get(2).propose([new Uint8Array([1])], 1100)).toEqual({ accepted: false, epoch: 1, leaderId: 1 });
  });

  it("counts the leader's own log only once it is flushed", () => {
    const n = node(1);
    n.tick(1000);
    n.receive(voteResponse(2, 0, true, true), 1000);
    n.receive(voteResponse(2, 1, true, false), 1000);
    n.logFlushed(1, 1000);
    const result = n.propose([new Uint8Array([1])], 1000);
    expect(result.accepted).toBe(true);
    // Follower 2 claims both entries; the leader has flushed only the first.
    const fetch = { kind: 'FetchRequest', sourceId: 2, destinationId: 1, currentLeaderEpoch: 1, fetchOffset: 2, lastFetchedEpoch: 1 } as const;
    n.receive(fetch, 1001);
    expect(n.highWatermark).toBe(1);
    const flushed = n.logFlushed(2, 1002);
    expect(n.highWatermark).toBe(2);
    expect(flushed.committed.map((e) => e.baseOffset)).toEqual([1]);
  });

  it('does not commit older-epoch entries until an entry of its own epoch is committed', () => {
    const n = node(1, { quorumState: { epoch: 1, leaderId: null, votedId: null }, entries: entries([1, 1, 1]) });
    n.tick(1000);
    n.receive(voteResponse(2, 1, true, true), 1000);
    n.receive(voteResponse(2, 2, true, false), 1000);
    n.logFlushed(4, 1000);
    expect(n.role).toBe('leader');
    n.receive({ kind: 'FetchRequest', sourceId: 2, destinationId: 1, currentLeaderEpoch: 2, fetchOffset: 3, lastFetchedEpoch: 1 }, 1001);
    expect(n.highWatermark).toBe(0); // offsets 0-2 are on a majority, but epoch 2's first entry is not
    n.receive({ kind: 'FetchRequest', sourceId: 2, destinationId: 1, currentLeaderEpoch: 2, fetchOffset: 4, lastFetchedEpoch: 2 }, 1002);
    expect(n.highWatermark).toBe(4);
  });

  it('answers a diverging follower with DivergingEpoch, and the follower truncates', () => {
    const persisted: Record<number, PersistedRaftState> = {
      1: { quorumState: { epoch: 3, leaderId: null, votedId: null }, entries: entries([1, 1, 3]) },
      2: { quorumState: { epoch: 3, leaderId: null, votedId: null }, entries: entries([1, 1, 2, 2]) },
      3: { quorumState: { epoch: 3, leaderId: null, votedId: null }, entries: entries([1, 1]) },
    };
    const leaderView = new TinyCluster(undefined, (id) => persisted[id] ?? { quorumState: null, entries: [] });
    const direct = leaderView.get(1);
    // Check the raw response first.
    direct.tick(1000);
    direct.receive(voteResponse(3, 3, true, true), 1000);
    direct.receive(voteResponse(3, 4, true, false), 1000);
    expect(direct.role).toBe('leader');
    const ready = direct.receive({ kind: 'FetchRequest', sourceId: 2, destinationId: 1, currentLeaderEpoch: 4, fetchOffset: 4, lastFetchedEpoch: 2 }, 1001);
    expect(only(ready.messages, 'FetchResponse').map((r) => r.divergingEpoch)).toEqual([{ epoch: 1, endOffset: 2 }]);

    // And end to end: the follower drops its epoch-2 entries and catches up.
    const c = new TinyCluster(undefined, (id) => persisted[id] ?? { quorumState: null, entries: [] });
    c.tickAll(1000);
    c.tickAll(1100);
    expect(c.get(1).role).toBe('leader');
    for (const id of [1, 2, 3]) expect(c.get(id).log.map((e) => e.epoch)).toEqual([1, 1, 3, 4]);
    expect(c.get(2).highWatermark).toBe(4);
  });
});

describe('follower fetch handling', () => {
  function followerOf1(entriesEpochs: readonly number[]) {
    const f = node(2, { quorumState: { epoch: 2, leaderId: 1, votedId: null }, entries: entries(entriesEpochs) });
    expect(f.role).toBe('follower');
    return f;
  }
  const response = (fetchOffset: number, lastFetchedEpoch: number, extra: object) =>
    ({
      kind: 'FetchResponse',
      sourceId: 1,
      destinationId: 2,
      errorCode: RaftErrorCode.NONE,
      leaderEpoch: 2,
      leaderId: 1,
      highWatermark: 0,
      logStartOffset: 0,
      fetchOffset,
      lastFetchedEpoch,
      divergingEpoch: null,
      snapshotId: null,
      records: [],
      ...extra,
    }) as const;

  it('sets its HW to min(leader HW, own flushed log end), and fetches only a flushed log', () => {
    const f = followerOf1([1]);
    const first = f.tick(10);
    expect(only(first.messagesAfterPersist, 'FetchRequest').map((m) => [m.fetchOffset, m.lastFetchedEpoch])).toEqual([[1, 1]]);
    const records = [
      { type: 'leader-change' as const, baseOffset: 1, lastOffset: 1, epoch: 2, appendTimestamp: 0, leaderId: 1, voters: [1, 2, 3], grantingVoters: [1, 2] },
      { type: 'data' as const, baseOffset: 2, lastOffset: 2, epoch: 2, appendTimestamp: 0, records: [new Uint8Array([9])] },
    ];
    const appended = f.receive(response(1, 1, { highWatermark: 5, records }), 20);
    expect(appended.logOps).toEqual([{ kind: 'append', entries: records }]);
    expect(f.highWatermark).toBe(1); // only offset 0 is flushed
    expect(allMessages(appended)).toEqual([]); // the next fetch waits for the flush
    const flushed = f.logFlushed(3, 21);
    expect(f.highWatermark).toBe(3);
    expect(only(flushed.messagesAfterPersist, 'FetchRequest').map((m) => m.fetchOffset)).toEqual([3]);
  });

  it('ignores a response that no longer describes its log (stale DivergingEpoch)', () => {
    const f = followerOf1([1, 1]);
    f.tick(10);
    // A DivergingEpoch computed for (offset 2, epoch 2) must not truncate a log that ends (2, epoch 1).
    const stale = f.receive(response(2, 2, { divergingEpoch: { epoch: 1, endOffset: 1 } }), 20);
    expect(stale.logOps).toEqual([]);
    const fresh = f.receive(response(2, 1, { divergingEpoch: { epoch: 1, endOffset: 1 } }), 21);
    expect(fresh.logOps).toEqual([{ kind: 'truncate', endOffset: 1 }]);
    expect(f.logEndOffset).toBe(1);
  });
});

describe('resignation', () => {
  it('check quorum: the leader resigns when a majority has not fetched for 1.5 x fetch timeout', () => {
    const c = new TinyCluster();
    c.tickAll(1000);
    const leader = c.get(1);
    c.down.add(2);
    c.down.add(3);
    expect(leader.tick(4000).roleChanges).toEqual([]);
    const ready = leader.tick(4001);
    expect(leader.role).toBe('resigned');
    expect(only(ready.messages, 'EndQuorumEpochRequest').map((m) => m.destinationId)).toEqual([2, 3]);
  });

  it('graceful resign hands leadership to the preferred successor', () => {
    const c = new TinyCluster();
    c.tickAll(1000);
    c.pump(1, c.get(1).resign([3], 1100), 1100);
    expect(c.get(1).role).toBe('resigned');
    c.tickAll(1200);
    expect([c.get(3).role, c.get(3).epoch]).toEqual(['leader', 2]);
    expect([c.get(1).role, c.get(1).leaderId]).toEqual(['follower', 3]);
    expect([c.get(2).role, c.get(2).leaderId]).toEqual(['follower', 3]);
  });
});

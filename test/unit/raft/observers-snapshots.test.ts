// Observers (non-voters that follow the leader), snapshots (KIP-630) and failure reports, step by step.
import { describe, expect, it } from 'vitest';
import { RaftErrorCode, type FetchRequest, type FetchResponse, type FetchSnapshotResponse } from '../../../broker/src/raft/core/messages.ts';
import { RaftNode, type SnapshotData } from '../../../broker/src/raft/core/raft-node.ts';
import { TinyCluster, allMessages, config, only } from './helpers.ts';

const OBSERVER = 9;

function leaderOf(c: TinyCluster): RaftNode {
  const leader = c.leader();
  if (leader === undefined) throw new Error('no leader');
  return leader;
}

describe('observers', () => {
  it('find the leader through any voter, follow it and commit, without counting for the HW', () => {
    const c = new TinyCluster([1, 2, 3], undefined, [OBSERVER]);
    const observer = c.get(OBSERVER);
    expect([observer.isVoter, observer.role]).toEqual([false, 'unattached']);
    c.tickAll(1000); // node 1 is elected; the observer's first discovery fetch goes to voter 1
    expect(leaderOf(c)).toBe(c.get(1));
    expect([observer.role, observer.leaderId]).toEqual(['follower', 1]);
    c.propose([7, 8]); // one batch of two records: offsets 1..2
    c.tickAll(1100);
    expect(observer.highWatermark).toBe(3);
    expect(observer.log.map((e) => [e.baseOffset, e.lastOffset, e.type])).toEqual([[0, 0, 'leader-change'], [1, 2, 'data']]);
    const described = c.get(1).describeQuorum();
    expect(described?.voters.map((v) => [v.replicaId, v.logEndOffset])).toEqual([[1, 3], [2, 3], [3, 3]]);
    expect(described?.observers.map((o) => [o.replicaId, o.logEndOffset])).toEqual([[OBSERVER, 3]]);
  });

  it('learn the leader from the error answer of a follower (here FENCED_LEADER_EPOCH: its epoch is newer)', () => {
    const c = new TinyCluster([1, 2, 3]);
    c.tickAll(1000);
    const observer = new RaftNode(config(OBSERVER, [1, 2, 3]), { quorumState: null, entries: [] }, () => 0, 1000);
    // Round-robin starts at voter 1; skip it to ask a follower.
    const first = only(allMessages(observer.tick(1001)), 'FetchRequest');
    expect(first.map((m) => m.destinationId)).toEqual([1]);
    observer.requestFailed(first[0] as FetchRequest, 1002);
    const second = only(allMessages(observer.tick(1030)), 'FetchRequest');
    expect(second.map((m) => m.destinationId)).toEqual([2]);
    const answer = only(c.get(2).receive(second[0] as FetchRequest, 1031).messages, 'FetchResponse');
    expect(answer.map((r) => [r.errorCode, r.leaderId, r.leaderEpoch])).toEqual([[RaftErrorCode.FENCED_LEADER_EPOCH, 1, 1]]);
    const followed = observer.receive(answer[0] as FetchResponse, 1032);
    expect([observer.role, observer.leaderId, observer.epoch]).toEqual(['follower', 1, 1]);
    expect(only(allMessages(followed), 'FetchRequest').map((m) => m.destinationId)).toEqual([1]);
  });

  it('never vote or campaign, and look for the leader again after a fetch timeout', () => {
    const c = new TinyCluster([1, 2, 3], undefined, [OBSERVER]);
    c.tickAll(1000);
    const observer = c.get(OBSERVER);
    const vote = observer.receive({ kind: 'VoteRequest', sourceId: 2, destinationId: OBSERVER, candidateEpoch: 5, candidateId: 2, lastOffsetEpoch: 9, lastOffset: 99, preVote: false }, 1100);
    expect(only(allMessages(vote), 'VoteResponse').map((v) => [v.voteGranted, v.errorCode])).toEqual([[false, RaftErrorCode.INCONSISTENT_VOTER_SET]]);
    expect([observer.epoch, vote.quorumState]).toEqual([1, null]);
    c.down.add(1);
    const timedOut = observer.tick(3100);
    expect(timedOut.roleChanges.map((r) => `${r.from}->${r.to}@${r.epoch}`)).toEqual(['follower->unattached@1']);
    expect(only(allMessages(timedOut), 'FetchRequest').length).toBe(1);
    for (let t = 3200; t < 20_000; t += 100) observer.tick(t);
    expect(observer.role).toBe('unattached'); // never prospective or candidate
  });
});

describe('snapshots', () => {
  const snapshotOf = (endOffset: number, epoch: number, size: number): SnapshotData => ({ id: { endOffset, epoch }, bytes: Uint8Array.from({ length: size }, (_, i) => i) });

  it('move the log start and let the driver delete the prefix', () => {
    const c = new TinyCluster();
    c.tickAll(1000);
    c.propose([1, 2]);
    c.propose([3]);
    const leader = leaderOf(c);
    expect(leader.highWatermark).toBe(4);
    expect(leader.log.map((e) => e.baseOffset)).toEqual([0, 1, 3]);
    expect(() => leader.snapshotCreated(snapshotOf(5, 1, 10), 1100)).toThrow(/beyond the high watermark/);
    const ready = leader.snapshotCreated(snapshotOf(3, 1, 10), 1100);
    expect(ready.logOps).toEqual([{ kind: 'delete-prefix', snapshotId: { endOffset: 3, epoch: 1 } }]);
    expect([leader.logStartOffset, leader.logEndOffset, leader.latestSnapshotId]).toEqual([3, 4, { endOffset: 3, epoch: 1 }]);
    // An older snapshot changes nothing.
    expect(leader.snapshotCreated(snapshotOf(1, 1, 10), 1101).logOps).toEqual([]);
  });

  it('a follower behind the log start downloads the snapshot in chunks and installs it', () => {
    const c = new TinyCluster();
    c.tickAll(1000);
    const leader = leaderOf(c);
    c.down.add(3);
    c.propose([1, 2, 3]);
    c.propose([4]);
    expect(leader.highWatermark).toBe(5);
    leader.snapshotCreated(snapshotOf(5, 1, 2_500_000), 1100); // 3 chunks of 1 MiB
    const lagging = c.get(3);
    expect(lagging.logEndOffset).toBe(1);
    c.down.delete(3);

    // Fetch at 1 < log start 5: the leader names its snapshot.
    const fetch = only(allMessages(lagging.tick(1200)), 'FetchRequest')[0] as FetchRequest;
    const named = only(leader.receive(fetch, 1201).messages, 'FetchResponse')[0] as FetchResponse;
    expect([named.snapshotId, named.records.length, named.logStartOffset]).toEqual([{ endOffset: 5, epoch: 1 }, 0, 5]);
    let ready = lagging.receive(named, 1202);
    const positions: number[] = [];
    for (let step = 0; step < 10; step++) {
      const request = only(allMessages(ready), 'FetchSnapshotRequest')[0];
      if (request === undefined) break;
      positions.push(request.position);
      const chunk = only(leader.receive(request, 1203 + step).messages, 'FetchSnapshotResponse')[0] as FetchSnapshotResponse;
      ready = lagging.receive(chunk, 1203 + step);
    }
    expect(positions).toEqual([0, 1 << 20, 2 << 20]);
    expect(ready.logOps.map((op) => op.kind)).toEqual(['install-snapshot']);
    expect(ready.loadSnapshot?.id).toEqual({ endOffset: 5, epoch: 1 });
    expect(ready.loadSnapshot?.bytes.length).toBe(2_500_000);
    expect([lagging.logStartOffset, lagging.logEndOffset, lagging.highWatermark]).toEqual([5, 5, 5]);
    // And it goes on fetching from the snapshot's end.
    expect(only(allMessages(ready), 'FetchRequest').map((m) => [m.fetchOffset, m.lastFetchedEpoch])).toEqual([[5, 1]]);
  });

  it('a download restarts with a Fetch when the leader replaced its snapshot', () => {
    const c = new TinyCluster();
    c.tickAll(1000);
    const leader = leaderOf(c);
    c.down.add(3);
    c.propose([1]);
    leader.snapshotCreated(snapshotOf(2, 1, 100), 1100);
    const lagging = c.get(3);
    c.down.delete(3);
    const fetch = only(allMessages(lagging.tick(1200)), 'FetchRequest')[0] as FetchRequest;
    const named = only(leader.receive(fetch, 1201).messages, 'FetchResponse')[0] as FetchResponse;
    const request = only(allMessages(lagging.receive(named, 1202)), 'FetchSnapshotRequest')[0];
    if (request === undefined) throw new Error('no FetchSnapshot');
    c.down.add(3);
    c.propose([2], 1250);
    leader.snapshotCreated(snapshotOf(3, 1, 100), 1300);
    const missing = only(leader.receive(request, 1301).messages, 'FetchSnapshotResponse')[0] as FetchSnapshotResponse;
    expect(missing.errorCode).toBe(RaftErrorCode.SNAPSHOT_NOT_FOUND);
    const restart = lagging.receive(missing, 1302);
    expect(only(allMessages(restart), 'FetchRequest').map((m) => m.fetchOffset)).toEqual([1]);
  });

  it('a restarted node starts from its snapshot with the high watermark at its end', () => {
    const n = new RaftNode(config(1), { quorumState: { epoch: 3, leaderId: 2, votedId: null }, snapshot: snapshotOf(10, 3, 5), entries: [] }, () => 0, 0);
    expect([n.logStartOffset, n.logEndOffset, n.highWatermark, n.lastFetchedEpoch, n.role]).toEqual([10, 10, 10, 3, 'follower']);
  });
});

describe('failure reports', () => {
  it('a failed fetch is retried after the retry backoff instead of the fetch retry interval', () => {
    const f = new RaftNode(config(2), { quorumState: { epoch: 2, leaderId: 1, votedId: null }, entries: [] }, () => 0, 0);
    const fetch = only(allMessages(f.tick(10)), 'FetchRequest')[0] as FetchRequest;
    expect(only(allMessages(f.tick(20)), 'FetchRequest')).toEqual([]);
    f.requestFailed(fetch, 25);
    expect(only(allMessages(f.tick(44)), 'FetchRequest')).toEqual([]);
    expect(only(allMessages(f.tick(45)), 'FetchRequest').length).toBe(1);
  });
});

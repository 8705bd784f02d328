/**
 * Scripted simulations of the classic rebalance protocol on simulated time: joining, the initial delay,
 * syncing, sessions, crashes, static membership (KIP-345) and leaders leaving.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../broker/src/protocol/error-codes.ts';
import { decodeCoordinatorRecord } from '../../../broker/src/group/index.ts';
import { Harness, TestClient, advanceUntil, formStableGroup, type Tracked } from './support/harness.ts';
import type { JoinGroupResponse } from '../../../broker/src/protocol/generated/clients/join-group-response.ts';
import { GROUP_ID, decodeAssignment } from './support/builders.ts';

function groupOf(h: Harness, groupId = GROUP_ID) {
  const group = h.coordinator.inspect().groups.find((g) => g.groupId === groupId);
  if (group === undefined) throw new Error(`no group ${groupId}`);
  return group;
}

/** Generations of the GroupMetadata records in the log, in order. */
function persistedGenerations(h: Harness): number[] {
  return h.log.records.flatMap((r) => {
    const d = decodeCoordinatorRecord(r);
    return d.type === 'group-metadata' && d.value !== null ? [d.value.generation] : [];
  });
}

describe('classic group rebalance on simulated time', () => {
  it('several members join, sync and heartbeat into one Stable generation', async () => {
    const h = new Harness();
    const [a, b, c] = ['a', 'b', 'c'].map((name) => new TestClient(h, name));
    if (a === undefined || b === undefined || c === undefined) throw new Error('clients');

    // KIP-394: the first JoinGroup (v4+) only hands out a member id.
    const first = a.join();
    await h.flush();
    expect(first.result.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    expect(first.result.memberId).toMatch(/^a-[0-9a-f-]{36}$/);
    expect(groupOf(h).pendingJoinMemberIds).toEqual([a.memberId]);

    const joinA = a.join();
    const joinB = await b.joinParked();
    const joinC = await c.joinParked();
    await h.flush();
    expect(groupOf(h).state).toBe('PreparingRebalance');
    expect([joinA.settled, joinB.settled, joinC.settled]).toEqual([false, false, false]);

    await advanceUntil(h, () => joinA.settled);
    for (const join of [joinA, joinB, joinC]) {
      expect(join.result.errorCode).toBe(ErrorCode.NONE);
      expect(join.result.generationId).toBe(1);
      expect(join.result.protocolName).toBe('range');
      expect(join.result.leader).toBe(a.memberId);
    }
    // Only the leader learns the members and their subscriptions.
    expect(joinA.result.members.map((m) => m.memberId)).toEqual([a.memberId, b.memberId, c.memberId]);
    expect(joinB.result.members).toEqual([]);
    expect(groupOf(h).state).toBe('CompletingRebalance');

    // Followers park until the leader's assignment is durable.
    const syncB = b.sync();
    const syncC = c.sync();
    await h.flush();
    expect([syncB.settled, syncC.settled]).toEqual([false, false]);
    const syncA = a.sync();
    await h.flush();
    for (const [client, sync] of [[a, syncA], [b, syncB], [c, syncC]] as const) {
      expect(sync.result.errorCode).toBe(ErrorCode.NONE);
      expect(decodeAssignment(sync.result.assignment)).toEqual({ generationId: 1, partitions: client === a ? [0, 3] : client === b ? [1, 4] : [2, 5] });
    }
    expect(groupOf(h).state).toBe('Stable');
    expect(persistedGenerations(h)).toEqual([1]);

    // Heartbeating members stay; the group stays in generation 1.
    for (let i = 0; i < 20; i++) {
      await h.advance(3_000);
      expect(await Promise.all([a.heartbeat(), b.heartbeat(), c.heartbeat()])).toEqual([0, 0, 0]);
    }
    expect(groupOf(h)).toMatchObject({ state: 'Stable', generationId: 1 });
    expect(groupOf(h).members).toHaveLength(3);
    h.coordinator.checkInvariants();
  });

  it('late joiners extend the initial rebalance delay, capped by the rebalance timeout', async () => {
    const h = new Harness({ config: { groupInitialRebalanceDelayMs: 3_000 } });
    const clients = Array.from({ length: 6 }, (_, i) => new TestClient(h, `m${i}`, { rebalanceTimeoutMs: 8_000 }));
    const joins: Tracked<JoinGroupResponse>[] = [];
    joins.push(await clients[0]!.joinParked());
    // New members keep arriving every 1.5 s; each arrival extends the delay by up to 3 s, never past 8 s.
    for (let i = 1; i < 6; i++) {
      await h.advance(1_500);
      joins.push(await clients[i]!.joinParked());
    }
    // t = 7.5 s: everyone parked, nobody answered yet.
    expect(joins.every((j) => !j.settled)).toBe(true);
    await advanceUntil(h, () => joins[0]!.settled, 10);
    // Delays: 3 s, then min(3 s, 5 s remaining) -> 6 s, then min(3 s, 2 s remaining) -> 8 s.
    expect(h.time.nowMs() - 1_700_000_000_000).toBe(8_000);
    expect(joins.map((j) => j.result.generationId)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(joins[0]!.result.members).toHaveLength(6);

    // A member arriving after the join phase triggers a new rebalance that waits for everyone.
    const late = new TestClient(h, 'late');
    const lateJoin = await late.joinParked();
    expect(groupOf(h).state).toBe('PreparingRebalance');
    expect(lateJoin.settled).toBe(false);
    h.coordinator.checkInvariants();
  });

  it('a crashed member is removed when its session expires and the survivors get a new generation', async () => {
    const h = new Harness();
    const [a, b, c] = ['a', 'b', 'c'].map((name) => new TestClient(h, name, { sessionTimeoutMs: 10_000 }));
    if (a === undefined || b === undefined || c === undefined) throw new Error('clients');
    expect(await formStableGroup(h, [a, b, c])).toBe(1);

    // c crashes: it stops heartbeating. a and b heartbeat every 3 s.
    let rebalanceSeenAt = -1;
    for (let t = 0; t < 15_000 && rebalanceSeenAt < 0; t += 3_000) {
      await h.advance(3_000);
      const [ea, eb] = await Promise.all([a.heartbeat(), b.heartbeat()]);
      if (ea === ErrorCode.REBALANCE_IN_PROGRESS && eb === ErrorCode.REBALANCE_IN_PROGRESS) rebalanceSeenAt = t + 3_000;
      else expect([ea, eb]).toEqual([0, 0]);
    }
    expect(rebalanceSeenAt).toBe(12_000); // c's session (10 s after its last activity) ended between 9 s and 12 s
    expect(groupOf(h).members.map((m) => m.memberId)).toEqual([a.memberId, b.memberId]);

    // The survivors rejoin; the join completes as soon as all remaining members are back.
    const joinA = a.join();
    const joinB = b.join();
    await h.flush();
    expect(joinA.result).toMatchObject({ errorCode: 0, generationId: 2, leader: a.memberId });
    expect(joinB.result).toMatchObject({ errorCode: 0, generationId: 2, leader: a.memberId });
    const [syncA, syncB] = [a.sync(), b.sync()];
    await h.flush();
    expect(decodeAssignment(syncA.result.assignment)).toEqual({ generationId: 2, partitions: [0, 2, 4] });
    expect(decodeAssignment(syncB.result.assignment)).toEqual({ generationId: 2, partitions: [1, 3, 5] });
    expect(groupOf(h)).toMatchObject({ state: 'Stable', generationId: 2 });
    // The crashed member's stale id is rejected.
    expect(await c.heartbeat()).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(persistedGenerations(h)).toEqual([1, 2]);
    h.coordinator.checkInvariants();
  });

  it('a member that does not rejoin within the rebalance timeout is dropped from the next generation', async () => {
    const h = new Harness();
    const [a, b] = ['a', 'b'].map((name) => new TestClient(h, name, { rebalanceTimeoutMs: 20_000, sessionTimeoutMs: 30_000 }));
    if (a === undefined || b === undefined) throw new Error('clients');
    await formStableGroup(h, [a, b]);
    // The leader rejoins (forcing a rebalance); b keeps heartbeating but never rejoins.
    const joinA = a.join();
    await h.flush();
    expect(await b.heartbeat()).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    await h.advance(19_999);
    expect(joinA.settled).toBe(false);
    await h.advance(1);
    expect(joinA.result).toMatchObject({ errorCode: 0, generationId: 2 });
    expect(joinA.result.members.map((m) => m.memberId)).toEqual([a.memberId]);
    expect(await b.heartbeat()).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('a follower that never syncs is removed at the sync deadline and the group rebalances', async () => {
    const h = new Harness();
    const [a, b] = ['a', 'b'].map((name) => new TestClient(h, name, { rebalanceTimeoutMs: 15_000 }));
    if (a === undefined || b === undefined) throw new Error('clients');
    const joins = [await a.joinParked(), await b.joinParked()];
    await advanceUntil(h, () => joins.every((j) => j.settled));
    const syncA = a.sync();
    await h.flush();
    expect(syncA.result.errorCode).toBe(0);
    expect(groupOf(h).pendingSyncMemberIds).toEqual([b.memberId]);
    for (let i = 0; i < 5; i++) {
      await h.advance(3_000); // a heartbeats, b stays silent past the 15 s sync deadline
      await a.heartbeat();
    }
    expect(groupOf(h).members.map((m) => m.memberId)).toEqual([a.memberId]);
    expect(groupOf(h).state).toBe('PreparingRebalance');
    expect(await a.heartbeat()).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const rejoin = a.join();
    await h.flush();
    expect(rejoin.result).toMatchObject({ errorCode: 0, generationId: 2 });
  });

  it('a static member that restarts takes over its identity without a rebalance (KIP-345)', async () => {
    const h = new Harness();
    const a = new TestClient(h, 'a', { groupInstanceId: 'instance-a' });
    const b = new TestClient(h, 'b', { groupInstanceId: 'instance-b' });
    await formStableGroup(h, [a, b]);
    const oldMemberId = b.memberId;
    const oldAssignment = b.assignment;
    const appendsBefore = h.log.appendCount;

    // b's process restarts: same group.instance.id, no member id. Static members never get MEMBER_ID_REQUIRED.
    const restarted = new TestClient(h, 'b', { groupInstanceId: 'instance-b' });
    const join = restarted.join();
    await h.flush();
    expect(join.result.errorCode).toBe(ErrorCode.NONE);
    expect(join.result.memberId).not.toBe(oldMemberId);
    expect(join.result.memberId).toMatch(/^instance-b-/);
    expect(join.result.generationId).toBe(1);
    expect(join.result.leader).toBe(a.memberId);
    // No rebalance: still Stable in generation 1, the new member id persisted.
    expect(groupOf(h)).toMatchObject({ state: 'Stable', generationId: 1 });
    expect(h.log.appendCount).toBe(appendsBefore + 1);
    expect(await a.heartbeat()).toBe(ErrorCode.NONE);
    const sync = restarted.sync();
    await h.flush();
    expect(sync.result.assignment).toEqual(oldAssignment);

    // The old incarnation is fenced.
    expect(await b.heartbeat()).toBe(ErrorCode.FENCED_INSTANCE_ID);
    const staleCommit = await b.commit([{ topic: 'orders', partition: 1, offset: 5n }]);
    expect(staleCommit.topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.FENCED_INSTANCE_ID);
    h.coordinator.checkInvariants();
  });

  it('a restarting static leader on JoinGroup v9 gets the members with skipAssignment (KIP-814)', async () => {
    const h = new Harness();
    const a = new TestClient(h, 'a', { groupInstanceId: 'instance-a', joinVersion: 9 });
    const b = new TestClient(h, 'b', { groupInstanceId: 'instance-b', joinVersion: 9 });
    await formStableGroup(h, [a, b]);
    const restarted = new TestClient(h, 'a', { groupInstanceId: 'instance-a', joinVersion: 9 });
    const join = restarted.join();
    await h.flush();
    expect(join.result).toMatchObject({ errorCode: 0, generationId: 1, skipAssignment: true });
    expect(join.result.leader).toBe(join.result.memberId);
    expect(join.result.members.map((m) => m.groupInstanceId).sort()).toEqual(['instance-a', 'instance-b']);
    expect(groupOf(h).state).toBe('Stable');
  });

  it('a static member that misses a rebalance stays in the group; only its session removes it', async () => {
    const h = new Harness();
    const a = new TestClient(h, 'a', { groupInstanceId: 'instance-a', rebalanceTimeoutMs: 10_000, sessionTimeoutMs: 60_000 });
    const b = new TestClient(h, 'b', { groupInstanceId: 'instance-b', rebalanceTimeoutMs: 10_000, sessionTimeoutMs: 60_000 });
    await formStableGroup(h, [a, b]);
    const joinA = a.join(); // the leader forces a rebalance; b is bouncing and does not rejoin
    await h.advance(10_000);
    expect(joinA.result.generationId).toBe(2);
    expect(joinA.result.members.map((m) => m.groupInstanceId)).toEqual(['instance-a', 'instance-b']);
    // b is still a member (of the new generation, which it has to rejoin to learn).
    expect(await b.heartbeat()).toBe(ErrorCode.ILLEGAL_GENERATION);
    // Without any heartbeat for 60 s its session ends.
    a.sync();
    for (let i = 0; i < 25; i++) {
      await h.advance(3_000);
      await a.heartbeat();
    }
    expect(groupOf(h).members.map((m) => m.groupInstanceId)).toEqual(['instance-a']);
  });

  it('when the leader leaves, the group rebalances and a remaining member leads', async () => {
    const h = new Harness();
    const [a, b, c] = ['a', 'b', 'c'].map((name) => new TestClient(h, name));
    if (a === undefined || b === undefined || c === undefined) throw new Error('clients');
    await formStableGroup(h, [a, b, c]);
    expect(a.isLeader).toBe(true);

    const left = await a.leave(3);
    expect(left).toEqual({ throttleTimeMs: 0, errorCode: 0, members: [{ memberId: a.memberId, groupInstanceId: null, errorCode: 0 }] });
    expect(groupOf(h)).toMatchObject({ state: 'PreparingRebalance', leaderId: b.memberId });
    expect(await b.heartbeat()).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const joinB = b.join();
    const joinC = c.join();
    await h.flush();
    expect(joinB.result).toMatchObject({ generationId: 2, leader: b.memberId });
    expect(joinB.result.members.map((m) => m.memberId)).toEqual([b.memberId, c.memberId]);
    expect(joinC.result).toMatchObject({ generationId: 2, leader: b.memberId, members: [] });
    // The departed leader is unknown now (LeaveGroup v0-v2 report a single top-level error).
    expect((await a.leave(1)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('the last member leaving empties the group and persists the new generation', async () => {
    const h = new Harness();
    const a = new TestClient(h, 'a');
    await formStableGroup(h, [a]);
    expect((await a.leave(0)).errorCode).toBe(ErrorCode.NONE);
    await h.flush();
    expect(groupOf(h)).toMatchObject({ state: 'Empty', generationId: 2, leaderId: null, members: [] });
    expect(persistedGenerations(h)).toEqual([1, 2]);
  });

  it('a member id handed out with MEMBER_ID_REQUIRED expires if the member never comes back', async () => {
    const h = new Harness();
    const a = new TestClient(h, 'a', { sessionTimeoutMs: 8_000 });
    const first = a.join();
    await h.flush();
    expect(first.result.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    await h.advance(8_000);
    expect(groupOf(h).pendingJoinMemberIds).toEqual([]);
    const late = a.join();
    await h.flush();
    expect(late.result.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });
});

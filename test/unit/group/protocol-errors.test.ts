/**
 * Error answers and version-specific shapes of JoinGroup, SyncGroup, Heartbeat, LeaveGroup, DescribeGroups
 * and ListGroups, and that every answer encodes at the version it was asked at.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../broker/src/protocol/error-codes.ts';
import { Writer } from '../../../broker/src/protocol/wire/writer.ts';
import { writeJoinGroupResponse } from '../../../broker/src/protocol/generated/clients/join-group-response.ts';
import { writeDescribeGroupsResponse } from '../../../broker/src/protocol/generated/clients/describe-groups-response.ts';
import { writeListGroupsResponse } from '../../../broker/src/protocol/generated/clients/list-groups-response.ts';
import { writeLeaveGroupResponse } from '../../../broker/src/protocol/generated/clients/leave-group-response.ts';
import { Harness, TestClient, advanceUntil, formStableGroup, track } from './support/harness.ts';
import { AppendError } from './support/simulated-log.ts';
import { GROUP_ID, consumerProtocols, consumerSubscription, heartbeatRequest, joinRequest, leaveRequest, requestContext, syncRequest } from './support/builders.ts';

describe('JoinGroup', () => {
  it('validates the group id, the session timeout bounds and the protocols', async () => {
    const h = new Harness({ config: { groupMinSessionTimeoutMs: 6_000, groupMaxSessionTimeoutMs: 300_000 } });
    const join = async (fields: Parameters<typeof joinRequest>[0], version = 5) => (await h.coordinator.joinGroup(joinRequest(fields), requestContext(version))).errorCode;
    expect(await join({ groupId: '' })).toBe(ErrorCode.INVALID_GROUP_ID);
    expect(await join({ sessionTimeoutMs: 5_999 })).toBe(ErrorCode.INVALID_SESSION_TIMEOUT);
    expect(await join({ sessionTimeoutMs: 300_001 })).toBe(ErrorCode.INVALID_SESSION_TIMEOUT);
    expect(await join({ protocolType: '' })).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect(await join({ protocols: [] })).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    // A member id the coordinator never issued, for a group it does not know.
    expect(await join({ groupId: 'other', memberId: 'made-up' })).toBe(ErrorCode.UNKNOWN_MEMBER_ID);

    const a = new TestClient(h, 'a');
    await formStableGroup(h, [a]);
    expect(await join({ protocolType: 'connect' }, 3)).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect(await join({ protocols: consumerProtocols(['orders'], ['sticky']) }, 3)).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect(await join({ memberId: 'made-up' })).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('selects the protocol every member supports that most members prefer', async () => {
    const h = new Harness();
    const joinWith = (names: string[], clientId: string) =>
      track(h.coordinator.joinGroup(joinRequest({ protocols: consumerProtocols(['orders'], names) }), requestContext(3, clientId)));
    const joins = [joinWith(['cooperative-sticky', 'range'], 'a'), joinWith(['range', 'cooperative-sticky'], 'b'), joinWith(['range', 'cooperative-sticky', 'roundrobin'], 'c')];
    await advanceUntil(h, () => joins.every((j) => j.settled));
    expect(joins.map((j) => j.result.protocolName)).toEqual(['range', 'range', 'range']);
  });

  it('admits members directly before v4 and uses the session timeout as rebalance timeout at v0', async () => {
    const h = new Harness();
    const join = track(h.coordinator.joinGroup(joinRequest({ sessionTimeoutMs: 7_000, rebalanceTimeoutMs: -1 }), requestContext(0, 'old')));
    await h.flush();
    expect(join.settled).toBe(false);
    const member = h.coordinator.inspect().groups[0]?.members[0];
    expect(member).toMatchObject({ rebalanceTimeoutMs: 7_000, sessionTimeoutMs: 7_000, clientId: 'old', clientHost: '/10.0.0.1', isNew: true });
    await h.advance(3_000);
    expect(join.result).toMatchObject({ errorCode: 0, generationId: 1, protocolName: 'range', protocolType: null });
  });

  it('shapes the protocol name per version and every answer encodes at its version', async () => {
    for (let version = 0; version <= 9; version++) {
      const h = new Harness();
      const error = await h.coordinator.joinGroup(joinRequest({ groupId: '' }), requestContext(version));
      expect(error.protocolName).toBe(version < 7 ? '' : null);
      writeJoinGroupResponse(new Writer(), error, version);
      const first = await settleJoin(h, joinRequest({ groupInstanceId: version >= 5 ? 'static' : null }), version);
      writeJoinGroupResponse(new Writer(), first, version);
      // From v4 a dynamic member first gets MEMBER_ID_REQUIRED; static members (v5+) and older clients join directly.
      expect(first.errorCode).toBe(version === 4 ? ErrorCode.MEMBER_ID_REQUIRED : ErrorCode.NONE);
      const joined = first.errorCode === ErrorCode.NONE ? first : await settleJoin(h, joinRequest({ memberId: first.memberId }), version);
      expect(joined).toMatchObject({ errorCode: 0, generationId: 1, protocolName: 'range', protocolType: version >= 7 ? 'consumer' : null });
      writeJoinGroupResponse(new Writer(), joined, version);
    }
  });

  it('fences a static member whose member id does not match its instance id', async () => {
    const h = new Harness();
    const a = new TestClient(h, 'a', { groupInstanceId: 'instance-a' });
    await formStableGroup(h, [a]);
    const impostor = await h.coordinator.joinGroup(joinRequest({ memberId: 'instance-a-forged', groupInstanceId: 'instance-a' }), requestContext(5));
    expect(impostor.errorCode).toBe(ErrorCode.FENCED_INSTANCE_ID);
    const unknownInstance = await h.coordinator.joinGroup(joinRequest({ memberId: a.memberId, groupInstanceId: 'instance-z' }), requestContext(5));
    expect(unknownInstance.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('enforces group.max.size', async () => {
    const h = new Harness({ config: { groupMaxSize: 2 } });
    const [a, b, c] = ['a', 'b', 'c'].map((n) => new TestClient(h, n));
    if (a === undefined || b === undefined || c === undefined) throw new Error('clients');
    await formStableGroup(h, [a, b]);
    const third = c.join();
    await h.flush();
    expect(third.result).toMatchObject({ errorCode: ErrorCode.GROUP_MAX_SIZE_REACHED, memberId: '' });
    // Existing members may still rejoin a full group (the leader's rejoin forces a rebalance).
    const rejoin = a.join();
    await h.flush();
    expect(rejoin.settled).toBe(false);
    expect(h.coordinator.inspect().groups[0]).toMatchObject({ state: 'PreparingRebalance', generationId: 1 });
  });

  it('answers a parked JoinGroup that the same member superseded instead of dropping it', async () => {
    const h = new Harness();
    const a = new TestClient(h, 'a');
    const b = new TestClient(h, 'b');
    await formStableGroup(h, [a, b]);
    const first = a.join();
    await h.flush();
    const second = a.join();
    await h.flush();
    expect(first.result.errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(second.settled).toBe(false);
    b.join();
    await h.flush();
    expect(second.result).toMatchObject({ errorCode: 0, generationId: 2 });
  });

  it('drops a new member whose JoinGroup stays parked past the new-member join timeout', async () => {
    const h = new Harness({ config: { groupMaxSessionTimeoutMs: 1_800_000 } });
    const slow = new TestClient(h, 'slow', { rebalanceTimeoutMs: 900_000, sessionTimeoutMs: 1_200_000 });
    await formStableGroup(h, [slow]);
    // The newcomer waits for `slow` to rejoin, which it does not do for 15 minutes.
    const newcomer = track(h.coordinator.joinGroup(joinRequest({ rebalanceTimeoutMs: 60_000 }), requestContext(3, 'new')));
    await h.advance(299_999);
    expect(newcomer.settled).toBe(false);
    await h.advance(1);
    expect(newcomer.result).toMatchObject({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, memberId: '' });
  });
});

async function settleJoin(h: Harness, request: ReturnType<typeof joinRequest>, version: number) {
  const join = track(h.coordinator.joinGroup(request, requestContext(version)));
  await advanceUntil(h, () => join.settled);
  return join.result;
}

describe('SyncGroup', () => {
  it('rejects unknown members, stale generations, inconsistent protocols and syncs during a rebalance', async () => {
    const h = new Harness();
    const [a, b] = ['a', 'b'].map((n) => new TestClient(h, n));
    if (a === undefined || b === undefined) throw new Error('clients');
    await formStableGroup(h, [a, b]);
    const sync = async (fields: Parameters<typeof syncRequest>[0], version = 5) => (await h.coordinator.syncGroup(syncRequest(fields), requestContext(version))).errorCode;
    expect(await sync({ groupId: 'ghost', memberId: a.memberId, generationId: 1 })).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(await sync({ groupId: '' })).toBe(ErrorCode.INVALID_GROUP_ID);
    expect(await sync({ memberId: 'stranger', generationId: 1 })).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(await sync({ memberId: a.memberId, generationId: 7 })).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(await sync({ memberId: a.memberId, generationId: 1, protocolType: 'consumer', protocolName: 'roundrobin' })).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect(await sync({ memberId: a.memberId, generationId: 1, protocolType: 'connect' })).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const stable = await h.coordinator.syncGroup(syncRequest({ memberId: b.memberId, generationId: 1, protocolType: 'consumer', protocolName: 'range' }), requestContext(5));
    expect(stable).toMatchObject({ errorCode: 0, protocolType: 'consumer', protocolName: 'range' });
    a.join(); // the leader rejoins: PreparingRebalance
    await h.flush();
    expect(await sync({ memberId: b.memberId, generationId: 1 })).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
  });

  it('hands every parked member the mapped error when the assignment cannot be persisted, then rebalances', async () => {
    const h = new Harness();
    const [a, b] = ['a', 'b'].map((n) => new TestClient(h, n));
    if (a === undefined || b === undefined) throw new Error('clients');
    const joins = [await a.joinParked(), await b.joinParked()];
    await advanceUntil(h, () => joins.every((j) => j.settled));
    const syncB = b.sync();
    h.log.failNext(new AppendError(ErrorCode.NOT_LEADER_OR_FOLLOWER));
    const syncA = a.sync();
    await h.flush();
    expect(syncA.result).toMatchObject({ errorCode: ErrorCode.NOT_COORDINATOR, protocolName: null, assignment: Buffer.alloc(0) });
    expect(syncB.result.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(h.coordinator.inspect().groups[0]?.state).toBe('PreparingRebalance');
    const rejoins = [a.join(), b.join()];
    await h.flush();
    expect(rejoins.map((j) => j.result.generationId)).toEqual([2, 2]);
  });
});

describe('Heartbeat and LeaveGroup', () => {
  it('answers heartbeats by membership and generation', async () => {
    const h = new Harness();
    const a = new TestClient(h, 'a', { groupInstanceId: 'instance-a' });
    await formStableGroup(h, [a]);
    const beat = async (fields: Parameters<typeof heartbeatRequest>[0]) => (await h.coordinator.heartbeat(heartbeatRequest(fields), requestContext(4))).errorCode;
    expect(await beat({ memberId: a.memberId, generationId: 1, groupInstanceId: 'instance-a' })).toBe(0);
    expect(await beat({ memberId: a.memberId, generationId: 0, groupInstanceId: 'instance-a' })).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(await beat({ memberId: 'other', generationId: 1, groupInstanceId: 'instance-a' })).toBe(ErrorCode.FENCED_INSTANCE_ID);
    expect(await beat({ memberId: 'other', generationId: 1 })).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(await beat({ groupId: 'ghost', memberId: a.memberId, generationId: 1 })).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(await beat({ groupId: '' })).toBe(ErrorCode.INVALID_GROUP_ID);
  });

  it('leaves in batches (v3+), including administrative removal by instance id, and encodes every version', async () => {
    const h = new Harness();
    const a = new TestClient(h, 'a', { groupInstanceId: 'instance-a' });
    const b = new TestClient(h, 'b');
    const c = new TestClient(h, 'c');
    await formStableGroup(h, [a, b, c]);
    const response = await h.coordinator.leaveGroup(
      leaveRequest({
        members: [
          { memberId: '', groupInstanceId: 'instance-a', reason: 'admin' },
          { memberId: b.memberId, groupInstanceId: null, reason: null },
          { memberId: 'stranger', groupInstanceId: null, reason: null },
          { memberId: c.memberId, groupInstanceId: 'instance-c', reason: null },
        ],
      }),
      requestContext(5),
    );
    expect(response.members.map((m) => m.errorCode)).toEqual([0, 0, ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.UNKNOWN_MEMBER_ID]);
    writeLeaveGroupResponse(new Writer(), response, 5);
    expect(h.coordinator.inspect().groups[0]?.members.map((m) => m.memberId)).toEqual([c.memberId]);
    const ghost = await h.coordinator.leaveGroup(leaveRequest({ groupId: 'ghost', members: [{ memberId: 'x', groupInstanceId: null, reason: null }] }), requestContext(3));
    expect(ghost).toEqual({ throttleTimeMs: 0, errorCode: 0, members: [{ memberId: 'x', groupInstanceId: null, errorCode: ErrorCode.UNKNOWN_MEMBER_ID }] });
    for (const version of [0, 1, 2]) {
      const single = await h.coordinator.leaveGroup(leaveRequest({ groupId: 'ghost', memberId: 'x' }), requestContext(version));
      expect(single).toEqual({ throttleTimeMs: 0, errorCode: ErrorCode.UNKNOWN_MEMBER_ID, members: [] });
      writeLeaveGroupResponse(new Writer(), single, version);
    }
  });
});

describe('DescribeGroups and ListGroups', () => {
  it('describes members with their metadata once Stable, without it while rebalancing', async () => {
    const h = new Harness();
    const a = new TestClient(h, 'a', { groupInstanceId: 'instance-a' });
    await formStableGroup(h, [a]);
    const described = await h.coordinator.describeGroups({ groups: [GROUP_ID, 'ghost'], includeAuthorizedOperations: false }, requestContext(5));
    expect(described.groups[0]).toMatchObject({
      errorCode: 0,
      groupId: GROUP_ID,
      groupState: 'Stable',
      protocolType: 'consumer',
      protocolData: 'range',
      members: [{ memberId: a.memberId, groupInstanceId: 'instance-a', clientId: 'a', clientHost: '/10.0.0.1', memberMetadata: consumerSubscription(['orders']), memberAssignment: a.assignment }],
    });
    expect(described.groups[1]).toMatchObject({ errorCode: 0, groupId: 'ghost', groupState: 'Dead', members: [] });
    for (let v = 0; v <= 5; v++) writeDescribeGroupsResponse(new Writer(), { ...described, groups: described.groups.map((g) => ({ ...g, members: g.members.map((m) => ({ ...m, groupInstanceId: v >= 4 ? m.groupInstanceId : null })) })) }, v);

    a.join(); // the only member rejoins: straight to CompletingRebalance of generation 2
    await h.flush();
    const rebalancing = await h.coordinator.describeGroups({ groups: [GROUP_ID], includeAuthorizedOperations: false }, requestContext(5));
    expect(rebalancing.groups[0]).toMatchObject({ groupState: 'CompletingRebalance', protocolData: '' });
    expect(rebalancing.groups[0]?.members[0]?.memberMetadata).toEqual(Buffer.alloc(0));
  });

  it('lists groups filtered by state (case-insensitive) and type', async () => {
    const h = new Harness();
    const a = new TestClient(h, 'a');
    await formStableGroup(h, [a]);
    const parked = new TestClient(h, 'p', { groupId: 'forming' });
    await parked.joinParked();
    const list = async (statesFilter: string[], typesFilter: string[] = []) =>
      (await h.coordinator.listGroups({ statesFilter, typesFilter }, requestContext(5))).groups.map((g) => `${g.groupId}:${g.groupState}`);
    expect(await list([])).toEqual([`${GROUP_ID}:Stable`, 'forming:PreparingRebalance']);
    expect(await list(['STABLE'])).toEqual([`${GROUP_ID}:Stable`]);
    expect(await list(['preparingrebalance', 'empty'])).toEqual(['forming:PreparingRebalance']);
    expect(await list([], ['Classic'])).toEqual([`${GROUP_ID}:Stable`, 'forming:PreparingRebalance']);
    expect(await list([], ['consumer'])).toEqual([]);
    const all = await h.coordinator.listGroups({ statesFilter: [], typesFilter: [] }, requestContext(0));
    for (let v = 0; v <= 5; v++) writeListGroupsResponse(new Writer(), all, v);
  });
});

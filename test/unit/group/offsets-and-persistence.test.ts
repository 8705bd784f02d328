/**
 * Offsets: commit/fetch, durability before acknowledgement, append failures, fail-over by replaying the log,
 * retention, DeleteGroups and OffsetDelete.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../broker/src/protocol/error-codes.ts';
import { Writer } from '../../../broker/src/protocol/wire/writer.ts';
import { writeOffsetFetchResponse, type OffsetFetchResponse } from '../../../broker/src/protocol/generated/clients/offset-fetch-response.ts';
import { decodeCoordinatorRecord, type CoordinatorRecord } from '../../../broker/src/group/index.ts';
import { Harness, TestClient, formStableGroup, track } from './support/harness.ts';
import { AppendError } from './support/simulated-log.ts';
import { GROUP_ID, commitRequest, fetchGroupsRequest, fetchRequest, requestContext } from './support/builders.ts';

const DAY_MS = 24 * 60 * 60 * 1_000;

async function fetchOne(h: Harness, groupId: string, topic: string, partition: number): Promise<bigint | undefined> {
  const response = await h.coordinator.offsetFetch(fetchGroupsRequest([{ groupId, topics: [{ name: topic, partitionIndexes: [partition] }] }]), requestContext(8));
  return response.groups[0]?.topics[0]?.partitions[0]?.committedOffset;
}

function committed(h: Harness): string[] {
  return h.coordinator
    .inspect()
    .offsets.map((o) => `${o.groupId}/${o.topic}-${o.partition}@${o.committedOffset}`)
    .sort();
}

function describeRecords(records: readonly CoordinatorRecord[]): string[] {
  return records.map((r) => {
    const d = decodeCoordinatorRecord(r);
    if (d.type === 'offset-commit') return `offset ${d.groupId}/${d.topic}-${d.partition} ${d.value === null ? 'tombstone' : String(d.value.committedOffset)}`;
    if (d.type === 'group-metadata') return `group ${d.groupId} ${d.value === null ? 'tombstone' : `gen ${d.value.generation}`}`;
    return `unknown ${d.recordType}`;
  });
}

function encodes(response: OffsetFetchResponse, version: number): void {
  writeOffsetFetchResponse(new Writer(), response, version);
}

describe('offset commits and fetches', () => {
  it('acknowledges a commit only once it is durable, then serves it to fetches of every version', async () => {
    const h = new Harness();
    const a = new TestClient(h, 'a');
    await formStableGroup(h, [a]);
    h.log.manual = true;

    const commit = track(a.commit([
      { topic: 'orders', partition: 0, offset: 42n, metadata: 'checkpoint', leaderEpoch: 7 },
      { topic: 'orders', partition: 1, offset: 17n, metadata: null },
    ]));
    await h.flush();
    expect(commit.settled).toBe(false);
    // Not durable yet: not visible either.
    expect(await fetchOne(h, GROUP_ID, 'orders', 0)).toBe(-1n);
    h.log.settle();
    await h.flush();
    expect(commit.result.topics).toEqual([{ name: 'orders', partitions: [{ partitionIndex: 0, errorCode: 0 }, { partitionIndex: 1, errorCode: 0 }] }]);

    const v8 = await h.coordinator.offsetFetch(
      fetchGroupsRequest([
        { groupId: GROUP_ID, topics: [{ name: 'orders', partitionIndexes: [0, 1, 2] }] },
        { groupId: 'no-such-group', topics: null },
      ]),
      requestContext(8),
    );
    expect(v8.groups).toEqual([
      {
        groupId: GROUP_ID,
        errorCode: 0,
        topics: [
          {
            name: 'orders',
            partitions: [
              { partitionIndex: 0, committedOffset: 42n, committedLeaderEpoch: 7, metadata: 'checkpoint', errorCode: 0 },
              { partitionIndex: 1, committedOffset: 17n, committedLeaderEpoch: -1, metadata: '', errorCode: 0 },
              { partitionIndex: 2, committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode: 0 },
            ],
          },
        ],
      },
      { groupId: 'no-such-group', errorCode: 0, topics: [] },
    ]);
    encodes(v8, 8);
    const v7all = await h.coordinator.offsetFetch(fetchRequest(GROUP_ID, null), requestContext(7));
    expect(v7all.groups).toEqual([]);
    expect(v7all.topics[0]?.partitions.map((p) => p.committedOffset)).toEqual([42n, 17n]);
    encodes(v7all, 7);
    const v1 = await h.coordinator.offsetFetch(fetchRequest(GROUP_ID, [{ name: 'orders', partitionIndexes: [1] }]), requestContext(1));
    expect(v1.topics[0]?.partitions[0]?.committedOffset).toBe(17n);
    encodes(v1, 1);
  });

  it('applies concurrent commits in log order even when their appends settle out of order', async () => {
    const h = new Harness({ manualLog: false });
    const a = new TestClient(h, 'a');
    await formStableGroup(h, [a]);
    h.log.manual = true;
    const first = track(a.commit([{ topic: 'orders', partition: 0, offset: 10n }]));
    const second = track(a.commit([{ topic: 'orders', partition: 0, offset: 20n }]));
    await h.flush();
    h.log.settle(1); // the later append settles first...
    await h.flush();
    expect(second.settled).toBe(false); // ...but waits for the earlier one
    h.log.settle(0);
    await h.flush();
    expect([first.settled, second.settled]).toEqual([true, true]);
    expect(await fetchOne(h, GROUP_ID, 'orders', 0)).toBe(20n);
  });

  it('rejects commits from stale generations, unknown members and members mid-rebalance', async () => {
    const h = new Harness();
    const [a, b] = ['a', 'b'].map((n) => new TestClient(h, n));
    if (a === undefined || b === undefined) throw new Error('clients');
    await formStableGroup(h, [a, b]);
    const errorOf = async (request: Promise<{ topics: { partitions: { errorCode: number }[] }[] }>) => (await request).topics[0]?.partitions[0]?.errorCode;
    const offsets = [{ topic: 'orders', partition: 0, offset: 1n }];

    expect(await errorOf(h.coordinator.offsetCommit(commitRequest(a.memberId, 0, offsets), requestContext(8)))).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(await errorOf(h.coordinator.offsetCommit(commitRequest('stranger', 1, offsets), requestContext(8)))).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    // generation -1 (admin / manual assignment) only for groups without members
    expect(await errorOf(h.coordinator.offsetCommit(commitRequest('', -1, offsets), requestContext(8)))).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    // a group the coordinator does not know: ILLEGAL_GENERATION before v9, GROUP_ID_NOT_FOUND from v9
    expect(await errorOf(h.coordinator.offsetCommit(commitRequest('x', 3, offsets, { groupId: 'unknown' }), requestContext(8)))).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(await errorOf(h.coordinator.offsetCommit(commitRequest('x', 3, offsets, { groupId: 'unknown' }), requestContext(9)))).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
    // metadata above offset.metadata.max.bytes fails that partition only
    const big = await a.commit([
      { topic: 'orders', partition: 0, offset: 5n, metadata: 'x'.repeat(4_097) },
      { topic: 'orders', partition: 1, offset: 6n },
    ]);
    expect(big.topics[0]?.partitions.map((p) => p.errorCode)).toEqual([ErrorCode.OFFSET_METADATA_TOO_LARGE, 0]);

    // During CompletingRebalance the new generation is known but not assigned yet.
    const joinA = a.join();
    const joinB = b.join();
    await h.flush();
    expect([joinA.result.generationId, joinB.result.generationId]).toEqual([2, 2]);
    expect(await errorOf(a.commit(offsets))).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
  });

  it('lets an admin commit to a group without members (a simple group)', async () => {
    const h = new Harness();
    const response = await h.coordinator.offsetCommit(
      commitRequest('', -1, [{ topic: 'orders', partition: 3, offset: 99n }], { groupId: 'admin-reset' }),
      requestContext(8),
    );
    expect(response.topics[0]?.partitions[0]?.errorCode).toBe(0);
    expect(await fetchOne(h, 'admin-reset', 'orders', 3)).toBe(99n);
    const listed = await h.coordinator.listGroups({ statesFilter: [], typesFilter: [] }, requestContext(5));
    expect(listed.groups).toEqual([{ groupId: 'admin-reset', protocolType: '', groupState: 'Empty', groupType: 'classic' }]);
  });

  it('answers a failed append with the error Kafka maps it to, and keeps the offset invisible', async () => {
    const h = new Harness();
    const a = new TestClient(h, 'a');
    await formStableGroup(h, [a]);
    const cases: [Error, number][] = [
      [new AppendError(ErrorCode.REQUEST_TIMED_OUT), ErrorCode.COORDINATOR_NOT_AVAILABLE],
      [new AppendError(ErrorCode.NOT_ENOUGH_REPLICAS), ErrorCode.COORDINATOR_NOT_AVAILABLE],
      [new AppendError(ErrorCode.NOT_LEADER_OR_FOLLOWER), ErrorCode.NOT_COORDINATOR],
      [Object.assign(new Error('log offline'), { kafkaErrorCode: ErrorCode.KAFKA_STORAGE_ERROR }), ErrorCode.NOT_COORDINATOR],
      [new AppendError(ErrorCode.RECORD_LIST_TOO_LARGE), ErrorCode.UNKNOWN_SERVER_ERROR],
      [new Error('disk on fire'), ErrorCode.UNKNOWN_SERVER_ERROR],
    ];
    for (const [failure, expected] of cases) {
      h.log.failNext(failure);
      const response = await a.commit([{ topic: 'orders', partition: 0, offset: 1n }, { topic: 'orders', partition: 1, offset: 1n }]);
      expect(response.topics[0]?.partitions.map((p) => p.errorCode)).toEqual([expected, expected]);
    }
    expect(await fetchOne(h, GROUP_ID, 'orders', 0)).toBe(-1n);
  });

  it('keeps a member alive through its commits alone', async () => {
    const h = new Harness();
    const a = new TestClient(h, 'a', { sessionTimeoutMs: 10_000 });
    await formStableGroup(h, [a]);
    for (let i = 0; i < 10; i++) {
      await h.advance(6_000);
      expect((await a.commit([{ topic: 'orders', partition: 0, offset: BigInt(i) }])).topics[0]?.partitions[0]?.errorCode).toBe(0);
    }
    expect(await a.heartbeat()).toBe(0);
  });
});

describe('fail-over', () => {
  it('rebuilds offsets and the Stable group from the emitted records', async () => {
    const h = new Harness();
    const [a, b] = ['a', 'b'].map((n) => new TestClient(h, n, { sessionTimeoutMs: 10_000 }));
    if (a === undefined || b === undefined) throw new Error('clients');
    await formStableGroup(h, [a, b]);
    await a.commit([{ topic: 'orders', partition: 0, offset: 100n, metadata: 'm0' }]);
    await b.commit([{ topic: 'orders', partition: 1, offset: 200n }]);
    await a.commit([{ topic: 'orders', partition: 0, offset: 150n }]);
    const admin = await h.coordinator.offsetCommit(
      commitRequest('', -1, [{ topic: 'audit', partition: 0, offset: 7n }], { groupId: 'admin-group' }),
      requestContext(8),
    );
    expect(admin.topics[0]?.partitions[0]?.errorCode).toBe(0);
    const before = h.coordinator.inspect();

    h.failOver(); // a new coordinator loads the log written so far
    const after = h.coordinator.inspect();
    expect(after.offsets).toEqual(before.offsets);
    const stable = after.groups.find((g) => g.groupId === GROUP_ID);
    const original = before.groups.find((g) => g.groupId === GROUP_ID);
    expect(stable).toMatchObject({ state: 'Stable', generationId: 1, leaderId: a.memberId, protocolName: 'range', protocolType: 'consumer' });
    expect(stable?.members.map((m) => [m.memberId, m.assignment])).toEqual(original?.members.map((m) => [m.memberId, m.assignment]));
    expect(stable?.subscribedTopics).toEqual(['orders']);
    expect(await fetchOne(h, GROUP_ID, 'orders', 0)).toBe(150n);
    expect(await fetchOne(h, 'admin-group', 'audit', 0)).toBe(7n);

    // Sessions restart on load: a heartbeats and stays, b is gone for good.
    for (let i = 0; i < 4; i++) {
      await h.advance(3_000);
      expect(await a.heartbeat()).toBe(i < 3 ? 0 : ErrorCode.REBALANCE_IN_PROGRESS);
    }
    expect(h.coordinator.inspect().groups.find((g) => g.groupId === GROUP_ID)?.members.map((m) => m.memberId)).toEqual([a.memberId]);
    h.coordinator.checkInvariants();
  });

  it('answers COORDINATOR_LOAD_IN_PROGRESS until loaded, and NOT_COORDINATOR to parked requests on shutdown', async () => {
    const h = new Harness();
    const loading = h.newCoordinator();
    expect((await loading.joinGroup(commitlessJoin(), requestContext(5))).errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    expect((await loading.heartbeat({ groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null }, requestContext(3))).errorCode).toBe(0);
    expect((await loading.listGroups({ statesFilter: [], typesFilter: [] }, requestContext(4))).errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);

    const a = new TestClient(h, 'a');
    const parked = await a.joinParked();
    h.coordinator.shutdown();
    await h.flush();
    expect(parked.result.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect((await a.heartbeat())).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(h.coordinator.status).toBe('shutdown');
    expect(h.time.pendingTimers).toBe(0);
  });
});

function commitlessJoin() {
  return { groupId: 'g', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [], reason: null };
}

describe('offset retention', () => {
  it('expires an Empty group offsets retention after the group became empty, then deletes the group', async () => {
    const h = new Harness({ config: { groupMaxSessionTimeoutMs: 3_600_000 } });
    const a = new TestClient(h, 'a', { sessionTimeoutMs: 1_800_000, rebalanceTimeoutMs: 60_000 });
    await formStableGroup(h, [a]);
    await a.commit([{ topic: 'orders', partition: 0, offset: 5n }, { topic: 'legacy', partition: 0, offset: 9n }]);

    // Stable for 8 days: the subscribed topic's offset is kept, the unsubscribed one expires 7 days after its commit.
    for (let elapsed = 0; elapsed < 8 * DAY_MS; elapsed += 20 * 60_000) {
      await h.advance(20 * 60_000);
      expect(await a.heartbeat()).toBe(0);
    }
    expect(committed(h)).toEqual([`${GROUP_ID}/orders-0@5`]);

    // The group empties now; its offsets are kept for offsets.retention.minutes from this moment.
    await a.leave();
    await h.flush();
    await h.advance(7 * DAY_MS - 20 * 60_000);
    expect(committed(h)).toEqual([`${GROUP_ID}/orders-0@5`]);
    await h.advance(30 * 60_000);
    expect(committed(h)).toEqual([]);
    expect(h.coordinator.inspect().groups).toEqual([]);
    expect(describeRecords(h.log.records).slice(-3)).toEqual([
      `group ${GROUP_ID} gen 2`,
      `offset ${GROUP_ID}/orders-0 tombstone`,
      `group ${GROUP_ID} tombstone`,
    ]);
    // Replaying the log agrees.
    h.failOver();
    expect(h.coordinator.inspect()).toMatchObject({ groups: [], offsets: [] });
  });

  it('expires simple-group offsets from their commit time and honours an explicit retention (v2-v4)', async () => {
    const h = new Harness({ config: { offsetsRetentionMs: DAY_MS, offsetsRetentionCheckIntervalMs: 60_000 } });
    await h.coordinator.offsetCommit(commitRequest('', -1, [{ topic: 't', partition: 0, offset: 1n }], { groupId: 'simple' }), requestContext(8));
    await h.coordinator.offsetCommit(
      commitRequest('', -1, [{ topic: 't', partition: 1, offset: 2n }], { groupId: 'simple', retentionTimeMs: BigInt(3 * DAY_MS) }),
      requestContext(2),
    );
    await h.advance(DAY_MS + 60_000);
    expect(committed(h)).toEqual(['simple/t-1@2']);
    await h.advance(2 * DAY_MS);
    expect(committed(h)).toEqual([]);
    expect(h.coordinator.inspect().groups).toEqual([]);
  });
});

describe('DeleteGroups and OffsetDelete', () => {
  it('deletes only Empty groups, with their offsets, and reports the others', async () => {
    const h = new Harness();
    const a = new TestClient(h, 'a');
    await formStableGroup(h, [a]);
    await a.commit([{ topic: 'orders', partition: 0, offset: 1n }]);
    await h.coordinator.offsetCommit(commitRequest('', -1, [{ topic: 'orders', partition: 0, offset: 3n }], { groupId: 'idle' }), requestContext(8));

    const first = await h.coordinator.deleteGroups({ groupsNames: [GROUP_ID, 'idle', 'ghost'] }, requestContext(2));
    expect(first.results).toEqual([
      { groupId: GROUP_ID, errorCode: ErrorCode.NON_EMPTY_GROUP },
      { groupId: 'idle', errorCode: 0 },
      { groupId: 'ghost', errorCode: ErrorCode.GROUP_ID_NOT_FOUND },
    ]);
    expect(committed(h)).toEqual([`${GROUP_ID}/orders-0@1`]);
    expect(describeRecords(h.log.records).slice(-2)).toEqual(['offset idle/orders-0 tombstone', 'group idle tombstone']);

    await a.leave();
    await h.flush();
    h.log.failNext(new AppendError(ErrorCode.NOT_LEADER_OR_FOLLOWER));
    const failed = await h.coordinator.deleteGroups({ groupsNames: [GROUP_ID] }, requestContext(2));
    expect(failed.results).toEqual([{ groupId: GROUP_ID, errorCode: ErrorCode.NOT_COORDINATOR }]);
    expect(h.coordinator.inspect().groups.map((g) => [g.groupId, g.state, g.generationId])).toEqual([[GROUP_ID, 'Empty', 2]]);
    const retried = await h.coordinator.deleteGroups({ groupsNames: [GROUP_ID] }, requestContext(2));
    expect(retried.results).toEqual([{ groupId: GROUP_ID, errorCode: 0 }]);
    expect(h.coordinator.inspect()).toMatchObject({ groups: [], offsets: [] });
    h.failOver();
    expect(h.coordinator.inspect()).toMatchObject({ groups: [], offsets: [] });
  });

  it('refuses to delete offsets of topics a Stable consumer group is subscribed to', async () => {
    const h = new Harness();
    const a = new TestClient(h, 'a');
    await formStableGroup(h, [a]);
    await a.commit([{ topic: 'orders', partition: 0, offset: 1n }, { topic: 'old', partition: 0, offset: 2n }]);
    const response = await h.coordinator.offsetDelete(
      { groupId: GROUP_ID, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0 }] }, { name: 'old', partitions: [{ partitionIndex: 0 }, { partitionIndex: 1 }] }] },
      requestContext(0),
    );
    expect(response).toEqual({
      errorCode: 0,
      throttleTimeMs: 0,
      topics: [
        { name: 'orders', partitions: [{ partitionIndex: 0, errorCode: ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC }] },
        { name: 'old', partitions: [{ partitionIndex: 0, errorCode: 0 }, { partitionIndex: 1, errorCode: 0 }] },
      ],
    });
    expect(committed(h)).toEqual([`${GROUP_ID}/orders-0@1`]);
    expect((await h.coordinator.offsetDelete({ groupId: 'ghost', topics: [] }, requestContext(0))).errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
    expect((await h.coordinator.offsetDelete({ groupId: '', topics: [] }, requestContext(0))).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
  });

  it('refuses OffsetDelete on a non-empty group of another protocol type', async () => {
    const h = new Harness();
    const join = h.coordinator.joinGroup(
      { groupId: 'connect', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', groupInstanceId: null, protocolType: 'connect', protocols: [{ name: 'sessioned', metadata: Buffer.from('x') }], reason: null },
      requestContext(3),
    );
    await h.advance(3_000);
    expect((await join).errorCode).toBe(0);
    const response = await h.coordinator.offsetDelete({ groupId: 'connect', topics: [{ name: 't', partitions: [{ partitionIndex: 0 }] }] }, requestContext(0));
    expect(response.errorCode).toBe(ErrorCode.NON_EMPTY_GROUP);
  });
});

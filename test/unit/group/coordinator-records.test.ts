/**
 * `__consumer_offsets` record bytes, checked against the layout Kafka writes (hand-assembled here, not
 * produced by the codecs under test), and the load of records older Kafka versions wrote.
 */
import { describe, expect, it } from 'vitest';
import { Writer } from '../../../broker/src/protocol/wire/writer.ts';
import { writeGroupMetadataValue } from '../../../broker/src/protocol/generated/group-coordinator/group-metadata-value.ts';
import { writeOffsetCommitValue } from '../../../broker/src/protocol/generated/group-coordinator/offset-commit-value.ts';
import { writeOffsetCommitKey } from '../../../broker/src/protocol/generated/group-coordinator/offset-commit-key.ts';
import { CoordinatorLoadError, GroupCoordinator, decodeCoordinatorRecord } from '../../../broker/src/group/index.ts';
import { offsetCommitRecord, offsetCommitTombstone, groupMetadataTombstone } from '../../../broker/src/group/coordinator-records.ts';
import { SimulatedTime } from './support/simulated-time.ts';
import { consumerSubscription, requestContext } from './support/builders.ts';

const int16 = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(v);
  return b;
};
const int32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
};
const int64 = (v: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(v);
  return b;
};
const str = (s: string | null): Buffer => (s === null ? int16(-1) : Buffer.concat([int16(Buffer.byteLength(s)), Buffer.from(s)]));
const bytes = (b: Buffer): Buffer => Buffer.concat([int32(b.length), b]);

function newLoadingCoordinator(): GroupCoordinator {
  return new GroupCoordinator({ time: new SimulatedTime(), append: () => Promise.resolve(), randomUuid: () => '00000000-0000-4000-8000-000000000000' });
}

describe('coordinator record format', () => {
  it('writes offset commits as key type 1 with value version 3, or 1 when an expiry is set', () => {
    const plain = offsetCommitRecord('g', 'orders', 7, { committedOffset: 1234n, leaderEpoch: 5, metadata: 'meta', commitTimestampMs: 1_700_000_000_123, expireTimestampMs: null });
    expect(plain.key).toEqual(Buffer.concat([int16(1), str('g'), str('orders'), int32(7)]));
    expect(plain.value).toEqual(Buffer.concat([int16(3), int64(1234n), int32(5), str('meta'), int64(1_700_000_000_123n)]));

    const expiring = offsetCommitRecord('g', 'orders', 7, { committedOffset: 1n, leaderEpoch: -1, metadata: '', commitTimestampMs: 10, expireTimestampMs: 99 });
    expect(expiring.value).toEqual(Buffer.concat([int16(1), int64(1n), str(''), int64(10n), int64(99n)]));

    expect(offsetCommitTombstone('g', 'orders', 7)).toEqual({ key: plain.key, value: null });
    expect(groupMetadataTombstone('g')).toEqual({ key: Buffer.concat([int16(2), str('g')]), value: null });
  });

  it('writes group metadata as key type 2 with value version 3', async () => {
    const records: Buffer[] = [];
    const time = new SimulatedTime();
    const live = new GroupCoordinator({
      time,
      append: (rs) => {
        for (const r of rs) if (r.value !== null) records.push(Buffer.concat([r.key, Buffer.from('|'), r.value]));
        return Promise.resolve();
      },
      randomUuid: () => '11111111-2222-4333-8444-555555555555',
      config: { groupInitialRebalanceDelayMs: 0 },
    });
    live.load([]);
    const metadata = consumerSubscription(['orders']);
    const join = live.joinGroup(
      { groupId: 'g', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 20_000, memberId: '', groupInstanceId: 'i-1', protocolType: 'consumer', protocols: [{ name: 'range', metadata }], reason: null },
      requestContext(5, 'client-1', '/10.1.2.3'),
    );
    await time.advance(0);
    const joined = await join;
    await live.syncGroup(
      { groupId: 'g', generationId: 1, memberId: joined.memberId, groupInstanceId: 'i-1', protocolType: null, protocolName: null, assignments: [{ memberId: joined.memberId, assignment: Buffer.from([1, 2, 3]) }] },
      requestContext(3),
    );
    const memberId = 'i-1-11111111-2222-4333-8444-555555555555';
    expect(joined.memberId).toBe(memberId);
    expect(records).toEqual([
      Buffer.concat([
        int16(2), str('g'), Buffer.from('|'),
        int16(3), str('consumer'), int32(1), str('range'), str(memberId), int64(BigInt(time.nowMs())),
        int32(1), str(memberId), str('i-1'), str('client-1'), str('/10.1.2.3'), int32(20_000), int32(10_000), bytes(metadata), bytes(Buffer.from([1, 2, 3])),
      ]),
    ]);
  });

  it('loads records of every value version older Kafka versions wrote, and skips unknown record types', () => {
    const encode = (version: number, body: (w: Writer) => void): Buffer => {
      const w = new Writer();
      w.int16(version);
      body(w);
      return w.toBuffer();
    };
    const key = (v: number, group: string, topic: string, partition: number) => encode(v, (w) => writeOffsetCommitKey(w, { group, topic, partition }, v));
    const offsetValue = (v: number, offset: bigint) =>
      encode(v, (w) => writeOffsetCommitValue(w, { offset, leaderEpoch: v >= 3 ? 2 : -1, metadata: `v${v}`, commitTimestamp: 1_000n, expireTimestamp: v === 1 ? 5_000n : -1n }, v));
    const groupValue = (v: number) =>
      encode(v, (w) =>
        writeGroupMetadataValue(
          w,
          {
            protocolType: 'consumer',
            generation: 4,
            protocol: 'range',
            leader: 'm-1',
            currentStateTimestamp: v >= 2 ? 777n : -1n,
            members: [
              { memberId: 'm-1', groupInstanceId: v >= 3 ? 'i-1' : null, clientId: 'c', clientHost: 'h', rebalanceTimeout: v >= 1 ? 9_000 : -1, sessionTimeout: 6_000, subscription: consumerSubscription(['orders']), assignment: Buffer.from([9]) },
            ],
          },
          v,
        ),
      );
    const records = [
      ...[0, 1, 2, 3, 4].map((v) => ({ key: key(v < 2 ? v : 1, 'g', 'orders', v), value: offsetValue(v, BigInt(100 + v)) })),
      ...[0, 1, 2, 3, 4].map((v) => ({ key: encode(2, (w) => w.nullableString(`group-v${v}`)), value: groupValue(v) })),
      { key: encode(3, (w) => w.nullableString('kip-848-group')), value: Buffer.from([0, 0]) },
      { key: key(1, 'g', 'orders', 0), value: null },
    ];
    const coordinator = newLoadingCoordinator();
    expect(coordinator.load(records)).toEqual({ records: 12, offsetRecords: 6, groupRecords: 5, skippedRecords: 1, groups: 6, offsets: 4 });
    const snapshot = coordinator.inspect();
    expect(snapshot.offsets.map((o) => [o.partition, o.committedOffset, o.leaderEpoch, o.metadata, o.expireTimestampMs])).toEqual([
      [1, 101n, -1, 'v1', 5_000],
      [2, 102n, -1, 'v2', null],
      [3, 103n, 2, 'v3', null],
      [4, 104n, 2, 'v4', null],
    ]);
    const v0 = snapshot.groups.find((g) => g.groupId === 'group-v0');
    expect(v0).toMatchObject({ state: 'Stable', generationId: 4, currentStateTimestampMs: null, subscribedTopics: ['orders'] });
    expect(v0?.members[0]).toMatchObject({ groupInstanceId: null, rebalanceTimeoutMs: 6_000, sessionTimeoutMs: 6_000 });
    expect(snapshot.groups.find((g) => g.groupId === 'group-v4')?.members[0]).toMatchObject({ groupInstanceId: 'i-1', rebalanceTimeoutMs: 9_000 });
    coordinator.checkInvariants();
  });

  it('fails a load on undecodable bytes, naming the record', () => {
    const coordinator = newLoadingCoordinator();
    const good = offsetCommitRecord('g', 't', 0, { committedOffset: 1n, leaderEpoch: -1, metadata: '', commitTimestampMs: 0, expireTimestampMs: null });
    expect(() => coordinator.load([good, { key: Buffer.from([0, 1, 0]), value: null }])).toThrow(CoordinatorLoadError);
    expect(coordinator.status).toBe('loading');
    let caught: unknown;
    try {
      newLoadingCoordinator().load([good, good, { key: good.key, value: Buffer.from([0, 3, 1]) }]);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CoordinatorLoadError);
    expect((caught as CoordinatorLoadError).recordIndex).toBe(2);
  });

  it('round-trips what it writes', () => {
    const record = offsetCommitRecord('group', 'topic', 3, { committedOffset: 2n ** 62n, leaderEpoch: 1, metadata: 'é', commitTimestampMs: 5, expireTimestampMs: null });
    expect(decodeCoordinatorRecord(record)).toEqual({
      type: 'offset-commit',
      groupId: 'group',
      topic: 'topic',
      partition: 3,
      value: { committedOffset: 2n ** 62n, leaderEpoch: 1, metadata: 'é', commitTimestampMs: 5, expireTimestampMs: null },
    });
  });
});

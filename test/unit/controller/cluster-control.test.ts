import { describe, expect, it } from 'vitest';
import { ClusterControl } from '../../../broker/src/controller/cluster-control.ts';
import { MetadataImage, NO_LEADER } from '../../../broker/src/metadata/metadata-image.ts';
import { metadataRecord, type MetadataRecord } from '../../../broker/src/metadata/metadata-record.ts';
import { ErrorCode } from '../../../broker/src/protocol/error-codes.ts';
import { ZERO_UUID, type Uuid } from '../../../broker/src/protocol/wire/uuid.ts';
import { defaultBrokerHeartbeatRequest, defaultBrokerRegistrationRequest } from '../../../broker/src/protocol/generated/index.ts';

const CLUSTER = 'c1-AAAAAAAAAAAAAAAAAAA';
const TOPIC_ID = 'AAAAAAAAAAAAAAAAAAAAAQ' as Uuid;
const incarnation = (n: number): Uuid => `AAAAAAAAAAAAAAAAAAAAA${String.fromCharCode(65 + n)}`;

function setup(): { image: MetadataImage; control: ClusterControl; commit: (records: readonly MetadataRecord[]) => void } {
  const image = new MetadataImage();
  let offset = 0n;
  const commit = (records: readonly MetadataRecord[]): void => {
    if (records.length === 0) return;
    offset += BigInt(records.length);
    image.applyBatch(records, offset - 1n);
  };
  commit([metadataRecord(12, { name: 'metadata.version', featureLevel: 25 })]);
  const control = new ClusterControl({ image, clusterId: CLUSTER, sessionTimeoutMs: 9000, finalizedFeatures: () => image.features });
  return { image, control, commit };
}

function registration(brokerId: number, inc = incarnation(brokerId)) {
  return {
    ...defaultBrokerRegistrationRequest(), brokerId, clusterId: CLUSTER, incarnationId: inc, rack: null,
    listeners: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 + brokerId, securityProtocol: 0 }],
    features: [{ name: 'metadata.version', minSupportedVersion: 7, maxSupportedVersion: 25 }],
  };
}

function heartbeat(brokerId: number, brokerEpoch: bigint, currentMetadataOffset: bigint, extra: { wantFence?: boolean; wantShutDown?: boolean } = {}) {
  return { ...defaultBrokerHeartbeatRequest(), brokerId, brokerEpoch, currentMetadataOffset, wantFence: extra.wantFence ?? false, wantShutDown: extra.wantShutDown ?? false };
}

/** Registers and unfences brokers; returns their epochs. */
function liveBrokers(s: ReturnType<typeof setup>, ids: readonly number[], now = 0): Map<number, bigint> {
  const epochs = new Map<number, bigint>();
  for (const id of ids) {
    const r = s.control.register(registration(id), now);
    expect(r.response.errorCode).toBe(ErrorCode.NONE);
    s.commit(r.records);
    epochs.set(id, r.response.brokerEpoch);
    const h = s.control.heartbeat(heartbeat(id, r.response.brokerEpoch, s.image.lastAppliedOffset), now);
    expect(h.response.isFenced).toBe(false);
    s.commit(h.records);
  }
  return epochs;
}

function addTopic(s: ReturnType<typeof setup>, assignments: readonly number[][]): void {
  s.commit([
    metadataRecord(2, { name: 't', topicId: TOPIC_ID }),
    ...assignments.map((replicas, partitionId) => metadataRecord(3, {
      partitionId, topicId: TOPIC_ID, replicas: [...replicas], isr: [...replicas], removingReplicas: [], addingReplicas: [],
      leader: replicas[0] ?? -1, leaderRecoveryState: 0, leaderEpoch: 0, partitionEpoch: 0, directories: replicas.map(() => ZERO_UUID),
      eligibleLeaderReplicas: null, lastKnownElr: null,
    })),
  ]);
}

describe('ClusterControl', () => {
  it('registers a broker fenced and unfences it only once it has applied its registration', () => {
    const s = setup();
    const r = s.control.register(registration(1), 0);
    s.commit(r.records);
    expect(s.image.brokers.get(1)?.fenced).toBe(true);
    const behind = s.control.heartbeat(heartbeat(1, r.response.brokerEpoch, s.image.lastAppliedOffset - 1n), 100);
    expect(behind.response).toMatchObject({ isFenced: true, isCaughtUp: false });
    expect(behind.records).toHaveLength(0);
    const wantsFence = s.control.heartbeat(heartbeat(1, r.response.brokerEpoch, s.image.lastAppliedOffset, { wantFence: true }), 200);
    expect(wantsFence.response).toMatchObject({ isFenced: true, isCaughtUp: true });
    const caughtUp = s.control.heartbeat(heartbeat(1, r.response.brokerEpoch, s.image.lastAppliedOffset), 300);
    expect(caughtUp.response).toMatchObject({ isFenced: false, isCaughtUp: true });
    s.commit(caughtUp.records);
    expect(s.image.brokers.get(1)?.fenced).toBe(false);
  });

  it('refuses a wrong cluster id, a second live process with the same id, stale epochs and unknown brokers', () => {
    const s = setup();
    expect(s.control.register({ ...registration(1), clusterId: 'other' }, 0).response.errorCode).toBe(ErrorCode.INCONSISTENT_CLUSTER_ID);
    const epochs = liveBrokers(s, [1]);
    expect(s.control.register(registration(1, incarnation(9)), 1000).response.errorCode).toBe(ErrorCode.DUPLICATE_BROKER_REGISTRATION);
    // After the session expired, the new incarnation may take the id over (a restarted broker).
    const again = s.control.register(registration(1, incarnation(9)), 20_000);
    expect(again.response.errorCode).toBe(ErrorCode.NONE);
    expect(again.response.brokerEpoch).toBeGreaterThan(epochs.get(1) ?? 0n);
    expect(s.control.heartbeat(heartbeat(1, epochs.get(1) ?? 0n, 0n), 20_000).response.errorCode).toBe(ErrorCode.NONE);
    s.commit(again.records);
    expect(s.control.heartbeat(heartbeat(1, epochs.get(1) ?? 0n, 0n), 20_000).response.errorCode).toBe(ErrorCode.STALE_BROKER_EPOCH);
    expect(s.control.heartbeat(heartbeat(7, 1n, 0n), 0).response.errorCode).toBe(ErrorCode.BROKER_ID_NOT_REGISTERED);
    const tooOld = { ...registration(2), features: [{ name: 'metadata.version', minSupportedVersion: 1, maxSupportedVersion: 7 }] };
    expect(s.control.register(tooOld, 0).response.errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
  });

  it('fences a broker whose session expires and moves its leaderships to live ISR members', () => {
    const s = setup();
    const epochs = liveBrokers(s, [1, 2, 3]);
    addTopic(s, [[1, 2], [2, 1], [1], [3]]);
    for (const id of [2, 3]) s.control.heartbeat(heartbeat(id, epochs.get(id) ?? 0n, s.image.lastAppliedOffset), 8000);
    expect(s.control.expireSession(8999)).toEqual([]);
    const records = s.control.expireSession(9000);
    s.commit(records);
    expect(s.image.brokers.get(1)?.fenced).toBe(true);
    const p = (i: number) => s.image.topicPartition('t', i);
    expect(p(0)).toMatchObject({ leader: 2, isr: [2], leaderEpoch: 1 });
    expect(p(1)).toMatchObject({ leader: 2, isr: [2], leaderEpoch: 0 });
    // RF 1: offline, the ISR keeps its last member.
    expect(p(2)).toMatchObject({ leader: NO_LEADER, isr: [1] });
    expect(p(3)).toMatchObject({ leader: 3, isr: [3] });
    expect(s.control.expireSession(9000)).toEqual([]);

    // The broker comes back (new process): registered fenced, then unfenced -> leads its offline partition again.
    const r = s.control.register(registration(1, incarnation(8)), 10_000);
    s.commit(r.records);
    const h = s.control.heartbeat(heartbeat(1, r.response.brokerEpoch, s.image.lastAppliedOffset), 10_100);
    s.commit(h.records);
    expect(p(2)).toMatchObject({ leader: 1, isr: [1] });
  });

  it('a newly active controller gives every broker a fresh session', () => {
    const s = setup();
    liveBrokers(s, [1, 2], 0);
    s.control.activate(50_000);
    expect(s.control.expiredBrokers(58_999)).toEqual([]);
    expect(s.control.expiredBrokers(59_000)).toEqual([1, 2]);
  });

  it('controlled shutdown moves leaderships away, fences the broker and tells it to stop', () => {
    const s = setup();
    const epochs = liveBrokers(s, [1, 2]);
    addTopic(s, [[1, 2], [1]]);
    const h = s.control.heartbeat(heartbeat(1, epochs.get(1) ?? 0n, s.image.lastAppliedOffset, { wantShutDown: true }), 100);
    expect(h.response).toMatchObject({ shouldShutDown: true, isFenced: true });
    s.commit(h.records);
    expect(s.image.brokers.get(1)).toMatchObject({ fenced: true, inControlledShutdown: true });
    expect(s.image.topicPartition('t', 0)).toMatchObject({ leader: 2, isr: [2] });
    expect(s.image.topicPartition('t', 1)).toMatchObject({ leader: NO_LEADER, isr: [1] });
  });

  it('unregistering removes the broker after moving its leaderships', () => {
    const s = setup();
    liveBrokers(s, [1, 2]);
    addTopic(s, [[1, 2]]);
    const out = s.control.unregister(1);
    expect(out.errorCode).toBe(ErrorCode.NONE);
    s.commit(out.records);
    expect(s.image.brokers.has(1)).toBe(false);
    expect(s.image.topicPartition('t', 0)).toMatchObject({ leader: 2, isr: [2] });
    expect(s.control.unregister(1).errorCode).toBe(ErrorCode.BROKER_ID_NOT_REGISTERED);
  });
});

describe('ClusterControl after a controller failover', () => {
  it('accepts a restarted broker (new incarnation) that nobody heard from since activation, refuses one heard from', () => {
    const s = setup();
    liveBrokers(s, [1, 2]);
    s.control.activate(100_000);
    expect(s.control.register(registration(1, incarnation(7)), 100_500).response.errorCode).toBe(ErrorCode.NONE);
    const epoch2 = s.image.brokers.get(2)?.epoch ?? 0n;
    s.control.heartbeat(heartbeat(2, epoch2, s.image.lastAppliedOffset), 100_600);
    expect(s.control.register(registration(2, incarnation(7)), 100_700).response.errorCode).toBe(ErrorCode.DUPLICATE_BROKER_REGISTRATION);
  });
});

import { describe, expect, it } from 'vitest';
import { MetadataImage, ConfigResourceType } from '../../../broker/src/metadata/metadata-image.ts';
import { decodeMetadataRecord, encodeMetadataRecord, metadataRecord } from '../../../broker/src/metadata/metadata-record.ts';
import { ZERO_UUID, type Uuid } from '../../../broker/src/protocol/wire/uuid.ts';

const T1 = 'AAAAAAAAAAAAAAAAAAAAAQ' as Uuid;
const T2 = 'AAAAAAAAAAAAAAAAAAAAAg' as Uuid;

function sample(): MetadataImage {
  const image = new MetadataImage();
  const partition = (topicId: Uuid, partitionId: number, replicas: number[], leader: number) => metadataRecord(3, {
    partitionId, topicId, replicas, isr: replicas, removingReplicas: [], addingReplicas: [], leader, leaderRecoveryState: 0,
    leaderEpoch: 0, partitionEpoch: 0, directories: replicas.map(() => ZERO_UUID), eligibleLeaderReplicas: null, lastKnownElr: null,
  });
  image.applyBatch([
    metadataRecord(12, { name: 'metadata.version', featureLevel: 25 }),
    ...[1, 2].map((brokerId) => metadataRecord(0, {
      brokerId, isMigratingZkBroker: false, incarnationId: T1, brokerEpoch: BigInt(brokerId), rack: brokerId === 1 ? 'a' : null,
      endPoints: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9000 + brokerId, securityProtocol: 0 }], features: [],
      fenced: brokerId === 2, inControlledShutdown: false, logDirs: [],
    })),
    metadataRecord(4, { resourceType: ConfigResourceType.broker, resourceName: '', name: 'log.retention.ms', value: '1000' }),
    metadataRecord(2, { name: 'orders', topicId: T1 }),
    metadataRecord(4, { resourceType: ConfigResourceType.topic, resourceName: 'orders', name: 'cleanup.policy', value: 'compact' }),
    partition(T1, 0, [1, 2], 1), partition(T1, 1, [2, 1], 2),
    metadataRecord(2, { name: 'events', topicId: T2 }),
    partition(T2, 0, [1], 1),
    metadataRecord(15, { brokerId: 1, brokerEpoch: 1n, nextProducerId: 2000n }),
  ], 10n);
  image.applyBatch([metadataRecord(5, {
    partitionId: 1, topicId: T1, isr: [2], leader: 2, replicas: null, removingReplicas: null, addingReplicas: null,
    leaderRecoveryState: -1, directories: null, eligibleLeaderReplicas: null, lastKnownElr: null,
  })], 11n);
  return image;
}

const view = (image: MetadataImage) => ({
  features: [...image.features],
  brokers: [...image.brokers.values()].map(({ registeredAtOffset: _ignored, ...b }) => b),
  topics: [...image.topicsByName.values()].map((t) => ({ name: t.name, id: t.id, partitions: [...t.partitions.values()] })),
  configs: [...image.configs].map(([k, v]) => [k, [...v]]),
  nextProducerId: image.nextProducerId,
});

describe('metadata snapshot records', () => {
  it('replaying the snapshot of an image (through the wire encoding) rebuilds the same image', () => {
    const image = sample();
    const replayed = new MetadataImage();
    replayed.applyBatch(image.snapshotRecords().map((r) => decodeMetadataRecord(encodeMetadataRecord(r))), image.lastAppliedOffset);
    expect(view(replayed)).toEqual(view(image));
  });

  it('reset empties the image', () => {
    const image = sample();
    image.reset();
    expect(view(image)).toEqual(view(new MetadataImage()));
    expect(image.lastAppliedOffset).toBe(-1n);
  });
});

describe('MetadataLoader snapshot policy', () => {
  it('snapshots the image after enough bytes, at the end of the batch that crossed the threshold', async () => {
    const { MetadataLoader } = await import('../../../broker/src/metadata/metadata-loader.ts');
    const pino = (await import('pino')).default;
    const snapshots: { end: bigint; epoch: number; records: number }[] = [];
    const quorum = {
      propose: () => Promise.reject(new Error('not used')),
      createSnapshot: (end: bigint, epoch: number, records: readonly Buffer[]) => { snapshots.push({ end, epoch, records: records.length }); return Promise.resolve(); },
    };
    const image = new MetadataImage();
    const loader = new MetadataLoader(image, quorum, pino({ level: 'silent' }), { maxBytesBetweenSnapshots: 200, maxIntervalMs: 0 });
    let offset = 0n;
    const commit = (name: string): void => {
      const records = [encodeMetadataRecord(metadataRecord(4, { resourceType: ConfigResourceType.broker, resourceName: '', name, value: 'x'.repeat(40) }))];
      loader.handleCommit({ baseOffset: offset, lastOffset: offset, epoch: 3, appendTimestamp: 0, records });
      offset += 1n;
    };
    for (let i = 0; i < 3; i++) commit(`k${i}`);
    expect(snapshots).toEqual([]);
    commit('k3');
    await Promise.resolve();
    expect(snapshots).toEqual([{ end: 4n, epoch: 3, records: 4 }]);
    // Loading a snapshot replaces the image.
    loader.handleLoadSnapshot({ offset: 10n, epoch: 4, records: [encodeMetadataRecord(metadataRecord(12, { name: 'metadata.version', featureLevel: 25 }))] });
    expect(image.configs.size).toBe(0);
    expect(image.features.get('metadata.version')).toBe(25);
    expect(image.lastAppliedOffset).toBe(9n);
  });
});

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

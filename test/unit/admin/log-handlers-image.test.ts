/**
 * The partition admin handlers on a hand-built metadata image with three brokers (one fenced), which a
 * single-node broker cannot produce: elections that really move leadership, leaders that are not alive, and
 * offline log dirs. The controller is a fake that applies written records to the image.
 */
import { describe, expect, it } from 'vitest';
import { createLogHandlers, TOPIC_OPERATIONS_ALL } from '../../../broker/src/api/log-handlers.ts';
import { LogError } from '../../../broker/src/log/errors.ts';
import { MetadataImage } from '../../../broker/src/metadata/metadata-image.ts';
import { metadataRecord, type MetadataRecord } from '../../../broker/src/metadata/metadata-record.ts';
import { ErrorCode } from '../../../broker/src/protocol/error-codes.ts';
import {
  defaultDescribeLogDirsRequest, defaultDescribeTopicPartitionsRequest, defaultElectLeadersRequest, defaultPartitionRecord, defaultRegisterBrokerRecord,
  type ElectLeadersResponse,
} from '../../../broker/src/protocol/generated/index.ts';
import type { RequestContext } from '../../../broker/src/server/request-context.ts';

const TOPIC_ID = 'dGhyZWUtYnJva2VyLXRvcA';
const ctx = (apiKey: number, apiVersion: number): RequestContext => ({
  apiKey, apiVersion, correlationId: 1, clientId: null, clientHost: '127.0.0.1', connectionId: 'test', listenerName: 'PLAINTEXT',
});

function setup() {
  const image = new MetadataImage();
  const broker = (brokerId: number, fenced: boolean): MetadataRecord => metadataRecord(0, {
    ...defaultRegisterBrokerRecord(), brokerId, fenced, rack: null,
    endPoints: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9000 + brokerId, securityProtocol: 0 }],
  });
  const partition = (partitionId: number, replicas: number[], isr: number[], leader: number): MetadataRecord => metadataRecord(3, {
    ...defaultPartitionRecord(), partitionId, topicId: TOPIC_ID, replicas, isr, leader, leaderEpoch: 0, partitionEpoch: 0,
  });
  image.applyBatch([
    broker(1, false), broker(2, false), broker(3, true),
    metadataRecord(2, { name: 'spread', topicId: TOPIC_ID }),
    partition(0, [2, 1], [1, 2], 1), // preferred replica 2 is in the ISR but does not lead
    partition(1, [3, 1], [1], 1), // preferred replica 3 is fenced and out of the ISR
    partition(2, [3, 2], [3], -1), // no leader; the only ISR member is fenced
    partition(3, [3], [3], -1), // no leader and no live replica
  ], 0n);
  let offset = 0n;
  const written: MetadataRecord[][] = [];
  const handlers = createLogHandlers({
    image,
    controller: { write: (records) => { written.push([...records]); image.applyBatch(records, ++offset); return Promise.resolve(); } },
    replicas: { leaderPartition: () => ({ ok: false, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER }), hostedPartitions: [] },
    logManager: {
      logDirs: [{ path: '/data/a', meta: null, error: null }, { path: '/data/b', meta: null, error: new LogError('LOG_IO', 'disk gone') }],
      logDirOf: () => undefined,
    },
    statVolume: (path) => { if (path !== '/data/a') throw new Error(`unexpected ${path}`); return { totalBytes: 1000n, usableBytes: 400n }; },
  });
  return { image, handlers, written };
}

const results = (res: ElectLeadersResponse | null) => res?.replicaElectionResults.flatMap((r) => r.partitionResult.map((p) => [r.topic, p.partitionId, p.errorCode]));

describe('partition admin handlers on a three-broker image', () => {
  it('elects the preferred replica from the ISR, or reports it unavailable', async () => {
    const { image, handlers, written } = setup();
    const elect = handlers[43];
    if (elect === undefined) throw new Error('no ElectLeaders handler');
    const res = await elect(ctx(43, 2), { ...defaultElectLeadersRequest(), electionType: 0, topicPartitions: [{ topic: 'spread', partitions: [0, 1] }] });
    expect(results(res)).toEqual([['spread', 0, ErrorCode.NONE], ['spread', 1, ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE]]);
    expect(written).toHaveLength(1);
    expect(image.topicPartition('spread', 0)).toMatchObject({ leader: 2, leaderEpoch: 1, isr: [1, 2] });
    expect(image.topicPartition('spread', 1)).toMatchObject({ leader: 1, leaderEpoch: 0 });
    // Now led by its preferred replica: nothing more to do, and nothing written.
    const again = await elect(ctx(43, 2), { ...defaultElectLeadersRequest(), electionType: 0, topicPartitions: [{ topic: 'spread', partitions: [0] }] });
    expect(results(again)).toEqual([['spread', 0, ErrorCode.ELECTION_NOT_NEEDED]]);
    expect(written).toHaveLength(1);
  });

  it('elects an unclean leader from the live replicas when the ISR has none, else ELIGIBLE_LEADERS_NOT_AVAILABLE', async () => {
    const { image, handlers } = setup();
    const elect = handlers[43];
    if (elect === undefined) throw new Error('no ElectLeaders handler');
    const res = await elect(ctx(43, 2), { ...defaultElectLeadersRequest(), electionType: 1, topicPartitions: null });
    // All partitions: partition 0 and 1 have a leader (ELECTION_NOT_NEEDED) and are left out.
    expect(results(res)).toEqual([['spread', 2, ErrorCode.NONE], ['spread', 3, ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE]]);
    expect(image.topicPartition('spread', 2)).toMatchObject({ leader: 2, isr: [2], leaderEpoch: 1 });
    expect(image.topicPartition('spread', 3)).toMatchObject({ leader: -1, isr: [3] });
  });

  it('DescribeTopicPartitions reports a leader that is not alive as -1 and fenced replicas as offline', () => {
    const { handlers } = setup();
    const describeTopics = handlers[75];
    if (describeTopics === undefined) throw new Error('no DescribeTopicPartitions handler');
    const res = describeTopics(ctx(75, 0), { ...defaultDescribeTopicPartitionsRequest(), topics: [{ name: 'spread' }] });
    expect(res).toEqual({
      throttleTimeMs: 0,
      nextCursor: null,
      topics: [{
        errorCode: 0, name: 'spread', topicId: TOPIC_ID, isInternal: false, topicAuthorizedOperations: TOPIC_OPERATIONS_ALL,
        partitions: [
          { errorCode: 0, partitionIndex: 0, leaderId: 1, leaderEpoch: 0, replicaNodes: [2, 1], isrNodes: [1, 2], eligibleLeaderReplicas: [], lastKnownElr: [], offlineReplicas: [] },
          { errorCode: 0, partitionIndex: 1, leaderId: 1, leaderEpoch: 0, replicaNodes: [3, 1], isrNodes: [1], eligibleLeaderReplicas: [], lastKnownElr: [], offlineReplicas: [3] },
          { errorCode: 0, partitionIndex: 2, leaderId: -1, leaderEpoch: 0, replicaNodes: [3, 2], isrNodes: [3], eligibleLeaderReplicas: [], lastKnownElr: [], offlineReplicas: [3] },
          { errorCode: 0, partitionIndex: 3, leaderId: -1, leaderEpoch: 0, replicaNodes: [3], isrNodes: [3], eligibleLeaderReplicas: [], lastKnownElr: [], offlineReplicas: [3] },
        ],
      }],
    });
  });

  it('DescribeLogDirs answers an offline dir with KAFKA_STORAGE_ERROR and the volume space of the others', () => {
    const { handlers } = setup();
    const describeDirs = handlers[35];
    if (describeDirs === undefined) throw new Error('no DescribeLogDirs handler');
    const res = describeDirs(ctx(35, 4), { ...defaultDescribeLogDirsRequest(), topics: null });
    expect(res).toEqual({
      throttleTimeMs: 0, errorCode: 0,
      results: [
        { errorCode: 0, logDir: '/data/a', topics: [], totalBytes: 1000n, usableBytes: 400n },
        { errorCode: ErrorCode.KAFKA_STORAGE_ERROR, logDir: '/data/b', topics: [], totalBytes: -1n, usableBytes: -1n },
      ],
    });
  });
});

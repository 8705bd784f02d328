// Core messages <-> Kafka's raft RPCs: round trips through the real codecs, and the request validation
// Kafka's KafkaRaftClient applies (cluster id, topic partition, replica ids, voter keys).
import { describe, expect, it } from 'vitest';
import { API_SPECS, type ApiKey } from '../../../broker/src/protocol/generated/index.ts';
import { Reader } from '../../../broker/src/protocol/wire/reader.ts';
import { Writer } from '../../../broker/src/protocol/wire/writer.ts';
import type { RaftRequest, RaftResponse } from '../../../broker/src/raft/core/messages.ts';
import { ApiKeys, WireError, apiKeyOf, decodeRequest, decodeResponse, encodeRequest, encodeResponse, type WireContext } from '../../../broker/src/raft/driver/wire.ts';

const leaderCtx: WireContext = {
  clusterId: 'cluster-a',
  localId: 1,
  listenerName: 'CONTROLLER',
  endpoints: new Map([1, 2, 3].map((id) => [id, { id, host: `127.0.0.${id}`, port: 9093 }])),
  fetchMaxWaitMs: 500,
  fetchMaxBytes: 8 << 20,
  snapshotMaxBytes: 1 << 20,
};
const followerCtx: WireContext = { ...leaderCtx, localId: 2 };

/** Encodes and decodes a message body with the generated codec at `version`, as it travels. */
function travel(apiKey: number, version: number, body: unknown, kind: 'request' | 'response'): unknown {
  const spec = API_SPECS[apiKey as ApiKey];
  const w = new Writer(256);
  (spec[kind].write as (w: Writer, v: unknown, version: number) => void)(w, body, version);
  return (spec[kind].read as (r: Reader, version: number) => unknown)(new Reader(w.toBuffer()), version);
}

/** Follower 2 -> leader 1 -> follower 2, through the codecs at `version`. */
function roundTrip(request: RaftRequest, version: number, answer: (decoded: RaftRequest) => RaftResponse): { decoded: RaftRequest; response: RaftResponse } {
  const apiKey = apiKeyOf(request);
  const wire = travel(apiKey, version, encodeRequest(followerCtx, request, version).body, 'request');
  const inbound = decodeRequest(leaderCtx, apiKey, version, wire);
  if (!inbound.ok) throw new Error(`rejected: ${JSON.stringify(inbound.response)}`);
  const wireResponse = travel(apiKey, version, encodeResponse(leaderCtx, answer(inbound.message), version), 'response');
  return { decoded: inbound.message, response: decodeResponse(request, wireResponse) };
}

describe('raft RPC mapping', () => {
  it('carries votes, including pre-votes, at every Vote version', () => {
    for (const version of [0, 1]) {
      for (const preVote of [false, true]) {
        const request: RaftRequest = { kind: 'VoteRequest', sourceId: 2, destinationId: 1, candidateEpoch: 5, candidateId: 2, lastOffsetEpoch: 4, lastOffset: 99, preVote };
        const { decoded, response } = roundTrip(request, version, (m) => ({ kind: 'VoteResponse', sourceId: 1, destinationId: m.sourceId, errorCode: 0, leaderEpoch: 5, leaderId: null, voteGranted: true, preVote: false }));
        expect(decoded).toEqual(request);
        expect(response).toEqual({ kind: 'VoteResponse', sourceId: 1, destinationId: 2, errorCode: 0, leaderEpoch: 5, leaderId: null, voteGranted: true, preVote });
      }
    }
  });

  it('carries fetches with ReplicaState (v15+) or ReplicaId, by topic id (v13+) or name', () => {
    for (const version of [12, 13, 14, 15, 16, 17]) {
      const request: RaftRequest = { kind: 'FetchRequest', sourceId: 2, destinationId: 1, currentLeaderEpoch: 3, fetchOffset: 10, lastFetchedEpoch: 2 };
      const { decoded, response } = roundTrip(request, version, (m) => ({
        kind: 'FetchResponse',
        sourceId: 1,
        destinationId: m.sourceId,
        errorCode: 0,
        leaderEpoch: 3,
        leaderId: 1,
        highWatermark: 12,
        logStartOffset: 5,
        fetchOffset: 10,
        lastFetchedEpoch: 2,
        divergingEpoch: null,
        snapshotId: null,
        records: [{ type: 'data', baseOffset: 10, lastOffset: 11, epoch: 3, appendTimestamp: 1000, records: [Buffer.from('x'), Buffer.from('y')] }],
      }));
      expect(decoded).toEqual(request);
      expect(response.kind === 'FetchResponse' && [response.highWatermark, response.logStartOffset, response.leaderId, response.records.map((e) => [e.baseOffset, e.lastOffset])]).toEqual([12, 5, 1, [[10, 11]]]);
    }
  });

  it('carries DivergingEpoch and SnapshotId, and FetchSnapshot chunks', () => {
    const fetch: RaftRequest = { kind: 'FetchRequest', sourceId: 2, destinationId: 1, currentLeaderEpoch: 3, fetchOffset: 10, lastFetchedEpoch: 2 };
    const base = { kind: 'FetchResponse', sourceId: 1, destinationId: 2, errorCode: 0, leaderEpoch: 3, leaderId: 1, highWatermark: 12, logStartOffset: 20, fetchOffset: 10, lastFetchedEpoch: 2, records: [] } as const;
    const diverging = roundTrip(fetch, 17, () => ({ ...base, divergingEpoch: { epoch: 1, endOffset: 7 }, snapshotId: null })).response;
    expect(diverging.kind === 'FetchResponse' && [diverging.divergingEpoch, diverging.snapshotId]).toEqual([{ epoch: 1, endOffset: 7 }, null]);
    const snapshot = roundTrip(fetch, 17, () => ({ ...base, divergingEpoch: null, snapshotId: { endOffset: 20, epoch: 2 } })).response;
    expect(snapshot.kind === 'FetchResponse' && [snapshot.divergingEpoch, snapshot.snapshotId]).toEqual([null, { endOffset: 20, epoch: 2 }]);

    const chunk: RaftRequest = { kind: 'FetchSnapshotRequest', sourceId: 2, destinationId: 1, currentLeaderEpoch: 3, snapshotId: { endOffset: 20, epoch: 2 }, position: 4 };
    const { decoded, response } = roundTrip(chunk, 1, (m) => ({ kind: 'FetchSnapshotResponse', sourceId: 1, destinationId: m.sourceId, errorCode: 0, leaderEpoch: 3, leaderId: 1, snapshotId: { endOffset: 20, epoch: 2 }, size: 9, position: 4, bytes: Buffer.from('abcde') }));
    expect(decoded).toEqual(chunk);
    expect(response.kind === 'FetchSnapshotResponse' && [response.size, response.position, Buffer.from(response.bytes).toString()]).toEqual([9, 4, 'abcde']);
  });

  it('carries Begin/EndQuorumEpoch with the preferred successors of each version', () => {
    for (const version of [0, 1]) {
      const end: RaftRequest = { kind: 'EndQuorumEpochRequest', sourceId: 1, destinationId: 2, leaderEpoch: 4, leaderId: 1, preferredSuccessors: [3, 2] };
      const wire = travel(ApiKeys.END_QUORUM_EPOCH, version, encodeRequest(leaderCtx, end, version).body, 'request');
      const decoded = decodeRequest(followerCtx, ApiKeys.END_QUORUM_EPOCH, version, wire);
      expect(decoded.ok && decoded.message).toEqual({ ...end, destinationId: 2 });
      const begin: RaftRequest = { kind: 'BeginQuorumEpochRequest', sourceId: 1, destinationId: 2, leaderEpoch: 4, leaderId: 1 };
      const wireBegin = travel(ApiKeys.BEGIN_QUORUM_EPOCH, version, encodeRequest(leaderCtx, begin, version).body, 'request');
      const decodedBegin = decodeRequest(followerCtx, ApiKeys.BEGIN_QUORUM_EPOCH, version, wireBegin);
      expect(decodedBegin.ok && decodedBegin.message).toEqual(begin);
    }
  });

  it('rejects requests of another cluster, topic or voter, as Kafka does', () => {
    const fetch: RaftRequest = { kind: 'FetchRequest', sourceId: 2, destinationId: 1, currentLeaderEpoch: 3, fetchOffset: 10, lastFetchedEpoch: 2 };
    const otherCluster = decodeRequest(leaderCtx, ApiKeys.FETCH, 17, encodeRequest({ ...followerCtx, clusterId: 'cluster-b' }, fetch, 17).body);
    expect(!otherCluster.ok && (otherCluster.response as { errorCode: number }).errorCode).toBe(WireError.INCONSISTENT_CLUSTER_ID);

    const body = encodeRequest(followerCtx, fetch, 17).body as { topics: { topicId: string }[] };
    const otherTopic = decodeRequest(leaderCtx, ApiKeys.FETCH, 17, { ...body, topics: [{ ...body.topics[0], topicId: 'AAAAAAAAAAAAAAAAAAAAAg' }] });
    expect(!otherTopic.ok && (otherTopic.response as { errorCode: number }).errorCode).toBe(WireError.INVALID_REQUEST);

    const consumer = decodeRequest(leaderCtx, ApiKeys.FETCH, 17, encodeRequest({ ...followerCtx, localId: -1 }, fetch, 17).body);
    expect(consumer.ok).toBe(false);

    const vote: RaftRequest = { kind: 'VoteRequest', sourceId: 2, destinationId: 3, candidateEpoch: 5, candidateId: 2, lastOffsetEpoch: 4, lastOffset: 99, preVote: false };
    const wrongVoter = decodeRequest(leaderCtx, ApiKeys.VOTE, 1, encodeRequest(followerCtx, vote, 1).body);
    expect(!wrongVoter.ok && (wrongVoter.response as { errorCode: number }).errorCode).toBe(WireError.INVALID_VOTER_KEY);
  });
});

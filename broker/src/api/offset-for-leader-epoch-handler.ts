/**
 * OffsetForLeaderEpoch (API 23, KIP-101/KIP-320): the end offset of a leader epoch in the leader's log, which
 * consumers use to detect log truncation after a leader change. Unknown epochs answer epoch -1, offset -1.
 */
import {
  defaultOffsetForLeaderEpochResponse, defaultOffsetForLeaderEpochResponseEpochEndOffset, defaultOffsetForLeaderEpochResponseOffsetForLeaderTopicResult,
  type OffsetForLeaderEpochRequest, type OffsetForLeaderEpochResponse,
} from '../protocol/generated/index.ts';
import type { RequestContext } from '../server/request-context.ts';
import type { ReplicaManager } from '../replication/replica-manager.ts';

export function createOffsetForLeaderEpochHandler(deps: { readonly replicas: ReplicaManager }) {
  return (_ctx: RequestContext, request: OffsetForLeaderEpochRequest): OffsetForLeaderEpochResponse => {
    const response = defaultOffsetForLeaderEpochResponse();
    for (const topic of request.topics) {
      const topicResult = defaultOffsetForLeaderEpochResponseOffsetForLeaderTopicResult();
      topicResult.topic = topic.topic;
      for (const p of topic.partitions) {
        const out = defaultOffsetForLeaderEpochResponseEpochEndOffset();
        out.partition = p.partition;
        const found = deps.replicas.leaderPartition(topic.topic, p.partition, p.currentLeaderEpoch);
        if (!found.ok) out.errorCode = found.errorCode;
        else {
          const end = found.partition.log.endOffsetForEpoch(p.leaderEpoch);
          out.leaderEpoch = end.epoch;
          out.endOffset = end.endOffset;
        }
        topicResult.partitions.push(out);
      }
      response.topics.push(topicResult);
    }
    return response;
  };
}

/**
 * ListOffsets (API 2): offsets by timestamp, with Kafka's special timestamps: -1 latest (the high watermark,
 * which is also the last stable offset without transactions), -2 earliest, -3 the record with the largest
 * timestamp (v7, KIP-734), -4 earliest local (v8, = earliest without tiered storage), -5 latest tiered
 * (v9: none without tiered storage, offset -1).
 */
import {
  defaultListOffsetsResponse, defaultListOffsetsResponseListOffsetsPartitionResponse, defaultListOffsetsResponseListOffsetsTopicResponse,
  type ListOffsetsRequest, type ListOffsetsResponse, type ListOffsetsResponseListOffsetsPartitionResponse,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, MAX_TIMESTAMP, EARLIEST_LOCAL_TIMESTAMP } from '../log/partition-log.ts';
import type { RequestContext } from '../server/request-context.ts';
import type { ReplicaManager } from '../replication/replica-manager.ts';

const LATEST_TIERED_TIMESTAMP = -5n;

export function createListOffsetsHandler(deps: { readonly replicas: ReplicaManager }) {
  return (ctx: RequestContext, request: ListOffsetsRequest): ListOffsetsResponse => {
    const response = defaultListOffsetsResponse();
    for (const topic of request.topics) {
      const topicResponse = defaultListOffsetsResponseListOffsetsTopicResponse();
      topicResponse.name = topic.name;
      const seen = new Set<number>();
      for (const p of topic.partitions) {
        const out = defaultListOffsetsResponseListOffsetsPartitionResponse();
        out.partitionIndex = p.partitionIndex;
        if (seen.has(p.partitionIndex)) out.errorCode = ErrorCode.INVALID_REQUEST;
        else lookup(deps.replicas, ctx.apiVersion, topic.name, p.partitionIndex, p.currentLeaderEpoch, p.timestamp, out);
        seen.add(p.partitionIndex);
        topicResponse.partitions.push(out);
      }
      response.topics.push(topicResponse);
    }
    return response;
  };
}

function lookup(
  replicas: ReplicaManager, version: number, topic: string, partition: number, currentLeaderEpoch: number, timestamp: bigint,
  out: ListOffsetsResponseListOffsetsPartitionResponse,
): void {
  const found = replicas.leaderPartition(topic, partition, currentLeaderEpoch);
  if (!found.ok) {
    out.errorCode = found.errorCode;
    return;
  }
  const log = found.partition.log;
  if ((timestamp === MAX_TIMESTAMP && version < 7) || (timestamp === EARLIEST_LOCAL_TIMESTAMP && version < 8) || (timestamp === LATEST_TIERED_TIMESTAMP && version < 9) || timestamp < LATEST_TIERED_TIMESTAMP) {
    out.errorCode = ErrorCode.UNSUPPORTED_VERSION;
    return;
  }
  if (timestamp === LATEST_TIERED_TIMESTAMP) return; // no tiered storage: offset -1, timestamp -1
  if (timestamp === LATEST_TIMESTAMP) {
    out.offset = log.highWatermark;
    if (version >= 4) out.leaderEpoch = log.latestEpoch;
    return;
  }
  const result = log.fetchOffsetByTimestamp(timestamp === EARLIEST_LOCAL_TIMESTAMP ? EARLIEST_TIMESTAMP : timestamp);
  if (result === null || (timestamp >= 0n && result.offset >= log.highWatermark)) return; // none: offset -1
  out.offset = result.offset;
  out.timestamp = result.timestampMs;
  // LeaderEpoch exists from v4 (KIP-320); older versions cannot carry it.
  if (version >= 4) out.leaderEpoch = result.leaderEpoch ?? -1;
}

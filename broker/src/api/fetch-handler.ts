/**
 * Fetch (API 1) for consumers.
 *
 * - Every requested partition is in a full response (the Java client drops responses missing one).
 * - Byte limits (KIP-74): partitionMaxBytes per partition and maxBytes overall, except that the first
 *   partition with data returns at least one whole batch so that a large batch cannot stall a consumer.
 * - Long poll: with fewer than minBytes available, the request parks until a produce to one of its
 *   partitions or until maxWaitMs, then reads again.
 * - Topics by id from v13; unknown ids answer UNKNOWN_TOPIC_ID.
 * - Fetch sessions (KIP-227): we answer SessionId 0, which tells clients that no session was created, so
 *   they keep sending full fetch requests. That is always legal; incremental sessions are an optimisation.
 * - read_committed: without transactions the last stable offset is the high watermark and no aborted
 *   transactions exist.
 */
import {
  defaultFetchResponse, defaultFetchResponseFetchableTopicResponse, defaultFetchResponsePartitionData,
  type FetchRequest, type FetchResponse, type FetchResponsePartitionData,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { RequestContext } from '../server/request-context.ts';
import { partitionKey, type ReplicaManager } from '../replication/replica-manager.ts';
import type { MetadataImage } from '../metadata/metadata-image.ts';
import type { BrokerMetrics } from '../metrics/broker-metrics.ts';

const READ_COMMITTED = 1;
const EMPTY = Buffer.alloc(0);
/** A bound on how long one fetch may park, whatever the client asks. */
const MAX_WAIT_MS_LIMIT = 60_000;

export interface FetchDeps {
  readonly replicas: ReplicaManager;
  readonly image: MetadataImage;
  readonly metrics: BrokerMetrics;
  /** fetch.max.bytes: the broker's cap on one response. */
  readonly fetchMaxBytes: number;
}

interface Target {
  readonly topic: string | null;
  readonly partition: number;
  readonly fetchOffset: bigint;
  readonly partitionMaxBytes: number;
  readonly currentLeaderEpoch: number;
  readonly unknownTopicId: boolean;
}

export function createFetchHandler(deps: FetchDeps) {
  return async (ctx: RequestContext, request: FetchRequest): Promise<FetchResponse> => {
    if (request.sessionId !== 0) {
      const response = defaultFetchResponse();
      response.errorCode = ErrorCode.FETCH_SESSION_ID_NOT_FOUND;
      return response;
    }
    const byId = ctx.apiVersion >= 13;
    const targets: { topic: string; topicId: string; partitions: Target[] }[] = request.topics.map((t) => {
      const name = byId ? (deps.image.topicsById.get(t.topicId)?.name ?? null) : t.topic;
      return {
        topic: t.topic,
        topicId: t.topicId,
        partitions: t.partitions.map((p) => ({
          topic: name, partition: p.partition, fetchOffset: p.fetchOffset, partitionMaxBytes: p.partitionMaxBytes,
          currentLeaderEpoch: p.currentLeaderEpoch, unknownTopicId: byId && name === null,
        })),
      };
    });
    const deadline = Date.now() + Math.min(Math.max(0, request.maxWaitMs), MAX_WAIT_MS_LIMIT);
    for (;;) {
      const { response, bytes, errors } = read(deps, request, targets);
      const remainingMs = deadline - Date.now();
      if (bytes >= request.minBytes || errors || remainingMs <= 0) {
        for (const t of response.responses) {
          const name = byId ? deps.image.topicsById.get(t.topicId)?.name : t.topic;
          if (name === undefined) continue;
          let topicBytes = 0;
          for (const p of t.partitions) topicBytes += p.records?.length ?? 0;
          if (topicBytes > 0) deps.metrics.recordFetch(name, topicBytes);
        }
        return response;
      }
      const keys = targets.flatMap((t) => t.partitions.filter((p) => p.topic !== null).map((p) => partitionKey(p.topic as string, p.partition)));
      await deps.replicas.waiters.wait(keys, remainingMs);
    }
  };
}

function read(deps: FetchDeps, request: FetchRequest, targets: readonly { topic: string; topicId: string; partitions: Target[] }[]): { response: FetchResponse; bytes: number; errors: boolean } {
  const response = defaultFetchResponse();
  let budget = Math.max(0, Math.min(request.maxBytes, deps.fetchMaxBytes));
  let bytes = 0;
  let errors = false;
  for (const t of targets) {
    const topicResponse = defaultFetchResponseFetchableTopicResponse();
    topicResponse.topic = t.topic;
    topicResponse.topicId = t.topicId;
    for (const target of t.partitions) {
      const out = defaultFetchResponsePartitionData();
      out.partitionIndex = target.partition;
      out.records = EMPTY;
      out.abortedTransactions = request.isolationLevel === READ_COMMITTED ? [] : null;
      readPartition(deps, target, out, budget, bytes === 0);
      const size = out.records?.length ?? 0;
      budget = Math.max(0, budget - size);
      bytes += size;
      if (out.errorCode !== ErrorCode.NONE) errors = true;
      topicResponse.partitions.push(out);
    }
    response.responses.push(topicResponse);
  }
  return { response, bytes, errors };
}

function readPartition(deps: FetchDeps, target: Target, out: FetchResponsePartitionData, budget: number, first: boolean): void {
  if (target.unknownTopicId || target.topic === null) {
    out.errorCode = ErrorCode.UNKNOWN_TOPIC_ID;
    return;
  }
  const lookup = deps.replicas.leaderPartition(target.topic, target.partition, target.currentLeaderEpoch);
  if (!lookup.ok) {
    out.errorCode = lookup.errorCode;
    return;
  }
  const log = lookup.partition.log;
  out.highWatermark = log.highWatermark;
  out.lastStableOffset = log.highWatermark;
  out.logStartOffset = log.logStartOffset;
  const maxBytes = Math.min(target.partitionMaxBytes, budget);
  if (maxBytes <= 0 && !first) return;
  const result = deps.replicas.readForConsumer(lookup.partition, target.fetchOffset, Math.max(0, maxBytes), first);
  if ('errorCode' in result) {
    out.errorCode = result.errorCode;
    deps.metrics.recordFailedFetch(target.topic);
    return;
  }
  out.records = result.records;
}

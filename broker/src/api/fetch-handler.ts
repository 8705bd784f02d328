/**
 * Fetch (API 1) for consumers.
 *
 * - Every requested partition is in a full response (the Java client drops responses missing one).
 * - Byte limits (KIP-74): partitionMaxBytes per partition and maxBytes overall, except that the first
 *   partition with data returns at least one whole batch so that a large batch cannot stall a consumer.
 * - Long poll: with fewer than minBytes available, the request parks until a produce to one of its
 *   partitions or until maxWaitMs, then reads again.
 * - Topics by id from v13; unknown ids answer UNKNOWN_TOPIC_ID.
 * - Fetch sessions (KIP-227, fetch-sessions.ts): from v7 a client may open a session and then send and
 *   receive only what changed.
 * - read_committed: without transactions the last stable offset is the high watermark and no aborted
 *   transactions exist.
 */
import {
  defaultFetchResponse, defaultFetchResponseFetchableTopicResponse, defaultFetchResponsePartitionData,
  type FetchRequest, type FetchResponse, type FetchResponseFetchableTopicResponse, type FetchResponsePartitionData,
} from '../protocol/generated/index.ts';
import { nextEpoch, type FetchSessionCache, sessionPartitionKey, type SessionLookup, type SessionPartition } from './fetch-sessions.ts';
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
  readonly sessions: FetchSessionCache;
}

const NEVER_SENT = -2n;

export function createFetchHandler(deps: FetchDeps) {
  return async (ctx: RequestContext, request: FetchRequest): Promise<FetchResponse> => {
    const byId = ctx.apiVersion >= 13;
    const lookup: SessionLookup = ctx.apiVersion >= 7 ? deps.sessions.lookup(request.sessionId, request.sessionEpoch) : { kind: 'sessionless' };
    if (lookup.kind === 'error') {
      const response = defaultFetchResponse();
      response.errorCode = lookup.errorCode;
      return response;
    }
    const nameOf = (topic: string, topicId: string): string | null => (byId ? (deps.image.topicsById.get(topicId)?.name ?? null) : topic);
    const requested = new Map<string, SessionPartition>();
    for (const t of request.topics) {
      const topicKey = byId ? t.topicId : t.topic;
      const name = nameOf(t.topic, t.topicId);
      for (const p of t.partitions) {
        requested.set(sessionPartitionKey(topicKey, p.partition), {
          topicKey, topic: name ?? '', topicId: t.topicId, partition: p.partition, fetchOffset: p.fetchOffset,
          partitionMaxBytes: p.partitionMaxBytes, currentLeaderEpoch: p.currentLeaderEpoch,
          lastHighWatermark: NEVER_SENT, lastStableOffset: NEVER_SENT, lastLogStartOffset: NEVER_SENT,
        });
      }
    }
    let targets: Map<string, SessionPartition>;
    if (lookup.kind === 'incremental') {
      targets = lookup.session.partitions;
      for (const f of request.forgottenTopicsData) {
        for (const partition of f.partitions) targets.delete(sessionPartitionKey(byId ? f.topicId : f.topic, partition));
      }
      for (const [key, p] of requested) {
        const existing = targets.get(key);
        if (existing === undefined) targets.set(key, p);
        else {
          existing.fetchOffset = p.fetchOffset;
          existing.partitionMaxBytes = p.partitionMaxBytes;
          existing.currentLeaderEpoch = p.currentLeaderEpoch;
        }
      }
    } else {
      targets = requested;
    }

    const deadline = Date.now() + Math.min(Math.max(0, request.maxWaitMs), MAX_WAIT_MS_LIMIT);
    for (;;) {
      const results = read(deps, request, targets);
      const remainingMs = deadline - Date.now();
      if (results.bytes >= request.minBytes || results.errors || remainingMs <= 0) {
        let sessionId = 0;
        let include: (p: SessionPartition, out: FetchResponsePartitionData) => boolean = () => true;
        if (lookup.kind === 'incremental') {
          sessionId = lookup.session.id;
          lookup.session.epoch = nextEpoch(lookup.session.epoch);
          include = (p, out) => (out.records?.length ?? 0) > 0 || out.errorCode !== ErrorCode.NONE || out.highWatermark !== p.lastHighWatermark
            || out.lastStableOffset !== p.lastStableOffset || out.logStartOffset !== p.lastLogStartOffset;
        } else if (lookup.kind === 'new') {
          sessionId = deps.sessions.create(targets)?.id ?? 0;
        }
        const response = assemble(results.entries, include, byId);
        response.sessionId = sessionId;
        for (const [name, bytes] of results.bytesByTopic) deps.metrics.recordFetch(name, bytes);
        return response;
      }
      const keys = [...targets.values()].filter((p) => p.topic !== '').map((p) => partitionKey(p.topic, p.partition));
      await deps.replicas.waiters.wait(keys, remainingMs);
    }
  };
}

interface ReadEntry {
  readonly target: SessionPartition;
  readonly out: FetchResponsePartitionData;
}

function read(deps: FetchDeps, request: FetchRequest, targets: ReadonlyMap<string, SessionPartition>): { entries: ReadEntry[]; bytes: number; errors: boolean; bytesByTopic: Map<string, number> } {
  let budget = Math.max(0, Math.min(request.maxBytes, deps.fetchMaxBytes));
  let bytes = 0;
  let errors = false;
  const entries: ReadEntry[] = [];
  const bytesByTopic = new Map<string, number>();
  for (const target of targets.values()) {
    const out = defaultFetchResponsePartitionData();
    out.partitionIndex = target.partition;
    out.records = EMPTY;
    out.abortedTransactions = request.isolationLevel === READ_COMMITTED ? [] : null;
    readPartition(deps, target, out, budget, bytes === 0);
    const size = out.records?.length ?? 0;
    budget = Math.max(0, budget - size);
    bytes += size;
    if (size > 0) bytesByTopic.set(target.topic, (bytesByTopic.get(target.topic) ?? 0) + size);
    if (out.errorCode !== ErrorCode.NONE) errors = true;
    entries.push({ target, out });
  }
  return { entries, bytes, errors, bytesByTopic };
}

/** Groups the partitions to answer by topic, in first-seen order, and records what each response told the client. */
function assemble(entries: readonly ReadEntry[], include: (p: SessionPartition, out: FetchResponsePartitionData) => boolean, byId: boolean): FetchResponse {
  const response = defaultFetchResponse();
  const topics = new Map<string, FetchResponseFetchableTopicResponse>();
  for (const { target, out } of entries) {
    if (!include(target, out)) continue;
    target.lastHighWatermark = out.highWatermark;
    target.lastStableOffset = out.lastStableOffset;
    target.lastLogStartOffset = out.logStartOffset;
    let topic = topics.get(target.topicKey);
    if (topic === undefined) {
      topic = defaultFetchResponseFetchableTopicResponse();
      if (byId) topic.topicId = target.topicId;
      else topic.topic = target.topicKey;
      topics.set(target.topicKey, topic);
      response.responses.push(topic);
    }
    topic.partitions.push(out);
  }
  return response;
}

function readPartition(deps: FetchDeps, target: SessionPartition, out: FetchResponsePartitionData, budget: number, first: boolean): void {
  if (target.topic === '') {
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

/**
 * Partition and log admin APIs:
 *
 * - DeleteRecords (21): moves a partition's log start offset up (KIP-107). Offset -1 means the high watermark;
 *   an offset above the high watermark, or negative, is OFFSET_OUT_OF_RANGE; below the current log start it
 *   changes nothing. Unknown partitions UNKNOWN_TOPIC_OR_PARTITION, then internal topics INVALID_TOPIC_EXCEPTION,
 *   compact-only topics POLICY_VIOLATION, as KafkaApis, Kafka's
 *   ReplicaManager.deleteRecordsOnLocalLog and Partition.deleteRecordsOnLeader. The low watermark answered
 *   is the new log start (the minimum over the replicas, which on one node is the leader's log); failed
 *   partitions answer -1. Waiting for followers (DelayedDeleteRecords) is not needed without followers.
 * - DescribeLogDirs (35): every log dir of this broker with the logs it holds (size, offset lag =
 *   max(high watermark - log end, 0), never future logs: no AlterReplicaLogDirs); offline dirs answer
 *   KAFKA_STORAGE_ERROR; v4 adds the volume's total and usable bytes (statfs), as Kafka's describeLogDirs.
 * - DescribeTopicPartitions (75, KIP-966): topics sorted by name from the cursor on, at most
 *   min(ResponsePartitionLimit, 2000) partitions (at least 1), with NextCursor where the page stopped, as
 *   Kafka's DescribeTopicPartitionsRequestHandler and KRaftMetadataCache.describeTopicResponse. Without an
 *   authorizer every topic operation is allowed, so TopicAuthorizedOperations is Kafka's bitfield for all
 *   of them.
 * - ElectLeaders (43): preferred (0) or unclean (1) election from the metadata image, as Kafka's
 *   ReplicationControlManager.electLeaders: a partition already led by its preferred replica (preferred), or
 *   led at all (unclean), answers ELECTION_NOT_NEEDED; otherwise the new leader is written through the
 *   controller. With TopicPartitions null every partition is tried and the ELECTION_NOT_NEEDED ones are left
 *   out of the answer.
 */
import { statfsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  defaultDeleteRecordsResponse, defaultDeleteRecordsResponseDeleteRecordsPartitionResult, defaultDeleteRecordsResponseDeleteRecordsTopicResult,
  defaultDescribeLogDirsResponse, defaultDescribeLogDirsResponseDescribeLogDirsPartition, defaultDescribeLogDirsResponseDescribeLogDirsResult,
  defaultDescribeLogDirsResponseDescribeLogDirsTopic, defaultDescribeTopicPartitionsResponse,
  defaultDescribeTopicPartitionsResponseDescribeTopicPartitionsResponsePartition, defaultDescribeTopicPartitionsResponseDescribeTopicPartitionsResponseTopic,
  defaultElectLeadersResponse, defaultElectLeadersResponsePartitionResult, defaultElectLeadersResponseReplicaElectionResult,
  type DeleteRecordsRequest, type DeleteRecordsResponse, type DeleteRecordsResponseDeleteRecordsPartitionResult, type DescribeLogDirsRequest,
  type DescribeLogDirsResponse, type DescribeLogDirsResponseDescribeLogDirsPartition, type DescribeTopicPartitionsRequest,
  type DescribeTopicPartitionsResponse, type DescribeTopicPartitionsResponseDescribeTopicPartitionsResponsePartition,
  type ElectLeadersRequest, type ElectLeadersResponse,
  type ElectLeadersResponsePartitionResult,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { ZERO_UUID } from '../protocol/wire/uuid.ts';
import type { Controller } from '../controller/controller.ts';
import { isInternalTopic, topicNameProblem } from '../controller/topic-names.ts';
import { isLogError } from '../log/errors.ts';
import type { LogManager } from '../log/log-manager.ts';
import { NO_LEADER, NO_LEADER_CHANGE, type MetadataImage, type PartitionState } from '../metadata/metadata-image.ts';
import { metadataRecord, type MetadataRecord } from '../metadata/metadata-record.ts';
import type { ReplicaManager } from '../replication/replica-manager.ts';
import type { HandlerTable, RequestContext } from '../server/request-context.ts';

/** DeleteRecordsRequest.HIGH_WATERMARK. */
const DELETE_TO_HIGH_WATERMARK = -1n;
/** DeleteRecordsResponse.INVALID_LOW_WATERMARK. */
const INVALID_LOW_WATERMARK = -1n;
/** Kafka's max.request.partition.size.limit default: the most partitions one DescribeTopicPartitions answers. */
export const DESCRIBE_TOPIC_PARTITIONS_LIMIT_MAX = 2000;
/**
 * AclEntry.supportedOperations(TOPIC) as a bitfield (READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8,
 * DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11): what Kafka answers when no authorizer is configured.
 */
export const TOPIC_OPERATIONS_ALL = [3, 4, 5, 6, 7, 8, 10, 11].reduce((bits, op) => bits | (1 << op), 0);
const ELECTION_PREFERRED = 0;
const ELECTION_UNCLEAN = 1;
/** PartitionChangeRecord.leaderRecoveryState after an unclean election (LeaderRecoveryState.RECOVERING). */
const LEADER_RECOVERING = 1;

/** The space of the volume holding a path, in bytes. */
export interface VolumeSpace {
  readonly totalBytes: bigint;
  readonly usableBytes: bigint;
}

export function statVolume(path: string): VolumeSpace {
  const s = statfsSync(path, { bigint: true });
  return { totalBytes: s.blocks * s.bsize, usableBytes: s.bavail * s.bsize };
}

export interface LogHandlerDeps {
  readonly replicas: Pick<ReplicaManager, 'leaderPartition' | 'hostedPartitions'>;
  readonly logManager: Pick<LogManager, 'logDirs' | 'logDirOf'>;
  readonly image: MetadataImage;
  readonly controller: Pick<Controller, 'write'>;
  /** Volume space of a log dir (default: statfs); injectable for tests. */
  readonly statVolume?: (path: string) => VolumeSpace;
}

export function createLogHandlers(deps: LogHandlerDeps): HandlerTable {
  let elections: Promise<unknown> = Promise.resolve();
  /** Elections run one at a time, so each decides on the image the previous one produced. */
  const serialize = <T>(operation: () => Promise<T>): Promise<T> => {
    const run = elections.then(operation, operation);
    elections = run.catch(() => undefined);
    return run;
  };
  const table: HandlerTable = {};
  table[21] = (_ctx: RequestContext, request: DeleteRecordsRequest): DeleteRecordsResponse => deleteRecords(deps, request);
  table[35] = (_ctx: RequestContext, request: DescribeLogDirsRequest): DescribeLogDirsResponse => describeLogDirs(deps, request);
  table[75] = (ctx: RequestContext, request: DescribeTopicPartitionsRequest): DescribeTopicPartitionsResponse => describeTopicPartitions(deps.image, ctx.listenerName, request);
  table[43] = (ctx: RequestContext, request: ElectLeadersRequest): Promise<ElectLeadersResponse> => serialize(() => electLeaders(deps, ctx.apiVersion, request));
  return table;
}

// ---- DeleteRecords ---------------------------------------------------------------------------------------

function deleteRecords(deps: LogHandlerDeps, request: DeleteRecordsRequest): DeleteRecordsResponse {
  const response = defaultDeleteRecordsResponse();
  for (const topic of request.topics) {
    const topicResult = defaultDeleteRecordsResponseDeleteRecordsTopicResult();
    topicResult.name = topic.name;
    for (const p of topic.partitions) {
      const out = defaultDeleteRecordsResponseDeleteRecordsPartitionResult();
      out.partitionIndex = p.partitionIndex;
      deletePartitionRecords(deps, topic.name, p.partitionIndex, p.offset, out);
      topicResult.partitions.push(out);
    }
    response.topics.push(topicResult);
  }
  return response;
}

function deletePartitionRecords(
  deps: LogHandlerDeps, topic: string, partition: number, offset: bigint, out: DeleteRecordsResponseDeleteRecordsPartitionResult,
): void {
  const fail = (errorCode: number): void => {
    out.errorCode = errorCode;
    out.lowWatermark = INVALID_LOW_WATERMARK;
  };
  // KafkaApis checks existence first, then ReplicaManager refuses internal topics.
  if (deps.image.topicPartition(topic, partition) === undefined) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  if (isInternalTopic(topic)) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION);
  const found = deps.replicas.leaderPartition(topic, partition);
  if (!found.ok) return fail(found.errorCode);
  const log = found.partition.log;
  const target = offset === DELETE_TO_HIGH_WATERMARK ? log.highWatermark : offset;
  if (target < 0n) return fail(ErrorCode.OFFSET_OUT_OF_RANGE);
  if (!log.config.cleanupPolicy.includes('delete')) return fail(ErrorCode.POLICY_VIOLATION);
  if (target > log.highWatermark) return fail(ErrorCode.OFFSET_OUT_OF_RANGE);
  try {
    out.lowWatermark = log.deleteRecordsBefore(target);
  } catch (error) {
    if (!isLogError(error)) throw error;
    fail(error.code === 'LOG_OFFSET_OUT_OF_RANGE' ? ErrorCode.OFFSET_OUT_OF_RANGE : error.kafkaErrorCode);
  }
}

// ---- DescribeLogDirs -------------------------------------------------------------------------------------

function describeLogDirs(deps: LogHandlerDeps, request: DescribeLogDirsRequest): DescribeLogDirsResponse {
  const stat = deps.statVolume ?? statVolume;
  const wanted = request.topics === null ? null : new Set(request.topics.flatMap((t) => t.partitions.map((p) => `${t.topic}\u0000${p}`)));
  // log dir -> topic -> partitions
  const byDir = new Map<string, Map<string, DescribeLogDirsResponseDescribeLogDirsPartition[]>>();
  for (const hosted of deps.replicas.hostedPartitions) {
    if (wanted !== null && !wanted.has(`${hosted.topic}\u0000${hosted.partition}`)) continue;
    const dir = deps.logManager.logDirOf({ topic: hosted.topic, partition: hosted.partition });
    if (dir === undefined) continue;
    const log = hosted.log;
    const out = defaultDescribeLogDirsResponseDescribeLogDirsPartition();
    out.partitionIndex = hosted.partition;
    out.partitionSize = BigInt(log.sizeBytes);
    const lag = log.highWatermark - log.logEndOffset;
    out.offsetLag = lag > 0n ? lag : 0n;
    out.isFutureKey = false;
    let topics = byDir.get(dir);
    if (topics === undefined) byDir.set(dir, (topics = new Map<string, DescribeLogDirsResponseDescribeLogDirsPartition[]>()));
    let partitions = topics.get(hosted.topic);
    if (partitions === undefined) topics.set(hosted.topic, (partitions = []));
    partitions.push(out);
  }
  const response = defaultDescribeLogDirsResponse();
  for (const state of deps.logManager.logDirs) {
    const result = defaultDescribeLogDirsResponseDescribeLogDirsResult();
    result.logDir = resolve(state.path);
    if (state.error !== null) {
      result.errorCode = ErrorCode.KAFKA_STORAGE_ERROR;
      response.results.push(result);
      continue;
    }
    try {
      const space = stat(state.path);
      result.totalBytes = space.totalBytes;
      result.usableBytes = space.usableBytes;
    } catch {
      result.errorCode = ErrorCode.KAFKA_STORAGE_ERROR;
      response.results.push(result);
      continue;
    }
    const topics = byDir.get(state.path) ?? new Map<string, DescribeLogDirsResponseDescribeLogDirsPartition[]>();
    for (const name of [...topics.keys()].sort()) {
      const topic = defaultDescribeLogDirsResponseDescribeLogDirsTopic();
      topic.name = name;
      topic.partitions = (topics.get(name) ?? []).sort((a, b) => a.partitionIndex - b.partitionIndex);
      result.topics.push(topic);
    }
    response.results.push(result);
  }
  return response;
}

// ---- DescribeTopicPartitions -----------------------------------------------------------------------------

function describeTopicPartitions(image: MetadataImage, listenerName: string, request: DescribeTopicPartitionsRequest): DescribeTopicPartitionsResponse {
  const response = defaultDescribeTopicPartitionsResponse();
  const fetchAll = request.topics.length === 0;
  const cursor = request.cursor;
  const cursorTopic = cursor?.topicName ?? '';
  const names = new Set<string>();
  for (const name of fetchAll ? image.topicsByName.keys() : request.topics.map((t) => t.name)) {
    if (name >= cursorTopic) names.add(name);
  }
  // Kafka throws InvalidRequestException here, which answers every requested topic with INVALID_REQUEST.
  const invalid =
    (!fetchAll && cursor !== null && !names.has(cursor.topicName)) || (cursor !== null && cursor.partitionIndex < 0);
  if (invalid) {
    for (const t of request.topics) {
      const out = defaultDescribeTopicPartitionsResponseDescribeTopicPartitionsResponseTopic();
      out.name = t.name;
      out.errorCode = ErrorCode.INVALID_REQUEST;
      response.topics.push(out);
    }
    return response;
  }
  let remaining = Math.max(Math.min(DESCRIBE_TOPIC_PARTITIONS_LIMIT_MAX, request.responsePartitionLimit), 1);
  for (const name of [...names].sort()) {
    if (remaining === 0) {
      // Every partition of the previous topics fitted: the next page starts at this topic.
      response.nextCursor = { topicName: name, partitionIndex: 0 };
      break;
    }
    const topic = image.topicsByName.get(name);
    const out = defaultDescribeTopicPartitionsResponseDescribeTopicPartitionsResponseTopic();
    out.name = name;
    out.isInternal = isInternalTopic(name);
    out.topicAuthorizedOperations = TOPIC_OPERATIONS_ALL;
    if (topic === undefined) {
      if (fetchAll) continue;
      out.errorCode = topicNameProblem(name) === null ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.INVALID_TOPIC_EXCEPTION;
      out.topicId = ZERO_UUID;
      response.topics.push(out);
      continue;
    }
    out.topicId = topic.id;
    const start = name === cursorTopic && cursor !== null ? cursor.partitionIndex : 0;
    const count = topic.partitions.size;
    const upper = Math.min(count, start + remaining);
    for (let index = start; index < upper; index++) {
      const state = topic.partitions.get(index);
      if (state !== undefined) out.partitions.push(describePartition(image, listenerName, state));
    }
    response.topics.push(out);
    if (upper < count) {
      response.nextCursor = { topicName: name, partitionIndex: upper };
      break;
    }
    remaining -= out.partitions.length;
  }
  return response;
}

function describePartition(image: MetadataImage, listenerName: string, state: PartitionState): DescribeTopicPartitionsResponseDescribeTopicPartitionsResponsePartition {
  const out = defaultDescribeTopicPartitionsResponseDescribeTopicPartitionsResponsePartition();
  const offline = (id: number): boolean => {
    const broker = image.brokers.get(id);
    return broker === undefined || broker.fenced || !broker.endpoints.some((e) => e.name === listenerName);
  };
  out.partitionIndex = state.partition;
  // As Kafka's getAliveEndpoint: a leader that is not alive on this listener is reported as no leader.
  out.leaderId = state.leader >= 0 && !offline(state.leader) ? state.leader : NO_LEADER;
  out.leaderEpoch = state.leaderEpoch;
  out.replicaNodes = [...state.replicas];
  out.isrNodes = [...state.isr];
  out.eligibleLeaderReplicas = [...state.eligibleLeaderReplicas];
  out.lastKnownElr = [...state.lastKnownElr];
  out.offlineReplicas = state.replicas.filter(offline);
  return out;
}

// ---- ElectLeaders ----------------------------------------------------------------------------------------

type TopicResults = Map<string, ElectLeadersResponsePartitionResult[]>;

async function electLeaders(deps: LogHandlerDeps, version: number, request: ElectLeadersRequest): Promise<ElectLeadersResponse> {
  const { image } = deps;
  const response = defaultElectLeadersResponse();
  // ElectionType exists from v1; v0 elections are preferred ones.
  const electionType = version >= 1 ? request.electionType : ELECTION_PREFERRED;
  if (electionType !== ELECTION_PREFERRED && electionType !== ELECTION_UNCLEAN) {
    // The top-level ErrorCode exists from v1, and so does any election type but preferred.
    response.errorCode = ErrorCode.INVALID_REQUEST;
    return response;
  }
  const records: MetadataRecord[] = [];
  const results: TopicResults = new Map();
  const add = (topic: string, result: ElectLeadersResponsePartitionResult | null): void => {
    let list = results.get(topic);
    if (list === undefined) results.set(topic, (list = []));
    if (result !== null) list.push(result);
  };
  if (request.topicPartitions === null) {
    for (const topic of [...image.topicsByName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      add(topic.name, null);
      for (const partition of [...topic.partitions.keys()].sort((a, b) => a - b)) {
        const result = electLeader(image, topic.name, partition, electionType, records);
        // All-partition elections leave out the partitions that already have the leader they want.
        if (result.errorCode !== ErrorCode.ELECTION_NOT_NEEDED) add(topic.name, result);
      }
    }
  } else {
    for (const t of request.topicPartitions) {
      add(t.topic, null);
      for (const partition of t.partitions) add(t.topic, electLeader(image, t.topic, partition, electionType, records));
    }
  }
  if (records.length > 0) {
    try {
      await deps.controller.write(records);
    } catch (error) {
      const message = `the election could not be written: ${error instanceof Error ? error.message : String(error)}`;
      for (const list of results.values()) {
        for (const r of list) {
          if (r.errorCode === ErrorCode.NONE) {
            r.errorCode = ErrorCode.UNKNOWN_SERVER_ERROR;
            r.errorMessage = message;
          }
        }
      }
    }
  }
  for (const [topic, partitionResult] of results) {
    const out = defaultElectLeadersResponseReplicaElectionResult();
    out.topic = topic;
    out.partitionResult = partitionResult;
    response.replicaElectionResults.push(out);
  }
  return response;
}

/** ReplicationControlManager.electLeader: the outcome for one partition; appends the change record when there is one. */
function electLeader(image: MetadataImage, topic: string, partition: number, electionType: number, records: MetadataRecord[]): ElectLeadersResponsePartitionResult {
  const out = defaultElectLeadersResponsePartitionResult();
  out.partitionId = partition;
  out.errorMessage = null;
  const result = (errorCode: number, errorMessage: string | null): ElectLeadersResponsePartitionResult => {
    out.errorCode = errorCode;
    out.errorMessage = errorMessage;
    return out;
  };
  const topicState = image.topicsByName.get(topic);
  if (topicState === undefined) return result(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `No such topic as ${topic}`);
  const state = topicState.partitions.get(partition);
  if (state === undefined) return result(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `No such partition as ${topic}-${partition}`);
  const preferred = state.replicas[0];
  const hasLeader = state.leader !== NO_LEADER;
  if ((electionType === ELECTION_PREFERRED && hasLeader && state.leader === preferred) || (electionType === ELECTION_UNCLEAN && hasLeader)) {
    return result(ErrorCode.ELECTION_NOT_NEEDED, 'Leader election not needed for topic partition.');
  }
  const alive = (id: number): boolean => {
    const broker = image.brokers.get(id);
    return broker !== undefined && !broker.fenced && !broker.inControlledShutdown;
  };
  const change = {
    partitionId: partition, topicId: topicState.id, isr: null as number[] | null, leader: NO_LEADER_CHANGE, replicas: null, removingReplicas: null,
    addingReplicas: null, leaderRecoveryState: -1, directories: null, eligibleLeaderReplicas: null, lastKnownElr: null,
  };
  if (electionType === ELECTION_PREFERRED) {
    // PartitionChangeBuilder, Election.PREFERRED: only the preferred replica, and only from the ISR.
    if (preferred === undefined || !state.isr.includes(preferred) || !alive(preferred)) {
      return result(ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, 'The preferred leader was not available.');
    }
    records.push(metadataRecord(5, { ...change, leader: preferred }));
    return result(ErrorCode.NONE, null);
  }
  // Election.UNCLEAN: a live ISR member first; otherwise any live replica, which becomes the whole ISR and
  // recovers (KIP-704).
  const fromIsr = state.isr.find(alive);
  if (fromIsr !== undefined) {
    records.push(metadataRecord(5, { ...change, leader: fromIsr }));
    return result(ErrorCode.NONE, null);
  }
  const anyLive = state.replicas.find(alive);
  if (anyLive === undefined) return result(ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE, 'Eligible topic partition leaders are not available.');
  records.push(metadataRecord(5, { ...change, leader: anyLive, isr: [anyLive], leaderRecoveryState: LEADER_RECOVERING }));
  return result(ErrorCode.NONE, null);
}

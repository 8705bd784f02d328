/**
 * Produce (API 0). Per partition: leader check, leader-side validation of the batch as a buffer, idempotent
 * producer checks (a duplicate of one of the last five batches answers with its ORIGINAL offsets), then an
 * append that patches offsets and leader epoch in place.
 *
 * acks: 0 -> no response (and, as Kafka does, the connection is closed when a partition failed, since the
 * client would otherwise never learn of it); 1 and -1 -> answer after the local append. With -1 the ISR must
 * have at least min.insync.replicas members before the append (NOT_ENOUGH_REPLICAS); until data replication
 * lands every partition's ISR is its leader, so -1 completes like 1.
 */
import {
  defaultProduceResponse, defaultProduceResponsePartitionProduceResponse, defaultProduceResponseTopicProduceResponse,
  defaultProduceResponseBatchIndexAndErrorMessage,
  type ProduceRequest, type ProduceResponse, type ProduceResponsePartitionProduceResponse,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { validateRecords } from '../protocol/records/batch-validator.ts';
import { patchMaxTimestamp, readBatchSizeBytes } from '../protocol/records/batch-header.ts';
import { isInternalTopic } from '../controller/topic-names.ts';
import { isLogError } from '../log/errors.ts';
import type { RequestContext } from '../server/request-context.ts';
import { CloseConnection } from '../server/close-connection.ts';
import type { ReplicaManager } from '../replication/replica-manager.ts';
import type { TopicSettingsSource } from './topic-settings.ts';
import type { BrokerMetrics } from '../metrics/broker-metrics.ts';

export interface ProduceDeps {
  readonly replicas: ReplicaManager;
  readonly topicSettings: TopicSettingsSource;
  readonly metrics: BrokerMetrics;
  readonly nowMs: () => number;
}

export function createProduceHandler(deps: ProduceDeps) {
  return (ctx: RequestContext, request: ProduceRequest): ProduceResponse | null => {
    const response = defaultProduceResponse();
    const validAcks = request.acks === -1 || request.acks === 0 || request.acks === 1;
    let failed = false;
    for (const topicData of request.topicData) {
      const topicResponse = defaultProduceResponseTopicProduceResponse();
      topicResponse.name = topicData.name;
      for (const partitionData of topicData.partitionData) {
        const result = defaultProduceResponsePartitionProduceResponse();
        result.index = partitionData.index;
        if (!validAcks) {
          result.errorCode = ErrorCode.INVALID_REQUIRED_ACKS;
        } else if (request.transactionalId !== null) {
          // Transactions are not implemented yet (and not advertised): refuse rather than half-support them.
          result.errorCode = ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
          result.errorMessage = 'transactions are not supported by this broker yet';
        } else {
          appendPartition(deps, ctx, topicData.name, partitionData.index, partitionData.records, request.acks, result);
        }
        if (result.errorCode !== ErrorCode.NONE) failed = true;
        topicResponse.partitionResponses.push(result);
      }
      response.responses.push(topicResponse);
    }
    if (request.acks === 0) {
      if (failed) throw new CloseConnection('a produce request with acks=0 failed');
      return null;
    }
    return response;
  };
}

function appendPartition(
  deps: ProduceDeps, ctx: RequestContext, topic: string, partition: number, records: Buffer | null, acks: number,
  result: ProduceResponsePartitionProduceResponse,
): void {
  const lookup = deps.replicas.leaderPartition(topic, partition);
  if (!lookup.ok) {
    result.errorCode = lookup.errorCode;
    return;
  }
  const hosted = lookup.partition;
  const settings = deps.topicSettings.settings(topic);
  const fail = (errorCode: number, message: string | null): void => {
    result.errorCode = errorCode;
    result.errorMessage = message;
    deps.metrics.recordFailedProduce(topic);
  };
  if (isInternalTopic(topic)) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, `Cannot append to internal topic ${topic}`);
  if (records === null || records.length === 0) return fail(ErrorCode.CORRUPT_MESSAGE, 'the produce request carries no records');
  const nowMs = deps.nowMs();
  const validation = validateRecords(records, {
    origin: 'client',
    maxMessageBytes: settings.maxMessageBytes,
    compactedTopic: settings.compacted,
    timestampType: settings.logAppendTime ? 'LogAppendTime' : 'CreateTime',
    timestampBeforeMaxMs: settings.timestampBeforeMaxMs,
    timestampAfterMaxMs: settings.timestampAfterMaxMs,
    nowMs,
    zstdAllowed: ctx.apiVersion >= 7,
  });
  if (!validation.ok) {
    for (const e of validation.recordErrors) {
      const entry = defaultProduceResponseBatchIndexAndErrorMessage();
      entry.batchIndex = e.batchIndex;
      entry.batchIndexErrorMessage = e.message;
      result.recordErrors.push(entry);
    }
    return fail(validation.errorCode, validation.message);
  }
  if (validation.first.transactional) return fail(ErrorCode.INVALID_TXN_STATE, 'transactional batches are not supported by this broker yet');
  if (acks === -1 && hosted.state.isr.length < settings.minInsyncReplicas) {
    return fail(ErrorCode.NOT_ENOUGH_REPLICAS, `The size of the current ISR ${hosted.state.isr.length} is insufficient to satisfy the min.isr requirement of ${settings.minInsyncReplicas} for partition ${topic}-${partition}`);
  }
  const check = hosted.log.checkProducerState(records);
  if (check.kind === 'error') return fail(check.kafkaErrorCode, check.message);
  result.logStartOffset = hosted.log.logStartOffset;
  if (check.kind === 'duplicate') {
    result.baseOffset = check.firstOffset;
    result.logAppendTimeMs = settings.logAppendTime ? check.timestampMs : -1n;
    return;
  }
  if (settings.logAppendTime) {
    for (let at = 0; at < records.length; at += readBatchSizeBytes(records, at)) patchMaxTimestamp(records, at, BigInt(nowMs), true);
  }
  let appended;
  try {
    appended = hosted.log.appendAsLeader(records, hosted.state.leaderEpoch);
  } catch (error) {
    if (!isLogError(error)) throw error;
    // The log went offline (disk full, I/O error): the client gets a retriable storage error, never a crash.
    return fail(ErrorCode.KAFKA_STORAGE_ERROR, error.message);
  }
  deps.replicas.afterAppend(hosted);
  result.baseOffset = appended.firstOffset;
  result.logAppendTimeMs = settings.logAppendTime ? BigInt(nowMs) : -1n;
  result.logStartOffset = appended.logStartOffset;
  deps.metrics.recordProduce(topic, appended.recordCount, appended.sizeBytes);
}

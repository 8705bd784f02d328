/**
 * Metadata (API 3): brokers, controller and topic/partition state from the metadata image.
 *
 * - v0: an empty topic list means all topics; v1+: null means all topics, empty means none.
 * - v10+: a topic may be named by id (name null); unknown ids answer UNKNOWN_TOPIC_ID.
 * - Auto-creation (auto.create.topics.enable, and AllowAutoTopicCreation from v4; always allowed before
 *   v4): unlike Kafka, which answers LEADER_NOT_AVAILABLE and lets the client retry, we create the topic
 *   through the controller first and answer with its real partitions, saving clients a round trip.
 * - Brokers are listed with the endpoint of the listener the request arrived on; fenced brokers are left
 *   out, as Kafka does.
 */
import {
  defaultMetadataResponse, defaultMetadataResponseMetadataResponseBroker, defaultMetadataResponseMetadataResponsePartition,
  defaultMetadataResponseMetadataResponseTopic,
  type MetadataRequest, type MetadataResponse, type MetadataResponseMetadataResponseTopic,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { ZERO_UUID } from '../protocol/wire/uuid.ts';
import type { MetadataImage, TopicState } from '../metadata/metadata-image.ts';
import { isInternalTopic, topicNameProblem } from '../controller/topic-names.ts';
import type { RequestContext } from '../server/request-context.ts';
import { AUTHORIZED_OPERATIONS_OMITTED, listenerBrokers } from './listener-brokers.ts';


export interface MetadataHandlerDeps {
  readonly image: MetadataImage;
  readonly clusterId: () => string;
  /** The node id clients should send admin requests to (kafkajs uses it): a live broker that forwards. */
  readonly controllerId: () => number;
  readonly autoCreateTopicsEnabled: () => boolean;
  /** Creates topics with default settings; resolves when they are in the image (errors are ignored here). */
  readonly autoCreateTopics: (names: readonly string[]) => Promise<void>;
}

export function topicMetadata(image: MetadataImage, topic: TopicState): MetadataResponseMetadataResponseTopic {
  const out = defaultMetadataResponseMetadataResponseTopic();
  out.name = topic.name;
  out.topicId = topic.id;
  out.isInternal = isInternalTopic(topic.name);
  out.topicAuthorizedOperations = AUTHORIZED_OPERATIONS_OMITTED;
  for (const p of [...topic.partitions.values()].sort((a, b) => a.partition - b.partition)) {
    const partition = defaultMetadataResponseMetadataResponsePartition();
    partition.partitionIndex = p.partition;
    partition.leaderId = p.leader;
    partition.leaderEpoch = p.leaderEpoch;
    partition.replicaNodes = [...p.replicas];
    partition.isrNodes = [...p.isr];
    partition.offlineReplicas = p.replicas.filter((id) => { const b = image.brokers.get(id); return b === undefined || b.fenced; });
    partition.errorCode = p.leader < 0 ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE;
    out.partitions.push(partition);
  }
  return out;
}

export function createMetadataHandler(deps: MetadataHandlerDeps) {
  return async (ctx: RequestContext, request: MetadataRequest): Promise<MetadataResponse> => {
    const { image } = deps;
    const version = ctx.apiVersion;
    const allTopics = request.topics === null || (version === 0 && request.topics.length === 0);
    const allowAutoCreate = deps.autoCreateTopicsEnabled() && (version < 4 || request.allowAutoTopicCreation);

    if (!allTopics && allowAutoCreate) {
      const missing = (request.topics ?? [])
        .map((t) => t.name)
        .filter((name): name is string => name !== null && !image.topicsByName.has(name) && topicNameProblem(name) === null && !isInternalTopic(name));
      if (missing.length > 0) await deps.autoCreateTopics([...new Set(missing)]);
    }

    const response = defaultMetadataResponse();
    response.clusterId = deps.clusterId();
    response.controllerId = deps.controllerId();
    response.clusterAuthorizedOperations = AUTHORIZED_OPERATIONS_OMITTED;
    for (const broker of listenerBrokers(image, ctx.listenerName)) {
      const b = defaultMetadataResponseMetadataResponseBroker();
      b.nodeId = broker.id;
      b.host = broker.host;
      b.port = broker.port;
      b.rack = broker.rack;
      response.brokers.push(b);
    }

    if (allTopics) {
      for (const topic of [...image.topicsByName.values()].sort((a, b) => a.name.localeCompare(b.name))) response.topics.push(topicMetadata(image, topic));
      return response;
    }
    for (const requested of request.topics ?? []) {
      const byId = requested.name === null;
      const topic = byId ? image.topicsById.get(requested.topicId) : image.topicsByName.get(requested.name as string);
      if (topic !== undefined) {
        response.topics.push(topicMetadata(image, topic));
        continue;
      }
      const missing = defaultMetadataResponseMetadataResponseTopic();
      missing.name = requested.name;
      missing.topicId = byId ? requested.topicId : ZERO_UUID;
      missing.topicAuthorizedOperations = AUTHORIZED_OPERATIONS_OMITTED;
      missing.errorCode = byId
        ? ErrorCode.UNKNOWN_TOPIC_ID
        : topicNameProblem(requested.name as string) !== null ? ErrorCode.INVALID_TOPIC_EXCEPTION : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      response.topics.push(missing);
    }
    return response;
  };
}

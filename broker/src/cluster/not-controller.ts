/**
 * Responses a controller that is not (or no longer) the active one gives to controller-bound requests:
 * NOT_CONTROLLER on the request and on each of its items, so the sender refreshes its view of the quorum
 * leader and retries there (Kafka's ControllerApis behaviour).
 */
import {
  defaultAllocateProducerIdsResponse, defaultAlterConfigsResponse, defaultBrokerHeartbeatResponse, defaultBrokerRegistrationResponse,
  defaultCreatePartitionsResponse, defaultCreateTopicsResponse, defaultCreateTopicsResponseCreatableTopicResult,
  defaultDeleteTopicsResponse, defaultDeleteTopicsResponseDeletableTopicResult, defaultDescribeQuorumResponse, defaultElectLeadersResponse,
  defaultIncrementalAlterConfigsResponse, defaultUnregisterBrokerResponse,
  type ApiKey, type RequestByApiKey, type ResponseByApiKey,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { ZERO_UUID } from '../protocol/wire/uuid.ts';

const NOT_CONTROLLER = ErrorCode.NOT_CONTROLLER;
const MESSAGE = 'This is not the active controller of the cluster.';

/** APIs the active controller answers (besides the raft RPCs and ApiVersions). */
export const CONTROLLER_APIS = [19, 20, 33, 37, 43, 44, 62, 63, 64, 67] as const;
/** Controller-bound APIs, including DescribeQuorum (answered by the quorum leader). */
export type ControllerApiKey = (typeof CONTROLLER_APIS)[number] | 55;

export function notControllerResponse<K extends ControllerApiKey>(apiKey: K, request: RequestByApiKey[K]): ResponseByApiKey[K] {
  return build(apiKey, request) as ResponseByApiKey[K];
}

function build(apiKey: ControllerApiKey, request: RequestByApiKey[ApiKey]): ResponseByApiKey[ApiKey] {
  switch (apiKey) {
    case 19: {
      const r = request as RequestByApiKey[19];
      return {
        ...defaultCreateTopicsResponse(),
        topics: r.topics.map((t) => ({ ...defaultCreateTopicsResponseCreatableTopicResult(), name: t.name, errorCode: NOT_CONTROLLER, errorMessage: MESSAGE, configs: null })),
      };
    }
    case 20: {
      const r = request as RequestByApiKey[20];
      const names = [...r.topicNames.map((name) => ({ name, topicId: ZERO_UUID })), ...r.topics.map((t) => ({ name: t.name, topicId: t.topicId }))];
      return {
        ...defaultDeleteTopicsResponse(),
        responses: names.map((t) => ({ ...defaultDeleteTopicsResponseDeletableTopicResult(), name: t.name, topicId: t.topicId, errorCode: NOT_CONTROLLER, errorMessage: MESSAGE })),
      };
    }
    case 33: {
      const r = request as RequestByApiKey[33];
      return {
        ...defaultAlterConfigsResponse(),
        responses: r.resources.map((x) => ({ errorCode: NOT_CONTROLLER, errorMessage: MESSAGE, resourceType: x.resourceType, resourceName: x.resourceName })),
      };
    }
    case 37: {
      const r = request as RequestByApiKey[37];
      return { ...defaultCreatePartitionsResponse(), results: r.topics.map((t) => ({ name: t.name, errorCode: NOT_CONTROLLER, errorMessage: MESSAGE })) };
    }
    case 43:
      return { ...defaultElectLeadersResponse(), errorCode: NOT_CONTROLLER };
    case 55:
      return { ...defaultDescribeQuorumResponse(), errorCode: NOT_CONTROLLER, errorMessage: null };
    case 44: {
      const r = request as RequestByApiKey[44];
      return {
        ...defaultIncrementalAlterConfigsResponse(),
        responses: r.resources.map((x) => ({ errorCode: NOT_CONTROLLER, errorMessage: MESSAGE, resourceType: x.resourceType, resourceName: x.resourceName })),
      };
    }
    case 62:
      return { ...defaultBrokerRegistrationResponse(), errorCode: NOT_CONTROLLER };
    case 63:
      return { ...defaultBrokerHeartbeatResponse(), errorCode: NOT_CONTROLLER };
    case 64:
      return { ...defaultUnregisterBrokerResponse(), errorCode: NOT_CONTROLLER, errorMessage: MESSAGE };
    case 67:
      return { ...defaultAllocateProducerIdsResponse(), errorCode: NOT_CONTROLLER };
  }
}

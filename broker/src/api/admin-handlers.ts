/**
 * Admin APIs answered by the controller (in-process on a combined node): CreateTopics, DeleteTopics,
 * CreatePartitions; and DescribeCluster from the metadata image.
 *
 * Any broker accepts these (kafkajs sends them to Metadata.ControllerId): with a remote controller the
 * same handlers will forward instead of calling in-process.
 */
import {
  defaultDescribeClusterResponse, defaultDescribeClusterResponseDescribeClusterBroker,
  type DescribeClusterRequest, type DescribeClusterResponse,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { Controller } from '../controller/controller.ts';
import type { MetadataImage } from '../metadata/metadata-image.ts';
import type { HandlerTable, RequestContext } from '../server/request-context.ts';
import { AUTHORIZED_OPERATIONS_OMITTED, listenerBrokers } from './listener-brokers.ts';

const ENDPOINT_TYPE_BROKER = 1;

export interface AdminDeps {
  readonly controller: Controller;
  readonly image: MetadataImage;
  readonly clusterId: () => string;
  /** The controller id DescribeCluster reports (a live broker, which forwards, as in Kafka). */
  readonly controllerId: () => number;
}

export function createAdminHandlers(deps: AdminDeps): HandlerTable {
  const table: HandlerTable = {};
  table[19] = (_ctx, request) => deps.controller.createTopics(request);
  table[20] = (_ctx, request) => deps.controller.deleteTopics(request);
  table[37] = (_ctx, request) => deps.controller.createPartitions(request);
  table[60] = (ctx: RequestContext, request: DescribeClusterRequest): DescribeClusterResponse => {
    const response = defaultDescribeClusterResponse();
    response.clusterAuthorizedOperations = AUTHORIZED_OPERATIONS_OMITTED;
    if (ctx.apiVersion >= 1 && request.endpointType !== ENDPOINT_TYPE_BROKER) {
      response.errorCode = ErrorCode.UNSUPPORTED_ENDPOINT_TYPE;
      response.errorMessage = 'this listener serves broker endpoints only';
      return response;
    }
    response.endpointType = ENDPOINT_TYPE_BROKER;
    response.clusterId = deps.clusterId();
    response.controllerId = deps.controllerId();
    for (const b of listenerBrokers(deps.image, ctx.listenerName)) {
      const out = defaultDescribeClusterResponseDescribeClusterBroker();
      out.brokerId = b.id;
      out.host = b.host;
      out.port = b.port;
      out.rack = b.rack;
      response.brokers.push(out);
    }
    return response;
  };
  return table;
}

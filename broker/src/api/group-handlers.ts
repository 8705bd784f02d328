/**
 * Classic consumer group APIs routed to the coordinator shard of each group, plus FindCoordinator.
 *
 * Requests naming one group go to its shard (NOT_COORDINATOR if this broker has none for it). Requests
 * naming several groups (DescribeGroups, DeleteGroups, OffsetFetch v8+) are split per shard and the
 * answers concatenated in request order; ListGroups asks every shard.
 */
import {
  defaultDeleteGroupsResponse, defaultDeleteGroupsResponseDeletableGroupResult, defaultDescribeGroupsResponse,
  defaultDescribeGroupsResponseDescribedGroup, defaultFindCoordinatorResponse, defaultFindCoordinatorResponseCoordinator,
  defaultHeartbeatResponse, defaultJoinGroupResponse, defaultLeaveGroupResponse, defaultListGroupsResponse,
  defaultOffsetCommitResponse, defaultOffsetCommitResponseOffsetCommitResponsePartition, defaultOffsetCommitResponseOffsetCommitResponseTopic,
  defaultOffsetDeleteResponse, defaultOffsetFetchResponse, defaultOffsetFetchResponseOffsetFetchResponseGroup,
  defaultSyncGroupResponse,
  type FindCoordinatorRequest, type FindCoordinatorResponse, type OffsetCommitRequest, type OffsetCommitResponse,
  type OffsetFetchRequest, type OffsetFetchResponse,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { HandlerTable, RequestContext } from '../server/request-context.ts';
import type { GroupCoordinator, RequestContext as GroupContext } from '../group/index.ts';
import type { GroupService } from '../coordinator/group-service.ts';
import type { MetadataImage } from '../metadata/metadata-image.ts';

const KEY_TYPE_GROUP = 0;

export interface GroupHandlerDeps {
  readonly groups: GroupService;
  readonly image: MetadataImage;
  readonly nodeId: number;
}

const groupContext = (ctx: RequestContext): GroupContext => ({ apiVersion: ctx.apiVersion, clientId: ctx.clientId ?? '', clientHost: ctx.clientHost });

export function createGroupHandlers(deps: GroupHandlerDeps): HandlerTable {
  const { groups } = deps;
  const table: HandlerTable = {};

  const endpointOf = (ctx: RequestContext): { host: string; port: number } | null => {
    const self = deps.image.brokers.get(deps.nodeId);
    const endpoint = self?.endpoints.find((e) => e.name === ctx.listenerName);
    return endpoint === undefined ? null : { host: endpoint.host, port: endpoint.port };
  };

  /** Resolves one coordinator key to (error, node) for FindCoordinator. */
  const locate = async (ctx: RequestContext, key: string, keyType: number): Promise<{ errorCode: number; errorMessage: string | null; nodeId: number; host: string; port: number }> => {
    const none = { nodeId: -1, host: '', port: -1 };
    if (keyType !== KEY_TYPE_GROUP) {
      return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: keyType === 1 ? 'transactions are not supported by this broker yet' : `coordinator key type ${keyType} is not supported`, ...none };
    }
    await groups.ensureOffsetsTopic();
    const endpoint = endpointOf(ctx);
    if (groups.shardFor(key) === null || endpoint === null) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: 'The coordinator is not available.', ...none };
    return { errorCode: ErrorCode.NONE, errorMessage: null, nodeId: deps.nodeId, host: endpoint.host, port: endpoint.port };
  };

  table[10] = async (ctx, request: FindCoordinatorRequest): Promise<FindCoordinatorResponse> => {
    const response = defaultFindCoordinatorResponse();
    if (ctx.apiVersion < 4) {
      const found = await locate(ctx, request.key, ctx.apiVersion >= 1 ? request.keyType : KEY_TYPE_GROUP);
      response.errorCode = found.errorCode;
      if (ctx.apiVersion >= 1) response.errorMessage = found.errorMessage;
      response.nodeId = found.nodeId;
      response.host = found.host;
      response.port = found.port;
      return response;
    }
    for (const key of request.coordinatorKeys) {
      const found = await locate(ctx, key, request.keyType);
      const c = defaultFindCoordinatorResponseCoordinator();
      c.key = key;
      c.errorCode = found.errorCode;
      c.errorMessage = found.errorMessage;
      c.nodeId = found.nodeId;
      c.host = found.host;
      c.port = found.port;
      response.coordinators.push(c);
    }
    return response;
  };

  table[11] = (ctx, request) => {
    const shard = groups.shardFor(request.groupId);
    if (shard) return shard.joinGroup(request, groupContext(ctx));
    return { ...defaultJoinGroupResponse(), errorCode: ErrorCode.NOT_COORDINATOR, memberId: request.memberId };
  };
  table[14] = (ctx, request) => groups.shardFor(request.groupId)?.syncGroup(request, groupContext(ctx)) ?? { ...defaultSyncGroupResponse(), errorCode: ErrorCode.NOT_COORDINATOR };
  table[12] = (ctx, request) => groups.shardFor(request.groupId)?.heartbeat(request, groupContext(ctx)) ?? { ...defaultHeartbeatResponse(), errorCode: ErrorCode.NOT_COORDINATOR };
  table[13] = (ctx, request) => groups.shardFor(request.groupId)?.leaveGroup(request, groupContext(ctx)) ?? { ...defaultLeaveGroupResponse(), errorCode: ErrorCode.NOT_COORDINATOR };
  table[47] = (ctx, request) => groups.shardFor(request.groupId)?.offsetDelete(request, groupContext(ctx)) ?? { ...defaultOffsetDeleteResponse(), errorCode: ErrorCode.NOT_COORDINATOR };

  table[8] = (ctx, request: OffsetCommitRequest): Promise<OffsetCommitResponse> | OffsetCommitResponse => {
    const shard = groups.shardFor(request.groupId);
    if (shard) return shard.offsetCommit(request, groupContext(ctx));
    const response = defaultOffsetCommitResponse();
    for (const t of request.topics) {
      const topic = defaultOffsetCommitResponseOffsetCommitResponseTopic();
      topic.name = t.name;
      for (const p of t.partitions) {
        const partition = defaultOffsetCommitResponseOffsetCommitResponsePartition();
        partition.partitionIndex = p.partitionIndex;
        partition.errorCode = ErrorCode.NOT_COORDINATOR;
        topic.partitions.push(partition);
      }
      response.topics.push(topic);
    }
    return response;
  };

  table[9] = async (ctx, request: OffsetFetchRequest): Promise<OffsetFetchResponse> => {
    if (ctx.apiVersion < 8) {
      const shard = groups.shardFor(request.groupId);
      if (shard) return shard.offsetFetch(request, groupContext(ctx));
      return { ...defaultOffsetFetchResponse(), errorCode: ErrorCode.NOT_COORDINATOR };
    }
    const response = defaultOffsetFetchResponse();
    for (const group of request.groups) {
      const shard = groups.shardFor(group.groupId);
      if (shard) {
        const part = await shard.offsetFetch({ ...request, groups: [group] }, groupContext(ctx));
        response.groups.push(...part.groups);
      } else {
        const g = defaultOffsetFetchResponseOffsetFetchResponseGroup();
        g.groupId = group.groupId;
        g.errorCode = ErrorCode.NOT_COORDINATOR;
        response.groups.push(g);
      }
    }
    return response;
  };

  table[15] = async (ctx, request) => {
    const response = defaultDescribeGroupsResponse();
    for (const groupId of request.groups) {
      const shard = groups.shardFor(groupId);
      if (shard) response.groups.push(...(await shard.describeGroups({ ...request, groups: [groupId] }, groupContext(ctx))).groups);
      else {
        const g = defaultDescribeGroupsResponseDescribedGroup();
        g.groupId = groupId;
        g.errorCode = ErrorCode.NOT_COORDINATOR;
        response.groups.push(g);
      }
    }
    return response;
  };

  table[16] = async (ctx, request) => {
    const response = defaultListGroupsResponse();
    for (const shard of groups.allShards()) {
      const part = await shard.listGroups(request, groupContext(ctx));
      if (part.errorCode !== ErrorCode.NONE && response.errorCode === ErrorCode.NONE) response.errorCode = part.errorCode;
      response.groups.push(...part.groups);
    }
    return response;
  };

  table[42] = async (ctx, request) => {
    const response = defaultDeleteGroupsResponse();
    for (const groupId of request.groupsNames) {
      const shard = groups.shardFor(groupId);
      if (shard) response.results.push(...(await shard.deleteGroups({ groupsNames: [groupId] }, groupContext(ctx))).results);
      else {
        const r = defaultDeleteGroupsResponseDeletableGroupResult();
        r.groupId = groupId;
        r.errorCode = ErrorCode.NOT_COORDINATOR;
        response.results.push(r);
      }
    }
    return response;
  };

  return table;
}

export type { GroupCoordinator };

/**
 * The classic group coordinator: one async method per Kafka group API, taking the decoded request and the
 * request header fields Kafka uses, and resolving to the decoded response for that API version.
 *
 * Pure and deterministic: time, timers, randomness (member ids) and persistence are injected. The coordinator
 * never performs I/O itself; every state change Kafka persists leaves through `append(records)` as
 * `__consumer_offsets` records, and a response that depends on durability is sent only after that append
 * resolved (see RecordWriter for ordering, DESIGN.md for the state machine).
 *
 * Lifecycle: created `loading` (requests answer COORDINATOR_LOAD_IN_PROGRESS, heartbeats NONE), `load(records)`
 * replays the partition once and makes it `active`, `shutdown()` answers parked requests NOT_COORDINATOR and
 * makes it `shutdown` (requests answer COORDINATOR_NOT_AVAILABLE).
 */
import { ErrorCode } from '../protocol/error-codes.ts';
import type { DeleteGroupsRequest } from '../protocol/generated/clients/delete-groups-request.ts';
import type { DeleteGroupsResponse, DeleteGroupsResponseDeletableGroupResult } from '../protocol/generated/clients/delete-groups-response.ts';
import type { DescribeGroupsRequest } from '../protocol/generated/clients/describe-groups-request.ts';
import {
  defaultDescribeGroupsResponseDescribedGroup,
  type DescribeGroupsResponse,
  type DescribeGroupsResponseDescribedGroup,
} from '../protocol/generated/clients/describe-groups-response.ts';
import type { HeartbeatRequest } from '../protocol/generated/clients/heartbeat-request.ts';
import type { HeartbeatResponse } from '../protocol/generated/clients/heartbeat-response.ts';
import type { JoinGroupRequest } from '../protocol/generated/clients/join-group-request.ts';
import type { JoinGroupResponse } from '../protocol/generated/clients/join-group-response.ts';
import type { LeaveGroupRequest, LeaveGroupRequestMemberIdentity } from '../protocol/generated/clients/leave-group-request.ts';
import type { LeaveGroupResponse } from '../protocol/generated/clients/leave-group-response.ts';
import type { ListGroupsRequest } from '../protocol/generated/clients/list-groups-request.ts';
import type { ListGroupsResponse } from '../protocol/generated/clients/list-groups-response.ts';
import type { OffsetCommitRequest } from '../protocol/generated/clients/offset-commit-request.ts';
import type { OffsetCommitResponse } from '../protocol/generated/clients/offset-commit-response.ts';
import type { OffsetDeleteRequest } from '../protocol/generated/clients/offset-delete-request.ts';
import type { OffsetDeleteResponse } from '../protocol/generated/clients/offset-delete-response.ts';
import type { OffsetFetchRequest, OffsetFetchRequestOffsetFetchRequestTopics } from '../protocol/generated/clients/offset-fetch-request.ts';
import type {
  OffsetFetchResponse,
  OffsetFetchResponseOffsetFetchResponseGroup,
  OffsetFetchResponseOffsetFetchResponseTopic,
} from '../protocol/generated/clients/offset-fetch-response.ts';
import type { SyncGroupRequest } from '../protocol/generated/clients/sync-group-request.ts';
import type { SyncGroupResponse } from '../protocol/generated/clients/sync-group-response.ts';
import type { GroupMetadataValue } from '../protocol/generated/group-coordinator/group-metadata-value.ts';
import { ClassicGroup, ClassicGroupMember, type GroupProtocol } from './classic-group.ts';
import { ClassicGroupManager, joinError, syncError, type DeletedGroup, type JoinRequest } from './classic-group-manager.ts';
import { GroupState, groupStateFilterName } from './classic-group-state.ts';
import { resolveGroupCoordinatorConfig, type GroupCoordinatorConfig } from './coordinator-config.ts';
import type { CoordinatorContext, RequestContext } from './coordinator-context.ts';
import { SILENT_LOGGER, type GroupCoordinatorLogger } from './coordinator-logger.ts';
import { decodeCoordinatorRecord, groupMetadataTombstone, type CoordinatorRecord } from './coordinator-records.ts';
import { CLEANUP_TIMER_KEY, KeyedTimers, type CoordinatorTime } from './coordinator-time.ts';
import { invariant } from './invariant.ts';
import { OffsetManager, commitErrorResponse, deleteErrorResponse } from './offset-manager.ts';
import { RecordWriter, type AppendRecords } from './record-writer.ts';

export interface GroupCoordinatorDeps {
  readonly time: CoordinatorTime;
  /** Appends records to the coordinator's `__consumer_offsets` partition; rejects with the append error. */
  readonly append: AppendRecords;
  /** A fresh random UUID string (e.g. node:crypto randomUUID); member ids are `<client id>-<uuid>`. */
  readonly randomUuid: () => string;
  readonly config?: Partial<GroupCoordinatorConfig>;
  readonly logger?: GroupCoordinatorLogger;
}

export type CoordinatorStatus = 'loading' | 'active' | 'shutdown';

export interface LoadSummary {
  readonly records: number;
  readonly offsetRecords: number;
  readonly groupRecords: number;
  /** Records of types this coordinator does not handle (KIP-848 consumer groups, share groups): skipped. */
  readonly skippedRecords: number;
  readonly groups: number;
  readonly offsets: number;
}

/** A record of the partition could not be decoded; the load is abandoned and the coordinator stays loading. */
export class CoordinatorLoadError extends Error {
  readonly recordIndex: number;

  constructor(recordIndex: number, cause: unknown) {
    super(`cannot load group coordinator record #${recordIndex}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'CoordinatorLoadError';
    this.recordIndex = recordIndex;
  }
}

export interface MemberSnapshot {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly protocols: readonly string[];
  readonly assignment: Buffer;
  readonly awaitingJoin: boolean;
  readonly awaitingSync: boolean;
  readonly isNew: boolean;
}

export interface GroupSnapshot {
  readonly groupId: string;
  readonly state: GroupState;
  readonly generationId: number;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly leaderId: string | null;
  readonly currentStateTimestampMs: number | null;
  readonly members: readonly MemberSnapshot[];
  readonly pendingJoinMemberIds: readonly string[];
  readonly pendingSyncMemberIds: readonly string[];
  readonly subscribedTopics: readonly string[] | null;
}

export interface OffsetSnapshot {
  readonly groupId: string;
  readonly topic: string;
  readonly partition: number;
  readonly committedOffset: bigint;
  readonly leaderEpoch: number;
  readonly metadata: string;
  readonly commitTimestampMs: number;
  readonly expireTimestampMs: number | null;
}

/** A copy of the coordinator's state, for tests, simulations and diagnostics. */
export interface GroupCoordinatorSnapshot {
  readonly status: CoordinatorStatus;
  readonly groups: readonly GroupSnapshot[];
  readonly offsets: readonly OffsetSnapshot[];
  readonly pendingWrites: number;
}

/** Kafka's JoinGroupResponse constructor: before v7 the protocol name is not nullable, from v7 "" means none. */
function shapeJoinResponse(response: JoinGroupResponse, apiVersion: number): JoinGroupResponse {
  let protocolName = response.protocolName;
  if (apiVersion < 7 && protocolName === null) protocolName = '';
  if (apiVersion >= 7 && protocolName === '') protocolName = null;
  invariant(apiVersion >= 9 || !response.skipAssignment, 'skipAssignment is only answered from JoinGroup v9');
  return { ...response, protocolName, protocolType: apiVersion >= 7 ? response.protocolType : null };
}

/** Protocols copied out of the request frame; a repeated name keeps its first entry. */
function copyProtocols(request: JoinGroupRequest): GroupProtocol[] {
  const seen = new Set<string>();
  const protocols: GroupProtocol[] = [];
  for (const protocol of request.protocols) {
    if (seen.has(protocol.name)) continue;
    seen.add(protocol.name);
    protocols.push({ name: protocol.name, metadata: Buffer.from(protocol.metadata) });
  }
  return protocols;
}

export class GroupCoordinator {
  private readonly ctx: CoordinatorContext;
  private readonly groups: ClassicGroupManager;
  private readonly offsets: OffsetManager;
  private statusValue: CoordinatorStatus = 'loading';

  constructor(deps: GroupCoordinatorDeps) {
    this.ctx = {
      config: resolveGroupCoordinatorConfig(deps.config),
      time: deps.time,
      timers: new KeyedTimers(deps.time),
      writer: new RecordWriter(deps.append),
      logger: deps.logger ?? SILENT_LOGGER,
      randomUuid: deps.randomUuid,
    };
    this.groups = new ClassicGroupManager(this.ctx);
    this.offsets = new OffsetManager(this.ctx, this.groups);
  }

  get status(): CoordinatorStatus {
    return this.statusValue;
  }

  get config(): GroupCoordinatorConfig {
    return this.ctx.config;
  }

  /** COORDINATOR_LOAD_IN_PROGRESS / COORDINATOR_NOT_AVAILABLE while not serving, else NONE. */
  private unavailableError(): number {
    if (this.statusValue === 'loading') return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    if (this.statusValue === 'shutdown') return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    return ErrorCode.NONE;
  }

  // ---------------------------------------------------------------- Membership APIs

  joinGroup(request: JoinGroupRequest, context: RequestContext): Promise<JoinGroupResponse> {
    const apiVersion = context.apiVersion;
    const fail = (errorCode: number): Promise<JoinGroupResponse> =>
      Promise.resolve(shapeJoinResponse(joinError(errorCode, request.memberId), apiVersion));
    const unavailable = this.unavailableError();
    if (unavailable !== ErrorCode.NONE) return fail(unavailable);
    if (request.groupId === '') return fail(ErrorCode.INVALID_GROUP_ID);
    const { groupMinSessionTimeoutMs, groupMaxSessionTimeoutMs } = this.ctx.config;
    if (request.sessionTimeoutMs < groupMinSessionTimeoutMs || request.sessionTimeoutMs > groupMaxSessionTimeoutMs) {
      return fail(ErrorCode.INVALID_SESSION_TIMEOUT);
    }
    const join: JoinRequest = {
      groupId: request.groupId,
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId,
      sessionTimeoutMs: request.sessionTimeoutMs,
      // v0 has no rebalance timeout: Kafka uses the session timeout.
      rebalanceTimeoutMs: apiVersion === 0 ? request.sessionTimeoutMs : request.rebalanceTimeoutMs,
      protocolType: request.protocolType,
      protocols: copyProtocols(request),
      reason: request.reason,
    };
    return new Promise((resolve) => {
      this.groups.join(join, context, (response) => resolve(shapeJoinResponse(response, apiVersion)));
    });
  }

  syncGroup(request: SyncGroupRequest, _context: RequestContext): Promise<SyncGroupResponse> {
    const unavailable = this.unavailableError();
    if (unavailable !== ErrorCode.NONE) return Promise.resolve(syncError(unavailable));
    if (request.groupId === '') return Promise.resolve(syncError(ErrorCode.INVALID_GROUP_ID));
    return new Promise((resolve) => this.groups.sync(request, resolve));
  }

  heartbeat(request: HeartbeatRequest, _context: RequestContext): Promise<HeartbeatResponse> {
    const respond = (errorCode: number): Promise<HeartbeatResponse> => Promise.resolve({ throttleTimeMs: 0, errorCode });
    // While loading Kafka answers heartbeats blindly, so that members do not rejoin needlessly.
    if (this.statusValue === 'loading') return respond(ErrorCode.NONE);
    if (this.statusValue === 'shutdown') return respond(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (request.groupId === '') return respond(ErrorCode.INVALID_GROUP_ID);
    return respond(this.groups.heartbeat(request));
  }

  leaveGroup(request: LeaveGroupRequest, context: RequestContext): Promise<LeaveGroupResponse> {
    const batch = context.apiVersion >= 3;
    const identities: LeaveGroupRequestMemberIdentity[] = batch
      ? request.members
      : [{ memberId: request.memberId, groupInstanceId: null, reason: null }];
    const respond = (errorCode: number, members: LeaveGroupResponse['members']): Promise<LeaveGroupResponse> => {
      if (batch) return Promise.resolve({ throttleTimeMs: 0, errorCode, members });
      // v0-v2 carry one member and a single error: the top-level one, else the member's.
      const memberError = members.find((m) => m.errorCode !== ErrorCode.NONE)?.errorCode ?? ErrorCode.NONE;
      return Promise.resolve({ throttleTimeMs: 0, errorCode: errorCode !== ErrorCode.NONE ? errorCode : memberError, members: [] });
    };
    const unavailable = this.unavailableError();
    if (unavailable !== ErrorCode.NONE) return respond(unavailable, []);
    if (request.groupId === '') return respond(ErrorCode.INVALID_GROUP_ID, []);
    const result = this.groups.leave(request.groupId, identities);
    return respond(result.errorCode, result.members);
  }

  // ---------------------------------------------------------------- Offset APIs

  offsetCommit(request: OffsetCommitRequest, context: RequestContext): Promise<OffsetCommitResponse> {
    const unavailable = this.unavailableError();
    if (unavailable !== ErrorCode.NONE) return Promise.resolve(commitErrorResponse(request, unavailable));
    // Kafka accepts the empty group id here for backward compatibility.
    return this.offsets.commit(request, context.apiVersion);
  }

  offsetFetch(request: OffsetFetchRequest, context: RequestContext): Promise<OffsetFetchResponse> {
    const apiVersion = context.apiVersion;
    const requests: { groupId: string; topics: readonly OffsetFetchRequestOffsetFetchRequestTopics[] | null }[] =
      apiVersion >= 8 ? request.groups.map((g) => ({ groupId: g.groupId, topics: g.topics })) : [{ groupId: request.groupId, topics: request.topics }];
    const unavailable = this.unavailableError();
    // require_stable: only pending TRANSACTIONAL offsets make an offset unstable, and there are none here;
    // regular commits become visible only once durable.
    const groups = requests.map((g): OffsetFetchResponseOffsetFetchResponseGroup =>
      unavailable !== ErrorCode.NONE ? { groupId: g.groupId, topics: [], errorCode: unavailable } : this.offsets.fetch(g.groupId, g.topics),
    );
    if (apiVersion >= 8) return Promise.resolve({ throttleTimeMs: 0, topics: [], errorCode: ErrorCode.NONE, groups });
    return Promise.resolve(this.toSingleGroupFetchResponse(requests[0]?.topics ?? null, groups[0], apiVersion));
  }

  /** OffsetFetch v0-v7 answer one group with top-level fields; v0-v1 report a group error on each partition. */
  private toSingleGroupFetchResponse(
    requestedTopics: readonly OffsetFetchRequestOffsetFetchRequestTopics[] | null,
    group: OffsetFetchResponseOffsetFetchResponseGroup | undefined,
    apiVersion: number,
  ): OffsetFetchResponse {
    invariant(group !== undefined, 'a v0-v7 OffsetFetch names one group');
    let topics: OffsetFetchResponseOffsetFetchResponseTopic[] = group.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ ...p })),
    }));
    if (group.errorCode !== ErrorCode.NONE && apiVersion < 2) {
      topics = (requestedTopics ?? []).map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((partitionIndex) => ({
          partitionIndex,
          committedOffset: -1n,
          committedLeaderEpoch: -1,
          metadata: '',
          errorCode: group.errorCode,
        })),
      }));
    }
    return { throttleTimeMs: 0, topics, errorCode: apiVersion >= 2 ? group.errorCode : ErrorCode.NONE, groups: [] };
  }

  offsetDelete(request: OffsetDeleteRequest, _context: RequestContext): Promise<OffsetDeleteResponse> {
    const unavailable = this.unavailableError();
    if (unavailable !== ErrorCode.NONE) return Promise.resolve(deleteErrorResponse(unavailable));
    if (request.groupId === '') return Promise.resolve(deleteErrorResponse(ErrorCode.INVALID_GROUP_ID));
    return this.offsets.delete(request);
  }

  // ---------------------------------------------------------------- Admin APIs

  describeGroups(request: DescribeGroupsRequest, _context: RequestContext): Promise<DescribeGroupsResponse> {
    const unavailable = this.unavailableError();
    const groups = request.groups.map((groupId): DescribeGroupsResponseDescribedGroup => {
      if (unavailable !== ErrorCode.NONE) return { ...defaultDescribeGroupsResponseDescribedGroup(), groupId, errorCode: unavailable };
      const group = this.groups.groups.get(groupId);
      // An unknown group is described as Dead without error (DescribeGroups v6 would say GROUP_ID_NOT_FOUND).
      if (group === undefined) return { ...defaultDescribeGroupsResponseDescribedGroup(), groupId, groupState: GroupState.Dead };
      const protocolName = group.protocolName;
      const stable = group.is(GroupState.Stable) && protocolName !== null;
      return {
        ...defaultDescribeGroupsResponseDescribedGroup(),
        groupId,
        groupState: group.state,
        protocolType: group.protocolType ?? '',
        protocolData: stable ? protocolName : '',
        members: [...group.allMembers()].map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          // Member metadata only means something once a protocol is settled.
          memberMetadata: stable ? m.metadata(protocolName) : Buffer.alloc(0),
          memberAssignment: m.assignment,
        })),
      };
    });
    return Promise.resolve({ throttleTimeMs: 0, groups });
  }

  listGroups(request: ListGroupsRequest, _context: RequestContext): Promise<ListGroupsResponse> {
    const unavailable = this.unavailableError();
    if (unavailable !== ErrorCode.NONE) return Promise.resolve({ throttleTimeMs: 0, errorCode: unavailable, groups: [] });
    const states = new Set(request.statesFilter.map((s) => s.trim().toLowerCase()));
    const types = new Set(request.typesFilter.map((t) => t.trim().toLowerCase()));
    const groups = [...this.groups.groups.values()]
      .filter((g) => (states.size === 0 || states.has(groupStateFilterName(g.state))) && (types.size === 0 || types.has('classic')))
      .map((g) => ({ groupId: g.groupId, protocolType: g.protocolType ?? '', groupState: g.state, groupType: 'classic' }));
    return Promise.resolve({ throttleTimeMs: 0, errorCode: ErrorCode.NONE, groups });
  }

  deleteGroups(request: DeleteGroupsRequest, _context: RequestContext): Promise<DeleteGroupsResponse> {
    const unavailable = this.unavailableError();
    if (unavailable !== ErrorCode.NONE) {
      return Promise.resolve({ throttleTimeMs: 0, results: request.groupsNames.map((groupId) => ({ groupId, errorCode: unavailable })) });
    }
    const results: DeleteGroupsResponseDeletableGroupResult[] = [];
    const records: CoordinatorRecord[] = [];
    const deletions: { deleted: DeletedGroup; partitions: { topic: string; partition: number }[] }[] = [];
    for (const groupId of request.groupsNames) {
      const group = this.groups.groups.get(groupId);
      const errorCode = group === undefined ? ErrorCode.GROUP_ID_NOT_FOUND : group.validateDeleteGroup();
      results.push({ groupId, errorCode });
      if (group === undefined || errorCode !== ErrorCode.NONE) continue;
      const tombstones = this.offsets.tombstonesForGroup(groupId);
      records.push(...tombstones.records, groupMetadataTombstone(groupId));
      deletions.push({ deleted: this.groups.markDeleted(group), partitions: tombstones.partitions });
    }
    if (records.length === 0) return Promise.resolve({ throttleTimeMs: 0, results });
    return this.ctx.writer.write(records, (errorCode) => {
      if (errorCode !== ErrorCode.NONE) {
        for (const { deleted } of deletions) this.groups.restoreDeletedGroup(deleted);
        // Kafka fails every group of the write with the append error.
        return { throttleTimeMs: 0, results: results.map((r) => ({ groupId: r.groupId, errorCode })) };
      }
      this.applyDeletions(deletions);
      return { throttleTimeMs: 0, results };
    });
  }

  private applyDeletions(deletions: readonly { deleted: DeletedGroup; partitions: readonly { topic: string; partition: number }[] }[]): void {
    for (const { deleted, partitions } of deletions) {
      for (const p of partitions) this.offsets.replayOffset(deleted.group.groupId, p.topic, p.partition, null);
      this.groups.removeDeletedGroup(deleted);
    }
  }

  // ---------------------------------------------------------------- Retention

  /**
   * Periodic cleanup (offsets.retention.check.interval.ms): tombstones expired offsets, and deletes Empty
   * groups left without offsets, in one append.
   */
  private cleanupGroupMetadata(): void {
    this.scheduleCleanup();
    const records: CoordinatorRecord[] = [];
    const expiredOffsets: { groupId: string; partitions: { topic: string; partition: number }[] }[] = [];
    const deletions: { deleted: DeletedGroup; partitions: { topic: string; partition: number }[] }[] = [];
    for (const group of [...this.groups.groups.values()]) {
      if (group.is(GroupState.Dead)) continue;
      const partitions: { topic: string; partition: number }[] = [];
      const allExpired = this.offsets.collectExpiredOffsets(group, records, partitions);
      if (allExpired && group.isEmpty && !this.offsets.hasInFlightCommits(group.groupId)) {
        records.push(groupMetadataTombstone(group.groupId));
        deletions.push({ deleted: this.groups.markDeleted(group), partitions });
      } else if (partitions.length > 0) {
        expiredOffsets.push({ groupId: group.groupId, partitions });
      }
    }
    if (records.length === 0) return;
    this.ctx.logger.info({ tombstones: records.length, groupsDeleted: deletions.length }, 'expiring offsets and empty groups');
    void this.ctx.writer.write(records, (errorCode) => {
      if (errorCode !== ErrorCode.NONE) {
        this.ctx.logger.warn({ errorCode }, 'failed to write offset-expiry tombstones; will retry at the next cleanup');
        for (const { deleted } of deletions) this.groups.restoreDeletedGroup(deleted);
        return;
      }
      for (const { groupId, partitions } of expiredOffsets) {
        for (const p of partitions) this.offsets.replayOffset(groupId, p.topic, p.partition, null);
      }
      this.applyDeletions(deletions);
    });
  }

  private scheduleCleanup(): void {
    this.ctx.timers.schedule(CLEANUP_TIMER_KEY, this.ctx.config.offsetsRetentionCheckIntervalMs, () => this.cleanupGroupMetadata());
  }

  // ---------------------------------------------------------------- Lifecycle

  /**
   * Replays the coordinator partition (fail-over or restart): last value per key wins, tombstones delete.
   * Call once, while loading, with every record of the partition in log order; throws CoordinatorLoadError on
   * an undecodable record (the coordinator then stays loading).
   */
  load(records: Iterable<CoordinatorRecord>): LoadSummary {
    invariant(this.statusValue === 'loading', () => `load() needs a loading coordinator, it is ${this.statusValue}`);
    let index = 0;
    let offsetRecords = 0;
    let groupRecords = 0;
    let skippedRecords = 0;
    for (const record of records) {
      let decoded;
      try {
        decoded = decodeCoordinatorRecord(record);
      } catch (error) {
        throw new CoordinatorLoadError(index, error);
      }
      switch (decoded.type) {
        case 'offset-commit':
          offsetRecords++;
          this.offsets.replayOffset(decoded.groupId, decoded.topic, decoded.partition, decoded.value);
          break;
        case 'group-metadata':
          groupRecords++;
          if (decoded.value === null) this.groups.groups.delete(decoded.groupId);
          else this.groups.groups.set(decoded.groupId, this.groupFromRecord(decoded.groupId, decoded.value, index));
          break;
        case 'unknown':
          skippedRecords++;
          break;
      }
      index++;
    }
    this.statusValue = 'active';
    this.groups.onLoaded();
    this.scheduleCleanup();
    const summary: LoadSummary = {
      records: index,
      offsetRecords,
      groupRecords,
      skippedRecords,
      groups: this.groups.groups.size,
      offsets: this.offsets.store.size,
    };
    this.ctx.logger.info({ ...summary }, 'group coordinator loaded');
    return summary;
  }

  /** Kafka's replay of a GroupMetadata record: Empty without members, else Stable with the stored assignment. */
  private groupFromRecord(groupId: string, value: GroupMetadataValue, index: number): ClassicGroup {
    if (value.members.length > 0 && value.protocol === null) {
      throw new CoordinatorLoadError(index, new Error(`group ${groupId} has members but no protocol`));
    }
    const group = new ClassicGroup({
      groupId,
      state: value.members.length === 0 ? GroupState.Empty : GroupState.Stable,
      nowMs: () => this.ctx.time.nowMs(),
      generationId: value.generation,
      protocolType: value.protocolType === '' ? null : value.protocolType,
      protocolName: value.members.length === 0 ? null : value.protocol,
      leaderId: value.members.length === 0 ? null : value.leader,
      currentStateTimestampMs: value.currentStateTimestamp === -1n ? null : Number(value.currentStateTimestamp),
    });
    const seenInstances = new Set<string>();
    for (const m of value.members) {
      const duplicate = group.hasMember(m.memberId) || (m.groupInstanceId !== null && seenInstances.has(m.groupInstanceId));
      if (duplicate) throw new CoordinatorLoadError(index, new Error(`group ${groupId} repeats member ${m.memberId}`));
      if (m.groupInstanceId !== null) seenInstances.add(m.groupInstanceId);
      group.add(
        new ClassicGroupMember({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          rebalanceTimeoutMs: m.rebalanceTimeout === -1 ? m.sessionTimeout : m.rebalanceTimeout,
          sessionTimeoutMs: m.sessionTimeout,
          protocolType: value.protocolType,
          // Copied: the record's byte fields are views into the caller's buffer.
          supportedProtocols: [{ name: value.protocol ?? '', metadata: Buffer.from(m.subscription) }],
          assignment: Buffer.from(m.assignment),
        }),
        null,
      );
    }
    if (value.members.length > 0 && (value.leader === null || !group.hasMember(value.leader))) {
      throw new CoordinatorLoadError(index, new Error(`group ${groupId} names leader ${value.leader} that is not a member`));
    }
    group.refreshSubscribedTopics();
    return group;
  }

  /** Stops serving: parked JoinGroup/SyncGroup requests are answered NOT_COORDINATOR, timers are cancelled. */
  shutdown(): void {
    if (this.statusValue === 'shutdown') return;
    this.statusValue = 'shutdown';
    this.groups.unloadAll();
    this.ctx.timers.cancelAll();
  }

  // ---------------------------------------------------------------- Introspection

  /** Throws GroupInvariantError if any structural invariant is broken (run after every simulated event). */
  checkInvariants(): void {
    if (this.statusValue !== 'active') return;
    this.groups.checkInvariants();
    invariant(this.ctx.timers.has(CLEANUP_TIMER_KEY), 'the offset-retention cleanup is not scheduled');
  }

  inspect(): GroupCoordinatorSnapshot {
    const groups = [...this.groups.groups.values()].map(
      (g): GroupSnapshot => ({
        groupId: g.groupId,
        state: g.state,
        generationId: g.generationId,
        protocolType: g.protocolType,
        protocolName: g.protocolName,
        leaderId: g.leaderId,
        currentStateTimestampMs: g.currentStateTimestampMs,
        members: [...g.allMembers()].map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          sessionTimeoutMs: m.sessionTimeoutMs,
          rebalanceTimeoutMs: m.rebalanceTimeoutMs,
          protocols: m.supportedProtocols.map((p) => p.name),
          assignment: Buffer.from(m.assignment),
          awaitingJoin: m.isAwaitingJoin,
          awaitingSync: m.isAwaitingSync,
          isNew: m.isNew,
        })),
        pendingJoinMemberIds: g.pendingJoinMembers(),
        pendingSyncMemberIds: g.allPendingSyncMembers(),
        subscribedTopics: g.subscribedTopics === null ? null : [...g.subscribedTopics].sort(),
      }),
    );
    const offsets = [...this.offsets.store.entries()].map(
      ({ groupId, topic, partition, offset }): OffsetSnapshot => ({ groupId, topic, partition, ...offset }),
    );
    return { status: this.statusValue, groups, offsets, pendingWrites: this.ctx.writer.pendingWrites };
  }
}

/**
 * The classic rebalance protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) over the coordinator's groups:
 * Kafka's GroupMetadataManager, classic part, decision for decision. Requests are answered through responder
 * callbacks, immediately or once the join/sync phase completes; timers drive everything that happens without
 * a request. A rebalance, step by step:
 *
 *  1. A member joins (or leaves, expires, changes its protocols; or the leader rejoins): prepareRebalance moves
 *     the group to PreparingRebalance. From Empty, the join phase waits group.initial.rebalance.delay.ms and
 *     extends by that delay while new members keep arriving, up to the rebalance timeout. Otherwise it waits
 *     until every known member rejoined, or the largest member rebalance timeout expires.
 *  2. completeJoin: dynamic members that did not rejoin are removed (static ones stay); if nobody rejoined the
 *     phase is rescheduled; else the generation is bumped, a protocol selected, and every parked JoinGroup is
 *     answered (the leader also gets every member's metadata). The group is CompletingRebalance, or Empty
 *     (and its new generation is persisted) when no member is left.
 *  3. Followers' SyncGroups park; the leader's SyncGroup carries the assignment, which is persisted as a
 *     GroupMetadata record. Once the append succeeds every parked SyncGroup gets its assignment and the group
 *     is Stable; if it fails, they get the mapped error and the group rebalances.
 *  4. Members that do not sync within the rebalance timeout are removed and the group rebalances.
 *
 * Sessions: each member has a heartbeat timer (session timeout; a new member's parked JoinGroup is bounded by
 * groupNewMemberJoinTimeoutMs). A member parked in JoinGroup/SyncGroup counts as alive unless it is new.
 */
import { ErrorCode } from '../protocol/error-codes.ts';
import { defaultJoinGroupResponse, type JoinGroupResponse } from '../protocol/generated/clients/join-group-response.ts';
import type { LeaveGroupRequestMemberIdentity } from '../protocol/generated/clients/leave-group-request.ts';
import type { LeaveGroupResponseMemberResponse } from '../protocol/generated/clients/leave-group-response.ts';
import type { SyncGroupRequest } from '../protocol/generated/clients/sync-group-request.ts';
import { defaultSyncGroupResponse, type SyncGroupResponse } from '../protocol/generated/clients/sync-group-response.ts';
import type { HeartbeatRequest } from '../protocol/generated/clients/heartbeat-request.ts';
import {
  ClassicGroup,
  ClassicGroupMember,
  EMPTY_ASSIGNMENT,
  generateMemberId,
  type GroupProtocol,
  type JoinResponder,
  type SyncResponder,
} from './classic-group.ts';
import { GroupState } from './classic-group-state.ts';
import type { CoordinatorContext, RequestContext } from './coordinator-context.ts';
import { groupMetadataRecord } from './coordinator-records.ts';
import { heartbeatTimerKey, joinTimerKey, syncTimerKey } from './coordinator-time.ts';
import { invariant } from './invariant.ts';

/** A JoinGroup request after version normalisation (v0 rebalance timeout, protocols copied out of the frame). */
export interface JoinRequest {
  readonly groupId: string;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly protocolType: string;
  readonly protocols: readonly GroupProtocol[];
  readonly reason: string | null;
}

/** From JoinGroup v4 a new dynamic member must rejoin with a coordinator-issued member id (KIP-394). */
const requiresKnownMemberId = (apiVersion: number): boolean => apiVersion >= 4;
/** From JoinGroup v9 a rejoining static leader may skip the assignment (KIP-814). */
const supportsSkippingAssignment = (apiVersion: number): boolean => apiVersion >= 9;

export function joinError(errorCode: number, memberId: string): JoinGroupResponse {
  return { ...defaultJoinGroupResponse(), errorCode, memberId, protocolName: null, protocolType: null };
}

export function syncError(errorCode: number): SyncGroupResponse {
  return { ...defaultSyncGroupResponse(), errorCode };
}

/** KIP-800: the client's own reason for (re)joining, for the rebalance log line. */
const withClientReason = (reason: string, request: JoinRequest): string => `${reason}; client reason: ${request.reason ?? 'not provided'}`;

const isProtocolInconsistent = (requested: string | null, current: string | null): boolean =>
  requested !== null && current !== null && requested !== current;

/** What a group looked like when it was marked Dead for deletion, to rebuild it if the tombstone append fails. */
export interface DeletedGroup {
  readonly group: ClassicGroup;
  readonly generationId: number;
  readonly protocolType: string | null;
  readonly currentStateTimestampMs: number | null;
}

export class ClassicGroupManager {
  readonly groups = new Map<string, ClassicGroup>();
  private readonly ctx: CoordinatorContext;

  constructor(ctx: CoordinatorContext) {
    this.ctx = ctx;
  }

  newGroup(groupId: string): ClassicGroup {
    invariant(!this.groups.has(groupId), () => `group ${groupId} already exists`);
    const group = new ClassicGroup({ groupId, state: GroupState.Empty, nowMs: () => this.ctx.time.nowMs() });
    this.groups.set(groupId, group);
    return group;
  }

  // ---------------------------------------------------------------- JoinGroup

  join(request: JoinRequest, client: RequestContext, respond: JoinResponder): void {
    const isUnknownMember = request.memberId === '';
    let group = this.groups.get(request.groupId);
    if (group === undefined) {
      // Only a member without an id creates a group; a member id for a group we do not know is stale.
      if (!isUnknownMember) {
        respond(joinError(ErrorCode.UNKNOWN_MEMBER_ID, request.memberId));
        return;
      }
      group = this.newGroup(request.groupId);
    }

    if (!this.acceptJoiningMember(group, request.memberId)) {
      const member = group.member(request.memberId);
      if (member !== undefined) this.removeMember(group, member);
      else group.remove(request.memberId);
      respond(joinError(ErrorCode.GROUP_MAX_SIZE_REACHED, ''));
    } else if (isUnknownMember) {
      this.joinNewMember(group, request, client, respond);
    } else {
      this.joinExistingMember(group, request, client, respond);
    }
  }

  private acceptJoiningMember(group: ClassicGroup, memberId: string): boolean {
    const maxSize = this.ctx.config.groupMaxSize;
    switch (group.state) {
      case GroupState.Empty:
      case GroupState.Dead:
        return true;
      case GroupState.PreparingRebalance:
        // Counting members awaiting join (not all members) lets a shrunk group.max.size shed the last rejoiners.
        return group.member(memberId)?.isAwaitingJoin === true || group.numAwaitingJoin < maxSize;
      case GroupState.CompletingRebalance:
      case GroupState.Stable:
        return group.hasMember(memberId) || group.numMembers < maxSize;
    }
  }

  private joinNewMember(group: ClassicGroup, request: JoinRequest, client: RequestContext, respond: JoinResponder): void {
    if (group.is(GroupState.Dead)) {
      respond(joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, ''));
      return;
    }
    if (!group.supportsProtocols(request.protocolType, request.protocols.map((p) => p.name))) {
      respond(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, ''));
      return;
    }
    const newMemberId = generateMemberId(client.clientId, request.groupInstanceId, this.ctx.randomUuid());
    invariant(!group.hasMember(newMemberId) && !group.isPendingMember(newMemberId), () => `member id ${newMemberId} collides`);

    if (request.groupInstanceId !== null) {
      const existingMemberId = group.staticMemberId(request.groupInstanceId);
      if (existingMemberId !== undefined) {
        this.ctx.logger.info(
          { groupId: group.groupId, groupInstanceId: request.groupInstanceId, oldMemberId: existingMemberId, newMemberId, state: group.state },
          'static member rejoined with an unknown member id: replacing the previous member id',
        );
        this.updateStaticMemberThenRebalanceOrCompleteJoin(group, request, client, existingMemberId, newMemberId, respond);
      } else {
        this.addMemberThenRebalanceOrCompleteJoin(group, request, client, newMemberId, respond);
      }
    } else if (requiresKnownMemberId(client.apiVersion)) {
      group.addPendingMember(newMemberId);
      this.ctx.timers.schedule(heartbeatTimerKey(group.groupId, newMemberId), request.sessionTimeoutMs, () =>
        this.expireMemberHeartbeat(group.groupId, newMemberId),
      );
      respond(joinError(ErrorCode.MEMBER_ID_REQUIRED, newMemberId));
    } else {
      this.addMemberThenRebalanceOrCompleteJoin(group, request, client, newMemberId, respond);
    }
  }

  private joinExistingMember(group: ClassicGroup, request: JoinRequest, client: RequestContext, respond: JoinResponder): void {
    const memberId = request.memberId;
    if (group.is(GroupState.Dead)) {
      respond(joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, memberId));
      return;
    }
    if (!group.supportsProtocols(request.protocolType, request.protocols.map((p) => p.name))) {
      respond(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, memberId));
      return;
    }
    if (group.isPendingMember(memberId)) {
      if (request.groupInstanceId !== null) {
        // Pending member ids are only issued to dynamic members; Kafka fails such a request the same way.
        this.ctx.logger.warn({ groupId: group.groupId, memberId, groupInstanceId: request.groupInstanceId }, 'pending dynamic member id sent with a group instance id');
        respond(joinError(ErrorCode.UNKNOWN_SERVER_ERROR, memberId));
        return;
      }
      this.addMemberThenRebalanceOrCompleteJoin(group, request, client, memberId, respond);
      return;
    }
    const memberError = group.validateMember(memberId, request.groupInstanceId);
    if (memberError !== ErrorCode.NONE) {
      respond(joinError(memberError, memberId));
      return;
    }
    const member = group.requireMember(memberId);
    switch (group.state) {
      case GroupState.PreparingRebalance:
        this.updateMemberThenRebalanceOrCompleteJoin(group, member, request, respond, `member ${memberId} rejoined`);
        return;
      case GroupState.CompletingRebalance:
        if (member.matches(request.protocols)) {
          // The member probably missed its JoinGroup answer: give it the current generation again.
          respond(this.currentJoinResponse(group, memberId, group.isLeader(memberId)));
        } else {
          this.updateMemberThenRebalanceOrCompleteJoin(group, member, request, respond, `member ${memberId} changed its protocols`);
        }
        return;
      case GroupState.Stable:
        if (group.isLeader(memberId)) {
          // The leader rejoins to force a rebalance for changes its metadata does not show (e.g. new partitions).
          this.updateMemberThenRebalanceOrCompleteJoin(group, member, request, respond, `leader ${memberId} rejoined`);
        } else if (!member.matches(request.protocols)) {
          this.updateMemberThenRebalanceOrCompleteJoin(group, member, request, respond, `member ${memberId} changed its protocols`);
        } else {
          respond(this.currentJoinResponse(group, memberId, false));
        }
        return;
      case GroupState.Empty:
      case GroupState.Dead:
        respond(joinError(ErrorCode.UNKNOWN_MEMBER_ID, memberId));
        return;
    }
  }

  private currentJoinResponse(group: ClassicGroup, memberId: string, withMembers: boolean): JoinGroupResponse {
    return {
      ...defaultJoinGroupResponse(),
      members: withMembers ? group.currentMembersForJoinResponse() : [],
      memberId,
      generationId: group.generationId,
      protocolName: group.protocolName,
      protocolType: group.protocolType,
      leader: group.leaderId ?? '',
      skipAssignment: false,
    };
  }

  /** A second JoinGroup from a parked member replaces the first; the first is answered instead of dropped. */
  private supersedeParkedJoin(group: ClassicGroup, member: ClassicGroupMember): void {
    group.completeJoinFuture(member, joinError(ErrorCode.REBALANCE_IN_PROGRESS, member.memberId));
  }

  private updateMemberThenRebalanceOrCompleteJoin(
    group: ClassicGroup,
    member: ClassicGroupMember,
    request: JoinRequest,
    respond: JoinResponder,
    reason: string,
  ): void {
    this.supersedeParkedJoin(group, member);
    group.updateMember(member, request.protocols, request.rebalanceTimeoutMs, request.sessionTimeoutMs, respond);
    this.maybePrepareRebalanceOrCompleteJoin(group, withClientReason(reason, request));
  }

  private addMemberThenRebalanceOrCompleteJoin(
    group: ClassicGroup,
    request: JoinRequest,
    client: RequestContext,
    memberId: string,
    respond: JoinResponder,
  ): void {
    const member = new ClassicGroupMember({
      memberId,
      groupInstanceId: request.groupInstanceId,
      clientId: client.clientId,
      clientHost: client.clientHost,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs,
      sessionTimeoutMs: request.sessionTimeoutMs,
      protocolType: request.protocolType,
      supportedProtocols: request.protocols,
    });
    member.isNew = true;
    // A member arriving during the initial delay extends it once more.
    if (group.is(GroupState.PreparingRebalance) && group.previousState === GroupState.Empty) group.newMemberAdded = true;
    group.add(member, respond);
    // A new member cannot heartbeat while its JoinGroup is parked, and a client that timed out and retried
    // would leave a defunct member behind: bound how long a new member may wait.
    this.rescheduleHeartbeat(group, member, this.ctx.config.groupNewMemberJoinTimeoutMs);
    this.maybePrepareRebalanceOrCompleteJoin(group, withClientReason(`new member ${memberId} joined`, request));
  }

  private updateStaticMemberThenRebalanceOrCompleteJoin(
    group: ClassicGroup,
    request: JoinRequest,
    client: RequestContext,
    oldMemberId: string,
    newMemberId: string,
    respond: JoinResponder,
  ): void {
    const groupInstanceId = request.groupInstanceId;
    invariant(groupInstanceId !== null, 'a static member has a group instance id');
    const currentLeader = group.leaderId;
    this.ctx.timers.cancel(heartbeatTimerKey(group.groupId, oldMemberId));
    const newMember = group.replaceStaticMember(groupInstanceId, oldMemberId, newMemberId);
    this.rescheduleHeartbeat(group, newMember);
    const oldProtocols = newMember.supportedProtocols;
    const oldRebalanceTimeoutMs = newMember.rebalanceTimeoutMs;
    const oldSessionTimeoutMs = newMember.sessionTimeoutMs;
    group.updateMember(newMember, request.protocols, request.rebalanceTimeoutMs, request.sessionTimeoutMs, respond);

    switch (group.state) {
      case GroupState.Stable: {
        if (group.protocolName !== group.selectProtocol()) {
          this.maybePrepareRebalanceOrCompleteJoin(group, `static member ${groupInstanceId} rejoined with protocols that change the group protocol`);
          return;
        }
        // Same protocol: no rebalance. Persist the new member id, then answer.
        const record = groupMetadataRecord(group, group.groupAssignment());
        void this.ctx.writer.write([record], (errorCode) => {
          if (errorCode !== ErrorCode.NONE) {
            this.ctx.logger.warn({ groupId: group.groupId, groupInstanceId, errorCode }, 'failed to persist a replaced static member; reverting to the old member id');
            const stillCurrent = this.groups.get(group.groupId) === group && group.staticMemberId(groupInstanceId) === newMemberId;
            if (stillCurrent && newMember.awaitingJoin === respond) {
              group.updateMember(newMember, oldProtocols, oldRebalanceTimeoutMs, oldSessionTimeoutMs, null);
              this.ctx.timers.cancel(heartbeatTimerKey(group.groupId, newMemberId));
              const oldMember = group.replaceStaticMember(groupInstanceId, newMemberId, oldMemberId);
              this.rescheduleHeartbeat(group, oldMember);
            }
            respond({
              ...defaultJoinGroupResponse(),
              errorCode,
              memberId: '',
              generationId: group.generationId,
              protocolName: group.protocolName,
              protocolType: group.protocolType,
              leader: currentLeader ?? '',
            });
            return;
          }
          if (newMember.awaitingJoin === null) return; // answered meanwhile (fenced, left, or a new generation)
          const isLeader = group.isLeader(newMemberId);
          const response = supportsSkippingAssignment(client.apiVersion)
            ? { ...this.currentJoinResponse(group, newMemberId, isLeader), skipAssignment: isLeader }
            : // Older clients are told the OLD leader id, so a rejoining static leader does not assign
              // (its assignment would not be distributed by a Stable group).
              { ...this.currentJoinResponse(group, newMemberId, false), leader: currentLeader ?? '' };
          group.completeJoinFuture(newMember, response);
          // The heartbeat may have expired (harmlessly) while the member was parked: restart the session.
          this.rescheduleHeartbeat(group, newMember);
        });
        return;
      }
      case GroupState.CompletingRebalance:
        // The leader may already be assigning with the old member id: rebalance so the new id gets partitions.
        this.prepareRebalance(group, `static member ${groupInstanceId} rejoined during CompletingRebalance`);
        return;
      case GroupState.PreparingRebalance:
        this.maybeCompleteJoinPhase(group);
        return;
      case GroupState.Empty:
      case GroupState.Dead:
        invariant(false, () => `group ${group.groupId} cannot be ${group.state} while static member ${groupInstanceId} rejoins`);
    }
  }

  private maybePrepareRebalanceOrCompleteJoin(group: ClassicGroup, reason: string): void {
    if (group.canRebalance()) this.prepareRebalance(group, reason);
    else this.maybeCompleteJoinPhase(group);
  }

  /** Completes the join phase once everybody rejoined, except during the initial delay of a new group. */
  private maybeCompleteJoinPhase(group: ClassicGroup): void {
    if (!group.is(GroupState.PreparingRebalance)) return;
    if (group.previousState === GroupState.Empty) return;
    if (!group.hasAllMembersJoined()) return;
    this.completeJoin(group);
  }

  private prepareRebalance(group: ClassicGroup, reason: string): void {
    if (group.is(GroupState.CompletingRebalance)) this.resetAndPropagateAssignmentWithError(group, ErrorCode.REBALANCE_IN_PROGRESS);
    this.removeSyncExpiration(group);
    const isInitialRebalance = group.is(GroupState.Empty);
    if (isInitialRebalance) {
      const delayMs = this.ctx.config.groupInitialRebalanceDelayMs;
      const remainingMs = Math.max(group.rebalanceTimeoutMs() - delayMs, 0);
      this.ctx.timers.schedule(joinTimerKey(group.groupId), delayMs, () =>
        this.tryCompleteInitialRebalanceElseSchedule(group.groupId, delayMs, remainingMs),
      );
    }
    this.ctx.logger.info({ groupId: group.groupId, from: group.state, generationId: group.generationId, reason }, 'preparing to rebalance group');
    group.transitionTo(GroupState.PreparingRebalance);
    if (!isInitialRebalance) this.maybeCompleteJoinElseSchedule(group);
  }

  private maybeCompleteJoinElseSchedule(group: ClassicGroup): void {
    if (group.hasAllMembersJoined()) {
      this.completeJoin(group);
    } else {
      this.ctx.timers.schedule(joinTimerKey(group.groupId), group.rebalanceTimeoutMs(), () => this.completeJoinOnTimer(group.groupId));
    }
  }

  private tryCompleteInitialRebalanceElseSchedule(groupId: string, delayMs: number, remainingMs: number): void {
    const group = this.groups.get(groupId);
    if (group === undefined) return;
    if (group.newMemberAdded && remainingMs !== 0) {
      group.newMemberAdded = false;
      const newDelayMs = Math.min(this.ctx.config.groupInitialRebalanceDelayMs, remainingMs);
      const newRemainingMs = Math.max(remainingMs - delayMs, 0);
      this.ctx.timers.schedule(joinTimerKey(groupId), newDelayMs, () =>
        this.tryCompleteInitialRebalanceElseSchedule(groupId, newDelayMs, newRemainingMs),
      );
    } else {
      this.completeJoin(group);
    }
  }

  private completeJoinOnTimer(groupId: string): void {
    const group = this.groups.get(groupId);
    if (group !== undefined) this.completeJoin(group);
  }

  private completeJoin(group: ClassicGroup): void {
    this.ctx.timers.cancel(joinTimerKey(group.groupId));
    invariant(
      group.is(GroupState.PreparingRebalance) || group.is(GroupState.Dead),
      () => `group ${group.groupId} completes a join phase in state ${group.state}`,
    );
    const notRejoined = group.notYetRejoinedMembers().filter((m) => !m.isStatic);
    for (const member of notRejoined) this.removeMember(group, member);
    if (notRejoined.length > 0) {
      this.ctx.logger.info({ groupId: group.groupId, memberIds: notRejoined.map((m) => m.memberId) }, 'removed dynamic members that did not rejoin');
    }

    if (group.is(GroupState.Dead)) return;
    if (!group.maybeElectNewJoinedLeader() && group.numMembers > 0) {
      // Only static members that have not rejoined are left: wait for them (or for their sessions to expire).
      this.ctx.logger.warn({ groupId: group.groupId }, 'no member rejoined; extending the join phase');
      this.ctx.timers.schedule(joinTimerKey(group.groupId), group.rebalanceTimeoutMs(), () => this.completeJoinOnTimer(group.groupId));
      return;
    }

    group.initNextGeneration();
    if (group.is(GroupState.Empty)) {
      this.ctx.logger.info({ groupId: group.groupId, generationId: group.generationId }, 'group is now empty');
      // If this append fails the log still holds the previous generation; its members would simply time out
      // after a fail-over, so Kafka only logs it.
      void this.ctx.writer.write([groupMetadataRecord(group, new Map())], (errorCode) => {
        if (errorCode !== ErrorCode.NONE) {
          this.ctx.logger.warn({ groupId: group.groupId, errorCode }, 'failed to persist the metadata of a group that became empty');
        }
      });
      return;
    }

    this.ctx.logger.info(
      { groupId: group.groupId, generationId: group.generationId, members: group.numMembers, protocol: group.protocolName },
      'stabilized group; waiting for the leader assignment',
    );
    const leaderMembers = group.currentMembersForJoinResponse();
    for (const member of [...group.allMembers()]) {
      const isLeader = group.isLeader(member.memberId);
      group.completeJoinFuture(member, {
        ...this.currentJoinResponse(group, member.memberId, false),
        members: isLeader ? leaderMembers : [],
      });
      this.rescheduleHeartbeat(group, member);
      member.isNew = false;
      group.addPendingSyncMember(member.memberId);
    }
    const generationId = group.generationId;
    this.ctx.timers.schedule(syncTimerKey(group.groupId), group.rebalanceTimeoutMs(), () => this.expirePendingSync(group.groupId, generationId));
  }

  // ---------------------------------------------------------------- SyncGroup

  sync(request: SyncGroupRequest, respond: SyncResponder): void {
    const group = this.groups.get(request.groupId);
    if (group === undefined || group.isEmpty) {
      respond(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
      return;
    }
    const validationError = this.validateSync(group, request);
    if (validationError !== ErrorCode.NONE) {
      respond(syncError(validationError));
      return;
    }
    const member = group.requireMember(request.memberId);
    switch (group.state) {
      case GroupState.PreparingRebalance:
        respond(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
        return;
      case GroupState.CompletingRebalance: {
        const previous = member.awaitingSync;
        if (previous !== null) {
          member.awaitingSync = null;
          previous(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
        }
        member.awaitingSync = respond;
        this.removePendingSyncMember(group, member.memberId);
        if (group.isLeader(member.memberId)) this.persistLeaderAssignment(group, request);
        return;
      }
      case GroupState.Stable:
        this.removePendingSyncMember(group, member.memberId);
        respond({
          ...defaultSyncGroupResponse(),
          protocolType: group.protocolType,
          protocolName: group.protocolName,
          assignment: member.assignment,
        });
        return;
      case GroupState.Empty:
      case GroupState.Dead:
        invariant(false, () => `group ${group.groupId} passed sync validation in state ${group.state}`);
    }
  }

  private validateSync(group: ClassicGroup, request: SyncGroupRequest): number {
    if (group.is(GroupState.Dead)) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const memberError = group.validateMember(request.memberId, request.groupInstanceId);
    if (memberError !== ErrorCode.NONE) return memberError;
    if (request.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    if (isProtocolInconsistent(request.protocolType, group.protocolType) || isProtocolInconsistent(request.protocolName, group.protocolName)) {
      return ErrorCode.INCONSISTENT_GROUP_PROTOCOL;
    }
    return ErrorCode.NONE;
  }

  private persistLeaderAssignment(group: ClassicGroup, request: SyncGroupRequest): void {
    const assignment = new Map<string, Buffer>();
    // Copied: the request's byte fields are views into its frame.
    for (const entry of request.assignments) assignment.set(entry.memberId, Buffer.from(entry.assignment));
    const missing = group.allMemberIds().filter((id) => !assignment.has(id));
    for (const id of missing) assignment.set(id, EMPTY_ASSIGNMENT);
    if (missing.length > 0) {
      this.ctx.logger.warn({ groupId: group.groupId, generationId: group.generationId, memberIds: missing }, 'leader sent no assignment for some members; they get an empty one');
    }
    const generationId = request.generationId;
    this.ctx.logger.info({ groupId: group.groupId, generationId, leader: request.memberId }, 'assignment received from the leader');
    void this.ctx.writer.write([groupMetadataRecord(group, assignment)], (errorCode) => {
      // The group may have moved on (a member joined or left) while the record was being written.
      if (this.groups.get(group.groupId) !== group || !group.is(GroupState.CompletingRebalance) || group.generationId !== generationId) return;
      if (errorCode !== ErrorCode.NONE) {
        this.resetAndPropagateAssignmentWithError(group, errorCode);
        this.maybePrepareRebalanceOrCompleteJoin(group, `failed to persist the assignment (error ${errorCode})`);
        return;
      }
      for (const member of group.allMembers()) member.assignment = assignment.get(member.memberId) ?? EMPTY_ASSIGNMENT;
      this.propagateAssignment(group, ErrorCode.NONE);
      group.transitionTo(GroupState.Stable);
    });
  }

  private removePendingSyncMember(group: ClassicGroup, memberId: string): void {
    group.removePendingSyncMember(memberId);
    switch (group.state) {
      case GroupState.Dead:
      case GroupState.Empty:
      case GroupState.PreparingRebalance:
        this.ctx.timers.cancel(syncTimerKey(group.groupId));
        return;
      case GroupState.CompletingRebalance:
      case GroupState.Stable:
        if (group.hasReceivedSyncFromAllMembers()) this.ctx.timers.cancel(syncTimerKey(group.groupId));
        return;
    }
  }

  private resetAndPropagateAssignmentWithError(group: ClassicGroup, errorCode: number): void {
    invariant(group.is(GroupState.CompletingRebalance), () => `group ${group.groupId} must be CompletingRebalance, is ${group.state}`);
    for (const member of group.allMembers()) member.assignment = EMPTY_ASSIGNMENT;
    this.propagateAssignment(group, errorCode);
  }

  private propagateAssignment(group: ClassicGroup, errorCode: number): void {
    const ok = errorCode === ErrorCode.NONE;
    for (const member of group.allMembers()) {
      const answered = group.completeSyncFuture(member, {
        ...defaultSyncGroupResponse(),
        errorCode,
        protocolName: ok ? group.protocolName : null,
        protocolType: ok ? group.protocolType : null,
        assignment: member.assignment,
      });
      // The member's session may have expired (harmlessly) while it was parked: restart it.
      if (answered) this.rescheduleHeartbeat(group, member);
    }
  }

  private removeSyncExpiration(group: ClassicGroup): void {
    group.clearPendingSyncMembers();
    this.ctx.timers.cancel(syncTimerKey(group.groupId));
  }

  private expirePendingSync(groupId: string, generationId: number): void {
    const group = this.groups.get(groupId);
    if (group === undefined || group.generationId !== generationId) return;
    if (!group.is(GroupState.CompletingRebalance) && !group.is(GroupState.Stable)) return;
    if (group.hasReceivedSyncFromAllMembers()) return;
    const missing = group.allPendingSyncMembers();
    for (const memberId of missing) this.removeMember(group, group.requireMember(memberId));
    this.prepareRebalance(group, `members ${missing.join(', ')} did not sync in time`);
  }

  // ---------------------------------------------------------------- Heartbeat and sessions

  heartbeat(request: HeartbeatRequest): number {
    const group = this.groups.get(request.groupId);
    if (group === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (group.is(GroupState.Dead)) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const memberError = group.validateMember(request.memberId, request.groupInstanceId);
    if (memberError !== ErrorCode.NONE) return memberError;
    if (request.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    switch (group.state) {
      case GroupState.Empty:
        return ErrorCode.UNKNOWN_MEMBER_ID;
      case GroupState.PreparingRebalance:
        this.rescheduleHeartbeat(group, group.requireMember(request.memberId));
        return ErrorCode.REBALANCE_IN_PROGRESS;
      case GroupState.CompletingRebalance:
      case GroupState.Stable:
        // Members may heartbeat between their JoinGroup answer and their SyncGroup.
        this.rescheduleHeartbeat(group, group.requireMember(request.memberId));
        return ErrorCode.NONE;
      case GroupState.Dead:
        return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
  }

  rescheduleHeartbeat(group: ClassicGroup, member: ClassicGroupMember, timeoutMs = member.sessionTimeoutMs): void {
    const groupId = group.groupId;
    const memberId = member.memberId;
    this.ctx.timers.schedule(heartbeatTimerKey(groupId, memberId), timeoutMs, () => this.expireMemberHeartbeat(groupId, memberId));
  }

  private expireMemberHeartbeat(groupId: string, memberId: string): void {
    const group = this.groups.get(groupId);
    if (group === undefined || group.is(GroupState.Dead)) return;
    if (group.isPendingMember(memberId)) {
      this.ctx.logger.info({ groupId, memberId }, 'pending member did not rejoin within its session timeout');
      group.remove(memberId);
      if (group.is(GroupState.PreparingRebalance) && group.hasAllMembersJoined()) this.completeJoin(group);
      return;
    }
    const member = group.member(memberId);
    if (member === undefined || member.hasSatisfiedHeartbeat()) return;
    this.ctx.logger.info({ groupId, memberId, state: group.state }, 'member session expired; removing it from the group');
    this.removeMember(group, member);
    if (group.is(GroupState.Stable) || group.is(GroupState.CompletingRebalance)) {
      this.maybePrepareRebalanceOrCompleteJoin(group, `member ${memberId} session expired`);
    } else if (group.is(GroupState.PreparingRebalance) && group.hasAllMembersJoined()) {
      this.completeJoin(group);
    }
  }

  /**
   * Removes a member, answering its parked requests with UNKNOWN_MEMBER_ID so that a client that is still
   * alive rejoins (Kafka answers the parked JoinGroup; we answer a parked SyncGroup too rather than drop it).
   */
  private removeMember(group: ClassicGroup, member: ClassicGroupMember): void {
    this.ctx.timers.cancel(heartbeatTimerKey(group.groupId, member.memberId));
    group.completeJoinFuture(member, joinError(ErrorCode.UNKNOWN_MEMBER_ID, ''));
    group.completeSyncFuture(member, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    group.remove(member.memberId);
  }

  // ---------------------------------------------------------------- LeaveGroup

  /** v3+ batch semantics; the caller folds the result into v0-v2's single top-level error. */
  leave(groupId: string, identities: readonly LeaveGroupRequestMemberIdentity[]): { errorCode: number; members: LeaveGroupResponseMemberResponse[] } {
    const group = this.groups.get(groupId);
    if (group === undefined) {
      return {
        errorCode: ErrorCode.NONE,
        members: identities.map((id) => ({ memberId: id.memberId, groupInstanceId: id.groupInstanceId, errorCode: ErrorCode.UNKNOWN_MEMBER_ID })),
      };
    }
    if (group.is(GroupState.Dead)) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };

    const responses: LeaveGroupResponseMemberResponse[] = [];
    for (const identity of identities) {
      const answer = (errorCode: number): void => {
        responses.push({ memberId: identity.memberId, groupInstanceId: identity.groupInstanceId, errorCode });
      };
      const reason = identity.reason ?? 'not provided';
      if (identity.memberId === '') {
        // Administrative removal of a static member by its instance id (KIP-345).
        const staticMemberId = identity.groupInstanceId === null ? undefined : group.staticMemberId(identity.groupInstanceId);
        if (staticMemberId === undefined) {
          answer(ErrorCode.UNKNOWN_MEMBER_ID);
        } else {
          this.ctx.logger.info({ groupId, memberId: staticMemberId, groupInstanceId: identity.groupInstanceId, reason }, 'static member removed by LeaveGroup');
          this.removeMember(group, group.requireMember(staticMemberId));
          answer(ErrorCode.NONE);
        }
      } else if (group.isPendingMember(identity.memberId)) {
        group.remove(identity.memberId);
        this.ctx.timers.cancel(heartbeatTimerKey(groupId, identity.memberId));
        answer(ErrorCode.NONE);
      } else {
        const memberError = group.validateMember(identity.memberId, identity.groupInstanceId);
        if (memberError !== ErrorCode.NONE) {
          answer(memberError);
        } else {
          this.ctx.logger.info({ groupId, memberId: identity.memberId, reason }, 'member left the group');
          this.removeMember(group, group.requireMember(identity.memberId));
          answer(ErrorCode.NONE);
        }
      }
    }

    if (responses.some((r) => r.errorCode === ErrorCode.NONE)) {
      switch (group.state) {
        case GroupState.Stable:
        case GroupState.CompletingRebalance:
          this.maybePrepareRebalanceOrCompleteJoin(group, 'members left the group');
          break;
        case GroupState.PreparingRebalance:
          this.maybeCompleteJoinPhase(group);
          break;
        case GroupState.Empty:
        case GroupState.Dead:
          break;
      }
    }
    return { errorCode: ErrorCode.NONE, members: responses };
  }

  // ---------------------------------------------------------------- Lifecycle

  /** After a load: start every member's session, and shed members if group.max.size shrank. */
  onLoaded(): void {
    for (const group of this.groups.values()) {
      for (const member of group.allMembers()) this.rescheduleHeartbeat(group, member);
      if (group.numMembers > this.ctx.config.groupMaxSize) {
        this.prepareRebalance(group, `loaded group has ${group.numMembers} members, above group.max.size ${this.ctx.config.groupMaxSize}`);
      }
    }
  }

  /**
   * Marks an Empty group Dead ahead of its deletion (tombstones in flight): requests see a Dead group until
   * the tombstone lands (removeDeletedGroup) or fails (restoreDeletedGroup).
   */
  markDeleted(group: ClassicGroup): DeletedGroup {
    invariant(group.is(GroupState.Empty), () => `only an Empty group can be deleted; ${group.groupId} is ${group.state}`);
    invariant(this.groups.get(group.groupId) === group, () => `group ${group.groupId} is not current`);
    this.cancelGroupTimers(group);
    const deleted: DeletedGroup = {
      group,
      generationId: group.generationId,
      protocolType: group.protocolType,
      currentStateTimestampMs: group.currentStateTimestampMs,
    };
    group.transitionTo(GroupState.Dead);
    return deleted;
  }

  removeDeletedGroup(deleted: DeletedGroup): void {
    invariant(this.groups.get(deleted.group.groupId) === deleted.group, () => `deleted group ${deleted.group.groupId} was replaced`);
    this.groups.delete(deleted.group.groupId);
  }

  restoreDeletedGroup(deleted: DeletedGroup): void {
    const groupId = deleted.group.groupId;
    if (this.groups.get(groupId) !== deleted.group) return;
    const restored = new ClassicGroup({
      groupId,
      state: GroupState.Empty,
      nowMs: () => this.ctx.time.nowMs(),
      generationId: deleted.generationId,
      protocolType: deleted.protocolType,
      currentStateTimestampMs: deleted.currentStateTimestampMs,
    });
    restored.refreshSubscribedTopics();
    this.groups.set(groupId, restored);
  }

  /** Coordinator shutdown: every group becomes Dead and every parked request is answered NOT_COORDINATOR. */
  unloadAll(): void {
    for (const group of this.groups.values()) {
      this.cancelGroupTimers(group);
      group.transitionTo(GroupState.Dead);
      for (const member of group.allMembers()) {
        group.completeJoinFuture(member, joinError(ErrorCode.NOT_COORDINATOR, member.memberId));
        group.completeSyncFuture(member, syncError(ErrorCode.NOT_COORDINATOR));
      }
    }
  }

  private cancelGroupTimers(group: ClassicGroup): void {
    this.ctx.timers.cancel(joinTimerKey(group.groupId));
    this.ctx.timers.cancel(syncTimerKey(group.groupId));
    for (const memberId of group.allMemberIds()) this.ctx.timers.cancel(heartbeatTimerKey(group.groupId, memberId));
    for (const memberId of group.pendingJoinMembers()) this.ctx.timers.cancel(heartbeatTimerKey(group.groupId, memberId));
  }

  /** Group invariants plus the timer discipline every live group relies on. */
  checkInvariants(): void {
    const timers = this.ctx.timers;
    for (const [groupId, group] of this.groups) {
      invariant(group.groupId === groupId, () => `group ${group.groupId} stored under ${groupId}`);
      group.checkInvariants();
      if (group.is(GroupState.Dead)) continue;
      const where = `group ${groupId} (${group.state})`;
      if (group.is(GroupState.PreparingRebalance)) invariant(timers.has(joinTimerKey(groupId)), `${where}: no join-phase timer`);
      else invariant(!timers.has(joinTimerKey(groupId)), `${where}: stray join-phase timer`);
      if ((group.is(GroupState.CompletingRebalance) || group.is(GroupState.Stable)) && !group.hasReceivedSyncFromAllMembers()) {
        invariant(timers.has(syncTimerKey(groupId)), `${where}: members pending sync but no sync deadline`);
      }
      for (const member of group.allMembers()) {
        if (!member.isAwaitingJoin && !member.isAwaitingSync) {
          invariant(timers.has(heartbeatTimerKey(groupId, member.memberId)), `${where}: member ${member.memberId} has no session timer`);
        }
      }
      for (const memberId of group.pendingJoinMembers()) {
        invariant(timers.has(heartbeatTimerKey(groupId, memberId)), `${where}: pending member ${memberId} has no session timer`);
      }
    }
  }
}

/**
 * One classic consumer group: members, generation, leader, protocol, and the join/sync bookkeeping of a
 * rebalance (Kafka's ClassicGroup + ClassicGroupMember). This class holds state and checks its own invariants;
 * the rebalance protocol that drives it (timers, records, responses) lives in ClassicGroupManager.
 *
 * State transitions are listed in classic-group-state.ts; transitionTo() asserts each one.
 *
 * Members are kept in a Map, so iteration follows join order: leader fail-over and protocol votes are
 * deterministic (Kafka iterates a HashMap; the outcome there is arbitrary but equally valid).
 */
import { ErrorCode } from '../protocol/error-codes.ts';
import { defaultJoinGroupResponse, type JoinGroupResponse, type JoinGroupResponseJoinGroupResponseMember } from '../protocol/generated/clients/join-group-response.ts';
import { defaultSyncGroupResponse, type SyncGroupResponse } from '../protocol/generated/clients/sync-group-response.ts';
import { GroupState, isValidTransition, validPreviousStates } from './classic-group-state.ts';
import { CONSUMER_PROTOCOL_TYPE, subscribedTopicsOf } from './consumer-protocol.ts';
import { invariant } from './invariant.ts';

export const EMPTY_ASSIGNMENT: Buffer = Buffer.alloc(0);

/** One entry of a member's JoinGroup protocol list (name + opaque metadata, copied out of the request frame). */
export interface GroupProtocol {
  readonly name: string;
  readonly metadata: Buffer;
}

/** Completes a parked JoinGroup/SyncGroup request. Called at most once per request. */
export type JoinResponder = (response: JoinGroupResponse) => void;
export type SyncResponder = (response: SyncGroupResponse) => void;

export interface ClassicGroupMemberInit {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly rebalanceTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  readonly protocolType: string;
  readonly supportedProtocols: readonly GroupProtocol[];
  readonly assignment?: Buffer;
}

export class ClassicGroupMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly protocolType: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  supportedProtocols: readonly GroupProtocol[];
  assignment: Buffer;
  /** Set while the member's JoinGroup is parked until the join phase completes. */
  awaitingJoin: JoinResponder | null = null;
  /** Set while the member's SyncGroup is parked until the leader's assignment is persisted. */
  awaitingSync: SyncResponder | null = null;
  /** A member added in the current join phase; it can expire while its JoinGroup is parked. */
  isNew = false;

  constructor(init: ClassicGroupMemberInit) {
    this.memberId = init.memberId;
    this.groupInstanceId = init.groupInstanceId;
    this.clientId = init.clientId;
    this.clientHost = init.clientHost;
    this.protocolType = init.protocolType;
    this.rebalanceTimeoutMs = init.rebalanceTimeoutMs;
    this.sessionTimeoutMs = init.sessionTimeoutMs;
    this.supportedProtocols = init.supportedProtocols;
    this.assignment = init.assignment ?? EMPTY_ASSIGNMENT;
  }

  get isStatic(): boolean {
    return this.groupInstanceId !== null;
  }

  get isAwaitingJoin(): boolean {
    return this.awaitingJoin !== null;
  }

  get isAwaitingSync(): boolean {
    return this.awaitingSync !== null;
  }

  /** The metadata this member sent for `protocolName`; the protocol must be one the member supports. */
  metadata(protocolName: string): Buffer {
    const protocol = this.supportedProtocols.find((p) => p.name === protocolName);
    invariant(protocol !== undefined, () => `member ${this.memberId} does not support protocol ${protocolName}`);
    return protocol.metadata;
  }

  /** A member parked in JoinGroup/SyncGroup counts as alive, unless it is new (Kafka's hasSatisfiedHeartbeat). */
  hasSatisfiedHeartbeat(): boolean {
    if (this.isNew) return false;
    return this.isAwaitingJoin || this.isAwaitingSync;
  }

  /** Same protocols, same order, same metadata bytes. */
  matches(protocols: readonly GroupProtocol[]): boolean {
    if (protocols.length !== this.supportedProtocols.length) return false;
    return protocols.every((p, i) => {
      const mine = this.supportedProtocols[i];
      return mine !== undefined && mine.name === p.name && mine.metadata.equals(p.metadata);
    });
  }

  /** The member's most preferred protocol among `candidates`. */
  vote(candidates: ReadonlySet<string>): string {
    const choice = this.supportedProtocols.find((p) => candidates.has(p.name));
    invariant(choice !== undefined, () => `member ${this.memberId} supports none of the candidate protocols`);
    return choice.name;
  }
}

export interface ClassicGroupInit {
  readonly groupId: string;
  /** Empty for a new group; Empty or Stable when rebuilt from a GroupMetadata record. */
  readonly state: typeof GroupState.Empty | typeof GroupState.Stable;
  readonly nowMs: () => number;
  readonly generationId?: number;
  readonly protocolType?: string | null;
  readonly protocolName?: string | null;
  readonly leaderId?: string | null;
  /** When the group entered its state; defaults to now. */
  readonly currentStateTimestampMs?: number | null;
}

export class ClassicGroup {
  readonly groupId: string;
  private readonly nowMs: () => number;
  private stateValue: GroupState;
  private previousStateValue: GroupState = GroupState.Dead;
  private currentStateTimestamp: number | null;
  private protocolTypeValue: string | null;
  private protocolNameValue: string | null;
  private generation: number;
  private leader: string | null;
  private readonly memberMap = new Map<string, ClassicGroupMember>();
  /** group.instance.id -> member id (KIP-345). */
  private readonly staticMemberIds = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED that have not joined yet (KIP-394). */
  private readonly pendingJoinMemberIds = new Set<string>();
  private numMembersAwaitingJoin = 0;
  /** Protocol name -> number of members supporting it. */
  private readonly protocolSupport = new Map<string, number>();
  /** Members of the new generation that have not sent SyncGroup yet. */
  private readonly pendingSyncMemberIds = new Set<string>();
  private subscribedTopicsValue: ReadonlySet<string> | null = null;
  /** A member joined during the initial rebalance delay: extend the delay once more. */
  newMemberAdded = false;

  constructor(init: ClassicGroupInit) {
    this.groupId = init.groupId;
    this.nowMs = init.nowMs;
    this.stateValue = init.state;
    this.generation = init.generationId ?? 0;
    this.protocolTypeValue = init.protocolType ?? null;
    this.protocolNameValue = init.protocolName ?? null;
    this.leader = init.leaderId ?? null;
    this.currentStateTimestamp = init.currentStateTimestampMs === undefined ? init.nowMs() : init.currentStateTimestampMs;
  }

  get state(): GroupState {
    return this.stateValue;
  }

  get previousState(): GroupState {
    return this.previousStateValue;
  }

  get generationId(): number {
    return this.generation;
  }

  get protocolType(): string | null {
    return this.protocolTypeValue;
  }

  get protocolName(): string | null {
    return this.protocolNameValue;
  }

  get leaderId(): string | null {
    return this.leader;
  }

  /** When the group entered its current state, or null if unknown (groups loaded from old records). */
  get currentStateTimestampMs(): number | null {
    return this.currentStateTimestamp;
  }

  get subscribedTopics(): ReadonlySet<string> | null {
    return this.subscribedTopicsValue;
  }

  get numMembers(): number {
    return this.memberMap.size;
  }

  get numAwaitingJoin(): number {
    return this.numMembersAwaitingJoin;
  }

  get numPendingJoinMembers(): number {
    return this.pendingJoinMemberIds.size;
  }

  is(state: GroupState): boolean {
    return this.stateValue === state;
  }

  /** Kafka's Group.isEmpty for classic groups: the Empty state (pending members do not count). */
  get isEmpty(): boolean {
    return this.stateValue === GroupState.Empty;
  }

  hasMember(memberId: string): boolean {
    return this.memberMap.has(memberId);
  }

  member(memberId: string): ClassicGroupMember | undefined {
    return this.memberMap.get(memberId);
  }

  requireMember(memberId: string): ClassicGroupMember {
    const member = this.memberMap.get(memberId);
    invariant(member !== undefined, () => `group ${this.groupId} has no member ${memberId}`);
    return member;
  }

  allMembers(): IterableIterator<ClassicGroupMember> {
    return this.memberMap.values();
  }

  allMemberIds(): string[] {
    return [...this.memberMap.keys()];
  }

  pendingJoinMembers(): string[] {
    return [...this.pendingJoinMemberIds];
  }

  allPendingSyncMembers(): string[] {
    return [...this.pendingSyncMemberIds];
  }

  isLeader(memberId: string): boolean {
    return this.leader === memberId;
  }

  usesConsumerGroupProtocol(): boolean {
    return this.protocolTypeValue === CONSUMER_PROTOCOL_TYPE;
  }

  canRebalance(): boolean {
    return isValidTransition(this.stateValue, GroupState.PreparingRebalance);
  }

  transitionTo(target: GroupState): void {
    invariant(
      isValidTransition(this.stateValue, target),
      () =>
        `group ${this.groupId} must be in one of [${validPreviousStates(target).join(', ')}] to move to ${target}, but is ${this.stateValue}`,
    );
    this.previousStateValue = this.stateValue;
    this.stateValue = target;
    this.currentStateTimestamp = this.nowMs();
  }

  /** Adds a member; `responder` parks its JoinGroup (null for members rebuilt from the log). */
  add(member: ClassicGroupMember, responder: JoinResponder | null): void {
    invariant(!this.memberMap.has(member.memberId), () => `member ${member.memberId} is already in group ${this.groupId}`);
    if (member.groupInstanceId !== null) {
      invariant(
        !this.staticMemberIds.has(member.groupInstanceId),
        () => `static member ${member.groupInstanceId} is already in group ${this.groupId}`,
      );
      this.staticMemberIds.set(member.groupInstanceId, member.memberId);
    }
    if (this.memberMap.size === 0) this.protocolTypeValue = member.protocolType;
    invariant(this.protocolTypeValue === member.protocolType, 'the group and member protocol types must match');
    invariant(this.supportsProtocols(member.protocolType, member.supportedProtocols.map((p) => p.name)), 'no protocol of the member is supported by the group');
    if (this.leader === null) this.leader = member.memberId;
    this.memberMap.set(member.memberId, member);
    this.countProtocols(member, 1);
    member.awaitingJoin = responder;
    if (responder !== null) this.numMembersAwaitingJoin++;
    this.pendingJoinMemberIds.delete(member.memberId);
  }

  /**
   * Removes a member (or a pending member id). The leader moves to the first remaining member. Parked
   * requests of the removed member are NOT completed here: the caller answers them.
   */
  remove(memberId: string): ClassicGroupMember | undefined {
    const removed = this.memberMap.get(memberId);
    if (removed !== undefined) {
      this.memberMap.delete(memberId);
      this.countProtocols(removed, -1);
      if (removed.isAwaitingJoin) this.numMembersAwaitingJoin--;
      if (removed.groupInstanceId !== null) this.staticMemberIds.delete(removed.groupInstanceId);
    }
    if (this.isLeader(memberId)) {
      const next = this.memberMap.keys().next();
      this.leader = next.done === true ? null : next.value;
    }
    this.pendingJoinMemberIds.delete(memberId);
    this.pendingSyncMemberIds.delete(memberId);
    return removed;
  }

  /**
   * At the end of a join phase: keep the leader if it rejoined, else elect the first member that did.
   * False when no member rejoined (or the group has no leader), so the phase cannot complete yet.
   */
  maybeElectNewJoinedLeader(): boolean {
    if (this.leader === null) return false;
    const current = this.requireMember(this.leader);
    if (current.isAwaitingJoin) return true;
    for (const member of this.memberMap.values()) {
      if (member.isAwaitingJoin) {
        this.leader = member.memberId;
        return true;
      }
    }
    return false;
  }

  /**
   * KIP-345: a static member rejoined with an unknown member id. The old member id is replaced by `newMemberId`
   * keeping everything else; requests parked under the old id are answered FENCED_INSTANCE_ID.
   */
  replaceStaticMember(groupInstanceId: string, oldMemberId: string, newMemberId: string): ClassicGroupMember {
    const removed = this.memberMap.get(oldMemberId);
    invariant(removed !== undefined, () => `cannot replace unknown member ${oldMemberId} of group ${this.groupId}`);
    invariant(removed.groupInstanceId === groupInstanceId, 'replaced member must carry the group instance id');
    invariant(!this.memberMap.has(newMemberId), () => `member ${newMemberId} already exists`);
    this.memberMap.delete(oldMemberId);
    if (removed.isAwaitingJoin) this.numMembersAwaitingJoin--;
    const joinResponder = removed.awaitingJoin;
    const syncResponder = removed.awaitingSync;
    removed.awaitingJoin = null;
    removed.awaitingSync = null;
    joinResponder?.({ ...defaultJoinGroupResponse(), memberId: oldMemberId, protocolName: null, protocolType: null, errorCode: ErrorCode.FENCED_INSTANCE_ID });
    syncResponder?.({ ...defaultSyncGroupResponse(), errorCode: ErrorCode.FENCED_INSTANCE_ID });

    const replacement = new ClassicGroupMember({
      memberId: newMemberId,
      groupInstanceId,
      clientId: removed.clientId,
      clientHost: removed.clientHost,
      rebalanceTimeoutMs: removed.rebalanceTimeoutMs,
      sessionTimeoutMs: removed.sessionTimeoutMs,
      protocolType: removed.protocolType,
      supportedProtocols: removed.supportedProtocols,
      assignment: removed.assignment,
    });
    this.memberMap.set(newMemberId, replacement);
    if (this.isLeader(oldMemberId)) this.leader = newMemberId;
    if (this.pendingSyncMemberIds.delete(oldMemberId)) this.pendingSyncMemberIds.add(newMemberId);
    this.staticMemberIds.set(groupInstanceId, newMemberId);
    return replacement;
  }

  isPendingMember(memberId: string): boolean {
    return this.pendingJoinMemberIds.has(memberId);
  }

  addPendingMember(memberId: string): void {
    invariant(!this.memberMap.has(memberId), () => `pending member ${memberId} is already a member`);
    this.pendingJoinMemberIds.add(memberId);
  }

  addPendingSyncMember(memberId: string): void {
    invariant(this.memberMap.has(memberId), () => `pending sync member ${memberId} is not a member`);
    this.pendingSyncMemberIds.add(memberId);
  }

  removePendingSyncMember(memberId: string): boolean {
    invariant(this.memberMap.has(memberId), () => `pending sync member ${memberId} is not a member`);
    return this.pendingSyncMemberIds.delete(memberId);
  }

  hasReceivedSyncFromAllMembers(): boolean {
    return this.pendingSyncMemberIds.size === 0;
  }

  clearPendingSyncMembers(): void {
    this.pendingSyncMemberIds.clear();
  }

  hasStaticMember(groupInstanceId: string): boolean {
    return this.staticMemberIds.has(groupInstanceId);
  }

  staticMemberId(groupInstanceId: string): string | undefined {
    return this.staticMemberIds.get(groupInstanceId);
  }

  notYetRejoinedMembers(): ClassicGroupMember[] {
    return [...this.memberMap.values()].filter((m) => !m.isAwaitingJoin);
  }

  hasAllMembersJoined(): boolean {
    return this.memberMap.size === this.numMembersAwaitingJoin && this.pendingJoinMemberIds.size === 0;
  }

  /** The largest rebalance timeout among members (how long a join or sync phase may take). */
  rebalanceTimeoutMs(): number {
    let max = 0;
    for (const member of this.memberMap.values()) max = Math.max(max, member.rebalanceTimeoutMs);
    return max;
  }

  /** Kafka's validateMember: error code for a member id / instance id pair, NONE when it names a member. */
  validateMember(memberId: string, groupInstanceId: string | null): number {
    if (groupInstanceId !== null) {
      const existing = this.staticMemberIds.get(groupInstanceId);
      if (existing === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (existing !== memberId) return ErrorCode.FENCED_INSTANCE_ID;
    }
    return this.memberMap.has(memberId) ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
  }

  /**
   * OffsetCommit checks. Generation < 0 with no member id is a simple (admin / manual-assignment) commit,
   * accepted only while the group is Empty.
   */
  validateOffsetCommit(memberId: string, groupInstanceId: string | null, generationId: number): number {
    if (this.is(GroupState.Dead)) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (generationId < 0 && this.is(GroupState.Empty)) return ErrorCode.NONE;
    if (generationId >= 0 || memberId !== '' || groupInstanceId !== null) {
      const memberError = this.validateMember(memberId, groupInstanceId);
      if (memberError !== ErrorCode.NONE) return memberError;
      if (generationId !== this.generation) return ErrorCode.ILLEGAL_GENERATION;
    } else if (!this.is(GroupState.Empty)) {
      return ErrorCode.UNKNOWN_MEMBER_ID;
    }
    // Members of the new generation have their JoinGroup answer but no assignment yet.
    if (this.is(GroupState.CompletingRebalance)) return ErrorCode.REBALANCE_IN_PROGRESS;
    return ErrorCode.NONE;
  }

  validateOffsetDelete(): number {
    switch (this.stateValue) {
      case GroupState.Dead:
        return ErrorCode.GROUP_ID_NOT_FOUND;
      case GroupState.Stable:
      case GroupState.PreparingRebalance:
      case GroupState.CompletingRebalance:
        return this.usesConsumerGroupProtocol() ? ErrorCode.NONE : ErrorCode.NON_EMPTY_GROUP;
      case GroupState.Empty:
        return ErrorCode.NONE;
    }
  }

  validateDeleteGroup(): number {
    switch (this.stateValue) {
      case GroupState.Dead:
        return ErrorCode.GROUP_ID_NOT_FOUND;
      case GroupState.Stable:
      case GroupState.PreparingRebalance:
      case GroupState.CompletingRebalance:
        return ErrorCode.NON_EMPTY_GROUP;
      case GroupState.Empty:
        return ErrorCode.NONE;
    }
  }

  /**
   * Which timestamp an offset's retention runs from, or null when this group's offsets do not expire now:
   *  - Empty group with a protocol type: from when the group became Empty (else the commit time);
   *  - Stable consumer group that knows its subscriptions: unsubscribed topics, from the commit time;
   *  - simple group (no protocol type): from the commit time.
   */
  offsetExpirationBase(): ((commitTimestampMs: number) => number) | null {
    if (this.protocolTypeValue !== null) {
      if (this.is(GroupState.Empty)) {
        const becameEmptyMs = this.currentStateTimestamp;
        return (commitTimestampMs) => becameEmptyMs ?? commitTimestampMs;
      }
      if (this.usesConsumerGroupProtocol() && this.subscribedTopicsValue !== null && this.is(GroupState.Stable)) {
        return (commitTimestampMs) => commitTimestampMs;
      }
      return null;
    }
    return (commitTimestampMs) => commitTimestampMs;
  }

  /**
   * Whether the group consumes `topic`. When the subscriptions are unknown (not parsed yet, or not the consumer
   * protocol), consumer-protocol groups are assumed subscribed, others not.
   */
  isSubscribedToTopic(topic: string): boolean {
    return this.subscribedTopicsValue === null ? this.usesConsumerGroupProtocol() : this.subscribedTopicsValue.has(topic);
  }

  /** Whether one of `names` is supported by every current member (any non-empty list when the group is Empty). */
  supportsProtocols(memberProtocolType: string, names: readonly string[]): boolean {
    if (this.is(GroupState.Empty)) return memberProtocolType !== '' && names.length > 0;
    return (
      this.protocolTypeValue === memberProtocolType &&
      names.some((name) => (this.protocolSupport.get(name) ?? 0) === this.memberMap.size)
    );
  }

  /** The protocol all members support that most members prefer (ties: the one voted for first). */
  selectProtocol(): string {
    invariant(this.memberMap.size > 0, () => `cannot select a protocol for empty group ${this.groupId}`);
    const candidates = new Set<string>();
    for (const [name, count] of this.protocolSupport) if (count === this.memberMap.size) candidates.add(name);
    const votes = new Map<string, number>();
    for (const member of this.memberMap.values()) {
      const choice = member.vote(candidates);
      votes.set(choice, (votes.get(choice) ?? 0) + 1);
    }
    let best: string | null = null;
    let bestVotes = 0;
    for (const [name, count] of votes) {
      if (count > bestVotes) {
        best = name;
        bestVotes = count;
      }
    }
    invariant(best !== null, 'a non-empty group always has a protocol vote');
    return best;
  }

  /** Replaces a member's protocols and timeouts; parks (responder) or un-parks (null) its JoinGroup. */
  updateMember(
    member: ClassicGroupMember,
    protocols: readonly GroupProtocol[],
    rebalanceTimeoutMs: number,
    sessionTimeoutMs: number,
    responder: JoinResponder | null,
  ): void {
    invariant(this.memberMap.get(member.memberId) === member, () => `member ${member.memberId} is not in group ${this.groupId}`);
    this.countProtocols(member, -1);
    member.supportedProtocols = protocols;
    this.countProtocols(member, 1);
    member.rebalanceTimeoutMs = rebalanceTimeoutMs;
    member.sessionTimeoutMs = sessionTimeoutMs;
    if (responder !== null && !member.isAwaitingJoin) this.numMembersAwaitingJoin++;
    else if (responder === null && member.isAwaitingJoin) this.numMembersAwaitingJoin--;
    member.awaitingJoin = responder;
  }

  completeJoinFuture(member: ClassicGroupMember, response: JoinGroupResponse): boolean {
    const responder = member.awaitingJoin;
    if (responder === null) return false;
    member.awaitingJoin = null;
    this.numMembersAwaitingJoin--;
    responder(response);
    return true;
  }

  completeSyncFuture(member: ClassicGroupMember, response: SyncGroupResponse): boolean {
    const responder = member.awaitingSync;
    if (responder === null) return false;
    member.awaitingSync = null;
    responder(response);
    return true;
  }

  /** Starts the next generation: CompletingRebalance with a selected protocol, or Empty without members. */
  initNextGeneration(): void {
    this.generation++;
    if (this.memberMap.size > 0) {
      this.protocolNameValue = this.selectProtocol();
      this.subscribedTopicsValue = this.computeSubscribedTopics();
      this.transitionTo(GroupState.CompletingRebalance);
    } else {
      this.protocolNameValue = null;
      this.subscribedTopicsValue = this.computeSubscribedTopics();
      this.transitionTo(GroupState.Empty);
    }
    this.clearPendingSyncMembers();
  }

  /** Recomputes the subscribed topics from the members' metadata (after a load). */
  refreshSubscribedTopics(): void {
    this.subscribedTopicsValue = this.computeSubscribedTopics();
  }

  /** The member list the leader receives in its JoinGroup response. */
  currentMembersForJoinResponse(): JoinGroupResponseJoinGroupResponseMember[] {
    invariant(
      !this.is(GroupState.Dead) && !this.is(GroupState.PreparingRebalance),
      () => `cannot list members of group ${this.groupId} in state ${this.stateValue}`,
    );
    const protocolName = this.protocolNameValue;
    invariant(protocolName !== null, 'a group with members past the join phase has a protocol');
    return [...this.memberMap.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: m.metadata(protocolName),
    }));
  }

  /** Every member's current assignment. */
  groupAssignment(): Map<string, Buffer> {
    return new Map([...this.memberMap.values()].map((m) => [m.memberId, m.assignment]));
  }

  /** Structural invariants; throws GroupInvariantError. Cheap enough to run after every simulated event. */
  checkInvariants(): void {
    const where = `group ${this.groupId} (${this.stateValue}, generation ${this.generation})`;
    invariant(this.generation >= 0, `${where}: negative generation`);
    invariant((this.memberMap.size === 0) === (this.leader === null), `${where}: leader ${this.leader} with ${this.memberMap.size} members`);
    invariant(this.leader === null || this.memberMap.has(this.leader), `${where}: leader ${this.leader} is not a member`);
    let awaiting = 0;
    const support = new Map<string, number>();
    let statics = 0;
    for (const [id, member] of this.memberMap) {
      invariant(member.memberId === id, `${where}: member keyed under the wrong id`);
      if (member.isAwaitingJoin) awaiting++;
      for (const p of member.supportedProtocols) support.set(p.name, (support.get(p.name) ?? 0) + 1);
      if (member.groupInstanceId !== null) {
        statics++;
        invariant(this.staticMemberIds.get(member.groupInstanceId) === id, `${where}: static member ${id} not indexed`);
      }
      invariant(!this.pendingJoinMemberIds.has(id), `${where}: ${id} is both a member and pending`);
      invariant(member.protocolType === this.protocolTypeValue, `${where}: member ${id} protocol type differs`);
    }
    invariant(awaiting === this.numMembersAwaitingJoin, `${where}: awaiting-join count ${this.numMembersAwaitingJoin} != ${awaiting}`);
    invariant(statics === this.staticMemberIds.size, `${where}: static index has ${this.staticMemberIds.size} entries for ${statics} members`);
    for (const [name, count] of this.protocolSupport) {
      invariant((support.get(name) ?? 0) === count, `${where}: protocol ${name} counted ${count} times`);
    }
    for (const [name, count] of support) invariant(this.protocolSupport.get(name) === count, `${where}: protocol ${name} not counted`);
    for (const id of this.pendingSyncMemberIds) invariant(this.memberMap.has(id), `${where}: pending sync ${id} is not a member`);
    switch (this.stateValue) {
      case GroupState.Empty:
        invariant(this.memberMap.size === 0, `${where}: Empty group has members`);
        invariant(this.protocolNameValue === null, `${where}: Empty group has a protocol`);
        break;
      case GroupState.CompletingRebalance:
      case GroupState.Stable:
        invariant(this.memberMap.size > 0, `${where}: no members`);
        invariant(this.protocolNameValue !== null, `${where}: no protocol`);
        for (const m of this.memberMap.values()) m.metadata(this.protocolNameValue);
        break;
      case GroupState.PreparingRebalance:
      case GroupState.Dead:
        break;
    }
    if (this.stateValue !== GroupState.CompletingRebalance && this.stateValue !== GroupState.Dead) {
      for (const m of this.memberMap.values()) invariant(!m.isAwaitingSync, `${where}: ${m.memberId} awaits sync`);
    }
  }

  private countProtocols(member: ClassicGroupMember, delta: 1 | -1): void {
    for (const protocol of member.supportedProtocols) {
      const next = (this.protocolSupport.get(protocol.name) ?? 0) + delta;
      if (next === 0) this.protocolSupport.delete(protocol.name);
      else this.protocolSupport.set(protocol.name, next);
    }
  }

  private computeSubscribedTopics(): ReadonlySet<string> | null {
    if (this.protocolTypeValue !== CONSUMER_PROTOCOL_TYPE) return null;
    if (this.memberMap.size === 0) return new Set();
    const protocolName = this.protocolNameValue;
    if (protocolName === null) return null;
    const topics = new Set<string>();
    for (const member of this.memberMap.values()) {
      const memberTopics = subscribedTopicsOf(member.metadata(protocolName));
      if (memberTopics === null) return null;
      for (const topic of memberTopics) topics.add(topic);
    }
    return topics;
  }
}

/** Member ids are `<group.instance.id or client.id>-<uuid>`, as Kafka generates them. */
export function generateMemberId(clientId: string, groupInstanceId: string | null, uuid: string): string {
  return `${groupInstanceId ?? clientId}-${uuid}`;
}

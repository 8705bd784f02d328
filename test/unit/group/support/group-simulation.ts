/**
 * Seeded simulation of a consumer group against the coordinator (in the spirit of Kafka's
 * RaftEventSimulationTest): several members (static and dynamic, every JoinGroup version) join, sync,
 * heartbeat, commit, fetch, leave, crash, restart and change subscriptions; time jumps; appends to the
 * coordinator log settle late, out of order, or fail; an admin commits, lists, describes and deletes.
 * Every random choice comes from one seed, so a failing seed replays exactly.
 *
 * Checked after every event:
 *  - the coordinator's own invariants (group structure, timer discipline);
 *  - generations never decrease;
 *  - a Stable group: every member holds an assignment the leader made for the current generation, and the
 *    log's latest GroupMetadata record is that generation (one generation per stable state);
 *  - a successful SyncGroup carries an assignment made for the generation it was asked for;
 *  - a successful commit came from a member of the group's current generation (or is a simple commit to a
 *    group without members), and a member's acknowledged commits never go backwards within a generation;
 *  - whenever no append is in flight, the committed offsets equal a replay of the log;
 *  - every response encodes at the API version it answers.
 * At the end, with the members gone quiet, every request must have been answered.
 */
import { createHash } from 'node:crypto';
import { ErrorCode } from '../../../../broker/src/protocol/error-codes.ts';
import { Writer } from '../../../../broker/src/protocol/wire/writer.ts';
import { writeJoinGroupResponse, type JoinGroupResponseJoinGroupResponseMember } from '../../../../broker/src/protocol/generated/clients/join-group-response.ts';
import { writeSyncGroupResponse } from '../../../../broker/src/protocol/generated/clients/sync-group-response.ts';
import { writeHeartbeatResponse } from '../../../../broker/src/protocol/generated/clients/heartbeat-response.ts';
import { writeLeaveGroupResponse } from '../../../../broker/src/protocol/generated/clients/leave-group-response.ts';
import { writeOffsetCommitResponse } from '../../../../broker/src/protocol/generated/clients/offset-commit-response.ts';
import { writeOffsetFetchResponse } from '../../../../broker/src/protocol/generated/clients/offset-fetch-response.ts';
import { writeOffsetDeleteResponse } from '../../../../broker/src/protocol/generated/clients/offset-delete-response.ts';
import { writeDescribeGroupsResponse } from '../../../../broker/src/protocol/generated/clients/describe-groups-response.ts';
import { writeListGroupsResponse } from '../../../../broker/src/protocol/generated/clients/list-groups-response.ts';
import { writeDeleteGroupsResponse } from '../../../../broker/src/protocol/generated/clients/delete-groups-response.ts';
import {
  GroupCoordinator,
  decodeCoordinatorRecord,
  type GroupCoordinatorConfig,
  type GroupCoordinatorSnapshot,
  type GroupSnapshot,
} from '../../../../broker/src/group/index.ts';
import { Prng } from './prng.ts';
import { AppendError, SimulatedLog } from './simulated-log.ts';
import { SimulatedTime, flush } from './simulated-time.ts';
import {
  commitRequest,
  consumerSubscription,
  decodeAssignment,
  encodeAssignment,
  fetchGroupsRequest,
  fetchRequest,
  heartbeatRequest,
  joinRequest,
  leaveRequest,
  requestContext,
  syncRequest,
} from './builders.ts';

const GROUP = 'sim-group';
const SIMPLE_GROUP = 'sim-admin';
const PARTITIONS = 6;

type Phase = 'idle' | 'joining' | 'joined' | 'syncing' | 'stable';

interface SimMember {
  readonly name: string;
  readonly groupInstanceId: string | null;
  readonly joinVersion: number;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly protocolNames: readonly string[];
  topics: string[];
  alive: boolean;
  incarnation: number;
  memberId: string;
  generationId: number;
  phase: Phase;
  isLeader: boolean;
  joinMembers: JoinGroupResponseJoinGroupResponseMember[];
  protocolName: string | null;
  owned: number[];
  /** The member id, generation and partitions of the last successful sync: what a consumer commits with. */
  lastStable: { memberId: string; generationId: number; owned: number[] } | null;
  needsFetch: boolean;
  nextOffset: Map<number, bigint>;
  heartbeatInFlight: boolean;
  commitInFlight: boolean;
}

export interface SimulationOptions {
  readonly steps: number;
  /** An extra check after every event; throwing fails the run (used to show that failures replay). */
  readonly extraCheck?: (snapshot: GroupCoordinatorSnapshot, step: number) => void;
}

export interface SimulationResult {
  readonly seed: number;
  readonly traceDigest: string;
  readonly logDigest: string;
  readonly stats: { readonly generations: number; readonly commitsAcked: number; readonly appends: number; readonly requests: number; readonly calmSteps: number };
}

export class SimulationFailure extends Error {
  readonly seed: number;
  readonly step: number;

  constructor(seed: number, step: number, reason: string, trace: readonly string[]) {
    super(
      `group simulation failed at seed ${seed}, step ${step}: ${reason}\n` +
        `replay with: GROUP_SIM_SEED=${seed} npx vitest run test/unit/group/group-simulation.test.ts\n` +
        `last events:\n${trace.join('\n')}`,
    );
    this.name = 'SimulationFailure';
    this.seed = seed;
    this.step = step;
  }
}

class Check extends Error {}

function check(condition: unknown, reason: string): asserts condition {
  if (!condition) throw new Check(reason);
}

export async function runGroupSimulation(seed: number, options: SimulationOptions): Promise<SimulationResult> {
  const prng = new Prng(seed);
  const uuids = new Prng(seed ^ 0x5bd1e995);
  const time = new SimulatedTime();
  const log = new SimulatedLog({ manual: true });
  const config: Partial<GroupCoordinatorConfig> = {
    groupInitialRebalanceDelayMs: prng.pick([0, 500, 3_000]),
    groupMinSessionTimeoutMs: 1_000,
    groupMaxSessionTimeoutMs: 60_000,
    groupMaxSize: prng.pick([3, 1_000]),
    groupNewMemberJoinTimeoutMs: 30_000,
    offsetsRetentionMs: prng.pick([60_000, 600_000]),
    offsetsRetentionCheckIntervalMs: 10_000,
  };
  const coordinator = new GroupCoordinator({ time, append: log.append, randomUuid: () => uuids.uuid(), config });
  coordinator.load([]);

  const traceTail: string[] = [];
  const traceHash = createHash('sha256');
  let step = 0;
  const trace = (line: string): void => {
    const entry = `#${step} t=${time.nowMs() - 1_700_000_000_000} ${line}`;
    traceHash.update(entry).update('\n');
    traceTail.push(entry);
    if (traceTail.length > 60) traceTail.shift();
  };

  // A holder, not a `let`: TypeScript does not see assignments made inside the response callbacks.
  const outcome: { failure: Error | null } = { failure: null };
  const fail = (error: unknown): void => {
    outcome.failure ??= error instanceof Error ? error : new Error(String(error));
  };

  const members: SimMember[] = Array.from({ length: prng.int(2, 5) }, (_, i) => {
    const isStatic = prng.chance(0.4);
    return {
      name: `m${i}`,
      groupInstanceId: isStatic ? `instance-${i}` : null,
      joinVersion: isStatic ? prng.int(5, 9) : prng.int(0, 9),
      sessionTimeoutMs: prng.int(6_000, 20_000),
      rebalanceTimeoutMs: prng.int(3_000, 20_000),
      protocolNames: prng.chance(0.5) ? ['range', 'roundrobin'] : ['roundrobin', 'range'],
      topics: ['t'],
      alive: true,
      incarnation: 0,
      memberId: '',
      generationId: -1,
      phase: 'idle',
      isLeader: false,
      joinMembers: [],
      protocolName: null,
      owned: [],
      lastStable: null,
      needsFetch: false,
      nextOffset: new Map(),
      heartbeatInFlight: false,
      commitInFlight: false,
    };
  });
  trace(`config ${JSON.stringify(config)} members ${members.map((m) => `${m.name}(v${m.joinVersion}${m.groupInstanceId === null ? '' : ',static'})`).join(' ')}`);

  let outstanding = 0;
  let requests = 0;
  let commitsAcked = 0;
  let calmSteps = 0;
  const generationsSeen = new Set<number>();
  /** Highest acknowledged offset per member id / generation / partition. */
  const ackedOffsets = new Map<string, bigint>();
  const lastGeneration = new Map<string, number>();
  /** Member ids static instances used before a restart: their old processes may still be around. */
  const formerStaticIds: { groupInstanceId: string; memberId: string; generationId: number }[] = [];
  /** "memberId@generation" for every successful JoinGroup answer. */
  const joinedGenerations = new Set<string>();
  let simpleNextOffset = 0n;

  /** Sends a request; the answer must encode at `version`; `onResponse` runs when it arrives. */
  function issue<T>(label: string, version: number, request: Promise<T>, encode: (w: Writer, v: T, version: number) => void, onResponse: (response: T) => void): void {
    outstanding++;
    requests++;
    trace(`-> ${label} v${version}`);
    request.then(
      (response) => {
        outstanding--;
        try {
          encode(new Writer(), response, version);
          onResponse(response);
        } catch (error) {
          fail(error);
        }
      },
      (error: unknown) => {
        outstanding--;
        fail(error);
      },
    );
  }

  const reset = (m: SimMember, keepMemberId: boolean): void => {
    if (!keepMemberId) m.memberId = '';
    m.phase = 'idle';
    m.isLeader = false;
    m.owned = [];
  };

  const crash = (m: SimMember, why: string): void => {
    trace(`${m.name} crashes (${why})`);
    if (m.groupInstanceId !== null && m.memberId !== '') formerStaticIds.push({ groupInstanceId: m.groupInstanceId, memberId: m.memberId, generationId: m.generationId });
    m.alive = false;
    m.incarnation++;
    reset(m, false);
    m.generationId = -1;
    m.nextOffset.clear();
    m.lastStable = null;
    m.heartbeatInFlight = false;
    m.commitInFlight = false;
  };

  const protocolsOf = (m: SimMember) => m.protocolNames.map((name) => ({ name, metadata: consumerSubscription(m.topics) }));

  function join(m: SimMember): void {
    m.phase = 'joining';
    const incarnation = m.incarnation;
    const request = joinRequest({
      groupId: GROUP,
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      sessionTimeoutMs: m.sessionTimeoutMs,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
      protocols: protocolsOf(m),
    });
    issue(`${m.name} join ${m.memberId === '' ? '(new)' : m.memberId.slice(-6)}`, m.joinVersion, coordinator.joinGroup(request, requestContext(m.joinVersion, m.name)), writeJoinGroupResponse, (r) => {
      trace(`<- ${m.name} join error=${r.errorCode} gen=${r.generationId} member=${r.memberId.slice(-6)} leader=${r.leader.slice(-6)} members=${r.members.length}${r.skipAssignment ? ' skip' : ''}`);
      if (r.errorCode === ErrorCode.NONE) {
        check(r.protocolName !== null && m.protocolNames.includes(r.protocolName), `join answered protocol ${r.protocolName}`);
        if (r.leader === r.memberId) check(r.members.some((x) => x.memberId === r.memberId), 'the leader is missing from its own member list');
        else check(r.members.length === 0, 'a follower received the member list');
        generationsSeen.add(r.generationId);
        joinedGenerations.add(`${r.memberId}@${r.generationId}`);
      }
      if (m.incarnation !== incarnation || m.phase !== 'joining') return;
      switch (r.errorCode) {
        case ErrorCode.NONE:
          m.memberId = r.memberId;
          m.generationId = r.generationId;
          m.isLeader = r.leader === r.memberId;
          m.joinMembers = r.members;
          m.protocolName = r.protocolName;
          m.phase = 'joined';
          return;
        case ErrorCode.MEMBER_ID_REQUIRED:
          check(m.memberId === '' && m.groupInstanceId === null && m.joinVersion >= 4, 'MEMBER_ID_REQUIRED for a member that needs none');
          m.memberId = r.memberId;
          m.phase = 'idle';
          return;
        case ErrorCode.FENCED_INSTANCE_ID:
          crash(m, 'fenced');
          return;
        case ErrorCode.UNKNOWN_MEMBER_ID:
        case ErrorCode.GROUP_MAX_SIZE_REACHED:
          reset(m, false);
          return;
        case ErrorCode.REBALANCE_IN_PROGRESS:
        case ErrorCode.COORDINATOR_NOT_AVAILABLE:
        case ErrorCode.NOT_COORDINATOR:
        case ErrorCode.UNKNOWN_SERVER_ERROR:
          reset(m, r.memberId !== '');
          return;
        default:
          check(false, `unexpected JoinGroup error ${r.errorCode}`);
      }
    });
  }

  function sync(m: SimMember): void {
    m.phase = 'syncing';
    const incarnation = m.incarnation;
    const generationId = m.generationId;
    const version = prng.int(0, 5);
    const assignments = m.isLeader
      ? m.joinMembers.map((member, i) => ({
          memberId: member.memberId,
          assignment: encodeAssignment(generationId, Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => p % m.joinMembers.length === i)),
        }))
      : [];
    const request = syncRequest({
      groupId: GROUP,
      memberId: m.memberId,
      generationId,
      groupInstanceId: m.groupInstanceId,
      protocolType: version >= 5 ? 'consumer' : null,
      protocolName: version >= 5 ? m.protocolName : null,
      assignments,
    });
    issue(`${m.name} sync gen=${generationId}${m.isLeader ? ' (leader)' : ''}`, version, coordinator.syncGroup(request, requestContext(version, m.name)), writeSyncGroupResponse, (r) => {
      trace(`<- ${m.name} sync error=${r.errorCode}`);
      if (r.errorCode === ErrorCode.NONE) {
        const assignment = decodeAssignment(r.assignment);
        check(assignment !== null && assignment.generationId === generationId, `SyncGroup for generation ${generationId} answered ${JSON.stringify(assignment)}`);
      }
      if (m.incarnation !== incarnation || m.phase !== 'syncing' || m.generationId !== generationId) return;
      switch (r.errorCode) {
        case ErrorCode.NONE:
          m.owned = decodeAssignment(r.assignment)?.partitions ?? [];
          m.lastStable = { memberId: m.memberId, generationId, owned: m.owned };
          m.needsFetch = true;
          m.phase = 'stable';
          return;
        case ErrorCode.FENCED_INSTANCE_ID:
          crash(m, 'fenced');
          return;
        case ErrorCode.UNKNOWN_MEMBER_ID:
          reset(m, false);
          return;
        case ErrorCode.REBALANCE_IN_PROGRESS:
        case ErrorCode.ILLEGAL_GENERATION:
        case ErrorCode.COORDINATOR_NOT_AVAILABLE:
        case ErrorCode.NOT_COORDINATOR:
        case ErrorCode.UNKNOWN_SERVER_ERROR:
          reset(m, true);
          return;
        default:
          check(false, `unexpected SyncGroup error ${r.errorCode}`);
      }
    });
  }

  /** What Kafka answers a Heartbeat, from the state it is validated against (a model of the rules). */
  function expectedHeartbeatError(memberId: string, groupInstanceId: string | null, generationId: number): number {
    const group = coordinator.inspect().groups.find((g) => g.groupId === GROUP);
    if (group === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (group.state === 'Dead') return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (groupInstanceId !== null) {
      const holder = group.members.find((x) => x.groupInstanceId === groupInstanceId);
      if (holder === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (holder.memberId !== memberId) return ErrorCode.FENCED_INSTANCE_ID;
    }
    if (!group.members.some((x) => x.memberId === memberId)) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    if (group.state === 'Empty') return ErrorCode.UNKNOWN_MEMBER_ID;
    if (group.state === 'PreparingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
    return ErrorCode.NONE;
  }

  /** A former process of a static member that was replaced but did not notice: it must be fenced. */
  function zombieHeartbeat(): void {
    if (formerStaticIds.length === 0) return;
    const zombie = prng.pick(formerStaticIds);
    const expected = expectedHeartbeatError(zombie.memberId, zombie.groupInstanceId, zombie.generationId);
    const request = heartbeatRequest({ groupId: GROUP, memberId: zombie.memberId, generationId: zombie.generationId, groupInstanceId: zombie.groupInstanceId });
    issue(`zombie ${zombie.groupInstanceId} heartbeat`, 4, coordinator.heartbeat(request, requestContext(4, 'zombie')), writeHeartbeatResponse, (r) => {
      check(r.errorCode === expected, `zombie heartbeat answered ${r.errorCode}, expected ${expected}`);
    });
  }

  function heartbeat(m: SimMember): void {
    m.heartbeatInFlight = true;
    const incarnation = m.incarnation;
    const generationId = m.generationId;
    const version = prng.int(0, 4);
    const groupInstanceId = version >= 3 ? m.groupInstanceId : null;
    const expected = expectedHeartbeatError(m.memberId, groupInstanceId, generationId);
    const request = heartbeatRequest({ groupId: GROUP, memberId: m.memberId, generationId, groupInstanceId });
    issue(`${m.name} heartbeat gen=${generationId}`, version, coordinator.heartbeat(request, requestContext(version, m.name)), writeHeartbeatResponse, (r) => {
      trace(`<- ${m.name} heartbeat error=${r.errorCode}`);
      check(r.errorCode === expected, `heartbeat answered ${r.errorCode}, the rules say ${expected}`);
      if (m.incarnation !== incarnation) return;
      m.heartbeatInFlight = false;
      if (m.generationId !== generationId || m.phase === 'idle' || m.phase === 'joining') return;
      switch (r.errorCode) {
        case ErrorCode.NONE:
          return;
        case ErrorCode.FENCED_INSTANCE_ID:
          crash(m, 'fenced');
          return;
        case ErrorCode.UNKNOWN_MEMBER_ID:
          reset(m, false);
          return;
        case ErrorCode.REBALANCE_IN_PROGRESS:
        case ErrorCode.ILLEGAL_GENERATION:
        case ErrorCode.COORDINATOR_NOT_AVAILABLE:
          if (m.phase !== 'syncing') reset(m, true);
          return;
        default:
          check(false, `unexpected Heartbeat error ${r.errorCode}`);
      }
    });
  }

  /**
   * Commits with the view of the last successful sync, like a consumer committing revoked partitions
   * while it rejoins: after a rebalance moved on, these are zombie commits the coordinator must refuse.
   */
  function commit(m: SimMember, useJoinedGeneration = false): void {
    const view = useJoinedGeneration ? { memberId: m.memberId, generationId: m.generationId, owned: m.lastStable?.owned ?? [0] } : m.lastStable;
    if (view === null) return;
    const partitions = view.owned.filter(() => prng.chance(0.6));
    if (partitions.length === 0) return;
    m.commitInFlight = true;
    const incarnation = m.incarnation;
    const { memberId, generationId } = view;
    const offsets = partitions.map((partition) => {
      const offset = m.nextOffset.get(partition) ?? 0n;
      m.nextOffset.set(partition, offset + BigInt(prng.int(1, 50)));
      return { topic: 't', partition, offset };
    });
    const version = prng.int(2, 9);
    // Validation happens synchronously inside offsetCommit: this is the state it validates against.
    const before = coordinator.inspect().groups.find((g) => g.groupId === GROUP);
    const request = commitRequest(memberId, generationId, offsets, { groupId: GROUP, groupInstanceId: version >= 7 ? m.groupInstanceId : null });
    issue(`${m.name} commit gen=${generationId} ${offsets.map((o) => `${o.partition}@${o.offset}`).join(',')}`, version, coordinator.offsetCommit(request, requestContext(version, m.name)), writeOffsetCommitResponse, (r) => {
      const errors = r.topics.flatMap((t) => t.partitions.map((p) => p.errorCode));
      trace(`<- ${m.name} commit errors=${errors.join(',')}`);
      if (errors.every((e) => e === ErrorCode.NONE)) {
        check(
          before !== undefined && before.members.some((x) => x.memberId === memberId) && before.generationId === generationId && before.state !== 'CompletingRebalance',
          `commit accepted from ${memberId} generation ${generationId} against ${JSON.stringify(before && { state: before.state, generationId: before.generationId })}`,
        );
        for (const o of offsets) {
          const key = JSON.stringify([memberId, generationId, o.partition]);
          const previous = ackedOffsets.get(key);
          check(previous === undefined || o.offset >= previous, `acknowledged commits went backwards for ${key}: ${previous} then ${o.offset}`);
          ackedOffsets.set(key, o.offset);
          commitsAcked++;
        }
      }
      if (m.incarnation !== incarnation) return;
      m.commitInFlight = false;
      const error = errors.find((e) => e !== ErrorCode.NONE);
      if (error === ErrorCode.FENCED_INSTANCE_ID) crash(m, 'fenced');
      else if (error === ErrorCode.UNKNOWN_MEMBER_ID || error === ErrorCode.GROUP_ID_NOT_FOUND) reset(m, false);
      else if ((error === ErrorCode.ILLEGAL_GENERATION || error === ErrorCode.REBALANCE_IN_PROGRESS) && m.generationId === generationId && m.phase === 'stable') reset(m, true);
      if (error !== undefined && m.lastStable === view && !useJoinedGeneration) m.lastStable = null; // the consumer gives up those partitions
    });
  }

  function fetchOwned(m: SimMember): void {
    const incarnation = m.incarnation;
    const version = prng.int(1, 9);
    const topics = [{ name: 't', partitionIndexes: [...m.owned] }];
    const request = version >= 8 ? fetchGroupsRequest([{ groupId: GROUP, topics }]) : fetchRequest(GROUP, topics);
    m.needsFetch = false;
    issue(`${m.name} fetch ${m.owned.join(',')}`, version, coordinator.offsetFetch(request, requestContext(version, m.name)), writeOffsetFetchResponse, (r) => {
      if (m.incarnation !== incarnation) return;
      const partitions = version >= 8 ? (r.groups[0]?.topics[0]?.partitions ?? []) : (r.topics[0]?.partitions ?? []);
      for (const p of partitions) {
        const next = p.committedOffset + 1n;
        if (next > (m.nextOffset.get(p.partitionIndex) ?? 0n)) m.nextOffset.set(p.partitionIndex, next);
      }
    });
  }

  function leave(m: SimMember): void {
    const version = prng.int(0, 5);
    const byInstanceId = version >= 3 && m.groupInstanceId !== null && prng.chance(0.5);
    const request =
      version >= 3
        ? leaveRequest({ groupId: GROUP, members: [{ memberId: byInstanceId ? '' : m.memberId, groupInstanceId: m.groupInstanceId, reason: 'sim' }] })
        : leaveRequest({ groupId: GROUP, memberId: m.memberId });
    issue(`${m.name} leave`, version, coordinator.leaveGroup(request, requestContext(version, m.name)), writeLeaveGroupResponse, (r) => {
      trace(`<- ${m.name} leave error=${r.errorCode} ${r.members.map((x) => x.errorCode).join(',')}`);
    });
    m.incarnation++; // responses to earlier requests no longer concern this client
    m.heartbeatInFlight = false;
    m.commitInFlight = false;
    reset(m, false);
    m.generationId = -1;
  }

  function memberAction(m: SimMember): void {
    if (!m.alive) {
      if (prng.chance(0.3)) {
        m.alive = true;
        trace(`${m.name} restarts`);
      }
      return;
    }
    const roll = prng.float();
    if (roll < 0.006) return crash(m, 'random');
    if (roll < 0.012 && m.memberId !== '' && m.phase !== 'joining') return leave(m);
    if (roll < 0.018 && m.phase === 'stable') {
      m.topics = m.topics.length === 1 ? ['t', 'u'] : ['t'];
      trace(`${m.name} changes its subscription to ${m.topics.join(',')}`);
      return join(m);
    }
    switch (m.phase) {
      case 'idle':
        return join(m);
      case 'joining':
        if (!m.commitInFlight && prng.chance(0.3)) return commit(m);
        if (!m.heartbeatInFlight && m.generationId >= 0 && prng.chance(0.5)) heartbeat(m);
        return;
      case 'joined':
        if (!m.commitInFlight && prng.chance(0.1)) return commit(m, prng.chance(0.5));
        return prng.chance(0.8) ? sync(m) : heartbeat(m);
      case 'syncing':
        if (!m.commitInFlight && prng.chance(0.2)) return commit(m);
        if (!m.heartbeatInFlight) heartbeat(m);
        return;
      case 'stable':
        if (m.needsFetch) return fetchOwned(m);
        if (!m.heartbeatInFlight && prng.chance(0.5)) return heartbeat(m);
        if (!m.commitInFlight && prng.chance(0.7)) return commit(m);
        if (prng.chance(0.1)) return fetchOwned(m);
        return;
    }
  }

  function calmAction(m: SimMember): void {
    switch (m.phase) {
      case 'idle':
        return join(m);
      case 'joining':
        return;
      case 'joined':
        return sync(m);
      case 'syncing':
        if (!m.heartbeatInFlight && prng.chance(0.3)) heartbeat(m);
        return;
      case 'stable':
        if (m.needsFetch) return fetchOwned(m);
        if (!m.heartbeatInFlight && prng.chance(0.4)) return heartbeat(m);
        if (!m.commitInFlight && prng.chance(0.1)) return commit(m);
        return;
    }
  }

  function isConverged(): boolean {
    const group = coordinator.inspect().groups.find((g) => g.groupId === GROUP);
    if (group?.state !== 'Stable') return false;
    const inGroup = (m: SimMember) => group.members.some((x) => x.memberId === m.memberId);
    const settled = group.members.every((x) => members.some((m) => m.memberId === x.memberId && m.phase === 'stable' && m.generationId === group.generationId));
    const full = group.members.length >= (config.groupMaxSize ?? Number.MAX_SAFE_INTEGER);
    return settled && (full || members.every(inGroup));
  }

  function adminAction(): void {
    const roll = prng.float();
    if (roll < 0.1) {
      zombieHeartbeat();
    } else if (roll < 0.35) {
      const partition = prng.int(0, 2);
      const version = prng.int(2, 9);
      const offset = simpleNextOffset++;
      const retentionTimeMs = version <= 4 && prng.chance(0.5) ? BigInt(prng.int(1_000, 30_000)) : -1n;
      const request = commitRequest('', -1, [{ topic: 's', partition, offset }], { groupId: SIMPLE_GROUP, retentionTimeMs });
      issue(`admin commit s-${partition}@${offset}`, version, coordinator.offsetCommit(request, requestContext(version, 'admin')), writeOffsetCommitResponse, (r) => {
        trace(`<- admin commit error=${r.topics[0]?.partitions[0]?.errorCode}`);
      });
    } else if (roll < 0.5) {
      const version = prng.int(0, 2);
      const groups = prng.chance(0.5) ? [SIMPLE_GROUP] : [GROUP, SIMPLE_GROUP];
      const before = coordinator.inspect().groups;
      const simpleThreshold = simpleNextOffset;
      issue(`admin delete ${groups.join(',')}`, version, coordinator.deleteGroups({ groupsNames: groups }, requestContext(version, 'admin')), writeDeleteGroupsResponse, (r) => {
        trace(`<- admin delete ${r.results.map((x) => `${x.groupId}:${x.errorCode}`).join(' ')}`);
        for (const result of r.results) {
          if (result.errorCode === ErrorCode.NONE) {
            check(before.find((g) => g.groupId === result.groupId)?.state === 'Empty', `deleted non-empty group ${result.groupId}`);
            // Offsets committed before the deletion, even those still in flight then, are gone with the group.
            const survivors = coordinator.inspect().offsets.filter((o) => o.groupId === SIMPLE_GROUP && o.committedOffset < simpleThreshold);
            if (result.groupId === SIMPLE_GROUP) check(survivors.length === 0, `offsets outlived the deletion of ${SIMPLE_GROUP}: ${survivors.map((o) => o.committedOffset).join(',')}`);
          }
        }
      });
    } else if (roll < 0.6) {
      const groupId = prng.pick([GROUP, SIMPLE_GROUP]);
      const request = { groupId, topics: [{ name: prng.pick(['t', 'u', 's']), partitions: [{ partitionIndex: prng.int(0, 5) }] }] };
      issue(`admin offset-delete ${groupId}`, 0, coordinator.offsetDelete(request, requestContext(0, 'admin')), writeOffsetDeleteResponse, (r) => {
        trace(`<- admin offset-delete error=${r.errorCode} ${r.topics.flatMap((t) => t.partitions.map((p) => p.errorCode)).join(',')}`);
      });
    } else if (roll < 0.8) {
      const version = prng.int(0, 5);
      const snapshot = coordinator.inspect();
      issue('admin describe', version, coordinator.describeGroups({ groups: [GROUP, SIMPLE_GROUP], includeAuthorizedOperations: false }, requestContext(version, 'admin')), writeDescribeGroupsResponse, (r) => {
        for (const described of r.groups) {
          const live = snapshot.groups.find((g) => g.groupId === described.groupId);
          check(described.groupState === (live?.state ?? 'Dead'), `describe says ${described.groupState} for ${described.groupId}, state was ${live?.state}`);
          check(described.members.length === (live?.members.length ?? 0), 'describe lists a different member count');
        }
      });
    } else {
      const version = prng.int(0, 5);
      const states = version >= 4 && prng.chance(0.5) ? [prng.pick(['stable', 'Empty', 'PREPARINGREBALANCE', 'completingrebalance', 'dead'])] : [];
      const snapshot = coordinator.inspect();
      issue(`admin list ${states.join(',')}`, version, coordinator.listGroups({ statesFilter: states, typesFilter: [] }, requestContext(version, 'admin')), writeListGroupsResponse, (r) => {
        const expected = snapshot.groups.filter((g) => states.length === 0 || g.state.toLowerCase() === states[0]?.toLowerCase()).map((g) => g.groupId);
        check(JSON.stringify(r.groups.map((g) => g.groupId)) === JSON.stringify(expected), `listed ${JSON.stringify(r.groups)} expected ${JSON.stringify(expected)}`);
      });
    }
  }

  function settleAppend(): void {
    const pending = log.pendingCount;
    if (pending === 0) return;
    const index = prng.int(0, pending - 1);
    if (prng.chance(0.12)) {
      const error = prng.pick([
        new AppendError(ErrorCode.NOT_LEADER_OR_FOLLOWER),
        new AppendError(ErrorCode.REQUEST_TIMED_OUT),
        new AppendError(ErrorCode.KAFKA_STORAGE_ERROR),
        new Error('simulated I/O failure'),
      ]);
      trace(`append #${index}/${pending} fails (${error.message})`);
      log.settle(index, error);
    } else {
      trace(`append #${index}/${pending} succeeds`);
      log.settle(index);
    }
  }

  /** The latest GroupMetadata record the log holds for `groupId`, as generation (null = tombstone/none). */
  function persistedGeneration(groupId: string): number | null {
    let generation: number | null = null;
    for (const record of log.records) {
      const decoded = decodeCoordinatorRecord(record);
      if (decoded.type === 'group-metadata' && decoded.groupId === groupId) generation = decoded.value?.generation ?? null;
    }
    return generation;
  }

  function checkReplayMatches(snapshot: GroupCoordinatorSnapshot): void {
    const replica = new GroupCoordinator({ time: new SimulatedTime(time.nowMs()), append: () => Promise.resolve(), randomUuid: () => uuids.uuid(), config });
    replica.load(log.records);
    const replayed = replica.inspect();
    const key = (o: GroupCoordinatorSnapshot['offsets'][number]) => `${o.groupId}/${o.topic}-${o.partition}=${o.committedOffset}@${o.commitTimestampMs}/${o.expireTimestampMs}`;
    const live = snapshot.offsets.map(key).sort();
    const fromLog = replayed.offsets.map(key).sort();
    check(JSON.stringify(live) === JSON.stringify(fromLog), `offsets differ from a replay of the log:\n live ${live.join(' ')}\n log  ${fromLog.join(' ')}`);
    for (const group of snapshot.groups) {
      if (group.state !== 'Stable' && group.state !== 'Empty') continue;
      const loaded = replayed.groups.find((g) => g.groupId === group.groupId);
      if (group.state === 'Stable') check(loaded?.generationId === group.generationId, `Stable ${group.groupId} gen ${group.generationId} replays as ${loaded?.generationId}`);
      else check(loaded === undefined || loaded.generationId <= group.generationId, `Empty ${group.groupId} replays ahead of memory`);
    }
    replica.shutdown();
  }

  function checkWorld(): void {
    coordinator.checkInvariants();
    const snapshot = coordinator.inspect();
    const present = new Set<string>();
    for (const group of snapshot.groups) {
      present.add(group.groupId);
      const previous = lastGeneration.get(group.groupId);
      check(previous === undefined || group.generationId >= previous, `generation of ${group.groupId} went from ${previous} to ${group.generationId}`);
      lastGeneration.set(group.groupId, group.generationId);
      if (group.state === 'Stable') checkStable(group);
      checkMembersJoinedGeneration(group);
    }
    for (const groupId of [...lastGeneration.keys()]) if (!present.has(groupId)) lastGeneration.delete(groupId);
    if (log.pendingCount === 0 && snapshot.pendingWrites === 0 && step % 5 === 0) checkReplayMatches(snapshot);
    options.extraCheck?.(snapshot, step);
  }

  /** Only static members may be carried into a generation without rejoining it (KIP-345). */
  function checkMembersJoinedGeneration(group: GroupSnapshot): void {
    if (group.state !== 'CompletingRebalance' && group.state !== 'Stable') return;
    for (const member of group.members) {
      if (member.groupInstanceId !== null) continue;
      check(joinedGenerations.has(`${member.memberId}@${group.generationId}`), `dynamic member ${member.memberId} is in generation ${group.generationId} of ${group.groupId} without having joined it`);
    }
    // The leader is elected among the members that rejoined (a replaced static leader takes its id over).
    const leader = group.members.find((x) => x.memberId === group.leaderId);
    const leaderJoined = joinedGenerations.has(`${group.leaderId}@${group.generationId}`);
    check(leaderJoined || (group.state === 'Stable' && leader?.groupInstanceId !== null), `leader ${group.leaderId} of ${group.groupId} generation ${group.generationId} did not join it`);
  }

  function checkStable(group: GroupSnapshot): void {
    for (const member of group.members) {
      const assignment = decodeAssignment(member.assignment);
      check(assignment !== null && assignment.generationId === group.generationId, `Stable ${group.groupId} gen ${group.generationId}: member ${member.memberId} holds assignment ${JSON.stringify(assignment)}`);
    }
    check(persistedGeneration(group.groupId) === group.generationId, `Stable ${group.groupId} gen ${group.generationId} but the log's latest record is ${persistedGeneration(group.groupId)}`);
  }

  try {
    for (step = 0; step < options.steps && outcome.failure === null; step++) {
      const roll = prng.float();
      if (roll < 0.3) {
        const deltaMs = prng.chance(0.95) ? prng.int(0, 600) : prng.int(2_000, 25_000);
        trace(`advance ${deltaMs} ms`);
        await time.advance(deltaMs);
      } else if (roll < 0.52) {
        settleAppend();
      } else if (roll < 0.94) {
        memberAction(prng.pick(members));
      } else {
        adminAction();
      }
      await flush();
      if (outcome.failure === null) checkWorld();
    }
    // Calm: faults stop, the dead restart, appends succeed, members keep going. The protocol must converge
    // to one Stable generation holding every member it has room for (liveness).
    trace('calm');
    for (const m of members) {
      if (!m.alive) {
        m.alive = true;
        trace(`${m.name} restarts`);
      }
    }
    let converged = false;
    for (let i = 0; i < 600 && outcome.failure === null && !converged; i++, step++) {
      log.settleAll();
      await flush();
      // Observe completed deletions before members can re-create the group (a new group restarts at generation 0).
      if (outcome.failure === null) checkWorld();
      await time.advance(prng.int(50, 300));
      for (const m of members) calmAction(m);
      await flush();
      log.settleAll();
      await flush();
      if (outcome.failure === null) {
        checkWorld();
        converged = isConverged();
        calmSteps = i + 1;
      }
    }
    if (outcome.failure === null) check(converged, 'the group did not converge to a Stable generation after faults stopped');
    // Drain: members go quiet; every parked request must still be answered.
    trace('drain');
    for (let i = 0; i < 40 && outcome.failure === null; i++) {
      log.settleAll();
      await flush();
      await time.advance(30_000);
      if (outcome.failure === null) checkWorld();
    }
    log.settleAll();
    await flush();
    if (outcome.failure === null) {
      check(outstanding === 0, `${outstanding} requests were never answered`);
      checkReplayMatches(coordinator.inspect());
    }
  } catch (error) {
    fail(error);
  }
  const failure = outcome.failure;
  if (failure !== null) {
    const reason = failure instanceof Check ? failure.message : `${failure.name}: ${failure.message}`;
    throw new SimulationFailure(seed, step, reason, traceTail);
  }
  return {
    seed,
    traceDigest: traceHash.digest('hex'),
    logDigest: createHash('sha256')
      .update(Buffer.concat(log.records.flatMap((r) => [r.key, r.value ?? Buffer.from('<tombstone>')])))
      .digest('hex'),
    stats: { generations: generationsSeen.size, commitsAcked, appends: log.appendCount, requests, calmSteps },
  };
}

/**
 * A coordinator wired to simulated time and a simulated log, plus TestClient: the client side of the classic
 * protocol for scripted scenarios.
 */
import { GroupCoordinator, type GroupCoordinatorConfig, type CoordinatorRecord } from '../../../../broker/src/group/index.ts';
import type { JoinGroupResponse, JoinGroupResponseJoinGroupResponseMember } from '../../../../broker/src/protocol/generated/clients/join-group-response.ts';
import type { SyncGroupResponse } from '../../../../broker/src/protocol/generated/clients/sync-group-response.ts';
import type { OffsetCommitResponse } from '../../../../broker/src/protocol/generated/clients/offset-commit-response.ts';
import type { LeaveGroupResponse } from '../../../../broker/src/protocol/generated/clients/leave-group-response.ts';
import { ErrorCode } from '../../../../broker/src/protocol/error-codes.ts';
import { Prng } from './prng.ts';
import { SimulatedLog } from './simulated-log.ts';
import { SimulatedTime, flush } from './simulated-time.ts';
import {
  GROUP_ID,
  commitRequest,
  consumerProtocols,
  encodeAssignment,
  heartbeatRequest,
  joinRequest,
  leaveRequest,
  requestContext,
  syncRequest,
  type OffsetToCommit,
} from './builders.ts';

export interface HarnessOptions {
  readonly config?: Partial<GroupCoordinatorConfig>;
  readonly manualLog?: boolean;
  readonly seed?: number;
}

export class Harness {
  readonly time = new SimulatedTime();
  readonly log: SimulatedLog;
  readonly prng: Prng;
  readonly config: Partial<GroupCoordinatorConfig>;
  coordinator: GroupCoordinator;

  constructor(options: HarnessOptions = {}) {
    this.log = new SimulatedLog({ manual: options.manualLog ?? false });
    this.prng = new Prng(options.seed ?? 42);
    this.config = options.config ?? {};
    this.coordinator = this.newCoordinator();
    this.coordinator.load([]);
  }

  /** A coordinator over the same clock and log, not loaded yet. */
  newCoordinator(): GroupCoordinator {
    return new GroupCoordinator({
      time: this.time,
      append: this.log.append,
      randomUuid: () => this.prng.uuid(),
      config: this.config,
    });
  }

  /** Coordinator fail-over: a fresh coordinator replays the log written so far. */
  failOver(records: readonly CoordinatorRecord[] = this.log.records): GroupCoordinator {
    this.coordinator.shutdown();
    this.coordinator = this.newCoordinator();
    this.coordinator.load(records);
    return this.coordinator;
  }

  advance(ms: number): Promise<void> {
    return this.time.advance(ms);
  }

  flush(): Promise<void> {
    return flush();
  }
}

/** A promise plus whether it settled yet: parked requests are observable. */
export class Tracked<T> {
  settled = false;
  value: T | undefined;
  readonly promise: Promise<T>;

  constructor(promise: Promise<T>) {
    this.promise = promise.then((v) => {
      this.settled = true;
      this.value = v;
      return v;
    });
  }

  get result(): T {
    if (!this.settled || this.value === undefined) throw new Error('request is still parked');
    return this.value;
  }
}

export const track = <T>(promise: Promise<T>): Tracked<T> => new Tracked(promise);

export interface TestClientOptions {
  readonly groupInstanceId?: string | null;
  readonly joinVersion?: number;
  readonly sessionTimeoutMs?: number;
  readonly rebalanceTimeoutMs?: number;
  readonly topics?: readonly string[];
  readonly groupId?: string;
}

/** The client side of the classic protocol, one request at a time. */
export class TestClient {
  readonly name: string;
  readonly groupInstanceId: string | null;
  readonly joinVersion: number;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly groupId: string;
  topics: readonly string[];
  memberId = '';
  generationId = -1;
  leaderId = '';
  members: JoinGroupResponseJoinGroupResponseMember[] = [];
  assignment: Buffer | null = null;
  private readonly harness: Harness;

  constructor(harness: Harness, name: string, options: TestClientOptions = {}) {
    this.harness = harness;
    this.name = name;
    this.groupInstanceId = options.groupInstanceId ?? null;
    this.joinVersion = options.joinVersion ?? 5;
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000;
    this.rebalanceTimeoutMs = options.rebalanceTimeoutMs ?? 30_000;
    this.topics = options.topics ?? ['orders'];
    this.groupId = options.groupId ?? GROUP_ID;
  }

  private get coordinator(): GroupCoordinator {
    return this.harness.coordinator;
  }

  get isLeader(): boolean {
    return this.memberId !== '' && this.leaderId === this.memberId;
  }

  /** One JoinGroup with the current member id; the answer updates the client's view. */
  join(): Tracked<JoinGroupResponse> {
    const request = joinRequest({
      groupId: this.groupId,
      memberId: this.memberId,
      groupInstanceId: this.groupInstanceId,
      sessionTimeoutMs: this.sessionTimeoutMs,
      rebalanceTimeoutMs: this.rebalanceTimeoutMs,
      protocols: consumerProtocols(this.topics),
    });
    return track(
      this.coordinator.joinGroup(request, requestContext(this.joinVersion, this.name)).then((response) => {
        if (response.errorCode === ErrorCode.MEMBER_ID_REQUIRED || response.errorCode === ErrorCode.NONE) this.memberId = response.memberId;
        if (response.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = '';
        if (response.errorCode === ErrorCode.NONE) {
          this.generationId = response.generationId;
          this.leaderId = response.leader;
          this.members = response.members;
        }
        return response;
      }),
    );
  }

  /** JoinGroup until parked: answers MEMBER_ID_REQUIRED by rejoining with the issued id. */
  async joinParked(): Promise<Tracked<JoinGroupResponse>> {
    let pending = this.join();
    await flush();
    if (pending.settled && pending.result.errorCode === ErrorCode.MEMBER_ID_REQUIRED) {
      pending = this.join();
      await flush();
    }
    return pending;
  }

  /** SyncGroup; a leader assigns partitions round-robin over the members it was given. */
  sync(partitions = 6): Tracked<SyncGroupResponse> {
    const assignments = this.isLeader
      ? this.members.map((m, i) => ({
          memberId: m.memberId,
          assignment: encodeAssignment(
            this.generationId,
            Array.from({ length: partitions }, (_, p) => p).filter((p) => p % this.members.length === i),
          ),
        }))
      : [];
    const request = syncRequest({ groupId: this.groupId, memberId: this.memberId, generationId: this.generationId, groupInstanceId: this.groupInstanceId, assignments });
    return track(
      this.coordinator.syncGroup(request, requestContext(3, this.name)).then((response) => {
        if (response.errorCode === ErrorCode.NONE) this.assignment = response.assignment;
        return response;
      }),
    );
  }

  heartbeat(): Promise<number> {
    const request = heartbeatRequest({ groupId: this.groupId, memberId: this.memberId, generationId: this.generationId, groupInstanceId: this.groupInstanceId });
    return this.coordinator.heartbeat(request, requestContext(3, this.name)).then((r) => r.errorCode);
  }

  commit(offsets: readonly OffsetToCommit[], apiVersion = 8): Promise<OffsetCommitResponse> {
    const request = commitRequest(this.memberId, this.generationId, offsets, { groupId: this.groupId, groupInstanceId: this.groupInstanceId });
    return this.coordinator.offsetCommit(request, requestContext(apiVersion, this.name));
  }

  leave(apiVersion = 3): Promise<LeaveGroupResponse> {
    const request =
      apiVersion >= 3
        ? leaveRequest({ groupId: this.groupId, members: [{ memberId: this.memberId, groupInstanceId: this.groupInstanceId, reason: 'closing' }] })
        : leaveRequest({ groupId: this.groupId, memberId: this.memberId });
    return this.coordinator.leaveGroup(request, requestContext(apiVersion, this.name));
  }
}

/**
 * Brings `clients` into one Stable generation: all join (the first join waits out the initial delay), the
 * leader assigns, everyone syncs. Returns the generation.
 */
export async function formStableGroup(harness: Harness, clients: readonly TestClient[]): Promise<number> {
  const joins: Tracked<JoinGroupResponse>[] = [];
  for (const client of clients) joins.push(await client.joinParked());
  await advanceUntil(harness, () => joins.every((j) => j.settled));
  for (const join of joins) {
    if (!join.settled || join.result.errorCode !== ErrorCode.NONE) throw new Error(`join did not complete: ${JSON.stringify(join.value)}`);
  }
  const leader = clients.find((c) => c.isLeader);
  if (leader === undefined) throw new Error('no leader');
  const syncs = [leader.sync(), ...clients.filter((c) => c !== leader).map((c) => c.sync())];
  await harness.flush();
  for (const sync of syncs) if (!sync.settled || sync.result.errorCode !== ErrorCode.NONE) throw new Error('sync did not complete');
  return leader.generationId;
}

/** Advances time in small steps until `done()` (at most `limitMs`). */
export async function advanceUntil(harness: Harness, done: () => boolean, stepMs = 100, limitMs = 600_000): Promise<void> {
  for (let elapsed = 0; !done(); elapsed += stepMs) {
    if (elapsed >= limitMs) throw new Error(`condition not reached within ${limitMs} ms`);
    await harness.advance(stepMs);
  }
}

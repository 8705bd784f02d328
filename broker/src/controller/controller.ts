/**
 * The active controller: validates admin operations against the metadata image and turns them into
 * metadata records. It is the only writer of the metadata log.
 *
 * Operations run one at a time, in arrival order (like Kafka's controller event queue), so each one
 * validates against the image that includes every earlier operation's records. A write completes when the
 * metadata log has committed the records and the image has applied them.
 *
 * The log behind `MetadataLogWriter` is a single-voter local log today and a KRaft quorum later; nothing
 * here knows which.
 */
import {
  defaultCreatePartitionsResponse, defaultCreatePartitionsResponseCreatePartitionsTopicResult,
  defaultCreateTopicsResponse, defaultCreateTopicsResponseCreatableTopicResult, defaultDeleteTopicsResponse,
  defaultDeleteTopicsResponseDeletableTopicResult,
  type CreatePartitionsRequest, type CreatePartitionsResponse, type CreateTopicsRequest, type CreateTopicsResponse,
  type DeleteTopicsRequest, type DeleteTopicsResponse,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { ZERO_UUID, randomUuid, type Uuid } from '../protocol/wire/uuid.ts';
import { metadataRecord, type MetadataRecord } from '../metadata/metadata-record.ts';
import { ConfigResourceType, type MetadataImage } from '../metadata/metadata-image.ts';
import { collisionKey, topicNameProblem } from './topic-names.ts';
import { PlacementError, placeReplicas } from './replica-placement.ts';
import { ClusterControl } from './cluster-control.ts';
import type {
  BrokerHeartbeatRequest, BrokerHeartbeatResponse, BrokerRegistrationRequest, BrokerRegistrationResponse,
} from '../protocol/generated/index.ts';

export interface MetadataLogWriter {
  /** Appends records atomically; resolves once they are committed and applied to the image. */
  append(records: readonly MetadataRecord[]): Promise<void>;
}

export interface TopicConfigProblem {
  readonly errorCode: number;
  readonly message: string;
}

export interface TopicConfigDescription {
  readonly name: string;
  readonly value: string | null;
  readonly readOnly: boolean;
  readonly configSource: number;
  readonly isSensitive: boolean;
}

export interface ControllerOptions {
  readonly image: MetadataImage;
  readonly log: MetadataLogWriter;
  readonly defaultNumPartitions: number;
  readonly defaultReplicationFactor: number;
  /** Validates topic config overrides (unknown keys, bad values); null when they are acceptable. */
  readonly validateTopicConfigs: (configs: ReadonlyMap<string, string>) => TopicConfigProblem | null;
  readonly randomBytes: (size: number) => Buffer;
  /** The effective configs of a new topic with these overrides, for CreateTopics v5+ (KIP-525). */
  readonly describeTopicConfigs?: (configs: ReadonlyMap<string, string>) => readonly TopicConfigDescription[];
  /** Producer ids handed out per AllocateProducerIds (Kafka: 1000). */
  readonly producerIdBlockSize?: number;
  /** For broker registration and heartbeats (absent: registrations are written directly, single node). */
  readonly clusterControl?: ClusterControl;
  readonly nowMs?: () => number;
}

interface TopicOutcome {
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

const ok: TopicOutcome = { errorCode: ErrorCode.NONE, errorMessage: null };
const fail = (errorCode: number, errorMessage: string): TopicOutcome => ({ errorCode, errorMessage });

export class Controller {
  private readonly options: ControllerOptions;
  private queue: Promise<unknown> = Promise.resolve();
  /** Rotates the first replica of new topics across brokers, as Kafka's placer does with a random start. */
  private placementCursor = 0;

  constructor(options: ControllerOptions) {
    this.options = options;
  }

  private get image(): MetadataImage {
    return this.options.image;
  }

  /** Runs `operation` after every earlier one has finished (the controller's event queue). */
  private serialize<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.queue.then(operation, operation);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private placementBrokers(): { id: number; rack: string | null; fenced: boolean }[] {
    return [...this.image.brokers.values()].map((b) => ({ id: b.id, rack: b.rack, fenced: b.fenced || b.inControlledShutdown }));
  }

  createTopics(request: CreateTopicsRequest): Promise<CreateTopicsResponse> {
    return this.serialize(async () => {
      const response = defaultCreateTopicsResponse();
      const counts = new Map<string, number>();
      for (const t of request.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
      const records: MetadataRecord[] = [];
      const collisionKeys = new Map<string, string>([...this.image.topicsByName.keys()].map((n) => [collisionKey(n), n]));
      for (const topic of request.topics) {
        const result = defaultCreateTopicsResponseCreatableTopicResult();
        result.name = topic.name;
        result.configs = null;
        let outcome: TopicOutcome = ok;
        let assignments: number[][] = [];
        const configs = new Map<string, string>();
        if ((counts.get(topic.name) ?? 0) > 1) {
          outcome = fail(ErrorCode.INVALID_REQUEST, `Create topics request from client contains the topic ${topic.name} more than once.`);
        } else if (topicNameProblem(topic.name) !== null) {
          outcome = fail(ErrorCode.INVALID_TOPIC_EXCEPTION, topicNameProblem(topic.name) as string);
        } else if (this.image.topicsByName.has(topic.name)) {
          outcome = fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${topic.name}' already exists.`);
        } else if (collisionKeys.has(collisionKey(topic.name))) {
          outcome = fail(ErrorCode.INVALID_TOPIC_EXCEPTION, `Topic '${topic.name}' collides with existing topic: ${collisionKeys.get(collisionKey(topic.name)) ?? ''}`);
        } else {
          for (const c of topic.configs) if (c.value !== null) configs.set(c.name, c.value);
          const nulls = topic.configs.filter((c) => c.value === null).map((c) => c.name);
          const problem = nulls.length > 0
            ? { errorCode: ErrorCode.INVALID_CONFIG, message: `Null value not supported for topic configs: ${nulls.join(',')}` }
            : this.options.validateTopicConfigs(configs);
          if (problem !== null) outcome = fail(problem.errorCode, problem.message);
          else {
            const planned = this.planAssignments(topic.numPartitions, topic.replicationFactor, topic.assignments);
            if ('errorCode' in planned) outcome = planned;
            else assignments = planned.assignments;
          }
        }
        if (outcome.errorCode === ErrorCode.NONE) {
          result.numPartitions = assignments.length;
          result.replicationFactor = assignments[0]?.length ?? 0;
          // Clients (the Java admin) read Configs whenever TopicConfigErrorCode is 0: always fill it.
          result.configs = (this.options.describeTopicConfigs?.(configs) ?? []).map((c) => ({
            name: c.name, value: c.value, readOnly: c.readOnly, configSource: c.configSource, isSensitive: c.isSensitive,
          }));
          collisionKeys.set(collisionKey(topic.name), topic.name);
          if (!request.validateOnly) {
            const topicId = this.newTopicId();
            result.topicId = topicId;
            records.push(...this.topicRecords(topic.name, topicId, assignments, configs));
          }
        } else {
          result.numPartitions = -1;
          result.replicationFactor = -1;
        }
        result.errorCode = outcome.errorCode;
        result.errorMessage = outcome.errorMessage;
        response.topics.push(result);
      }
      if (records.length > 0) await this.options.log.append(records);
      return response;
    });
  }

  private planAssignments(
    numPartitions: number, replicationFactor: number, manual: readonly { partitionIndex: number; brokerIds: number[] }[],
  ): { assignments: number[][] } | TopicOutcome {
    if (manual.length > 0) {
      if (numPartitions !== -1 || replicationFactor !== -1) {
        return fail(ErrorCode.INVALID_REQUEST, 'Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.');
      }
      const sorted = [...manual].sort((a, b) => a.partitionIndex - b.partitionIndex);
      const out: number[][] = [];
      for (const [i, a] of sorted.entries()) {
        if (a.partitionIndex !== i) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Partitions should be a consecutive 0-based integer sequence, but got ${sorted.map((s) => s.partitionIndex).join(',')}.`);
        if (a.brokerIds.length === 0) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Empty replica assignment for partition ${i}.`);
        if (new Set(a.brokerIds).size !== a.brokerIds.length) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Duplicate brokers not allowed in replica assignment: ${a.brokerIds.join(', ')} for partition id ${i}.`);
        if (a.brokerIds.length !== (sorted[0]?.brokerIds.length ?? 0)) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'All partitions should have the same number of replicas.');
        for (const id of a.brokerIds) {
          if (!this.image.brokers.has(id)) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `The manual partition assignment includes broker ${id}, but no such broker is registered.`);
        }
        out.push([...a.brokerIds]);
      }
      return { assignments: out };
    }
    const partitions = numPartitions === -1 ? this.options.defaultNumPartitions : numPartitions;
    const replicas = replicationFactor === -1 ? this.options.defaultReplicationFactor : replicationFactor;
    if (partitions <= 0) return fail(ErrorCode.INVALID_PARTITIONS, 'Number of partitions was set to an invalid non-positive value.');
    if (replicas <= 0) return fail(ErrorCode.INVALID_REPLICATION_FACTOR, 'Replication factor must be larger than 0, or -1 to use the default value.');
    if (replicas > 32767) return fail(ErrorCode.INVALID_REPLICATION_FACTOR, 'Replication factor must be less than 32768.');
    try {
      const assignments = placeReplicas(this.placementBrokers(), partitions, replicas, this.placementCursor);
      this.placementCursor += partitions;
      return { assignments };
    } catch (error) {
      if (error instanceof PlacementError) return fail(ErrorCode.INVALID_REPLICATION_FACTOR, error.message);
      throw error;
    }
  }

  private newTopicId(): Uuid {
    for (;;) {
      const id = randomUuid(this.options.randomBytes);
      if (!this.image.topicsById.has(id)) return id;
    }
  }

  private topicRecords(name: string, topicId: Uuid, assignments: readonly number[][], configs: ReadonlyMap<string, string>): MetadataRecord[] {
    const records: MetadataRecord[] = [metadataRecord(2, { name, topicId })];
    for (const [key, value] of configs) {
      records.push(metadataRecord(4, { resourceType: ConfigResourceType.topic, resourceName: name, name: key, value }));
    }
    assignments.forEach((replicas, partitionId) => records.push(this.partitionRecord(topicId, partitionId, replicas)));
    return records;
  }

  private partitionRecord(topicId: Uuid, partitionId: number, replicas: readonly number[]): MetadataRecord {
    const live = replicas.filter((id) => { const b = this.image.brokers.get(id); return b !== undefined && !b.fenced; });
    return metadataRecord(3, {
      partitionId, topicId,
      replicas: [...replicas],
      isr: live.length > 0 ? live : [...replicas],
      removingReplicas: [], addingReplicas: [],
      leader: live[0] ?? -1,
      leaderRecoveryState: 0,
      leaderEpoch: 0,
      partitionEpoch: 0,
      directories: replicas.map(() => ZERO_UUID),
      eligibleLeaderReplicas: null,
      lastKnownElr: null,
    });
  }

  deleteTopics(request: DeleteTopicsRequest): Promise<DeleteTopicsResponse> {
    return this.serialize(async () => {
      const response = defaultDeleteTopicsResponse();
      const names = [...request.topicNames.map((name) => ({ name, topicId: null as Uuid | null })), ...request.topics.map((t) => ({ name: t.name, topicId: t.topicId }))];
      const records: MetadataRecord[] = [];
      const seen = new Set<Uuid>();
      for (const entry of names) {
        const result = defaultDeleteTopicsResponseDeletableTopicResult();
        const byId = entry.topicId !== null && entry.topicId !== ZERO_UUID;
        const topic = byId ? this.image.topicsById.get(entry.topicId as Uuid) : entry.name !== null ? this.image.topicsByName.get(entry.name) : undefined;
        result.name = byId ? (topic?.name ?? null) : entry.name;
        result.topicId = topic?.id ?? (byId ? (entry.topicId as Uuid) : ZERO_UUID);
        if (byId && entry.name !== null) {
          result.errorCode = ErrorCode.INVALID_REQUEST;
          result.errorMessage = 'Topic name and topic id cannot both be set';
        } else if (topic === undefined) {
          result.errorCode = byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          result.errorMessage = byId ? 'This server does not host this topic ID.' : 'This server does not host this topic-partition.';
        } else if (seen.has(topic.id)) {
          result.errorCode = ErrorCode.INVALID_REQUEST;
          result.errorMessage = 'Duplicate topic name.';
        } else {
          seen.add(topic.id);
          records.push(metadataRecord(9, { topicId: topic.id }));
        }
        response.responses.push(result);
      }
      if (records.length > 0) await this.options.log.append(records);
      return response;
    });
  }

  createPartitions(request: CreatePartitionsRequest): Promise<CreatePartitionsResponse> {
    return this.serialize(async () => {
      const response = defaultCreatePartitionsResponse();
      const records: MetadataRecord[] = [];
      const counts = new Map<string, number>();
      for (const t of request.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
      for (const t of request.topics) {
        const result = defaultCreatePartitionsResponseCreatePartitionsTopicResult();
        result.name = t.name;
        const topic = this.image.topicsByName.get(t.name);
        const current = topic?.partitions.size ?? 0;
        const replicationFactor = topic?.partitions.get(0)?.replicas.length ?? 0;
        let outcome: TopicOutcome = ok;
        let assignments: number[][] = [];
        if ((counts.get(t.name) ?? 0) > 1) outcome = fail(ErrorCode.INVALID_REQUEST, 'Duplicate topic in request.');
        else if (topic === undefined) outcome = fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'This server does not host this topic-partition.');
        else if (t.count < current) outcome = fail(ErrorCode.INVALID_PARTITIONS, `The topic ${t.name} currently has ${current} partition(s); ${t.count} would not be an increase.`);
        else if (t.count === current) outcome = fail(ErrorCode.INVALID_PARTITIONS, `Topic already has ${current} partition(s).`);
        else if (t.assignments !== null) {
          if (t.assignments.length !== t.count - current) {
            outcome = fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Attempted to add ${t.count - current} additional partition(s), but only ${t.assignments.length} assignment(s) were specified.`);
          } else {
            for (const a of t.assignments) {
              const unknown = a.brokerIds.find((id) => !this.image.brokers.has(id));
              if (a.brokerIds.length !== replicationFactor) { outcome = fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `The manual partition assignment includes a partition with ${a.brokerIds.length} replica(s), but this is not consistent with previous partitions, which have ${replicationFactor} replica(s).`); break; }
              if (unknown !== undefined) { outcome = fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `The manual partition assignment includes broker ${unknown}, but no such broker is registered.`); break; }
              if (new Set(a.brokerIds).size !== a.brokerIds.length) { outcome = fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `The manual partition assignment includes the broker ${a.brokerIds.join(',')} more than once.`); break; }
              assignments.push([...a.brokerIds]);
            }
          }
        } else {
          try {
            assignments = placeReplicas(this.placementBrokers(), t.count - current, replicationFactor, this.placementCursor);
            this.placementCursor += t.count - current;
          } catch (error) {
            if (!(error instanceof PlacementError)) throw error;
            outcome = fail(ErrorCode.INVALID_REPLICATION_FACTOR, error.message);
          }
        }
        if (outcome.errorCode === ErrorCode.NONE && topic !== undefined && !request.validateOnly) {
          assignments.forEach((replicas, i) => records.push(this.partitionRecord(topic.id, current + i, replicas)));
        }
        result.errorCode = outcome.errorCode;
        result.errorMessage = outcome.errorMessage;
        response.results.push(result);
      }
      if (records.length > 0) await this.options.log.append(records);
      return response;
    });
  }

  /** Reserves a block of producer ids for a broker (AllocateProducerIds; in-process on a combined node). */
  allocateProducerIds(brokerId: number, brokerEpoch: bigint): Promise<{ start: bigint; length: number }> {
    return this.serialize(async () => {
      const length = this.options.producerIdBlockSize ?? 1000;
      const start = this.image.nextProducerId;
      await this.options.log.append([metadataRecord(15, { brokerId, brokerEpoch, nextProducerId: start + BigInt(length) })]);
      return { start, length };
    });
  }

  private get clusterControl(): ClusterControl {
    const control = this.options.clusterControl;
    if (control === undefined) throw new Error('this controller was built without broker lifecycle support');
    return control;
  }

  private now(): number {
    return (this.options.nowMs ?? Date.now)();
  }

  /** BrokerRegistration: the broker is registered fenced; the response carries its new epoch. */
  registerBroker(request: BrokerRegistrationRequest): Promise<BrokerRegistrationResponse> {
    return this.serialize(async () => {
      const decision = this.clusterControl.register(request, this.now());
      if (decision.records.length > 0) await this.options.log.append(decision.records);
      return decision.response;
    });
  }

  /** BrokerHeartbeat: keeps the session, unfences a caught-up broker, runs controlled shutdown. */
  brokerHeartbeat(request: BrokerHeartbeatRequest): Promise<BrokerHeartbeatResponse> {
    return this.serialize(async () => {
      const decision = this.clusterControl.heartbeat(request, this.now());
      if (decision.records.length > 0) await this.options.log.append(decision.records);
      return decision.response;
    });
  }

  unregisterBroker(brokerId: number): Promise<number> {
    return this.serialize(async () => {
      const outcome = this.clusterControl.unregister(brokerId);
      if (outcome.records.length > 0) await this.options.log.append(outcome.records);
      return outcome.errorCode;
    });
  }

  /** Fences brokers whose heartbeat session expired, one batch per broker; resolves with the fenced ids. */
  fenceExpiredBrokers(): Promise<number[]> {
    return this.serialize(async () => {
      const fenced: number[] = [];
      for (;;) {
        const expired = this.clusterControl.expiredBrokers(this.now());
        const records = this.clusterControl.expireSession(this.now());
        if (records.length === 0) return fenced;
        await this.options.log.append(records);
        fenced.push(...expired.slice(0, 1));
      }
    });
  }

  /** On becoming the active controller: fresh heartbeat sessions for every registered broker. */
  activate(): void {
    this.options.clusterControl?.activate(this.now());
  }

  /** Writes records the controller decided on outside a client request (bootstrap, registrations, configs). */
  write(records: readonly MetadataRecord[]): Promise<void> {
    return this.serialize(() => this.options.log.append(records));
  }
}

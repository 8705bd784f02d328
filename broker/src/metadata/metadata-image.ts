/**
 * The in-memory view of cluster metadata, built by replaying committed KRaft metadata records in order.
 *
 * Only the active controller WRITES records; every broker (and every controller) APPLIES them here. The
 * image never validates business rules (the controller did that before appending); it asserts only what a
 * well-formed log guarantees, and reports anything else as a MetadataApplyError naming the record.
 * Listeners run after each committed batch so that replicas, groups and caches follow the image.
 */
import type {
  BrokerRegistrationChangeRecord, ConfigRecord, FeatureLevelRecord, PartitionChangeRecord, PartitionRecord,
  ProducerIdsRecord, RegisterBrokerRecord, TopicRecord,
} from '../protocol/generated/index.ts';
import type { Uuid } from '../protocol/wire/uuid.ts';
import { metadataRecord, type MetadataRecord } from './metadata-record.ts';
import type { MetadataRecordByType, MetadataRecordType } from '../protocol/generated/index.ts';

/** Kafka's ConfigResource types as stored in ConfigRecord. */
export const ConfigResourceType = { topic: 2, broker: 4, brokerLogger: 8, clientMetrics: 16, group: 32 } as const;

export const NO_LEADER = -1;
/** PartitionChangeRecord.leader value meaning "unchanged". */
export const NO_LEADER_CHANGE = -2;

export interface BrokerEndpoint {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly securityProtocol: number;
}

export interface BrokerRegistration {
  readonly id: number;
  readonly epoch: bigint;
  readonly incarnationId: Uuid;
  readonly endpoints: readonly BrokerEndpoint[];
  readonly rack: string | null;
  readonly fenced: boolean;
  readonly inControlledShutdown: boolean;
  readonly logDirs: readonly Uuid[];
  /** Last offset of the batch that held the registration: the broker has caught up once it applied it. */
  readonly registeredAtOffset: bigint;
}

export interface PartitionState {
  readonly topicId: Uuid;
  readonly partition: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly eligibleLeaderReplicas: readonly number[];
  readonly lastKnownElr: readonly number[];
}

export interface TopicState {
  readonly name: string;
  readonly id: Uuid;
  readonly partitions: Map<number, PartitionState>;
}

export class MetadataApplyError extends Error {
  override readonly name = 'MetadataApplyError';
  readonly code = 'MILLRACE_METADATA_APPLY';
}

export type MetadataListener = (image: MetadataImage, applied: readonly MetadataRecord[]) => void;

export class MetadataImage {
  readonly features = new Map<string, number>();
  readonly brokers = new Map<number, BrokerRegistration>();
  readonly topicsByName = new Map<string, TopicState>();
  readonly topicsById = new Map<Uuid, TopicState>();
  /** `${resourceType}:${resourceName}` -> key -> value. */
  readonly configs = new Map<string, Map<string, string>>();
  /** The next producer id block starts here (ProducerIdsRecord). */
  nextProducerId = 0n;
  /** Offset of the last applied record in the metadata log, -1 before any. */
  lastAppliedOffset = -1n;
  /** Last offset of the batch being applied (registrations remember it). */
  private applyingOffset = -1n;
  private readonly listeners: MetadataListener[] = [];

  /** Calls `listener` after every applied batch; returns a function that unsubscribes it. */
  onChange(listener: MetadataListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Applies one committed batch, then tells the listeners. */
  applyBatch(records: readonly MetadataRecord[], lastOffset: bigint): void {
    this.applyingOffset = lastOffset;
    for (const record of records) this.apply(record);
    this.lastAppliedOffset = lastOffset;
    for (const listener of this.listeners) listener(this, records);
  }

  /** Forgets everything (before a snapshot is loaded); listeners are told by the applyBatch that follows. */
  reset(): void {
    this.features.clear();
    this.brokers.clear();
    this.topicsByName.clear();
    this.topicsById.clear();
    this.configs.clear();
    this.nextProducerId = 0n;
    this.lastAppliedOffset = -1n;
  }

  /**
   * The image as records (a metadata snapshot): replaying them into an empty image rebuilds this one.
   * Order: features, brokers, configs of non-topic resources, then each topic with its configs and partitions.
   */
  snapshotRecords(): MetadataRecord[] {
    const out: MetadataRecord[] = [];
    const push = <K extends MetadataRecordType>(type: K, record: MetadataRecordByType[K]): void => { out.push(metadataRecord(type, record)); };
    for (const [name, featureLevel] of this.features) push(12, { name, featureLevel });
    for (const b of this.brokers.values()) {
      push(0, {
        brokerId: b.id, isMigratingZkBroker: false, incarnationId: b.incarnationId, brokerEpoch: b.epoch,
        endPoints: b.endpoints.map((e) => ({ ...e })), features: [], rack: b.rack, fenced: b.fenced,
        inControlledShutdown: b.inControlledShutdown, logDirs: [...b.logDirs],
      });
    }
    const topicConfigPrefix = `${ConfigResourceType.topic}:`;
    const pushConfigs = (key: string, values: ReadonlyMap<string, string>): void => {
      const sep = key.indexOf(':');
      for (const [name, value] of values) push(4, { resourceType: Number(key.slice(0, sep)), resourceName: key.slice(sep + 1), name, value });
    };
    for (const [key, values] of this.configs) if (!key.startsWith(topicConfigPrefix)) pushConfigs(key, values);
    for (const topic of this.topicsById.values()) {
      push(2, { name: topic.name, topicId: topic.id });
      const configs = this.configs.get(`${topicConfigPrefix}${topic.name}`);
      if (configs !== undefined) pushConfigs(`${topicConfigPrefix}${topic.name}`, configs);
      for (const p of topic.partitions.values()) {
        push(3, {
          partitionId: p.partition, topicId: p.topicId, replicas: [...p.replicas], isr: [...p.isr], removingReplicas: [], addingReplicas: [],
          leader: p.leader, leaderRecoveryState: 0, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch,
          directories: [], eligibleLeaderReplicas: [...p.eligibleLeaderReplicas], lastKnownElr: [...p.lastKnownElr],
        });
      }
    }
    if (this.nextProducerId > 0n) push(15, { brokerId: -1, brokerEpoch: -1n, nextProducerId: this.nextProducerId });
    return out;
  }

  apply(m: MetadataRecord): void {
    switch (m.type) {
      case 0: return this.registerBroker(m.record);
      case 1: { this.brokers.delete(m.record.brokerId); return; }
      case 2: return this.addTopic(m.record);
      case 3: return this.addPartition(m.record);
      case 4: return this.setConfig(m.record);
      case 5: return this.changePartition(m.record);
      case 7: return this.updateBroker(m.record.id, { fenced: true });
      case 8: return this.updateBroker(m.record.id, { fenced: false });
      case 9: return this.removeTopic(m.record.topicId);
      case 12: return this.setFeature(m.record);
      case 15: return this.setProducerIds(m.record);
      case 17: return this.changeBrokerRegistration(m.record);
      default:
        // ACLs, SCRAM, delegation tokens, quotas, controller registrations, transactions markers and no-ops
        // carry no state this image serves yet; they stay in the log for whoever needs them later.
        return;
    }
  }

  topicPartition(topic: string, partition: number): PartitionState | undefined {
    return this.topicsByName.get(topic)?.partitions.get(partition);
  }

  topicConfig(topic: string): ReadonlyMap<string, string> {
    return this.configs.get(`${ConfigResourceType.topic}:${topic}`) ?? new Map<string, string>();
  }

  /** Broker-level dynamic configs: `brokerId` as a string, or '' for the cluster-wide default. */
  brokerConfig(brokerId: string): ReadonlyMap<string, string> {
    return this.configs.get(`${ConfigResourceType.broker}:${brokerId}`) ?? new Map<string, string>();
  }

  private registerBroker(r: RegisterBrokerRecord): void {
    this.brokers.set(r.brokerId, {
      id: r.brokerId,
      epoch: r.brokerEpoch,
      incarnationId: r.incarnationId,
      endpoints: r.endPoints.map((e) => ({ name: e.name, host: e.host, port: e.port, securityProtocol: e.securityProtocol })),
      rack: r.rack,
      fenced: r.fenced,
      inControlledShutdown: r.inControlledShutdown,
      logDirs: r.logDirs,
      registeredAtOffset: this.applyingOffset,
    });
  }

  private updateBroker(id: number, change: Partial<Pick<BrokerRegistration, 'fenced' | 'inControlledShutdown' | 'logDirs'>>): void {
    const broker = this.brokers.get(id);
    if (!broker) throw new MetadataApplyError(`broker ${id} changes state but is not registered`);
    this.brokers.set(id, { ...broker, ...change });
  }

  private changeBrokerRegistration(r: BrokerRegistrationChangeRecord): void {
    // fenced / inControlledShutdown: -1 unchanged, 0 false, 1 true (BrokerRegistrationFencingChange).
    const change: { fenced?: boolean; inControlledShutdown?: boolean; logDirs?: readonly Uuid[] } = {};
    if (r.fenced === 1) change.fenced = true;
    else if (r.fenced === -1) change.fenced = false;
    if (r.inControlledShutdown === 1) change.inControlledShutdown = true;
    if (r.logDirs.length > 0) change.logDirs = r.logDirs;
    this.updateBroker(r.brokerId, change);
  }

  private addTopic(r: TopicRecord): void {
    if (this.topicsByName.has(r.name)) throw new MetadataApplyError(`TopicRecord for ${r.name}: the topic already exists`);
    const topic: TopicState = { name: r.name, id: r.topicId, partitions: new Map() };
    this.topicsByName.set(r.name, topic);
    this.topicsById.set(r.topicId, topic);
  }

  private addPartition(r: PartitionRecord): void {
    const topic = this.topicsById.get(r.topicId);
    if (!topic) throw new MetadataApplyError(`PartitionRecord ${r.partitionId} for unknown topic id ${r.topicId}`);
    topic.partitions.set(r.partitionId, {
      topicId: r.topicId,
      partition: r.partitionId,
      replicas: r.replicas,
      isr: r.isr,
      leader: r.leader,
      leaderEpoch: r.leaderEpoch,
      partitionEpoch: r.partitionEpoch,
      eligibleLeaderReplicas: r.eligibleLeaderReplicas ?? [],
      lastKnownElr: r.lastKnownElr ?? [],
    });
  }

  private changePartition(r: PartitionChangeRecord): void {
    const topic = this.topicsById.get(r.topicId);
    const current = topic?.partitions.get(r.partitionId);
    if (!topic || !current) throw new MetadataApplyError(`PartitionChangeRecord for unknown partition ${r.topicId}-${r.partitionId}`);
    // As Kafka's PartitionRegistration.merge: any leader value other than NO_LEADER_CHANGE (even the same
    // leader, which the controller writes to force it) starts a new leader epoch; the partition epoch
    // moves on every change.
    const leaderChanged = r.leader !== NO_LEADER_CHANGE;
    topic.partitions.set(r.partitionId, {
      ...current,
      replicas: r.replicas ?? current.replicas,
      isr: r.isr ?? current.isr,
      leader: r.leader === NO_LEADER_CHANGE ? current.leader : r.leader,
      leaderEpoch: leaderChanged ? current.leaderEpoch + 1 : current.leaderEpoch,
      partitionEpoch: current.partitionEpoch + 1,
      eligibleLeaderReplicas: r.eligibleLeaderReplicas ?? current.eligibleLeaderReplicas,
      lastKnownElr: r.lastKnownElr ?? current.lastKnownElr,
    });
  }

  private removeTopic(topicId: Uuid): void {
    const topic = this.topicsById.get(topicId);
    if (!topic) throw new MetadataApplyError(`RemoveTopicRecord for unknown topic id ${topicId}`);
    this.topicsById.delete(topicId);
    this.topicsByName.delete(topic.name);
    this.configs.delete(`${ConfigResourceType.topic}:${topic.name}`);
  }

  private setConfig(r: ConfigRecord): void {
    const key = `${r.resourceType}:${r.resourceName}`;
    let configs = this.configs.get(key);
    if (r.value === null) {
      configs?.delete(r.name);
      if (configs?.size === 0) this.configs.delete(key);
      return;
    }
    if (!configs) this.configs.set(key, (configs = new Map<string, string>()));
    configs.set(r.name, r.value);
  }

  private setFeature(r: FeatureLevelRecord): void {
    if (r.featureLevel === 0) this.features.delete(r.name);
    else this.features.set(r.name, r.featureLevel);
  }

  private setProducerIds(r: ProducerIdsRecord): void {
    if (r.nextProducerId < this.nextProducerId) throw new MetadataApplyError(`ProducerIdsRecord moves the next producer id back from ${this.nextProducerId} to ${r.nextProducerId}`);
    this.nextProducerId = r.nextProducerId;
  }
}

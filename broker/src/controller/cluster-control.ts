/**
 * Broker lifecycle on the active controller (Kafka's ClusterControlManager + BrokerHeartbeatManager):
 * registration, heartbeats, fencing on session expiry, unfencing once a broker has caught up with the
 * metadata log, controlled shutdown, and the partition leadership changes each of those implies.
 *
 * Pure: decisions read the metadata image and an injected clock, and return the records to write plus the
 * response to send once they are committed. Heartbeat sessions live only in memory on the active
 * controller (as in Kafka): a newly active controller starts every unfenced broker's session afresh, so a
 * failover never fences a healthy broker.
 *
 * Leadership rules (Kafka's PartitionChangeBuilder, for the replication this broker has today):
 * - a broker leaving (fenced, controlled shutdown) loses every leadership; the new leader is the first
 *   live ISR member, and the leaving broker leaves the ISR unless it is its last member (the ISR is never
 *   empty: an RF 1 partition keeps ISR [b] with leader -1, i.e. offline until b returns);
 * - a broker becoming live again leads every leaderless partition whose ISR holds it.
 */
import {
  defaultBrokerHeartbeatResponse, defaultBrokerRegistrationResponse,
  type BrokerHeartbeatRequest, type BrokerHeartbeatResponse, type BrokerRegistrationRequest, type BrokerRegistrationResponse,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { metadataRecord, type MetadataRecord } from '../metadata/metadata-record.ts';
import { NO_LEADER, NO_LEADER_CHANGE, type BrokerRegistration, type MetadataImage, type PartitionState } from '../metadata/metadata-image.ts';

/** BrokerRegistrationChangeRecord fencing values (-1 unfences; unfencing is written as UnfenceBrokerRecord). */
const FENCING_UNCHANGED = 0;
const FENCE = 1;
const SHUTDOWN_UNCHANGED = 0;
const IN_CONTROLLED_SHUTDOWN = 1;

export interface ClusterControlOptions {
  readonly image: MetadataImage;
  readonly clusterId: string;
  /** broker.session.timeout.ms */
  readonly sessionTimeoutMs: number;
  /** metadata.version features a broker must support: name -> finalized level. */
  readonly finalizedFeatures: () => ReadonlyMap<string, number>;
}

export interface Decision<R> {
  readonly records: readonly MetadataRecord[];
  readonly response: R;
}

export class ClusterControl {
  private readonly options: ClusterControlOptions;
  /** Broker id -> last heartbeat (or registration) time, for brokers whose session is tracked. */
  private readonly lastContactMs = new Map<number, number>();
  /** Brokers heard from (registration or heartbeat) since this controller became active. */
  private readonly heardFrom = new Set<number>();

  constructor(options: ClusterControlOptions) {
    this.options = options;
  }

  private get image(): MetadataImage {
    return this.options.image;
  }

  /** On becoming the active controller: every registered broker gets a fresh session. */
  activate(nowMs: number): void {
    this.lastContactMs.clear();
    this.heardFrom.clear();
    for (const broker of this.image.brokers.values()) if (!broker.fenced) this.lastContactMs.set(broker.id, nowMs);
  }

  register(request: BrokerRegistrationRequest, nowMs: number): Decision<BrokerRegistrationResponse> {
    const response = defaultBrokerRegistrationResponse();
    const refuse = (errorCode: number): Decision<BrokerRegistrationResponse> => ({ records: [], response: { ...response, errorCode } });
    if (request.clusterId !== this.options.clusterId) return refuse(ErrorCode.INCONSISTENT_CLUSTER_ID);
    const existing = this.image.brokers.get(request.brokerId);
    if (existing !== undefined && existing.incarnationId !== request.incarnationId && !existing.fenced
      && this.sessionAlive(existing.id, nowMs) && this.heardFrom.has(existing.id)) {
      // Another live process holds this id (two brokers configured with one node.id). A session granted only
      // by this controller's activation (nothing heard since) does not count: that is a restarted broker.
      return refuse(ErrorCode.DUPLICATE_BROKER_REGISTRATION);
    }
    for (const [name, level] of this.options.finalizedFeatures()) {
      const supported = request.features.find((f) => f.name === name);
      if (level > 0 && (supported === undefined || level < supported.minSupportedVersion || level > supported.maxSupportedVersion)) {
        return refuse(ErrorCode.UNSUPPORTED_VERSION);
      }
    }
    // A broker epoch must grow with every registration; the offset the record lands at (or after) does.
    const previous = existing?.epoch ?? -1n;
    const epoch = this.image.lastAppliedOffset + 1n > previous ? this.image.lastAppliedOffset + 1n : previous + 1n;
    const records: MetadataRecord[] = [];
    if (existing !== undefined && !existing.fenced) records.push(...this.leadershipMovesAway(existing.id));
    records.push(metadataRecord(0, {
      brokerId: request.brokerId,
      isMigratingZkBroker: false,
      incarnationId: request.incarnationId,
      brokerEpoch: epoch,
      endPoints: request.listeners.map((l) => ({ name: l.name, host: l.host, port: l.port, securityProtocol: l.securityProtocol })),
      features: request.features.map((f) => ({ name: f.name, minSupportedVersion: f.minSupportedVersion, maxSupportedVersion: f.maxSupportedVersion })),
      rack: request.rack,
      // Fenced until its heartbeats show it has caught up with the metadata log.
      fenced: true,
      inControlledShutdown: false,
      logDirs: [...request.logDirs],
    }));
    this.lastContactMs.set(request.brokerId, nowMs);
    this.heardFrom.add(request.brokerId);
    return { records, response: { ...response, brokerEpoch: epoch } };
  }

  heartbeat(request: BrokerHeartbeatRequest, nowMs: number): Decision<BrokerHeartbeatResponse> {
    const response = defaultBrokerHeartbeatResponse();
    const broker = this.image.brokers.get(request.brokerId);
    if (broker === undefined) return { records: [], response: { ...response, errorCode: ErrorCode.BROKER_ID_NOT_REGISTERED } };
    if (broker.epoch !== request.brokerEpoch) return { records: [], response: { ...response, errorCode: ErrorCode.STALE_BROKER_EPOCH } };
    this.lastContactMs.set(broker.id, nowMs);
    this.heardFrom.add(broker.id);
    const caughtUp = broker.registeredAtOffset >= 0n && request.currentMetadataOffset >= broker.registeredAtOffset;
    const base = { ...response, isCaughtUp: caughtUp };

    if (request.wantShutDown) {
      if (broker.fenced) return { records: [], response: { ...base, isFenced: true, shouldShutDown: true } };
      const records: MetadataRecord[] = [];
      if (!broker.inControlledShutdown) {
        records.push(metadataRecord(17, { brokerId: broker.id, brokerEpoch: broker.epoch, fenced: FENCING_UNCHANGED, inControlledShutdown: IN_CONTROLLED_SHUTDOWN, logDirs: [] }));
      }
      records.push(...this.leadershipMovesAway(broker.id));
      // Every leadership is (being) moved: fence it in the same batch, and tell it to stop.
      records.push(metadataRecord(17, { brokerId: broker.id, brokerEpoch: broker.epoch, fenced: FENCE, inControlledShutdown: SHUTDOWN_UNCHANGED, logDirs: [] }));
      return { records, response: { ...base, isFenced: true, shouldShutDown: true } };
    }
    if (broker.fenced) {
      if (!request.wantFence && caughtUp) {
        return { records: this.unfenceRecords(broker), response: { ...base, isFenced: false } };
      }
      return { records: [], response: { ...base, isFenced: true } };
    }
    if (request.wantFence) {
      return { records: [...this.leadershipMovesAway(broker.id), this.fenceRecord(broker)], response: { ...base, isFenced: true } };
    }
    return { records: [], response: { ...base, isFenced: false } };
  }

  /** UnregisterBroker: drops the registration (its leaderships move first). */
  unregister(brokerId: number): { readonly errorCode: number; readonly records: readonly MetadataRecord[] } {
    const broker = this.image.brokers.get(brokerId);
    if (broker === undefined) return { errorCode: ErrorCode.BROKER_ID_NOT_REGISTERED, records: [] };
    this.lastContactMs.delete(brokerId);
    return { errorCode: ErrorCode.NONE, records: [...this.leadershipMovesAway(brokerId), metadataRecord(1, { brokerId, brokerEpoch: broker.epoch })] };
  }

  /**
   * One broker whose session expired: the records that fence it and move its leaderships (empty when none).
   * One broker per batch, so that each decision sees the image the previous one produced.
   */
  expireSession(nowMs: number): MetadataRecord[] {
    for (const broker of this.image.brokers.values()) {
      if (broker.fenced || this.sessionAlive(broker.id, nowMs)) continue;
      this.lastContactMs.delete(broker.id);
      return [...this.leadershipMovesAway(broker.id), this.fenceRecord(broker)];
    }
    return [];
  }

  /** Ids of brokers whose session has expired but that are not fenced yet. */
  expiredBrokers(nowMs: number): number[] {
    return [...this.image.brokers.values()].filter((b) => !b.fenced && !this.sessionAlive(b.id, nowMs)).map((b) => b.id);
  }

  private sessionAlive(brokerId: number, nowMs: number): boolean {
    const last = this.lastContactMs.get(brokerId);
    return last !== undefined && nowMs - last < this.options.sessionTimeoutMs;
  }

  private fenceRecord(broker: BrokerRegistration): MetadataRecord {
    return metadataRecord(7, { id: broker.id, epoch: broker.epoch });
  }

  private unfenceRecords(broker: BrokerRegistration): MetadataRecord[] {
    const records: MetadataRecord[] = [metadataRecord(8, { id: broker.id, epoch: broker.epoch })];
    for (const state of this.partitions()) {
      if (state.leader === NO_LEADER && state.isr.includes(broker.id)) records.push(partitionChange(state, { leader: broker.id }));
    }
    return records;
  }

  /** Records that take every leadership and ISR membership away from `brokerId`. */
  leadershipMovesAway(brokerId: number): MetadataRecord[] {
    const records: MetadataRecord[] = [];
    const live = (id: number): boolean => {
      if (id === brokerId) return false;
      const b = this.image.brokers.get(id);
      return b !== undefined && !b.fenced && !b.inControlledShutdown;
    };
    for (const state of this.partitions()) {
      if (!state.isr.includes(brokerId) && state.leader !== brokerId) continue;
      const remaining = state.isr.filter((id) => id !== brokerId);
      const isr = remaining.length > 0 ? remaining : state.isr;
      if (state.leader === brokerId) {
        const next = isr.find(live) ?? NO_LEADER;
        records.push(partitionChange(state, { leader: next, ...(isr === state.isr ? {} : { isr }) }));
      } else if (isr !== state.isr) {
        records.push(partitionChange(state, { isr }));
      }
    }
    return records;
  }

  private *partitions(): Iterable<PartitionState> {
    for (const topic of this.image.topicsById.values()) yield* topic.partitions.values();
  }
}

function partitionChange(state: PartitionState, change: { readonly leader?: number; readonly isr?: readonly number[] }): MetadataRecord {
  return metadataRecord(5, {
    partitionId: state.partition,
    topicId: state.topicId,
    isr: change.isr === undefined ? null : [...change.isr],
    leader: change.leader ?? NO_LEADER_CHANGE,
    replicas: null,
    removingReplicas: null,
    addingReplicas: null,
    leaderRecoveryState: -1,
    directories: null,
    eligibleLeaderReplicas: null,
    lastKnownElr: null,
  });
}

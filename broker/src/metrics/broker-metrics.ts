/**
 * The broker's Prometheus metrics, each one the counterpart of a Kafka JMX metric (named in its help text),
 * so that Kafka dashboards and alerts translate one to one. README.md in this directory lists every metric;
 * a unit test keeps the two in step.
 *
 * Each BrokerMetrics owns its Registry (never prom-client's global one), so several brokers can share a
 * process (tests, simulations). Three ways in:
 *   - RequestObserver (onRequest, onConnection, onProtocolError): called by the network layer.
 *   - record* methods: called by the produce and fetch handlers and the log on their paths.
 *   - a BrokerMetricsSource: state-derived gauges (partition counts, groups, log sizes) are read from it
 *     when Prometheus scrapes, through prom-client collect hooks, never pushed.
 *
 * Limits (labels are bounded so a scrape stays small whatever clients do):
 *   - no client id, client host or connection labels;
 *   - api and version labels come from the generated API table; anything else is counted as "unknown";
 *   - per-topic series (only ever recorded for topics that exist): at most topicSeriesMax topics (default 1000). Beyond it a topic gets no series of its
 *     own (its traffic still counts in the all-topics metrics and in millrace_topic_series_overflow_total),
 *     and one warning is logged. removeTopic() frees a slot when a topic is deleted, as Kafka's
 *     BrokerTopicStats.removeMetrics does;
 *   - log size series: at most partitionSeriesMax partitions (default 10000) per scrape, one warning;
 *   - protocol error reasons: at most protocolErrorReasonsMax (32) distinct values, then "other".
 *
 * Nothing here throws into its caller: an invalid value (negative, NaN) is dropped with a one-time warning,
 * and a failing source is logged and leaves the state gauges at their last values.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { apiSpec } from '../protocol/generated/index.ts';
import type { RequestObserver } from '../server/request-context.ts';

/** The two pino levels this module uses; a pino Logger fits. */
export interface MetricsLogger {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** Group states by group protocol, as Kafka names them in ListGroups and its group metrics. */
export const GROUP_STATES_BY_PROTOCOL = {
  classic: ['Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead'],
  consumer: ['Empty', 'Assigning', 'Reconciling', 'Stable', 'Dead'],
} as const;

export type GroupProtocol = keyof typeof GROUP_STATES_BY_PROTOCOL;

/** How many groups of one protocol are in one state; the type admits only states that protocol has. */
export type GroupStateCount = {
  [P in GroupProtocol]: { readonly protocol: P; readonly state: (typeof GROUP_STATES_BY_PROTOCOL)[P][number]; readonly count: number };
}[GroupProtocol];

export interface LogSizeSample {
  readonly topic: string;
  readonly partition: number;
  /** Bytes in all the partition's segments (Kafka's Log Size). */
  readonly sizeBytes: number;
}

/** The broker's state at one scrape. Counts follow Kafka's meaning: see each metric's help text. */
export interface BrokerMetricsSnapshot {
  /** Partitions with a replica on this broker. */
  readonly partitionCount: number;
  /** Partitions this broker leads. */
  readonly leaderCount: number;
  /** Partitions this broker leads whose ISR is smaller than the replica set. */
  readonly underReplicatedPartitions: number;
  /** Partitions this broker leads whose ISR is smaller than min.insync.replicas. */
  readonly underMinIsrPartitions: number;
  /** Partitions with no live leader, as the controller sees them (0 on a node that is not a controller). */
  readonly offlinePartitions: number;
  /** 1 on the active controller, 0 elsewhere. */
  readonly activeControllerCount: number;
  /** Topics in the cluster, as the controller sees them (0 on a node that is not a controller). */
  readonly globalTopicCount: number;
  /** Groups this broker coordinates; a missing (protocol, state) pair means 0. */
  readonly groups: Iterable<GroupStateCount>;
  /** One sample per partition log on this broker. */
  readonly logSizes: Iterable<LogSizeSample>;
}

/** Implemented by the broker; read once per scrape, so it should be cheap (counts kept up to date, not computed by a scan). */
export interface BrokerMetricsSource {
  collect(): BrokerMetricsSnapshot;
}

export interface BrokerMetricsOptions {
  readonly logger: MetricsLogger;
  readonly source?: BrokerMetricsSource;
  /** Per-topic series cap (default 1000). */
  readonly topicSeriesMax?: number;
  /** Log size series cap (default 10000). */
  readonly partitionSeriesMax?: number;
  /**
   * prom-client's default process and Node.js metrics (default true). Each registration starts an event-loop
   * delay monitor and a GC observer that prom-client never stops; tests that create many instances turn it off.
   */
  readonly processMetrics?: boolean;
}

export const TOPIC_SERIES_MAX_DEFAULT = 1000;
export const PARTITION_SERIES_MAX_DEFAULT = 10_000;
export const PROTOCOL_ERROR_REASONS_MAX = 32;

// Fetch long-polls (fetch.max.wait.ms, 500 ms by default) and JoinGroup (up to the rebalance timeout) are
// counted in full, as in Kafka's TotalTimeMs, hence the buckets up to a minute.
const REQUEST_DURATION_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
// 64 B to 64 MiB in powers of four.
const SIZE_BUCKETS_BYTES = Array.from({ length: 11 }, (_, i) => 64 * 4 ** i);
const FLUSH_DURATION_BUCKETS_SECONDS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const UNKNOWN = 'unknown';
const OTHER_REASON = 'other';

type TopicCounter = Counter<'topic'>;

export class BrokerMetrics implements RequestObserver {
  readonly registry = new Registry();

  private readonly logger: MetricsLogger;
  private source: BrokerMetricsSource | null;
  private readonly topicSeriesMax: number;
  private readonly partitionSeriesMax: number;

  private readonly requests: Counter<'api' | 'version'>;
  private readonly requestDuration: Histogram<'api' | 'version'>;
  private readonly requestSize: Histogram<'api'>;
  private readonly responseSize: Histogram<'api'>;

  private readonly messagesIn: Counter;
  private readonly bytesIn: Counter;
  private readonly bytesOut: Counter;
  private readonly failedProduce: Counter;
  private readonly failedFetch: Counter;
  private readonly topicMessagesIn: TopicCounter;
  private readonly topicBytesIn: TopicCounter;
  private readonly topicBytesOut: TopicCounter;
  private readonly topicFailedProduce: TopicCounter;
  private readonly topicFailedFetch: TopicCounter;
  private readonly topicSeriesOverflow: Counter;

  private readonly protocolErrors: Counter<'reason'>;
  private readonly connections: Gauge;
  private readonly connectionsCreated: Counter;
  private readonly connectionsClosed: Counter;
  private readonly logFlushDuration: Histogram;

  /** Topics that have per-topic series; bounded by topicSeriesMax. */
  private readonly trackedTopics = new Set<string>();
  private readonly protocolErrorReasons = new Set<string>();
  private readonly warnedOnce = new Set<string>();
  /** The source's snapshot for the scrape in progress (see snapshot()). */
  private scrapeSnapshot: { readonly value: BrokerMetricsSnapshot | null } | null = null;

  constructor(options: BrokerMetricsOptions) {
    this.logger = options.logger;
    this.source = options.source ?? null;
    this.topicSeriesMax = positiveInteger(options.topicSeriesMax ?? TOPIC_SERIES_MAX_DEFAULT, 'topicSeriesMax');
    this.partitionSeriesMax = positiveInteger(options.partitionSeriesMax ?? PARTITION_SERIES_MAX_DEFAULT, 'partitionSeriesMax');
    const registers = [this.registry];

    // Requests (kafka.network:type=RequestMetrics).
    this.requests = new Counter({
      name: 'millrace_requests_total', labelNames: ['api', 'version'], registers,
      help: 'Requests answered, by API and version. Kafka: kafka.network:type=RequestMetrics,name=RequestsPerSec,request=<api>,version=<version>.',
    });
    this.requestDuration = new Histogram({
      name: 'millrace_request_duration_seconds', labelNames: ['api', 'version'], registers, buckets: REQUEST_DURATION_BUCKETS_SECONDS,
      help: 'Time from a whole request frame being read to its response being written, long-poll waits included. Kafka: kafka.network:type=RequestMetrics,name=TotalTimeMs,request=<api>.',
    });
    this.requestSize = new Histogram({
      name: 'millrace_request_size_bytes', labelNames: ['api'], registers, buckets: SIZE_BUCKETS_BYTES,
      help: 'Request frame sizes, size prefix included, by API. Kafka: kafka.network:type=RequestMetrics,name=RequestBytes,request=<api>.',
    });
    this.responseSize = new Histogram({
      name: 'millrace_response_size_bytes', labelNames: ['api'], registers, buckets: SIZE_BUCKETS_BYTES,
      help: 'Response frame sizes by API; requests without a response (acks=0 Produce) are not observed. Kafka has no per-API equivalent; the sum over APIs matches kafka.server:type=socket-server-metrics,name=outgoing-byte-total.',
    });

    // Topic traffic (kafka.server:type=BrokerTopicMetrics): an all-topics metric, and a per-topic one (capped).
    const topicPair = (name: string, kafkaName: string, meaning: string): [Counter, TopicCounter] => [
      new Counter({ name: `millrace_${name}_total`, registers, help: `${meaning}, all topics. Kafka: kafka.server:type=BrokerTopicMetrics,name=${kafkaName}.` }),
      new Counter({
        name: `millrace_topic_${name}_total`, labelNames: ['topic'], registers,
        help: `${meaning}, by topic (at most ${this.topicSeriesMax} topics). Kafka: kafka.server:type=BrokerTopicMetrics,name=${kafkaName},topic=<topic>.`,
      }),
    ];
    [this.messagesIn, this.topicMessagesIn] = topicPair('messages_in', 'MessagesInPerSec', 'Records appended by this broker as partition leader');
    [this.bytesIn, this.topicBytesIn] = topicPair('bytes_in', 'BytesInPerSec', 'Record batch bytes appended from producers by this broker as partition leader (replication excluded)');
    [this.bytesOut, this.topicBytesOut] = topicPair('bytes_out', 'BytesOutPerSec', 'Record batch bytes returned to consumer fetches (follower fetches excluded)');
    [this.failedProduce, this.topicFailedProduce] = topicPair('failed_produce_requests', 'FailedProduceRequestsPerSec', 'Produce requests that failed for a topic (counted once per topic per request)');
    [this.failedFetch, this.topicFailedFetch] = topicPair('failed_fetch_requests', 'FailedFetchRequestsPerSec', 'Fetch requests that failed for a topic (counted once per topic per request)');
    this.topicSeriesOverflow = new Counter({
      name: 'millrace_topic_series_overflow_total', registers,
      help: 'Per-topic recordings dropped because the per-topic series cap was reached (the all-topics metrics still count them). No Kafka equivalent.',
    });

    // Network.
    this.protocolErrors = new Counter({
      name: 'millrace_protocol_errors_total', labelNames: ['reason'], registers,
      help: 'Requests that could not be parsed or served (the connection is closed), by reason. Kafka has no single equivalent; the nearest is kafka.network:type=RequestMetrics,name=ErrorsPerSec,error=INVALID_REQUEST|UNSUPPORTED_VERSION.',
    });
    this.connections = new Gauge({
      name: 'millrace_connections', registers,
      help: 'Open client connections, all listeners. Kafka: kafka.server:type=socket-server-metrics,name=connection-count.',
    });
    this.connectionsCreated = new Counter({
      name: 'millrace_connections_created_total', registers,
      help: 'Client connections accepted, all listeners. Kafka: kafka.server:type=socket-server-metrics,name=connection-creation-total.',
    });
    this.connectionsClosed = new Counter({
      name: 'millrace_connections_closed_total', registers,
      help: 'Client connections closed, all listeners. Kafka: kafka.server:type=socket-server-metrics,name=connection-close-total.',
    });

    // Log.
    this.logFlushDuration = new Histogram({
      name: 'millrace_log_flush_duration_seconds', registers, buckets: FLUSH_DURATION_BUCKETS_SECONDS,
      help: 'Time to fsync a partition log. Kafka: kafka.log:type=LogFlushStats,name=LogFlushRateAndTimeMs.',
    });

    this.registerStateGauges(registers);
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Sets (or clears) where the state gauges are read from; the broker may only have one after startup. */
  setSource(source: BrokerMetricsSource | null): void {
    this.source = source;
  }

  // --- RequestObserver: called by the network layer; must not throw. ---

  onRequest(apiKey: number, apiVersion: number, requestBytes: number, responseBytes: number, latencyMs: number): void {
    const spec = apiSpec(apiKey);
    const api = spec?.name ?? UNKNOWN;
    const version = spec !== undefined && Number.isInteger(apiVersion) && apiVersion >= spec.minVersion && apiVersion <= spec.maxVersion ? String(apiVersion) : UNKNOWN;
    this.requests.inc({ api, version });
    if (this.valid('latencyMs', latencyMs)) this.requestDuration.observe({ api, version }, latencyMs / 1000);
    if (this.valid('requestBytes', requestBytes)) this.requestSize.observe({ api }, requestBytes);
    if (responseBytes > 0 && this.valid('responseBytes', responseBytes)) this.responseSize.observe({ api }, responseBytes);
  }

  onConnection(open: boolean): void {
    if (open) {
      this.connections.inc();
      this.connectionsCreated.inc();
    } else {
      this.connections.dec();
      this.connectionsClosed.inc();
    }
  }

  onProtocolError(reason: string): void {
    let label = reason;
    if (!this.protocolErrorReasons.has(reason)) {
      if (this.protocolErrorReasons.size < PROTOCOL_ERROR_REASONS_MAX) this.protocolErrorReasons.add(reason);
      else label = OTHER_REASON;
    }
    this.protocolErrors.inc({ reason: label });
  }

  // --- Called by the produce and fetch handlers and the log. ---

  /** A leader append of `messages` records in `bytes` of record batches from a producer (not replication). */
  recordProduce(topic: string, messages: number, bytes: number): void {
    const tracked = this.trackTopic(topic);
    if (this.valid('messages', messages)) {
      this.messagesIn.inc(messages);
      if (tracked) this.topicMessagesIn.inc({ topic }, messages);
    }
    if (this.valid('bytes', bytes)) {
      this.bytesIn.inc(bytes);
      if (tracked) this.topicBytesIn.inc({ topic }, bytes);
    }
  }

  /** `bytes` of record batches returned for `topic` to a consumer fetch (not a follower fetch). */
  recordFetch(topic: string, bytes: number): void {
    if (!this.valid('bytes', bytes)) return;
    this.bytesOut.inc(bytes);
    if (this.trackTopic(topic)) this.topicBytesOut.inc({ topic }, bytes);
  }

  /**
   * A Produce request failed for `topic` (once per topic per request, as Kafka counts). Only for topics that
   * exist: like Kafka, never for UNKNOWN_TOPIC_OR_PARTITION, or clients could fill the topic cap with made-up names.
   */
  recordFailedProduce(topic: string): void {
    this.failedProduce.inc();
    if (this.trackTopic(topic)) this.topicFailedProduce.inc({ topic });
  }

  /** A Fetch request failed for `topic` (once per topic per request); only for topics that exist, as above. */
  recordFailedFetch(topic: string): void {
    this.failedFetch.inc();
    if (this.trackTopic(topic)) this.topicFailedFetch.inc({ topic });
  }

  /** One fsync of a partition log took `durationMs`. */
  recordLogFlush(durationMs: number): void {
    if (this.valid('durationMs', durationMs)) this.logFlushDuration.observe(durationMs / 1000);
  }

  /** Drops a deleted topic's series and frees its slot under the cap. */
  removeTopic(topic: string): void {
    if (!this.trackedTopics.delete(topic)) return;
    for (const counter of [this.topicMessagesIn, this.topicBytesIn, this.topicBytesOut, this.topicFailedProduce, this.topicFailedFetch]) {
      counter.remove({ topic });
    }
  }

  /** Topics that currently have per-topic series. */
  get trackedTopicCount(): number {
    return this.trackedTopics.size;
  }

  // --- Internals. ---

  private trackTopic(topic: string): boolean {
    if (this.trackedTopics.has(topic)) return true;
    if (this.trackedTopics.size < this.topicSeriesMax) {
      this.trackedTopics.add(topic);
      return true;
    }
    this.topicSeriesOverflow.inc();
    this.warnOnce('topic-cap', { topicSeriesMax: this.topicSeriesMax, topic },
      'per-topic metrics cap reached: further topics are counted only in the all-topics metrics and millrace_topic_series_overflow_total');
    return false;
  }

  private valid(name: string, value: number): boolean {
    if (Number.isFinite(value) && value >= 0) return true;
    this.warnOnce(`invalid-${name}`, { name, value: String(value) }, 'metrics: ignoring a negative or non-finite value (a caller bug)');
    return false;
  }

  private warnOnce(key: string, fields: object, message: string): void {
    if (this.warnedOnce.has(key)) return;
    this.warnedOnce.add(key);
    this.logger.warn({ component: 'metrics', ...fields }, message);
  }

  /**
   * The source's snapshot, read once per scrape: prom-client calls every collect hook synchronously at the
   * start of Registry.metrics(), so caching until the next microtask shares one snapshot among them. A
   * collect hook called on its own (getSingleMetric) simply reads the source again.
   */
  private snapshot(): BrokerMetricsSnapshot | null {
    if (this.scrapeSnapshot === null) {
      let value: BrokerMetricsSnapshot | null = null;
      if (this.source !== null) {
        try {
          value = this.source.collect();
        } catch (error) {
          this.logger.error({ component: 'metrics', err: error }, 'metrics source failed; state gauges keep their previous values');
        }
      }
      this.scrapeSnapshot = { value };
      queueMicrotask(() => { this.scrapeSnapshot = null; });
    }
    return this.scrapeSnapshot.value;
  }

  private registerStateGauges(registers: Registry[]): void {
    const snapshotGauge = (name: string, help: string, read: (s: BrokerMetricsSnapshot) => number): void => {
      const gauge: Gauge = new Gauge({
        name, help, registers,
        collect: () => {
          const s = this.snapshot();
          if (s !== null) gauge.set(read(s));
        },
      });
    };
    snapshotGauge('millrace_partitions', 'Partitions with a replica on this broker. Kafka: kafka.server:type=ReplicaManager,name=PartitionCount.', (s) => s.partitionCount);
    snapshotGauge('millrace_leaders', 'Partitions this broker leads. Kafka: kafka.server:type=ReplicaManager,name=LeaderCount.', (s) => s.leaderCount);
    snapshotGauge('millrace_under_replicated_partitions', 'Partitions this broker leads whose ISR is smaller than their replica set. Kafka: kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions.',
      (s) => s.underReplicatedPartitions);
    snapshotGauge('millrace_under_min_isr_partitions', 'Partitions this broker leads whose ISR is smaller than min.insync.replicas. Kafka: kafka.server:type=ReplicaManager,name=UnderMinIsrPartitionCount.',
      (s) => s.underMinIsrPartitions);
    snapshotGauge('millrace_offline_partitions', 'Partitions without a live leader, as the controller sees them (0 on other nodes). Kafka: kafka.controller:type=KafkaController,name=OfflinePartitionsCount.',
      (s) => s.offlinePartitions);
    snapshotGauge('millrace_active_controllers', '1 on the active controller, 0 elsewhere. Kafka: kafka.controller:type=KafkaController,name=ActiveControllerCount.', (s) => s.activeControllerCount);
    snapshotGauge('millrace_topics', 'Topics in the cluster, as the controller sees them (0 on other nodes). Kafka: kafka.controller:type=KafkaController,name=GlobalTopicCount.', (s) => s.globalTopicCount);

    const groups: Gauge<'protocol' | 'state'> = new Gauge({
      name: 'millrace_groups', labelNames: ['protocol', 'state'], registers,
      help: 'Groups this broker coordinates, by protocol and state. Kafka: kafka.coordinator.group:type=GroupMetadataManager,name=NumGroups<State> (classic) and kafka.server:type=group-coordinator-metrics,name=consumer-group-count,state=<state> (KIP-848).',
      collect: () => {
        const s = this.snapshot();
        if (s === null) return;
        const counts = new Map<string, number>();
        for (const g of s.groups) {
          const key = `${g.protocol}\u0000${g.state}`;
          counts.set(key, (counts.get(key) ?? 0) + g.count);
        }
        // Every known pair is reported, zeros included, so series do not come and go with the groups.
        for (const protocol of Object.keys(GROUP_STATES_BY_PROTOCOL) as GroupProtocol[]) {
          for (const state of GROUP_STATES_BY_PROTOCOL[protocol]) groups.set({ protocol, state }, counts.get(`${protocol}\u0000${state}`) ?? 0);
        }
      },
    });

    const logSize: Gauge<'topic' | 'partition'> = new Gauge({
      name: 'millrace_log_size_bytes', labelNames: ['topic', 'partition'], registers,
      help: `Bytes in a partition log's segments (at most ${this.partitionSeriesMax} partitions). Kafka: kafka.log:type=Log,name=Size,topic=<topic>,partition=<partition>.`,
      collect: () => {
        const s = this.snapshot();
        if (s === null) return;
        // Rebuilt every scrape, so deleted and moved partitions disappear.
        logSize.reset();
        let series = 0;
        for (const sample of s.logSizes) {
          if (series === this.partitionSeriesMax) {
            this.warnOnce('partition-cap', { partitionSeriesMax: this.partitionSeriesMax },
              'log size metrics cap reached: partitions beyond it have no millrace_log_size_bytes series');
            break;
          }
          logSize.set({ topic: sample.topic, partition: String(sample.partition) }, sample.sizeBytes);
          series++;
        }
      },
    });
  }
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`BrokerMetrics: ${name} must be a positive integer, got ${value}`);
  return value;
}

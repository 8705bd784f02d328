/**
 * Dynamic broker configuration on a KRaft node (KIP-226, Kafka's DynamicBrokerConfig + DynamicConfigPublisher):
 * the effective configuration is the static one with the metadata image's broker ConfigRecords layered over
 * it, this broker's id first, then the cluster-wide default (resource name '').
 *
 * It follows the image. After every committed batch:
 *   1. a broker ConfigRecord for this node or the cluster default rebuilds the effective configuration and
 *      hands it to `onEffectiveConfig` (the broker points its per-request topic settings at it);
 *   2. the partition logs hosted here get their effective log config again (PartitionLog.updateConfig):
 *      every log after a broker config change, the logs of the named topics after a topic config change;
 *   3. when the batch created or moved partitions and dynamic broker configs exist, the logs of those topics
 *      are updated once the replica manager's reconciliation has created them (it opens new logs with the
 *      static configuration).
 * At construction the image already holds the replayed metadata log, so the effective configuration and the
 * logs are brought up to date at once (the log manager opened them with the static configuration).
 *
 * Entries that are invalid in the current static configuration are skipped with a warning, as Kafka skips
 * them with an error log. This module never throws into the image's listener loop.
 */
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config/index.ts';
import type { LogConfig } from '../log/config.ts';
import { ConfigResourceType, type MetadataImage } from '../metadata/metadata-image.ts';
import type { MetadataRecord } from '../metadata/metadata-record.ts';
import type { HostedPartition } from '../replication/replica-manager.ts';
import { brokerSettings } from '../settings.ts';
import type { TopicSettings } from './topic-settings.ts';

/** The broker's effective configuration and what request handlers derive from it. */
export interface EffectiveConfig {
  /** Static layers plus this node's and the cluster's dynamic layers. */
  readonly broker: BrokerConfig;
  /** Effective log config of a topic given its overrides. */
  readonly logConfig: (overrides: ReadonlyMap<string, string>) => LogConfig;
  /** Effective handler settings of a topic given its overrides. */
  readonly topicSettings: (overrides: ReadonlyMap<string, string>) => TopicSettings;
}

/** The part of the replica manager this module needs: the hosted logs and a way to wait for new ones. */
export interface HostedLogs {
  readonly hostedPartitions: Iterable<Pick<HostedPartition, 'topic' | 'partition' | 'log'>>;
  reconcile(): Promise<void>;
}

export interface DynamicBrokerConfigOptions {
  readonly staticConfig: BrokerConfig;
  readonly nodeId: number;
  readonly image: MetadataImage;
  readonly replicas: HostedLogs;
  readonly logger: Logger;
  /** Called with the initial effective configuration and after every change of it. */
  readonly onEffectiveConfig?: (effective: EffectiveConfig) => void;
}

export function effectiveConfigOf(broker: BrokerConfig): EffectiveConfig {
  const derived = brokerSettings(broker);
  return { broker, logConfig: derived.logConfig, topicSettings: derived.topicSettings };
}

export class DynamicBrokerConfig {
  private readonly options: DynamicBrokerConfigOptions;
  private effective: EffectiveConfig;

  constructor(options: DynamicBrokerConfigOptions) {
    this.options = options;
    this.effective = effectiveConfigOf(options.staticConfig);
    this.rebuild();
    this.updateLogs(null);
    options.image.onChange((_image, records) => this.onBatch(records));
  }

  get current(): EffectiveConfig {
    return this.effective;
  }

  /** The resource name under which this node's own dynamic configs are stored. */
  get brokerResourceName(): string {
    return String(this.options.nodeId);
  }

  private get hasDynamicLayers(): boolean {
    const { layers } = this.effective.broker;
    return layers.dynamicPerBroker.size > 0 || layers.dynamicClusterDefault.size > 0;
  }

  private rebuild(): void {
    const { image, staticConfig, logger, onEffectiveConfig } = this.options;
    const { config, rejected } = staticConfig.withDynamicConfigs({
      perBroker: image.brokerConfig(this.brokerResourceName),
      clusterDefault: image.brokerConfig(''),
    });
    for (const problem of rejected) logger.warn({ key: problem.key, code: problem.code }, `dynamic broker config ignored: ${problem.message}`);
    this.effective = effectiveConfigOf(config);
    onEffectiveConfig?.(this.effective);
  }

  private onBatch(records: readonly MetadataRecord[]): void {
    try {
      const { image } = this.options;
      let brokerChanged = false;
      const changedTopics = new Set<string>();
      const placedTopics = new Set<string>();
      for (const m of records) {
        if (m.type === 4) {
          const { resourceType, resourceName } = m.record;
          if (resourceType === ConfigResourceType.broker && (resourceName === '' || resourceName === this.brokerResourceName)) brokerChanged = true;
          else if (resourceType === ConfigResourceType.topic) changedTopics.add(resourceName);
        } else if (m.type === 2) {
          placedTopics.add(m.record.name);
        } else if (m.type === 3 || m.type === 5) {
          const name = image.topicsById.get(m.record.topicId)?.name;
          if (name !== undefined) placedTopics.add(name);
        }
      }
      if (brokerChanged) this.rebuild();
      if (brokerChanged) this.updateLogs(null);
      else if (changedTopics.size > 0) this.updateLogs(changedTopics);
      if (placedTopics.size > 0 && this.hasDynamicLayers) {
        this.options.replicas.reconcile().then(
          () => this.updateLogs(placedTopics),
          (error: unknown) => this.options.logger.warn({ err: error }, 'could not apply dynamic configs to new partition logs'),
        );
      }
    } catch (error) {
      this.options.logger.error({ err: error }, 'applying config changes from the metadata image failed');
    }
  }

  /** Gives hosted logs (of `topics`, or all when null) their effective log config. */
  private updateLogs(topics: ReadonlySet<string> | null): void {
    const { image, replicas, logger } = this.options;
    const byTopic = new Map<string, LogConfig | null>();
    for (const hosted of replicas.hostedPartitions) {
      if (topics !== null && !topics.has(hosted.topic)) continue;
      let config = byTopic.get(hosted.topic);
      if (config === undefined) {
        try {
          config = this.effective.logConfig(image.topicConfig(hosted.topic));
        } catch (error) {
          logger.warn({ err: error, topic: hosted.topic }, 'the effective log config of the topic is invalid; its logs keep their config');
          config = null;
        }
        byTopic.set(hosted.topic, config);
      }
      if (config !== null) hosted.log.updateConfig(config);
    }
  }
}

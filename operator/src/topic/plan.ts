/**
 * The topic controller's decisions, as pure functions (no I/O, no clock):
 *
 * - `planTopic`: from a KafkaTopic's spec and the topic as Kafka reports it, the admin actions that converge
 *   it, and the problems the operator refuses to act on (reported as conditions).
 *     absent                      -> create (partitions, replication factor, every spec config)
 *     fewer partitions than spec  -> create-partitions up to spec.partitions
 *     more partitions than spec   -> nothing + NotSupported (removing partitions would delete data)
 *     other replication factor    -> nothing + NotSupported (needs partition reassignment: not supported yet)
 *     config                      -> set the keys whose Kafka value differs; delete the topic-level overrides
 *                                    the spec does not list (this is how changes made outside the operator,
 *                                    e.g. with kafka-configs.sh, are reverted)
 *   Values are compared in Kafka's rendering: a spec value is parsed with the broker's own topic config
 *   definitions and printed back the way DescribeConfigs prints it (`86400000`, `true`, `0.5`, `1.0` for a
 *   double written `1`, `compact,delete` for `compact, delete`), so an equal value never shows as a change.
 * - `resolveTopicOwnership`: several KafkaTopics naming one Kafka topic of one cluster: the oldest
 *   (metadata.creationTimestamp, ties broken by namespace then name) manages it; the others get
 *   ResourceConflict and must not touch the topic.
 */
import { configValueString } from '../api/validate-kafka-cluster.ts';
import { ConditionReason } from '../api/conditions.ts';
import { LABEL_CLUSTER } from '../api/constants.ts';
import { effectiveTopicName, type KafkaTopic, type KafkaTopicSpec } from '../api/kafka-topic-types.ts';
import type { ConfigScalar } from '../api/object-meta.ts';
import { parseConfigValue, toKafkaString, type ConfigKey } from '../../../broker/src/config/config-def.ts';
import { TOPIC_CONFIG_DEF } from '../../../broker/src/config/topic-config.ts';

// ---------------------------------------------------------------------------------------------------------
// Plan

/** The topic as Kafka reports it (describeTopics + describeTopicConfigs). */
export interface ObservedTopic {
  readonly partitions: number;
  readonly replicationFactor: number;
  /** Topic-level overrides only (DescribeConfigs source DYNAMIC_TOPIC_CONFIG); null (a hidden value) never matches. */
  readonly overrides: Readonly<Record<string, string | null>>;
}

export type TopicAction =
  | {
    readonly type: 'create';
    readonly topic: string;
    readonly partitions: number;
    readonly replicationFactor: number;
    readonly configs: Readonly<Record<string, string>>;
  }
  | { readonly type: 'create-partitions'; readonly topic: string; readonly totalCount: number }
  | {
    readonly type: 'alter-configs';
    readonly topic: string;
    /** Keys to set, in Kafka's rendering. */
    readonly set: Readonly<Record<string, string>>;
    /** Topic-level overrides to remove. */
    readonly delete: readonly string[];
  };

export interface TopicProblem {
  readonly reason: ConditionReason;
  /** The spec field the problem is about. */
  readonly path: string;
  readonly message: string;
}

export interface TopicPlan {
  /** At most one of each type, in the order to run them. */
  readonly actions: readonly TopicAction[];
  readonly problems: readonly TopicProblem[];
}

/** A spec config value as Kafka renders it (DescribeConfigs); values the broker would refuse stay as written. */
export function kafkaConfigString(key: string, value: ConfigScalar): string {
  const raw = configValueString(value) ?? String(value);
  const def = TOPIC_CONFIG_DEF.get(key) as ConfigKey | undefined;
  if (def === undefined) return raw;
  const parsed = parseConfigValue(def, raw);
  return parsed.ok ? (toKafkaString(def.type, parsed.value) ?? raw) : raw;
}

/** The spec's config in Kafka's rendering, keys sorted. */
export function desiredConfigs(spec: Pick<KafkaTopicSpec, 'config'>): Record<string, string> {
  const out: Record<string, string> = {};
  const config = spec.config ?? {};
  for (const key of Object.keys(config).sort()) {
    const value = config[key];
    if (value !== undefined) out[key] = kafkaConfigString(key, value);
  }
  return out;
}

/** The actions that bring the topic `topicName` (absent when `observed` is null) to `spec`. */
export function planTopic(topicName: string, spec: KafkaTopicSpec, observed: ObservedTopic | null): TopicPlan {
  const configs = desiredConfigs(spec);
  if (observed === null) {
    return {
      actions: [{ type: 'create', topic: topicName, partitions: spec.partitions, replicationFactor: spec.replicas, configs }],
      problems: [],
    };
  }
  const actions: TopicAction[] = [];
  const problems: TopicProblem[] = [];

  if (spec.partitions > observed.partitions) {
    actions.push({ type: 'create-partitions', topic: topicName, totalCount: spec.partitions });
  } else if (spec.partitions < observed.partitions) {
    problems.push({
      reason: ConditionReason.NotSupported,
      path: 'spec.partitions',
      message: `topic ${JSON.stringify(topicName)} has ${observed.partitions} partitions and spec.partitions is ${spec.partitions}: `
        + `Kafka cannot remove partitions without deleting their data, so the topic keeps ${observed.partitions}; `
        + `set spec.partitions to ${observed.partitions} or more`,
    });
  }

  if (spec.replicas !== observed.replicationFactor) {
    problems.push({
      reason: ConditionReason.NotSupported,
      path: 'spec.replicas',
      message: `topic ${JSON.stringify(topicName)} has replication factor ${observed.replicationFactor} and spec.replicas is ${spec.replicas}: `
        + 'changing the replication factor of an existing topic (partition reassignment) is not supported yet, '
        + `so the topic keeps ${observed.replicationFactor}; set spec.replicas to ${observed.replicationFactor} to clear this`,
    });
  }

  const set: Record<string, string> = {};
  for (const [key, value] of Object.entries(configs)) {
    const current = Object.hasOwn(observed.overrides, key) ? observed.overrides[key] : undefined;
    if (current !== value) set[key] = value;
  }
  const remove = Object.keys(observed.overrides).filter((key) => !Object.hasOwn(configs, key)).sort();
  if (Object.keys(set).length > 0 || remove.length > 0) actions.push({ type: 'alter-configs', topic: topicName, set, delete: remove });

  return { actions, problems };
}

// ---------------------------------------------------------------------------------------------------------
// Ownership: one KafkaTopic per Kafka topic

export type TopicClaimant = Pick<KafkaTopic, 'metadata' | 'spec'>;

export interface ResourceRef {
  readonly namespace: string;
  readonly name: string;
}

export type TopicOwnership =
  | { readonly owner: true }
  | { readonly owner: false; readonly ownedBy: ResourceRef; readonly problem: TopicProblem };

/** `namespace/name`, the key of `resolveTopicOwnership`'s result. */
export const resourceKey = (ref: ResourceRef): string => `${ref.namespace}/${ref.name}`;

const creationTime = (t: TopicClaimant): number => {
  const ms = t.metadata.creationTimestamp === undefined ? NaN : Date.parse(t.metadata.creationTimestamp);
  return Number.isNaN(ms) ? Infinity : ms; // no (or an unreadable) timestamp: treated as the youngest
};

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Older first; equal times by namespace, then name. A total order on distinct resources. */
export function compareClaimants(a: TopicClaimant, b: TopicClaimant): number {
  const ta = creationTime(a);
  const tb = creationTime(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return compareText(a.metadata.namespace, b.metadata.namespace) || compareText(a.metadata.name, b.metadata.name);
}

/** Which KafkaTopic names which Kafka topic: the cluster (namespace and cluster label) and the topic name. */
const claimKey = (t: TopicClaimant): string =>
  JSON.stringify([t.metadata.namespace, t.metadata.labels?.[LABEL_CLUSTER] ?? '', effectiveTopicName(t)]);

/**
 * For every KafkaTopic (keyed `namespace/name`), whether it manages its Kafka topic or conflicts with an
 * older KafkaTopic of the same cluster naming the same topic.
 */
export function resolveTopicOwnership(topics: readonly TopicClaimant[]): Map<string, TopicOwnership> {
  const groups = new Map<string, TopicClaimant[]>();
  for (const t of topics) {
    const key = claimKey(t);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [t]);
    else group.push(t);
  }
  const out = new Map<string, TopicOwnership>();
  for (const group of groups.values()) {
    const [owner, ...others] = [...group].sort(compareClaimants);
    if (owner === undefined) continue;
    out.set(resourceKey(owner.metadata), { owner: true });
    const ownedBy = { namespace: owner.metadata.namespace, name: owner.metadata.name };
    for (const other of others) {
      if (resourceKey(other.metadata) === resourceKey(ownedBy)) continue; // the same resource listed twice
      out.set(resourceKey(other.metadata), {
        owner: false,
        ownedBy,
        problem: {
          reason: ConditionReason.ResourceConflict,
          path: other.spec.topicName === undefined ? 'metadata.name' : 'spec.topicName',
          message: `Kafka topic ${JSON.stringify(effectiveTopicName(other))} is already managed by the older KafkaTopic ${resourceKey(ownedBy)}; `
            + 'this KafkaTopic leaves it alone until that one is deleted or names another topic',
        },
      });
    }
  }
  return out;
}

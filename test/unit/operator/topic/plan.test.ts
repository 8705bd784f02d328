import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { KafkaTopic, KafkaTopicSpec } from '../../../../operator/src/api/kafka-topic-types.ts';
import type { ConfigScalar } from '../../../../operator/src/api/object-meta.ts';
import { validateKafkaTopic } from '../../../../operator/src/api/validate-kafka-topic.ts';
import {
  compareClaimants, desiredConfigs, kafkaConfigString, planTopic, resolveTopicOwnership,
  type ObservedTopic, type TopicClaimant, type TopicPlan,
} from '../../../../operator/src/topic/plan.ts';

/** What Kafka would report after running the plan's actions (the model the properties check against). */
function apply(observed: ObservedTopic | null, plan: TopicPlan): ObservedTopic | null {
  let state = observed;
  for (const action of plan.actions) {
    switch (action.type) {
      case 'create':
        expect(state).toBeNull();
        state = { partitions: action.partitions, replicationFactor: action.replicationFactor, overrides: { ...action.configs } };
        break;
      case 'create-partitions':
        if (state === null) throw new Error('create-partitions on an absent topic');
        expect(action.totalCount).toBeGreaterThan(state.partitions);
        state = { ...state, partitions: action.totalCount };
        break;
      case 'alter-configs': {
        if (state === null) throw new Error('alter-configs on an absent topic');
        const overrides = { ...state.overrides, ...action.set };
        for (const key of action.delete) delete overrides[key];
        state = { ...state, overrides };
        break;
      }
    }
  }
  return state;
}

const spec = (over: Partial<KafkaTopicSpec> = {}): KafkaTopicSpec => ({ partitions: 6, replicas: 3, config: { 'retention.ms': 86_400_000, 'cleanup.policy': 'compact' }, ...over });
const observed = (over: Partial<ObservedTopic> = {}): ObservedTopic => ({ partitions: 6, replicationFactor: 3, overrides: { 'retention.ms': '86400000', 'cleanup.policy': 'compact' }, ...over });

describe('planTopic', () => {
  it('creates an absent topic with every spec config in Kafka rendering', () => {
    expect(planTopic('orders', spec({ config: { 'retention.ms': 86_400_000, 'unclean.leader.election.enable': true, 'cleanup.policy': 'compact, delete' } }), null)).toEqual({
      actions: [{ type: 'create', topic: 'orders', partitions: 6, replicationFactor: 3, configs: { 'cleanup.policy': 'compact,delete', 'retention.ms': '86400000', 'unclean.leader.election.enable': 'true' } }],
      problems: [],
    });
  });

  it('does nothing for a topic in the desired state', () => {
    expect(planTopic('orders', spec(), observed())).toEqual({ actions: [], problems: [] });
    expect(planTopic('orders', spec({ config: {} }), observed({ overrides: {} }))).toEqual({ actions: [], problems: [] });
  });

  it('compares values the way Kafka renders them', () => {
    const cr = spec({ config: { 'cleanup.policy': 'compact, delete', 'min.cleanable.dirty.ratio': 1, 'unclean.leader.election.enable': 'TRUE', 'retention.ms': '86400000', 'min.compaction.lag.ms': 0 } });
    const kafka = observed({ overrides: { 'cleanup.policy': 'compact,delete', 'min.cleanable.dirty.ratio': '1.0', 'unclean.leader.election.enable': 'true', 'retention.ms': '86400000', 'min.compaction.lag.ms': '0' } });
    expect(planTopic('orders', cr, kafka)).toEqual({ actions: [], problems: [] });
    expect(kafkaConfigString('min.cleanable.dirty.ratio', 0.0001)).toBe('1.0E-4');
    // Unknown keys and values the broker refuses stay as written (validation reports them).
    expect(kafkaConfigString('retention.msx', 5)).toBe('5');
    expect(kafkaConfigString('retention.ms', 'soon')).toBe('soon');
  });

  it('grows partitions with CreatePartitions to the desired count', () => {
    expect(planTopic('orders', spec({ partitions: 12 }), observed())).toEqual({ actions: [{ type: 'create-partitions', topic: 'orders', totalCount: 12 }], problems: [] });
  });

  it('never removes partitions: NotSupported, and the other changes still apply', () => {
    const plan = planTopic('orders', spec({ partitions: 3, config: { 'retention.ms': 1000 } }), observed());
    expect(plan.actions).toEqual([{ type: 'alter-configs', topic: 'orders', set: { 'retention.ms': '1000' }, delete: ['cleanup.policy'] }]);
    expect(plan.problems).toEqual([{ reason: 'NotSupported', path: 'spec.partitions', message: expect.stringMatching(/has 6 partitions and spec.partitions is 3: Kafka cannot remove partitions without deleting their data/) as unknown }]);
  });

  it('reports a replication factor change as not supported yet and does not act on it', () => {
    const plan = planTopic('orders', spec({ replicas: 1 }), observed());
    expect(plan.actions).toEqual([]);
    expect(plan.problems).toEqual([{ reason: 'NotSupported', path: 'spec.replicas', message: expect.stringMatching(/replication factor 3 and spec.replicas is 1: changing the replication factor .* is not supported yet/) as unknown }]);
  });

  it('reverts out-of-band changes: resets changed values, deletes overrides the spec does not list', () => {
    const kafka = observed({ overrides: { 'retention.ms': '1', 'cleanup.policy': 'compact', 'segment.ms': '60000', 'max.message.bytes': '100' } });
    expect(planTopic('orders', spec(), kafka).actions).toEqual([
      { type: 'alter-configs', topic: 'orders', set: { 'retention.ms': '86400000' }, delete: ['max.message.bytes', 'segment.ms'] },
    ]);
  });

  it('sets a key whose Kafka value is hidden (null)', () => {
    expect(planTopic('orders', spec(), observed({ overrides: { 'retention.ms': null, 'cleanup.policy': 'compact' } })).actions).toEqual([
      { type: 'alter-configs', topic: 'orders', set: { 'retention.ms': '86400000' }, delete: [] },
    ]);
  });
});

// ---- Properties -------------------------------------------------------------------------------------------

/** Valid values per key, in the forms a user writes in a CR (numbers, booleans, strings, odd spacing). */
const CONFIG_VALUES: Readonly<Record<string, fc.Arbitrary<ConfigScalar>>> = {
  'retention.ms': fc.oneof(fc.integer({ min: -1, max: 2 ** 40 }), fc.integer({ min: -1, max: 1e9 }).map(String)),
  'cleanup.policy': fc.constantFrom('delete', 'compact', 'compact,delete', 'compact, delete', 'delete,compact'),
  'min.insync.replicas': fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }).map(String)),
  'min.cleanable.dirty.ratio': fc.oneof(fc.constantFrom(0, 0.5, 1, 0.25, 1e-4), fc.double({ min: 0, max: 1, noNaN: true })),
  'unclean.leader.election.enable': fc.oneof(fc.boolean(), fc.constantFrom('true', 'false', 'TRUE', 'False')),
  'compression.type': fc.constantFrom('producer', 'gzip', 'lz4', 'zstd', 'snappy', 'uncompressed'),
  'segment.ms': fc.integer({ min: 1, max: 2 ** 40 }),
  'message.timestamp.type': fc.constantFrom('CreateTime', 'LogAppendTime'),
};
const KEYS = Object.keys(CONFIG_VALUES);

const configArb: fc.Arbitrary<Record<string, ConfigScalar>> = fc
  .subarray(KEYS)
  .chain((keys) => fc.tuple(...keys.map((k) => (CONFIG_VALUES[k] as fc.Arbitrary<ConfigScalar>).map((v) => [k, v] as const))))
  .map((entries) => Object.fromEntries(entries));

const specArb: fc.Arbitrary<KafkaTopicSpec> = fc.record({ partitions: fc.integer({ min: 1, max: 64 }), replicas: fc.integer({ min: 1, max: 5 }), config: configArb });

/** Kafka's state: overrides rendered by Kafka, or a null (hidden) value now and then. */
const observedArb: fc.Arbitrary<ObservedTopic | null> = fc.option(
  fc.record({
    partitions: fc.integer({ min: 1, max: 64 }),
    replicationFactor: fc.integer({ min: 1, max: 5 }),
    overrides: configArb.chain((config) => fc.boolean().map((hide) => {
      const rendered: Record<string, string | null> = desiredConfigs({ config });
      const first = Object.keys(rendered)[0];
      if (hide && first !== undefined) rendered[first] = null;
      return rendered;
    })),
  }),
  { nil: null },
);

describe('planTopic properties', () => {
  it('the generated specs are valid KafkaTopics (so the properties test real inputs)', () => {
    fc.assert(fc.property(specArb, (s) => {
      const topic: KafkaTopic = { apiVersion: 'kafka.millrace.dev/v1alpha1', kind: 'KafkaTopic', metadata: { name: 't', namespace: 'n', uid: 'u', labels: { 'kafka.millrace.dev/cluster': 'c' } }, spec: s };
      expect(validateKafkaTopic(topic).problems).toEqual([]);
    }));
  });

  it('applying the plan yields the desired state, except what the operator refuses to change', () => {
    fc.assert(fc.property(specArb, observedArb, (s, before) => {
      const plan = planTopic('t', s, before);
      const after = apply(before, plan);
      expect(after).not.toBeNull();
      expect(after?.overrides).toEqual(desiredConfigs(s));
      expect(after?.partitions).toBe(Math.max(s.partitions, before?.partitions ?? 0));
      expect(after?.replicationFactor).toBe(before?.replicationFactor ?? s.replicas);
    }));
  });

  it('converges in one step: planning again on the result has no action and the same problems', () => {
    fc.assert(fc.property(specArb, observedArb, (s, before) => {
      const plan = planTopic('t', s, before);
      const again = planTopic('t', s, apply(before, plan));
      expect(again.actions).toEqual([]);
      expect(again.problems).toEqual(plan.problems);
    }));
  });

  it('reports exactly the partition decrease and the replication factor change, and never acts on them', () => {
    fc.assert(fc.property(specArb, observedArb, (s, before) => {
      const plan = planTopic('t', s, before);
      const paths = plan.problems.map((p) => p.path);
      expect(paths.includes('spec.partitions')).toBe(before !== null && s.partitions < before.partitions);
      expect(paths.includes('spec.replicas')).toBe(before !== null && s.replicas !== before.replicationFactor);
      expect(plan.problems.every((p) => p.reason === 'NotSupported')).toBe(true);
      expect(plan.actions.filter((a) => a.type === 'create').length).toBe(before === null ? 1 : 0);
      for (const a of plan.actions) {
        if (a.type === 'create-partitions') expect(a.totalCount).toBeGreaterThan(before?.partitions ?? Infinity);
        if (a.type === 'alter-configs') {
          expect(a.delete.some((k) => Object.hasOwn(s.config ?? {}, k))).toBe(false);
          expect(Object.keys(a.set).length + a.delete.length).toBeGreaterThan(0);
        }
      }
    }));
  });

  it('renders each value once and for all (rendering a rendered value changes nothing)', () => {
    fc.assert(fc.property(fc.constantFrom(...KEYS).chain((k) => (CONFIG_VALUES[k] as fc.Arbitrary<ConfigScalar>).map((v) => [k, v] as const)), ([k, v]) => {
      const once = kafkaConfigString(k, v);
      expect(kafkaConfigString(k, once)).toBe(once);
    }));
  });
});

// ---- Ownership --------------------------------------------------------------------------------------------

function claimant(namespace: string, name: string, created: string | undefined, topicName?: string, cluster = 'orders'): TopicClaimant {
  return {
    metadata: { namespace, name, uid: `${namespace}-${name}`, labels: { 'kafka.millrace.dev/cluster': cluster }, ...(created === undefined ? {} : { creationTimestamp: created }) },
    spec: { partitions: 1, replicas: 1, ...(topicName === undefined ? {} : { topicName }) },
  };
}

describe('resolveTopicOwnership', () => {
  it('gives the topic to the oldest KafkaTopic; the others get ResourceConflict naming it', () => {
    const owners = resolveTopicOwnership([
      claimant('team', 'events-b', '2024-05-01T10:00:00Z', 'events'),
      claimant('team', 'events', '2024-05-01T09:00:00Z'),
      claimant('team', 'other', '2024-04-01T00:00:00Z'),
    ]);
    expect(owners.get('team/events')).toEqual({ owner: true });
    expect(owners.get('team/other')).toEqual({ owner: true });
    expect(owners.get('team/events-b')).toEqual({
      owner: false,
      ownedBy: { namespace: 'team', name: 'events' },
      problem: { reason: 'ResourceConflict', path: 'spec.topicName', message: expect.stringContaining('"events" is already managed by the older KafkaTopic team/events') as unknown },
    });
  });

  it('breaks equal creation times by namespace, then name; a missing timestamp counts as youngest', () => {
    const t = '2024-05-01T10:00:00Z';
    expect(resolveTopicOwnership([claimant('b', 'x', t, 'e'), claimant('a', 'z', t, 'e'), claimant('a', 'y', t, 'e')]).get('a/y')).toEqual({ owner: true });
    const owners = resolveTopicOwnership([claimant('a', 'a', undefined, 'e'), claimant('a', 'z', '2030-01-01T00:00:00Z', 'e')]);
    expect(owners.get('a/z')).toEqual({ owner: true });
    expect(owners.get('a/a')?.owner).toBe(false);
  });

  it('does not mix clusters or namespaces', () => {
    const owners = resolveTopicOwnership([
      claimant('a', 'x', '2024-01-01T00:00:00Z', 'e', 'orders'),
      claimant('a', 'y', '2024-01-02T00:00:00Z', 'e', 'payments'),
      claimant('b', 'x', '2024-01-03T00:00:00Z', 'e', 'orders'),
    ]);
    expect([...owners.values()].every((o) => o.owner)).toBe(true);
  });

  it('property: one owner per topic, the minimum of the order, whatever the input order', () => {
    const claimants = fc.uniqueArray(
      fc.record({
        namespace: fc.constantFrom('a', 'b'),
        name: fc.constantFrom('p', 'q', 'r', 's'),
        created: fc.option(fc.integer({ min: 0, max: 3 }).map((d) => `2024-01-0${d + 1}T00:00:00Z`), { nil: undefined }),
        topic: fc.constantFrom('e1', 'e2'),
      }),
      { selector: (c) => `${c.namespace}/${c.name}`, minLength: 1, maxLength: 8 },
    ).map((cs) => cs.map((c) => claimant(c.namespace, c.name, c.created, c.topic)));
    fc.assert(fc.property(claimants, (topics) => {
      const owners = resolveTopicOwnership(topics);
      const reversed = resolveTopicOwnership([...topics].reverse());
      expect([...reversed].sort()).toEqual([...owners].sort());
      expect(owners.size).toBe(topics.length);
      for (const group of Map.groupBy(topics, (t) => `${t.metadata.namespace}/${t.spec.topicName ?? ''}`).values()) {
        const winners = group.filter((t) => owners.get(`${t.metadata.namespace}/${t.metadata.name}`)?.owner === true);
        expect(winners).toHaveLength(1);
        expect(group.every((t) => compareClaimants(winners[0] as TopicClaimant, t) <= 0)).toBe(true);
      }
    }));
  });
});

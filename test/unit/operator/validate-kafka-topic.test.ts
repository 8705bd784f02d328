import { describe, expect, it } from 'vitest';
import type { KafkaTopic, KafkaTopicSpec } from '../../../operator/src/api/kafka-topic-types.ts';
import { validateKafkaTopic } from '../../../operator/src/api/validate-kafka-topic.ts';

function topic(spec: Partial<KafkaTopicSpec> = {}, labels: Record<string, string> = { 'kafka.millrace.dev/cluster': 'orders' }): KafkaTopic {
  return {
    apiVersion: 'kafka.millrace.dev/v1alpha1',
    kind: 'KafkaTopic',
    metadata: { name: 'order-events', namespace: 'streaming', uid: 'u', labels },
    spec: { partitions: 6, replicas: 3, config: { 'retention.ms': 86_400_000, 'cleanup.policy': 'compact' }, ...spec },
  };
}

describe('validateKafkaTopic', () => {
  it('accepts a topic with a cluster label and valid config', () => {
    expect(validateKafkaTopic(topic())).toEqual({ valid: true, problems: [] });
  });

  it('needs the cluster label', () => {
    expect(validateKafkaTopic(topic({}, {})).problems.map((p) => p.path)).toEqual(['metadata.labels["kafka.millrace.dev/cluster"]']);
  });

  it('refuses topic names Kafka refuses', () => {
    for (const name of ['.', '..', 'a/b', 'x'.repeat(250)]) {
      expect(validateKafkaTopic(topic({ topicName: name })).problems.map((p) => p.reason), name).toEqual(['InvalidName']);
    }
    expect(validateKafkaTopic(topic({ topicName: 'Orders_v1.events' })).valid).toBe(true);
  });

  it('refuses unknown topic config keys and bad values, with the broker\'s message', () => {
    const unknown = validateKafkaTopic(topic({ config: { 'retention.msx': 1 } }));
    expect(unknown.problems).toEqual([{ reason: 'InvalidConfigValue', path: 'spec.config', message: 'Unknown topic config name: retention.msx' }]);
    expect(validateKafkaTopic(topic({ config: { 'cleanup.policy': 'shred' } })).valid).toBe(false);
  });

  it('refuses non-positive partitions and replicas', () => {
    expect(validateKafkaTopic(topic({ partitions: 0, replicas: 0 })).problems.map((p) => p.path)).toEqual(['spec.partitions', 'spec.replicas']);
  });
});

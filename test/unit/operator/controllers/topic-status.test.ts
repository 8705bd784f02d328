import { describe, expect, it } from 'vitest';
import { ANNOTATION_PAUSE_RECONCILIATION, ANNOTATION_TOPIC_UNMANAGED, API_GROUP_VERSION, KIND_KAFKA_TOPIC, LABEL_CLUSTER } from '../../../../operator/src/api/constants.ts';
import type { KafkaTopic, KafkaTopicStatus } from '../../../../operator/src/api/kafka-topic-types.ts';
import {
  defaultBootstrapFor,
  deletionDecision,
  deletionGivenUp,
  managedTopicStatusEqual,
  pausedTopicStatus,
  planReadiness,
  TOPIC_FINALIZER,
  topicStatus,
  type DeletionInput,
} from '../../../../operator/src/controllers/topic-status.ts';
import { planTopic } from '../../../../operator/src/topic/plan.ts';
import { threeByThree } from '../fixtures.ts';

const T1 = '2026-01-01T00:00:00Z';
const T2 = '2026-01-01T00:05:00Z';

function topic(name: string, opts: { finalizers?: string[]; annotations?: Record<string, string>; topicName?: string; generation?: number; status?: KafkaTopicStatus } = {}): DeletionInput['topic'] {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: KIND_KAFKA_TOPIC,
    metadata: {
      name,
      namespace: 'streaming',
      uid: `${name}-uid`,
      generation: opts.generation ?? 1,
      labels: { [LABEL_CLUSTER]: 'orders' },
      ...(opts.annotations === undefined ? {} : { annotations: opts.annotations }),
      ...(opts.finalizers === undefined ? {} : { finalizers: opts.finalizers }),
    },
    spec: { partitions: 3, replicas: 1, ...(opts.topicName === undefined ? {} : { topicName: opts.topicName }) },
    ...(opts.status === undefined ? {} : { status: opts.status }),
  };
}

const cluster = threeByThree();

describe('defaultBootstrapFor', () => {
  it("reads the first listener's bootstrap servers from the cluster status", () => {
    expect(defaultBootstrapFor(cluster)).toBeNull();
    expect(defaultBootstrapFor({ ...cluster, status: { listeners: [] } })).toBeNull();
    expect(defaultBootstrapFor({ ...cluster, status: { listeners: [{ name: 'plain', bootstrapServers: 'a:9092, b:9092' }, { name: 'x', bootstrapServers: 'c:1' }] } })).toEqual(['a:9092', 'b:9092']);
  });
});

describe('deletionDecision', () => {
  const base = (t: DeletionInput['topic'], over: Partial<DeletionInput> = {}): DeletionInput => ({ topic: t, cluster, bootstrap: ['b:9092'], otherClaimants: [], validName: true, ...over });

  it('does nothing without our finalizer', () => {
    expect(deletionDecision(base(topic('t')))).toEqual({ action: 'none' });
    expect(deletionDecision(base(topic('t', { finalizers: ['someone.else/x'] })))).toEqual({ action: 'none' });
  });

  it('deletes the Kafka topic (by its effective name) when managed', () => {
    expect(deletionDecision(base(topic('t', { finalizers: [TOPIC_FINALIZER] })))).toEqual({ action: 'delete-topic', topicName: 't', bootstrap: ['b:9092'] });
    expect(deletionDecision(base(topic('t', { finalizers: [TOPIC_FINALIZER], topicName: 'Real.Name' })))).toMatchObject({ action: 'delete-topic', topicName: 'Real.Name' });
    expect(deletionDecision(base(topic('t', { finalizers: [TOPIC_FINALIZER] }), { bootstrap: null }))).toEqual({ action: 'delete-topic', topicName: 't', bootstrap: null });
  });

  it('releases without deleting: unmanaged, paused, invalid name, another live claimant (no warning)', () => {
    const f = [TOPIC_FINALIZER];
    expect(deletionDecision(base(topic('t', { finalizers: f, annotations: { [ANNOTATION_TOPIC_UNMANAGED]: 'true' } })))).toMatchObject({ action: 'release', warning: false, message: expect.stringContaining('unmanaged') as unknown });
    expect(deletionDecision(base(topic('t', { finalizers: f, annotations: { [ANNOTATION_PAUSE_RECONCILIATION]: 'TRUE' } })))).toMatchObject({ action: 'release', warning: false });
    expect(deletionDecision(base(topic('t', { finalizers: f }), { validName: false }))).toMatchObject({ action: 'release', warning: false });
    expect(deletionDecision(base(topic('t', { finalizers: f }), { otherClaimants: [topic('other')] }))).toMatchObject({ action: 'release', warning: false, message: expect.stringContaining('streaming/other still declares it') as unknown });
  });

  it('releases with a warning when the cluster is gone or going', () => {
    const t = topic('t', { finalizers: [TOPIC_FINALIZER] });
    expect(deletionDecision(base(t, { cluster: undefined }))).toMatchObject({ action: 'release', warning: true, message: expect.stringContaining('does not exist') as unknown });
    expect(deletionDecision(base(t, { cluster: { ...cluster, metadata: { ...cluster.metadata, deletionTimestamp: T1 } } }))).toMatchObject({ action: 'release', warning: true });
  });

  it('gives up after the timeout, measured from the deletion timestamp', () => {
    const start = Date.parse(T1);
    expect(deletionGivenUp(undefined, start + 1e9, 1000)).toBe(false);
    expect(deletionGivenUp(T1, start + 999, 1000)).toBe(false);
    expect(deletionGivenUp(T1, start + 1000, 1000)).toBe(true);
    expect(deletionGivenUp('garbage', start, 1000)).toBe(true);
  });
});

describe('planReadiness and status', () => {
  const spec = { partitions: 3, replicas: 1, config: { 'retention.ms': 1000 } };

  it('Ready when the plan has no problems and nothing failed', () => {
    const r = planReadiness('t', planTopic('t', spec, null), undefined, spec);
    expect(r).toEqual({ ready: true, message: 'Kafka topic "t" has 3 partition(s), replication factor 1 and the 1 config override(s) of the spec' });
  });

  it('NotSupported for a decrease, the Kafka error name for a failure (which wins)', () => {
    const decrease = planTopic('t', spec, { partitions: 5, replicationFactor: 1, overrides: { 'retention.ms': '1000' } });
    expect(planReadiness('t', decrease, undefined, spec)).toMatchObject({ ready: false, reason: 'NotSupported', message: expect.stringMatching(/^spec\.partitions: topic "t" has 5 partitions/) as unknown });
    expect(planReadiness('t', decrease, { errorName: 'POLICY_VIOLATION', message: 'IncrementalAlterConfigs failed: POLICY_VIOLATION' }, spec)).toEqual({ ready: false, reason: 'PolicyViolation', message: 'IncrementalAlterConfigs failed: POLICY_VIOLATION' });
  });

  it('status: observedGeneration, topicName, topicId (kept when unknown, dropped on null)', () => {
    const t = topic('t', { generation: 3, topicName: 'real' });
    const s1 = topicStatus(t, { ready: true, message: 'ok' }, 'ID1', T1);
    expect(s1).toEqual({ conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'ok', lastTransitionTime: T1, observedGeneration: 3 }], observedGeneration: 3, topicName: 'real', topicId: 'ID1' });
    const withS1 = { ...t, status: s1 as KafkaTopicStatus };
    expect(topicStatus(withS1, { ready: true, message: 'ok' }, undefined, T2)).toEqual(s1);
    expect(managedTopicStatusEqual(withS1.status, topicStatus(withS1, { ready: true, message: 'ok' }, undefined, T2))).toBe(true);
    expect(topicStatus(withS1, { ready: false, reason: 'ResourceConflict', message: 'm' }, null, T2).topicId).toBeUndefined();
  });

  it('paused: ReconciliationPaused only, the rest kept', () => {
    const t = topic('t', { status: { observedGeneration: 1, topicName: 't', topicId: 'X', conditions: [] } });
    const s = pausedTopicStatus(t, T1);
    expect(s).toMatchObject({ observedGeneration: 1, topicName: 't', topicId: 'X' });
    expect(s.conditions.map((c) => c.type)).toEqual(['ReconciliationPaused']);
    expect(managedTopicStatusEqual(s as KafkaTopicStatus, pausedTopicStatus({ ...t, status: s }, T2))).toBe(true);
  });

  it('equality ignores nothing the controller owns', () => {
    const t: KafkaTopic = topic('t');
    const s = topicStatus(t, { ready: true, message: 'ok' }, 'ID', T1);
    expect(managedTopicStatusEqual(undefined, s)).toBe(false);
    expect(managedTopicStatusEqual({ ...s, topicId: 'other' }, s)).toBe(false);
    expect(managedTopicStatusEqual({ ...s, observedGeneration: 2 }, s)).toBe(false);
  });
});

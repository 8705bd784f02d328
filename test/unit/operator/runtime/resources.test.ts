import { describe, expect, it } from 'vitest';
import { FakeClock, formatTime, sleep } from '../../../../operator/src/runtime/clock.ts';
import { keyOf, objectKey, parseKey } from '../../../../operator/src/runtime/objects.ts';
import { BUILTIN_RESOURCES, describeResource, Resources, resourcePath, ResourceTable } from '../../../../operator/src/runtime/resources.ts';
import { KAFKA_CLUSTER_CRD_NAME } from '../../../../operator/src/api/kafka-cluster-schema.ts';
import { KAFKA_TOPIC_CRD_NAME } from '../../../../operator/src/api/kafka-topic-schema.ts';

describe('resourcePath', () => {
  it('builds core, grouped, namespaced, all-namespace, cluster-scoped and subresource paths', () => {
    expect(resourcePath(Resources.Pod, 'ns', 'p')).toBe('/api/v1/namespaces/ns/pods/p');
    expect(resourcePath(Resources.Pod)).toBe('/api/v1/pods');
    expect(resourcePath(Resources.StatefulSet, 'ns')).toBe('/apis/apps/v1/namespaces/ns/statefulsets');
    expect(resourcePath(Resources.PodDisruptionBudget, 'ns', 'x')).toBe('/apis/policy/v1/namespaces/ns/poddisruptionbudgets/x');
    expect(resourcePath(Resources.Lease, 'ns', 'l')).toBe('/apis/coordination.k8s.io/v1/namespaces/ns/leases/l');
    expect(resourcePath(Resources.KafkaCluster, 'ns', 'orders', 'status')).toBe('/apis/kafka.millrace.dev/v1alpha1/namespaces/ns/kafkaclusters/orders/status');
    expect(resourcePath(Resources.Node, undefined, 'n1')).toBe('/api/v1/nodes/n1');
    expect(resourcePath(Resources.ConfigMap, 'ns', 'a b')).toBe('/api/v1/namespaces/ns/configmaps/a%20b');
  });

  it('refuses paths the API server has no route for, naming the problem', () => {
    expect(() => resourcePath(Resources.Node, 'ns', 'n1')).toThrow(/Node is cluster-scoped/);
    expect(() => resourcePath(Resources.Pod, undefined, 'p')).toThrow(/Pod "p" is namespaced; a namespace is required/);
    expect(() => resourcePath(Resources.Pod, 'ns', undefined, 'status')).toThrow(/needs an object name/);
  });

  it("uses the CRDs' own plural names for our kinds", () => {
    expect(`${Resources.KafkaCluster.plural}.${Resources.KafkaCluster.group}`).toBe(KAFKA_CLUSTER_CRD_NAME);
    expect(`${Resources.KafkaTopic.plural}.${Resources.KafkaTopic.group}`).toBe(KAFKA_TOPIC_CRD_NAME);
  });
});

describe('ResourceTable', () => {
  it('finds built-in types by apiVersion and kind and names unknown ones', () => {
    const table = new ResourceTable();
    for (const r of BUILTIN_RESOURCES) expect(table.lookup(r.group === '' ? r.version : `${r.group}/${r.version}`, r.kind)).toBe(r);
    expect(() => table.lookup('apps/v1', 'Deployment')).toThrow(/unknown resource type Deployment in apps\/v1/);
    expect(() => table.lookup(undefined, 'Pod')).toThrow(/no apiVersion/);
    expect(describeResource(Resources.StatefulSet)).toBe('StatefulSet.apps');
  });
});

describe('object keys', () => {
  it('round-trips namespaced and cluster-scoped keys', () => {
    expect(keyOf('ns', 'a')).toBe('ns/a');
    expect(keyOf(undefined, 'n1')).toBe('n1');
    expect(parseKey('ns/a')).toEqual({ namespace: 'ns', name: 'a' });
    expect(parseKey('n1')).toEqual({ namespace: undefined, name: 'n1' });
    expect(objectKey({ metadata: { name: 'a', namespace: 'ns' } })).toBe('ns/a');
    expect(() => objectKey({ kind: 'Pod', metadata: {} })).toThrow(/Pod has no metadata.name/);
    for (const bad of ['/a', 'a/', 'a/b/c']) expect(() => parseKey(bad)).toThrow(/invalid object key/);
  });
});

describe('clock helpers', () => {
  it('sleep resolves after the delay on the given clock, or at once on abort', async () => {
    const clock = new FakeClock();
    let woke = false;
    const s = sleep(clock, 1000).then(() => (woke = true));
    await clock.advanceAsync(999);
    expect(woke).toBe(false);
    await clock.advanceAsync(1);
    await s;
    expect(woke).toBe(true);
    const abort = new AbortController();
    const early = sleep(clock, 1000, abort.signal);
    abort.abort();
    await early;
    expect(clock.pendingTimers()).toBe(0);
  });

  it('formats metav1.Time to the second', () => {
    expect(formatTime(Date.UTC(2025, 0, 2, 3, 4, 5, 678))).toBe('2025-01-02T03:04:05Z');
  });
});

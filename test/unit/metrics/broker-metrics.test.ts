import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BrokerMetrics, PROTOCOL_ERROR_REASONS_MAX, TOPIC_SERIES_MAX_DEFAULT,
  type BrokerMetricsOptions, type BrokerMetricsSnapshot,
} from '../../../broker/src/metrics/broker-metrics.ts';
import { metricNames, sample, samples } from './prometheus-text.ts';

interface LogLine { level: 'warn' | 'error'; fields: object; message: string }

function newMetrics(options: Partial<BrokerMetricsOptions> = {}): { metrics: BrokerMetrics; logs: LogLine[] } {
  const logs: LogLine[] = [];
  const logger = {
    warn: (fields: object, message: string) => { logs.push({ level: 'warn', fields, message }); },
    error: (fields: object, message: string) => { logs.push({ level: 'error', fields, message }); },
  };
  return { metrics: new BrokerMetrics({ logger, processMetrics: false, ...options }), logs };
}

const snapshot = (over: Partial<BrokerMetricsSnapshot> = {}): BrokerMetricsSnapshot => ({
  partitionCount: 0, leaderCount: 0, underReplicatedPartitions: 0, underMinIsrPartitions: 0, offlinePartitions: 0,
  activeControllerCount: 0, globalTopicCount: 0, groups: [], logSizes: [], ...over,
});

describe('BrokerMetrics requests', () => {
  it('counts requests per API name and version, with latency in seconds and sizes per API', async () => {
    const { metrics } = newMetrics();
    metrics.onRequest(0, 9, 1000, 80, 12);
    metrics.onRequest(0, 9, 3000, 80, 8);
    metrics.onRequest(0, 7, 500, 80, 1);
    metrics.onRequest(1, 12, 100, 70_000, 500);
    const text = await metrics.registry.metrics();
    expect(sample(text, 'millrace_requests_total', { api: 'Produce', version: '9' })).toBe(2);
    expect(sample(text, 'millrace_requests_total', { api: 'Produce', version: '7' })).toBe(1);
    expect(sample(text, 'millrace_requests_total', { api: 'Fetch', version: '12' })).toBe(1);
    expect(sample(text, 'millrace_request_duration_seconds_sum', { api: 'Produce', version: '9' })).toBeCloseTo(0.02, 9);
    expect(sample(text, 'millrace_request_duration_seconds_count', { api: 'Fetch', version: '12' })).toBe(1);
    // 0.5 s falls in the 0.5 bucket, not the 0.25 one.
    expect(sample(text, 'millrace_request_duration_seconds_bucket', { api: 'Fetch', version: '12', le: '0.25' })).toBe(0);
    expect(sample(text, 'millrace_request_duration_seconds_bucket', { api: 'Fetch', version: '12', le: '0.5' })).toBe(1);
    expect(sample(text, 'millrace_request_size_bytes_sum', { api: 'Produce' })).toBe(4500);
    expect(sample(text, 'millrace_response_size_bytes_sum', { api: 'Fetch' })).toBe(70_000);
  });

  it('labels API keys and versions outside the API table as unknown, so labels stay bounded', async () => {
    const { metrics } = newMetrics();
    metrics.onRequest(9999, 1, 10, 10, 1);
    metrics.onRequest(0, 9999, 10, 10, 1);
    const text = await metrics.registry.metrics();
    expect(sample(text, 'millrace_requests_total', { api: 'unknown', version: 'unknown' })).toBe(1);
    expect(sample(text, 'millrace_requests_total', { api: 'Produce', version: 'unknown' })).toBe(1);
    expect(samples(text, 'millrace_requests_total')).toHaveLength(2);
  });

  it('does not observe a response size for requests without a response (acks=0)', async () => {
    const { metrics } = newMetrics();
    metrics.onRequest(0, 9, 100, 0, 1);
    const text = await metrics.registry.metrics();
    expect(sample(text, 'millrace_requests_total', { api: 'Produce', version: '9' })).toBe(1);
    expect(sample(text, 'millrace_response_size_bytes_count', { api: 'Produce' })).toBeUndefined();
  });

  it('drops negative and non-finite values with one warning instead of throwing', async () => {
    const { metrics, logs } = newMetrics();
    expect(() => {
      metrics.onRequest(0, 9, -1, 10, Number.NaN);
      metrics.onRequest(0, 9, -1, 10, Number.NaN);
      metrics.recordProduce('t', -5, Number.POSITIVE_INFINITY);
      metrics.recordFetch('t', -1);
      metrics.recordLogFlush(Number.NaN);
    }).not.toThrow();
    const text = await metrics.registry.metrics();
    expect(sample(text, 'millrace_requests_total', { api: 'Produce', version: '9' })).toBe(2);
    expect(sample(text, 'millrace_request_size_bytes_count', { api: 'Produce' })).toBeUndefined();
    expect(sample(text, 'millrace_messages_in_total')).toBe(0);
    expect(sample(text, 'millrace_bytes_out_total')).toBe(0);
    // One warning per kind of bad value, not one per call.
    const warned = logs.filter((l) => l.level === 'warn').map((l) => (l.fields as { name: string }).name);
    expect(warned.sort()).toEqual(['bytes', 'durationMs', 'latencyMs', 'messages', 'requestBytes']);
  });
});

describe('BrokerMetrics network', () => {
  it('tracks open connections and counts opens and closes', async () => {
    const { metrics } = newMetrics();
    metrics.onConnection(true);
    metrics.onConnection(true);
    metrics.onConnection(true);
    metrics.onConnection(false);
    const text = await metrics.registry.metrics();
    expect(sample(text, 'millrace_connections')).toBe(2);
    expect(sample(text, 'millrace_connections_created_total')).toBe(3);
    expect(sample(text, 'millrace_connections_closed_total')).toBe(1);
  });

  it('counts protocol errors by reason, folding reasons past the cap into "other"', async () => {
    const { metrics } = newMetrics();
    metrics.onProtocolError('frame size');
    metrics.onProtocolError('frame size');
    for (let i = 0; i < PROTOCOL_ERROR_REASONS_MAX + 5; i++) metrics.onProtocolError(`reason ${i}`);
    const text = await metrics.registry.metrics();
    expect(sample(text, 'millrace_protocol_errors_total', { reason: 'frame size' })).toBe(2);
    expect(sample(text, 'millrace_protocol_errors_total', { reason: 'reason 0' })).toBe(1);
    const series = samples(text, 'millrace_protocol_errors_total');
    expect(series).toHaveLength(PROTOCOL_ERROR_REASONS_MAX + 1);
    // 'frame size' took one slot, so 31 numbered reasons got their own; the other 6 are 'other'.
    expect(sample(text, 'millrace_protocol_errors_total', { reason: 'other' })).toBe(6);
    expect(series.reduce((sum, s) => sum + s.value, 0)).toBe(2 + PROTOCOL_ERROR_REASONS_MAX + 5);
  });
});

describe('BrokerMetrics topics', () => {
  it('records messages and bytes in, bytes out and failures per topic and in total', async () => {
    const { metrics } = newMetrics();
    metrics.recordProduce('orders', 10, 1000);
    metrics.recordProduce('orders', 5, 500);
    metrics.recordProduce('payments', 1, 64);
    metrics.recordFetch('orders', 4096);
    metrics.recordFailedProduce('payments');
    metrics.recordFailedFetch('orders');
    metrics.recordFailedFetch('orders');
    const text = await metrics.registry.metrics();
    expect(sample(text, 'millrace_topic_messages_in_total', { topic: 'orders' })).toBe(15);
    expect(sample(text, 'millrace_topic_bytes_in_total', { topic: 'orders' })).toBe(1500);
    expect(sample(text, 'millrace_topic_bytes_in_total', { topic: 'payments' })).toBe(64);
    expect(sample(text, 'millrace_messages_in_total')).toBe(16);
    expect(sample(text, 'millrace_bytes_in_total')).toBe(1564);
    expect(sample(text, 'millrace_topic_bytes_out_total', { topic: 'orders' })).toBe(4096);
    expect(sample(text, 'millrace_bytes_out_total')).toBe(4096);
    expect(sample(text, 'millrace_topic_failed_produce_requests_total', { topic: 'payments' })).toBe(1);
    expect(sample(text, 'millrace_failed_produce_requests_total')).toBe(1);
    expect(sample(text, 'millrace_topic_failed_fetch_requests_total', { topic: 'orders' })).toBe(2);
    expect(sample(text, 'millrace_failed_fetch_requests_total')).toBe(2);
  });

  it('stops adding per-topic series at the cap, keeps totals exact, and warns once', async () => {
    const { metrics, logs } = newMetrics({ topicSeriesMax: 3 });
    for (let i = 0; i < 10; i++) metrics.recordProduce(`topic-${i}`, 1, 100);
    metrics.recordProduce('topic-0', 1, 100); // an already tracked topic keeps counting
    metrics.recordFetch('topic-9', 50);
    const text = await metrics.registry.metrics();
    expect(samples(text, 'millrace_topic_messages_in_total').map((s) => s.labels.topic)).toEqual(['topic-0', 'topic-1', 'topic-2']);
    expect(sample(text, 'millrace_topic_messages_in_total', { topic: 'topic-0' })).toBe(2);
    expect(samples(text, 'millrace_topic_bytes_out_total')).toHaveLength(0);
    expect(sample(text, 'millrace_messages_in_total')).toBe(11);
    expect(sample(text, 'millrace_bytes_in_total')).toBe(1100);
    expect(sample(text, 'millrace_bytes_out_total')).toBe(50);
    expect(sample(text, 'millrace_topic_series_overflow_total')).toBe(8);
    expect(metrics.trackedTopicCount).toBe(3);
    const warnings = logs.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.fields).toMatchObject({ topicSeriesMax: 3, topic: 'topic-3' });
  });

  it('has a default cap of 1000 topics', async () => {
    const { metrics, logs } = newMetrics();
    for (let i = 0; i < TOPIC_SERIES_MAX_DEFAULT + 20; i++) metrics.recordProduce(`t${i}`, 1, 1);
    const text = await metrics.registry.metrics();
    expect(TOPIC_SERIES_MAX_DEFAULT).toBe(1000);
    expect(samples(text, 'millrace_topic_messages_in_total')).toHaveLength(1000);
    expect(sample(text, 'millrace_messages_in_total')).toBe(1020);
    expect(logs).toHaveLength(1);
  });

  it('removeTopic drops the topic series and frees its slot under the cap', async () => {
    const { metrics } = newMetrics({ topicSeriesMax: 2 });
    metrics.recordProduce('a', 1, 1);
    metrics.recordFetch('b', 1);
    metrics.recordFailedFetch('b');
    metrics.recordProduce('c', 1, 1); // over the cap
    metrics.removeTopic('b');
    metrics.recordProduce('c', 1, 1); // now fits
    const text = await metrics.registry.metrics();
    expect(samples(text, 'millrace_topic_bytes_out_total')).toHaveLength(0);
    expect(samples(text, 'millrace_topic_failed_fetch_requests_total')).toHaveLength(0);
    expect(samples(text, 'millrace_topic_messages_in_total').map((s) => s.labels.topic)).toEqual(['a', 'c']);
    expect(sample(text, 'millrace_topic_messages_in_total', { topic: 'c' })).toBe(1);
    expect(sample(text, 'millrace_bytes_out_total')).toBe(1);
  });

  it('rejects a cap that is not a positive integer', () => {
    expect(() => newMetrics({ topicSeriesMax: 0 })).toThrow(/topicSeriesMax/);
    expect(() => newMetrics({ partitionSeriesMax: 1.5 })).toThrow(/partitionSeriesMax/);
  });
});

describe('BrokerMetrics state gauges', () => {
  it('reads the source once per scrape and reports its counts', async () => {
    let calls = 0;
    const { metrics } = newMetrics({
      source: {
        collect: () => {
          calls++;
          return snapshot({
            partitionCount: 12, leaderCount: 5, underReplicatedPartitions: 2, underMinIsrPartitions: 1, offlinePartitions: 3,
            activeControllerCount: 1, globalTopicCount: 4,
            groups: [{ protocol: 'classic', state: 'Stable', count: 2 }, { protocol: 'classic', state: 'Stable', count: 1 }, { protocol: 'consumer', state: 'Reconciling', count: 7 }],
            logSizes: [{ topic: 'orders', partition: 0, sizeBytes: 1024 }, { topic: 'orders', partition: 1, sizeBytes: 0 }],
          });
        },
      },
    });
    const text = await metrics.registry.metrics();
    expect(calls).toBe(1);
    expect(sample(text, 'millrace_partitions')).toBe(12);
    expect(sample(text, 'millrace_leaders')).toBe(5);
    expect(sample(text, 'millrace_under_replicated_partitions')).toBe(2);
    expect(sample(text, 'millrace_under_min_isr_partitions')).toBe(1);
    expect(sample(text, 'millrace_offline_partitions')).toBe(3);
    expect(sample(text, 'millrace_active_controllers')).toBe(1);
    expect(sample(text, 'millrace_topics')).toBe(4);
    expect(sample(text, 'millrace_groups', { protocol: 'classic', state: 'Stable' })).toBe(3);
    expect(sample(text, 'millrace_groups', { protocol: 'consumer', state: 'Reconciling' })).toBe(7);
    // Every known (protocol, state) pair is reported, zeros included; none that a protocol does not have.
    expect(sample(text, 'millrace_groups', { protocol: 'classic', state: 'Empty' })).toBe(0);
    expect(sample(text, 'millrace_groups', { protocol: 'classic', state: 'Assigning' })).toBeUndefined();
    expect(samples(text, 'millrace_groups')).toHaveLength(10);
    expect(sample(text, 'millrace_log_size_bytes', { topic: 'orders', partition: '0' })).toBe(1024);
    expect(sample(text, 'millrace_log_size_bytes', { topic: 'orders', partition: '1' })).toBe(0);
    await metrics.registry.metrics();
    expect(calls).toBe(2);
  });

  it('follows the source between scrapes: values change, deleted partitions disappear', async () => {
    let current = snapshot({ leaderCount: 2, logSizes: [{ topic: 'a', partition: 0, sizeBytes: 1 }, { topic: 'b', partition: 0, sizeBytes: 2 }] });
    const { metrics } = newMetrics({ source: { collect: () => current } });
    expect(sample(await metrics.registry.metrics(), 'millrace_leaders')).toBe(2);
    current = snapshot({ leaderCount: 1, logSizes: [{ topic: 'a', partition: 0, sizeBytes: 10 }] });
    const text = await metrics.registry.metrics();
    expect(sample(text, 'millrace_leaders')).toBe(1);
    expect(samples(text, 'millrace_log_size_bytes')).toEqual([{ labels: { topic: 'a', partition: '0' }, value: 10 }]);
  });

  it('reads 0 without a source, and uses a source set later', async () => {
    const { metrics } = newMetrics();
    let text = await metrics.registry.metrics();
    expect(sample(text, 'millrace_partitions')).toBe(0);
    expect(samples(text, 'millrace_log_size_bytes')).toHaveLength(0);
    metrics.setSource({ collect: () => snapshot({ partitionCount: 7 }) });
    text = await metrics.registry.metrics();
    expect(sample(text, 'millrace_partitions')).toBe(7);
  });

  it('keeps serving when the source throws: logs the error, gauges keep their last values', async () => {
    let fail = false;
    const { metrics, logs } = newMetrics({ source: { collect: () => { if (fail) throw new Error('boom'); return snapshot({ leaderCount: 4 }); } } });
    expect(sample(await metrics.registry.metrics(), 'millrace_leaders')).toBe(4);
    fail = true;
    metrics.onRequest(18, 3, 10, 10, 1);
    const text = await metrics.registry.metrics();
    expect(sample(text, 'millrace_leaders')).toBe(4);
    expect(sample(text, 'millrace_requests_total', { api: 'ApiVersions', version: '3' })).toBe(1);
    // One error per scrape, not one per gauge.
    expect(logs.filter((l) => l.level === 'error')).toHaveLength(1);
  });

  it('caps log size series per scrape and warns once', async () => {
    const logSizes = Array.from({ length: 10 }, (_, partition) => ({ topic: 't', partition, sizeBytes: partition }));
    const { metrics, logs } = newMetrics({ partitionSeriesMax: 4, source: { collect: () => snapshot({ logSizes }) } });
    expect(samples(await metrics.registry.metrics(), 'millrace_log_size_bytes')).toHaveLength(4);
    expect(samples(await metrics.registry.metrics(), 'millrace_log_size_bytes')).toHaveLength(4);
    expect(logs.filter((l) => l.level === 'warn')).toHaveLength(1);
  });
});

describe('BrokerMetrics registry', () => {
  it('gives each instance its own registry, so several brokers can share a process', async () => {
    const a = newMetrics().metrics;
    const b = newMetrics().metrics;
    a.recordProduce('t', 1, 1);
    expect(sample(await a.registry.metrics(), 'millrace_messages_in_total')).toBe(1);
    expect(sample(await b.registry.metrics(), 'millrace_messages_in_total')).toBe(0);
  });

  it('registers the default process metrics in its own registry unless turned off', async () => {
    const on = new BrokerMetrics({ logger: { warn: () => undefined, error: () => undefined } });
    const names = metricNames(await on.registry.metrics());
    expect(names).toContain('process_cpu_user_seconds_total');
    expect(names).toContain('nodejs_eventloop_lag_seconds');
    expect(metricNames(await newMetrics().metrics.registry.metrics()).filter((n) => !n.startsWith('millrace_'))).toEqual([]);
  });

  it('names a Kafka JMX metric (or says there is none) in every help text', () => {
    const { metrics } = newMetrics();
    const helps = metrics.registry.getMetricsAsArray().map((m) => ({ name: m.name, help: m.help }));
    expect(helps.length).toBeGreaterThan(20);
    for (const { name, help } of helps) {
      expect(name, name).toMatch(/^millrace_[a-z_]+$/);
      expect(help, name).toMatch(/Kafka: kafka\.[a-z.]+:type=|Kafka has no|No Kafka equivalent/);
    }
  });

  it('lists exactly the registered metrics in the metrics README', () => {
    const { metrics } = newMetrics();
    const readme = readFileSync(new URL('../../../broker/src/metrics/README.md', import.meta.url), 'utf8');
    const documented = [...readme.matchAll(/^\| `(millrace_[a-z_]+)` \| (\w+) \|/gm)].map((m) => `${m[1]} ${m[2]}`);
    const registered = metrics.registry.getMetricsAsArray().map((m) => `${m.name} ${m.type}`);
    expect(documented.sort()).toEqual(registered.sort());
  });
});

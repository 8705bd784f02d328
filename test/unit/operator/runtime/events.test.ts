import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../../operator/src/runtime/clock.ts';
import { KubeEventRecorder, type CoreEvent, type EventSink } from '../../../../operator/src/runtime/events.ts';
import { KubeApiError } from '../../../../operator/src/runtime/kube-api.ts';
import type { KubeObject } from '../../../../operator/src/runtime/objects.ts';

type Call = { op: 'create'; event: CoreEvent } | { op: 'patch'; namespace: string; name: string; count: number; lastTimestamp: string };

/** Records calls; each call waits for release() when gated, so tests can hold writes in flight. */
class FakeSink implements EventSink {
  readonly calls: Call[] = [];
  gated = false;
  private gates: (() => void)[] = [];
  failCreate: Error | undefined;
  failPatch: Error | undefined;

  async create(event: CoreEvent): Promise<void> {
    this.calls.push({ op: 'create', event });
    await this.gate();
    if (this.failCreate !== undefined) throw this.failCreate;
  }

  async patchCount(namespace: string, name: string, count: number, lastTimestamp: string): Promise<void> {
    this.calls.push({ op: 'patch', namespace, name, count, lastTimestamp });
    await this.gate();
    if (this.failPatch !== undefined) {
      const e = this.failPatch;
      this.failPatch = undefined;
      throw e;
    }
  }

  release(): void {
    for (const g of this.gates.splice(0)) g();
  }

  private gate(): Promise<void> {
    return this.gated ? new Promise((r) => this.gates.push(r)) : Promise.resolve();
  }
}

const cluster: KubeObject = { apiVersion: 'kafka.millrace.dev/v1alpha1', kind: 'KafkaCluster', metadata: { name: 'orders', namespace: 'streaming', uid: 'u1', resourceVersion: '7' } };

function setup(options: { cacheSizeMax?: number } = {}) {
  const sink = new FakeSink();
  const clock = new FakeClock(Date.UTC(2025, 0, 1, 12, 0, 0));
  const logs: { msg: string }[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => logs.push(JSON.parse(line) as { msg: string }) });
  const recorder = new KubeEventRecorder({ sink, clock, logger, host: 'node-a', ...options });
  return { sink, clock, logs, recorder };
}

describe('KubeEventRecorder', () => {
  it('creates a core/v1 Event about the object, with count 1', async () => {
    const { sink, recorder } = setup();
    recorder.event(cluster, 'Normal', 'RollingRestart', 'Restarting pod orders-brokers-100: config changed');
    await recorder.flush();
    expect(sink.calls).toHaveLength(1);
    const call = sink.calls[0];
    if (call?.op !== 'create') throw new Error('expected a create');
    expect(call.event).toMatchObject({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { namespace: 'streaming' },
      involvedObject: { apiVersion: 'kafka.millrace.dev/v1alpha1', kind: 'KafkaCluster', name: 'orders', namespace: 'streaming', uid: 'u1', resourceVersion: '7' },
      type: 'Normal',
      reason: 'RollingRestart',
      message: 'Restarting pod orders-brokers-100: config changed',
      count: 1,
      firstTimestamp: '2025-01-01T12:00:00Z',
      lastTimestamp: '2025-01-01T12:00:00Z',
      source: { component: 'millrace-operator', host: 'node-a' },
    });
    expect(call.event.metadata.name).toMatch(/^orders\.[0-9a-f]+$/);
  });

  it('aggregates identical repeats into one Event by patching count and lastTimestamp', async () => {
    const { sink, clock, recorder } = setup();
    recorder.event(cluster, 'Warning', 'ScaleDownBlocked', 'broker 102 still holds replicas');
    await recorder.flush();
    clock.advance(60_000);
    recorder.event(cluster, 'Warning', 'ScaleDownBlocked', 'broker 102 still holds replicas');
    await recorder.flush();
    const [create, patch] = sink.calls;
    if (create?.op !== 'create' || patch?.op !== 'patch') throw new Error(`unexpected calls ${JSON.stringify(sink.calls)}`);
    expect(patch).toEqual({ op: 'patch', namespace: 'streaming', name: create.event.metadata.name, count: 2, lastTimestamp: '2025-01-01T12:01:00Z' });
  });

  it('keeps events that differ in type, reason, message or object apart', async () => {
    const { sink, recorder } = setup();
    recorder.event(cluster, 'Normal', 'A', 'm');
    recorder.event(cluster, 'Warning', 'A', 'm');
    recorder.event(cluster, 'Normal', 'B', 'm');
    recorder.event(cluster, 'Normal', 'A', 'other message');
    recorder.event({ ...cluster, metadata: { ...cluster.metadata, name: 'payments', uid: 'u2' } }, 'Normal', 'A', 'm');
    // A new resourceVersion of the same object is the same event.
    recorder.event({ ...cluster, metadata: { ...cluster.metadata, resourceVersion: '8' } }, 'Normal', 'A', 'm');
    await recorder.flush();
    expect(sink.calls.map((c) => c.op)).toEqual(['create', 'create', 'create', 'create', 'create', 'patch']);
  });

  it('coalesces repeats while a write is in flight into one follow-up with the latest count', async () => {
    const { sink, recorder } = setup();
    sink.gated = true;
    recorder.event(cluster, 'Normal', 'Burst', 'x');
    for (let i = 0; i < 50; i++) recorder.event(cluster, 'Normal', 'Burst', 'x');
    await Promise.resolve();
    expect(sink.calls).toHaveLength(1); // only the create is in flight
    sink.gated = false;
    sink.release();
    await recorder.flush();
    expect(sink.calls.map((c) => (c.op === 'patch' ? `patch:${c.count}` : 'create'))).toEqual(['create', 'patch:51']);
  });

  it('starts a new Event when the old one has expired on the server (404 on patch), keeping the count', async () => {
    const { sink, recorder } = setup();
    recorder.event(cluster, 'Normal', 'R', 'm');
    await recorder.flush();
    sink.failPatch = new KubeApiError('PATCH', '/api/v1/namespaces/streaming/events/x', 404, { reason: 'NotFound', message: 'not found' });
    recorder.event(cluster, 'Normal', 'R', 'm');
    await recorder.flush();
    const last = sink.calls.at(-1);
    const first = sink.calls[0];
    if (last?.op !== 'create' || first?.op !== 'create') throw new Error('expected a re-create');
    expect(last.event.count).toBe(2);
    expect(last.event.metadata.name).not.toBe(first.event.metadata.name);
  });

  it('never throws into the caller; failures are logged with the cause', async () => {
    const { sink, logs, recorder } = setup();
    sink.failCreate = new KubeApiError('POST', '/api/v1/namespaces/streaming/events', 403, { reason: 'Forbidden', message: 'events is forbidden: User cannot create' });
    expect(() => recorder.event(cluster, 'Warning', 'R', 'm')).not.toThrow();
    await recorder.flush();
    expect(logs.map((l) => l.msg)).toEqual([expect.stringMatching(/Could not record Warning event R for KafkaCluster streaming\/orders: .*403 Forbidden: events is forbidden/)]);
    // An object without a name cannot be referenced: logged, not thrown.
    expect(() => recorder.event({ metadata: {} }, 'Normal', 'R', 'm')).not.toThrow();
    expect(logs.at(-1)?.msg).toMatch(/no metadata.name/);
  });

  it('bounds the correlation cache (LRU): an evicted event starts a new Event', async () => {
    const { sink, recorder } = setup({ cacheSizeMax: 2 });
    recorder.event(cluster, 'Normal', 'A', 'm');
    recorder.event(cluster, 'Normal', 'B', 'm');
    recorder.event(cluster, 'Normal', 'A', 'm'); // A is now the most recent
    recorder.event(cluster, 'Normal', 'C', 'm'); // evicts B
    await recorder.flush();
    expect(recorder.cacheSize()).toBe(2);
    recorder.event(cluster, 'Normal', 'B', 'm');
    await recorder.flush();
    const creates = sink.calls.filter((c) => c.op === 'create').map((c) => (c.op === 'create' ? c.event.reason : ''));
    expect(creates).toEqual(['A', 'B', 'C', 'B']);
  });

  it('cuts long messages to 1024 bytes', async () => {
    const { sink, recorder } = setup();
    recorder.event(cluster, 'Normal', 'Long', 'é'.repeat(2000));
    await recorder.flush();
    const call = sink.calls[0];
    if (call?.op !== 'create') throw new Error('expected a create');
    expect(Buffer.byteLength(call.event.message)).toBeLessThanOrEqual(1024);
    expect(call.event.message.endsWith('...')).toBe(true);
  });

  it('puts events about cluster-scoped objects in the default namespace', async () => {
    const { sink, recorder } = setup();
    recorder.event({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1', uid: 'n1' } }, 'Normal', 'R', 'm');
    await recorder.flush();
    const call = sink.calls[0];
    if (call?.op !== 'create') throw new Error('expected a create');
    expect(call.event.metadata.namespace).toBe('default');
  });
});

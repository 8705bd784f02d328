import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { FakeClock, flushMicrotasks } from '../../../../operator/src/runtime/clock.ts';
import { Informer, type ListerWatcher, type ListResult, type WatchOptions } from '../../../../operator/src/runtime/informer.ts';
import { KubeApiError, type RawWatchEvent } from '../../../../operator/src/runtime/kube-api.ts';
import type { KubeObject } from '../../../../operator/src/runtime/objects.ts';
import { Resources } from '../../../../operator/src/runtime/resources.ts';

const obj = (name: string, rv: string, extra: Partial<KubeObject['metadata']> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ns', resourceVersion: rv, ...extra },
});

interface PendingWatch {
  readonly options: WatchOptions;
  emit(event: RawWatchEvent): void;
  end(): void;
  fail(error: Error): void;
  readonly signal: AbortSignal;
}

/** A ListerWatcher the test drives by hand: lists answer from a queue, watches stay open until ended. */
class ScriptedListerWatcher implements ListerWatcher {
  readonly listAnswers: (ListResult<KubeObject> | Error)[] = [];
  lists = 0;
  readonly watches: PendingWatch[] = [];

  list(_signal: AbortSignal): Promise<ListResult<KubeObject>> {
    this.lists++;
    const answer = this.listAnswers.shift();
    if (answer === undefined) return Promise.reject(new Error('test script has no list answer left'));
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
  }

  watch(options: WatchOptions, onEvent: (event: RawWatchEvent) => void, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      signal.addEventListener('abort', () => resolve(), { once: true });
      this.watches.push({ options, emit: onEvent, end: resolve, fail: reject, signal });
    });
  }

  current(): PendingWatch {
    const w = this.watches.at(-1);
    if (w === undefined) throw new Error('no watch started');
    return w;
  }
}

function setup() {
  const lw = new ScriptedListerWatcher();
  const clock = new FakeClock();
  const logs: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line) as { level: number; msg: string }) });
  const informer = new Informer({ resource: Resources.ConfigMap, listerWatcher: lw, logger, clock, random: () => 0.5 });
  const seen: string[] = [];
  informer.addHandler({
    onAdd: (o) => seen.push(`add ${o.metadata.name}@${o.metadata.resourceVersion}`),
    onUpdate: (a, b) => seen.push(`update ${a.metadata.name}@${a.metadata.resourceVersion}->${b.metadata.resourceVersion}`),
    onDelete: (o) => seen.push(`delete ${o.metadata.name}@${o.metadata.resourceVersion}`),
  });
  return { lw, clock, informer, seen, logs };
}

describe('Informer', () => {
  it('lists, fills the cache, reports adds, syncs, then watches from the list resourceVersion', async () => {
    const { lw, informer, seen } = setup();
    lw.listAnswers.push({ items: [obj('a', '5'), obj('b', '6')], resourceVersion: '10' });
    const synced = informer.waitForSync();
    expect(informer.hasSynced()).toBe(false);
    informer.start();
    await synced;
    expect(informer.hasSynced()).toBe(true);
    expect(seen).toEqual(['add a@5', 'add b@6']);
    expect(informer.get('ns/a')?.metadata.resourceVersion).toBe('5');
    expect(informer.getByName('ns', 'b')).toBeDefined();
    expect(informer.list({ namespace: 'ns' })).toHaveLength(2);
    await flushMicrotasks();
    expect(lw.current().options).toEqual({ resourceVersion: '10', timeoutSeconds: 450 }); // 300 * (1 + 0.5)
    await informer.stop();
  });

  it('applies watch events to the cache and handlers, and bookmarks advance the resourceVersion only', async () => {
    const { lw, informer, seen } = setup();
    lw.listAnswers.push({ items: [obj('a', '5')], resourceVersion: '10' });
    informer.start();
    await informer.waitForSync();
    await flushMicrotasks();
    const w = lw.current();
    w.emit({ type: 'ADDED', object: obj('b', '11') });
    w.emit({ type: 'MODIFIED', object: obj('a', '12', { labels: { x: 'y' } }) });
    w.emit({ type: 'DELETED', object: obj('b', '13') });
    w.emit({ type: 'BOOKMARK', object: { kind: 'ConfigMap', metadata: { resourceVersion: '20' } } });
    expect(seen.slice(1)).toEqual(['add b@11', 'update a@5->12', 'delete b@11']);
    expect(informer.keys()).toEqual(['ns/a']);
    expect(informer.get('ns/a')?.metadata.labels).toEqual({ x: 'y' });
    expect(informer.lastResourceVersion()).toBe('20');
    await informer.stop();
  });

  it('re-watches from the last resourceVersion when the server ends the watch, without relisting', async () => {
    const { lw, informer } = setup();
    lw.listAnswers.push({ items: [], resourceVersion: '10' });
    informer.start();
    await informer.waitForSync();
    await flushMicrotasks();
    lw.current().emit({ type: 'ADDED', object: obj('a', '15') });
    lw.current().end();
    await flushMicrotasks();
    expect(lw.watches).toHaveLength(2);
    expect(lw.current().options.resourceVersion).toBe('15');
    expect(lw.lists).toBe(1);
    await informer.stop();
  });

  it('relists at once on a 410 Gone ERROR event, reporting the difference as add/update/delete', async () => {
    const { lw, informer, seen, clock } = setup();
    lw.listAnswers.push({ items: [obj('keep', '1'), obj('change', '2'), obj('vanish', '3')], resourceVersion: '10' });
    lw.listAnswers.push({ items: [obj('keep', '1'), obj('change', '22'), obj('new', '23')], resourceVersion: '30' });
    informer.start();
    await informer.waitForSync();
    await flushMicrotasks();
    seen.length = 0;
    const first = lw.current();
    // Exactly what kube-apiserver 1.36 sends (HTTP 200, then this event) when the watch cache has evicted the version.
    first.emit({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'too old resource version: 10 (241)', reason: 'Expired', code: 410 } });
    await flushMicrotasks();
    expect(first.signal.aborted).toBe(true);
    expect(lw.lists).toBe(2);
    expect(clock.pendingTimers()).toBe(0); // no backoff for Gone
    expect(seen).toEqual(['delete vanish@3', 'update change@2->22', 'add new@23']);
    expect(lw.current().options.resourceVersion).toBe('30');
    await informer.stop();
  });

  it('relists when the watch request itself answers 410', async () => {
    const { lw, informer } = setup();
    lw.listAnswers.push({ items: [], resourceVersion: '10' }, { items: [], resourceVersion: '40' });
    informer.start();
    await informer.waitForSync();
    await flushMicrotasks();
    lw.current().fail(new KubeApiError('GET', 'watch /api/v1/configmaps', 410, { reason: 'Gone', message: 'too old' }));
    await flushMicrotasks();
    expect(lw.lists).toBe(2);
    expect(lw.current().options.resourceVersion).toBe('40');
    await informer.stop();
  });

  it('backs off after watch failures (800 ms doubling), re-watching from the same resourceVersion, and logs the cause', async () => {
    const { lw, informer, clock, logs } = setup();
    lw.listAnswers.push({ items: [], resourceVersion: '10' });
    informer.start();
    await informer.waitForSync();
    await flushMicrotasks();
    lw.current().fail(new Error('socket hang up'));
    await flushMicrotasks();
    expect(lw.watches).toHaveLength(1);
    await clock.advanceAsync(799);
    expect(lw.watches).toHaveLength(1);
    await clock.advanceAsync(1);
    expect(lw.watches).toHaveLength(2);
    lw.current().fail(new Error('socket hang up'));
    await clock.advanceAsync(1599);
    expect(lw.watches).toHaveLength(2);
    await clock.advanceAsync(1);
    expect(lw.watches).toHaveLength(3);
    expect(lw.current().options.resourceVersion).toBe('10');
    expect(lw.lists).toBe(1);
    expect(logs.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([
      'Watch of ConfigMap failed: socket hang up',
      'Watch of ConfigMap failed: socket hang up',
    ]);
    // An event resets the backoff.
    lw.current().emit({ type: 'ADDED', object: obj('a', '11') });
    lw.current().fail(new Error('reset'));
    await clock.advanceAsync(800);
    expect(lw.watches).toHaveLength(4);
    await informer.stop();
  });

  it('ends the watch on a non-410 ERROR event and retries after backoff', async () => {
    const { lw, informer, clock, logs } = setup();
    lw.listAnswers.push({ items: [], resourceVersion: '10' });
    informer.start();
    await informer.waitForSync();
    await flushMicrotasks();
    lw.current().emit({ type: 'ERROR', object: { kind: 'Status', code: 500, reason: 'InternalError', message: 'etcd unavailable' } });
    await flushMicrotasks();
    expect(logs.at(-1)?.msg).toMatch(/Watch of ConfigMap failed: .*500 InternalError: etcd unavailable/);
    await clock.advanceAsync(800);
    expect(lw.watches).toHaveLength(2);
    await informer.stop();
  });

  it('retries a failed list after backoff and syncs only when a list succeeds', async () => {
    const { lw, informer, clock, logs } = setup();
    lw.listAnswers.push(new KubeApiError('GET', '/api/v1/configmaps', 403, { reason: 'Forbidden', message: 'configmaps is forbidden' }));
    lw.listAnswers.push({ items: [obj('a', '1')], resourceVersion: '5' });
    informer.start();
    await flushMicrotasks();
    expect(informer.hasSynced()).toBe(false);
    expect(logs.at(-1)?.msg).toMatch(/List of ConfigMap failed: .*403 Forbidden: configmaps is forbidden/);
    await clock.advanceAsync(800);
    expect(informer.hasSynced()).toBe(true);
    await informer.stop();
  });

  it('gives a handler added later an add for every cached object, and survives a throwing handler', async () => {
    const { lw, informer, logs } = setup();
    lw.listAnswers.push({ items: [obj('a', '1'), obj('b', '2')], resourceVersion: '5' });
    informer.start();
    await informer.waitForSync();
    informer.addHandler({
      onAdd: () => {
        throw new Error('boom');
      },
    });
    const late: string[] = [];
    informer.addHandler({ onAdd: (o) => late.push(o.metadata.name ?? '') });
    expect(late).toEqual(['a', 'b']);
    expect(logs.filter((l) => l.msg.includes('onAdd handler for ConfigMap threw: boom'))).toHaveLength(2);
    await flushMicrotasks();
    lw.current().emit({ type: 'ADDED', object: obj('c', '6') });
    expect(late).toEqual(['a', 'b', 'c']);
    await informer.stop();
  });

  it('stop() ends the watch, and waitForSync rejects when the informer stops unsynced', async () => {
    const { lw, informer } = setup();
    const never = informer.waitForSync();
    lw.listAnswers.push(new Error('down'));
    informer.start();
    await flushMicrotasks();
    await informer.stop();
    await expect(never).rejects.toThrow(/stopped before its cache synced/);
    await expect(informer.waitForSync()).rejects.toThrow(/stopped and never synced/);
  });

  it('resyncs: reports every cached object as updated each period', async () => {
    const lw = new ScriptedListerWatcher();
    const clock = new FakeClock();
    const informer = new Informer({ resource: Resources.ConfigMap, listerWatcher: lw, logger: pino({ level: 'silent' }), clock, resyncPeriodMs: 60_000 });
    const updates: string[] = [];
    informer.addHandler({ onUpdate: (_a, b) => updates.push(b.metadata.name ?? '') });
    lw.listAnswers.push({ items: [obj('a', '1')], resourceVersion: '5' });
    informer.start();
    await informer.waitForSync();
    await clock.advanceAsync(60_000);
    await clock.advanceAsync(60_000);
    expect(updates).toEqual(['a', 'a']);
    await informer.stop();
  });
});

import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AdminServer } from '../../../broker/src/http/admin-server.ts';
import { BROKER_STATUS_JSON_SCHEMA, type BrokerStatus } from '../../../broker/src/http/broker-status.ts';
import { BrokerMetrics } from '../../../broker/src/metrics/broker-metrics.ts';
import { sample } from '../metrics/prometheus-text.ts';

const RUNNING: BrokerStatus = {
  nodeId: 3,
  clusterId: 'MkU3OEVBNTcwNTJENDM2Qg',
  state: 'running',
  processRoles: ['broker', 'controller'],
  listeners: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092, securityProtocol: 'PLAINTEXT' }],
  version: '0.1.0',
  uptimeMs: 84_210,
  metadataOffset: 1532,
  leaderCount: 4,
  partitionCount: 9,
  underReplicatedPartitions: 1,
};

/** A fake broker: tests set its status; statusError makes status() throw. */
const broker: { current: BrokerStatus; statusError: Error | null } = { current: RUNNING, statusError: null };
const statusSource = {
  status: (): BrokerStatus => {
    if (broker.statusError !== null) throw broker.statusError;
    return broker.current;
  },
};

const logLines: Record<string, unknown>[] = [];
const logger = pino({ level: 'info' }, new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logLines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
}));

const metrics = new BrokerMetrics({ logger, processMetrics: false });
let server: AdminServer;
let base = '';

beforeAll(async () => {
  server = new AdminServer({ host: '127.0.0.1', port: 0, status: statusSource, metrics, logger });
  const port = await server.listen();
  expect(port).toBeGreaterThan(0);
  base = `http://127.0.0.1:${port}`;
});
afterAll(async () => { await server.close(); });
beforeEach(() => {
  broker.current = RUNNING;
  broker.statusError = null;
});

const get = async (path: string): Promise<{ status: number; headers: Headers; body: unknown; text: string }> => {
  const res = await fetch(`${base}${path}`);
  const text = await res.text();
  const body: unknown = res.headers.get('content-type')?.startsWith('application/json') === true ? JSON.parse(text) : undefined;
  return { status: res.status, headers: res.headers, body, text };
};

describe('GET /healthz', () => {
  it('is 200 while the broker is alive and 503 once it is shutting down', async () => {
    for (const state of ['starting', 'recovering', 'running'] as const) {
      broker.current = { ...RUNNING, state };
      const res = await get('/healthz');
      expect(res.status, state).toBe(200);
      expect(res.body).toEqual({ live: true, state });
    }
    broker.current = { ...RUNNING, state: 'shutting_down' };
    const res = await get('/healthz');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ live: false, state: 'shutting_down' });
  });
});

describe('GET /readyz', () => {
  it('follows the broker through starting (503), running (200) and shutting_down (503)', async () => {
    broker.current = { ...RUNNING, state: 'starting' };
    let res = await get('/readyz');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ ready: false, state: 'starting', reason: 'the broker is starting' });

    broker.current = { ...RUNNING, state: 'running' };
    res = await get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ready: true, state: 'running' });

    broker.current = { ...RUNNING, state: 'shutting_down' };
    res = await get('/readyz');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ ready: false, state: 'shutting_down', reason: 'the broker is shutting down' });
  });

  it('is 503 while recovering, with the recovery progress in the reason', async () => {
    broker.current = { ...RUNNING, state: 'recovering', recovery: { logsTotal: 40, logsRecovered: 12, currentLog: 'orders-3' } };
    const res = await get('/readyz');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ ready: false, state: 'recovering', reason: 'the broker is recovering its logs: 12 of 40 logs recovered, now orders-3' });
  });

  it('answers HEAD too (Kubernetes probes may use it)', async () => {
    broker.current = { ...RUNNING, state: 'starting' };
    const res = await fetch(`${base}/readyz`, { method: 'HEAD' });
    expect(res.status).toBe(503);
  });
});

describe('GET /v1/broker', () => {
  it('returns the documented shape and no cache', async () => {
    const res = await get('/v1/broker');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toEqual(RUNNING);
    expect(Object.keys(res.body as object).sort()).toEqual([...BROKER_STATUS_JSON_SCHEMA.required].sort());
  });

  it('includes recovery only while recovering', async () => {
    const recovery = { logsTotal: 120, logsRecovered: 37, currentLog: 'orders-4' };
    broker.current = { ...RUNNING, state: 'recovering', recovery, leaderCount: 0, partitionCount: 0 };
    let res = await get('/v1/broker');
    expect(res.body).toEqual({ ...RUNNING, state: 'recovering', recovery, leaderCount: 0, partitionCount: 0 });

    broker.current = { ...RUNNING, state: 'recovering', recovery: { logsTotal: 2, logsRecovered: 0 } };
    res = await get('/v1/broker');
    expect((res.body as BrokerStatus).recovery).toEqual({ logsTotal: 2, logsRecovered: 0 });

    // A stale recovery object left on a running broker is not served.
    broker.current = { ...RUNNING, recovery };
    res = await get('/v1/broker');
    expect(res.body).toEqual(RUNNING);
  });

  it('serves only documented fields, whatever else the source object carries', async () => {
    broker.current = { ...RUNNING, secret: 'x', listeners: [{ ...RUNNING.listeners[0], password: 'p' }] } as unknown as BrokerStatus;
    const res = await get('/v1/broker');
    expect(res.body).toEqual(RUNNING);
  });

  it('serves a null cluster id before meta.properties has been read', async () => {
    broker.current = { ...RUNNING, state: 'starting', clusterId: null, metadataOffset: -1 };
    const res = await get('/v1/broker');
    expect(res.body).toMatchObject({ clusterId: null, metadataOffset: -1, state: 'starting' });
  });

  it('answers 500 with a JSON error, and logs it, when the broker cannot produce its state', async () => {
    broker.statusError = new Error('status exploded');
    const before = logLines.length;
    for (const path of ['/v1/broker', '/readyz', '/healthz']) {
      const res = await get(path);
      expect(res.status, path).toBe(500);
      expect(res.body, path).toMatchObject({ statusCode: 500, message: 'status exploded' });
    }
    const errors = logLines.slice(before).filter((l) => l.level === 50);
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatchObject({ component: 'http', url: '/v1/broker' });
  });
});

describe('GET /metrics', () => {
  it('serves the Prometheus text format with the request counter after onRequest', async () => {
    let res = await get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const before = sample(res.text, 'millrace_requests_total', { api: 'Metadata', version: '12' }) ?? 0;
    metrics.onRequest(3, 12, 64, 512, 2);
    metrics.onRequest(3, 12, 64, 512, 2);
    res = await get('/metrics');
    expect(sample(res.text, 'millrace_requests_total', { api: 'Metadata', version: '12' })).toBe(before + 2);
    expect(res.text).toContain('# HELP millrace_requests_total');
  });

  it('serves per-topic metrics after recordProduce', async () => {
    metrics.recordProduce('http-test-topic', 3, 300);
    const res = await get('/metrics');
    expect(sample(res.text, 'millrace_topic_messages_in_total', { topic: 'http-test-topic' })).toBe(3);
    expect(sample(res.text, 'millrace_topic_bytes_in_total', { topic: 'http-test-topic' })).toBe(300);
  });
});

describe('admin server', () => {
  it('answers unknown routes with a JSON 404', async () => {
    const res = await get('/nope');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ statusCode: 404 });
  });

  it('does not log requests by default, and logs through a component=http child logger', async () => {
    const before = logLines.length;
    await get('/healthz');
    await get('/metrics');
    expect(logLines.slice(before)).toEqual([]);
    const listening = logLines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('admin HTTP server listening'));
    expect(listening).toMatchObject({ component: 'http' });
  });

  it('reports a port already in use clearly', async () => {
    const other = new AdminServer({ host: '127.0.0.1', port: Number(new URL(base).port), status: statusSource, metrics, logger });
    await expect(other.listen()).rejects.toThrow(/cannot listen on 127\.0\.0\.1:\d+ for the admin HTTP server \(millrace\.http\.listener\)/);
    await other.close();
  });

  it('closes gracefully, idempotently, and stops answering', async () => {
    const own = new AdminServer({ host: '127.0.0.1', port: 0, status: statusSource, metrics, logger });
    const port = await own.listen();
    // A keep-alive connection that is left idle must not hold close() open.
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    await Promise.all([own.close(), own.close()]);
    await own.close();
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });
});

describe('README', () => {
  it('documents every field of the /v1/broker document', () => {
    const readme = readFileSync(new URL('../../../broker/src/http/README.md', import.meta.url), 'utf8');
    const documented = new Set([...readme.matchAll(/^\| `([a-zA-Z.[\]]+)` \|/gm)].map((m) => m[1]));
    const fields: string[] = [];
    const walk = (schema: { properties?: object; items?: unknown }, prefix: string): void => {
      for (const [key, child] of Object.entries(schema.properties ?? {}) as [string, { properties?: object; items?: { properties?: object } }][]) {
        fields.push(`${prefix}${key}`);
        if (child.properties !== undefined) walk(child, `${prefix}${key}.`);
        if (child.items?.properties !== undefined) walk(child.items, `${prefix}${key}[].`);
      }
    };
    walk(BROKER_STATUS_JSON_SCHEMA, '');
    expect(fields.length).toBeGreaterThan(15);
    for (const field of fields) expect(documented, field).toContain(field);
    expect([...documented].sort()).toEqual([...fields].sort());
  });
});

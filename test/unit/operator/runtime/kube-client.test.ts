/**
 * HttpKubeClient, ObjectClient and kubeListerWatcher against a local HTTP server that records requests and
 * answers as the API server would (no cluster): what goes on the wire (method, path, query, content type,
 * body, credentials) and how answers and failures come back.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ObjectClient } from '../../../../operator/src/runtime/apply.ts';
import { kubeListerWatcher } from '../../../../operator/src/runtime/informer.ts';
import { isConflict, isNotFound, KubeApiError, type RawWatchEvent } from '../../../../operator/src/runtime/kube-api.ts';
import { HttpKubeClient } from '../../../../operator/src/runtime/kube-client.ts';
import type { KubeObject } from '../../../../operator/src/runtime/objects.ts';
import { Resources } from '../../../../operator/src/runtime/resources.ts';
import { buildClusterResources } from '../../../../operator/src/specs/cluster-resources.ts';
import { threeByThree } from '../fixtures.ts';

interface Recorded {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

type Responder = (req: Recorded, res: ServerResponse) => void;

let server: Server;
let baseUrl: string;
const recorded: Recorded[] = [];
let responder: Responder = (_req, res) => json(res, 200, {});

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const status = (code: number, reason: string, message: string) => ({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const r: Recorded = { method: req.method ?? '', path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      recorded.push(r);
      responder(r, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  recorded.length = 0;
  responder = (_req, res) => json(res, 200, {});
});

function client(): { http: HttpKubeClient; objects: ObjectClient } {
  const kc = new KubeConfig();
  // Plain HTTP needs skipTLSVerify in client-node's rules; the token is sent as a bearer token.
  kc.loadFromClusterAndUser({ name: 'test', server: baseUrl, skipTLSVerify: true }, { name: 'test', token: 'secret-token' });
  const http = new HttpKubeClient(kc, { requestTimeoutMs: 2_000 });
  return { http, objects: new ObjectClient({ http }) };
}

const last = (): Recorded => {
  const r = recorded.at(-1);
  if (r === undefined) throw new Error('no request recorded');
  return r;
};

describe('ObjectClient over HttpKubeClient', () => {
  it('applies server-side: PATCH apply-patch+yaml, fieldManager millrace-operator, force, the object as JSON, bearer token', async () => {
    const { http, objects } = client();
    const built = buildClusterResources(threeByThree());
    if (!built.ok) throw new Error('fixture must be valid');
    const sts = built.objects.find((o) => o.kind === 'StatefulSet');
    if (sts === undefined) throw new Error('no StatefulSet built');
    responder = (req, res) => json(res, 200, { ...(JSON.parse(req.body) as object), metadata: { ...sts.metadata, resourceVersion: '77' } });
    const applied = await objects.apply<KubeObject>(sts);
    const r = last();
    expect(r.method).toBe('PATCH');
    expect(r.path).toBe('/apis/apps/v1/namespaces/streaming/statefulsets/orders-controllers');
    expect(r.query).toEqual({ fieldManager: 'millrace-operator', force: 'true' });
    expect(r.headers['content-type']).toBe('application/apply-patch+yaml');
    expect(r.headers.authorization).toBe('Bearer secret-token');
    expect(r.headers['user-agent']).toBe('millrace-operator');
    expect(JSON.parse(r.body)).toEqual(sts); // byte-for-byte the builder's object: nothing dropped or added
    expect(applied.metadata.resourceVersion).toBe('77');
    http.close();
  });

  it('applies status on the /status subresource, and merge-patches status there too', async () => {
    const { http, objects } = client();
    const status = { apiVersion: 'kafka.millrace.dev/v1alpha1', kind: 'KafkaCluster', metadata: { name: 'orders', namespace: 'streaming' }, status: { observedGeneration: 4 } };
    await objects.applyStatus(status);
    expect(last()).toMatchObject({ method: 'PATCH', path: '/apis/kafka.millrace.dev/v1alpha1/namespaces/streaming/kafkaclusters/orders/status', query: { fieldManager: 'millrace-operator', force: 'true' } });
    expect(last().headers['content-type']).toBe('application/apply-patch+yaml');
    await objects.patchStatus(Resources.KafkaCluster, 'streaming', 'orders', { clusterId: 'abc' });
    expect(last()).toMatchObject({ method: 'PATCH', path: '/apis/kafka.millrace.dev/v1alpha1/namespaces/streaming/kafkaclusters/orders/status', query: { fieldManager: 'millrace-operator' } });
    expect(last().headers['content-type']).toBe('application/merge-patch+json');
    expect(JSON.parse(last().body)).toEqual({ status: { clusterId: 'abc' } });
    http.close();
  });

  it('refuses to apply an object carrying a resourceVersion, or of an unknown kind', async () => {
    const { http, objects } = client();
    await expect(objects.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'n', resourceVersion: '3' } })).rejects.toThrow(/must not carry metadata.resourceVersion/);
    await expect(objects.apply({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } })).rejects.toThrow(/unknown resource type Widget in example.com\/v1/);
    expect(recorded).toHaveLength(0);
    http.close();
  });

  it('get returns null on 404 and the object otherwise; other errors name method, path, code, reason and message', async () => {
    const { http, objects } = client();
    responder = (_req, res) => json(res, 404, status(404, 'NotFound', 'configmaps "c" not found'));
    expect(await objects.get(Resources.ConfigMap, 'ns', 'c')).toBeNull();
    expect(last()).toMatchObject({ method: 'GET', path: '/api/v1/namespaces/ns/configmaps/c' });
    responder = (_req, res) => json(res, 200, { metadata: { name: 'c' } });
    expect(await objects.get(Resources.ConfigMap, 'ns', 'c')).toEqual({ metadata: { name: 'c' } });
    responder = (_req, res) => json(res, 403, status(403, 'Forbidden', 'configmaps "c" is forbidden: User "system:serviceaccount:x:y" cannot get resource'));
    const error = await objects.get(Resources.ConfigMap, 'ns', 'c').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KubeApiError);
    expect((error as Error).message).toBe('GET /api/v1/namespaces/ns/configmaps/c: 403 Forbidden: configmaps "c" is forbidden: User "system:serviceaccount:x:y" cannot get resource');
    http.close();
  });

  it('update sends the resourceVersion; a 409 Conflict is recognisable', async () => {
    const { http, objects } = client();
    responder = (_req, res) => json(res, 409, status(409, 'Conflict', 'Operation cannot be fulfilled on leases.coordination.k8s.io "l": the object has been modified'));
    const error = await objects.update({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l', namespace: 'ns', resourceVersion: '5' }, spec: {} }).catch((e: unknown) => e);
    expect(isConflict(error)).toBe(true);
    expect(last()).toMatchObject({ method: 'PUT', path: '/apis/coordination.k8s.io/v1/namespaces/ns/leases/l' });
    expect((JSON.parse(last().body) as { metadata: { resourceVersion: string } }).metadata.resourceVersion).toBe('5');
    http.close();
  });

  it('deletes with a propagationPolicy (Background by default) and reports false when already gone', async () => {
    const { http, objects } = client();
    expect(await objects.delete(Resources.StatefulSet, 'ns', 's', { propagationPolicy: 'Foreground', preconditions: { uid: 'u1' } })).toBe(true);
    expect(last()).toMatchObject({ method: 'DELETE', path: '/apis/apps/v1/namespaces/ns/statefulsets/s' });
    expect(JSON.parse(last().body)).toEqual({ apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Foreground', preconditions: { uid: 'u1' } });
    await objects.delete(Resources.Pod, 'ns', 'p');
    expect(JSON.parse(last().body)).toMatchObject({ propagationPolicy: 'Background' });
    responder = (_req, res) => json(res, 404, status(404, 'NotFound', 'gone'));
    expect(await objects.delete(Resources.Pod, 'ns', 'p')).toBe(false);
    http.close();
  });

  it('reconcileObject: desired null deletes, otherwise applies', async () => {
    const { http, objects } = client();
    await objects.reconcileObject(Resources.ConfigMap, 'ns', 'c', null);
    expect(last().method).toBe('DELETE');
    await objects.reconcileObject(Resources.ConfigMap, 'ns', 'c', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'ns' } });
    expect(last().method).toBe('PATCH');
    http.close();
  });

  it('lists every page with limit and continue, filling in apiVersion and kind', async () => {
    const { http, objects } = client();
    responder = (req, res) => {
      if (req.query.continue === undefined) json(res, 200, { metadata: { resourceVersion: '9', continue: 'page2' }, items: [{ metadata: { name: 'a' } }] });
      else json(res, 200, { metadata: { resourceVersion: '10' }, items: [{ metadata: { name: 'b' } }] });
    };
    const result = await objects.list(Resources.Pod, { namespace: 'ns', labelSelector: 'app=x' });
    expect(recorded.map((r) => r.query)).toEqual([
      { labelSelector: 'app=x', limit: '500' },
      { labelSelector: 'app=x', limit: '500', continue: 'page2' },
    ]);
    expect(result).toEqual({ resourceVersion: '10', items: [{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'a' } }, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'b' } }] });
    http.close();
  });

  it('names the server and the cause when the connection fails', async () => {
    const kc = new KubeConfig();
    kc.loadFromClusterAndUser({ name: 'down', server: 'http://127.0.0.1:1', skipTLSVerify: true }, { name: 'u' });
    const http = new HttpKubeClient(kc);
    await expect(new ObjectClient({ http }).get(Resources.Pod, 'ns', 'p')).rejects.toThrow(/^GET \/api\/v1\/namespaces\/ns\/pods\/p to http:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/);
    http.close();
  });

  it('times out a request that gets no answer', async () => {
    const kc = new KubeConfig();
    kc.loadFromClusterAndUser({ name: 'test', server: baseUrl, skipTLSVerify: true }, { name: 'u' });
    const http = new HttpKubeClient(kc, { requestTimeoutMs: 100 });
    responder = () => {}; // never answers
    await expect(http.request({ method: 'GET', path: '/api/v1/pods' })).rejects.toThrow(/GET \/api\/v1\/pods to http:\/\/127\.0\.0\.1:\d+: no answer within 100 ms/);
    http.close();
    server.closeAllConnections();
  });
});

describe('kubeListerWatcher over HttpKubeClient', () => {
  it('watches with resourceVersion, bookmarks and timeoutSeconds, parsing one event per line across chunk boundaries', async () => {
    const { http } = client();
    responder = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const a = JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a', resourceVersion: '11' } } });
      const b = JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '12' } } });
      res.write(a.slice(0, 10));
      setTimeout(() => {
        res.write(`${a.slice(10)}\n${b}`);
        setTimeout(() => res.end('\n'), 5);
      }, 5);
    };
    const lw = kubeListerWatcher(http, Resources.KafkaCluster, { namespace: 'streaming', labelSelector: 'tier=gold' });
    const events: RawWatchEvent[] = [];
    await lw.watch({ resourceVersion: '10', timeoutSeconds: 300 }, (e) => events.push(e), new AbortController().signal);
    expect(last().path).toBe('/apis/kafka.millrace.dev/v1alpha1/namespaces/streaming/kafkaclusters');
    expect(last().query).toEqual({ labelSelector: 'tier=gold', resourceVersion: '10', allowWatchBookmarks: 'true', timeoutSeconds: '300', watch: 'true' });
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'BOOKMARK']);
    http.close();
  });

  it('rejects with the Status when the watch is refused, and with the line when an event is not JSON', async () => {
    const { http } = client();
    const lw = kubeListerWatcher(http, Resources.Pod);
    responder = (_req, res) => json(res, 410, status(410, 'Expired', 'too old resource version: 1 (50)'));
    const gone = await lw.watch({ resourceVersion: '1', timeoutSeconds: 300 }, () => {}, new AbortController().signal).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(KubeApiError);
    expect((gone as KubeApiError).statusCode).toBe(410);
    expect(last().path).toBe('/api/v1/pods');
    responder = (_req, res) => {
      res.writeHead(200);
      res.end('{"type":"ADDED", oops\n');
    };
    await expect(lw.watch({ resourceVersion: '1', timeoutSeconds: 300 }, () => {}, new AbortController().signal)).rejects.toThrow(/malformed watch event \(not JSON\): \{"type":"ADDED", oops/);
    http.close();
  });

  it('resolves when aborted, and closes the stream when the handler throws', async () => {
    const { http } = client();
    responder = (_req, res) => {
      res.writeHead(200);
      res.write(`${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a' } } })}\n`);
    };
    const lw = kubeListerWatcher(http, Resources.Pod);
    const abort = new AbortController();
    let got = 0;
    const watching = lw.watch({ resourceVersion: '1', timeoutSeconds: 300 }, () => {
      got++;
      abort.abort();
    }, abort.signal);
    await expect(watching).resolves.toBeUndefined();
    expect(got).toBe(1);
    await expect(lw.watch({ resourceVersion: '1', timeoutSeconds: 300 }, () => {
      throw new Error('handler failed');
    }, new AbortController().signal)).rejects.toThrow('handler failed');
    http.close();
    server.closeAllConnections();
  });

  it('treats a silent connection as dead after the idle timeout', async () => {
    const { http } = client();
    responder = (_req, res) => res.writeHead(200).flushHeaders();
    await expect(http.watch({ path: '/api/v1/pods', idleTimeoutMs: 100 }, () => {}, new AbortController().signal)).rejects.toThrow(/watch \/api\/v1\/pods: no data for 100 ms/);
    http.close();
    server.closeAllConnections();
  });
});

describe('isNotFound', () => {
  it('is true only for 404 API errors', () => {
    expect(isNotFound(new KubeApiError('GET', '/x', 404, undefined))).toBe(true);
    expect(isNotFound(new KubeApiError('GET', '/x', 500, undefined))).toBe(false);
    expect(isNotFound(new Error('404'))).toBe(false);
  });
});

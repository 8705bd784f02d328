/**
 * HttpKubeClient: KubeHttp over node:http(s), taking server address, TLS material and credentials from a
 * @kubernetes/client-node KubeConfig (kubeconfig file, in-cluster service account, exec and OIDC plugins are
 * all handled there; tokens are re-read as they rotate). Why not client-node's own API classes: see
 * README.md ("client-node: what we use and why"). In short: KubernetesObjectApi cannot address subresources
 * (/status), re-serializes built-in kinds through its generated models (fields it does not know are dropped),
 * and its fetch path builds a new connection pool per request; its Watch/ListWatch drop malformed events
 * silently and stop for good on the first non-410 error.
 *
 * Limits: requestTimeoutMs (30 s) per non-watch request; RESPONSE_BYTES_MAX (128 MiB) per response body;
 * WATCH_EVENT_BYTES_MAX (16 MiB) per watch event line.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
import { errorMessage, KubeApiError, type KubeHttp, type KubeRequest, type KubeStatus, type QueryValue, type RawWatchEvent, type WatchRequest } from './kube-api.ts';

export const REQUEST_TIMEOUT_MS_DEFAULT = 30_000;
export const RESPONSE_BYTES_MAX = 128 * 1024 * 1024;
export const WATCH_EVENT_BYTES_MAX = 16 * 1024 * 1024;
const USER_AGENT = 'millrace-operator';

/**
 * KUBECONFIG (or ~/.kube/config) when present, else the in-cluster service account; the same order as
 * client-go's default loading rules. Throws, naming what was tried, when neither gives a cluster.
 */
export function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const cluster = kc.getCurrentCluster();
  if (cluster === null) {
    const source = process.env.KUBECONFIG !== undefined && process.env.KUBECONFIG !== '' ? `KUBECONFIG=${process.env.KUBECONFIG}` : '~/.kube/config or the in-cluster service account';
    throw new Error(`no Kubernetes cluster configured: the current context of ${source} names no cluster`);
  }
  return kc;
}

export interface HttpKubeClientOptions {
  readonly requestTimeoutMs?: number;
}

interface Prepared {
  readonly url: URL;
  /** TLS, agent and basic auth from the kubeconfig; headers are separate. */
  readonly options: https.RequestOptions;
  /** Authorization (and impersonation) headers from the kubeconfig, plus user-agent. */
  readonly headers: http.OutgoingHttpHeaders;
}

export class HttpKubeClient implements KubeHttp {
  private readonly kubeConfig: KubeConfig;
  private readonly requestTimeoutMs: number;
  /** Keep-alive agents keyed by a digest of their TLS material (it can change when credentials rotate). */
  private readonly agents = new Map<string, http.Agent>();

  constructor(kubeConfig: KubeConfig, options: HttpKubeClientOptions = {}) {
    this.kubeConfig = kubeConfig;
    this.requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS_DEFAULT;
  }

  /** The server URL of the current context (for logs). */
  server(): string {
    return this.kubeConfig.getCurrentCluster()?.server ?? '(no cluster)';
  }

  async request<T = unknown>(request: KubeRequest): Promise<T> {
    const { url, options, headers: auth } = await this.prepare(request.path, request.query);
    const headers: http.OutgoingHttpHeaders = { ...auth, accept: 'application/json' };
    let payload: string | undefined;
    if (request.body !== undefined) {
      payload = JSON.stringify(request.body);
      headers['content-type'] = request.contentType ?? 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    const timeout = AbortSignal.timeout(this.requestTimeoutMs);
    const signal = request.signal === undefined ? timeout : AbortSignal.any([request.signal, timeout]);
    const { statusCode, body } = await this.send(url, { ...options, method: request.method, headers, signal }, payload).catch((error: unknown) => {
      const why = timeout.aborted ? `no answer within ${this.requestTimeoutMs} ms` : errorMessage(error);
      throw new Error(`${request.method} ${request.path} to ${url.origin}: ${why}`, { cause: error });
    });
    if (statusCode < 200 || statusCode >= 300) throw new KubeApiError(request.method, request.path, statusCode, parseStatus(body), body);
    if (body.length === 0) return undefined as T;
    try {
      return JSON.parse(body) as T;
    } catch (error) {
      throw new Error(`${request.method} ${request.path}: the API server answered ${statusCode} with a body that is not JSON: ${body.slice(0, 200)}`, { cause: error });
    }
  }

  async watch(request: WatchRequest, onEvent: (event: RawWatchEvent) => void, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const { url, options, headers: auth } = await this.prepare(request.path, { ...request.query, watch: true });
    const headers: http.OutgoingHttpHeaders = { ...auth, accept: 'application/json' };
    const label = `watch ${request.path}`;
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (error?: Error): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        req.destroy();
        if (error === undefined || signal.aborted) resolve();
        else reject(error);
      };
      const onAbort = (): void => finish();
      const transport = url.protocol === 'http:' ? http : https;
      const req = transport.request(url, { ...options, method: 'GET', headers }, (res) => {
        const statusCode = res.statusCode ?? 0;
        if (statusCode !== 200) {
          readBody(res)
            .then((body) => finish(new KubeApiError('GET', label, statusCode, parseStatus(body), body)))
            .catch((error: unknown) => finish(new Error(`${label}: ${statusCode} and the error body could not be read: ${errorMessage(error)}`, { cause: error })));
          return;
        }
        res.setEncoding('utf8');
        let buffered = '';
        res.on('data', (chunk: string) => {
          buffered += chunk;
          let newline = buffered.indexOf('\n');
          while (newline >= 0 && !settled) {
            const line = buffered.slice(0, newline).trim();
            buffered = buffered.slice(newline + 1);
            if (line.length > 0) {
              let event: RawWatchEvent;
              try {
                event = JSON.parse(line) as RawWatchEvent;
              } catch (error) {
                finish(new Error(`${label}: malformed watch event (not JSON): ${line.slice(0, 200)}`, { cause: error }));
                return;
              }
              try {
                onEvent(event);
              } catch (error) {
                finish(error instanceof Error ? error : new Error(String(error)));
                return;
              }
            }
            newline = buffered.indexOf('\n');
          }
          if (buffered.length > WATCH_EVENT_BYTES_MAX) finish(new Error(`${label}: a watch event exceeds ${WATCH_EVENT_BYTES_MAX} bytes`));
        });
        res.on('end', () => finish());
        res.on('error', (error) => finish(new Error(`${label}: stream broken: ${error.message}`, { cause: error })));
        res.on('aborted', () => finish(new Error(`${label}: the API server closed the stream mid-event`)));
      });
      if (request.idleTimeoutMs !== undefined) {
        const idleMs = request.idleTimeoutMs;
        req.setTimeout(idleMs, () => finish(new Error(`${label}: no data for ${idleMs} ms (connection presumed dead)`)));
      }
      req.on('error', (error) => finish(new Error(`${label} to ${url.origin}: ${error.message}`, { cause: error })));
      signal.addEventListener('abort', onAbort, { once: true });
      req.end();
    });
  }

  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }

  /** URL plus TLS and auth options from the kubeconfig (re-read per request: tokens and certificates rotate). */
  private async prepare(path: string, query: Readonly<Record<string, QueryValue>> | undefined): Promise<Prepared> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (cluster === null) throw new Error(`kubeconfig context "${this.kubeConfig.getCurrentContext()}" names no cluster`);
    const url = new URL(cluster.server.replace(/\/+$/, '') + path);
    for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    const options: https.RequestOptions = { headers: {} };
    await this.kubeConfig.applyToHTTPSOptions(options);
    const fromConfig = options.headers;
    const headers: http.OutgoingHttpHeaders = fromConfig === undefined || Array.isArray(fromConfig) ? {} : { ...(fromConfig as http.OutgoingHttpHeaders) };
    headers['user-agent'] = USER_AGENT;
    delete options.headers;
    // A proxy needs client-node's proxy agent; otherwise use our keep-alive agent with the same TLS material.
    if (cluster.proxyUrl === undefined || cluster.proxyUrl === '') options.agent = this.agentFor(url.protocol, options);
    return { url, options, headers };
  }

  private agentFor(protocol: string, options: https.RequestOptions): http.Agent {
    if (protocol === 'http:') {
      let agent = this.agents.get('http');
      if (agent === undefined) this.agents.set('http', (agent = new http.Agent({ keepAlive: true })));
      return agent;
    }
    const tls = {
      ca: options.ca,
      cert: options.cert,
      key: options.key,
      pfx: options.pfx,
      passphrase: options.passphrase,
      rejectUnauthorized: options.rejectUnauthorized,
      servername: options.servername,
    };
    const digest = createHash('sha256');
    for (const [name, value] of Object.entries(tls)) digest.update(`${name}=${value === undefined ? '' : Buffer.isBuffer(value) ? value.toString('base64') : JSON.stringify(value)};`);
    const key = digest.digest('hex');
    let agent = this.agents.get(key);
    if (agent === undefined) {
      const defined = Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined)) as https.AgentOptions;
      agent = new https.Agent({ ...defined, keepAlive: true });
      this.agents.set(key, agent);
    }
    return agent;
  }

  private send(url: URL, options: https.RequestOptions, payload: string | undefined): Promise<{ statusCode: number; body: string }> {
    return new Promise((resolve, reject) => {
      const transport = url.protocol === 'http:' ? http : https;
      const req = transport.request(url, options, (res) => {
        readBody(res).then((body) => resolve({ statusCode: res.statusCode ?? 0, body }), reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }
}

function readBody(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    res.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > RESPONSE_BYTES_MAX) {
        res.destroy(new Error(`response body exceeds ${RESPONSE_BYTES_MAX} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('connection closed before the response body was complete')));
  });
}

function parseStatus(body: string): KubeStatus | undefined {
  try {
    const parsed = JSON.parse(body) as unknown;
    if (typeof parsed === 'object' && parsed !== null && (parsed as KubeStatus).kind === 'Status') return parsed;
  } catch {
    // Not JSON (a proxy's HTML error page, say): the caller keeps the raw text.
  }
  return undefined;
}

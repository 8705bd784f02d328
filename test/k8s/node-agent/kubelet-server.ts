/**
 * The part of the kubelet's HTTPS API that the API server proxies for `kubectl logs`:
 *
 *   GET /containerLogs/<namespace>/<pod>/<container>?follow=&previous=&tailLines=&limitBytes=
 *   GET /healthz
 *
 * Served on 127.0.0.1 with a self-signed certificate (the test API server is not given a kubelet CA, so it does
 * not verify it) on the port published in the Node's status.daemonEndpoints.kubeletEndpoint. Clients are not
 * authenticated: loopback only, test clusters only.
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import type { ContainerRunner } from './container.ts';

export interface LogSource {
  /** The runner of a container of a pod known to the agent. */
  container(namespace: string, pod: string, container: string): ContainerRunner | undefined;
}

export function selfSignedCertificate(dir: string, commonName: string): { key: string; cert: string } {
  const keyPath = join(dir, 'kubelet.key');
  const certPath = join(dir, 'kubelet.crt');
  if (!existsSync(keyPath) || !existsSync(certPath)) {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyPath, '-out', certPath,
      '-days', '365', '-subj', `/CN=${commonName}`, '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ], { stdio: 'pipe' });
  }
  return { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8') };
}

function tailBytes(path: string, lines: number): number {
  // Offset where the last `lines` lines start (the whole file when it has fewer).
  const text = readFileSync(path);
  let count = 0;
  let i = text.length;
  if (i > 0 && text[i - 1] === 0x0a) i--;
  while (i > 0) {
    if (text[i - 1] === 0x0a) {
      count++;
      if (count === lines) return i;
    }
    i--;
  }
  return 0;
}

export async function startKubeletServer(source: LogSource, tls: { key: string; cert: string }, log: (line: string) => void): Promise<{ server: Server; port: number }> {
  const server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (m === null || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`the node agent serves only /containerLogs and /healthz (got ${req.method ?? ''} ${url.pathname})`);
      return;
    }
    const [ns, pod, name] = [decodeURIComponent(m[1] ?? ''), decodeURIComponent(m[2] ?? ''), decodeURIComponent(m[3] ?? '')];
    const runner = source.container(ns, pod, name);
    if (runner === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`container ${name} of pod ${ns}/${pod} is not known to this node`);
      return;
    }
    const previous = url.searchParams.get('previous') === 'true';
    const path = runner.logPath(previous);
    if (!existsSync(path)) {
      res.writeHead(previous ? 400 : 200, { 'content-type': 'text/plain' }).end(previous ? `previous terminated container "${name}" in pod "${pod}" not found` : '');
      return;
    }
    const tail = url.searchParams.get('tailLines');
    const limit = url.searchParams.get('limitBytes');
    let start = tail !== null && /^[0-9]+$/.test(tail) ? tailBytes(path, Number(tail)) : 0;
    const follow = url.searchParams.get('follow') === 'true' && !previous;
    let remaining = limit !== null && /^[0-9]+$/.test(limit) ? Number(limit) : Number.POSITIVE_INFINITY;
    res.writeHead(200, { 'content-type': 'text/plain' });
    const pump = (): void => {
      const size = statSync(path).size;
      if (size > start && remaining > 0) {
        const end = Math.min(size, start + remaining) - 1;
        const stream = createReadStream(path, { start, end });
        remaining -= end - start + 1;
        start = end + 1;
        stream.on('data', (chunk) => res.write(chunk));
        stream.on('end', next);
        stream.on('error', () => res.end());
        return;
      }
      next();
    };
    const next = (): void => {
      if (res.destroyed) return;
      const more = statSync(path).size > start && remaining > 0;
      if (more) { pump(); return; }
      if (!follow || !runner.isRunning || remaining <= 0 || runner.logPath() !== path) { res.end(); return; }
      setTimeout(pump, 250);
    };
    pump();
  });
  server.on('clientError', (error) => log(`kubelet server: ${error.message}`));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('kubelet server: no TCP address');
  return { server, port: address.port };
}

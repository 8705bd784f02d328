/**
 * One probe attempt, as the kubelet's prober does it: httpGet (2xx/3xx is success; host defaults to the pod IP;
 * a named port is looked up in the container's ports), tcpSocket (a connection opens), exec (the command exits
 * 0, run inside the container's namespaces with nsenter and the container's environment). gRPC probes are
 * reported as failures with a message (not implemented).
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import { connect } from 'node:net';
import type { Container, Probe } from './kube.ts';

export interface ProbeResult {
  readonly ok: boolean;
  readonly message: string;
}

export interface ProbeTarget {
  readonly podIp: string;
  readonly container: Container;
  /** PID of the container's main process (its namespaces are entered for exec probes). */
  readonly pid: number | undefined;
  readonly env: Readonly<Record<string, string>>;
}

export function resolvePort(port: number | string, container: Container): number {
  if (typeof port === 'number') return port;
  if (/^[0-9]+$/.test(port)) return Number(port);
  const named = (container.ports ?? []).find((p) => p.name === port);
  if (named === undefined) throw new Error(`probe port "${port}" is not a named port of container ${container.name}`);
  return named.containerPort;
}

function httpProbe(probe: NonNullable<Probe['httpGet']>, port: number, target: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const scheme = (probe.scheme ?? 'HTTP').toUpperCase();
    const host = probe.host ?? target.podIp;
    const headers: Record<string, string> = { 'user-agent': 'kube-probe/millrace-node-agent', accept: '*/*' };
    for (const h of probe.httpHeaders ?? []) headers[h.name.toLowerCase()] = h.value;
    const path = probe.path ?? '/';
    const url = `${scheme.toLowerCase()}://${host}:${port}${path.startsWith('/') ? path : `/${path}`}`;
    const transport = scheme === 'HTTPS' ? https : http;
    const req = transport.request(url, { method: 'GET', headers, timeout: timeoutMs, ...(scheme === 'HTTPS' ? { rejectUnauthorized: false } : {}), agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { if (body.length < 1024) body += c; });
      res.on('end', () => {
        const code = res.statusCode ?? 0;
        resolve(code >= 200 && code < 400 ? { ok: true, message: `HTTP ${code}` } : { ok: false, message: `HTTP probe failed with statuscode: ${code} ${body.trim().slice(0, 200)}` });
      });
      res.on('error', (e) => resolve({ ok: false, message: `Get "${url}": ${e.message}` }));
    });
    req.on('timeout', () => req.destroy(new Error('context deadline exceeded (Client.Timeout exceeded while awaiting headers)')));
    req.on('error', (e) => resolve({ ok: false, message: `Get "${url}": ${e.message}` }));
    req.end();
  });
}

function tcpProbe(probe: NonNullable<Probe['tcpSocket']>, port: number, target: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const host = probe.host ?? target.podIp;
    const socket = connect({ host, port });
    const timer = setTimeout(() => { socket.destroy(); resolve({ ok: false, message: `dial tcp ${host}:${port}: i/o timeout` }); }, timeoutMs);
    socket.once('connect', () => { clearTimeout(timer); socket.destroy(); resolve({ ok: true, message: 'connected' }); });
    socket.once('error', (e) => { clearTimeout(timer); resolve({ ok: false, message: `dial tcp ${host}:${port}: ${e.message}` }); });
  });
}

function execProbe(probe: NonNullable<Probe['exec']>, target: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const command = probe.command ?? [];
    if (command.length === 0) { resolve({ ok: false, message: 'exec probe without a command' }); return; }
    if (target.pid === undefined) { resolve({ ok: false, message: 'container is not running' }); return; }
    const child = spawn('nsenter', ['-t', String(target.pid), '-m', '-u', '--', ...command], { env: { ...target.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => { if (output.length < 2048) output += c.toString('utf8'); });
    child.stderr.on('data', (c: Buffer) => { if (output.length < 2048) output += c.toString('utf8'); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve({ ok: false, message: `command timed out after ${timeoutMs} ms` }); }, timeoutMs);
    child.once('error', (e) => { clearTimeout(timer); resolve({ ok: false, message: e.message }); });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code === 0 ? { ok: true, message: output.trim() } : { ok: false, message: `command ${JSON.stringify(command)} exited with ${code ?? signal}: ${output.trim().slice(0, 300)}` });
    });
  });
}

export function runProbe(probe: Probe, target: ProbeTarget): Promise<ProbeResult> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  const handler = probe.httpGet ?? probe.tcpSocket;
  let port = 0;
  if (handler !== undefined) {
    try {
      port = resolvePort(handler.port, target.container);
    } catch (error) {
      return Promise.resolve({ ok: false, message: (error as Error).message });
    }
  }
  if (probe.httpGet !== undefined) return httpProbe(probe.httpGet, port, target, timeoutMs);
  if (probe.tcpSocket !== undefined) return tcpProbe(probe.tcpSocket, port, target, timeoutMs);
  if (probe.exec !== undefined) return execProbe(probe.exec, target, timeoutMs);
  return Promise.resolve({ ok: false, message: 'unsupported probe handler (gRPC probes are not implemented by the node agent)' });
}

// A recording TCP proxy for the Kafka protocol, on 127.0.0.1.
//
// Bytes are forwarded unchanged and immediately in both directions (the proxy never waits for a whole
// frame before forwarding); a copy of each direction is cut into frames (int32 size + payload) and
// recorded. Requests are decoded only as far as the request header (apiKey, apiVersion, correlationId,
// clientId); responses carry only a correlationId and are paired with the request of the same
// correlation id on the same connection.
//
// Library use (see capture-fixtures.ts):
//   const proxy = await CaptureProxy.start({ targetPort: 9092 });
//   proxy.label = 'kcat';            // frames are tagged with the label current when they pass
//   ... clients connect to 127.0.0.1:proxy.port ...
//   await proxy.close();  proxy.frames
//
// CLI (writes every frame to <out>/<seq>-<conn>-<req|res>-<apiKey>-v<apiVersion>.bin + index.jsonl):
//   node test/tools/capture-proxy.ts --target 127.0.0.1:9092 [--listen 29092] --out /tmp/capture
// Clients only stay on the proxy if the broker advertises the proxy's port (kafka-ref: advertisedPort).
import { mkdirSync, appendFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const HOST = '127.0.0.1';

export type Direction = 'request' | 'response';

export interface CapturedFrame {
  /** Global order in which frames were completed (0-based). */
  readonly seq: number;
  /** Connection number (1-based, in accept order). */
  readonly connection: number;
  readonly direction: Direction;
  /** Label of the proxy when the frame passed (null = not labelled). */
  readonly label: string | null;
  /** For responses: from the paired request; -1 when no request with that correlation id was seen. */
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  /** From the request header (responses: the paired request's). */
  readonly clientId: string | null;
  /** The frame without its 4-byte size prefix: header + body, exactly as on the wire. */
  readonly payload: Buffer;
  /** For a response: seq of its request. For a request: seq of its response (filled in when it arrives). */
  pairedSeq: number | null;
  readonly timeMs: number;
}

export interface CaptureProxyOptions {
  targetHost?: string;
  targetPort: number;
  /** 0 or absent: a free port. */
  listenPort?: number;
  label?: string | null;
  /** Called for each complete frame, in order. */
  onFrame?: (frame: CapturedFrame) => void;
  /** Keep frames in memory (`frames`), default true. */
  keepFrames?: boolean;
  /** Frames above this size are recorded with payload truncated to 0 bytes and noted (default 64 MiB). */
  maxRecordedFrameBytes?: number;
}

interface PendingRequest {
  frame: CapturedFrame;
}

/** Incremental framer: feed chunks, get complete payloads. */
class Framer {
  private chunks: Buffer[] = [];
  private length = 0;

  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.length += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.length < 4) break;
      const head = this.peek(4);
      const size = head.readInt32BE(0);
      if (size < 0) throw new Error(`negative frame size ${size}: not a Kafka stream?`);
      if (this.length < 4 + size) break;
      const all = this.take(4 + size);
      out.push(all.subarray(4));
    }
    return out;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0] !== undefined && this.chunks[0].length >= n) return this.chunks[0].subarray(0, n);
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined.subarray(0, n);
  }

  private take(n: number): Buffer {
    const joined = this.chunks.length === 1 && this.chunks[0] !== undefined ? this.chunks[0] : Buffer.concat(this.chunks);
    const taken = Buffer.from(joined.subarray(0, n)); // a copy, so a kept frame does not pin a large joined buffer
    const rest = joined.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.length -= n;
    return taken;
  }
}

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
}

/** Decodes the request header fields common to all versions (v1/v2 clientId is always int16-length). */
export function parseRequestHeader(payload: Buffer): RequestHeader {
  if (payload.length < 8) throw new Error(`request frame too short for a header (${payload.length} bytes)`);
  const apiKey = payload.readInt16BE(0);
  const apiVersion = payload.readInt16BE(2);
  const correlationId = payload.readInt32BE(4);
  let clientId: string | null = null;
  if (payload.length >= 10) {
    const len = payload.readInt16BE(8);
    if (len >= 0 && payload.length >= 10 + len) clientId = payload.toString('utf8', 10, 10 + len);
  }
  return { apiKey, apiVersion, correlationId, clientId };
}

export class CaptureProxy {
  readonly frames: CapturedFrame[] = [];
  label: string | null;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly options: CaptureProxyOptions;
  private seq = 0;
  private connections = 0;
  private closed = false;
  /** Errors seen while parsing (the bytes were still forwarded). */
  readonly parseErrors: string[] = [];

  private constructor(server: Server, options: CaptureProxyOptions) {
    this.server = server;
    this.options = options;
    this.label = options.label ?? null;
  }

  get port(): number {
    const addr = this.server.address();
    return typeof addr === 'object' && addr !== null ? addr.port : 0;
  }

  get connectionCount(): number {
    return this.connections;
  }

  static async start(options: CaptureProxyOptions): Promise<CaptureProxy> {
    const server = createServer();
    const proxy = new CaptureProxy(server, options);
    server.on('connection', (client) => proxy.accept(client));
    await new Promise<void>((resolvePromise, reject) => {
      server.once('error', reject);
      server.listen(options.listenPort ?? 0, HOST, () => {
        server.removeListener('error', reject);
        resolvePromise();
      });
    });
    return proxy;
  }

  /** Stops accepting, destroys open connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolvePromise) => this.server.close(() => resolvePromise()));
  }

  private accept(client: Socket): void {
    const connection = ++this.connections;
    const upstream = connect({ host: this.options.targetHost ?? HOST, port: this.options.targetPort });
    this.sockets.add(client);
    this.sockets.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const pending = new Map<number, PendingRequest>();
    const reqFramer = new Framer();
    const resFramer = new Framer();
    let reqBroken = false;
    let resBroken = false;

    client.on('data', (chunk: Buffer) => {
      if (reqBroken) return;
      try {
        for (const payload of reqFramer.push(chunk)) this.onRequest(connection, payload, pending);
      } catch (err) {
        reqBroken = true;
        this.parseErrors.push(`connection ${connection} requests: ${(err as Error).message}`);
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      if (resBroken) return;
      try {
        for (const payload of resFramer.push(chunk)) this.onResponse(connection, payload, pending);
      } catch (err) {
        resBroken = true;
        this.parseErrors.push(`connection ${connection} responses: ${(err as Error).message}`);
      }
    });
    // Forwarding (with backpressure) is independent of the parsing above.
    client.pipe(upstream);
    upstream.pipe(client);
    const cleanup = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', cleanup);
    upstream.on('error', cleanup);
    client.on('close', cleanup);
    upstream.on('close', cleanup);
  }

  private record(frame: CapturedFrame): void {
    if (this.options.keepFrames ?? true) this.frames.push(frame);
    this.options.onFrame?.(frame);
  }

  private clip(payload: Buffer): Buffer {
    const max = this.options.maxRecordedFrameBytes ?? 64 * 1024 * 1024;
    return payload.length > max ? Buffer.alloc(0) : payload;
  }

  private onRequest(connection: number, payload: Buffer, pending: Map<number, PendingRequest>): void {
    const header = parseRequestHeader(payload);
    const frame: CapturedFrame = {
      seq: this.seq++,
      connection,
      direction: 'request',
      label: this.label,
      apiKey: header.apiKey,
      apiVersion: header.apiVersion,
      correlationId: header.correlationId,
      clientId: header.clientId,
      payload: this.clip(payload),
      pairedSeq: null,
      timeMs: Date.now(),
    };
    pending.set(header.correlationId, { frame });
    this.record(frame);
  }

  private onResponse(connection: number, payload: Buffer, pending: Map<number, PendingRequest>): void {
    if (payload.length < 4) throw new Error(`response frame too short (${payload.length} bytes)`);
    const correlationId = payload.readInt32BE(0);
    const req = pending.get(correlationId);
    pending.delete(correlationId);
    const frame: CapturedFrame = {
      seq: this.seq++,
      connection,
      direction: 'response',
      label: this.label,
      apiKey: req?.frame.apiKey ?? -1,
      apiVersion: req?.frame.apiVersion ?? -1,
      correlationId,
      clientId: req?.frame.clientId ?? null,
      payload: this.clip(payload),
      pairedSeq: req?.frame.seq ?? null,
      timeMs: Date.now(),
    };
    if (req !== undefined) req.frame.pairedSeq = frame.seq;
    else this.parseErrors.push(`connection ${connection}: response with unknown correlation id ${correlationId}`);
    this.record(frame);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      target: { type: 'string' },
      listen: { type: 'string', default: '0' },
      out: { type: 'string' },
    },
  });
  const target = values.target;
  const out = values.out;
  if (target === undefined || out === undefined) {
    console.error('usage: capture-proxy.ts --target 127.0.0.1:<brokerPort> [--listen <port>] --out <dir>');
    process.exit(2);
  }
  const m = /^(127\.\d+\.\d+\.\d+|localhost):(\d+)$/.exec(target);
  if (m?.[1] === undefined || m[2] === undefined) {
    console.error(`--target must be a loopback host:port (127.x.x.x or localhost), got ${target}`);
    process.exit(2);
  }
  mkdirSync(out, { recursive: true });
  const index = join(out, 'index.jsonl');
  writeFileSync(index, '');
  let count = 0;
  const proxy = await CaptureProxy.start({
    targetHost: m[1],
    targetPort: Number(m[2]),
    listenPort: Number(values.listen),
    keepFrames: false,
    onFrame: (f) => {
      const dir = f.direction === 'request' ? 'req' : 'res';
      const file = `${String(f.seq).padStart(6, '0')}-c${f.connection}-${dir}-${f.apiKey}-v${f.apiVersion}.bin`;
      writeFileSync(join(out, file), f.payload);
      const { payload: _payload, ...meta } = f;
      appendFileSync(index, JSON.stringify({ file, size: f.payload.length, ...meta }) + '\n');
      if (++count % 100 === 0) console.error(`[capture-proxy] ${count} frames recorded`);
    },
  });
  console.error(`[capture-proxy] listening on ${HOST}:${proxy.port}, forwarding to ${target}, writing frames to ${out}; Ctrl-C to stop`);
  const stop = (): void => {
    void proxy.close().then(() => {
      console.error(`[capture-proxy] stopped after ${count} frames (${proxy.connectionCount} connections)`);
      for (const e of proxy.parseErrors) console.error(`[capture-proxy] parse error: ${e}`);
      process.exit(0);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (import.meta.main) await main();

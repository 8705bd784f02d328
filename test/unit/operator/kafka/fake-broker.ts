/**
 * A scripted Kafka protocol server on the generated codec, for the admin client's protocol paths a real
 * broker does not produce on demand: NOT_CONTROLLER, old version ranges, a broker that never answers, a
 * connection dropped mid-request.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { beginResponseFrame, finishFrame, parseRequestFrame } from '../../../../broker/src/protocol/framing.ts';
import { API_SPECS, defaultMetadataResponse, type ApiKey } from '../../../../broker/src/protocol/generated/index.ts';
import type { VersionRange } from '../../../../operator/src/kafka/versions.ts';

export interface ReceivedRequest {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly request: unknown;
}

/** What to do with a request: answer it, never answer, or close the connection. */
export type Reply = { readonly response: unknown } | 'hang' | 'close';

export interface FakeBrokerOptions {
  /** Advertised ranges; ApiVersions and Metadata are added with the codec's ranges when missing. */
  readonly ranges?: ReadonlyMap<number, VersionRange>;
  /** Highest ApiVersions version the fake understands; above it, UNSUPPORTED_VERSION with a v0 body. */
  readonly apiVersionsMax?: number;
  /** Answers every request except ApiVersions (and Metadata, unless it returns undefined for it). */
  readonly handle?: (apiKey: number, apiVersion: number, request: unknown) => Reply | undefined;
}

export interface FakeBroker {
  readonly port: number;
  readonly received: ReceivedRequest[];
  close(): Promise<void>;
}

export async function startFakeBroker(options: FakeBrokerOptions = {}): Promise<FakeBroker> {
  const received: ReceivedRequest[] = [];
  const sockets = new Set<Socket>();
  const ranges = new Map(options.ranges ?? []);
  if (!ranges.has(18)) ranges.set(18, { min: 0, max: options.apiVersionsMax ?? 4 });
  if (!ranges.has(3)) ranges.set(3, { min: 0, max: 12 });
  let port = 0;

  const answer = (socket: Socket, apiKey: number, apiVersion: number, correlationId: number, response: unknown): void => {
    const w = beginResponseFrame(apiKey, apiVersion, correlationId);
    (API_SPECS[apiKey as ApiKey].response.write as (w: unknown, v: unknown, version: number) => void)(w, response, apiVersion);
    socket.write(Buffer.concat(finishFrame(w)));
  };

  const onFrame = (socket: Socket, frame: Buffer): void => {
    const { header, body } = parseRequestFrame(frame);
    const { requestApiKey: apiKey, requestApiVersion: apiVersion, correlationId } = header;
    if (apiKey === 18) {
      const apiKeys = [...ranges].map(([k, r]) => ({ apiKey: k, minVersion: r.min, maxVersion: r.max }));
      const max = options.apiVersionsMax ?? 4;
      received.push({ apiKey, apiVersion, request: null });
      if (apiVersion > max) {
        answer(socket, 18, 0, correlationId, { ...API_SPECS[18].response.create(), errorCode: 35, apiKeys });
      } else {
        answer(socket, 18, apiVersion, correlationId, { ...API_SPECS[18].response.create(), apiKeys });
      }
      return;
    }
    const request: unknown = API_SPECS[apiKey as ApiKey].request.read(body, apiVersion);
    received.push({ apiKey, apiVersion, request });
    let reply = options.handle?.(apiKey, apiVersion, request);
    if (reply === undefined && apiKey === 3) {
      reply = { response: { ...defaultMetadataResponse(), clusterId: 'fake', controllerId: 1, brokers: [{ nodeId: 1, host: '127.0.0.1', port, rack: null }] } };
    }
    if (reply === undefined) throw new Error(`fake broker: no reply for API ${apiKey} v${apiVersion}`);
    if (reply === 'hang') return;
    if (reply === 'close') { socket.destroy(); return; }
    answer(socket, apiKey, apiVersion, correlationId, reply.response);
  };

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4) {
        const size = buffered.readInt32BE(0);
        if (buffered.length < size + 4) return;
        const frame = buffered.subarray(4, size + 4);
        buffered = buffered.subarray(size + 4);
        onFrame(socket, frame);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fake broker: no port');
  port = address.port;
  return {
    port,
    received,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

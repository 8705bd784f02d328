import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { SocketServer } from '../../../broker/src/server/socket-server.ts';
import { KAFKA_40_BROKER_RANGES, advertisedVersions } from '../../../broker/src/server/api-versions.ts';
import { createApiVersionsHandler } from '../../../broker/src/api/api-versions-handler.ts';
import { createMetadataHandler } from '../../../broker/src/api/metadata-handler.ts';
import { MetadataImage } from '../../../broker/src/metadata/metadata-image.ts';
import { metadataRecord } from '../../../broker/src/metadata/metadata-record.ts';
import { KafkaConnection } from '../../../broker/src/client/kafka-connection.ts';
import { defaultApiVersionsRequest, defaultMetadataRequest, type HandlerTable } from '../../../broker/src/protocol/index.ts';
import { ErrorCode } from '../../../broker/src/protocol/error-codes.ts';
import { Writer } from '../../../broker/src/protocol/wire/writer.ts';

const image = new MetadataImage();
image.applyBatch([
  metadataRecord(0, {
    brokerId: 1, isMigratingZkBroker: false, incarnationId: 'AAAAAAAAAAAAAAAAAAAAAg', brokerEpoch: 5n,
    endPoints: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092, securityProtocol: 0 }], features: [], rack: null,
    fenced: false, inControlledShutdown: false, logDirs: [],
  }),
], 0n);

const handlers: HandlerTable = {};
const advertised = advertisedVersions([3, 18], KAFKA_40_BROKER_RANGES);
handlers[18] = createApiVersionsHandler({ advertised: () => advertised, supportedFeatures: [], finalizedFeatures: () => ({ epoch: 0n, levels: new Map() }) });
handlers[3] = createMetadataHandler({ image, clusterId: () => 'test-cluster', controllerId: () => 1, autoCreateTopicsEnabled: () => false, autoCreateTopics: async () => {} });

let server: SocketServer;
let port = 0;
const open = (): Promise<KafkaConnection> => KafkaConnection.open({ host: '127.0.0.1', port, requestTimeoutMs: 5000 });

beforeAll(async () => {
  server = new SocketServer({
    listenerName: 'PLAINTEXT', host: '127.0.0.1', port: 0, maxRequestBytes: 1024 * 1024, idleTimeoutMs: 60_000, handlers,
    acceptsVersion: (apiKey, v) => { const r = advertised.get(apiKey); return r !== undefined && v >= r.min && v <= r.max; },
    logger: pino({ level: 'silent' }),
  });
  port = await server.listen();
});
afterAll(async () => { await server.close(); });

describe('socket server', () => {
  it('answers ApiVersions at every version with the advertised ranges', async () => {
    const c = await open();
    for (let v = 0; v <= 4; v++) {
      const res = await c.send(18, v, { ...defaultApiVersionsRequest(), clientSoftwareName: 'test', clientSoftwareVersion: '1.0' });
      expect(res.errorCode).toBe(ErrorCode.NONE);
      expect(res.apiKeys.map((k) => [k.apiKey, k.minVersion, k.maxVersion])).toEqual([[3, 0, 12], [18, 0, 4]]);
    }
    c.close();
  });

  it('answers an ApiVersions version above its range with UNSUPPORTED_VERSION in a v0 body (KIP-511)', async () => {
    const c = await open();
    const frame = await c.sendRaw(18, 99, (w) => { w.int8(0); });
    // Response header v0 (correlation id) then the v0 body: error code, ApiKeys.
    expect(frame.readInt16BE(4)).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect(frame.readInt32BE(6)).toBe(2);
    c.close();
  });

  it('answers INVALID_REQUEST to a malformed client software name', async () => {
    const c = await open();
    const res = await c.send(18, 3, { ...defaultApiVersionsRequest(), clientSoftwareName: '-bad', clientSoftwareVersion: '1' });
    expect(res.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    c.close();
  });

  it('answers pipelined requests in order', async () => {
    const c = await open();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      i % 2 === 0 ? c.send(3, 12, { ...defaultMetadataRequest(), topics: null }).then(() => i) : c.send(18, 4, defaultApiVersionsRequest()).then(() => i)));
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i));
    c.close();
  });

  it('lists brokers for the listener and the controller id in Metadata', async () => {
    const c = await open();
    const res = await c.send(3, 12, { ...defaultMetadataRequest(), topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'nope' }] });
    expect(res.brokers.map((b) => [b.nodeId, b.host, b.port])).toEqual([[1, '127.0.0.1', 9092]]);
    expect(res.controllerId).toBe(1);
    expect(res.clusterId).toBe('test-cluster');
    expect(res.topics[0]?.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    c.close();
  });

  it('closes the connection on a frame above socket.request.max.bytes, and on a negative size', async () => {
    for (const size of [1024 * 1024 + 1, -5]) {
      const c = await open();
      const head = Buffer.alloc(4);
      head.writeInt32BE(size);
      c.writeRaw(head);
      await c.waitClosed();
      expect(c.isClosed).toBe(true);
    }
    // The server still serves new connections.
    const c = await open();
    expect((await c.send(18, 0, defaultApiVersionsRequest())).errorCode).toBe(0);
    c.close();
  });

  it('closes the connection on an unknown API key, an unadvertised version, or a malformed body', async () => {
    const attempts: [number, number, (w: Writer) => void][] = [
      [999, 0, () => {}],
      [3, 13, () => {}],
      [1, 4, () => {}],
      [3, 1, (w) => { w.int32(5); }],
    ];
    for (const [apiKey, version, body] of attempts) {
      const c = await open();
      await expect(c.sendRaw(apiKey, version, body)).rejects.toThrow(/closed/);
    }
    expect(server.connectionCount).toBeLessThanOrEqual(1);
  });
});

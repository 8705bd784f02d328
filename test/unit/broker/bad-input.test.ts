/**
 * Bad input against the real broker process: each gets Kafka's reaction (an error code, or a closed
 * connection where nothing else is possible), and the broker keeps serving other connections.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { KafkaConnection } from '../../../broker/src/client/kafka-connection.ts';
import { buildRecordBatch } from '../../../broker/src/protocol/records/index.ts';
import { ErrorCode } from '../../../broker/src/protocol/error-codes.ts';
import { defaultApiVersionsRequest, defaultCreateTopicsRequest, defaultProduceRequest } from '../../../broker/src/protocol/generated/index.ts';
import { freePorts, startBrokerProcess, type BrokerProcess } from './broker-process.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'millrace-bad-'));
let broker: BrokerProcess;
let good: KafkaConnection;

beforeAll(async () => {
  broker = await startBrokerProcess(dataDir, await freePorts(3), ['socket.request.max.bytes=1048576', 'message.max.bytes=10000']);
  good = await KafkaConnection.open({ host: '127.0.0.1', port: broker.port });
  await good.send(19, 7, { ...defaultCreateTopicsRequest(), timeoutMs: 5000, topics: [{ name: 'bad', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }] });
}, 60_000);

afterAll(async () => {
  good.close();
  broker.child.kill('SIGTERM');
  const exit = await broker.exited;
  rmSync(dataDir, { recursive: true, force: true });
  // The broker never crashed: it shut down cleanly at the end.
  expect(exit.code, broker.output()).toBe(0);
});

/** Sends raw bytes on a fresh socket; resolves true when the broker closes it. */
function sendRaw(bytes: Buffer, waitMs = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port: broker.port }, () => s.write(bytes));
    const timer = setTimeout(() => { s.destroy(); resolve(false); }, waitMs);
    s.on('data', () => undefined);
    s.on('close', () => { clearTimeout(timer); resolve(true); });
    s.on('error', () => undefined);
  });
}

const frame = (body: Buffer): Buffer => { const head = Buffer.alloc(4); head.writeInt32BE(body.length); return Buffer.concat([head, body]); };

async function produce(records: Buffer) {
  const res = await good.send(0, 9, { ...defaultProduceRequest(), acks: 1, timeoutMs: 5000, topicData: [{ name: 'bad', partitionData: [{ index: 0, records }] }] });
  return res.responses[0]?.partitionResponses[0];
}

describe('bad input', () => {
  it('closes the connection on garbage, oversize and negative frame sizes, unknown API keys and unsupported versions', async () => {
    expect(await sendRaw(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))).toBe(true);
    expect(await sendRaw(Buffer.from([0x7f, 0xff, 0xff, 0xff]))).toBe(true);
    expect(await sendRaw(Buffer.from([0xff, 0xff, 0xff, 0xfe]))).toBe(true);
    expect(await sendRaw(frame(Buffer.from('7fff0000000000010000', 'hex')))).toBe(true);
    expect(await sendRaw(frame(Buffer.from('0003007f0000000100000000', 'hex')))).toBe(true);
    // A Metadata v1 body claiming more topics than it holds.
    expect(await sendRaw(frame(Buffer.from('00030001000000010000' + '7fffffff', 'hex')))).toBe(true);
  });

  it('waits for the rest of a truncated frame without answering, and stays usable for others', async () => {
    expect(await sendRaw(Buffer.from('0000001000120000', 'hex'), 500)).toBe(false);
    expect((await good.send(18, 3, { ...defaultApiVersionsRequest(), clientSoftwareName: 'test', clientSoftwareVersion: '1' })).errorCode).toBe(0);
  });

  it('answers CORRUPT_MESSAGE to a batch with a bad CRC and MESSAGE_TOO_LARGE to an oversize batch', async () => {
    const batch = buildRecordBatch({ records: [{ key: null, value: Buffer.from('x') }] });
    batch.writeUInt8(batch.readUInt8(batch.length - 1) ^ 0xff, batch.length - 1);
    expect((await produce(batch))?.errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
    const big = buildRecordBatch({ records: [{ key: null, value: Buffer.alloc(20_000, 1) }] });
    expect((await produce(big))?.errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    const fine = buildRecordBatch({ records: [{ key: null, value: Buffer.from('ok') }] });
    expect((await produce(fine))?.errorCode).toBe(ErrorCode.NONE);
  });
});

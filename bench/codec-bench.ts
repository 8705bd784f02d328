/**
 * Codec benchmark (a script, not a test): Produce request decode and Fetch response encode rates, each
 * beside baselines measured in the same run on the same bytes (Buffer.copy and Buffer.compare), so the
 * figures read as a fraction of what this machine can move.
 *
 *   npm run bench:codec            (about 15 s)
 */
import { randomBytes } from 'node:crypto';
import { Reader } from '../broker/src/protocol/wire/reader.ts';
import { Writer } from '../broker/src/protocol/wire/writer.ts';
import {
  defaultFetchResponse, defaultFetchResponseFetchableTopicResponse, defaultFetchResponsePartitionData,
  defaultProduceRequest, defaultProduceRequestPartitionProduceData, defaultProduceRequestTopicProduceData,
  readProduceRequest, writeFetchResponse, writeProduceRequest,
} from '../broker/src/protocol/generated/index.ts';
import { measure, printRow } from './bench-util.ts';

const budgetMs = Number(process.env['BENCH_MS'] ?? 2000);

function produceRequest(partitions: number, batchBytes: number, version: number): Buffer {
  const req = defaultProduceRequest();
  req.acks = -1;
  req.timeoutMs = 30_000;
  const topic = defaultProduceRequestTopicProduceData();
  topic.name = 'bench-topic';
  for (let p = 0; p < partitions; p++) {
    const data = defaultProduceRequestPartitionProduceData();
    data.index = p;
    data.records = randomBytes(batchBytes);
    topic.partitionData.push(data);
  }
  req.topicData.push(topic);
  const w = new Writer(partitions * batchBytes + 1024, Number.MAX_SAFE_INTEGER);
  writeProduceRequest(w, req, version);
  return w.toBuffer();
}

console.log(`codec benchmark: node ${process.version}, ${budgetMs} ms per figure\n`);

for (const [partitions, batchBytes] of [[1, 16_384], [8, 16_384], [64, 1_024]] as const) {
  for (const version of [7, 9]) {
    const frame = produceRequest(partitions, batchBytes, version);
    const copyTarget = Buffer.allocUnsafe(frame.length);
    const twin = Buffer.from(frame);
    const copy = measure(frame.length, budgetMs, () => { frame.copy(copyTarget); });
    const compare = measure(frame.length, budgetMs, () => { if (frame.compare(twin) !== 0) throw new Error('differs'); });
    const decode = measure(frame.length, budgetMs, () => { readProduceRequest(new Reader(frame), version); });
    console.log(`Produce v${version} request, ${partitions} partition(s) x ${batchBytes} B records (${frame.length} B):`);
    printRow('  baseline Buffer.copy', copy);
    printRow('  baseline Buffer.compare', compare);
    printRow('  decode (records zero-copy)', decode, copy);
  }
}

for (const [partitions, batchBytes] of [[1, 1_048_576], [16, 65_536], [256, 512]] as const) {
  const version = 12;
  const res = defaultFetchResponse();
  const topic = defaultFetchResponseFetchableTopicResponse();
  topic.topicId = Buffer.alloc(16, 1).toString('base64url');
  for (let p = 0; p < partitions; p++) {
    const data = defaultFetchResponsePartitionData();
    data.partitionIndex = p;
    data.highWatermark = 1_000_000n;
    data.lastStableOffset = 1_000_000n;
    data.records = randomBytes(batchBytes);
    topic.partitions.push(data);
  }
  res.responses.push(topic);
  const probe = new Writer();
  writeFetchResponse(probe, res, version);
  const size = probe.length;
  const source = Buffer.concat(probe.chunks());
  const target = Buffer.allocUnsafe(size);
  const copy = measure(size, budgetMs, () => { source.copy(target); });
  const encode = measure(size, budgetMs, () => { const w = new Writer(512); writeFetchResponse(w, res, version); w.chunks(); });
  console.log(`Fetch v${version} response, ${partitions} partition(s) x ${batchBytes} B records (${size} B):`);
  printRow('  baseline Buffer.copy of the response bytes', copy);
  printRow('  encode (records referenced, not copied)', encode, copy);
}

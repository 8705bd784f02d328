/**
 * Record batch throughput, each figure beside baselines measured in the same run on the same bytes:
 * Buffer.copy (a memory-bandwidth ceiling for touching every byte once) and Buffer.compare (two streams read).
 * "x copy" is the operation's throughput as a fraction of copying those bytes.
 *
 * Run: node bench/records-bench.ts   (about 20-30 s; a script, not a test: it never fails on time)
 */
import { crc32c } from '@node-rs/crc32';
import {
  buildRecordBatch,
  Compression,
  type CompressionType,
  type RecordInput,
  validateRecords,
} from '../broker/src/protocol/records/index.ts';

// 960 records of ~1066 bytes keep the batch under the default max.message.bytes (1048588).
const RECORD_COUNT = 960;
const VALUE_BYTES = 1024;
const ROUND_MS = 250;
const ROUNDS = 5;
const CODEC_NAMES: Record<CompressionType, string> = { 0: 'none', 1: 'gzip', 2: 'snappy', 3: 'lz4', 4: 'zstd' };

/** JSON-like 1 KB values: compressible about 3-5x with every codec, like typical event payloads. */
function makeRecords(): RecordInput[] {
  let x = 0x9e3779b9;
  const next = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  const words = ['"order"', '"customer"', '"status":"shipped"', '"currency":"EUR"', '"sku":', '"region":"eu-west-1"', '"qty":'];
  const now = BigInt(Date.now());
  return Array.from({ length: RECORD_COUNT }, (_, i) => {
    let text = '{';
    while (text.length < VALUE_BYTES) text += `${words[next() % words.length]}${next().toString(36)},`;
    return {
      key: Buffer.from(`customer-${next() % 5000}`),
      value: Buffer.from(text.slice(0, VALUE_BYTES)),
      headers: [{ key: 'trace-id', value: Buffer.from(next().toString(16)) }],
      timestampMs: now + BigInt(i),
    };
  });
}

/** Median MB/s of `fn` processing `bytes` bytes per call. */
function throughput(bytes: number, fn: () => void): number {
  for (let i = 0; i < 3; i++) fn();
  const rates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let calls = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < ROUND_MS) {
      fn();
      calls++;
      elapsed = performance.now() - start;
    }
    rates.push((bytes * calls) / (elapsed / 1000) / 1e6);
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)]!;
}

interface Baseline {
  copyMBs: number;
  compareMBs: number;
}

const baselines = new Map<Buffer, Baseline>();
function baselineFor(bytes: Buffer): Baseline {
  let baseline = baselines.get(bytes);
  if (baseline === undefined) {
    const target = Buffer.allocUnsafe(bytes.length);
    const twin = Buffer.from(bytes);
    baseline = {
      copyMBs: throughput(bytes.length, () => void bytes.copy(target)),
      compareMBs: throughput(bytes.length, () => {
        if (bytes.compare(twin) !== 0) throw new Error('baseline buffers differ');
      }),
    };
    baselines.set(bytes, baseline);
  }
  return baseline;
}

const rows: string[][] = [];
function report(operation: string, bytes: Buffer, mbs: number, note = ''): void {
  const { copyMBs, compareMBs } = baselineFor(bytes);
  rows.push([operation, String(bytes.length), mbs.toFixed(0), copyMBs.toFixed(0), (mbs / copyMBs).toFixed(3), compareMBs.toFixed(0), (mbs / compareMBs).toFixed(3), note]);
}

const records = makeRecords();
const batches = new Map<CompressionType, Buffer>();
for (const codec of [Compression.none, Compression.gzip, Compression.snappy, Compression.lz4, Compression.zstd] as const) {
  batches.set(codec, buildRecordBatch({ compression: codec, producerId: 1n, producerEpoch: 0, baseSequence: 0, records }));
}
const plain = batches.get(Compression.none)!;
const recordsMBs = (wireMBs: number, batch: Buffer): string => `${((wireMBs * plain.length) / batch.length).toFixed(0)} MB/s of uncompressed records`;

report('crc32c (@node-rs/crc32)', plain, throughput(plain.length, () => void crc32c(plain)));

for (const [codec, batch] of batches) {
  const check = validateRecords(batch);
  if (!check.ok) throw new Error(`bench batch invalid: ${check.message}`);
  const mbs = throughput(batch.length, () => {
    if (!validateRecords(batch).ok) throw new Error('validation failed');
  });
  const perRecord = `${((mbs * 1e6) / batch.length * RECORD_COUNT / 1e6).toFixed(2)} M records/s`;
  report(`validateRecords ${CODEC_NAMES[codec]}`, batch, mbs, codec === Compression.none ? perRecord : `${perRecord}; ${recordsMBs(mbs, batch)}`);
}

for (const [codec, batch] of batches) {
  // Build throughput is counted on the uncompressed batch size (the bytes the caller hands in), baseline on those.
  const mbs = throughput(plain.length, () => void buildRecordBatch({ compression: codec, records }));
  report(`buildRecordBatch ${CODEC_NAMES[codec]}`, plain, mbs, codec === Compression.none ? '' : `output ${batch.length} bytes`);
}

const header = ['operation', 'bytes', 'MB/s', 'copy MB/s', 'x copy', 'compare MB/s', 'x compare', 'note'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]): string => cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
console.log(`records bench: ${RECORD_COUNT} records x ${VALUE_BYTES} B values per batch, Node ${process.version}, median of ${ROUNDS} x ${ROUND_MS} ms`);
console.log(line(header));
for (const row of rows) console.log(line(row));

/**
 * Golden fixtures written by Apache Kafka's own Java client (kafka-clients 4.0.0, MemoryRecordsBuilder and
 * MemoryRecords.withEndTransactionMarker; lz4-java 1.8.0, snappy-java 1.1.10.5, zstd-jni 1.5.6-6):
 * 220 records with null keys/values, headers (one with a non-ASCII key and a null value) and timestamps on
 * both sides of the base, once per codec, plus a COMMIT marker. java-digests.txt holds Java's own digest of
 * the records: sha256 over lines `offset|timestamp|keyHex|valueHex|hKey=hValueHex;...\n` ("null" for null).
 * The generator is fixtures/GenerateFixtures.java; it can also read batches back to check Java accepts ours.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  buildRecordBatch,
  buildTxnMarkerBatch,
  Compression,
  type CompressionType,
  ControlRecordType,
  forEachHeader,
  forEachRecord,
  readBaseOffset,
  readBaseTimestamp,
  readControlRecordType,
  readEndTxnMarkerCoordinatorEpoch,
  readHeaders,
  readMaxTimestamp,
  recordKey,
  recordValue,
  type RecordInput,
  validateRecords,
} from '../../../broker/src/protocol/records/index.ts';

const fixture = (name: string): Buffer => readFileSync(new URL(`fixtures/${name}`, import.meta.url));
const JAVA_FILES: ReadonlyArray<[string, CompressionType]> = [
  ['java-none.bin', Compression.none],
  ['java-gzip.bin', Compression.gzip],
  ['java-snappy.bin', Compression.snappy],
  ['java-lz4.bin', Compression.lz4],
  ['java-zstd.bin', Compression.zstd],
];
const digests = new Map(
  fixture('java-digests.txt')
    .toString()
    .trim()
    .split('\n')
    .map((line) => {
      const [name, count, sha] = line.split(' ');
      return [name!, { count: Number(count), sha: sha! }] as const;
    }),
);

/** The same digest the Java generator computed, from our record walker. */
function digest(batch: Buffer): { count: number; sha: string } {
  const hash = createHash('sha256');
  const baseOffset = readBaseOffset(batch, 0);
  const baseTimestamp = readBaseTimestamp(batch, 0);
  let count = 0;
  forEachRecord(batch, 0, (r) => {
    let line = `${baseOffset + BigInt(r.offsetDelta)}|${baseTimestamp + BigInt(r.timestampDelta)}|${recordKey(r)?.toString('hex') ?? 'null'}|${recordValue(r)?.toString('hex') ?? 'null'}|`;
    forEachHeader(r, (buf, keyOffset, keyLength, valueOffset, valueLength) => {
      line += `${buf.toString('utf8', keyOffset, keyOffset + keyLength)}=${valueLength < 0 ? 'null' : buf.toString('hex', valueOffset, valueOffset + valueLength)};`;
    });
    hash.update(`${line}\n`);
    count++;
  });
  return { count, sha: hash.digest('hex') };
}

function recordsOf(batch: Buffer): RecordInput[] {
  const base = readBaseTimestamp(batch, 0);
  const records: RecordInput[] = [];
  forEachRecord(batch, 0, (r) => {
    const key = recordKey(r);
    const value = recordValue(r);
    records.push({
      key: key && Buffer.from(key),
      value: value && Buffer.from(value),
      headers: readHeaders(r).map((h) => ({ key: h.key, value: h.value && Buffer.from(h.value) })),
      timestampMs: base + BigInt(r.timestampDelta),
    });
  });
  return records;
}

describe('batches written by the Java client', () => {
  it.each(JAVA_FILES)('%s validates and yields exactly the records Java wrote', (name, compression) => {
    const batch = fixture(name);
    const result = validateRecords(batch);
    expect(result.ok ? 'ok' : result.message).toBe('ok');
    if (!result.ok) return;
    expect(result.first).toMatchObject({ compression, recordCount: 220, producerId: 4242n, producerEpoch: 3, baseSequence: 17 });
    expect(result.maxTimestampMs).toBe(readMaxTimestamp(batch, 0));
    expect(digest(batch)).toEqual(digests.get(name));
  });

  it('our builder reproduces the Java uncompressed batch byte for byte', () => {
    const java = fixture('java-none.bin');
    const ours = buildRecordBatch({ producerId: 4242n, producerEpoch: 3, baseSequence: 17, records: recordsOf(java) });
    expect(ours.toString('hex')).toBe(java.toString('hex'));
  });

  it.each(JAVA_FILES)('our %s equivalent round-trips to the same digest', (name, compression) => {
    const ours = buildRecordBatch({ compression, producerId: 4242n, producerEpoch: 3, baseSequence: 17, records: recordsOf(fixture('java-none.bin')) });
    expect(digest(ours)).toEqual(digests.get(name));
  });

  it('our COMMIT marker is byte-identical to MemoryRecords.withEndTransactionMarker', () => {
    const java = fixture('java-commit-marker.bin');
    const ours = buildTxnMarkerBatch({ producerId: 4242n, producerEpoch: 3, commit: true, coordinatorEpoch: 9, timestampMs: 1_700_000_000_000n });
    expect(ours.toString('hex')).toBe(java.toString('hex'));
    const seen: number[] = [];
    forEachRecord(java, 0, (r) => {
      seen.push(readControlRecordType(r.buf, r.keyOffset, r.keyLength), readEndTxnMarkerCoordinatorEpoch(r.buf, r.valueOffset, r.valueLength));
    });
    expect(seen).toEqual([ControlRecordType.commit, 9]);
    expect(validateRecords(java, { origin: 'replication', walkRecords: true }).ok).toBe(true);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, KafkaProtocolError } from '../../../broker/src/protocol/error-codes.ts';
import {
  BATCH_HEADER_BYTES,
  buildRecordBatch,
  Compression,
  type CompressionType,
  forEachRecord,
  readBaseTimestamp,
  readHeaders,
  readLastOffsetDelta,
  readMaxTimestamp,
  readRecordsCount,
  recordKey,
  recordValue,
  type RecordInput,
  validateRecords,
} from '../../../broker/src/protocol/records/index.ts';

const CODECS: readonly CompressionType[] = [Compression.none, Compression.gzip, Compression.snappy, Compression.lz4, Compression.zstd];

const nullableBytes = (maxLength: number): fc.Arbitrary<Buffer | null> =>
  fc.option(fc.uint8Array({ maxLength }).map((a) => Buffer.from(a)), { nil: null, freq: 4 });

const BASE_TS = 1_700_000_000_000n;

/** Timestamps around BASE_TS including negative, > int32 and beyond-2^53 deltas. */
const timestampArb: fc.Arbitrary<bigint> = fc.oneof(
  fc.bigInt({ min: BASE_TS - 1000n, max: BASE_TS + 1000n }),
  fc.bigInt({ min: BASE_TS - 2n ** 40n, max: BASE_TS + 2n ** 40n }),
  fc.constantFrom(0n, BASE_TS + 2n ** 31n, BASE_TS - 2n ** 31n - 1n, BigInt(Number.MAX_SAFE_INTEGER), 2n ** 62n),
);

// timestampMs is left out of some records: they take the batch BaseTimestamp.
const recordArb: fc.Arbitrary<RecordInput> = fc.record(
  {
    key: nullableBytes(40),
    value: nullableBytes(300),
    headers: fc.array(fc.record({ key: fc.string({ maxLength: 12, unit: 'grapheme' }), value: nullableBytes(20) }), { maxLength: 3 }),
    timestampMs: timestampArb,
  },
  { requiredKeys: ['key', 'value', 'headers'] },
);

interface DecodedRecord {
  offsetDelta: number;
  timestampMs: bigint;
  key: string | null;
  value: string | null;
  headers: Array<[string, string | null]>;
}

function decodeAll(batch: Buffer): DecodedRecord[] {
  const base = readBaseTimestamp(batch, 0);
  const out: DecodedRecord[] = [];
  forEachRecord(batch, 0, (r) => {
    out.push({
      offsetDelta: r.offsetDelta,
      timestampMs: base + BigInt(r.timestampDelta),
      key: recordKey(r)?.toString('hex') ?? null,
      value: recordValue(r)?.toString('hex') ?? null,
      headers: readHeaders(r).map((h) => [h.key, h.value?.toString('hex') ?? null]),
    });
  });
  return out;
}

describe('build -> iterate round trip', () => {
  it.each(CODECS.map((c) => [c] as const))('codec %i: random records survive byte for byte', (compression) => {
    fc.assert(
      fc.property(fc.array(recordArb, { minLength: 1, maxLength: 25 }), fc.option(fc.bigInt({ min: 0n, max: 2n ** 42n }), { nil: undefined }), (records, baseTimestampMs) => {
        const batch = buildRecordBatch({ compression, records, ...(baseTimestampMs === undefined ? {} : { baseTimestampMs }) });
        const base = readBaseTimestamp(batch, 0);
        expect(base).toBe(baseTimestampMs ?? records[0]!.timestampMs ?? base);
        // RecordView.timestampDelta is a number: deltas beyond ±(2^53-1) ms are refused, never rounded.
        const unsafeDelta = records.some((r) => {
          const delta = (r.timestampMs ?? base) - base;
          return delta > BigInt(Number.MAX_SAFE_INTEGER) || -delta > BigInt(Number.MAX_SAFE_INTEGER);
        });
        if (unsafeDelta) {
          expect(() => decodeAll(batch)).toThrow(/INVALID_RECORD.*unsafe-integer/);
          const result = validateRecords(batch);
          expect(result.ok ? 0 : result.errorCode).toBe(ErrorCode.INVALID_RECORD);
          return;
        }
        const decoded = decodeAll(batch);
        expect(decoded).toHaveLength(records.length);
        decoded.forEach((d, i) => {
          const input = records[i]!;
          expect(d.offsetDelta).toBe(i);
          expect(d.timestampMs).toBe(input.timestampMs ?? base);
          expect(d.key).toBe(input.key?.toString('hex') ?? null);
          expect(d.value).toBe(input.value?.toString('hex') ?? null);
          expect(d.headers).toEqual((input.headers ?? []).map((h) => [h.key, h.value?.toString('hex') ?? null]));
        });
        const timestamps = decoded.map((d) => d.timestampMs);
        const max = timestamps.reduce((a, b) => (b > a ? b : a));
        expect(readMaxTimestamp(batch, 0)).toBe(max);
        expect(readRecordsCount(batch, 0)).toBe(records.length);
        expect(readLastOffsetDelta(batch, 0)).toBe(records.length - 1);
        const result = validateRecords(batch);
        expect(result.ok ? 'ok' : result.message).toBe('ok');
        if (result.ok) {
          expect(result.recordCount).toBe(records.length);
          expect(result.maxTimestampMs).toBe(max);
          expect(result.first.compression).toBe(compression);
          expect(decoded[result.first.offsetDeltaOfMaxTimestamp]!.timestampMs).toBe(max);
        }
      }),
      { numRuns: compression === Compression.none ? 150 : 40 },
    );
  });

  it('keeps explicit offset deltas, producer fields and flags', () => {
    const batch = buildRecordBatch({
      baseOffset: 1000n,
      partitionLeaderEpoch: 7,
      producerId: 99n,
      producerEpoch: 4,
      baseSequence: 12,
      transactional: true,
      records: [
        { key: null, value: Buffer.from('a'), offsetDelta: 0 },
        { key: null, value: Buffer.from('b'), offsetDelta: 5 },
      ],
    });
    expect(decodeAll(batch).map((r) => r.offsetDelta)).toEqual([0, 5]);
    expect(readLastOffsetDelta(batch, 0)).toBe(5);
    const result = validateRecords(batch, { origin: 'replication', walkRecords: true });
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.first).toMatchObject({ baseOffset: 1000n, partitionLeaderEpoch: 7, producerId: 99n, producerEpoch: 4, baseSequence: 12, transactional: true, control: false, recordCount: 2, lastOffsetDelta: 5 });
    }
  });

  it('refuses non-increasing offset deltas at build time', () => {
    expect(() => buildRecordBatch({ records: [{ key: null, value: null, offsetDelta: 3 }, { key: null, value: null, offsetDelta: 3 }] })).toThrow(RangeError);
  });

  it('sets MaxTimestamp to the append time for log-append-time batches', () => {
    const batch = buildRecordBatch({ logAppendTime: true, baseTimestampMs: 500n, records: [{ key: null, value: null, timestampMs: 900n }] });
    expect(readMaxTimestamp(batch, 0)).toBe(500n);
  });

  it('builds an empty batch with no timestamps', () => {
    const batch = buildRecordBatch({ records: [] });
    expect(batch.length).toBe(BATCH_HEADER_BYTES);
    expect(readRecordsCount(batch, 0)).toBe(0);
    expect(readMaxTimestamp(batch, 0)).toBe(-1n);
    expect(forEachRecord(batch, 0, () => undefined)).toBe(0);
  });
});

describe('forEachRecord on damaged input', () => {
  const valid = buildRecordBatch({
    baseTimestampMs: BASE_TS,
    records: Array.from({ length: 8 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.alloc(i * 10, i), headers: [{ key: 'h', value: Buffer.from([i]) }] })),
  });

  it('throws a KafkaProtocolError for every truncation (the Length field then lies about the bytes)', () => {
    for (let end = 0; end < valid.length; end++) {
      expect(() => forEachRecord(valid.subarray(0, end), 0, () => undefined)).toThrow(KafkaProtocolError);
    }
  });

  it('throws only KafkaProtocolError for records-area mutations, reading nothing outside the batch', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: BATCH_HEADER_BYTES, max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }), (edits) => {
        const mutated = Buffer.from(valid);
        for (const [at, value] of edits) mutated[at] = value;
        // Embed in a larger buffer full of plausible bytes: an over-read would silently succeed on them.
        const host = Buffer.concat([mutated, Buffer.alloc(64, 0x02)]);
        try {
          forEachRecord(host, 0, (r) => {
            expect(r.keyOffset + Math.max(0, r.keyLength)).toBeLessThanOrEqual(valid.length);
            expect(r.valueOffset + Math.max(0, r.valueLength)).toBeLessThanOrEqual(valid.length);
          });
        } catch (error) {
          expect(error).toBeInstanceOf(KafkaProtocolError);
          expect([ErrorCode.INVALID_RECORD, ErrorCode.CORRUPT_MESSAGE]).toContain((error as KafkaProtocolError).errorCode);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('reports a record count that disagrees with the bytes', () => {
    const tooMany = Buffer.from(valid);
    tooMany.writeInt32BE(9, 57);
    expect(() => forEachRecord(tooMany, 0, () => undefined)).toThrow(/INVALID_RECORD/);
    const tooFew = Buffer.from(valid);
    tooFew.writeInt32BE(7, 57);
    expect(() => forEachRecord(tooFew, 0, () => undefined)).toThrow(/remain after them/);
  });

  it('refuses negative lengths other than -1 (null) and negative counts', () => {
    // One record: attributes, timestamp delta, offset delta, key -1, value -1, 1 header: key "h", value -1.
    const base = buildRecordBatch({ records: [{ key: null, value: null, headers: [{ key: 'h', value: null }] }] });
    const recordBody = base.length - 9; // the record body starts after its 1-byte length varint
    const cases: Array<[string, number, number]> = [
      ['key length -2', recordBody + 3, 0x03],
      ['value length -2', recordBody + 4, 0x03],
      ['header count -1', recordBody + 5, 0x01],
      ['header key length -1', recordBody + 6, 0x01],
      ['header value length -2', recordBody + 8, 0x03],
    ];
    expect(forEachRecord(base, 0, () => undefined)).toBe(1);
    for (const [what, at, byte] of cases) {
      const mutated = Buffer.from(base);
      mutated[at] = byte;
      expect(() => forEachRecord(mutated, 0, () => undefined), what).toThrow(/INVALID_RECORD.*invalid/);
    }
  });

  it('refuses legacy and unknown magic values', () => {
    const v1 = Buffer.from(valid);
    v1[16] = 1;
    expect(() => forEachRecord(v1, 0, () => undefined)).toThrow(/INVALID_RECORD.*magic 1/);
    const v9 = Buffer.from(valid);
    v9[16] = 9;
    expect(() => forEachRecord(v9, 0, () => undefined)).toThrow(/CORRUPT_MESSAGE.*magic 9/);
  });
});

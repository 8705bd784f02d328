import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../broker/src/protocol/error-codes.ts';
import {
  ATTR_CONTROL,
  BATCH_HEADER_BYTES,
  BATCH_OFFSET_ATTRIBUTES,
  BATCH_OFFSET_CRC,
  BATCH_OFFSET_LAST_OFFSET_DELTA,
  BATCH_OFFSET_RECORDS_COUNT,
  type BatchInput,
  buildRecordBatch,
  Compression,
  type CompressionType,
  computeBatchCrc,
  forEachRecord,
  patchBaseOffset,
  readHeaders,
  recordValue,
  type ValidationFailure,
  type ValidationLimits,
  type ValidationOk,
  type ValidationResult,
  validateRecords,
} from '../../../broker/src/protocol/records/index.ts';

const BASE_TS = 1_700_000_000_000n;
const NOW = Number(BASE_TS);
const CODECS: readonly CompressionType[] = [Compression.none, Compression.gzip, Compression.snappy, Compression.lz4, Compression.zstd];
/** Codes validateRecords may legitimately return for bad bytes; UNKNOWN_SERVER_ERROR would mean a bug. */
const INPUT_ERROR_CODES: readonly number[] = [
  ErrorCode.CORRUPT_MESSAGE,
  ErrorCode.INVALID_RECORD,
  ErrorCode.INVALID_TIMESTAMP,
  ErrorCode.MESSAGE_TOO_LARGE,
  ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
];

function batch(overrides: Partial<BatchInput> = {}, count = 5): Buffer {
  return buildRecordBatch({
    baseTimestampMs: BASE_TS,
    records: Array.from({ length: count }, (_, i) => ({
      key: Buffer.from(`key-${i}`),
      value: Buffer.from(`value-${i}`.repeat(i + 1)),
      timestampMs: BASE_TS + BigInt(i * 10),
      headers: i % 2 === 0 ? [{ key: 'trace', value: Buffer.from([i]) }] : [],
    })),
    ...overrides,
  });
}

function withFixedCrc(buf: Buffer, at = 0): Buffer {
  buf.writeUInt32BE(computeBatchCrc(buf, at), at + BATCH_OFFSET_CRC);
  return buf;
}

function expectOk(result: ValidationResult): ValidationOk {
  if (!result.ok) throw new Error(`expected ok, got ${result.errorName}: ${result.message}`);
  return result;
}

function expectFailure(result: ValidationResult, errorCode: number, message?: RegExp): ValidationFailure {
  if (result.ok) throw new Error(`expected error ${errorCode}, got ok`);
  expect(result.errorCode, result.message).toBe(errorCode);
  if (message !== undefined) expect(result.message).toMatch(message);
  return result;
}

/** validateRecords must never throw and never report an internal error for bad input. */
function validateSafely(buf: Buffer, limits?: ValidationLimits): ValidationResult {
  const result = validateRecords(buf, limits);
  if (!result.ok) expect(INPUT_ERROR_CODES, `${result.errorName}: ${result.message}`).toContain(result.errorCode);
  return result;
}

describe('validateRecords: accepted batches', () => {
  it.each(CODECS.map((c) => [c] as const))('codec %i: reports counts, sizes, timestamps and producer fields', (compression) => {
    const buf = batch({ compression, producerId: 77n, producerEpoch: 2, baseSequence: 40, transactional: true, partitionLeaderEpoch: 3 });
    const result = expectOk(validateRecords(buf, { nowMs: NOW }));
    expect(result).toMatchObject({ batchCount: 1, recordCount: 5, sizeBytes: buf.length, maxTimestampMs: BASE_TS + 40n });
    expect(result.first).toBe(result.last);
    expect(result.first).toMatchObject({
      position: 0,
      sizeBytes: buf.length,
      baseOffset: 0n,
      lastOffsetDelta: 4,
      recordCount: 5,
      compression,
      producerId: 77n,
      producerEpoch: 2,
      baseSequence: 40,
      transactional: true,
      control: false,
      partitionLeaderEpoch: 3,
      baseTimestampMs: BASE_TS,
      headerMaxTimestampMs: BASE_TS + 40n,
      maxTimestampMs: BASE_TS + 40n,
      offsetDeltaOfMaxTimestamp: 4,
    });
    if (compression === Compression.none) expect(result.first.recordsBytes).toBe(buf.length - BATCH_HEADER_BYTES);
  });

  it('accepts what kafkajs sends without idempotence: producer id -1 with epoch 0 and sequence 0', () => {
    expectOk(validateRecords(batch({ producerId: -1n, producerEpoch: 0, baseSequence: 0 })));
  });

  it('computes the max timestamp from the records, not the header', () => {
    const buf = batch();
    buf.writeBigInt64BE(5n, 35);
    const result = expectOk(validateRecords(withFixedCrc(buf)));
    expect(result.first.headerMaxTimestampMs).toBe(5n);
    expect(result.maxTimestampMs).toBe(BASE_TS + 40n);
  });
});

describe('validateRecords: batch-level rejections in Kafka order', () => {
  it('rejects an empty buffer', () => {
    expectFailure(validateRecords(Buffer.alloc(0)), ErrorCode.INVALID_RECORD, /at least one record batch/);
  });

  it('rejects every truncation as CORRUPT_MESSAGE', () => {
    const buf = batch({ compression: Compression.lz4 });
    for (let end = 1; end < buf.length; end++) expectFailure(validateRecords(buf.subarray(0, end)), ErrorCode.CORRUPT_MESSAGE);
  });

  it('rejects a Length below the batch header size', () => {
    const buf = batch();
    buf.writeInt32BE(20, 8);
    expectFailure(validateRecords(buf), ErrorCode.CORRUPT_MESSAGE, /below the 61-byte/);
  });

  it('rejects legacy magic as INVALID_RECORD and unknown magic as CORRUPT_MESSAGE', () => {
    for (const [magic, code] of [[0, ErrorCode.INVALID_RECORD], [1, ErrorCode.INVALID_RECORD], [3, ErrorCode.CORRUPT_MESSAGE], [-1, ErrorCode.CORRUPT_MESSAGE]] as const) {
      const buf = batch();
      buf.writeInt8(magic, 16);
      expectFailure(validateRecords(buf), code);
    }
  });

  it('rejects zstd when the request version predates it', () => {
    const buf = batch({ compression: Compression.zstd });
    expectFailure(validateRecords(buf, { zstdAllowed: false }), ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
    expectOk(validateRecords(buf, { zstdAllowed: true }));
  });

  it('allows exactly one batch per partition from clients', () => {
    const two = Buffer.concat([batch(), batch()]);
    expectFailure(validateRecords(two), ErrorCode.INVALID_RECORD, /exactly one record batch/);
    expectFailure(validateRecords(Buffer.concat([batch(), Buffer.alloc(3)])), ErrorCode.INVALID_RECORD, /exactly one record batch/);
  });

  it('requires BaseOffset 0 from clients', () => {
    const buf = batch();
    patchBaseOffset(buf, 0, 9n);
    expectFailure(validateRecords(buf), ErrorCode.INVALID_RECORD, /baseOffset/);
  });

  it('enforces max.message.bytes with MESSAGE_TOO_LARGE', () => {
    const buf = batch();
    expectOk(validateRecords(buf, { maxMessageBytes: buf.length }));
    expectFailure(validateRecords(buf, { maxMessageBytes: buf.length - 1 }), ErrorCode.MESSAGE_TOO_LARGE);
    expect(validateRecords(Buffer.alloc(10)).ok).toBe(false);
  });

  it('detects every single-bit flip in the CRC and the bytes it covers', () => {
    for (const compression of [Compression.none, Compression.snappy] as const) {
      const buf = batch({ compression }, 3);
      fc.assert(
        fc.property(fc.integer({ min: BATCH_OFFSET_CRC * 8, max: buf.length * 8 - 1 }), (bit) => {
          const mutated = Buffer.from(buf);
          mutated[bit >>> 3] = mutated[bit >>> 3]! ^ (1 << (bit & 7));
          expectFailure(validateRecords(mutated), ErrorCode.CORRUPT_MESSAGE, /crc/);
        }),
        { numRuns: 400 },
      );
    }
  });

  it('leaves PartitionLeaderEpoch outside the CRC (the leader stamps it in place)', () => {
    const buf = batch();
    buf.writeInt32BE(12345, 12);
    expectOk(validateRecords(buf));
  });

  it('rejects an unknown codec id', () => {
    const buf = batch();
    buf.writeInt16BE(6, BATCH_OFFSET_ATTRIBUTES);
    expectFailure(validateRecords(withFixedCrc(buf)), ErrorCode.INVALID_RECORD, /compression codec id 6/);
  });

  it('requires LastOffsetDelta + 1 == RecordsCount > 0', () => {
    const count = batch();
    count.writeInt32BE(4, BATCH_OFFSET_RECORDS_COUNT);
    expectFailure(validateRecords(withFixedCrc(count)), ErrorCode.INVALID_RECORD, /Inconsistent batch offset range/);
    const delta = batch();
    delta.writeInt32BE(7, BATCH_OFFSET_LAST_OFFSET_DELTA);
    expectFailure(validateRecords(withFixedCrc(delta)), ErrorCode.INVALID_RECORD, /Inconsistent/);
    expectFailure(validateRecords(buildRecordBatch({ records: [] })), ErrorCode.INVALID_RECORD, /invalid offset range/);
    const both = batch();
    both.writeInt32BE(6, BATCH_OFFSET_RECORDS_COUNT);
    both.writeInt32BE(5, BATCH_OFFSET_LAST_OFFSET_DELTA);
    expectFailure(validateRecords(withFixedCrc(both)), ErrorCode.INVALID_RECORD, /record 5/);
  });

  it('requires offset deltas 0..n-1 from clients', () => {
    const buf = buildRecordBatch({ records: [{ key: null, value: null, offsetDelta: 0 }, { key: null, value: null, offsetDelta: 2 }] });
    buf.writeInt32BE(1, BATCH_OFFSET_LAST_OFFSET_DELTA);
    expectFailure(validateRecords(withFixedCrc(buf)), ErrorCode.INVALID_RECORD, /offset delta 2, expected 1/);
  });

  it('rejects control batches from clients', () => {
    const buf = batch({ control: true, producerId: 1n, producerEpoch: 0, baseSequence: -1, transactional: true });
    expect(buf.readInt16BE(BATCH_OFFSET_ATTRIBUTES) & ATTR_CONTROL).toBe(ATTR_CONTROL);
    expectFailure(validateRecords(buf), ErrorCode.INVALID_RECORD, /control records/);
    expectOk(validateRecords(buf, { origin: 'replication', walkRecords: true }));
  });

  it('checks producer fields', () => {
    expectFailure(validateRecords(batch({ producerId: 5n, producerEpoch: 0, baseSequence: -1 })), ErrorCode.INVALID_RECORD, /Invalid sequence number -1/);
    expectFailure(validateRecords(batch({ producerId: 5n, producerEpoch: -1, baseSequence: 0 })), ErrorCode.INVALID_RECORD, /producer epoch/);
    expectFailure(validateRecords(batch({ transactional: true })), ErrorCode.INVALID_RECORD, /Transactional batch without a producer id/);
    expectFailure(validateRecords(batch({ producerId: -7n })), ErrorCode.INVALID_RECORD, /producer id -7/);
    expectOk(validateRecords(batch({ producerId: 5n, producerEpoch: 0, baseSequence: 0 })));
  });

  it('refuses a compressed payload that decompresses beyond the bound, and one that does not decompress', () => {
    const bomb = buildRecordBatch({ compression: Compression.zstd, records: [{ key: null, value: Buffer.alloc(8 * 1024 * 1024) }] });
    expect(bomb.length).toBeLessThan(4096);
    expectFailure(validateRecords(bomb, { decompressedBytesMax: 1024 * 1024 }), ErrorCode.INVALID_RECORD, /decompress/);
    expectOk(validateRecords(bomb, { decompressedBytesMax: 9 * 1024 * 1024 }));
    const garbled = batch({ compression: Compression.gzip });
    garbled.fill(0x33, BATCH_HEADER_BYTES + 10);
    expectFailure(validateRecords(withFixedCrc(garbled)), ErrorCode.INVALID_RECORD, /decompress/);
  });
});

describe('validateRecords: record-level rejections', () => {
  it('requires keys on compacted topics and lists every offending record', () => {
    const buf = buildRecordBatch({
      records: [{ key: Buffer.from('a'), value: null }, { key: null, value: null }, { key: Buffer.from('c'), value: null }, { key: null, value: Buffer.from('x') }],
    });
    expectOk(validateRecords(buf));
    const failure = expectFailure(validateRecords(buf, { compactedTopic: true }), ErrorCode.INVALID_RECORD, /2 record errors/);
    expect(failure.recordErrors.map((e) => e.recordIndex)).toEqual([1, 3]);
    expect(failure.recordErrors[0]!.message).toMatch(/Compacted topic cannot accept message without key/);
  });

  it('enforces message.timestamp.before/after.max.ms with INVALID_TIMESTAMP', () => {
    const buf = buildRecordBatch({
      records: [BASE_TS - 2000n, BASE_TS, BASE_TS + 5000n, BASE_TS + 999n].map((timestampMs) => ({ key: null, value: null, timestampMs })),
    });
    const limits = { nowMs: NOW, timestampBeforeMaxMs: 1000, timestampAfterMaxMs: 1000 };
    const failure = expectFailure(validateRecords(buf, limits), ErrorCode.INVALID_TIMESTAMP, /invalid timestamp/);
    expect(failure.recordErrors.map((e) => e.recordIndex)).toEqual([0, 2]);
    expect(failure.recordErrors[0]!.message).toMatch(/out of range/);
    expectOk(validateRecords(buf, { ...limits, timestampBeforeMaxMs: 2000, timestampAfterMaxMs: 5000 }));
    expectOk(validateRecords(buf, { ...limits, timestampType: 'LogAppendTime' }));
  });

  it('handles timestamps beyond 2^53 (int64 path) exactly', () => {
    const far = 2n ** 62n + 3n;
    const buf = buildRecordBatch({ baseTimestampMs: far, records: [{ key: null, value: null }, { key: null, value: null, timestampMs: far + 5n }] });
    const result = expectOk(validateRecords(buf, { nowMs: NOW }));
    expect(result.maxTimestampMs).toBe(far + 5n);
    expect(result.first.offsetDeltaOfMaxTimestamp).toBe(1);
    expectFailure(validateRecords(buf, { nowMs: NOW, timestampAfterMaxMs: 3_600_000 }), ErrorCode.INVALID_TIMESTAMP);
  });

  it('skips the range check for records without a timestamp (-1)', () => {
    const buf = buildRecordBatch({ baseTimestampMs: -1n, records: [{ key: null, value: null }] });
    expectOk(validateRecords(buf, { nowMs: NOW, timestampBeforeMaxMs: 0, timestampAfterMaxMs: 0 }));
  });

  it('rejects a client-set log-append-time attribute when records carry no usable timestamp', () => {
    expectFailure(validateRecords(buildRecordBatch({ logAppendTime: true, baseTimestampMs: -1n, records: [{ key: null, value: null }] })), ErrorCode.INVALID_TIMESTAMP);
    // On a CreateTime topic a timestamp is present (the header MaxTimestamp), so Kafka only range-checks it.
    expectOk(validateRecords(buildRecordBatch({ logAppendTime: true, baseTimestampMs: BASE_TS, records: [{ key: null, value: null }] })));
    expectFailure(
      validateRecords(buildRecordBatch({ logAppendTime: true, baseTimestampMs: BASE_TS, records: [{ key: null, value: null }] }), { timestampType: 'LogAppendTime' }),
      ErrorCode.INVALID_TIMESTAMP,
    );
  });

  it('reports INVALID_TIMESTAMP when both key and timestamp errors occur', () => {
    const buf = buildRecordBatch({ records: [{ key: null, value: null, timestampMs: BASE_TS }, { key: Buffer.from('k'), value: null, timestampMs: 1n }] });
    const failure = expectFailure(validateRecords(buf, { compactedTopic: true, nowMs: NOW, timestampBeforeMaxMs: 1000 }), ErrorCode.INVALID_TIMESTAMP);
    expect(failure.recordErrors).toHaveLength(2);
  });
});

describe('validateRecords: replication origin', () => {
  const at = (baseOffset: bigint, count: number): Buffer => {
    const buf = batch({}, count);
    patchBaseOffset(buf, 0, baseOffset);
    return buf;
  };

  it('accepts several batches with increasing offsets and reports first and last', () => {
    const buf = Buffer.concat([at(0n, 3), at(3n, 2), buildRecordBatch({ baseOffset: 5n, records: [] }), at(10n, 1)]);
    const result = expectOk(validateRecords(buf, { origin: 'replication' }));
    expect(result).toMatchObject({ batchCount: 4, recordCount: 6 });
    expect(result.first.baseOffset).toBe(0n);
    expect(result.last).toMatchObject({ baseOffset: 10n, position: buf.length - result.last.sizeBytes });
    expectOk(validateRecords(buf, { origin: 'replication', walkRecords: true }));
  });

  it('rejects overlapping offsets and a trailing partial batch', () => {
    expectFailure(validateRecords(Buffer.concat([at(0n, 3), at(2n, 1)]), { origin: 'replication' }), ErrorCode.INVALID_RECORD, /Out of order/);
    expectFailure(validateRecords(Buffer.concat([at(0n, 3), at(3n, 1).subarray(0, 30)]), { origin: 'replication' }), ErrorCode.CORRUPT_MESSAGE);
  });

  it('does not apply the size limit and accepts compaction gaps', () => {
    const gaps = buildRecordBatch({ records: [{ key: Buffer.from('a'), value: null, offsetDelta: 0 }, { key: Buffer.from('b'), value: null, offsetDelta: 7 }] });
    expectOk(validateRecords(gaps, { origin: 'replication', walkRecords: true, maxMessageBytes: 10 }));
  });
});

describe('validateRecords never throws on hostile bytes', () => {
  it('random buffers', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.constantFrom<ValidationLimits>({}, { origin: 'replication', walkRecords: true }), (raw, limits) => {
        validateSafely(Buffer.from(raw), limits);
      }),
      { numRuns: 1000 },
    );
  });

  it('random headers in front of random record bytes, CRC made valid so the record parser is reached', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 300 }),
        fc.integer({ min: -2, max: 40 }),
        fc.integer({ min: 0, max: 7 }),
        (raw, count, codec) => {
          const buf = Buffer.concat([batch({}, 0), Buffer.from(raw)]);
          buf.writeInt32BE(buf.length - 12, 8);
          buf.writeInt16BE(codec, BATCH_OFFSET_ATTRIBUTES);
          buf.writeInt32BE(count, BATCH_OFFSET_RECORDS_COUNT);
          buf.writeInt32BE(count - 1, BATCH_OFFSET_LAST_OFFSET_DELTA);
          validateSafely(withFixedCrc(buf));
          validateSafely(buf, { origin: 'replication', walkRecords: true });
        },
      ),
      { numRuns: 1000 },
    );
  });

  it.each(CODECS.map((c) => [c] as const))('codec %i: mutated record bytes with a fixed-up CRC', (compression) => {
    const valid = batch({ compression }, 12);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: BATCH_HEADER_BYTES, max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (edits) => {
        const mutated = Buffer.from(valid);
        for (const [offset, value] of edits) mutated[offset] = value;
        validateSafely(withFixedCrc(mutated), { compactedTopic: true, nowMs: NOW, timestampBeforeMaxMs: 10_000, timestampAfterMaxMs: 10_000 });
      }),
      { numRuns: 300 },
    );
  });
});

describe('interoperability with kafkajs (an independent encoder and decoder)', () => {
  interface KafkajsRecord { key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer | null>; offset: string; timestamp: string }
  const require = createRequire(import.meta.url);
  const Long = require('kafkajs/src/utils/long.js') as { fromInt(value: number): unknown };
  const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as { RecordBatch: (args: Record<string, unknown>) => Promise<{ buffer: Buffer }> };
  const KafkajsRecordEncoder = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (args: Record<string, unknown>) => unknown;
  const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (decoder: unknown) => Promise<{ records: KafkajsRecord[] }>;
  const Decoder = require('kafkajs/src/protocol/decoder.js') as new (buf: Buffer) => unknown;

  it.each([Compression.none, Compression.gzip] as const)('codec %i: batches built by kafkajs validate and iterate', async (compression) => {
    const records = Array.from({ length: 6 }, (_, i) =>
      KafkajsRecordEncoder({ offsetDelta: i, timestampDelta: i * 3, key: i === 2 ? null : Buffer.from(`k${i}`), value: Buffer.from(`v${i}`), headers: i === 1 ? { h: Buffer.from('x') } : {} }),
    );
    const encoded = (await RecordBatch({ compression, firstTimestamp: NOW, maxTimestamp: NOW + 15, lastOffsetDelta: 5, producerId: Long.fromInt(-1), producerEpoch: 0, firstSequence: 0, records })).buffer;
    const result = expectOk(validateRecords(encoded, { nowMs: NOW }));
    expect(result.recordCount).toBe(6);
    expect(result.maxTimestampMs).toBe(BASE_TS + 15n);
    const values: string[] = [];
    forEachRecord(encoded, 0, (r) => values.push(`${recordValue(r)?.toString()}:${JSON.stringify(readHeaders(r).map((h) => h.key))}`));
    expect(values).toEqual(['v0:[]', 'v1:["h"]', 'v2:[]', 'v3:[]', 'v4:[]', 'v5:[]']);
  });

  it.each([Compression.none, Compression.gzip] as const)('codec %i: batches we build decode in kafkajs', async (compression) => {
    const buf = batch({ compression, baseOffset: 0n });
    const decoded = await decodeBatch(new Decoder(buf));
    expect(decoded.records.map((r) => [r.key?.toString() ?? null, r.value?.toString() ?? null, r.timestamp])).toEqual(
      Array.from({ length: 5 }, (_, i) => [`key-${i}`, `value-${i}`.repeat(i + 1), String(BASE_TS + BigInt(i * 10))]),
    );
    expect(Object.keys(decoded.records[0]!.headers)).toEqual(['trace']);
  });
});

import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../broker/src/protocol/error-codes.ts';
import {
  readVarint,
  readVarlong,
  readVarlongBig,
  sizeOfVarint,
  sizeOfVarlong,
  VarintError,
  writeVarint,
  writeVarlong,
} from '../../../broker/src/protocol/records/varint.ts';

// kafkajs's encoder is an independent implementation of the same zig-zag encoding: an oracle for the bytes.
interface KafkajsEncoder {
  writeVarInt(value: number): KafkajsEncoder;
  writeVarLong(value: unknown): KafkajsEncoder;
  buffer: Buffer;
}
const require = createRequire(import.meta.url);
const Encoder = require('kafkajs/src/protocol/encoder.js') as new () => KafkajsEncoder;
const Long = require('kafkajs/src/utils/long.js') as new (value: bigint) => unknown;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function encodeVarint(value: number): Buffer {
  const buf = Buffer.alloc(5);
  return buf.subarray(0, writeVarint(buf, 0, value));
}

function encodeVarlong(value: number | bigint): Buffer {
  const buf = Buffer.alloc(10);
  return buf.subarray(0, writeVarlong(buf, 0, value));
}

function expectVarintError(fn: () => unknown, problem: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(VarintError);
  expect((thrown as VarintError).problem).toBe(problem);
  expect((thrown as VarintError).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
}

describe('zig-zag varint (int32)', () => {
  it('encodes the known values exactly like Java ByteUtils.writeVarint', () => {
    const cases: Array<[number, string]> = [
      [0, '00'], [-1, '01'], [1, '02'], [63, '7e'], [-64, '7f'], [64, '8001'], [-65, '8101'],
      [300, 'd804'], [2147483647, 'feffffff0f'], [-2147483648, 'ffffffff0f'],
    ];
    for (const [value, hex] of cases) {
      expect(encodeVarint(value).toString('hex')).toBe(hex);
      expect(readVarint(Buffer.from(hex, 'hex'), { offset: 0 })).toBe(value);
    }
  });

  it('round-trips every int32, agrees with kafkajs and with sizeOfVarint', () => {
    fc.assert(
      fc.property(fc.integer({ min: -2147483648, max: 2147483647 }), fc.nat(8), (value, pad) => {
        const bytes = encodeVarint(value);
        expect(bytes.equals(new Encoder().writeVarInt(value).buffer)).toBe(true);
        expect(bytes.length).toBe(sizeOfVarint(value));
        const buf = Buffer.concat([Buffer.alloc(pad, 0xff), bytes, Buffer.alloc(3, 0xff)]);
        const cursor = { offset: pad };
        expect(readVarint(buf, cursor)).toBe(value);
        expect(cursor.offset).toBe(pad + bytes.length);
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects every truncation without reading past end', () => {
    const bytes = encodeVarint(-2147483648);
    for (let end = 0; end < bytes.length; end++) {
      // The bytes after `end` are present in the buffer but outside the allowed range.
      expectVarintError(() => readVarint(bytes, { offset: 0 }, end), 'truncated');
    }
  });

  it('rejects over-long encodings', () => {
    expectVarintError(() => readVarint(Buffer.from('8080808010', 'hex'), { offset: 0 }), 'overlong');
    expectVarintError(() => readVarint(Buffer.from('ffffffffff01', 'hex'), { offset: 0 }), 'overlong');
  });

  it('leaves the cursor untouched on failure and throws only VarintError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 8 }), fc.nat(8), (raw, start) => {
        const buf = Buffer.from(raw);
        const cursor = { offset: start };
        try {
          readVarint(buf, cursor);
          expect(cursor.offset).toBeLessThanOrEqual(buf.length);
          expect(cursor.offset - start).toBeLessThanOrEqual(5);
        } catch (error) {
          expect(error).toBeInstanceOf(VarintError);
          expect(cursor.offset).toBe(start);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses to write non-int32 values', () => {
    expect(() => writeVarint(Buffer.alloc(5), 0, 2 ** 31)).toThrow(RangeError);
    expect(() => writeVarint(Buffer.alloc(5), 0, 1.5)).toThrow(RangeError);
  });
});

describe('zig-zag varlong (int64)', () => {
  it('round-trips the full int64 range as bigint and agrees with kafkajs', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: INT64_MIN, max: INT64_MAX }), (value) => {
        const bytes = encodeVarlong(value);
        expect(bytes.equals(new Encoder().writeVarLong(new Long(value)).buffer)).toBe(true);
        expect(bytes.length).toBe(sizeOfVarlong(value));
        const cursor = { offset: 0 };
        expect(readVarlongBig(bytes, cursor)).toBe(value);
        expect(cursor.offset).toBe(bytes.length);
      }),
      { numRuns: 2000 },
    );
  });

  it('reads safe integers as exact numbers and refuses unsafe ones', () => {
    const safe = BigInt(Number.MAX_SAFE_INTEGER);
    fc.assert(
      fc.property(fc.oneof(fc.bigInt({ min: -safe, max: safe }), fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n })), (value) => {
        const bytes = encodeVarlong(value);
        expect(readVarlong(bytes, { offset: 0 })).toBe(Number(value));
        expect(encodeVarlong(Number(value)).equals(bytes)).toBe(true);
      }),
      { numRuns: 2000 },
    );
    for (const edge of [safe, -safe, 2n ** 31n, -(2n ** 31n) - 1n, 2n ** 30n, -(2n ** 30n) - 1n]) {
      expect(readVarlong(encodeVarlong(edge), { offset: 0 })).toBe(Number(edge));
    }
    for (const unsafe of [safe + 1n, -safe - 1n, INT64_MAX, INT64_MIN]) {
      expectVarintError(() => readVarlong(encodeVarlong(unsafe), { offset: 0 }), 'unsafe-integer');
    }
  });

  it('rejects truncations and over-long encodings', () => {
    const bytes = encodeVarlong(INT64_MIN);
    expect(bytes.length).toBe(10);
    for (let end = 0; end < bytes.length; end++) {
      expectVarintError(() => readVarlongBig(bytes, { offset: 0 }, end), 'truncated');
      expectVarintError(() => readVarlong(bytes, { offset: 0 }, end), 'truncated');
    }
    const overlong = Buffer.from('ffffffffffffffffff02', 'hex');
    expectVarintError(() => readVarlongBig(overlong, { offset: 0 }), 'overlong');
    expectVarintError(() => readVarlong(overlong, { offset: 0 }), 'overlong');
  });

  it('refuses to write values outside int64 or unsafe numbers', () => {
    expect(() => writeVarlong(Buffer.alloc(10), 0, INT64_MAX + 1n)).toThrow(RangeError);
    expect(() => writeVarlong(Buffer.alloc(10), 0, 2 ** 60)).toThrow(RangeError);
  });
});

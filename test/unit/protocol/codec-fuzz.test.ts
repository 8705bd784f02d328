/**
 * Decoders under hostile input: random frames and mutations of valid frames, for every message at every
 * version, must either decode or throw DecodeError: never another exception, a hang, or an allocation larger
 * than the input (every length is checked against the remaining bytes first).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Reader } from '../../../broker/src/protocol/wire/reader.ts';
import { Writer } from '../../../broker/src/protocol/wire/writer.ts';
import { DecodeError } from '../../../broker/src/protocol/wire/decode-error.ts';
import { readMetadataRequest, readProduceRequest } from '../../../broker/src/protocol/generated/index.ts';
import { allSpecs, generatedFunction, messageValue, versionsOf } from './spec-values.ts';

type Read = (r: Reader, version: number) => unknown;
type Write = (w: Writer, value: unknown, version: number) => void;

function decodesOrRejects(read: Read, bytes: Uint8Array, version: number): void {
  try {
    read(new Reader(Buffer.from(bytes)), version);
  } catch (error) {
    if (!(error instanceof DecodeError)) throw error;
  }
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(), value: fc.constant(0) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('max' as const), at: fc.nat(), value: fc.constantFrom(0x7f, 0xff, 0x80) }),
);

function mutate(bytes: Buffer, steps: readonly { kind: string; at: number; value: number }[]): Buffer {
  let out = Buffer.from(bytes);
  for (const { kind, at, value } of steps) {
    const i = out.length === 0 ? 0 : at % out.length;
    if (kind === 'flip' || kind === 'max') { if (out.length > 0) out[i] = value; }
    else if (kind === 'truncate') out = out.subarray(0, i);
    else out = Buffer.concat([out.subarray(0, i), Buffer.from([value]), out.subarray(i)]);
  }
  return out;
}

describe('decoders reject malformed input with DecodeError only', () => {
  for (const m of allSpecs) {
    it(`${m.file}`, () => {
      const read = generatedFunction<Read>(`read${m.name}`);
      const write = generatedFunction<Write>(`write${m.name}`);
      for (const version of versionsOf(m)) {
        fc.assert(fc.property(fc.uint8Array({ maxLength: 48 }), (bytes) => decodesOrRejects(read, bytes, version)), { numRuns: 15, seed: 7 + version });
        fc.assert(
          fc.property(messageValue(m, version), fc.array(mutation, { minLength: 1, maxLength: 3 }), (value, steps) => {
            const w = new Writer();
            write(w, value, version);
            decodesOrRejects(read, mutate(w.toBuffer(), steps), version);
          }),
          { numRuns: 10, seed: 11 + version },
        );
      }
    });
  }

  it('refuses versions outside the valid range', () => {
    expect(() => readProduceRequest(new Reader(Buffer.alloc(64)), 99)).toThrow(DecodeError);
    expect(() => readProduceRequest(new Reader(Buffer.alloc(64)), -1)).toThrow(DecodeError);
  });

  it('rejects an array count larger than the remaining bytes before allocating', () => {
    // Metadata v1: Topics is an int32-counted array; claim 2^31-1 topics in a 4-byte frame.
    const frame = Buffer.from([0x7f, 0xff, 0xff, 0xff]);
    expect(() => readMetadataRequest(new Reader(frame), 1)).toThrow(/cannot fit/);
  });

  it('rejects a string length beyond the frame', () => {
    // Metadata v1 with one topic whose name claims 32767 bytes.
    const frame = Buffer.from([0, 0, 0, 1, 0x7f, 0xff, 0x61]);
    expect(() => readMetadataRequest(new Reader(frame), 1)).toThrow(/truncated/);
  });

  it('rejects an over-long unsigned varint', () => {
    // Metadata v9 (flexible): compact array length as a 6-byte varint.
    const frame = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(() => readMetadataRequest(new Reader(frame), 9)).toThrow(DecodeError);
  });
});

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Reader } from '../../../broker/src/protocol/wire/reader.ts';
import { Writer } from '../../../broker/src/protocol/wire/writer.ts';
import { API_SPECS, METADATA_RECORD_SPECS, apiSpec } from '../../../broker/src/protocol/generated/index.ts';
import { allSpecs, generatedFunction, messageValue, schemaRoot, versionsOf } from './spec-values.ts';

type Read = (r: Reader, version: number) => unknown;
type Write = (w: Writer, value: unknown, version: number) => void;

const encode = (write: Write, value: unknown, version: number): Buffer => {
  // A zero-copy threshold of 8 bytes makes the chunked path run in every test, not only on big buffers.
  const w = new Writer(16, 8);
  write(w, value, version);
  return w.toBuffer();
};

describe('generated codec covers every spec', () => {
  it('has a request/response pair in API_SPECS for every API key in clients/', () => {
    const files = readdirSync(join(schemaRoot, 'clients')).filter((f) => /(Request|Response)\.json$/.test(f) && !/^(Request|Response)Header/.test(f));
    expect(files.length).toBeGreaterThan(170);
    const byFile = new Map(allSpecs.map((m) => [m.file, m]));
    for (const file of files) {
      const spec = byFile.get(`clients/${file}`);
      expect(spec, `clients/${file} was not loaded`).toBeDefined();
      if (spec?.apiKey == null) throw new Error(`clients/${file} has no apiKey`);
      const api = apiSpec(spec.apiKey);
      expect(api, `API key ${spec.apiKey} (${file}) missing from API_SPECS`).toBeDefined();
      expect([api?.minVersion, api?.maxVersion]).toEqual([spec.validVersions.min, spec.validVersions.max]);
    }
    expect(Object.keys(API_SPECS).length).toBe(files.length / 2);
  });

  it('has a codec for every KRaft metadata record type', () => {
    const files = readdirSync(join(schemaRoot, 'metadata')).filter((f) => f.endsWith('.json'));
    const types = allSpecs.filter((m) => m.kind === 'metadata').map((m) => m.apiKey);
    expect(types.length).toBe(files.length);
    for (const t of types) expect((METADATA_RECORD_SPECS as Record<number, unknown>)[t as number], `record type ${t}`).toBeDefined();
  });
});

describe('round trip at every valid version', () => {
  for (const m of allSpecs) {
    it(`${m.file} v${m.validVersions.min}-${m.validVersions.max}`, () => {
      const read = generatedFunction<Read>(`read${m.name}`);
      const write = generatedFunction<Write>(`write${m.name}`);
      for (const version of versionsOf(m)) {
        fc.assert(
          fc.property(messageValue(m, version), (value) => {
            const bytes = encode(write, value, version);
            const r = new Reader(bytes);
            const decoded = read(r, version);
            expect(r.remaining).toBe(0);
            expect(decoded).toEqual(value);
            expect(encode(write, decoded, version).equals(bytes)).toBe(true);
          }),
          { numRuns: 12, seed: 0x6d696c6c ^ version },
        );
      }
    });
  }
});

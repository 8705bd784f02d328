/**
 * Golden fixtures: frames captured between REAL clients (kafkajs, kcat/librdkafka, the Java client) and a
 * REAL Apache Kafka broker (test/fixtures/golden, see its README). Every frame whose version the specs
 * cover must decode completely and re-encode to the identical bytes.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiSpec, readResponseHeader, writeRequestHeader, writeResponseHeader } from '../../../broker/src/protocol/generated/index.ts';
import { parseRequestFrame, requestHeaderVersion, responseHeaderVersion } from '../../../broker/src/protocol/framing.ts';
import { Reader } from '../../../broker/src/protocol/wire/reader.ts';
import { Writer } from '../../../broker/src/protocol/wire/writer.ts';

const root = join(import.meta.dirname, '../../fixtures/golden');

interface FrameEntry {
  readonly file: string;
  readonly direction: 'request' | 'response';
  readonly apiKey: number;
  readonly apiName: string;
  readonly apiVersion: number;
  readonly correlationId: number;
}

interface Manifest { readonly client: string; readonly frames: readonly FrameEntry[] }

const clients = ['kafkajs', 'kcat', 'java'];

function reencode(entry: FrameEntry, decoded: unknown, header: unknown): Buffer {
  const spec = apiSpec(entry.apiKey);
  if (!spec) throw new Error(`no spec for ${entry.apiKey}`);
  const w = new Writer();
  if (entry.direction === 'request') {
    writeRequestHeader(w, header as Parameters<typeof writeRequestHeader>[1], requestHeaderVersion(entry.apiKey, entry.apiVersion));
    spec.request.write(w, decoded, entry.apiVersion);
  } else {
    writeResponseHeader(w, header as Parameters<typeof writeResponseHeader>[1], responseHeaderVersion(entry.apiKey, entry.apiVersion));
    spec.response.write(w, decoded, entry.apiVersion);
  }
  return w.toBuffer();
}

function decode(entry: FrameEntry, bytes: Buffer): { header: unknown; body: unknown; rest: number } {
  const spec = apiSpec(entry.apiKey);
  if (!spec) throw new Error(`no spec for ${entry.apiKey}`);
  if (entry.direction === 'request') {
    const { header, body } = parseRequestFrame(bytes);
    const decoded = spec.request.read(body, entry.apiVersion);
    return { header, body: decoded, rest: body.remaining };
  }
  const r = new Reader(bytes);
  const header = readResponseHeader(r, responseHeaderVersion(entry.apiKey, entry.apiVersion));
  const decoded = spec.response.read(r, entry.apiVersion);
  return { header, body: decoded, rest: r.remaining };
}

for (const client of clients) {
  const manifest = JSON.parse(readFileSync(join(root, client, 'manifest.json'), 'utf8')) as Manifest;
  describe(`golden frames from ${client}`, () => {
    const covered = manifest.frames.filter((f) => { const s = apiSpec(f.apiKey); return s !== undefined && f.apiVersion <= s.maxVersion; });
    it('has frames within the specs\' version ranges', () => {
      expect(covered.length).toBeGreaterThan(client === 'java' ? 20 : 30);
    });
    for (const entry of covered) {
      it(`${entry.file} decodes fully and re-encodes byte-identically`, () => {
        const bytes = readFileSync(join(root, client, entry.file));
        const { header, body, rest } = decode(entry, bytes);
        expect(rest).toBe(0);
        expect((header as { correlationId: number }).correlationId).toBe(entry.correlationId);
        expect(reencode(entry, body, header).equals(bytes)).toBe(true);
      });
    }
  });
}

describe('golden frames carry the values the clients sent', () => {
  it('kafkajs Produce v7 names the topic and carries a record batch', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'kafkajs', 'manifest.json'), 'utf8')) as Manifest;
    const produce = manifest.frames.find((f) => f.apiKey === 0 && f.direction === 'request');
    if (!produce) throw new Error('no kafkajs Produce request in the fixtures');
    const { body } = decode(produce, readFileSync(join(root, 'kafkajs', produce.file)));
    const req = body as { topicData: { name: string; partitionData: { records: Buffer | null }[] }[] };
    expect(req.topicData[0]?.name).toMatch(/^golden-kafkajs-/);
    const records = req.topicData[0]?.partitionData[0]?.records;
    expect(records?.readInt8(16)).toBe(2); // record batch magic v2
  });

  it('kcat ApiVersions v3 reports librdkafka as its client software', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'kcat', 'manifest.json'), 'utf8')) as Manifest;
    const entry = manifest.frames.find((f) => f.apiKey === 18 && f.direction === 'request' && f.apiVersion === 3);
    if (!entry) throw new Error('no kcat ApiVersions v3 request in the fixtures');
    const { body } = decode(entry, readFileSync(join(root, 'kcat', entry.file)));
    expect((body as { clientSoftwareName: string }).clientSoftwareName).toBe('librdkafka');
  });
});

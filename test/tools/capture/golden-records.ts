// Deterministic record sets produced by every client for the golden fixtures, and their JSON form.
import type { Codec } from './segment-batches.ts';

export interface GoldenHeader {
  readonly key: string;
  readonly value: Buffer | null;
}

export interface GoldenRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly GoldenHeader[];
  /** CreateTime in ms, or null when the client cannot set it (the producer's clock is used). */
  readonly timestamp: number | null;
}

export type ClientName = 'kafkajs' | 'kcat' | 'java';

export const RECORDS_PER_SET = 12;
const BASE_TIMESTAMP = 1_700_000_000_000;
const WORDS = [
  'millrace', 'kafka', 'segment', 'offset', 'replica', 'leader', 'epoch', 'batch', 'record', 'header',
  'compression', 'partition', 'consumer', 'producer', 'broker', 'controller', 'quorum', 'fetch', 'commit', 'group',
];

/** ~1 KiB of ASCII text, deterministic per (seed, codec), compressible but not trivially so. */
export function largeValue(i: number, codec: string): string {
  let state = (i + 1) * 2654435761 + codec.length * 97;
  const next = (): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state;
  };
  let s = `v-${i}-${codec}:`;
  while (s.length < 1024) s += ` ${WORDS[next() % WORDS.length]}-${next() % 100}`;
  return s.slice(0, 1024);
}

/**
 * 12 records: null keys at 3 and 8, a null value (tombstone) at 7, ~1 KiB values at 1, 5 and 9,
 * non-ASCII UTF-8 at 10, headers on every third record (a duplicated key at 0, binary bytes at 6,
 * a null header value at 9 where the client supports it). kcat can only attach the same headers to
 * every record of a run and cannot set timestamps, so its set differs there.
 */
export function goldenRecords(client: ClientName, codec: Codec): GoldenRecord[] {
  const out: GoldenRecord[] = [];
  for (let i = 0; i < RECORDS_PER_SET; i++) {
    const key = i === 3 || i === 8 ? null : Buffer.from(i === 10 ? `k-${i}-ü` : `k-${i}`);
    let value: Buffer | null;
    if (i === 7) value = null;
    else if (i === 1 || i === 5 || i === 9) value = Buffer.from(largeValue(i, codec));
    else if (i === 10) value = Buffer.from(`v-${i}-${codec}-€ünïcødé`);
    else value = Buffer.from(`v-${i}-${codec}`);

    let headers: GoldenHeader[] = [];
    if (client === 'kcat') {
      headers = [
        { key: 'h-client', value: Buffer.from('kcat') },
        { key: 'h-codec', value: Buffer.from(codec) },
      ];
    } else if (i % 3 === 0) {
      headers = [
        { key: 'h-client', value: Buffer.from(client) },
        { key: 'h-seq', value: Buffer.from(String(i)) },
      ];
      if (i === 0) headers.push({ key: 'h-dup', value: Buffer.from('first') }, { key: 'h-dup', value: Buffer.from('second') });
      if (i === 6) headers.push({ key: 'h-bin', value: Buffer.from([0x00, 0x01, 0xfe, 0xff]) });
      if (i === 9 && client === 'java') headers.push({ key: 'h-null', value: null });
    }
    out.push({ key, value, headers, timestamp: client === 'kcat' ? null : BASE_TIMESTAMP + i * 1000 });
  }
  return out;
}

export type JsonBytes = null | { utf8: string } | { base64: string };

/** null, {utf8} when the bytes are printable UTF-8 that round-trips exactly, else {base64}. */
export function bytesToJson(b: Buffer | null): JsonBytes {
  if (b === null) return null;
  const s = b.toString('utf8');
  // eslint-disable-next-line no-control-regex
  if (Buffer.from(s, 'utf8').equals(b) && !/[\u0000-\u001f\u007f\ufffd]/.test(s)) return { utf8: s };
  return { base64: b.toString('base64') };
}

export function recordToJson(r: GoldenRecord, offset: number): Record<string, unknown> {
  return {
    offset,
    key: bytesToJson(r.key),
    value: bytesToJson(r.value),
    headers: r.headers.map((h) => ({ key: h.key, value: bytesToJson(h.value) })),
    timestamp: r.timestamp,
  };
}

const b64 = (b: Buffer | null): string => (b === null ? '~' : b.toString('base64'));

/** The TAB-separated line format read by java-golden-client.java. */
export function toJavaLine(r: GoldenRecord): string {
  const fields = [b64(r.key), b64(r.value), r.timestamp === null ? '~' : String(r.timestamp)];
  for (const h of r.headers) fields.push(h.value === null ? h.key : `${h.key}=${b64(h.value)}`);
  return fields.join('\t');
}

/** One stdin line for `kcat -P -K '\t' -Z`: an empty key or value is sent as null. */
export function toKcatLine(r: GoldenRecord): string {
  const text = (b: Buffer | null): string => {
    if (b === null) return '';
    const s = b.toString('utf8');
    if (s.length === 0 || /[\t\n]/.test(s)) throw new Error(`kcat cannot send ${JSON.stringify(s)} through stdin lines`);
    return s;
  };
  return `${text(r.key)}\t${text(r.value)}`;
}

/** A consumed record, as reported by a client, for comparison with the produced set. */
export interface ObservedRecord {
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: GoldenHeader[];
  timestamp: number;
}

const same = (a: Buffer | null, b: Buffer | null): boolean => (a === null || b === null ? a === b : a.equals(b));

/** Differences between what was produced and what a client read back (empty = identical). */
export function diffRecords(expected: readonly GoldenRecord[], observed: readonly ObservedRecord[]): string[] {
  const problems: string[] = [];
  if (expected.length !== observed.length) problems.push(`count: expected ${expected.length}, got ${observed.length}`);
  for (let i = 0; i < Math.min(expected.length, observed.length); i++) {
    const e = expected[i];
    const o = observed[i];
    if (e === undefined || o === undefined) continue;
    if (o.offset !== i) problems.push(`#${i}: offset ${o.offset}`);
    if (!same(e.key, o.key)) problems.push(`#${i}: key ${JSON.stringify(bytesToJson(o.key))} != ${JSON.stringify(bytesToJson(e.key))}`);
    if (!same(e.value, o.value)) problems.push(`#${i}: value differs (${o.value?.length ?? 'null'} vs ${e.value?.length ?? 'null'} bytes)`);
    if (e.timestamp !== null && e.timestamp !== o.timestamp) problems.push(`#${i}: timestamp ${o.timestamp} != ${e.timestamp}`);
    const eh = JSON.stringify(e.headers.map((h) => [h.key, bytesToJson(h.value)]));
    const oh = JSON.stringify(o.headers.map((h) => [h.key, bytesToJson(h.value)]));
    if (eh !== oh) problems.push(`#${i}: headers ${oh} != ${eh}`);
  }
  return problems;
}

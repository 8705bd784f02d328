// Deterministic record sets, the line format the external client programs read, and exact read-back checks.
import { expect } from 'vitest';

export interface TestRecord {
  partition: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<[string, Buffer | null]>;
  /** Producer-set CreateTime in ms; null when the client cannot set one (then it is checked against a window). */
  timestamp: number | null;
}

export interface ConsumedRecord {
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<[string, Buffer | null]>;
  timestamp: number;
}

export interface RecordSetOptions {
  /** Goes into every key and value, so records of different tests can never be confused. */
  tag: string;
  count: number;
  partitions: number;
  /** Explicit timestamps (default true). */
  timestamps?: boolean;
  /** Record 0 has a null key, record 1 a null value, record 2 an empty key and an empty value. */
  nullsAndEmpties?: boolean;
  /** Headers per record (default true): idx, tag, and on every third record the name `dup` twice. */
  headers?: boolean;
  /** Values with every byte value instead of UTF-8 text. */
  binaryValues?: boolean;
  /** Record 3 carries a header with a null value. */
  nullHeaderValue?: boolean;
}

/** CreateTime of record i: fixed, in the past, and distinct per record. */
export const BASE_TIMESTAMP = 1_767_225_600_000; // 2026-01-01T00:00:00Z

export function makeRecords(o: RecordSetOptions): TestRecord[] {
  const records: TestRecord[] = [];
  for (let i = 0; i < o.count; i++) {
    let key: Buffer | null = Buffer.from(`${o.tag}/key-${i}`);
    let value: Buffer | null = o.binaryValues === true
      ? Buffer.from(Array.from({ length: 1 + ((i * 53) % 400) }, (_, j) => (i * 31 + j * 7) % 256))
      : Buffer.from(`${o.tag} value #${i} ${'é✓'.repeat(i % 7)}${'z'.repeat((i * 37) % 300)}`);
    if (o.nullsAndEmpties === true) {
      if (i === 0) key = null;
      if (i === 1) value = null;
      if (i === 2) { key = Buffer.alloc(0); value = Buffer.alloc(0); }
    }
    const headers: Array<[string, Buffer | null]> = [];
    if (o.headers !== false) {
      headers.push(['idx', Buffer.from(String(i))], ['tag', Buffer.from(o.tag)]);
      if (i % 3 === 0) headers.push(['dup', Buffer.from('first')], ['dup', Buffer.from('second')]);
      if (o.nullHeaderValue === true && i === 3) headers.push(['null-header', null]);
    }
    records.push({ partition: i % o.partitions, key, value, headers, timestamp: o.timestamps === false ? null : BASE_TIMESTAMP + i * 1000 });
  }
  return records;
}

// ---- the line format of the external client programs (Java, franz-go, kafka-python) ----
// One record per line, TAB-separated: partition, timestamp (`-` = unset), key, value, then headers
// `name=value`; key, value and header values are base64, `~` = null; a header without `=` has a null value.

const b64 = (b: Buffer | null): string => (b === null ? '~' : b.toString('base64'));

export function toLines(records: readonly TestRecord[]): string {
  return records.map((r) => [
    String(r.partition), r.timestamp === null ? '-' : String(r.timestamp), b64(r.key), b64(r.value),
    ...r.headers.map(([name, v]) => (v === null ? name : `${name}=${v.toString('base64')}`)),
  ].join('\t')).join('\n') + '\n';
}

/** A consumed record as the external programs print it (JSON). */
export interface WireRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  headers: Array<[string, string | null]>;
  timestamp: number;
}

const unb64 = (s: string | null): Buffer | null => (s === null ? null : Buffer.from(s, 'base64'));

export function fromWire(records: readonly WireRecord[]): ConsumedRecord[] {
  return records.map((r) => ({
    partition: r.partition, offset: r.offset, key: unb64(r.key), value: unb64(r.value),
    headers: r.headers.map(([n, v]) => [n, unb64(v)] as [string, Buffer | null]), timestamp: r.timestamp,
  }));
}

// ---- checks ----

const show = (b: Buffer | null): string => {
  if (b === null) return 'null';
  const text = b.toString('utf8');
  return Buffer.from(text, 'utf8').equals(b) && ![...text].some((c) => c.charCodeAt(0) < 0x20) ? JSON.stringify(text) : `base64:${b.toString('base64')}`;
};

interface Shown {
  offset: number;
  key: string;
  value: string;
  headers: string[];
  timestamp: number | string;
}

const showRecord = (r: { key: Buffer | null; value: Buffer | null; headers: Array<[string, Buffer | null]> }, offset: number, timestamp: number | string): Shown => ({
  offset, key: show(r.key), value: show(r.value), headers: r.headers.map(([n, v]) => `${n}=${show(v)}`), timestamp,
});

export interface ReadBackOptions {
  partitions: number;
  /** First offset read per partition (default 0): records before it are not expected. */
  fromOffset?: ReadonlyMap<number, number>;
  /** Offset of the first expected record per partition (default 0: the topic was empty). */
  baseOffset?: ReadonlyMap<number, number>;
  /** Window for records without a producer timestamp (the broker or client sets CreateTime). */
  timestampWindow?: readonly [number, number];
  /** The client does not expose headers on this path. */
  ignoreHeaders?: boolean;
}

/** Groups the expected records by partition with the offsets they must get (send order). */
export function expectedByPartition(expected: readonly TestRecord[], o: ReadBackOptions): Map<number, Array<TestRecord & { offset: number }>> {
  const out = new Map<number, Array<TestRecord & { offset: number }>>();
  for (let p = 0; p < o.partitions; p++) out.set(p, []);
  for (const r of expected) {
    const list = out.get(r.partition);
    if (list === undefined) throw new Error(`record for partition ${r.partition} outside 0..${o.partitions - 1}`);
    list.push({ ...r, offset: (o.baseOffset?.get(r.partition) ?? 0) + list.length });
  }
  for (const [p, list] of out) out.set(p, list.filter((r) => r.offset >= (o.fromOffset?.get(p) ?? 0)));
  return out;
}

/**
 * The consumed records are exactly the expected ones: per partition the same records in send order at
 * consecutive offsets, with identical keys, values, headers (order included) and timestamps; nothing else.
 */
export function expectReadBack(label: string, consumed: readonly ConsumedRecord[], expected: readonly TestRecord[], o: ReadBackOptions): void {
  const want = expectedByPartition(expected, o);
  const strays = consumed.filter((r) => !want.has(r.partition));
  expect(strays.map((r) => `${r.partition}@${r.offset}`), `${label}: records from partitions outside 0..${o.partitions - 1}`).toEqual([]);
  for (const [p, records] of want) {
    const got = consumed.filter((r) => r.partition === p);
    const window = o.timestampWindow;
    const actual = got.map((r) => {
      const inWindow = window !== undefined && r.timestamp >= window[0] && r.timestamp <= window[1];
      return showRecord(o.ignoreHeaders === true ? { ...r, headers: [] } : r, r.offset, inWindow ? 'within produce window' : r.timestamp);
    });
    const wanted = records.map((r) => showRecord(o.ignoreHeaders === true ? { ...r, headers: [] } : r, r.offset, r.timestamp ?? 'within produce window'));
    expect(actual, `${label}: partition ${p} (${got.length} records read, ${records.length} expected)`).toEqual(wanted);
  }
}

/** Per-record produce acknowledgements: record i got the offset it must have in its partition. */
export function expectAckOffsets(label: string, acks: ReadonlyArray<{ partition: number; offset: number }>, expected: readonly TestRecord[], baseOffset?: ReadonlyMap<number, number>): void {
  const next = new Map<number, number>();
  const want = expected.map((r) => {
    const o = next.get(r.partition) ?? baseOffset?.get(r.partition) ?? 0;
    next.set(r.partition, o + 1);
    return { partition: r.partition, offset: o };
  });
  expect(acks.map((a) => ({ partition: a.partition, offset: a.offset })), `${label}: acknowledged (partition, offset) per record`).toEqual(want);
}

/** How many records each partition gets (its end offset after producing into an empty topic). */
export function countsByPartition(records: readonly TestRecord[], partitions: number): number[] {
  const counts = Array.from({ length: partitions }, () => 0);
  for (const r of records) counts[r.partition] = (counts[r.partition] ?? 0) + 1;
  return counts;
}

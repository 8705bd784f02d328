// The external client programs (test/compat/clients: Java, franz-go, kafka-python) share one command-line
// interface; this drives them and checks their results.
import { expect } from 'vitest';
import type { Codec, TestBroker } from './broker.ts';
import { runJson } from './proc.ts';
import { countsByPartition, expectAckOffsets, expectReadBack, fromWire, makeRecords, toLines, type ConsumedRecord, type RecordSetOptions, type TestRecord, type WireRecord } from './records.ts';
import { createTopicFixture } from './fixtures.ts';
import { expectStoredBatches, step } from './step.ts';

export interface ClientError {
  [extra: string]: unknown;
  class: string;
  message: string;
  /** Kafka's name for the error as the client classifies it (Errors.forException, kerr, errno), or NONE. */
  kafka: string;
}

export interface MetadataResult {
  clusterId: string | null;
  controller: number;
  brokers: Array<{ id: number; host: string; port: number }>;
  listed: string[];
  topics: Array<{ name: string; partitions: Array<{ partition: number; leader: number; replicas: number[]; isr: number[] }> } & Record<string, unknown>>;
}

export type ProduceResult = { partition: number; offset: number } | { error: ClientError };

export interface ProduceOptions {
  acks?: 'all' | '1' | '0';
  codec?: Codec;
  /** Omitted: the client's default. */
  idempotent?: boolean;
  extra?: Record<string, string>;
}

export interface GroupConsumeResult {
  records?: WireRecord[];
  committed?: Record<string, number>;
  error?: ClientError;
}

export interface GroupInfoResult {
  committed?: Record<string, number>;
  state?: string;
  members?: number;
  groups?: string[];
  error?: ClientError | null;
}

type Args = Record<string, string | number | readonly string[] | undefined>;

const PROGRAM_TIMEOUT_MS = 90_000;

export class ProgramClient {
  readonly name: string;
  private readonly cmd: string;
  private readonly prefix: readonly string[];
  private readonly broker: TestBroker;

  constructor(name: string, cmd: string, prefix: readonly string[], broker: TestBroker) {
    this.name = name;
    this.cmd = cmd;
    this.prefix = prefix;
    this.broker = broker;
  }

  /** Runs one command of the program as a named step. */
  async run<T>(what: string, command: string, args: Args, input?: string, timeoutMs = PROGRAM_TIMEOUT_MS): Promise<T> {
    const argv = [...this.prefix, this.broker.bootstrap, command];
    for (const [k, v] of Object.entries(args)) {
      if (v === undefined) continue;
      for (const one of Array.isArray(v) ? v as readonly string[] : [String(v)]) argv.push(`--${k}`, one);
    }
    return step(this.name, what, timeoutMs + 5_000, () => runJson<T>(this.cmd, argv, { timeoutMs, ...(input !== undefined ? { input } : {}) }), this.broker);
  }

  metadata(topics: readonly string[] = []): Promise<MetadataResult> {
    return this.run('metadata', 'metadata', { topics: topics.length > 0 ? topics.join(',') : undefined });
  }

  create(topic: string, partitions: number, configs: Readonly<Record<string, string>> = {}): Promise<{ ok?: true; error?: ClientError }> {
    return this.run(`create topic ${topic}`, 'create', { topic, partitions, config: Object.entries(configs).map(([k, v]) => `${k}=${v}`) });
  }

  async createOk(topic: string, partitions: number, configs: Readonly<Record<string, string>> = {}): Promise<void> {
    const r = await this.create(topic, partitions, configs);
    expect(r.error, `[${this.name}] create topic ${topic}: error`).toBeUndefined();
    expect(r, `[${this.name}] create topic ${topic}`).toMatchObject({ ok: true });
  }

  async produce(what: string, topic: string, records: readonly TestRecord[], o: ProduceOptions = {}): Promise<ProduceResult[]> {
    const r = await this.run<{ results: ProduceResult[] }>(what, 'produce', {
      topic, acks: o.acks, codec: o.codec, idempotent: o.idempotent === undefined ? undefined : String(o.idempotent), ...o.extra,
    }, toLines(records));
    expect(r.results.length, `[${this.name}] ${what}: one result per record`).toBe(records.length);
    return r.results;
  }

  async consume(what: string, topic: string, partitions: number, offset: number, count: number): Promise<ConsumedRecord[]> {
    const r = await this.run<{ records: WireRecord[] }>(what, 'consume', { topic, partitions: Array.from({ length: partitions }, (_, p) => String(p)).join(','), offset, count, 'timeout-ms': 20_000 });
    return fromWire(r.records);
  }

  groupConsume(what: string, group: string, topic: string, count: number): Promise<GroupConsumeResult> {
    return this.run(what, 'group-consume', { group, topic, count, 'timeout-ms': 40_000 });
  }

  groupInfo(what: string, group: string, topic: string): Promise<GroupInfoResult> {
    return this.run(what, 'group-info', { group, topic });
  }
}

export interface RoundTripOptions {
  topic: string;
  partitions?: number;
  count?: number;
  produce: ProduceOptions;
  /** How the stored batches must look: idempotent (producer id + sequences) or not. */
  expectIdempotent: boolean;
  records?: Partial<RecordSetOptions>;
  /** The client reports real offsets per record (false for acks=0). */
  checkAckOffsets?: boolean;
  label: string;
}

/**
 * Create a topic, produce a record set with two producers one after the other (a second producer session
 * on the same partitions: a new producer id when idempotent), check every acknowledgement, read everything back from offset 0 and from offset 5 (inside a
 * batch), and check the stored batches (codec, offsets, producer ids and sequences).
 */
export async function programRoundTrip(client: ProgramClient, broker: TestBroker, o: RoundTripOptions): Promise<void> {
  const partitions = o.partitions ?? 3;
  const records = makeRecords({ tag: o.topic, count: o.count ?? 60, partitions, nullsAndEmpties: true, ...o.records });
  await createTopicFixture(broker, o.topic, partitions);
  const split = Math.floor(records.length * 2 / 3);
  const results = [
    ...await client.produce(`${o.label}: produce records 0..${split - 1} (first producer)`, o.topic, records.slice(0, split), o.produce),
    ...await client.produce(`${o.label}: produce records ${split}..${records.length - 1} (second producer)`, o.topic, records.slice(split), o.produce),
  ];
  const errors = results.filter((r): r is { error: ClientError } => 'error' in r);
  expect(errors, `[${client.name}] ${o.label}: produce errors`).toEqual([]);
  if (o.checkAckOffsets !== false) expectAckOffsets(`[${client.name}] ${o.label}`, results as Array<{ partition: number; offset: number }>, records);
  const consumed = await client.consume(`${o.label}: consume from offset 0`, o.topic, partitions, 0, records.length);
  expectReadBack(`[${client.name}] ${o.label}: read back from offset 0`, consumed, records, { partitions });
  const fromMiddle = await client.consume(`${o.label}: consume from offset 5`, o.topic, partitions, 5, records.length - 5 * partitions);
  expectReadBack(`[${client.name}] ${o.label}: read back from offset 5`, fromMiddle, records, { partitions, fromOffset: new Map(Array.from({ length: partitions }, (_, p) => [p, 5])) });
  const counts = countsByPartition(records, partitions);
  for (let p = 0; p < partitions; p++) {
    expectStoredBatches(`[${client.name}] ${o.label}`, broker, o.topic, p, { codec: o.produce.codec ?? 'none', idempotent: o.expectIdempotent, records: counts[p] ?? 0 });
  }
}

/**
 * Consumer group: consume everything with commit, check the committed offsets (from the consumer and
 * from the group admin API), then produce more and check a new member of the group gets only those.
 */
export async function programGroupTest(client: ProgramClient, broker: TestBroker, o: { topic: string; group: string; produce: ProduceOptions; expectedState: string }): Promise<void> {
  const partitions = 3;
  const first = makeRecords({ tag: `${o.topic}-a`, count: 30, partitions });
  const second = makeRecords({ tag: `${o.topic}-b`, count: 12, partitions });
  await createTopicFixture(broker, o.topic, partitions);
  const r1 = await client.produce('group: produce the first set', o.topic, first, o.produce);
  expect(r1.filter((r) => 'error' in r), `[${client.name}] group: produce errors`).toEqual([]);

  const g1 = await client.groupConsume('group: first member consumes and commits', o.group, o.topic, first.length);
  expect(g1.error, `[${client.name}] group: first member: error`).toBeUndefined();
  expectReadBack(`[${client.name}] group: first member`, fromWire(g1.records ?? []), first, { partitions });
  const counts1 = countsByPartition(first, partitions);
  const wantCommitted = Object.fromEntries(counts1.map((n, p) => [String(p), n]));
  expect(g1.committed, `[${client.name}] group: committed offsets seen by the first member`).toEqual(wantCommitted);

  const info = await client.groupInfo('group: admin view after the first member left', o.group, o.topic);
  expect({ committed: info.committed, state: info.state, members: info.members, groups: info.groups, error: info.error ?? null },
    `[${client.name}] group: admin view (committed offsets, state, members, listed groups)`).toEqual({ committed: wantCommitted, state: o.expectedState, members: 0, groups: [o.group], error: null });

  const r2 = await client.produce('group: produce the second set', o.topic, second, o.produce);
  expect(r2.filter((r) => 'error' in r), `[${client.name}] group: produce errors (second set)`).toEqual([]);
  const g2 = await client.groupConsume('group: second member resumes from the committed offsets', o.group, o.topic, second.length);
  expect(g2.error, `[${client.name}] group: second member: error`).toBeUndefined();
  expectReadBack(`[${client.name}] group: second member`, fromWire(g2.records ?? []), second, { partitions, baseOffset: new Map(counts1.map((n, p) => [p, n])) });
  const counts2 = countsByPartition(second, partitions);
  expect(g2.committed, `[${client.name}] group: committed offsets after the second member`).toEqual(Object.fromEntries(counts1.map((n, p) => [String(p), n + (counts2[p] ?? 0)])));
}

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

export interface GroupMembersResult {
  /** Each member's partitions (member order) once the N members' assignments were disjoint and complete. */
  before?: number[][];
  /** The same for the N-1 members left after the last one closed (LeaveGroup). */
  after?: number[][];
  /** The group as the client's admin API describes it after the leave. */
  state?: string;
  members?: number;
  error?: ClientError;
}

const ascending = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b);

/** Every member has a share, no partition twice, every partition once. */
export function expectSplit(what: string, assignment: readonly number[][] | undefined, members: number, partitions: number): void {
  expect(assignment?.length, `${what}: one assignment per member (${JSON.stringify(assignment)})`).toBe(members);
  const all = ascending((assignment ?? []).flat());
  expect(all, `${what}: partitions disjoint and complete (${JSON.stringify(assignment)})`).toEqual(Array.from({ length: partitions }, (_, p) => p));
  // Balanced: 6 partitions give each member floor(6/n) or ceil(6/n) of them.
  expect(ascending((assignment ?? []).map((a) => a.length)), `${what}: balanced shares (${JSON.stringify(assignment)})`)
    .toEqual(Array.from({ length: members }, (_, i) => Math.floor(partitions / members) + (i >= members - (partitions % members) ? 1 : 0)));
}

/**
 * A group of 3 members in one client process over a 6-partition topic: the partitions are split among
 * them, then the last member leaves and the two others take everything; the client's admin API then
 * describes the group as Stable with 2 members.
 */
export async function programRebalanceTest(client: ProgramClient, broker: TestBroker, o: { topic: string; group: string }): Promise<void> {
  const partitions = 6;
  await createTopicFixture(broker, o.topic, partitions);
  const r = await client.run<GroupMembersResult>('rebalance: 3 members, then one leaves', 'group-members', { group: o.group, topic: o.topic, members: 3, partitions, 'timeout-ms': 45_000 }, undefined, 60_000);
  expect(r.error, `[${client.name}] rebalance: error (${JSON.stringify(r)})`).toBeUndefined();
  expectSplit(`[${client.name}] rebalance: 3 members`, r.before, 3, partitions);
  expectSplit(`[${client.name}] rebalance: 2 members after one left`, r.after, 2, partitions);
  expect({ state: r.state, members: r.members }, `[${client.name}] rebalance: the group described after the leave`).toEqual({ state: 'Stable', members: 2 });
}

/**
 * Offsets committed by the client's group consumer survive a broker restart (SIGTERM, same data dir and
 * ports): the admin view shows them after the restart, and a new member resumes exactly there.
 */
export async function programRestartTest(client: ProgramClient, broker: TestBroker, o: { topic: string; group: string; produce: ProduceOptions; expectedState: string }): Promise<void> {
  const partitions = 3;
  const first = makeRecords({ tag: `${o.topic}-a`, count: 30, partitions });
  const second = makeRecords({ tag: `${o.topic}-b`, count: 12, partitions });
  await createTopicFixture(broker, o.topic, partitions);
  const r1 = await client.produce('restart: produce the first set', o.topic, first, o.produce);
  expect(r1.filter((r) => 'error' in r), `[${client.name}] restart: produce errors`).toEqual([]);
  const g1 = await client.groupConsume('restart: first member consumes and commits', o.group, o.topic, first.length);
  expect(g1.error, `[${client.name}] restart: first member: error`).toBeUndefined();
  expectReadBack(`[${client.name}] restart: first member`, fromWire(g1.records ?? []), first, { partitions });
  const counts1 = countsByPartition(first, partitions);
  const wantCommitted = Object.fromEntries(counts1.map((n, p) => [String(p), n]));
  expect(g1.committed, `[${client.name}] restart: committed offsets seen by the first member`).toEqual(wantCommitted);

  await step(client.name, 'restart: broker SIGTERM + start on the same data dir', 60_000, () => broker.restart(), broker);

  const info = await client.groupInfo('restart: admin view after the restart', o.group, o.topic);
  expect({ committed: info.committed, state: info.state, members: info.members, error: info.error ?? null },
    `[${client.name}] restart: committed offsets, state and members after the restart`).toEqual({ committed: wantCommitted, state: o.expectedState, members: 0, error: null });
  const r2 = await client.produce('restart: produce the second set', o.topic, second, o.produce);
  expect(r2.filter((r) => 'error' in r), `[${client.name}] restart: produce errors (second set)`).toEqual([]);
  const g2 = await client.groupConsume('restart: new member resumes from the committed offsets', o.group, o.topic, second.length);
  expect(g2.error, `[${client.name}] restart: new member: error`).toBeUndefined();
  expectReadBack(`[${client.name}] restart: new member`, fromWire(g2.records ?? []), second, { partitions, baseOffset: new Map(counts1.map((n, p) => [p, n])) });
  const counts2 = countsByPartition(second, partitions);
  expect(g2.committed, `[${client.name}] restart: committed offsets after the new member`).toEqual(Object.fromEntries(counts1.map((n, p) => [String(p), n + (counts2[p] ?? 0)])));
}

export interface ConfigsResult {
  /** name -> [value, is the default] */
  configs?: Record<string, [string | null, boolean]>;
  error?: ClientError;
}

/**
 * The client's own admin API: create a topic, alter retention.ms and describe it (and a default next to
 * it), grow it from 2 to 5 partitions, delete it.
 */
export async function programAdminTest(client: ProgramClient, topic: string, brokerId: number): Promise<void> {
  await client.createOk(topic, 2);
  const names = 'retention.ms,cleanup.policy';
  const before = await client.run<ConfigsResult>('admin: describe topic configs', 'configs', { topic, names });
  expect(before, `[${client.name}] admin: describe configs of a new topic`).toEqual({ configs: { 'retention.ms': ['604800000', true], 'cleanup.policy': ['delete', true] } });
  const after = await client.run<ConfigsResult>('admin: alter retention.ms, then describe', 'configs', { topic, names, set: 'retention.ms=3600000' });
  expect(after, `[${client.name}] admin: describe configs after the alter`).toEqual({ configs: { 'retention.ms': ['3600000', false], 'cleanup.policy': ['delete', true] } });

  const grown = await client.run<{ ok?: true; error?: ClientError }>('admin: create partitions (2 -> 5)', 'create-partitions', { topic, count: 5 });
  expect(grown, `[${client.name}] admin: create partitions`).toEqual({ ok: true });
  const md = await client.metadata([topic]);
  expect(md.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partition: p.partition, leader: p.leader, replicas: p.replicas, isr: p.isr })) })),
    `[${client.name}] admin: metadata after create partitions`).toEqual([{ name: topic, partitions: [0, 1, 2, 3, 4].map((partition) => ({ partition, leader: brokerId, replicas: [brokerId], isr: [brokerId] })) }]);
  expect(md.listed, `[${client.name}] admin: listed before the delete`).toContain(topic);

  const deleted = await client.run<{ ok?: true; error?: ClientError }>('admin: delete the topic', 'delete-topic', { topic });
  expect(deleted, `[${client.name}] admin: delete topic`).toEqual({ ok: true });
  const listed = (await client.metadata()).listed;
  expect(listed, `[${client.name}] admin: listed after the delete`).not.toContain(topic);
}

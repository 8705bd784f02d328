// kcat 1.7.1 with librdkafka 2.0.2 (Debian) against a real Millrace broker. librdkafka checks exact
// versions inside the advertised ranges (message format v2 needs Produce 3 / Fetch 4, zstd needs Produce 7
// / Fetch 10, gzip/snappy/lz4 need Produce minimum 0, the group consumer needs FindCoordinator 0,
// JoinGroup/SyncGroup/Heartbeat/LeaveGroup 0, OffsetCommit 1-2, OffsetFetch 1). kcat has no admin API:
// topics come from the kafkajs fixture; kcat headers are the same for every message of one invocation,
// and it cannot set timestamps. This file's broker runs with message.max.bytes lowered, so the oversized
// record test exercises the broker default (no topic override).
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { ALL_CODECS, TestBroker, type Codec } from './helpers/broker.ts';
import { createTopicFixture } from './helpers/fixtures.ts';
import { commandLine, run, tail } from './helpers/proc.ts';
import { countsByPartition, expectReadBack, makeRecords, type ConsumedRecord, type TestRecord } from './helpers/records.ts';
import { closeQuietly, expectStoredBatches, step } from './helpers/step.ts';
import { kcat } from './helpers/tools.ts';
import { expectSplit } from './helpers/program.ts';

const CLIENT = 'kcat';
const STEP_MS = 45_000;
const BROKER_MESSAGE_MAX_BYTES = 100_000;

let broker: TestBroker;
let kcatPath: string;

beforeAll(async () => {
  kcatPath = kcat();
  broker = await TestBroker.start(CLIENT, { 'auto.create.topics.enable': 'false', 'message.max.bytes': String(BROKER_MESSAGE_MAX_BYTES) });
});

afterAll(async () => {
  await broker?.stop();
});

interface KcatResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs kcat; failures to run at all (timeout) are step errors, exit codes are for the caller to check. */
function kcatRun(what: string, args: readonly string[], input?: string): Promise<KcatResult> {
  const argv = ['-b', broker.bootstrap, '-X', 'socket.timeout.ms=10000', ...args];
  return step(CLIENT, what, STEP_MS, () => run(kcatPath, argv, { timeoutMs: STEP_MS - 5_000, ...(input !== undefined ? { input } : {}) }), broker);
}

async function kcatOk(what: string, args: readonly string[], input?: string): Promise<string> {
  const r = await kcatRun(what, args, input);
  if (r.code !== 0) throw new Error(`[${CLIENT}] ${what}: exit ${r.code}: ${commandLine(kcatPath, args)}\n--- stderr (tail):\n${tail(r.stderr)}`);
  return r.stdout;
}

interface KcatJsonMessage {
  topic: string;
  partition: number;
  offset: number;
  tstype: string;
  ts: number;
  headers?: string[];
  key: string | null;
  payload: string | null;
}

function parseMessages(stdout: string): ConsumedRecord[] {
  return stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => {
    const m = JSON.parse(l) as KcatJsonMessage;
    const headers: Array<[string, Buffer | null]> = [];
    const flat = m.headers ?? [];
    for (let i = 0; i + 1 < flat.length; i += 2) headers.push([flat[i] as string, Buffer.from(flat[i + 1] as string)]);
    return {
      partition: m.partition, offset: m.offset, key: m.key === null ? null : Buffer.from(m.key), value: m.payload === null ? null : Buffer.from(m.payload),
      headers, timestamp: m.ts,
    };
  });
}

/** Text records kcat can carry (no TAB or newline), with the static headers of every invocation. */
function kcatRecords(tag: string, count: number, partitions: number, headers: Array<[string, string]>): TestRecord[] {
  return makeRecords({ tag, count, partitions, timestamps: false, headers: false })
    .map((r) => ({ ...r, headers: headers.map(([n, v]) => [n, Buffer.from(v)] as [string, Buffer | null]) }));
}

const lines = (records: readonly TestRecord[]): string => records.map((r) => `${r.key?.toString() ?? ''}\t${r.value?.toString() ?? ''}`).join('\n') + '\n';

async function produce(what: string, topic: string, records: readonly TestRecord[], partitions: number, extra: readonly string[]): Promise<void> {
  for (let p = 0; p < partitions; p++) {
    const mine = records.filter((r) => r.partition === p);
    if (mine.length === 0) continue;
    const headerArgs = (mine[0]?.headers ?? []).flatMap(([n, v]) => ['-H', `${n}=${v?.toString() ?? ''}`]);
    await kcatOk(`${what}: produce ${mine.length} records to partition ${p}`, ['-P', '-t', topic, '-p', String(p), '-K', '\t', ...headerArgs, ...extra], lines(mine));
  }
}

async function consume(what: string, topic: string, partition: number, offset: string, count: number): Promise<ConsumedRecord[]> {
  const out = await kcatOk(what, ['-C', '-t', topic, '-p', String(partition), '-o', offset, '-c', String(count), '-e', '-J']);
  return parseMessages(out);
}

async function roundTrip(label: string, topic: string, codec: Codec, extra: readonly string[], idempotent: boolean): Promise<void> {
  const partitions = 3;
  await createTopicFixture(broker, topic, partitions);
  const records = kcatRecords(topic, 60, partitions, [['client', 'kcat'], ['test', label]]);
  const split = 40;
  const before = Date.now();
  await produce(`${label} (first producer)`, topic, records.slice(0, split), partitions, ['-z', codec, ...extra]);
  await produce(`${label} (second producer)`, topic, records.slice(split), partitions, ['-z', codec, ...extra]);
  const window = [before, Date.now()] as const;
  const counts = countsByPartition(records, partitions);
  const consumed: ConsumedRecord[] = [];
  const fromMiddle: ConsumedRecord[] = [];
  const lastThree: ConsumedRecord[] = [];
  for (let p = 0; p < partitions; p++) {
    const n = counts[p] ?? 0;
    consumed.push(...await consume(`${label}: consume ${topic}-${p} from offset 0`, topic, p, '0', n));
    fromMiddle.push(...await consume(`${label}: consume ${topic}-${p} from offset 5`, topic, p, '5', n - 5));
    // A negative -o is relative to the end: ListOffsets (latest) first, then Fetch.
    lastThree.push(...await consume(`${label}: consume the last 3 of ${topic}-${p} (-o -3)`, topic, p, '-3', 3));
  }
  expectReadBack(`[${CLIENT}] ${label}: read back from offset 0`, consumed, records, { partitions, timestampWindow: window });
  expectReadBack(`[${CLIENT}] ${label}: read back from offset 5`, fromMiddle, records, { partitions, timestampWindow: window, fromOffset: new Map([[0, 5], [1, 5], [2, 5]]) });
  expectReadBack(`[${CLIENT}] ${label}: the last 3 per partition`, lastThree, records, { partitions, timestampWindow: window, fromOffset: new Map(counts.map((n, p) => [p, n - 3])) });
  for (let p = 0; p < partitions; p++) expectStoredBatches(`[${CLIENT}] ${label}`, broker, topic, p, { codec, idempotent, records: counts[p] ?? 0 });
}

/**
 * Consumer group (-G): a member consumes everything and commits when it closes; then (optionally after a
 * broker restart) a new member resumes from the committed offsets.
 */
async function groupResumeTest(topic: string, group: string, restart: boolean): Promise<void> {
  const partitions = 3;
  await createTopicFixture(broker, topic, partitions);
  const first = kcatRecords(`${topic}-a`, 30, partitions, [['set', 'a']]);
  const second = kcatRecords(`${topic}-b`, 12, partitions, [['set', 'b']]);
  const before = Date.now();
  await produce('group: first set', topic, first, partitions, []);
  const groupConsume = async (what: string, count: number): Promise<ConsumedRecord[]> =>
    parseMessages(await kcatOk(what, ['-G', group, '-c', String(count), '-J', '-X', 'auto.offset.reset=earliest', '-X', 'session.timeout.ms=10000', topic]));
  const got1 = await groupConsume('group: first member', first.length);
  expectReadBack(`[${CLIENT}] group: first member`, got1, first, { partitions, timestampWindow: [before, Date.now()] });

  if (restart) await step(CLIENT, 'group: broker restart (SIGTERM + start on the same data dir)', 60_000, () => broker.restart(), broker);
  // (after a restart: the offsets as the restarted broker has them)
  const kafka = new Kafka({ clientId: 'compat-kcat-check', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2 } });
  const admin = kafka.admin();
  try {
    await step(CLIENT, 'group: admin connect (kafkajs, to read the committed offsets)', STEP_MS, () => admin.connect(), broker);
    const committed = await step(CLIENT, 'group: committed offsets (kafkajs fetchOffsets)', STEP_MS, () => admin.fetchOffsets({ groupId: group, topics: [topic] }), broker);
    expect(committed.flatMap((t) => t.partitions.map((p) => ({ partition: p.partition, offset: p.offset }))).sort((a, b) => a.partition - b.partition),
      `[${CLIENT}] group: offsets committed by kcat when it closed`).toEqual(countsByPartition(first, partitions).map((n, p) => ({ partition: p, offset: String(n) })));
  } finally {
    await closeQuietly('kafkajs admin disconnect', () => admin.disconnect());
  }

  await produce('group: second set', topic, second, partitions, []);
  const got2 = await groupConsume('group: second member (resumes from committed)', second.length);
  expectReadBack(`[${CLIENT}] group: second member`, got2, second, { partitions, timestampWindow: [before, Date.now()], baseOffset: new Map(countsByPartition(first, partitions).map((n, p) => [p, n])) });
}

/** A long-running `kcat -G` member; its rebalance callback prints "assigned: t [p], ..." / "revoked: ..." to stderr. */
class KcatMember {
  private readonly child: ChildProcess;
  private stderr = '';
  private readonly exited: Promise<void>;
  private done = false;

  constructor(cmd: string, args: readonly string[]) {
    this.child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr?.setEncoding('utf8').on('data', (c: string) => { this.stderr += c; });
    this.exited = new Promise((resolve) => {
      this.child.once('close', () => { this.done = true; resolve(); });
      this.child.once('error', () => { this.done = true; resolve(); });
    });
  }

  /** The partitions of the last assignment (eager protocol: a revoke empties it), null if it exited. */
  partitions(): number[] | null {
    if (this.done) return null;
    let current: number[] = [];
    for (const m of this.stderr.matchAll(/(assigned|revoked): ([^\n]*)/g)) {
      current = m[1] === 'revoked' ? [] : [...(m[2] ?? '').matchAll(/\[(\d+)\]/g)].map((x) => Number(x[1])).sort((a, b) => a - b);
    }
    return current;
  }

  log(): string {
    return tail(this.stderr, 10);
  }

  /** SIGTERM (kcat closes the consumer: LeaveGroup), SIGKILL after 15 s. */
  async stop(): Promise<void> {
    if (this.done) return;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = await Promise.race([this.exited.then(() => false), new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), 15_000); })]);
    clearTimeout(timer);
    if (killed) {
      this.child.kill('SIGKILL');
      await this.exited;
      throw new Error(`kcat member did not exit within 15 s of SIGTERM; stderr:\n${this.log()}`);
    }
  }
}

/** Waits until the members' assignments are disjoint and complete, and have held for a second. */
function awaitKcatSplit(what: string, members: readonly KcatMember[], partitions: number): Promise<number[][]> {
  return step(CLIENT, what, 45_000, async () => {
    let seen = '';
    let since = Date.now();
    for (;;) {
      const views = members.map((m) => m.partitions());
      if (views.some((v) => v === null)) throw new Error(`a kcat member exited:\n${members.map((m, i) => `--- member ${i}:\n${m.log()}`).join('\n')}`);
      const all = (views as number[][]).flat();
      const ok = (views as number[][]).every((v) => v.length > 0) && all.length === partitions && new Set(all).size === partitions;
      const now = ok ? JSON.stringify(views) : '';
      if (now === '' || now !== seen) { seen = now; since = Date.now(); } else if (Date.now() - since >= 1_000) return views as number[][];
      await new Promise((r) => setTimeout(r, 50));
    }
  }, broker);
}

describe('kcat (librdkafka 2.0.2)', () => {
  it('metadata: brokers, controller, topics (-L -J)', async () => {
    await createTopicFixture(broker, 'kcat-meta', 3);
    const md = JSON.parse(await kcatOk('metadata', ['-L', '-J'])) as Record<string, unknown>;
    expect({ controllerid: md['controllerid'], brokers: md['brokers'], topics: md['topics'] }, `[${CLIENT}] metadata (-L -J)`).toEqual({
      controllerid: broker.nodeId,
      brokers: [{ id: broker.nodeId, name: broker.bootstrap }],
      topics: [{ topic: 'kcat-meta', partitions: [0, 1, 2].map((partition) => ({ partition, leader: broker.nodeId, replicas: [{ id: broker.nodeId }], isrs: [{ id: broker.nodeId }] })) }],
    });
  });

  for (const codec of ALL_CODECS) {
    it(`produce and read back by partition/offset, compression ${codec}`, async () => {
      await roundTrip(`codec ${codec}`, `kcat-codec-${codec}`, codec, [], false);
    });
  }

  for (const acks of ['0', '1', 'all']) {
    it(`produce with acks=${acks}`, async () => {
      await roundTrip(`acks=${acks}`, `kcat-acks-${acks}`, 'snappy', ['-X', `acks=${acks}`], false);
    });
  }

  it('idempotent producer (enable.idempotence=true): producer ids and sequences', async () => {
    await roundTrip('idempotent', 'kcat-idempotent', 'lz4', ['-X', 'enable.idempotence=true'], true);
  });

  it('consumer group (-G): consumes everything, commits on close, a new member resumes', async () => {
    await groupResumeTest('kcat-group', 'kcat-group-1', false);
  });

  it('consumer group of 3 members (-G): partitions split among them, and re-split when one leaves', async () => {
    const topic = 'kcat-rebalance';
    const group = 'kcat-rebalance-1';
    const partitions = 6;
    await createTopicFixture(broker, topic, partitions);
    const members = Array.from({ length: 3 }, (_, i) => new KcatMember(kcatPath, ['-b', broker.bootstrap, '-X', `client.id=compat-kcat-member-${i}`, '-X', 'session.timeout.ms=10000',
      '-X', 'heartbeat.interval.ms=500', '-X', 'auto.offset.reset=earliest', '-G', group, topic]));
    try {
      expectSplit(`[${CLIENT}] rebalance: 3 members`, await awaitKcatSplit('rebalance: 3 members share 6 partitions', members, partitions), 3, partitions);
      await step(CLIENT, 'rebalance: member 2 leaves (SIGTERM: kcat closes the consumer, LeaveGroup)', STEP_MS, () => members[2]!.stop(), broker);
      expectSplit(`[${CLIENT}] rebalance: 2 members after one left`, await awaitKcatSplit('rebalance: 2 remaining members take all 6 partitions', members.slice(0, 2), partitions), 2, partitions);
      const kafka = new Kafka({ clientId: 'compat-kcat-check', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2 } });
      const admin = kafka.admin();
      try {
        await step(CLIENT, 'rebalance: admin connect (kafkajs: kcat has no DescribeGroups)', STEP_MS, () => admin.connect(), broker);
        const described = await step(CLIENT, 'rebalance: describeGroups (kafkajs)', STEP_MS, () => admin.describeGroups([group]), broker);
        expect(described.groups.map((g) => ({ state: g.state, members: g.members.length, clients: g.members.map((m) => m.clientId).sort() })), `[${CLIENT}] rebalance: the group after the leave`)
          .toEqual([{ state: 'Stable', members: 2, clients: ['compat-kcat-member-0', 'compat-kcat-member-1'] }]);
      } finally {
        await closeQuietly('kafkajs admin disconnect', () => admin.disconnect());
      }
    } finally {
      for (const m of members) await closeQuietly('kcat member stop', () => m.stop());
    }
  });

  it('error: unknown topic with auto-create off', async () => {
    const p = await kcatRun('produce to an unknown topic', ['-P', '-t', 'kcat-missing', '-p', '0', '-X', 'topic.metadata.propagation.max.ms=3000'], 'x\n');
    expect({ code: p.code, error: /% Delivery failed for message: (.*)/.exec(p.stderr)?.[1] }, `[${CLIENT}] produce to an unknown topic (stderr: ${tail(p.stderr, 5)})`)
      .toEqual({ code: 1, error: 'Broker: Unknown topic or partition' });
    const c = await kcatRun('consume an unknown topic', ['-C', '-t', 'kcat-missing', '-p', '0', '-e']);
    expect({ code: c.code, error: /% ERROR: (.*)/.exec(c.stderr)?.[1] }, `[${CLIENT}] consume an unknown topic (stderr: ${tail(c.stderr, 5)})`)
      .toEqual({ code: 1, error: 'Topic kcat-missing error: Broker: Unknown topic or partition' });
    const md = JSON.parse(await kcatOk('metadata after the failures', ['-L', '-J'])) as { topics: Array<{ topic: string }> };
    expect(md.topics.map((t) => t.topic), `[${CLIENT}] the unknown topic was not auto-created`).not.toContain('kcat-missing');
  });

  it('error: a record larger than the broker message.max.bytes gets MESSAGE_TOO_LARGE', async () => {
    const topic = 'kcat-too-large';
    await createTopicFixture(broker, topic, 1);
    // Base64 text of random bytes: kcat-safe and incompressible enough; sent uncompressed anyway.
    const big = Buffer.from(Array.from({ length: BROKER_MESSAGE_MAX_BYTES * 1.5 }, (_, i) => (i * 7919 + (i >> 7)) % 251)).toString('base64');
    const r = await kcatRun('produce an oversized record', ['-P', '-t', topic, '-p', '0', '-z', 'none'], `${big}\n`);
    expect({ code: r.code, error: /% Delivery failed for message: (.*)/.exec(r.stderr)?.[1] }, `[${CLIENT}] oversized record (stderr: ${tail(r.stderr, 5)})`)
      .toEqual({ code: 1, error: 'Broker: Message size too large' });
    await kcatOk('produce a small record after the rejection', ['-P', '-t', topic, '-p', '0'], 'small\n');
    const got = await consume('read the topic back', topic, 0, '0', 1);
    expect(got.map((m) => ({ offset: m.offset, value: m.value?.toString() })), `[${CLIENT}] only the small record is stored, at offset 0`).toEqual([{ offset: 0, value: 'small' }]);
  });

  // Last: it restarts the broker.
  it('committed offsets survive a broker restart: a new -G member resumes exactly there', async () => {
    await groupResumeTest('kcat-restart', 'kcat-restart-1', true);
  });
});

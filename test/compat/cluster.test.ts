// A KRaft cluster of separate processes: 3 controllers (127.0.0.11-13) and 3 brokers (127.0.0.21-23),
// checked with the Java admin client (describeMetadataQuorum, describeCluster, describeTopics), kcat -L
// (librdkafka) and kafkajs. kill -9 of the active controller must elect a new one and let topic creation
// work again within 5 s; killing a broker takes its RF 1 partitions offline until it returns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { TestCluster, type NodeSpec } from './helpers/cluster.ts';
import { javaClient, kcat } from './helpers/tools.ts';
import { run, runJson } from './helpers/proc.ts';

const NODES: readonly NodeSpec[] = [
  { id: 1, roles: ['controller'], host: '127.0.0.11' },
  { id: 2, roles: ['controller'], host: '127.0.0.12' },
  { id: 3, roles: ['controller'], host: '127.0.0.13' },
  { id: 4, roles: ['broker'], host: '127.0.0.21' },
  { id: 5, roles: ['broker'], host: '127.0.0.22' },
  { id: 6, roles: ['broker'], host: '127.0.0.23' },
];
const CONTROLLER_IDS = [1, 2, 3];
const BROKER_IDS = [4, 5, 6];
const SESSION_TIMEOUT_MS = 4000;

interface ReplicaState { replicaId: number; logEndOffset: number; lastFetchTimestamp: number; lastCaughtUpTimestamp: number }
interface QuorumInfo { leaderId: number; leaderEpoch: number; highWatermark: number; voters: ReplicaState[]; observers: ReplicaState[] }
interface JavaMetadata {
  clusterId: string;
  controller: number;
  brokers: { id: number; host: string; port: number }[];
  topics: { name: string; partitions: { partition: number; leader: number; replicas: number[]; isr: number[] }[] }[];
}

let cluster: TestCluster;
let admin: Admin;

async function java<T>(command: string, args: Readonly<Record<string, string>> = {}): Promise<T> {
  const j = javaClient();
  const argv = ['-XX:TieredStopAtLevel=1', '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-cp', j.classpath, 'CompatClient', cluster.bootstrap, command];
  for (const [k, v] of Object.entries(args)) argv.push(`--${k}`, v);
  return runJson<T>(j.java, argv, { timeoutMs: 60_000 });
}

/** Polls `check` until it returns a value (not undefined) or `timeoutMs` passes; returns the value and the time taken. */
async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  let last: unknown;
  while (Date.now() - started < timeoutMs) {
    try {
      const value = await check();
      if (value !== undefined) return { value, ms: Date.now() - started };
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
}

/** kcat -L -J: brokers and partition leaders as librdkafka sees them. */
async function kcatMetadata(topic: string): Promise<{ brokers: number[]; leaders: number[] }> {
  const out = await run(kcat(), ['-b', cluster.bootstrap, '-L', '-J', '-t', topic, '-m', '10'], { timeoutMs: 20_000 });
  if (out.code !== 0) throw new Error(`kcat -L failed: ${out.stderr}`);
  const md = JSON.parse(out.stdout) as { brokers: { id: number }[]; topics: { topic: string; partitions: { partition: number; leader: number }[] }[] };
  const partitions = md.topics.find((t) => t.topic === topic)?.partitions ?? [];
  return { brokers: md.brokers.map((b) => b.id).sort(), leaders: [...partitions].sort((a, b) => a.partition - b.partition).map((p) => p.leader) };
}

async function activeController(): Promise<number> {
  const { value } = await until('a quorum leader', 20_000, async () => {
    const q = await java<QuorumInfo>('describe-quorum');
    return q.leaderId >= 0 ? q.leaderId : undefined;
  });
  return value;
}

beforeAll(async () => {
  cluster = await TestCluster.start(NODES, {
    'auto.create.topics.enable': 'false',
    'broker.session.timeout.ms': String(SESSION_TIMEOUT_MS),
    'broker.heartbeat.interval.ms': '500',
  });
  admin = new Kafka({ clientId: 'compat-cluster', brokers: cluster.bootstrap.split(','), logLevel: logLevel.NOTHING, retry: { retries: 2 } }).admin();
  await admin.connect();
});

afterAll(async () => {
  await admin?.disconnect().catch(() => undefined);
  await cluster?.stop();
});

describe('KRaft cluster: 3 controllers + 3 brokers as separate processes', () => {
  it('DescribeQuorum (Java Admin.describeMetadataQuorum): voters 1-3, brokers as observers, one leader, lag reported', async () => {
    const { value: q } = await until('every voter and observer in DescribeQuorum', 20_000, async () => {
      const info = await java<QuorumInfo>('describe-quorum');
      const observers = info.observers.map((o) => o.replicaId).sort();
      return BROKER_IDS.every((id) => observers.includes(id)) ? info : undefined;
    });
    expect(q.voters.map((v) => v.replicaId).sort()).toEqual(CONTROLLER_IDS);
    expect(CONTROLLER_IDS).toContain(q.leaderId);
    expect(q.leaderEpoch).toBeGreaterThan(0);
    expect(q.highWatermark).toBeGreaterThan(0);
    for (const r of [...q.voters, ...q.observers]) {
      expect(r.logEndOffset, `replica ${r.replicaId} log end`).toBeGreaterThan(0);
      expect(r.lastCaughtUpTimestamp, `replica ${r.replicaId} caught up`).toBeGreaterThan(0);
    }
  });

  it('Java admin and kcat -L see the three brokers; RF 1 partitions are spread over them', async () => {
    await admin.createTopics({ topics: [{ topic: 'spread', numPartitions: 6, replicationFactor: 1 }], waitForLeaders: true });
    const md = await java<JavaMetadata>('metadata', { topics: 'spread' });
    expect(md.clusterId).toBe(cluster.clusterId);
    expect(md.brokers.map((b) => b.id)).toEqual(BROKER_IDS);
    expect(md.brokers.map((b) => `${b.host}:${b.port}`)).toEqual(BROKER_IDS.map((id) => cluster.brokerAddress(id)));
    expect(BROKER_IDS).toContain(md.controller);
    const leaders = md.topics[0]?.partitions.map((p) => p.leader) ?? [];
    expect(new Set(leaders)).toEqual(new Set(BROKER_IDS));
    const k = await kcatMetadata('spread');
    expect(k.brokers).toEqual(BROKER_IDS);
    expect(k.leaders).toEqual(leaders);
  });

  it('produces to and consumes from partitions led by different brokers (kcat)', async () => {
    const lines = Array.from({ length: 60 }, (_, i) => `k${i}:value-${i}`).join('\n');
    const produced = await run(kcat(), ['-b', cluster.bootstrap, '-t', 'spread', '-P', '-K:', '-X', 'acks=all'], { timeoutMs: 30_000, input: `${lines}\n` });
    expect(produced.code, produced.stderr).toBe(0);
    const consumed = await run(kcat(), ['-b', cluster.bootstrap, '-t', 'spread', '-C', '-o', 'beginning', '-e', '-f', '%p %k %s\\n'], { timeoutMs: 30_000 });
    expect(consumed.code, consumed.stderr).toBe(0);
    const got = consumed.stdout.trim().split('\n').filter(Boolean);
    expect(got).toHaveLength(60);
    expect(new Set(got.map((l) => l.split(' ')[0])).size).toBeGreaterThan(1);
  });

  it('kill -9 of the active controller: a new leader, topic creation within 5 s; restarted, it rejoins as a follower', async () => {
    const old = await activeController();
    await cluster.kill(old);
    const killedAt = Date.now();
    const { value: created } = await until('CreateTopics after the controller failover', 15_000, async () => {
      const ok = await admin.createTopics({ topics: [{ topic: 'after-failover', numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
      return ok ? Date.now() - killedAt : undefined;
    });
    const next = await activeController();
    console.log(`[cluster] kill -9 of active controller ${old}: controller ${next} took over; a topic was created ${created} ms after the kill`);
    expect(created, 'ms from kill -9 to a created topic').toBeLessThan(5000);
    expect(next).not.toBe(old);
    expect(CONTROLLER_IDS).toContain(next);

    await cluster.restart(old);
    const { value: rejoined } = await until('the restarted controller caught up as a follower', 20_000, async () => {
      const q = await java<QuorumInfo>('describe-quorum');
      const me = q.voters.find((v) => v.replicaId === old);
      return q.leaderId !== old && me !== undefined && me.logEndOffset >= q.highWatermark - 5 ? q : undefined;
    });
    expect(rejoined.leaderId).toBe(next);
    console.log(`[cluster] controller ${old} restarted and caught up as a follower of ${next} (high watermark ${rejoined.highWatermark})`);
  });

  it('kill -9 of a broker: its partitions go offline (RF 1) and come back when it restarts', async () => {
    const victim = 5;
    const before = await kcatMetadata('spread');
    const led = before.leaders.flatMap((leader, p) => (leader === victim ? [p] : []));
    expect(led.length).toBeGreaterThan(0);
    await cluster.kill(victim);
    const { value: offline, ms: offlineMs } = await until('the fenced broker\'s partitions without a leader', SESSION_TIMEOUT_MS + 10_000, async () => {
      const md = await java<JavaMetadata>('metadata', { topics: 'spread' });
      const parts = md.topics[0]?.partitions ?? [];
      return led.every((p) => parts[p]?.leader === -1) && !md.brokers.some((b) => b.id === victim) ? md : undefined;
    });
    expect(offline.brokers.map((b) => b.id)).toEqual(BROKER_IDS.filter((id) => id !== victim));
    console.log(`[cluster] kill -9 of broker ${victim}: fenced and its ${led.length} partitions offline after ${offlineMs} ms (session timeout ${SESSION_TIMEOUT_MS} ms)`);

    await cluster.restart(victim);
    const { value: back } = await until('leadership back on the restarted broker', 20_000, async () => {
      const k = await kcatMetadata('spread');
      return led.every((p) => k.leaders[p] === victim) ? k : undefined;
    });
    expect(back.brokers).toEqual(BROKER_IDS);
  });
});

// A dynamic KRaft quorum (KIP-853) of separate processes: every node knows only
// controller.quorum.bootstrap.servers; controller 1 starts standalone (kafka-storage format --standalone),
// controllers 2 and 3 start as observers and join with AddRaftVoter one at a time (what
// kafka-metadata-quorum add-controller sends). Checked with Java's Admin.describeMetadataQuorum; then
// kill -9 of the leader, and RemoveRaftVoter of the dead controller.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { TestCluster, type NodeSpec } from './helpers/cluster.ts';
import { javaClient } from './helpers/tools.ts';
import { runJson } from './helpers/proc.ts';
import { KafkaConnection } from '../../broker/src/client/kafka-connection.ts';
import { ErrorCode, errorName } from '../../broker/src/protocol/error-codes.ts';

const NODES: readonly NodeSpec[] = [
  { id: 1, roles: ['controller'], host: '127.0.0.31' },
  { id: 2, roles: ['controller'], host: '127.0.0.32' },
  { id: 3, roles: ['controller'], host: '127.0.0.33' },
  { id: 4, roles: ['broker'], host: '127.0.0.41' },
  { id: 5, roles: ['broker'], host: '127.0.0.42' },
];

interface ReplicaState { replicaId: number; logEndOffset: number }
interface QuorumInfo { leaderId: number; leaderEpoch: number; highWatermark: number; voters: ReplicaState[]; observers: ReplicaState[] }

let cluster: TestCluster;
let admin: Admin;

async function describeQuorum(): Promise<QuorumInfo> {
  const j = javaClient();
  return runJson<QuorumInfo>(j.java, ['-XX:TieredStopAtLevel=1', '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-cp', j.classpath, 'CompatClient', cluster.bootstrap, 'describe-quorum'], { timeoutMs: 60_000 });
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
}

/** Sends a raft admin request to the current leader's controller listener; resolves with its error code. */
async function toLeader(send: (connection: KafkaConnection) => Promise<number>): Promise<number> {
  const q = await describeQuorum();
  const connection = await KafkaConnection.open({ ...cluster.controllerEndpoint(q.leaderId), requestTimeoutMs: 20_000 });
  try {
    return await send(connection);
  } finally {
    connection.close();
  }
}

async function addVoter(id: number): Promise<void> {
  const listener = { name: 'CONTROLLER', ...cluster.controllerEndpoint(id) };
  const errorCode = await until(`AddRaftVoter ${id}`, 30_000, async () => {
    const code = await toLeader(async (c) => (await c.send(80, 0, {
      clusterId: cluster.clusterId, timeoutMs: 10_000, voterId: id, voterDirectoryId: cluster.directoryId(id), listeners: [listener],
    })).errorCode);
    // Not caught up yet, or another change still in flight: ask again.
    return code === ErrorCode.REQUEST_TIMED_OUT || code === ErrorCode.NOT_LEADER_OR_FOLLOWER ? undefined : code;
  });
  expect(errorName(errorCode)).toBe('NONE');
}

beforeAll(async () => {
  cluster = await TestCluster.start(NODES, { 'auto.create.topics.enable': 'false' }, { dynamicQuorumFrom: 1 });
  admin = new Kafka({ clientId: 'compat-dynamic', brokers: cluster.bootstrap.split(','), logLevel: logLevel.NOTHING, retry: { retries: 8 } }).admin();
  await admin.connect();
});

afterAll(async () => {
  await admin?.disconnect().catch(() => undefined);
  await cluster?.stop();
});

describe('dynamic KRaft quorum (bootstrap servers, standalone start, AddRaftVoter/RemoveRaftVoter)', () => {
  it('starts with controller 1 as the only voter; the other nodes observe', async () => {
    const q = await until('every other node observing', 20_000, async () => {
      const info = await describeQuorum();
      const observers = info.observers.map((o) => o.replicaId).sort();
      return [2, 3, 4, 5].every((id) => observers.includes(id)) ? info : undefined;
    });
    expect(q.voters.map((v) => v.replicaId)).toEqual([1]);
    expect(q.leaderId).toBe(1);
    await admin.createTopics({ topics: [{ topic: 'before-growth', numPartitions: 2, replicationFactor: 1 }] });
  });

  it('grows to 3 voters, one AddRaftVoter at a time', async () => {
    await addVoter(2);
    await addVoter(3);
    const q = await until('3 voters in DescribeQuorum', 20_000, async () => {
      const info = await describeQuorum();
      return info.voters.length === 3 ? info : undefined;
    });
    expect(q.voters.map((v) => v.replicaId).sort()).toEqual([1, 2, 3]);
    expect(q.observers.map((o) => o.replicaId).sort()).toEqual([4, 5]);
  });

  it('survives kill -9 of the leader, and removes the dead voter with RemoveRaftVoter', async () => {
    const old = (await describeQuorum()).leaderId;
    await cluster.kill(old);
    const q = await until('a new leader', 20_000, async () => {
      const info = await describeQuorum();
      return info.leaderId >= 0 && info.leaderId !== old ? info : undefined;
    });
    expect([1, 2, 3].filter((id) => id !== old)).toContain(q.leaderId);
    await until('CreateTopics on the new leader', 15_000, async () =>
      (await admin.createTopics({ topics: [{ topic: 'after-failover', numPartitions: 2, replicationFactor: 1 }] })) ? true : undefined);
    const removed = await toLeader(async (c) => (await c.send(81, 0, { clusterId: cluster.clusterId, voterId: old, voterDirectoryId: cluster.directoryId(old) })).errorCode);
    expect(errorName(removed)).toBe('NONE');
    const after = await until('2 voters', 20_000, async () => {
      const info = await describeQuorum();
      return info.voters.length === 2 ? info : undefined;
    });
    expect(after.voters.map((v) => v.replicaId).sort()).toEqual([1, 2, 3].filter((id) => id !== old));
    const topics = await admin.listTopics();
    expect(topics).toEqual(expect.arrayContaining(['before-growth', 'after-failover']));
  });
});

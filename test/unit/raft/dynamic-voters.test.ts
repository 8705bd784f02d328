// Dynamic voters (KIP-853) end to end, over loopback sockets: a controller bootstrapped like
// `kafka-storage format --standalone`, controllers that join with only controller.quorum.bootstrap.servers
// and are added one at a time with AddRaftVoter, RemoveRaftVoter (of a follower, then of the leader
// itself), a crashed leader replaced by the remaining voters, and an observer that follows throughout
// knowing only the bootstrap servers.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../../../broker/src/client/kafka-connection.ts';
import type { AddRaftVoterResponse, DescribeQuorumResponse, RemoveRaftVoterResponse, UpdateRaftVoterResponse } from '../../../broker/src/protocol/generated/index.ts';
import type { MetadataQuorum } from '../../../broker/src/raft/driver/metadata-quorum.ts';
import { ApiKeys, WireError } from '../../../broker/src/raft/driver/wire.ts';
import { FAST_TIMING, listen, startMember, tempDir, text, until, type Member } from './quorum-harness.ts';

const CLUSTER_ID = 'test-cluster-id-0000000';
const dirs: string[] = [];
const newDir = (): string => {
  const dir = tempDir('raft-dynamic-');
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function call<T>(port: number, send: (c: KafkaConnection) => Promise<T>): Promise<T> {
  const connection = await KafkaConnection.open({ host: '127.0.0.1', port, requestTimeoutMs: 10_000 });
  try {
    return await send(connection);
  } finally {
    connection.close();
  }
}

describe('dynamic voters over loopback sockets', () => {
  it('bootstraps one controller, adds two with AddRaftVoter, survives a crash, removes voters (the leader too)', { timeout: 60_000 }, async () => {
    const members = new Map<number, Member>();
    const target = (id: number) => (): MetadataQuorum => {
      const m = members.get(id);
      if (m === undefined) throw new Error(`no member ${id}`);
      return m.quorum;
    };
    const listeners = new Map<number, { port: number; server: Member['server'] }>();
    for (const id of [1, 2, 3]) {
      const l = await listen(target(id));
      listeners.set(id, { port: l.port, server: l.server });
    }
    const portOf = (id: number): number => listeners.get(id)?.port ?? 0;
    // controller.quorum.bootstrap.servers: every controller's address; no controller.quorum.voters anywhere.
    const bootstrapServers = [1, 2, 3].map((id) => ({ host: '127.0.0.1', port: portOf(id) }));
    const startController = async (id: number, dir: string, standalone = false): Promise<Member> => {
      const { quorum, state } = await startMember(id, dir, [], { bootstrapServers, localEndpoint: { host: '127.0.0.1', port: portOf(id) }, ...(standalone ? { standalone: true } : {}) });
      const member: Member = { id, dir, quorum, state, server: listeners.get(id)?.server ?? null };
      members.set(id, member);
      return member;
    };
    const running = (): Member[] => [...members.values()];
    const leaderOf = (): Member | undefined => running().find((m) => m.quorum.isLeader());
    const allHave = (values: readonly string[]): boolean => running().every((m) => m.state.values.join() === values.join());
    const expected: string[] = [];
    const write = async (prefix: string, n: number): Promise<void> => {
      const leader = leaderOf();
      if (leader === undefined) throw new Error('no leader');
      const values = Array.from({ length: n }, (_, i) => `${prefix}${i}`);
      await Promise.all(values.map((v) => leader.quorum.propose([text(v)])));
      expected.push(...values);
      await until(() => allHave(expected), `${prefix} on every node`);
    };
    const voterIds = (m: Member): number[] => m.quorum.describe().voters.map((v) => v.id);
    const addVoter = (leader: Member, joiner: Member): Promise<AddRaftVoterResponse> =>
      call(portOf(leader.id), (c) =>
        c.send(ApiKeys.ADD_RAFT_VOTER, 0, {
          clusterId: CLUSTER_ID,
          timeoutMs: 10_000,
          voterId: joiner.id,
          voterDirectoryId: joiner.quorum.directoryId,
          listeners: [{ name: 'CONTROLLER', host: '127.0.0.1', port: portOf(joiner.id) }],
        }),
      );
    const removeVoter = (leader: Member, id: number, directoryId: string): Promise<RemoveRaftVoterResponse> =>
      call(portOf(leader.id), (c) => c.send(ApiKeys.REMOVE_RAFT_VOTER, 0, { clusterId: CLUSTER_ID, voterId: id, voterDirectoryId: directoryId }));

    // 1. `--standalone`: node 1 writes the bootstrap checkpoint with itself and leads alone.
    const dir1 = newDir();
    const first = await startController(1, dir1, true);
    await until(() => first.quorum.isLeader(), 'the standalone controller to lead');
    expect(first.quorum.describe()).toMatchObject({ kraftVersion: 1, isVoter: true, voters: [{ id: 1, directoryId: first.quorum.directoryId }] });
    const directoryIdFile = join(dir1, '__cluster_metadata-0', 'directory.id');
    expect(readFileSync(directoryIdFile, 'utf8').trim()).toBe(first.quorum.directoryId);
    expect(existsSync(join(dir1, '__cluster_metadata-0', '00000000000000000000-0000000000.checkpoint'))).toBe(true);
    await write('a', 5);

    // An observer (a broker) that knows only the bootstrap servers.
    const observerDir = newDir();
    const observer = await startMember(100, observerDir, [], { bootstrapServers });
    members.set(100, { id: 100, dir: observerDir, ...observer, server: null });
    await until(() => allHave(expected), 'the observer to catch up through the bootstrap servers');

    // 2. Node 2 joins as an observer, catches up, and is added; then node 3.
    const started = Date.now();
    const second = await startController(2, newDir());
    await until(() => allHave(expected), 'node 2 to catch up');
    expect(second.quorum.isVoter).toBe(false);
    expect(await addVoter(first, second)).toMatchObject({ errorCode: 0 });
    expect(voterIds(first)).toEqual([1, 2]);
    await until(() => second.quorum.isVoter, 'node 2 to see itself a voter');
    await write('b', 5);

    const third = await startController(3, newDir());
    await until(() => allHave(expected), 'node 3 to catch up');
    expect(await addVoter(first, third)).toMatchObject({ errorCode: 0 });
    const addedMs = Date.now() - started;
    expect(voterIds(first)).toEqual([1, 2, 3]);
    expect(await addVoter(first, third)).toMatchObject({ errorCode: WireError.DUPLICATE_VOTER });
    // Only the leader changes the voter set.
    expect(await addVoter(second, third)).toMatchObject({ errorCode: WireError.NOT_LEADER_OR_FOLLOWER });
    await write('c', 10);
    for (const id of [1, 2, 3]) await until(() => voterIds(members.get(id) as Member).join() === '1,2,3', `node ${id} to use the voter set 1,2,3`);

    // DescribeQuorum v2: voters with directory ids, their listeners, the observer.
    const described: DescribeQuorumResponse = await call(portOf(1), (c) => c.send(ApiKeys.DESCRIBE_QUORUM, 2, { topics: [{ topicName: '__cluster_metadata', partitions: [{ partitionIndex: 0 }] }] }));
    const partition = described.topics[0]?.partitions[0];
    expect(partition?.leaderId).toBe(1);
    expect(partition?.currentVoters.map((v) => [v.replicaId, v.replicaDirectoryId])).toEqual([1, 2, 3].map((id) => [id, members.get(id)?.quorum.directoryId]));
    expect(partition?.observers.map((o) => o.replicaId)).toEqual([100]);
    expect(described.nodes.map((n) => [n.nodeId, n.listeners[0]?.port])).toEqual([1, 2, 3].map((id) => [id, portOf(id)]));

    // UpdateRaftVoter (a voter announcing its endpoints): answered with the leader and its endpoint.
    const epoch = first.quorum.leaderAndEpoch().epoch;
    const update = (currentLeaderEpoch: number): Promise<UpdateRaftVoterResponse> =>
      call(portOf(1), (c) =>
        c.send(ApiKeys.UPDATE_RAFT_VOTER, 0, {
          clusterId: CLUSTER_ID,
          currentLeaderEpoch,
          voterId: 3,
          voterDirectoryId: third.quorum.directoryId,
          listeners: [{ name: 'CONTROLLER', host: '127.0.0.1', port: portOf(3) }],
          kRaftVersionFeature: { minSupportedVersion: 0, maxSupportedVersion: 1 },
        }),
      );
    expect(await update(epoch)).toMatchObject({ errorCode: 0, currentLeader: { leaderId: 1, leaderEpoch: epoch, port: portOf(1) } });
    expect(await update(epoch - 1)).toMatchObject({ errorCode: WireError.FENCED_LEADER_EPOCH });
    await write('c2', 2);

    // 3. Remove a follower: it keeps following as an observer.
    expect(await removeVoter(first, 3, 'AAAAAAAAAAAAAAAAAAAAAA')).toMatchObject({ errorCode: WireError.VOTER_NOT_FOUND }); // wrong directory id
    expect(await removeVoter(first, 3, third.quorum.directoryId)).toMatchObject({ errorCode: 0 });
    expect(voterIds(first)).toEqual([1, 2]);
    await until(() => !third.quorum.isVoter, 'node 3 to see its removal');
    await write('d', 5);
    expect(await addVoter(first, third)).toMatchObject({ errorCode: 0 }); // and back
    await write('e', 5);

    // 4. The leader dies (no resignation): voters 2 and 3 elect a new leader; the observer finds it.
    const firstEpoch = first.quorum.leaderAndEpoch().epoch;
    await first.quorum.close({ resign: false });
    members.delete(1);
    const failoverMs = await until(() => {
      const leader = leaderOf();
      return leader !== undefined && leader.quorum.leaderAndEpoch().epoch > firstEpoch && running().every((m) => m.quorum.leaderAndEpoch().leaderId === leader.id);
    }, 'a new leader among the remaining voters');
    await write('f', 5);

    // The old leader restarts from its log (voter set and directory id from disk) and catches up.
    const restarted = await startController(1, dir1, true); // `standalone` is ignored: the log is not empty
    expect(restarted.quorum.directoryId).toBe(first.quorum.directoryId);
    await until(() => allHave(expected), 'the old leader to catch up');
    expect(voterIds(restarted)).toEqual([1, 2, 3]);

    // 5. The leader removes itself: it answers once the removal committed, then resigns; a successor leads.
    const second2 = leaderOf() as Member;
    const secondEpoch = second2.quorum.leaderAndEpoch().epoch;
    expect(await removeVoter(second2, second2.id, second2.quorum.directoryId)).toMatchObject({ errorCode: 0 });
    await until(() => {
      const leader = leaderOf();
      return leader !== undefined && leader.id !== second2.id && leader.quorum.leaderAndEpoch().epoch > secondEpoch;
    }, 'a successor after the leader removed itself');
    const successor = leaderOf() as Member;
    expect(voterIds(successor)).toEqual([1, 2, 3].filter((id) => id !== second2.id));
    expect(second2.quorum.isVoter).toBe(false);
    await write('g', 5);
    for (const m of running()) expect(m.quorum.fatalError).toBeNull();
    for (const m of running()) await m.quorum.close();
    for (const l of listeners.values()) await l.server?.close();
    console.log(`dynamic voters over loopback: two voters added in ${addedMs} ms, failover in ${failoverMs} ms (election timeout ${FAST_TIMING.electionTimeoutMs} ms)`);
  });
});

describe('--initial-controllers', () => {
  it('three controllers bootstrapped with the same initial voters elect a leader and replicate', { timeout: 30_000 }, async () => {
    const directoryIds = ['MvDxzVmcRsaOz5HQ5Fx6Gw', 'ErTvVzkxQkGJb4dOeYk3Sg', 'bMrk6lX8TSKzjVd2j2YsRA'];
    const members = new Map<number, Member>();
    const listeners = await Promise.all([1, 2, 3].map((id) => listen(() => (members.get(id) as Member).quorum)));
    const initialVoters = listeners.map((l, i) => ({ id: i + 1, directoryId: directoryIds[i] ?? '', host: '127.0.0.1', port: l.port }));
    for (const id of [1, 2, 3]) {
      const dir = newDir();
      const { quorum, state } = await startMember(id, dir, [], { initialVoters, localEndpoint: { host: '127.0.0.1', port: listeners[id - 1]?.port ?? 0 } });
      members.set(id, { id, dir, quorum, state, server: listeners[id - 1]?.server ?? null });
    }
    const leaderOf = (): Member | undefined => [...members.values()].find((m) => m.quorum.isLeader());
    await until(() => leaderOf() !== undefined, 'a leader');
    const leader = leaderOf() as Member;
    await leader.quorum.propose([text('x')]);
    await until(() => [...members.values()].every((m) => m.state.values.join() === 'x'), 'the write on every voter');
    for (const m of members.values()) {
      expect(m.quorum.directoryId).toBe(directoryIds[m.id - 1]); // taken from the initial voters
      expect(m.quorum.describe()).toMatchObject({ kraftVersion: 1, isVoter: true });
      expect(m.quorum.describe().voters.map((v) => [v.id, v.directoryId])).toEqual(initialVoters.map((v) => [v.id, v.directoryId]));
    }
    for (const m of members.values()) {
      await m.quorum.close();
      await m.server?.close();
    }
  });
});

// MetadataQuorum end to end: a single voter on real files (election, commits, restart recovery, snapshots),
// then three voters and observers in one process talking Kafka's raft RPCs over loopback sockets.
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../../../broker/src/client/kafka-connection.ts';
import { createLogFs, nodeRawFs } from '../../../broker/src/log/log-fs.ts';
import { NotLeaderError, type MetadataQuorum } from '../../../broker/src/raft/driver/metadata-quorum.ts';
import { ApiKeys } from '../../../broker/src/raft/driver/wire.ts';
import { FAST_TIMING, listen, startMember, tempDir, text, until, type Member } from './quorum-harness.ts';

const dirs: string[] = [];
const newDir = (): string => {
  const dir = tempDir('raft-quorum-');
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('single-voter quorum on real files', () => {
  const voters = [{ id: 1, host: '127.0.0.1', port: 1 }];

  it('elects itself, commits proposals, and replays the log after a restart', async () => {
    const dir = newDir();
    const first = await startMember(1, dir, voters);
    await until(() => first.quorum.isLeader(), 'leadership');
    expect(first.state.leader).toEqual({ leaderId: 1, epoch: 1 });
    const results = await Promise.all([first.quorum.propose([text('a'), text('b')]), first.quorum.propose([text('c')])]);
    // Record offsets: 0 is the leader-change batch; a and b share the lingered batch with c.
    expect(results).toEqual([{ baseOffset: 1n, lastOffset: 2n }, { baseOffset: 3n, lastOffset: 3n }]);
    expect(first.state.values).toEqual(['a', 'b', 'c']); // applied before propose() resolved
    expect(first.state.batches).toBe(1); // both proposals arrived within appendLingerMs: one batch
    expect(first.quorum.highWatermark()).toBe(4n);
    await first.quorum.close();

    const second = await startMember(1, dir, voters);
    // The quorum state says we led epoch 1: resigned until a new election, then everything replays.
    await until(() => second.state.values.length === 3, 'replay');
    expect(second.state.values).toEqual(['a', 'b', 'c']);
    await until(() => second.quorum.isLeader(), 'leadership');
    expect(second.quorum.leaderAndEpoch().epoch).toBe(2);
    await second.quorum.propose([text('d')]);
    expect(second.state.values).toEqual(['a', 'b', 'c', 'd']);
    await second.quorum.close();
  });

  it('rejects proposals with NotLeaderError when not the leader, and oversized proposals', async () => {
    const dir = newDir();
    const member = await startMember(2, dir, [...voters, { id: 2, host: '127.0.0.1', port: 2 }, { id: 3, host: '127.0.0.1', port: 3 }]);
    const error = await member.quorum.propose([text('x')]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotLeaderError);
    expect((error as NotLeaderError).epoch).toBe(0);
    await member.quorum.close();

    const single = await startMember(1, newDir(), voters, { proposeRecordsMax: 3 });
    await until(() => single.quorum.isLeader(), 'leadership');
    await expect(single.quorum.propose([text('1'), text('2'), text('3'), text('4')])).rejects.toThrow(/exceeds/);
    // Proposals that together overflow a batch are split over batches, each atomic.
    const ranges = await Promise.all([single.quorum.propose([text('1'), text('2')]), single.quorum.propose([text('3'), text('4')])]);
    expect(ranges).toEqual([{ baseOffset: 1n, lastOffset: 2n }, { baseOffset: 3n, lastOffset: 4n }]);
    expect(single.state.batches).toBe(2);
    await single.quorum.close();
  });

  it('accepts proposals from inside listener callbacks (a new leader writing on activation)', async () => {
    const written: Promise<unknown>[] = [];
    // Hooked before start: a single voter becomes leader on its first tick.
    const member = await startMember(1, newDir(), voters, {}, (quorum, state) => {
      const original = state.handleLeaderChange.bind(state);
      state.handleLeaderChange = (leader) => {
        original(leader);
        if (leader.leaderId === 1) written.push(quorum.propose([text('activation')]));
      };
    });
    await until(() => written.length === 1, 'activation');
    await Promise.all(written);
    expect(member.state.values).toEqual(['activation']);
    await member.quorum.close();
  });

  it('snapshots the state, deletes the log behind it, and restarts from the snapshot', async () => {
    const dir = newDir();
    const first = await startMember(1, dir, voters, { segmentBytes: 300 });
    await until(() => first.quorum.isLeader(), 'leadership');
    for (let i = 0; i < 30; i++) await first.quorum.propose([text(`value-${i}-${'y'.repeat(30)}`)]);
    const state = first.state;
    await first.quorum.createSnapshot(state.end, state.epoch, state.values.map(text));
    const info = first.quorum.describe();
    expect(info.logStartOffset).toBe(state.end);
    expect(info.latestSnapshot).toEqual({ endOffset: state.end, epoch: state.epoch });
    expect(first.quorum.store.listSnapshots()).toEqual([{ endOffset: state.end, epoch: state.epoch }]);
    expect(first.quorum.store.partitionLog.segmentBaseOffsets[0]).toBeGreaterThan(0n);
    await first.quorum.propose([text('after-snapshot')]);
    await first.quorum.close();

    const second = await startMember(1, dir, voters, { segmentBytes: 300 });
    expect(second.state.snapshotsLoaded).toBe(1); // loaded at start(), before any commit
    await until(() => second.state.values.at(-1) === 'after-snapshot', 'replay after the snapshot');
    expect(second.state.values).toEqual([...state.values.slice(0, 30), 'after-snapshot']);
    await second.quorum.close();
  });
});

describe('three voters and observers over loopback sockets', () => {
  it('elects, replicates, survives losing the leader, and catches observers up by snapshot', { timeout: 60_000 }, async () => {
    const members = new Map<number, Member>();
    const target = (id: number) => (): MetadataQuorum => {
      const m = members.get(id);
      if (m === undefined) throw new Error(`no member ${id}`);
      return m.quorum;
    };
    // Bind the controller listeners first: the voter set names their ports.
    const listeners = await Promise.all([1, 2, 3].map((id) => listen(target(id))));
    const voters = listeners.map((l, i) => ({ id: i + 1, host: '127.0.0.1', port: l.port }));
    for (const id of [1, 2, 3, 100]) {
      const dir = newDir();
      const { quorum, state } = await startMember(id, dir, voters);
      members.set(id, { id, dir, quorum, state, server: id <= 3 ? (listeners[id - 1]?.server ?? null) : null });
    }
    const running = (): Member[] => [...members.values()];
    const leaderOf = (): Member | undefined => running().find((m) => m.id <= 3 && m.quorum.isLeader());
    const agreeOnLeader = (): boolean => {
      const leader = leaderOf();
      return leader !== undefined && running().every((m) => m.quorum.leaderAndEpoch().leaderId === leader.id);
    };
    const allHave = (values: readonly string[]): boolean => running().every((m) => values.every((v, i) => m.state.values[i] === v) && m.state.values.length === values.length);

    // 1. Election; the observer finds the leader too.
    await until(agreeOnLeader, 'a leader all nodes agree on');
    const first = leaderOf() as Member;
    expect(members.get(100)?.quorum.isVoter).toBe(false);

    // 2. Replication of concurrent proposals to every voter and the observer.
    const expected: string[] = [];
    const batch = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
    const round1 = batch('r1-', 20);
    await Promise.all(round1.map((v) => first.quorum.propose([text(v)])));
    expected.push(...round1);
    await until(() => allHave(expected), 'round 1 on every node');

    // DescribeQuorum over the wire, from the leader.
    const connection = await KafkaConnection.open({ host: '127.0.0.1', port: voters[first.id - 1]?.port ?? 0 });
    const described = await connection.send(ApiKeys.DESCRIBE_QUORUM, 2, { topics: [{ topicName: '__cluster_metadata', partitions: [{ partitionIndex: 0 }] }] });
    connection.close();
    const partition = described.topics[0]?.partitions[0];
    expect(partition?.leaderId).toBe(first.id);
    expect(partition?.currentVoters.map((v) => v.replicaId).sort()).toEqual([1, 2, 3]);
    expect(partition?.observers.map((o) => o.replicaId)).toEqual([100]);
    expect(described.nodes.map((n) => n.nodeId).sort()).toEqual([1, 2, 3]);

    // 3. The leader dies without resigning (kill -9 as far as the others can tell): a new leader is elected.
    const firstEpoch = first.quorum.leaderAndEpoch().epoch;
    await first.quorum.close({ resign: false });
    await first.server?.close();
    members.delete(first.id);
    const failoverMs = await until(() => agreeOnLeader() && (leaderOf()?.quorum.leaderAndEpoch().epoch ?? 0) > firstEpoch, 'a new leader after the crash');
    expect(failoverMs).toBeLessThan(5000);
    const second = leaderOf() as Member;
    const round2 = batch('r2-', 10);
    await Promise.all(round2.map((v) => second.quorum.propose([text(v)])));
    expected.push(...round2);
    await until(() => allHave(expected), 'round 2 on the survivors');

    // 4. The old leader comes back on its port with its log and catches up as a follower.
    const back = await listen(target(first.id), voters[first.id - 1]?.port);
    const restarted = await startMember(first.id, first.dir, voters);
    members.set(first.id, { id: first.id, dir: first.dir, ...restarted, server: back.server });
    await until(() => allHave(expected), 'the restarted voter to catch up');
    expect(restarted.quorum.isLeader()).toBe(false);

    // 5. The observer stops; the leader snapshots and drops its log; the observer (behind the log start)
    //    and a brand-new observer both catch up with FetchSnapshot.
    const observer = members.get(100) as Member;
    await observer.quorum.close();
    members.delete(100);
    const round3 = batch('r3-', 10);
    for (const v of round3) await second.quorum.propose([text(v)]);
    expected.push(...round3);
    await until(() => allHave(expected), 'round 3');
    await second.quorum.createSnapshot(second.state.end, second.state.epoch, second.state.values.map(text));
    expect(second.quorum.describe().logStartOffset).toBe(second.state.end);
    const observerBack = await startMember(100, observer.dir, voters);
    const fresh = await startMember(101, newDir(), voters);
    members.set(100, { id: 100, dir: observer.dir, ...observerBack, server: null });
    members.set(101, { id: 101, dir: '', ...fresh, server: null });
    await until(() => allHave(expected), 'observers to catch up by snapshot');
    expect(observerBack.state.snapshotsLoaded).toBe(1);
    expect(fresh.state.snapshotsLoaded).toBe(1);
    expect(observerBack.quorum.describe().logStartOffset).toBe(second.state.end);

    // 6. Graceful shutdown of the leader: it resigns, a successor takes over at once, writes continue.
    const secondEpoch = second.quorum.leaderAndEpoch().epoch;
    const closeStarted = Date.now();
    await second.quorum.close(); // returns once it has seen its successor
    expect(second.quorum.leaderAndEpoch().epoch).toBeGreaterThan(secondEpoch);
    await second.server?.close();
    members.delete(second.id);
    await until(() => agreeOnLeader() && (leaderOf()?.quorum.leaderAndEpoch().epoch ?? 0) > secondEpoch, 'a successor after the resignation');
    const handoverMs = Date.now() - closeStarted;
    expect(handoverMs).toBeLessThan(3000);
    const third = leaderOf() as Member;
    const round4 = batch('r4-', 5);
    await Promise.all(round4.map((v) => third.quorum.propose([text(v)])));
    expected.push(...round4);
    await until(() => allHave(expected), 'round 4');
    for (const m of running()) expect(m.quorum.fatalError).toBeNull();

    for (const m of running()) {
      await m.quorum.close();
      await m.server?.close();
    }
    console.log(`raft over loopback: failover after a crash in ${failoverMs} ms, handover after a resignation in ${handoverMs} ms (election timeout ${FAST_TIMING.electionTimeoutMs} ms, fetch timeout ${FAST_TIMING.fetchTimeoutMs} ms)`);
  });
});

describe("with Kafka's default timing", () => {
  it('replaces a crashed leader within seconds (fetch timeout 2 s, election timeout 1 s + jitter)', { timeout: 30_000 }, async () => {
    const members = new Map<number, Member>();
    const target = (id: number) => (): MetadataQuorum => (members.get(id) as Member).quorum;
    const listeners = await Promise.all([1, 2, 3].map((id) => listen(target(id))));
    const voters = listeners.map((l, i) => ({ id: i + 1, host: '127.0.0.1', port: l.port }));
    for (const id of [1, 2, 3]) {
      const dir = newDir();
      const { quorum, state } = await startMember(id, dir, voters, { timing: {} });
      members.set(id, { id, dir, quorum, state, server: listeners[id - 1]?.server ?? null });
    }
    const leaderOf = (): Member | undefined => [...members.values()].find((m) => m.quorum.isLeader());
    await until(() => leaderOf() !== undefined, 'the first leader');
    const first = leaderOf() as Member;
    await first.quorum.propose([text('before')]);
    await first.quorum.close({ resign: false });
    await first.server?.close();
    members.delete(first.id);
    // ~2 s (fetch timeout, then pre-vote and vote); ~3.5 s when both followers time out together and split
    // their votes in the first round (then the randomized election timeout separates them).
    const failoverMs = await until(() => leaderOf() !== undefined, 'a new leader', 15_000);
    expect(failoverMs).toBeLessThan(8000);
    const second = leaderOf() as Member;
    await second.quorum.propose([text('after')]);
    await until(() => [...members.values()].every((m) => m.state.values.join() === 'before,after'), 'both writes on the survivors');
    for (const m of members.values()) {
      await m.quorum.close();
      await m.server?.close();
    }
    console.log(`raft over loopback, default timing: a new leader ${failoverMs} ms after the leader died`);
  });
});

describe('durability', () => {
  it('nothing commits while fsync of the log is held back: acknowledgements wait for the flush', { timeout: 30_000 }, async () => {
    // Voters 1 and 2 run; 3 never starts, so every commit needs both. Node 2's log fsyncs wait for a gate.
    let open = true; // opening the log fsyncs too
    const waiting: (() => void)[] = [];
    const gated = createLogFs({
      ...nodeRawFs,
      datasync: async (fd) => {
        if (!open) await new Promise<void>((resolve) => waiting.push(resolve));
        await nodeRawFs.datasync(fd);
      },
    });
    const members = new Map<number, Member>();
    const target = (id: number) => (): MetadataQuorum => (members.get(id) as Member).quorum;
    const listeners = await Promise.all([1, 2].map((id) => listen(target(id))));
    const voters = [...listeners.map((l, i) => ({ id: i + 1, host: '127.0.0.1', port: l.port })), { id: 3, host: '127.0.0.1', port: 1 }];
    for (const id of [1, 2]) {
      const dir = newDir();
      const { quorum, state } = await startMember(id, dir, voters, id === 2 ? { fs: gated } : {});
      members.set(id, { id, dir, quorum, state, server: listeners[id - 1]?.server ?? null });
    }
    open = false;
    const leaderOf = (): Member | undefined => [...members.values()].find((m) => m.quorum.isLeader());
    await until(() => leaderOf() !== undefined, 'a leader');
    const leader = leaderOf() as Member;
    let committed = false;
    const proposal = leader.quorum.propose([text('x')]).then(() => {
      committed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(committed).toBe(false);
    expect(leader.quorum.highWatermark()).toBe(0n); // not even the leader-change batch
    expect(waiting.length).toBeGreaterThan(0);
    open = true;
    for (const release of waiting.splice(0)) release();
    await proposal;
    expect(committed).toBe(true);
    await until(() => [...members.values()].every((m) => m.state.values.join() === 'x'), 'the write on both voters');
    for (const m of members.values()) {
      await m.quorum.close({ resign: false });
      await m.server?.close();
    }
  });
});

// Dynamic voters in the driver's formats and on the wire: VotersRecord / KRaftVersionRecord control
// batches, snapshots and the bootstrap checkpoint holding the voter set, the quorum-state v1, the replica
// directory id file, directory ids in Vote / Fetch, and the AddRaftVoter / RemoveRaftVoter / UpdateRaftVoter
// responses.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeRawFs, createLogFs } from '../../../broker/src/log/log-fs.ts';
import { API_SPECS, type ApiKey, type VoteRequest as WireVoteRequest } from '../../../broker/src/protocol/generated/index.ts';
import { ControlRecordType, controlRecordKey } from '../../../broker/src/protocol/records/control-records.ts';
import { buildRecordBatch } from '../../../broker/src/protocol/records/batch-builder.ts';
import { Reader } from '../../../broker/src/protocol/wire/reader.ts';
import { Writer } from '../../../broker/src/protocol/wire/writer.ts';
import type { RaftRequest } from '../../../broker/src/raft/core/messages.ts';
import type { LogEntry } from '../../../broker/src/raft/core/raft-log.ts';
import type { VoterSet } from '../../../broker/src/raft/core/voter-set.ts';
import { DirectoryIdError, resolveDirectoryId } from '../../../broker/src/raft/driver/directory-id.ts';
import { QuorumStateFile } from '../../../broker/src/raft/driver/quorum-state-file.ts';
import { decodeEntries, decodeSnapshot, encodeBootstrapSnapshot, encodeEntry, encodeSnapshot, readSnapshotVoters } from '../../../broker/src/raft/driver/record-codec.ts';
import { ApiKeys, WireError, decodeRequest, encodeRequest, type WireContext } from '../../../broker/src/raft/driver/wire.ts';

const DIR_1 = 'kFHWDJoKRQ2d4m1c5S0P9A';
const DIR_2 = 'x8zJ3x2nQmuS0YxSKgZjxw';
const voters: VoterSet = [
  { id: 1, directoryId: DIR_1, endpoints: [{ name: 'CONTROLLER', host: 'c1', port: 9093 }], kraftVersion: { min: 0, max: 1 } },
  { id: 2, directoryId: DIR_2, endpoints: [{ name: 'CONTROLLER', host: 'c2', port: 9094 }, { name: 'OTHER', host: 'c2', port: 9095 }], kraftVersion: { min: 0, max: 1 } },
];

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'raft-voters-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('KRaft control records', () => {
  it('round-trip voters batches (1 or 2 records) and leader-change batches carrying the voter set', () => {
    const entries: LogEntry[] = [
      { type: 'leader-change', baseOffset: 0, lastOffset: 2, epoch: 1, appendTimestamp: 5, leaderId: 1, voters: [1], grantingVoters: [1], voterSet: voters },
      { type: 'voters', baseOffset: 3, lastOffset: 3, epoch: 1, appendTimestamp: 6, voterSet: voters.slice(0, 1) },
      { type: 'voters', baseOffset: 4, lastOffset: 5, epoch: 2, appendTimestamp: 7, voterSet: voters },
    ];
    const decoded = decodeEntries(Buffer.concat(entries.map(encodeEntry)));
    expect(decoded).toEqual(entries);
  });

  it('writes control values as Kafka does (the message alone) and still reads the older framing', () => {
    const leaderChange: LogEntry = { type: 'leader-change', baseOffset: 0, lastOffset: 0, epoch: 3, appendTimestamp: 0, leaderId: 2, voters: [1, 2], grantingVoters: [2] };
    const message = (legacyPrefix: boolean): Buffer => {
      const w = new Writer(32);
      if (legacyPrefix) w.int16(0); // what an earlier build put before the message
      w.int16(0); // Version
      w.int32(2); // LeaderId
      w.uvarint(3); // 2 voters (compact array)
      for (const id of [1, 2]) {
        w.int32(id);
        w.uvarint(0);
      }
      w.uvarint(2); // 1 granting voter
      w.int32(2);
      w.uvarint(0);
      w.uvarint(0); // tagged fields
      return w.toBuffer();
    };
    const batch = (value: Buffer): Buffer => buildRecordBatch({ baseOffset: 0n, partitionLeaderEpoch: 3, baseTimestampMs: 0n, control: true, records: [{ key: controlRecordKey(ControlRecordType.leaderChange), value }] });
    expect(encodeEntry(leaderChange)).toEqual(batch(message(false)));
    expect(decodeEntries(batch(message(false)))).toEqual([leaderChange]);
    expect(decodeEntries(batch(message(true)))).toEqual([leaderChange]);
  });

  it('snapshots hold the voter set after their header; the bootstrap checkpoint holds only that', () => {
    const bytes = encodeSnapshot(4, [Buffer.from('a'), Buffer.from('b')], 10, voters);
    expect(decodeSnapshot(bytes)).toEqual({ records: [Buffer.from('a'), Buffer.from('b')], lastContainedLogTimestamp: 10, voters });
    expect(readSnapshotVoters(bytes)).toEqual(voters);
    expect(readSnapshotVoters(encodeSnapshot(4, [Buffer.from('a')], 10))).toBeNull();
    const checkpoint = encodeBootstrapSnapshot(voters.slice(0, 1));
    expect(decodeSnapshot(checkpoint)).toEqual({ records: [], lastContainedLogTimestamp: 0, voters: voters.slice(0, 1) });
  });
});

describe('quorum-state v1 and the directory id file', () => {
  it('writes quorum-state version 1 with dynamic voters', () => {
    const file = new QuorumStateFile(dir);
    file.write({ epoch: 4, leaderId: null, votedId: 2 }, { votedDirectoryId: DIR_2 });
    expect(JSON.parse(readFileSync(join(dir, 'quorum-state'), 'utf8'))).toEqual({ leaderId: -1, leaderEpoch: 4, votedId: 2, votedDirectoryId: DIR_2, data_version: 1 });
    expect(file.read()).toEqual({ epoch: 4, leaderId: null, votedId: 2 });
  });

  it('creates the directory id once, prefers meta.properties, and refuses a contradicting configuration', () => {
    const fs = createLogFs(nodeRawFs);
    const partition = join(dir, '__cluster_metadata-0');
    const created = resolveDirectoryId(fs, partition, dir, {});
    expect(readFileSync(join(partition, 'directory.id'), 'utf8')).toBe(`${created}\n`);
    expect(resolveDirectoryId(fs, partition, dir, {})).toBe(created);
    expect(() => resolveDirectoryId(fs, partition, dir, { configured: DIR_1 })).toThrow(DirectoryIdError);

    const other = mkdtempSync(join(tmpdir(), 'raft-voters-meta-'));
    try {
      writeFileSync(join(other, 'meta.properties'), `version=1\ncluster.id=abc\nnode.id=1\ndirectory.id=${DIR_2}\n`);
      expect(resolveDirectoryId(fs, join(other, '__cluster_metadata-0'), other, {})).toBe(DIR_2);
      expect(readFileSync(join(other, 'meta.properties'), 'utf8')).toContain(`directory.id=${DIR_2}`); // untouched
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
    const third = join(dir, 'third');
    expect(resolveDirectoryId(fs, join(third, '__cluster_metadata-0'), third, { initialVoter: DIR_1 })).toBe(DIR_1);
  });
});

describe('directory ids and voter-change RPCs on the wire', () => {
  const ctx = (localId: number, localDirectoryId: string): WireContext => ({
    clusterId: 'c',
    localId,
    listenerName: 'CONTROLLER',
    endpoints: new Map(),
    fetchMaxWaitMs: 500,
    fetchMaxBytes: 1 << 20,
    snapshotMaxBytes: 1 << 20,
    localDirectoryId,
    directoryIdOf: (id) => (id === 1 ? DIR_1 : DIR_2),
  });
  const travel = (apiKey: number, version: number, body: unknown): unknown => {
    const spec = API_SPECS[apiKey as ApiKey];
    const w = new Writer(256);
    (spec.request.write as (w: Writer, v: unknown, version: number) => void)(w, body, version);
    return (spec.request.read as (r: Reader, version: number) => unknown)(new Reader(w.toBuffer()), version);
  };

  it('Fetch v17 carries the replica directory id; Vote v1 to the wrong directory id is INVALID_VOTER_KEY', () => {
    const fetch: RaftRequest = { kind: 'FetchRequest', sourceId: 2, destinationId: 1, currentLeaderEpoch: 3, fetchOffset: 10, lastFetchedEpoch: 2 };
    const wire = travel(ApiKeys.FETCH, 17, encodeRequest(ctx(2, DIR_2), fetch, 17).body);
    expect(decodeRequest(ctx(1, DIR_1), ApiKeys.FETCH, 17, wire)).toMatchObject({ ok: true, message: { ...fetch, replicaDirectoryId: DIR_2 } });
    const old = travel(ApiKeys.FETCH, 16, encodeRequest(ctx(2, DIR_2), fetch, 16).body);
    expect(decodeRequest(ctx(1, DIR_1), ApiKeys.FETCH, 16, old)).toEqual({ ok: true, maxWaitMs: 500, message: fetch });

    const vote: RaftRequest = { kind: 'VoteRequest', sourceId: 2, destinationId: 1, candidateEpoch: 5, candidateId: 2, lastOffsetEpoch: 4, lastOffset: 99, preVote: false };
    const body = travel(ApiKeys.VOTE, 1, encodeRequest(ctx(2, DIR_2), vote, 1).body) as WireVoteRequest;
    expect(body.topics[0]?.partitions[0]).toMatchObject({ candidateDirectoryId: DIR_2, voterDirectoryId: DIR_1 });
    expect(decodeRequest(ctx(1, DIR_1), ApiKeys.VOTE, 1, body)).toMatchObject({ ok: true });
    // Replica 1 on a new disk is not the voter the candidate asked.
    expect(decodeRequest(ctx(1, 'QUJDREVGR0hJSktMTU5PUA'), ApiKeys.VOTE, 1, body)).toEqual({ ok: false, response: { errorCode: WireError.INVALID_VOTER_KEY, topics: [], nodeEndpoints: [] } });
  });
});

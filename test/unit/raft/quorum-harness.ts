// Test harness for MetadataQuorum: a small replicated state machine (a list of strings), a controller
// listener built on the broker's SocketServer that serves only the raft APIs, and polling helpers.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { expect } from 'vitest';
import { MetadataQuorum, type CommittedBatch, type LeaderAndEpoch, type LoadedSnapshot, type MetadataQuorumOptions, type RaftListener, type RaftTimingOverrides } from '../../../broker/src/raft/driver/metadata-quorum.ts';
import { ApiKeys, KRAFT_VERSION_FEATURE, RAFT_API_VERSIONS } from '../../../broker/src/raft/driver/wire.ts';
import { SocketServer } from '../../../broker/src/server/socket-server.ts';
import type { ApiKey, ApiVersionsResponse } from '../../../broker/src/protocol/generated/index.ts';
import type { Handler, HandlerTable } from '../../../broker/src/server/request-context.ts';

export const FAST_TIMING: RaftTimingOverrides = {
  electionTimeoutMs: 200,
  fetchTimeoutMs: 600,
  requestTimeoutMs: 500,
  retryBackoffMs: 20,
  appendLingerMs: 2,
  fetchMaxWaitMs: 100,
  tickIntervalMs: 20,
};

export const text = (s: string): Buffer => Buffer.from(s, 'utf8');

/** The replicated state: every committed value in order. Checks the listener contract as it goes. */
export class ListState implements RaftListener {
  values: string[] = [];
  /** End offset of the last batch applied (or of the loaded snapshot). */
  end = 0n;
  epoch = 0;
  snapshotsLoaded = 0;
  /** handleCommit calls (batches). */
  batches = 0;
  leader: LeaderAndEpoch = { leaderId: null, epoch: 0 };

  handleCommit(batch: CommittedBatch): void {
    expect(batch.baseOffset).toBeGreaterThanOrEqual(this.end);
    expect(batch.lastOffset - batch.baseOffset + 1n).toBe(BigInt(batch.records.length));
    this.values.push(...batch.records.map((r) => r.toString('utf8')));
    this.batches++;
    this.end = batch.lastOffset + 1n;
    this.epoch = batch.epoch;
  }

  handleLoadSnapshot(snapshot: LoadedSnapshot): void {
    this.values = snapshot.records.map((r) => r.toString('utf8'));
    this.end = snapshot.offset;
    this.epoch = snapshot.epoch;
    this.snapshotsLoaded++;
  }

  handleLeaderChange(leader: LeaderAndEpoch): void {
    this.leader = leader;
  }
}

export const silent = pino({ level: 'silent' });

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<number> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return Date.now() - started;
}

export interface Member {
  readonly id: number;
  readonly dir: string;
  quorum: MetadataQuorum;
  state: ListState;
  server: SocketServer | null;
}

/** Opens and starts a quorum member with a fresh state machine. */
export async function startMember(
  id: number, dir: string, voters: MetadataQuorumOptions['voters'], extra: Partial<MetadataQuorumOptions> = {},
  beforeStart?: (quorum: MetadataQuorum, state: ListState) => void,
): Promise<{ quorum: MetadataQuorum; state: ListState }> {
  const quorum = await MetadataQuorum.open({ localId: id, clusterId: 'test-cluster-id-0000000', voters, metadataLogDir: dir, logger: silent, timing: FAST_TIMING, ...extra });
  const state = new ListState();
  quorum.register(state);
  beforeStart?.(quorum, state);
  await quorum.start();
  return { quorum, state };
}

function apiVersionsResponse(): ApiVersionsResponse {
  return {
    errorCode: 0,
    apiKeys: [{ apiKey: ApiKeys.API_VERSIONS, minVersion: 0, maxVersion: 4 }, ...[...RAFT_API_VERSIONS].map(([apiKey, r]) => ({ apiKey, minVersion: r.min, maxVersion: r.max }))],
    throttleTimeMs: 0,
    // KIP-853: the kraft.version range this node supports (AddRaftVoter asks the new voter for it).
    supportedFeatures: [{ name: KRAFT_VERSION_FEATURE.name, minVersion: KRAFT_VERSION_FEATURE.minVersion, maxVersion: KRAFT_VERSION_FEATURE.maxVersion }],
    finalizedFeaturesEpoch: -1n,
    finalizedFeatures: [],
    zkMigrationReady: false,
  };
}

/** A controller listener serving the raft APIs of whatever quorum `target()` returns. */
export async function listen(target: () => MetadataQuorum, port = 0): Promise<{ server: SocketServer; port: number }> {
  const handlers: HandlerTable = { 18: () => apiVersionsResponse() };
  for (const apiKey of RAFT_API_VERSIONS.keys()) {
    (handlers as Record<number, Handler<ApiKey>>)[apiKey] = (ctx, request) => target().handleRaftRequest(ctx.apiKey as ApiKey, ctx.apiVersion, request);
  }
  const server = new SocketServer({
    listenerName: 'CONTROLLER',
    host: '127.0.0.1',
    port,
    maxRequestBytes: 100 * 1024 * 1024,
    idleTimeoutMs: 60_000,
    handlers,
    acceptsVersion: (apiKey, version) => {
      if (apiKey === ApiKeys.API_VERSIONS) return version <= 4;
      const range = RAFT_API_VERSIONS.get(apiKey as never);
      return range !== undefined && version >= range.min && version <= range.max;
    },
    logger: silent,
  });
  return { server, port: await server.listen() };
}

/**
 * The `quorum-state` file in the `__cluster_metadata-0` directory, in Kafka's format (FileQuorumStateStore):
 * one line of JSON, QuorumStateData plus a `data_version` field. With a static voter set (kraft.version 0)
 * Kafka writes version 0:
 *
 *   {"clusterId":"","leaderId":1,"leaderEpoch":2,"votedId":-1,"appliedOffset":0,"currentVoters":[],"data_version":0}
 *
 * Version 1 (kraft.version 1, KIP-853) drops clusterId/appliedOffset/currentVoters and adds votedDirectoryId;
 * both are read. -1 means "none" for leaderId and votedId.
 *
 * Writes are atomic and durable before they return: temp file, fsync, rename, fsync of the directory (the
 * core's contract: the quorum state is durable before any vote or fetch that depends on it leaves).
 */
import { defaultLogFs, type LogFs } from '../../log/log-fs.ts';
import type { QuorumStateRecord } from '../core/raft-node.ts';

export const QUORUM_STATE_FILE = 'quorum-state';

export class QuorumStateFileError extends Error {
  override readonly name = 'QuorumStateFileError';
  readonly code = 'RAFT_QUORUM_STATE';
}

const intField = (json: Record<string, unknown>, name: string, path: string): number => {
  const value = json[name] ?? -1;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < -1 || value > 2 ** 31 - 1) {
    throw new QuorumStateFileError(`${path}: ${name} ${JSON.stringify(value)} is not an int32`);
  }
  return value;
};

export class QuorumStateFile {
  readonly path: string;
  readonly #fs: LogFs;

  constructor(partitionDir: string, fs: LogFs = defaultLogFs) {
    this.path = `${partitionDir}/${QUORUM_STATE_FILE}`;
    this.#fs = fs;
  }

  /** The stored state, or null when there is no file yet. */
  read(): QuorumStateRecord | null {
    if (this.#fs.stat(this.path) === null) return null;
    const text = this.#fs.readFile(this.path).toString('utf8');
    const line = text.split('\n', 1)[0] ?? '';
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (cause) {
      throw new QuorumStateFileError(`${this.path}: not JSON: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new QuorumStateFileError(`${this.path}: not a JSON object`);
    const object = json as Record<string, unknown>;
    const version = object['data_version'];
    if (version !== 0 && version !== 1) throw new QuorumStateFileError(`${this.path}: data_version ${JSON.stringify(version)} is not 0 or 1`);
    const leaderId = intField(object, 'leaderId', this.path);
    const epoch = intField(object, 'leaderEpoch', this.path);
    const votedId = intField(object, 'votedId', this.path);
    return { epoch: Math.max(0, epoch), leaderId: leaderId < 0 ? null : leaderId, votedId: votedId < 0 ? null : votedId };
  }

  /**
   * Writes `state` atomically and durably: version 0 with static voters (kraft.version 0), version 1 with
   * dynamic voters (Kafka writes the version of the kraft.version in effect), with the voted candidate's
   * directory id.
   */
  write(state: QuorumStateRecord, dynamic: { readonly votedDirectoryId: string } | null = null): void {
    const json =
      dynamic === null
        ? { clusterId: '', leaderId: state.leaderId ?? -1, leaderEpoch: state.epoch, votedId: state.votedId ?? -1, appliedOffset: 0, currentVoters: [], data_version: 0 }
        : { leaderId: state.leaderId ?? -1, leaderEpoch: state.epoch, votedId: state.votedId ?? -1, votedDirectoryId: dynamic.votedDirectoryId, data_version: 1 };
    this.#fs.writeFileAtomic(this.path, Buffer.from(JSON.stringify(json), 'utf8'), { fsync: true });
  }
}

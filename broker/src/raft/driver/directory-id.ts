/**
 * The directory id of this replica (KIP-853): the second half of its voter key (id, directory id). Kafka
 * keeps it as `directory.id` in the meta.properties of each log dir; a disk replaced (the directory wiped)
 * comes back with a new id, so the voter set does not count a replica that lost its log as the old voter.
 *
 * Millrace keeps it in `<metadata.log.dir>/__cluster_metadata-0/directory.id`: one line holding the id in
 * Kafka's Uuid string form, written atomically and durably on first start. The broker's meta.properties is
 * only read: when the file is missing, the id is, in order, the configured one (MetadataQuorumOptions
 * `directoryId`), the one `initialVoters` gives this node, the `directory.id` of
 * `<metadata.log.dir>/meta.properties`, else a new random one. A configured id that contradicts the file
 * is an error (the directory belongs to another replica).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { LogFs } from '../../log/log-fs.ts';
import { ZERO_UUID, isUuid, randomUuid } from '../../protocol/wire/uuid.ts';

export const DIRECTORY_ID_FILE = 'directory.id';

export class DirectoryIdError extends Error {
  override readonly name = 'DirectoryIdError';
  readonly code = 'RAFT_DIRECTORY_ID';
}

function checked(id: string, what: string): string {
  if (!isUuid(id) || id === ZERO_UUID) throw new DirectoryIdError(`${what}: ${JSON.stringify(id)} is not a directory id (a non-zero Kafka uuid)`);
  return id;
}

/** `directory.id` of a Java-properties file, if present. */
function fromMetaProperties(fs: LogFs, path: string): string | null {
  if (fs.stat(path) === null) return null;
  for (const line of fs.readFile(path).toString('utf8').split('\n')) {
    const m = /^\s*directory\.id\s*[=:]\s*(\S+)\s*$/.exec(line);
    if (m?.[1] !== undefined && isUuid(m[1])) return m[1];
  }
  return null;
}

/**
 * The directory id of the replica whose metadata partition directory is `partitionDir` (created if need
 * be). `preferred` are used, in order, only when the file does not exist yet.
 */
export function resolveDirectoryId(fs: LogFs, partitionDir: string, metadataLogDir: string, options: { readonly configured?: string | undefined; readonly initialVoter?: string | undefined }): string {
  const path = join(partitionDir, DIRECTORY_ID_FILE);
  if (fs.stat(path) !== null) {
    const stored = checked(fs.readFile(path).toString('utf8').trim(), path);
    if (options.configured !== undefined && options.configured !== stored) {
      throw new DirectoryIdError(`${path} holds directory id ${stored}, but ${options.configured} was configured`);
    }
    if (options.initialVoter !== undefined && options.initialVoter !== stored) {
      throw new DirectoryIdError(`${path} holds directory id ${stored}, but the initial voters give this node ${options.initialVoter}`);
    }
    return stored;
  }
  const id =
    (options.configured === undefined ? undefined : checked(options.configured, 'configured directory id')) ??
    (options.initialVoter === undefined ? undefined : checked(options.initialVoter, 'initial voter directory id')) ??
    fromMetaProperties(fs, join(metadataLogDir, 'meta.properties')) ??
    randomUuid(randomBytes);
  fs.mkdir(partitionDir);
  fs.writeFileAtomic(path, Buffer.from(`${id}\n`, 'utf8'), { fsync: true });
  return id;
}

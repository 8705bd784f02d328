/**
 * Per-directory identity files, in Kafka's formats:
 *
 * meta.properties (Java properties, KRaft version 1):
 *   version=1, cluster.id=<uuid>, node.id=<int>, directory.id=<uuid>  (KIP-858 directory ids)
 * partition.metadata (per partition directory, KIP-516):
 *   version: 0
 *   topic_id: <uuid>
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { isUuid, randomUuid, type Uuid } from '../protocol/wire/uuid.ts';
import { LogError } from './errors.ts';
import { META_PROPERTIES_FILE, PARTITION_METADATA_FILE } from './file-names.ts';
import type { LogFs } from './log-fs.ts';

export const META_PROPERTIES_VERSION = 1;
export const PARTITION_METADATA_VERSION = 0;
/** Identity files are tiny; a larger one is not ours. */
const IDENTITY_FILE_BYTES_MAX = 64 * 1024;

export interface MetaProperties {
  readonly version: number;
  readonly clusterId: string;
  readonly nodeId: number;
  readonly directoryId: Uuid;
}

/** Parses the subset of Java properties Kafka writes: `key=value` lines, `#`/`!` comments. */
export function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const eq = line.search(/[=:]/);
    if (eq < 0) out.set(line, '');
    else out.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return out;
}

export function formatMetaProperties(meta: MetaProperties, now: Date = new Date()): Buffer {
  return Buffer.from(
    `#\n#${now.toUTCString()}\ncluster.id=${meta.clusterId}\ndirectory.id=${meta.directoryId}\nnode.id=${meta.nodeId}\nversion=${meta.version}\n`,
    'utf8',
  );
}

function readSmallFile(fs: LogFs, path: string): string | null {
  const stat = fs.stat(path);
  if (stat === null) return null;
  if (stat.size > IDENTITY_FILE_BYTES_MAX) throw new LogError('LOG_CORRUPT_FILE', `${path}: ${stat.size} bytes is not an identity file`, { path });
  return fs.readFile(path).toString('utf8');
}

/** Reads `<dir>/meta.properties`; null when absent. */
export function readMetaProperties(fs: LogFs, dir: string): MetaProperties | null {
  const path = `${dir}/${META_PROPERTIES_FILE}`;
  const text = readSmallFile(fs, path);
  if (text === null) return null;
  const props = parseProperties(text);
  const version = Number(props.get('version'));
  if (version !== META_PROPERTIES_VERSION) {
    throw new LogError('LOG_DIR_MISMATCH', `${path}: version ${props.get('version') ?? '(none)'} is not supported (need ${META_PROPERTIES_VERSION})`, { path });
  }
  const clusterId = props.get('cluster.id');
  const nodeIdText = props.get('node.id');
  const directoryId = props.get('directory.id');
  if (clusterId === undefined || clusterId === '' || nodeIdText === undefined || !/^\d{1,10}$/.test(nodeIdText) || directoryId === undefined || !isUuid(directoryId)) {
    throw new LogError('LOG_CORRUPT_FILE', `${path}: cluster.id, node.id and directory.id are required`, { path });
  }
  return { version, clusterId, nodeId: Number(nodeIdText), directoryId };
}

/**
 * Validates meta.properties against this broker, or creates it (new directory id) when absent.
 * A directory formatted for another cluster or node is refused: serving it would mix two logs' data.
 */
export function ensureMetaProperties(
  fs: LogFs,
  dir: string,
  clusterId: string,
  nodeId: number,
  randomBytes: (size: number) => Buffer = nodeRandomBytes,
): MetaProperties {
  const existing = readMetaProperties(fs, dir);
  if (existing !== null) {
    if (existing.clusterId !== clusterId) {
      throw new LogError('LOG_DIR_MISMATCH', `${dir}: meta.properties has cluster.id ${existing.clusterId}, this broker is in ${clusterId}`, { path: dir });
    }
    if (existing.nodeId !== nodeId) {
      throw new LogError('LOG_DIR_MISMATCH', `${dir}: meta.properties has node.id ${existing.nodeId}, this broker is ${nodeId}`, { path: dir });
    }
    return existing;
  }
  const meta: MetaProperties = { version: META_PROPERTIES_VERSION, clusterId, nodeId, directoryId: randomUuid(randomBytes) };
  fs.writeFileAtomic(`${dir}/${META_PROPERTIES_FILE}`, formatMetaProperties(meta));
  return meta;
}

export function formatPartitionMetadata(topicId: Uuid): Buffer {
  return Buffer.from(`version: ${PARTITION_METADATA_VERSION}\ntopic_id: ${topicId}\n`, 'utf8');
}

/** Reads `<partitionDir>/partition.metadata`; null when absent. */
export function readPartitionMetadata(fs: LogFs, partitionDir: string): Uuid | null {
  const path = `${partitionDir}/${PARTITION_METADATA_FILE}`;
  const text = readSmallFile(fs, path);
  if (text === null) return null;
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const version = /^version:\s*(\d+)$/.exec(lines[0]?.trim() ?? '');
  const topicId = /^topic_id:\s*(\S+)$/.exec(lines[1]?.trim() ?? '');
  if (version === null || Number(version[1]) !== PARTITION_METADATA_VERSION || topicId === null || lines.length !== 2) {
    throw new LogError('LOG_CORRUPT_FILE', `${path}: expected "version: 0" and "topic_id: <uuid>"`, { path });
  }
  const id = topicId[1] ?? '';
  if (!isUuid(id)) throw new LogError('LOG_CORRUPT_FILE', `${path}: topic id ${JSON.stringify(id)} is not a uuid`, { path });
  return id;
}

export function writePartitionMetadata(fs: LogFs, partitionDir: string, topicId: Uuid): void {
  if (!isUuid(topicId)) throw new LogError('LOG_INVALID_ARGUMENT', `topic id ${JSON.stringify(topicId)} is not a uuid`);
  fs.writeFileAtomic(`${partitionDir}/${PARTITION_METADATA_FILE}`, formatPartitionMetadata(topicId));
}

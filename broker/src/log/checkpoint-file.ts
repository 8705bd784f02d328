/**
 * Kafka's text checkpoint formats (server-common CheckpointFile):
 *
 *   <version>\n<entry count>\n<entry>\n...
 *
 * Offset checkpoints (recovery-point-offset-checkpoint, log-start-offset-checkpoint,
 * replication-offset-checkpoint, cleaner-offset-checkpoint): version 0, entries "topic partition offset".
 * leader-epoch-checkpoint: version 0, entries "epoch startOffset".
 *
 * Parsing is strict (version, count, every field) and reports a typed LOG_CORRUPT_FILE naming the file and
 * the byte position of the bad line. Files are written with LogFs.writeFileAtomic.
 */
import { LogError } from './errors.ts';
import { isValidTopicName, type TopicPartition } from './file-names.ts';

export const CHECKPOINT_VERSION = 0;
/** Bound on entries accepted from one file: a corrupt count must not drive a huge allocation. */
export const CHECKPOINT_ENTRIES_MAX = 10_000_000;

export interface OffsetCheckpointEntry extends TopicPartition {
  readonly offset: bigint;
}

export interface EpochEntry {
  readonly epoch: number;
  readonly startOffset: bigint;
}

function format(lines: readonly string[]): Buffer {
  return Buffer.from(`${CHECKPOINT_VERSION}\n${lines.length}\n${lines.map((l) => l + '\n').join('')}`, 'utf8');
}

export const formatOffsetCheckpoint = (entries: readonly OffsetCheckpointEntry[]): Buffer =>
  format(entries.map((e) => `${e.topic} ${e.partition} ${e.offset}`));

export const formatEpochCheckpoint = (entries: readonly EpochEntry[]): Buffer =>
  format(entries.map((e) => `${e.epoch} ${e.startOffset}`));

const INT64_PATTERN = /^-?\d{1,19}$/;
const INT32_PATTERN = /^-?\d{1,10}$/;

function parse<T>(data: Buffer, path: string, parseEntry: (fields: string[]) => T | null): T[] {
  const text = data.toString('utf8');
  const lines = text.split('\n');
  // Byte position of each line, for the error message.
  const positions: number[] = [];
  let pos = 0;
  for (const line of lines) {
    positions.push(pos);
    pos += Buffer.byteLength(line, 'utf8') + 1;
  }
  const fail = (lineNo: number, why: string): never => {
    throw new LogError('LOG_CORRUPT_FILE', `${path}: line ${lineNo + 1}: ${why}`, { path, position: positions[lineNo] ?? 0 });
  };
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const versionLine = lines[0];
  if (versionLine === undefined) return fail(0, 'empty file');
  if (versionLine.trim() !== String(CHECKPOINT_VERSION)) return fail(0, `unsupported version ${JSON.stringify(versionLine)}`);
  const countLine = lines[1];
  if (countLine === undefined || !/^\d{1,10}$/.test(countLine.trim())) return fail(1, `bad entry count ${JSON.stringify(countLine ?? '')}`);
  const count = Number(countLine.trim());
  if (count > CHECKPOINT_ENTRIES_MAX) return fail(1, `entry count ${count} exceeds ${CHECKPOINT_ENTRIES_MAX}`);
  if (lines.length - 2 !== count) return fail(Math.min(lines.length, 2 + count), `expected ${count} entries, found ${lines.length - 2}`);
  const entries: T[] = [];
  for (let i = 0; i < count; i++) {
    const line = lines[2 + i] ?? '';
    const entry = parseEntry(line.trim().split(/\s+/));
    if (entry === null) return fail(2 + i, `malformed entry ${JSON.stringify(line)}`);
    entries.push(entry);
  }
  return entries;
}

export function parseOffsetCheckpoint(data: Buffer, path: string): OffsetCheckpointEntry[] {
  return parse(data, path, (f) => {
    if (f.length !== 3) return null;
    const [topic, partition, offset] = f as [string, string, string];
    if (!isValidTopicName(topic) || !/^\d{1,10}$/.test(partition) || !INT64_PATTERN.test(offset)) return null;
    return { topic, partition: Number(partition), offset: BigInt(offset) };
  });
}

export function parseEpochCheckpoint(data: Buffer, path: string): EpochEntry[] {
  return parse(data, path, (f) => {
    if (f.length !== 2) return null;
    const [epoch, offset] = f as [string, string];
    if (!INT32_PATTERN.test(epoch) || !INT64_PATTERN.test(offset)) return null;
    const e = Number(epoch);
    const o = BigInt(offset);
    if (e < 0 || e > 0x7fffffff || o < 0n) return null;
    return { epoch: e, startOffset: o };
  });
}

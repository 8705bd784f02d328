/**
 * File and directory names of the on-disk layout (same names as Kafka, so operators' habits carry over):
 *   <topic>-<partition>/00000000000000000000.log|.index|.timeindex|.snapshot
 *   suffixes .cleaned/.swap (compaction in flight), .deleted (being removed), .tmp (atomic writes).
 */
import { invariant } from './errors.ts';

export const LOG_FILE_SUFFIX = '.log';
export const INDEX_FILE_SUFFIX = '.index';
export const TIME_INDEX_FILE_SUFFIX = '.timeindex';
export const SNAPSHOT_FILE_SUFFIX = '.snapshot';
export const CLEANED_FILE_SUFFIX = '.cleaned';
export const SWAP_FILE_SUFFIX = '.swap';
export const DELETED_FILE_SUFFIX = '.deleted';
export const TEMP_FILE_SUFFIX = '.tmp';

export const LEADER_EPOCH_CHECKPOINT_FILE = 'leader-epoch-checkpoint';
export const PARTITION_METADATA_FILE = 'partition.metadata';
export const META_PROPERTIES_FILE = 'meta.properties';
export const CLEAN_SHUTDOWN_FILE = '.kafka_cleanshutdown';
export const RECOVERY_POINT_CHECKPOINT_FILE = 'recovery-point-offset-checkpoint';
export const LOG_START_OFFSET_CHECKPOINT_FILE = 'log-start-offset-checkpoint';
export const REPLICATION_OFFSET_CHECKPOINT_FILE = 'replication-offset-checkpoint';
export const CLEANER_OFFSET_CHECKPOINT_FILE = 'cleaner-offset-checkpoint';
export const DELETE_DIR_SUFFIX = '-delete';

const OFFSET_DIGITS = 20;

/** `00000000000000000042` + suffix. */
export function offsetFileName(offset: bigint, suffix: string): string {
  invariant(offset >= 0n, () => `file offset ${offset} is negative`);
  return offset.toString().padStart(OFFSET_DIGITS, '0') + suffix;
}

export interface ParsedOffsetFileName {
  readonly offset: bigint;
  /** Everything after the 20 digits, e.g. ".log", ".index.swap", ".log.deleted". */
  readonly suffix: string;
}

const OFFSET_FILE_PATTERN = /^(\d{20})(\..+)$/;

export function parseOffsetFileName(name: string): ParsedOffsetFileName | null {
  const m = OFFSET_FILE_PATTERN.exec(name);
  if (m === null || m[1] === undefined || m[2] === undefined) return null;
  return { offset: BigInt(m[1]), suffix: m[2] };
}

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** Kafka's legal topic names: [a-zA-Z0-9._-], 1..249 characters. */
const TOPIC_NAME_PATTERN = /^[a-zA-Z0-9._-]{1,249}$/;
export const TOPIC_NAME_BYTES_MAX = 249;
export const PARTITION_ID_MAX = 2 ** 31 - 1;

export const isValidTopicName = (topic: string): boolean => TOPIC_NAME_PATTERN.test(topic) && topic !== '.' && topic !== '..';

export function partitionDirName(tp: TopicPartition): string {
  invariant(isValidTopicName(tp.topic), () => `invalid topic name ${JSON.stringify(tp.topic)}`);
  invariant(Number.isInteger(tp.partition) && tp.partition >= 0 && tp.partition <= PARTITION_ID_MAX, () => `invalid partition ${tp.partition}`);
  return `${tp.topic}-${tp.partition}`;
}

/** Parses `<topic>-<partition>`; topics may contain '-', so the partition follows the LAST dash. */
export function parsePartitionDirName(name: string): TopicPartition | null {
  const dash = name.lastIndexOf('-');
  if (dash <= 0) return null;
  const topic = name.slice(0, dash);
  const digits = name.slice(dash + 1);
  if (!/^\d{1,10}$/.test(digits) || !isValidTopicName(topic)) return null;
  const partition = Number(digits);
  if (partition > PARTITION_ID_MAX) return null;
  return { topic, partition };
}

export const topicPartitionKey = (tp: TopicPartition): string => `${tp.topic}-${tp.partition}`;

/**
 * What the log reports to its owner: a pino-compatible logger (only the two levels it uses) and recovery
 * progress, so the broker can show how far a long recovery has got.
 */
import type { TopicPartition } from './file-names.ts';

export interface LogLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export const silentLogger: LogLogger = { info: () => undefined, warn: () => undefined };

export interface RecoveryProgress {
  readonly topicPartition: TopicPartition;
  readonly segmentBaseOffset: bigint;
  /** Segments fully scanned so far, and how many need scanning. */
  readonly segmentsDone: number;
  readonly segmentsTotal: number;
  /** Bytes scanned so far in the current pass, and its total. */
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

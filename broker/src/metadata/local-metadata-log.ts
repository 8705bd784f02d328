/**
 * The metadata log of a single-voter quorum: `__cluster_metadata-0` in metadata.log.dir, written by this
 * node's controller. Each controller write is one record batch (atomic), fsynced before it counts as
 * committed, then applied to the metadata image. At startup the whole log is replayed into the image.
 *
 * This is the seam the KRaft quorum replaces: the controller only sees `MetadataLogWriter.append`, brokers
 * only see the image.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { PartitionLog } from '../log/partition-log.ts';
import { resolveLogConfig } from '../log/config.ts';
import { buildRecordBatch } from '../protocol/records/batch-builder.ts';
import { forEachRecord, recordValue } from '../protocol/records/record-iterator.ts';
import { readBaseOffset, readBatchSizeBytes, readLastOffset, readAttributes, isControlBatch } from '../protocol/records/batch-header.ts';
import type { MetadataLogWriter } from '../controller/controller.ts';
import { decodeMetadataRecord, encodeMetadataRecord, type MetadataRecord } from './metadata-record.ts';
import type { MetadataImage } from './metadata-image.ts';

export const METADATA_TOPIC = '__cluster_metadata';
/** The only leader epoch of a single-voter quorum that never changes leader. */
const SINGLE_VOTER_EPOCH = 1;
const REPLAY_CHUNK_BYTES = 1024 * 1024;
/** Bound on one controller write: a batch is one atomic unit in the log. */
export const METADATA_BATCH_RECORDS_MAX = 10_000;

export class MetadataLogError extends Error {
  override readonly name = 'MetadataLogError';
  readonly code = 'MILLRACE_METADATA_LOG';
}

export class LocalMetadataLog implements MetadataLogWriter {
  private readonly log: PartitionLog;
  private readonly image: MetadataImage;
  private readonly logger: Logger;

  private constructor(log: PartitionLog, image: MetadataImage, logger: Logger) {
    this.log = log;
    this.image = image;
    this.logger = logger;
  }

  /** Opens (recovering if needed) the metadata log and replays it into `image`. */
  static async open(metadataLogDir: string, image: MetadataImage, logger: Logger, hadCleanShutdown: boolean): Promise<LocalMetadataLog> {
    const log = await PartitionLog.open({
      dir: join(metadataLogDir, `${METADATA_TOPIC}-0`),
      topicPartition: { topic: METADATA_TOPIC, partition: 0 },
      // Metadata is small and must survive crashes: fsync every write (done in append), never delete by age.
      config: resolveLogConfig({ retentionMs: -1, retentionBytes: -1 }),
      hadCleanShutdown,
    });
    const metadataLog = new LocalMetadataLog(log, image, logger);
    metadataLog.replay();
    // Everything in a single voter's log was fsynced before it was applied: all of it is committed.
    if (log.logEndOffset > log.highWatermark) log.updateHighWatermark(log.logEndOffset);
    return metadataLog;
  }

  get endOffset(): bigint {
    return this.log.logEndOffset;
  }

  private replay(): void {
    let offset = this.log.logStartOffset;
    let batches = 0;
    let records = 0;
    while (offset < this.log.logEndOffset) {
      const { records: chunk } = this.log.read(offset, { maxBytes: REPLAY_CHUNK_BYTES });
      if (chunk.length === 0) break;
      for (let at = 0; at < chunk.length; at += readBatchSizeBytes(chunk, at)) {
        const lastOffset = readLastOffset(chunk, at);
        if (lastOffset < offset) continue;
        if (!isControlBatch(readAttributes(chunk, at))) {
          const decoded: MetadataRecord[] = [];
          forEachRecord(chunk, at, (r) => {
            const value = recordValue(r);
            if (value === null) throw new MetadataLogError(`metadata log record at offset ${readBaseOffset(chunk, at) + BigInt(r.offsetDelta)} has no value`);
            decoded.push(decodeMetadataRecord(Buffer.from(value)));
          });
          this.image.applyBatch(decoded, lastOffset);
          records += decoded.length;
        }
        batches++;
        offset = lastOffset + 1n;
      }
    }
    this.logger.info({ batches, records, endOffset: this.log.logEndOffset.toString() }, 'replayed the metadata log');
  }

  async append(records: readonly MetadataRecord[]): Promise<void> {
    if (records.length === 0) return;
    if (records.length > METADATA_BATCH_RECORDS_MAX) throw new MetadataLogError(`a metadata write of ${records.length} records exceeds the ${METADATA_BATCH_RECORDS_MAX}-record limit of one batch`);
    const batch = buildRecordBatch({ records: records.map((r) => ({ key: null, value: encodeMetadataRecord(r) })) });
    const appended = this.log.appendAsLeader(batch, SINGLE_VOTER_EPOCH);
    await this.log.flush();
    this.log.updateHighWatermark(this.log.logEndOffset);
    this.image.applyBatch(records, appended.lastOffset);
  }

  async close(): Promise<void> {
    await this.log.close();
  }
}

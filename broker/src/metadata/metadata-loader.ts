/**
 * Connects the metadata image to the KRaft quorum (Kafka's MetadataLoader + the controller's write path):
 * - every committed batch of the metadata log is decoded and applied to the image, in log order;
 * - a loaded snapshot replaces the image;
 * - the active controller's writes (`MetadataLogWriter.append`) are proposed to the quorum and complete
 *   once committed and applied here, so the next controller operation validates against them.
 *
 * The quorum is reached only through the narrow `MetadataQuorumPort`, so this file does not depend on the
 * driver's internals.
 */
import type { Logger } from 'pino';
import type { MetadataLogWriter } from '../controller/controller.ts';
import { decodeMetadataRecord, encodeMetadataRecord, type MetadataRecord } from './metadata-record.ts';
import type { MetadataImage } from './metadata-image.ts';

export interface MetadataQuorumPort {
  /** Leader only: resolves once the batch is committed and was passed to handleCommit. */
  propose(records: readonly Buffer[]): Promise<{ readonly baseOffset: bigint; readonly lastOffset: bigint }>;
}

export interface CommittedBatch {
  readonly baseOffset: bigint;
  readonly lastOffset: bigint;
  readonly epoch: number;
  readonly records: readonly Buffer[];
}

export interface LoadedSnapshot {
  /** Exclusive end offset the snapshot covers. */
  readonly offset: bigint;
  readonly epoch: number;
  readonly records: readonly Buffer[];
}

export class MetadataLoaderError extends Error {
  override readonly name = 'MetadataLoaderError';
}

export class MetadataLoader implements MetadataLogWriter {
  private readonly image: MetadataImage;
  private readonly quorum: MetadataQuorumPort;
  private readonly logger: Logger;

  constructor(image: MetadataImage, quorum: MetadataQuorumPort, logger: Logger) {
    this.image = image;
    this.quorum = quorum;
    this.logger = logger;
  }

  async append(records: readonly MetadataRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.quorum.propose(records.map(encodeMetadataRecord));
  }

  handleCommit(batch: CommittedBatch): void {
    if (batch.lastOffset <= this.image.lastAppliedOffset) return;
    const records = batch.records.map((bytes, i) => {
      try {
        return decodeMetadataRecord(bytes);
      } catch (error) {
        throw new MetadataLoaderError(`metadata record at offset ${batch.baseOffset + BigInt(i)} cannot be decoded: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
    });
    this.image.applyBatch(records, batch.lastOffset);
  }

  handleLoadSnapshot(snapshot: LoadedSnapshot): void {
    this.logger.info({ offset: String(snapshot.offset), epoch: snapshot.epoch, records: snapshot.records.length }, 'loading metadata snapshot');
    this.image.reset();
    this.image.applyBatch(snapshot.records.map((bytes) => decodeMetadataRecord(bytes)), snapshot.offset - 1n);
  }
}

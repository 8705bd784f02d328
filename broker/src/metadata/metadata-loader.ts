/**
 * Connects the metadata image to the KRaft quorum (Kafka's MetadataLoader + the controller's write path):
 * - every committed batch of the metadata log is decoded and applied to the image, in log order;
 * - a loaded snapshot replaces the image;
 * - the active controller's writes (`MetadataLogWriter.append`) are proposed to the quorum and complete
 *   once committed and applied here, so the next controller operation validates against them.
 *
 * The quorum is reached only through `MetadataQuorumPort` (propose), plus the driver's batch types.
 */
import type { Logger } from 'pino';
import type { MetadataLogWriter } from '../controller/controller.ts';
import { decodeMetadataRecord, encodeMetadataRecord, type MetadataRecord } from './metadata-record.ts';
import type { MetadataImage } from './metadata-image.ts';
import type { CommittedBatch, LoadedSnapshot, MetadataQuorum } from '../raft/driver/metadata-quorum.ts';

/** What the loader needs from the quorum: proposing the active controller's writes, and snapshots. */
export type MetadataQuorumPort = Pick<MetadataQuorum, 'propose' | 'createSnapshot'>;

/** When to snapshot the image (Kafka: metadata.log.max.record.bytes.between.snapshots, ...interval.ms). */
export interface SnapshotPolicy {
  readonly maxBytesBetweenSnapshots: number;
  readonly maxIntervalMs: number;
  readonly nowMs?: () => number;
}

export class MetadataLoaderError extends Error {
  override readonly name = 'MetadataLoaderError';
}

export class MetadataLoader implements MetadataLogWriter {
  private readonly image: MetadataImage;
  private readonly quorum: MetadataQuorumPort;
  private readonly logger: Logger;

  private readonly policy: SnapshotPolicy | null;
  private bytesSinceSnapshot = 0;
  private lastSnapshotMs: number;
  private snapshotting = false;

  constructor(image: MetadataImage, quorum: MetadataQuorumPort, logger: Logger, policy: SnapshotPolicy | null = null) {
    this.image = image;
    this.quorum = quorum;
    this.logger = logger;
    this.policy = policy;
    this.lastSnapshotMs = (policy?.nowMs ?? Date.now)();
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
    for (const r of batch.records) this.bytesSinceSnapshot += r.length;
    this.maybeSnapshot(batch);
  }

  /**
   * Every node snapshots its own image (as in Kafka), right after applying a batch, when enough bytes or
   * time have passed since the last one. The quorum then drops the log behind the snapshot.
   */
  private maybeSnapshot(batch: CommittedBatch): void {
    const policy = this.policy;
    if (policy === null || this.snapshotting || this.bytesSinceSnapshot === 0) return;
    const now = (policy.nowMs ?? Date.now)();
    const due = this.bytesSinceSnapshot >= policy.maxBytesBetweenSnapshots || (policy.maxIntervalMs > 0 && now - this.lastSnapshotMs >= policy.maxIntervalMs);
    if (!due) return;
    const records = this.image.snapshotRecords().map(encodeMetadataRecord);
    const endOffset = batch.lastOffset + 1n;
    this.snapshotting = true;
    this.bytesSinceSnapshot = 0;
    this.lastSnapshotMs = now;
    this.quorum.createSnapshot(endOffset, batch.epoch, records).then(() => {
      this.logger.info({ endOffset: String(endOffset), epoch: batch.epoch, records: records.length }, 'wrote a metadata snapshot');
    }, (error: unknown) => {
      this.logger.warn({ err: error, endOffset: String(endOffset) }, 'writing a metadata snapshot failed; the log is kept and a later snapshot will be tried');
    }).finally(() => { this.snapshotting = false; });
  }

  handleLoadSnapshot(snapshot: LoadedSnapshot): void {
    this.logger.info({ offset: String(snapshot.offset), epoch: snapshot.epoch, records: snapshot.records.length }, 'loading metadata snapshot');
    this.image.reset();
    this.image.applyBatch(snapshot.records.map((bytes) => decodeMetadataRecord(bytes)), snapshot.offset - 1n);
    this.bytesSinceSnapshot = 0;
  }
}

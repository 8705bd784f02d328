/**
 * The durable side of the metadata log: `__cluster_metadata-0` on the broker's PartitionLog, snapshot files
 * beside it, and the recovery rule that rebuilds the core's persisted state after a restart.
 *
 * Directory `<metadata.log.dir>/__cluster_metadata-0/`:
 *   00000000000000000000.log|.index|.timeindex   segments (batches carry PartitionLeaderEpoch = raft epoch)
 *   <20-digit offset>-<10-digit epoch>.checkpoint  snapshots (record-codec.ts); `.checkpoint.part` while written
 *   quorum-state                                   quorum-state-file.ts
 *
 * Every operation the core asks for (LogOp) is applied synchronously, so the disk follows the core in
 * order; only flush() is asynchronous. A snapshot file is fsynced before the log is cut behind it.
 *
 * Recovery (open): take the newest snapshot whose file decodes (a corrupt one is deleted); read every batch
 * of the log; keep the batches from the snapshot's end offset S on only if they continue the snapshot, i.e.
 * the log's start is already at or past S (the prefix was deleted after this node took the snapshot), or
 * the batch ending at S - 1 has the snapshot's epoch (same offset and epoch: same history, Raft's
 * InstallSnapshot rule). Otherwise (a crash between writing a downloaded snapshot and resetting the log)
 * the log restarts empty at S.
 */
import { open as openFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PartitionLog } from '../../log/partition-log.ts';
import { resolveLogConfig } from '../../log/config.ts';
import { defaultLogFs, type LogFs } from '../../log/log-fs.ts';
import type { LogLogger } from '../../log/log-events.ts';
import type { LogEntry } from '../core/raft-log.ts';
import type { SnapshotData } from '../core/raft-node.ts';
import { decodeEntries, decodeSnapshot, encodeEntry, parseSnapshotFileName, snapshotFileName, toOffset, type SnapshotIdBig } from './record-codec.ts';

export const METADATA_TOPIC = '__cluster_metadata';
export const METADATA_PARTITION = 0;
const READ_CHUNK_BYTES = 8 * 1024 * 1024;
const PART_SUFFIX = '.part';

export class MetadataLogStoreError extends Error {
  override readonly name = 'MetadataLogStoreError';
  readonly code = 'RAFT_METADATA_LOG';
}

export interface MetadataLogStoreOptions {
  /** The `__cluster_metadata-0` directory. */
  readonly dir: string;
  readonly logger: LogLogger;
  /** metadata.log.segment.bytes (segments behind the latest snapshot are deleted whole). */
  readonly segmentBytes?: number;
  readonly fs?: LogFs;
}

export interface RecoveredMetadataLog {
  readonly store: MetadataLogStore;
  readonly snapshot: SnapshotData | null;
  /** The log from the snapshot's end offset (or 0). */
  readonly entries: LogEntry[];
}

function compareIds(a: SnapshotIdBig, b: SnapshotIdBig): number {
  return a.endOffset === b.endOffset ? a.epoch - b.epoch : a.endOffset < b.endOffset ? -1 : 1;
}

export class MetadataLogStore {
  readonly dir: string;
  readonly #log: PartitionLog;
  readonly #fs: LogFs;
  readonly #logger: LogLogger;

  private constructor(dir: string, log: PartitionLog, fs: LogFs, logger: LogLogger) {
    this.dir = dir;
    this.#log = log;
    this.#fs = fs;
    this.#logger = logger;
  }

  static async open(options: MetadataLogStoreOptions): Promise<RecoveredMetadataLog> {
    const fs = options.fs ?? defaultLogFs;
    const dir = options.dir;
    fs.mkdir(dir);
    for (const name of fs.readdir(dir)) if (name.endsWith(`.checkpoint${PART_SUFFIX}`)) fs.unlinkIfExists(join(dir, name));
    const snapshot = MetadataLogStore.#loadLatestSnapshot(dir, fs, options.logger);
    const log = await PartitionLog.open({
      dir,
      topicPartition: { topic: METADATA_TOPIC, partition: METADATA_PARTITION },
      // The metadata log is never deleted by age or size: only behind a snapshot.
      config: resolveLogConfig({ retentionMs: -1, retentionBytes: -1, ...(options.segmentBytes === undefined ? {} : { segmentBytes: options.segmentBytes }) }),
      fs,
      logger: options.logger,
    });
    const store = new MetadataLogStore(dir, log, fs, options.logger);
    try {
      const entries = store.#recover(snapshot);
      return { store, snapshot, entries };
    } catch (error) {
      await log.close();
      throw error;
    }
  }

  static #loadLatestSnapshot(dir: string, fs: LogFs, logger: LogLogger): SnapshotData | null {
    const ids = fs
      .readdir(dir)
      .map(parseSnapshotFileName)
      .filter((id) => id !== null)
      .sort(compareIds)
      .reverse();
    for (const id of ids) {
      const path = join(dir, snapshotFileName(id));
      const bytes = fs.readFile(path);
      try {
        decodeSnapshot(bytes);
        return { id: { endOffset: toOffset(id.endOffset, 'snapshot end offset'), epoch: id.epoch }, bytes };
      } catch (error) {
        logger.warn({ path, error: error instanceof Error ? error.message : String(error) }, 'deleting a corrupt metadata snapshot');
        fs.unlinkIfExists(path);
      }
    }
    return null;
  }

  #recover(snapshot: SnapshotData | null): LogEntry[] {
    const log = this.#log;
    const all: LogEntry[] = [];
    let offset = log.logStartOffset;
    while (offset < log.logEndOffset) {
      const { records } = log.read(offset, { maxBytes: READ_CHUNK_BYTES });
      if (records.length === 0) break;
      for (const entry of decodeEntries(records)) {
        if (entry.lastOffset < offset) continue;
        all.push(entry);
        offset = BigInt(entry.lastOffset + 1);
      }
    }
    const start = snapshot?.id.endOffset ?? 0;
    if (start === 0) {
      if (log.logStartOffset > 0n) throw new MetadataLogStoreError(`${this.dir}: the log starts at ${log.logStartOffset} but there is no snapshot covering the offsets below`);
      return all;
    }
    const epoch = snapshot?.id.epoch ?? 0;
    const kept = all.filter((e) => e.baseOffset >= start);
    const continues =
      (kept.length === 0 || kept[0]?.baseOffset === start) &&
      (log.logStartOffset >= BigInt(start) || all.some((e) => e.lastOffset === start - 1 && e.epoch === epoch));
    if (!continues || (kept.length === 0 && log.logEndOffset !== BigInt(start))) {
      this.#logger.warn({ dir: this.dir, snapshotEndOffset: start, logStartOffset: String(log.logStartOffset), logEndOffset: String(log.logEndOffset) }, 'the metadata log does not continue the latest snapshot: restarting it empty at the snapshot');
      log.truncateFullyAndStartAt(BigInt(start));
      return [];
    }
    if (log.logStartOffset < BigInt(start)) {
      log.updateHighWatermark(BigInt(start));
      log.deleteRecordsBefore(BigInt(start));
    }
    this.#deleteSnapshotsBelow(start);
    return kept;
  }

  get logStartOffset(): number {
    return Number(this.#log.logStartOffset);
  }

  get logEndOffset(): number {
    return Number(this.#log.logEndOffset);
  }

  /**
   * Appends entries whose offsets the core assigned (leader and follower alike). One batch per append, so
   * segments roll at metadata.log.segment.bytes and prefix deletion can free whole segments.
   */
  append(entries: readonly LogEntry[]): void {
    for (const entry of entries) this.#log.appendAsFollower(encodeEntry(entry));
  }

  truncate(endOffset: number): void {
    this.#log.truncateTo(BigInt(endOffset));
  }

  /** A downloaded snapshot: the file first (durable), then the log restarts empty at its end. */
  installSnapshot(snapshot: SnapshotData): void {
    const id = { endOffset: BigInt(snapshot.id.endOffset), epoch: snapshot.id.epoch };
    const bytes = Buffer.from(snapshot.bytes.buffer, snapshot.bytes.byteOffset, snapshot.bytes.byteLength);
    this.#fs.writeFileAtomic(join(this.dir, snapshotFileName(id)), bytes, { fsync: true });
    this.#log.truncateFullyAndStartAt(id.endOffset);
    this.#deleteSnapshotsBelow(snapshot.id.endOffset);
  }

  /** A snapshot at `endOffset` is durable: the log below it goes (whole segments), older snapshots too. */
  deletePrefix(endOffset: number): void {
    const offset = BigInt(endOffset);
    if (offset > this.#log.logStartOffset) {
      this.#log.updateHighWatermark(offset);
      this.#log.deleteRecordsBefore(offset);
    }
    this.#deleteSnapshotsBelow(endOffset);
  }

  updateHighWatermark(offset: number): void {
    this.#log.updateHighWatermark(BigInt(offset));
  }

  flush(): Promise<void> {
    return this.#log.flush();
  }

  /** Writes a snapshot file durably off the event loop (`.checkpoint.part`, fsync, rename, fsync dir). */
  async writeSnapshot(snapshot: SnapshotData): Promise<void> {
    const name = snapshotFileName({ endOffset: BigInt(snapshot.id.endOffset), epoch: snapshot.id.epoch });
    const path = join(this.dir, name);
    const part = path + PART_SUFFIX;
    const file = await openFile(part, 'w');
    try {
      await file.writeFile(snapshot.bytes);
      await file.datasync();
    } finally {
      await file.close();
    }
    try {
      await rename(part, path);
    } catch (error) {
      await unlink(part).catch(() => undefined);
      throw error;
    }
    const dir = await openFile(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  #deleteSnapshotsBelow(endOffset: number): void {
    for (const name of this.#fs.readdir(this.dir)) {
      const id = parseSnapshotFileName(name);
      if (id !== null && id.endOffset < BigInt(endOffset)) this.#fs.unlinkIfExists(join(this.dir, name));
    }
  }

  /** Snapshot files on disk, oldest first (tests, tools). */
  listSnapshots(): SnapshotIdBig[] {
    return this.#fs
      .readdir(this.dir)
      .map(parseSnapshotFileName)
      .filter((id) => id !== null)
      .sort(compareIds);
  }

  /** The PartitionLog, for tests and tools: do not write to it. */
  get partitionLog(): PartitionLog {
    return this.#log;
  }

  async close(): Promise<void> {
    await this.#log.close();
  }

  /** Drops every handle without flushing (tests: a simulated crash). */
  abandon(): void {
    this.#log.abandon();
  }
}

/**
 * The logs of one broker across its `log.dirs` (Kafka's LogManager).
 *
 * Per log dir: meta.properties (created or validated), `<topic>-<partition>/` directories, the checkpoint
 * files (recovery-point-offset-checkpoint, log-start-offset-checkpoint, replication-offset-checkpoint,
 * cleaner-offset-checkpoint; Kafka's text format, written atomically) and the clean-shutdown marker.
 *
 * Startup, per dir: identity -> read the marker and checkpoints -> remove `-delete` leftovers -> open every
 * partition (recovering unless the marker is there) -> delete the marker -> write checkpoints. A dir that fails
 * (permission, corrupt identity, unrecoverable log) is reported offline and the others carry on, as in Kafka;
 * if every dir fails, open throws the first error.
 *
 * Shutdown: stop the scheduler -> close every log (flush, producer snapshot) -> write checkpoints -> write the
 * marker in every dir whose logs all closed cleanly.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import type { Uuid } from '../protocol/wire/uuid.ts';
import { formatOffsetCheckpoint, parseOffsetCheckpoint, type OffsetCheckpointEntry } from './checkpoint-file.ts';
import { type Clock, systemClock } from './clock.ts';
import { type LogConfig, hasCleanupPolicy, resolveLogConfig } from './config.ts';
import { LogError, isLogError } from './errors.ts';
import {
  CLEAN_SHUTDOWN_FILE,
  CLEANER_OFFSET_CHECKPOINT_FILE,
  DELETE_DIR_SUFFIX,
  LOG_START_OFFSET_CHECKPOINT_FILE,
  RECOVERY_POINT_CHECKPOINT_FILE,
  REPLICATION_OFFSET_CHECKPOINT_FILE,
  parsePartitionDirName,
  partitionDirName,
  topicPartitionKey,
  type TopicPartition,
} from './file-names.ts';
import { type LogLogger, type RecoveryProgress, silentLogger } from './log-events.ts';
import { type LogFs, defaultLogFs } from './log-fs.ts';
import { type MetaProperties, ensureMetaProperties, readPartitionMetadata, writePartitionMetadata } from './meta-properties.ts';
import { PartitionLog } from './partition-log.ts';
import { PeriodicTasks } from './periodic-tasks.ts';

/** The KRaft metadata log's topic (broker/src/metadata), skipped when loading partition logs. */
export const METADATA_TOPIC_NAME = '__cluster_metadata';

/** Kafka's broker defaults for the background tasks. */
export interface LogManagerIntervals {
  /** log.retention.check.interval.ms */
  readonly retentionCheckMs: number;
  /** How often flush.ms is checked (Kafka's log.flush.scheduler.interval.ms defaults to never; see DESIGN.md). */
  readonly flushCheckMs: number;
  /** log.flush.offset.checkpoint.interval.ms */
  readonly recoveryPointCheckpointMs: number;
  /** log.flush.start.offset.checkpoint.interval.ms */
  readonly logStartOffsetCheckpointMs: number;
  /** replica.high.watermark.checkpoint.interval.ms */
  readonly highWatermarkCheckpointMs: number;
  /** producer.id.expiration.check.interval.ms */
  readonly producerExpirationCheckMs: number;
  /** log.cleaner.backoff.ms */
  readonly cleanerBackoffMs: number;
}

export const DEFAULT_INTERVALS: LogManagerIntervals = {
  retentionCheckMs: 300_000,
  flushCheckMs: 1_000,
  recoveryPointCheckpointMs: 60_000,
  logStartOffsetCheckpointMs: 60_000,
  highWatermarkCheckpointMs: 5_000,
  producerExpirationCheckMs: 600_000,
  cleanerBackoffMs: 15_000,
};

export interface LogManagerOptions {
  readonly logDirs: readonly string[];
  readonly clusterId: string;
  readonly nodeId: number;
  /** Config of topics without overrides (default: Kafka's defaults). */
  readonly defaultConfig?: LogConfig;
  /** Effective config of a topic (overrides already merged), when it has any. */
  readonly topicConfig?: (topic: string) => LogConfig | undefined;
  readonly clock?: Clock;
  readonly fs?: LogFs;
  readonly logger?: LogLogger;
  readonly randomBytes?: (size: number) => Buffer;
  readonly intervals?: Partial<LogManagerIntervals>;
  readonly onRecoveryProgress?: (logDir: string, progress: RecoveryProgress) => void;
  /** A log went offline after an I/O failure (the broker should stop leading it and report the dir). */
  readonly onLogOffline?: (topicPartition: TopicPartition, error: LogError) => void;
}

export interface LogDirState {
  readonly path: string;
  readonly meta: MetaProperties | null;
  /** Set when the dir could not be used. */
  readonly error: LogError | null;
}

/** Bound on partition directories one log dir may hold (a guard against a runaway listing). */
export const PARTITIONS_PER_DIR_MAX = 100_000;

interface ManagedLog {
  readonly log: PartitionLog;
  readonly logDir: string;
  topicId: Uuid | null;
}

export class LogManager {
  private readonly options: LogManagerOptions;
  private readonly fs: LogFs;
  private readonly clock: Clock;
  private readonly logger: LogLogger;
  private readonly randomBytes: (size: number) => Buffer;
  private readonly logs = new Map<string, ManagedLog>();
  private readonly dirs: LogDirState[];
  private readonly tasks: PeriodicTasks;
  private readonly pendingRemovals = new Set<Promise<void>>();
  private compaction: Promise<void> | null = null;
  private closed = false;

  private constructor(options: LogManagerOptions, dirs: LogDirState[]) {
    this.options = options;
    this.fs = options.fs ?? defaultLogFs;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.randomBytes = options.randomBytes ?? nodeRandomBytes;
    this.dirs = dirs;
    this.tasks = new PeriodicTasks(this.clock, this.logger);
    const iv = { ...DEFAULT_INTERVALS, ...options.intervals };
    this.tasks.add({ name: 'retention', intervalMs: iv.retentionCheckMs, run: () => this.runRetention() });
    this.tasks.add({ name: 'flush', intervalMs: iv.flushCheckMs, run: () => this.runFlushIfDue() });
    this.tasks.add({ name: 'recovery-point-checkpoint', intervalMs: iv.recoveryPointCheckpointMs, run: () => this.checkpointFile('recovery') });
    this.tasks.add({ name: 'log-start-checkpoint', intervalMs: iv.logStartOffsetCheckpointMs, run: () => this.checkpointFile('logStart') });
    this.tasks.add({ name: 'high-watermark-checkpoint', intervalMs: iv.highWatermarkCheckpointMs, run: () => this.checkpointFile('highWatermark') });
    this.tasks.add({ name: 'producer-expiration', intervalMs: iv.producerExpirationCheckMs, run: () => this.runProducerExpiration() });
    this.tasks.add({ name: 'cleaner', intervalMs: iv.cleanerBackoffMs, run: () => this.startCompaction() });
  }

  static async open(options: LogManagerOptions): Promise<LogManager> {
    if (options.logDirs.length === 0) throw new LogError('LOG_INVALID_ARGUMENT', 'log.dirs is empty');
    const states: LogDirState[] = options.logDirs.map((path) => ({ path, meta: null, error: null }));
    const manager = new LogManager(options, states);
    for (let i = 0; i < options.logDirs.length; i++) {
      const path = options.logDirs[i];
      if (path === undefined) continue;
      try {
        const meta = await manager.openDir(path);
        manager.dirs[i] = { path, meta, error: null };
      } catch (err) {
        const error = isLogError(err) ? err : new LogError('LOG_IO', `${path}: ${String(err)}`, { path, cause: err });
        manager.logger.warn({ logDir: path, code: error.code, error: error.message }, 'log dir is offline');
        manager.dirs[i] = { path, meta: null, error };
        for (const [key, managed] of manager.logs) {
          if (managed.logDir !== path) continue;
          manager.logs.delete(key);
          managed.log.abandon();
        }
      }
    }
    const failed = manager.dirs.filter((d) => d.error !== null);
    if (failed.length === manager.dirs.length) throw failed[0]?.error ?? new LogError('LOG_IO', 'no usable log dir');
    return manager;
  }

  private async openDir(dir: string): Promise<MetaProperties> {
    this.fs.mkdir(dir);
    const meta = ensureMetaProperties(this.fs, dir, this.options.clusterId, this.options.nodeId, this.randomBytes);
    const hadCleanShutdown = this.fs.stat(`${dir}/${CLEAN_SHUTDOWN_FILE}`) !== null;
    const recoveryPoints = this.readCheckpoint(dir, RECOVERY_POINT_CHECKPOINT_FILE);
    const logStarts = this.readCheckpoint(dir, LOG_START_OFFSET_CHECKPOINT_FILE);
    const highWatermarks = this.readCheckpoint(dir, REPLICATION_OFFSET_CHECKPOINT_FILE);
    const cleanerOffsets = this.readCheckpoint(dir, CLEANER_OFFSET_CHECKPOINT_FILE);
    const entries = this.fs.readdir(dir);
    if (entries.length > PARTITIONS_PER_DIR_MAX) throw new LogError('LOG_INVALID_ARGUMENT', `${dir}: ${entries.length} entries exceed ${PARTITIONS_PER_DIR_MAX}`, { path: dir });
    for (const name of entries.sort()) {
      const path = `${dir}/${name}`;
      if (name.endsWith(DELETE_DIR_SUFFIX)) {
        this.removeInBackground(path);
        continue;
      }
      const tp = parsePartitionDirName(name);
      if (tp === null || this.fs.stat(path)?.isDirectory !== true) continue;
      // The KRaft metadata log lives in metadata.log.dir, which may be a log dir too; its owner opens it.
      if (tp.topic === METADATA_TOPIC_NAME) continue;
      const key = topicPartitionKey(tp);
      const existing = this.logs.get(key);
      if (existing !== undefined) {
        throw new LogError('LOG_DIR_MISMATCH', `${key} exists in both ${existing.logDir} and ${dir}`, { path });
      }
      let topicId: Uuid | null = null;
      try {
        topicId = readPartitionMetadata(this.fs, path);
      } catch (err) {
        if (!isLogError(err, 'LOG_CORRUPT_FILE')) throw err;
        this.logger.warn({ logDir: dir, partition: key, error: err.message }, 'partition.metadata is corrupt; the topic id is unknown until set again');
      }
      const log = await PartitionLog.open({
        dir: path,
        topicPartition: tp,
        config: this.configFor(tp.topic),
        clock: this.clock,
        fs: this.fs,
        logger: this.logger,
        recoveryPoint: recoveryPoints.get(key) ?? 0n,
        logStartOffset: logStarts.get(key) ?? 0n,
        ...(highWatermarks.has(key) ? { highWatermark: highWatermarks.get(key) ?? 0n } : {}),
        ...(cleanerOffsets.has(key) ? { cleanerCheckpoint: cleanerOffsets.get(key) ?? 0n } : {}),
        hadCleanShutdown,
        onRecoveryProgress: (p) => this.options.onRecoveryProgress?.(dir, p),
        onOffline: (error) => this.options.onLogOffline?.(tp, error),
      });
      this.logs.set(key, { log, logDir: dir, topicId });
    }
    // From here on a crash is unclean: the marker goes before any write can happen.
    if (hadCleanShutdown) {
      this.fs.unlink(`${dir}/${CLEAN_SHUTDOWN_FILE}`);
      this.fs.syncDir(dir);
    }
    this.writeCheckpoints(dir);
    this.logger.info({ logDir: dir, partitions: [...this.logs.values()].filter((l) => l.logDir === dir).length, hadCleanShutdown }, 'log dir loaded');
    return meta;
  }

  /** A corrupt checkpoint is treated as missing: the safe defaults (rescan from 0, log start 0). */
  private readCheckpoint(dir: string, file: string): Map<string, bigint> {
    const path = `${dir}/${file}`;
    const out = new Map<string, bigint>();
    if (this.fs.stat(path) === null) return out;
    try {
      for (const e of parseOffsetCheckpoint(this.fs.readFile(path), path)) out.set(topicPartitionKey(e), e.offset);
    } catch (err) {
      if (!isLogError(err, 'LOG_CORRUPT_FILE')) throw err;
      this.logger.warn({ logDir: dir, file, error: err.message }, 'checkpoint is corrupt; using safe defaults');
      out.clear();
    }
    return out;
  }

  private configFor(topic: string): LogConfig {
    return this.options.topicConfig?.(topic) ?? this.options.defaultConfig ?? resolveLogConfig();
  }

  // ---- partitions ----------------------------------------------------------------------------------------

  get logDirs(): readonly LogDirState[] {
    return this.dirs;
  }

  getLog(tp: TopicPartition): PartitionLog | undefined {
    return this.logs.get(topicPartitionKey(tp))?.log;
  }

  topicIdOf(tp: TopicPartition): Uuid | null {
    return this.logs.get(topicPartitionKey(tp))?.topicId ?? null;
  }

  logDirOf(tp: TopicPartition): string | undefined {
    return this.logs.get(topicPartitionKey(tp))?.logDir;
  }

  allLogs(): PartitionLog[] {
    return [...this.logs.values()].map((m) => m.log);
  }

  /** Creates an empty log in the online dir holding the fewest partitions (Kafka's placement). */
  async createLog(tp: TopicPartition, topicId: Uuid, config?: LogConfig): Promise<PartitionLog> {
    this.checkOpen();
    const key = topicPartitionKey(tp);
    if (this.logs.has(key)) throw new LogError('LOG_PARTITION_EXISTS', `${key} already has a log`);
    const online = this.dirs.filter((d) => d.error === null);
    const count = (dir: string): number => [...this.logs.values()].filter((l) => l.logDir === dir).length;
    const target = online.sort((a, b) => count(a.path) - count(b.path))[0];
    if (target === undefined) throw new LogError('LOG_OFFLINE', 'no online log dir');
    const path = `${target.path}/${partitionDirName(tp)}`;
    this.fs.mkdir(path);
    writePartitionMetadata(this.fs, path, topicId);
    this.fs.syncDir(target.path);
    const log = await PartitionLog.open({
      dir: path,
      topicPartition: tp,
      config: config ?? this.configFor(tp.topic),
      clock: this.clock,
      fs: this.fs,
      logger: this.logger,
      hadCleanShutdown: true,
      onOffline: (error) => this.options.onLogOffline?.(tp, error),
    });
    this.logs.set(key, { log, logDir: target.path, topicId });
    return log;
  }

  /**
   * Deletes a partition: closes its log, renames the directory to `<topic>-<partition>.<id>-delete` (atomic,
   * so a crash mid-removal is finished at the next start) and removes it in the background.
   */
  async deleteLog(tp: TopicPartition): Promise<void> {
    this.checkOpen();
    const key = topicPartitionKey(tp);
    const managed = this.logs.get(key);
    if (managed === undefined) throw new LogError('LOG_PARTITION_NOT_FOUND', `${key} has no log`);
    this.logs.delete(key);
    await managed.log.closeForDeletion();
    const from = `${managed.logDir}/${partitionDirName(tp)}`;
    const to = `${managed.logDir}/${partitionDirName(tp)}.${this.randomBytes(16).toString('hex')}${DELETE_DIR_SUFFIX}`;
    this.fs.rename(from, to);
    this.fs.syncDir(managed.logDir);
    this.removeInBackground(to);
    this.writeCheckpoints(managed.logDir);
  }

  private removeInBackground(path: string): void {
    const p = this.fs.removeTree(path).catch((err: unknown) => {
      this.logger.warn({ path, error: err instanceof Error ? err.message : String(err) }, 'could not remove a deleted partition directory; will retry at the next start');
    });
    this.pendingRemovals.add(p);
    void p.finally(() => this.pendingRemovals.delete(p));
  }

  /** Resolves when background directory removals have finished (for tests and shutdown). */
  async awaitRemovals(): Promise<void> {
    await Promise.all([...this.pendingRemovals]);
  }

  // ---- checkpoints ---------------------------------------------------------------------------------------

  /** Writes all four checkpoint files of every online dir. */
  checkpointAll(): void {
    for (const d of this.dirs) if (d.error === null) this.writeCheckpoints(d.path);
  }

  private writeCheckpoints(dir: string): void {
    for (const kind of ['recovery', 'logStart', 'highWatermark', 'cleaner'] as const) this.writeCheckpoint(dir, kind);
  }

  private checkpointFile(kind: 'recovery' | 'logStart' | 'highWatermark'): void {
    for (const d of this.dirs) {
      if (d.error !== null) continue;
      this.writeCheckpoint(d.path, kind);
      if (kind === 'recovery') this.writeCheckpoint(d.path, 'cleaner');
    }
  }

  private writeCheckpoint(dir: string, kind: 'recovery' | 'logStart' | 'highWatermark' | 'cleaner'): void {
    const entries: OffsetCheckpointEntry[] = [];
    for (const m of this.logs.values()) {
      if (m.logDir !== dir) continue;
      const { topic, partition } = m.log.topicPartition;
      const log = m.log;
      if (kind === 'recovery') entries.push({ topic, partition, offset: log.recoveryPoint });
      else if (kind === 'logStart') entries.push({ topic, partition, offset: log.logStartOffset });
      else if (kind === 'highWatermark') entries.push({ topic, partition, offset: log.highWatermark });
      else if (hasCleanupPolicy(log.config, 'compact')) entries.push({ topic, partition, offset: log.cleanerCheckpoint });
    }
    const file = {
      recovery: RECOVERY_POINT_CHECKPOINT_FILE,
      logStart: LOG_START_OFFSET_CHECKPOINT_FILE,
      highWatermark: REPLICATION_OFFSET_CHECKPOINT_FILE,
      cleaner: CLEANER_OFFSET_CHECKPOINT_FILE,
    }[kind];
    this.fs.writeFileAtomic(`${dir}/${file}`, formatOffsetCheckpoint(entries));
  }

  // ---- background work -----------------------------------------------------------------------------------

  /** Runs the periodic tasks that are due by the injected clock (tests call this after moving the clock). */
  runScheduledTasks(): Promise<void> {
    return this.tasks.runDue();
  }

  /** Runs the scheduler on a real timer (production). */
  start(tickMs = 1_000): void {
    this.tasks.start(tickMs);
  }

  private forEachOnlineLog(what: string, fn: (log: PartitionLog) => void): void {
    for (const { log } of this.logs.values()) {
      if (log.isClosed || log.isOffline) continue;
      try {
        fn(log);
      } catch (err) {
        this.logger.warn({ log: topicPartitionKey(log.topicPartition), task: what, error: err instanceof Error ? err.message : String(err) }, 'log task failed');
      }
    }
  }

  private runRetention(): void {
    this.forEachOnlineLog('retention', (log) => void log.deleteOldSegments());
  }

  private async runFlushIfDue(): Promise<void> {
    for (const { log } of this.logs.values()) {
      try {
        await log.flushIfDue();
      } catch (err) {
        this.logger.warn({ log: topicPartitionKey(log.topicPartition), error: err instanceof Error ? err.message : String(err) }, 'flush failed');
      }
    }
  }

  private runProducerExpiration(): void {
    this.forEachOnlineLog('producer-expiration', (log) => void log.removeExpiredProducers());
  }

  /**
   * Starts compaction of the dirtiest eligible log (Kafka's cleaner picks the same way), unless one is still
   * running: one compaction at a time per broker (log.cleaner.threads = 1). It runs detached, in bounded steps.
   */
  private startCompaction(): void {
    if (this.compaction !== null || this.closed) return;
    const now = this.clock.nowMs();
    let best: PartitionLog | null = null;
    let bestRatio = -1;
    for (const { log } of this.logs.values()) {
      if (log.isClosed || log.isOffline || !hasCleanupPolicy(log.config, 'compact')) continue;
      const ratio = log.dirtyRatio;
      const horizonDue = log.tombstoneHorizonMs !== null && now >= log.tombstoneHorizonMs;
      if ((ratio >= log.config.minCleanableDirtyRatio && ratio > 0) || horizonDue) {
        const score = horizonDue ? Math.max(ratio, 0) + 1 : ratio;
        if (score > bestRatio) {
          best = log;
          bestRatio = score;
        }
      }
    }
    if (best === null) return;
    const log = best;
    this.compaction = log
      .compact()
      .then(
        () => undefined,
        (err: unknown) => {
          this.logger.warn({ log: topicPartitionKey(log.topicPartition), error: err instanceof Error ? err.message : String(err) }, 'compaction failed');
        },
      )
      .finally(() => {
        this.compaction = null;
      });
  }

  /** Resolves when the compaction started by the scheduler (if any) is over. */
  async awaitCompaction(): Promise<void> {
    if (this.compaction !== null) await this.compaction;
  }

  // ---- shutdown ------------------------------------------------------------------------------------------

  /** Clean shutdown; see the module comment. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    await this.tasks.stop();
    const uncleanDirs = new Set<string>();
    for (const m of this.logs.values()) {
      try {
        if (m.log.isOffline) uncleanDirs.add(m.logDir);
        await m.log.close();
      } catch (err) {
        uncleanDirs.add(m.logDir);
        this.logger.warn({ log: topicPartitionKey(m.log.topicPartition), error: err instanceof Error ? err.message : String(err) }, 'log did not close cleanly');
      }
    }
    this.closed = true;
    await this.awaitCompaction();
    for (const d of this.dirs) {
      if (d.error !== null) continue;
      try {
        this.writeCheckpoints(d.path);
        if (!uncleanDirs.has(d.path)) this.fs.writeFileAtomic(`${d.path}/${CLEAN_SHUTDOWN_FILE}`, Buffer.from('{"version":0,"brokerEpoch":-1}'));
      } catch (err) {
        this.logger.warn({ logDir: d.path, error: err instanceof Error ? err.message : String(err) }, 'could not write checkpoints at shutdown; the next start recovers');
      }
    }
    await this.awaitRemovals();
  }

  private checkOpen(): void {
    if (this.closed) throw new LogError('LOG_CLOSED', 'the log manager is shut down');
  }
}

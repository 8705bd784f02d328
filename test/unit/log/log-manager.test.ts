import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveLogConfig } from '../../../broker/src/log/config.ts';
import { isLogError } from '../../../broker/src/log/errors.ts';
import { LogManager, type LogManagerOptions } from '../../../broker/src/log/log-manager.ts';
import type { RecoveryProgress } from '../../../broker/src/log/log-events.ts';
import { batch, cleanupTempDirs, fastFs, faultyFs, ManualClock, readAll, simpleBatch, tempDir } from './helpers.ts';

afterEach(cleanupTempDirs);

const TOPIC_ID = 'b8ZlKy3fQkSpNE1zEuLy2A';
const tp = (partition: number, topic = 'orders'): { topic: string; partition: number } => ({ topic, partition });

function options(dirs: string[], clock: ManualClock, extra: Partial<LogManagerOptions> = {}): LogManagerOptions {
  return {
    logDirs: dirs,
    clusterId: 'MkU3OEVBNTcwNTJENDM2Qk',
    nodeId: 1,
    clock,
    fs: fastFs(),
    defaultConfig: resolveLogConfig({ segmentBytes: 2000 }),
    ...extra,
  };
}

describe('LogManager', () => {
  it('creates meta.properties per dir, places partitions on the emptiest dir, writes partition.metadata', async () => {
    const dirs = [tempDir(), tempDir()];
    const clock = new ManualClock();
    const manager = await LogManager.open(options(dirs, clock));
    const ids = manager.logDirs.map((d) => d.meta?.directoryId);
    expect(new Set(ids).size).toBe(2);
    await manager.createLog(tp(0), TOPIC_ID);
    await manager.createLog(tp(1), TOPIC_ID);
    await manager.createLog(tp(2), TOPIC_ID);
    const placement = [0, 1, 2].map((p) => manager.logDirOf(tp(p)));
    expect(placement.filter((d) => d === dirs[0])).toHaveLength(2);
    expect(placement.filter((d) => d === dirs[1])).toHaveLength(1);
    expect(readFileSync(`${manager.logDirOf(tp(1))}/orders-1/partition.metadata`, 'utf8')).toBe(`version: 0\ntopic_id: ${TOPIC_ID}\n`);
    await expect(manager.createLog(tp(0), TOPIC_ID)).rejects.toMatchObject({ code: 'LOG_PARTITION_EXISTS' });
    await manager.shutdown();
    const again = await LogManager.open(options(dirs, clock));
    expect(again.logDirs.map((d) => d.meta?.directoryId)).toEqual(ids);
    expect(again.topicIdOf(tp(2))).toBe(TOPIC_ID);
    await again.shutdown();
  });

  it('refuses a dir formatted for another cluster but keeps serving the others', async () => {
    const dirs = [tempDir(), tempDir()];
    const clock = new ManualClock();
    await (await LogManager.open(options([dirs[0]!], clock, { clusterId: 'other-cluster' }))).shutdown();
    const manager = await LogManager.open(options(dirs, clock));
    expect(manager.logDirs[0]?.error?.code).toBe('LOG_DIR_MISMATCH');
    expect(manager.logDirs[1]?.error).toBeNull();
    await manager.createLog(tp(0), TOPIC_ID);
    expect(manager.logDirOf(tp(0))).toBe(dirs[1]);
    await manager.shutdown();
    await expect(LogManager.open(options([dirs[0]!], clock))).rejects.toMatchObject({ code: 'LOG_DIR_MISMATCH' });
  });

  it('writes Kafka checkpoint files and the clean-shutdown marker; restarts without rescanning', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const manager = await LogManager.open(options([dir], clock));
    const log = await manager.createLog(tp(0), TOPIC_ID);
    for (let i = 0; i < 30; i++) log.appendAsLeader(simpleBatch(3), 2);
    log.updateHighWatermark(60n);
    await manager.shutdown();
    expect(readFileSync(`${dir}/recovery-point-offset-checkpoint`, 'utf8')).toBe('0\n1\norders 0 90\n');
    expect(readFileSync(`${dir}/replication-offset-checkpoint`, 'utf8')).toBe('0\n1\norders 0 60\n');
    expect(readFileSync(`${dir}/log-start-offset-checkpoint`, 'utf8')).toBe('0\n1\norders 0 0\n');
    expect(existsSync(`${dir}/.kafka_cleanshutdown`)).toBe(true);
    const progress: RecoveryProgress[] = [];
    const again = await LogManager.open(options([dir], clock, { onRecoveryProgress: (_d, p) => progress.push(p) }));
    expect(progress).toEqual([]);
    expect(existsSync(`${dir}/.kafka_cleanshutdown`)).toBe(false);
    const reopened = again.getLog(tp(0));
    expect([reopened?.logEndOffset, reopened?.highWatermark]).toEqual([90n, 60n]);
    // Crash (no shutdown): the next start recovers from the recovery point.
    for (const l of again.allLogs()) l.abandon();
    const recovered = await LogManager.open(options([dir], clock, { onRecoveryProgress: (_d, p) => progress.push(p) }));
    expect(progress.length).toBeGreaterThan(0);
    expect(recovered.getLog(tp(0))?.logEndOffset).toBe(90n);
    await recovered.shutdown();
  });

  it('deletes a partition by renaming it to -delete and removing it in the background', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const manager = await LogManager.open(options([dir], clock));
    const log = await manager.createLog(tp(0, 'gone-topic'), TOPIC_ID);
    log.appendAsLeader(simpleBatch(2), 0);
    await manager.deleteLog(tp(0, 'gone-topic'));
    expect(manager.getLog(tp(0, 'gone-topic'))).toBeUndefined();
    await manager.awaitRemovals();
    expect(readdirSync(dir).filter((n) => n.startsWith('gone-topic'))).toEqual([]);
    await expect(manager.deleteLog(tp(0, 'gone-topic'))).rejects.toMatchObject({ code: 'LOG_PARTITION_NOT_FOUND' });
    // A crash after the rename leaves a -delete dir: the next start finishes the removal.
    mkdirSync(`${dir}/orders-3.0123456789abcdef0123456789abcdef-delete`);
    writeFileSync(`${dir}/orders-3.0123456789abcdef0123456789abcdef-delete/00000000000000000000.log`, 'x');
    await manager.shutdown();
    const again = await LogManager.open(options([dir], clock));
    await again.awaitRemovals();
    expect(readdirSync(dir).filter((n) => n.endsWith('-delete'))).toEqual([]);
    expect(again.allLogs()).toHaveLength(0);
    await again.shutdown();
  });

  it('runs retention, checkpoints, flush.ms and compaction from the injected clock', async () => {
    const dir = tempDir();
    const clock = new ManualClock(1_000_000);
    const compacted = resolveLogConfig({ segmentBytes: 600, cleanupPolicy: ['compact'] });
    const manager = await LogManager.open(
      options([dir], clock, {
        defaultConfig: resolveLogConfig({ segmentBytes: 600, retentionMs: 60_000, flushMs: 5_000 }),
        topicConfig: (topic) => (topic === 'table' ? compacted : undefined),
      }),
    );
    const events = await manager.createLog(tp(0, 'events'), TOPIC_ID);
    const table = await manager.createLog(tp(0, 'table'), TOPIC_ID);
    for (let i = 0; i < 20; i++) events.appendAsLeader(simpleBatch(2, 1_000_000n), 0);
    for (let r = 0; r < 10; r++) for (let k = 0; k < 3; k++) table.appendAsLeader(batch([{ key: `k${k}`, value: `${r}`, timestampMs: 1_000_000n }]), 0);
    events.updateHighWatermark(events.logEndOffset);
    table.updateHighWatermark(table.logEndOffset);
    const segmentsBefore = events.segmentCount;

    clock.advance(5_000);
    await manager.runScheduledTasks();
    expect(readFileSync(`${dir}/replication-offset-checkpoint`, 'utf8')).toContain('events 0 40');
    expect(events.recoveryPoint).toBe(events.logEndOffset); // flush.ms
    expect(table.recoveryPoint).toBeLessThan(table.logEndOffset); // flush.ms is infinite there (default)

    clock.advance(15_000);
    await manager.runScheduledTasks();
    await manager.awaitCompaction();
    // Below the active segment each key now appears once.
    const active = table.segmentBaseOffsets.at(-1) ?? 0n;
    const cleaned = readAll(table).flatMap((b) => b.records).filter((r) => r.offset < active);
    expect(cleaned.map((r) => r.key).sort()).toEqual(['k0', 'k1', 'k2']);
    expect(table.cleanerCheckpoint).toBe(active);

    clock.advance(300_000);
    await manager.runScheduledTasks();
    expect(events.segmentCount).toBe(1);
    expect(segmentsBefore).toBeGreaterThan(1);
    expect(events.logStartOffset).toBe(events.segmentBaseOffsets[0]);
    expect(table.segmentCount).toBeGreaterThan(0);
    await manager.shutdown();
    expect(readFileSync(`${dir}/cleaner-offset-checkpoint`, 'utf8')).toMatch(/^0\n1\ntable 0 \d+\n$/);
  });

  it('treats a corrupt checkpoint as missing and recovers everything', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const manager = await LogManager.open(options([dir], clock));
    const log = await manager.createLog(tp(0), TOPIC_ID);
    for (let i = 0; i < 10; i++) log.appendAsLeader(simpleBatch(3), 0);
    await manager.shutdown();
    writeFileSync(`${dir}/recovery-point-offset-checkpoint`, 'garbage');
    const warnings: string[] = [];
    const again = await LogManager.open(options([dir], clock, { logger: { info: () => undefined, warn: (_f, m) => warnings.push(m) } }));
    expect(warnings).toContain('checkpoint is corrupt; using safe defaults');
    expect(again.getLog(tp(0))?.logEndOffset).toBe(30n);
    await again.shutdown();
  });

  it('reports a dir whose logs cannot be opened as offline with a typed error', async () => {
    const dirs = [tempDir(), tempDir()];
    const clock = new ManualClock();
    const manager = await LogManager.open(options(dirs, clock));
    await manager.createLog(tp(0), TOPIC_ID);
    await manager.createLog(tp(1), TOPIC_ID);
    await manager.shutdown();
    const { raw, fs } = faultyFs({ noSync: true });
    raw.failOpen = new RegExp(`^${dirs[0]}/orders-\\d/\\d{20}\\.log$`);
    const again = await LogManager.open(options(dirs, clock, { fs }));
    expect(again.logDirs[0]?.error?.code).toBe('LOG_PERMISSION_DENIED');
    expect(isLogError(again.logDirs[0]?.error, 'LOG_PERMISSION_DENIED')).toBe(true);
    expect(again.allLogs()).toHaveLength(1);
    await again.shutdown();
  });
});

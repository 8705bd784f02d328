import { statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { LogError, isLogError } from '../../../broker/src/log/errors.ts';
import { cleanupTempDirs, faultyFs, ManualClock, openLog, readAll, simpleBatch, smallConfig, tempDir } from './helpers.ts';

afterEach(cleanupTempDirs);

const caught = async (fn: () => unknown): Promise<LogError> => {
  try {
    await fn();
  } catch (err) {
    if (err instanceof LogError) return err;
    throw err;
  }
  throw new Error('expected a LogError');
};

describe('disk full, permissions and fsync failures', () => {
  it('ENOSPC in an append rolls back the partial write and surfaces a typed error naming the file', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const { raw, fs } = faultyFs();
    const log = await openLog(dir, clock, { fs, config: smallConfig({ segmentBytes: 1 << 20 }) });
    log.appendAsLeader(simpleBatch(3), 0);
    const before = readAll(log);
    const size = statSync(`${dir}/00000000000000000000.log`).size;
    raw.writeBudgetBytes = 20; // the next batch gets 20 bytes in, then the disk is full
    const err = await caught(() => log.appendAsLeader(simpleBatch(3), 0));
    expect(err.code).toBe('LOG_DISK_FULL');
    expect(err.kafkaErrorCode).toBe(56);
    expect(err.path).toBe(`${dir}/00000000000000000000.log`);
    expect(statSync(`${dir}/00000000000000000000.log`).size).toBe(size);
    expect(log.logEndOffset).toBe(3n);
    expect(readAll(log)).toEqual(before);
    // Space comes back: the log carries on where it was.
    raw.writeBudgetBytes = Infinity;
    expect(log.appendAsLeader(simpleBatch(1), 0).firstOffset).toBe(3n);
    log.abandon();
    const again = await openLog(dir, clock);
    expect(again.logEndOffset).toBe(4n);
    await again.close();
  });

  it('ENOSPC while rolling (producer snapshot) leaves the log as it was', async () => {
    const config = smallConfig({ segmentBytes: 400 });
    const probe = await openLog(tempDir(), new ManualClock(), { config });
    let fit = 0;
    while (probe.segmentCount === 1) {
      probe.appendAsLeader(simpleBatch(2), 0);
      fit++;
    }
    await probe.close();
    const { raw, fs } = faultyFs();
    const log = await openLog(tempDir(), new ManualClock(), { fs, config });
    for (let i = 0; i < fit - 1; i++) log.appendAsLeader(simpleBatch(2), 0);
    raw.writeBudgetBytes = 0; // the next append rolls first, and the roll writes a producer snapshot
    const err = await caught(() => log.appendAsLeader(simpleBatch(2), 0));
    expect(err.code).toBe('LOG_DISK_FULL');
    expect(err.path).toMatch(/\.snapshot\.tmp$/);
    expect(log.segmentCount).toBe(1);
    expect(log.logEndOffset).toBe(BigInt((fit - 1) * 2));
    raw.writeBudgetBytes = Infinity;
    log.appendAsLeader(simpleBatch(2), 0);
    expect(log.segmentCount).toBe(2);
    await log.close();
  });

  it('EACCES on a segment at open is a typed permission error naming the file', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const log = await openLog(dir, clock);
    log.appendAsLeader(simpleBatch(2), 0);
    await log.close();
    const { raw, fs } = faultyFs();
    raw.failOpen = /00000000000000000000\.log$/;
    const err = await caught(() => openLog(dir, clock, { fs, hadCleanShutdown: true }));
    expect(err.code).toBe('LOG_PERMISSION_DENIED');
    expect(err.path).toBe(`${dir}/00000000000000000000.log`);
  });

  it('a failed fsync takes the log offline: later writes refuse with LOG_OFFLINE, never silently', async () => {
    const dir = tempDir();
    const { raw, fs } = faultyFs();
    const offline: LogError[] = [];
    const log = await openLog(dir, new ManualClock(), { fs, onOffline: (e) => offline.push(e) });
    log.appendAsLeader(simpleBatch(2), 0);
    raw.failDatasync = true;
    const err = await caught(() => log.flush());
    expect(err.code).toBe('LOG_IO');
    expect(log.isOffline).toBe(true);
    expect(offline).toHaveLength(1);
    expect(offline[0]?.code).toBe('LOG_OFFLINE');
    const refused = await caught(() => log.appendAsLeader(simpleBatch(1), 0));
    expect(refused.code).toBe('LOG_OFFLINE');
    expect(log.recoveryPoint).toBe(0n);
    // Reads of what is there still work; close does not pretend to flush.
    expect(readAll(log)).toHaveLength(1);
    await log.close();
  });

  it('a failed background fsync after a roll is reported through onOffline', async () => {
    const dir = tempDir();
    const { raw, fs } = faultyFs();
    const offline: LogError[] = [];
    const log = await openLog(dir, new ManualClock(), { fs, config: smallConfig({ segmentBytes: 300 }), onOffline: (e) => offline.push(e) });
    raw.failDatasync = true;
    for (let i = 0; i < 6; i++) log.appendAsLeader(simpleBatch(2), 0);
    await new Promise((r) => setTimeout(r, 20));
    expect(offline.length).toBe(1);
    expect(isLogError(offline[0], 'LOG_OFFLINE')).toBe(true);
    await log.close();
  });
});

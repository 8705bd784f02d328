import { afterEach, describe, expect, it } from 'vitest';
import { patchBaseOffset } from '../../../broker/src/protocol/records/batch-header.ts';
import { ProducerStateManager, incrementSequence } from '../../../broker/src/log/producer-state.ts';
import { batch, cleanupTempDirs, ManualClock, openLog, tempDir } from './helpers.ts';

afterEach(cleanupTempDirs);

const idem = (producerId: bigint, producerEpoch: number, baseSequence: number, count = 1): Buffer =>
  batch(
    Array.from({ length: count }, (_, i) => ({ key: `k${i}`, value: `v${i}` })),
    { producerId, producerEpoch, baseSequence },
  );

function applied(state: ProducerStateManager, buf: Buffer, baseOffset: bigint): void {
  patchBaseOffset(buf, 0, baseOffset);
  state.onBatch(buf, 0);
}

describe('ProducerStateManager', () => {
  it('accepts in-sequence batches, answers retries with the original offsets, refuses gaps', () => {
    const s = new ProducerStateManager();
    expect(s.check(idem(7n, 0, 0, 3))).toEqual({ kind: 'append' });
    applied(s, idem(7n, 0, 0, 3), 100n);
    expect(s.check(idem(7n, 0, 0, 3))).toMatchObject({ kind: 'duplicate', firstOffset: 100n, lastOffset: 102n });
    expect(s.check(idem(7n, 0, 3, 2))).toEqual({ kind: 'append' });
    expect(s.check(idem(7n, 0, 5, 1))).toMatchObject({ kind: 'error', error: 'OUT_OF_ORDER_SEQUENCE_NUMBER', kafkaErrorCode: 45 });
  });

  it('keeps the last 5 batches for duplicate detection', () => {
    const s = new ProducerStateManager();
    for (let i = 0; i < 7; i++) applied(s, idem(1n, 0, i), BigInt(i * 10));
    expect(s.entry(1n)?.batches.map((b) => b.firstSeq)).toEqual([2, 3, 4, 5, 6]);
    expect(s.check(idem(1n, 0, 2))).toMatchObject({ kind: 'duplicate', firstOffset: 20n });
    // Sequence 1 has left the window: it is neither a known duplicate nor in sequence.
    expect(s.check(idem(1n, 0, 1))).toMatchObject({ kind: 'error', error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
  });

  it('fences older epochs and requires sequence 0 for a new epoch', () => {
    const s = new ProducerStateManager();
    applied(s, idem(1n, 5, 0), 0n);
    expect(s.check(idem(1n, 4, 1))).toMatchObject({ kind: 'error', error: 'INVALID_PRODUCER_EPOCH', kafkaErrorCode: 47 });
    expect(s.check(idem(1n, 6, 3))).toMatchObject({ kind: 'error', error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    expect(s.check(idem(1n, 6, 0))).toEqual({ kind: 'append' });
    // An unknown producer may start anywhere (KIP-360: its state may have been expired).
    expect(s.check(idem(99n, 0, 1234))).toEqual({ kind: 'append' });
  });

  it('checks later batches of one request against the earlier ones', () => {
    const s = new ProducerStateManager();
    expect(s.check(Buffer.concat([idem(1n, 0, 0, 2), idem(1n, 0, 2, 1)]))).toEqual({ kind: 'append' });
    expect(s.check(Buffer.concat([idem(1n, 0, 0, 2), idem(1n, 0, 3, 1)]))).toMatchObject({ kind: 'error' });
  });

  it('wraps sequences past INT32_MAX to 0 as Kafka does', () => {
    expect(incrementSequence(2147483647, 1)).toBe(0);
    expect(incrementSequence(2147483646, 3)).toBe(1);
    const s = new ProducerStateManager();
    applied(s, idem(1n, 0, 2147483647), 0n);
    expect(s.check(idem(1n, 0, 0))).toEqual({ kind: 'append' });
  });

  it('round-trips snapshots and rejects damaged ones', () => {
    const s = new ProducerStateManager();
    for (let i = 0; i < 6; i++) applied(s, idem(BigInt(i % 2), 1, Math.floor(i / 2)), BigInt(i));
    s.mapEndOffset = 6n;
    const bytes = s.encodeSnapshot();
    const t = new ProducerStateManager();
    expect(t.loadSnapshot(bytes, 6n)).toBeNull();
    expect([...t.entries()]).toEqual([...s.entries()]);
    const damaged = Buffer.from(bytes);
    damaged.writeUInt8(damaged.readUInt8(damaged.length - 1) ^ 1, damaged.length - 1);
    expect(t.loadSnapshot(damaged, 6n)).toMatch(/CRC/);
    expect(t.loadSnapshot(bytes.subarray(0, 5), 6n)).toMatch(/short/);
  });

  it('expires idle producers by batch timestamp', () => {
    const s = new ProducerStateManager();
    applied(s, idem(1n, 0, 0), 0n);
    expect(s.removeExpired(1_000 + 999, 1_000)).toBe(0);
    expect(s.removeExpired(1_000 + 1_000, 1_000)).toBe(1);
    expect(s.size).toBe(0);
  });
});

describe('producer state through the log', () => {
  it('survives restarts (snapshot at close, replay after a crash) so retries keep their original offsets', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    let log = await openLog(dir, clock);
    log.appendAsLeader(simpleFiller(), 0);
    const first = log.appendAsLeader(idem(42n, 0, 0, 3), 0);
    log.appendAsLeader(idem(42n, 0, 3, 1), 0);
    await log.close();
    log = await openLog(dir, clock, { hadCleanShutdown: true });
    expect(log.checkProducerState(idem(42n, 0, 0, 3))).toMatchObject({ kind: 'duplicate', firstOffset: first.firstOffset, lastOffset: first.lastOffset });
    log.appendAsLeader(idem(42n, 0, 4, 1), 0);
    log.abandon(); // crash: no snapshot for the last batch
    log = await openLog(dir, clock, { logStartOffset: 0n });
    expect(log.checkProducerState(idem(42n, 0, 4, 1))).toMatchObject({ kind: 'duplicate' });
    expect(log.checkProducerState(idem(42n, 0, 5, 1))).toEqual({ kind: 'append' });
    expect(log.checkProducerState(idem(42n, 0, 7, 1))).toMatchObject({ kind: 'error', error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    await log.close();
  });
});

function simpleFiller(): Buffer {
  return batch([{ key: 'a', value: 'b' }]);
}

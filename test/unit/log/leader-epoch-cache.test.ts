import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LeaderEpochCache, UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET } from '../../../broker/src/log/leader-epoch-cache.ts';

const cache = (...entries: [number, bigint][]): LeaderEpochCache =>
  new LeaderEpochCache(entries.map(([epoch, startOffset]) => ({ epoch, startOffset })));

describe('LeaderEpochCache (Kafka LeaderEpochFileCache semantics)', () => {
  it('endOffsetFor: latest epoch -> log end; older epoch -> start of the next; unknown -> undefined', () => {
    const c = cache([1, 0n], [3, 10n], [5, 20n]);
    expect(c.endOffsetFor(5, 30n)).toEqual({ epoch: 5, endOffset: 30n });
    expect(c.endOffsetFor(3, 30n)).toEqual({ epoch: 3, endOffset: 20n });
    // Epoch 4 never led: the answer is the last epoch below it and where the next one starts.
    expect(c.endOffsetFor(4, 30n)).toEqual({ epoch: 3, endOffset: 20n });
    // Below every known epoch: requested epoch, start of the first known epoch.
    expect(c.endOffsetFor(0, 30n)).toEqual({ epoch: 0, endOffset: 0n });
    expect(c.endOffsetFor(6, 30n)).toEqual({ epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET });
    expect(c.endOffsetFor(UNDEFINED_EPOCH, 30n)).toEqual({ epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET });
    expect(new LeaderEpochCache().endOffsetFor(1, 5n)).toEqual({ epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET });
  });

  it('assign ignores repeats and drops conflicting tail entries', () => {
    const c = cache([1, 0n], [3, 10n]);
    expect(c.assign(3, 15n)).toBe(false);
    expect(c.assign(-1, 15n)).toBe(false);
    expect(c.assign(2, 12n)).toBe(true); // a deposed leader's epoch 3 goes
    expect(c.entries).toEqual([
      { epoch: 1, startOffset: 0n },
      { epoch: 2, startOffset: 12n },
    ]);
    expect(c.assign(4, 5n)).toBe(true); // start offset below epoch 2: epoch 2 goes too
    expect(c.entries).toEqual([
      { epoch: 1, startOffset: 0n },
      { epoch: 4, startOffset: 5n },
    ]);
  });

  it('truncates from the end and from the start', () => {
    const c = cache([1, 0n], [3, 10n], [5, 20n]);
    expect(c.truncateFromEnd(20n)).toBe(true);
    expect(c.latestEpoch).toBe(3);
    expect(c.truncateFromEnd(100n)).toBe(false);
    expect(c.truncateFromStart(12n)).toBe(true);
    expect(c.entries).toEqual([{ epoch: 3, startOffset: 12n }]);
    expect(c.truncateFromStart(12n)).toBe(false);
    expect(c.epochForOffset(11n)).toBeNull();
    expect(c.epochForOffset(13n)).toBe(3);
  });

  it('keeps epochs and start offsets strictly increasing under any assignments', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: -1, max: 20 }), fc.bigInt({ min: 0n, max: 100n })), { maxLength: 40 }), (ops) => {
        const c = new LeaderEpochCache();
        for (const [epoch, offset] of ops) c.assign(epoch, offset);
        const e = c.entries;
        for (let i = 1; i < e.length; i++) {
          expect(e[i]!.epoch).toBeGreaterThan(e[i - 1]!.epoch);
          expect(e[i]!.startOffset > e[i - 1]!.startOffset).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OffsetIndex } from '../../../broker/src/log/offset-index.ts';
import { TimeIndex } from '../../../broker/src/log/time-index.ts';
import { isLogError } from '../../../broker/src/log/errors.ts';

describe('OffsetIndex', () => {
  it('looks up the largest entry at or below the target, and the segment start below the first', () => {
    const index = new OffsetIndex(100n, 1024);
    index.append(105n, 400);
    index.append(110n, 900);
    index.append(130n, 2000);
    expect(index.lookup(99n)).toEqual({ offset: 100n, position: 0 });
    expect(index.lookup(104n)).toEqual({ offset: 100n, position: 0 });
    expect(index.lookup(105n)).toEqual({ offset: 105n, position: 400 });
    expect(index.lookup(129n)).toEqual({ offset: 110n, position: 900 });
    expect(index.lookup(10_000n)).toEqual({ offset: 130n, position: 2000 });
  });

  it('refuses entries that do not increase (an invariant, not input)', () => {
    const index = new OffsetIndex(0n, 1024);
    index.append(5n, 100);
    expect(() => index.append(5n, 200)).toThrow(/not after/);
    expect(() => index.append(6n, 100)).toThrow(/not after/);
  });

  it('stops accepting entries when full and reports it', () => {
    const index = new OffsetIndex(0n, 16);
    expect(index.append(1n, 10)).toBe(true);
    expect(index.append(2n, 20)).toBe(true);
    expect(index.isFull).toBe(true);
    expect(index.append(3n, 30)).toBe(false);
    expect(index.entries).toBe(2);
  });

  it('round-trips through its file encoding and rejects malformed files with a reason', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 1_000_000 }), { maxLength: 50 }), (offsets) => {
        const sorted = [...offsets].sort((a, b) => a - b);
        const index = new OffsetIndex(7n, 8 * 64);
        sorted.forEach((o, i) => index.append(7n + BigInt(o), i * 10 + 1));
        const decoded = OffsetIndex.decode(index.encodeFrom(0), 7n, 8 * 64, 10_000);
        expect(typeof decoded).not.toBe('string');
        if (typeof decoded === 'string') return;
        expect(decoded.entries).toBe(index.entries);
        for (let i = 0; i < index.entries; i++) expect(decoded.entry(i)).toEqual(index.entry(i));
      }),
      { numRuns: 50 },
    );
    expect(OffsetIndex.decode(Buffer.alloc(7), 0n, 1024, 100)).toMatch(/multiple of 8/);
    const backwards = Buffer.alloc(16);
    backwards.writeInt32BE(5, 0);
    backwards.writeInt32BE(10, 4);
    backwards.writeInt32BE(4, 8);
    backwards.writeInt32BE(20, 12);
    expect(OffsetIndex.decode(backwards, 0n, 1024, 100)).toMatch(/out of order/);
    const beyond = Buffer.alloc(8);
    beyond.writeInt32BE(1, 0);
    beyond.writeInt32BE(500, 4);
    expect(OffsetIndex.decode(beyond, 0n, 1024, 100)).toMatch(/beyond the segment/);
  });

  it('truncates by position', () => {
    const index = new OffsetIndex(0n, 1024);
    index.append(10n, 100);
    index.append(20n, 200);
    index.append(30n, 300);
    index.truncateToPosition(200);
    expect(index.entries).toBe(1);
    expect(index.lastEntry()).toEqual({ offset: 10n, position: 100 });
  });
});

describe('TimeIndex', () => {
  it('only appends growing timestamps and looks up the largest entry at or below the target', () => {
    const index = new TimeIndex(0n, 1200);
    expect(index.maybeAppend(1000n, 5n)).toBe(true);
    expect(index.maybeAppend(1000n, 9n)).toBe(false);
    expect(index.maybeAppend(900n, 9n)).toBe(false);
    expect(index.maybeAppend(1500n, 20n)).toBe(true);
    expect(index.lookup(999n)).toEqual({ timestampMs: -1n, offset: 0n });
    expect(index.lookup(1000n)).toEqual({ timestampMs: 1000n, offset: 5n });
    expect(index.lookup(1499n)).toEqual({ timestampMs: 1000n, offset: 5n });
    expect(index.lookup(9999n)).toEqual({ timestampMs: 1500n, offset: 20n });
    index.truncateToOffset(20n);
    expect(index.entries).toBe(1);
  });

  it('decodes what it encodes and rejects decreasing timestamps', () => {
    const index = new TimeIndex(50n, 1200);
    index.maybeAppend(10n, 51n);
    index.maybeAppend(20n, 60n);
    const decoded = TimeIndex.decode(index.encodeFrom(0), 50n, 1200, 100n);
    expect(typeof decoded === 'string' ? decoded : decoded.lastEntry()).toEqual({ timestampMs: 20n, offset: 60n });
    const bad = Buffer.concat([index.encodeFrom(1), index.encodeFrom(0)]);
    expect(TimeIndex.decode(bad, 50n, 1200, 100n)).toMatch(/out of order/);
    expect(TimeIndex.decode(index.encodeFrom(0), 50n, 1200, 55n)).toMatch(/beyond/);
  });

  it('asserts its invariants with typed errors', () => {
    const index = new TimeIndex(0n, 1200);
    index.maybeAppend(10n, 5n);
    try {
      index.maybeAppend(20n, 4n);
      expect.unreachable();
    } catch (err) {
      expect(isLogError(err, 'LOG_INVARIANT')).toBe(true);
    }
  });
});

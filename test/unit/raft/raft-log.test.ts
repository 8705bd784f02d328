import { describe, expect, it } from 'vitest';
import { RaftLog } from '../../../broker/src/raft/core/raft-log.ts';
import { RaftInvariantError } from '../../../broker/src/raft/core/assert.ts';
import { batches, entries } from './helpers.ts';

describe('RaftLog', () => {
  const log = new RaftLog(null, entries([1, 1, 2, 2, 2, 5]));

  it('finds the end offset of an epoch (Kafka endOffsetForEpoch)', () => {
    expect(log.endOffsetForEpoch(1)).toEqual({ epoch: 1, offset: 2 });
    expect(log.endOffsetForEpoch(2)).toEqual({ epoch: 2, offset: 5 });
    expect(log.endOffsetForEpoch(4)).toEqual({ epoch: 2, offset: 5 }); // largest epoch <= 4
    expect(log.endOffsetForEpoch(9)).toEqual({ epoch: 5, offset: 6 });
    expect(log.endOffsetForEpoch(0)).toEqual({ epoch: 0, offset: 0 });
  });

  it('computes where to truncate for a DivergingEpoch', () => {
    expect(log.truncationOffsetFor({ epoch: 2, endOffset: 4 })).toBe(4);
    expect(log.truncationOffsetFor({ epoch: 2, endOffset: 9 })).toBe(5);
    expect(log.truncationOffsetFor({ epoch: 3, endOffset: 9 })).toBe(5); // we have no epoch 3: end of epoch 2
    expect(log.truncationOffsetFor({ epoch: 0, endOffset: 0 })).toBe(0);
  });

  it('compares logs for the vote rule: last epoch first, then length', () => {
    expect(log.isUpToDate(5, 6)).toBe(true);
    expect(log.isUpToDate(5, 5)).toBe(false);
    expect(log.isUpToDate(6, 1)).toBe(true);
    expect(log.isUpToDate(4, 100)).toBe(false);
  });

  it('rejects gaps, epoch regressions and bad truncations', () => {
    const l = new RaftLog(null, entries([1, 2]));
    const one = [new Uint8Array()];
    expect(() => l.append({ type: 'data', baseOffset: 3, lastOffset: 3, epoch: 2, appendTimestamp: 0, records: one })).toThrow(RaftInvariantError);
    expect(() => l.append({ type: 'data', baseOffset: 2, lastOffset: 2, epoch: 1, appendTimestamp: 0, records: one })).toThrow(RaftInvariantError);
    expect(() => l.append({ type: 'data', baseOffset: 2, lastOffset: 3, epoch: 2, appendTimestamp: 0, records: one })).toThrow(RaftInvariantError);
    expect(() => l.truncateTo(3)).toThrow(RaftInvariantError);
    l.truncateTo(1);
    expect(l.endOffset).toBe(1);
    expect(l.lastEpoch).toBe(1);
  });
});

describe('RaftLog with multi-record batches and a snapshot start', () => {
  // Batches: [0..2] e1, [3..3] e1, [4..8] e2, [9..10] e4.
  const make = (): RaftLog => new RaftLog(null, batches([[1, 3], [1, 1], [2, 5], [4, 2]]));

  it('finds batches by record offset (binary search)', () => {
    const log = make();
    expect(log.endOffset).toBe(11);
    expect([0, 2, 3, 4, 8, 9, 10].map((o) => log.entryAt(o)?.baseOffset)).toEqual([0, 0, 3, 4, 4, 9, 9]);
    expect(log.entryAt(11)).toBeUndefined();
    expect([0, 3, 4, 9, 11].every((o) => log.isBoundary(o))).toBe(true);
    expect(log.isBoundary(5)).toBe(false);
  });

  it('reports epoch ends in record offsets', () => {
    const log = make();
    expect(log.endOffsetForEpoch(1)).toEqual({ epoch: 1, offset: 4 });
    expect(log.endOffsetForEpoch(3)).toEqual({ epoch: 2, offset: 9 });
    expect(log.endOffsetForEpoch(7)).toEqual({ epoch: 4, offset: 11 });
  });

  it('never splits a batch when truncating', () => {
    const log = make();
    expect(log.truncateTo(6)).toBe(4); // 6 is inside [4..8]: the whole batch goes
    expect(log.lastEpoch).toBe(1);
  });

  it('reads whole batches within entry and byte limits (at least one)', () => {
    const log = make();
    expect(log.read(4, 10, 1_000_000).map((e) => e.baseOffset)).toEqual([4, 9]);
    expect(log.read(0, 2, 1_000_000).map((e) => e.baseOffset)).toEqual([0, 3]);
    expect(log.read(0, 10, 1).map((e) => e.baseOffset)).toEqual([0]);
    expect(log.read(11, 10, 1000)).toEqual([]);
  });

  it('moves its start to a snapshot on a batch end with the matching epoch', () => {
    const log = make();
    expect(() => log.advanceStart({ endOffset: 6, epoch: 2 })).toThrow(RaftInvariantError); // inside a batch
    expect(() => log.advanceStart({ endOffset: 9, epoch: 1 })).toThrow(RaftInvariantError); // wrong epoch
    log.advanceStart({ endOffset: 9, epoch: 2 });
    expect([log.startOffset, log.startEpoch, log.endOffset, log.size]).toEqual([9, 2, 11, 1]);
    // The snapshot counts as holding its epoch, ending at the log start.
    expect(log.endOffsetForEpoch(3)).toEqual({ epoch: 2, offset: 9 });
    expect(log.endOffsetForEpoch(1)).toEqual({ epoch: 0, offset: 0 });
    expect(() => log.truncateTo(8)).toThrow(RaftInvariantError);
    log.truncateTo(9);
    expect([log.endOffset, log.lastEpoch]).toEqual([9, 2]);
  });

  it('resets to an installed snapshot', () => {
    const log = make();
    log.resetTo({ endOffset: 40, epoch: 6 });
    expect([log.startOffset, log.endOffset, log.lastEpoch, log.size]).toEqual([40, 40, 6, 0]);
    log.append(batches([[7, 2]], 40)[0]!);
    expect(log.endOffset).toBe(42);
  });
});

import { describe, expect, it } from 'vitest';
import { RaftLog } from '../../../broker/src/raft/core/raft-log.ts';
import { RaftInvariantError } from '../../../broker/src/raft/core/assert.ts';
import { entries } from './helpers.ts';

describe('RaftLog', () => {
  const log = new RaftLog(entries([1, 1, 2, 2, 2, 5]));

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
    const l = new RaftLog(entries([1, 2]));
    expect(() => l.append({ offset: 3, epoch: 2, type: 'data', value: new Uint8Array() })).toThrow(RaftInvariantError);
    expect(() => l.append({ offset: 2, epoch: 1, type: 'data', value: new Uint8Array() })).toThrow(RaftInvariantError);
    expect(() => l.truncateTo(3)).toThrow(RaftInvariantError);
    l.truncateTo(1);
    expect(l.endOffset).toBe(1);
    expect(l.lastEpoch).toBe(1);
  });
});

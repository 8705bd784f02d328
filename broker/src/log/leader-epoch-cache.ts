/**
 * Leader epoch cache (Kafka's LeaderEpochFileCache, KIP-101/KIP-279): the start offset of every leader epoch
 * in the log, persisted as `leader-epoch-checkpoint`.
 *
 * Invariant: epochs and start offsets both strictly increase along the list. `assign` keeps it so by dropping
 * conflicting tail entries (a new leader's log may overwrite a deposed leader's epoch).
 * This class holds no file handle: the log persists `entries` after each change (see PartitionLog).
 */
import type { EpochEntry } from './checkpoint-file.ts';
import { invariant } from './errors.ts';

export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1n;
/** Bound on cached epochs; Kafka has none, but each leader change adds at most one entry. */
export const EPOCH_ENTRIES_MAX = 1_000_000;

export interface EpochEndOffset {
  readonly epoch: number;
  readonly endOffset: bigint;
}

export class LeaderEpochCache {
  private list: EpochEntry[];

  constructor(entries: readonly EpochEntry[] = []) {
    this.list = [];
    for (const e of entries) this.assign(e.epoch, e.startOffset);
  }

  get entries(): readonly EpochEntry[] {
    return this.list;
  }

  get latestEpoch(): number {
    return this.list.at(-1)?.epoch ?? UNDEFINED_EPOCH;
  }

  get latestEntry(): EpochEntry | undefined {
    return this.list.at(-1);
  }

  /**
   * Records that `epoch` starts at `startOffset`. Returns true when the cache changed. Entries with an epoch
   * >= the new one or a start offset >= the new one are removed first (Kafka: removeTailEntries).
   */
  assign(epoch: number, startOffset: bigint): boolean {
    if (epoch < 0) return false;
    invariant(startOffset >= 0n, () => `epoch ${epoch} start offset ${startOffset} is negative`);
    const last = this.list.at(-1);
    if (last !== undefined && last.epoch === epoch && last.startOffset <= startOffset) return false;
    const keep = this.list.filter((e) => e.epoch < epoch && e.startOffset < startOffset);
    keep.push({ epoch, startOffset });
    invariant(keep.length <= EPOCH_ENTRIES_MAX, () => `leader epoch cache exceeds ${EPOCH_ENTRIES_MAX} entries`);
    this.list = keep;
    return true;
  }

  /**
   * OffsetForLeaderEpoch semantics (Kafka's endOffsetFor): for the latest epoch the log end offset; otherwise
   * the start offset of the first epoch above the requested one, with the largest known epoch <= requested.
   */
  endOffsetFor(requestedEpoch: number, logEndOffset: bigint): EpochEndOffset {
    const undefinedResult = { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    if (requestedEpoch === UNDEFINED_EPOCH) return undefinedResult;
    const last = this.list.at(-1);
    if (last !== undefined && last.epoch === requestedEpoch) return { epoch: requestedEpoch, endOffset: logEndOffset };
    const higher = this.list.find((e) => e.epoch > requestedEpoch);
    if (higher === undefined) return undefinedResult;
    let floor: EpochEntry | undefined;
    for (const e of this.list) if (e.epoch <= requestedEpoch) floor = e;
    // Below every known epoch: the best answer is the start of the first larger epoch (Kafka does the same).
    return { epoch: floor?.epoch ?? requestedEpoch, endOffset: higher.startOffset };
  }

  /** Epoch of the batch holding `offset` (the entry with the largest start offset <= offset). */
  epochForOffset(offset: bigint): number | null {
    let found: number | null = null;
    for (const e of this.list) {
      if (e.startOffset <= offset) found = e.epoch;
      else break;
    }
    return found;
  }

  /** Removes entries starting at or after `endOffset` (the log was truncated there). */
  truncateFromEnd(endOffset: bigint): boolean {
    const keep = this.list.filter((e) => e.startOffset < endOffset);
    if (keep.length === this.list.length) return false;
    this.list = keep;
    return true;
  }

  /**
   * The log now starts at `startOffset`: entries entirely before it go, and the latest of them is kept with
   * its start moved up to `startOffset` (Kafka: truncateFromStart).
   */
  truncateFromStart(startOffset: bigint): boolean {
    let lastBefore = -1;
    for (let i = 0; i < this.list.length; i++) if ((this.list[i]?.startOffset ?? 0n) <= startOffset) lastBefore = i;
    if (lastBefore < 0) return false;
    const kept = this.list[lastBefore];
    invariant(kept !== undefined, 'epoch entry vanished');
    if (lastBefore === 0 && kept.startOffset === startOffset) return false;
    this.list = [{ epoch: kept.epoch, startOffset }, ...this.list.slice(lastBefore + 1)];
    return true;
  }

  clear(): boolean {
    if (this.list.length === 0) return false;
    this.list = [];
    return true;
  }
}

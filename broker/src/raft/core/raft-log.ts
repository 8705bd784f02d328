// The core's in-memory view of the replicated log (no snapshots yet, so the log starts at offset 0
// and entry i has offset i). The core mutates this view and emits the same mutations as LogOps for the
// driver to make durable; the view is therefore always equal to "disk after the pending ops".

import { assert } from './assert.ts';

export type EntryType = 'data' | 'leader-change';

export interface LogEntry {
  readonly offset: number;
  readonly epoch: number;
  readonly type: EntryType;
  readonly value: Uint8Array;
}

export interface OffsetAndEpoch {
  readonly offset: number;
  readonly epoch: number;
}

export class RaftLog {
  readonly #entries: LogEntry[] = [];

  constructor(entries: readonly LogEntry[] = []) {
    for (const entry of entries) this.append(entry);
  }

  get endOffset(): number {
    return this.#entries.length;
  }

  /** Epoch of the last entry; 0 for an empty log (epochs of real entries start at 1). */
  get lastEpoch(): number {
    return this.#entries.at(-1)?.epoch ?? 0;
  }

  entryAt(offset: number): LogEntry | undefined {
    return this.#entries[offset];
  }

  entries(): readonly LogEntry[] {
    return this.#entries;
  }

  append(entry: LogEntry): void {
    assert(entry.offset === this.endOffset, `append at ${entry.offset}, log end is ${this.endOffset}`);
    assert(entry.epoch >= 1 && entry.epoch >= this.lastEpoch, `append epoch ${entry.epoch} after ${this.lastEpoch}`);
    this.#entries.push(entry);
  }

  truncateTo(endOffset: number): void {
    assert(endOffset >= 0 && endOffset <= this.endOffset, `truncate to ${endOffset}, log end ${this.endOffset}`);
    this.#entries.length = endOffset;
  }

  read(fromOffset: number, entriesMax: number): LogEntry[] {
    return this.#entries.slice(fromOffset, fromOffset + entriesMax);
  }

  /**
   * Kafka's endOffsetForEpoch: the largest epoch E <= `epoch` present in the log and the end offset of
   * E (the first offset of the next epoch, or the log end). {epoch 0, offset 0} when there is none.
   */
  endOffsetForEpoch(epoch: number): OffsetAndEpoch {
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const entry = this.#entries[i];
      if (entry !== undefined && entry.epoch <= epoch) return { offset: i + 1, epoch: entry.epoch };
    }
    return { offset: 0, epoch: 0 };
  }

  /** Kafka's truncateToEndOffset: where a follower truncates given the leader's DivergingEpoch. */
  truncationOffsetFor(diverging: { readonly epoch: number; readonly endOffset: number }): number {
    if (diverging.epoch === 0) return Math.min(diverging.endOffset, this.endOffset);
    const local = this.endOffsetForEpoch(diverging.epoch);
    if (local.epoch === diverging.epoch) return Math.min(local.offset, diverging.endOffset);
    return local.offset;
  }

  /** Is a candidate's log at least as up to date as ours (KIP-595 vote rule)? */
  isUpToDate(lastOffsetEpoch: number, lastOffset: number): boolean {
    if (lastOffsetEpoch !== this.lastEpoch) return lastOffsetEpoch > this.lastEpoch;
    return lastOffset >= this.endOffset;
  }
}

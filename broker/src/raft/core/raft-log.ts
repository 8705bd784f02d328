// The core's in-memory view of the replicated log. Offsets are Kafka RECORD offsets: an entry is one
// record batch covering [baseOffset, lastOffset]; fetch offsets, high watermarks and log end offsets all
// count records, as on the wire. Entries are kept sorted and contiguous, so lookups by offset are binary
// searches.
//
// The log may start after offset 0: everything before `startOffset` is covered by a snapshot whose id is
// {endOffset: startOffset, epoch: startEpoch} (KIP-630). The core mutates this view and emits the same
// mutations as LogOps for the driver to make durable; the view is therefore always equal to "disk after
// the pending ops".

import { assert } from './assert.ts';
import type { VoterSet } from './voter-set.ts';

export type EntryType = 'data' | 'leader-change' | 'voters';

interface EntryBase {
  readonly baseOffset: number;
  /** Offset of the last record of the batch (inclusive): baseOffset + record count - 1. */
  readonly lastOffset: number;
  readonly epoch: number;
  /** The leader's clock when it appended the batch (the batch timestamp on disk). */
  readonly appendTimestamp: number;
}

/** A batch of state-machine records (their values; keys are always null in the metadata log). */
export interface DataEntry extends EntryBase {
  readonly type: 'data';
  readonly records: readonly Uint8Array[];
}

/** The control batch a leader writes first in its epoch: one LeaderChangeMessage record (KIP-595). */
export interface LeaderChangeEntry extends EntryBase {
  readonly type: 'leader-change';
  readonly leaderId: number;
  readonly voters: readonly number[];
  readonly grantingVoters: readonly number[];
  /**
   * kraft.version 1 only, when the leader's voter set came from the bootstrap checkpoint: the batch then
   * also holds a KRaftVersionRecord (offset base + 1) and a VotersRecord with this set (base + 2), so the
   * set gets replicated (Kafka's appendLeaderChangeMessageAndBootstrapRecords).
   */
  readonly voterSet?: VoterSet;
}

/**
 * A control batch whose last record is a VotersRecord (KIP-853): the voter set from its offset on. The
 * leader writes one record (AddRaftVoter / RemoveRaftVoter / UpdateRaftVoter); a batch of two records
 * (KRaftVersionRecord + VotersRecord, Kafka's kraft.version upgrade) is read too.
 */
export interface VotersEntry extends EntryBase {
  readonly type: 'voters';
  readonly voterSet: VoterSet;
}

export type LogEntry = DataEntry | LeaderChangeEntry | VotersEntry;

/** The voter set an entry writes (at its last offset), if any. */
export function voterSetOf(entry: LogEntry): VoterSet | undefined {
  return entry.type === 'data' ? undefined : entry.voterSet;
}

export interface OffsetAndEpoch {
  readonly offset: number;
  readonly epoch: number;
}

/** Kafka's snapshot id: the snapshot holds the state after every record below `endOffset`. */
export interface SnapshotId {
  readonly endOffset: number;
  /** Epoch of the record at endOffset - 1. */
  readonly epoch: number;
}

export function recordCount(entry: LogEntry): number {
  return entry.lastOffset - entry.baseOffset + 1;
}

export function endOf(entry: LogEntry): number {
  return entry.lastOffset + 1;
}

export class RaftLog {
  #entries: LogEntry[] = [];
  #startOffset: number;
  #startEpoch: number;

  constructor(start: SnapshotId | null = null, entries: readonly LogEntry[] = []) {
    this.#startOffset = start?.endOffset ?? 0;
    this.#startEpoch = start?.epoch ?? 0;
    assert(this.#startOffset >= 0 && (this.#startOffset === 0) === (this.#startEpoch === 0), `bad log start ${this.#startOffset}/${this.#startEpoch}`);
    for (const entry of entries) this.append(entry);
  }

  /** First offset held in the log; offsets below are covered by the snapshot at the log start. */
  get startOffset(): number {
    return this.#startOffset;
  }

  /** Epoch of the snapshot at the log start (0 when the log starts at 0). */
  get startEpoch(): number {
    return this.#startEpoch;
  }

  get endOffset(): number {
    const last = this.#entries.at(-1);
    return last === undefined ? this.#startOffset : last.lastOffset + 1;
  }

  /** Epoch of the last entry; the snapshot's epoch for an empty log (0 when there is none). */
  get lastEpoch(): number {
    return this.#entries.at(-1)?.epoch ?? this.#startEpoch;
  }

  get size(): number {
    return this.#entries.length;
  }

  entries(): readonly LogEntry[] {
    return this.#entries;
  }

  /** Index of the entry holding `offset`, or -1. */
  indexOf(offset: number): number {
    const entries = this.#entries;
    let lo = 0;
    let hi = entries.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const entry = entries[mid];
      if (entry === undefined) break;
      if (offset < entry.baseOffset) hi = mid - 1;
      else if (offset > entry.lastOffset) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  /** The entry holding `offset`, if the log has it. */
  entryAt(offset: number): LogEntry | undefined {
    const i = this.indexOf(offset);
    return i < 0 ? undefined : this.#entries[i];
  }

  /** Is `offset` the start or end of a batch (or the log start / end)? */
  isBoundary(offset: number): boolean {
    if (offset === this.#startOffset || offset === this.endOffset) return true;
    return this.entryAt(offset)?.baseOffset === offset;
  }

  append(entry: LogEntry): void {
    assert(entry.baseOffset === this.endOffset, `append at ${entry.baseOffset}, log end is ${this.endOffset}`);
    assert(entry.lastOffset >= entry.baseOffset, `batch ${entry.baseOffset}..${entry.lastOffset} is empty`);
    assert(entry.type !== 'data' || entry.records.length === recordCount(entry), `data batch at ${entry.baseOffset}: ${entry.type === 'data' ? entry.records.length : 0} records for ${recordCount(entry)} offsets`);
    assert(entry.epoch >= 1 && entry.epoch >= this.lastEpoch, `append epoch ${entry.epoch} after ${this.lastEpoch}`);
    this.#entries.push(entry);
  }

  /**
   * Removes every batch holding an offset >= `endOffset`. A batch is never split: a target inside a batch
   * removes the whole batch. Returns the new log end.
   */
  truncateTo(endOffset: number): number {
    assert(endOffset >= this.#startOffset && endOffset <= this.endOffset, `truncate to ${endOffset}, log is [${this.#startOffset}, ${this.endOffset})`);
    const entries = this.#entries;
    // First entry whose last offset reaches the target: it and everything after it go.
    let lo = 0;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((entries[mid]?.lastOffset ?? Infinity) < endOffset) lo = mid + 1;
      else hi = mid;
    }
    entries.length = lo;
    return this.endOffset;
  }

  /** Whole batches from the one holding `fromOffset`: at most `entriesMax`, and about `bytesMax` bytes (at least one). */
  read(fromOffset: number, entriesMax: number, bytesMax: number): LogEntry[] {
    const start = this.indexOf(fromOffset);
    if (start < 0) return [];
    const out: LogEntry[] = [];
    let bytes = 0;
    for (let i = start; i < this.#entries.length && out.length < entriesMax; i++) {
      const entry = this.#entries[i];
      if (entry === undefined) break;
      const size = approximateBytes(entry);
      if (out.length > 0 && bytes + size > bytesMax) break;
      out.push(entry);
      bytes += size;
    }
    return out;
  }

  /**
   * Kafka's endOffsetForEpoch: the largest epoch E <= `epoch` present in the log (the snapshot at the log
   * start counts as holding its epoch) and the end offset of E (the first offset of the next epoch, or the
   * log end). {epoch 0, offset 0} when there is none.
   */
  endOffsetForEpoch(epoch: number): OffsetAndEpoch {
    const entries = this.#entries;
    // Epochs never decrease along the log: find the last entry with epoch <= `epoch`.
    let lo = 0;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((entries[mid]?.epoch ?? Infinity) <= epoch) lo = mid + 1;
      else hi = mid;
    }
    const found = entries[lo - 1];
    if (found !== undefined) return { offset: found.lastOffset + 1, epoch: found.epoch };
    if (this.#startOffset > 0 && this.#startEpoch <= epoch) return { offset: this.#startOffset, epoch: this.#startEpoch };
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

  /**
   * A snapshot now covers [0, snapshot.endOffset): drop the entries below it. The snapshot must end on a
   * batch boundary of this log, with the epoch of the batch ending there.
   */
  advanceStart(snapshot: SnapshotId): void {
    if (snapshot.endOffset <= this.#startOffset) return;
    const i = this.indexOf(snapshot.endOffset - 1);
    const last = this.#entries[i];
    assert(last !== undefined && last.lastOffset + 1 === snapshot.endOffset, `snapshot ${snapshot.endOffset} does not end on a batch of the log`);
    assert(last.epoch === snapshot.epoch, `snapshot ${snapshot.endOffset} has epoch ${snapshot.epoch}, the log has ${last.epoch} there`);
    this.#entries = this.#entries.slice(i + 1);
    this.#startOffset = snapshot.endOffset;
    this.#startEpoch = snapshot.epoch;
  }

  /** Replaces the whole log with an empty one starting at the end of `snapshot` (a snapshot was installed). */
  resetTo(snapshot: SnapshotId): void {
    assert(snapshot.endOffset > 0 && snapshot.epoch > 0, `reset to snapshot ${snapshot.endOffset}/${snapshot.epoch}`);
    this.#entries = [];
    this.#startOffset = snapshot.endOffset;
    this.#startEpoch = snapshot.epoch;
  }
}

/** Bytes a batch roughly takes on the wire (for fetch size limits; exactness does not matter). */
export function approximateBytes(entry: LogEntry): number {
  const overhead = 61;
  if (entry.type !== 'data') return overhead + 32 + (entry.voterSet?.length ?? 0) * 64;
  let bytes = overhead;
  for (const record of entry.records) bytes += record.length + 8;
  return bytes;
}

// Voter sets (KIP-853) and their history along the log.
//
// A voter is identified by its replica key (id, directory id). The directory id is Kafka's per-log-dir
// UUID: a replica whose disk was replaced comes back with the same id but a new directory id, and is then
// not the voter any more. NO_DIRECTORY_ID (Kafka's Uuid.ZERO_UUID) means "unknown": a voter without a
// directory id matches any replica with its id (static `controller.quorum.voters`).
//
// With kraft.version 0 the voter set is static configuration. With kraft.version 1 it is data in the log:
// VotersRecord control records (and the same records in snapshots, and in the bootstrap checkpoint
// `00000000000000000000-0000000000.checkpoint` written by `kafka-storage format --standalone` or
// `--initial-controllers`). A replica always uses the LATEST voter set in its log, committed or not
// (Kafka's rule; Raft's single-server membership change): a change takes effect as soon as it is appended,
// and is reverted if the log is truncated below it. VoterHistory tracks this.

import { assert } from './assert.ts';

/** Kafka's Uuid.ZERO_UUID as a string (the wire codec's form): no directory id. */
export const NO_DIRECTORY_ID = 'AAAAAAAAAAAAAAAAAAAAAA';

export interface ReplicaKey {
  readonly id: number;
  /** NO_DIRECTORY_ID when unknown. */
  readonly directoryId: string;
}

export interface VoterEndpoint {
  /** Listener name (e.g. CONTROLLER). */
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/** The kraft.version range a voter supports (VotersRecord's KRaftVersionFeature). */
export interface KRaftVersionRange {
  readonly min: number;
  readonly max: number;
}

export interface VoterNode extends ReplicaKey {
  readonly endpoints: readonly VoterEndpoint[];
  readonly kraftVersion: KRaftVersionRange;
}

/** Voters sorted by id, ids unique. */
export type VoterSet = readonly VoterNode[];

/** kraft.version 1: the first level that stores the voter set in the log (KIP-853). */
export const KRAFT_VERSION_RECONFIG = 1;

export function staticVoterSet(ids: readonly number[]): VoterSet {
  return normalize(ids.map((id) => ({ id, directoryId: NO_DIRECTORY_ID, endpoints: [], kraftVersion: { min: 0, max: 0 } })));
}

export function normalize(voters: readonly VoterNode[]): VoterSet {
  const sorted = [...voters].sort((a, b) => a.id - b.id);
  for (let i = 1; i < sorted.length; i++) assert(sorted[i]?.id !== sorted[i - 1]?.id, `voter ${sorted[i]?.id} listed twice`);
  return sorted;
}

export function voterIdsOf(voters: VoterSet): number[] {
  return voters.map((v) => v.id);
}

export function findVoter(voters: VoterSet, id: number): VoterNode | undefined {
  return voters.find((v) => v.id === id);
}

/** Kafka's VoterNode.isVoter: the ids match and, if the voter has a directory id, so does the key's. */
export function matchesVoter(voter: ReplicaKey, key: ReplicaKey): boolean {
  return voter.id === key.id && (voter.directoryId === NO_DIRECTORY_ID || voter.directoryId === key.directoryId);
}

export function isVoterKey(voters: VoterSet, key: ReplicaKey): boolean {
  const voter = findVoter(voters, key.id);
  return voter !== undefined && matchesVoter(voter, key);
}

export function sameKey(a: ReplicaKey, b: ReplicaKey): boolean {
  return a.id === b.id && a.directoryId === b.directoryId;
}

/** A new set with `voter` added, or null when its id is already a voter (DUPLICATE_VOTER). */
export function addVoter(voters: VoterSet, voter: VoterNode): VoterSet | null {
  if (findVoter(voters, voter.id) !== undefined) return null;
  return normalize([...voters, voter]);
}

/** Kafka's VoterSet.removeVoter: the key must match exactly and at least one voter must remain. */
export function removeVoter(voters: VoterSet, key: ReplicaKey): VoterSet | null {
  const voter = findVoter(voters, key.id);
  if (voter === undefined || !sameKey(voter, key) || voters.length <= 1) return null;
  return voters.filter((v) => v.id !== key.id);
}

/** Kafka's VoterSet.updateVoter: replaces the voter whose key matches. */
export function updateVoter(voters: VoterSet, voter: VoterNode): VoterSet | null {
  const old = findVoter(voters, voter.id);
  if (old === undefined || !matchesVoter(old, voter)) return null;
  return voters.map((v) => (v.id === voter.id ? voter : v));
}

function sameEndpoints(a: readonly VoterEndpoint[], b: readonly VoterEndpoint[]): boolean {
  return a.length === b.length && a.every((e, i) => e.name === b[i]?.name && e.host === b[i]?.host && e.port === b[i]?.port);
}

export function sameVoterNode(a: VoterNode, b: VoterNode): boolean {
  return sameKey(a, b) && a.kraftVersion.min === b.kraftVersion.min && a.kraftVersion.max === b.kraftVersion.max && sameEndpoints(a.endpoints, b.endpoints);
}

export function sameVoterSet(a: VoterSet, b: VoterSet): boolean {
  return a.length === b.length && a.every((v, i) => { const w = b[i]; return w !== undefined && sameVoterNode(v, w); });
}

/** Where the oldest voter set known to a replica came from. */
export type VoterSetSource =
  /** controller.quorum.voters (kraft.version 0). */
  | 'static'
  /** The bootstrap checkpoint 0-0 (`--standalone` / `--initial-controllers`): not yet in the log. */
  | 'bootstrap'
  /** A snapshot's VotersRecord, or a VotersRecord compacted away from the log start. */
  | 'snapshot';

interface HistoryEntry {
  /** Offset of the VotersRecord. */
  readonly offset: number;
  readonly voters: VoterSet;
}

/**
 * The voter sets along the log (Kafka's VoterSetHistory): a base set (static configuration, bootstrap
 * checkpoint or snapshot) and the VotersRecords in the log after it, by offset. The set in effect is the
 * latest, committed or not.
 */
export class VoterHistory {
  #base: VoterSet;
  #source: VoterSetSource;
  #entries: HistoryEntry[] = [];

  constructor(base: VoterSet, source: VoterSetSource) {
    this.#base = base;
    this.#source = source;
  }

  /** The voter set in effect: the latest one in the log. */
  get latest(): VoterSet {
    return this.#entries.at(-1)?.voters ?? this.#base;
  }

  /** Offset of the latest VotersRecord in the log; -1 when the set is the base one. */
  get latestOffset(): number {
    return this.#entries.at(-1)?.offset ?? -1;
  }

  /** kraft.version 1: the voter set is data (log, snapshot or bootstrap checkpoint), not configuration. */
  get dynamic(): boolean {
    return this.#entries.length > 0 || this.#source !== 'static';
  }

  /** The set came from the bootstrap checkpoint and is not in the log yet (a new leader writes it). */
  get fromBootstrap(): boolean {
    return this.#entries.length === 0 && this.#source === 'bootstrap';
  }

  get source(): VoterSetSource {
    return this.#source;
  }

  /** The voter set after every record below `endOffset`, and whether it is dynamic (a snapshot at `endOffset` holds it). */
  at(endOffset: number): { readonly voters: VoterSet; readonly dynamic: boolean } {
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const entry = this.#entries[i];
      if (entry !== undefined && entry.offset < endOffset) return { voters: entry.voters, dynamic: true };
    }
    return { voters: this.#base, dynamic: this.#source !== 'static' };
  }

  /** The voter sets in effect from `endOffset` on: the one at it (`at`) and every later one. */
  setsFrom(endOffset: number): VoterSet[] {
    return [this.at(endOffset).voters, ...this.#entries.filter((e) => e.offset >= endOffset).map((e) => e.voters)];
  }

  /** A VotersRecord appended at `offset` (after every offset already known). */
  append(offset: number, voters: VoterSet): void {
    assert(offset > this.latestOffset, `voters record at ${offset} after one at ${this.latestOffset}`);
    this.#entries.push({ offset, voters });
  }

  /** The log was truncated to `endOffset`: records at or after it are gone. Returns whether the set changed. */
  truncateTo(endOffset: number): boolean {
    const before = this.#entries.length;
    while ((this.#entries.at(-1)?.offset ?? -1) >= endOffset) this.#entries.pop();
    return this.#entries.length !== before;
  }

  /** The log now starts at `startOffset` (a snapshot): older records fold into the base. */
  compactTo(startOffset: number): void {
    const at = this.at(startOffset);
    const kept = this.#entries.filter((e) => e.offset >= startOffset);
    if (kept.length !== this.#entries.length || (startOffset > 0 && this.#source === 'bootstrap')) {
      this.#base = at.voters;
      this.#source = 'snapshot';
    }
    this.#entries = kept;
  }

  /** The whole log was replaced (snapshot installed). */
  reset(base: VoterSet, source: VoterSetSource): void {
    this.#base = base;
    this.#source = source;
    this.#entries = [];
  }
}

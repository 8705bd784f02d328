/**
 * Incremental fetch sessions (KIP-227). A client that sends SessionId 0 / SessionEpoch 0 gets a session: the
 * broker remembers its partitions (and what it last told the client about each), so later requests carry
 * only the partitions whose fetch position changed (plus ForgottenTopicsData), and responses carry only
 * partitions with news: records, an error, or a changed high watermark / last stable offset / log start.
 *
 *   SessionId 0, epoch -1   sessionless full fetch (no session)
 *   SessionId 0, epoch 0    full fetch that creates a session (when a cache slot is free; else sessionless)
 *   SessionId n, epoch -1   closes session n, then a sessionless full fetch
 *   SessionId n, epoch e>0  incremental fetch on session n; e must be the session's next epoch
 *
 * Bounded by max.incremental.fetch.session.cache.slots; when full, the least recently used session older
 * than a minute is evicted for a new one (Kafka's eviction is by size and age; this keeps the simple half).
 */
import { ErrorCode } from '../protocol/error-codes.ts';

export const FINAL_EPOCH = -1;
export const INITIAL_EPOCH = 0;
const EVICTABLE_AFTER_MS = 60_000;

export interface SessionPartition {
  /** Topic id (v13+) or name: what the client uses to name the topic. */
  readonly topicKey: string;
  readonly topic: string;
  readonly topicId: string;
  readonly partition: number;
  fetchOffset: bigint;
  partitionMaxBytes: number;
  currentLeaderEpoch: number;
  /** What the last response told the client; -2n = never sent. */
  lastHighWatermark: bigint;
  lastStableOffset: bigint;
  lastLogStartOffset: bigint;
}

export interface FetchSession {
  readonly id: number;
  /** The epoch the next request must carry. */
  epoch: number;
  readonly partitions: Map<string, SessionPartition>;
  lastUsedMs: number;
}

export const sessionPartitionKey = (topicKey: string, partition: number): string => `${topicKey}:${partition}`;

export type SessionLookup =
  | { readonly kind: 'sessionless' }
  | { readonly kind: 'new' }
  | { readonly kind: 'incremental'; readonly session: FetchSession }
  | { readonly kind: 'error'; readonly errorCode: number };

export class FetchSessionCache {
  private readonly sessions = new Map<number, FetchSession>();
  private readonly slotsMax: number;
  private readonly random: () => number;
  private readonly nowMs: () => number;

  constructor(slotsMax: number, random: () => number = Math.random, nowMs: () => number = Date.now) {
    this.slotsMax = slotsMax;
    this.random = random;
    this.nowMs = nowMs;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Decides what kind of fetch a request is, closing sessions the client ends. */
  lookup(sessionId: number, epoch: number): SessionLookup {
    if (sessionId === 0) {
      if (epoch === INITIAL_EPOCH) return { kind: 'new' };
      if (epoch === FINAL_EPOCH) return { kind: 'sessionless' };
      return { kind: 'error', errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH };
    }
    const session = this.sessions.get(sessionId);
    if (session === undefined) return { kind: 'error', errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND };
    if (epoch === FINAL_EPOCH) {
      this.sessions.delete(sessionId);
      return { kind: 'sessionless' };
    }
    if (epoch !== session.epoch) return { kind: 'error', errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH };
    session.lastUsedMs = this.nowMs();
    return { kind: 'incremental', session };
  }

  /** Creates a session, or returns null when no slot can be had (the fetch is then sessionless). */
  create(partitions: Map<string, SessionPartition>): FetchSession | null {
    if (this.slotsMax <= 0) return null;
    if (this.sessions.size >= this.slotsMax && !this.evictOne()) return null;
    let id = 0;
    while (id === 0 || this.sessions.has(id)) id = 1 + Math.floor(this.random() * 0x7ffffffe);
    const session: FetchSession = { id, epoch: 1, partitions, lastUsedMs: this.nowMs() };
    this.sessions.set(id, session);
    return session;
  }

  private evictOne(): boolean {
    let oldest: FetchSession | null = null;
    for (const s of this.sessions.values()) if (oldest === null || s.lastUsedMs < oldest.lastUsedMs) oldest = s;
    if (oldest === null || this.nowMs() - oldest.lastUsedMs < EVICTABLE_AFTER_MS) return false;
    this.sessions.delete(oldest.id);
    return true;
  }
}

/** The epoch after `epoch` (wraps from int32 max back to 1, never to the special 0 or -1). */
export const nextEpoch = (epoch: number): number => (epoch >= 0x7fffffff ? 1 : epoch + 1);

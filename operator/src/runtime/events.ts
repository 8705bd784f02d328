/**
 * Kubernetes Events (core/v1, which `kubectl describe` and `kubectl events` show), recorded the way client-go's
 * EventRecorder with its EventCorrelator does it, minus the similar-message aggregation:
 *
 *   - Identical events (same object uid/kind/namespace/name, type, reason and message) are one Event object:
 *     the first creates it (count 1); repeats PATCH count and lastTimestamp. kubectl shows "x5 over 3m".
 *   - Repeats while a write for the same event is in flight are coalesced: one more write with the latest
 *     count follows when it finishes. A burst of N identical events costs at most two API calls at a time.
 *   - The correlation cache is an LRU of cacheSizeMax (4096) entries; an evicted event starts a new Event.
 *   - A PATCH answered 404 (the API server expires Events after an hour by default) creates a new Event.
 *   - Messages are cut to messageBytesMax (1024, the events.k8s.io limit).
 *
 * Never throws into the caller: event() returns at once, and write failures are logged with the cause.
 * flush() awaits the writes in flight (tests, shutdown).
 */
import type { Logger } from 'pino';
import { hostname } from 'node:os';
import { formatTime, systemClock, type Clock } from './clock.ts';
import { errorMessage, isNotFound } from './kube-api.ts';
import type { ObjectClient } from './apply.ts';
import { PatchContentType } from './apply.ts';
import type { KubeObject } from './objects.ts';
import { Resources } from './resources.ts';
import { OPERATOR_NAME } from '../api/constants.ts';

export type EventType = 'Normal' | 'Warning';

export interface ObjectReference {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
}

/** What controllers hold: fire-and-forget. */
export interface EventRecorder {
  /** reason: UpperCamelCase, stable (alerts match on it); message: a sentence for humans. */
  event(regarding: KubeObject | ObjectReference, type: EventType, reason: string, message: string): void;
}

/** A core/v1 Event as written. */
export interface CoreEvent {
  readonly apiVersion: 'v1';
  readonly kind: 'Event';
  readonly metadata: { readonly name: string; readonly namespace: string };
  readonly involvedObject: ObjectReference;
  readonly reason: string;
  readonly message: string;
  readonly type: EventType;
  readonly count: number;
  readonly firstTimestamp: string;
  readonly lastTimestamp: string;
  readonly source: { readonly component: string; readonly host?: string };
}

/** The two writes the recorder makes. */
export interface EventSink {
  create(event: CoreEvent): Promise<void>;
  /** Rejects with a 404 KubeApiError when the Event no longer exists. */
  patchCount(namespace: string, name: string, count: number, lastTimestamp: string): Promise<void>;
}

export function kubeEventSink(client: ObjectClient): EventSink {
  return {
    async create(event) {
      await client.create(event);
    },
    async patchCount(namespace, name, count, lastTimestamp) {
      await client.patch(Resources.Event, namespace, name, { count, lastTimestamp }, PatchContentType.Merge);
    },
  };
}

export interface KubeEventRecorderOptions {
  readonly sink: EventSink;
  readonly logger: Logger;
  /** source.component (default millrace-operator). */
  readonly component?: string;
  /** source.host (default the hostname). */
  readonly host?: string;
  readonly clock?: Clock;
  readonly cacheSizeMax?: number;
  readonly messageBytesMax?: number;
}

interface Entry {
  readonly namespace: string;
  name: string;
  readonly event: Omit<CoreEvent, 'metadata' | 'count' | 'lastTimestamp' | 'firstTimestamp'>;
  firstTimestamp: string;
  /** Occurrences recorded so far. */
  count: number;
  lastTimestamp: string;
  /** Count the API server has (0: not created yet). */
  written: number;
  writing: Promise<void> | null;
}

export const EVENT_CACHE_SIZE_MAX_DEFAULT = 4096;
export const EVENT_MESSAGE_BYTES_MAX_DEFAULT = 1024;

export class KubeEventRecorder implements EventRecorder {
  private readonly sink: EventSink;
  private readonly logger: Logger;
  private readonly component: string;
  private readonly host: string;
  private readonly clock: Clock;
  private readonly cacheSizeMax: number;
  private readonly messageBytesMax: number;
  /** Insertion order = recency (re-inserted on use). */
  private readonly cache = new Map<string, Entry>();
  private readonly inFlight = new Set<Promise<void>>();
  private nameSeq = 0;

  constructor(options: KubeEventRecorderOptions) {
    this.sink = options.sink;
    this.logger = options.logger;
    this.component = options.component ?? OPERATOR_NAME;
    this.host = options.host ?? hostname();
    this.clock = options.clock ?? systemClock;
    this.cacheSizeMax = options.cacheSizeMax ?? EVENT_CACHE_SIZE_MAX_DEFAULT;
    this.messageBytesMax = options.messageBytesMax ?? EVENT_MESSAGE_BYTES_MAX_DEFAULT;
  }

  event(regarding: KubeObject | ObjectReference, type: EventType, reason: string, message: string): void {
    try {
      this.record(toReference(regarding), type, reason, truncate(message, this.messageBytesMax));
    } catch (error) {
      this.logger.warn({ err: error, reason }, `Could not record event ${reason}: ${errorMessage(error)}`);
    }
  }

  /** Resolves when every write started so far (and the follow-ups they schedule) has finished. */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Entries in the correlation cache (for tests and metrics). */
  cacheSize(): number {
    return this.cache.size;
  }

  private record(ref: ObjectReference, type: EventType, reason: string, message: string): void {
    const now = formatTime(this.clock.now());
    const namespace = ref.namespace !== undefined && ref.namespace !== '' ? ref.namespace : 'default';
    const key = JSON.stringify([ref.apiVersion, ref.kind, namespace, ref.name, ref.uid, type, reason, message]);
    let entry = this.cache.get(key);
    if (entry !== undefined) {
      this.cache.delete(key);
      entry.count += 1;
      entry.lastTimestamp = now;
    } else {
      entry = {
        namespace,
        name: this.eventName(ref.name),
        event: { apiVersion: 'v1', kind: 'Event', involvedObject: ref, reason, message, type, source: { component: this.component, host: this.host } },
        firstTimestamp: now,
        count: 1,
        lastTimestamp: now,
        written: 0,
        writing: null,
      };
      while (this.cache.size >= this.cacheSizeMax) {
        const oldest = this.cache.keys().next();
        if (oldest.done === true) break;
        this.cache.delete(oldest.value);
      }
    }
    this.cache.set(key, entry);
    this.schedule(entry);
  }

  /** Starts a write unless one is in flight (that one's completion will write the latest count). */
  private schedule(entry: Entry): void {
    if (entry.writing !== null) return;
    const write = this.write(entry).finally(() => {
      entry.writing = null;
      this.inFlight.delete(write);
      if (entry.count > entry.written && entry.written > 0) this.schedule(entry);
    });
    entry.writing = write;
    this.inFlight.add(write);
  }

  private async write(entry: Entry): Promise<void> {
    const count = entry.count;
    const lastTimestamp = entry.lastTimestamp;
    const what = `${entry.event.type} event ${entry.event.reason} for ${entry.event.involvedObject.kind ?? 'object'} ${entry.namespace}/${entry.event.involvedObject.name}`;
    try {
      if (entry.written > 0) {
        try {
          await this.sink.patchCount(entry.namespace, entry.name, count, lastTimestamp);
          entry.written = count;
          return;
        } catch (error) {
          if (!isNotFound(error)) throw error;
          // Expired on the server: start a new Event object, keeping the count.
          entry.name = this.eventName(entry.event.involvedObject.name);
          entry.firstTimestamp = lastTimestamp;
        }
      }
      await this.sink.create({ ...entry.event, metadata: { name: entry.name, namespace: entry.namespace }, count, firstTimestamp: entry.firstTimestamp, lastTimestamp });
      entry.written = count;
    } catch (error) {
      // Give up on these occurrences and schedule no follow-up; a later repeat tries again.
      entry.count = entry.written;
      this.logger.warn({ err: error }, `Could not record ${what}: ${errorMessage(error)}`);
    }
  }

  /** client-go: "<object name>.<hex nanoseconds>"; a sequence number keeps names unique within a millisecond. */
  private eventName(objectName: string): string {
    const nanos = BigInt(Math.floor(this.clock.now())) * 1_000_000n + BigInt(this.nameSeq++ % 1_000_000);
    return `${objectName}.${nanos.toString(16)}`;
  }
}

/** An EventRecorder that only logs (for tests, or when events are not wanted). */
export function loggingEventRecorder(logger: Logger): EventRecorder {
  return {
    event(regarding, type, reason, message) {
      const ref = toReference(regarding);
      logger.info({ kind: ref.kind, namespace: ref.namespace, name: ref.name, type, reason }, message);
    },
  };
}

function toReference(regarding: KubeObject | ObjectReference): ObjectReference {
  if ('metadata' in regarding) {
    const m = regarding.metadata;
    if (m.name === undefined) throw new Error('the object an event is about has no metadata.name');
    return {
      ...(regarding.apiVersion === undefined ? {} : { apiVersion: regarding.apiVersion }),
      ...(regarding.kind === undefined ? {} : { kind: regarding.kind }),
      name: m.name,
      ...(m.namespace === undefined ? {} : { namespace: m.namespace }),
      ...(m.uid === undefined ? {} : { uid: m.uid }),
      ...(m.resourceVersion === undefined ? {} : { resourceVersion: m.resourceVersion }),
    };
  }
  return regarding;
}

function truncate(message: string, bytesMax: number): string {
  if (Buffer.byteLength(message) <= bytesMax) return message;
  let cut = message.slice(0, bytesMax);
  while (Buffer.byteLength(cut) > bytesMax - 3) cut = cut.slice(0, -1);
  return `${cut}...`;
}

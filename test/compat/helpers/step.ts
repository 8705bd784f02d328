// Named, time-bounded test steps: every failure says which client and which step, plus the broker's
// warnings and errors from the same time.
import { expect } from 'vitest';
import { CODEC_IDS, type Codec, type StoredBatch, type TestBroker } from './broker.ts';

export class StepTimeout extends Error {}

/** Runs fn with a deadline; on failure the error message is prefixed with `[client] what:`. */
export async function step<T>(client: string, what: string, timeoutMs: number, fn: () => Promise<T>, broker?: TestBroker): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StepTimeout(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([fn(), deadline]);
  } catch (error) {
    const err = error instanceof Error ? error : new Error(String(error));
    const problems = broker?.problems() ?? '';
    const prefix = `[${client}] ${what}: `;
    const original = err.message;
    err.message = `${prefix}${original}${problems === '' ? '' : `\n--- broker warnings/errors (tail):\n${problems}`}`;
    if (err.stack !== undefined) err.stack = err.stack.replace(original, err.message);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Runs fn, which must fail; returns the error (a success is itself a failure naming client and step). */
export async function expectFailure(client: string, what: string, timeoutMs: number, fn: () => Promise<unknown>): Promise<Error & Record<string, unknown>> {
  let result: unknown;
  try {
    result = await step(client, what, timeoutMs, fn);
  } catch (error) {
    if (error instanceof StepTimeout || (error instanceof Error && error.message.startsWith(`[${client}] ${what}: timed out`))) throw error;
    return (error instanceof Error ? error : new Error(String(error))) as Error & Record<string, unknown>;
  }
  throw new Error(`[${client}] ${what}: expected an error, but it succeeded with ${JSON.stringify(result, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))?.slice(0, 500)}`);
}

/** The innermost error of a cause chain (kafkajs wraps protocol errors in retry errors). */
export function rootCause(error: Error): Error & Record<string, unknown> {
  let e: Error = error;
  for (let i = 0; i < 10; i++) {
    const next: unknown = (e as Error & { originalError?: unknown }).originalError ?? e.cause;
    if (!(next instanceof Error)) break;
    e = next;
  }
  return e as Error & Record<string, unknown>;
}

/** Best-effort cleanup with a deadline (disconnecting a client must never hang a test file). */
export async function closeQuietly(what: string, fn: () => Promise<unknown>, timeoutMs = 10_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([fn(), new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs); })]);
  } catch (error) {
    console.warn(`${what}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    clearTimeout(timer);
  }
}

export interface BatchExpectation {
  codec: Codec;
  /** true: every batch carries a producer id, sequences contiguous from 0 per producer; false: none has one. */
  idempotent: boolean;
  /** Expected record count of the partition. */
  records: number;
}

/**
 * The batches the broker stored for a partition: compressed with the requested codec (so the client
 * really used it), exactly `records` records at contiguous offsets, and producer ids/sequences as the
 * idempotence setting demands (one producer, sequences starting at 0 without gaps).
 */
export function expectStoredBatches(label: string, broker: TestBroker, topic: string, partition: number, want: BatchExpectation): StoredBatch[] {
  const batches = broker.storedBatches(topic, partition);
  const where = `${label}: stored batches of ${topic}-${partition}`;
  expect(batches.map((b) => b.codec), `${where}: compression codec ids (want ${CODEC_IDS[want.codec]} = ${want.codec})`).toEqual(batches.map(() => CODEC_IDS[want.codec]));
  let next = 0n;
  for (const b of batches) {
    expect({ baseOffset: b.baseOffset, records: b.recordCount }, `${where}: offsets are contiguous`).toEqual({ baseOffset: next, records: b.lastOffsetDelta + 1 });
    next += BigInt(b.recordCount);
  }
  expect(Number(next), `${where}: total records`).toBe(want.records);
  if (want.idempotent) {
    expect(batches.every((b) => b.producerId >= 0n), `${where}: every batch has a producer id (idempotent producer)`).toBe(true);
    // Per producer id and epoch: base sequences start at 0 and continue without gaps or repeats.
    const next = new Map<string, number>();
    const want = batches.map((b) => {
      const id = `${b.producerId}/${b.producerEpoch}`;
      const s = next.get(id) ?? 0;
      next.set(id, s + b.recordCount);
      return `${id}: seq ${s}`;
    });
    expect(batches.map((b) => `${b.producerId}/${b.producerEpoch}: seq ${b.baseSequence}`), `${where}: sequences per producer are contiguous from 0`).toEqual(want);
  } else {
    // (The sequence of a batch without a producer id means nothing: kafkajs writes 0, others -1.)
    expect(batches.map((b) => b.producerId), `${where}: no producer id (non-idempotent producer)`).toEqual(batches.map(() => -1n));
  }
  return batches;
}

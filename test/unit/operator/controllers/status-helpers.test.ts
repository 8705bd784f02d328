import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Condition } from '../../../../operator/src/api/conditions.ts';
import {
  addFinalizerPatch,
  isPausedStatus,
  jsonEqual,
  kafkaErrorReason,
  nextConditions,
  pausedConditionSpecs,
  readinessConditionSpecs,
  readyStatus,
  removeFinalizerPatch,
} from '../../../../operator/src/controllers/status-helpers.ts';

const T1 = '2026-01-01T00:00:00Z';
const T2 = '2026-01-01T00:01:00Z';

describe('readiness conditions', () => {
  it('ready is Ready=True only; not ready is Ready=False plus NotReady=True with the same reason and message', () => {
    expect(readinessConditionSpecs({ ready: true, message: 'ok' })).toEqual([{ type: 'Ready', status: 'True', reason: 'Ready', message: 'ok' }]);
    expect(readinessConditionSpecs({ ready: false, reason: 'PodsNotReady', message: 'brokers (0/3 pods ready)' })).toEqual([
      { type: 'Ready', status: 'False', reason: 'PodsNotReady', message: 'brokers (0/3 pods ready)' },
      { type: 'NotReady', status: 'True', reason: 'PodsNotReady', message: 'brokers (0/3 pods ready)' },
    ]);
  });

  it('nextConditions keeps lastTransitionTime while a status holds, moves it on a change, and drops types no longer desired', () => {
    const notReady = nextConditions(undefined, readinessConditionSpecs({ ready: false, reason: 'PodsNotReady', message: 'a' }), 1, T1);
    expect(notReady.map((c) => [c.type, c.status, c.lastTransitionTime, c.observedGeneration])).toEqual([['Ready', 'False', T1, 1], ['NotReady', 'True', T1, 1]]);
    // Same status, new message and generation: times kept.
    const still = nextConditions(notReady, readinessConditionSpecs({ ready: false, reason: 'PodsNotReady', message: 'b' }), 2, T2);
    expect(still.map((c) => [c.lastTransitionTime, c.message, c.observedGeneration])).toEqual([[T1, 'b', 2], [T1, 'b', 2]]);
    // Ready: Ready flips (new time), NotReady goes.
    const ready = nextConditions(still, readinessConditionSpecs({ ready: true, message: 'ok' }), 2, T2);
    expect(ready).toEqual([{ type: 'Ready', status: 'True', reason: 'Ready', message: 'ok', lastTransitionTime: T2, observedGeneration: 2 }]);
    // Paused replaces everything.
    const paused = nextConditions(ready, pausedConditionSpecs('KafkaCluster'), 3, T2);
    expect(paused.map((c) => c.type)).toEqual(['ReconciliationPaused']);
    expect(isPausedStatus(paused)).toBe(true);
    expect(isPausedStatus(ready)).toBe(false);
    expect(readyStatus(ready)).toBe('True');
    expect(readyStatus(paused)).toBeUndefined();
  });

  it('recomputing the same readiness later yields an equal list (so no status write)', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.string(), fc.string(), fc.integer({ min: 1, max: 1000 }), (isReady, reason, message, generation) => {
        const readiness = isReady ? { ready: true as const, message } : { ready: false as const, reason, message };
        const first = nextConditions(undefined, readinessConditionSpecs(readiness), generation, T1);
        const again = nextConditions(first, readinessConditionSpecs(readiness), generation, T2);
        expect(again).toEqual(first);
      }),
    );
  });

  it('omits observedGeneration when the object has none', () => {
    const [c] = nextConditions([], readinessConditionSpecs({ ready: true, message: '' }), undefined, T1) as [Condition];
    expect('observedGeneration' in c).toBe(false);
  });
});

describe('jsonEqual', () => {
  it('ignores key order and undefined-valued properties, not array order', () => {
    expect(jsonEqual({ a: 1, b: { c: [1, 2], d: 'x' } }, { b: { d: 'x', c: [1, 2] }, a: 1 })).toBe(true);
    expect(jsonEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: null }, { a: undefined })).toBe(false);
    expect(jsonEqual({ a: [] }, { a: {} })).toBe(false);
    expect(jsonEqual(1, '1')).toBe(false);
  });

  it('agrees with a JSON round trip', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(jsonEqual(value, JSON.parse(JSON.stringify(value)))).toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        // Equal by jsonEqual implies equal after sorting keys.
        const canonical = (v: unknown): unknown => (Array.isArray(v) ? v.map(canonical) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, x]) => [k, canonical(x)])) : v);
        expect(jsonEqual(a, b)).toBe(JSON.stringify(canonical(a)) === JSON.stringify(canonical(b)));
      }),
    );
  });
});

describe('kafkaErrorReason', () => {
  it('turns Kafka error names into UpperCamelCase reasons', () => {
    expect(kafkaErrorReason('INVALID_REPLICATION_FACTOR')).toBe('InvalidReplicationFactor');
    expect(kafkaErrorReason('NETWORK_EXCEPTION')).toBe('NetworkException');
    expect(kafkaErrorReason('UNKNOWN_ERROR_CODE(999)')).toBe('UnknownErrorCode999');
    fc.assert(fc.property(fc.string(), (name) => {
      expect(kafkaErrorReason(name)).toMatch(/^([A-Za-z][A-Za-z0-9]*)?$|^Kafka[A-Za-z0-9]*$/);
    }));
  });
});

describe('finalizer patches', () => {
  it('adds with a test of what was read (the list, or the resourceVersion when there is none)', () => {
    expect(addFinalizerPatch(undefined, '42', 'f')).toEqual([{ op: 'test', path: '/metadata/resourceVersion', value: '42' }, { op: 'add', path: '/metadata/finalizers', value: ['f'] }]);
    expect(addFinalizerPatch(['other'], '42', 'f')).toEqual([{ op: 'test', path: '/metadata/finalizers', value: ['other'] }, { op: 'add', path: '/metadata/finalizers/-', value: 'f' }]);
    expect(addFinalizerPatch(['other', 'f'], '42', 'f')).toBeNull();
  });

  it('removes only our finalizer, with a test of the list read', () => {
    expect(removeFinalizerPatch(['a', 'f', 'b'], 'f')).toEqual([{ op: 'test', path: '/metadata/finalizers', value: ['a', 'f', 'b'] }, { op: 'replace', path: '/metadata/finalizers', value: ['a', 'b'] }]);
    expect(removeFinalizerPatch(['a'], 'f')).toBeNull();
    expect(removeFinalizerPatch(undefined, 'f')).toBeNull();
  });
});

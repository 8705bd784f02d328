import { describe, expect, it } from 'vitest';
import { upsertCondition, type Condition } from '../../../operator/src/api/conditions.ts';
import { specDerivedStatus } from '../../../operator/src/specs/status.ts';
import { threeByThree } from './fixtures.ts';

const ready = (status: 'True' | 'False', at: string): Condition => ({ type: 'Ready', status, reason: 'Ready', message: '', lastTransitionTime: at });

describe('upsertCondition', () => {
  it('keeps lastTransitionTime while the status stays, and moves it when the status changes', () => {
    const first = upsertCondition([], ready('True', 't1'));
    expect(first).toEqual([ready('True', 't1')]);
    expect(upsertCondition(first, { ...ready('True', 't2'), message: 'still' })).toEqual([{ ...ready('True', 't1'), message: 'still' }]);
    expect(upsertCondition(first, ready('False', 't3'))).toEqual([ready('False', 't3')]);
    const paused: Condition = { type: 'ReconciliationPaused', status: 'True', reason: 'ReconciliationPaused', message: '', lastTransitionTime: 't4' };
    expect(upsertCondition(first, paused)).toEqual([ready('True', 't1'), paused]);
  });
});

describe('specDerivedStatus', () => {
  it('reports bootstrap servers, node ids per pool and the cluster id', () => {
    expect(specDerivedStatus(threeByThree())).toEqual({
      clusterId: 'bxwqnjtNTl-Ke5wNHi86Sw',
      listeners: [{ name: 'plain', bootstrapServers: 'orders-bootstrap.streaming.svc:9092' }],
      nodePools: [
        { name: 'controllers', replicas: 3, nodeIds: [0, 1, 2] },
        { name: 'brokers', replicas: 3, nodeIds: [100, 101, 102] },
      ],
    });
  });
});

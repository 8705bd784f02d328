/** The classic group state machine: Kafka's legal transitions, asserted on every transition. */
import { describe, expect, it } from 'vitest';
import { ALL_GROUP_STATES, GroupInvariantError, GroupState, isValidTransition } from '../../../broker/src/group/index.ts';
import { ClassicGroup } from '../../../broker/src/group/classic-group.ts';
import { KeyedTimers } from '../../../broker/src/group/coordinator-time.ts';
import { SimulatedTime } from './support/simulated-time.ts';

// Kafka's ClassicGroupState: target <- valid previous states.
const KAFKA_TRANSITIONS: Record<GroupState, GroupState[]> = {
  Empty: ['PreparingRebalance'],
  PreparingRebalance: ['Stable', 'CompletingRebalance', 'Empty'],
  CompletingRebalance: ['PreparingRebalance'],
  Stable: ['CompletingRebalance'],
  Dead: ['Stable', 'PreparingRebalance', 'CompletingRebalance', 'Empty', 'Dead'],
};

describe('classic group states', () => {
  it('allows exactly the transitions Kafka allows', () => {
    for (const from of ALL_GROUP_STATES) {
      for (const to of ALL_GROUP_STATES) {
        expect(isValidTransition(from, to), `${from} -> ${to}`).toBe(KAFKA_TRANSITIONS[to].includes(from));
      }
    }
  });

  it('asserts every transition and stamps the time the group entered its state', async () => {
    const time = new SimulatedTime(1_000);
    const group = new ClassicGroup({ groupId: 'g', state: GroupState.Empty, nowMs: () => time.nowMs() });
    expect(group.currentStateTimestampMs).toBe(1_000);
    expect(() => group.transitionTo(GroupState.Stable)).toThrow(GroupInvariantError);
    expect(() => group.transitionTo(GroupState.CompletingRebalance)).toThrow(/must be in one of \[PreparingRebalance\]/);
    await time.advance(500);
    group.transitionTo(GroupState.PreparingRebalance);
    expect(group.state).toBe('PreparingRebalance');
    expect(group.previousState).toBe('Empty');
    expect(group.currentStateTimestampMs).toBe(1_500);
    group.transitionTo(GroupState.Dead);
    // Dead is terminal for a group object.
    for (const to of ALL_GROUP_STATES.filter((s) => s !== GroupState.Dead)) expect(() => group.transitionTo(to)).toThrow(GroupInvariantError);
    group.checkInvariants();
  });

  it('keyed timers replace and cancel by key, and a stale timer never fires', async () => {
    const time = new SimulatedTime(0);
    const timers = new KeyedTimers(time);
    const fired: string[] = [];
    timers.schedule('a', 100, () => fired.push('a1'));
    timers.schedule('a', 200, () => fired.push('a2'));
    timers.schedule('b', 150, () => fired.push('b'));
    timers.cancel('b');
    await time.advance(1_000);
    expect(fired).toEqual(['a2']);
    expect(timers.size).toBe(0);
    expect(time.pendingTimers).toBe(0);
  });
});

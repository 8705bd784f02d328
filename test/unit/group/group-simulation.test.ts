/**
 * Seeded random simulation of the classic group protocol (see support/group-simulation.ts for the events and
 * the invariants). Replay one seed with GROUP_SIM_SEED=<seed>; change the seed count with GROUP_SIM_SEEDS.
 */
import { describe, expect, it } from 'vitest';
import { runGroupSimulation, SimulationFailure } from './support/group-simulation.ts';

const replaySeed = process.env['GROUP_SIM_SEED'];
const seedCount = Number(process.env['GROUP_SIM_SEEDS'] ?? 100);
const STEPS = 600;

describe('seeded group coordinator simulation', () => {
  if (replaySeed !== undefined) {
    it(`replays seed ${replaySeed}`, async () => {
      const result = await runGroupSimulation(Number(replaySeed), { steps: STEPS });
      expect(result.seed).toBe(Number(replaySeed));
    });
    return;
  }

  it(`keeps every invariant over ${seedCount} seeds of ${STEPS} random events`, async () => {
    let generations = 0;
    let commits = 0;
    for (let seed = 1; seed <= seedCount; seed++) {
      const result = await runGroupSimulation(seed, { steps: STEPS });
      generations += result.stats.generations;
      commits += result.stats.commitsAcked;
    }
    // The runs must actually exercise rebalances and commits, or the invariants prove nothing.
    expect(generations).toBeGreaterThan(seedCount * 2);
    expect(commits).toBeGreaterThan(seedCount * 5);
  });

  it('is deterministic: a seed replays the same events and writes the same log', async () => {
    const first = await runGroupSimulation(7, { steps: STEPS });
    const second = await runGroupSimulation(7, { steps: STEPS });
    expect(second).toEqual(first);
    const other = await runGroupSimulation(8, { steps: STEPS });
    expect(other.traceDigest).not.toBe(first.traceDigest);
  });

  it('reports a failing seed with its step, and the failure replays exactly', async () => {
    // A deliberately false "invariant": no group may reach generation 3.
    const extraCheck = (snapshot: { groups: readonly { generationId: number }[] }): void => {
      if (snapshot.groups.some((g) => g.generationId >= 3)) throw new Error('generation 3 reached');
    };
    const failureOf = async (): Promise<SimulationFailure> => {
      try {
        await runGroupSimulation(3, { steps: STEPS, extraCheck });
      } catch (error) {
        if (error instanceof SimulationFailure) return error;
        throw error;
      }
      throw new Error('the simulation did not fail');
    };
    const first = await failureOf();
    const second = await failureOf();
    expect(first.message).toContain('generation 3 reached');
    expect(first.message).toContain('GROUP_SIM_SEED=3');
    expect(second.step).toBe(first.step);
    expect(second.message).toBe(first.message);
  });
});

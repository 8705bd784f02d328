// Seeded simulation of 3- and 5-voter quorums (odd seeds: 3 voters, even seeds: 5 voters), with 0-2
// observers (seed % 3), snapshots and FetchSnapshot. A third of the seeds each: static voters, dynamic
// voters from `--standalone` (node 1), dynamic voters from `--initial-controllers` (the n voters); dynamic
// seeds add / remove / update voters one at a time during the fault phase (KIP-853).
// RAFT_SIM_SEED=<n> replays one seed exactly; RAFT_SIM_SEEDS=<count> changes how many run.
import { describe, expect, it } from 'vitest';
import { Simulation, type SimulationResult } from './simulation-harness.ts';

// 2000 seeds take about 20 s on 2 cores; the planted-bug seeds in the README are all below 1000.
const SEED_COUNT = Number(process.env.RAFT_SIM_SEEDS ?? 2000);
/** First seed of the run (RAFT_SIM_FROM), to split long runs over processes. */
const FIRST_SEED = Number(process.env.RAFT_SIM_FROM ?? 1);
const REPLAY_SEED = process.env.RAFT_SIM_SEED;
const CHAOS_MS = 60_000;
const HEAL_BOUND_MS = 20_000;

function runSeed(seed: number): SimulationResult {
  return new Simulation({ seed, chaosMs: CHAOS_MS, healBoundMs: HEAL_BOUND_MS }).run();
}

describe('raft simulation', () => {
  if (REPLAY_SEED !== undefined) {
    it(`replays seed ${REPLAY_SEED}`, () => {
      const result = runSeed(Number(REPLAY_SEED));
      expect(result.healedInMs).toBeGreaterThanOrEqual(0);
    });
    return;
  }

  it(`keeps every invariant over ${SEED_COUNT} seeds`, () => {
    let events = 0;
    let committed = 0;
    let crashes = 0;
    let truncations = 0;
    let snapshotsCreated = 0;
    let snapshotsInstalled = 0;
    let observers = 0;
    let maxEpoch = 0;
    let maxHealMs = 0;
    let voterChangesRequested = 0;
    let voterChangesAccepted = 0;
    let voterChangesCommitted = 0;
    let removedLeaders = 0;
    let maxVoters = 0;
    let dynamicSeeds = 0;
    const started = performance.now();
    for (let seed = FIRST_SEED; seed < FIRST_SEED + SEED_COUNT; seed++) {
      const result = runSeed(seed);
      events += result.events;
      committed += result.committed;
      crashes += result.crashes;
      truncations += result.truncations;
      snapshotsCreated += result.snapshotsCreated;
      snapshotsInstalled += result.snapshotsInstalled;
      observers += result.observers;
      maxEpoch = Math.max(maxEpoch, result.maxEpoch);
      maxHealMs = Math.max(maxHealMs, result.healedInMs);
      voterChangesRequested += result.voterChangesRequested;
      voterChangesAccepted += result.voterChangesAccepted;
      voterChangesCommitted += result.voterChangesCommitted;
      removedLeaders += result.removedLeaders;
      maxVoters = Math.max(maxVoters, result.maxVoters);
      if (result.membership !== 'static') dynamicSeeds++;
    }
    expect(maxHealMs).toBeLessThanOrEqual(HEAL_BOUND_MS);
    if (SEED_COUNT >= 100) {
      // A simulation that cannot fail is a defect: it must exercise commits, crashes, divergence
      // (follower truncation), repeated elections, observers, and snapshots downloaded by laggards.
      expect(committed).toBeGreaterThan(SEED_COUNT * 10);
      expect(crashes).toBeGreaterThan(SEED_COUNT);
      expect(truncations).toBeGreaterThan(SEED_COUNT / 10);
      expect(maxEpoch).toBeGreaterThan(5);
      expect(observers).toBeGreaterThan(SEED_COUNT / 2);
      expect(snapshotsCreated).toBeGreaterThan(SEED_COUNT * 5);
      expect(snapshotsInstalled).toBeGreaterThan(SEED_COUNT);
      // Membership changes: many committed on the dynamic seeds, up to 5 voters, leaders removing themselves.
      expect(dynamicSeeds).toBeGreaterThan(SEED_COUNT / 2);
      expect(voterChangesCommitted).toBeGreaterThan(dynamicSeeds * 3);
      expect(maxVoters).toBe(5);
      expect(removedLeaders).toBeGreaterThan(SEED_COUNT / 20);
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `raft simulation: ${SEED_COUNT} seeds in ${seconds} s, ${events} events, ${committed} committed offsets, ${crashes} crashes, ` +
        `${truncations} truncations, ${snapshotsCreated} snapshots taken, ${snapshotsInstalled} installed by FetchSnapshot, ` +
        `${observers} observers, max epoch ${maxEpoch}, worst heal ${maxHealMs} ms; ${dynamicSeeds} seeds with dynamic voters: ` +
        `${voterChangesRequested} voter changes requested, ${voterChangesAccepted} accepted, ${voterChangesCommitted} committed, ` +
        `${removedLeaders} leaders resigned after removing themselves, up to ${maxVoters} voters`,
    );
  }, 60_000 + SEED_COUNT * 20);

  it('is deterministic: the same seed gives the same run', () => {
    expect(runSeed(7)).toEqual(runSeed(7));
    expect(runSeed(8)).toEqual(runSeed(8));
  });
});

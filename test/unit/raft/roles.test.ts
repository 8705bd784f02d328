import { describe, expect, it } from 'vitest';
import { RaftInvariantError } from '../../../broker/src/raft/core/assert.ts';
import {
  CandidateState,
  FollowerState,
  LeaderState,
  ProspectiveState,
  ResignedState,
  UnattachedState,
  VotedState,
  assertTransition,
} from '../../../broker/src/raft/core/roles.ts';

const SELF = 1;

describe('role transitions', () => {
  it('accepts the legal transitions', () => {
    const ok: [object, object][] = [
      [new UnattachedState(1, 0), new VotedState(1, 2, 0)],
      [new UnattachedState(1, 0), new ProspectiveState(1, null, 0, SELF)],
      [new VotedState(1, 2, 0), new FollowerState(1, 2, 2, 0)],
      [new ProspectiveState(1, null, 0, SELF), new CandidateState(2, 0, SELF)],
      [new ProspectiveState(1, 3, 0, SELF), new VotedState(1, 3, 0)],
      [new CandidateState(2, 0, SELF), new LeaderState(2, 0, [2, 3], 0)],
      [new CandidateState(2, 0, SELF), new ProspectiveState(2, SELF, 0, SELF)],
      [new LeaderState(2, 0, [2, 3], 0), new ResignedState(2, 0, [], 0)],
      [new ResignedState(2, 0, [], 0), new VotedState(2, SELF, 0)],
      [new FollowerState(2, 3, null, 0), new UnattachedState(3, 0)],
    ];
    for (const [from, to] of ok) {
      expect(() => assertTransition(from as never, to as never, SELF)).not.toThrow();
    }
  });

  it('rejects illegal transitions and broken preconditions', () => {
    const bad: [object, object][] = [
      [new LeaderState(2, 0, [2, 3], 0), new CandidateState(3, 0, SELF)], // not in the table
      [new UnattachedState(1, 0), new CandidateState(2, 0, SELF)], // must pre-vote first
      [new ProspectiveState(1, null, 0, SELF), new CandidateState(3, 0, SELF)], // epoch + 2
      [new VotedState(1, 2, 0), new VotedState(1, 3, 0)], // second vote in an epoch
      [new VotedState(1, 2, 0), new UnattachedState(1, 0)], // forgetting a vote
      [new ResignedState(2, 0, [], 0), new UnattachedState(2, 0)], // forgetting the self-vote
      [new UnattachedState(2, 0), new UnattachedState(1, 0)], // epoch backwards
      [new UnattachedState(1, 0), new FollowerState(2, 2, null, 0)], // follower of a higher epoch directly
      [new UnattachedState(1, 0), new FollowerState(1, SELF, null, 0)], // follower of itself
      [new ProspectiveState(1, null, 0, SELF), new LeaderState(1, 0, [2, 3], 0)], // leader without winning
    ];
    for (const [from, to] of bad) {
      expect(() => assertTransition(from as never, to as never, SELF)).toThrow(RaftInvariantError);
    }
  });
});

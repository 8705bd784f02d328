// Invariant assertions for the raft core. They stay on in production (TigerBeetle style): a violated
// consensus invariant means continuing would risk losing committed data, so we stop loudly instead.

export class RaftInvariantError extends Error {
  override readonly name = 'RaftInvariantError';
  readonly code = 'RAFT_INVARIANT';
}

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new RaftInvariantError(message);
}

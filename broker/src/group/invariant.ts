/**
 * Assertions that stay on in production. A failed invariant is a bug in the group coordinator, never a
 * consequence of client input: bad input is answered with a Kafka error code instead.
 */
export class GroupInvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GroupInvariantError';
  }
}

export function invariant(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new GroupInvariantError(typeof message === 'string' ? message : message());
}

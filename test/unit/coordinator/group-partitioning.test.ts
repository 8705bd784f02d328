import { describe, expect, it } from 'vitest';
import { javaStringHashCode, partitionForGroup } from '../../../broker/src/coordinator/group-service.ts';

describe('group id partitioning', () => {
  // Expected values computed with Java's String.hashCode (jshell), as Kafka places groups.
  it('matches Java String.hashCode, including non-ASCII and surrogate pairs', () => {
    expect(javaStringHashCode('g1')).toBe(3242);
    expect(javaStringHashCode('my-group')).toBe(-1906497762);
    expect(javaStringHashCode('consumer-group-ünïcödé-😀')).toBe(2008727616);
    expect(javaStringHashCode('')).toBe(0);
  });

  it('places groups in __consumer_offsets partitions as Kafka does', () => {
    expect(partitionForGroup('g1', 50)).toBe(42);
    expect(partitionForGroup('my-group', 50)).toBe(36);
    expect(partitionForGroup('consumer-group-ünïcödé-😀', 50)).toBe(16);
  });
});

// Architecture invariant: broker/src/raft/core is pure. It never touches the network, the disk,
// timers, the wall clock or ambient randomness, so the simulation exercises the production code.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CORE_DIR = join(import.meta.dirname, '../../../broker/src/raft/core');
const FORBIDDEN = [/from 'node:/, /\bimport\(/, /\bDate\b/, /Math\.random/, /\bset(Timeout|Interval|Immediate)\b/, /\bperformance\b/, /\bprocess\./];

describe('raft core purity', () => {
  it('imports only relative modules and uses no clock, timer or ambient randomness', () => {
    const files = readdirSync(CORE_DIR).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const file of files) {
      const source = readFileSync(join(CORE_DIR, file), 'utf8').replace(/^\s*\/\/.*$/gm, '');
      for (const pattern of FORBIDDEN) expect({ file, hit: pattern.test(source) }).toEqual({ file, hit: false });
      for (const match of source.matchAll(/from '([^']+)'/g)) expect(match[1]).toMatch(/^\.\/[a-z-]+\.ts$/);
    }
  });
});

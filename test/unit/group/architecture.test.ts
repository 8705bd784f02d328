/**
 * Architecture invariant: broker/src/group is a pure state machine. Time, timers, randomness and persistence
 * are injected; it never imports I/O modules or reads the real clock.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const GROUP_DIR = join(import.meta.dirname, '../../../broker/src/group');
const FORBIDDEN = [
  /from\s+['"]node:/, // no node: built-ins at all (fs, net, timers, crypto...)
  /from\s+['"](fs|net|dgram|http|https|timers|crypto|child_process)['"]/,
  /\bsetTimeout\b|\bsetInterval\b|\bsetImmediate\b/,
  /\bDate\.now\b|\bnew Date\(/,
  /\bMath\.random\b|\brandomUUID\b/,
  /\bprocess\./,
];

describe('broker/src/group architecture', () => {
  it('performs no I/O and reads no real clock or randomness', () => {
    const files = readdirSync(GROUP_DIR).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const source = readFileSync(join(GROUP_DIR, file), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      for (const pattern of FORBIDDEN) expect(pattern.test(source), `${file} matches ${pattern}`).toBe(false);
    }
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_ERROR_CATALOGUE, ConfigError, formatProblems } from '../../../broker/src/config/config-error.ts';

const designPath = new URL('../../../broker/src/config/DESIGN.md', import.meta.url);

describe('configuration error catalogue', () => {
  it('lists exactly the codes documented in DESIGN.md', () => {
    const design = readFileSync(designPath, 'utf8');
    const section = design.slice(design.indexOf('## Error catalogue'));
    const documented = [...section.matchAll(/^\| (CONFIG_[A-Z_]+) \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(CONFIG_ERROR_CATALOGUE).sort());
  });

  it('every code has a meaning and an action', () => {
    for (const [code, entry] of Object.entries(CONFIG_ERROR_CATALOGUE)) {
      expect(entry.meaning.length, code).toBeGreaterThan(10);
      expect(entry.action.length, code).toBeGreaterThan(10);
    }
  });

  it('ConfigError carries every problem and a numbered message', () => {
    const err = new ConfigError([
      { code: 'CONFIG_UNKNOWN_KEY', key: 'a', value: '1', origin: { kind: 'file', path: 'server.properties', line: 3 }, message: 'Unknown configuration key "a"' },
      { code: 'CONFIG_INVALID_VALUE', key: 'b', value: 'x', origin: { kind: 'env', name: 'MILLRACE_B' }, message: 'Invalid value x for configuration b' },
    ]);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.problems).toHaveLength(2);
    expect(err.message).toBe(formatProblems(err.problems));
    expect(err.message.split('\n')).toEqual([
      'Millrace cannot start: 2 configuration problems',
      '  1. server.properties:3: Unknown configuration key "a" [CONFIG_UNKNOWN_KEY]',
      `     To fix: ${CONFIG_ERROR_CATALOGUE.CONFIG_UNKNOWN_KEY.action}.`,
      '  2. environment variable MILLRACE_B: Invalid value x for configuration b [CONFIG_INVALID_VALUE]',
      `     To fix: ${CONFIG_ERROR_CATALOGUE.CONFIG_INVALID_VALUE.action}.`,
    ]);
  });
});

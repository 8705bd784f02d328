import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, LogError, ioError } from '../../../broker/src/log/errors.ts';

const srcDir = fileURLToPath(new URL('../../../broker/src/log/', import.meta.url));
const design = readFileSync(`${srcDir}DESIGN.md`, 'utf8');

describe('error catalogue', () => {
  it('DESIGN.md documents exactly the catalogued codes, with the same Kafka error code', () => {
    const rows = [...design.matchAll(/^\| (LOG_[A-Z_]+) \| [A-Z_]+ \((-?\d+)\) \|/gm)].map((m) => [m[1], Number(m[2])]);
    const catalogue = Object.entries(ERROR_CATALOGUE).map(([code, entry]) => [code, entry.kafkaErrorCode]);
    expect(rows.sort()).toEqual(catalogue.sort());
  });

  it('every code is raised somewhere in the log sources', () => {
    const sources = readdirSync(srcDir)
      .filter((f) => f.endsWith('.ts') && f !== 'errors.ts')
      .map((f) => readFileSync(srcDir + f, 'utf8'))
      .join('\n');
    const errorsTs = readFileSync(`${srcDir}errors.ts`, 'utf8');
    for (const code of Object.keys(ERROR_CATALOGUE)) {
      // ioError (errors.ts) raises the errno-derived codes and invariant() raises LOG_INVARIANT.
      const raisedByHelpers = /new LogError\('(LOG_[A-Z_]+)'/g;
      const helperCodes = [...errorsTs.matchAll(raisedByHelpers)].map((m) => m[1]);
      expect(sources.includes(`'${code}'`) || helperCodes.includes(code), code).toBe(true);
    }
  });

  it('maps errno codes to typed errors naming the path', () => {
    const errno = (code: string): Error => Object.assign(new Error(code), { code });
    expect(ioError(errno('ENOSPC'), 'write', '/d/f.log')).toMatchObject({ code: 'LOG_DISK_FULL', path: '/d/f.log' });
    expect(ioError(errno('EDQUOT'), 'write', '/p')).toMatchObject({ code: 'LOG_DISK_FULL' });
    expect(ioError(errno('EACCES'), 'open', '/p')).toMatchObject({ code: 'LOG_PERMISSION_DENIED' });
    expect(ioError(errno('EROFS'), 'open', '/p')).toMatchObject({ code: 'LOG_PERMISSION_DENIED' });
    expect(ioError(errno('EIO'), 'fsync', '/p')).toMatchObject({ code: 'LOG_IO' });
    const typed = new LogError('LOG_CLOSED', 'x');
    expect(ioError(typed, 'op', '/p')).toBe(typed);
    expect(typed.kafkaErrorCode).toBe(3);
  });
});

import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  formatEpochCheckpoint,
  formatOffsetCheckpoint,
  parseEpochCheckpoint,
  parseOffsetCheckpoint,
} from '../../../broker/src/log/checkpoint-file.ts';
import { LogError, isLogError } from '../../../broker/src/log/errors.ts';
import {
  ensureMetaProperties,
  readMetaProperties,
  readPartitionMetadata,
  writePartitionMetadata,
} from '../../../broker/src/log/meta-properties.ts';
import { defaultLogFs } from '../../../broker/src/log/log-fs.ts';
import { offsetFileName, parseOffsetFileName, parsePartitionDirName, partitionDirName } from '../../../broker/src/log/file-names.ts';
import { writeFileSync, readFileSync } from 'node:fs';
import { cleanupTempDirs, tempDir } from './helpers.ts';

afterEach(cleanupTempDirs);

const corruptAt = (fn: () => unknown): LogError => {
  try {
    fn();
  } catch (err) {
    if (isLogError(err, 'LOG_CORRUPT_FILE')) return err;
    throw err;
  }
  throw new Error('expected LOG_CORRUPT_FILE');
};

describe('checkpoint files (Kafka text format)', () => {
  it('writes the exact Kafka layout', () => {
    const text = formatOffsetCheckpoint([
      { topic: 'orders', partition: 0, offset: 42n },
      { topic: 'my-topic', partition: 12, offset: 0n },
    ]).toString();
    expect(text).toBe('0\n2\norders 0 42\nmy-topic 12 0\n');
    expect(formatEpochCheckpoint([{ epoch: 3, startOffset: 100n }]).toString()).toBe('0\n1\n3 100\n');
  });

  it('round-trips any entries', () => {
    const topic = fc.stringMatching(/^[a-zA-Z0-9._-]{1,40}$/).filter((t) => t !== '.' && t !== '..');
    fc.assert(
      fc.property(fc.array(fc.record({ topic, partition: fc.nat(1000), offset: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }) }), { maxLength: 20 }), (entries) => {
        expect(parseOffsetCheckpoint(formatOffsetCheckpoint(entries), 'x')).toEqual(entries);
      }),
      { numRuns: 100 },
    );
  });

  it('reports corrupt files with the file and byte position of the bad line', () => {
    const err = corruptAt(() => parseOffsetCheckpoint(Buffer.from('0\n2\nt 0 5\nt 1 x\n'), '/d/recovery-point-offset-checkpoint'));
    expect(err.path).toBe('/d/recovery-point-offset-checkpoint');
    expect(err.position).toBe(10);
    expect(err.message).toMatch(/line 4/);
    expect(corruptAt(() => parseOffsetCheckpoint(Buffer.from('1\n0\n'), 'p')).message).toMatch(/version/);
    expect(corruptAt(() => parseOffsetCheckpoint(Buffer.from('0\n3\nt 0 1\n'), 'p')).message).toMatch(/expected 3 entries/);
    expect(corruptAt(() => parseOffsetCheckpoint(Buffer.from(''), 'p')).message).toMatch(/empty|version/);
    expect(corruptAt(() => parseEpochCheckpoint(Buffer.from('0\n1\n-4 10\n'), 'p')).message).toMatch(/malformed/);
  });

  it('never throws anything but a typed error on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        for (const parse of [parseOffsetCheckpoint, parseEpochCheckpoint]) {
          try {
            parse(Buffer.from(bytes), 'p');
          } catch (err) {
            expect(isLogError(err, 'LOG_CORRUPT_FILE')).toBe(true);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('file names', () => {
  it('uses 20-digit offsets and parses partition directories by the last dash', () => {
    expect(offsetFileName(42n, '.log')).toBe('00000000000000000042.log');
    expect(parseOffsetFileName('00000000000000000042.index.swap')).toEqual({ offset: 42n, suffix: '.index.swap' });
    expect(parseOffsetFileName('42.log')).toBeNull();
    expect(partitionDirName({ topic: 'a-b', partition: 3 })).toBe('a-b-3');
    expect(parsePartitionDirName('a-b-3')).toEqual({ topic: 'a-b', partition: 3 });
    expect(parsePartitionDirName('a-b-3.abc-delete')).toBeNull();
    expect(parsePartitionDirName('nodash')).toBeNull();
  });
});

describe('meta.properties and partition.metadata', () => {
  it('creates meta.properties once and validates it afterwards', () => {
    const dir = tempDir();
    const meta = ensureMetaProperties(defaultLogFs, dir, 'cluster-A', 1);
    expect(meta.version).toBe(1);
    expect(meta.directoryId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const text = readFileSync(`${dir}/meta.properties`, 'utf8');
    expect(text).toMatch(/^cluster\.id=cluster-A$/m);
    expect(text).toMatch(/^node\.id=1$/m);
    expect(text).toMatch(/^version=1$/m);
    expect(ensureMetaProperties(defaultLogFs, dir, 'cluster-A', 1)).toEqual(meta);
    expect(() => ensureMetaProperties(defaultLogFs, dir, 'cluster-B', 1)).toThrow(/cluster.id/);
    expect(() => ensureMetaProperties(defaultLogFs, dir, 'cluster-A', 2)).toThrow(/node.id/);
  });

  it('refuses an unsupported version and reports missing fields as corruption', () => {
    const dir = tempDir();
    writeFileSync(`${dir}/meta.properties`, 'version=0\ncluster.id=x\nnode.id=1\n');
    expect(() => readMetaProperties(defaultLogFs, dir)).toThrow(/version/);
    writeFileSync(`${dir}/meta.properties`, 'version=1\ncluster.id=x\n');
    expect(corruptAt(() => readMetaProperties(defaultLogFs, dir)).path).toBe(`${dir}/meta.properties`);
  });

  it('writes partition.metadata as Kafka does and validates it on read', () => {
    const dir = tempDir();
    writePartitionMetadata(defaultLogFs, dir, 'AAAAAAAAAAAAAAAAAAAAAQ');
    expect(readFileSync(`${dir}/partition.metadata`, 'utf8')).toBe('version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAQ\n');
    expect(readPartitionMetadata(defaultLogFs, dir)).toBe('AAAAAAAAAAAAAAAAAAAAAQ');
    writeFileSync(`${dir}/partition.metadata`, 'version: 0\ntopic_id: nope\n');
    expect(corruptAt(() => readPartitionMetadata(defaultLogFs, dir)).message).toMatch(/not a uuid/);
  });
});

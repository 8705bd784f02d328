/**
 * Filesystem seam. Everything the log does to disk goes through a LogFs, so tests can inject ENOSPC,
 * EACCES or a simulated crash at the N-th mutating call.
 *
 * Why most calls are synchronous: an append is a positional write into the page cache (no fsync by default,
 * as in Kafka), and doing it synchronously makes every log operation atomic with respect to the event loop,
 * so the log needs no locks. The slow calls (fsync, tree removal) are asynchronous and never hold log state.
 *
 * `createLogFs` wraps a raw implementation so every failure surfaces as a typed LogError naming the file.
 */
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { ioError } from './errors.ts';

export type OpenMode =
  /** read only */
  | 'read'
  /** read and write an existing file */
  | 'readWrite'
  /** create or truncate, read and write */
  | 'create'
  /** create, failing if it exists */
  | 'createExclusive';

export interface FileStat {
  readonly size: number;
  readonly mtimeMs: number;
  readonly isDirectory: boolean;
}

/** The raw operations, errno-style errors. A fault-injecting test double implements this. */
export interface RawFs {
  open(path: string, mode: OpenMode): number;
  close(fd: number): void;
  read(fd: number, buf: Buffer, bufOffset: number, length: number, position: number): number;
  write(fd: number, buf: Buffer, bufOffset: number, length: number, position: number): number;
  truncate(fd: number, length: number): void;
  fstat(fd: number): FileStat;
  /** fdatasync, off the event loop. */
  datasync(fd: number): Promise<void>;
  datasyncSync(fd: number): void;
  rename(from: string, to: string): void;
  unlink(path: string): void;
  readdir(dir: string): string[];
  mkdir(dir: string): void;
  stat(path: string): FileStat | null;
  readFile(path: string): Buffer;
  /** Makes renames and creations in `dir` durable. */
  syncDir(dir: string): void;
  removeTree(path: string): Promise<void>;
}

const FLAGS: Record<OpenMode, string> = { read: 'r', readWrite: 'r+', create: 'w+', createExclusive: 'wx+' };
const fdatasyncAsync = promisify(fs.fdatasync);

function toStat(s: fs.Stats): FileStat {
  return { size: s.size, mtimeMs: s.mtimeMs, isDirectory: s.isDirectory() };
}

export const nodeRawFs: RawFs = {
  open: (path, mode) => fs.openSync(path, FLAGS[mode]),
  close: (fd) => fs.closeSync(fd),
  read: (fd, buf, bufOffset, length, position) => fs.readSync(fd, buf, bufOffset, length, position),
  write: (fd, buf, bufOffset, length, position) => fs.writeSync(fd, buf, bufOffset, length, position),
  truncate: (fd, length) => fs.ftruncateSync(fd, length),
  fstat: (fd) => toStat(fs.fstatSync(fd)),
  datasync: (fd) => fdatasyncAsync(fd),
  datasyncSync: (fd) => fs.fdatasyncSync(fd),
  rename: (from, to) => fs.renameSync(from, to),
  unlink: (path) => fs.unlinkSync(path),
  readdir: (dir) => fs.readdirSync(dir),
  mkdir: (dir) => {
    fs.mkdirSync(dir, { recursive: true });
  },
  stat: (path) => {
    try {
      return toStat(fs.statSync(path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  },
  readFile: (path) => fs.readFileSync(path),
  syncDir: (dir) => {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  },
  removeTree: (path) => fs.promises.rm(path, { recursive: true, force: true }),
};

/** The typed view the log uses: same calls, LogError failures, short reads/writes handled. */
export interface LogFs {
  open(path: string, mode: OpenMode): number;
  close(fd: number): void;
  /** Reads exactly `length` bytes unless the file ends first; returns the bytes read. */
  readFully(fd: number, buf: Buffer, bufOffset: number, length: number, position: number): number;
  /** Writes all bytes (loops over short writes). */
  writeFully(fd: number, buf: Buffer, bufOffset: number, length: number, position: number): void;
  truncate(fd: number, length: number): void;
  fstat(fd: number): FileStat;
  datasync(fd: number): Promise<void>;
  datasyncSync(fd: number): void;
  rename(from: string, to: string): void;
  unlink(path: string): void;
  /** unlink that ignores a missing file. */
  unlinkIfExists(path: string): void;
  readdir(dir: string): string[];
  mkdir(dir: string): void;
  stat(path: string): FileStat | null;
  readFile(path: string): Buffer;
  syncDir(dir: string): void;
  removeTree(path: string): Promise<void>;
  /**
   * Writes a whole small file atomically: `<path>.tmp`, fsync, rename over `path`, fsync the directory.
   * A crash leaves either the old or the new content, never a mix (Kafka's CheckpointFile does the same).
   */
  writeFileAtomic(path: string, data: Buffer, options?: { readonly fsync?: boolean }): void;
}

const isEnoent = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && 'code' in err && (err).code === 'ENOENT';

const dirOf = (path: string): string => {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? '/' : path.slice(0, slash);
};

export function createLogFs(raw: RawFs = nodeRawFs): LogFs {
  // fd -> path, so errors on fd-based calls can name the file.
  const paths = new Map<number, string>();
  const pathOf = (fd: number): string => paths.get(fd) ?? `fd ${fd}`;
  const wrap = <T>(operation: string, path: string, fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw ioError(err, operation, path);
    }
  };

  const logFs: LogFs = {
    open(path, mode) {
      const fd = wrap('open', path, () => raw.open(path, mode));
      paths.set(fd, path);
      return fd;
    },
    close(fd) {
      const path = pathOf(fd);
      paths.delete(fd);
      wrap('close', path, () => raw.close(fd));
    },
    readFully(fd, buf, bufOffset, length, position) {
      return wrap('read', pathOf(fd), () => {
        let done = 0;
        while (done < length) {
          const n = raw.read(fd, buf, bufOffset + done, length - done, position + done);
          if (n <= 0) break;
          done += n;
        }
        return done;
      });
    },
    writeFully(fd, buf, bufOffset, length, position) {
      wrap('write', pathOf(fd), () => {
        let done = 0;
        while (done < length) {
          const n = raw.write(fd, buf, bufOffset + done, length - done, position + done);
          if (n <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
          done += n;
        }
      });
    },
    truncate: (fd, length) => wrap('truncate', pathOf(fd), () => raw.truncate(fd, length)),
    fstat: (fd) => wrap('fstat', pathOf(fd), () => raw.fstat(fd)),
    async datasync(fd) {
      const path = pathOf(fd);
      try {
        await raw.datasync(fd);
      } catch (err) {
        throw ioError(err, 'fsync', path);
      }
    },
    datasyncSync: (fd) => wrap('fsync', pathOf(fd), () => raw.datasyncSync(fd)),
    rename: (from, to) => wrap('rename', `${from} -> ${to}`, () => raw.rename(from, to)),
    unlink: (path) => wrap('unlink', path, () => raw.unlink(path)),
    unlinkIfExists(path) {
      try {
        raw.unlink(path);
      } catch (err) {
        if (!isEnoent(err)) throw ioError(err, 'unlink', path);
      }
    },
    readdir: (dir) => wrap('readdir', dir, () => raw.readdir(dir)),
    mkdir: (dir) => wrap('mkdir', dir, () => raw.mkdir(dir)),
    stat: (path) => wrap('stat', path, () => raw.stat(path)),
    readFile: (path) => wrap('readFile', path, () => raw.readFile(path)),
    syncDir: (dir) => wrap('fsync directory', dir, () => raw.syncDir(dir)),
    async removeTree(path) {
      try {
        await raw.removeTree(path);
      } catch (err) {
        throw ioError(err, 'remove', path);
      }
    },
    writeFileAtomic(path, data, options = {}) {
      const fsync = options.fsync ?? true;
      const tmp = path + '.tmp';
      const fd = logFs.open(tmp, 'create');
      try {
        logFs.writeFully(fd, data, 0, data.length, 0);
        if (fsync) logFs.datasyncSync(fd);
      } finally {
        logFs.close(fd);
      }
      logFs.rename(tmp, path);
      if (fsync) logFs.syncDir(dirOf(path));
    },
  };
  return logFs;
}

export const defaultLogFs: LogFs = createLogFs();

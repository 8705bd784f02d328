/**
 * Pod addresses: one 127.0.<n>.0/24 per agent, .2 to .254 for pods (.1 stays unused, the node's own address
 * is 127.0.0.1). Several agents on one machine (parallel test files) must not share a subnet, so each claims
 * its <n> with a lock file (`<lockDir>/<n>.lock` holding its PID, taken with O_EXCL; a lock whose PID is dead
 * is taken over). Addresses are handed out round-robin, so a deleted pod's address is not reused at once
 * (clients may still hold connections or cached DNS answers to it).
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const DEFAULT_LOCK_DIR = join(tmpdir(), 'millrace-node-agent-subnets');
/** 127.0.0.x is used by the compat tests' clusters; agents take third octets from this range. */
export const SUBNET_MIN = 16;
export const SUBNET_MAX = 250;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tryLock(path: string): boolean {
  try {
    const fd = openSync(path, 'wx');
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  let owner: number;
  try {
    owner = Number(readFileSync(path, 'utf8').trim());
  } catch {
    return false;
  }
  if (Number.isInteger(owner) && owner > 0 && alive(owner)) return false;
  rmSync(path, { force: true });
  return tryLock(path);
}

export interface SubnetLease {
  /** e.g. "127.0.42." */
  readonly prefix: string;
  readonly octet: number;
  release(): void;
}

/** Claims a subnet: `wanted` if given (fails when taken), else a free one starting at a random place. */
export function claimSubnet(wanted?: number, lockDir: string = DEFAULT_LOCK_DIR): SubnetLease {
  mkdirSync(lockDir, { recursive: true });
  const candidates: number[] = [];
  if (wanted !== undefined) candidates.push(wanted);
  else {
    const span = SUBNET_MAX - SUBNET_MIN + 1;
    const start = Math.floor(Math.random() * span);
    for (let i = 0; i < span; i++) candidates.push(SUBNET_MIN + ((start + i) % span));
  }
  for (const octet of candidates) {
    const path = join(lockDir, `${octet}.lock`);
    if (tryLock(path)) {
      let released = false;
      return {
        prefix: `127.0.${octet}.`,
        octet,
        release: () => {
          if (released) return;
          released = true;
          rmSync(path, { force: true });
        },
      };
    }
  }
  throw new Error(wanted !== undefined ? `pod subnet 127.0.${wanted}.0/24 is taken by another node agent (${lockDir})` : `no free pod subnet in 127.0.${SUBNET_MIN}-${SUBNET_MAX}.0/24 (${lockDir})`);
}

export class IpPool {
  private readonly prefix: string;
  private readonly byKey = new Map<string, string>();
  private readonly used = new Set<string>();
  private next = 2;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** The address of key (allocating one), or `preferred` when it is in this subnet and free (agent restarts). */
  allocate(key: string, preferred?: string): string {
    const existing = this.byKey.get(key);
    if (existing !== undefined) return existing;
    if (preferred !== undefined && preferred.startsWith(this.prefix) && !this.used.has(preferred)) {
      const last = Number(preferred.slice(this.prefix.length));
      if (Number.isInteger(last) && last >= 2 && last <= 254) return this.take(key, preferred);
    }
    for (let i = 0; i < 253; i++) {
      const candidate = `${this.prefix}${this.next}`;
      this.next = this.next >= 254 ? 2 : this.next + 1;
      if (!this.used.has(candidate)) return this.take(key, candidate);
    }
    throw new Error(`pod subnet ${this.prefix}0/24 is full (${this.used.size} pods)`);
  }

  get(key: string): string | undefined {
    return this.byKey.get(key);
  }

  release(key: string): void {
    const ip = this.byKey.get(key);
    if (ip === undefined) return;
    this.byKey.delete(key);
    this.used.delete(ip);
  }

  private take(key: string, ip: string): string {
    this.byKey.set(key, ip);
    this.used.add(ip);
    return ip;
  }
}

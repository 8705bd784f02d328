// Where the third-party clients live once test/compat/setup.sh has installed them.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const COMPAT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = resolve(COMPAT_DIR, '..', '..');
export const CLIENTS_DIR = join(COMPAT_DIR, 'clients');

/** Same rule as setup.sh: ${MILLRACE_CACHE:-$HOME/.cache/millrace}/compat */
export const CACHE_DIR = join(process.env['MILLRACE_CACHE'] ?? join(homedir(), '.cache', 'millrace'), 'compat');

const SETUP_HINT = 'run `bash test/compat/setup.sh` (npm run test:compat does)';

/** sha256 over the files' contents in order: the stamp setup.sh writes (`cat files | sha256sum`). */
function sourceStamp(files: readonly string[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(readFileSync(f));
  return h.digest('hex');
}

function checkBuilt(what: string, artifact: string, stampFile: string, sources: readonly string[]): void {
  if (!existsSync(artifact) || !existsSync(stampFile)) throw new Error(`${what} is not installed (${artifact} missing): ${SETUP_HINT}`);
  const built = readFileSync(stampFile, 'utf8').trim();
  const current = sourceStamp(sources);
  if (built !== current) throw new Error(`${what} in ${artifact} was built from other sources than the working tree: ${SETUP_HINT}`);
}

export interface JavaClient {
  java: string;
  classpath: string;
}

export function javaClient(): JavaClient {
  const dir = join(CACHE_DIR, 'java');
  const source = join(CLIENTS_DIR, 'java', 'CompatClient.java');
  checkBuilt('the Java client program', join(dir, 'classes', 'CompatClient.class'), join(dir, 'classes', '.source-sha256'), [source]);
  return { java: process.env['JAVA'] ?? 'java', classpath: `${join(dir, 'classes')}:${join(dir, 'libs')}/*` };
}

export function franzClient(): string {
  const dir = join(CLIENTS_DIR, 'franz');
  const binary = join(CACHE_DIR, 'franz', 'franz-compat');
  checkBuilt('the franz-go client program', binary, join(CACHE_DIR, 'franz', '.source-sha256'), ['go.mod', 'go.sum', 'main.go'].map((f) => join(dir, f)));
  return binary;
}

/** Debian's interpreter (python3-kafka is installed for it), not a pyenv/venv python earlier on PATH. */
export function kafkaPython(): { python: string; script: string } {
  const python = process.env['MILLRACE_COMPAT_PYTHON'] ?? '/usr/bin/python3';
  if (!existsSync(python)) throw new Error(`${python} not found: ${SETUP_HINT}`);
  return { python, script: join(CLIENTS_DIR, 'python', 'compat_client.py') };
}

export function kcat(): string {
  const path = process.env['KCAT'] ?? '/usr/bin/kcat';
  if (!existsSync(path)) throw new Error(`kcat not found at ${path}: ${SETUP_HINT}`);
  return path;
}

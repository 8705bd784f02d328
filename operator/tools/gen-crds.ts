/**
 * Writes crds/*.yaml from operator/src/api. `--check` writes nothing and exits 1 when a file differs from what
 * would be generated (CI drift check).
 *
 *   node operator/tools/gen-crds.ts [--check]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRD_BYTES_MAX, crdFiles, serializeCrd } from '../src/api/crds.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface GenerateResult {
  readonly path: string;
  readonly bytes: number;
  readonly upToDate: boolean;
}

/** Generates (or with check, compares) every CRD file under root. */
export function generateCrds(root: string, check: boolean): GenerateResult[] {
  return crdFiles().map(({ path, crd }) => {
    const text = serializeCrd(crd);
    const bytes = Buffer.byteLength(text);
    if (bytes > CRD_BYTES_MAX) throw new Error(`${path} is ${bytes} bytes, over the ${CRD_BYTES_MAX}-byte limit`);
    const file = join(root, path);
    const upToDate = existsSync(file) && readFileSync(file, 'utf8') === text;
    if (!check && !upToDate) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
    }
    return { path, bytes, upToDate };
  });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes('--check');
  const results = generateCrds(REPO_ROOT, check);
  for (const r of results) console.log(`${r.path}: ${r.bytes} bytes, ${r.upToDate ? 'up to date' : check ? 'OUT OF DATE' : 'written'}`);
  if (check && results.some((r) => !r.upToDate)) {
    console.error('CRDs are out of date: run node operator/tools/gen-crds.ts');
    process.exitCode = 1;
  }
}

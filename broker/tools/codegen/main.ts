/**
 * Kafka protocol code generator.
 *
 *   node broker/tools/codegen/main.ts [--schemas DIR] [--out DIR] [--check]
 *
 * Reads Apache Kafka's JSON message specs (default ../shared/kafka-schemas beside the repository, or
 * $MILLRACE_KAFKA_SCHEMAS) and writes broker/src/protocol/generated/. With --check it writes nothing and
 * exits 1 when the committed output differs from what the specs produce (CI's drift check).
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSchemas, type MessageSpec } from './schema.ts';
import { emitMessage, GENERATED_BANNER, kebabCase, lowerFirst } from './emit-message.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export const defaultSchemaRoot = (): string =>
  process.env['MILLRACE_KAFKA_SCHEMAS'] ?? resolve(repoRoot, '../shared/kafka-schemas');
export const defaultOutputRoot = (): string => join(repoRoot, 'broker/src/protocol/generated');

/** Generates every file: relative path -> content. Pure apart from reading the specs. */
export function generateAll(schemaRoot: string): Map<string, string> {
  const messages = loadSchemas(schemaRoot);
  const files = new Map<string, string>();
  const exported = new Map<string, string>();
  for (const m of messages) {
    const emitted = emitMessage(m);
    for (const name of emitted.exports) {
      const other = exported.get(name);
      if (other !== undefined) throw new Error(`generated name ${name} is exported by both ${other} and ${m.file}`);
      exported.set(name, m.file);
    }
    files.set(emitted.path, emitted.source);
  }
  files.set('index.ts', emitIndex(messages));
  return files;
}

const importPath = (m: MessageSpec): string => `./${m.group}/${kebabCase(m.name)}.ts`;

function emitIndex(messages: readonly MessageSpec[]): string {
  const lines: string[] = [GENERATED_BANNER, ''];
  lines.push('/* Every generated message, and tables keyed by API key and metadata record type. */');
  lines.push("import type { Reader } from '../wire/reader.ts';");
  lines.push("import type { Writer } from '../wire/writer.ts';");
  const imports: string[] = [];
  for (const m of messages) {
    imports.push(`import { ${lowerFirst(m.name)}Meta, read${m.name}, write${m.name}, default${m.name}, type ${m.name} } from '${importPath(m)}';`);
  }
  lines.push(...imports, '');
  for (const m of messages) lines.push(`export * from '${importPath(m)}';`);
  lines.push('');
  lines.push('export interface MessageCodec<T> {');
  lines.push('  readonly name: string;');
  lines.push('  readonly minVersion: number;');
  lines.push('  readonly maxVersion: number;');
  lines.push('  readonly flexibleMinVersion: number;');
  lines.push('  readonly read: (r: Reader, version: number) => T;');
  lines.push('  readonly write: (w: Writer, value: T, version: number) => void;');
  lines.push('  readonly create: () => T;');
  lines.push('}', '');
  lines.push('export interface ApiSpec<Req = unknown, Res = unknown> {');
  lines.push('  readonly apiKey: number;');
  lines.push('  /** Kafka\'s name for the API, e.g. Produce. */');
  lines.push('  readonly name: string;');
  lines.push('  readonly minVersion: number;');
  lines.push('  readonly maxVersion: number;');
  lines.push('  readonly flexibleMinVersion: number;');
  lines.push('  readonly deprecatedVersions: { readonly min: number; readonly max: number } | null;');
  lines.push('  readonly latestVersionUnstable: boolean;');
  lines.push('  readonly listeners: readonly string[];');
  lines.push('  readonly request: MessageCodec<Req>;');
  lines.push('  readonly response: MessageCodec<Res>;');
  lines.push('}', '');
  const codec = (m: MessageSpec): string => {
    const meta = `${lowerFirst(m.name)}Meta`;
    return `{ name: ${meta}.name, minVersion: ${meta}.minVersion, maxVersion: ${meta}.maxVersion, flexibleMinVersion: ${meta}.flexibleMinVersion, read: read${m.name}, write: write${m.name}, create: default${m.name} }`;
  };
  const requests = messages.filter((m) => m.kind === 'request').sort((a, b) => (a.apiKey ?? 0) - (b.apiKey ?? 0));
  const responses = new Map(messages.filter((m) => m.kind === 'response').map((m) => [m.apiKey, m]));
  lines.push('/** Request type by API key. */');
  lines.push('export interface RequestByApiKey {');
  for (const req of requests) lines.push(`  ${req.apiKey}: ${req.name};`);
  lines.push('}', '');
  lines.push('/** Response type by API key. */');
  lines.push('export interface ResponseByApiKey {');
  for (const req of requests) lines.push(`  ${req.apiKey}: ${(responses.get(req.apiKey) as MessageSpec).name};`);
  lines.push('}', '');
  lines.push('export type ApiKey = keyof RequestByApiKey;', '');
  lines.push('/** Every API in Kafka\'s specs, by API key. */');
  lines.push('export const API_SPECS: { readonly [K in ApiKey]: ApiSpec<RequestByApiKey[K], ResponseByApiKey[K]> } = {');
  for (const req of requests) {
    const res = responses.get(req.apiKey);
    if (!res) throw new Error(`${req.file}: no response spec with apiKey ${req.apiKey}`);
    if (res.validVersions.min !== req.validVersions.min || res.validVersions.max !== req.validVersions.max) {
      throw new Error(`${req.file}: request and response valid versions differ`);
    }
    const meta = `${lowerFirst(req.name)}Meta`;
    lines.push(`  ${req.apiKey}: {`);
    lines.push(`    apiKey: ${req.apiKey},`);
    lines.push(`    name: '${req.name.replace(/Request$/, '')}',`);
    lines.push(`    minVersion: ${meta}.minVersion,`);
    lines.push(`    maxVersion: ${meta}.maxVersion,`);
    lines.push(`    flexibleMinVersion: ${meta}.flexibleMinVersion,`);
    lines.push(`    deprecatedVersions: ${meta}.deprecatedVersions,`);
    lines.push(`    latestVersionUnstable: ${meta}.latestVersionUnstable,`);
    lines.push(`    listeners: ${meta}.listeners,`);
    lines.push(`    request: ${codec(req)},`);
    lines.push(`    response: ${codec(res)},`);
    lines.push('  },');
  }
  lines.push('};', '');
  lines.push('export const apiSpec = (apiKey: number): ApiSpec | undefined =>');
  lines.push('  (API_SPECS as Record<number, ApiSpec | undefined>)[apiKey];', '');

  const records = messages.filter((m) => m.kind === 'metadata').sort((a, b) => (a.apiKey ?? 0) - (b.apiKey ?? 0));
  lines.push('/** KRaft metadata record type by record type id (the spec\'s apiKey). */');
  lines.push('export interface MetadataRecordByType {');
  for (const m of records) lines.push(`  ${m.apiKey}: ${m.name};`);
  lines.push('}', '');
  lines.push('export type MetadataRecordType = keyof MetadataRecordByType;', '');
  lines.push('/** Every KRaft metadata record codec, by record type id. */');
  lines.push('export const METADATA_RECORD_SPECS: { readonly [K in MetadataRecordType]: MessageCodec<MetadataRecordByType[K]> & { readonly type: K } } = {');
  for (const m of records) lines.push(`  ${m.apiKey}: { type: ${m.apiKey}, ...${codec(m)} },`);
  lines.push('};', '');

  const data = messages.filter((m) => m.kind === 'data' || m.kind === 'header');
  lines.push('/** Non-API messages (headers, raft state, coordinator records, embedded protocols), by name. */');
  lines.push('export const DATA_SPECS = {');
  for (const m of data) lines.push(`  ${m.name}: ${codec(m)} as MessageCodec<${m.name}>,`);
  lines.push('} as const;', '');
  return lines.join('\n');
}

function listFiles(root: string, dir = root): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(root, path));
    else out.push(relative(root, path));
  }
  return out;
}

function main(argv: readonly string[]): number {
  let schemaRoot = defaultSchemaRoot();
  let outRoot = defaultOutputRoot();
  let check = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--schemas') schemaRoot = resolve(argv[++i] ?? '');
    else if (arg === '--out') outRoot = resolve(argv[++i] ?? '');
    else if (arg === '--check') check = true;
    else {
      console.error(`unknown argument ${arg}\nusage: main.ts [--schemas DIR] [--out DIR] [--check]`);
      return 2;
    }
  }
  console.log(`codegen: reading Kafka message specs from ${schemaRoot}`);
  const files = generateAll(schemaRoot);
  const existing = new Set(listFiles(outRoot));
  if (check) {
    const drift: string[] = [];
    for (const [path, content] of files) {
      if (!existing.has(path)) drift.push(`missing: ${path}`);
      else if (readFileSync(join(outRoot, path), 'utf8') !== content) drift.push(`differs: ${path}`);
      existing.delete(path);
    }
    for (const path of existing) drift.push(`not generated (stale): ${path}`);
    if (drift.length > 0) {
      console.error(`codegen: generated code is out of date (${drift.length} files):\n  ${drift.slice(0, 20).join('\n  ')}`);
      console.error('codegen: run `npm run generate` and commit the result.');
      return 1;
    }
    console.log(`codegen: ${files.size} generated files match the specs`);
    return 0;
  }
  for (const path of existing) if (!files.has(path)) rmSync(join(outRoot, path));
  for (const [path, content] of files) {
    mkdirSync(dirname(join(outRoot, path)), { recursive: true });
    writeFileSync(join(outRoot, path), content);
  }
  console.log(`codegen: wrote ${files.size} files to ${relative(process.cwd(), outRoot) || '.'}`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1] ?? ''}` || process.argv[1]?.endsWith('codegen/main.ts')) {
  process.exitCode = main(process.argv.slice(2));
}

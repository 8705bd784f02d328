/**
 * Loads Apache Kafka's JSON message specs and normalizes them into a typed model the emitter walks.
 * Shared by the code generator and by the tests that check coverage and generate random messages.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Inclusive version range; `max` is Infinity for "N+"; an empty range has min > max. */
export interface VersionRange {
  readonly min: number;
  readonly max: number;
}

export const NO_VERSIONS: VersionRange = { min: 1, max: 0 };

export type PrimitiveName =
  | 'bool' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'float64'
  | 'string' | 'bytes' | 'uuid' | 'records';

export type FieldType =
  | { readonly kind: 'primitive'; readonly name: PrimitiveName }
  | { readonly kind: 'array'; readonly element: FieldType }
  | { readonly kind: 'struct'; readonly struct: StructSpec };

export interface StructSpec {
  /** Name as written in the spec, e.g. TopicProduceData. */
  readonly name: string;
  readonly fields: readonly FieldSpec[];
}

export interface FieldSpec {
  /** Spec name, e.g. ThrottleTimeMs. */
  readonly name: string;
  /** camelCase property name, e.g. throttleTimeMs. */
  readonly property: string;
  readonly type: FieldType;
  readonly versions: VersionRange;
  readonly nullableVersions: VersionRange;
  readonly taggedVersions: VersionRange;
  readonly tag: number | null;
  readonly ignorable: boolean;
  /** Raw default from the spec (string form), or null when absent. */
  readonly defaultValue: string | null;
  /** Overrides the message's flexible versions for this field's string/bytes encoding (RequestHeader.ClientId). */
  readonly flexibleVersions: VersionRange | null;
  readonly about: string;
}

export type MessageKind = 'request' | 'response' | 'header' | 'data' | 'metadata';

export interface MessageSpec {
  readonly file: string;
  /** Folder under the schema root (clients, metadata, raft, ...). */
  readonly group: string;
  readonly name: string;
  readonly kind: MessageKind;
  readonly apiKey: number | null;
  readonly validVersions: VersionRange;
  readonly flexibleVersions: VersionRange;
  readonly deprecatedVersions: VersionRange;
  readonly latestVersionUnstable: boolean;
  readonly listeners: readonly string[];
  readonly fields: readonly FieldSpec[];
  /** Every struct type reachable from the message, by name, in first-use order. */
  readonly structs: readonly StructSpec[];
}

/** Schema folders the codec covers. `streams/` is a Kafka Streams client-internal format, not a broker concern. */
export const SCHEMA_GROUPS = ['clients', 'metadata', 'raft', 'group-coordinator', 'transaction-coordinator', 'share-coordinator'] as const;

export class SchemaError extends Error {
  override readonly name = 'SchemaError';
}

export function parseVersions(text: string | number | undefined | null, where: string): VersionRange {
  if (text === undefined || text === null) return NO_VERSIONS;
  const s = String(text).trim();
  if (s === 'none') return NO_VERSIONS;
  let m = /^(\d+)\+$/.exec(s);
  if (m) return { min: Number(m[1]), max: Infinity };
  m = /^(\d+)-(\d+)$/.exec(s);
  if (m) return { min: Number(m[1]), max: Number(m[2]) };
  m = /^(\d+)$/.exec(s);
  if (m) return { min: Number(m[1]), max: Number(m[1]) };
  throw new SchemaError(`${where}: cannot parse version range ${JSON.stringify(text)}`);
}

export const inRange = (r: VersionRange, v: number): boolean => v >= r.min && v <= r.max;
export const isEmpty = (r: VersionRange): boolean => r.min > r.max;
export const intersect = (a: VersionRange, b: VersionRange): VersionRange => ({ min: Math.max(a.min, b.min), max: Math.min(a.max, b.max) });

/** Strips `//` line comments and block comments outside strings (Kafka's specs are JSON with comments). */
export function stripJsonComments(text: string): string {
  let out = '';
  let i = 0;
  let inString = false;
  while (i < text.length) {
    const c = text[i] as string;
    if (inString) {
      out += c;
      if (c === '\\') { out += text[i + 1] ?? ''; i += 2; continue; }
      if (c === '"') inString = false;
      i++;
    } else if (c === '"') {
      inString = true; out += c; i++;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
    } else {
      out += c; i++;
    }
  }
  return out;
}

const PRIMITIVES = new Set<string>(['bool', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64', 'string', 'bytes', 'uuid', 'records']);

interface RawField {
  name: string; type: string; versions?: string; nullableVersions?: string; taggedVersions?: string; tag?: number;
  ignorable?: boolean; default?: string | number | boolean | null; flexibleVersions?: string; about?: string; fields?: RawField[];
}
interface RawStruct { name: string; versions?: string; fields: RawField[] }
interface RawMessage {
  apiKey?: number; type: string; name: string; validVersions: string; flexibleVersions?: string;
  deprecatedVersions?: string; latestVersionUnstable?: boolean; listeners?: string[]; fields?: RawField[]; commonStructs?: RawStruct[];
}

export const camelCase = (name: string): string => name.charAt(0).toLowerCase() + name.slice(1);

export function parseMessage(rawText: string, file: string, group: string): MessageSpec {
  const raw = JSON.parse(stripJsonComments(rawText)) as RawMessage;
  const where = file;
  const kind = raw.type as MessageKind;
  if (!['request', 'response', 'header', 'data', 'metadata'].includes(kind)) throw new SchemaError(`${where}: unknown message type ${raw.type}`);
  const common = new Map<string, RawStruct>();
  for (const s of raw.commonStructs ?? []) common.set(s.name, s);
  const structs = new Map<string, StructSpec>();

  const structOf = (typeName: string, inline: RawField[] | undefined, fieldWhere: string): StructSpec => {
    const existing = structs.get(typeName);
    if (existing && !inline) return existing;
    if (existing && inline) return existing; // the same struct declared inline twice: Kafka requires identical bodies
    const source = inline ?? common.get(typeName)?.fields;
    if (!source) throw new SchemaError(`${fieldWhere}: struct type ${typeName} has no fields and is not a common struct`);
    const placeholder: { name: string; fields: FieldSpec[] } = { name: typeName, fields: [] };
    structs.set(typeName, placeholder);
    for (const f of source) placeholder.fields.push(fieldOf(f, `${fieldWhere}.${f.name}`));
    return placeholder;
  };

  const typeOf = (typeName: string, inline: RawField[] | undefined, fieldWhere: string): FieldType => {
    if (typeName.startsWith('[]')) return { kind: 'array', element: typeOf(typeName.slice(2), inline, fieldWhere) };
    if (PRIMITIVES.has(typeName)) {
      if (inline) throw new SchemaError(`${fieldWhere}: primitive type ${typeName} with fields`);
      return { kind: 'primitive', name: typeName as PrimitiveName };
    }
    if (!/^[A-Z]\w*$/.test(typeName)) throw new SchemaError(`${fieldWhere}: unknown type ${typeName}`);
    return { kind: 'struct', struct: structOf(typeName, inline, fieldWhere) };
  };

  const fieldOf = (f: RawField, fieldWhere: string): FieldSpec => {
    const taggedVersions = parseVersions(f.taggedVersions, fieldWhere);
    // A tagged-only field may omit `versions` (TransactionLogValue): it exists exactly in its tagged versions.
    const versions = f.versions === undefined && !isEmpty(taggedVersions) ? taggedVersions : parseVersions(f.versions, fieldWhere);
    if (!isEmpty(taggedVersions) && f.tag === undefined) throw new SchemaError(`${fieldWhere}: taggedVersions without tag`);
    return {
      name: f.name,
      property: camelCase(f.name),
      type: typeOf(f.type, f.fields, fieldWhere),
      versions,
      nullableVersions: parseVersions(f.nullableVersions, fieldWhere),
      taggedVersions,
      tag: f.tag ?? null,
      ignorable: f.ignorable === true,
      defaultValue: f.default === undefined || f.default === null ? (f.default === null ? 'null' : null) : String(f.default),
      flexibleVersions: f.flexibleVersions === undefined ? null : parseVersions(f.flexibleVersions, fieldWhere),
      about: f.about ?? '',
    };
  };

  const fields = (raw.fields ?? []).map((f) => fieldOf(f, `${where}:${f.name}`));
  return {
    file, group, name: raw.name, kind,
    apiKey: raw.apiKey ?? null,
    validVersions: parseVersions(raw.validVersions, where),
    flexibleVersions: parseVersions(raw.flexibleVersions ?? 'none', where),
    deprecatedVersions: parseVersions(raw.deprecatedVersions, where),
    latestVersionUnstable: raw.latestVersionUnstable === true,
    listeners: raw.listeners ?? [],
    fields,
    structs: [...structs.values()],
  };
}

/** Every spec file under the covered groups, sorted for deterministic output. */
export function listSchemaFiles(schemaRoot: string): { group: string; file: string; path: string }[] {
  const out: { group: string; file: string; path: string }[] = [];
  for (const group of SCHEMA_GROUPS) {
    let names: string[];
    try {
      names = readdirSync(join(schemaRoot, group));
    } catch (cause) {
      throw new SchemaError(`cannot read schema folder ${join(schemaRoot, group)}: set MILLRACE_KAFKA_SCHEMAS or --schemas to Kafka's message spec folder`, { cause });
    }
    for (const file of names.filter((n) => n.endsWith('.json')).sort()) out.push({ group, file, path: join(schemaRoot, group, file) });
  }
  return out;
}

export function loadSchemas(schemaRoot: string): MessageSpec[] {
  return listSchemaFiles(schemaRoot).map(({ group, file, path }) => parseMessage(readFileSync(path, 'utf8'), `${group}/${file}`, group));
}

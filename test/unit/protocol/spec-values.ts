/**
 * Schema-driven random values for property tests: for a message spec and a version, a fast-check arbitrary
 * producing exactly what the decoder returns for that version (absent fields hold their defaults, nulls only
 * where the version allows them, unknown tagged fields only in flexible versions).
 */
import fc from 'fast-check';
import * as generated from '../../../broker/src/protocol/generated/index.ts';
import { type FieldSpec, type FieldType, type MessageSpec, type StructSpec, inRange, loadSchemas } from '../../../broker/tools/codegen/schema.ts';
import { defaultSchemaRoot } from '../../../broker/tools/codegen/main.ts';

export const schemaRoot = defaultSchemaRoot();
export const allSpecs: MessageSpec[] = loadSchemas(schemaRoot);

const exportsByName = generated as unknown as Record<string, unknown>;

export function generatedFunction<T extends (...args: never[]) => unknown>(name: string): T {
  const fn = exportsByName[name];
  if (typeof fn !== 'function') throw new Error(`generated code has no export ${name}`);
  return fn as T;
}

export const versionsOf = (m: MessageSpec): number[] => {
  const out: number[] = [];
  for (let v = m.validVersions.min; v <= m.validVersions.max; v++) out.push(v);
  return out;
};

const isFlexible = (m: MessageSpec, version: number): boolean => inRange(m.flexibleVersions, version);
const typeName = (m: MessageSpec, s: StructSpec | null): string => (s === null ? m.name : `${m.name}${s.name}`);

type Value = unknown;

function primitive(name: string): fc.Arbitrary<Value> {
  switch (name) {
    case 'bool': return fc.boolean();
    case 'int8': return fc.integer({ min: -128, max: 127 });
    case 'int16': return fc.integer({ min: -32768, max: 32767 });
    case 'uint16': return fc.integer({ min: 0, max: 65535 });
    case 'int32': return fc.integer({ min: -2147483648, max: 2147483647 });
    case 'uint32': return fc.integer({ min: 0, max: 4294967295 });
    case 'int64': return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case 'float64': return fc.double();
    case 'string': return fc.string({ unit: 'binary', maxLength: 12 });
    case 'uuid': return fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('base64url'));
    case 'bytes': case 'records': return fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b));
    default: throw new Error(`no arbitrary for ${name}`);
  }
}

function valueOf(m: MessageSpec, t: FieldType, version: number, depth: number): fc.Arbitrary<Value> {
  switch (t.kind) {
    case 'primitive': return primitive(t.name);
    case 'array': return fc.array(valueOf(m, t.element, version, depth + 1), { maxLength: depth > 2 ? 1 : 3 });
    case 'struct': return structValue(m, t.struct, t.struct.fields, version, depth + 1);
  }
}

function fieldValue(m: MessageSpec, f: FieldSpec, version: number, depth: number): fc.Arbitrary<Value> | null {
  if (!inRange(f.versions, version)) return null; // absent in this version: keeps the default
  const base = valueOf(m, f.type, version, depth);
  return inRange(f.nullableVersions, version) ? fc.option(base, { nil: null, freq: 4 }) : base;
}

function allTags(fields: readonly FieldSpec[]): Set<number> {
  return new Set(fields.filter((f) => f.tag !== null).map((f) => f.tag as number));
}

export function structValue(m: MessageSpec, s: StructSpec | null, fields: readonly FieldSpec[], version: number, depth = 0): fc.Arbitrary<Value> {
  const create = generatedFunction<() => Record<string, unknown>>(`default${typeName(m, s)}`);
  const parts: Record<string, fc.Arbitrary<Value>> = {};
  for (const f of fields) {
    const arb = fieldValue(m, f, version, depth);
    if (arb !== null) parts[f.property] = arb;
  }
  const known = allTags(fields);
  const unknownTags = isFlexible(m, version)
    ? fc.uniqueArray(fc.integer({ min: 0, max: 40 }).filter((t) => !known.has(t)), { maxLength: 2 })
      .chain((tags) => fc.tuple(...tags.sort((a, b) => a - b).map((tag) => fc.uint8Array({ maxLength: 6 }).map((d) => ({ tag, data: Buffer.from(d) })))))
    : fc.constant([]);
  return fc.record({ fields: fc.record(parts), unknown: unknownTags }).map(({ fields: values, unknown }) => {
    const out = { ...create(), ...values };
    if (unknown.length > 0) out['_unknownTaggedFields'] = unknown;
    return out;
  });
}

export const messageValue = (m: MessageSpec, version: number): fc.Arbitrary<Value> => structValue(m, null, m.fields, version);

// API names and header versions for captured frames, read from the Apache Kafka message schemas in
// the shared folder beside the repo (../shared/kafka-schemas/clients, override with KAFKA_SCHEMAS_DIR).
// Used only to label fixtures; capture still works (with "Api<key>" names) when the schemas are absent.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const DEFAULT_SCHEMAS_DIR = resolve(REPO_ROOT, '..', 'shared', 'kafka-schemas', 'clients');

export interface ApiInfo {
  readonly apiKey: number;
  readonly name: string;
  /** Lowest flexible version, or null when the API has no flexible version. */
  readonly firstFlexibleVersion: number | null;
}

/** Removes `//` comments outside of JSON strings. */
export function stripJsonComments(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') {
        out += text[i + 1] ?? '';
        i++;
      } else if (c === '"') {
        inString = false;
      }
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else {
      out += c;
    }
  }
  return out;
}

function firstFlexible(spec: unknown): number | null {
  if (typeof spec !== 'string' || spec === 'none') return null;
  const m = /^(\d+)/.exec(spec);
  return m?.[1] !== undefined ? Number(m[1]) : null;
}

export class ApiCatalog {
  readonly byKey = new Map<number, ApiInfo>();
  readonly source: string | null;

  constructor(schemasDir: string = process.env['KAFKA_SCHEMAS_DIR'] ?? DEFAULT_SCHEMAS_DIR) {
    if (!existsSync(schemasDir)) {
      this.source = null;
      return;
    }
    this.source = schemasDir;
    for (const file of readdirSync(schemasDir)) {
      if (!file.endsWith('Request.json')) continue;
      const json = JSON.parse(stripJsonComments(readFileSync(join(schemasDir, file), 'utf8'))) as Record<string, unknown>;
      if (json['type'] !== 'request' || typeof json['apiKey'] !== 'number' || typeof json['name'] !== 'string') continue;
      this.byKey.set(json['apiKey'], {
        apiKey: json['apiKey'],
        name: json['name'].replace(/Request$/, ''),
        firstFlexibleVersion: firstFlexible(json['flexibleVersions']),
      });
    }
  }

  name(apiKey: number): string {
    return this.byKey.get(apiKey)?.name ?? `Api${apiKey}`;
  }

  /** null when unknown (no schema for the key). */
  isFlexible(apiKey: number, apiVersion: number): boolean | null {
    const info = this.byKey.get(apiKey);
    if (info === undefined) return null;
    return info.firstFlexibleVersion !== null && apiVersion >= info.firstFlexibleVersion;
  }

  /** Request header version: 2 for flexible versions, else 1 (ControlledShutdown v0 uses 0; not seen here). */
  requestHeaderVersion(apiKey: number, apiVersion: number): number | null {
    const flexible = this.isFlexible(apiKey, apiVersion);
    return flexible === null ? null : flexible ? 2 : 1;
  }

  /** Response header version: 1 for flexible versions, else 0; ApiVersions responses always use 0. */
  responseHeaderVersion(apiKey: number, apiVersion: number): number | null {
    if (apiKey === 18) return 0;
    const flexible = this.isFlexible(apiKey, apiVersion);
    return flexible === null ? null : flexible ? 1 : 0;
  }
}

/**
 * Pod volumes as directories on the host, bind-mounted into the container's mount namespace (mounts.ts).
 *
 * - configMap, secret, downwardAPI, projected (serviceAccountToken, configMap, secret, downwardAPI): written
 *   with the kubelet's atomic-writer layout (`..<stamp>/` holds the files, `..data` -> it, each top-level entry a
 *   symlink through `..data`), so an update swaps `..data` in one rename and a running container sees either the
 *   old or the new set, never a mix. They are rewritten when their sources change and the token is re-requested
 *   at 80% of its lifetime, as the kubelet does.
 * - emptyDir: a directory of the pod, removed with the pod.
 * - persistentVolumeClaim: `<state>/pvcs/<ns>/<claim>`, which outlives the pod (the agent's PV stand-in); see
 *   pvc.ts for the PersistentVolume objects and the uid guard.
 * - hostPath: the host path itself.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize, sep } from 'node:path';
import { fieldRefValue, resourceFieldValue, type NodeResources } from './env.ts';
import type { DownwardApiFile, KeyToPath, Pod, Volume } from './kube.ts';

export interface FileContent {
  readonly data: Buffer;
  readonly mode: number;
}

const DATA_LINK = '..data';

function checkRelative(path: string): string {
  const n = normalize(path);
  if (n.startsWith('..') || n.startsWith(sep) || n === '.' || n === '') throw new VolumeError(`invalid volume file path "${path}"`);
  return n;
}

function currentFiles(dir: string): Map<string, FileContent> | null {
  const data = join(dir, DATA_LINK);
  if (!existsSync(data)) return null;
  const files = new Map<string, FileContent>();
  const walk = (base: string, rel: string): void => {
    for (const entry of readdirSync(join(base, rel), { withFileTypes: true })) {
      const r = rel === '' ? entry.name : join(rel, entry.name);
      if (entry.isDirectory()) walk(base, r);
      else files.set(r, { data: readFileSync(join(base, r)), mode: lstatSync(join(base, r)).mode & 0o7777 });
    }
  };
  walk(data, '');
  return files;
}

function sameFiles(a: ReadonlyMap<string, FileContent>, b: ReadonlyMap<string, FileContent>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const o = b.get(k);
    if (o === undefined || o.mode !== v.mode || !o.data.equals(v.data)) return false;
  }
  return true;
}

let stampCounter = 0;

/** Writes files into dir with the atomic-writer layout. Returns false when nothing changed. */
export function writeAtomic(dir: string, files: ReadonlyMap<string, FileContent>): boolean {
  mkdirSync(dir, { recursive: true });
  const before = currentFiles(dir);
  if (before !== null && sameFiles(before, files)) return false;
  const stamp = `..${new Date().toISOString().replace(/[-:.TZ]/g, '_')}${process.pid}_${stampCounter++}`;
  const stampDir = join(dir, stamp);
  mkdirSync(stampDir, { recursive: true });
  for (const [rel, content] of files) {
    const path = join(stampDir, checkRelative(rel));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content.data, { mode: content.mode });
    chmodSync(path, content.mode);
  }
  const oldStamp = existsSync(join(dir, DATA_LINK)) ? readlinkSync(join(dir, DATA_LINK)) : null;
  const tmpLink = join(dir, '..data_tmp');
  rmSync(tmpLink, { force: true });
  symlinkSync(stamp, tmpLink);
  renameSync(tmpLink, join(dir, DATA_LINK));
  const top = new Set([...files.keys()].map((rel) => checkRelative(rel).split(sep)[0] ?? rel));
  for (const name of top) {
    const link = join(dir, name);
    if (!existsSync(link)) symlinkSync(join(DATA_LINK, name), link);
  }
  for (const entry of readdirSync(dir)) {
    if (entry.startsWith('..')) continue;
    if (!top.has(entry)) rmSync(join(dir, entry), { force: true, recursive: true });
  }
  if (oldStamp !== null && oldStamp !== stamp) rmSync(join(dir, oldStamp), { recursive: true, force: true });
  return true;
}

export class VolumeError extends Error {
  override readonly name = 'VolumeError';
}

export interface ConfigMapData {
  readonly data: Readonly<Record<string, string>>;
  readonly binaryData: Readonly<Record<string, string>>;
}

export interface ServiceAccountToken {
  readonly token: string;
  /** Epoch ms. */
  readonly expiresAt: number;
}

export interface VolumeSources {
  configMap(namespace: string, name: string): Promise<ConfigMapData | undefined>;
  /** Decoded (utf8 strings are not assumed: Buffers). */
  secret(namespace: string, name: string): Promise<ReadonlyMap<string, Buffer> | undefined>;
  /** TokenRequest for the pod's service account, bound to the pod. */
  token(pod: Pod, audience: string | undefined, expirationSeconds: number): Promise<ServiceAccountToken>;
}

function selectKeys(kind: string, name: string, available: ReadonlyMap<string, Buffer>, items: readonly KeyToPath[] | undefined, mode: number, optional: boolean): Map<string, FileContent> {
  const files = new Map<string, FileContent>();
  if (items === undefined || items.length === 0) {
    for (const [k, v] of available) files.set(k, { data: v, mode });
    return files;
  }
  for (const item of items) {
    const v = available.get(item.key);
    if (v === undefined) {
      if (optional) continue;
      throw new VolumeError(`configuration error: key "${item.key}" not found in ${kind} "${name}"`);
    }
    files.set(item.path, { data: v, mode: item.mode ?? mode });
  }
  return files;
}

const configMapEntries = (cm: ConfigMapData): Map<string, Buffer> => new Map([
  ...Object.entries(cm.data).map(([k, v]) => [k, Buffer.from(v, 'utf8')] as const),
  ...Object.entries(cm.binaryData).map(([k, v]) => [k, Buffer.from(v, 'base64')] as const),
]);

export interface VolumeContext {
  readonly pod: Pod;
  readonly podIp: string;
  readonly hostIp: string;
  readonly node: NodeResources;
  readonly sources: VolumeSources;
  /** Cached tokens of this pod by "<audience>|<expirationSeconds>", renewed at 80% of their lifetime. */
  readonly tokens: Map<string, ServiceAccountToken & { issuedAt: number }>;
  readonly now: () => number;
}

function downwardFiles(ctx: VolumeContext, items: readonly DownwardApiFile[] | undefined, mode: number): Map<string, FileContent> {
  const files = new Map<string, FileContent>();
  for (const item of items ?? []) {
    let value: string;
    if (item.fieldRef !== undefined) value = fieldRefValue(ctx.pod, item.fieldRef, ctx.podIp, ctx.hostIp, true);
    else if (item.resourceFieldRef !== undefined) value = resourceFieldValue(ctx.pod, undefined, item.resourceFieldRef, ctx.node);
    else continue;
    files.set(item.path, { data: Buffer.from(value, 'utf8'), mode: item.mode ?? mode });
  }
  return files;
}

async function tokenFor(ctx: VolumeContext, audience: string | undefined, expirationSeconds: number): Promise<string> {
  const key = `${audience ?? ''}|${expirationSeconds}`;
  const cached = ctx.tokens.get(key);
  const now = ctx.now();
  if (cached !== undefined && now < cached.issuedAt + 0.8 * (cached.expiresAt - cached.issuedAt)) return cached.token;
  const fresh = await ctx.sources.token(ctx.pod, audience, expirationSeconds);
  ctx.tokens.set(key, { ...fresh, issuedAt: now });
  return fresh.token;
}

/** The files of a configMap / secret / downwardAPI / projected volume; null for the other kinds. */
export async function volumeFiles(volume: Volume, ctx: VolumeContext): Promise<Map<string, FileContent> | null> {
  const ns = ctx.pod.metadata.namespace ?? 'default';
  if (volume.configMap !== undefined) {
    const src = volume.configMap;
    const cm = await ctx.sources.configMap(ns, src.name);
    if (cm === undefined) {
      if (src.optional === true) return new Map();
      throw new VolumeError(`MountVolume.SetUp failed for volume "${volume.name}": configmap "${src.name}" not found`);
    }
    return selectKeys('ConfigMap', src.name, configMapEntries(cm), src.items, src.defaultMode ?? 0o644, src.optional === true);
  }
  if (volume.secret !== undefined) {
    const src = volume.secret;
    const secret = await ctx.sources.secret(ns, src.secretName);
    if (secret === undefined) {
      if (src.optional === true) return new Map();
      throw new VolumeError(`MountVolume.SetUp failed for volume "${volume.name}": secret "${src.secretName}" not found`);
    }
    return selectKeys('Secret', src.secretName, secret, src.items, src.defaultMode ?? 0o644, src.optional === true);
  }
  if (volume.downwardAPI !== undefined) return downwardFiles(ctx, volume.downwardAPI.items, volume.downwardAPI.defaultMode ?? 0o644);
  if (volume.projected !== undefined) {
    const mode = volume.projected.defaultMode ?? 0o644;
    const files = new Map<string, FileContent>();
    for (const source of volume.projected.sources ?? []) {
      if (source.serviceAccountToken !== undefined) {
        const t = source.serviceAccountToken;
        const token = await tokenFor(ctx, t.audience, t.expirationSeconds ?? 3600);
        files.set(t.path, { data: Buffer.from(token, 'utf8'), mode });
      } else if (source.configMap !== undefined) {
        const src = source.configMap;
        const cm = await ctx.sources.configMap(ns, src.name);
        if (cm === undefined) {
          if (src.optional === true) continue;
          throw new VolumeError(`MountVolume.SetUp failed for volume "${volume.name}": configmap "${src.name}" not found`);
        }
        for (const [k, v] of selectKeys('ConfigMap', src.name, configMapEntries(cm), src.items, mode, src.optional === true)) files.set(k, v);
      } else if (source.secret !== undefined) {
        const src = source.secret;
        const secret = await ctx.sources.secret(ns, src.name);
        if (secret === undefined) {
          if (src.optional === true) continue;
          throw new VolumeError(`MountVolume.SetUp failed for volume "${volume.name}": secret "${src.name}" not found`);
        }
        for (const [k, v] of selectKeys('Secret', src.name, secret, src.items, mode, src.optional === true)) files.set(k, v);
      } else if (source.downwardAPI !== undefined) {
        for (const [k, v] of downwardFiles(ctx, source.downwardAPI.items, mode)) files.set(k, v);
      }
    }
    return files;
  }
  return null;
}

export function volumeKind(volume: Volume): string {
  for (const k of ['configMap', 'secret', 'emptyDir', 'persistentVolumeClaim', 'projected', 'downwardAPI', 'hostPath'] as const) {
    if (volume[k] !== undefined) return k;
  }
  return Object.keys(volume).filter((k) => k !== 'name').join(',') || 'unknown';
}

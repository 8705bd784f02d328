/**
 * The container's mount namespace. Each container process is started as
 *
 *   unshare --mount --uts --propagation private /bin/bash --noprofile --norc <start.sh>
 *
 * and start.sh (built here) sets up its private view of the host's filesystem, then `exec`s the container's
 * command (so the PID the agent holds is the container's main process):
 *
 *   1. a tmpfs on the container's stage dir (under the agent's state dir, so it is never inside step 2);
 *   2. for every mount point that does not exist on the host, an overlayfs on its deepest existing ancestor
 *      directory (lower = the host directory, upper = the tmpfs), so `mkdir -p` of the mount point lands in the
 *      tmpfs and the host is untouched (e.g. /etc/millrace, /var/lib/millrace, /run/secrets/...); only the
 *      topmost of nested ancestors is overlaid (the one holding the agent's state dir, e.g. /tmp, last).
 *      Fallback, done on the host by the agent and logged: when that ancestor is `/` (an overlay of / would
 *      hide /proc, /dev, /sys and every other mount), the mount point is created with mkdir -p on the host;
 *   3. bind mounts of each volume (and of the cluster hosts file at /etc/hosts), parents first, read-only ones
 *      remounted ro; a mount point inside another volume is created inside that volume, as the kubelet does.
 *      The sources are opened first and bound from /proc/self/fd/<n>, so a mount at /tmp cannot hide the
 *      sources of later mounts (they live under the agent's state dir, which may be under /tmp);
 *   4. the image's host directories (the repo, Node's bin dir) bound back read-only at their own path when a
 *      volume was mounted over one of their parents (e.g. an emptyDir at /tmp with the repo under /tmp);
 *   5. the pod's hostname (UTS namespace), the working directory, exec.
 *
 * Nothing in the host's mount table changes (propagation private); the namespace dies with its last process.
 */
import { existsSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, normalize, sep } from 'node:path';
import { shellQuote } from './kube.ts';

export interface BindMount {
  readonly source: string;
  /** Absolute path inside the container. */
  readonly target: string;
  readonly readOnly: boolean;
  /** A file (the hosts file, subPath files) rather than a directory. */
  readonly file?: boolean;
}

export interface NamespacePlan {
  /** Directories overlaid (with a tmpfs upper) so missing mount points can be created privately. */
  readonly overlays: readonly string[];
  /** Mount points the agent must create on the host first (fallback; see the module comment). */
  readonly hostMkdirs: readonly string[];
  readonly script: string;
}

export interface NamespaceOptions {
  readonly mounts: readonly BindMount[];
  /** Exists on the host, under the agent's state dir; gets the private tmpfs. */
  readonly stageDir: string;
  /** The agent's state dir: never overlaid (volume sources live there). */
  readonly stateDir: string;
  readonly hostname: string;
  readonly workingDir: string;
  readonly argv: readonly string[];
  /**
   * Host directories the image is made of here (the repo, Node's bin dir, the listen shim's dir): if a volume
   * is mounted over one of their parents (an emptyDir at /tmp with the repo checked out under /tmp), they are
   * bound back at their own path inside it, so the program still finds itself.
   */
  readonly imagePaths?: readonly string[];
  /** Host view, injectable for tests. */
  readonly exists?: (path: string) => boolean;
  readonly realpath?: (path: string) => string;
}

/** Sources are held open on fds FIRST_FD, FIRST_FD + 1, ... (above bash's own low fds). */
const FIRST_FD = 20;

const isUnder = (path: string, dir: string): boolean => dir === sep || path === dir || path.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`);

/** Overlay lowerdir/upperdir options cannot carry these characters unescaped. */
const safeForOverlay = (path: string): boolean => !/[,:\\\s]/.test(path);

export function planNamespace(options: NamespaceOptions): NamespacePlan {
  const exists = options.exists ?? existsSync;
  const realpath = options.realpath ?? ((p: string) => realpathSync(p));
  const mounts = options.mounts
    .map((m) => {
      if (!isAbsolute(m.target)) throw new Error(`mount path ${m.target} is not absolute`);
      return { ...m, target: normalize(m.target).replace(/\/+$/, '') || '/' };
    })
    .sort((a, b) => a.target.split(sep).length - b.target.split(sep).length || a.target.localeCompare(b.target));
  const stateDir = realpath(options.stateDir);

  const ancestors = new Set<string>();
  const hostMkdirs: string[] = [];
  for (const m of mounts) {
    // Inside another mount: created inside that volume at run time.
    if (mounts.some((other) => other !== m && other.target !== m.target && isUnder(m.target, other.target))) continue;
    if (exists(m.target)) continue;
    let ancestor = dirname(m.target);
    while (ancestor !== sep && !exists(ancestor)) ancestor = dirname(ancestor);
    const real = ancestor === sep ? sep : realpath(ancestor);
    if (real === sep || !safeForOverlay(real)) {
      hostMkdirs.push(m.file === true ? dirname(m.target) : m.target);
      continue;
    }
    ancestors.add(real);
  }
  // The one that holds the state dir (and so the stage) goes last: after it, the stage's path shows the host's
  // directory through the overlay, and later overlays could not find their upper and work dirs there.
  const overlays = [...ancestors]
    .filter((a) => ![...ancestors].some((b) => b !== a && isUnder(a, b)))
    .sort((a, b) => Number(isUnder(stateDir, a)) - Number(isUnder(stateDir, b)) || a.localeCompare(b));

  const q = shellQuote;
  const stage = options.stageDir;
  // The host's tools, whatever PATH the container has (a prefix assignment is not exported to the exec).
  const sys = 'PATH=/usr/sbin:/usr/bin:/sbin:/bin';
  const lines = [
    'set -eu',
    `${sys} mount -t tmpfs -o mode=0755,size=256m node-agent-stage ${q(stage)}`,
  ];
  overlays.forEach((dir, i) => {
    const upper = `${stage}/overlay-${i}/upper`;
    const work = `${stage}/overlay-${i}/work`;
    lines.push(`${sys} mkdir -p ${q(upper)} ${q(work)}`);
    lines.push(`${sys} mount -t overlay node-agent-overlay -o ${q(`lowerdir=${dir},upperdir=${upper},workdir=${work}`)} ${q(dir)}`);
  });
  // Every source is opened before anything is mounted, and bound through /proc/self/fd: a volume mounted at
  // /tmp (say) would otherwise hide the sources of the later mounts when the agent's state dir is under /tmp.
  const fd = (i: number): number => FIRST_FD + i;
  const targets = mounts.map((m) => m.target);
  const rebinds = [...new Set(options.imagePaths ?? [])]
    .map((p) => normalize(p).replace(/\/+$/, '') || '/')
    .filter((p) => targets.some((t) => t !== p && t !== sep && isUnder(p, t)));
  const sources = [...mounts.map((m) => m.source), ...rebinds];
  if (sources.length > 0) lines.push(`exec ${sources.map((src, i) => `${fd(i)}<${q(src)}`).join(' ')}`);
  mounts.forEach((m, i) => {
    if (m.file === true) {
      lines.push(`${sys} mkdir -p ${q(dirname(m.target))}`);
      lines.push(`[ -e ${q(m.target)} ] || : > ${q(m.target)}`);
    } else {
      lines.push(`${sys} mkdir -p ${q(m.target)}`);
    }
    lines.push(`${sys} mount --no-canonicalize --bind /proc/self/fd/${fd(i)} ${q(m.target)}`);
    if (m.readOnly) lines.push(`${sys} mount -o remount,bind,ro ${q(m.target)}`);
  });
  rebinds.forEach((p, j) => {
    const i = mounts.length + j;
    lines.push(`${sys} mkdir -p ${q(p)}`);
    lines.push(`${sys} mount --no-canonicalize --bind /proc/self/fd/${fd(i)} ${q(p)}`);
    lines.push(`${sys} mount -o remount,bind,ro ${q(p)}`);
  });
  if (sources.length > 0) lines.push(`exec ${sources.map((_s, i) => `${fd(i)}<&-`).join(' ')}`);
  lines.push(`${sys} hostname ${q(options.hostname)}`);
  lines.push(`${sys} mkdir -p ${q(options.workingDir)}`);
  lines.push(`cd ${q(options.workingDir)}`);
  lines.push(`exec ${options.argv.map(q).join(' ')}`);
  return { overlays, hostMkdirs, script: `${lines.join('\n')}\n` };
}

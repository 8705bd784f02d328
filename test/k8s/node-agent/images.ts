/**
 * Images -> local commands. The agent pulls nothing: each image is mapped, by its repository, to what its
 * ENTRYPOINT / CMD / WORKDIR / ENV would be on this machine, and the container's command and args are applied
 * to that by the Kubernetes rules:
 *
 *   command empty, args empty   -> entrypoint + cmd of the image
 *   command empty, args set     -> entrypoint of the image + args
 *   command set                 -> command + args (the image's entrypoint and cmd are ignored)
 *
 * $(VAR) references in command and args are expanded from the container's environment (env.ts), as the kubelet
 * does. The first word is looked up on the container's PATH when it has no slash.
 */
import { accessSync, constants, existsSync, realpathSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { expandVars } from './env.ts';
import type { Container } from './kube.ts';

export interface ImageRule {
  /** For messages. */
  readonly name: string;
  /** Matches the image reference's repository (registry and tag/digest removed), e.g. "millrace/broker". */
  readonly match: (repository: string) => boolean;
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  /** The image's WORKDIR; default: the agent's state dir of the pod. */
  readonly workingDir?: string;
  /** The image's ENV (lowest precedence; the pod's env wins). */
  readonly env?: Readonly<Record<string, string>>;
  /** A Node.js program: gets the listen() shim that binds the pod IP (bind-pod-ip.mjs) through NODE_OPTIONS. */
  readonly nodeProgram?: boolean;
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The repository part of an image reference: "ghcr.io/millrace/broker:0.1@sha256:.." -> "ghcr.io/millrace/broker". */
export function imageRepository(image: string): string {
  let ref = image.trim();
  const at = ref.indexOf('@');
  if (at >= 0) ref = ref.slice(0, at);
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) ref = ref.slice(0, colon);
  return ref;
}

/** A Node.js 24 binary: this process's when it is Node 24+, else the repo's node_modules/.bin/node. */
export function findNode(repo: string): string {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 24) return process.execPath;
  const candidate = join(repo, 'node_modules/.bin/node');
  if (existsSync(candidate)) return realpathSync(candidate);
  throw new Error(`no Node.js 24 found (this process runs ${process.version}; ${candidate} is missing)`);
}

/**
 * The default table. Millrace images run the repo's TypeScript sources with Node 24 (WORKDIR = the repo, as /app
 * in the real images); kcat images run /usr/bin/kcat; a few generic base images run the host's /bin/sh.
 */
export function defaultImageRules(repo: string, node: string = findNode(repo)): ImageRule[] {
  const nodeEnv = { PATH: `${dirname(node)}${delimiter}${DEFAULT_PATH}`, NODE_ENV: 'production' };
  const endsWith = (...suffixes: string[]) => (repository: string) => suffixes.some((s) => repository === s || repository.endsWith(`/${s}`) || repository.endsWith(s));
  return [
    {
      // Dockerfile.operator: ENTRYPOINT ["node", "operator/src/main.ts"] (the chart passes flags as args).
      name: 'millrace-operator',
      match: endsWith('millrace-operator', 'millrace/operator'),
      entrypoint: [node, join(repo, 'operator/src/main.ts')],
      cmd: [],
      workingDir: repo,
      env: nodeEnv,
      nodeProgram: true,
    },
    {
      name: 'millrace-broker',
      // "ghcr.io/millrace/millrace" is the image name the samples use for the broker. Dockerfile.broker has
      // ENTRYPOINT ["node", "broker/src/main.ts"]: container args are appended to it, as in a real cluster.
      match: endsWith('millrace-broker', 'millrace/broker', 'millrace/millrace'),
      entrypoint: [node, join(repo, 'broker/src/main.ts')],
      cmd: [],
      workingDir: repo,
      env: nodeEnv,
      nodeProgram: true,
    },
    {
      // edenhill/kcat, confluentinc/kcat, ...: ENTRYPOINT ["kcat"].
      name: 'kcat',
      match: endsWith('kcat', 'kafkacat'),
      entrypoint: ['/usr/bin/kcat'],
      cmd: [],
      env: { PATH: DEFAULT_PATH },
    },
    {
      // Base images: whatever the pod runs comes from the host's userland.
      name: 'shell',
      match: (repository) => /(^|\/)(busybox|alpine|debian|ubuntu|bash)$/.test(repository),
      entrypoint: [],
      cmd: ['/bin/sh'],
      env: { PATH: DEFAULT_PATH },
    },
  ];
}

export function findImageRule(rules: readonly ImageRule[], image: string): ImageRule | undefined {
  const repository = imageRepository(image);
  return rules.find((r) => r.match(repository));
}

/** Looks a command up on PATH (the container's), like execvp. Returns it unchanged when it has a slash or is not found. */
export function lookPath(command: string, path: string | undefined, cwd: string): string {
  if (command.includes('/')) return isAbsolute(command) ? command : join(cwd, command);
  for (const dir of (path ?? DEFAULT_PATH).split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return command;
}

export class CommandError extends Error {
  override readonly name = 'CommandError';
}

/** argv of a container by the Kubernetes rules, with $(VAR) expanded from env. */
export function containerArgv(container: Container, rule: ImageRule, env: Readonly<Record<string, string>>): string[] {
  const command = container.command ?? [];
  const args = container.args ?? [];
  const expand = (words: readonly string[]) => words.map((w) => expandVars(w, env));
  let argv: string[];
  if (command.length > 0) argv = [...expand(command), ...expand(args)];
  else if (args.length > 0) argv = [...rule.entrypoint, ...expand(args)];
  else argv = [...rule.entrypoint, ...rule.cmd];
  if (argv.length === 0) throw new CommandError(`container ${container.name}: image ${container.image ?? '(none)'} (${rule.name}) has no entrypoint or cmd, and the container sets no command`);
  return argv;
}

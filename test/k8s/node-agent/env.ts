/**
 * A container's environment, as the kubelet makes it (pkg/kubelet/kubelet_pods.go makeEnvironmentVariables):
 *
 *   1. envFrom (ConfigMaps, Secrets; optional prefix; keys that are not valid names are skipped);
 *   2. env in order: value with $(VAR) expanded from what is defined so far and the service variables;
 *      valueFrom (fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef) taken literally;
 *   3. service variables (docker links style, for every Service with a cluster IP in the pod's namespace when
 *      enableServiceLinks is not false, plus the "kubernetes" master Service, here pointing at the API server's
 *      real address) that were not set above.
 *
 * The image's ENV is below all of these (the container runtime merges it). Pure functions, except that the
 * ConfigMap and Secret lookups are given by the caller.
 */
import type { Container, EnvVar, ObjectFieldSelector, Pod, ResourceFieldSelector, Service } from './kube.ts';

/**
 * Kubernetes' $(VAR) expansion (third_party/forked/golang/expansion): $(NAME) is replaced when NAME is in
 * env, else left as it is; $$ is an escaped $; any other $ is kept.
 */
export function expandVars(input: string, env: Readonly<Record<string, string>> | ((name: string) => string | undefined)): string {
  const lookup = typeof env === 'function' ? env : (name: string) => (Object.hasOwn(env, name) ? env[name] : undefined);
  let out = '';
  let i = 0;
  while (i < input.length) {
    const c = input[i];
    if (c === '$' && i + 1 < input.length) {
      const next = input[i + 1];
      if (next === '$') {
        out += '$';
        i += 2;
        continue;
      }
      if (next === '(') {
        const close = input.indexOf(')', i + 2);
        if (close >= 0) {
          const name = input.slice(i + 2, close);
          const value = lookup(name);
          out += value ?? `$(${name})`;
          i = close + 1;
          continue;
        }
        out += '$(';
        i += 2;
        continue;
      }
      out += `$${next ?? ''}`;
      i += 2;
      continue;
    }
    out += c ?? '';
    i++;
  }
  return out;
}

/** Valid environment variable name (the kubelet skips envFrom keys that are not). */
export function isValidEnvName(name: string): boolean {
  return /^[-._a-zA-Z][-._a-zA-Z0-9]*$/.test(name);
}

const envVariableName = (serviceName: string): string => serviceName.toUpperCase().replace(/-/g, '_');

/** The docker-links variables of Services with a cluster IP (pkg/kubelet/envvars FromServices). */
export function serviceEnvVars(services: readonly Pick<Service, 'metadata' | 'spec'>[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const svc of services) {
    const ip = svc.spec?.clusterIP;
    if (ip === undefined || ip === '' || ip === 'None') continue;
    const ports = svc.spec?.ports ?? [];
    const first = ports[0];
    if (first === undefined) continue;
    const name = envVariableName(svc.metadata.name ?? '');
    env[`${name}_SERVICE_HOST`] = ip;
    env[`${name}_SERVICE_PORT`] = String(first.port);
    for (const p of ports) if (p.name !== undefined && p.name !== '') env[`${name}_SERVICE_PORT_${envVariableName(p.name)}`] = String(p.port);
    ports.forEach((p, i) => {
      const protocol = (p.protocol ?? 'TCP').toUpperCase();
      const url = `${protocol.toLowerCase()}://${ip}:${p.port}`;
      if (i === 0) env[`${name}_PORT`] = url;
      const prefix = `${name}_PORT_${p.port}_${protocol}`;
      env[prefix] = url;
      env[`${prefix}_PROTO`] = protocol.toLowerCase();
      env[`${prefix}_PORT`] = String(p.port);
      env[`${prefix}_ADDR`] = ip;
    });
  }
  return env;
}

/** The "kubernetes" master Service's variables, pointing at the API server's real address (no kube-proxy here). */
export function masterServiceEnv(host: string, port: number): Record<string, string> {
  return serviceEnvVars([{ metadata: { name: 'kubernetes' }, spec: { clusterIP: host, ports: [{ name: 'https', port, protocol: 'TCP' }] } }]);
}

// ---------------------------------------------------------------------------------------------------------
// Quantities (resourceFieldRef)

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** A resource.Quantity as a number (cores for cpu, bytes for memory). */
export function parseQuantity(q: string | number): number {
  if (typeof q === 'number') return q;
  const m = /^([+-]?[0-9.]+)(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?)$/.exec(q.trim());
  if (m === null) throw new Error(`invalid quantity "${q}"`);
  const base = Number(m[1]);
  if (m[2] !== undefined) return base * 10 ** Number(m[2].slice(1));
  const suffix = m[3] ?? '';
  return base * (BINARY[suffix] ?? DECIMAL[suffix] ?? 1);
}

export interface NodeResources {
  /** Cores. */
  readonly cpu: number;
  /** Bytes. */
  readonly memory: number;
  /** Bytes. */
  readonly ephemeralStorage: number;
}

export function resourceFieldValue(pod: Pod, container: Container | undefined, ref: ResourceFieldSelector, node: NodeResources): string {
  const target = ref.containerName === undefined || ref.containerName === '' ? container : pod.spec.containers.find((c) => c.name === ref.containerName);
  const [kind, resource] = ref.resource.split('.', 2) as [string, string | undefined];
  const fromSpec = kind === 'limits' ? target?.resources?.limits?.[resource ?? ''] : target?.resources?.requests?.[resource ?? ''];
  let value: number;
  if (fromSpec !== undefined) value = parseQuantity(fromSpec);
  else if (kind === 'requests') value = 0;
  else value = resource === 'cpu' ? node.cpu : resource === 'memory' ? node.memory : node.ephemeralStorage;
  const divisor = ref.divisor === undefined || ref.divisor === '' || ref.divisor === '0' ? 1 : parseQuantity(ref.divisor);
  return String(Math.ceil(value / divisor));
}

// ---------------------------------------------------------------------------------------------------------
// Field references

export class EnvError extends Error {
  override readonly name = 'EnvError';
}

/** Resolves a downward-API field path; metadata.labels / metadata.annotations (whole) only for volumes. */
export function fieldRefValue(pod: Pod, ref: ObjectFieldSelector, podIp: string, hostIp: string, forVolume = false): string {
  const path = ref.fieldPath;
  const subscript = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(path);
  if (subscript !== null) {
    const map = subscript[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations;
    return map?.[subscript[2] ?? ''] ?? '';
  }
  switch (path) {
    case 'metadata.name': return pod.metadata.name ?? '';
    case 'metadata.namespace': return pod.metadata.namespace ?? '';
    case 'metadata.uid': return pod.metadata.uid ?? '';
    case 'spec.nodeName': return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName': return pod.spec.serviceAccountName ?? '';
    case 'status.podIP': return podIp;
    case 'status.podIPs': return podIp;
    case 'status.hostIP': return hostIp;
    case 'status.hostIPs': return hostIp;
    case 'metadata.labels':
    case 'metadata.annotations':
      if (forVolume) {
        const map = path === 'metadata.labels' ? pod.metadata.labels : pod.metadata.annotations;
        return Object.keys(map ?? {}).sort().map((k) => `${k}=${JSON.stringify(map?.[k] ?? '')}`).join('\n');
      }
      break;
    default:
      break;
  }
  throw new EnvError(`unsupported fieldRef fieldPath "${path}"`);
}

// ---------------------------------------------------------------------------------------------------------
// The whole environment

export interface EnvSources {
  /** data of a ConfigMap in the pod's namespace; undefined when it does not exist. */
  configMap(name: string): Promise<Readonly<Record<string, string>> | undefined>;
  /** data of a Secret, decoded; undefined when it does not exist. */
  secret(name: string): Promise<Readonly<Record<string, string>> | undefined>;
  /** Services of the pod's namespace (for the links variables). */
  services(): readonly Service[];
}

export interface EnvContext {
  readonly pod: Pod;
  readonly container: Container;
  readonly podIp: string;
  readonly hostIp: string;
  readonly apiServer: { readonly host: string; readonly port: number };
  readonly node: NodeResources;
  readonly sources: EnvSources;
}

async function keyRef(kind: 'ConfigMap' | 'Secret', get: (name: string) => Promise<Readonly<Record<string, string>> | undefined>, ref: { name: string; key: string; optional?: boolean }): Promise<string | undefined> {
  const data = await get(ref.name);
  if (data === undefined) {
    if (ref.optional === true) return undefined;
    throw new EnvError(`${kind.toLowerCase()} "${ref.name}" not found`);
  }
  const value = data[ref.key];
  if (value === undefined) {
    if (ref.optional === true) return undefined;
    throw new EnvError(`couldn't find key ${ref.key} in ${kind} ${ref.name}`);
  }
  return value;
}

/** The container's environment without the image's ENV, in the kubelet's order. Throws EnvError (CreateContainerConfigError). */
export async function containerEnv(ctx: EnvContext): Promise<Record<string, string>> {
  const { pod, container, sources } = ctx;
  const serviceEnv: Record<string, string> = {};
  if (pod.spec.enableServiceLinks !== false) {
    Object.assign(serviceEnv, serviceEnvVars(sources.services().filter((s) => !(s.metadata.namespace === 'default' && s.metadata.name === 'kubernetes'))));
  }
  Object.assign(serviceEnv, masterServiceEnv(ctx.apiServer.host, ctx.apiServer.port));

  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    let data: Readonly<Record<string, string>> | undefined;
    if (from.configMapRef !== undefined) {
      data = await sources.configMap(from.configMapRef.name);
      if (data === undefined && from.configMapRef.optional !== true) throw new EnvError(`configmap "${from.configMapRef.name}" not found`);
    } else if (from.secretRef !== undefined) {
      data = await sources.secret(from.secretRef.name);
      if (data === undefined && from.secretRef.optional !== true) throw new EnvError(`secret "${from.secretRef.name}" not found`);
    }
    for (const [k, v] of Object.entries(data ?? {})) {
      const name = prefix + k;
      if (isValidEnvName(name)) env[name] = v;
    }
  }
  const lookup = (name: string): string | undefined => (Object.hasOwn(env, name) ? env[name] : Object.hasOwn(serviceEnv, name) ? serviceEnv[name] : undefined);
  for (const v of container.env ?? []) {
    const value = await envVarValue(v, ctx, lookup);
    if (value !== undefined) env[v.name] = value;
  }
  for (const [k, v] of Object.entries(serviceEnv)) if (!Object.hasOwn(env, k)) env[k] = v;
  return env;
}

async function envVarValue(v: EnvVar, ctx: EnvContext, lookup: (name: string) => string | undefined): Promise<string | undefined> {
  const from = v.valueFrom;
  if (from === undefined) return expandVars(v.value ?? '', lookup);
  if (from.fieldRef !== undefined) return fieldRefValue(ctx.pod, from.fieldRef, ctx.podIp, ctx.hostIp);
  if (from.resourceFieldRef !== undefined) return resourceFieldValue(ctx.pod, ctx.container, from.resourceFieldRef, ctx.node);
  if (from.configMapKeyRef !== undefined) return keyRef('ConfigMap', (n) => ctx.sources.configMap(n), from.configMapKeyRef);
  if (from.secretKeyRef !== undefined) return keyRef('Secret', (n) => ctx.sources.secret(n), from.secretKeyRef);
  return '';
}

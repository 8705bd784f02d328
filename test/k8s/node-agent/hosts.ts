/**
 * Cluster DNS as hosts files (the agent's stand-in for CoreDNS): each pod's /etc/hosts holds the cluster's
 * records after its own line (renderPodHostsFile, as the kubelet writes it), and the agent's own file holds them
 * for clients outside the pods (Java: -Djdk.net.hosts.file=<file>).
 *
 * Records, as CoreDNS's kubernetes plugin serves them from the endpoints of each Service:
 *   - headless Service (clusterIP None) with a selector: `<svc>.<ns>.svc` -> every endpoint pod, and
 *     `<hostname>.<svc>.<ns>.svc` -> the pod, for pods whose spec.hostname is set and spec.subdomain is the
 *     Service's name (StatefulSet pods). Endpoint pods are the selected pods with an IP, not finished, and Ready
 *     and not being deleted, or any of them when publishNotReadyAddresses is true;
 *   - ClusterIP Service with a selector: `<svc>.<ns>.svc` -> the IPs of its ready endpoint pods, directly (there
 *     is no kube-proxy and the cluster IP leads nowhere; so a client reaches port P of a pod, which is only right
 *     when targetPort equals port: `servicePortWarnings` names the Services where it does not);
 *   - every name also with `.cluster.local` and as `<svc>.<ns>`;
 *   - `kubernetes.default.svc` etc. -> 127.0.0.1 (the API server; its port is not 443 here).
 * Short names (`<svc>` alone) would need the pod's namespace (resolv.conf search path): not provided.
 */
import type { Pod, Service } from './kube.ts';
import { POD_TERMINAL_PHASES, podIsReady, selectorMatches } from './kube.ts';

export const CLUSTER_DOMAIN = 'cluster.local';

export interface HostsInput {
  readonly pods: readonly Pod[];
  readonly services: readonly Service[];
  /** The IP of a pod when the agent knows it before status.podIP is written (its own pods). */
  readonly podIp?: (pod: Pod) => string | undefined;
  /** Lines kept at the top (localhost). */
  readonly header?: readonly string[];
}

export const DEFAULT_HOSTS_HEADER: readonly string[] = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];

function namesFor(base: string): string[] {
  return [base, `${base}.${CLUSTER_DOMAIN}`];
}

/** name -> IPs (sorted names; IPs in endpoint order: by pod name). */
export function clusterDnsRecords(input: HostsInput): Map<string, string[]> {
  const records = new Map<string, string[]>();
  const add = (name: string, ip: string): void => {
    const list = records.get(name) ?? [];
    if (!list.includes(ip)) list.push(ip);
    records.set(name, list);
  };
  for (const n of ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${CLUSTER_DOMAIN}`]) add(n, '127.0.0.1');

  const ipOf = (pod: Pod): string | undefined => input.podIp?.(pod) ?? pod.status?.podIP;
  const pods = [...input.pods].sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  for (const svc of input.services) {
    const ns = svc.metadata.namespace ?? '';
    const name = svc.metadata.name ?? '';
    const spec = svc.spec ?? {};
    if (spec.type === 'ExternalName' || spec.selector === undefined) continue;
    const headless = spec.clusterIP === 'None';
    const publishNotReady = spec.publishNotReadyAddresses === true;
    for (const pod of pods) {
      if (pod.metadata.namespace !== ns || !selectorMatches(spec.selector, pod.metadata.labels)) continue;
      const ip = ipOf(pod);
      if (ip === undefined || ip === '') continue;
      if (POD_TERMINAL_PHASES.has(pod.status?.phase ?? '')) continue;
      const deleting = pod.metadata.deletionTimestamp !== undefined;
      const eligible = publishNotReady || (!deleting && podIsReady(pod));
      if (!eligible) continue;
      for (const n of namesFor(`${name}.${ns}.svc`)) add(n, ip);
      add(`${name}.${ns}`, ip);
      if (headless && pod.spec.hostname !== undefined && pod.spec.hostname !== '' && pod.spec.subdomain === name) {
        for (const n of namesFor(`${pod.spec.hostname}.${name}.${ns}.svc`)) add(n, ip);
        add(`${pod.spec.hostname}.${name}.${ns}`, ip);
      }
    }
  }
  return new Map([...records.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

/** The cluster records as hosts-file lines, one per (IP, name) pair, names sorted. */
export function clusterHostsLines(input: HostsInput): string[] {
  const lines: string[] = [];
  for (const [name, ips] of clusterDnsRecords(input)) for (const ip of ips) lines.push(`${ip}\t${name}`);
  return lines;
}

/** The cluster hosts file: header lines, then the cluster records. */
export function renderHostsFile(input: HostsInput): string {
  return `${[...(input.header ?? DEFAULT_HOSTS_HEADER), '# cluster DNS of the millrace node agent', ...clusterHostsLines(input)].join('\n')}\n`;
}

/**
 * A pod's /etc/hosts, as the kubelet writes it plus the cluster records: after localhost, the pod's own line,
 * `<podIP> <hostname>.<subdomain>.<ns>.svc.cluster.local <hostname>` (with a subdomain) or
 * `<podIP> <hostname>`, so a pod resolves its own hostname (and only its own: another pod's bare hostname
 * does not resolve, as in a cluster).
 */
export function renderPodHostsFile(pod: Pod, podIp: string, clusterLines: readonly string[]): string {
  const hostname = (pod.spec.hostname ?? pod.metadata.name ?? '').slice(0, 63);
  const subdomain = pod.spec.subdomain;
  const self = subdomain === undefined || subdomain === ''
    ? `${podIp}\t${hostname}`
    : `${podIp}\t${hostname}.${subdomain}.${pod.metadata.namespace ?? ''}.svc.${CLUSTER_DOMAIN}\t${hostname}`;
  return `${[...DEFAULT_HOSTS_HEADER, '# Kubernetes-managed hosts file (millrace node agent)', self, '# cluster DNS of the millrace node agent', ...clusterLines].join('\n')}\n`;
}

/** Services whose traffic would need a kube-proxy: a targetPort different from the port (named ports count as different). */
export function servicePortWarnings(services: readonly Service[]): string[] {
  const warnings: string[] = [];
  for (const svc of services) {
    if (svc.spec?.clusterIP === 'None' || svc.spec?.type === 'ExternalName' || svc.spec?.selector === undefined) continue;
    for (const p of svc.spec.ports ?? []) {
      if (p.targetPort !== undefined && p.targetPort !== p.port) {
        warnings.push(`Service ${svc.metadata.namespace ?? ''}/${svc.metadata.name ?? ''} port ${p.port} has targetPort ${String(p.targetPort)}: without a kube-proxy, clients of <svc>.<ns>.svc:${p.port} reach the pod's port ${p.port}, not ${String(p.targetPort)}`);
      }
    }
  }
  return warnings;
}

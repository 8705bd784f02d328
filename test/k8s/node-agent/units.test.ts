/**
 * The node agent's pure parts, without a cluster: $(VAR) expansion and service variables, image -> argv rules,
 * cluster DNS records, the mount-namespace plan, the listen() shim's argument rewriting, the IP pool, and the
 * atomic writer of ConfigMap/Secret volumes.
 */
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rewriteListenArgs } from './bind-pod-ip.ts';
import { expandVars, fieldRefValue, parseQuantity, serviceEnvVars } from './env.ts';
import { clusterDnsRecords, clusterHostsLines, renderHostsFile, renderPodHostsFile, servicePortWarnings } from './hosts.ts';
import { containerArgv, defaultImageRules, findImageRule, imageRepository, type ImageRule } from './images.ts';
import { IpPool } from './ip-pool.ts';
import type { Pod, Service } from './kube.ts';
import { planNamespace } from './mounts.ts';
import { writeAtomic } from './volumes.ts';

const tmp = mkdtempSync(join(tmpdir(), 'node-agent-units-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('$(VAR) expansion (the kubelet rules)', () => {
  const env = { A: 'a', EMPTY: '' };
  it.each([
    ['$(A)', 'a'],
    ['x-$(A)-y', 'x-a-y'],
    ['$(MISSING)', '$(MISSING)'],
    ['$$(A)', '$(A)'],
    ['$$', '$'],
    ['$(EMPTY)z', 'z'],
    ['a$', 'a$'],
    ['$x', '$x'],
    ['$(A', '$(A'],
    ['$(A)$(A)', 'aa'],
  ])('%s -> %s', (input, output) => {
    expect(expandVars(input, env)).toBe(output);
  });
});

describe('service variables', () => {
  it('makes docker-links variables for ClusterIP Services only', () => {
    const services: Service[] = [
      { metadata: { name: 'orders-bootstrap' }, spec: { clusterIP: '10.0.0.7', ports: [{ name: 'plain', port: 9092, protocol: 'TCP' }] } },
      { metadata: { name: 'orders-nodes' }, spec: { clusterIP: 'None', ports: [{ name: 'controller', port: 9093 }] } },
    ];
    expect(serviceEnvVars(services)).toEqual({
      ORDERS_BOOTSTRAP_SERVICE_HOST: '10.0.0.7',
      ORDERS_BOOTSTRAP_SERVICE_PORT: '9092',
      ORDERS_BOOTSTRAP_SERVICE_PORT_PLAIN: '9092',
      ORDERS_BOOTSTRAP_PORT: 'tcp://10.0.0.7:9092',
      ORDERS_BOOTSTRAP_PORT_9092_TCP: 'tcp://10.0.0.7:9092',
      ORDERS_BOOTSTRAP_PORT_9092_TCP_PROTO: 'tcp',
      ORDERS_BOOTSTRAP_PORT_9092_TCP_PORT: '9092',
      ORDERS_BOOTSTRAP_PORT_9092_TCP_ADDR: '10.0.0.7',
    });
  });

  it('resolves downward-API fields and quantities', () => {
    const pod: Pod = { metadata: { name: 'p', namespace: 'n', labels: { 'apps.kubernetes.io/pod-index': '7', b: 'x"y' } }, spec: { containers: [] } };
    expect(fieldRefValue(pod, { fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']" }, '127.0.9.2', '127.0.0.1')).toBe('7');
    expect(fieldRefValue(pod, { fieldPath: 'status.podIP' }, '127.0.9.2', '127.0.0.1')).toBe('127.0.9.2');
    expect(fieldRefValue(pod, { fieldPath: 'metadata.labels' }, '', '', true)).toBe('apps.kubernetes.io/pod-index="7"\nb="x\\"y"');
    expect(() => fieldRefValue(pod, { fieldPath: 'metadata.labels' }, '', '')).toThrow(/unsupported/);
    expect(parseQuantity('2Gi')).toBe(2 * 2 ** 30);
    expect(parseQuantity('500m')).toBe(0.5);
    expect(parseQuantity('1e3')).toBe(1000);
  });
});

describe('images', () => {
  const rules = defaultImageRules('/repo', '/opt/node/bin/node');
  const rule = (image: string): ImageRule => {
    const r = findImageRule(rules, image);
    if (r === undefined) throw new Error(`no rule for ${image}`);
    return r;
  };

  it('maps repositories, ignoring registry, tag and digest', () => {
    expect(imageRepository('ghcr.io/millrace/millrace-broker:0.1@sha256:abc')).toBe('ghcr.io/millrace/millrace-broker');
    expect(imageRepository('localhost:5000/kcat')).toBe('localhost:5000/kcat');
    expect(rule('ghcr.io/millrace/millrace-broker:0.1').name).toBe('millrace-broker');
    expect(rule('millrace/operator:dev').name).toBe('millrace-operator');
    expect(rule('edenhill/kcat:1.7.1').name).toBe('kcat');
    expect(findImageRule(rules, 'nginx:1')).toBeUndefined();
  });

  it('applies command and args by the Kubernetes rules', () => {
    const broker = rule('millrace-broker');
    expect(containerArgv({ name: 'c' }, broker, {})).toEqual(['/opt/node/bin/node', '/repo/broker/src/main.ts']);
    // The broker image has an ENTRYPOINT (Dockerfile.broker): args are appended, $(VAR) expanded.
    expect(containerArgv({ name: 'c', args: ['--override', 'node.id=$(ID)'] }, broker, { ID: '3' })).toEqual(['/opt/node/bin/node', '/repo/broker/src/main.ts', '--override', 'node.id=3']);
    // The operator image has an ENTRYPOINT: args are appended.
    expect(containerArgv({ name: 'c', args: ['--leader-elect'] }, rule('ghcr.io/millrace/millrace-operator:0.1.0'), {})).toEqual(['/opt/node/bin/node', '/repo/operator/src/main.ts', '--leader-elect']);
    expect(containerArgv({ name: 'c', command: ['sh', '-c'], args: ['echo $(ID)'] }, broker, { ID: '3' })).toEqual(['sh', '-c', 'echo 3']);
    expect(containerArgv({ name: 'c', args: ['-L'] }, rule('edenhill/kcat'), {})).toEqual(['/usr/bin/kcat', '-L']);
  });
});

describe('cluster DNS records', () => {
  const pod = (name: string, ip: string, ready: boolean, extra: Partial<Pod['spec']> = {}, phase = 'Running'): Pod => ({
    metadata: { name, namespace: 'ns', labels: { app: 'k' } },
    spec: { containers: [], hostname: name, subdomain: 'k-nodes', ...extra },
    status: { podIP: ip, phase, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  });
  const headless: Service = { metadata: { name: 'k-nodes', namespace: 'ns' }, spec: { clusterIP: 'None', publishNotReadyAddresses: true, selector: { app: 'k' } } };
  const bootstrap: Service = { metadata: { name: 'k-bootstrap', namespace: 'ns' }, spec: { clusterIP: '10.0.0.9', selector: { app: 'k' }, ports: [{ port: 9092, targetPort: 9092 }] } };

  it('names every pod of a headless Service (not-ready too with publishNotReadyAddresses) and ready pods of a ClusterIP Service', () => {
    const records = clusterDnsRecords({ pods: [pod('k-1', '127.0.5.3', false), pod('k-0', '127.0.5.2', true), pod('done', '127.0.5.4', true, {}, 'Succeeded')], services: [headless, bootstrap] });
    expect(records.get('k-0.k-nodes.ns.svc')).toEqual(['127.0.5.2']);
    expect(records.get('k-1.k-nodes.ns.svc.cluster.local')).toEqual(['127.0.5.3']);
    expect(records.get('k-nodes.ns.svc')).toEqual(['127.0.5.2', '127.0.5.3']);
    expect(records.get('k-bootstrap.ns.svc')).toEqual(['127.0.5.2']);
    expect(records.get('k-bootstrap.ns')).toEqual(['127.0.5.2']);
    expect(records.has('done.k-nodes.ns.svc')).toBe(false);
    expect(records.get('kubernetes.default.svc')).toEqual(['127.0.0.1']);
  });

  it('leaves out not-ready pods without publishNotReadyAddresses, and uses the agent-known IP first', () => {
    const strict: Service = { ...headless, spec: { ...headless.spec, publishNotReadyAddresses: false } };
    const p = pod('k-0', '', false);
    expect(clusterDnsRecords({ pods: [p], services: [strict] }).has('k-0.k-nodes.ns.svc')).toBe(false);
    const file = renderHostsFile({ pods: [p], services: [headless], podIp: () => '127.0.5.9' });
    expect(file).toContain('127.0.5.9\tk-0.k-nodes.ns.svc\n');
    expect(file.startsWith('127.0.0.1\tlocalhost\n')).toBe(true);
  });

  it("writes a pod's own hostname line as the kubelet does (FQDN first with a subdomain)", () => {
    const lines = clusterHostsLines({ pods: [pod('k-0', '127.0.5.2', true)], services: [headless] });
    const file = renderPodHostsFile(pod('k-0', '127.0.5.2', true), '127.0.5.2', lines);
    expect(file).toContain('\n127.0.5.2\tk-0.k-nodes.ns.svc.cluster.local\tk-0\n');
    expect(file).toContain('\n127.0.5.2\tk-0.k-nodes.ns.svc\n');
    const bare: Pod = { metadata: { name: 'solo', namespace: 'ns' }, spec: { containers: [] } };
    expect(renderPodHostsFile(bare, '127.0.5.9', [])).toContain('\n127.0.5.9\tsolo\n');
  });

  it('warns about Services whose targetPort differs from the port (no kube-proxy)', () => {
    expect(servicePortWarnings([bootstrap, headless])).toEqual([]);
    const named: Service = { ...bootstrap, spec: { ...bootstrap.spec, ports: [{ port: 80, targetPort: 'http' }] } };
    expect(servicePortWarnings([named])[0]).toMatch(/port 80 has targetPort http/);
  });
});

describe('mount namespace plan', () => {
  const existing = new Set(['/', '/etc', '/etc/hosts', '/var', '/var/lib', '/run', '/state', '/state/pod']);
  const base = { stageDir: '/state/pod/stage', stateDir: '/state', hostname: 'p-0', workingDir: '/work', argv: ['/bin/node', 'main.ts'], exists: (p: string) => existing.has(p), realpath: (p: string) => p };

  it('overlays the nearest existing parent of missing mount points, binds volumes parents first, then execs', () => {
    const plan = planNamespace({
      ...base,
      mounts: [
        { source: '/state/hosts', target: '/etc/hosts', readOnly: true, file: true },
        { source: '/state/v/data', target: '/var/lib/millrace', readOnly: false },
        { source: '/state/v/sub', target: '/var/lib/millrace/sub', readOnly: false },
        { source: '/state/v/config', target: '/etc/millrace', readOnly: true },
        { source: '/state/v/sa', target: '/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
      ],
    });
    expect(plan.overlays).toEqual(['/etc', '/run', '/var/lib']);
    expect(plan.hostMkdirs).toEqual([]);
    const lines = plan.script.split('\n');
    expect(lines[1]).toMatch(/mount -t tmpfs .* \/state\/pod\/stage$/);
    expect(plan.script).toContain("mount -t overlay node-agent-overlay -o lowerdir=/etc,upperdir=/state/pod/stage/overlay-0/upper,workdir=/state/pod/stage/overlay-0/work /etc");
    const bindOrder = lines.filter((l) => l.includes('mount --no-canonicalize --bind')).map((l) => l.split(' ').at(-1));
    expect(plan.script).toContain('exec 20</state/hosts 21</state/v/config 22</state/v/data 23</state/v/sa 24</state/v/sub\n');
    expect(plan.script).toContain('mount --no-canonicalize --bind /proc/self/fd/21 /etc/millrace\n');
    expect(bindOrder).toEqual(['/etc/hosts', '/etc/millrace', '/var/lib/millrace', '/run/secrets/kubernetes.io/serviceaccount', '/var/lib/millrace/sub']);
    expect(plan.script).toContain('mount -o remount,bind,ro /etc/millrace');
    expect(lines.at(-2)).toBe('exec /bin/node main.ts');
  });

  it('binds the image paths back when a volume hides them (repo under /tmp, emptyDir at /tmp)', () => {
    const plan = planNamespace({ ...base, mounts: [{ source: '/state/v/tmp', target: '/tmp', readOnly: false }], imagePaths: ['/tmp/repo', '/opt/node/bin', '/tmp'] });
    const lines = plan.script.split('\n');
    expect(lines).toContain('exec 20</state/v/tmp 21</tmp/repo');
    expect(lines).toContain('PATH=/usr/sbin:/usr/bin:/sbin:/bin mount --no-canonicalize --bind /proc/self/fd/21 /tmp/repo');
    expect(lines.indexOf('PATH=/usr/sbin:/usr/bin:/sbin:/bin mount --no-canonicalize --bind /proc/self/fd/21 /tmp/repo')).toBeGreaterThan(lines.indexOf('PATH=/usr/sbin:/usr/bin:/sbin:/bin mount --no-canonicalize --bind /proc/self/fd/20 /tmp'));
    expect(plan.script).not.toContain('/opt/node/bin');
  });

  it('falls back to mkdir on the host when the parent is /, and overlays the parent of the state dir last', () => {
    const plan = planNamespace({ ...base, mounts: [{ source: '/state/v/a', target: '/data', readOnly: false }, { source: '/state/v/b', target: '/state/x/y', readOnly: false }, { source: '/state/v/c', target: '/var/lib/z', readOnly: false }] });
    expect(plan.overlays).toEqual(['/var/lib', '/state']);
    expect(plan.hostMkdirs).toEqual(['/data']);
  });
});

describe('listen() shim', () => {
  const ip = '127.0.3.4';
  it.each([
    [[9092], [9092, ip]],
    [[9092, '0.0.0.0'], [9092, ip]],
    [[9092, '::', 511], [9092, ip, 511]],
    [[9092, '127.0.0.1'], [9092, '127.0.0.1']],
    [[9092, 511], [9092, ip, 511]],
    [[], [0, ip]],
    [['/tmp/sock'], ['/tmp/sock']],
  ])('%j -> %j', (args, expected) => {
    expect(rewriteListenArgs(args, ip, 'host')).toEqual(expected);
  });

  it('rewrites options objects but not handles or paths', () => {
    expect(rewriteListenArgs([{ port: 1, host: '0.0.0.0' }], ip, 'host')).toEqual([{ port: 1, host: ip, ipv6Only: false }]);
    expect(rewriteListenArgs([{ port: 1 }], ip, 'host')).toEqual([{ port: 1, host: ip, ipv6Only: false }]);
    expect(rewriteListenArgs([{ path: '/s' }], ip, 'host')).toEqual([{ path: '/s' }]);
    expect(rewriteListenArgs([{ fd: 3 }], ip, 'host')).toEqual([{ fd: 3 }]);
    const cb = (): void => {};
    expect(rewriteListenArgs([cb], ip, 'host')).toEqual([0, ip, cb]);
  });
});

describe('IP pool', () => {
  it('hands out addresses round-robin, keeps them per key, honours a free preferred one', () => {
    const pool = new IpPool('127.0.9.');
    expect(pool.allocate('a')).toBe('127.0.9.2');
    expect(pool.allocate('b')).toBe('127.0.9.3');
    expect(pool.allocate('a')).toBe('127.0.9.2');
    pool.release('a');
    expect(pool.allocate('c')).toBe('127.0.9.4');
    expect(pool.allocate('d', '127.0.9.100')).toBe('127.0.9.100');
    expect(pool.allocate('e', '127.0.9.100')).toBe('127.0.9.5');
    expect(pool.allocate('f', '10.1.1.1')).toBe('127.0.9.6');
  });
});

describe('atomic writer', () => {
  it('writes the kubelet layout, swaps ..data on change and removes dropped keys', () => {
    const dir = join(tmp, 'vol');
    const f = (s: string) => ({ data: Buffer.from(s), mode: 0o644 });
    expect(writeAtomic(dir, new Map([['a', f('1')], ['sub/b', f('2')]]))).toBe(true);
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('1');
    expect(readFileSync(join(dir, 'sub/b'), 'utf8')).toBe('2');
    expect(readlinkSync(join(dir, 'a'))).toBe('..data/a');
    const first = readlinkSync(join(dir, '..data'));
    expect(writeAtomic(dir, new Map([['a', f('1')], ['sub/b', f('2')]]))).toBe(false);
    expect(writeAtomic(dir, new Map([['a', f('3')]]))).toBe(true);
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('3');
    expect(existsSync(join(dir, 'sub'))).toBe(false);
    expect(existsSync(join(dir, first))).toBe(false);
  });
});

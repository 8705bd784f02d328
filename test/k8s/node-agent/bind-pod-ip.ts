// The node agent's stand-in for a pod network namespace, for Node.js containers. Loaded before the program with
//   NODE_OPTIONS=--import=file:///.../bind-pod-ip.ts?ip=127.0.1.7
// it makes every server that would listen on all interfaces (no host, 0.0.0.0, ::, or an unspecified address)
// listen on the pod's own 127.0.x.y address instead, so several pods can each bind port 9092 and a pod is
// reachable only on its own IP, as in a cluster. Explicit addresses (127.0.0.1, another IP), Unix sockets and
// handles are left alone. dgram sockets get the same treatment. The IP travels in the module URL's query, so the
// container's environment carries nothing the program did not ask for.
//
// Why not a network namespace per pod: a pod address must be reachable from the host (tests, the API server's
// pod proxy, the other pods), and 127.0.0.0/8 belongs to the host's `lo`; routing a 127.x address into a veth
// would need route_localnet and a change of the host's local routing table, which other tests share.
import dgram from 'node:dgram';
import net from 'node:net';

const podIp = new URL(import.meta.url).searchParams.get('ip');

const UNSPECIFIED = new Set(['', '0.0.0.0', '::', '[::]', '0:0:0:0:0:0:0:0']);
const unspecified = (host: unknown): boolean => host === undefined || host === null || (typeof host === 'string' && UNSPECIFIED.has(host));
const isPort = (v: unknown): boolean => typeof v === 'number' || (typeof v === 'string' && /^[0-9]+$/.test(v));

/** listen()/bind() arguments with an unspecified host replaced by ip. hostKey: "host" (net) or "address" (dgram). */
export function rewriteListenArgs(args: unknown[], ip: string, hostKey: 'host' | 'address'): unknown[] {
  const out = [...args];
  const [first] = out;
  if (first !== null && typeof first === 'object' && !Array.isArray(first)) {
    const options = first as Record<string, unknown>;
    // listen(options[, cb]); not listen(handle) (a handle has _handle or fd) and not a Unix socket path.
    if ('_handle' in options || 'fd' in options || options['path'] !== undefined) return out;
    if (unspecified(options[hostKey])) out[0] = { ...options, [hostKey]: ip, ...(hostKey === 'host' ? { ipv6Only: false } : {}) };
    return out;
  }
  if (first === undefined || typeof first === 'function') {
    // listen([cb]) -> listen(0, ip[, cb])
    out.splice(0, first === undefined ? 1 : 0, 0, ip);
    return out;
  }
  if (!isPort(first)) return out; // listen(path) or something else
  const second = out[1];
  if (typeof second === 'string') {
    if (unspecified(second)) out[1] = ip;
  } else if (second === undefined || second === null) {
    out.splice(1, 1, ip);
  } else if (typeof second === 'number' || typeof second === 'function') {
    out.splice(1, 0, ip);
  }
  return out;
}

if (podIp !== null && net.isIP(podIp) !== 0) {
  const ip = podIp;
  type Listen = (this: net.Server, ...args: unknown[]) => net.Server;
  type Bind = (this: dgram.Socket, ...args: unknown[]) => dgram.Socket;
  const serverProto = net.Server.prototype as unknown as { listen: Listen };
  const originalListen = serverProto.listen;
  serverProto.listen = function listen(this: net.Server, ...args: unknown[]): net.Server {
    return originalListen.apply(this, rewriteListenArgs(args, ip, 'host'));
  };
  const socketProto = dgram.Socket.prototype as unknown as { bind: Bind };
  const originalBind = socketProto.bind;
  socketProto.bind = function bind(this: dgram.Socket, ...args: unknown[]): dgram.Socket {
    return originalBind.apply(this, rewriteListenArgs(args, ip, 'address'));
  };
}

/**
 * Parsing of Kafka's address-valued configs, with Kafka's syntax and messages:
 *
 * - listeners / advertised.listeners: "NAME://host:port,..." (SocketServerConfigs.listenerListToEndPoints):
 *   the listener name is upper-cased, an empty host means "all interfaces / default interface", IPv6 hosts
 *   are written in brackets, port 0 means "any free port";
 * - listener.security.protocol.map: "NAME:PROTOCOL,..." (Csv.parseCsvMap, split at the last colon);
 * - controller.quorum.voters: "{id}@{host}:{port},..." (QuorumConfig.parseVoterConnections);
 * - controller.quorum.bootstrap.servers and millrace.http.listener: "{host}:{port}".
 *
 * Every function returns a value or a reason; none throws.
 */

export const SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export type SecurityProtocol = (typeof SECURITY_PROTOCOLS)[number];

export const isSecurityProtocol = (s: string): s is SecurityProtocol => (SECURITY_PROTOCOLS as readonly string[]).includes(s);

/** A listener endpoint before its security protocol is known. */
export interface EndpointAddress {
  /** Normalised (upper-case) listener name. */
  readonly name: string;
  /** Host or IP (IPv6 without brackets); null when the listener gave none (bind all / default interface). */
  readonly host: string | null;
  readonly port: number;
}

export interface ListenerEndpoint extends EndpointAddress {
  readonly securityProtocol: SecurityProtocol;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface QuorumVoter extends HostPort {
  readonly id: number;
}

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = (reason: string): Parsed<never> => ({ ok: false, reason });

/** Kafka's endpoint regex, matched against the whole entry. */
const ENDPOINT = /^(.*):\/\/\[?([0-9a-zA-Z\-%._:]*)\]?:(-?[0-9]+)$/;
/** Kafka's Utils.HOST_PORT_PATTERN. */
const HOST_PORT = /^\[?([0-9a-zA-Z\-%._:]*)\]?:([0-9]+)$/;

/** Csv.parseCsvList: split at commas with surrounding whitespace, drop empty entries. */
export function parseCsvList(value: string | null): string[] {
  if (value === null) return [];
  return value
    .trim()
    .split(/\s*,\s*/)
    .filter((s) => s !== '');
}

function parsePort(text: string, allowZero: boolean): number | null {
  if (!/^[0-9]+$/.test(text)) return null;
  const port = Number(text);
  if (port > 65535 || (!allowZero && port === 0)) return null;
  return port;
}

/** Parses one "NAME://host:port" entry. */
export function parseEndpoint(entry: string): Parsed<EndpointAddress> {
  const m = ENDPOINT.exec(entry);
  if (m === null) return fail(`Unable to parse ${entry} to a broker endpoint`);
  const [, name = '', host = '', portText = ''] = m;
  if (name === '') return fail(`Unable to parse ${entry} to a broker endpoint: the listener name is empty`);
  const port = parsePort(portText, true);
  if (port === null) return fail(`Unable to parse ${entry} to a broker endpoint: port ${portText} is not in [0,...,65535]`);
  return ok({ name: name.toUpperCase(), host: host === '' ? null : host, port });
}

const isIpv4 = (host: string | null): boolean => host !== null && /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
const isIpv6 = (host: string | null): boolean => host !== null && host.includes(':');

/**
 * Parses a listener list. Names must be distinct; with `requireDistinctPorts` (listeners, not
 * advertised.listeners) ports must be distinct too, except that one IPv4 and one IPv6 listener may share a
 * port, and port 0 never clashes.
 */
export function parseEndpointList(value: string | null, requireDistinctPorts: boolean): Parsed<EndpointAddress[]> {
  const endpoints: EndpointAddress[] = [];
  for (const entry of parseCsvList(value)) {
    const parsed = parseEndpoint(entry);
    if (!parsed.ok) return parsed;
    endpoints.push(parsed.value);
  }
  const names = new Set<string>();
  for (const e of endpoints) {
    if (names.has(e.name)) return fail(`Each listener must have a different name, found ${e.name} twice in ${value ?? ''}`);
    names.add(e.name);
  }
  if (requireDistinctPorts) {
    const byPort = new Map<number, EndpointAddress[]>();
    for (const e of endpoints) {
      if (e.port === 0) continue;
      byPort.set(e.port, [...(byPort.get(e.port) ?? []), e]);
    }
    for (const [port, sharing] of byPort) {
      if (sharing.length === 1) continue;
      const [a, b] = sharing;
      const ipv4AndIpv6 =
        sharing.length === 2 && a !== undefined && b !== undefined && ((isIpv4(a.host) && isIpv6(b.host)) || (isIpv6(a.host) && isIpv4(b.host)));
      if (!ipv4AndIpv6) {
        return fail(
          `Each listener must have a different port unless exactly one is IPv4 and the other IPv6, but listeners ${sharing.map((e) => e.name).join(', ')} share port ${port}`,
        );
      }
    }
  }
  return ok(endpoints);
}

/** Parses "NAME:PROTOCOL,..." into a map from normalised listener name to protocol. */
export function parseSecurityProtocolMap(value: string): Parsed<Map<string, SecurityProtocol>> {
  const map = new Map<string, SecurityProtocol>();
  if (value.trim() === '') return ok(map);
  for (const entry of value.trim().split(/\s*,\s*/)) {
    const colon = entry.lastIndexOf(':');
    if (colon < 0) return fail(`Map entry ${entry} is not of the form LISTENER_NAME:SECURITY_PROTOCOL`);
    const name = entry.slice(0, colon).trim().toUpperCase();
    const protocol = entry.slice(colon + 1).trim();
    if (name === '') return fail(`Map entry ${entry} has an empty listener name`);
    if (map.has(name)) return fail(`Duplicate key ${name} in the map`);
    const upper = protocol.toUpperCase();
    if (!isSecurityProtocol(upper)) {
      return fail(`Invalid security protocol \`${protocol}\`; valid ones are ${SECURITY_PROTOCOLS.join(', ')}`);
    }
    map.set(name, upper);
  }
  return ok(map);
}

/** Parses "{host}:{port}" (IPv6 hosts in brackets). */
export function parseHostPort(entry: string, options: { allowZeroPort?: boolean } = {}): Parsed<HostPort> {
  const m = HOST_PORT.exec(entry.trim());
  if (m === null) return fail(`${entry} is not of the form {host}:{port}`);
  const [, host = '', portText = ''] = m;
  if (host === '') return fail(`${entry} has an empty host`);
  const port = parsePort(portText, options.allowZeroPort === true);
  if (port === null) return fail(`${entry} has port ${portText}, not in [${options.allowZeroPort === true ? 0 : 1},...,65535]`);
  return ok({ host, port });
}

/** Parses one "{id}@{host}:{port}" voter entry. */
export function parseVoter(entry: string): Parsed<QuorumVoter> {
  const parts = entry.split('@');
  if (parts.length !== 2) return fail(`${entry} is not of the form {id}@{host}:{port}`);
  const [idText = '', address = ''] = parts;
  if (!/^[0-9]+$/.test(idText) || Number(idText) > 2 ** 31 - 1) return fail(`Failed to parse voter ID as an integer from ${idText}`);
  const hostPort = parseHostPort(address);
  if (!hostPort.ok) return fail(`Failed to parse host and port from ${address}: ${hostPort.reason}`);
  if (hostPort.value.host === '0.0.0.0') return fail(`Host string (${hostPort.value.host}) of voter ${idText} is not routable`);
  return ok({ id: Number(idText), ...hostPort.value });
}

/** Parses the voter list; voter ids must be distinct. */
export function parseVoters(entries: readonly string[]): Parsed<QuorumVoter[]> {
  const voters: QuorumVoter[] = [];
  const ids = new Set<number>();
  for (const entry of entries) {
    const voter = parseVoter(entry);
    if (!voter.ok) return voter;
    if (ids.has(voter.value.id)) return fail(`Voter id ${voter.value.id} appears more than once`);
    ids.add(voter.value.id);
    voters.push(voter.value);
  }
  return ok(voters);
}

export interface InitialController extends QuorumVoter {
  /** The controller's metadata log directory id (22-character base64url UUID). */
  readonly directoryId: string;
}

/**
 * Parses `kafka-storage format --initial-controllers` entries: "{id}@{host}:{port}:{directory id}"; ids
 * must be distinct.
 */
export function parseInitialControllers(entries: readonly string[]): Parsed<InitialController[]> {
  const out: InitialController[] = [];
  for (const entry of entries) {
    const at = entry.lastIndexOf(':');
    const directoryId = entry.slice(at + 1);
    if (at < 0 || !/^[A-Za-z0-9_-]{21}[AQgw]$/.test(directoryId)) {
      return fail(`${entry} is not of the form {id}@{host}:{port}:{directory id} (the directory id is a 22-character base64url UUID)`);
    }
    const voter = parseVoter(entry.slice(0, at));
    if (!voter.ok) return voter;
    if (out.some((c) => c.id === voter.value.id)) return fail(`Controller id ${voter.value.id} appears more than once`);
    out.push({ ...voter.value, directoryId });
  }
  return ok(out);
}

/** Parses a list of "{host}:{port}" entries. */
export function parseHostPortList(entries: readonly string[]): Parsed<HostPort[]> {
  const out: HostPort[] = [];
  for (const entry of entries) {
    const hp = parseHostPort(entry);
    if (!hp.ok) return hp;
    out.push(hp.value);
  }
  return ok(out);
}

/** Formats an endpoint back to Kafka's "NAME://host:port" form. */
export function formatEndpoint(e: EndpointAddress): string {
  const host = e.host === null ? '' : e.host.includes(':') ? `[${e.host}]` : e.host;
  return `${e.name}://${host}:${e.port}`;
}

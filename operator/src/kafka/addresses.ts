/** Broker addresses: `host:port`, `[ipv6]:port`. */

export interface BrokerAddress {
  readonly host: string;
  readonly port: number;
}

/** Parses one `host:port` (IPv6 in brackets); throws a TypeError naming the bad entry. */
export function parseBrokerAddress(text: string): BrokerAddress {
  const trimmed = text.trim();
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):([0-9]{1,5})$/.exec(trimmed);
  const port = match === null ? NaN : Number(match[3]);
  const host = match?.[1] ?? match?.[2];
  if (host === undefined || !(port >= 1 && port <= 65_535)) {
    throw new TypeError(`bootstrap server ${JSON.stringify(text)} is not host:port (IPv6 as [addr]:port, port 1-65535)`);
  }
  return { host, port };
}

/** `host:port`, bracketing IPv6 hosts. */
export function formatBrokerAddress(address: BrokerAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

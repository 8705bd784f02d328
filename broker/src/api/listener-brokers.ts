/** What several handlers list the same way: live brokers as seen on the listener a request arrived on. */
import type { MetadataImage } from '../metadata/metadata-image.ts';

/** Kafka's "authorized operations were not requested" sentinel (Integer.MIN_VALUE). */
export const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

export interface ListenerBroker {
  readonly id: number;
  readonly host: string;
  readonly port: number;
  readonly rack: string | null;
}

/** Unfenced brokers that have an endpoint on `listenerName`, by id; fenced brokers are left out, as Kafka does. */
export function listenerBrokers(image: MetadataImage, listenerName: string): ListenerBroker[] {
  const out: ListenerBroker[] = [];
  for (const b of [...image.brokers.values()].sort((x, y) => x.id - y.id)) {
    const endpoint = b.endpoints.find((e) => e.name === listenerName);
    if (b.fenced || endpoint === undefined) continue;
    out.push({ id: b.id, host: endpoint.host, port: endpoint.port, rack: b.rack });
  }
  return out;
}

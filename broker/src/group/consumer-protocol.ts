/**
 * The embedded consumer protocol (protocol type "consumer"): member metadata is an int16 version followed by
 * a ConsumerProtocolSubscription. Like Kafka's ClassicGroup.computeSubscribedTopics, we read the version and
 * then parse with version 0, the prefix of every later version, so a future subscription version still parses.
 */
import { Reader } from '../protocol/wire/reader.ts';
import { readConsumerProtocolSubscription } from '../protocol/generated/clients/consumer-protocol-subscription.ts';

export const CONSUMER_PROTOCOL_TYPE = 'consumer';

/** The topics a consumer's subscription metadata names, or null when the bytes are not a valid subscription. */
export function subscribedTopicsOf(metadata: Buffer): string[] | null {
  try {
    const reader = new Reader(metadata);
    const version = reader.int16();
    if (version < 0) return null;
    return readConsumerProtocolSubscription(reader, 0).topics;
  } catch {
    return null;
  }
}

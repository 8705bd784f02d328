/**
 * Kafka UUIDs travel as 16 raw bytes and are shown (Uuid.toString) as URL-safe base64 without padding:
 * 22 characters. We use that string form in decoded messages so values compare with `===`.
 */
export type Uuid = string;

export const ZERO_UUID: Uuid = 'AAAAAAAAAAAAAAAAAAAAAA';
/** Kafka's reserved id of the `__cluster_metadata` topic (Uuid.METADATA_TOPIC_ID = 0...01). */
export const METADATA_TOPIC_ID: Uuid = 'AAAAAAAAAAAAAAAAAAAAAQ';

const UUID_PATTERN = /^[A-Za-z0-9_-]{21}[AQgw]$/;

export const isUuid = (value: string): boolean => UUID_PATTERN.test(value);

export function uuidFromBytes(bytes: Buffer): Uuid {
  return bytes.toString('base64url', 0, 16);
}

export function uuidToBytes(uuid: Uuid): Buffer {
  const bytes = Buffer.from(uuid, 'base64url');
  if (bytes.length !== 16 || !isUuid(uuid)) throw new TypeError(`not a Kafka uuid (22 base64url characters): ${JSON.stringify(uuid)}`);
  return bytes;
}

/**
 * A random version-4 UUID, avoiding the values Kafka reserves: ZERO_UUID, METADATA_TOPIC_ID, and ids whose
 * string form starts with '-' (Kafka's Uuid.randomUuid re-draws those because they read like CLI flags).
 */
export function randomUuid(randomBytes: (size: number) => Buffer): Uuid {
  for (;;) {
    const bytes = randomBytes(16);
    bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
    bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
    const id = uuidFromBytes(bytes);
    if (id !== ZERO_UUID && id !== METADATA_TOPIC_ID && !id.startsWith('-')) return id;
  }
}

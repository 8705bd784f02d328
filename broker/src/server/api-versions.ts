/**
 * Which API versions a listener advertises in ApiVersions (KIP-511).
 *
 * We advertise Apache Kafka 4.0's broker ranges, narrowed to what the generated codec implements and to the
 * APIs this process has handlers for. Minimums stay at 0 where the spec starts at 0: librdkafka checks
 * exact versions inside the advertised ranges (e.g. gzip needs Produce's minimum to be 0), and Kafka 4.0
 * itself advertises Produce 0-2 and rejects them (KIP-896).
 */
import { apiSpec } from '../protocol/generated/index.ts';

export interface VersionRange {
  readonly min: number;
  readonly max: number;
}

/** Apache Kafka 4.0's broker-listener ranges (../shared/notes/kafka-wire-compat.md). */
export const KAFKA_40_BROKER_RANGES: ReadonlyMap<number, VersionRange> = new Map<number, VersionRange>([
  [0, { min: 0, max: 12 }], [1, { min: 4, max: 17 }], [2, { min: 1, max: 10 }], [3, { min: 0, max: 13 }],
  [8, { min: 2, max: 9 }], [9, { min: 1, max: 9 }], [10, { min: 0, max: 6 }], [11, { min: 0, max: 9 }],
  [12, { min: 0, max: 4 }], [13, { min: 0, max: 5 }], [14, { min: 0, max: 5 }], [15, { min: 0, max: 6 }],
  [16, { min: 0, max: 5 }], [17, { min: 0, max: 1 }], [18, { min: 0, max: 4 }], [19, { min: 2, max: 7 }],
  [20, { min: 1, max: 6 }], [21, { min: 0, max: 2 }], [22, { min: 0, max: 5 }], [23, { min: 2, max: 4 }],
  [24, { min: 0, max: 5 }], [25, { min: 0, max: 4 }], [26, { min: 0, max: 5 }], [28, { min: 0, max: 5 }],
  [29, { min: 1, max: 3 }], [30, { min: 1, max: 3 }], [31, { min: 1, max: 3 }], [32, { min: 1, max: 4 }],
  [33, { min: 0, max: 2 }], [35, { min: 1, max: 4 }], [36, { min: 0, max: 2 }], [37, { min: 0, max: 3 }],
  [42, { min: 0, max: 2 }], [43, { min: 0, max: 2 }], [44, { min: 0, max: 1 }], [45, { min: 0, max: 0 }],
  [46, { min: 0, max: 0 }], [47, { min: 0, max: 0 }], [48, { min: 0, max: 1 }], [49, { min: 0, max: 1 }],
  [50, { min: 0, max: 0 }], [51, { min: 0, max: 0 }], [55, { min: 0, max: 2 }], [57, { min: 0, max: 2 }],
  [60, { min: 0, max: 2 }], [61, { min: 0, max: 0 }], [64, { min: 0, max: 0 }], [65, { min: 0, max: 0 }],
  [66, { min: 0, max: 1 }], [68, { min: 0, max: 1 }], [69, { min: 0, max: 1 }], [75, { min: 0, max: 0 }],
]);

/** Extra APIs a controller listener serves (KRaft). */
export const KAFKA_40_CONTROLLER_RANGES: ReadonlyMap<number, VersionRange> = new Map<number, VersionRange>([
  [52, { min: 0, max: 2 }], [53, { min: 0, max: 1 }], [54, { min: 0, max: 1 }], [55, { min: 0, max: 2 }],
  [56, { min: 2, max: 3 }], [59, { min: 0, max: 1 }], [62, { min: 0, max: 4 }], [63, { min: 0, max: 1 }],
  [64, { min: 0, max: 0 }], [67, { min: 0, max: 0 }], [70, { min: 0, max: 0 }], [80, { min: 0, max: 0 }],
  [81, { min: 0, max: 0 }], [82, { min: 0, max: 0 }], [18, { min: 0, max: 4 }],
]);

/**
 * Versions below which a request is refused with UNSUPPORTED_VERSION although the range advertises them
 * (Kafka 4.0 advertises Produce 0-2 for librdkafka's sake and rejects them: KIP-896).
 */
export const REJECTED_BELOW: ReadonlyMap<number, number> = new Map([[0, 3]]);

/** The advertised range of each handled API: Kafka's range intersected with the codec's. */
export function advertisedVersions(handledApiKeys: Iterable<number>, ranges: ReadonlyMap<number, VersionRange>): Map<number, VersionRange> {
  const out = new Map<number, VersionRange>();
  for (const apiKey of [...handledApiKeys].sort((a, b) => a - b)) {
    const kafka = ranges.get(apiKey);
    const spec = apiSpec(apiKey);
    if (kafka === undefined || spec === undefined) continue;
    const min = Math.max(kafka.min, spec.minVersion);
    const max = Math.min(kafka.max, spec.maxVersion);
    if (min <= max) out.set(apiKey, { min, max });
  }
  return out;
}

const SOFTWARE_NAME_PATTERN = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

/**
 * Validates ApiVersions v3+ client software name/version (KIP-511): Kafka answers INVALID_REQUEST when
 * either does not match its pattern.
 */
export function isValidClientSoftware(name: string, version: string): boolean {
  return SOFTWARE_NAME_PATTERN.test(name) && SOFTWARE_NAME_PATTERN.test(version);
}

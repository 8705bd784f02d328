/**
 * API version negotiation (KIP-35 / KIP-511): for each API, the highest version inside both the broker's
 * advertised range (its ApiVersions response) and the range our generated codec implements. An unstable
 * latest version of a spec is never chosen.
 */
import { apiSpec } from '../../../broker/src/protocol/generated/index.ts';

export interface VersionRange {
  readonly min: number;
  readonly max: number;
}

/** The codec's range for an API, without an unstable latest version; null for an API the codec lacks. */
export function clientRange(apiKey: number): VersionRange | null {
  const spec = apiSpec(apiKey);
  if (spec === undefined) return null;
  const max = spec.latestVersionUnstable ? spec.maxVersion - 1 : spec.maxVersion;
  return max >= spec.minVersion ? { min: spec.minVersion, max } : null;
}

/** The highest version both sides support, or null when the ranges do not meet (or either side lacks the API). */
export function negotiateVersion(apiKey: number, broker: VersionRange | undefined): number | null {
  const ours = clientRange(apiKey);
  if (ours === null || broker === undefined) return null;
  const max = Math.min(ours.max, broker.max);
  return max >= Math.max(ours.min, broker.min) ? max : null;
}

/** `0-7`, or `none` for an absent range: for error messages. */
export const formatRange = (range: VersionRange | null | undefined): string => (range === null || range === undefined ? 'none' : `${range.min}-${range.max}`);

/** What crash-child.ts (the killed process) and crash.test.ts (the checker) must agree on. */
import { resolveLogConfig } from '../../../broker/src/log/config.ts';

export const CRASH_CONFIG = resolveLogConfig({ segmentBytes: 48 * 1024, indexIntervalBytes: 1024 });

/** A record's value is derived from its offset, so any surviving record can be checked on its own. */
export const valueFor = (offset: bigint): string => `o${offset}:${'x'.repeat(Number(offset % 257n))}`;

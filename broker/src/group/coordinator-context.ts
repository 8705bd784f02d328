import type { GroupCoordinatorConfig } from './coordinator-config.ts';
import type { GroupCoordinatorLogger } from './coordinator-logger.ts';
import type { CoordinatorTime, KeyedTimers } from './coordinator-time.ts';
import type { RecordWriter } from './record-writer.ts';

/** What the group and offset managers share: configuration and the injected effects. */
export interface CoordinatorContext {
  readonly config: GroupCoordinatorConfig;
  readonly time: CoordinatorTime;
  readonly timers: KeyedTimers;
  readonly writer: RecordWriter;
  readonly logger: GroupCoordinatorLogger;
  /** A fresh UUID string for member ids (injected so that simulations are deterministic). */
  readonly randomUuid: () => string;
}

/** The parts of a request header the group APIs use. */
export interface RequestContext {
  readonly apiVersion: number;
  readonly clientId: string;
  readonly clientHost: string;
}

/** Structured log sink; pino's logger satisfies it. The coordinator logs the decisions Kafka logs at info. */
export interface GroupCoordinatorLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

const noop = (): void => {};

export const SILENT_LOGGER: GroupCoordinatorLogger = Object.freeze({ debug: noop, info: noop, warn: noop });

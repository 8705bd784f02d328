/**
 * Group coordinator settings, named after the Kafka broker configs they mirror (units last).
 * Defaults are Kafka 4.x's.
 */
export interface GroupCoordinatorConfig {
  /** group.min.session.timeout.ms: JoinGroup with a lower session timeout gets INVALID_SESSION_TIMEOUT. */
  readonly groupMinSessionTimeoutMs: number;
  /** group.max.session.timeout.ms: JoinGroup with a higher session timeout gets INVALID_SESSION_TIMEOUT. */
  readonly groupMaxSessionTimeoutMs: number;
  /** group.initial.rebalance.delay.ms: how long the first rebalance of an Empty group waits for more members. */
  readonly groupInitialRebalanceDelayMs: number;
  /** group.max.size: members per group; joins beyond it get GROUP_MAX_SIZE_REACHED. */
  readonly groupMaxSize: number;
  /**
   * How long a NEW member's JoinGroup may stay parked before the member is dropped (Kafka hard-codes 5 minutes:
   * GroupCoordinatorConfig.CLASSIC_GROUP_NEW_MEMBER_JOIN_TIMEOUT_MS).
   */
  readonly groupNewMemberJoinTimeoutMs: number;
  /** offset.metadata.max.bytes: longer commit metadata gets OFFSET_METADATA_TOO_LARGE (counted in UTF-16 units, as Java does). */
  readonly offsetMetadataMaxBytes: number;
  /** offsets.retention.minutes, in ms: how long offsets of an Empty (or simple) group are kept. */
  readonly offsetsRetentionMs: number;
  /** offsets.retention.check.interval.ms: period of the expired-offsets and empty-group cleanup. */
  readonly offsetsRetentionCheckIntervalMs: number;
}

const INT32_MAX = 2_147_483_647;

export const DEFAULT_GROUP_COORDINATOR_CONFIG: GroupCoordinatorConfig = Object.freeze({
  groupMinSessionTimeoutMs: 6_000,
  groupMaxSessionTimeoutMs: 1_800_000,
  groupInitialRebalanceDelayMs: 3_000,
  groupMaxSize: INT32_MAX,
  groupNewMemberJoinTimeoutMs: 300_000,
  offsetMetadataMaxBytes: 4_096,
  offsetsRetentionMs: 7 * 24 * 60 * 60 * 1_000,
  offsetsRetentionCheckIntervalMs: 600_000,
});

export class GroupConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GroupConfigError';
  }
}

/** Defaults overlaid with `overrides`; throws GroupConfigError naming the first out-of-range setting. */
export function resolveGroupCoordinatorConfig(overrides: Partial<GroupCoordinatorConfig> = {}): GroupCoordinatorConfig {
  const config: GroupCoordinatorConfig = { ...DEFAULT_GROUP_COORDINATOR_CONFIG, ...overrides };
  const checkInteger = (name: keyof GroupCoordinatorConfig, min: number, max = Number.MAX_SAFE_INTEGER): void => {
    const value = config[name];
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new GroupConfigError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
    }
  };
  checkInteger('groupMinSessionTimeoutMs', 0, INT32_MAX);
  checkInteger('groupMaxSessionTimeoutMs', 0, INT32_MAX);
  checkInteger('groupInitialRebalanceDelayMs', 0, INT32_MAX);
  checkInteger('groupMaxSize', 1, INT32_MAX);
  checkInteger('groupNewMemberJoinTimeoutMs', 1, INT32_MAX);
  checkInteger('offsetMetadataMaxBytes', 0, INT32_MAX);
  checkInteger('offsetsRetentionMs', 1);
  checkInteger('offsetsRetentionCheckIntervalMs', 1, INT32_MAX);
  if (config.groupMinSessionTimeoutMs > config.groupMaxSessionTimeoutMs) {
    throw new GroupConfigError(
      `groupMinSessionTimeoutMs (${config.groupMinSessionTimeoutMs}) exceeds groupMaxSessionTimeoutMs (${config.groupMaxSessionTimeoutMs})`,
    );
  }
  return Object.freeze(config);
}

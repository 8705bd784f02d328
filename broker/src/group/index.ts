/** Public surface of the classic group coordinator (see DESIGN.md). */
export {
  GroupCoordinator,
  CoordinatorLoadError,
  type CoordinatorStatus,
  type GroupCoordinatorDeps,
  type GroupCoordinatorSnapshot,
  type GroupSnapshot,
  type LoadSummary,
  type MemberSnapshot,
  type OffsetSnapshot,
} from './group-coordinator.ts';
export type { RequestContext } from './coordinator-context.ts';
export type { CoordinatorTime, TimerHandle } from './coordinator-time.ts';
export type { GroupCoordinatorLogger } from './coordinator-logger.ts';
export {
  DEFAULT_GROUP_COORDINATOR_CONFIG,
  GroupConfigError,
  resolveGroupCoordinatorConfig,
  type GroupCoordinatorConfig,
} from './coordinator-config.ts';
export {
  decodeCoordinatorRecord,
  GROUP_METADATA_RECORD_TYPE,
  OFFSET_COMMIT_RECORD_TYPE,
  type CoordinatorRecord,
  type DecodedCoordinatorRecord,
  type OffsetAndMetadata,
} from './coordinator-records.ts';
export { appendErrorToResponseError, type AppendRecords } from './record-writer.ts';
export { GroupState, ALL_GROUP_STATES, isValidTransition } from './classic-group-state.ts';
export { GroupInvariantError } from './invariant.ts';

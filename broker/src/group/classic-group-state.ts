/**
 * Classic group states (Kafka's ClassicGroupState). Legal transitions, each listed as target <- sources:
 *
 *   PreparingRebalance  <- Empty               first member joins (waits group.initial.rebalance.delay.ms)
 *                       <- Stable              a member joins/leaves/expires/changes metadata, or the leader rejoins
 *                       <- CompletingRebalance a member joins/leaves/expires, or a sync deadline removes members
 *   CompletingRebalance <- PreparingRebalance  join phase done with >= 1 member: generation + 1, leader gets members
 *   Stable              <- CompletingRebalance the leader's assignment was persisted and handed to every member
 *   Empty               <- PreparingRebalance  join phase done with no member left: generation + 1
 *   Dead                <- any state (Dead too) group deleted, expired or unloaded (coordinator shutdown)
 *
 * A group object never leaves Dead; a group restored after a failed deletion is a new object.
 * Loading from the log creates groups directly in Empty (no members) or Stable (members), without a transition.
 */
export const GroupState = {
  Empty: 'Empty',
  PreparingRebalance: 'PreparingRebalance',
  CompletingRebalance: 'CompletingRebalance',
  Stable: 'Stable',
  Dead: 'Dead',
} as const;

export type GroupState = (typeof GroupState)[keyof typeof GroupState];

export const ALL_GROUP_STATES: readonly GroupState[] = Object.freeze(Object.values(GroupState));

const VALID_PREVIOUS_STATES: Readonly<Record<GroupState, readonly GroupState[]>> = Object.freeze({
  Empty: [GroupState.PreparingRebalance],
  PreparingRebalance: [GroupState.Stable, GroupState.CompletingRebalance, GroupState.Empty],
  CompletingRebalance: [GroupState.PreparingRebalance],
  Stable: [GroupState.CompletingRebalance],
  Dead: [GroupState.Stable, GroupState.PreparingRebalance, GroupState.CompletingRebalance, GroupState.Empty, GroupState.Dead],
});

export function isValidTransition(from: GroupState, to: GroupState): boolean {
  return VALID_PREVIOUS_STATES[to].includes(from);
}

export function validPreviousStates(to: GroupState): readonly GroupState[] {
  return VALID_PREVIOUS_STATES[to];
}

/** The lower-case form ListGroups' states filter is matched against (Kafka's toLowerCaseString). */
export const groupStateFilterName = (state: GroupState): string => state.toLowerCase();

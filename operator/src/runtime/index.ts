/**
 * The operator runtime's public API. Controllers import from here only; README.md describes each piece.
 */
export { systemClock, FakeClock, sleep, formatMicroTime, formatTime, flushMicrotasks, type Clock, type TimerHandle } from './clock.ts';
export { keyOf, objectKey, parseKey, groupOf, type KubeObject, type ObjectMeta, type ObjectKey, type OwnerReference } from './objects.ts';
export { Resources, BUILTIN_RESOURCES, ResourceTable, resourcePath, apiVersionOf, describeResource, type ResourceType } from './resources.ts';
export {
  KubeApiError,
  isKubeApiError,
  isNotFound,
  isConflict,
  isAlreadyExists,
  isGone,
  errorMessage,
  type KubeHttp,
  type KubeRequest,
  type KubeStatus,
  type WatchRequest,
  type RawWatchEvent,
  type HttpMethod,
} from './kube-api.ts';
export { HttpKubeClient, loadKubeConfig, type HttpKubeClientOptions } from './kube-client.ts';
export { WorkQueue, backoffDelayMs, DEFAULT_BACKOFF, type BackoffOptions, type WorkQueueOptions } from './work-queue.ts';
export { Informer, kubeListerWatcher, listAll, type EventHandler, type ListerWatcher, type ListResult, type Selector, type InformerOptions, type WatchOptions } from './informer.ts';
export {
  enqueueHandler,
  keysForObject,
  keysForControllerOwner,
  generationChanged,
  metadataChanged,
  anyOf,
  type KeyMapper,
  type KeySink,
  type Predicate,
  type WatchEventInfo,
  type WatchEventKind,
} from './handlers.ts';
export { ObjectClient, FIELD_MANAGER, PatchContentType, type DeleteOptions, type PropagationPolicy, type ObjectClientOptions } from './apply.ts';
export {
  decideLease,
  releasedLeaseSpec,
  sameLeaseSpec,
  LeaderElector,
  kubeLeaseClient,
  defaultIdentity,
  type LeaseSpec,
  type LeaseState,
  type LeaseObservation,
  type LeaseDecision,
  type LeaseDecisionInput,
  type LeaseClient,
  type LeaderElectorOptions,
  type StoppedLeadingReason,
} from './leader-election.ts';
export { KubeEventRecorder, kubeEventSink, loggingEventRecorder, type EventRecorder, type EventSink, type EventType, type CoreEvent, type ObjectReference } from './events.ts';
export {
  Manager,
  watchPrimary,
  watchOwned,
  watchMapped,
  type Controller,
  type ReconcileRequest,
  type ReconcileResult,
  type WatchSource,
  type WatchSourceOptions,
  type ManagerOptions,
  type LeaderElectionOptions,
} from './manager.ts';

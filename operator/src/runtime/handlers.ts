/**
 * From informer events to work-queue keys, like controller-runtime's handler package:
 *
 *   keysForObject            the object's own key (EnqueueRequestForObject), for the controller's primary kind
 *   keysForControllerOwner   the key of the owner named by the object's controller ownerReference of the given
 *                            kind and group (EnqueueRequestForOwner with OnlyControllerOwner); version is ignored
 *                            as in controller-runtime, since an owner keeps its uid across versions
 *   any function             EnqueueRequestsFromMapFunc
 *
 * enqueueHandler maps both the old and the new object on update (so moving a child to another owner
 * reconciles both owners) and never looks at what changed: reconcilers are level-triggered.
 */
import type { EventHandler } from './informer.ts';
import { groupOf, keyOf, objectKey, type KubeObject } from './objects.ts';
import type { ResourceType } from './resources.ts';

/** Keys to enqueue for an object; empty for none. */
export type KeyMapper<T extends KubeObject = KubeObject> = (obj: T) => readonly string[];

export type WatchEventKind = 'add' | 'update' | 'delete';

export interface WatchEventInfo<T extends KubeObject = KubeObject> {
  readonly kind: WatchEventKind;
  readonly object: T;
  /** Only for update. */
  readonly oldObject?: T;
}

/** Return false to ignore an event (controller-runtime's predicates). */
export type Predicate<T extends KubeObject = KubeObject> = (event: WatchEventInfo<T>) => boolean;

export const keysForObject: KeyMapper = (obj) => [objectKey(obj)];

/** Keys of the controller owner of the given type (at most one: a controller reference is unique). */
export function keysForControllerOwner(owner: Pick<ResourceType, 'group' | 'kind' | 'namespaced'>): KeyMapper {
  return (obj) => {
    for (const ref of obj.metadata.ownerReferences ?? []) {
      if (ref.controller !== true || ref.kind !== owner.kind || groupOf(ref.apiVersion) !== owner.group) continue;
      // Owner references never cross namespaces: a namespaced owner lives in its child's namespace.
      return [owner.namespaced ? keyOf(obj.metadata.namespace, ref.name) : ref.name];
    }
    return [];
  };
}

/**
 * Update events where metadata.generation changed (spec edits), plus every add and delete. Status-only
 * updates are skipped. Objects without a generation always pass.
 */
export const generationChanged: Predicate = (event) => {
  if (event.kind !== 'update' || event.oldObject === undefined) return true;
  const before = event.oldObject.metadata.generation;
  const after = event.object.metadata.generation;
  return before === undefined || after === undefined || before !== after;
};

/** Update events where labels or annotations changed, plus every add and delete. */
export const metadataChanged: Predicate = (event) => {
  if (event.kind !== 'update' || event.oldObject === undefined) return true;
  const a = event.oldObject.metadata;
  const b = event.object.metadata;
  return !sameRecord(a.labels, b.labels) || !sameRecord(a.annotations, b.annotations);
};

/** Passes an event when any of the predicates does. */
export function anyOf<T extends KubeObject>(...predicates: readonly Predicate<T>[]): Predicate<T> {
  return (event) => predicates.some((p) => p(event));
}

function sameRecord(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined): boolean {
  const ea = Object.entries(a ?? {});
  if (ea.length !== Object.keys(b ?? {}).length) return false;
  return ea.every(([k, v]) => b?.[k] === v);
}

export interface KeySink {
  add(key: string): void;
}

/** An informer handler that adds the mapped keys to a queue. Mapper errors are the informer's to log. */
export function enqueueHandler<T extends KubeObject>(sink: KeySink, map: KeyMapper<T>, predicate?: Predicate<T>): EventHandler<T> {
  const pass = (event: WatchEventInfo<T>): boolean => predicate === undefined || predicate(event);
  const addAll = (keys: readonly string[]): void => {
    for (const key of keys) sink.add(key);
  };
  return {
    onAdd: (obj) => {
      if (pass({ kind: 'add', object: obj })) addAll(map(obj));
    },
    onUpdate: (oldObj, newObj) => {
      if (!pass({ kind: 'update', object: newObj, oldObject: oldObj })) return;
      const keys = new Set([...map(oldObj), ...map(newObj)]);
      addAll([...keys]);
    },
    onDelete: (obj) => {
      if (pass({ kind: 'delete', object: obj })) addAll(map(obj));
    },
  };
}

import { describe, expect, it } from 'vitest';
import { ownerReference } from '../../../../operator/src/specs/metadata.ts';
import { buildClusterResources } from '../../../../operator/src/specs/cluster-resources.ts';
import { enqueueHandler, generationChanged, keysForControllerOwner, keysForObject, metadataChanged } from '../../../../operator/src/runtime/handlers.ts';
import type { KubeObject, OwnerReference } from '../../../../operator/src/runtime/objects.ts';
import { Resources, type ResourceType } from '../../../../operator/src/runtime/resources.ts';
import { threeByThree } from '../fixtures.ts';

const child = (namespace: string | undefined, ownerReferences: OwnerReference[], extra: Partial<KubeObject['metadata']> = {}): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: 'orders-brokers', ...(namespace === undefined ? {} : { namespace }), ownerReferences, ...extra },
});
const ref = (over: Partial<OwnerReference> = {}): OwnerReference => ({ apiVersion: 'kafka.millrace.dev/v1alpha1', kind: 'KafkaCluster', name: 'orders', uid: 'u1', controller: true, ...over });
const toCluster = keysForControllerOwner(Resources.KafkaCluster);

describe('keysForControllerOwner (EnqueueRequestForOwner, OnlyControllerOwner)', () => {
  it("maps a child to its controller owner's key in the child's namespace", () => {
    expect(toCluster(child('streaming', [ref()]))).toEqual(['streaming/orders']);
  });

  it('maps every object the builders produce to the KafkaCluster that owns it', () => {
    const cluster = threeByThree();
    const built = buildClusterResources(cluster);
    if (!built.ok) throw new Error('fixture must be valid');
    for (const obj of built.objects) expect(toCluster(obj)).toEqual(['streaming/orders']);
    expect(ownerReference(cluster).controller).toBe(true);
  });

  it('ignores owner references that are not the controller', () => {
    expect(toCluster(child('streaming', [ref({ controller: false })]))).toEqual([]);
    const { controller: _dropped, ...withoutFlag } = ref();
    expect(toCluster(child('streaming', [withoutFlag]))).toEqual([]);
  });

  it('ignores owners of another kind or another group, and matches any version of the right group', () => {
    expect(toCluster(child('streaming', [ref({ kind: 'KafkaTopic' })]))).toEqual([]);
    expect(toCluster(child('streaming', [ref({ apiVersion: 'other.example.com/v1alpha1' })]))).toEqual([]);
    expect(toCluster(child('streaming', [ref({ apiVersion: 'kafka.millrace.dev/v1' })]))).toEqual(['streaming/orders']);
  });

  it('picks the controller reference among several', () => {
    const refs = [ref({ name: 'a', controller: false }), ref({ kind: 'Other', name: 'b' }), ref({ name: 'c' })];
    expect(toCluster(child('streaming', refs))).toEqual(['streaming/c']);
  });

  it('gives a cluster-scoped owner a key without namespace', () => {
    const clusterScoped: ResourceType = { group: 'example.com', version: 'v1', kind: 'Tenant', plural: 'tenants', namespaced: false };
    const obj = child('streaming', [ref({ apiVersion: 'example.com/v1', kind: 'Tenant', name: 'acme' })]);
    expect(keysForControllerOwner(clusterScoped)(obj)).toEqual(['acme']);
  });

  it('maps core-group owners by an empty group', () => {
    const obj = child('ns', [ref({ apiVersion: 'v1', kind: 'Service', name: 'svc' })]);
    expect(keysForControllerOwner(Resources.Service)(obj)).toEqual(['ns/svc']);
  });

  it('gives nothing for an object without owners', () => {
    expect(toCluster(child('ns', []))).toEqual([]);
    expect(toCluster({ metadata: { name: 'x', namespace: 'ns' } })).toEqual([]);
  });
});

describe('enqueueHandler', () => {
  const sink = () => {
    const keys: string[] = [];
    return { keys, add: (k: string) => keys.push(k) };
  };

  it('enqueues the owners of both the old and the new object on update', () => {
    const s = sink();
    const h = enqueueHandler(s, toCluster);
    h.onUpdate?.(child('ns', [ref({ name: 'old' })]), child('ns', [ref({ name: 'new' })]));
    expect(s.keys).toEqual(['ns/old', 'ns/new']);
    s.keys.length = 0;
    h.onUpdate?.(child('ns', [ref()]), child('ns', [ref()]));
    expect(s.keys).toEqual(['ns/orders']); // de-duplicated
  });

  it('enqueues on add and delete, and the object itself with keysForObject', () => {
    const s = sink();
    const h = enqueueHandler(s, keysForObject);
    h.onAdd?.({ metadata: { name: 'a', namespace: 'ns' } });
    h.onDelete?.({ metadata: { name: 'node-1' } });
    expect(s.keys).toEqual(['ns/a', 'node-1']);
  });

  it('applies a predicate: generationChanged skips status-only updates', () => {
    const s = sink();
    const h = enqueueHandler(s, keysForObject, generationChanged);
    const v1: KubeObject = { metadata: { name: 'c', namespace: 'ns', generation: 1, resourceVersion: '1' } };
    h.onUpdate?.(v1, { metadata: { ...v1.metadata, resourceVersion: '2' } });
    expect(s.keys).toEqual([]);
    h.onUpdate?.(v1, { metadata: { ...v1.metadata, generation: 2, resourceVersion: '3' } });
    h.onAdd?.(v1);
    h.onDelete?.(v1);
    expect(s.keys).toEqual(['ns/c', 'ns/c', 'ns/c']);
  });

  it('metadataChanged passes label and annotation changes only', () => {
    const a: KubeObject = { metadata: { name: 'c', labels: { x: '1' }, annotations: { p: 'true' } } };
    expect(metadataChanged({ kind: 'update', oldObject: a, object: { metadata: { ...a.metadata } } })).toBe(false);
    expect(metadataChanged({ kind: 'update', oldObject: a, object: { metadata: { ...a.metadata, labels: { x: '2' } } } })).toBe(true);
    expect(metadataChanged({ kind: 'update', oldObject: a, object: { metadata: { ...a.metadata, annotations: {} } } })).toBe(true);
  });
});

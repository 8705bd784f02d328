import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CRD_BYTES_MAX, crdFiles, kafkaClusterCrd, kafkaTopicCrd, parseCrdFile, serializeCrd } from '../../../operator/src/api/crds.ts';
import type { KafkaCluster } from '../../../operator/src/api/kafka-cluster-types.ts';
import type { KafkaTopic } from '../../../operator/src/api/kafka-topic-types.ts';
import { effectiveTopicName } from '../../../operator/src/api/kafka-topic-types.ts';
import type { CelRule, JsonSchema } from '../../../operator/src/api/openapi.ts';
import { generateCrds } from '../../../operator/tools/gen-crds.ts';
import { threeByThree } from './fixtures.ts';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The schema node at a path of property names ('[]' steps into array items). */
function at(schema: JsonSchema, path: string): JsonSchema {
  let node = schema;
  for (const step of path.split('.')) {
    const next = step === '[]' ? node.items : node.properties?.[step];
    if (next === undefined) throw new Error(`no schema at ${path} (step ${step})`);
    node = next;
  }
  return node;
}

const rules = (schema: JsonSchema): readonly CelRule[] => schema['x-kubernetes-validations'] ?? [];
const schemaOf = (crd: ReturnType<typeof kafkaClusterCrd>): JsonSchema => {
  const version = crd.spec.versions[0];
  if (version === undefined) throw new Error('no version');
  return version.schema.openAPIV3Schema;
};

/** Walks every schema node with its path. */
function walk(schema: JsonSchema, path: string, visit: (node: JsonSchema, path: string) => void): void {
  visit(schema, path);
  for (const [k, v] of Object.entries(schema.properties ?? {})) walk(v, `${path}.${k}`, visit);
  if (schema.items !== undefined) walk(schema.items, `${path}[]`, visit);
  if (schema.additionalProperties !== undefined) walk(schema.additionalProperties, `${path}{}`, visit);
}

/** Checks that every field of a value is declared by the schema with a matching type (types vs schema drift). */
function conforms(value: unknown, schema: JsonSchema, path: string): string[] {
  if (schema['x-kubernetes-preserve-unknown-fields'] === true) return [];
  if (schema['x-kubernetes-int-or-string'] === true) return typeof value === 'string' || Number.isInteger(value) ? [] : [`${path}: not int-or-string`];
  switch (schema.type) {
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path}: not an object`];
      // metadata is declared as a bare object: the API server owns its schema.
      if (schema.properties === undefined && schema.additionalProperties === undefined) return [];
      const out: string[] = [];
      for (const [k, v] of Object.entries(value)) {
        const child = schema.properties?.[k] ?? schema.additionalProperties;
        out.push(...(child === undefined ? [`${path}.${k}: not in the schema`] : conforms(v, child, `${path}.${k}`)));
      }
      for (const r of schema.required ?? []) if (!(r in value)) out.push(`${path}.${r}: required`);
      return out;
    }
    case 'array':
      return Array.isArray(value) ? value.flatMap((v, i) => (schema.items === undefined ? [] : conforms(v, schema.items, `${path}[${i}]`))) : [`${path}: not an array`];
    case 'integer':
      return Number.isInteger(value) ? [] : [`${path}: not an integer`];
    case 'string': {
      if (typeof value !== 'string') return [`${path}: not a string`];
      if (schema.enum !== undefined && !schema.enum.includes(value)) return [`${path}: ${value} not in enum`];
      if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) return [`${path}: ${value} does not match ${schema.pattern}`];
      return [];
    }
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${path}: not a boolean`];
    default:
      return [];
  }
}

describe('CRD files', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'millrace-crds-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('are up to date in crds/ (run node operator/tools/gen-crds.ts when this fails)', () => {
    for (const r of generateCrds(REPO_ROOT, true)) expect(r, r.path).toMatchObject({ upToDate: true });
  });

  it('stay under the 256 KiB client-side apply limit', () => {
    for (const { path } of crdFiles()) {
      const bytes = readFileSync(join(REPO_ROOT, path)).byteLength;
      expect(bytes).toBeLessThan(CRD_BYTES_MAX);
      // Headroom for growth: flag it long before kubectl apply breaks.
      expect(bytes).toBeLessThan(CRD_BYTES_MAX / 4);
    }
  });

  it('round-trip exactly through their serialized form', () => {
    for (const { path, crd } of crdFiles()) {
      expect(parseCrdFile(readFileSync(join(REPO_ROOT, path), 'utf8'))).toEqual(crd);
      expect(serializeCrd(crd)).toBe(serializeCrd(structuredClone(crd)));
      // YAML never allows tabs in indentation; JSON.stringify escapes them inside strings.
      expect(serializeCrd(crd)).not.toContain('\t');
    }
  });

  it('--check reports drift and writing fixes it', () => {
    expect(generateCrds(tmp, true).every((r) => !r.upToDate)).toBe(true);
    generateCrds(tmp, false);
    expect(generateCrds(tmp, true).every((r) => r.upToDate)).toBe(true);
    writeFileSync(join(tmp, 'crds/kafkatopic.yaml'), 'edited by hand\n');
    expect(generateCrds(tmp, true).map((r) => r.upToDate)).toEqual([true, false]);
    expect(() => parseCrdFile('edited by hand\n')).toThrow(/header/);
  });
});

describe('CRD schemas', () => {
  it('are structural: every node has a type or an explicit escape', () => {
    for (const crd of [kafkaClusterCrd(), kafkaTopicCrd()]) {
      walk(schemaOf(crd), '', (node, path) => {
        const typed = node.type !== undefined || node['x-kubernetes-int-or-string'] === true || node['x-kubernetes-preserve-unknown-fields'] === true;
        expect(typed, `schema node ${path}`).toBe(true);
      });
    }
  });

  it('bound every list and map that a CEL rule walks', () => {
    const spec = at(schemaOf(kafkaClusterCrd()), 'spec');
    expect(at(spec, 'nodePools').maxItems).toBeGreaterThan(0);
    expect(at(spec, 'listeners').maxItems).toBeGreaterThan(0);
    expect(at(spec, 'nodePools.[].roles').maxItems).toBe(2);
  });

  it('make pool roles, node id offset, storage type and class, and topicName immutable with CEL', () => {
    const cluster = schemaOf(kafkaClusterCrd());
    const transition = (schema: JsonSchema): string[] => rules(schema).filter((r) => r.rule.includes('oldSelf')).map((r) => r.message);
    expect(transition(at(cluster, 'spec.nodePools.[].roles'))).toEqual(['roles are immutable']);
    expect(transition(at(cluster, 'spec.nodePools.[].nodeIdOffset'))).toEqual(['nodeIdOffset is immutable']);
    expect(transition(at(cluster, 'spec.nodePools.[].storage.type'))).toEqual(['storage.type is immutable']);
    expect(transition(at(cluster, 'spec.nodePools.[].storage.class'))).toEqual(['storage.class is immutable']);
    expect(transition(at(cluster, 'spec.nodePools.[].storage'))).toEqual(['storage.class is immutable']);
    // Transition rules inside a list only work when the API server can pair old and new items.
    expect(at(cluster, 'spec.nodePools')).toMatchObject({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] });

    const topic = schemaOf(kafkaTopicCrd());
    expect(rules(at(topic, 'spec')).find((r) => r.rule.includes('oldSelf'))?.message).toMatch(/topicName is immutable/);
  });

  it('have printer columns, a status subresource and no scale subresource (pools are list items)', () => {
    const cluster = kafkaClusterCrd().spec.versions[0];
    const topic = kafkaTopicCrd().spec.versions[0];
    expect(cluster?.additionalPrinterColumns.map((c) => c.name)).toEqual(['Ready', 'Version', 'Cluster-Id', 'Bootstrap', 'Age']);
    expect(topic?.additionalPrinterColumns.map((c) => c.name)).toEqual(['Cluster', 'Topic', 'Partitions', 'Replicas', 'Ready', 'Age']);
    expect(topic?.additionalPrinterColumns[0]?.jsonPath).toBe('.metadata.labels.kafka\\.millrace\\.dev/cluster');
    for (const v of [cluster, topic]) expect(v?.subresources).toEqual({ status: {} });
    expect(kafkaClusterCrd().metadata.name).toBe('kafkaclusters.kafka.millrace.dev');
    expect(kafkaTopicCrd().metadata.name).toBe('kafkatopics.kafka.millrace.dev');
  });

  it('declare every field of the TypeScript types (fully populated KafkaCluster and KafkaTopic)', () => {
    const base = threeByThree();
    const cluster: KafkaCluster = {
      ...base,
      spec: { ...base.spec, nodePools: [...base.spec.nodePools, { name: 'scratch', roles: ['broker'], replicas: 1, nodeIdOffset: 500, storage: { type: 'ephemeral', sizeLimit: '5Gi' } }] },
      status: {
        conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'ok', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 4 }],
        observedGeneration: 4,
        clusterId: 'MkU3OEVBNTcwNTJENDM2Qg',
        listeners: [{ name: 'plain', bootstrapServers: 'orders-bootstrap.streaming.svc:9092' }],
        nodePools: [{ name: 'brokers', replicas: 3, nodeIds: [100, 101, 102] }],
        runningVersion: '0.1.0',
      },
    };
    expect(conforms(cluster, schemaOf(kafkaClusterCrd()), '')).toEqual([]);

    const topic: KafkaTopic = {
      apiVersion: 'kafka.millrace.dev/v1alpha1',
      kind: 'KafkaTopic',
      metadata: { name: 'orders-events', namespace: 'streaming', uid: 'u', labels: { 'kafka.millrace.dev/cluster': 'orders' } },
      spec: { topicName: 'Orders.Events_v1', partitions: 12, replicas: 3, config: { 'retention.ms': 86_400_000, 'cleanup.policy': 'delete' } },
      status: { conditions: [], observedGeneration: 1, topicName: 'Orders.Events_v1', topicId: 'AAAAAAAAAAAAAAAAAAAAAA' },
    };
    expect(conforms(topic, schemaOf(kafkaTopicCrd()), '')).toEqual([]);
    expect(effectiveTopicName(topic)).toBe('Orders.Events_v1');
    expect(effectiveTopicName({ ...topic, spec: { partitions: 1, replicas: 1 } })).toBe('orders-events');
  });

  it('catch a field the schema does not declare (the conformance check can fail)', () => {
    const bad = { ...threeByThree(), spec: { ...threeByThree().spec, replicas: 3 } };
    expect(conforms(bad, schemaOf(kafkaClusterCrd()), '')).toEqual(['.spec.replicas: not in the schema']);
    const badSize = threeByThree({ nodePools: [{ name: 'c', roles: ['controller', 'broker'], replicas: 1, nodeIdOffset: 0, storage: { type: 'persistent-claim', size: '10 GB' } }] });
    expect(conforms(badSize, schemaOf(kafkaClusterCrd()), '')).toEqual([expect.stringContaining('.spec.nodePools[0].storage.size: 10 GB does not match')]);
    const badRole = { ...badSize, spec: { ...badSize.spec, nodePools: [{ name: 'c', roles: ['observer'], replicas: 1, nodeIdOffset: 0, storage: { type: 'ephemeral' } }] } };
    expect(conforms(badRole, schemaOf(kafkaClusterCrd()), '')).toEqual(['.spec.nodePools[0].roles[0]: observer not in enum']);
  });
});

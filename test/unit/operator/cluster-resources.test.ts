import { describe, expect, it } from 'vitest';
import { loadBrokerConfig } from '../../../broker/src/config/load-broker-config.ts';
import {
  ANNOTATION_CONFIG_HASH,
  API_GROUP_VERSION,
  LABEL_BROKER_ROLE,
  LABEL_CLUSTER,
  LABEL_POD_INDEX,
  LABEL_POOL,
} from '../../../operator/src/api/constants.ts';
import type { KafkaCluster, NodePool } from '../../../operator/src/api/kafka-cluster-types.ts';
import { buildClusterResources, buildConfigMap } from '../../../operator/src/specs/cluster-resources.ts';
import type { ChildObject, ConfigMap, PodDisruptionBudget, Service, StatefulSet } from '../../../operator/src/specs/kube-types.ts';
import { buildStatefulSet } from '../../../operator/src/specs/stateful-set.ts';
import { clusterIdOf, renderServerProperties } from '../../../operator/src/specs/server-properties.ts';
import { bootstrapServers, poolNodeIds, quorumVotersString } from '../../../operator/src/specs/topology.ts';
import { BROKERS, CONTROLLERS, deepFreeze, threeByThree } from './fixtures.ts';

function build(cluster: KafkaCluster): readonly ChildObject[] {
  const result = buildClusterResources(cluster);
  if (!result.ok) throw new Error(`unexpected invalid spec: ${JSON.stringify(result.validation.problems)}`);
  return result.objects;
}

function find<K extends ChildObject['kind']>(objects: readonly ChildObject[], kind: K, name: string): Extract<ChildObject, { kind: K }> {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found as Extract<ChildObject, { kind: K }>;
}

function env(sts: StatefulSet, name: string) {
  return sts.spec.template.spec.containers[0]?.env.find((e) => e.name === name);
}

/** What the kubelet would give the broker of node `nodeId` in `pool`: the env with $(POD_NAME) expanded. */
function podEnv(cluster: KafkaCluster, pool: NodePool, nodeId: number): Record<string, string> {
  const sts = buildStatefulSet(cluster, pool);
  const podName = `${sts.metadata.name}-${nodeId}`;
  const out: Record<string, string> = {};
  for (const e of sts.spec.template.spec.containers[0]?.env ?? []) {
    if (e.name === 'MILLRACE_CONFIG_FILE') continue;
    if (e.valueFrom?.fieldRef.fieldPath === 'metadata.name') out[e.name] = podName;
    else if (e.valueFrom?.fieldRef.fieldPath === `metadata.labels['${LABEL_POD_INDEX}']`) out[e.name] = String(nodeId);
    else if (e.value !== undefined) out[e.name] = e.value.replaceAll('$(POD_NAME)', podName);
  }
  return out;
}

describe('buildClusterResources', () => {
  it('builds the same objects, in the same order, from the same CR, without mutating it', () => {
    const a = build(deepFreeze(threeByThree()));
    const b = build(threeByThree());
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'ConfigMap/orders-controllers-config',
      'StatefulSet/orders-controllers',
      'ConfigMap/orders-brokers-config',
      'StatefulSet/orders-brokers',
      'Service/orders-nodes',
      'Service/orders-bootstrap',
      'PodDisruptionBudget/orders-nodes',
    ]);
  });

  it('puts an owner reference, the namespace and the standard labels on every object', () => {
    const cluster = threeByThree();
    for (const o of build(cluster)) {
      expect(o.metadata.namespace).toBe('streaming');
      expect(o.metadata.ownerReferences).toEqual([
        { apiVersion: API_GROUP_VERSION, kind: 'KafkaCluster', name: 'orders', uid: cluster.metadata.uid, controller: true, blockOwnerDeletion: true },
      ]);
      expect(o.metadata.labels).toMatchObject({
        'app.kubernetes.io/name': 'millrace',
        'app.kubernetes.io/instance': 'orders',
        'app.kubernetes.io/managed-by': 'millrace-operator',
        [LABEL_CLUSTER]: 'orders',
      });
    }
  });

  it('gives each pool a stable node id range through the StatefulSet ordinals', () => {
    const objects = build(threeByThree());
    const controllers = find(objects, 'StatefulSet', 'orders-controllers');
    const brokers = find(objects, 'StatefulSet', 'orders-brokers');
    expect(controllers.spec.ordinals.start).toBe(0);
    expect(brokers.spec.ordinals.start).toBe(100);
    expect(poolNodeIds(CONTROLLERS)).toEqual([0, 1, 2]);
    expect(poolNodeIds(BROKERS)).toEqual([100, 101, 102]);
    for (const sts of [controllers, brokers]) {
      expect(env(sts, 'MILLRACE_NODE_ID')).toEqual({ name: 'MILLRACE_NODE_ID', valueFrom: { fieldRef: { fieldPath: `metadata.labels['${LABEL_POD_INDEX}']` } } });
      expect(sts.spec.updateStrategy).toEqual({ type: 'OnDelete' });
      expect(sts.spec.podManagementPolicy).toBe('Parallel');
      expect(sts.spec.serviceName).toBe('orders-nodes');
    }
    // Scaling a pool only adds ids at the top of its own range.
    const scaled = threeByThree({ nodePools: [CONTROLLERS, { ...BROKERS, replicas: 5 }] });
    expect(poolNodeIds(scaled.spec.nodePools[1] ?? BROKERS)).toEqual([100, 101, 102, 103, 104]);
    expect(quorumVotersString(scaled)).toBe(quorumVotersString(threeByThree()));
  });

  it('lists the three controllers as quorum voters by pod DNS name', () => {
    const voters = [0, 1, 2].map((id) => `${id}@orders-controllers-${id}.orders-nodes.streaming.svc:9093`).join(',');
    expect(quorumVotersString(threeByThree())).toBe(voters);
    for (const pool of [CONTROLLERS, BROKERS]) {
      expect(renderServerProperties(threeByThree(), pool)).toContain(`\ncontroller.quorum.voters=${voters}\n`);
    }
  });

  it('advertises each broker under its own pod DNS name, and controllers advertise nothing', () => {
    const cluster = threeByThree();
    expect(podEnv(cluster, BROKERS, 101)['MILLRACE_ADVERTISED_LISTENERS']).toBe(
      'REPLICATION://orders-brokers-101.orders-nodes.streaming.svc:9091,PLAIN://orders-brokers-101.orders-nodes.streaming.svc:9092',
    );
    expect(podEnv(cluster, CONTROLLERS, 1)['MILLRACE_ADVERTISED_LISTENERS']).toBeUndefined();
  });

  it('renders a server.properties that the broker itself loads, for controllers, brokers and combined nodes', () => {
    const combined: NodePool = { name: 'dual', roles: ['broker', 'controller'], replicas: 3, nodeIdOffset: 0, storage: { type: 'ephemeral' } };
    const cases: [KafkaCluster, NodePool, number, string][] = [
      [threeByThree(), CONTROLLERS, 2, 'controller'],
      [threeByThree(), BROKERS, 102, 'broker'],
      [threeByThree({ nodePools: [combined] }), combined, 1, 'broker,controller'],
    ];
    for (const [cluster, pool, nodeId, roles] of cases) {
      const text = renderServerProperties(cluster, pool);
      const loaded = loadBrokerConfig({ propertiesFile: '/etc/millrace/server.properties', readFile: () => text, env: podEnv(cluster, pool, nodeId) });
      expect(loaded.warnings).toEqual([]);
      const config = loaded.config;
      expect(config.get('node.id')).toBe(nodeId);
      expect((config.get('process.roles')).join(',')).toBe(roles);
      expect(config.get('millrace.cluster.id')).toBe(clusterIdOf(cluster));
      expect(config.get('log.dirs')).toBe('/var/lib/millrace/kafka-log');
      expect(config.get('millrace.http.listener')).toBe('0.0.0.0:9644');
      expect(config.get('min.insync.replicas')).toBe(2);
      expect(config.get('auto.create.topics.enable')).toBe(false);
    }
  });

  it('renders operator-owned keys first and spec.config sorted, with the config hash on the pod template', () => {
    const cluster = threeByThree();
    const text = renderServerProperties(cluster, BROKERS);
    const keys = text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.slice(0, l.indexOf('=')));
    expect(keys).toEqual([
      'process.roles', 'listeners', 'listener.security.protocol.map', 'controller.listener.names', 'inter.broker.listener.name',
      'controller.quorum.voters', 'log.dirs', 'millrace.http.listener', 'millrace.cluster.id',
      'auto.create.topics.enable', 'log.retention.hours', 'min.insync.replicas',
    ]);
    const before = buildStatefulSet(cluster, BROKERS).spec.template.metadata.annotations[ANNOTATION_CONFIG_HASH];
    const after = buildStatefulSet(threeByThree({ config: { 'min.insync.replicas': 1 } }), BROKERS).spec.template.metadata.annotations[ANNOTATION_CONFIG_HASH];
    expect(before).toMatch(/^[0-9a-f]{16}$/);
    expect(after).not.toBe(before);
    expect(buildConfigMap(cluster, BROKERS).data['server.properties']).toBe(text);
  });

  it('uses a PVC template for persistent-claim storage and an emptyDir for ephemeral storage', () => {
    const objects = build(threeByThree());
    const controllers = find(objects, 'StatefulSet', 'orders-controllers');
    expect(controllers.spec.volumeClaimTemplates).toEqual([{
      metadata: { name: 'data', labels: expect.objectContaining({ [LABEL_POOL]: 'controllers' }) as unknown },
      spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'fast-ssd', resources: { requests: { storage: '10Gi' } } },
    }]);
    expect(controllers.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Delete', whenScaled: 'Retain' });
    expect(controllers.spec.template.spec.volumes.map((v) => v.name)).toEqual(['config']);
    const brokers = find(objects, 'StatefulSet', 'orders-brokers');
    expect(brokers.spec.volumeClaimTemplates?.[0]?.spec).not.toHaveProperty('storageClassName');
    expect(brokers.spec.persistentVolumeClaimRetentionPolicy.whenDeleted).toBe('Retain');

    const ephemeral = buildStatefulSet(threeByThree(), { ...BROKERS, storage: { type: 'ephemeral', sizeLimit: '5Gi' } });
    expect(ephemeral.spec).not.toHaveProperty('volumeClaimTemplates');
    expect(ephemeral.spec.template.spec.volumes).toContainEqual({ name: 'data', emptyDir: { sizeLimit: '5Gi' } });
    expect(ephemeral.spec.template.spec.containers[0]?.volumeMounts).toContainEqual({ name: 'data', mountPath: '/var/lib/millrace' });
  });

  it('probes /readyz for readiness and /healthz for liveness on the admin port', () => {
    const container = buildStatefulSet(threeByThree(), BROKERS).spec.template.spec.containers[0];
    expect(container?.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'admin' });
    expect(container?.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'admin' });
    expect(container?.ports).toContainEqual({ name: 'admin', containerPort: 9644, protocol: 'TCP' });
    expect(container?.resources).toEqual(BROKERS.resources);
    expect(container?.image).toBe('ghcr.io/millrace/millrace:0.1.0');
  });

  it('selects pods with labels the pod template carries, and spreads pools over the rack label', () => {
    const objects = build(threeByThree());
    for (const sts of objects.filter((o): o is StatefulSet => o.kind === 'StatefulSet')) {
      expect(sts.spec.template.metadata.labels).toMatchObject(sts.spec.selector.matchLabels);
    }
    const brokers = find(objects, 'StatefulSet', 'orders-brokers');
    expect(brokers.spec.template.metadata.labels[LABEL_BROKER_ROLE]).toBe('true');
    expect(brokers.spec.template.spec.topologySpreadConstraints?.[0]?.topologyKey).toBe('topology.kubernetes.io/zone');
    expect(find(objects, 'StatefulSet', 'orders-controllers').spec.template.metadata.labels[LABEL_BROKER_ROLE]).toBe('false');
  });

  it('builds a headless Service for pod DNS, a bootstrap Service over brokers and a PDB of one', () => {
    const objects = build(threeByThree());
    const headless: Service = find(objects, 'Service', 'orders-nodes');
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.publishNotReadyAddresses).toBe(true);
    expect(headless.spec.selector).toEqual({ [LABEL_CLUSTER]: 'orders' });
    const bootstrap: Service = find(objects, 'Service', 'orders-bootstrap');
    expect(bootstrap.spec.selector).toEqual({ [LABEL_CLUSTER]: 'orders', [LABEL_BROKER_ROLE]: 'true' });
    expect(bootstrap.spec.ports).toEqual([{ name: 'plain', port: 9092, targetPort: 9092, protocol: 'TCP' }]);
    const pdb: PodDisruptionBudget = find(objects, 'PodDisruptionBudget', 'orders-nodes');
    expect(pdb.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: { [LABEL_CLUSTER]: 'orders' } } });
    expect(bootstrapServers(threeByThree())).toEqual([{ name: 'plain', bootstrapServers: 'orders-bootstrap.streaming.svc:9092' }]);
  });

  it('returns the validation problems instead of objects for an invalid spec', () => {
    const result = buildClusterResources(threeByThree({ config: { 'node.id': 7 } }));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.validation.problems.map((p) => p.reason)).toEqual(['ForbiddenConfigKey']);
  });
});

describe('clusterIdOf', () => {
  it('derives a Kafka cluster id from the uid, and prefers the recorded status.clusterId', () => {
    const cluster = threeByThree();
    expect(clusterIdOf(cluster)).toBe(Buffer.from('6f1c2a9e3b4d4e5f8a7b9c0d1e2f3a4b', 'hex').toString('base64url'));
    expect(clusterIdOf(cluster)).toMatch(/^[A-Za-z0-9_-]{21}[AQgw]$/);
    expect(clusterIdOf({ ...cluster, metadata: { ...cluster.metadata, uid: 'not-a-uuid' } })).toMatch(/^[A-Za-z0-9_-]{21}[AQgw]$/);
    expect(clusterIdOf({ ...cluster, status: { clusterId: 'MkU3OEVBNTcwNTJENDM2Qg' } })).toBe('MkU3OEVBNTcwNTJENDM2Qg');
  });
});

describe('ConfigMap', () => {
  it('holds exactly server.properties', () => {
    const cm: ConfigMap = buildConfigMap(threeByThree(), CONTROLLERS);
    expect(Object.keys(cm.data)).toEqual(['server.properties']);
  });
});

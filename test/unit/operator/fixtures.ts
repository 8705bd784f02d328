/** Shared KafkaCluster fixtures for the operator unit tests. */
import { API_GROUP_VERSION, KIND_KAFKA_CLUSTER } from '../../../operator/src/api/constants.ts';
import type { KafkaCluster, KafkaClusterSpec, NodePool } from '../../../operator/src/api/kafka-cluster-types.ts';

export const CONTROLLERS: NodePool = {
  name: 'controllers',
  roles: ['controller'],
  replicas: 3,
  nodeIdOffset: 0,
  storage: { type: 'persistent-claim', size: '10Gi', class: 'fast-ssd', deleteClaim: true },
};

export const BROKERS: NodePool = {
  name: 'brokers',
  roles: ['broker'],
  replicas: 3,
  nodeIdOffset: 100,
  storage: { type: 'persistent-claim', size: '100Gi' },
  resources: { requests: { cpu: '1', memory: '2Gi' }, limits: { memory: '2Gi' } },
  rackLabel: 'topology.kubernetes.io/zone',
};

/** 3 dedicated controllers (ids 0-2) and 3 brokers (ids 100-102). */
export function threeByThree(spec: Partial<KafkaClusterSpec> = {}): KafkaCluster {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: KIND_KAFKA_CLUSTER,
    metadata: { name: 'orders', namespace: 'streaming', uid: '6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b', generation: 4 },
    spec: {
      image: 'ghcr.io/millrace/millrace:0.1.0',
      version: '0.1.0',
      nodePools: [CONTROLLERS, BROKERS],
      listeners: [{ name: 'plain', port: 9092, type: 'internal' }],
      config: { 'min.insync.replicas': 2, 'auto.create.topics.enable': false, 'log.retention.hours': '72' },
      ...spec,
    },
  };
}

/** Freezes a value and everything reachable from it, so a builder that mutates its input throws. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

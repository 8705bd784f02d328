/**
 * The StatefulSet of one node pool. updateStrategy OnDelete: Kubernetes never restarts a pod by itself; the
 * roller deletes pods one at a time in a safe order. podManagementPolicy Parallel: all controllers of a new
 * cluster must start together to elect a leader (OrderedReady would wait for pod 0 to be Ready, which it
 * cannot be without a quorum).
 */
import {
  ADMIN_HTTP_PORT,
  ANNOTATION_CONFIG_HASH,
  CONFIG_FILE_NAME,
  CONFIG_MOUNT_PATH,
  CONTROLLER_PORT,
  DATA_MOUNT_PATH,
  LABEL_POD_INDEX,
  REPLICATION_PORT,
} from '../api/constants.ts';
import type { KafkaCluster, NodePool } from '../api/kafka-cluster-types.ts';
import type { Container, EnvVar, PersistentVolumeClaimTemplate, StatefulSet, Volume } from './kube-types.ts';
import { childMeta, configMapName, headlessServiceName, podLabels, poolSelector, standardLabels, statefulSetName } from './metadata.ts';
import { contentHash, renderServerProperties } from './server-properties.ts';
import { advertisedListenersTemplate } from './topology.ts';

export const BROKER_CONTAINER_NAME = 'broker';
export const DATA_VOLUME_NAME = 'data';
export const CONFIG_VOLUME_NAME = 'config';
export const ADMIN_PORT_NAME = 'admin';
/** Room for controlled shutdown (leadership moved away) and a clean log close. */
export const TERMINATION_GRACE_PERIOD_SECONDS = 120;

function brokerEnv(cluster: KafkaCluster, pool: NodePool): EnvVar[] {
  const env: EnvVar[] = [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'MILLRACE_CONFIG_FILE', value: `${CONFIG_MOUNT_PATH}/${CONFIG_FILE_NAME}` },
    // The pod ordinal is the node id (ordinals start at the pool's nodeIdOffset).
    { name: 'MILLRACE_NODE_ID', valueFrom: { fieldRef: { fieldPath: `metadata.labels['${LABEL_POD_INDEX}']` } } },
  ];
  // $(POD_NAME) is expanded by the kubelet from the variable above.
  if (pool.roles.includes('broker')) env.push({ name: 'MILLRACE_ADVERTISED_LISTENERS', value: advertisedListenersTemplate(cluster) });
  return env;
}

function containerPorts(cluster: KafkaCluster, pool: NodePool): Container['ports'] {
  const ports: { name: string; containerPort: number; protocol: 'TCP' }[] = [];
  if (pool.roles.includes('broker')) {
    ports.push({ name: 'replication', containerPort: REPLICATION_PORT, protocol: 'TCP' });
    for (const l of cluster.spec.listeners) ports.push({ name: l.name, containerPort: l.port, protocol: 'TCP' });
  }
  if (pool.roles.includes('controller')) ports.push({ name: 'controller', containerPort: CONTROLLER_PORT, protocol: 'TCP' });
  ports.push({ name: ADMIN_PORT_NAME, containerPort: ADMIN_HTTP_PORT, protocol: 'TCP' });
  return ports;
}

function dataVolumeClaim(cluster: KafkaCluster, pool: NodePool): PersistentVolumeClaimTemplate | null {
  const storage = pool.storage;
  if (storage.type !== 'persistent-claim') return null;
  return {
    metadata: { name: DATA_VOLUME_NAME, labels: standardLabels(cluster, 'node', pool) },
    spec: {
      accessModes: ['ReadWriteOnce'],
      ...(storage.class === undefined ? {} : { storageClassName: storage.class }),
      resources: { requests: { storage: storage.size } },
    },
  };
}

/** The group the broker image runs as (Dockerfile.broker `USER 1000:1000`). */
export const BROKER_IMAGE_GID = 1000;

export function buildStatefulSet(cluster: KafkaCluster, pool: NodePool): StatefulSet {
  const storage = pool.storage;
  const claim = dataVolumeClaim(cluster, pool);
  const volumes: Volume[] = [{ name: CONFIG_VOLUME_NAME, configMap: { name: configMapName(cluster, pool) } }];
  if (storage.type === 'ephemeral') {
    volumes.push({ name: DATA_VOLUME_NAME, emptyDir: storage.sizeLimit === undefined ? {} : { sizeLimit: storage.sizeLimit } });
  }
  const container: Container = {
    name: BROKER_CONTAINER_NAME,
    image: cluster.spec.image,
    env: brokerEnv(cluster, pool),
    ports: containerPorts(cluster, pool),
    volumeMounts: [
      { name: CONFIG_VOLUME_NAME, mountPath: CONFIG_MOUNT_PATH, readOnly: true },
      { name: DATA_VOLUME_NAME, mountPath: DATA_MOUNT_PATH },
    ],
    // Ready only in state running: a broker recovering its logs is alive but must not be counted as up.
    readinessProbe: { httpGet: { path: '/readyz', port: ADMIN_PORT_NAME }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 },
    // /healthz answers during recovery, so a long recovery never gets the pod killed.
    livenessProbe: { httpGet: { path: '/healthz', port: ADMIN_PORT_NAME }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6 },
    ...(pool.resources === undefined ? {} : { resources: pool.resources }),
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: childMeta(cluster, statefulSetName(cluster, pool), standardLabels(cluster, 'node', pool)),
    spec: {
      replicas: pool.replicas,
      serviceName: headlessServiceName(cluster),
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'OnDelete' },
      ordinals: { start: pool.nodeIdOffset },
      selector: { matchLabels: poolSelector(cluster, pool) },
      persistentVolumeClaimRetentionPolicy: {
        whenDeleted: storage.type === 'persistent-claim' && storage.deleteClaim === true ? 'Delete' : 'Retain',
        // Scale-down keeps the PVCs: the scaling logic decides after the node has been drained and unregistered.
        whenScaled: 'Retain',
      },
      template: {
        metadata: {
          labels: podLabels(cluster, pool),
          annotations: { [ANNOTATION_CONFIG_HASH]: contentHash(renderServerProperties(cluster, pool)) },
        },
        spec: {
          terminationGracePeriodSeconds: TERMINATION_GRACE_PERIOD_SECONDS,
          // Service links would inject <SERVICE>_SERVICE_HOST variables; for a Service named millrace-* those
          // are MILLRACE_* names, which the broker reads as config keys and refuses.
          enableServiceLinks: false,
          // The image runs as uid/gid 1000 (Dockerfile.broker): volumes that provisioners create root-owned
          // become group-writable for it. OnRootMismatch skips the recursive chown on every later start.
          securityContext: { fsGroup: BROKER_IMAGE_GID, fsGroupChangePolicy: 'OnRootMismatch' },
          containers: [container],
          volumes,
          ...(pool.rackLabel === undefined
            ? {}
            : {
                topologySpreadConstraints: [{
                  maxSkew: 1,
                  topologyKey: pool.rackLabel,
                  whenUnsatisfiable: 'ScheduleAnyway' as const,
                  labelSelector: { matchLabels: poolSelector(cluster, pool) },
                }],
              }),
        },
      },
      ...(claim === null ? {} : { volumeClaimTemplates: [claim] }),
    },
  };
}

/**
 * Shared setup of the operator's Kubernetes tests: one real control plane per test file with the CRDs
 * installed, an ObjectClient on it, kubectl that throws on failure, polling, and manifests.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import type { Condition } from '../../../operator/src/api/conditions.ts';
import { API_GROUP_VERSION, KIND_KAFKA_CLUSTER, KIND_KAFKA_TOPIC, LABEL_CLUSTER } from '../../../operator/src/api/constants.ts';
import type { KafkaClusterSpec, KafkaClusterStatus } from '../../../operator/src/api/kafka-cluster-types.ts';
import type { KafkaTopicSpec, KafkaTopicStatus } from '../../../operator/src/api/kafka-topic-types.ts';
import { HttpKubeClient, ObjectClient, type KubeObject, type ObjectMeta } from '../../../operator/src/runtime/index.ts';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../control-plane/control-plane.ts';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export interface K8sEnv {
  readonly cp: ControlPlane;
  readonly http: HttpKubeClient;
  readonly client: ObjectClient;
  /** kubectl; throws with stderr on a non-zero exit. */
  kubectl(args: readonly string[], input?: string): Promise<string>;
  /** kubectl that may fail: the exit code and output. */
  kubectlResult(args: readonly string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }>;
  createNamespace(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** A control plane with the CRDs installed and established. */
export async function startK8sEnv(options: ControlPlaneOptions = {}): Promise<K8sEnv> {
  const cp = await startControlPlane({ log: (line) => process.stderr.write(`${line}\n`), ...options });
  const kubectlResult = (args: readonly string[], input?: string) => cp.kubectl(args, input === undefined ? {} : { input });
  const kubectl = async (args: readonly string[], input?: string): Promise<string> => {
    const r = await kubectlResult(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
  };
  let http: HttpKubeClient | undefined;
  try {
    await kubectl(['apply', '--server-side', '-f', join(REPO, 'crds')]);
    await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    http = new HttpKubeClient(kc);
  } catch (error) {
    await cp.stop();
    throw error;
  }
  const client = new ObjectClient({ http });
  const h = http;
  return {
    cp,
    http: h,
    client,
    kubectl,
    kubectlResult,
    createNamespace: async (name) => {
      await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    },
    stop: async () => {
      h.close();
      await cp.stop();
    },
  };
}

/** Polls until `condition` holds (returns a truthy value, which is returned). */
export async function until<T>(condition: () => T | Promise<T>, what: string | (() => string), timeoutMs = 30_000, intervalMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const described = typeof what === 'string' ? what : what();
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${described}${lastError === undefined ? '' : ` (last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)})`}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export type StoredMeta = ObjectMeta & { readonly managedFields?: readonly unknown[] };

export interface StoredCluster extends KubeObject {
  readonly metadata: StoredMeta;
  readonly spec: KafkaClusterSpec;
  readonly status?: KafkaClusterStatus;
}

export interface StoredTopic extends KubeObject {
  readonly metadata: StoredMeta;
  readonly spec: KafkaTopicSpec;
  readonly status?: KafkaTopicStatus;
}

export function condition(obj: { readonly status?: { readonly conditions?: readonly Condition[] } } | null | undefined, type: Condition['type']): Condition | undefined {
  return obj?.status?.conditions?.find((c) => c.type === type);
}

/** A KafkaCluster as a user writes it: ephemeral storage (no volumes needed), one client listener. */
export function clusterManifest(name: string, namespace: string, spec: Partial<KafkaClusterSpec> = {}, metadata: Partial<Pick<ObjectMeta, 'annotations' | 'labels'>> = {}): KubeObject & { spec: KafkaClusterSpec } {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: KIND_KAFKA_CLUSTER,
    metadata: { name, namespace, ...metadata },
    spec: {
      image: 'ghcr.io/millrace/millrace:0.1.0',
      version: '0.1.0',
      listeners: [{ name: 'plain', port: 9092, type: 'internal' }],
      nodePools: [
        { name: 'controllers', roles: ['controller'], replicas: 3, nodeIdOffset: 0, storage: { type: 'ephemeral' } },
        { name: 'brokers', roles: ['broker'], replicas: 2, nodeIdOffset: 100, storage: { type: 'ephemeral', sizeLimit: '1Gi' } },
      ],
      config: { 'min.insync.replicas': 1 },
      ...spec,
    },
  };
}

export function topicManifest(name: string, namespace: string, cluster: string, spec: Partial<KafkaTopicSpec> = {}, annotations: Readonly<Record<string, string>> = {}): KubeObject & { spec: KafkaTopicSpec } {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: KIND_KAFKA_TOPIC,
    metadata: { name, namespace, labels: { [LABEL_CLUSTER]: cluster }, ...(Object.keys(annotations).length === 0 ? {} : { annotations }) },
    spec: { partitions: 3, replicas: 1, ...spec },
  };
}

/**
 * The server.properties of one node pool (the same text for every pod of the pool; the per-pod values come
 * from the container environment, which the broker reads after the file: MILLRACE_NODE_ID and, for brokers,
 * MILLRACE_ADVERTISED_LISTENERS. See broker/src/config/load-broker-config.ts for the precedence).
 *
 * Layout: a header comment, the operator-owned keys in a fixed order, then the user's spec.config sorted by
 * key. Same CR, same text, byte for byte: the text's hash is the pod template's config-hash annotation.
 */
import { createHash } from 'node:crypto';
import {
  ADMIN_HTTP_PORT,
  CONTROLLER_LISTENER_NAME,
  CONTROLLER_PORT,
  LOG_DIR,
  REPLICATION_LISTENER_NAME,
  REPLICATION_PORT,
} from '../api/constants.ts';
import type { KafkaCluster, NodePool } from '../api/kafka-cluster-types.ts';
import { configValueString } from '../api/validate-kafka-cluster.ts';
import { kafkaListenerName, quorumVotersString } from './topology.ts';

/** Escapes a key for java.util.Properties: separators, comment starters, blanks and backslashes. */
export function escapePropertiesKey(key: string): string {
  return escapeCommon(key).replace(/[=: #!]/g, (c) => `\\${c}`);
}

/** Escapes a value: backslashes, line breaks, and a leading blank (which the reader would skip). */
export function escapePropertiesValue(value: string): string {
  const escaped = escapeCommon(value);
  return escaped.startsWith(' ') ? `\\${escaped}` : escaped;
}

function escapeCommon(s: string): string {
  return s.replace(/[\\\n\r\t\f]/g, (c) => ({ '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\f': '\\f' })[c] ?? c);
}

/**
 * Kafka cluster id: status.clusterId when the operator has recorded one, else derived from the KafkaCluster's
 * uid (a UUID, like a Kafka cluster id: 16 bytes in URL-safe base64 without padding). Deterministic, unique
 * per KafkaCluster object, and needs no state before the first pods start.
 */
export function clusterIdOf(cluster: KafkaCluster): string {
  const recorded = cluster.status?.clusterId;
  if (recorded !== undefined && recorded !== '') return recorded;
  const hex = cluster.metadata.uid.replaceAll('-', '').toLowerCase();
  const bytes = /^[0-9a-f]{32}$/.test(hex) ? Buffer.from(hex, 'hex') : createHash('sha256').update(cluster.metadata.uid).digest().subarray(0, 16);
  return bytes.toString('base64url');
}

/** The operator-owned keys of a pool, in rendering order. */
export function operatorOwnedProperties(cluster: KafkaCluster, pool: NodePool): [string, string][] {
  const isBroker = pool.roles.includes('broker');
  const isController = pool.roles.includes('controller');
  const listeners: string[] = [];
  const protocols: string[] = [];
  if (isBroker) {
    listeners.push(`${REPLICATION_LISTENER_NAME}://0.0.0.0:${REPLICATION_PORT}`);
    protocols.push(`${REPLICATION_LISTENER_NAME}:PLAINTEXT`);
    for (const l of cluster.spec.listeners) {
      listeners.push(`${kafkaListenerName(l.name)}://0.0.0.0:${l.port}`);
      protocols.push(`${kafkaListenerName(l.name)}:PLAINTEXT`);
    }
  }
  if (isController) listeners.push(`${CONTROLLER_LISTENER_NAME}://0.0.0.0:${CONTROLLER_PORT}`);
  protocols.push(`${CONTROLLER_LISTENER_NAME}:PLAINTEXT`);
  const roles = pool.roles.includes('broker') && isController ? 'broker,controller' : isBroker ? 'broker' : 'controller';
  return [
    ['process.roles', roles],
    ['listeners', listeners.join(',')],
    ['listener.security.protocol.map', protocols.join(',')],
    ['controller.listener.names', CONTROLLER_LISTENER_NAME],
    ...(isBroker ? [['inter.broker.listener.name', REPLICATION_LISTENER_NAME] as [string, string]] : []),
    ['controller.quorum.voters', quorumVotersString(cluster)],
    ['log.dirs', LOG_DIR],
    ['millrace.http.listener', `0.0.0.0:${ADMIN_HTTP_PORT}`],
    ['millrace.cluster.id', clusterIdOf(cluster)],
  ];
}

export function renderServerProperties(cluster: KafkaCluster, pool: NodePool): string {
  const lines = [
    `# Rendered by the Millrace operator for KafkaCluster ${cluster.metadata.namespace}/${cluster.metadata.name}, node pool ${pool.name}; do not edit.`,
    '# node.id and advertised.listeners are set per pod by the environment (MILLRACE_NODE_ID, MILLRACE_ADVERTISED_LISTENERS).',
  ];
  for (const [k, v] of operatorOwnedProperties(cluster, pool)) lines.push(`${escapePropertiesKey(k)}=${escapePropertiesValue(v)}`);
  const config = cluster.spec.config ?? {};
  const keys = Object.keys(config).sort();
  if (keys.length > 0) lines.push('# spec.config');
  for (const key of keys) {
    const value = configValueString(config[key]);
    // validateKafkaCluster refuses non-scalars before anything is built; never render a partial value.
    if (value === null) throw new Error(`spec.config[${JSON.stringify(key)}] is not a string, number or boolean`);
    lines.push(`${escapePropertiesKey(key)}=${escapePropertiesValue(value)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Short, stable digest of a text (the config-hash annotation). */
export function contentHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

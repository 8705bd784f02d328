/**
 * Checks of a KafkaCluster that the CRD schema cannot express: operator-owned and unknown config keys, config
 * values (with the broker's own parsers, so a value the broker would refuse at startup is refused here first),
 * node id ranges, name lengths, listener ports. Pure; the cluster controller turns the result into a
 * NotReady condition (validationCondition) and does not touch the children while the spec is invalid.
 */
import { BROKER_CONFIG_KEYS } from '../../../broker/src/config/broker-config-keys.ts';
import { parseConfigValue, type ConfigKey } from '../../../broker/src/config/config-def.ts';
import { ADMIN_HTTP_PORT, CONTROLLER_PORT, REPLICATION_PORT } from './constants.ts';
import { ConditionReason, type Condition } from './conditions.ts';
import type { KafkaCluster } from './kafka-cluster-types.ts';
import type { ConfigScalar } from './object-meta.ts';

/** Keys the operator renders itself; a user value would break node identity, the quorum or the probes. */
export const FORBIDDEN_CONFIG_KEYS: readonly string[] = [
  'node.id',
  'broker.id',
  'process.roles',
  'listeners',
  'advertised.listeners',
  'listener.security.protocol.map',
  'inter.broker.listener.name',
  'security.inter.broker.protocol',
  'controller.listener.names',
  'early.start.listeners',
  'log.dir',
  'log.dirs',
  'metadata.log.dir',
  'broker.rack',
  'millrace.http.enable',
  'millrace.http.listener',
  'millrace.cluster.id',
];
/** Every key under these prefixes is operator-owned too. */
export const FORBIDDEN_CONFIG_PREFIXES: readonly string[] = ['controller.quorum.'];

/** StatefulSet names must leave room for the controller-revision-hash label value (63 - 11). */
export const STATEFUL_SET_NAME_MAX = 52;

export interface ValidationProblem {
  readonly reason: ConditionReason;
  /** JSON-path-like location, e.g. spec.config["node.id"]. */
  readonly path: string;
  readonly message: string;
}

export interface ValidationResult {
  readonly valid: boolean;
  readonly problems: readonly ValidationProblem[];
}

export function isForbiddenConfigKey(key: string): boolean {
  return FORBIDDEN_CONFIG_KEYS.includes(key) || FORBIDDEN_CONFIG_PREFIXES.some((p) => key.startsWith(p));
}

const BROKER_KEYS: ReadonlyMap<string, ConfigKey> = new Map((BROKER_CONFIG_KEYS as readonly ConfigKey[]).map((k) => [k.name, k]));

/** The server.properties text of a config value, or null when the value is not a scalar. */
export function configValueString(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

function validateConfig(config: Readonly<Record<string, ConfigScalar>>, out: ValidationProblem[]): void {
  for (const key of Object.keys(config).sort()) {
    const path = `spec.config[${JSON.stringify(key)}]`;
    if (isForbiddenConfigKey(key)) {
      out.push({ reason: ConditionReason.ForbiddenConfigKey, path, message: `${key} is set by the operator and cannot be configured` });
      continue;
    }
    const def = BROKER_KEYS.get(key);
    if (def === undefined) {
      out.push({ reason: ConditionReason.UnknownConfigKey, path, message: `${key} is not a broker config key` });
      continue;
    }
    const raw = configValueString(config[key]);
    if (raw === null) {
      out.push({ reason: ConditionReason.InvalidConfigValue, path, message: `${key} must be a string, number or boolean` });
      continue;
    }
    const parsed = parseConfigValue(def, raw);
    if (!parsed.ok) out.push({ reason: ConditionReason.InvalidConfigValue, path, message: parsed.reason });
  }
}

export function validateKafkaCluster(cluster: KafkaCluster): ValidationResult {
  const problems: ValidationProblem[] = [];
  const { spec, metadata } = cluster;
  const pools = spec.nodePools;

  if (!pools.some((p) => p.roles.includes('controller') && p.replicas > 0)) {
    problems.push({ reason: ConditionReason.NoControllerPool, path: 'spec.nodePools', message: 'at least one node pool with the controller role and replicas > 0 is needed' });
  }
  if (!pools.some((p) => p.roles.includes('broker') && p.replicas > 0)) {
    problems.push({ reason: ConditionReason.NoBrokerPool, path: 'spec.nodePools', message: 'at least one node pool with the broker role and replicas > 0 is needed' });
  }
  const seen = new Set<string>();
  pools.forEach((pool, i) => {
    const path = `spec.nodePools[${i}]`;
    if (seen.has(pool.name)) problems.push({ reason: ConditionReason.DuplicatePoolName, path, message: `node pool ${pool.name} is defined twice` });
    seen.add(pool.name);
    const stsName = `${metadata.name}-${pool.name}`;
    if (stsName.length > STATEFUL_SET_NAME_MAX) {
      problems.push({ reason: ConditionReason.InvalidName, path, message: `${stsName} is longer than ${STATEFUL_SET_NAME_MAX} characters; shorten the cluster or pool name` });
    }
    if (pool.storage.type === 'persistent-claim' && pool.storage.size === '') {
      problems.push({ reason: ConditionReason.InvalidStorage, path: `${path}.storage.size`, message: 'persistent-claim storage needs a size' });
    }
    for (const [j, other] of pools.entries()) {
      if (j <= i) continue;
      const overlap = pool.nodeIdOffset < other.nodeIdOffset + other.replicas && other.nodeIdOffset < pool.nodeIdOffset + pool.replicas;
      if (overlap) {
        problems.push({
          reason: ConditionReason.NodeIdOverlap,
          path,
          message: `node ids of pools ${pool.name} [${pool.nodeIdOffset}, ${pool.nodeIdOffset + pool.replicas}) and ${other.name} [${other.nodeIdOffset}, ${other.nodeIdOffset + other.replicas}) overlap`,
        });
      }
    }
  });

  const reservedPorts = new Map([[REPLICATION_PORT, 'replication'], [CONTROLLER_PORT, 'controller'], [ADMIN_HTTP_PORT, 'admin HTTP']]);
  const ports = new Map<number, string>();
  const names = new Set<string>();
  spec.listeners.forEach((listener, i) => {
    const path = `spec.listeners[${i}]`;
    const reserved = reservedPorts.get(listener.port);
    if (reserved !== undefined) problems.push({ reason: ConditionReason.InvalidListener, path, message: `port ${listener.port} is the operator's ${reserved} port` });
    const other = ports.get(listener.port);
    if (other !== undefined) problems.push({ reason: ConditionReason.InvalidListener, path, message: `listeners ${other} and ${listener.name} both use port ${listener.port}` });
    ports.set(listener.port, listener.name);
    if (names.has(listener.name) || listener.name === 'controller' || listener.name === 'replication') {
      problems.push({ reason: ConditionReason.InvalidListener, path, message: `listener name ${listener.name} is reserved or used twice` });
    }
    names.add(listener.name);
  });
  if (spec.listeners.length === 0) problems.push({ reason: ConditionReason.InvalidListener, path: 'spec.listeners', message: 'at least one listener is needed' });

  if (spec.config !== undefined) validateConfig(spec.config, problems);
  return { valid: problems.length === 0, problems };
}

/**
 * The condition for an invalid spec: NotReady=True with the first problem's reason and every message, or null
 * when the spec is valid. `now` is injected so the function stays pure.
 */
export function validationCondition(result: ValidationResult, generation: number | undefined, now: Date): Condition | null {
  const first = result.problems[0];
  if (first === undefined) return null;
  return {
    type: 'NotReady',
    status: 'True',
    reason: first.reason,
    message: result.problems.map((p) => `${p.path}: ${p.message}`).join('; '),
    lastTransitionTime: now.toISOString(),
    ...(generation === undefined ? {} : { observedGeneration: generation }),
  };
}

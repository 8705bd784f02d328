/**
 * The broker state served at GET /v1/broker, and the readiness rule behind GET /readyz.
 *
 * BrokerStatus IS the JSON document (the operator imports this type): README.md in this directory describes
 * it field by field, and BROKER_STATUS_JSON_SCHEMA is what the server serializes with, so fields not in the
 * schema never leak out. A unit test checks that the README documents every schema field.
 */

export type BrokerState = 'starting' | 'recovering' | 'running' | 'shutting_down';

export const BROKER_STATES: readonly BrokerState[] = ['starting', 'recovering', 'running', 'shutting_down'];

export type ProcessRole = 'broker' | 'controller';

export interface RecoveryStatus {
  /** Partition logs that need recovery at this startup. */
  readonly logsTotal: number;
  /** Of those, how many are done. */
  readonly logsRecovered: number;
  /** The log being recovered now, as "<topic>-<partition>" (its directory name). */
  readonly currentLog?: string;
}

export interface AdvertisedListener {
  /** Listener name, e.g. PLAINTEXT. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL. */
  readonly securityProtocol: string;
}

export interface BrokerStatus {
  readonly nodeId: number;
  /** From meta.properties; null until it has been read. */
  readonly clusterId: string | null;
  readonly state: BrokerState;
  /** Present only while state is 'recovering'. */
  readonly recovery?: RecoveryStatus;
  readonly processRoles: readonly ProcessRole[];
  /** The listeners clients are told to use (advertised.listeners). */
  readonly listeners: readonly AdvertisedListener[];
  /** Millrace version. */
  readonly version: string;
  /** Milliseconds since the process started the broker. */
  readonly uptimeMs: number;
  /** Offset of the last metadata record applied to this node's metadata image; -1 before any. */
  readonly metadataOffset: number;
  /** Partitions this broker leads (Kafka's LeaderCount). */
  readonly leaderCount: number;
  /** Partitions with a replica on this broker (Kafka's PartitionCount). */
  readonly partitionCount: number;
  /** Partitions this broker leads whose ISR is smaller than their replica set. */
  readonly underReplicatedPartitions: number;
}

/** Implemented by the broker; called on every /healthz, /readyz and /v1/broker request, so it must be cheap. */
export interface BrokerStatusSource {
  status(): BrokerStatus;
}

export interface Readiness {
  readonly ready: boolean;
  readonly state: BrokerState;
  /** Why the broker is not ready; absent when it is. */
  readonly reason?: string;
}

/** Ready means serving clients: only the running state. */
export function readiness(status: BrokerStatus): Readiness {
  switch (status.state) {
    case 'running':
      return { ready: true, state: status.state };
    case 'starting':
      return { ready: false, state: status.state, reason: 'the broker is starting' };
    case 'recovering': {
      const r = status.recovery;
      const progress = r === undefined ? '' : `: ${r.logsRecovered} of ${r.logsTotal} logs recovered${r.currentLog === undefined ? '' : `, now ${r.currentLog}`}`;
      return { ready: false, state: status.state, reason: `the broker is recovering its logs${progress}` };
    }
    case 'shutting_down':
      return { ready: false, state: status.state, reason: 'the broker is shutting down' };
  }
}

/** Liveness: the process answers and is not on its way out. */
export function isLive(status: BrokerStatus): boolean {
  return status.state !== 'shutting_down';
}

/** The document served at /v1/broker: the documented fields only, recovery only while recovering. */
export function brokerStatusDocument(status: BrokerStatus): BrokerStatus {
  const { recovery, ...rest } = status;
  return status.state === 'recovering' && recovery !== undefined ? { ...rest, recovery } : rest;
}

const nonNegativeInteger = { type: 'integer', minimum: 0 } as const;

/** JSON schema of BrokerStatus, used to serialize /v1/broker (fast-json-stringify drops unknown fields). */
export const BROKER_STATUS_JSON_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['nodeId', 'clusterId', 'state', 'processRoles', 'listeners', 'version', 'uptimeMs', 'metadataOffset', 'leaderCount', 'partitionCount', 'underReplicatedPartitions'],
  properties: {
    nodeId: { type: 'integer' },
    clusterId: { type: ['string', 'null'] },
    state: { type: 'string', enum: BROKER_STATES },
    recovery: {
      type: 'object',
      additionalProperties: false,
      required: ['logsTotal', 'logsRecovered'],
      properties: { logsTotal: nonNegativeInteger, logsRecovered: nonNegativeInteger, currentLog: { type: 'string' } },
    },
    processRoles: { type: 'array', items: { type: 'string', enum: ['broker', 'controller'] } },
    listeners: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'host', 'port', 'securityProtocol'],
        properties: { name: { type: 'string' }, host: { type: 'string' }, port: { type: 'integer' }, securityProtocol: { type: 'string' } },
      },
    },
    version: { type: 'string' },
    uptimeMs: nonNegativeInteger,
    metadataOffset: { type: 'integer' },
    leaderCount: nonNegativeInteger,
    partitionCount: nonNegativeInteger,
    underReplicatedPartitions: nonNegativeInteger,
  },
} as const;

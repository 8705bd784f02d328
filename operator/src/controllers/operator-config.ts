/**
 * The operator process's command line and environment, parsed into a config (pure: argv and env in, config
 * or a UsageError out), so main.ts stays a thin shell and the rules are unit-tested.
 */
import { parseArgs } from 'node:util';
import { OPERATOR_NAME } from '../api/constants.ts';
import { DELETION_TIMEOUT_MS_DEFAULT } from './topic-status.ts';
import { TOPIC_RESYNC_MS_DEFAULT } from './kafka-topic-controller.ts';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface OperatorConfig {
  readonly help: boolean;
  /** Namespace of the leader election Lease. */
  readonly leaseNamespace: string;
  readonly leaseName: string;
  readonly leaderElection: boolean;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  /** undefined: every namespace. */
  readonly watchNamespace: string | undefined;
  readonly metricsHost: string;
  readonly metricsPort: number;
  readonly topicResyncMs: number;
  readonly topicDeletionTimeoutMs: number;
  readonly gracefulShutdownTimeoutMs: number;
  readonly logLevel: LogLevel;
}

export const USAGE = `Usage: node operator/src/main.ts [flags]

The Millrace operator: reconciles KafkaCluster and KafkaTopic resources (kafka.millrace.dev/v1alpha1).
Kubernetes credentials: KUBECONFIG, ~/.kube/config, or the in-cluster service account.

Flags:
  --namespace <ns>               namespace of the leader election Lease (default: $POD_NAMESPACE, else "default")
  --watch-namespace <ns>         watch only this namespace (default: $WATCH_NAMESPACE, else all namespaces)
  --metrics-address <host:port>  /healthz, /readyz and /metrics (default 0.0.0.0:8080; port 0 picks one)
  --[no-]leader-elect            leader election on a Lease (default on; off runs a single replica only)
  --lease-name <name>            default ${OPERATOR_NAME}-leader
  --lease-duration <duration>    default 15s
  --renew-deadline <duration>    default 10s
  --retry-period <duration>      default 2s
  --topic-resync <duration>      how often each KafkaTopic is compared with Kafka again (default 60s)
  --topic-deletion-timeout <duration>
                                 a KafkaTopic whose Kafka topic cannot be deleted for this long loses its
                                 finalizer anyway (default 5m)
  --graceful-shutdown-timeout <duration>  default 30s
  --log-level <level>            fatal, error, warn, info, debug, trace, silent (default: $LOG_LEVEL, else info)
  -h, --help

Durations: a number with ms, s, m or h, e.g. 500ms, 15s, 5m.
Escape hatch for a KafkaTopic stuck on its finalizer while the operator is gone:
  kubectl patch kafkatopic <name> --type=merge -p '{"metadata":{"finalizers":[]}}'
`;

/** "500ms", "15s", "5m", "1h" -> milliseconds. */
export function parseDuration(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (match === null) throw new UsageError(`${flag}: ${JSON.stringify(text)} is not a duration (a number with ms, s, m or h, e.g. 15s)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
  const ms = Math.round(Number(match[1]) * unit);
  if (!(ms > 0)) throw new UsageError(`${flag}: the duration must be greater than zero`);
  return ms;
}

/** "host:port" (IPv6 host in brackets) -> host and port; port 0 picks a free port. */
export function parseListenAddress(flag: string, text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(text.trim());
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || !(port >= 0 && port <= 65_535)) throw new UsageError(`${flag}: ${JSON.stringify(text)} is not host:port (e.g. 0.0.0.0:8080, :8080, [::]:8080)`);
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function namespaceValue(flag: string, value: string): string {
  if (!DNS_LABEL.test(value)) throw new UsageError(`${flag}: ${JSON.stringify(value)} is not a valid namespace name (a DNS label: lower-case letters, digits and '-')`);
  return value;
}

const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v.trim() === '' ? undefined : v.trim());

export function parseOperatorArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): OperatorConfig {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      allowNegative: true,
      options: {
        'namespace': { type: 'string' },
        'watch-namespace': { type: 'string' },
        'metrics-address': { type: 'string' },
        'leader-elect': { type: 'boolean' },
        'lease-name': { type: 'string' },
        'lease-duration': { type: 'string' },
        'renew-deadline': { type: 'string' },
        'retry-period': { type: 'string' },
        'topic-resync': { type: 'string' },
        'topic-deletion-timeout': { type: 'string' },
        'graceful-shutdown-timeout': { type: 'string' },
        'log-level': { type: 'string' },
        'help': { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const leaseNamespace = namespaceValue(values.namespace === undefined ? 'POD_NAMESPACE' : '--namespace', nonEmpty(values.namespace) ?? nonEmpty(env.POD_NAMESPACE) ?? 'default');
  const watchText = values['watch-namespace'] ?? env.WATCH_NAMESPACE;
  const watchNamespace = nonEmpty(watchText) === undefined ? undefined : namespaceValue(values['watch-namespace'] === undefined ? 'WATCH_NAMESPACE' : '--watch-namespace', nonEmpty(watchText) ?? '');
  const metrics = parseListenAddress('--metrics-address', values['metrics-address'] ?? '0.0.0.0:8080');
  const leaseDurationMs = parseDuration('--lease-duration', values['lease-duration'] ?? '15s');
  const renewDeadlineMs = parseDuration('--renew-deadline', values['renew-deadline'] ?? '10s');
  const retryPeriodMs = parseDuration('--retry-period', values['retry-period'] ?? '2s');
  if (leaseDurationMs % 1000 !== 0) throw new UsageError('--lease-duration: must be whole seconds (the Lease stores seconds)');
  if (!(leaseDurationMs > renewDeadlineMs)) throw new UsageError(`--lease-duration (${leaseDurationMs} ms) must be longer than --renew-deadline (${renewDeadlineMs} ms)`);
  if (!(renewDeadlineMs > 1.2 * retryPeriodMs)) throw new UsageError(`--renew-deadline (${renewDeadlineMs} ms) must be longer than 1.2 x --retry-period (${retryPeriodMs} ms)`);
  const leaseName = values['lease-name'] ?? `${OPERATOR_NAME}-leader`;
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(leaseName)) throw new UsageError(`--lease-name: ${JSON.stringify(leaseName)} is not a valid object name`);
  const levelText = (values['log-level'] ?? nonEmpty(env.LOG_LEVEL) ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(levelText)) throw new UsageError(`--log-level: ${JSON.stringify(levelText)} is not one of ${LOG_LEVELS.join(', ')}`);
  return {
    help: values.help === true,
    leaseNamespace,
    leaseName,
    leaderElection: values['leader-elect'] ?? true,
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
    watchNamespace,
    metricsHost: metrics.host,
    metricsPort: metrics.port,
    topicResyncMs: values['topic-resync'] === undefined ? TOPIC_RESYNC_MS_DEFAULT : parseDuration('--topic-resync', values['topic-resync']),
    topicDeletionTimeoutMs: values['topic-deletion-timeout'] === undefined ? DELETION_TIMEOUT_MS_DEFAULT : parseDuration('--topic-deletion-timeout', values['topic-deletion-timeout']),
    gracefulShutdownTimeoutMs: parseDuration('--graceful-shutdown-timeout', values['graceful-shutdown-timeout'] ?? '30s'),
    logLevel: levelText as LogLevel,
  };
}

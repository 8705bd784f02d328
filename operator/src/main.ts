/**
 * The operator process (what Dockerfile.operator and the Helm chart run: `node operator/src/main.ts`):
 * a Manager with the KafkaCluster and KafkaTopic controllers, leader election on a Lease, /healthz /readyz
 * /metrics, pino JSON logs on stdout, graceful shutdown on SIGTERM/SIGINT.
 *
 * Exit codes: 0 after a graceful shutdown; 1 when the Kubernetes configuration cannot be loaded, the API
 * server cannot be used (unreachable, credentials, CRDs missing), the HTTP port is taken, or leadership was
 * lost (the manager exits at once: a replica unsure it leads must not write); 2 on bad flags.
 */
import { pino } from 'pino';
import { OPERATOR_NAME } from './api/constants.ts';
import { addOperatorControllers } from './controllers/operator.ts';
import { parseOperatorArgs, USAGE, UsageError, type OperatorConfig } from './controllers/operator-config.ts';
import { errorMessage, isKubeApiError, loadKubeConfig, Manager, resourcePath, Resources, type KubeHttp } from './runtime/index.ts';
import type { KubeConfig } from '@kubernetes/client-node';

const PROBE_TIMEOUT_MS = 15_000;

function fail(message: string): number {
  process.stderr.write(`${OPERATOR_NAME}: ${message}\n`);
  return 1;
}

/** One request the operator needs anyway (list KafkaClusters in its scope), to fail fast with a clear message. */
async function probeApiServer(http: KubeHttp, config: OperatorConfig, server: string): Promise<string | null> {
  const path = resourcePath(Resources.KafkaCluster, config.watchNamespace);
  try {
    await http.request({ method: 'GET', path, query: { limit: 1 }, signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    return null;
  } catch (error) {
    if (isKubeApiError(error) && error.statusCode === 404) {
      return `the KafkaCluster CRD is not installed on ${server} (GET ${path}: 404); install the CRDs with: kubectl apply --server-side -f crds/`;
    }
    if (isKubeApiError(error) && (error.statusCode === 401 || error.statusCode === 403)) {
      return `the Kubernetes API server at ${server} refused the operator's credentials or permissions: ${error.message}`;
    }
    return `cannot use the Kubernetes API server at ${server}: ${errorMessage(error)}`;
  }
}

async function main(argv: readonly string[]): Promise<number> {
  let config: OperatorConfig;
  try {
    config = parseOperatorArgs(argv, process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${OPERATOR_NAME}: ${error.message}\nRun with --help for the flags.\n`);
    return 2;
  }
  if (config.help) {
    process.stdout.write(USAGE);
    return 0;
  }

  let kubeConfig: KubeConfig;
  try {
    kubeConfig = loadKubeConfig();
  } catch (error) {
    return fail(`cannot load the Kubernetes configuration (KUBECONFIG, ~/.kube/config or the in-cluster service account): ${errorMessage(error)}`);
  }
  const server = kubeConfig.getCurrentCluster()?.server ?? '(unknown server)';

  const logger = pino({ name: OPERATOR_NAME, level: config.logLevel });
  let manager: Manager;
  try {
    manager = new Manager({
      kubeConfig,
      logger,
      server: { host: config.metricsHost, port: config.metricsPort },
      gracefulShutdownTimeoutMs: config.gracefulShutdownTimeoutMs,
      leaderElection: config.leaderElection
        ? { namespace: config.leaseNamespace, name: config.leaseName, leaseDurationMs: config.leaseDurationMs, renewDeadlineMs: config.renewDeadlineMs, retryPeriodMs: config.retryPeriodMs }
        : false,
    });
  } catch (error) {
    return fail(`cannot use the Kubernetes configuration for ${server}: ${errorMessage(error)}`);
  }

  const problem = await probeApiServer(manager.http, config, server);
  if (problem !== null) {
    manager.http.close();
    return fail(problem);
  }

  const controllers = addOperatorControllers(manager, {
    ...(config.watchNamespace === undefined ? {} : { namespace: config.watchNamespace }),
    topic: { resyncMs: config.topicResyncMs, deletionTimeoutMs: config.topicDeletionTimeoutMs },
  });
  logger.info({
    server,
    watchNamespace: config.watchNamespace ?? '(all)',
    leaderElection: config.leaderElection ? `${config.leaseNamespace}/${config.leaseName}` : false,
    metricsAddress: `${config.metricsHost}:${config.metricsPort}`,
    topicResyncMs: config.topicResyncMs,
  }, 'Starting the Millrace operator');
  try {
    await manager.run();
  } catch (error) {
    await controllers.close();
    return fail(errorMessage(error));
  }
  await controllers.close();
  logger.info('Operator stopped');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${OPERATOR_NAME}: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);

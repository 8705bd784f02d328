/**
 * The operator's controllers on a Manager inside the test process, with every reconcile counted per
 * controller and key, so a test can wait until the operator has looked at an object (instead of sleeping).
 */
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { addOperatorControllers, type OperatorControllersOptions } from '../../../operator/src/controllers/operator.ts';
import { Manager, type Controller, type KubeHttp, type ReconcileRequest } from '../../../operator/src/runtime/index.ts';
import { until } from './k8s-env.ts';

export interface InProcessOperator {
  readonly manager: Manager;
  /** Completed reconciles per `controller|key`. */
  reconciles(controller: string, key: string): number;
  /** Errors thrown by reconciles, newest last. */
  readonly errors: { controller: string; key: string; error: unknown }[];
  /** A point in time for waitForReconcile: take it before the change the reconcile must see. */
  mark(): number;
  /** Waits until `controller` has completed a reconcile of `key` that started after `since` (a mark()). */
  waitForReconcile(controller: string, key: string, since: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface InProcessOptions extends OperatorControllersOptions {
  readonly http: KubeHttp;
  readonly logger?: Logger;
  /** Leader election on a Lease in this namespace (default: off). */
  readonly leaseNamespace?: string;
}

/** Log to $OPERATOR_TEST_LOG (a file) when set; silent otherwise. */
export function testLogger(name: string): Logger {
  const path = process.env.OPERATOR_TEST_LOG;
  if (path === undefined || path === '') return pino({ level: 'silent' });
  return pino({ name, level: 'debug' }, pino.destination({ dest: path, sync: true, append: true }));
}

export async function startInProcessOperator(options: InProcessOptions): Promise<InProcessOperator> {
  const manager = new Manager({
    http: options.http,
    logger: options.logger ?? testLogger('operator'),
    registry: new Registry(),
    processMetrics: false,
    server: false,
    handleSignals: false,
    gracefulShutdownTimeoutMs: 10_000,
    exit: (code) => {
      throw new Error(`the operator tried to exit with code ${code}`);
    },
    leaderElection: options.leaseNamespace === undefined ? false : { namespace: options.leaseNamespace, name: 'test-operator', identity: 'in-process', leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 500 },
  });
  const counts = new Map<string, number>();
  const errors: InProcessOperator['errors'] = [];
  let sequence = 0;
  const completedAfter = new Map<string, number>();
  // Count reconciles by wrapping each controller as it is added.
  const addController = manager.addController.bind(manager);
  manager.addController = (controller: Controller) => {
    const counted: Controller = {
      name: controller.name,
      watches: controller.watches,
      ...(controller.concurrency === undefined ? {} : { concurrency: controller.concurrency }),
      ...(controller.backoff === undefined ? {} : { backoff: controller.backoff }),
      reconcile: async (request: ReconcileRequest) => {
        const id = `${controller.name}|${request.key}`;
        const startSeq = ++sequence;
        try {
          return await controller.reconcile(request);
        } catch (error) {
          errors.push({ controller: controller.name, key: request.key, error });
          throw error;
        } finally {
          counts.set(id, (counts.get(id) ?? 0) + 1);
          completedAfter.set(id, Math.max(completedAfter.get(id) ?? 0, startSeq));
        }
      },
    };
    addController(counted);
  };
  const controllers = addOperatorControllers(manager, options);
  const running = manager.run();
  await until(() => manager.isReady() && manager.isLeader(), 'the in-process operator leading with synced caches');
  return {
    manager,
    errors,
    reconciles: (controller, key) => counts.get(`${controller}|${key}`) ?? 0,
    mark: () => sequence,
    waitForReconcile: async (controller, key, since, timeoutMs = 30_000) => {
      const id = `${controller}|${key}`;
      await until(() => (completedAfter.get(id) ?? 0) > since, `a ${controller} reconcile of ${key}`, timeoutMs, 25);
    },
    stop: async () => {
      await manager.shutdown();
      await running;
      await controllers.close();
    },
  };
}

/**
 * The broker's side of its lifecycle (Kafka's BrokerLifecycleManager): register with the active controller,
 * heartbeat every broker.heartbeat.interval.ms, ask to be unfenced once the logs are loaded and the
 * metadata log has caught up, and run controlled shutdown (the controller moves leaderships away first).
 *
 * States follow Kafka's BrokerState: STARTING -> RECOVERY (registered, fenced) -> RUNNING (unfenced)
 * -> PENDING_CONTROLLED_SHUTDOWN -> SHUTTING_DOWN. A heartbeat that finds the registration gone or stale
 * (the controller fenced and replaced it) registers again with a new epoch.
 */
import type { Logger } from 'pino';
import type { BrokerHeartbeatResponse, BrokerRegistrationRequestListener } from '../protocol/generated/index.ts';
import { ErrorCode, errorName } from '../protocol/error-codes.ts';
import type { Uuid } from '../protocol/wire/uuid.ts';
import type { ControllerChannel } from './controller-channel.ts';

export type BrokerLifecycleState = 'starting' | 'recovery' | 'running' | 'pending_controlled_shutdown' | 'shutting_down';

export interface BrokerLifecycleOptions {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly incarnationId: Uuid;
  readonly channel: ControllerChannel;
  readonly listeners: () => BrokerRegistrationRequestListener[];
  readonly features: readonly { readonly name: string; readonly minVersion: number; readonly maxVersion: number }[];
  readonly rack: string | null;
  readonly heartbeatIntervalMs: number;
  /** initial.broker.registration.timeout.ms */
  readonly registrationTimeoutMs: number;
  /** Offset of the last metadata record this broker has applied. */
  readonly metadataOffset: () => bigint;
  /** True once local logs are loaded and the broker can serve: only then it asks to be unfenced. */
  readonly readyToUnfence: () => boolean;
  readonly logger: Logger;
  readonly onStateChange?: (state: BrokerLifecycleState) => void;
}

export class BrokerLifecycle {
  private readonly options: BrokerLifecycleOptions;
  private stateValue: BrokerLifecycleState = 'starting';
  private epoch = -1n;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private beating: Promise<void> | null = null;
  private readonly waiters: { readonly until: (s: BrokerLifecycleState) => boolean; readonly resolve: () => void }[] = [];

  constructor(options: BrokerLifecycleOptions) {
    this.options = options;
  }

  get state(): BrokerLifecycleState {
    return this.stateValue;
  }

  get brokerEpoch(): bigint {
    return this.epoch;
  }

  /** Registers (retrying until initial.broker.registration.timeout.ms), then heartbeats in the background. */
  async start(): Promise<void> {
    await this.register(this.options.registrationTimeoutMs);
    this.setState('recovery');
    this.schedule(0);
  }

  /** Resolves once the controller has unfenced this broker. */
  waitRunning(): Promise<void> {
    return this.waitFor((s) => s === 'running' || s === 'shutting_down');
  }

  /**
   * Controlled shutdown: heartbeats with wantShutDown until the controller has moved every leadership away
   * and says shouldShutDown (or `timeoutMs` passes), then stops heartbeating.
   */
  async controlledShutdown(timeoutMs: number): Promise<void> {
    if (this.stateValue === 'shutting_down' || this.stopped) return;
    if (this.epoch >= 0n) {
      this.setState('pending_controlled_shutdown');
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && this.stateValue === 'pending_controlled_shutdown') {
        await this.heartbeatOnce(Math.max(1, deadline - Date.now())).catch((error: unknown) => {
          this.options.logger.warn({ err: error }, 'controlled shutdown heartbeat failed; retrying');
        });
        if (this.stateValue === 'pending_controlled_shutdown') await sleep(Math.min(200, Math.max(0, deadline - Date.now())));
      }
      if (!this.isShuttingDown()) this.options.logger.warn({ timeoutMs }, 'controlled shutdown did not complete in time; shutting down anyway');
    }
    this.stop();
  }

  private isShuttingDown(): boolean {
    return this.stateValue === 'shutting_down';
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.setState('shutting_down');
  }

  private async register(timeoutMs: number): Promise<void> {
    const { options } = this;
    const deadline = Date.now() + timeoutMs;
    let lastProblem = '';
    while (!this.stopped) {
      try {
        const response = await options.channel.send(62, {
          brokerId: options.nodeId,
          clusterId: options.clusterId,
          incarnationId: options.incarnationId,
          listeners: options.listeners(),
          features: options.features.map((f) => ({ name: f.name, minSupportedVersion: f.minVersion, maxSupportedVersion: f.maxVersion })),
          rack: options.rack,
          isMigratingZkBroker: false,
          logDirs: [],
          previousBrokerEpoch: this.epoch,
        }, { timeoutMs: Math.max(1, deadline - Date.now()) });
        if (response.errorCode === ErrorCode.NONE) {
          this.epoch = response.brokerEpoch;
          options.logger.info({ brokerEpoch: String(this.epoch) }, 'registered with the controller');
          return;
        }
        lastProblem = `the controller refused the registration: ${errorName(response.errorCode)}`;
        if (response.errorCode === ErrorCode.INCONSISTENT_CLUSTER_ID) {
          throw new Error(`${lastProblem}: this node's cluster id ${options.clusterId} differs from the controllers'; check millrace.cluster.id and the log dirs`);
        }
      } catch (error) {
        if (error instanceof Error && error.message.includes('INCONSISTENT_CLUSTER_ID')) throw error;
        lastProblem = error instanceof Error ? error.message : String(error);
      }
      if (Date.now() >= deadline) break;
      options.logger.warn({ reason: lastProblem }, 'broker registration failed; retrying');
      await sleep(Math.min(1000, Math.max(0, deadline - Date.now())));
    }
    if (this.stopped) return;
    throw new Error(`broker ${options.nodeId} could not register with the controller quorum within ${timeoutMs} ms (initial.broker.registration.timeout.ms): ${lastProblem}`);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.stopped || this.stateValue === 'pending_controlled_shutdown') return;
      this.beating = this.heartbeatOnce(this.options.heartbeatIntervalMs * 2)
        .catch((error: unknown) => { this.options.logger.warn({ err: error }, 'broker heartbeat failed; retrying'); })
        // While fenced (catching up), beat quickly so the broker is unfenced as soon as it may be (as Kafka).
        .finally(() => { this.beating = null; this.schedule(this.stateValue === 'running' ? this.options.heartbeatIntervalMs : Math.min(50, this.options.heartbeatIntervalMs)); });
    }, delayMs);
    this.timer.unref();
  }

  private async heartbeatOnce(timeoutMs: number): Promise<void> {
    const { options } = this;
    const wantShutDown = this.stateValue === 'pending_controlled_shutdown';
    const response: BrokerHeartbeatResponse = await options.channel.send(63, {
      brokerId: options.nodeId,
      brokerEpoch: this.epoch,
      currentMetadataOffset: options.metadataOffset(),
      wantFence: !options.readyToUnfence(),
      wantShutDown,
      offlineLogDirs: [],
    }, { timeoutMs });
    if (this.stopped) return;
    if (response.errorCode === ErrorCode.STALE_BROKER_EPOCH || response.errorCode === ErrorCode.BROKER_ID_NOT_REGISTERED) {
      options.logger.warn({ error: errorName(response.errorCode) }, 'the controller no longer knows this registration; registering again');
      await this.register(options.registrationTimeoutMs);
      if (this.stateValue === 'running') this.setState('recovery');
      return;
    }
    if (response.errorCode !== ErrorCode.NONE) throw new Error(`heartbeat refused: ${errorName(response.errorCode)}`);
    if (wantShutDown) {
      if (response.shouldShutDown) this.setState('shutting_down');
      return;
    }
    if (!response.isFenced && this.stateValue === 'recovery') {
      options.logger.info('the controller unfenced this broker');
      this.setState('running');
    } else if (response.isFenced && this.stateValue === 'running') {
      options.logger.warn('the controller fenced this broker');
      this.setState('recovery');
    }
  }

  private setState(state: BrokerLifecycleState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    this.options.onStateChange?.(state);
    for (const waiter of [...this.waiters]) {
      if (waiter.until(state)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  }

  private waitFor(until: (s: BrokerLifecycleState) => boolean): Promise<void> {
    if (until(this.stateValue)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ until, resolve }));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

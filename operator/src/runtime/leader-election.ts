/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection package does it, so two
 * operator replicas never reconcile at once.
 *
 * Decision (pure: decideLease). Given the lease as just read, what this replica observed before, the clock
 * and its identity:
 *   - no lease                                          -> create it holding it ourselves
 *   - held by us                                        -> renew (acquireTime and leaseTransitions kept)
 *   - holder empty (released)                           -> acquire (leaseTransitions + 1)
 *   - held by another, lease still valid                -> wait
 *   - held by another, expired                          -> acquire (leaseTransitions + 1)
 * "Valid" never compares our clock with the timestamps another replica wrote (clocks differ between nodes):
 * like client-go, a replica remembers when *it* first saw the current lease content (observedAtMs, by its own
 * clock) and treats the lease as valid until observedAtMs + leaseDurationSeconds. Any change to the lease
 * content (a renewal) restarts that window.
 *
 * Driver (LeaderElector). Every retryPeriod (+ up to 20 % jitter while not leading) it reads the lease and
 * performs the decision's write with optimistic concurrency (PUT with the read resourceVersion; a 409 means
 * someone else wrote first and the attempt simply failed). While leading, if no renewal succeeds for
 * renewDeadline, leadership is lost: onStoppedLeading('lost') and the elector stops (the manager then exits
 * the process, as controller-runtime does). stop({ release: true }) writes holderIdentity "" and
 * leaseDurationSeconds 1 so a successor takes over at once instead of waiting out the lease.
 *
 * Safety needs leaseDuration > renewDeadline: a leader gives up (renewDeadline after its last renewal) before
 * any other replica can consider the lease expired (leaseDuration after it last saw a change).
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { formatMicroTime, sleep, systemClock, type Clock } from './clock.ts';
import { errorMessage, isConflict, isAlreadyExists } from './kube-api.ts';
import type { ObjectClient } from './apply.ts';
import { Resources } from './resources.ts';

/** The Lease spec fields leader election uses (times are metav1.MicroTime strings). */
export interface LeaseSpec {
  readonly holderIdentity?: string | null;
  readonly leaseDurationSeconds?: number | null;
  readonly acquireTime?: string | null;
  readonly renewTime?: string | null;
  readonly leaseTransitions?: number | null;
}

export interface LeaseState {
  readonly spec: LeaseSpec;
  readonly resourceVersion: string;
}

/** What this replica last saw of the lease, and when (by its own clock). */
export interface LeaseObservation {
  readonly spec: LeaseSpec;
  readonly observedAtMs: number;
}

export interface LeaseDecisionInput {
  readonly identity: string;
  readonly leaseDurationSeconds: number;
  readonly nowMs: number;
  /** The lease as read now; null if it does not exist. */
  readonly current: LeaseState | null;
  readonly previous: LeaseObservation | undefined;
}

export type LeaseDecision =
  | { readonly action: 'create'; readonly spec: LeaseSpec; readonly observation: LeaseObservation | undefined }
  | { readonly action: 'update'; readonly spec: LeaseSpec; readonly resourceVersion: string; readonly renew: boolean; readonly observation: LeaseObservation }
  | { readonly action: 'wait'; readonly holder: string; readonly validUntilMs: number; readonly observation: LeaseObservation };

/** Two specs are the same observation when every leader-election field is equal (client-go compares the raw record). */
export function sameLeaseSpec(a: LeaseSpec, b: LeaseSpec): boolean {
  return (
    (a.holderIdentity ?? '') === (b.holderIdentity ?? '') &&
    (a.leaseDurationSeconds ?? 0) === (b.leaseDurationSeconds ?? 0) &&
    (a.acquireTime ?? '') === (b.acquireTime ?? '') &&
    (a.renewTime ?? '') === (b.renewTime ?? '') &&
    (a.leaseTransitions ?? 0) === (b.leaseTransitions ?? 0)
  );
}

/** client-go's tryAcquireOrRenew, without the I/O. */
export function decideLease(input: LeaseDecisionInput): LeaseDecision {
  const { identity, leaseDurationSeconds, nowMs, current, previous } = input;
  const now = formatMicroTime(nowMs);
  if (current === null) {
    return { action: 'create', spec: { holderIdentity: identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 }, observation: previous };
  }
  // The observation window restarts whenever the lease content changes.
  const observation: LeaseObservation = previous !== undefined && sameLeaseSpec(previous.spec, current.spec) ? previous : { spec: current.spec, observedAtMs: nowMs };
  const holder = current.spec.holderIdentity ?? '';
  const validUntilMs = observation.observedAtMs + (current.spec.leaseDurationSeconds ?? 0) * 1000;
  if (holder !== '' && holder !== identity && validUntilMs > nowMs) return { action: 'wait', holder, validUntilMs, observation };
  const renew = holder === identity;
  const spec: LeaseSpec = {
    holderIdentity: identity,
    leaseDurationSeconds,
    acquireTime: renew ? (current.spec.acquireTime ?? now) : now,
    renewTime: now,
    leaseTransitions: (current.spec.leaseTransitions ?? 0) + (renew ? 0 : 1),
  };
  return { action: 'update', spec, resourceVersion: current.resourceVersion, renew, observation };
}

/** The lease written on graceful release: no holder, 1 s duration (client-go's ReleaseOnCancel). */
export function releasedLeaseSpec(held: LeaseSpec, nowMs: number): LeaseSpec {
  const now = formatMicroTime(nowMs);
  return { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: held.leaseTransitions ?? 0 };
}

/** The Lease I/O the elector needs. update must fail (throw) when resourceVersion is stale. */
export interface LeaseClient {
  get(signal: AbortSignal): Promise<LeaseState | null>;
  create(spec: LeaseSpec, signal: AbortSignal): Promise<LeaseState>;
  update(spec: LeaseSpec, resourceVersion: string, signal: AbortSignal): Promise<LeaseState>;
}

interface LeaseObject {
  readonly apiVersion: 'coordination.k8s.io/v1';
  readonly kind: 'Lease';
  readonly metadata: { readonly name: string; readonly namespace: string; readonly resourceVersion?: string };
  readonly spec?: LeaseSpec;
}

/** A LeaseClient on the API server: coordination.k8s.io/v1 Lease namespace/name. */
export function kubeLeaseClient(client: ObjectClient, namespace: string, name: string): LeaseClient {
  const toState = (lease: LeaseObject): LeaseState => ({ spec: lease.spec ?? {}, resourceVersion: lease.metadata.resourceVersion ?? '' });
  const object = (spec: LeaseSpec, resourceVersion?: string): LeaseObject => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace, ...(resourceVersion === undefined ? {} : { resourceVersion }) },
    spec,
  });
  return {
    async get(signal) {
      const lease = await client.get<LeaseObject>(Resources.Lease, namespace, name, signal);
      return lease === null ? null : toState(lease);
    },
    async create(spec, signal) {
      return toState(await client.create(object(spec), signal));
    },
    async update(spec, resourceVersion, signal) {
      return toState(await client.update(object(spec, resourceVersion), signal));
    },
  };
}

/** POD_NAME when set (Downward API), else hostname_uuid, as client-go's examples do. */
export function defaultIdentity(): string {
  const pod = process.env.POD_NAME;
  return pod !== undefined && pod !== '' ? pod : `${hostname()}_${randomUUID()}`;
}

export type StoppedLeadingReason = 'lost' | 'released' | 'stopped';

export interface LeaderElectorOptions {
  readonly lease: LeaseClient;
  /** For logs and the metric label: namespace/name. */
  readonly leaseName: string;
  readonly identity: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly clock?: Clock;
  readonly logger: Logger;
  readonly random?: () => number;
  readonly onStartedLeading?: () => void;
  /** 'lost' when renewal failed for renewDeadline (or another replica took the lease); otherwise after stop(). */
  readonly onStoppedLeading?: (reason: StoppedLeadingReason) => void;
  /** Called whenever the observed holder changes (including to this replica). */
  readonly onNewLeader?: (identity: string) => void;
  readonly onLeadingChanged?: (leading: boolean) => void;
}

export const LEASE_DURATION_MS_DEFAULT = 15_000;
export const RENEW_DEADLINE_MS_DEFAULT = 10_000;
export const RETRY_PERIOD_MS_DEFAULT = 2_000;
const JITTER_FACTOR = 1.2;

export class LeaderElector {
  readonly identity: string;
  private readonly options: LeaderElectorOptions;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly logger: Logger;

  private observation: LeaseObservation | undefined;
  private held: LeaseState | undefined;
  private leading = false;
  private lastRenewMs = 0;
  private lastHolder = '';
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private stopping = false;

  constructor(options: LeaderElectorOptions) {
    this.options = options;
    this.identity = options.identity;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.leaseDurationMs = options.leaseDurationMs ?? LEASE_DURATION_MS_DEFAULT;
    this.renewDeadlineMs = options.renewDeadlineMs ?? RENEW_DEADLINE_MS_DEFAULT;
    this.retryPeriodMs = options.retryPeriodMs ?? RETRY_PERIOD_MS_DEFAULT;
    if (this.identity === '') throw new Error('leader election: identity must not be empty');
    if (!(this.leaseDurationMs > this.renewDeadlineMs)) throw new Error(`leader election: leaseDuration (${this.leaseDurationMs} ms) must be greater than renewDeadline (${this.renewDeadlineMs} ms)`);
    if (!(this.renewDeadlineMs > JITTER_FACTOR * this.retryPeriodMs)) throw new Error(`leader election: renewDeadline (${this.renewDeadlineMs} ms) must be greater than ${JITTER_FACTOR} x retryPeriod (${this.retryPeriodMs} ms)`);
    if (this.leaseDurationMs % 1000 !== 0) throw new Error(`leader election: leaseDuration must be whole seconds (the Lease stores seconds), got ${this.leaseDurationMs} ms`);
    this.logger = options.logger.child({ lease: options.leaseName, identity: this.identity });
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Starts campaigning in the background. */
  start(): void {
    if (this.loop !== undefined) throw new Error('leader elector started twice');
    this.loop = this.run();
  }

  /**
   * Stops campaigning and renewing (an attempt in flight is allowed to finish). With release, if this replica
   * holds the lease, writes the released lease so the next leader need not wait it out. Never throws: a
   * failed release is logged (the lease then expires by itself).
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.abort.abort();
    await this.loop;
    let reason: StoppedLeadingReason = 'stopped';
    const held = this.held;
    if (options.release === true && held !== undefined && held.spec.holderIdentity === this.identity) {
      try {
        const timer = new AbortController();
        const handle = this.clock.setTimeout(() => timer.abort(), this.renewDeadlineMs);
        try {
          this.held = await this.options.lease.update(releasedLeaseSpec(held.spec, this.clock.now()), held.resourceVersion, timer.signal);
        } finally {
          this.clock.clearTimeout(handle);
        }
        reason = 'released';
        this.logger.info('Released leader lease');
      } catch (error) {
        this.logger.warn({ err: error }, `Could not release the leader lease (it expires by itself): ${errorMessage(error)}`);
      }
    }
    this.setLeading(false, reason);
  }

  private async run(): Promise<void> {
    const stopped = this.abort.signal;
    // Acquire.
    while (!stopped.aborted && !this.leading) {
      await this.attempt(this.retryPeriodMs);
      if (this.leading || stopped.aborted) break;
      await sleep(this.clock, this.retryPeriodMs * (1 + (JITTER_FACTOR - 1) * this.random()), stopped);
    }
    // Renew.
    while (!stopped.aborted && this.leading) {
      await sleep(this.clock, this.retryPeriodMs, stopped);
      if (stopped.aborted) break;
      const remainingMs = this.lastRenewMs + this.renewDeadlineMs - this.clock.now();
      const ok = remainingMs > 0 && (await this.attempt(remainingMs));
      if (!this.leading) return; // superseded: attempt() saw another holder
      if (!ok && this.clock.now() - this.lastRenewMs >= this.renewDeadlineMs) {
        this.logger.error({ renewDeadlineMs: this.renewDeadlineMs }, `Leader election lost: the lease was not renewed within ${this.renewDeadlineMs} ms`);
        this.setLeading(false, 'lost');
        return;
      }
    }
  }

  /**
   * One tryAcquireOrRenew, bounded by timeoutMs; true if this replica holds the lease afterwards. Errors are
   * logged, never thrown. Not cancelled by stop(): a write cut off midway would leave us unsure whether we hold
   * the lease, and stop() needs to know in order to release it.
   */
  private async attempt(timeoutMs: number): Promise<boolean> {
    const startedMs = this.clock.now();
    const timer = new AbortController();
    const handle = this.clock.setTimeout(() => timer.abort(), timeoutMs);
    try {
      const current = await this.options.lease.get(timer.signal);
      const nowMs = this.clock.now();
      const decision = decideLease({ identity: this.identity, leaseDurationSeconds: this.leaseDurationMs / 1000, nowMs, current, previous: this.observation });
      if (decision.observation !== undefined) this.observation = decision.observation;
      if (current !== null) this.noteHolder(current.spec.holderIdentity ?? '');
      if (decision.action === 'wait') {
        this.held = undefined;
        if (this.leading) {
          this.logger.error({ holder: decision.holder }, `Leader election lost: the lease is held by ${decision.holder}`);
          this.setLeading(false, 'lost');
        } else {
          this.logger.debug({ holder: decision.holder, validForMs: decision.validUntilMs - nowMs }, 'Lease held by another replica');
        }
        return false;
      }
      const written = decision.action === 'create' ? await this.options.lease.create(decision.spec, timer.signal) : await this.options.lease.update(decision.spec, decision.resourceVersion, timer.signal);
      this.held = written;
      this.observation = { spec: written.spec, observedAtMs: this.clock.now() };
      // Conservative: the lease counts as renewed from when this attempt started, not from when it returned.
      this.lastRenewMs = startedMs;
      this.noteHolder(this.identity);
      if (!this.leading && !this.stopping) {
        this.logger.info({ transitions: written.spec.leaseTransitions ?? 0 }, 'Acquired leader lease');
        this.setLeading(true);
      }
      return true;
    } catch (error) {
      const why = timer.signal.aborted ? `no answer within ${Math.round(timeoutMs)} ms` : errorMessage(error);
      const level = isConflict(error) || isAlreadyExists(error) ? 'debug' : 'warn';
      this.logger[level]({ err: error, leading: this.leading }, `Lease ${this.leading ? 'renewal' : 'acquisition'} attempt failed: ${why}`);
      return false;
    } finally {
      this.clock.clearTimeout(handle);
    }
  }

  private noteHolder(holder: string): void {
    if (holder === this.lastHolder) return;
    this.lastHolder = holder;
    if (holder !== '') {
      this.logger.info({ holder }, holder === this.identity ? 'This replica is the leader' : `New leader elected: ${holder}`);
      this.options.onNewLeader?.(holder);
    }
  }

  private setLeading(leading: boolean, reason?: StoppedLeadingReason): void {
    if (this.leading === leading) return;
    this.leading = leading;
    this.options.onLeadingChanged?.(leading);
    if (leading) this.options.onStartedLeading?.();
    else this.options.onStoppedLeading?.(reason ?? 'stopped');
  }
}

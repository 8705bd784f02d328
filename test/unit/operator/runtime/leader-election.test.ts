import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { FakeClock, formatMicroTime } from '../../../../operator/src/runtime/clock.ts';
import { KubeApiError } from '../../../../operator/src/runtime/kube-api.ts';
import {
  decideLease,
  LeaderElector,
  releasedLeaseSpec,
  type LeaseClient,
  type LeaseObservation,
  type LeaseSpec,
  type LeaseState,
  type StoppedLeadingReason,
} from '../../../../operator/src/runtime/leader-election.ts';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const ME = 'operator-0';
const OTHER = 'operator-1';

const held = (holder: string, renewMs: number, extra: Partial<LeaseSpec> = {}): LeaseSpec => ({
  holderIdentity: holder,
  leaseDurationSeconds: 15,
  acquireTime: formatMicroTime(renewMs - 60_000),
  renewTime: formatMicroTime(renewMs),
  leaseTransitions: 3,
  ...extra,
});
const state = (spec: LeaseSpec, resourceVersion = '42'): LeaseState => ({ spec, resourceVersion });
const decide = (current: LeaseState | null, nowMs: number, previous?: LeaseObservation) => decideLease({ identity: ME, leaseDurationSeconds: 15, nowMs, current, previous });

describe('decideLease', () => {
  it('creates a missing lease, holding it with zero transitions', () => {
    const d = decide(null, T0);
    expect(d).toEqual({
      action: 'create',
      spec: { holderIdentity: ME, leaseDurationSeconds: 15, acquireTime: '2025-01-01T12:00:00.000000Z', renewTime: '2025-01-01T12:00:00.000000Z', leaseTransitions: 0 },
      observation: undefined,
    });
  });

  it('acquires a released lease (empty holder) at once, counting a transition', () => {
    const d = decide(state(releasedLeaseSpec(held(OTHER, T0), T0)), T0);
    expect(d.action).toBe('update');
    if (d.action !== 'update') return;
    expect(d.renew).toBe(false);
    expect(d.resourceVersion).toBe('42');
    expect(d.spec).toMatchObject({ holderIdentity: ME, leaseDurationSeconds: 15, acquireTime: formatMicroTime(T0), renewTime: formatMicroTime(T0), leaseTransitions: 4 });
  });

  it('renews its own lease, keeping acquireTime and leaseTransitions', () => {
    const mine = held(ME, T0 - 2000);
    const d = decide(state(mine), T0);
    expect(d.action).toBe('update');
    if (d.action !== 'update') return;
    expect(d.renew).toBe(true);
    expect(d.spec).toEqual({ holderIdentity: ME, leaseDurationSeconds: 15, acquireTime: mine.acquireTime, renewTime: formatMicroTime(T0), leaseTransitions: 3 });
  });

  it("refuses another replica's lease while it is valid, and reports until when", () => {
    const first = decide(state(held(OTHER, T0)), T0);
    expect(first).toMatchObject({ action: 'wait', holder: OTHER, validUntilMs: T0 + 15_000 });
    if (first.action !== 'wait') return;
    // Same content read again 14.999 s later: still valid.
    expect(decide(state(held(OTHER, T0)), T0 + 14_999, first.observation).action).toBe('wait');
  });

  it("acquires another replica's lease once it has not changed for leaseDurationSeconds", () => {
    const first = decide(state(held(OTHER, T0)), T0);
    if (first.action !== 'wait') throw new Error('expected wait');
    const later = decide(state(held(OTHER, T0)), T0 + 15_000, first.observation);
    expect(later.action).toBe('update');
    if (later.action !== 'update') return;
    expect(later.renew).toBe(false);
    expect(later.spec).toMatchObject({ holderIdentity: ME, acquireTime: formatMicroTime(T0 + 15_000), leaseTransitions: 4 });
  });

  it('restarts the validity window whenever the lease content changes (the holder renewed)', () => {
    const first = decide(state(held(OTHER, T0)), T0);
    if (first.action !== 'wait') throw new Error('expected wait');
    const renewed = decide(state(held(OTHER, T0 + 10_000), '43'), T0 + 10_000, first.observation);
    expect(renewed).toMatchObject({ action: 'wait', validUntilMs: T0 + 25_000 });
    if (renewed.action !== 'wait') return;
    expect(decide(state(held(OTHER, T0 + 10_000), '43'), T0 + 20_000, renewed.observation).action).toBe('wait');
  });

  it("ignores the holder's timestamps (clock skew): an old renewTime just observed is still valid", () => {
    // The holder's clock is an hour behind ours: its renewTime looks long expired, but we have only just seen it.
    const skewed = held(OTHER, T0 - 3_600_000);
    expect(decide(state(skewed), T0).action).toBe('wait');
  });

  it("ignores the holder's timestamps (clock skew): a renewTime in the future does not extend the lease", () => {
    // The holder's clock is an hour ahead; it then stopped renewing. We acquire 15 s after first seeing it.
    const ahead = held(OTHER, T0 + 3_600_000);
    const first = decide(state(ahead), T0);
    if (first.action !== 'wait') throw new Error('expected wait');
    expect(decide(state(ahead), T0 + 15_000, first.observation).action).toBe('update');
  });

  it('treats a lease without a duration as expired', () => {
    expect(decide(state({ holderIdentity: OTHER, renewTime: formatMicroTime(T0) }), T0).action).toBe('update');
  });

  it('writes MicroTime with exactly six fractional digits (the API server rejects fewer)', () => {
    expect(formatMicroTime(Date.UTC(2025, 5, 7, 8, 9, 10, 123))).toBe('2025-06-07T08:09:10.123000Z');
  });
});

/** An in-memory Lease with optimistic concurrency, and switches to make calls fail. */
class FakeLease implements LeaseClient {
  current: LeaseState | null = null;
  private rv = 0;
  failing = false;
  writes = 0;

  get(_signal: AbortSignal): Promise<LeaseState | null> {
    if (this.failing) return Promise.reject(new Error('connection refused'));
    return Promise.resolve(this.current);
  }

  create(spec: LeaseSpec, _signal: AbortSignal): Promise<LeaseState> {
    if (this.failing) return Promise.reject(new Error('connection refused'));
    if (this.current !== null) return Promise.reject(new KubeApiError('POST', '/leases', 409, { reason: 'AlreadyExists', message: 'exists' }));
    this.writes++;
    this.current = { spec, resourceVersion: String(++this.rv) };
    return Promise.resolve(this.current);
  }

  update(spec: LeaseSpec, resourceVersion: string, _signal: AbortSignal): Promise<LeaseState> {
    if (this.failing) return Promise.reject(new Error('connection refused'));
    if (this.current?.resourceVersion !== resourceVersion) return Promise.reject(new KubeApiError('PUT', '/leases/x', 409, { reason: 'Conflict', message: 'the object has been modified' }));
    this.writes++;
    this.current = { spec, resourceVersion: String(++this.rv) };
    return Promise.resolve(this.current);
  }
}

interface Harness {
  readonly elector: LeaderElector;
  readonly events: string[];
}

function elector(identity: string, lease: LeaseClient, clock: FakeClock): Harness {
  const events: string[] = [];
  const e = new LeaderElector({
    lease,
    leaseName: 'ns/lease',
    identity,
    clock,
    logger: pino({ level: 'silent' }),
    random: () => 0,
    onStartedLeading: () => events.push('started'),
    onStoppedLeading: (reason: StoppedLeadingReason) => events.push(`stopped:${reason}`),
  });
  return { elector: e, events };
}

describe('LeaderElector', () => {
  it('creates the lease and leads, then keeps renewing every retryPeriod', async () => {
    const clock = new FakeClock(T0);
    const lease = new FakeLease();
    const a = elector(ME, lease, clock);
    a.elector.start();
    await clock.advanceAsync(0);
    expect(a.elector.isLeader()).toBe(true);
    expect(a.events).toEqual(['started']);
    expect(lease.current?.spec.holderIdentity).toBe(ME);
    await clock.advanceAsync(60_000);
    expect(lease.writes).toBe(31); // the create plus one renewal per 2 s
    expect(lease.current?.spec.renewTime).toBe(formatMicroTime(T0 + 60_000));
    await a.elector.stop();
  });

  it('keeps a second replica waiting while the first renews, and lets it take over once renewals stop', async () => {
    const clock = new FakeClock(T0);
    const lease = new FakeLease();
    const a = elector(ME, lease, clock);
    const b = elector(OTHER, lease, clock);
    a.elector.start();
    await clock.advanceAsync(0);
    b.elector.start();
    await clock.advanceAsync(30_000);
    expect([a.elector.isLeader(), b.elector.isLeader()]).toEqual([true, false]);

    // A is partitioned away: its calls fail. It must give up within renewDeadline (10 s) of its last renewal...
    lease.failing = true;
    const lastRenewal = clock.now();
    await clock.advanceAsync(10_000);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.events).toEqual(['started', 'stopped:lost']);
    lease.failing = false;
    // ...which is before B may take over: leaseDuration (15 s) after B last saw the lease change.
    await clock.advanceAsync(lastRenewal + 14_000 - clock.now());
    expect(b.elector.isLeader()).toBe(false);
    await clock.advanceAsync(4_000);
    expect(b.elector.isLeader()).toBe(true);
    expect(b.events).toEqual(['started']);
    expect(lease.current?.spec).toMatchObject({ holderIdentity: OTHER, leaseTransitions: 1 });
    await b.elector.stop();
  });

  it('releases the lease on stop({ release: true }) so the next replica acquires on its next attempt', async () => {
    const clock = new FakeClock(T0);
    const lease = new FakeLease();
    const a = elector(ME, lease, clock);
    const b = elector(OTHER, lease, clock);
    a.elector.start();
    await clock.advanceAsync(0);
    b.elector.start();
    await clock.advanceAsync(5_000);
    await a.elector.stop({ release: true });
    expect(a.events).toEqual(['started', 'stopped:released']);
    expect(lease.current?.spec).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
    await clock.advanceAsync(2_400); // one retry period (+ jitter)
    expect(b.elector.isLeader()).toBe(true);
    await b.elector.stop();
  });

  it('notices being superseded (another holder wrote the lease) and stops leading', async () => {
    const clock = new FakeClock(T0);
    const lease = new FakeLease();
    const a = elector(ME, lease, clock);
    a.elector.start();
    await clock.advanceAsync(0);
    lease.current = { spec: held(OTHER, T0), resourceVersion: '999' };
    await clock.advanceAsync(2_000);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.events).toEqual(['started', 'stopped:lost']);
  });

  it('refuses inconsistent timings', () => {
    const base = { lease: new FakeLease(), leaseName: 'x', identity: ME, logger: pino({ level: 'silent' }) };
    expect(() => new LeaderElector({ ...base, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 })).toThrow(/leaseDuration .* must be greater than renewDeadline/);
    expect(() => new LeaderElector({ ...base, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 })).toThrow(/renewDeadline .* must be greater than 1.2 x retryPeriod/);
    expect(() => new LeaderElector({ ...base, leaseDurationMs: 15_500 })).toThrow(/whole seconds/);
    expect(() => new LeaderElector({ ...base, identity: '' })).toThrow(/identity/);
  });
});

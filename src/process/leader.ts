// Leader election on a coordination.k8s.io Lease, after client-go's: acquire
// when the lease is free or expired (judged by our own clock since we last saw
// it change, so clock skew between nodes cannot steal it), renew every retry
// period, and stop acting as soon as a renewal deadline passes. Deadlines are
// measured on the monotonic clock, so that a wall-clock step (NTP) neither keeps
// a lease we lost nor drops one we hold; the Lease's times carry wall time.
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1';
import type { Logger } from 'pino';
import { isConflict, isNotFound, type KubeClient } from '../k8s/client.ts';
import { sleep, systemClock, type Clock } from '../k8s/clock.ts';
import { R } from '../k8s/resources.ts';
import { microTime } from '../k8s/types.ts';

export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  log: Logger;
  /** Tests pass a fake one. */
  clock?: Clock;
}

export class LeaderElector {
  private readonly c: KubeClient;
  private readonly o: Required<Omit<LeaderOptions, 'onStartedLeading' | 'onStoppedLeading' | 'log'>> & LeaderOptions;
  private readonly clock: Clock;
  private leading = false;
  /** Monotonic time at which the last successful renewal was sent. */
  private lastRenew = 0;
  /** The lease as last seen changing, and when (monotonic). */
  private observed: { holder: string; renew: string; at: number } | undefined;

  constructor(client: KubeClient, opts: LeaderOptions) {
    this.c = client;
    this.o = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, clock: systemClock, ...opts };
    this.clock = this.o.clock;
  }

  get isLeader(): boolean {
    // Also false the moment the renew deadline passes, even before the loop notices.
    return this.leading && this.clock.now() - this.lastRenew < this.o.renewDeadlineMs;
  }

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let ok = false;
      // The renewal counts from when it was sent: a slow answer must not stretch the deadline.
      const attempt = this.clock.now();
      try {
        ok = await this.tryAcquireOrRenew();
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message }, 'leader election: lease update failed');
      }
      if (ok) {
        this.lastRenew = attempt;
        if (!this.leading) {
          this.leading = true;
          this.o.log.info({ identity: this.o.identity }, 'became the leader');
          this.o.onStartedLeading();
        }
      } else if (this.leading && this.clock.now() - this.lastRenew >= this.o.renewDeadlineMs) {
        this.lose('could not renew the lease before the renew deadline');
      }
      // A sleep that removes its abort listener: one added per period and never removed grew
      // without bound (about 43,000 a day).
      await sleep(this.clock, this.o.retryPeriodMs, signal);
    }
  }

  private lose(why: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.o.log.warn({ why }, 'lost the leader lease; stopping at once');
    this.o.onStoppedLeading();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date(this.clock.wall());
    const lease = await this.c.get<ILease>(R.lease, this.o.namespace, this.o.name);
    const seenAt = this.clock.now();
    const durationSeconds = Math.ceil(this.o.leaseDurationMs / 1000);
    if (!lease) {
      try {
        await this.c.create<ILease>(R.lease, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.o.name, namespace: this.o.namespace },
          spec: {
            holderIdentity: this.o.identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        });
        return true;
      } catch (err) {
        if (isConflict(err)) return false;
        throw err;
      }
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const renew = spec.renewTime ?? '';
    if (!this.observed || this.observed.holder !== holder || this.observed.renew !== renew) {
      this.observed = { holder, renew, at: seenAt };
    }
    const held = holder === this.o.identity;
    const expired = seenAt > this.observed.at + (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (!held && holder !== '' && !expired) {
      if (this.leading) this.lose(`the lease is held by ${holder}`);
      return false;
    }
    const next: ILease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: this.o.identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: microTime(now),
        ...(held ? {} : { acquireTime: microTime(now), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
      },
    };
    try {
      await this.c.replace(R.lease, next);
      return true;
    } catch (err) {
      if (isConflict(err) || isNotFound(err)) return false;
      throw err;
    }
  }

  /** Gives the lease up on a clean shutdown so that another replica takes over at once. */
  async release(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.c.get<ILease>(R.lease, this.o.namespace, this.o.name);
      if (lease?.spec?.holderIdentity !== this.o.identity) return;
      await this.c.replace(R.lease, { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } });
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'could not release the lease');
    }
  }
}

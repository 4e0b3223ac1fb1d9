// Leader election on a coordination.k8s.io Lease, after client-go's: acquire
// when the lease is free or expired (judged by our own clock since we last saw
// it change, so clock skew between nodes cannot steal it), renew every retry
// period, and stop acting as soon as a renewal deadline passes.
import type { Logger } from 'pino';
import { isConflict, isNotFound, type KubeClient } from '../k8s/client.ts';
import { R } from '../k8s/resources.ts';
import type { KubeObject } from '../k8s/types.ts';

interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

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
}

/** RFC 3339 with microseconds, as metav1.MicroTime wants. */
function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  private readonly c: KubeClient;
  private readonly o: Required<Omit<LeaderOptions, 'onStartedLeading' | 'onStoppedLeading' | 'log'>> & LeaderOptions;
  private leading = false;
  private lastRenew = 0;
  private observed: { holder: string; renew: string; at: number } | undefined;

  constructor(client: KubeClient, opts: LeaderOptions) {
    this.c = client;
    this.o = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, ...opts };
  }

  get isLeader(): boolean {
    // Also false the moment the renew deadline passes, even before the loop notices.
    return this.leading && Date.now() - this.lastRenew < this.o.renewDeadlineMs;
  }

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let ok = false;
      try {
        ok = await this.tryAcquireOrRenew();
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message }, 'leader election: lease update failed');
      }
      const now = Date.now();
      if (ok) {
        this.lastRenew = now;
        if (!this.leading) {
          this.leading = true;
          this.o.log.info({ identity: this.o.identity }, 'became the leader');
          this.o.onStartedLeading();
        }
      } else if (this.leading && now - this.lastRenew >= this.o.renewDeadlineMs) {
        this.lose('could not renew the lease before the renew deadline');
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.o.retryPeriodMs);
        signal.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            resolve();
          },
          { once: true },
        );
      });
    }
  }

  private lose(why: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.o.log.warn({ why }, 'lost the leader lease; stopping at once');
    this.o.onStoppedLeading();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    const lease = await this.c.get<Lease>(R.lease, this.o.namespace, this.o.name);
    const durationSeconds = Math.ceil(this.o.leaseDurationMs / 1000);
    if (!lease) {
      try {
        await this.c.create<Lease>(R.lease, {
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
      this.observed = { holder, renew, at: now.getTime() };
    }
    const held = holder === this.o.identity;
    const expired = now.getTime() > this.observed.at + (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (!held && holder !== '' && !expired) {
      if (this.leading) this.lose(`the lease is held by ${holder}`);
      return false;
    }
    const next: Lease = {
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
      const lease = await this.c.get<Lease>(R.lease, this.o.namespace, this.o.name);
      if (lease?.spec?.holderIdentity !== this.o.identity) return;
      await this.c.replace(R.lease, { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } });
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'could not release the lease');
    }
  }
}

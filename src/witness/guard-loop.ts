// The primary's guard for one StandbySiteGuard: a thin I/O shell around the pure guard.ts. Every
// renewInterval it renews the witness's lease (within requestTimeout), and whenever something
// happens (a renewal, an answer to a failsafe ping, the term running out) it asks decide() whether
// the primary may serve, writes or lifts the self-fence, and writes the status if it changed.
//
// Durations are counted on the monotonic clock (Clock.now); wall time only goes into what people
// and a restarted guard read (status.lease.renewedAt, the ping's sentAt, fenced.since).
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { Logger } from 'pino';
import { sleep, type Clock } from '../k8s/clock.ts';
import type { GuardObject, GuardStatus } from '../api/guard.ts';
import { witnessTimingOf } from '../api/site-failover.ts';
import type { Workload } from '../site/workload.ts';
import { afterEvent, decide, initialGuard, type GuardDecision, type GuardEvent, type GuardState } from './guard.ts';
import { firstRecord, renewalOf } from './lease.ts';
import { ANNOTATION_FENCE_REASON, ANNOTATION_FENCED_AT, ANNOTATION_FENCED_BY, buildSelfFence, FENCE_KEEPER, selfFenceOwnedBy } from './self-fence.ts';
import { guardStatus, sameStatus } from './guard-status.ts';
import type { StoredRecord } from './store.ts';
import { selfFenceAfter, type WitnessTiming } from './timing.ts';

/** The lease on the witness (WitnessStore). */
export interface WitnessLease {
  read(signal?: AbortSignal): Promise<StoredRecord | undefined>;
  create(holder: string, epoch: number, wallMs: number, signal?: AbortSignal): Promise<StoredRecord | 'exists'>;
  write(expect: string, holder: string, epoch: number, wallMs: number, signal?: AbortSignal): Promise<StoredRecord | 'conflict' | 'gone'>;
}

/** A kubeconfig Secret that cannot be used: a person must fix it (the message names the field). */
export class WitnessConfigError extends Error {}

/** What the loop does to the world; the controller gives the API-backed ones, unit tests fakes. */
export interface GuardPorts {
  /** The witness's lease for the guard; throws WitnessConfigError when its Secret cannot be used. */
  witness(g: GuardObject): Promise<WitnessLease>;
  workload(g: GuardObject): Promise<Workload | undefined>;
  getFence(g: GuardObject): Promise<INetworkPolicy | undefined>;
  createFence(np: INetworkPolicy): Promise<void>;
  deleteFence(g: GuardObject): Promise<void>;
  writeStatus(g: GuardObject, status: GuardStatus): Promise<void>;
  event(g: GuardObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

export interface GuardLoopOptions {
  clock: Clock;
  ports: GuardPorts;
  log: Logger;
  /** The guard as the informer last saw it; undefined once deleted. */
  current: () => GuardObject | undefined;
  onRenewal?: (result: 'renewed' | 'created' | 'failed' | 'lost') => void;
  onFenced?: (fenced: boolean) => void;
}

class Timeout extends Error {}

export class GuardLoop {
  private readonly o: GuardLoopOptions;
  private state: GuardState | undefined;
  /** Failsafe pings this process sent: number → monotonic send time. */
  private readonly pings = new Map<number, number>();
  private ping: GuardStatus['ping'];
  private lease: GuardStatus['lease'];
  /** Wall ms of the last renewal's send (for status.lease.renewedAt), and when it was last written. */
  private renewedWall: number | undefined;
  private renewedAtWritten: number | undefined;
  private fenced: GuardStatus['fenced'];
  private configProblem: string | undefined;
  private written: GuardStatus | undefined;
  private wake: (() => void) | undefined;
  private lostReported = false;
  private dirty = false;
  private signal: AbortSignal | undefined;

  constructor(o: GuardLoopOptions) {
    this.o = o;
  }

  /** Something changed (the guard, e.g. an ack): evaluate now rather than at the next timer. */
  poke(): void {
    this.dirty = true;
    this.wake?.();
  }

  get guardState(): GuardState | undefined {
    return this.state;
  }

  async run(signal: AbortSignal): Promise<void> {
    const { clock } = this.o;
    this.signal = signal;
    let nextRenew = clock.now();
    // The renewal runs beside the decisions, so a request hanging for requestTimeout never holds
    // up the fence at the end of the term; its completion wakes the loop.
    let inflight: Promise<void> | undefined;
    let first = true;
    try {
      while (!signal.aborted) {
        this.dirty = false;
        const g = this.o.current();
        if (!g) return;
        const t = witnessTimingOf(g.spec.timing);
        if (!t) {
          // The CRD's schema and the standby's validation make this unreachable; never act on it.
          this.o.log.error({ guard: g.metadata.name }, 'spec.timing does not parse: not guarding');
          await this.nap(10_000, signal);
          continue;
        }
        this.start(g);
        if (!inflight && clock.now() >= nextRenew) {
          nextRenew = clock.now() + t.renewInterval;
          inflight = this.renew(g, t)
            .catch((err: unknown) => this.o.log.warn({ err, guard: g.metadata.name }, 'guard: renewal failed unexpectedly'))
            .finally(() => {
              inflight = undefined;
              this.poke();
            });
          // The first renewal (at most requestTimeout) comes before the first decision, so that a
          // guard (re)starting beside a healthy witness does not fence and lift at once.
          if (first) await inflight;
          first = false;
        }
        let d: GuardDecision | undefined;
        try {
          d = await this.evaluate(t);
        } catch (err) {
          this.o.log.warn({ err, guard: g.metadata.name }, 'guard: cannot fence or write status; retrying');
        }
        // +1: wake just after the term ends, not a rounding error before it.
        const until = d?.serve ? d.until + 1 : Infinity;
        const wake = Math.min(inflight ? Infinity : nextRenew, until, clock.now() + 60_000);
        await this.nap(Math.max(0, wake - clock.now()), signal);
      }
    } finally {
      await inflight;
    }
  }

  private async nap(ms: number, signal: AbortSignal): Promise<void> {
    if (this.dirty) return;
    const ac = new AbortController();
    const stop = () => ac.abort();
    signal.addEventListener('abort', stop, { once: true });
    this.wake = stop;
    await sleep(this.o.clock, ms, ac.signal);
    this.wake = undefined;
    signal.removeEventListener('abort', stop);
  }

  /** A (re)started guard: only the rest of the term of its own last renewal, from its status. */
  private start(g: GuardObject): void {
    if (this.state) return;
    const s = g.status;
    const own = s?.lease && s.lease.holder === g.spec.holder && s.lease.epoch === g.spec.epoch && s.lease.renewedAt;
    const since = own ? this.o.clock.wall() - Date.parse(own) : undefined;
    this.state = initialGuard(this.o.clock.now(), since !== undefined && Number.isFinite(since) ? since : undefined);
    this.ping = s?.ping;
    this.lease = s?.lease;
    this.fenced = s?.fenced;
    this.written = s;
    this.renewedAtWritten = own ? Date.parse(own) : undefined;
    this.lostReported = s?.conditions?.some((c) => c.type === 'LeaseHeld' && c.reason === 'Lost') ?? false;
  }

  private apply(e: GuardEvent): void {
    this.state = afterEvent(this.state!, e);
  }

  private async renew(g: GuardObject, t: WitnessTiming): Promise<void> {
    if (this.state!.lost) return;
    const sentAt = this.o.clock.now();
    const sentWall = this.o.clock.wall();
    let outcome: GuardEvent;
    const abort = new AbortController();
    try {
      outcome = await this.withTimeout(this.renewOnce(g, sentAt, sentWall, abort.signal), t.requestTimeout);
      this.configProblem = undefined;
    } catch (err) {
      abort.abort();
      if (err instanceof WitnessConfigError) this.configProblem = err.message;
      const why = err instanceof Timeout ? `no answer from the witness within requestTimeout (${t.requestTimeout / 1000}s)` : (err as Error).message;
      outcome = { type: 'renewFailed', error: why };
    }
    this.apply(outcome);
    this.o.onRenewal?.(outcome.type === 'renewed' ? (this.createdNow ? 'created' : 'renewed') : outcome.type === 'lost' ? 'lost' : 'failed');
    this.createdNow = false;
    if (outcome.type === 'renewed') this.renewedWall = sentWall;
    if (outcome.type === 'renewFailed') {
      this.o.log.info({ guard: g.metadata.name, error: outcome.error }, 'guard: renewal failed; asking the standby (failsafe)');
      const n = (this.ping?.number ?? 0) + 1;
      this.pings.set(n, this.o.clock.now());
      this.ping = { number: n, sentAt: new Date(this.o.clock.wall()).toISOString() };
    }
    if (outcome.type === 'lost' && !this.lostReported) {
      this.lostReported = true;
      this.o.log.warn({ guard: g.metadata.name, holder: outcome.holder, epoch: outcome.epoch }, 'guard: the lease was taken over');
      await this.o.ports.event(g, 'Warning', 'LeaseLost', `${outcome.message}: the primary stays fenced until re-protection`).catch(() => undefined);
    }
  }

  private createdNow = false;

  private async renewOnce(g: GuardObject, sentAt: number, sentWall: number, signal?: AbortSignal): Promise<GuardEvent> {
    const store = await this.o.ports.witness(g);
    const self = g.spec.holder;
    let rec = await store.read(signal);
    if (!rec) {
      // Only a guard that never saw a lease creates the first record: one that vanished after
      // this guard held it may have been taken over (and deleted) since: never recreated.
      if (this.lease) return { type: 'renewFailed', error: `the lease ${g.spec.witness.namespace}/${g.spec.witness.leaseName} is gone from the witness: not recreated` };
      const first = firstRecord(self);
      const made = await store.create(first.holder, first.epoch, sentWall, signal);
      if (made !== 'exists') {
        this.createdNow = true;
        this.lease = { holder: made.holder, epoch: made.epoch };
        return made.holder === self && made.epoch === g.spec.epoch
          ? { type: 'renewed', sentAt }
          : this.lostEvent(renewalOf(made, self, g.spec.epoch));
      }
      rec = await store.read(signal);
      if (!rec) return { type: 'renewFailed', error: 'the lease was created and deleted at once' };
    }
    for (let attempt = 0; ; attempt++) {
      this.lease = { holder: rec.holder, epoch: rec.epoch, ...(this.lease?.renewedAt ? { renewedAt: this.lease.renewedAt } : {}) };
      const r = renewalOf(rec, self, g.spec.epoch);
      if (r.action === 'lost') return this.lostEvent(r);
      const wrote = await store.write(r.expect, r.holder, r.epoch, sentWall, signal);
      if (wrote === 'gone') return { type: 'renewFailed', error: 'the lease was deleted from the witness' };
      if (wrote !== 'conflict') return { type: 'renewed', sentAt };
      // Someone wrote the record since it was read: read it again once (a takeover shows as lost).
      const again = attempt === 0 ? await store.read(signal) : undefined;
      if (!again) return { type: 'renewFailed', error: 'the lease changed while it was renewed' };
      rec = again;
    }
  }

  private lostEvent(r: ReturnType<typeof renewalOf>): GuardEvent {
    if (r.action !== 'lost') throw new Error('not lost');
    return { type: 'lost', holder: r.holder, epoch: r.epoch, message: r.message };
  }

  private withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
    // On a timeout the caller aborts the request (renew); a late answer is ignored anyway:
    // a renewal counts only if answered in time, which never moves a deadline later.
    p.catch(() => undefined);
    return new Promise<T>((resolve, reject) => {
      const signal = this.signal;
      let cancel: () => void = () => undefined;
      const settle = (fn: () => void) => {
        cancel();
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const onAbort = () => {
        settle(() => reject(new Timeout()));
      };
      cancel = this.o.clock.after(ms, onAbort);
      signal?.addEventListener('abort', onAbort, { once: true });
      p.then(
        (v) => {
          settle(() => resolve(v));
        },
        (e: unknown) => {
          settle(() => reject(e instanceof Error ? e : new Error(String(e))));
        },
      );
    });
  }

  /** Failsafe answers, the decision, the fence and the status: one pass. */
  private async evaluate(t: WitnessTiming): Promise<GuardDecision | undefined> {
    const g = this.o.current();
    if (!g || !this.state) return undefined;
    const ack = g.spec.ack?.ping;
    if (ack !== undefined) {
      // The latest ping this process sent that the answer covers; older ones are answered too.
      const answered = [...this.pings.keys()].filter((n) => n <= ack);
      if (answered.length) {
        const n = Math.max(...answered);
        this.apply({ type: 'confirmed', sentAt: this.pings.get(n)! });
        for (const k of answered) this.pings.delete(k);
      }
    }
    const now = this.o.clock.now();
    const d = decide(this.state, now, t);
    // renewedAt: the send time of the last renewal, on every renewal. The fence keeper
    // (keeper.ts) counts the guard's term from it while this process is down, so it must not lag
    // (one status write per renewInterval); a restarted guard reads it too.
    if (this.renewedWall !== undefined && this.renewedWall !== this.renewedAtWritten) this.renewedAtWritten = this.renewedWall;
    if (this.lease) {
      this.lease = { holder: this.lease.holder, epoch: this.lease.epoch, ...(this.renewedAtWritten !== undefined ? { renewedAt: new Date(this.renewedAtWritten).toISOString() } : {}) };
    }
    let fenceProblem: string | undefined;
    const live = await this.o.ports.getFence(g);
    const ours = live ? selfFenceOwnedBy(live, g) : false;
    if (live && !ours) {
      fenceProblem = `a NetworkPolicy ${live.metadata?.name} exists that this guard did not create: it is not adopted nor changed; delete or rename it so that the guard can fence the primary`;
      this.fenced = undefined;
    } else if (!d.serve) {
      if (!live) {
        const wl = await this.o.ports.workload(g);
        if (!wl) fenceProblem = `the primary workload ${g.spec.workload.kind} ${g.spec.workload.name} does not exist: nothing to fence`;
        else {
          await this.o.ports.createFence(buildSelfFence(g, wl));
          this.fenced = { since: new Date(this.o.clock.wall()).toISOString(), reason: d.reason };
          this.o.log.warn({ guard: g.metadata.name, reason: d.reason }, 'guard: primary fenced');
          await this.o.ports.event(g, 'Warning', 'SelfFenced', d.reason).catch(() => undefined);
        }
      } else {
        // A fence the keeper wrote while this process was down says so (keeper-loop.ts).
        const byKeeper = live.metadata?.annotations?.[ANNOTATION_FENCED_BY] === FENCE_KEEPER ? live.metadata.annotations[ANNOTATION_FENCE_REASON] : undefined;
        this.fenced ??= {
          since: live.metadata?.annotations?.[ANNOTATION_FENCED_AT] ?? (live.metadata?.creationTimestamp ? new Date(live.metadata.creationTimestamp).toISOString() : new Date(this.o.clock.wall()).toISOString()),
          reason: byKeeper ? `fenced by the fence keeper: ${byKeeper}` : d.reason,
        };
      }
    } else if (live) {
      // Lifted whenever decide() lets the primary serve, by its own lease's renewal or by the
      // standby's confirmation of a failsafe ping: a confirmed primary may serve whether or not it
      // was fenced meanwhile (the standby promised not to take over for the term either way), and
      // lifting only on a renewal would keep a healthy primary down for a whole witness outage
      // after a restart of this process. The status goes first, then the delete: the fence keeper,
      // which finds the fence gone, then reads a guard that shows why (the renewal, or the ping the
      // standby's spec.ack answers) and does not fence again on the old deadline.
      await this.writeIfChanged(g, t, d, now, fenceProblem);
      await this.o.ports.deleteFence(g);
      this.fenced = undefined;
      this.o.log.info({ guard: g.metadata.name, by: d.by }, `guard: fence lifted: ${d.reason}`);
      const why = d.by === 'lease' ? 'the lease on the witness is renewed again' : "the standby's site confirmed it is not taking over (the witness does not answer)";
      await this.o.ports.event(g, 'Normal', 'SelfFenceLifted', `${why}: the primary may serve`).catch(() => undefined);
    } else this.fenced = undefined;
    this.o.onFenced?.(this.fenced !== undefined);
    await this.writeIfChanged(g, t, d, now, fenceProblem);
    return d;
  }

  private async writeIfChanged(g: GuardObject, t: WitnessTiming, d: GuardDecision, now: number, fenceProblem: string | undefined): Promise<void> {
    const state = this.state!;
    const leaseFresh = !state.lost && state.renewedSentAt !== undefined && now < state.renewedSentAt + selfFenceAfter(t);
    const status = guardStatus(
      { ...g, status: this.written ?? g.status },
      { state, decision: d, leaseFresh, lease: this.lease, ping: this.ping, fenced: this.fenced, fenceProblem, configProblem: this.configProblem },
      new Date(this.o.clock.wall()).toISOString(),
    );
    if (!sameStatus(status, this.written)) {
      await this.o.ports.writeStatus(g, status);
      this.written = status;
    }
  }
}

// The fence keeper's shell: one timer per StandbySiteGuard at the deadline keeper.ts computes from
// what the guard recorded, re-armed on every change of the guard; when it fires, the fence is read,
// the guard is read again from the API server (a renewal recorded just now moves the deadline), and
// the guard's own fence NetworkPolicy is created if it is still due. A resync every `resyncMs`
// backs the timers up (a fence deleted by hand while the operator is down is written again).
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { Logger } from 'pino';
import type { GuardObject } from '../api/guard.ts';
import { selfFenceName } from '../api/guard.ts';
import type { Clock } from '../k8s/clock.ts';
import { isConflict } from '../k8s/client.ts';
import type { Workload } from '../site/workload.ts';
import { keeperAction, keeperPlan, notePing, type FenceState, type KeeperBasis } from './keeper.ts';
import { ANNOTATION_FENCE_REASON, ANNOTATION_FENCED_AT, ANNOTATION_FENCED_BY, buildSelfFence, FENCE_KEEPER, selfFenceOwnedBy } from './self-fence.ts';

export interface KeeperPorts {
  /** The guard as the API server has it now (not the cache), undefined when gone. */
  getGuard(g: GuardObject): Promise<GuardObject | undefined>;
  workload(g: GuardObject): Promise<Workload | undefined>;
  getFence(g: GuardObject): Promise<INetworkPolicy | undefined>;
  createFence(np: INetworkPolicy): Promise<void>;
  event(g: GuardObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

export interface KeeperOptions {
  clock: Clock;
  ports: KeeperPorts;
  log: Logger;
  resyncMs?: number;
  /** Each fence written (basis) and each conflict met, for the metrics. */
  onResult?: (result: KeeperBasis | 'conflict' | 'failed') => void;
}

interface Entry {
  guard: GuardObject;
  pings: Map<number, number>;
  cancel: (() => void) | undefined;
  running: Promise<void> | undefined;
  again: boolean;
  /** The conflict last reported (once per message, not per timer). */
  conflict: string | undefined;
}

const keyOf = (g: { metadata: { namespace: string; name: string } }) => `${g.metadata.namespace}/${g.metadata.name}`;

export class FenceKeeper {
  private readonly o: KeeperOptions;
  private readonly entries = new Map<string, Entry>();
  private stopResync: (() => void) | undefined;
  private stopped = false;

  constructor(o: KeeperOptions) {
    this.o = o;
    this.scheduleResync();
  }

  /** The guard was added or changed (the informer's view). */
  update(g: GuardObject): void {
    if (this.stopped) return;
    const k = keyOf(g);
    let e = this.entries.get(k);
    if (e && e.guard.metadata.uid !== g.metadata.uid) {
      this.remove(k);
      e = undefined;
    }
    if (!e) {
      e = { guard: g, pings: new Map(), cancel: undefined, running: undefined, again: false, conflict: undefined };
      this.entries.set(k, e);
    }
    e.guard = g;
    notePing(e.pings, g);
    this.evaluate(e);
  }

  remove(k: string): void {
    const e = this.entries.get(k);
    if (!e) return;
    e.cancel?.();
    this.entries.delete(k);
  }

  /** The deadline the keeper holds for a guard now (wall ms), for tests and people. */
  deadlineOf(k: string): number | undefined {
    const e = this.entries.get(k);
    if (!e) return undefined;
    const p = keeperPlan(e.guard, e.pings);
    return p.carry ? p.deadline : undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopResync?.();
    for (const e of this.entries.values()) e.cancel?.();
    await Promise.all([...this.entries.values()].map((e) => e.running).filter((p): p is Promise<void> => p !== undefined));
  }

  private scheduleResync(): void {
    this.stopResync = this.o.clock.after(this.o.resyncMs ?? 10_000, () => {
      if (this.stopped) return;
      for (const e of this.entries.values()) this.evaluate(e);
      this.scheduleResync();
    });
  }

  /** Decides without I/O while the deadline is ahead (arming the timer); acts once it has passed. */
  private evaluate(e: Entry): void {
    if (this.stopped) return;
    if (e.running) {
      e.again = true;
      return;
    }
    e.cancel?.();
    e.cancel = undefined;
    const now = this.o.clock.wall();
    const a = keeperAction(keeperPlan(e.guard, e.pings), now, undefined, selfFenceName(e.guard.metadata.name));
    if (a.do === 'nothing') return;
    if (a.do === 'wait') {
      // +1: just after the deadline, not a rounding error before it.
      e.cancel = this.o.clock.after(a.at - now + 1, () => this.evaluate(e));
      return;
    }
    e.running = this.act(e)
      .catch((err: unknown) => {
        this.o.onResult?.('failed');
        this.o.log.warn({ err, guard: keyOf(e.guard) }, 'fence keeper: cannot fence the primary; retrying');
        // Retried soon: the deadline has passed.
        e.cancel = this.o.clock.after(1_000, () => this.evaluate(e));
      })
      .finally(() => {
        e.running = undefined;
        if (e.again) {
          e.again = false;
          this.evaluate(e);
        }
      });
  }

  private async act(e: Entry): Promise<void> {
    const { ports, log } = this.o;
    const name = selfFenceName(e.guard.metadata.name);
    // The fence first, then the guard: the guard records why it may serve (a renewal, or a ping
    // the standby answered) before it lifts its fence (guard-loop.ts), so a fence found absent
    // comes with a guard that shows why.
    const live = await ports.getFence(e.guard);
    const fresh = await ports.getGuard(e.guard);
    if (!fresh || fresh.metadata.uid !== e.guard.metadata.uid) return;
    e.guard = fresh;
    notePing(e.pings, fresh);
    const state: FenceState = !live ? 'absent' : selfFenceOwnedBy(live, fresh) ? 'ours' : 'foreign';
    const plan = keeperPlan(fresh, e.pings);
    const now = this.o.clock.wall();
    const a = keeperAction(plan, now, state, name);
    const k = keyOf(fresh);
    switch (a.do) {
      case 'nothing':
        e.conflict = undefined;
        return;
      case 'wait':
        e.conflict = undefined;
        e.cancel = this.o.clock.after(a.at - now + 1, () => this.evaluate(e));
        return;
      case 'conflict':
        if (e.conflict !== a.message) {
          e.conflict = a.message;
          this.o.onResult?.('conflict');
          log.error({ guard: k, fence: name }, `fence keeper: ${a.message}`);
          await ports.event(fresh, 'Warning', 'FenceConflict', a.message).catch(() => undefined);
        }
        return;
      case 'fence': {
        e.conflict = undefined;
        const wl = await ports.workload(fresh);
        if (!wl) {
          log.warn({ guard: k }, `fence keeper: the primary workload ${fresh.spec.workload.kind} ${fresh.spec.workload.name} does not exist: nothing to fence`);
          return;
        }
        const np = buildSelfFence(fresh, wl);
        np.metadata!.annotations = {
          [ANNOTATION_FENCED_BY]: FENCE_KEEPER,
          [ANNOTATION_FENCE_REASON]: a.reason.slice(0, 4_000),
          [ANNOTATION_FENCED_AT]: new Date(now).toISOString(),
        };
        try {
          await ports.createFence(np);
        } catch (err) {
          // The guard (or another keeper) fenced in between: that is the same fence.
          if (isConflict(err)) return;
          throw err;
        }
        this.o.onResult?.(a.basis);
        log.warn({ guard: k, basis: a.basis, reason: a.reason }, 'fence keeper: primary fenced (the guard did not renew in time)');
        await ports.event(fresh, 'Warning', 'FencedByKeeper', a.reason).catch(() => undefined);
        return;
      }
    }
  }
}

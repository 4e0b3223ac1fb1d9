// The fence keeper: a second process in the primary's cluster that carries the guard's deadline
// while the operator cannot (crashed, restarting, between leaders) — Patroni's watchdog, in
// Kubernetes terms (docs/design/site-failover.md, "The fence keeper"). It never talks to the
// witness: it reads only what the guard recorded in the StandbySiteGuard and fences the primary
// (the guard's own NetworkPolicy) once the term the guard could have been promised has run out.
// It never lifts a fence: only the guard does, when its lease is renewed or the standby confirms it.
//
// Pure: the deadline from the guard object, and what to do at a moment. The shell (keeper-loop.ts)
// arms one timer per guard at the deadline and acts on the decision.
import type { GuardObject } from '../api/guard.ts';
import { witnessTimingOf } from '../api/site-failover.ts';
import { selfFenceAfter } from './timing.ts';

/** What the deadline is counted from (wall ms on the keeper's clock). */
export type KeeperBasis = 'renewal' | 'failsafe' | 'creation' | 'lost';

export type KeeperPlan =
  /** The keeper carries nothing for this guard (its timing does not parse: the guard does not guard it either). */
  | { carry: false; reason: string }
  | { carry: true; deadline: number; basis: KeeperBasis; reason: string };

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The latest moment (wall ms) at which the primary may still be serving by any promise the guard
 * can have been given, as far as the guard's object shows it:
 *
 * - `renewal`: status.lease.renewedAt + (leaseDuration − safetyMargin), while status.lease shows
 *   this side's holder and epoch. renewedAt is the send time of a renewal that succeeded, never
 *   later than the last one's, so this is never after the guard's own deadline (the guard counts
 *   from the last renewal sent).
 * - `failsafe`: the send time of the latest failsafe ping the standby's site answered
 *   (spec.ack.ping ≥ the ping's number) + the same term: the standby promised, from its read of
 *   the ping, not to take over for leaseDuration + acquireAfter. `pings` are the pings this
 *   keeper saw in status (number → sentAt, wall ms); one it never saw is not counted.
 * - `creation`: no renewal recorded at this epoch (status.lease absent, without renewedAt, or of
 *   an older epoch of this holder): metadata.creationTimestamp + term. A renewal can only be sent
 *   after the guard exists, so the guard's term cannot end later than that.
 * - `lost`: status.lease shows another holder or a newer epoch: the guard has seen its lease taken
 *   over and is fenced for good; the keeper holds the same line (deadline 0: at once).
 */
export function keeperPlan(g: GuardObject, pings: ReadonlyMap<number, number>): KeeperPlan {
  const t = witnessTimingOf(g.spec.timing);
  if (!t) return { carry: false, reason: 'spec.timing does not parse: the guard does not guard this primary either' };
  const term = selfFenceAfter(t);
  const lease = g.status?.lease;
  if (lease && (lease.holder !== g.spec.holder || lease.epoch > g.spec.epoch)) {
    return {
      carry: true,
      deadline: 0,
      basis: 'lost',
      reason: `the guard's status shows the witness's lease held by ${lease.holder} at epoch ${lease.epoch} (this site, ${g.spec.holder}, serves at epoch ${g.spec.epoch}): the lease was taken over`,
    };
  }
  const renewedAt = lease && lease.epoch === g.spec.epoch && lease.renewedAt ? Date.parse(lease.renewedAt) : undefined;
  let best: { deadline: number; basis: KeeperBasis; reason: string } | undefined;
  if (renewedAt !== undefined && Number.isFinite(renewedAt)) {
    best = { deadline: renewedAt + term, basis: 'renewal', reason: `the guard last recorded a renewal of the lease sent at ${iso(renewedAt)}` };
  } else {
    // A string in the API's JSON (typed Date as client-node types it): new Date takes both.
    const created = g.metadata.creationTimestamp ? new Date(g.metadata.creationTimestamp).getTime() : NaN;
    // No creation time (never so from an API server): nothing bounds the term, fence at once.
    const from = Number.isFinite(created) ? created : 0;
    best = { deadline: from + term, basis: 'creation', reason: `the guard recorded no renewal of the lease at epoch ${g.spec.epoch} since it was created at ${Number.isFinite(created) ? iso(created) : '?'}` };
  }
  const ack = g.spec.ack?.ping;
  if (ack !== undefined) {
    let sent: number | undefined;
    for (const [n, at] of pings) if (n <= ack && (sent === undefined || at > sent)) sent = at;
    if (sent !== undefined && sent + term > best.deadline) {
      best = { deadline: sent + term, basis: 'failsafe', reason: `the standby's site last answered a failsafe ping sent at ${iso(sent)}` };
    }
  }
  return {
    carry: true,
    ...best,
    reason: `${best.reason}; no renewal or confirmation recorded for ${+(term / 1000).toFixed(3)}s (leaseDuration − safetyMargin): fenced by the fence keeper so that the standby's site may take over safely`,
  };
}

/** The pings seen so far with the guard's current one added (status.ping: number and sentAt). */
export function notePing(pings: Map<number, number>, g: GuardObject): void {
  const p = g.status?.ping;
  if (!p) return;
  const at = Date.parse(p.sentAt);
  if (!Number.isFinite(at)) return;
  pings.set(p.number, at);
  // Pings the answer already covers, but the latest of them, are no longer needed.
  const ack = g.spec.ack?.ping;
  if (ack === undefined) return;
  const covered = [...pings.keys()].filter((n) => n <= ack);
  const keep = Math.max(...covered);
  for (const n of covered) if (n !== keep) pings.delete(n);
}

/** What the fence of the guard is now, as the shell read it from the API server. */
export type FenceState = 'absent' | 'ours' | 'foreign';

export type KeeperAction =
  | { do: 'nothing'; reason: string }
  /** Wake at `at` (wall ms) and decide again. */
  | { do: 'wait'; at: number; reason: string }
  | { do: 'fence'; reason: string; basis: KeeperBasis }
  /** The NetworkPolicy of the fence's name is not the guard's: never adopted nor changed. */
  | { do: 'conflict'; message: string };

/**
 * At `now` (wall ms on the keeper's clock): wait for the deadline, or fence. `fence` is read only
 * once the deadline has passed (undefined before: the keeper reads nothing it does not need).
 */
export function keeperAction(plan: KeeperPlan, now: number, fence: FenceState | undefined, policyName: string): KeeperAction {
  if (!plan.carry) return { do: 'nothing', reason: plan.reason };
  if (now < plan.deadline) return { do: 'wait', at: plan.deadline, reason: plan.reason };
  if (fence === 'ours') return { do: 'nothing', reason: 'the primary is fenced already (the guard\'s NetworkPolicy exists)' };
  if (fence === 'foreign') {
    return {
      do: 'conflict',
      message: `a NetworkPolicy ${policyName} exists that the guard did not create: the fence keeper does not adopt nor change it; delete or rename it so that the primary can be fenced`,
    };
  }
  return { do: 'fence', reason: plan.reason, basis: plan.basis };
}

// The standby's site: when it may take the witness's lease over and promote. Pure, over what its
// shell observed. It counts on its own monotonic clock from the moment it first saw the lease's
// current record (after the primary sent it), and it keeps the promises it gave the primary's
// site (failsafe confirmations): while one is outstanding, nothing is taken over.
import type { LeaseRecord } from './lease.ts';
import { takeoverOf } from './lease.ts';
import { acquireAfterObserved, type WitnessTiming } from './timing.ts';

export interface Watcher {
  /** The record last read from the witness, and when (monotonic ms) its version was first seen. */
  record: LeaseRecord | undefined;
  observedAt: number;
  /** No takeover before this (monotonic ms): the latest promise to the primary's site, or the watcher's start. */
  promisedUntil: number;
}

/**
 * A watcher that has just started (or restarted): it has seen no record yet, and it may have
 * confirmed the primary before its restart without remembering it, so it acts as if it had
 * confirmed it just now.
 */
export function startWatcher(now: number, t: WitnessTiming): Watcher {
  return { record: undefined, observedAt: now, promisedUntil: now + acquireAfterObserved(t) };
}

/** After a read of the witness: a new version restarts the count, the same one keeps it. */
export function observe(w: Watcher, record: LeaseRecord, now: number): Watcher {
  if (w.record && w.record.resourceVersion === record.resourceVersion) return w;
  return { ...w, record, observedAt: now };
}

/**
 * The standby's site confirms to the primary's that it is not taking over (failsafe): it may do
 * so only while it would not take over anyway, and then keeps its word for
 * leaseDuration + acquireAfter from now.
 */
export function confirm(w: Watcher, now: number, t: WitnessTiming, promoting: boolean): { ok: true; watcher: Watcher } | { ok: false; reason: string } {
  if (promoting) return { ok: false, reason: 'the standby site is promoting: it confirms nothing' };
  return { ok: true, watcher: { ...w, promisedUntil: Math.max(w.promisedUntil, now + acquireAfterObserved(t)) } };
}

export interface AcquireInput {
  watcher: Watcher;
  now: number;
  timing: WitnessTiming;
  /** This site's identity on the lease. */
  self: string;
  /**
   * Since when (monotonic ms) this site has not seen the primary serve (its cluster unreachable,
   * or its pods not Ready), continuously; undefined: it sees it serve.
   */
  primaryGoneSince: number | undefined;
  /** How long that must last (promotion.failureThreshold). */
  failureThreshold: number;
  /**
   * This site's own fence is confirmed in place in the primary's cluster (it answers: the
   * existing remote promotion fenced it first). The primary cannot serve then, so the lease's
   * term and the promises are not waited out; the record is still taken over, so that the
   * primary's guard learns it lost.
   */
  primaryFenced: boolean;
  /**
   * The lease's holder has renewed it since it acquired it (renewTime after acquireTime): its guard
   * runs, so it promised to fence itself. A record nobody renewed (the first one this side created
   * before any guard ran in the primary's cluster, or one whose guard never started) carries no such
   * promise: taking it over could leave the old primary serving unfenced. The caller also asks
   * that the site carry its guard finalizer (a guard was created in this automatic period and not
   * released since): renewals by a guard deleted on a switch to manual prove nothing about now.
   */
  holderRenewed: boolean;
  /**
   * promotion.maxPromotions, as the ordinary automatic promotion counts it (promotion/decide.ts):
   * promotions started in the window, and when the oldest leaves it. A takeover is a promotion, so
   * it is refused once the budget is used, before the lease is touched (a lease taken over and then
   * not promoted would fence the primary and leave no site serving).
   */
  budget?: { count: number; windowMs: number; used: number; freesInMs: number } | undefined;
}

export type AcquireDecision =
  | { action: 'none'; reason: string }
  | { action: 'wait'; until: number; reason: string }
  /** Everything else says take over, but the promotion budget is used: nothing is written. */
  | { action: 'refuse'; reason: 'BudgetExhausted'; message: string; retryAfterMs: number }
  /** Update the record to this, only if it is still at `expect`; promote once that succeeds. */
  | { action: 'takeOver'; expect: string; holder: string; epoch: number; reason: string };

const sec = (ms: number): string => `${Math.ceil(ms / 1000)}s`;

export function decideAcquire(i: AcquireInput): AcquireDecision {
  const { watcher: w, now, timing: t } = i;
  if (i.primaryGoneSince === undefined) return { action: 'none', reason: 'the primary serves' };
  if (!w.record) return { action: 'none', reason: 'the witness has not been read: without it nothing is taken over' };
  if (w.record.holder === i.self) return { action: 'none', reason: `this site holds the lease (epoch ${w.record.epoch})` };
  const conditions: [number, string][] = [
    [i.primaryGoneSince + i.failureThreshold, `the primary has not served for ${sec(now - i.primaryGoneSince)} of promotion.failureThreshold ${sec(i.failureThreshold)}`],
    [w.observedAt + acquireAfterObserved(t), `the lease of ${w.record.holder} was last renewed ${sec(now - w.observedAt)} ago, of leaseDuration + acquireAfter ${sec(acquireAfterObserved(t))}`],
    [w.promisedUntil, `this site confirmed to the primary's site that it would not take over, for another ${sec(w.promisedUntil - now)}`],
  ];
  const pending = conditions.filter(([at], k) => now < at && (k === 0 || !i.primaryFenced));
  if (!i.holderRenewed && !i.primaryFenced) {
    // Not a wait for a moment: only a renewal (the guard runs) or the confirmed fence changes it.
    return {
      action: 'wait',
      until: Math.max(now + t.renewInterval, ...pending.map(([at]) => at)),
      reason: `${w.record.holder} has never renewed the witness's lease since it acquired it, or no guard of this site is in place in the primary's cluster (no standby.dev/site-guard finalizer): nothing there promised to fence that primary, so the lease is not taken over (once sure the primary's site is down, annotate standby.dev/promote=site-lost-<token>)`,
    };
  }
  if (pending.length) {
    const until = Math.max(...pending.map(([at]) => at));
    return { action: 'wait', until, reason: pending.map(([, why]) => why).join('; ') };
  }
  const b = i.budget;
  if (b && b.used >= b.count) {
    return {
      action: 'refuse',
      reason: 'BudgetExhausted',
      message: `the lease is not taken over: ${b.used} promotion(s) in the last ${sec(b.windowMs)} used the budget of ${b.count} (promotion.maxPromotions); the next is allowed in ${sec(b.freesInMs)}, or, once sure the primary's site is down, annotate standby.dev/promote=site-lost-<token>`,
      retryAfterMs: b.freesInMs,
    };
  }
  const next = takeoverOf(w.record, i.self);
  return {
    action: 'takeOver',
    ...next,
    reason: `the primary has not served for ${sec(now - i.primaryGoneSince)} and its site has not renewed the witness's lease for ${sec(now - w.observedAt)} (leaseDuration + acquireAfter ${sec(acquireAfterObserved(t))})`,
  };
}

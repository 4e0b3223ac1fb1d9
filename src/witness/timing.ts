// The timing rule of automatic site failover (docs/design/site-failover.md): the numbers a user
// sets for the witness lease, and the inequalities that make "the old primary has fenced itself
// before the standby's site may take the lease" hold whatever the network does. Pure.
//
// Each side measures only durations on its own monotonic clock, never the other's wall time, so
// what the rule must absorb is the rate at which two clocks drift apart (maxClockDrift), not their
// offset. The inequalities are of the same kind as Patroni's `loop_wait + 2*retry_timeout <= ttl`
// and CloudNativePG's lease > renew deadline > 1.2 × retry period.

/** The durations in milliseconds, as the spec's Go durations parse (api/duration.ts). */
export interface WitnessTiming {
  /** How long a renewal of the lease is good for, counted by the side that renewed it. */
  leaseDuration: number;
  /** How often the primary's site renews. */
  renewInterval: number;
  /** After the lease's term, how long the standby's site still waits: time for the losing side to stop (booth's acquire-after). */
  acquireAfter: number;
  /** How much earlier than the lease's term the primary fences itself. */
  safetyMargin: number;
  /** How long one request to the witness may take before it counts as failed. */
  requestTimeout: number;
  /** How long the primary's own fence takes to hold once the primary decides to fence itself (written locally, enforced, sessions ended). */
  fenceWithin: number;
  /** Relative rate at which two sites' monotonic clocks may drift apart (1e-3 = 1 ms per second). */
  maxClockDrift: number;
}

/** The defaults of promotion.siteFailover (the numbers; the margins ours). */
export const DEFAULT_TIMING: WitnessTiming = {
  leaseDuration: 30_000,
  renewInterval: 10_000,
  acquireAfter: 30_000,
  safetyMargin: 5_000,
  requestTimeout: 5_000,
  fenceWithin: 10_000,
  maxClockDrift: 1e-3,
};

/** One inequality that does not hold, with the fields it reads and the numbers. */
export interface TimingProblem {
  /** The spec fields involved, e.g. ['renewInterval', 'leaseDuration']. */
  fields: (keyof WitnessTiming)[];
  /** The rule as written for people, with the values filled in. */
  message: string;
}

const s = (ms: number): string => `${+(ms / 1000).toFixed(3)}s`;

/**
 * When the primary fences itself, counted from the moment it sent the last renewal that
 * succeeded (not when the answer came: the witness may have written it any time in between).
 */
export function selfFenceAfter(t: WitnessTiming): number {
  return t.leaseDuration - t.safetyMargin;
}

/**
 * When the standby's site may take the lease, counted from the moment it first saw the lease's
 * current record (which is after the primary sent it).
 */
export function acquireAfterObserved(t: WitnessTiming): number {
  return t.leaseDuration + t.acquireAfter;
}

/**
 * Every inequality of the rule that does not hold; empty when the timing is safe.
 *
 * 1. Liveness: a renewal that times out is retried once and both fit before the primary fences
 *    itself: renewInterval + 2 × requestTimeout ≤ leaseDuration − safetyMargin. Otherwise one
 *    slow request to the witness fences a healthy primary.
 * 2. Safety: the primary's fence holds before the standby's site may act, with the two clocks
 *    drifting apart at the worst rate: (leaseDuration − safetyMargin) × (1 + drift) + fenceWithin
 *    < (leaseDuration + acquireAfter) × (1 − drift). This is the inequality that keeps two
 *    writers apart; it does not depend on the network.
 * 3. The numbers themselves: all positive, safetyMargin below leaseDuration, drift below 1 %.
 */
export function timingProblems(t: WitnessTiming): TimingProblem[] {
  const out: TimingProblem[] = [];
  for (const f of ['leaseDuration', 'renewInterval', 'acquireAfter', 'safetyMargin', 'requestTimeout', 'fenceWithin'] as const) {
    if (!(t[f] > 0)) out.push({ fields: [f], message: `${f} must be more than 0 (it is ${s(t[f])})` });
  }
  if (!(t.maxClockDrift >= 0 && t.maxClockDrift < 0.01)) {
    out.push({ fields: ['maxClockDrift'], message: `maxClockDrift must be at least 0 and below 0.01 (it is ${t.maxClockDrift})` });
  }
  if (out.length) return out;
  if (t.safetyMargin >= t.leaseDuration) {
    out.push({ fields: ['safetyMargin', 'leaseDuration'], message: `safetyMargin (${s(t.safetyMargin)}) must be less than leaseDuration (${s(t.leaseDuration)})` });
    return out;
  }
  const renewBudget = t.renewInterval + 2 * t.requestTimeout;
  if (renewBudget > selfFenceAfter(t)) {
    out.push({
      fields: ['renewInterval', 'requestTimeout', 'leaseDuration', 'safetyMargin'],
      message: `renewInterval + 2 × requestTimeout (${s(renewBudget)}) must be at most leaseDuration − safetyMargin (${s(selfFenceAfter(t))}): otherwise one slow request to the witness fences a healthy primary`,
    });
  }
  const fencedBy = selfFenceAfter(t) * (1 + t.maxClockDrift) + t.fenceWithin;
  const earliestTakeover = acquireAfterObserved(t) * (1 - t.maxClockDrift);
  if (!(fencedBy < earliestTakeover)) {
    out.push({
      fields: ['leaseDuration', 'safetyMargin', 'fenceWithin', 'acquireAfter', 'maxClockDrift'],
      message: `(leaseDuration − safetyMargin) × (1 + maxClockDrift) + fenceWithin (${s(fencedBy)}) must be less than (leaseDuration + acquireAfter) × (1 − maxClockDrift) (${s(earliestTakeover)}): otherwise the standby's site may take over before the old primary's fence holds — raise acquireAfter or safetyMargin`,
    });
  }
  return out;
}

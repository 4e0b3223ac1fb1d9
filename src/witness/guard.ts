// The primary's site: the guard that lets its primary accept writes only while it can prove the
// standby's site will not take over. Pure state machine over the outcomes of its requests; the
// shell renews the lease every renewInterval, asks the standby's site for a confirmation when the
// witness does not answer (failsafe), and writes or removes the local fence as decide() says.
//
// Every deadline is counted from when a request that later succeeded was *sent*: the witness (or
// the standby's site) acted on it at some moment after that, so counting from the send is never
// later than the other side's own count (docs/design/site-failover.md, "Why the send time").
import { selfFenceAfter, type WitnessTiming } from './timing.ts';

export interface GuardState {
  /** Monotonic ms at which the last renewal that succeeded was sent. */
  renewedSentAt: number | undefined;
  /**
   * Monotonic ms at which the last failsafe request that the standby's site confirmed was sent:
   * it promised, when it read the request, not to take the lease for leaseDuration + acquireAfter.
   */
  confirmedSentAt: number | undefined;
  /** The lease is another site's (or of a newer epoch): fenced for good, until re-protection makes this side a standby. */
  lost: { holder: string; epoch: number; message: string } | undefined;
  /** Why the last renewal failed, while it fails. */
  witnessError: string | undefined;
}

/**
 * A guard that has just started (or restarted): it has no renewal of its own, so it may serve
 * only for what is left of the term of its last renewal before the restart, which the caller
 * reads from the lease's renewTime as this site wrote it (its own wall clock: a restart loses the
 * monotonic one). `sinceRenewal` undefined (unknown): nothing is left, it fences until it renews.
 */
export function initialGuard(now: number, sinceRenewal: number | undefined): GuardState {
  const renewedSentAt = sinceRenewal === undefined || sinceRenewal < 0 ? undefined : now - sinceRenewal;
  return { renewedSentAt, confirmedSentAt: undefined, lost: undefined, witnessError: undefined };
}

export type GuardEvent =
  | { type: 'renewed'; sentAt: number }
  | { type: 'renewFailed'; error: string }
  | { type: 'lost'; holder: string; epoch: number; message: string }
  | { type: 'confirmed'; sentAt: number };

export function afterEvent(g: GuardState, e: GuardEvent): GuardState {
  switch (e.type) {
    case 'renewed':
      // A late answer to an older request never moves the deadline back.
      return g.lost ? g : { ...g, renewedSentAt: Math.max(g.renewedSentAt ?? -Infinity, e.sentAt), witnessError: undefined };
    case 'renewFailed':
      return { ...g, witnessError: e.error };
    case 'lost':
      return { ...g, lost: { holder: e.holder, epoch: e.epoch, message: e.message } };
    case 'confirmed':
      return g.lost ? g : { ...g, confirmedSentAt: Math.max(g.confirmedSentAt ?? -Infinity, e.sentAt) };
  }
}

export type GuardDecision =
  | { serve: true; until: number; by: 'lease' | 'failsafe'; reason: string }
  | { serve: false; reason: string; since: number | undefined };

/**
 * Whether the primary may accept writes at `now`: while the later of its last renewal and its
 * last failsafe confirmation is younger than leaseDuration − safetyMargin. Otherwise the shell
 * fences it locally (and keeps the fence until decide() says serve again).
 */
export function decide(g: GuardState, now: number, t: WitnessTiming): GuardDecision {
  if (g.lost) return { serve: false, reason: g.lost.message, since: undefined };
  const term = selfFenceAfter(t);
  const byLease = g.renewedSentAt === undefined ? -Infinity : g.renewedSentAt + term;
  const byFailsafe = g.confirmedSentAt === undefined ? -Infinity : g.confirmedSentAt + term;
  const until = Math.max(byLease, byFailsafe);
  if (now < until) {
    if (byLease >= byFailsafe) return { serve: true, until, by: 'lease', reason: 'the lease on the witness is renewed' };
    return {
      serve: true,
      until,
      by: 'failsafe',
      reason: `the witness does not answer (${g.witnessError ?? 'no renewal yet'}), but the standby's site confirmed it is not taking over`,
    };
  }
  if (until === -Infinity) return { serve: false, reason: 'the lease has not been renewed since the guard started', since: undefined };
  return {
    serve: false,
    since: until,
    reason: `neither the witness nor the standby's site confirmed this primary for ${Math.round(term / 1000)}s (${g.witnessError ?? 'no answer'}): fenced so that the standby's site may take over safely`,
  };
}

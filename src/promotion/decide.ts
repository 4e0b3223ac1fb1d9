// The promotion decision: a pure function of what was observed, the clock and
// the policy. It says what to do next (nothing, wait, refuse, start, go on)
// and always why, so that every refusal can be shown to a person.
import type { PromotionRecord, PromotionStatus, Side } from '../api/status.ts';
import { formatDuration } from '../api/duration.ts';

export type Trigger = 'automatic' | 'manual' | 'forced' | 'siteLost' | 'siteFailover';

export interface PromoteRequest {
  /** The standby.dev/promote annotation value. */
  token: string;
  /** A token starting with "force" skips the data-age check (not the others). */
  force: boolean;
}

export interface DecisionInput {
  now: Date;
  mode: 'automatic' | 'manual' | 'disabled';
  failureThresholdMs: number;
  budget: { count: number; windowMs: number };
  primary: {
    ready: boolean;
    /** When the primary was first seen not Ready (continuously since). */
    notReadySince: Date | undefined;
    /** The primary's owner scaled it to zero: a deliberate stop, not a failure. */
    scaledToZero: boolean;
    /** Seen Ready since the site was created; a primary that never came up is not failed over automatically. */
    everReady: boolean;
    /** The workload was deleted (or never made): its owner's act, not a failure. */
    missing?: boolean;
    /** The primary Service selects no pod: a selector to fix, not a failure. */
    serviceSelectsNothing?: boolean;
  };
  standby: StandbyUsability;
  history: readonly PromotionRecord[];
  isLeader: boolean;
  /** A promote annotation not yet acted on. */
  request: PromoteRequest | undefined;
  current: PromotionStatus | undefined;
  active: Side;
  /** The site is not protected right now (failing back): no automatic promotion, and why. */
  unprotected?: string | undefined;
}

export interface StandbyUsability {
  usable: boolean;
  /** Usable if the data-age check is waived (a forced promotion). */
  usableIfForced: boolean;
  /** Why not, in a sentence, with what to do. */
  reason: string;
}

export type Decision =
  | { action: 'none'; reason: string }
  | { action: 'wait'; afterMs: number; reason: string }
  | { action: 'refuse'; reason: RefusalReason; message: string; retryAfterMs?: number }
  /** `epoch`: the epoch the promotion serves at, when something else set it (the witness's lease); else the next one. */
  | { action: 'start'; trigger: Trigger; token: string | undefined; reason: string; epoch?: number }
  | { action: 'continue'; reason: string };

export type RefusalReason =
  | 'NotLeader'
  | 'StandbyNotUsable'
  | 'BudgetExhausted'
  | 'ManualMode'
  | 'PromotionDisabled'
  | 'PrimaryScaledToZero'
  | 'PrimaryNotFound'
  | 'ServiceSelectsNothing'
  | 'PrimaryNeverReady'
  | 'AlreadyPromoted'
  | 'NotProtected'
  | 'PromotionFailed'
  | 'NameConflict'
  | 'WorkloadProtected'
  // A primary in another cluster (promotion/site-lost.ts).
  | 'PrimaryUnreachable'
  | 'SiteNotLost';

/** Promotions and failbacks counted against the budget: those started within the window (re-protections are not switchovers). */
export function promotionsInWindow(history: readonly PromotionRecord[], now: Date, windowMs: number): PromotionRecord[] {
  return history.filter((h) => h.kind !== 'reprotect' && now.getTime() - new Date(h.startedAt).getTime() < windowMs);
}

/** When the oldest promotion in the window leaves it, freeing budget. */
export function budgetFreesInMs(history: readonly PromotionRecord[], now: Date, windowMs: number): number {
  const times = promotionsInWindow(history, now, windowMs).map((h) => new Date(h.startedAt).getTime());
  return times.length ? Math.max(0, Math.min(...times) + windowMs - now.getTime()) : 0;
}

export function decide(input: DecisionInput): Decision {
  const { now, primary, standby } = input;
  const cur = input.current?.state;
  if (cur === 'Fencing' || cur === 'Promoting' || cur === 'Switching' || cur === 'Growing') {
    if (!input.isLeader) return { action: 'refuse', reason: 'NotLeader', message: 'another operator replica holds the leader lease' };
    return { action: 'continue', reason: `promotion in progress (${cur})` };
  }

  const request = input.request;
  if (input.active === 'standby' || cur === 'Promoted') {
    return request
      ? { action: 'refuse', reason: 'AlreadyPromoted', message: 'the standby is already active; there is nothing to promote (annotate standby.dev/failback=<token> to fail back to the primary)' }
      : { action: 'none', reason: 'the standby is active' };
  }
  if (cur === 'Failed' && !request) {
    return {
      action: 'refuse',
      reason: 'PromotionFailed',
      message: `the last promotion failed (${input.current?.message ?? 'see events'}); fix the cause and annotate standby.dev/promote=<new token> to retry, or standby.dev/abandon=<token> to end it (the fence is lifted, clients stay on the primary)`,
    };
  }

  // A person asked: a planned switchover (also for a healthy primary) or a retry.
  if (request) {
    if (input.mode === 'disabled') {
      return { action: 'refuse', reason: 'PromotionDisabled', message: 'promotion.mode is disabled; set it to manual or automatic to allow promotions' };
    }
    if (!input.isLeader) return { action: 'refuse', reason: 'NotLeader', message: 'another operator replica holds the leader lease' };
    const usable = request.force ? standby.usableIfForced : standby.usable;
    if (!usable) return { action: 'refuse', reason: 'StandbyNotUsable', message: standby.reason };
    return {
      action: 'start',
      trigger: request.force ? 'forced' : 'manual',
      token: request.token,
      reason: primary.ready ? 'planned switchover requested by annotation' : 'promotion requested by annotation',
    };
  }

  // Deleting the workload, like scaling it to 0, is its owner's act: reported, never promoted
  // away from automatically (even while its pods serve: orphaned by --cascade=orphan, or a name
  // in the site that does not exist yet).
  if (primary.missing && input.mode !== 'disabled') {
    return {
      action: 'refuse',
      reason: 'PrimaryNotFound',
      message: 'the primary workload does not exist; deleting it is not a failure, so nothing is promoted automatically; annotate standby.dev/promote=<token> to promote',
    };
  }
  if (primary.ready) return { action: 'none', reason: 'the primary is Ready' };
  if (input.mode === 'disabled') return { action: 'none', reason: 'the primary is not Ready; promotion is disabled' };
  if (primary.scaledToZero) {
    return {
      action: 'refuse',
      reason: 'PrimaryScaledToZero',
      message: 'the primary workload is scaled to 0 by its owner, which is not a failure; annotate standby.dev/promote=<token> to switch over',
    };
  }
  if (primary.serviceSelectsNothing) {
    return {
      action: 'refuse',
      reason: 'ServiceSelectsNothing',
      message: "the primary Service selects no pod, so the primary's health cannot be seen (a selector to fix, not a failure); annotate standby.dev/promote=<token> to promote",
    };
  }

  const since = primary.notReadySince ?? now;
  const elapsed = now.getTime() - since.getTime();
  if (elapsed < input.failureThresholdMs) {
    return {
      action: 'wait',
      afterMs: input.failureThresholdMs - elapsed,
      reason: `the primary has been not Ready for ${formatDuration(elapsed)}; failureThreshold is ${formatDuration(input.failureThresholdMs)}`,
    };
  }
  // A primary still starting up is simply waited for; one that never came up is not promoted away from.
  if (!primary.everReady) {
    return {
      action: 'refuse',
      reason: 'PrimaryNeverReady',
      message:
        'the primary has not been Ready since this StandbySite was created, so its state is unknown rather than failed; annotate standby.dev/promote=<token> if it is really lost',
    };
  }
  if (input.mode === 'manual') {
    return {
      action: 'refuse',
      reason: 'ManualMode',
      message: `the primary has been not Ready for ${formatDuration(elapsed)}; promotion.mode is manual: annotate standby.dev/promote=<token> to promote`,
    };
  }
  if (input.unprotected) return { action: 'refuse', reason: 'NotProtected', message: `${input.unprotected}; no automatic promotion until it is: annotate standby.dev/promote=<token> to promote anyway` };
  // No retry timer: a standby becomes usable through changes the watches see (a sync, a Ready pod).
  if (!standby.usable) return { action: 'refuse', reason: 'StandbyNotUsable', message: standby.reason };
  const used = promotionsInWindow(input.history, now, input.budget.windowMs).length;
  if (used >= input.budget.count) {
    const frees = budgetFreesInMs(input.history, now, input.budget.windowMs);
    return {
      action: 'refuse',
      reason: 'BudgetExhausted',
      message: `${used} promotion(s) in the last ${formatDuration(input.budget.windowMs)} used the budget of ${input.budget.count} (maxPromotions); the next is allowed in ${formatDuration(frees)}, or annotate standby.dev/promote=<token> to promote now`,
      retryAfterMs: frees,
    };
  }
  if (!input.isLeader) return { action: 'refuse', reason: 'NotLeader', message: 'another operator replica holds the leader lease' };
  return {
    action: 'start',
    trigger: 'automatic',
    token: undefined,
    reason: `the primary has been not Ready for ${formatDuration(elapsed)} (failureThreshold ${formatDuration(input.failureThresholdMs)})`,
  };
}

/** Reads the promote annotation: a new token (not yet handled) asks for a promotion. */
export function promoteRequest(annotation: string | undefined, handled: string | undefined): PromoteRequest | undefined {
  const token = annotation?.trim();
  if (!token || token === handled) return undefined;
  return { token, force: token.startsWith('force') };
}

// Whether to fail back to the declared primary now: a pure function of the lifecycle, the
// policy, the clock and what the serving standby is doing. A failback is a planned switchover
// back (it loses nothing: the primary must be proven to hold everything the standby committed),
// asked for with standby.dev/failback=<token>, or automatic once the site has been re-protected
// and stable for promotion.failback.after; and when the standby that serves fails while the
// primary follows it, it fails over back (as a failover: nothing to prove, it cannot answer).
import { formatDuration } from '../api/duration.ts';
import type { PromotionRecord, Trigger } from '../api/status.ts';
import { promotionsInWindow } from '../promotion/decide.ts';
import type { Lifecycle } from '../promotion/lifecycle.ts';
import { inProgress } from '../promotion/machine.ts';

export interface FailbackRequest {
  token: string;
  /** A token starting with "force" waives the proof that the primary caught up. */
  force: boolean;
}

export interface FailbackInput {
  now: Date;
  lifecycle: Lifecycle;
  mode: 'manual' | 'automatic';
  afterMs: number;
  promotionMode: 'automatic' | 'manual' | 'disabled';
  failureThresholdMs: number;
  budget: { count: number; windowMs: number };
  history: readonly PromotionRecord[];
  isLeader: boolean;
  request: FailbackRequest | undefined;
  /** The standby that serves: Ready, or not Ready since when. */
  serving: { ready: boolean; notReadySince: Date | undefined };
}

export type FailbackDecision =
  | { action: 'none'; reason: string }
  | { action: 'wait'; afterMs: number; reason: string }
  | { action: 'refuse'; reason: FailbackRefusal; message: string; retryAfterMs?: number }
  | { action: 'start'; trigger: Trigger; token: string | undefined; force: boolean; reason: string }
  | { action: 'continue'; reason: string };

export type FailbackRefusal = 'NotLeader' | 'NothingToFailBack' | 'NotReprotected' | 'BudgetExhausted' | 'PromotionDisabled';

export function failbackRequest(annotation: string | undefined, handled: string | undefined): FailbackRequest | undefined {
  const token = annotation?.trim();
  if (!token || token === handled) return undefined;
  return { token, force: token.startsWith('force') };
}

export function decideFailback(i: FailbackInput): FailbackDecision {
  const l = i.lifecycle;
  const notLeader = { action: 'refuse', reason: 'NotLeader', message: 'another operator replica holds the leader lease' } as const;
  if (inProgress(l.failback) && l.mode === 'failback') {
    return i.isLeader ? { action: 'continue', reason: `failback in progress (${l.failback.state})` } : notLeader;
  }
  const serving = l.mode === 'failover' && l.promotion?.state === 'Promoted';
  const request = i.request;
  if (!serving) {
    return request
      ? { action: 'refuse', reason: 'NothingToFailBack', message: 'the primary serves (or a promotion is still under way): there is nothing to fail back' }
      : { action: 'none', reason: 'the standby does not serve' };
  }
  const reprotected = l.reprotection?.state === 'Protected';
  if (request) {
    if (i.promotionMode === 'disabled') {
      return { action: 'refuse', reason: 'PromotionDisabled', message: 'promotion.mode is disabled; set it to manual or automatic to allow a failback' };
    }
    if (!reprotected && !request.force) {
      return {
        action: 'refuse',
        reason: 'NotReprotected',
        message: `the primary does not follow the standby yet (${l.reprotection ? `re-protection: ${l.reprotection.state ?? '?'}` : 'no re-protection yet'}), so it cannot be proven to hold what the standby committed; wait for re-protection, or annotate standby.dev/failback=force-<token> to fail back anyway, keeping aside what the standby holds`,
      };
    }
    if (!i.isLeader) return notLeader;
    return { action: 'start', trigger: request.force ? 'forced' : 'manual', token: request.token, force: request.force, reason: 'failback requested by annotation' };
  }
  if (!reprotected) return { action: 'none', reason: 'the site is not re-protected: no automatic failback' };
  const budget = (): FailbackDecision | undefined => {
    const used = promotionsInWindow(i.history, i.now, i.budget.windowMs).length;
    if (used < i.budget.count) return undefined;
    return {
      action: 'refuse',
      reason: 'BudgetExhausted',
      message: `${used} promotion(s) and failback(s) in the last ${formatDuration(i.budget.windowMs)} used the budget of ${i.budget.count} (maxPromotions); annotate standby.dev/failback=<token> to fail back now`,
    };
  };
  // The standby that serves failed while the primary follows it: fail over back.
  if (!i.serving.ready && i.promotionMode === 'automatic') {
    const since = i.serving.notReadySince ?? i.now;
    const elapsed = i.now.getTime() - since.getTime();
    if (elapsed < i.failureThresholdMs) {
      return { action: 'wait', afterMs: i.failureThresholdMs - elapsed, reason: `the serving standby has been not Ready for ${formatDuration(elapsed)}` };
    }
    const refused = budget();
    if (refused) return refused;
    if (!i.isLeader) return notLeader;
    return {
      action: 'start',
      trigger: 'automatic',
      token: undefined,
      force: true,
      reason: `the serving standby has been not Ready for ${formatDuration(elapsed)} (failureThreshold ${formatDuration(i.failureThresholdMs)}); the primary follows it`,
    };
  }
  if (i.mode !== 'automatic') return { action: 'none', reason: 'failback is manual: annotate standby.dev/failback=<token>' };
  const since = l.reprotection?.completedAt ? new Date(l.reprotection.completedAt) : i.now;
  const stable = i.now.getTime() - since.getTime();
  if (stable < i.afterMs) {
    return { action: 'wait', afterMs: i.afterMs - stable, reason: `re-protected for ${formatDuration(stable)}; automatic failback after ${formatDuration(i.afterMs)}` };
  }
  const refused = budget();
  if (refused) return refused;
  if (!i.isLeader) return notLeader;
  return { action: 'start', trigger: 'automatic', token: undefined, force: false, reason: `re-protected and stable for ${formatDuration(stable)} (promotion.failback.after)` };
}

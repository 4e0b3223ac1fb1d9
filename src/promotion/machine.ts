// The promotion state machine, as pure transitions on status.promotion:
//   Fencing -> Promoting -> Switching -> Promoted, or -> Failed from any step.
// Each transition is written with the site's resourceVersion as precondition,
// so two operators can never both advance it; the executor (executor.ts)
// writes them in order behind the steps, and a restarted operator resumes
// from the last one recorded.
import type { PromotionState, PromotionStatus } from '../api/status.ts';
import type { Trigger } from './decide.ts';

export const NEXT: Record<'Fencing' | 'Promoting' | 'Switching', PromotionState> = {
  Fencing: 'Promoting',
  Promoting: 'Switching',
  Switching: 'Promoted',
};

const STAMP: Record<'Fencing' | 'Promoting' | 'Switching', keyof PromotionStatus> = {
  Fencing: 'fencedAt',
  Promoting: 'promotedAt',
  Switching: 'switchedAt',
};

export function begin(
  now: Date,
  trigger: Trigger,
  reason: string,
  token: string | undefined,
  frozen: Pick<PromotionStatus, 'tier' | 'fencing' | 'copy' | 'primaryReplicas'> = {},
): PromotionStatus {
  const t = now.toISOString();
  return { state: 'Fencing', trigger, reason, ...(token ? { token } : {}), startedAt: t, stepStartedAt: t, message: 'fencing the primary', ...frozen };
}

/** Moves from a finished step to the next one. */
export function advance(p: PromotionStatus, now: Date): PromotionStatus {
  const from = p.state;
  if (from !== 'Fencing' && from !== 'Promoting' && from !== 'Switching') return p;
  const to = NEXT[from];
  const t = now.toISOString();
  const next: PromotionStatus = { ...p, state: to, stepStartedAt: t, [STAMP[from]]: t };
  if (to === 'Promoted') {
    next.completedAt = t;
    next.durationSeconds = Math.round((now.getTime() - new Date(p.startedAt ?? t).getTime())) / 1000;
    next.message = 'the standby serves clients';
  } else {
    next.message = to === 'Promoting' ? 'promoting the standby' : 'switching traffic to the standby';
  }
  return next;
}

export function fail(p: PromotionStatus, now: Date, message: string): PromotionStatus {
  const t = now.toISOString();
  return { ...p, state: 'Failed', message: `${p.state ?? 'promotion'} failed: ${message}`, completedAt: t };
}

/**
 * Whether the current step ran past its deadline. `resumedAt`: when this process took the step
 * over; the deadline counts from the later of the two, so an operator that was down longer than
 * stepTimeout (perhaps on the node that failed) does not fail the step it resumes at once. (An
 * operator that keeps restarting postpones the deadline each time; it could not finish the step
 * either, and failing a promotion a healthy successor could complete is the worse mistake.)
 */
export function overdue(p: PromotionStatus, now: Date, stepTimeoutMs: number, resumedAt?: Date): boolean {
  if (!p.stepStartedAt) return false;
  const started = Math.max(new Date(p.stepStartedAt).getTime(), resumedAt?.getTime() ?? 0);
  return now.getTime() - started > stepTimeoutMs;
}

export function inProgress(p: PromotionStatus | undefined): p is PromotionStatus & { state: 'Fencing' | 'Promoting' | 'Switching' } {
  return p?.state === 'Fencing' || p?.state === 'Promoting' || p?.state === 'Switching';
}

/** A short stable id of a promotion (its start, label-safe), for the names of its Jobs and copies. */
export function promotionId(p: PromotionStatus | undefined): string {
  const t = p?.startedAt ? new Date(p.startedAt) : new Date(0);
  return t.toISOString().replace(/\.\d+Z$/, 'z').replace(/[-:]/g, '').toLowerCase();
}

// The promotion state machine, as pure transitions on status.promotion:
//   to the standby (a failover or switchover): Fencing -> Promoting -> Switching [-> Growing] -> Promoted
//     (Growing: a standby that stood by at reduced capacity grows to the primary's; see grow.ts)
//   to the primary (a failback):               Fencing -> CatchingUp -> Promoting -> Switching -> Promoted
// or -> Failed from any step. Each transition is written with the site's resourceVersion as
// precondition, so two operators can never both advance it; the executor (executor.ts) writes
// them in order behind the steps, and a restarted operator resumes from the last one recorded.
import type { PromotionState, PromotionStatus, Side, Trigger } from '../api/status.ts';
import { advanceOf, failOf, inProgressOf, overdueOf, type Procedure } from './procedure.ts';

export type PromotionStep = 'Fencing' | 'CatchingUp' | 'Promoting' | 'Switching' | 'Growing';

const FORWARD: readonly PromotionStep[] = ['Fencing', 'Promoting', 'Switching'];
const FORWARD_GROWING: readonly PromotionStep[] = [...FORWARD, 'Growing'];
const BACK: readonly PromotionStep[] = ['Fencing', 'CatchingUp', 'Promoting', 'Switching'];

const STAMP: Record<PromotionStep, keyof PromotionStatus> = {
  Fencing: 'fencedAt',
  CatchingUp: 'caughtUpAt',
  Promoting: 'promotedAt',
  Switching: 'switchedAt',
  Growing: 'grownAt',
};

/** The side that takes over in this promotion: the standby unless it is a failback. */
export function targetOf(p: Pick<PromotionStatus, 'to'> | undefined): Side {
  return p?.to ?? 'standby';
}

export const PROMOTION: Procedure<PromotionStatus> = {
  // Growing only when the start recorded a reduced standby (`grow`): a later spec change never adds or drops it.
  steps: (p) => (targetOf(p) === 'primary' ? BACK : p.grow ? FORWARD_GROWING : FORWARD),
  done: 'Promoted',
  stamp: (step) => STAMP[step as PromotionStep],
  describe(step, p) {
    const to = targetOf(p);
    const from = to === 'primary' ? 'the standby' : 'the primary';
    switch (step) {
      case 'Fencing':
        return `fencing ${from}`;
      case 'CatchingUp':
        return 'waiting until the primary holds everything the standby committed';
      case 'Promoting':
        return `promoting the ${to}`;
      case 'Switching':
        return `switching traffic to the ${to}`;
      case 'Growing':
        return "the standby serves clients; growing its pods to the primary's requests and limits";
      default:
        return p.growthFailed ? `the ${to} serves clients, at reduced capacity: ${p.growthFailed}` : `the ${to} serves clients`;
    }
  },
};

export function begin(
  now: Date,
  trigger: Trigger,
  reason: string,
  token: string | undefined,
  frozen: Pick<PromotionStatus, 'tier' | 'fencing' | 'copy' | 'primaryReplicas' | 'grow'> = {},
  to: Side = 'standby',
  epoch?: number,
): PromotionStatus {
  const t = now.toISOString();
  return {
    state: 'Fencing',
    ...(to === 'primary' ? { to } : {}),
    ...(epoch !== undefined ? { epoch } : {}),
    trigger,
    reason,
    ...(token ? { token } : {}),
    startedAt: t,
    stepStartedAt: t,
    message: PROMOTION.describe('Fencing', { to }),
    ...frozen,
  };
}

/** Moves from a finished step to the next one. */
export function advance(p: PromotionStatus, now: Date): PromotionStatus {
  return advanceOf(PROMOTION, p, now);
}

export function fail(p: PromotionStatus, now: Date, message: string): PromotionStatus {
  return failOf(p, now, message);
}

/** See overdueOf (procedure.ts). */
export function overdue(p: PromotionStatus, now: Date, stepTimeoutMs: number, resumedAt?: Date): boolean {
  return overdueOf(p, now, stepTimeoutMs, resumedAt);
}

export function inProgress(p: PromotionStatus | undefined): p is PromotionStatus & { state: PromotionStep } {
  return inProgressOf(PROMOTION, p);
}

/** A short stable id of a promotion (its start, label-safe), for the names of its Jobs and copies. */
export function promotionId(p: Pick<PromotionStatus, 'startedAt'> | undefined): string {
  const t = p?.startedAt ? new Date(p.startedAt) : new Date(0);
  return t.toISOString().replace(/\.\d+Z$/, 'z').replace(/[-:]/g, '').toLowerCase();
}

export type { PromotionState };

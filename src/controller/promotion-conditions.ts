// The conditions on what a promotion or a failback would do now: PromotionReady and FailbackReady.
// Pure.
import type { Decision } from '../promotion/decide.ts';
import { reprotected } from '../promotion/lifecycle.ts';
import type { ConditionInput } from './conditions.ts';
import type { StatusInput } from './status-input.ts';

/** While the standby serves: would a failback to the primary go ahead now? */
export function failbackReadyCondition(i: StatusInput): ConditionInput | undefined {
  const d = i.failback;
  if (!d || (i.lifecycle.mode !== 'failover' && i.lifecycle.mode !== 'failback') || i.lifecycle.promotion?.state !== 'Promoted') return undefined;
  switch (d.action) {
    case 'refuse':
      return { type: 'FailbackReady', status: 'False', reason: d.reason, message: d.message };
    case 'start':
    case 'continue':
      return { type: 'FailbackReady', status: 'True', reason: 'FailingBack', message: d.reason };
    case 'wait':
      return { type: 'FailbackReady', status: 'True', reason: 'Scheduled', message: d.reason };
    case 'none':
      return i.lifecycle.reprotection?.state === 'Protected'
        ? { type: 'FailbackReady', status: 'True', reason: 'Ready', message: `the primary follows the standby: annotate standby.dev/failback=<token> to fail back (${d.reason})` }
        : { type: 'FailbackReady', status: 'False', reason: 'NotReprotected', message: 'the primary does not follow the standby yet: a failback would need a force- token' };
  }
}

export function promotionReadyCondition(i: StatusInput): ConditionInput {
  // The decision was taken at the start of this reconcile; a promotion it drove to its end since
  // is over, and the condition must say what holds now.
  const over = i.promotion?.state === 'Promoted' && (i.decision.action === 'start' || i.decision.action === 'continue');
  const d: Decision = over ? { action: 'none', reason: 'the promotion is complete' } : i.decision;
  switch (d.action) {
    case 'refuse':
      return { type: 'PromotionReady', status: 'False', reason: d.reason, message: d.message };
    case 'wait':
      return { type: 'PromotionReady', status: 'True', reason: 'ThresholdPending', message: d.reason };
    case 'start':
    case 'continue':
      return { type: 'PromotionReady', status: 'True', reason: 'Promoting', message: d.reason };
    case 'none': {
      if (i.active === 'standby' || i.lifecycle.promotion?.state === 'Promoted') {
        return {
          type: 'PromotionReady',
          status: 'False',
          reason: 'NotProtected',
          message: reprotected(i.lifecycle)
            ? 'the standby serves clients and the old primary follows it: a failback (standby.dev/failback=<token>) makes the primary serve again'
            : 'the standby serves clients and nothing would take over if it failed until the old primary is re-protected',
        };
      }
      if (i.spec.promotion.mode === 'disabled') {
        return { type: 'PromotionReady', status: 'False', reason: 'PromotionDisabled', message: 'promotion.mode is disabled' };
      }
      if (!i.usability.usable) return { type: 'PromotionReady', status: 'False', reason: 'StandbyNotUsable', message: i.usability.reason };
      const mode = i.spec.promotion.mode === 'manual' ? 'on request (promotion.mode manual)' : `after ${i.spec.promotion.failureThreshold} of primary failure`;
      return { type: 'PromotionReady', status: 'True', reason: 'Armed', message: `${d.reason}; the standby would be promoted ${mode}` };
    }
  }
}

// The Events a status change deserves, for what a person should notice: the primary failing or
// recovering, a refusal, a fenced primary coming back, the site becoming protected. Pure.
import type { ConditionType, SiteStatus } from '../api/status.ts';
import type { Decision } from '../promotion/decide.ts';
import { findCondition } from './conditions.ts';
import { remoteEvents } from './remote-status.ts';

export interface EventSpec {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export function transitionEvents(prev: SiteStatus, next: SiteStatus, decision: Decision): EventSpec[] {
  const was = (t: ConditionType) => findCondition(prev.conditions, t);
  const is = (t: ConditionType) => findCondition(next.conditions, t);
  const out: EventSpec[] = [];
  const ph = is('PrimaryHealthy');
  if (ph && was('PrimaryHealthy') && was('PrimaryHealthy')?.status !== ph.status && ph.reason !== 'Fenced') {
    if (ph.status === 'False') out.push({ type: 'Warning', reason: ph.reason, message: ph.message });
    else if (ph.status === 'True' && prev.primary?.everReady) out.push({ type: 'Normal', reason: 'PrimaryRecovered', message: ph.message });
  }
  const pr = is('PromotionReady');
  if (decision.action === 'refuse' && pr && (was('PromotionReady')?.reason !== pr.reason || was('PromotionReady')?.status !== pr.status)) {
    out.push({ type: 'Warning', reason: 'PromotionRefused', message: pr.message });
  }
  const fh = is('FencingHolds');
  if (fh?.status === 'False' && was('FencingHolds')?.status !== 'False') {
    out.push({ type: 'Warning', reason: fh.reason === 'PrimaryReturned' ? 'FencedPrimaryReturned' : fh.reason, message: fh.message });
  }
  const th = is('TrafficHolds');
  if (th?.status === 'False' && was('TrafficHolds')?.status !== 'False') out.push({ type: 'Warning', reason: th.reason, message: th.message });
  const ready = is('Ready');
  if (ready?.status === 'True' && was('Ready')?.status !== 'True') out.push({ type: 'Normal', reason: 'Protected', message: ready.message });
  out.push(...remoteEvents(prev, next));
  return out;
}

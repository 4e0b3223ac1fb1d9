// Whether to re-protect now: a pure function of the lifecycle, the old side's state, the policy
// and the clock, saying what to do next and always why (a refusal is shown to a person).
import type { Side, Trigger } from '../api/status.ts';
import type { Lifecycle } from '../promotion/lifecycle.ts';
import { reprotecting } from './machine.ts';

export interface ReprotectInput {
  lifecycle: Lifecycle;
  mode: 'automatic' | 'manual';
  /** A standby.dev/reprotect token not yet acted on. */
  request: string | undefined;
  isLeader: boolean;
  /** After a failover: the old primary runs again (its pods Ready behind the fence, or scaled up again). */
  oldSideBack: boolean;
  /** What the old side is doing, for the message while waiting. */
  oldSideState: string;
  /** Why this site cannot re-protect at all (its tier and engine), if so. */
  unsupported: string | undefined;
}

export type ReprotectDecision =
  | { action: 'none'; reason: string }
  | { action: 'wait'; reason: string }
  | { action: 'refuse'; reason: 'ReprotectUnsupported' | 'ReprotectFailed' | 'NotLeader' | 'NothingToReprotect'; message: string }
  | { action: 'start'; of: Side; trigger: Trigger; token: string | undefined; reason: string }
  | { action: 'continue'; reason: string };

export function decideReprotect(i: ReprotectInput): ReprotectDecision {
  const l = i.lifecycle;
  const r = l.reprotection;
  const notLeader = { action: 'refuse', reason: 'NotLeader', message: 'another operator replica holds the leader lease' } as const;
  if (reprotecting(r)) return i.isLeader ? { action: 'continue', reason: `re-protection in progress (${r.state})` } : notLeader;
  // After a failback the standby is made a standby again at once: it is the failback's last stage.
  if (l.mode === 'returning') {
    if (r?.state === 'Failed' && !i.request) {
      return { action: 'refuse', reason: 'ReprotectFailed', message: `re-protecting the standby failed (${r.message ?? 'see events'}); fix the cause and annotate standby.dev/reprotect=<new token> to retry` };
    }
    if (!i.isLeader) return notLeader;
    return { action: 'start', of: 'standby', trigger: i.request ? 'manual' : 'automatic', token: i.request, reason: 'failed back: the standby becomes the primary\'s standby again' };
  }
  const serving = l.mode === 'failover' && l.promotion?.state === 'Promoted';
  if (!serving) {
    return i.request
      ? { action: 'refuse', reason: 'NothingToReprotect', message: 'the primary serves and the standby follows it: there is nothing to re-protect' }
      : { action: 'none', reason: 'no failover to re-protect after' };
  }
  if (r?.state === 'Protected') {
    return i.request
      ? { action: 'refuse', reason: 'NothingToReprotect', message: 'already re-protected: the old primary follows the standby' }
      : { action: 'none', reason: 'the old primary follows the standby' };
  }
  if (i.unsupported) return { action: 'refuse', reason: 'ReprotectUnsupported', message: i.unsupported };
  if (r?.state === 'Failed' && !i.request) {
    return {
      action: 'refuse',
      reason: 'ReprotectFailed',
      message: `re-protection failed (${r.message ?? 'see events'}); the standby serves unprotected: fix the cause and annotate standby.dev/reprotect=<new token> to retry`,
    };
  }
  if (i.mode === 'manual' && !i.request) {
    return { action: 'wait', reason: 'promotion.reprotect is manual: annotate standby.dev/reprotect=<token> to make the old primary the standby' };
  }
  if (!i.oldSideBack && !i.request) return { action: 'wait', reason: `waiting for the old primary to run again (${i.oldSideState})` };
  if (!i.isLeader) return notLeader;
  return {
    action: 'start',
    of: 'primary',
    trigger: i.request ? 'manual' : 'automatic',
    token: i.request,
    reason: i.request ? 're-protection requested by annotation' : `the old primary runs again (${i.oldSideState})`,
  };
}

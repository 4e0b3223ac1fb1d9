// The site's phase and the summary conditions that follow from it: Ready, and kstatus's Stalled
// and Reconciling (as Flux and kpt judge resources). Pure.
import type { Condition, Phase, SiteStatus } from '../api/status.ts';
import { inProgress } from '../promotion/machine.ts';
import { reprotecting } from '../reprotect/machine.ts';
import { mergeConditions, type ConditionInput } from './conditions.ts';
import type { StatusInput } from './status-input.ts';

/** How long a new hot standby may take to become Ready before the site counts as Degraded. */
const SETTLE_MS = 5 * 60_000;

/** The phase (status.phase), a summary for people: where the site stands in its DR cycle and whether it is protected. */
export function phaseOf(i: StatusInput, rpoMet: boolean | undefined): Phase {
  const l = i.lifecycle;
  const p = l.promotion?.state;
  if (l.mode === 'failback' || l.mode === 'returning') {
    return l.mode === 'returning' && l.reprotection?.state === 'Failed' ? 'Degraded' : 'FailingBack';
  }
  if (l.mode === 'failover') {
    if (inProgress(l.promotion)) return 'Promoting';
    if (p === 'Failed') return 'Failed';
    if (reprotecting(l.reprotection)) return 'Reprotecting';
    if (l.reprotection?.state !== 'Protected') return 'Promoted';
    // Re-protected: the old primary follows the serving standby; as protected as its copies are.
    if (i.blocked || i.problems.length > 0 || !i.usability.usable || rpoMet === false) return 'Degraded';
    return 'Protected';
  }
  if (i.blocked) return 'Degraded';
  if (i.problems.length > 0 || !i.primary.ready || i.primary.missing || i.primary.serviceSelectsNothing) return 'Degraded';
  if (!i.usability.usable) {
    // Before the first copy, or while a new hot standby starts, the site is on its way, not broken.
    // A copy that was made and then lost (its claim deleted by hand) is not a first copy.
    const copyFailed = i.lastCopyJob !== undefined && !i.lastCopyJob.succeeded;
    const settingUp =
      i.spec.tier === 'hot'
        ? !i.standby.created || i.now.getTime() - i.standby.created.getTime() < SETTLE_MS
        : i.dataTime === undefined && !i.lostCopy;
    return settingUp && !copyFailed && !i.engineProblem ? 'Pending' : 'Degraded';
  }
  if (rpoMet === false) return 'Degraded';
  if (i.lastCopyJob && !i.lastCopyJob.succeeded) return 'Degraded';
  return 'Protected';
}

const PROTECTED = {
  hot: 'the hot standby runs and is ready to take over',
  warm: 'the warm standby holds a copy within the RPO target and is ready to take over',
  cold: 'a ready snapshot can be restored into a standby',
} as const;

export function readyCondition(i: StatusInput, phase: Phase): ConditionInput {
  if (i.blocked && phase === 'Degraded') return { type: 'Ready', status: 'False', reason: i.blocked.reason, message: i.blocked.message };
  const l = i.lifecycle;
  switch (phase) {
    case 'Protected':
      return {
        type: 'Ready',
        status: 'True',
        reason: 'Protected',
        message: l.mode === 'failover' ? `the standby serves and the old primary follows it (${l.reprotection?.method ?? 're-protected'}); fail back with standby.dev/failback=<token>` : PROTECTED[i.spec.tier],
      };
    case 'Promoting':
      return { type: 'Ready', status: 'False', reason: 'Promoting', message: `promotion in progress: ${l.promotion?.state ?? ''}` };
    case 'Promoted':
      return { type: 'Ready', status: 'False', reason: 'Promoted', message: unprotectedMessage(i) };
    case 'Reprotecting':
      return { type: 'Ready', status: 'False', reason: 'Reprotecting', message: `re-protecting: ${l.reprotection?.message ?? ''}` };
    case 'FailingBack':
      return {
        type: 'Ready',
        status: 'False',
        reason: 'FailingBack',
        message: `failing back to the primary: ${l.mode === 'failback' ? (l.failback?.message ?? '') : (l.reprotection?.message ?? 'the standby is made the primary\'s standby again')}`,
      };
    case 'Failed':
      return { type: 'Ready', status: 'False', reason: 'PromotionFailed', message: l.promotion?.message ?? 'the promotion failed' };
    case 'Pending':
      return { type: 'Ready', status: 'False', reason: 'Pending', message: i.usability.reason };
    case 'Degraded': {
      const why = [
        ...i.problems,
        ...(i.primary.ready ? [] : [`primary: ${i.primary.message}`]),
        ...(i.usability.usable ? [] : [`standby: ${i.usability.reason}`]),
        ...(i.engineProblem ? [i.engineProblem] : []),
        ...(i.lastCopyJob && !i.lastCopyJob.succeeded ? [`last copy failed: ${i.lastCopyJob.message}`] : []),
      ];
      return { type: 'Ready', status: 'False', reason: 'Degraded', message: why.join('; ') || 'the RPO target is missed' };
    }
  }
}

/**
 * Stalled=True when nothing will improve until a person acts, so that kstatus (Flux, kpt) reports
 * Failed with the message instead of InProgress forever.
 */
export function stalledCondition(i: StatusInput): ConditionInput {
  const stalled = (reason: string, message: string): ConditionInput => ({ type: 'Stalled', status: 'True', reason, message });
  if (i.blocked) return stalled(i.blocked.reason, i.blocked.message);
  const l = i.lifecycle;
  const p = l.promotion?.state;
  if (l.mode === 'failover' && p === 'Failed') return stalled('PromotionFailed', l.promotion?.message ?? 'the promotion failed');
  // Promoted and not re-protected: stalled when only a person can move it on (no automatic
  // re-protection, or none possible, or it failed); waiting for the old primary is progress.
  const r = i.reprotect;
  if (l.mode === 'failover' && p === 'Promoted' && r?.action === 'refuse' && r.reason !== 'NotLeader' && r.reason !== 'NothingToReprotect') {
    return stalled(r.reason === 'ReprotectFailed' ? 'ReprotectFailed' : 'Unprotected', r.message);
  }
  if (l.mode === 'failover' && p === 'Promoted' && r?.action === 'wait' && i.spec.promotion.reprotect === 'manual') return stalled('Unprotected', r.reason);
  if (l.mode === 'returning' && l.reprotection?.state === 'Failed') return stalled('ReprotectFailed', l.reprotection.message ?? 're-protecting the standby failed');
  if (i.primary.state === 'Missing') {
    return stalled('PrimaryNotFound', `${i.spec.primary.workload.kind} ${i.spec.primary.workload.name} does not exist in this namespace; create it or fix spec.primary.workload`);
  }
  if (i.stalling.length > 0) return stalled('BadReference', i.stalling.join('; '));
  return { type: 'Stalled', status: 'False', reason: 'AsExpected', message: 'nothing waits for a person' };
}

/**
 * The conditions with Reconciling rewritten for a new phase, for writes that change the phase
 * outside computeStatus (a promotion's start): a GitOps tool reading the site between that write
 * and the next full status must see it converging, not failing.
 */
export function conditionsForPhase(prev: SiteStatus, phase: Phase, generation: number, now: Date): Condition[] {
  const others = (prev.conditions ?? []).filter((c) => c.type !== 'Reconciling');
  const [reconciling] = mergeConditions(prev.conditions, [reconcilingCondition(phase)], generation, now);
  return [...others, reconciling!];
}

/** Reconciling=True while the site is on its way: setting up, promoting, re-protecting, failing back. */
export function reconcilingCondition(phase: Phase, i?: StatusInput): ConditionInput {
  if (phase === 'Pending') return { type: 'Reconciling', status: 'True', reason: 'SettingUp', message: 'the standby is being set up' };
  if (phase === 'Promoting') return { type: 'Reconciling', status: 'True', reason: 'Promoting', message: 'a promotion is in progress' };
  if (phase === 'Reprotecting') return { type: 'Reconciling', status: 'True', reason: 'Reprotecting', message: 're-protection is in progress' };
  if (phase === 'FailingBack') return { type: 'Reconciling', status: 'True', reason: 'FailingBack', message: 'a failback is in progress' };
  if (phase === 'Promoted' && i?.reprotect?.action === 'wait' && i.spec.promotion.reprotect === 'automatic') {
    return { type: 'Reconciling', status: 'True', reason: 'WaitingForPrimary', message: i.reprotect.reason };
  }
  return { type: 'Reconciling', status: 'False', reason: 'AsExpected', message: `the site is ${phase}` };
}

/** A promoted site that nothing protects yet: why, and what comes next. */
function unprotectedMessage(i: StatusInput): string {
  const r = i.reprotect;
  const next = r === undefined ? '' : r.action === 'refuse' ? `: ${r.message}` : r.action === 'wait' ? `: ${r.reason}` : '';
  return `the standby serves clients and nothing protects it yet${next}`;
}

// Whether a drill may start, and whether a running one must stop: a real failure always wins.
// Pure. These are the one place to add what else rules a drill out.
import type { Phase, PromotionStatus, Side } from '../api/status.ts';

export interface DrillGateInput {
  /** The phase the site last showed (a drill starts only from Protected). */
  phase: Phase | undefined;
  active: Side;
  /** The running or last promotion, after this reconcile's promotion part. */
  promotion: PromotionStatus | undefined;
  primaryReady: boolean;
  standby: { usable: boolean; reason: string };
  /** A drill already running. */
  running: { id: string } | undefined;
  /** A re-protection or failback in progress, said as the reason a drill waits. */
  busy?: string | undefined;
}

export type Gate = { ok: true } | { ok: false; reason: string };

const no = (reason: string): Gate => ({ ok: false, reason });

/** A drill may start only on a Protected site with nothing else going on. */
export function drillMayStart(i: DrillGateInput): Gate {
  if (i.running) return no(`drill ${i.running.id} is running`);
  if (i.busy) return no(i.busy);
  const p = i.promotion?.state;
  if (p === 'Fencing' || p === 'Promoting' || p === 'Switching' || p === 'Growing') return no(`a promotion is in progress (${p})`);
  if (i.active === 'standby' || p === 'Promoted') return no('the standby serves clients: nothing protects it, so there is nothing to drill');
  if (p === 'Failed') return no('the last promotion failed; the primary stays fenced until a person decides');
  if (!i.primaryReady) return no('the primary is not Ready');
  if (i.phase !== 'Protected') return no(`the site is ${i.phase ?? 'not yet reconciled'}, not Protected`);
  if (!i.standby.usable) return no(`the standby could not take over: ${i.standby.reason}`);
  return { ok: true };
}

export interface AbortInput {
  promotion: PromotionStatus | undefined;
  active: Side;
  primaryReady: boolean;
  /** The tier the drill began with, and the spec's now. */
  drillTier: string;
  specTier: string;
}

/** Why a running drill must stop now, if it must: a real failure (or a change of what it drills) wins. */
export function drillMustAbort(i: AbortInput): string | undefined {
  if (i.promotion?.state || i.active === 'standby') return `a promotion began (${i.promotion?.state ?? 'the standby is active'}): a real failure wins over a drill`;
  if (!i.primaryReady) return 'the primary is not Ready: a real failure wins over a drill';
  if (i.drillTier !== i.specTier) return `spec.tier changed from ${i.drillTier} to ${i.specTier} during the drill`;
  return undefined;
}

// Where in the DR cycle a site stands, from its status alone (pure):
//
//   forward    the primary serves (never promoted, or failed back and the standby follows again)
//   failover   a promotion to the standby began: it runs, or the standby serves (the primary is
//              fenced, re-protected into its standby, or not yet)
//   failback   a failback to the primary runs (the standby is fenced)
//   returning  failed back: the primary serves, the standby is being made its standby again
//
// status.promotion holds the last failover (or switchover) to the standby, status.failback the
// last failback, status.reprotection the last re-protection; the newest of them by start says
// where the site is. A failback that failed before the primary took over leaves the site in
// failover: the standby serves on.
import type { PromotionStatus, ReprotectionStatus, SiteStatus } from '../api/status.ts';
import { inProgress } from './machine.ts';

export type Mode = 'forward' | 'failover' | 'failback' | 'returning';

export interface Lifecycle {
  mode: Mode;
  /** The failover whose effects hold (mode failover and failback): the standby took, or takes, over. */
  promotion: PromotionStatus | undefined;
  /** The running or last failback after that failover. */
  failback: PromotionStatus | undefined;
  /** The re-protection of this stage, if one began: of the primary (failover), of the standby (returning). */
  reprotection: ReprotectionStatus | undefined;
}

const t = (s: string | undefined) => (s ? new Date(s).getTime() : 0);

export function lifecycleOf(status: SiteStatus): Lifecycle {
  const p = status.promotion?.state ? status.promotion : undefined;
  const f = status.failback?.state && t(status.failback.startedAt) >= t(p?.startedAt) ? status.failback : undefined;
  const r = status.reprotection?.state ? status.reprotection : undefined;
  if (!p) return { mode: 'forward', promotion: undefined, failback: undefined, reprotection: undefined };
  if (f && f.state === 'Promoted') {
    // The primary serves again; the standby's re-protection after it (of: standby) closes the cycle.
    const back = r && r.of === 'standby' && t(r.startedAt) >= t(f.startedAt) ? r : undefined;
    const done = back?.state === 'Protected';
    return { mode: done ? 'forward' : 'returning', promotion: undefined, failback: f, reprotection: back };
  }
  const ofPrimary = r && r.of === 'primary' && t(r.startedAt) >= t(p.startedAt) ? r : undefined;
  if (f && inProgress(f)) return { mode: 'failback', promotion: p, failback: f, reprotection: ofPrimary };
  return { mode: 'failover', promotion: p, failback: f, reprotection: ofPrimary };
}

/** The failover whose effects hold now (the standby took or takes over), if any. */
export function promotionInEffect(status: SiteStatus): PromotionStatus | undefined {
  return lifecycleOf(status).promotion;
}

/** Whether the site is protected in its current direction: a standby follows the side that serves. */
export function reprotected(l: Lifecycle): boolean {
  return l.reprotection?.state === 'Protected';
}

/**
 * Failed back, and the standby's re-protection has not yet kept what its copies held (they held
 * what it served on, possibly writes the primary was not restored with, e.g. after a forced
 * failback): until it has (status.reprotection.divergence), no sync replaces those copies and
 * none is pruned.
 */
export function standbyCopiesUnkept(l: Lifecycle): boolean {
  return l.mode === 'returning' && l.reprotection?.divergence === undefined;
}

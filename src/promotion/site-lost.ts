// Promotion when the primary is in another cluster and that cluster may not answer. Unreachable
// is not NotReady: a partition must never promote, so nothing happens on it by itself. A person
// who knows the primary's site is gone confirms it with a token starting with site-lost-; only
// that token promotes while the primary's cluster does not answer, and the promotion says that
// fencing could not be confirmed (the fence goes up there before anything else once it answers).
// Every other token waits for the cluster to answer. Pure; decide() covers everything else.
import type { PromotionStatus, Side } from '../api/status.ts';
import type { Decision, PromoteRequest, StandbyUsability } from './decide.ts';

export const SITE_LOST_PREFIX = 'site-lost-';

/** What the operator knows of the primary's cluster (remote/health.ts, with its server). */
export interface PrimarySiteView {
  server: string | undefined;
  reachable: boolean;
  since: Date;
  lastError: string | undefined;
  /** The API server answers but refuses the operator: the site is up. */
  answering: boolean;
}

export interface SiteLostInput {
  /** Undefined: the primary is in this cluster. */
  primarySite: PrimarySiteView | undefined;
  request: PromoteRequest | undefined;
  current: PromotionStatus | undefined;
  active: Side;
  mode: 'automatic' | 'manual' | 'disabled';
  isLeader: boolean;
  standby: StandbyUsability;
}

export function isSiteLostToken(token: string | undefined): boolean {
  return token?.startsWith(SITE_LOST_PREFIX) === true;
}

/** Why the primary's cluster counts as unreachable, in a sentence. */
export function unreachableText(s: PrimarySiteView): string {
  const what = s.answering ? 'has refused the operator since' : 'has not answered since';
  return `the primary's cluster${s.server ? ` ${s.server}` : ''} ${what} ${s.since.toISOString()}${s.lastError ? ` (${s.lastError})` : ''}`;
}

/**
 * The decision while the primary's cluster is involved, or undefined when decide() should make
 * it (the cluster answers and no site-lost token is asked for, or a promotion is under way).
 */
export function siteLostDecision(i: SiteLostInput): Decision | undefined {
  const cur = i.current?.state;
  if (cur === 'Fencing' || cur === 'Promoting' || cur === 'Switching' || cur === 'Growing') return undefined;
  if (i.active === 'standby' || cur === 'Promoted') return undefined;
  const siteLost = isSiteLostToken(i.request?.token);
  const site = i.primarySite;
  if (!site) {
    return siteLost
      ? {
          action: 'refuse',
          reason: 'SiteNotLost',
          message:
            'site-lost-... tokens confirm the loss of the site of a primary in another cluster (spec.primary.cluster); this primary is in this cluster: annotate standby.dev/promote=<another token>',
        }
      : undefined;
  }
  if (site.reachable) {
    return siteLost
      ? {
          action: 'refuse',
          reason: 'SiteNotLost',
          message: `the primary's cluster${site.server ? ` ${site.server}` : ''} answers (since ${site.since.toISOString()}): its site is not lost. For a planned switchover (the primary is fenced first) annotate standby.dev/promote=<a token not starting with ${SITE_LOST_PREFIX}>`,
        }
      : undefined;
  }
  const down = unreachableText(site);
  if (i.request && !siteLost) {
    if (i.mode === 'disabled') return undefined;
    return {
      action: 'refuse',
      reason: 'PrimaryUnreachable',
      message: `${down}, so the old primary cannot be fenced: only a confirmed site failover promotes now. If the primary's site is lost, annotate standby.dev/promote=${SITE_LOST_PREFIX}<date>; otherwise wait until it answers`,
    };
  }
  if (!i.request) {
    if (i.mode === 'disabled') return { action: 'none', reason: `${down}; promotion is disabled` };
    return {
      action: 'refuse',
      reason: 'PrimaryUnreachable',
      message: `${down}; a partition is not a failure and never promotes by itself. If the primary's site is lost, annotate standby.dev/promote=${SITE_LOST_PREFIX}<date>`,
    };
  }
  // A site-lost token while the cluster does not answer.
  if (i.mode === 'disabled') {
    return { action: 'refuse', reason: 'PromotionDisabled', message: 'promotion.mode is disabled; set it to manual or automatic to allow promotions' };
  }
  if (site.answering) {
    return {
      action: 'refuse',
      reason: 'SiteNotLost',
      message: `the primary's cluster answers but refuses the operator (${site.lastError ?? 'see the kubeconfig Secret'}): its site is not lost, and a promotion now could not fence it. Fix the credentials (the chart's remoteAccess Role and the kubeconfig Secret)`,
    };
  }
  if (!i.isLeader) return { action: 'refuse', reason: 'NotLeader', message: 'another operator replica holds the leader lease' };
  // The person accepts what the standby has: the data-age check is waived, as by a force- token.
  if (!i.standby.usableIfForced) return { action: 'refuse', reason: 'StandbyNotUsable', message: i.standby.reason };
  return {
    action: 'start',
    trigger: 'siteLost',
    token: i.request.token,
    reason: `site failover confirmed by standby.dev/promote=${i.request.token}: ${down}; fencing could not be confirmed: the fence is written there before anything else as soon as it answers`,
  };
}

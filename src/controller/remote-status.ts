// What status says beyond what computeStatus (status.ts) knows: the epoch, where clients should
// connect (status.activeEndpoint), and for a primary in another cluster whether that cluster
// answers (status.primarySite), whether the fence is confirmed there, and the Events those
// deserve. Pure.
import type { StandbySite } from '../api/site.ts';
import type { SiteStatus } from '../api/status.ts';
import { unreachableText, type PrimarySiteView } from '../promotion/site-lost.ts';
import { names } from '../site/names.ts';
import { findCondition, mergeConditions } from './conditions.ts';
import type { EventSpec } from './transitions.ts';

export interface RemoteStatusInput {
  site: StandbySite;
  /** The status as written last (the promotion's writes included). */
  latest: SiteStatus;
  /** The primary's cluster, when it is another one. */
  primarySite: PrimarySiteView | undefined;
  /** The fence is confirmed in the primary's cluster (ensureRemoteFence) in this reconcile. */
  fenceConfirmed: boolean;
  /** It was written there in this reconcile and that cluster's cache does not show it yet. */
  fenceUnseen?: boolean;
  now: Date;
}

/** Where clients should connect now. */
export function activeEndpoint(site: StandbySite, status: SiteStatus, server: string | undefined): string {
  const hostname = site.spec.traffic.externalDNS?.hostname;
  if (hostname) return hostname;
  const ns = site.metadata.namespace;
  const standbyServes = status.active === 'standby' || status.promotion?.state === 'Switching' || status.promotion?.state === 'Growing' || status.promotion?.state === 'Promoted';
  const local = `${status.trafficService ?? names.traffic(site.metadata.name, site.spec)}.${ns}.svc`;
  if (!site.spec.primary.cluster || standbyServes) return local;
  return `${site.spec.primary.service}.${site.spec.primary.namespace ?? ns}.svc (in the cluster at ${server ?? 'spec.primary.cluster'})`;
}

/** Adds the epoch, the active endpoint and, for a remote primary, status.primarySite and its FencingHolds. */
export function withRemoteStatus(status: SiteStatus, i: RemoteStatusInput): SiteStatus {
  const out: SiteStatus = { ...status };
  if (i.latest.epoch !== undefined) out.epoch = i.latest.epoch;
  out.activeEndpoint = activeEndpoint(i.site, out, i.primarySite?.server);
  const s = i.primarySite;
  if (!s) return out;
  const prev = i.latest.primarySite;
  const promo = out.promotion;
  const began = promo?.state !== undefined;
  const fencedAt = began ? (prev?.fencedAt ?? (i.fenceConfirmed ? i.now.toISOString() : undefined)) : undefined;
  // The site came back after a promotion it did not see: once, when it first answers again.
  const siteLost = promo?.trigger === 'siteLost' || promo?.trigger === 'siteFailover';
  const returnedAt = siteLost ? (prev?.returnedAt ?? (s.reachable ? i.now.toISOString() : undefined)) : undefined;
  out.primarySite = {
    ...(s.server ? { cluster: s.server } : {}),
    reachable: s.reachable,
    since: s.since.toISOString(),
    ...(!s.reachable && s.lastError ? { lastError: s.lastError } : {}),
    ...(fencedAt ? { fencedAt } : {}),
    ...(returnedAt ? { returnedAt } : {}),
  };
  // After a promotion began, the fence the primary's cluster holds is known only while it answers,
  // and only once its cache shows what was written there (until then the local view says it is missing).
  const fence = names.fence(i.site.metadata.name);
  if (began && promo.state !== 'Fencing' && !fencedAt) {
    out.conditions = withFencingUnknown(out, i, 'FenceNotConfirmed', `${unreachableText(s)}: fencing could not be confirmed. The fence NetworkPolicy ${fence} is written there before anything else as soon as it answers; until then the old primary may still accept writes from clients in its own site`);
  } else if (began && i.fenceUnseen && findCondition(out.conditions, 'FencingHolds')) {
    out.conditions = withFencingUnknown(out, i, 'FenceWritten', `the fence NetworkPolicy ${fence} was written in the primary's cluster just now; whether it holds is known once that cluster's cache shows it (the next reconcile)`);
  }
  return out;
}

function withFencingUnknown(out: SiteStatus, i: RemoteStatusInput, reason: string, message: string): SiteStatus['conditions'] {
  const cond = mergeConditions(i.latest.conditions, [{ type: 'FencingHolds', status: 'Unknown', reason, message }], i.site.metadata.generation ?? 0, i.now)[0]!;
  return [...(out.conditions ?? []).filter((c) => c.type !== 'FencingHolds'), cond];
}

/** Events of the primary's cluster going away, coming back, and coming back promoted away from. */
export function remoteEvents(prev: SiteStatus, next: SiteStatus): EventSpec[] {
  const was = prev.primarySite;
  const is = next.primarySite;
  if (!is) return [];
  const out: EventSpec[] = [];
  if (was?.reachable === true && is.reachable === false) {
    out.push({
      type: 'Warning',
      reason: 'PrimarySiteUnreachable',
      message: `the primary's cluster${is.cluster ? ` ${is.cluster}` : ''} does not answer (${is.lastError ?? 'no answer'}); no promotion happens on that alone. If its site is lost, annotate standby.dev/promote=site-lost-<date>`,
    });
  }
  if (was?.reachable === false && is.reachable === true) {
    out.push({ type: 'Normal', reason: 'PrimarySiteReachable', message: `the primary's cluster${is.cluster ? ` ${is.cluster}` : ''} answers again` });
  }
  if (is.returnedAt && !was?.returnedAt) {
    const fence = findCondition(next.conditions, 'FencingHolds');
    out.push({
      type: 'Warning',
      reason: 'PrimarySiteReturned',
      message: `the primary's site answers again after the site-lost promotion that began at ${next.promotion?.startedAt ?? '?'}: ${
        is.fencedAt ? `its old primary was fenced first (${fence?.message ?? 'NetworkPolicy'})` : 'its old primary is being fenced first'
      }. It is no longer the primary and may hold writes the standby never received: keep it fenced, take what you need from it, then re-protect or remove it`,
    });
  }
  return out;
}

// What `status` and `list` show of a site, computed from the object alone (pure): the data age
// is recomputed for now, as kubectl's DATA AGE column is, and "what next" follows the
// conditions' own messages.
import { validateSpec } from '../api/site.ts';
import type { Condition, PromotionRecord, PromotionStatus, SiteStatus } from '../api/status.ts';
import { effectiveRpoMs } from '../controller/status.ts';
import { CAPABILITIES, type CapabilityName } from './capabilities.ts';

/** A StandbySite as read from the API server. */
export interface SiteObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    annotations?: Record<string, string>;
  };
  spec?: unknown;
  status?: SiteStatus;
}

export interface ConditionView extends Condition {
  /** Written for an older generation of the spec than the current one. */
  stale: boolean;
}

export interface SiteView {
  namespace: string;
  name: string;
  tier: string;
  phase: string | undefined;
  /** Which side serves clients. */
  serving: 'primary' | 'standby';
  trafficService: string | undefined;
  primary: { state: string | undefined; readyReplicas: number | undefined; replicas: number | undefined };
  standby: { workload: string | undefined; ready: boolean | undefined; readyReplicas: number | undefined; replicas: number | undefined };
  /** What a failover now would lose, in seconds: warm/cold data age, hot replication lag. */
  dataAgeSeconds: number | undefined;
  /** Where the data age comes from. */
  dataAgeFrom: 'copy' | 'lag' | undefined;
  dataTimestamp: string | undefined;
  rpoTargetSeconds: number | undefined;
  rpoMet: boolean | undefined;
  lagSeconds: number | undefined;
  generation: number | undefined;
  observedGeneration: number | undefined;
  conditions: ConditionView[];
  promotion: PromotionStatus | undefined;
  promotionHistory: PromotionRecord[];
  /** The spec does not validate (the operator reports why in its conditions). */
  specProblem: string | undefined;
}

export function siteView(site: SiteObject, now: Date): SiteView {
  const status = site.status ?? {};
  const v = validateSpec(site.spec, site.metadata.name);
  const spec = v.ok ? v.spec : undefined;
  const written = (site.spec as { tier?: unknown } | undefined)?.tier;
  const tier = spec?.tier ?? (typeof written === 'string' ? written : 'unknown');
  const rpoMs = spec ? effectiveRpoMs(spec, now) : undefined;
  const rpoTargetSeconds = rpoMs !== undefined && Number.isFinite(rpoMs) ? rpoMs / 1000 : undefined;

  let dataAgeSeconds: number | undefined;
  let dataAgeFrom: SiteView['dataAgeFrom'];
  const lag = status.standby?.lagSeconds;
  // A hot standby's data is as old as its lag while it streams; once it stops, the operator keeps
  // the time its data reflects and the age grows from there (as the operator's metric counts it).
  if (tier === 'hot' && lag !== undefined && status.standby?.ready !== false) {
    dataAgeSeconds = lag;
    dataAgeFrom = 'lag';
  } else if (status.dataTimestamp) {
    dataAgeSeconds = Math.max(0, Math.round((now.getTime() - new Date(status.dataTimestamp).getTime()) / 1000));
    dataAgeFrom = 'copy';
  }
  const generation = site.metadata.generation;
  const conditions = (status.conditions ?? []).map((c) => ({
    ...c,
    stale: generation !== undefined && c.observedGeneration !== undefined && c.observedGeneration < generation,
  }));
  return {
    namespace: site.metadata.namespace,
    name: site.metadata.name,
    tier,
    phase: status.phase,
    serving: status.active ?? 'primary',
    trafficService: status.trafficService,
    primary: { state: status.primary?.state, readyReplicas: status.primary?.readyReplicas, replicas: status.primary?.replicas },
    standby: {
      workload: status.standby?.workload,
      ready: status.standby?.ready,
      readyReplicas: status.standby?.readyReplicas,
      replicas: status.standby?.replicas,
    },
    dataAgeSeconds,
    dataAgeFrom,
    dataTimestamp: status.dataTimestamp,
    rpoTargetSeconds,
    rpoMet: dataAgeSeconds !== undefined && rpoTargetSeconds !== undefined ? dataAgeSeconds <= rpoTargetSeconds : undefined,
    lagSeconds: lag,
    generation,
    observedGeneration: status.observedGeneration,
    conditions,
    promotion: status.promotion,
    promotionHistory: status.promotionHistory ?? [],
    specProblem: v.ok ? undefined : v.problems.map((p) => `${p.field}: ${p.message}`).join('; '),
  };
}

export function conditionOf(view: SiteView, type: string): ConditionView | undefined {
  return view.conditions.find((c) => c.type === type);
}

const inFlight = (p: PromotionStatus | undefined) => p?.state === 'Fencing' || p?.state === 'Promoting' || p?.state === 'Switching';

/**
 * What a person should do next, most urgent first. Built from the conditions (whose messages
 * already say what to fix) and from what this plugin can ask the operator to do.
 */
export function nextSteps(view: SiteView, offered: (c: CapabilityName) => boolean): string[] {
  const site = view.name;
  const out: string[] = [];
  if (view.observedGeneration === undefined) {
    out.push('the operator has not reported on this site yet: check that it runs and watches this namespace');
    return out;
  }
  if (view.generation !== undefined && view.observedGeneration < view.generation) {
    out.push(`the operator has not yet acted on generation ${view.generation} of the spec (it last saw ${view.observedGeneration}): check that it runs`);
  }
  const fencing = conditionOf(view, 'FencingHolds');
  if (fencing?.status === 'False') {
    out.push(`the old primary is no longer fenced (${fencing.message}): stop it before it takes writes; the operator reports this and does not fight it`);
  }
  const stalled = conditionOf(view, 'Stalled');
  if (stalled?.status === 'True') out.push(stalled.message);
  const p = view.promotion;
  if (inFlight(p)) {
    out.push(`a promotion is running (${p?.state ?? ''}): follow it with \`kubectl standby timeline ${site}\``);
    return out;
  }
  if (p?.state === 'Failed' && view.serving === 'primary') {
    out.push(
      `the last promotion failed (${p.message ?? 'see the timeline'}); the primary stays fenced: fix the cause, then \`kubectl standby promote ${site}\` to retry, or decide by hand`,
    );
    return out;
  }
  if (view.serving === 'standby') {
    out.push(
      offered('reprotect')
        ? `the standby serves clients and nothing protects it: \`kubectl standby reprotect ${site}\``
        : `the standby serves clients and nothing protects it; ${CAPABILITIES.reprotect.notYet}`,
    );
    return out;
  }
  const ready = conditionOf(view, 'Ready');
  if (ready?.status === 'True') {
    if (out.length === 0) out.push(offered('drill') ? `nothing: the site is protected; \`kubectl standby drill ${site}\` proves it` : 'nothing: the site is protected');
    return out;
  }
  if (view.specProblem) out.push(`fix the spec: ${view.specProblem}`);
  if (ready && stalled?.status !== 'True') out.push(ready.message);
  const promotionReady = conditionOf(view, 'PromotionReady');
  if (promotionReady?.status === 'False' && !out.includes(promotionReady.message)) {
    out.push(`a failover now would not happen: ${promotionReady.message}`);
  }
  return out;
}

// What `status` and `list` show of a site, computed from the object alone (pure): the data age
// is recomputed for now, as kubectl's DATA AGE column is, and "what next" follows the
// conditions' own messages.
import { validateSpec } from '../api/site.ts';
import type { Condition, PromotionRecord, PromotionStatus, ReprotectionStatus, Side, SiteCost, SiteStatus, TierCost } from '../api/status.ts';
import { effectiveRpoMs } from '../controller/rpo.ts';
import { lifecycleOf, type Mode } from '../promotion/lifecycle.ts';
import type { CapabilityName } from './capabilities.ts';

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
  serving: Side;
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
  /**
   * Where the site is in the DR cycle: forward (the primary serves), failover (a promotion to the
   * standby runs or holds), failback (a failback runs), returning (failed back; the standby is
   * being made the primary's standby again).
   */
  cycle: Mode;
  /** The re-protection of this stage of the cycle, if one began. */
  reprotection: ReprotectionStatus | undefined;
  /** The running or last failback after the failover in effect, or the one that ended it. */
  failback: PromotionStatus | undefined;
  /** The spec does not validate (the operator reports why in its conditions). */
  specProblem: string | undefined;
  /** status.cost: what the standby reserves now, the storage its copies hold, and the what-if per tier. */
  cost: SiteCost | undefined;
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
  const cycle = lifecycleOf(status);
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
    cycle: cycle.mode,
    reprotection: cycle.reprotection,
    failback: cycle.failback,
    specProblem: v.ok ? undefined : v.problems.map((p) => `${p.field}: ${p.message}`).join('; '),
    cost: status.cost,
  };
}

export function conditionOf(view: SiteView, type: string): ConditionView | undefined {
  return view.conditions.find((c) => c.type === type);
}

const inFlight = (p: PromotionStatus | undefined) => p?.state === 'Fencing' || p?.state === 'Promoting' || p?.state === 'Switching' || p?.state === 'Growing';

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
  const follow = `follow it with \`kubectl standby timeline ${site}\``;
  const r = view.reprotection;
  if (view.cycle === 'failback') {
    out.push(`a failback is running (${view.failback?.state ?? ''}): ${follow}`);
    return out;
  }
  if (view.cycle === 'returning' && r?.state !== 'Failed') {
    out.push(`failed back: the primary serves; the standby is being made its standby again${r?.state ? ` (${r.state})` : ''}: ${follow}`);
    return out;
  }
  if (view.cycle === 'returning') {
    out.push(offered('reprotect') ? `the primary serves and nothing protects it: fix the cause, then \`kubectl standby reprotect ${site}\` retries` : 'the primary serves and nothing protects it: fix the cause, then annotate standby.dev/reprotect=<token> to retry');
    return out;
  }
  if (view.serving === 'standby') {
    if (r?.state === 'Preserving' || r?.state === 'Seeding' || r?.state === 'Following') {
      out.push(`the old primary is being re-protected (${r.state}): ${follow}`);
      return out;
    }
    if (r?.state === 'Protected') {
      // FailbackReady says whether a failback would go ahead, or when an automatic one comes.
      const fb = conditionOf(view, 'FailbackReady');
      const now = offered('failback') ? `\`kubectl standby failback ${site}\`` : 'standby.dev/failback=<token>';
      out.push(
        fb?.status === 'True' && fb.reason === 'Scheduled'
          ? `the old primary follows the standby; ${fb.message}; ${now} fails back now`
          : fb?.status === 'False'
            ? `the old primary follows the standby, but a failback would not go ahead: ${fb.message}`
            : `the old primary follows the standby: ${now} makes the primary serve again`,
      );
      return out;
    }
    // Not re-protected: the operator may wait for the old primary to run again (Reconciling says so).
    const reconciling = conditionOf(view, 'Reconciling');
    const waiting = reconciling?.status === 'True' && reconciling.reason === 'WaitingForPrimary';
    if (offered('reprotect')) {
      out.push(
        waiting
          ? `the standby serves clients and nothing protects it yet: ${reconciling.message} (then it re-protects by itself); \`kubectl standby reprotect ${site}\` does it now`
          : `the standby serves clients and nothing protects it: \`kubectl standby reprotect ${site}\``,
      );
    } else {
      out.push(`the standby serves clients and nothing protects it${waiting ? ` yet: ${reconciling.message}` : ''}; annotate standby.dev/reprotect=<token> to re-protect it`);
    }
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

/** The running drill, else the last one, in a line (status's "Last drill"). */
export function drillLine(s: SiteStatus): string {
  if (s.drill) return `drill ${s.drill.id} (${s.drill.trigger}) running since ${s.drill.startedAt}: ${s.drill.state}, ${s.drill.message}`;
  const d = s.lastDrill;
  if (!d) return 'none yet';
  const figures = [d.rtoSeconds !== undefined ? `RTO ${d.rtoSeconds}s` : '', d.dataAgeSeconds !== undefined ? `data age ${d.dataAgeSeconds}s` : ''].filter(Boolean).join(', ');
  return [`${d.result} at ${d.finishedAt} (drill ${d.id}, ${d.trigger})`, figures, d.result === 'Passed' ? '' : d.message].filter(Boolean).join(': ');
}

/** Bytes in binary units, as Kubernetes writes sizes: 512Mi, 1.5Gi. */
export function byteSize(n: number): string {
  const units = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Math.round(v * 100) / 100}${units[u] ?? ''}`;
}

const costText = (c: TierCost) => `cpu ${Math.round(c.cpu * 1000) / 1000}, memory ${byteSize(c.memory)}, storage ${byteSize(c.storage)}`;

/** status's "Cost" line and its what-if per tier, the site's own tier marked. */
export function costLines(view: SiteView): string[] {
  const c = view.cost;
  if (!c) return ['not reported yet'];
  const lines = [`${costText(c)} (the standby's requests now; the copies' storage)`];
  if (c.whatIf) {
    for (const tier of ['cold', 'warm', 'hot'] as const) lines.push(`  as ${tier}:${' '.repeat(5 - tier.length)}${costText(c.whatIf[tier])}${tier === view.tier ? ' (this tier)' : ''}`);
  }
  return lines;
}

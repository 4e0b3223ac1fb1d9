// What a site's status says about its drills: the record of the last ones, the RTO column, and the
// DrillPassed condition. Pure.
import { formatDuration } from '../api/duration.ts';
import { schedulePeriodMs } from '../api/cron.ts';
import type { DrillSpec } from '../api/spec.ts';
import { DRILL_HISTORY_LIMIT, type DrillRecord } from '../api/drill-status.ts';
import type { SiteStatus } from '../api/status.ts';
import { mergePatchFor } from '../k8s/merge-patch.ts';

/** The status fields that belong to drills (controller/drill.ts writes them; status.ts carries them). */
export const DRILL_FIELDS = ['drill', 'lastDrill', 'drillHistory', 'measuredRto', 'handledDrillToken', 'lastDrillScheduleTime', 'nextDrillTime'] as const;
export type DrillFields = Pick<SiteStatus, (typeof DRILL_FIELDS)[number]>;

/** The drill fields of a status, as they are. */
export function drillFieldsOf(s: SiteStatus): DrillFields {
  const out: DrillFields = {};
  for (const k of DRILL_FIELDS) if (s[k] !== undefined) (out as Record<string, unknown>)[k] = s[k];
  return out;
}

/** The status after a drill ended: no running drill, the record last and in the history. */
export function recorded(prev: SiteStatus, record: DrillRecord): DrillFields {
  const history = [...(prev.drillHistory ?? []), record].slice(-DRILL_HISTORY_LIMIT);
  const { drill: _running, ...rest } = drillFieldsOf(prev);
  const out: DrillFields = { ...rest, lastDrill: record, drillHistory: history };
  if (record.result === 'Passed' && record.rtoSeconds !== undefined) out.measuredRto = formatDuration(Math.round(record.rtoSeconds * 10) * 100);
  return out;
}

/**
 * The JSON merge patch (RFC 7386) of the status that ends the running drill with `record`, for a
 * write of its own or as part of another (a promotion's start: see abortForPromotion).
 */
export function recordPatch(prev: SiteStatus, record: DrillRecord): Record<string, unknown> {
  return (mergePatchFor(drillFieldsOf(prev), recorded(prev, record)) as Record<string, unknown> | undefined) ?? {};
}

/** The newest drill that passed or failed (an aborted one says nothing of the standby). */
export function lastVerdict(s: SiteStatus): DrillRecord | undefined {
  const all = [...(s.drillHistory ?? []), ...(s.lastDrill ? [s.lastDrill] : [])];
  for (let i = all.length - 1; i >= 0; i--) if (all[i]!.result !== 'Aborted') return all[i];
  return undefined;
}

/** The newest drill that passed. */
export function lastPassed(s: SiteStatus): DrillRecord | undefined {
  const all = [...(s.drillHistory ?? []), ...(s.lastDrill ? [s.lastDrill] : [])];
  for (let i = all.length - 1; i >= 0; i--) if (all[i]!.result === 'Passed') return all[i];
  return undefined;
}

export interface DrillCondition {
  type: 'DrillPassed';
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

/** How many schedule periods a passed drill stays good for. */
export const STALE_PERIODS = 3;

/**
 * DrillPassed: Unknown before the first drill that passed or failed; False when the newest failed,
 * or is older than STALE_PERIODS schedule periods; else True. The messages name times, not ages,
 * so that they do not change (and cause a write) as time passes; `recheckInMs` says when the
 * condition turns stale by itself.
 */
export function drillCondition(s: SiteStatus, drill: DrillSpec | undefined, now: Date): { condition: DrillCondition; recheckInMs: number | undefined } {
  const last = lastVerdict(s);
  const aborted = s.lastDrill?.result === 'Aborted' ? ` (the latest, ${s.lastDrill.id}, was aborted: ${s.lastDrill.message})` : '';
  if (!last) {
    return {
      condition: {
        type: 'DrillPassed',
        status: 'Unknown',
        reason: 'NoDrillYet',
        message: `no drill has passed or failed yet${aborted}; annotate standby.dev/drill=<token>${drill?.schedule ? ` or wait for spec.drill.schedule (${drill.schedule})` : ' or set spec.drill.schedule'}`,
      },
      recheckInMs: undefined,
    };
  }
  if (last.result === 'Failed') {
    return {
      condition: { type: 'DrillPassed', status: 'False', reason: 'DrillFailed', message: `drill ${last.id} of ${last.startedAt} failed: ${last.message}${aborted}` },
      recheckInMs: undefined,
    };
  }
  const figures = `RTO ${last.rtoSeconds ?? '?'}s, data age ${last.dataAgeSeconds ?? '?'}s`;
  if (drill?.schedule && !drill.suspend) {
    const periodMs = schedulePeriodMs(drill.schedule, drill.timeZone, now);
    const limitMs = STALE_PERIODS * periodMs;
    if (Number.isFinite(limitMs)) {
      const ageMs = now.getTime() - new Date(last.startedAt).getTime();
      if (ageMs > limitMs) {
        return {
          condition: {
            type: 'DrillPassed',
            status: 'False',
            reason: 'DrillOverdue',
            message: `the newest passed drill, ${last.id}, began at ${last.startedAt}: longer ago than ${STALE_PERIODS} periods of spec.drill.schedule (${formatDuration(limitMs)})${aborted}`,
          },
          recheckInMs: undefined,
        };
      }
      return {
        condition: { type: 'DrillPassed', status: 'True', reason: 'DrillPassed', message: `drill ${last.id} of ${last.startedAt} passed: ${figures}${aborted}` },
        recheckInMs: limitMs - ageMs + 1000,
      };
    }
  }
  return {
    condition: { type: 'DrillPassed', status: 'True', reason: 'DrillPassed', message: `drill ${last.id} of ${last.startedAt} passed: ${figures}${aborted}` },
    recheckInMs: undefined,
  };
}

// The status a site should show, computed from what was observed. Pure: the
// reconciler writes it only when it differs from what is stored. The parts have their own rooms:
// the input (status-input.ts), the phase with Ready, Stalled and Reconciling (phase.ts), the RPO
// and data age (rpo.ts), the conditions on the two sides and the copies (health-conditions.ts)
// and on promotion and failback (promotion-conditions.ts); this file assembles the status record.
import { formatDuration } from '../api/duration.ts';
import type { SiteStatus } from '../api/status.ts';
import { inProgress } from '../promotion/machine.ts';
import { mergeConditions, type ConditionInput } from './conditions.ts';
import { lastCopyCondition, primaryHealthyCondition, standbyReadyCondition } from './health-conditions.ts';
import { phaseOf, readyCondition, reconcilingCondition, stalledCondition } from './phase.ts';
import { failbackReadyCondition, promotionReadyCondition } from './promotion-conditions.ts';
import { assessRpo, quantizeLag } from './rpo.ts';
import type { StatusInput } from './status-input.ts';

export type { CopyJobSummary, StatusInput } from './status-input.ts';

/** Status fields written by the procedures themselves, never computed here. */
const PROCEDURE_FIELDS = ['epoch', 'reprotection', 'failback', 'handledReprotectToken', 'handledFailbackToken', 'primaryHeld'] as const;

export interface StatusResult {
  status: SiteStatus;
  /** When the status will change by itself (an RPO deadline passing): re-check then. */
  recheckInMs: number | undefined;
}

export function computeStatus(i: StatusInput): StatusResult {
  const { spec, now } = i;
  const rpo = assessRpo(i);
  const { dataAgeSeconds, dataTimestamp, rpoMet, recheckInMs } = rpo;
  const conditions: ConditionInput[] = [primaryHealthyCondition(i), standbyReadyCondition(i), rpo.condition];
  const lastCopy = lastCopyCondition(i);
  if (lastCopy) conditions.push(lastCopy);

  // PromotionReady: would a promotion go ahead if it were needed?
  conditions.push(promotionReadyCondition(i));

  if (i.fencing) {
    conditions.push({
      type: 'FencingHolds',
      status: i.fencing.holds ? 'True' : 'False',
      reason: i.fencing.reason,
      message: i.fencing.message,
    });
  }

  if (i.drill) conditions.push(i.drill.condition);
  if (i.traffic) {
    conditions.push({ type: 'TrafficHolds', status: i.traffic.holds ? 'True' : 'False', reason: i.traffic.reason, message: i.traffic.message });
  }

  const phase = phaseOf(i, rpoMet);
  conditions.unshift(readyCondition(i, phase));
  conditions.push(stalledCondition(i), reconcilingCondition(phase, i));
  const fb = failbackReadyCondition(i);
  if (fb) conditions.push(fb);

  const standby: NonNullable<SiteStatus['standby']> = {
    ready: i.usability.usable,
    readyReplicas: i.standby.readyReplicas,
    replicas: i.standby.replicas,
  };
  if (i.standby.name) standby.workload = i.standby.name;
  if (spec.tier === 'hot' && i.measuresLag && i.lagSeconds !== undefined) {
    standby.lagSeconds = quantizeLag(i.lagSeconds);
    standby.lag = formatDuration(quantizeLag(i.lagSeconds) * 1000);
  }

  const status: SiteStatus = {
    observedGeneration: i.generation,
    phase,
    active: i.active,
    primary: {
      state: i.primary.state,
      ready: i.primary.ready,
      readyReplicas: i.primary.readyReplicas,
      replicas: i.primary.replicas,
      ...(i.primary.notReadySince ? { notReadySince: i.primary.notReadySince.toISOString() } : {}),
      ...(i.primary.uid ? { uid: i.primary.uid } : {}),
      ...(i.primary.everReady ? { everReady: true } : {}),
    },
    standby,
    conditions: mergeConditions(i.previous.conditions, conditions, i.generation, now),
  };
  if (i.trafficService) status.trafficService = i.trafficService;
  if (i.lastSnapshotTime) status.lastSnapshotTime = i.lastSnapshotTime.toISOString();
  if (i.snapshots !== undefined) status.snapshots = i.snapshots;
  if (i.lastSync) {
    status.lastSyncTime = i.lastSync.time.toISOString();
    if (i.lastSync.durationMs !== undefined) status.lastSyncDuration = formatDuration(Math.round(i.lastSync.durationMs / 1000) * 1000);
  }
  if (i.nextSyncTime) status.nextSyncTime = i.nextSyncTime.toISOString();
  if (dataTimestamp) status.dataTimestamp = dataTimestamp;
  if (dataAgeSeconds !== undefined) status.dataAgeSeconds = dataAgeSeconds;
  if (i.promotion) status.promotion = i.promotion;
  if (i.history.length > 0) status.promotionHistory = [...i.history];
  if (i.handledToken) status.handledPromoteToken = i.handledToken;
  if (i.drill) Object.assign(status, definedOnly(i.drill.fields));
  if (i.handledAbandonToken) status.handledAbandonToken = i.handledAbandonToken;
  if (i.cost) status.cost = i.cost;
  // What the procedures record themselves (promote.ts, reprotect.ts, failback.ts): carried over.
  for (const k of PROCEDURE_FIELDS) if (i.previous[k] !== undefined) (status as Record<string, unknown>)[k] = i.previous[k];
  if (i.standby.notReadySince) status.standby = { ...status.standby, notReadySince: i.standby.notReadySince.toISOString() };
  return { status, recheckInMs };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The status of a site whose spec is invalid: Ready=False with the problems; a running promotion keeps its phase. */
export function invalidStatus(prev: SiteStatus, generation: number, message: string, now: Date): SiteStatus {
  const ready = prev.conditions?.find((c) => c.type === 'Ready');
  return {
    ...prev,
    observedGeneration: generation,
    phase: prev.promotion && inProgress(prev.promotion) ? prev.phase : 'Degraded',
    conditions: [
      ...(prev.conditions ?? []).filter((c) => c.type !== 'Ready' && c.type !== 'Stalled' && c.type !== 'Reconciling'),
      {
        type: 'Ready',
        status: 'False',
        reason: 'InvalidSpec',
        message,
        observedGeneration: generation,
        lastTransitionTime: ready?.reason === 'InvalidSpec' ? ready.lastTransitionTime : now.toISOString(),
      },
      ...mergeConditions(
        prev.conditions,
        [
          { type: 'Stalled', status: 'True', reason: 'InvalidSpec', message },
          { type: 'Reconciling', status: 'False', reason: 'InvalidSpec', message: 'nothing is done until the spec is fixed' },
        ],
        generation,
        now,
      ),
    ],
  };
}

// The status one reconcile observed: the facts, the promotion's outcome and what converging did,
// gathered into status.ts's input (computeStatus decides every field and condition).
import { nextRun } from '../api/cron.ts';
import type { SiteStatus } from '../api/status.ts';
import type { Engine, EngineObservation } from '../engines/engine.ts';
import { fencingState } from '../fencing/holds.ts';
import { toDate } from '../k8s/types.ts';
import type { Lifecycle } from '../promotion/lifecycle.ts';
import { reprotecting } from '../reprotect/machine.ts';
import { names } from '../site/names.ts';
import { siteCost } from '../cost/site-cost.ts';
import type { ReconcileContext } from './context.ts';
import { fencesFor, type ConvergeResult } from './converge.ts';
import type { Observed, ReferenceProblem, SiteFacts } from './facts.ts';
import type { Blocked } from './ownership.ts';
import type { DrillView } from './drill.ts';
import type { FailbackOutcome } from './failback.ts';
import type { PromotionOutcome } from './promote.ts';
import type { ReprotectOutcome } from './reprotect.ts';
import { standbyAdjustedMessage } from './site-events.ts';
import { computeStatus } from './status.ts';

/** The status this reconcile observed, computed by status.ts from the facts and the promotion's outcome. */
export function observedStatus(
  rc: ReconcileContext,
  latest: SiteStatus,
  obs: Observed,
  facts: SiteFacts,
  engine: Engine,
  engineObs: EngineObservation,
  outcome: PromotionOutcome,
  converged: ConvergeResult,
  problems: readonly ReferenceProblem[],
  blocked: Blocked | undefined,
  drill: DrillView,
  cycle: { lifecycle: Lifecycle; reprotect: ReprotectOutcome['decision'] | undefined; failback: FailbackOutcome['decision'] | undefined; reverseDataTime: Date | undefined },
): SiteStatus {
  const { site } = rc;
  const { spec } = site;
  const now = rc.now();
  const { lifecycle } = cycle;
  // The failover whose effects hold (none after a failback); the record itself stays in status.
  const promo = lifecycle.promotion;
  const fencedSideLifted = lifecycle.mode === 'failback' && lifecycle.failback?.state === 'Switching';
  const following = reprotecting(lifecycle.reprotection) || lifecycle.reprotection?.state === 'Protected';
  // The fence is reported while it must hold: not once the old primary is scaled up again to follow.
  const fenceReported = promo && promo.state !== 'Fencing' && !fencedSideLifted && !((promo.fencing ?? spec.promotion.fencing) === 'scaleDown' && following);
  const scheduled = spec.tier === 'warm' ? spec.warm : spec.tier === 'cold' ? spec.cold : undefined;
  const nextSyncTime = scheduled && !scheduled.suspend && !promo ? nextRun(scheduled.schedule, scheduled.timeZone, now) : undefined;
  if (nextSyncTime) rc.after(nextSyncTime.getTime() - now.getTime() + 1000);
  const lastCopyJob = facts.lastCopyJob;
  const { status, recheckInMs } = computeStatus({
    now,
    spec,
    generation: site.metadata.generation ?? 0,
    previous: latest,
    // A promotion begun in this very run fenced the primary already.
    primary: promo && facts.primary.state !== 'Missing' && facts.primary.state !== 'Unreachable' ? { ...facts.primary, state: 'Fenced' } : facts.primary,
    problems: [...problems.map((p) => p.message), ...rc.errors],
    stalling: problems.filter((p) => p.stalls).map((p) => p.message),
    blocked,
    standby: {
      name: obs.standby ? names.standby(site.metadata.name) : undefined,
      exists: obs.standby !== undefined,
      readyReplicas: facts.standbyReadyPods,
      replicas: obs.standby?.spec?.replicas ?? 0,
      created: toDate(obs.standby?.metadata?.creationTimestamp),
      notReadySince: facts.serving.notReadySince,
    },
    measuresLag: engine.measuresLag,
    lagSeconds: engineObs.lagSeconds,
    engineProblem: engineObs.problem,
    lostCopy: facts.lostCopy?.message,
    standbyAdjusted: obs.hostBindings.length ? standbyAdjustedMessage(obs.hostBindings) : undefined,
    // Re-protected after a failover (warm, cold): the serving standby's newest copy is what protects.
    dataTime: cycle.reverseDataTime ?? facts.dataTime,
    lastSnapshotTime: facts.lastSnapshotTime,
    snapshots: facts.snapshotCount,
    lastSync: facts.lastSync,
    nextSyncTime,
    lastCopyJob: lastCopyJob?.finished ? { succeeded: lastCopyJob.succeeded, finished: lastCopyJob.finished, message: lastCopyJob.message } : undefined,
    usability: facts.usability,
    decision: outcome.decision,
    promotion: latest.promotion ?? outcome.promotion,
    lifecycle,
    reprotect: cycle.reprotect,
    failback: cycle.failback,
    history: latest.promotionHistory ?? [],
    handledToken: outcome.handledToken,
    handledAbandonToken: latest.handledAbandonToken,
    active: latest.active ?? 'primary',
    trafficService: spec.traffic.mode === 'operatorService' ? names.traffic(site.metadata.name, spec) : spec.primary.service,
    traffic: outcome.traffic,
    fencing: fenceReported
      ? fencingState(site, {
          ...obs,
          fenceWritten: outcome.fenceWritten,
          fenceReverted: converged.fenceReverted,
          // Held as converge holds it: narrowed once the old primary follows the standby.
          narrow: fencesFor(lifecycle, promo.fencing ?? spec.promotion.fencing).primary === 'narrow',
        })
      : undefined,
    drill,
    cost: siteCost({
      spec,
      now,
      primary: obs.primary,
      volumes: obs.volumes,
      primaryClaims: obs.primaryClaims,
      standby: obs.standby,
      claims: [...obs.copyClaims, ...obs.keptClaims],
      snapshots: obs.snapshots,
    }),
  });
  rc.after(recheckInMs);
  return status;
}

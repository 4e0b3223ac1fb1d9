// The re-protection driver of one reconcile: decide (pure, reprotect/decide.ts), record the start
// in status.reprotection, drive it through reprotect/steps.ts with the same executor as a
// promotion; and, while the site is re-protected after a failover, keep the serving standby's
// reverse copies on the tier's schedule (warm and cold).
import type { V1Pod } from '@kubernetes/client-node';
import { nextRun } from '../api/cron.ts';
import { parseDuration } from '../api/duration.ts';
import type { ReprotectionStatus } from '../api/status.ts';
import type { ObjectActions } from '../k8s/actions.ts';
import { R } from '../k8s/resources.ts';
import { drive } from '../promotion/executor.ts';
import { lifecycleOf } from '../promotion/lifecycle.ts';
import { decideReprotect, type ReprotectDecision } from '../reprotect/decide.ts';
import { beginReprotection, reprotecting, REPROTECTION } from '../reprotect/machine.ts';
import { setsOf, standbyVolumesOf, type SidesInput } from '../reprotect/sides.ts';
import { byEngine, type HoldIO, type LifecycleIO } from '../reprotect/engine.ts';
import { reprotectSteps } from '../reprotect/steps.ts';
import { ANNOTATION_REPROTECT, runId } from '../site/names.ts';
import { applyRetention } from '../snapshot/retention.ts';
import { buildSnapshot } from '../snapshot/take.ts';
import { snapshotClass } from '../reprotect/sides.ts';
import { actuator } from './actuator.ts';
import type { ReconcileContext } from './context.ts';
import { patchStatus, writeRecord } from './records.ts';

export interface ReprotectOutcome {
  decision: ReprotectDecision;
  reprotection: ReprotectionStatus | undefined;
  acted: boolean;
}

/** Why this site cannot re-protect at all, if so (its tier and engine), with what to do. */
export function reprotectUnsupported(i: SidesInput): string | undefined {
  const { site } = i;
  if (site.spec.tier === 'hot') {
    if (site.spec.engine.type === 'generic' && !site.spec.engine.generic?.reprotectJobTemplate) {
      return 'the generic engine cannot make the old primary follow a hot standby by itself: set engine.generic.reprotectJobTemplate (a Job that makes your application follow the standby), then annotate standby.dev/reprotect=<token>';
    }
    if (site.spec.engine.type === 'postgresql' && site.spec.primary.cluster !== undefined) {
      // pg_rewind runs on the old primary's volumes, in its cluster, where the remote Role starts no Jobs.
      return "re-protection of a PostgreSQL primary in another cluster is not supported yet: the old primary's volumes are in its cluster, where this operator runs no Jobs; rebuild it there as a standby of the promoted one yourself";
    }
    if (site.spec.engine.type !== 'generic') {
      if (!byEngine(i)) return `re-protection of the hot tier is not supported by the ${site.spec.engine.type} engine`;
      // The old primary's volumes are rewound: a copy of them is kept first, or nothing starts.
      if (!i.snapshotsInstalled) {
        return `re-protection keeps a VolumeSnapshot of the old primary's volumes before the ${site.spec.engine.type} engine rewinds them (snapshot.storage.k8s.io/v1), which this cluster does not serve: install the CSI snapshot CRDs and controller`;
      }
    }
  } else if (!i.snapshotsInstalled) {
    return 're-protection of the warm and cold tiers keeps snapshots of the serving standby (snapshot.storage.k8s.io/v1), which this cluster does not serve: install the CSI snapshot CRDs and controller';
  }
  return undefined;
}

export async function runReprotect(rc: ReconcileContext, sides: SidesInput): Promise<ReprotectOutcome | undefined> {
  const { site, deps: d } = rc;
  const { spec } = site;
  const prev = rc.current.status ?? {};
  const lifecycle = lifecycleOf(prev);
  const token = site.metadata.annotations?.[ANNOTATION_REPROTECT]?.trim();
  const request = token && token !== prev.handledReprotectToken ? token : undefined;
  const replicas = sides.primary?.spec?.replicas ?? 0;
  const held = prev.primaryHeld !== undefined;
  const oldSideBack =
    spec.promotion.fencing === 'scaleDown' ? replicas > 0 && !held : sides.primaryPods.some((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  const decision = decideReprotect({
    lifecycle,
    mode: spec.promotion.reprotect,
    request,
    isLeader: d.isLeader(),
    oldSideBack,
    oldSideState:
      spec.promotion.fencing === 'scaleDown'
        ? `the primary workload has ${replicas} replicas`
        : `${sides.primaryPods.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length} of the old primary's ${sides.primaryPods.length} pod(s) Ready`,
    unsupported: reprotectUnsupported(sides),
  });
  let r = lifecycle.reprotection;
  if (decision.action === 'refuse' && request && d.isLeader()) {
    if (!(await writeRecord(rc, 'reprotection', r ?? {}, { handledReprotectToken: request }))) return undefined;
    await d.events.record(rc.current, 'Warning', 'ReprotectRefused', `standby.dev/reprotect=${request}: ${decision.message}`);
    return { decision, reprotection: r, acted: false };
  }
  if (decision.action === 'start') {
    const began = beginReprotection(rc.now(), decision.of, decision.trigger, decision.token);
    if (!(await writeRecord(rc, 'reprotection', began, decision.token ? { handledReprotectToken: decision.token } : {}))) return undefined;
    r = began;
    rc.log.warn({ of: decision.of, reason: decision.reason }, 're-protection started');
    await d.events.record(rc.current, 'Normal', 'ReprotectStarted', `re-protecting: ${decision.reason}`);
  }
  if (!reprotecting(r) || !d.isLeader()) return { decision, reprotection: r, acted: false };
  const hold: HoldIO = {
    set: (h) => patchStatus(rc, { primaryHeld: h }),
    clear: () => patchStatus(rc, { primaryHeld: null }),
  };
  const result = await drive(r, reprotectSteps(sides, r, actuator(d, site), { io: lifecycleIO(rc), hold }), {
    procedure: REPROTECTION,
    now: () => rc.now(),
    stepTimeoutMs: parseDuration(spec.promotion.stepTimeout) ?? 300_000,
    write: (x) => writeRecord(rc, 'reprotection', x),
    resumedAt: (x) => rc.memory.firstDriven(`${rc.key}/reprotect`, x),
    afterTransition: (from, to) => void afterTransition(rc, from, to),
    sequential: d.exitAfterStep !== undefined,
  });
  if (result.conflict) return undefined;
  if (result.waitingFor) {
    rc.log.info({ step: result.record.state, waitingFor: result.waitingFor }, 're-protection step waiting');
    rc.after(1000);
  }
  return { decision, reprotection: result.record, acted: true };
}

/** The engine's reads, and the termination messages of a Job's pods (where an engine's Job reports). */
export function lifecycleIO(rc: ReconcileContext): LifecycleIO {
  return {
    engine: rc.deps.engineIO,
    async jobMessages(job: string): Promise<string[]> {
      const pods = await rc.deps.client.list<V1Pod>(R.pod, rc.site.metadata.namespace, { labelSelector: `job-name=${job}` });
      const out: string[] = [];
      for (const p of pods.items) {
        for (const c of p.status?.containerStatuses ?? []) {
          const m = c.state?.terminated?.message ?? c.lastState?.terminated?.message;
          if (m) out.push(m);
        }
      }
      return out;
    },
  };
}

async function afterTransition(rc: ReconcileContext, from: string, to: ReprotectionStatus): Promise<void> {
  const d = rc.deps;
  if (d.exitAfterStep === `reprotect:${from}`) {
    process.stderr.write(`exiting after re-protection step ${from} (test hook)\n`);
    process.exit(75);
  }
  const tier = rc.site.spec.tier;
  if (from === 'Preserving' && to.divergence?.description) {
    await d.events.record(rc.current, 'Normal', 'DivergenceKept', to.divergence.description);
  }
  if (from === 'Seeding' && to.report) await d.events.record(rc.current, 'Normal', 'ReprotectCopied', `${to.of === 'standby' ? 'the standby' : 'the old primary'}: ${to.report}`);
  if (to.state === 'Protected') {
    d.metrics?.reprotections.inc({ tier, result: 'Protected' });
    if (to.durationSeconds !== undefined) d.metrics?.reprotectSeconds.observe({ tier }, to.durationSeconds);
    const who = to.of === 'standby' ? 'the standby follows the primary again' : 'the old primary follows the serving standby';
    rc.log.warn({ of: to.of, durationSeconds: to.durationSeconds }, `re-protection complete: ${who}`);
    await d.events.record(rc.current, 'Normal', 'Reprotected', `${who}; re-protection took ${to.durationSeconds ?? '?'}s`);
  } else if (to.state === 'Failed') {
    d.metrics?.reprotections.inc({ tier, result: 'Failed' });
    rc.log.error({ message: to.message }, 're-protection failed');
    await d.events.record(rc.current, 'Warning', 'ReprotectFailed', to.message ?? 're-protection failed');
  }
}

/**
 * While the standby serves and the old primary follows it by copies (warm, cold): a snapshot set
 * of the standby's volumes on the tier's schedule (role reverse), the newest two kept, besides a
 * failback's final set. Pure decision, idempotent writes; errors are the reconcile's to report.
 */
export async function keepReverseCopies(rc: ReconcileContext, sides: SidesInput, act: ObjectActions = actuator(rc.deps, rc.site)): Promise<Date | undefined> {
  const { site } = rc;
  const schedule = site.spec.tier === 'warm' ? site.spec.warm : site.spec.tier === 'cold' ? site.spec.cold : undefined;
  if (!schedule || !sides.snapshotsInstalled) return undefined;
  const volumes = standbyVolumesOf(sides.standby, sides.primary);
  if (volumes.length === 0) return undefined;
  const sets = setsOf(sides, 'reverse', volumes);
  const newest = sets.find((s) => s.ready);
  const now = rc.now();
  const last = sets[0];
  const due = last ? nextRun(schedule.schedule, schedule.timeZone, last.time) : now;
  if (!schedule.suspend && due && due.getTime() <= now.getTime()) {
    const run = `reverse-${runId(now)}`;
    for (const v of volumes) await act.ensure(buildSnapshot(site, v, run, snapshotClass(site), 'reverse'));
  } else if (due) {
    rc.after(due.getTime() - now.getTime() + 1000);
  }
  // Retention: the newest two sets (a failback's final set is newer than any, and kept with them).
  const keep = applyRetention(sets.filter((s) => !s.run.startsWith('final-')), { keepLast: 2 }, now, 2 * 3_600_000);
  const doomed = new Set(keep.delete);
  for (const s of sets) {
    if (!doomed.has(s.run)) continue;
    for (const name of s.names) await rc.deps.client.delete(R.volumeSnapshot, site.metadata.namespace, name);
  }
  return newest?.time;
}

// The Promoting step: the standby takes over, as its tier does it. hot: the engine's promote Job
// (or the user's) on the running standby; warm: the standby scaled up on its copy; cold: the
// newest ready snapshot set (or dump) restored into fresh claims, and a standby started on them.
import type { V1Job, V1PersistentVolumeClaim, V1Pod, V1Service } from '@kubernetes/client-node';
import type { StandbySite } from '../api/site.ts';
import type { PromotionStatus } from '../api/status.ts';
import type { CopyRun } from '../copies/inventory.ts';
import { newestSucceeded } from '../copies/jobs.ts';
import type { Engine, EngineContext } from '../engines/engine.ts';
import { asPodTemplate } from '../engines/generic.ts';
import type { ObjectActions } from '../k8s/actions.ts';
import { ensureJob } from '../k8s/jobs.ts';
import { ANNOTATION_COMPLETE, ANNOTATION_DATA_TIME, ANNOTATION_RUN, ANNOTATION_VOLUME, names, type Role } from '../site/names.ts';
import { DONE, failed, waiting, type StepResult } from '../site/step.ts';
import { claimsOf, isPodReady, type PrimaryVolume, type Workload } from '../site/workload.ts';
import { newestReadySet, type SnapshotSet } from '../snapshot/sets.ts';
import { restoreClaims } from '../tiers/cold.ts';
import { buildJob, COPY_JOB_DEADLINE_SECONDS } from '../tiers/jobs.ts';
import { standbyFor } from '../tiers/standby-workload.ts';
import { standsByReduced } from '../tiers/reduced.ts';
import { promotionId } from './machine.ts';

/** What taking over reads: the site's objects as observed, its copies, the running promotion. */
export interface TakeOverInput {
  site: StandbySite;
  engine: Engine;
  operatorImage: string;
  now: Date;
  promotion: PromotionStatus | undefined;
  primary: Workload | undefined;
  primaryService: V1Service | undefined;
  volumes: readonly PrimaryVolume[];
  primaryClaims: ReadonlyMap<string, V1PersistentVolumeClaim>;
  standby: Workload | undefined;
  standbyPods: readonly V1Pod[];
  jobs: readonly V1Job[];
  runs: readonly CopyRun[];
  sets: readonly SnapshotSet[];
  /** Label keys Services of the namespace select on (see standbyPodTemplate). */
  serviceLabelKeys: ReadonlySet<string>;
}

export function takeOver(i: TakeOverInput, act: ObjectActions): Promise<StepResult> {
  switch (i.site.spec.tier) {
    case 'hot':
      return promoteHot(i, act);
    case 'warm':
      // The recorded copy, not what the live standby mounts (it may be missing for a moment).
      return startStandby(i, act, i.promotion?.copy?.claims, i.promotion?.copy?.run);
    case 'cold':
      return restoreCold(i, act);
  }
}

function engineContext(i: TakeOverInput): EngineContext | undefined {
  if (!i.primary) return undefined;
  const { site, primary, primaryService, volumes, operatorImage } = i;
  return { site, tier: site.spec.tier, primary, primaryService, volumes, operatorImage };
}

const standbyReady = (i: TakeOverInput) => i.standbyPods.some(isPodReady);

async function promoteHot(i: TakeOverInput, act: ObjectActions): Promise<StepResult> {
  if (!standbyReady(i)) return waiting('the hot standby has no Ready pod');
  const ctx = engineContext(i);
  const template = ctx ? i.engine.promoteTemplate(ctx) : asPodTemplate(i.site.spec.engine.generic?.promoteJobTemplate);
  if (!template) return DONE;
  return runStepJob(i, act, names.promoteJob(i.site.metadata.name, promotionId(i.promotion)), 'promote', template, {});
}

/** Runs a one-off Job of this promotion to completion, idempotently. */
async function runStepJob(
  i: TakeOverInput,
  act: ObjectActions,
  name: string,
  role: Role,
  template: NonNullable<ReturnType<Engine['promoteTemplate']>>,
  claims: Record<string, string>,
): Promise<StepResult> {
  const outcome = await ensureJob(
    act,
    buildJob(i.site, { name, role, template, claims, backoffLimit: 2, activeDeadlineSeconds: COPY_JOB_DEADLINE_SECONDS }),
  );
  if (outcome.succeeded) return DONE;
  if (outcome.failed) return failed(`Job ${name} failed: ${outcome.message}`);
  return waiting(`Job ${name} to complete`);
}

/** Scales the standby up on the given copy (or the one it mounts) and waits for a Ready pod. */
async function startStandby(i: TakeOverInput, act: ObjectActions, claims: Record<string, string> | undefined, run?: string): Promise<StepResult> {
  const { site } = i;
  if (i.primary) {
    const mounted = claims ?? claimsOf(i.standby?.spec?.template);
    if (Object.keys(mounted).length === 0 && i.volumes.length > 0) return failed('no standby copy exists to start the standby on');
    const { site, engine, operatorImage, primary, primaryService, volumes } = i;
    // It starts as it stood by (reduced, if so): it grows after the switch (the Growing step).
    const reduced = standsByReduced(site.spec, site.status.active ?? 'primary', i.promotion?.state, i.promotion?.growth);
    const workload = standbyFor({ site, engine, operatorImage, primary, primaryService, volumes, avoidLabels: i.serviceLabelKeys, reduced }, 1, { kind: 'claims', claims: mounted });
    if (run) workload.metadata = { ...workload.metadata, annotations: { ...workload.metadata?.annotations, [ANNOTATION_RUN]: run } };
    await act.apply(workload);
  } else if (i.standby) {
    if ((i.standby.spec?.replicas ?? 0) < 1) {
      await act.patch(i.standby.kind ?? '', site.metadata.namespace, i.standby.metadata?.name ?? '', { spec: { replicas: 1 } });
    }
  } else {
    return failed('neither the primary workload (to copy its pod template) nor a standby workload exists');
  }
  return standbyReady(i) ? DONE : waiting('the standby to have a Ready pod');
}

async function restoreCold(i: TakeOverInput, act: ObjectActions): Promise<StepResult> {
  const { site } = i;
  const cold = site.spec.cold!;
  const id = promotionId(i.promotion);
  // Only the copy this promotion recorded when it began (the newest ready set then, or its
  // restore Job's): a set that appears later, or a complete copy left from an earlier warm tier,
  // is never what it restores. (A promotion recorded before copies were: the newest ready set.)
  const rec = i.promotion?.copy;
  const newest = newestReadySet(i.sets);
  const ours = rec ? new Set([rec.run]) : new Set([`restore-${id}`, ...(newest ? [newest.run] : [])]);
  const restored = i.runs.find((r) => r.complete && ours.has(r.run));
  if (restored) return startStandby(i, act, restored.claims, restored.run);
  const claimsIn = { site, volumes: i.volumes, primaryClaims: i.primaryClaims };
  if (cold.method === 'volumeSnapshot') {
    const set = rec ? i.sets.find((s) => s.run === rec.run && s.ready) : newest;
    if (!set) {
      // Restored already (the claims exist, still binding): start on them; else nothing to restore.
      if (rec && Object.values(rec.claims).every((c) => act.cached('PersistentVolumeClaim', site.metadata.namespace, c))) {
        return startStandby(i, act, rec.claims, rec.run);
      }
      return failed(rec ? `the snapshot set ${rec.run} this promotion began with is no longer ready or gone` : 'no ready snapshot set exists to restore');
    }
    const pvcs = restoreClaims({ ...claimsIn, run: set.run, set });
    for (const pvc of pvcs) await act.ensure(pvc);
    return startStandby(i, act, byVolume(pvcs), set.run);
  }
  // method job or engine: fresh volumes, filled by the restore Job.
  const ctx = engineContext(i);
  const template = cold.method === 'job' ? asPodTemplate(cold.restoreJobTemplate) : ctx && i.engine.restoreTemplate(ctx);
  if (!template) return failed(`the ${site.spec.engine.type} engine has no restore for method ${cold.method}`);
  const run = rec?.run ?? `restore-${id}`;
  const pvcs = restoreClaims({ ...claimsIn, run });
  for (const pvc of pvcs) await act.ensure(pvc);
  const claims = byVolume(pvcs);
  const job = await runStepJob(i, act, names.restoreJob(site.metadata.name, id), 'restore', template, claims);
  if (!job.done) return job;
  const dataTime = newestSucceeded(i.jobs, ['snapshot'])?.started ?? i.now;
  for (const name of Object.values(claims)) {
    await act.patch('PersistentVolumeClaim', site.metadata.namespace, name, {
      metadata: { annotations: { [ANNOTATION_COMPLETE]: 'true', [ANNOTATION_DATA_TIME]: dataTime.toISOString() } },
    });
  }
  return startStandby(i, act, claims, run);
}

/** Claim names by the primary volume they copy. */
function byVolume(pvcs: readonly V1PersistentVolumeClaim[]): Record<string, string> {
  return Object.fromEntries(pvcs.map((p) => [p.metadata?.annotations?.[ANNOTATION_VOLUME] ?? '', p.metadata?.name ?? '']));
}

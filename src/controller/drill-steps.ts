// The steps of a drill against the cluster (Copying, Starting, Verifying): each reports what it
// found out, and the driver (drill.ts) writes the transition. One function per step; the objects
// come from the pure builders of src/drill/objects.ts.
import type { V1Pod, V1PodTemplateSpec } from '@kubernetes/client-node';
import type { DrillStatus } from '../api/status.ts';
import { asPodTemplate } from '../engines/generic.ts';
import type { ObjectActions } from '../k8s/actions.ts';
import { ensureJob } from '../k8s/jobs.ts';
import { R } from '../k8s/resources.ts';
import { toDate } from '../k8s/types.ts';
import { secondsLeft } from '../drill/machine.ts';
import { buildDrillJob, buildDrillPolicy, buildDrillSnapshot, buildScratchClaim, buildScratchWorkload, drillEnv, drillNames } from '../drill/objects.ts';
import { restoreTemplateOf } from '../drill/plan.ts';
import { LABEL_DRILL, LABEL_DRILL_PART } from '../site/names.ts';
import { isPodReady, type PrimaryVolume } from '../site/workload.ts';
import type { ReconcileContext } from './context.ts';
import type { DrillInput } from './drill.ts';

/** What a step found out: done (with what it learned), waiting for something, or failed for good. */
export type Step = { done: true; learned?: Partial<DrillStatus> } | { done: false; waitingFor: string; failed?: string; learned?: Partial<DrillStatus> };

export const done = (learned?: Partial<DrillStatus>): Step => ({ done: true, ...(learned ? { learned } : {}) });
export const waiting = (what: string, learned?: Partial<DrillStatus>): Step => ({ done: false, waitingFor: what, ...(learned ? { learned } : {}) });
export const failed = (why: string): Step => ({ done: false, waitingFor: '', failed: why });

export interface StepContext {
  rc: ReconcileContext;
  i: DrillInput;
  act: ObjectActions;
  timeoutMs: number;
  names: ReturnType<typeof drillNames>;
}

export const STEPS: Record<DrillStatus['state'], (c: StepContext, d: DrillStatus) => Promise<Step>> = {
  Copying: copying,
  Starting: starting,
  Verifying: verifying,
};

async function copying(c: StepContext, d: DrillStatus): Promise<Step> {
  // Isolated before anything of it runs.
  await c.act.ensure(buildDrillPolicy(c.rc.site, d.id));
  switch (d.method) {
    case 'cloneStandby':
    case 'cloneCopy':
      return cloneVolumes(c, d);
    case 'restoreSnapshots':
      return restoreSnapshots(c, d);
    case 'restoreJob':
      return fillByJob(c, d, 'restore');
    case 'copyJob':
      return fillByJob(c, d, 'copy');
  }
}

/** The primary volume of a name (for the size of its scratch claim), even if the primary changed since. */
function primaryVolume(c: StepContext, volume: string): PrimaryVolume {
  return c.i.obs.volumes.find((v) => v.volume === volume) ?? { volume, claim: '' };
}

/** The volumes of the drill's scratch copy: those it recorded, else the primary's. */
function scratchVolumes(c: StepContext, d: DrillStatus): string[] {
  return d.volumes?.length ? d.volumes.map((v) => v.volume) : c.i.obs.volumes.map((v) => v.volume);
}

async function ensureScratchClaims(c: StepContext, d: DrillStatus, fromSnapshot: (volume: string) => string | undefined): Promise<Record<string, string>> {
  const claims: Record<string, string> = {};
  for (const volume of scratchVolumes(c, d)) {
    const v = primaryVolume(c, volume);
    const pvc = buildScratchClaim(c.rc.site, d.id, v, c.i.obs.primaryClaims.get(v.claim), fromSnapshot(volume));
    await c.act.ensure(pvc);
    claims[volume] = pvc.metadata?.name ?? '';
  }
  return claims;
}

const cachedKey = (c: StepContext, name: string) => `${c.rc.site.metadata.namespace}/${name}`;

/** hot (the standby's claims) and warm (the newest copy's): snapshot each source, then clone the snapshots. */
async function cloneVolumes(c: StepContext, d: DrillStatus): Promise<Step> {
  const { site } = c.rc;
  const caches = c.rc.deps.caches;
  const className = site.spec.tier === 'warm' ? site.spec.warm?.volumeSnapshotClassName : undefined;
  let oldest: Date | undefined;
  const pending: string[] = [];
  for (const v of d.volumes ?? []) {
    const snap = buildDrillSnapshot(site, d.id, v.volume, v.source, className);
    const name = snap.metadata?.name ?? '';
    let live = caches.snapshots.get(cachedKey(c, name));
    if (!live) {
      if (!caches.pvcs.get(cachedKey(c, v.source))) return failed(`the claim ${v.source} to snapshot is gone`);
      live = await c.act.ensure(snap);
    }
    if (live.status?.error?.message) return failed(`VolumeSnapshot ${name} of ${v.source} failed: ${live.status.error.message}`);
    if (live.status?.readyToUse !== true) {
      pending.push(name);
      continue;
    }
    const t = toDate(live.status.creationTime) ?? toDate(live.metadata?.creationTimestamp);
    if (t && (!oldest || t < oldest)) oldest = t;
  }
  if (pending.length) return waiting(`VolumeSnapshot(s) ${pending.join(', ')} to be ready`);
  const snapshots = new Map((d.volumes ?? []).map((v) => [v.volume, c.names.volume(v.volume)]));
  await ensureScratchClaims(c, d, (volume) => snapshots.get(volume));
  // hot: the standby's data at the snapshot, less the lag it had; warm: the copy's (known at the start).
  const dataTime =
    d.method === 'cloneStandby' ? new Date((oldest ?? c.rc.now()).getTime() - (d.lagSeconds ?? 0) * 1000).toISOString() : d.dataTime;
  return done(dataTime ? { dataTime } : {});
}

/** cold, method volumeSnapshot: new claims from the newest ready set (retention keeps it meanwhile). */
async function restoreSnapshots(c: StepContext, d: DrillStatus): Promise<Step> {
  const caches = c.rc.deps.caches;
  for (const v of d.volumes ?? []) {
    const restored = caches.pvcs.get(cachedKey(c, c.names.volume(v.volume)));
    if (!restored && !caches.snapshots.get(cachedKey(c, v.source))) return failed(`VolumeSnapshot ${v.source} of set ${d.sourceRun ?? '?'} is gone`);
  }
  const sources = new Map((d.volumes ?? []).map((v) => [v.volume, v.source]));
  await ensureScratchClaims(c, d, (volume) => sources.get(volume));
  return done();
}

/** cold method job/engine (the restore Job), or hot with an engine that copies the standby (its copy Job). */
async function fillByJob(c: StepContext, d: DrillStatus, kind: 'restore' | 'copy'): Promise<Step> {
  const { site } = c.rc;
  const { engine, engineCtx } = c.i;
  const template = kind === 'copy' ? (engineCtx ? engine.drillCopyTemplate?.(engineCtx) : undefined) : restoreTemplateOf({ spec: site.spec, engine, engineCtx });
  if (!template) return failed(`the ${site.spec.engine.type} engine has no ${kind} Job for this site`);
  const claims = await ensureScratchClaims(c, d, () => undefined);
  const name = kind === 'copy' ? c.names.copyJob : c.names.restoreJob;
  const out = await ensureJob(
    c.act,
    buildDrillJob(site, {
      name,
      id: d.id,
      template,
      claims,
      env: drillEnv({ site, id: d.id, dataTime: d.dataTime }),
      // As a promotion's restore Job retries; a copy of a running standby that fails twice is a failure.
      backoffLimit: kind === 'restore' ? 2 : 1,
      activeDeadlineSeconds: secondsLeft(d, c.rc.now(), c.timeoutMs),
    }),
  );
  if (out.failed) return failed(`Job ${name} failed: ${out.message}`);
  if (!out.succeeded) return waiting(`Job ${name} to complete`);
  // copy: the standby's data when the copy began, less the lag it had; restore: the dump's time (known at the start).
  const dataTime = kind === 'copy' ? new Date((out.started ?? c.rc.now()).getTime() - (d.lagSeconds ?? 0) * 1000).toISOString() : d.dataTime;
  return done(dataTime ? { dataTime } : {});
}

/** The drill's Ready scratch pod, if any. */
function scratchPod(c: StepContext, d: DrillStatus): V1Pod | undefined {
  return c.rc.deps.caches.pods
    .byIndex('site', c.rc.key)
    .find((p) => p.metadata?.labels?.[LABEL_DRILL] === d.id && p.metadata.labels[LABEL_DRILL_PART] === 'scratch' && isPodReady(p));
}

async function starting(c: StepContext, d: DrillStatus): Promise<Step> {
  const { site } = c.rc;
  const { obs, engine } = c.i;
  if (!obs.primary) return failed('the primary workload is gone: its pod template is what the scratch copy runs');
  const claims = Object.fromEntries(scratchVolumes(c, d).map((v) => [v, c.names.volume(v)]));
  const { primary, primaryService, volumes } = obs;
  await c.act.ensure(buildScratchWorkload({ site, engine, operatorImage: c.rc.deps.operatorImage, primary, primaryService, volumes }, d.id, claims));
  if (!scratchPod(c, d)) return waiting('a scratch pod to be Ready');
  // When the operator saw it Ready (a pod's own transition time has whole seconds only).
  return done({ readyAt: c.rc.now().toISOString() });
}

/** The engine's check, then the user's (spec.drill.verify), each a Job that may reach the scratch pod. */
async function verifying(c: StepContext, d: DrillStatus): Promise<Step> {
  const { site } = c.rc;
  const { engine, engineCtx } = c.i;
  const pod = scratchPod(c, d);
  if (!pod) return waiting('the scratch pod to be Ready again');
  const env = drillEnv({ site, id: d.id, host: pod.status?.podIP, dataTime: d.dataTime });
  const learned: Partial<DrillStatus> = {};
  const engineCheck = engineCtx ? engine.verifyTemplate?.(engineCtx) : undefined;
  if (!engineCheck && !d.verifiedAt) learned.verifiedAt = d.readyAt ?? c.rc.now().toISOString();
  const checks: { name: string; template: V1PodTemplateSpec; engine: boolean }[] = [];
  if (engineCheck) checks.push({ name: c.names.checkJob, template: engineCheck, engine: true });
  const user = asPodTemplate(site.spec.drill?.verify?.jobTemplate);
  if (user) checks.push({ name: c.names.verifyJob, template: user, engine: false });
  for (const check of checks) {
    const out = await ensureJob(
      c.act,
      buildDrillJob(site, {
        name: check.name,
        id: d.id,
        part: 'verify',
        template: check.template,
        env,
        backoffLimit: 0,
        activeDeadlineSeconds: secondsLeft(d, c.rc.now(), c.timeoutMs),
      }),
    );
    if (out.failed) return failed(`verification Job ${check.name} failed: ${out.message || 'see its pod'}`);
    if (!out.succeeded) return waiting(`verification Job ${check.name} to complete`, learned);
    if (check.engine && !d.verifiedAt) {
      learned.verifiedAt = c.rc.now().toISOString();
      const commit = await newestCommit(c, check.name);
      if (commit) learned.newestCommitTime = commit;
    }
  }
  return done(learned);
}

/** The newest commit the engine's check reported in its termination message (`newest-commit=<time>`), if any. */
async function newestCommit(c: StepContext, job: string): Promise<string | undefined> {
  try {
    const pods = await c.rc.deps.client.list<V1Pod>(R.pod, c.rc.site.metadata.namespace, { labelSelector: `job-name=${job}` });
    for (const p of pods.items) {
      for (const s of p.status?.containerStatuses ?? []) {
        const m = /newest-commit=(\S+)/.exec(s.state?.terminated?.message ?? '');
        const t = m ? toDate(m[1]) : undefined;
        if (t && !Number.isNaN(t.getTime())) return t.toISOString();
      }
    }
  } catch (err) {
    c.rc.log.info({ err: (err as Error).message }, 'could not read the drill check pod');
  }
  return undefined;
}


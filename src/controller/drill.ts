// The drill driver of one reconcile. src/drill/ decides (when a drill is due, whether it may
// start, what it restores, its state machine and record); this runs its steps against the cluster
// and writes each transition with the site's resourceVersion as precondition, so that it happens
// exactly once. Scratch objects are found by label, so whatever a drill leaves behind (it ended,
// it was aborted, the operator restarted half way) is removed by the next reconcile.
import type { V1Pod, V1PodTemplateSpec } from '@kubernetes/client-node';
import { formatDuration, parseDuration } from '../api/duration.ts';
import type { Condition, DrillRecord, DrillStatus, DrillTrigger, PromotionStatus, SiteStatus } from '../api/status.ts';
import type { Engine, EngineContext } from '../engines/engine.ts';
import { asPodTemplate } from '../engines/generic.ts';
import type { ObjectActions } from '../k8s/actions.ts';
import { ensureJob } from '../k8s/jobs.ts';
import { resourceOfKind } from '../k8s/resources.ts';
import { toDate } from '../k8s/types.ts';
import { R } from '../k8s/resources.ts';
import { drillMayStart, drillMustAbort } from '../drill/gate.ts';
import { lifecycleOf } from '../promotion/lifecycle.ts';
import { patchStatus } from './records.ts';
import { inProgress } from '../promotion/machine.ts';
import { reprotecting } from '../reprotect/machine.ts';
import { advance, begin, finish, overdue, secondsLeft } from '../drill/machine.ts';
import {
  buildDrillJob,
  buildDrillPolicy,
  buildDrillSnapshot,
  buildScratchClaim,
  buildScratchWorkload,
  drillEnv,
  drillNames,
} from '../drill/objects.ts';
import { planDrill, restoreTemplateOf } from '../drill/plan.ts';
import { drillCondition, drillFieldsOf, recordPatch, recorded, type DrillCondition, type DrillFields } from '../drill/record.ts';
import { drillRequest, drillSchedule } from '../drill/trigger.ts';
import { ANNOTATION_DRILL, LABEL_DRILL, LABEL_DRILL_PART, LABEL_ROLE } from '../site/names.ts';
import { ownershipOf } from '../site/ownership.ts';
import { isPodReady, type PrimaryVolume } from '../site/workload.ts';
import { actuator } from './actuator.ts';
import { mergeConditions } from './conditions.ts';
import { informerOfKind } from './caches.ts';
import type { ReconcileContext } from './context.ts';
import type { Observed, SiteFacts } from './facts.ts';
import type { SiteMemory } from './memory.ts';

export interface DrillInput {
  obs: Observed;
  facts: SiteFacts;
  engine: Engine;
  engineCtx: EngineContext | undefined;
  /** The running or last promotion, after this reconcile's promotion part. */
  promotion: PromotionStatus | undefined;
}

/** What the site's status says of drills after this reconcile (status.ts carries it into the one status write). */
export interface DrillView {
  fields: DrillFields;
  condition: DrillCondition;
}

const DEFAULT_TIMEOUT_MS = 15 * 60_000;
const RESTARTED =
  'the operator restarted (or another replica took over) during the drill: its RTO would include the restart, so it is not measured; its scratch objects are removed';

/** Kinds a drill makes, where cleanup looks for them (by label; data of the site's own is never among them). */
const DRILL_KINDS = ['StatefulSet', 'Deployment', 'Job', 'PersistentVolumeClaim', 'VolumeSnapshot', 'NetworkPolicy'] as const;

/**
 * The drills this process started, per reconciler (kept beside its SiteMemory, not in it, so the
 * drill's room stays its own). A running drill not among them was begun by a process that is gone.
 */
const started = new WeakMap<SiteMemory, Set<string>>();

function startedBy(rc: ReconcileContext): Set<string> {
  let set = started.get(rc.memory);
  if (!set) started.set(rc.memory, (set = new Set()));
  return set;
}

const knownKey = (rc: ReconcileContext, id: string) => `${rc.key}/${id}`;

/** The drill part of a reconcile of a site that may act: stop, drive, start, clean up. */
export async function runDrill(rc: ReconcileContext, i: DrillInput): Promise<DrillView> {
  let pending: DrillFields = {};
  if (rc.deps.isLeader()) {
    try {
      pending = await act(rc, i);
    } catch (err) {
      rc.errors.push(`drill: ${(err as Error).message}`);
      rc.after(5000);
    }
  }
  return drillView(rc, pending);
}

/** The drill part of a site that does nothing (blocked): what status says of drills, unchanged. */
export function drillView(rc: ReconcileContext, pending: DrillFields = {}): DrillView {
  const fields = { ...drillFieldsOf(rc.current.status ?? {}), ...pending };
  const { condition, recheckInMs } = drillCondition({ ...rc.current.status, ...fields }, rc.site.spec.drill, rc.now());
  rc.after(recheckInMs);
  return { fields, condition };
}

async function act(rc: ReconcileContext, i: DrillInput): Promise<DrillFields> {
  const { site } = rc;
  const spec = site.spec;
  const now = rc.now();
  const prev = rc.current.status ?? {};
  const pending: DrillFields = {};
  const timeoutMs = parseDuration(spec.drill?.timeout ?? '15m') ?? DEFAULT_TIMEOUT_MS;
  const active = prev.active ?? 'primary';
  let running = prev.drill;
  // After a failback status.promotion keeps the old failover's record: only the one in effect counts.
  const cycle = lifecycleOf(prev);
  const promotion = cycle.mode === 'forward' || cycle.mode === 'returning' ? undefined : i.promotion;
  const busy = inProgress(cycle.failback) ? 'a failback is in progress' : reprotecting(cycle.reprotection) ? 're-protection is in progress' : undefined;

  // A real failure (or a restart half way) ends a running drill before anything else.
  if (running) {
    const why = !startedBy(rc).has(knownKey(rc, running.id))
      ? RESTARTED
      : drillMustAbort({ promotion, active, primaryReady: i.facts.primary.ready, drillTier: running.tier, specTier: spec.tier });
    if (why) {
      if (!(await end(rc, running, 'Aborted', why))) return conflicted(rc);
      running = undefined;
    }
  }
  if (running) {
    const r = await drive(rc, i, running, timeoutMs);
    if (r === 'conflict') return conflicted(rc);
    running = r;
  }

  const request = drillRequest(site.metadata.annotations?.[ANNOTATION_DRILL], prev.handledDrillToken);
  const schedule = drillSchedule(spec.drill, toDate(prev.lastDrillScheduleTime), now);
  const gate = () =>
    drillMayStart({
      phase: prev.phase,
      active,
      promotion,
      primaryReady: i.facts.primary.ready,
      standby: i.facts.usability,
      running,
      busy,
    });
  // A manual drill started now stands for a schedule time that is due too.
  let startedNow = false;
  if (request) {
    const may = gate();
    const started = may.ok ? await start(rc, i, 'manual', request.token, schedule.due, timeoutMs) : may;
    if (started === 'conflict') return conflicted(rc);
    if (started.ok) {
      running = started.drill;
      startedNow = true;
    } else {
      pending.handledDrillToken = request.token;
      await rc.deps.events.record(rc.current, 'Warning', 'DrillRefused', `standby.dev/drill=${request.token}: no drill: ${started.reason}`);
    }
  }
  if (schedule.due && !startedNow) {
    const may = gate();
    const started = may.ok ? await start(rc, i, 'scheduled', undefined, schedule.due, timeoutMs) : may;
    if (started === 'conflict') return conflicted(rc);
    if (started.ok) running = started.drill;
    else await rc.deps.events.record(rc.current, 'Warning', 'DrillSkipped', `the drill scheduled for ${schedule.due.toISOString()} is skipped: ${started.reason}`);
  }
  if (schedule.missed) {
    await rc.deps.events.record(
      rc.current,
      'Warning',
      'DrillSkipped',
      `the drill scheduled for ${schedule.missed.toISOString()} was missed (the operator was not running); the next is at ${schedule.next?.toISOString() ?? 'no time'}`,
    );
  }
  // What the start write did not record already.
  const recordedSlot = rc.current.status?.lastDrillScheduleTime;
  if (schedule.lastScheduleTime && schedule.lastScheduleTime.toISOString() !== recordedSlot) pending.lastDrillScheduleTime = schedule.lastScheduleTime.toISOString();
  pending.nextDrillTime = schedule.next?.toISOString();
  if (schedule.next) rc.after(schedule.next.getTime() - now.getTime() + 1000);

  await removeLeftovers(rc, keptDrills(rc, running));
  if (running) rc.after(1000);
  return pending;
}

function conflicted(rc: ReconcileContext): DrillFields {
  rc.log.info('site changed during a drill transition; re-reading');
  rc.after(0);
  return {};
}

/** Ids of the drills whose objects stay: the running one, else the last one if it failed under keepFailed (until the next starts). */
function keptDrills(rc: ReconcileContext, running: DrillStatus | undefined): Set<string> {
  if (running) return new Set([running.id]);
  const last = rc.current.status?.lastDrill;
  return new Set(last?.result === 'Failed' && rc.site.spec.drill?.keepFailed ? [last.id] : []);
}

type Started = { ok: true; drill: DrillStatus | undefined } | { ok: false; reason: string };

/** Records a new drill (exactly once: precondition on the site) and runs its first steps. */
async function start(
  rc: ReconcileContext,
  i: DrillInput,
  trigger: DrillTrigger,
  token: string | undefined,
  slot: Date | undefined,
  timeoutMs: number,
): Promise<Started | 'conflict'> {
  const { site } = rc;
  const plan = planDrill({
    spec: site.spec,
    siteName: site.metadata.name,
    engine: i.engine,
    engineCtx: i.engineCtx,
    volumes: i.obs.volumes,
    standby: i.obs.standby,
    runs: i.facts.runs,
    sets: i.facts.sets,
    jobs: i.obs.jobs,
    snapshotsInstalled: rc.deps.caches.snapshots.installed,
  });
  if ('problem' in plan) return { ok: false, reason: plan.problem };
  const now = rc.now();
  const drill = begin({
    now,
    trigger,
    token,
    tier: site.spec.tier,
    method: plan.method,
    source: plan.source,
    sourceRun: plan.sourceRun,
    volumes: plan.volumes,
    dataTime: plan.dataTime,
    lagSeconds: rc.current.status?.standby?.lagSeconds,
  });
  const patch: Record<string, unknown> = { drill };
  if (token) patch.handledDrillToken = token;
  if (slot) patch.lastDrillScheduleTime = slot.toISOString();
  if (!(await patchStatus(rc, patch))) return 'conflict';
  startedBy(rc).add(knownKey(rc, drill.id));
  rc.log.info({ drill: drill.id, trigger, method: drill.method }, 'drill started');
  await rc.deps.events.record(
    rc.current,
    'Normal',
    'DrillStarted',
    `${trigger === 'manual' ? `standby.dev/drill=${token ?? ''}` : 'scheduled'} drill ${drill.id} of the ${drill.tier} tier: ${drill.message}; production objects are not touched`,
  );
  const r = await drive(rc, i, drill, timeoutMs);
  if (r === 'conflict') return 'conflict';
  return { ok: true, drill: r };
}

/** What a step found out: done (with what it learned), waiting for something, or failed for good. */
type Step = { done: true; learned?: Partial<DrillStatus> } | { done: false; waitingFor: string; failed?: string; learned?: Partial<DrillStatus> };

const done = (learned?: Partial<DrillStatus>): Step => ({ done: true, ...(learned ? { learned } : {}) });
const waiting = (what: string, learned?: Partial<DrillStatus>): Step => ({ done: false, waitingFor: what, ...(learned ? { learned } : {}) });
const failed = (why: string): Step => ({ done: false, waitingFor: '', failed: why });

interface StepContext {
  rc: ReconcileContext;
  i: DrillInput;
  act: ObjectActions;
  timeoutMs: number;
  names: ReturnType<typeof drillNames>;
}

/** Drives the drill's steps as far as they go now; the drill still running, undefined once it ended, or a conflict. */
async function drive(rc: ReconcileContext, i: DrillInput, first: DrillStatus, timeoutMs: number): Promise<DrillStatus | undefined | 'conflict'> {
  const c: StepContext = { rc, i, act: actuator(rc.deps, rc.site), timeoutMs, names: drillNames(rc.site.metadata.name, first.id) };
  let d = first;
  for (;;) {
    let step: Step;
    try {
      step = await STEPS[d.state](c, d);
    } catch (err) {
      step = waiting(`error: ${(err as Error).message}`);
    }
    const now = rc.now();
    if (step.done) {
      const learned = { ...d, ...step.learned };
      if (d.state === 'Verifying') return (await end(rc, learned, 'Passed', passedMessage(learned, now))) ? undefined : 'conflict';
      const next = advance(d, now, step.learned);
      if (!(await patchStatus(rc, { drill: next }))) return 'conflict';
      rc.log.info({ drill: d.id, from: d.state, to: next.state }, 'drill step done');
      d = next;
      continue;
    }
    if (step.failed) return (await end(rc, d, 'Failed', `${d.state} failed: ${step.failed}`)) ? undefined : 'conflict';
    if (overdue(d, now, timeoutMs)) {
      const why = `did not finish within ${formatDuration(timeoutMs)} (spec.drill.timeout): ${d.state} was waiting for ${step.waitingFor}`;
      return (await end(rc, d, 'Failed', why)) ? undefined : 'conflict';
    }
    // Waiting: what it waits for (and anything learned) goes on record when it changes.
    const next: DrillStatus = { ...d, ...step.learned, message: `${d.state}: waiting for ${step.waitingFor}` };
    if (JSON.stringify(next) !== JSON.stringify(d)) {
      if (!(await patchStatus(rc, { drill: next }))) return 'conflict';
      d = next;
    }
    return d;
  }
}

function passedMessage(d: DrillStatus, now: Date): string {
  const r = finish(d, now, 'Passed', '');
  const age = r.dataAgeSeconds !== undefined ? `, data age ${r.dataAgeSeconds}s` : '';
  const commit = d.newestCommitTime ? `; newest committed transaction in the copy: ${d.newestCommitTime}` : '';
  return `the scratch copy was Ready and verified ${r.rtoSeconds ?? '?'}s after the start (RTO)${age}${commit}`;
}

const STEPS: Record<DrillStatus['state'], (c: StepContext, d: DrillStatus) => Promise<Step>> = {
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

/** Ends the running drill with a record (one write, precondition on the site); then Events and metrics. */
async function end(rc: ReconcileContext, d: DrillStatus, result: DrillRecord['result'], message: string): Promise<boolean> {
  const record = finish(d, rc.now(), result, message);
  const prev = rc.current.status ?? {};
  const patch = recordPatch(prev, record);
  const conditions = withDrillPassed(rc, { ...prev, ...recorded(prev, record) });
  if (conditions) patch.conditions = conditions;
  if (!(await patchStatus(rc, patch))) return false;
  announce(rc, record);
  return true;
}

/**
 * The site's conditions with DrillPassed as status `after` implies, so that a drill's record and
 * its verdict land in one write (a reader never sees a passed drill under a stale DrillPassed).
 * Undefined while the site has no DrillPassed yet: the status write of the reconcile adds it.
 */
function withDrillPassed(rc: ReconcileContext, after: SiteStatus): Condition[] | undefined {
  const list = rc.current.status?.conditions;
  if (!list?.some((c) => c.type === 'DrillPassed')) return undefined;
  const now = rc.now();
  const [next] = mergeConditions(list, [drillCondition(after, rc.site.spec.drill, now).condition], rc.site.metadata.generation ?? 0, now);
  return list.map((c) => (c.type === 'DrillPassed' && next ? next : c));
}

function announce(rc: ReconcileContext, record: DrillRecord): void {
  startedBy(rc).delete(knownKey(rc, record.id));
  const tier = record.tier ?? rc.site.spec.tier;
  rc.deps.metrics?.drills.inc({ tier, result: record.result, trigger: record.trigger });
  const log = { drill: record.id, result: record.result, rtoSeconds: record.rtoSeconds, dataAgeSeconds: record.dataAgeSeconds };
  if (record.result === 'Passed') rc.log.info(log, 'drill passed');
  else rc.log.warn({ ...log, message: record.message }, `drill ${record.result.toLowerCase()}`);
  const kept = record.result === 'Failed' && rc.site.spec.drill?.keepFailed ? ' (its scratch objects are kept: spec.drill.keepFailed)' : '';
  void rc.deps.events.record(
    rc.current,
    record.result === 'Passed' ? 'Normal' : 'Warning',
    `Drill${record.result}`,
    `drill ${record.id}: ${record.message}${kept}`,
  );
}

/**
 * For a promotion about to start (promote.ts): the status patch that aborts a running drill in the
 * promotion's own start write, so the promotion waits for nothing; `recorded` once it landed.
 */
export function drillAbortForPromotion(rc: ReconcileContext, reason: string, now: Date): { patch: Record<string, unknown>; recorded: () => void } | undefined {
  const d = rc.current.status?.drill;
  if (!d) return undefined;
  const record = finish(d, now, 'Aborted', `a promotion began (${reason}): a real failure wins over a drill`);
  return { patch: recordPatch(rc.current.status ?? {}, record), recorded: () => announce(rc, record) };
}

/** Deletes the site's drill objects but those of the drills in `keep`; only what is the site's. */
async function removeLeftovers(rc: ReconcileContext, keep: ReadonlySet<string>): Promise<void> {
  const owner = { name: rc.site.metadata.name, uid: rc.site.metadata.uid };
  for (const kind of DRILL_KINDS) {
    const inf = informerOfKind(rc.deps.caches, kind);
    if (!inf || (kind === 'VolumeSnapshot' && !rc.deps.caches.snapshots.installed)) continue;
    for (const o of inf.byIndex('site', rc.key)) {
      const labels = o.metadata?.labels ?? {};
      if (labels[LABEL_ROLE] !== 'drill' || o.metadata?.deletionTimestamp) continue;
      const id = labels[LABEL_DRILL];
      if (id !== undefined && keep.has(id)) continue;
      if (!ownershipOf(o, owner).ours) continue;
      try {
        await rc.deps.client.delete(resourceOfKind(kind), o.metadata?.namespace, o.metadata?.name ?? '', { uid: o.metadata?.uid ?? '' });
        rc.log.debug({ kind, name: o.metadata?.name, drill: id }, 'removed a drill object');
      } catch (err) {
        rc.errors.push(`could not delete drill object ${kind} ${o.metadata?.name}: ${(err as Error).message}`);
      }
    }
  }
}

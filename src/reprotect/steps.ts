// The steps of a re-protection, per tier. `of` says which side is made a standby: the old
// primary after a failover (it follows the serving standby), or the standby after a failback
// (it follows the primary again).
//
//   Preserving  a snapshot set of the old side's volumes (role divergent), before anything
//               rewinds or overwrites them: what it alone held (written between the failure and
//               the fence) is never lost silently.
//   Seeding     hot: the engine's re-protect action, or the user's reprotectJobTemplate (of the
//               primary); the standby restarts on the new epoch (of the standby).
//               warm/cold: a first snapshot set of the serving standby's volumes (role reverse),
//               what a failback restores the primary from (of the primary); a forward copy now,
//               from the tier's own CronJob (of the standby).
//   Following   until the old side follows: its pods Ready (hot), the copy made (warm/cold).
import type { V1EnvVar, V1PodTemplateSpec } from '@kubernetes/client-node';
import type { ReprotectionStatus } from '../api/status.ts';
import { asPodTemplate } from '../engines/generic.ts';
import type { ObjectActions } from '../k8s/actions.ts';
import type { ReprotectReport } from '../engines/engine.ts';
import { ensureJob, jobOutcome } from '../k8s/jobs.ts';
import { toDate } from '../k8s/types.ts';
import { promotionId } from '../promotion/machine.ts';
import { LABEL_EPOCH, names } from '../site/names.ts';
import { DONE, doneWith, failed, waiting, type StepResult } from '../site/step.ts';
import { isPodReady, selectorOf, type Workload } from '../site/workload.ts';
import { buildJob, COPY_JOB_DEADLINE_SECONDS } from '../tiers/jobs.ts';
import { byEngine, contextOf, divergenceRecord, followVerdict, planSeed, reportNote, seedInput, type HoldIO, type LifecycleIO } from './engine.ts';
import { setsOf, snapshotSetStep, standbyVolumesOf, volumesOf, type SidesInput } from './sides.ts';

/** The reverse snapshot run a re-protection seeds with. */
export function seedRun(r: ReprotectionStatus): string {
  return `reverse-${promotionId(r)}`;
}

function oldSide(i: SidesInput, r: ReprotectionStatus): Workload | undefined {
  return r.of === 'standby' ? i.standby : i.primary;
}

/**
 * `engine`: the engine's reads and the hold of the primary, for hot sites whose engine has the
 * re-protection hooks (engine.ts byEngine): the divergence read before anything touches the old
 * side, the engine's re-protect Job with the old primary stopped, and Following until it streams.
 */
export function reprotectSteps(i: SidesInput, r: ReprotectionStatus, act: ObjectActions, engine?: { io: LifecycleIO; hold: HoldIO }) {
  const by = engine && byEngine(i) ? engine : undefined;
  return {
    Preserving: async () => {
      const kept = await preserve(i, r, act);
      return by && kept.done ? measureDivergence(i, kept, by.io) : kept;
    },
    Seeding: () => (by && r.of === 'primary' ? seedByEngine(i, r, act, by) : seed(i, r, act)),
    Following: () => (by ? followByEngine(i, r, by.io) : follow(i, r)),
  };
}

/**
 * The engine's measure of what only the old side holds, read once its copy is kept and while it
 * still runs (behind the fence) as it was: nothing has touched its volumes yet.
 */
async function measureDivergence(i: SidesInput, kept: StepResult & { done: true }, io: LifecycleIO): Promise<StepResult> {
  const ctx = contextOf(i);
  const record = (kept.note?.divergence ?? {}) as NonNullable<ReprotectionStatus['divergence']>;
  if (!ctx || !i.engine.divergence) return kept;
  return doneWith({ ...kept.note, divergence: divergenceRecord(record, await i.engine.divergence(ctx, io.engine)) });
}

/** hot, by the engine: the old primary stopped, the engine's re-protect Job on its volumes, its replicas given back. */
async function seedByEngine(i: SidesInput, r: ReprotectionStatus, act: ObjectActions, by: { io: LifecycleIO; hold: HoldIO }): Promise<StepResult> {
  const { site } = i;
  const ns = site.metadata.namespace;
  const p = i.primary;
  const ctx = contextOf(i);
  if (!p || !ctx) return failed(`the primary ${site.spec.primary.workload.kind} ${site.spec.primary.workload.name} does not exist: there is nothing to re-protect`);
  const name = names.reprotectJob(site.metadata.name, promotionId(r));
  const live = i.jobs.find((j) => j.metadata?.name === name);
  const plan = planSeed(seedInput(i, live ? jobOutcome(live) : undefined, name));
  const kind = p.kind ?? site.spec.primary.workload.kind;
  const workload = p.metadata?.name ?? site.spec.primary.workload.name;
  switch (plan.do) {
    case 'fail':
      return failed(plan.message);
    case 'wait':
      return waiting(plan.for);
    case 'hold':
      return (await by.hold.set(plan.held)) ? waiting('the old primary to stop') : waiting("recording the old primary's replicas");
    case 'stop':
      await act.patch(kind, ns, workload, { spec: { replicas: 0 } });
      return waiting('the old primary to stop');
    case 'job': {
      const claims = Object.fromEntries(volumesOf(p).map((v) => [v.volume, v.claim]));
      const template = i.engine.reprotectTemplate?.(ctx, { claims });
      if (!template) return failed(`the ${site.spec.engine.type} engine found no data volume among the old primary's claims (${Object.values(claims).join(', ') || 'none'}); the old primary stays stopped`);
      const job = await ensureJob(act, buildJob(site, { name, role: 'reprotect', template, backoffLimit: 2, activeDeadlineSeconds: COPY_JOB_DEADLINE_SECONDS }));
      if (job.failed) return failed(`the re-protect Job ${name} failed: ${job.message}; the old primary stays stopped`);
      return waiting(`Job ${name} to complete`);
    }
    case 'release':
      if ((p.spec?.replicas ?? 0) !== plan.replicas) await act.patch(kind, ns, workload, { spec: { replicas: plan.replicas } });
      if (!(await by.hold.clear())) return waiting('recording that the old primary is given back its replicas');
      return doneWith(reportNote(r, await reportOf(i, by.io, name)));
    case 'done':
      return doneWith(reportNote(r, await reportOf(i, by.io, name)));
  }
}

async function reportOf(i: SidesInput, io: LifecycleIO, job: string): Promise<ReprotectReport | undefined> {
  for (const m of await io.jobMessages(job)) {
    const report = i.engine.reprotectReport?.(m);
    if (report) return report;
  }
  return undefined;
}

/** hot, by the engine: the old side's pods Ready (of the new epoch, for the standby) and streaming from the side that serves. */
async function followByEngine(i: SidesInput, r: ReprotectionStatus, io: LifecycleIO): Promise<StepResult> {
  const ctx = contextOf(i);
  const who = r.of === 'standby' ? 'the standby' : 'the old primary';
  const epoch = String(i.status.failback?.epoch ?? '');
  const ready = r.of === 'standby' ? i.standbyPods.some((p) => isPodReady(p) && p.metadata?.labels?.[LABEL_EPOCH] === epoch) : i.primaryPods.some(isPodReady);
  if (!ready || !ctx) return followVerdict(false, undefined, undefined, who);
  const o = await i.engine.observe(ctx, io.engine);
  return followVerdict(true, o.streaming, o.problem, who);
}

async function preserve(i: SidesInput, r: ReprotectionStatus, act: ObjectActions): Promise<StepResult> {
  const old = oldSide(i, r);
  const what = r.of === 'standby' ? 'the standby' : 'the old primary';
  const volumes = r.of === 'standby' ? standbyVolumesOf(old, i.primary) : volumesOf(old);
  if (!old) return doneWith({ divergence: { description: `${what} has no workload: there is nothing to keep` } });
  if (volumes.length === 0) return doneWith({ divergence: { description: `${what} has no PersistentVolumeClaims: there is nothing to keep` } });
  const run = `divergent-${promotionId(r)}`;
  const { result, set } = await snapshotSetStep(i, act, `${what}'s volumes`, volumes, run, 'divergent');
  if (!result.done) {
    return result.failed
      ? failed(`${result.failed}; re-protection stops here rather than overwrite data it could not keep a copy of`)
      : result;
  }
  return doneWith({
    divergence: {
      snapshotRun: run,
      keptAt: i.now.toISOString(),
      description: `what ${what} held when it was fenced is kept in VolumeSnapshot(s) ${Object.values(set?.snapshots ?? {}).join(', ')}`,
    },
  });
}

async function seed(i: SidesInput, r: ReprotectionStatus, act: ObjectActions): Promise<StepResult> {
  const { site } = i;
  if (r.of === 'standby') {
    // Back to the declared topology: the standby's pods restart on the new epoch (its template
    // carries it) and come up as a standby; warm and cold take a forward copy now.
    if (site.spec.tier === 'hot') return doneWith({ method: 'restart' });
    const cron = i.cronJobs.find((c) => c.metadata?.name === (site.spec.tier === 'warm' ? names.syncCronJob(site.metadata.name) : names.snapshotCronJob(site.metadata.name)));
    const pod = cron?.spec.jobTemplate.spec?.template;
    if (!pod) return waiting(`the ${site.spec.tier === 'warm' ? 'sync' : 'snapshot'} CronJob to exist`);
    const job = await ensureJob(
      act,
      buildJob(site, {
        name: names.copyJob(site.metadata.name, `fb-${promotionId(r)}`),
        role: site.spec.tier === 'warm' ? 'copy' : 'snapshot',
        template: pod,
        backoffLimit: 2,
        activeDeadlineSeconds: COPY_JOB_DEADLINE_SECONDS,
      }),
    );
    if (job.failed) return failed(`the forward copy Job ${job.name} failed: ${job.message}`);
    return doneWith({ method: 'copy' });
  }
  if (site.spec.tier === 'hot') {
    const template = asPodTemplate(site.spec.engine.generic?.reprotectJobTemplate);
    if (!template) return failed(`the ${site.spec.engine.type} engine has no re-protect action for the hot tier; set engine.generic.reprotectJobTemplate`);
    const job = await ensureJob(
      act,
      buildJob(site, {
        name: names.reprotectJob(site.metadata.name, promotionId(r)),
        role: 'reprotect',
        template: withEnv(template, reprotectEnv(i)),
        backoffLimit: 2,
        activeDeadlineSeconds: COPY_JOB_DEADLINE_SECONDS,
      }),
    );
    if (job.succeeded) return doneWith({ method: 'job' });
    if (job.failed) return failed(`Job ${job.name} failed: ${job.message}`);
    return waiting(`Job ${job.name} to complete`);
  }
  const { result } = await snapshotSetStep(i, act, "the serving standby's volumes", standbyVolumesOf(i.standby, i.primary), seedRun(r), 'reverse');
  return result.done ? doneWith({ method: 'snapshots' }) : result;
}

function follow(i: SidesInput, r: ReprotectionStatus): Promise<StepResult> {
  const { site } = i;
  if (r.of === 'standby') {
    if (site.spec.tier === 'hot') {
      // The epoch the failback opened: the standby's template carries it from then on.
      const epoch = String(i.status.failback?.epoch ?? '');
      const ready = i.standbyPods.some((p) => isPodReady(p) && p.metadata?.labels?.[LABEL_EPOCH] === epoch);
      return Promise.resolve(ready ? DONE : waiting('the standby to restart as the primary\'s standby (a Ready pod of the new epoch)'));
    }
    const since = toDate(i.status.failback?.completedAt)?.getTime() ?? 0;
    if (site.spec.tier === 'warm') {
      const fresh = i.runs.some((c) => c.complete && c.dataTime.getTime() >= since);
      return Promise.resolve(fresh ? DONE : waiting('a sync of the primary made after the failback'));
    }
    const fresh = setsOf(i, 'snapshot', volumesOf(i.primary)).some((s) => s.ready && s.time.getTime() >= since);
    return Promise.resolve(fresh ? DONE : waiting('a snapshot of the primary taken after the failback'));
  }
  if (site.spec.tier === 'hot') {
    const ready = i.primaryPods.some(isPodReady);
    return Promise.resolve(ready ? DONE : waiting('the old primary to have a Ready pod again (following the standby)'));
  }
  const set = setsOf(i, 'reverse', standbyVolumesOf(i.standby, i.primary)).find((s) => s.run === seedRun(r));
  return Promise.resolve(set?.ready ? DONE : waiting(`the snapshot of the serving standby (run ${seedRun(r)}) to be ready`));
}

/** What the user's re-protect Job is told: where the serving side is, which pods must follow it. */
function reprotectEnv(i: SidesInput): V1EnvVar[] {
  const ns = i.site.metadata.namespace;
  const sel = i.primary ? selectorOf(i.primary).matchLabels ?? {} : {};
  return [
    { name: 'STANDBY_SERVING_HOST', value: `${names.traffic(i.site.metadata.name, i.site.spec)}.${ns}.svc` },
    { name: 'STANDBY_FOLLOWER_SELECTOR', value: Object.entries(sel).map(([k, v]) => `${k}=${v}`).join(',') },
  ];
}

function withEnv(template: V1PodTemplateSpec, env: readonly V1EnvVar[]): V1PodTemplateSpec {
  const keys = new Set(env.map((e) => e.name));
  const containers = (template.spec?.containers ?? []).map((c) => ({ ...c, env: [...(c.env ?? []).filter((e) => !keys.has(e.name)), ...env] }));
  return { ...template, spec: { ...template.spec!, containers } };
}

// The steps of a failback: a promotion back to the declared primary, losing nothing.
//
//   Fencing     the serving standby is fenced (writes stop); its fence still lets the primary
//               reach it, to catch up.
//   CatchingUp  the primary must be proven to hold everything the standby committed:
//               warm/cold: a final snapshot set of the standby's volumes, taken after the fence;
//               hot PostgreSQL (the engine's hooks, reprotect/engine.ts): writes stopped inside
//               the fenced standby, the primary's replay LSN at its flush LSN;
//               hot generic: the user's failbackJobTemplate succeeds (it proves it, and makes the
//               primary writable). A force- token (or a serving standby that failed) waives the
//               proof where there is none to take.
//   Promoting   the primary takes over: warm/cold: its claims are restored from that final set
//               (the primary held at 0 meanwhile; its own volumes were kept aside by the
//               re-protection that preceded); hot PostgreSQL: the engine's Job pg_promote()s
//               it; hot: its pods are Ready.
//   Switching   the primary's fence goes, then the traffic Service selects the primary again.
import type { V1PodTemplateSpec } from '@kubernetes/client-node';
import type { PromotionStatus } from '../api/status.ts';
import { asPodTemplate } from '../engines/generic.ts';
import { buildFence } from '../fencing/network-policy.ts';
import type { ObjectActions } from '../k8s/actions.ts';
import { ensureJob } from '../k8s/jobs.ts';
import { promotionId } from '../promotion/machine.ts';
import { setsOf, snapshotSetStep, standbyVolumesOf, type SidesInput } from '../reprotect/sides.ts';
import { ANNOTATION_ACTIVE, names } from '../site/names.ts';
import { DONE, failed, waiting, type StepResult } from '../site/step.ts';
import { isPodReady, selectorOf } from '../site/workload.ts';
import { buildJob, COPY_JOB_DEADLINE_SECONDS } from '../tiers/jobs.ts';
import { restoreClaimsOfPrimary } from './restore.ts';

// status.primaryHeld: the replicas to give the primary back, recorded before it is stopped.
import { byEngine, catchUpVerdict, contextOf, writesStoppedVerdict, type HoldIO, type LifecycleIO } from '../reprotect/engine.ts';
export type { Held, HoldIO } from '../reprotect/engine.ts';

/** The final snapshot run of a failback. */
export function finalRun(f: PromotionStatus): string {
  return `final-${promotionId(f)}`;
}

/** `io`: the engine's reads, for hot sites whose engine has the failback hooks (byEngine). */
export function failbackSteps(i: SidesInput, f: PromotionStatus, force: boolean, act: ObjectActions, hold: HoldIO, io?: LifecycleIO) {
  const engine = io && byEngine(i) ? io : undefined;
  return {
    Fencing: () => fenceStandby(i, act, engine, force),
    CatchingUp: () => (engine ? catchUpByEngine(i, f, force, engine) : catchUp(i, f, force, act)),
    Promoting: () => (engine ? promoteByEngine(i, f, act) : takeBack(i, f, act, hold)),
    Switching: () => switchBack(i, act),
  };
}

async function fenceStandby(i: SidesInput, act: ObjectActions, engine: LifecycleIO | undefined, force: boolean): Promise<StepResult> {
  if (!i.standby) return DONE; // nothing serves there any more: nothing to fence
  await act.apply(buildFence(i.site, i.standby, { name: names.standbyFence(i.site.metadata.name), ...(i.primary ? { peer: selectorOf(i.primary) } : {}) }));
  // The fence need not cut connections it finds open: the server itself stops taking writes and
  // ends the sessions (again on a resumed step: harmless).
  const ctx = engine && contextOf(i);
  if (!engine || !ctx || !i.engine.setWritable) return DONE;
  const w = await i.engine.setWritable(ctx, engine.engine, false);
  // A forced failback (a force- token, or the serving standby failed and cannot answer) goes on
  // behind the network fence alone.
  return force ? DONE : writesStoppedVerdict(w.ok, w.message);
}

/** The engine's failback Job of this failback, once created (only ever after CatchingUp was done). */
export function failbackJobOf(i: SidesInput, f: PromotionStatus): string | undefined {
  const name = names.failbackJob(i.site.metadata.name, promotionId(f));
  return i.jobs.some((j) => j.metadata?.name === name) ? name : undefined;
}

/** hot, by the engine: the primary's replay position has reached the fenced standby's flush position. */
async function catchUpByEngine(i: SidesInput, f: PromotionStatus, force: boolean, io: LifecycleIO): Promise<StepResult> {
  // Resumed after its Promoting record was lost (a conflict, a crash): the Job that promotes the
  // primary already ran or runs, so the proof was given, and asking again would wait forever on a
  // primary out of recovery (and fail the failback with writes resumed on the standby: two writers).
  if (failbackJobOf(i, f)) return DONE;
  const ctx = contextOf(i);
  if (!ctx || !i.engine.caughtUp) return failed('the primary workload does not exist: there is nothing to fail back to');
  return catchUpVerdict(await i.engine.caughtUp(ctx, io.engine), force);
}

/** The failback's one Job (the engine's promote Job, or the generic engine's catch-up proof), created once. */
function ensureFailbackJob(i: SidesInput, f: PromotionStatus, template: V1PodTemplateSpec, act: ObjectActions) {
  return ensureJob(
    act,
    buildJob(i.site, {
      name: names.failbackJob(i.site.metadata.name, promotionId(f)),
      role: 'failback',
      template,
      backoffLimit: 2,
      activeDeadlineSeconds: COPY_JOB_DEADLINE_SECONDS,
    }),
  );
}

/** hot, by the engine: its failback Job promotes the caught-up primary; done once the primary's pod is Ready. */
async function promoteByEngine(i: SidesInput, f: PromotionStatus, act: ObjectActions): Promise<StepResult> {
  const { site } = i;
  const ctx = contextOf(i);
  const template = ctx && i.engine.failbackTemplate?.(ctx);
  if (!template) return failed(`the ${site.spec.engine.type} engine cannot promote the primary of this site (its Service leads to the standby, or it has no database container); the standby stays read-only`);
  const job = await ensureFailbackJob(i, f, template, act);
  if (job.failed) return failed(`the failback Job ${job.name} failed: ${job.message}; the standby stays read-only (the primary may or may not have been promoted: check before annotating again)`);
  if (!job.succeeded) return waiting(`Job ${job.name} to promote the primary`);
  return i.primaryPods.some(isPodReady) ? DONE : waiting('the promoted primary to have a Ready pod');
}

async function catchUp(i: SidesInput, f: PromotionStatus, force: boolean, act: ObjectActions): Promise<StepResult> {
  const { site } = i;
  if (site.spec.tier === 'hot') {
    const template = asPodTemplate(site.spec.engine.generic?.failbackJobTemplate);
    if (!template) {
      return force
        ? DONE
        : failed(`the ${site.spec.engine.type} engine cannot prove that the primary caught up (set engine.generic.failbackJobTemplate, or annotate standby.dev/failback=force-<token>)`);
    }
    const job = await ensureFailbackJob(i, f, template, act);
    if (job.succeeded) return DONE;
    if (job.failed) return failed(`Job ${job.name} failed: ${job.message}; the standby is unfenced and serves on`);
    return waiting(`Job ${job.name} to complete`);
  }
  // warm and cold: the standby's volumes after its writes stopped are exactly what it committed.
  const { result } = await snapshotSetStep(i, act, "the fenced standby's volumes", standbyVolumesOf(i.standby, i.primary), finalRun(f), 'reverse');
  if (!result.done && force && result.failed) {
    // A forced failback without a final copy falls back on the newest reverse copy there is.
    const newest = setsOf(i, 'reverse', standbyVolumesOf(i.standby, i.primary)).find((s) => s.ready);
    if (newest) return DONE;
  }
  return result;
}

async function takeBack(i: SidesInput, f: PromotionStatus, act: ObjectActions, hold: HoldIO): Promise<StepResult> {
  if (i.site.spec.tier !== 'hot') {
    const volumes = standbyVolumesOf(i.standby, i.primary);
    const sets = setsOf(i, 'reverse', volumes);
    const set = sets.find((s) => s.run === finalRun(f) && s.ready) ?? sets.find((s) => s.ready);
    if (!set) return failed('no ready snapshot of the standby exists to restore the primary from');
    const restored = await restoreClaimsOfPrimary(i, set, act, hold);
    if (!restored.done) return restored;
  }
  return i.primaryPods.some(isPodReady) ? DONE : waiting('the primary to have a Ready pod');
}

async function switchBack(i: SidesInput, act: ObjectActions): Promise<StepResult> {
  const { site } = i;
  const ns = site.metadata.namespace;
  // Clients must reach the primary before they are sent to it.
  if (act.cached('NetworkPolicy', ns, names.fence(site.metadata.name))) await act.remove('NetworkPolicy', ns, names.fence(site.metadata.name));
  const selector = site.spec.traffic.mode === 'primaryService' ? i.status.promotion?.primarySelector : i.primaryService?.spec?.selector;
  if (!selector || Object.keys(selector).length === 0) return failed('the primary Service and its selector are needed to send clients back to the primary');
  if (site.spec.traffic.mode === 'primaryService') {
    await act.jsonPatch('Service', ns, site.spec.primary.service, [{ op: 'replace', path: '/spec/selector', value: selector }]);
    return DONE;
  }
  const name = names.traffic(site.metadata.name, site.spec);
  if (!i.trafficService) return failed(`the traffic Service ${name} does not exist`);
  await act.jsonPatch('Service', ns, name, [
    { op: 'replace', path: '/spec/selector', value: selector },
    { op: 'add', path: '/metadata/annotations', value: { ...i.trafficService.metadata?.annotations, [ANNOTATION_ACTIVE]: 'primary' } },
  ]);
  return DONE;
}


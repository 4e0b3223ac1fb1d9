// The drill driver of one reconcile. src/drill/ decides (when a drill is due, whether it may
// start, what it restores, its state machine and record); this drives its steps (drill-steps.ts)
// against the cluster and writes each transition with the site's resourceVersion as
// precondition, so that it happens exactly once. Scratch objects are found by label, so whatever
// a drill leaves behind (it ended, it was aborted, the operator restarted half way) is removed by
// the next reconcile.
import { formatDuration, parseDuration } from '../api/duration.ts';
import type { Condition, DrillRecord, DrillStatus, DrillTrigger, PromotionStatus, SiteStatus } from '../api/status.ts';
import type { Engine, EngineContext } from '../engines/engine.ts';
import { resourceOfKind } from '../k8s/resources.ts';
import { toDate } from '../k8s/types.ts';
import { drillMayStart, drillMustAbort } from '../drill/gate.ts';
import { lifecycleOf } from '../promotion/lifecycle.ts';
import { patchStatus } from './records.ts';
import { inProgress } from '../promotion/machine.ts';
import { reprotecting } from '../reprotect/machine.ts';
import { advance, begin, finish, overdue } from '../drill/machine.ts';
import { drillNames } from '../drill/objects.ts';
import { planDrill } from '../drill/plan.ts';
import { drillCondition, drillFieldsOf, recordPatch, recorded, type DrillCondition, type DrillFields } from '../drill/record.ts';
import { drillRequest, drillSchedule } from '../drill/trigger.ts';
import { ANNOTATION_DRILL, LABEL_DRILL, LABEL_ROLE } from '../site/names.ts';
import { ownershipOf } from '../site/ownership.ts';
import { actuator } from './actuator.ts';
import { STEPS, waiting, type Step, type StepContext } from './drill-steps.ts';
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

// The failback driver of one reconcile: decide (pure, failback/decide.ts), record the start in
// status.failback, and drive it through failback/steps.ts with the same executor as a promotion.
// A failback that fails before the primary took over leaves the standby serving: its fence goes
// (converge no longer wants it) and the site is as protected as before.
import { parseDuration } from '../api/duration.ts';
import type { PromotionStatus, SiteStatus } from '../api/status.ts';
import { decideFailback, failbackRequest, type FailbackDecision } from '../failback/decide.ts';
import { failbackJobOf, failbackSteps, type HoldIO } from '../failback/steps.ts';
import { drive } from '../promotion/executor.ts';
import { lifecycleOf } from '../promotion/lifecycle.ts';
import { begin, inProgress } from '../promotion/machine.ts';
import { byEngine, contextOf } from '../reprotect/engine.ts';
import type { SidesInput } from '../reprotect/sides.ts';
import { ANNOTATION_FAILBACK } from '../site/names.ts';
import { actuator } from './actuator.ts';
import { lifecycleIO } from './reprotect.ts';
import type { ReconcileContext } from './context.ts';
import { patchStatus, writeRecord } from './records.ts';

export interface FailbackOutcome {
  decision: FailbackDecision;
  failback: PromotionStatus | undefined;
  /** A failback acted in this reconcile (nothing else should). */
  acted: boolean;
}

/** Runs the failback part of a reconcile; undefined when the site changed under us (re-read at once). */
export async function runFailback(rc: ReconcileContext, sides: () => SidesInput, serving: { ready: boolean; notReadySince: Date | undefined }): Promise<FailbackOutcome | undefined> {
  const { site, deps: d } = rc;
  const { spec } = site;
  const prev = rc.current.status ?? {};
  const lifecycle = lifecycleOf(prev);
  const now = rc.now();
  const request = failbackRequest(site.metadata.annotations?.[ANNOTATION_FAILBACK], prev.handledFailbackToken);
  const decision = decideFailback({
    now,
    lifecycle,
    mode: spec.promotion.failback.mode,
    afterMs: parseDuration(spec.promotion.failback.after) ?? 1_800_000,
    promotionMode: spec.promotion.mode,
    failureThresholdMs: parseDuration(spec.promotion.failureThreshold) ?? 30_000,
    budget: { count: spec.promotion.maxPromotions.count, windowMs: parseDuration(spec.promotion.maxPromotions.window) ?? 3_600_000 },
    history: prev.promotionHistory ?? [],
    isLeader: d.isLeader(),
    request,
    serving,
  });
  let f = lifecycle.failback;
  if (decision.action === 'wait') rc.after(decision.afterMs);
  if (decision.action === 'refuse' && request && d.isLeader()) {
    if (!(await patchStatus(rc, { handledFailbackToken: request.token }))) return undefined;
    await d.events.record(rc.current, 'Warning', 'FailbackRefused', `standby.dev/failback=${request.token}: ${decision.message}`);
    return { decision, failback: f, acted: false };
  }
  if (decision.action === 'start') {
    const began: PromotionStatus = {
      ...begin(now, decision.trigger, decision.reason, decision.token, { tier: spec.tier, fencing: spec.promotion.fencing }, 'primary', (prev.epoch ?? 0) + 1),
      ...(decision.force ? { force: true } : {}),
    };
    if (!(await writeRecord(rc, 'failback', began, decision.token ? { handledFailbackToken: decision.token } : {}))) return undefined;
    f = began;
    rc.log.warn({ trigger: decision.trigger, reason: decision.reason }, 'failback started');
    await d.events.record(rc.current, decision.trigger === 'automatic' ? 'Warning' : 'Normal', 'FailbackStarted', `${decision.trigger} failback: ${decision.reason}; fencing the standby`);
  }
  if (!inProgress(f) || !d.isLeader()) return { decision, failback: f, acted: false };
  const hold: HoldIO = {
    set: (h) => patchStatus(rc, { primaryHeld: h }),
    clear: () => patchStatus(rc, { primaryHeld: null }),
  };
  const observed = sides();
  const result = await drive(f, failbackSteps(observed, f, f.force === true, actuator(d, site), hold, lifecycleIO(rc)), {
    now: () => rc.now(),
    stepTimeoutMs: parseDuration(spec.promotion.stepTimeout) ?? 300_000,
    write: (p) => writeFailback(rc, p),
    resumedAt: (p) => rc.memory.firstDriven(`${rc.key}/failback`, p),
    afterTransition: (from, to) => void afterTransition(rc, from, to, observed),
    sequential: d.exitAfterStep !== undefined,
  });
  if (result.conflict) return undefined;
  if (result.waitingFor) {
    rc.log.info({ step: result.record.state, waitingFor: result.waitingFor }, 'failback step waiting');
    rc.after(1000);
  }
  return { decision, failback: result.record, acted: true };
}

/** Writes status.failback; once Promoted the primary serves again, in a new epoch. */
function writeFailback(rc: ReconcileContext, f: PromotionStatus): Promise<boolean> {
  const prev = rc.current.status ?? {};
  const more: Partial<SiteStatus> = {};
  if (f.state === 'Promoted' && prev.failback?.state !== 'Promoted') {
    more.active = 'primary';
    more.epoch = f.epoch ?? (prev.epoch ?? 0) + 1;
  }
  return writeRecord(rc, 'failback', f, more);
}

async function afterTransition(rc: ReconcileContext, from: string, to: PromotionStatus, observed: SidesInput): Promise<void> {
  const d = rc.deps;
  if (d.exitAfterStep === `failback:${from}`) {
    // Test hook: a crash right after this step was recorded, before anything else happens.
    process.stderr.write(`exiting after failback step ${from} (test hook)\n`);
    process.exit(75);
  }
  const tier = rc.site.spec.tier;
  if (to.state === 'Promoted') {
    d.metrics?.failbacks.inc({ tier, result: 'Promoted', trigger: to.trigger ?? 'manual' });
    if (to.durationSeconds !== undefined) d.metrics?.failbackSeconds.observe({ tier }, to.durationSeconds);
    rc.log.warn({ durationSeconds: to.durationSeconds }, 'failback complete: the primary serves clients');
    await d.events.record(rc.current, 'Normal', 'FailedBack', `the primary serves clients again; failback took ${to.durationSeconds ?? '?'}s; the standby is made its standby again`);
  } else if (to.state === 'Failed') {
    d.metrics?.failbacks.inc({ tier, result: 'Failed', trigger: to.trigger ?? 'manual' });
    rc.log.error({ message: to.message }, 'failback failed');
    const served = from === 'Switching' || from === 'Promoting' ? '' : '; the standby is unfenced and serves on';
    // The engine stopped writes inside the server (Fencing): they resume where the standby serves on.
    const ctx = byEngine(observed) && contextOf(observed);
    // (The generic engine's failback Job is its catch-up proof, run in CatchingUp: not a promotion.)
    const promoting = byEngine(observed) ? failbackJobOf(observed, to) : undefined;
    if (promoting) {
      // The primary may already be promoted: the standby stays read-only rather than be a second writer.
      await d.events.record(rc.current, 'Warning', 'WritesNotResumed', `the failback failed after its Job ${promoting} was created (the primary may have been promoted): writes stay stopped on the standby; check both servers before resuming them`);
    } else if (ctx && (from === 'Fencing' || from === 'CatchingUp') && observed.engine.setWritable) {
      const w = await observed.engine.setWritable(ctx, d.engineIO, true);
      rc.log.warn({ ok: w.ok, message: w.message }, 'failback failed: resuming writes on the standby');
      if (!w.ok) await d.events.record(rc.current, 'Warning', 'WritesNotResumed', `the failback failed, but writes could not be resumed on the standby: ${w.message}; run ALTER SYSTEM RESET default_transaction_read_only there`);
    }
    await d.events.record(rc.current, 'Warning', 'FailbackFailed', `${to.message ?? 'failback failed'}${served}`);
  } else if (from === 'Fencing') {
    await d.events.record(rc.current, 'Normal', 'StandbyFenced', 'the serving standby is fenced: writes stopped for the failback');
  }
}

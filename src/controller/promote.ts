// The promotion driver of one reconcile: decide (pure), record the start, drive the recorded
// state machine through the step actions of fencing/, promotion/ and traffic/, and write each
// transition with the site's resourceVersion as precondition, so that it happens exactly once.
import { parseDuration } from '../api/duration.ts';
import type { PromotionStatus, SiteStatus } from '../api/status.ts';
import type { Engine, EngineContext } from '../engines/engine.ts';
import { raiseFence } from '../fencing/fence.ts';
import { decide, promoteRequest, type Decision } from '../promotion/decide.ts';
import { drive, type PromotionSteps } from '../promotion/executor.ts';
import { lifecycleOf } from '../promotion/lifecycle.ts';
import { begin, fail, inProgress } from '../promotion/machine.ts';
import { released } from '../promotion/release.ts';
import { takeOver } from '../promotion/take-over.ts';
import { ANNOTATION_PROMOTE, standbySelector } from '../site/names.ts';
import { writeRecord } from './records.ts';
import { switchTraffic } from '../traffic/switch.ts';
import { actuator } from './actuator.ts';
import type { ReconcileContext } from './context.ts';
import type { Observed, SiteFacts } from './facts.ts';

export interface PromotionOutcome {
  decision: Decision;
  /** The running or last promotion after this reconcile's steps. */
  promotion: PromotionStatus | undefined;
  handledToken: string | undefined;
  /** The fence was written in this reconcile (the cache may not show it yet). */
  fenceWritten: boolean;
}

/** Runs the promotion part of a reconcile; undefined when the site changed under us (re-read at once). */
export async function runPromotion(
  rc: ReconcileContext,
  obs: Observed,
  facts: SiteFacts,
  engine: Engine,
  engineCtx: EngineContext | undefined,
  frozen: boolean,
): Promise<PromotionOutcome | undefined> {
  const { site, deps: d } = rc;
  const { spec } = site;
  const prev = site.status;
  const lifecycle = lifecycleOf(prev);
  const now = rc.now();
  const request = promoteRequest(site.metadata.annotations?.[ANNOTATION_PROMOTE], prev.handledPromoteToken);
  const decision = decide({
    now,
    mode: spec.promotion.mode,
    failureThresholdMs: parseDuration(spec.promotion.failureThreshold) ?? 30_000,
    budget: {
      count: spec.promotion.maxPromotions.count,
      windowMs: parseDuration(spec.promotion.maxPromotions.window) ?? 3_600_000,
    },
    primary: {
      ready: facts.primary.ready,
      notReadySince: facts.primary.notReadySince,
      scaledToZero: facts.primary.scaledToZero,
      everReady: facts.primary.everReady,
    },
    standby: facts.usability,
    history: prev.promotionHistory ?? [],
    isLeader: d.isLeader(),
    request,
    current: lifecycle.promotion,
    active: prev.active ?? 'primary',
    ...(lifecycle.mode === 'returning' ? { unprotected: 'the site fails back: the standby is not yet the primary\'s standby again' } : {}),
  });
  let handledToken = prev.handledPromoteToken;
  let promo = lifecycle.promotion;
  let fenceWritten = false;
  if (decision.action === 'wait') rc.after(decision.afterMs);
  if (decision.action === 'refuse' && decision.retryAfterMs !== undefined) rc.after(decision.retryAfterMs);
  if (decision.action === 'refuse' && request && d.isLeader()) {
    handledToken = request.token;
    await d.events.record(rc.current, 'Warning', 'PromotionRefused', `standby.dev/promote=${request.token}: ${decision.message}`);
  }
  let startWrite: Promise<boolean> | undefined;
  if (decision.action === 'start') {
    const began = {
      ...begin(now, decision.trigger, decision.reason, decision.token, { tier: spec.tier, fencing: spec.promotion.fencing }, 'standby', (prev.epoch ?? 0) + 1),
      // What a failback gives back: the primary Service's own selector, the primary's replicas.
      ...(spec.traffic.mode === 'primaryService' && obs.primaryService?.spec?.selector ? { primarySelector: obs.primaryService.spec.selector } : {}),
      ...(spec.promotion.fencing === 'scaleDown' && obs.primary ? { primaryReplicas: obs.primary.spec?.replicas ?? 1 } : {}),
    };
    startWrite = writePromotion(rc, began, { handledPromoteToken: decision.token ?? handledToken });
    // Awaited below (or by drive); this only keeps an early rejection from counting as unhandled.
    startWrite.catch(() => undefined);
    // A fence NetworkPolicy raised before the start is recorded is harmless (an unrecorded one is
    // removed by the next reconcile), so it goes up at the same time. Scaling the user's workload
    // down is not undone that way: it waits for the record.
    if (spec.promotion.fencing !== 'networkPolicy' && !(await startWrite)) return undefined;
    handledToken = decision.token ?? handledToken;
    promo = began;
    rc.log.warn({ trigger: decision.trigger, reason: decision.reason }, 'promotion started');
    void d.events.record(
      rc.current,
      decision.trigger === 'automatic' ? 'Warning' : 'Normal',
      'PromotionStarted',
      `${decision.trigger} promotion: ${decision.reason}; fencing the primary (${spec.promotion.fencing})`,
    );
  }
  // Frozen: the tier the promotion began with can no longer be built from the spec, so its
  // remaining steps cannot run as that tier would: it fails, fenced, saying why.
  if (inProgress(promo) && d.isLeader() && frozen) {
    const failed = fail(promo, now, `spec.${promo.tier ?? 'tier'} was removed while the promotion ran; the primary stays fenced: restore it, or decide by hand`);
    if (!(await writePromotion(rc, failed, {}))) return undefined;
    void afterTransition(rc, promo.state, failed);
    promo = failed;
  }
  if (inProgress(promo) && d.isLeader() && !frozen) {
    // What the steps write is no longer the site's: see promotion/release.ts.
    const act = actuator(d, site, released);
    const steps: PromotionSteps = {
      Fencing: async () => {
        const r = await raiseFence(site, obs, act);
        if (r.done && spec.promotion.fencing === 'networkPolicy') fenceWritten = true;
        return r;
      },
      Promoting: () =>
        takeOver(
          { ...obs, site, engine, operatorImage: d.operatorImage, now: rc.now(), promotion: rc.current.status?.promotion, runs: facts.runs, sets: facts.sets },
          act,
        ),
      Switching: () =>
        switchTraffic(
          site,
          {
            primaryService: obs.primaryService,
            trafficService: obs.trafficService,
            selector: { ...standbySelector(site.metadata.name), ...(engineCtx ? engine.promotedSelector?.(engineCtx) : undefined) },
          },
          act,
        ),
    };
    const result = await drive(promo, steps, {
      now: () => rc.now(),
      stepTimeoutMs: parseDuration(spec.promotion.stepTimeout) ?? 300_000,
      write: (p) => writePromotion(rc, p, {}),
      resumedAt: (p) => rc.memory.firstDriven(rc.key, p),
      ...(startWrite && spec.promotion.fencing === 'networkPolicy' ? { pendingWrite: startWrite } : {}),
      afterTransition: (from, to) => void afterTransition(rc, from, to),
      sequential: d.exitAfterStep !== undefined,
    });
    promo = result.record;
    if (result.conflict) return undefined;
    if (result.waitingFor) {
      rc.log.info({ step: promo.state, waitingFor: result.waitingFor }, 'promotion step waiting');
      rc.after(1000);
    }
  } else if (startWrite && !(await startWrite)) {
    return undefined;
  }
  return { decision, promotion: promo, handledToken, fenceWritten };
}

/** Writes status.promotion and what a transition implies: the standby serves once Promoted, in a new epoch. */
async function writePromotion(rc: ReconcileContext, p: PromotionStatus, extra: Partial<SiteStatus>): Promise<boolean> {
  const prev = rc.current.status ?? {};
  const more: Partial<SiteStatus> = { ...extra };
  if (p.state === 'Promoted' && prev.promotion?.state !== 'Promoted') {
    more.active = 'standby';
    more.epoch = p.epoch ?? (prev.epoch ?? 0) + 1;
  }
  if (p.state === 'Fencing' && !prev.promotion) more.phase = 'Promoting';
  return writeRecord(rc, 'promotion', p, more);
}

async function afterTransition(rc: ReconcileContext, from: string, to: PromotionStatus): Promise<void> {
  const d = rc.deps;
  if (d.exitAfterStep === from) {
    // Test hook: a crash right after this step was recorded, before anything else happens.
    process.stderr.write(`exiting after promotion step ${from} (test hook)\n`);
    process.exit(75);
  }
  const tier = rc.site.spec.tier;
  if (to.state === 'Promoted') {
    d.metrics?.promotions.inc({ tier, result: 'Promoted', trigger: to.trigger ?? 'automatic' });
    if (to.durationSeconds !== undefined) d.metrics?.promotionSeconds.observe({ tier }, to.durationSeconds);
    rc.log.warn({ durationSeconds: to.durationSeconds }, 'promotion complete: the standby serves clients');
    await d.events.record(rc.current, 'Normal', 'Promoted', `the standby serves clients; promotion took ${to.durationSeconds ?? '?'}s`);
  } else if (to.state === 'Failed') {
    d.metrics?.promotions.inc({ tier, result: 'Failed', trigger: to.trigger ?? 'automatic' });
    rc.log.error({ message: to.message }, 'promotion failed');
    await d.events.record(rc.current, 'Warning', 'PromotionFailed', to.message ?? 'promotion failed');
  } else if (from === 'Fencing') {
    await d.events.record(rc.current, 'Normal', 'Fenced', `the primary is fenced (${rc.site.spec.promotion.fencing})`);
  }
}

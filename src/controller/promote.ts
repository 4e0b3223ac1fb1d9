// The promotion driver of one reconcile: decide (pure), record the start, drive the recorded
// state machine through the step actions of fencing/, promotion/ and traffic/, and write each
// transition with the site's resourceVersion as precondition, so that it happens exactly once.
import { parseDuration } from '../api/duration.ts';
import type { StandbySiteObject } from '../api/site.ts';
import type { PromotionRecord, PromotionStatus, SiteStatus } from '../api/status.ts';
import type { Engine, EngineContext } from '../engines/engine.ts';
import { raiseFence } from '../fencing/fence.ts';
import { isConflict } from '../k8s/client.ts';
import { mergePatchFor } from '../k8s/merge-patch.ts';
import { SITE_RESOURCE } from '../api/resource.ts';
import { decide, promoteRequest, type Decision } from '../promotion/decide.ts';
import { drive, type PromotionSteps } from '../promotion/executor.ts';
import { begin, fail, inProgress } from '../promotion/machine.ts';
import { released } from '../promotion/release.ts';
import { takeOver } from '../promotion/take-over.ts';
import { ANNOTATION_PROMOTE, standbySelector } from '../site/names.ts';
import { switchTraffic } from '../traffic/switch.ts';
import { siteLostDecision } from '../promotion/site-lost.ts';
import { actuator } from './actuator.ts';
import { fenceRemote } from './remote-fencing.ts';
import type { ReconcileContext } from './context.ts';
import { conditionsForPhase } from './status.ts';
import type { Observed, SiteFacts } from './facts.ts';

const HISTORY_LIMIT = 20;

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
  const now = rc.now();
  const request = promoteRequest(site.metadata.annotations?.[ANNOTATION_PROMOTE], prev.handledPromoteToken);
  // A primary in another cluster that may not answer (promotion/site-lost.ts), else the usual decision.
  const gate = siteLostDecision({
    primarySite: rc.remote?.site,
    request,
    current: prev.promotion,
    active: prev.active ?? 'primary',
    mode: spec.promotion.mode,
    isLeader: d.isLeader(),
    standby: facts.usability,
  });
  const decision = gate ?? decide({
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
    current: prev.promotion,
    active: prev.active ?? 'primary',
  });
  let handledToken = prev.handledPromoteToken;
  let promo = prev.promotion;
  let fenceWritten = false;
  if (decision.action === 'wait') rc.after(decision.afterMs);
  if (decision.action === 'refuse' && decision.retryAfterMs !== undefined) rc.after(decision.retryAfterMs);
  if (decision.action === 'refuse' && request && d.isLeader()) {
    handledToken = request.token;
    await d.events.record(rc.current, 'Warning', 'PromotionRefused', `standby.dev/promote=${request.token}: ${decision.message}`);
  }
  let startWrite: Promise<boolean> | undefined;
  if (decision.action === 'start') {
    // The epoch grows with every promotion; the fence carries it (controller/remote-fencing.ts).
    const epoch = (prev.epoch ?? 0) + 1;
    const began = { ...begin(now, decision.trigger, decision.reason, decision.token, { tier: spec.tier, fencing: spec.promotion.fencing }), epoch };
    startWrite = writePromotion(rc, began, { handledPromoteToken: decision.token ?? handledToken, epoch });
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
    const driven = promo;
    const steps: PromotionSteps = {
      Fencing: async () => {
        const r = rc.remote ? await fenceRemote(rc, obs, driven) : await raiseFence(site, obs, act);
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
    promo = result.promotion;
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

/** Writes status.promotion (and what a transition implies) with the site's resourceVersion as precondition. */
async function writePromotion(rc: ReconcileContext, p: PromotionStatus, extra: Partial<SiteStatus>): Promise<boolean> {
  const prev = rc.current.status ?? {};
  const patch: Record<string, unknown> = { promotion: mergePatchFor(prev.promotion ?? {}, p) ?? {}, ...extra };
  if (p.state === 'Promoted' || p.state === 'Failed') {
    const record: PromotionRecord = {
      startedAt: p.startedAt ?? rc.now().toISOString(),
      trigger: p.trigger ?? 'automatic',
      result: p.state,
      ...(p.completedAt ? { completedAt: p.completedAt } : {}),
      ...(p.reason ? { reason: p.reason } : {}),
    };
    patch.promotionHistory = [...(prev.promotionHistory ?? []), record].slice(-HISTORY_LIMIT);
  }
  if (p.state === 'Promoted') patch.active = 'standby';
  if (p.state === 'Fencing' && !prev.promotion) {
    patch.phase = 'Promoting';
    patch.conditions = conditionsForPhase(prev, 'Promoting', rc.site.metadata.generation ?? 0, rc.now());
  }
  try {
    const updated = await rc.deps.client.mergePatch<StandbySiteObject>(
      SITE_RESOURCE,
      rc.site.metadata.namespace,
      rc.site.metadata.name,
      { metadata: { resourceVersion: rc.current.metadata?.resourceVersion }, status: patch },
      'status',
    );
    rc.current = updated;
    rc.memory.noteWritten(rc.key, updated);
    return true;
  } catch (err) {
    if (isConflict(err)) {
      rc.log.info('site changed while promoting; re-reading');
      return false;
    }
    throw err;
  }
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

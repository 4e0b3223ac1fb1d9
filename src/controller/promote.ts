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
import { promotionCopy } from '../promotion/copy.ts';
import { begin, fail, inProgress, promotionId } from '../promotion/machine.ts';
import { released } from '../promotion/release.ts';
import { takeOver } from '../promotion/take-over.ts';
import { growStandby, keepGrown, type PodResizer } from '../promotion/grow.ts';
import { offersResource } from '../k8s/discovery.ts';
import { R } from '../k8s/resources.ts';
import { hasReducedStandby } from '../tiers/reduced.ts';
import { ANNOTATION_ABANDON, ANNOTATION_PROMOTE, names, standbySelector } from '../site/names.ts';
import { desiredReplicas } from '../site/workload.ts';
import { abandonPromotion } from './abandon.ts';
import { writeRecord } from './records.ts';
import { trafficState, type TrafficState } from '../traffic/holds.ts';
import { holdTraffic, keepTraffic, switchTraffic } from '../traffic/switch.ts';
import { siteLostDecision } from '../promotion/site-lost.ts';
import { outstandingPromise } from './site-failover.ts';
import { actuator } from './actuator.ts';
import { fenceRemote } from './remote-fencing.ts';
import type { ReconcileContext } from './context.ts';
import { drillAbortForPromotion } from './drill.ts';
import { conditionsForPhase } from './phase.ts';
import type { Observed, SiteFacts } from './facts.ts';

export interface PromotionOutcome {
  decision: Decision;
  /** The running or last promotion after this reconcile's steps. */
  promotion: PromotionStatus | undefined;
  handledToken: string | undefined;
  /** The fence was written in this reconcile (the cache may not show it yet). */
  fenceWritten: boolean;
  /** After the promotion: whether the clients' Service selects the promoted standby. */
  traffic?: TrafficState | undefined;
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
  const abandon = promoteRequest(site.metadata.annotations?.[ANNOTATION_ABANDON], prev.handledAbandonToken);
  if (abandon && d.isLeader()) {
    await abandonPromotion(rc, obs, abandon.token);
    return undefined;
  }
  const request = promoteRequest(site.metadata.annotations?.[ANNOTATION_PROMOTE], prev.handledPromoteToken);
  // A primary in another cluster that may not answer (promotion/site-lost.ts), else the usual decision.
  const gate: Decision | undefined = rc.takeover && !inProgress(prev.promotion) && prev.promotion?.state !== 'Promoted' && (prev.active ?? 'primary') === 'primary'
    ? { action: 'start', trigger: 'siteFailover', token: undefined, reason: rc.takeover.reason, epoch: rc.takeover.epoch }
    : siteLostDecision({
    primarySite: rc.remote?.site,
    request,
    current: prev.promotion,
    active: prev.active ?? 'primary',
    mode: spec.promotion.mode,
    isLeader: d.isLeader(),
    standby: facts.usability,
  });
  // A site-lost token while this site's failsafe answer still lets the primary's guard serve: wait.
  const promised = gate?.action === 'start' && gate.trigger === 'siteLost' ? outstandingPromise(rc) : undefined;
  const decision = (promised !== undefined ? { action: 'wait' as const, afterMs: promised + 50, reason: `this site's failsafe answer lets the primary's guard serve for another ${Math.ceil(promised / 1000)}s: the site-lost promotion waits it out` } : gate) ?? decide({
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
      missing: facts.primary.missing,
      serviceSelectsNothing: facts.primary.serviceSelectsNothing,
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
    // The copy it serves from is chosen now, once: the serving standby is only ever built on it.
    const copy = promotionCopy({
      site,
      volumes: obs.volumes,
      runs: facts.runs,
      sets: facts.sets,
      promotionId: promotionId({ startedAt: now.toISOString() }),
      dataTime: facts.dataTime,
    });
    // The epoch grows with every promotion; the fence carries it (controller/remote-fencing.ts).
    const epoch = decision.epoch ?? (prev.epoch ?? 0) + 1;
    const began = {
      ...begin(
        now,
        decision.trigger,
        decision.reason,
        decision.token,
        {
          tier: spec.tier,
          fencing: spec.promotion.fencing,
          ...(copy ? { copy } : {}),
          // A standby at reduced capacity grows once it serves (the Growing step).
          ...(hasReducedStandby(spec) ? { grow: true } : {}),
          // What abandoning a failed promotion, or a failback, gives back.
          ...(spec.promotion.fencing === 'scaleDown' && obs.primary ? { primaryReplicas: desiredReplicas(obs.primary) } : {}),
        },
        'standby',
        epoch,
      ),
      // What a failback gives back: the primary Service's own selector.
      ...(spec.traffic.mode === 'primaryService' && obs.primaryService?.spec?.selector ? { primarySelector: obs.primaryService.spec.selector } : {}),
    };
    // A real failure wins: a running drill is aborted in this same write (drill.ts), costing no time.
    const drill = drillAbortForPromotion(rc, decision.reason, now);
    startWrite = writePromotion(rc, began, { handledPromoteToken: decision.token ?? handledToken, epoch, ...drill?.patch });
    if (drill) void startWrite.then((ok) => ok && drill.recorded(), () => undefined);
    // Awaited below (or by drive); this only keeps an early rejection from counting as unhandled.
    startWrite.catch(() => undefined);
    // A fence NetworkPolicy raised before the start is recorded is harmless (an unrecorded one is
    // removed by the next reconcile), so it goes up at the same time. Scaling the user's workload
    // down is not undone that way: it waits for the record.
    if (spec.promotion.fencing !== 'networkPolicy' && !(await startWrite)) return undefined;
    handledToken = decision.token ?? handledToken;
    promo = began;
    // Said only once the start is recorded: a replica whose write lost (another one started the
    // same promotion; without leader election both try) neither logs nor records it.
    const trigger = decision.trigger;
    const reason = decision.reason;
    void startWrite
      .then(async (recorded) => {
        if (!recorded) return;
        rc.log.warn({ trigger, reason }, 'promotion started');
        await d.events.record(
          rc.current,
          trigger === 'automatic' ? 'Warning' : 'Normal',
          'PromotionStarted',
          `${trigger} promotion: ${reason}; fencing the primary (${spec.promotion.fencing})`,
        );
      })
      .catch(() => undefined);
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
        // The clients' Service is released at once: deleting the site now must not take it (best
        // effort here; convergence keeps trying, and must not hold the fence back). A primary in
        // another cluster is fenced there (remote-fencing.ts).
        const [r] = await Promise.all([
          rc.remote ? fenceRemote(rc, obs, driven) : raiseFence(site, obs, act),
          spec.traffic.mode === 'operatorService' ? holdTraffic(site, obs, act).catch(() => undefined) : undefined,
        ]);
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
      Growing: async () =>
        growStandby({ site, primary: obs.primary, standby: obs.standby, standbyPods: obs.standbyPods, promotion: driven }, act, await podResizer(rc)),
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
  // Promoted before this reconcile (the Switching step of this one would look reverted in the cache).
  const traffic = prev.promotion?.state === 'Promoted' && promo?.state === 'Promoted' && !frozen ? await holdSwitch(rc, obs, engine, engineCtx) : undefined;
  if (prev.promotion?.state === 'Promoted' && promo?.state === 'Promoted' && promo.growth === 'InPlace' && !frozen && d.isLeader()) await holdGrown(rc, obs, promo);
  return { decision, promotion: promo, handledToken, fenceWritten, traffic };
}

/** The pods' resize subresource, when the API server offers it (discovery, asked once per client). */
async function podResizer(rc: ReconcileContext): Promise<PodResizer | undefined> {
  const client = rc.deps.client;
  // Discovery failing says nothing about resize: try it in place (a 404 from the API server then
  // falls back to the rolling update), rather than restart pods an in-place growth kept running.
  const offered = await offersResource(client, 'v1', 'pods/resize').catch((err: unknown) => {
    rc.log.warn({ err: (err as Error).message }, 'API discovery failed: in-place pod resize is tried (a refusal falls back to a rolling update)');
    return true;
  });
  if (!offered) return undefined;
  return {
    resize: async (ns, name, ops) => {
      await client.jsonPatch(R.pod, ns, name, ops, 'resize');
    },
  };
}

/** After an in-place growth: a standby pod recreated from the (reduced) template is resized to the primary's. */
async function holdGrown(rc: ReconcileContext, obs: Observed, promo: PromotionStatus): Promise<void> {
  const resizer = await podResizer(rc);
  if (!resizer) return;
  try {
    const resized = await keepGrown({ site: rc.site, primary: obs.primary, standby: obs.standby, standbyPods: obs.standbyPods, promotion: promo }, resizer);
    if (resized.length > 0) {
      await rc.deps.events.record(rc.current, 'Normal', 'Grown', `standby pods ${resized.join(', ')} (recreated from the reduced template) resized in place to the primary's requests and limits`);
    }
  } catch (err) {
    rc.log.warn({ err: (err as Error).message }, "could not resize the promoted standby's pods in place");
    rc.errors.push(`could not resize the promoted standby's pods in place: ${(err as Error).message}`);
  }
}

/** After the promotion: a reverted selector of the clients' Service is restored, with an Event each time. */
async function holdSwitch(rc: ReconcileContext, obs: Observed, engine: Engine, engineCtx: EngineContext | undefined): Promise<TrafficState | undefined> {
  const { site, deps: d } = rc;
  // Without the primary the engine cannot say which standby pods took over: look, do not touch.
  if (!engineCtx || !d.isLeader()) return undefined;
  const selector = { ...standbySelector(site.metadata.name), ...engine.promotedSelector?.(engineCtx) };
  const primaryMode = site.spec.traffic.mode === 'primaryService';
  const name = primaryMode ? site.spec.primary.service : names.traffic(site.metadata.name, site.spec);
  const service = primaryMode ? obs.primaryService : obs.trafficService;
  let restored = false;
  try {
    const found = await keepTraffic(site, { primaryService: obs.primaryService, trafficService: obs.trafficService, selector }, actuator(d, site, released));
    if (found) {
      restored = true;
      rc.log.warn({ service: name, found }, "the clients' Service no longer selected the promoted standby; restored");
      await d.events.record(
        rc.current,
        'Warning',
        'TrafficRestored',
        `Service ${name} selected ${JSON.stringify(found)} (a GitOps self-heal?) instead of the promoted standby; restored its selector so clients do not reach the fenced old primary`,
      );
    }
  } catch (err) {
    rc.errors.push(`could not restore the selector of Service ${name}: ${(err as Error).message}`);
  }
  return trafficState(service, name, selector, restored);
}

/** Writes status.promotion and what a transition implies: the standby serves once Promoted, in a new epoch. */
async function writePromotion(rc: ReconcileContext, p: PromotionStatus, extra: Partial<Record<keyof SiteStatus, unknown>>): Promise<boolean> {
  const prev = rc.current.status ?? {};
  const more: Partial<Record<keyof SiteStatus, unknown>> = { ...extra };
  if (p.state === 'Promoted' && prev.promotion?.state !== 'Promoted') {
    more.active = 'standby';
    more.epoch = p.epoch ?? (prev.epoch ?? 0) + 1;
  }
  if (p.state === 'Fencing' && !prev.promotion) {
    more.phase = 'Promoting';
    more.conditions = conditionsForPhase(prev, 'Promoting', rc.site.metadata.generation ?? 0, rc.now());
  }
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
    if (to.growthFailed) {
      rc.log.error({ growthFailed: to.growthFailed }, 'the promoted standby serves at reduced capacity');
      await d.events.record(rc.current, 'Warning', 'GrowthFailed', `the promoted standby serves at reduced capacity: ${to.growthFailed}`);
    } else if (to.grow) {
      await d.events.record(rc.current, 'Normal', 'Grown', "the promoted standby's pods have the primary's requests and limits");
    }
  } else if (to.state === 'Failed') {
    d.metrics?.promotions.inc({ tier, result: 'Failed', trigger: to.trigger ?? 'automatic' });
    rc.log.error({ message: to.message }, 'promotion failed');
    await d.events.record(rc.current, 'Warning', 'PromotionFailed', to.message ?? 'promotion failed');
  } else if (from === 'Fencing') {
    await d.events.record(rc.current, 'Normal', 'Fenced', `the primary is fenced (${rc.site.spec.promotion.fencing})`);
  }
}

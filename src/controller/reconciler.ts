// reconcile(key): read the caches, decide with pure functions, then act:
// promotion steps, server-side apply of what changed, removal of what is no
// longer wanted, and one status write when the status differs.
import type { V1Job, V1PodTemplateSpec, V1Service } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { nextRun } from '../api/cron.ts';
import { parseDuration } from '../api/duration.ts';
import { describeProblems, validateSpec, type StandbySite, type StandbySiteObject } from '../api/site.ts';
import { SITE_RESOURCE } from '../api/resource.ts';
import type { PromotionRecord, PromotionStatus, SiteStatus } from '../api/status.ts';
import type { Engine, EngineContext, EngineIO, EngineObservation } from '../engines/engine.ts';
import { engineFor } from '../engines/registry.ts';
import { buildFence } from '../fencing/network-policy.ts';
import { needsApply, stamped } from '../k8s/apply.ts';
import { isConflict, type KubeClient } from '../k8s/client.ts';
import type { EventRecorder } from '../k8s/events.ts';
import type { Informer } from '../k8s/informer.ts';
import { mergePatchFor } from '../k8s/merge-patch.ts';
import { olderThan } from '../k8s/resource-version.ts';
import { R, resourceOfKind, type Resource } from '../k8s/resources.ts';
import { keyOf, splitKey, toDate, type KubeObject } from '../k8s/types.ts';
import { decide, promoteRequest, type Decision } from '../promotion/decide.ts';
import { assessPrimary } from '../promotion/detect.ts';
import { drive, type PromotionSteps, type StepResult } from '../promotion/executor.ts';
import { begin, fail, inProgress } from '../promotion/machine.ts';
import { pinToPromotion } from '../promotion/pinned.ts';
import { standbyUsability } from '../promotion/usable.ts';
import {
  ANNOTATION_COMPLETE,
  ANNOTATION_DATA_TIME,
  ANNOTATION_PROMOTE,
  ANNOTATION_RUN,
  names,
  ownerReference,
  siteLabels,
  standbySelector,
} from '../site/names.ts';
import { isPodReady } from '../site/workload.ts';
import { newestReadySet, snapshotSets } from '../snapshot/sets.ts';
import { claimsOf, copyRuns, newestCompleteRun, obsoleteRuns, type CopyRun } from '../sync/runs.ts';
import { buildCopyClaim } from '../tiers/claims.ts';
import type { BuildContext } from '../tiers/context.ts';
import { desiredObjects } from '../tiers/desired.ts';
import { COPY_JOB_DEADLINE_SECONDS, jobPod } from '../tiers/jobs.ts';
import { buildStandbyWorkload, standbyPodTemplate } from '../tiers/standby-workload.ts';
import { buildTrafficService, type Side } from '../traffic/service.ts';
import type { Caches } from './caches.ts';
import { findCondition } from './conditions.ts';
import { newestFinished, newestSucceeded, observe, jobOutcome, type Observed } from './observe.ts';
import { computeStatus, effectiveRpoMs } from './status.ts';
import type { Metrics } from '../process/metrics.ts';
import { asPodTemplate } from '../engines/generic.ts';

export interface ReconcilerDeps {
  client: KubeClient;
  caches: Caches;
  events: EventRecorder;
  log: Logger;
  operatorImage: string;
  imagePullSecrets?: readonly string[] | undefined;
  isLeader: () => boolean;
  engineIO: EngineIO;
  metrics?: Metrics | undefined;
  now?: () => Date;
  /** How often a hot standby's lag is measured (engines that measure it). */
  lagProbeMs?: number;
  /** Test hook: exit the process right after this promotion step is recorded as done. */
  exitAfterStep?: string | undefined;
}

export interface ReconcileResult {
  requeueAfterMs?: number | undefined;
}

const HISTORY_LIMIT = 20;

/** The errors of one reconcile, raised after status is written so the queue backs off. */
export class ReconcileError extends Error {}

export class Reconciler {
  private readonly d: ReconcilerDeps;
  private readonly now: () => Date;
  private readonly engineCache = new Map<string, { at: number; obs: EngineObservation }>();
  /** Per site: when a watch event last showed a primary pod Ready (see noteReadyPrimary). */
  private readonly readySeen = new Map<string, Date>();
  /** Per promotion step (site, promotion start, state): when this process first drove it. */
  private readonly stepsDriven = new Map<string, Date>();
  /** Per site: the resourceVersion of this process's last status write, until the cache has it. */
  private readonly written = new Map<string, { rv: string; at: number }>();
  /** Sites whose reconcile was put off until the cache shows the write above. */
  private readonly deferred = new Set<string>();

  constructor(deps: ReconcilerDeps) {
    this.d = deps;
    this.now = deps.now ?? (() => new Date());
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const cached = this.d.caches.sites.get(key);
    if (!cached?.metadata) {
      this.engineCache.delete(key);
      this.readySeen.delete(key);
      this.written.delete(key);
      this.deferred.delete(key);
      for (const k of this.stepsDriven.keys()) if (k.startsWith(`${key}/`)) this.stepsDriven.delete(k);
      return {};
    }
    // Acting on a site older than what this process last wrote could undo a promotion's steps
    // (lift the fence, move traffic back): wait for the watch to deliver it; its event requeues.
    const written = this.written.get(key);
    if (written !== undefined) {
      // Bounded: a watch that stopped delivering (the informer re-lists on its own) must not stop
      // the site for good; after 10 s the cache is trusted again.
      if (olderThan(cached.metadata.resourceVersion, written.rv) && this.now().getTime() - written.at < 10_000) {
        this.deferred.add(key);
        return { requeueAfterMs: 1000 };
      }
      this.written.delete(key);
      this.deferred.delete(key);
    }
    // No finalizers: owner references let the garbage collector remove what the site owns.
    if (cached.metadata.deletionTimestamp) return {};
    const { namespace, name } = splitKey(key);
    const validation = validateSpec(cached.spec, name);
    if (!validation.ok) return this.reportInvalid(cached, describeProblems(validation.problems));
    const pinned = pinToPromotion(validation.spec, cached.status?.promotion);
    const site: StandbySite = {
      metadata: { ...cached.metadata, name, namespace },
      spec: pinned.spec,
      status: cached.status ?? {},
    };
    if (pinned.ignored && cached.metadata.generation !== cached.status?.observedGeneration && this.d.isLeader()) {
      await this.d.events.record(cached, 'Warning', 'SpecChangeIgnored', pinned.ignored);
    }
    return new SiteRun(this, site, cached, pinned.frozen).run();
  }

  private async reportInvalid(cached: StandbySiteObject, message: string): Promise<ReconcileResult> {
    const now = this.now();
    const generation = cached.metadata?.generation ?? 0;
    const prev = cached.status ?? {};
    const status: SiteStatus = {
      ...prev,
      observedGeneration: generation,
      phase: prev.promotion && inProgress(prev.promotion) ? prev.phase : 'Degraded',
      conditions: [
        ...(prev.conditions ?? []).filter((c) => c.type !== 'Ready'),
        {
          type: 'Ready',
          status: 'False',
          reason: 'InvalidSpec',
          message,
          observedGeneration: generation,
          lastTransitionTime:
            findCondition(prev.conditions, 'Ready')?.reason === 'InvalidSpec'
              ? findCondition(prev.conditions, 'Ready')!.lastTransitionTime
              : now.toISOString(),
        },
      ],
    };
    const patch = mergePatchFor(prev, status);
    if (patch !== undefined && this.d.isLeader()) {
      await this.d.client.mergePatch(SITE_RESOURCE, cached.metadata?.namespace, cached.metadata?.name ?? '', { status: patch }, 'status');
      await this.d.events.record(cached, 'Warning', 'InvalidSpec', message);
    }
    return {};
  }

  /** Measures a hot standby through the engine, at most once per probe interval. */
  async engineObservation(key: string, engine: Engine, ctx: EngineContext): Promise<EngineObservation> {
    const probeMs = this.d.lagProbeMs ?? 10_000;
    const hit = this.engineCache.get(key);
    if (hit && this.now().getTime() - hit.at < probeMs) return hit.obs;
    const obs = await engine.observe(ctx, this.d.engineIO);
    this.engineCache.set(key, { at: this.now().getTime(), obs });
    return obs;
  }

  get deps(): ReconcilerDeps {
    return this.d;
  }

  /** A watch event showed a pod of this site's primary Ready. */
  noteReadyPrimary(key: string): void {
    this.readySeen.set(key, this.now());
  }

  /** When this process first drove this step of this promotion. */
  firstDriven(key: string, p: PromotionStatus): Date {
    const k = `${key}/${p.startedAt ?? ''}/${p.state ?? ''}`;
    let at = this.stepsDriven.get(k);
    if (!at) {
      at = this.now();
      // Bounded: one entry per step driven; old promotions' entries go with the site.
      this.stepsDriven.set(k, at);
    }
    return at;
  }

  lastSeenReady(key: string): Date | undefined {
    return this.readySeen.get(key);
  }

  /**
   * Every watch event of a site: when it shows this process's last status write, a reconcile that
   * was put off for it must run now (status-only updates otherwise wake nothing).
   */
  siteObserved(key: string, site: StandbySiteObject): boolean {
    const written = this.written.get(key);
    if (written === undefined || olderThan(site.metadata?.resourceVersion, written.rv)) return false;
    this.written.delete(key);
    return this.deferred.delete(key);
  }

  /** A status write of this process landed: reconciles wait until the cache is at least this new. */
  noteWritten(key: string, site: StandbySiteObject): void {
    const rv = site.metadata?.resourceVersion;
    if (rv) this.written.set(key, { rv, at: this.now().getTime() });
  }

  clock(): Date {
    return this.now();
  }
}

/** One reconcile of one site: the state that the steps share. */
class SiteRun {
  private readonly r: Reconciler;
  private readonly d: ReconcilerDeps;
  private readonly site: StandbySite;
  private current: StandbySiteObject;
  private readonly key: string;
  private readonly log: Logger;
  private readonly errors: string[] = [];
  private obs!: Observed;
  private engine!: Engine;
  private requeue: number[] = [];
  /** The fence written in this run (the cache may not show it yet). */
  private fenceWritten = false;

  /** See pinToPromotion: keep only the traffic Service and the fence; change and remove nothing else. */
  private readonly frozen: boolean;

  constructor(r: Reconciler, site: StandbySite, cached: StandbySiteObject, frozen = false) {
    this.frozen = frozen;
    this.r = r;
    this.d = r.deps;
    this.site = site;
    this.current = cached;
    this.key = `${site.metadata.namespace}/${site.metadata.name}`;
    this.log = this.d.log.child({ namespace: site.metadata.namespace, site: site.metadata.name });
  }

  private now(): Date {
    return this.r.clock();
  }

  private after(ms: number | undefined): void {
    if (ms !== undefined && Number.isFinite(ms) && ms >= 0) this.requeue.push(ms);
  }

  async run(): Promise<ReconcileResult> {
    const { site } = this;
    const spec = site.spec;
    const now = this.now();
    this.obs = observe(this.d.caches, site);
    const obs = this.obs;
    this.engine = engineFor(spec.engine);
    const prev = site.status;

    // References only the controller can check.
    const problems: string[] = [];
    if (!obs.primaryService) {
      problems.push(`Service ${spec.primary.service} (spec.primary.service) does not exist in namespace ${site.metadata.namespace}`);
    }
    const usesSnapshots = (spec.tier === 'cold' && spec.cold?.method === 'volumeSnapshot') || (spec.tier === 'warm' && spec.warm?.method === 'volumeSnapshot');
    if (obs.primary && usesSnapshots && obs.volumes.length === 0) {
      problems.push(
        `${spec.primary.workload.kind} ${spec.primary.workload.name} has no PersistentVolumeClaims to snapshot; method volumeSnapshot needs volumeClaimTemplates or PVC volumes (or use method job)`,
      );
    }
    if (usesSnapshots && !this.d.caches.snapshots.installed) {
      problems.push('the VolumeSnapshot API (snapshot.storage.k8s.io/v1) is not installed in this cluster; install the CSI snapshot CRDs and controller, or use method job');
    }
    if (obs.primary && obs.missingClaims.length > 0 && spec.tier !== 'hot') {
      problems.push(`the primary's PersistentVolumeClaim(s) ${obs.missingClaims.join(', ')} do not exist yet`);
    }
    const engineCtx = this.engineContext();
    if (engineCtx) problems.push(...(await this.engine.check(engineCtx, this.d.engineIO)));

    // What the standby holds.
    const volumeNames = obs.volumes.map((v) => v.volume);
    const runs = copyRuns(obs.copyClaims, volumeNames.length ? volumeNames : Object.keys(claimsOf(obs.standby?.spec?.template)));
    const sets = snapshotSets(obs.snapshots, volumeNames);
    const promotion = prev.promotion;
    const started = promotion !== undefined;
    const mounted = claimsOf(obs.standby?.spec?.template);
    const mountedRun = runs.find((r) => r.complete && Object.values(r.claims).every((c) => Object.values(mounted).includes(c)));
    const standbyRun = started ? (mountedRun ?? newestCompleteRun(runs)) : newestCompleteRun(runs);

    let engineObs: EngineObservation = {};
    if (spec.tier === 'hot' && this.engine.measuresLag && engineCtx) {
      engineObs = await this.r.engineObservation(this.key, this.engine, engineCtx);
      this.after(this.d.lagProbeMs ?? 10_000);
    }

    let dataTime: Date | undefined;
    let lastSnapshotTime: Date | undefined;
    let snapshotCount: number | undefined;
    let lastSync: { time: Date; durationMs: number | undefined } | undefined;
    const lastCopyJob = newestFinished(obs.jobs, ['copy', 'snapshot']);
    if (spec.tier === 'warm') {
      dataTime = standbyRun?.dataTime;
      const job = newestSucceeded(obs.jobs, ['copy']);
      if (standbyRun) {
        lastSync = {
          time: standbyRun.dataTime,
          durationMs: job?.started && job.finished ? job.finished.getTime() - job.started.getTime() : undefined,
        };
      }
    } else if (spec.tier === 'cold') {
      if (spec.cold?.method === 'volumeSnapshot') {
        const ready = sets.filter((s) => s.ready);
        dataTime = ready[0]?.time;
        snapshotCount = ready.length;
      } else {
        dataTime = newestSucceeded(obs.jobs, ['snapshot'])?.started;
      }
      lastSnapshotTime = dataTime;
      // For kubectl's LAST SYNC column, a cold tier's copy is its snapshot.
      if (dataTime) lastSync = { time: dataTime, durationMs: undefined };
    }

    const primary = assessPrimary({
      now,
      workload: obs.primary,
      pods: obs.primaryPods,
      previousNotReadySince: toDate(prev.primary?.notReadySince),
      lastSeenReady: this.r.lastSeenReady(this.key),
      previousEverReady: prev.primary?.everReady === true,
      fenced: started,
    });
    const standbyReadyPods = obs.standbyPods.filter(isPodReady).length;
    const usability = standbyUsability({
      tier: spec.tier,
      now,
      rpoTargetMs: effectiveRpoMs(spec, now),
      standbyReady: standbyReadyPods > 0,
      lagSeconds: engineObs.lagSeconds,
      measuresLag: this.engine.measuresLag,
      maxLagMs: parseDuration(spec.hot?.maxLag ?? '30s') ?? 30_000,
      dataTime,
    });

    // Promotion.
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
        ready: primary.ready,
        notReadySince: primary.notReadySince,
        scaledToZero: primary.scaledToZero,
        everReady: primary.everReady,
      },
      standby: usability,
      history: prev.promotionHistory ?? [],
      isLeader: this.d.isLeader(),
      request,
      current: promotion,
      active: prev.active ?? 'primary',
    });
    let handledToken = prev.handledPromoteToken;
    let promo = promotion;
    if (decision.action === 'wait') this.after(decision.afterMs);
    if (decision.action === 'refuse' && decision.retryAfterMs !== undefined) this.after(decision.retryAfterMs);
    if (decision.action === 'refuse' && request && this.d.isLeader()) {
      handledToken = request.token;
      await this.d.events.record(this.current, 'Warning', 'PromotionRefused', `standby.dev/promote=${request.token}: ${decision.message}`);
    }
    let startWrite: Promise<boolean> | undefined;
    if (decision.action === 'start') {
      const began = begin(now, decision.trigger, decision.reason, decision.token, { tier: spec.tier, fencing: spec.promotion.fencing });
      startWrite = this.writePromotion(began, { handledPromoteToken: decision.token ?? handledToken });
      // Awaited below (or by drive); this only keeps an early rejection from counting as unhandled.
      startWrite.catch(() => undefined);
      // A fence NetworkPolicy raised before the start is recorded is harmless (an unrecorded one is
      // removed by the next reconcile), so it goes up at the same time. Scaling the user's workload
      // down is not undone that way: it waits for the record.
      if (spec.promotion.fencing !== 'networkPolicy' && !(await startWrite)) return { requeueAfterMs: 0 };
      handledToken = decision.token ?? handledToken;
      promo = began;
      this.log.warn({ trigger: decision.trigger, reason: decision.reason }, 'promotion started');
      void this.d.events.record(
        this.current,
        decision.trigger === 'automatic' ? 'Warning' : 'Normal',
        'PromotionStarted',
        `${decision.trigger} promotion: ${decision.reason}; fencing the primary (${spec.promotion.fencing})`,
      );
    }
    // Frozen: the tier the promotion began with can no longer be built from the spec, so its
    // remaining steps cannot run as that tier would: it fails, fenced, saying why.
    if (inProgress(promo) && this.d.isLeader() && this.frozen) {
      const failed = fail(promo, now, `spec.${promo.tier ?? 'tier'} was removed while the promotion ran; the primary stays fenced: restore it, or decide by hand`);
      if (!(await this.writePromotion(failed, {}))) return { requeueAfterMs: 0 };
      void this.afterTransition(promo.state, failed);
      promo = failed;
    }
    if (inProgress(promo) && this.d.isLeader() && !this.frozen) {
      const result = await drive(promo, this.steps(runs, sets), {
        now: () => this.now(),
        stepTimeoutMs: parseDuration(spec.promotion.stepTimeout) ?? 300_000,
        write: (p) => this.writePromotion(p, {}),
        resumedAt: (p) => this.r.firstDriven(this.key, p),
        ...(startWrite && spec.promotion.fencing === 'networkPolicy' ? { pendingWrite: startWrite } : {}),
        afterTransition: (from, to) => void this.afterTransition(from, to),
        sequential: this.d.exitAfterStep !== undefined,
      });
      promo = result.promotion;
      if (result.conflict) return { requeueAfterMs: 0 };
      if (result.waitingFor) {
        this.log.info({ step: promo.state, waitingFor: result.waitingFor }, 'promotion step waiting');
        this.after(1000);
      }
    } else if (startWrite && !(await startWrite)) {
      return { requeueAfterMs: 0 };
    }
    const latest = this.current.status ?? {};
    const active: Side = latest.active ?? 'primary';

    // Desired objects. Without the primary workload nothing new can be built; what exists is kept.
    const ctx = this.buildContext(promo, active, standbyRun);
    if (ctx) {
      const trafficName = names.traffic(site.metadata.name, spec);
      const isTraffic = (o: KubeObject) => o.kind === 'Service' && o.metadata?.name === trafficName;
      const built = this.frozen ? desiredObjects(ctx).filter((o) => isTraffic(o) || o.kind === 'NetworkPolicy') : desiredObjects(ctx);
      const desired = promo ? built.map(released) : built;
      // While a promotion runs, only its steps move traffic: a transition recorded a step late must
      // never make this pass point clients back at the fenced primary.
      await this.applyAll(inProgress(promo) ? desired.filter((o) => !isTraffic(o)) : desired);
      if (!this.frozen) {
        await this.removeUnwanted(desired);
        if (!promo) await this.pruneCopies(runs, mounted);
        await this.alignDataOwnership();
      }
    }

    // Status.
    const wantsSchedule = spec.tier === 'warm' ? spec.warm : spec.tier === 'cold' ? spec.cold : undefined;
    const nextSyncTime =
      wantsSchedule && !wantsSchedule.suspend && !promo ? nextRun(wantsSchedule.schedule, wantsSchedule.timeZone, now) : undefined;
    if (nextSyncTime) this.after(nextSyncTime.getTime() - now.getTime() + 1000);
    const fencing = promo ? this.fencingState(promo) : undefined;
    const { status, recheckInMs } = computeStatus({
      now,
      spec,
      generation: site.metadata.generation ?? 0,
      previous: latest,
      // A promotion begun in this very run fenced the primary already.
      primary: promo && primary.state !== 'Missing' ? { ...primary, state: 'Fenced' } : primary,
      problems: [...problems, ...this.errors],
      standby: {
        name: obs.standby ? names.standby(site.metadata.name) : undefined,
        exists: obs.standby !== undefined,
        readyReplicas: standbyReadyPods,
        replicas: obs.standby?.spec?.replicas ?? 0,
        created: toDate(obs.standby?.metadata?.creationTimestamp),
      },
      measuresLag: this.engine.measuresLag,
      lagSeconds: engineObs.lagSeconds,
      engineProblem: engineObs.problem,
      dataTime,
      lastSnapshotTime,
      snapshots: snapshotCount,
      lastSync,
      nextSyncTime,
      lastCopyJob: lastCopyJob?.finished
        ? { succeeded: lastCopyJob.succeeded, finished: lastCopyJob.finished, message: lastCopyJob.message }
        : undefined,
      usability,
      decision,
      promotion: promo,
      history: latest.promotionHistory ?? [],
      handledToken,
      active,
      trafficService: spec.traffic.mode === 'operatorService' ? names.traffic(site.metadata.name, spec) : spec.primary.service,
      fencing,
    });
    this.after(recheckInMs);
    // Bad references are usually fixed by creating the object, which the watches see; look again
    // now and then anyway, for what no watch covers (a Secret, a CRD installed later).
    if (problems.length > 0 || this.errors.length > 0) this.after(30_000);
    await this.writeStatus(latest, status, decision);
    if (this.errors.length > 0) throw new ReconcileError(this.errors.join('; '));
    return { requeueAfterMs: this.requeue.length ? Math.min(...this.requeue) : undefined };
  }

  private engineContext(): EngineContext | undefined {
    if (!this.obs.primary) return undefined;
    return {
      site: this.site,
      tier: this.site.spec.tier,
      primary: this.obs.primary,
      primaryService: this.obs.primaryService,
      volumes: this.obs.volumes,
      operatorImage: this.d.operatorImage,
    };
  }

  private buildContext(promo: PromotionStatus | undefined, active: Side, run: CopyRun | undefined): BuildContext | undefined {
    if (!this.obs.primary) return undefined;
    const switching = promo?.state === 'Switching' || promo?.state === 'Promoted';
    return {
      site: this.site,
      primary: this.obs.primary,
      primaryService: this.obs.primaryService,
      volumes: this.obs.volumes,
      primaryClaims: this.obs.primaryClaims,
      engine: this.engine,
      operatorImage: this.d.operatorImage,
      imagePullSecrets: this.d.imagePullSecrets ?? [],
      active: switching ? 'standby' : active,
      promotion: promo?.state,
      copyClaims: run?.claims,
    };
  }

  // ---- writes -------------------------------------------------------------

  private informerFor(res: Resource): Informer<KubeObject> | undefined {
    const c = this.d.caches;
    const byKind: Record<string, Informer<KubeObject>> = {
      StatefulSet: c.statefulSets,
      Deployment: c.deployments,
      Service: c.services,
      PersistentVolumeClaim: c.pvcs,
      CronJob: c.cronJobs,
      Job: c.jobs,
      NetworkPolicy: c.networkPolicies,
      ServiceAccount: c.serviceAccounts,
      Role: c.roles,
      RoleBinding: c.roleBindings,
    } as unknown as Record<string, Informer<KubeObject>>;
    return byKind[res.kind];
  }

  private async applyOne(obj: KubeObject): Promise<KubeObject | undefined> {
    const res = resourceOfKind(obj.kind ?? '');
    const want = stamped(obj);
    const live = this.informerFor(res)?.get(keyOf(want));
    if (!needsApply(want, live)) return live;
    if (live && this.mustReplace(want, live)) {
      // volumeClaimTemplates cannot change (a warm standby on copies becoming a hot one with its
      // own claims, or back): replace the standby. Claims it made stay, as deletionPolicy says.
      try {
        // Whatever deletionPolicy says, a replacement is not a deletion of the site: keep the claims.
        await this.d.client.mergePatch(res, live.metadata?.namespace, live.metadata?.name ?? '', {
          spec: { persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain' } },
        });
        await this.d.client.delete(res, live.metadata?.namespace, live.metadata?.name ?? '', { uid: live.metadata?.uid ?? '' });
        this.log.info({ kind: want.kind, name: want.metadata?.name }, 'replaced the standby workload: its volume claim templates changed');
      } catch (err) {
        this.errors.push(`could not replace ${want.kind} ${want.metadata?.name}: ${(err as Error).message}`);
      }
      this.after(500);
      return undefined;
    }
    try {
      return await this.d.client.apply(res, want);
    } catch (err) {
      this.errors.push(`could not apply ${obj.kind} ${obj.metadata?.name}: ${(err as Error).message}`);
      return undefined;
    }
  }

  /** An owned StatefulSet whose volumeClaimTemplates (immutable) differ, while no promotion relies on it. */
  private mustReplace(want: KubeObject, live: KubeObject): boolean {
    if (want.kind !== 'StatefulSet' || this.current.status?.promotion?.state) return false;
    if (!live.metadata?.ownerReferences?.some((r) => r.uid === this.site.metadata.uid)) return false;
    const claimNames = (o: KubeObject) =>
      ((o as { spec?: { volumeClaimTemplates?: { metadata?: { name?: string } }[] } }).spec?.volumeClaimTemplates ?? [])
        .map((t) => t.metadata?.name ?? '')
        .sort()
        .join(',');
    return claimNames(want) !== claimNames(live);
  }

  private async applyAll(desired: readonly KubeObject[]): Promise<void> {
    // Independent objects (a RoleBinding or CronJob may name what does not exist yet): applied
    // together, so one reconcile costs one round trip, and a failure does not stop the rest.
    await Promise.all(desired.map((obj) => this.applyOne(obj)));
  }

  /** Deletes owned objects the site no longer wants (after a tier change). Data (PVCs, snapshots) is never touched here. */
  private async removeUnwanted(desired: readonly KubeObject[]): Promise<void> {
    const wanted = new Set(desired.map((o) => `${o.kind}/${o.metadata?.name}`));
    const c = this.d.caches;
    const kinds: [Resource, Informer<KubeObject>][] = [
      [R.statefulSet, c.statefulSets],
      [R.deployment, c.deployments],
      [R.cronJob, c.cronJobs as unknown as Informer<KubeObject>],
      [R.service, c.services],
      [R.networkPolicy, c.networkPolicies],
      [R.serviceAccount, c.serviceAccounts],
      [R.role, c.roles],
      [R.roleBinding, c.roleBindings as unknown as Informer<KubeObject>],
    ];
    for (const [res, inf] of kinds) {
      for (const o of inf.byIndex('site', this.key)) {
        if (wanted.has(`${res.kind}/${o.metadata?.name}`)) continue;
        // Only objects this site controls; a label alone is not proof of ownership.
        if (!o.metadata?.ownerReferences?.some((r) => r.uid === this.site.metadata.uid)) continue;
        try {
          await this.d.client.delete(res, o.metadata.namespace, o.metadata.name ?? '', { uid: o.metadata.uid ?? '' });
          this.log.info({ kind: res.kind, name: o.metadata.name }, 'removed an object the site no longer needs');
        } catch (err) {
          this.errors.push(`could not delete ${res.kind} ${o.metadata.name}: ${(err as Error).message}`);
        }
      }
    }
  }

  /** Deletes standby copies that are neither the newest complete one nor mounted, and never during a promotion. */
  private async pruneCopies(runs: readonly CopyRun[], mounted: Record<string, string>): Promise<void> {
    const inUse = new Set(Object.values(mounted));
    // The standby must already have moved to the newest copy before older ones go.
    const newest = newestCompleteRun(runs);
    if (newest && this.obs.standby && !Object.values(newest.claims).every((c) => inUse.has(c))) return;
    for (const run of obsoleteRuns(runs, inUse, this.now(), (COPY_JOB_DEADLINE_SECONDS + 600) * 1000)) {
      for (const name of run.names) {
        try {
          await this.d.client.delete(R.pvc, this.site.metadata.namespace, name);
        } catch (err) {
          this.errors.push(`could not delete old standby copy ${name}: ${(err as Error).message}`);
        }
      }
      this.log.info({ run: run.run }, 'deleted an older standby copy');
    }
  }

  /**
   * Snapshots and standby copies are owned by the site (and go with it) only under deletionPolicy
   * Delete; a policy changed later is applied to the copies that already exist.
   */
  private async alignDataOwnership(): Promise<void> {
    const { site, obs } = this;
    const uid = site.metadata.uid;
    if (!uid) return;
    // Once a promotion began, the copies may be what serves clients: deleting the site never takes them.
    const promoted = this.current.status?.promotion?.state !== undefined;
    const targets: [Resource, KubeObject[], boolean][] = [
      [R.volumeSnapshot, obs.snapshots, site.spec.deletionPolicy.snapshots === 'Delete'],
      [R.pvc, obs.copyClaims, site.spec.deletionPolicy.standbyVolumes === 'Delete' && !promoted],
    ];
    for (const [res, objects, owned] of targets) {
      for (const o of objects) {
        const refs = o.metadata?.ownerReferences ?? [];
        const has = refs.some((r) => r.uid === uid);
        if (has === owned) continue;
        const next = owned ? [...refs, ownerReference(site, false)] : refs.filter((r) => r.uid !== uid);
        try {
          await this.d.client.mergePatch(res, site.metadata.namespace, o.metadata?.name ?? '', {
            metadata: { ownerReferences: next.length ? next : null },
          });
        } catch (err) {
          this.errors.push(`could not update the owner of ${res.kind} ${o.metadata?.name}: ${(err as Error).message}`);
        }
      }
    }
  }

  /** Writes status.promotion (and what a transition implies) with the site's resourceVersion as precondition. */
  private async writePromotion(p: PromotionStatus, extra: Partial<SiteStatus>): Promise<boolean> {
    const prev = this.current.status ?? {};
    const patch: Record<string, unknown> = { promotion: mergePatchFor(prev.promotion ?? {}, p) ?? {}, ...extra };
    if (p.state === 'Promoted' || p.state === 'Failed') {
      const record: PromotionRecord = {
        startedAt: p.startedAt ?? this.now().toISOString(),
        trigger: p.trigger ?? 'automatic',
        result: p.state,
        ...(p.completedAt ? { completedAt: p.completedAt } : {}),
        ...(p.reason ? { reason: p.reason } : {}),
      };
      patch.promotionHistory = [...(prev.promotionHistory ?? []), record].slice(-HISTORY_LIMIT);
    }
    if (p.state === 'Promoted') patch.active = 'standby';
    if (p.state === 'Fencing' && !prev.promotion) patch.phase = 'Promoting';
    try {
      const updated = await this.d.client.mergePatch<StandbySiteObject>(
        SITE_RESOURCE,
        this.site.metadata.namespace,
        this.site.metadata.name,
        { metadata: { resourceVersion: this.current.metadata?.resourceVersion }, status: patch },
        'status',
      );
      this.current = updated;
      this.r.noteWritten(this.key, updated);
      return true;
    } catch (err) {
      if (isConflict(err)) {
        this.log.info('site changed while promoting; re-reading');
        return false;
      }
      throw err;
    }
  }

  private async afterTransition(from: string, to: PromotionStatus): Promise<void> {
    if (this.d.exitAfterStep === from) {
      // Test hook: a crash right after this step was recorded, before anything else happens.
      process.stderr.write(`exiting after promotion step ${from} (test hook)\n`);
      process.exit(75);
    }
    const tier = this.site.spec.tier;
    if (to.state === 'Promoted') {
      this.d.metrics?.promotions.inc({ tier, result: 'Promoted', trigger: to.trigger ?? 'automatic' });
      if (to.durationSeconds !== undefined) this.d.metrics?.promotionSeconds.observe({ tier }, to.durationSeconds);
      this.log.warn({ durationSeconds: to.durationSeconds }, 'promotion complete: the standby serves clients');
      await this.d.events.record(this.current, 'Normal', 'Promoted', `the standby serves clients; promotion took ${to.durationSeconds ?? '?'}s`);
    } else if (to.state === 'Failed') {
      this.d.metrics?.promotions.inc({ tier, result: 'Failed', trigger: to.trigger ?? 'automatic' });
      this.log.error({ message: to.message }, 'promotion failed');
      await this.d.events.record(this.current, 'Warning', 'PromotionFailed', to.message ?? 'promotion failed');
    } else if (from === 'Fencing') {
      await this.d.events.record(this.current, 'Normal', 'Fenced', `the primary is fenced (${this.site.spec.promotion.fencing})`);
    }
  }

  // ---- promotion steps ------------------------------------------------------

  private steps(runs: readonly CopyRun[], sets: ReturnType<typeof snapshotSets>): PromotionSteps {
    return {
      Fencing: () => this.fence(),
      Promoting: () => this.promote(runs, sets),
      Switching: () => this.switchTraffic(),
    };
  }

  private async fence(): Promise<StepResult> {
    const { site, obs } = this;
    if (site.spec.promotion.fencing === 'scaleDown') {
      if (!obs.primary) return { done: true };
      const res = obs.primary.kind === 'StatefulSet' ? R.statefulSet : R.deployment;
      if ((obs.primary.spec?.replicas ?? 1) !== 0) {
        await this.d.client.mergePatch(res, site.metadata.namespace, obs.primary.metadata?.name ?? '', { spec: { replicas: 0 } });
      }
      const running = obs.primaryPods.length;
      return running === 0 ? { done: true } : { done: false, waitingFor: `${running} primary pod(s) still exist after scaling to 0` };
    }
    const fence = obs.primary ? buildFence(site, obs.primary) : this.fenceFromService();
    if (!fence) return { done: true };
    await this.applyOrThrow(fence);
    this.fenceWritten = true;
    return { done: true };
  }

  private fenceFromService() {
    const sel = this.obs.primaryService?.spec?.selector;
    if (!sel) return undefined;
    const np = buildFence(this.site, { kind: 'Deployment', metadata: {}, spec: { selector: { matchLabels: sel }, template: {} } });
    return np;
  }

  /** For the promotion's steps: what they apply is already the site's no longer (see released). */
  private async applyOrThrow(obj: KubeObject): Promise<KubeObject> {
    const res = resourceOfKind(obj.kind ?? '');
    const want = stamped(released(obj));
    const live = this.informerFor(res)?.get(keyOf(want));
    if (!needsApply(want, live)) return live!;
    return this.d.client.apply(res, want);
  }

  private standbyReady(): boolean {
    return this.obs.standbyPods.some(isPodReady);
  }

  private async promote(runs: readonly CopyRun[], sets: ReturnType<typeof snapshotSets>): Promise<StepResult> {
    switch (this.site.spec.tier) {
      case 'hot':
        return this.promoteHot();
      case 'warm':
        return this.startStandby(undefined);
      case 'cold':
        return this.promoteCold(runs, sets);
    }
  }

  private async promoteHot(): Promise<StepResult> {
    if (!this.standbyReady()) return { done: false, waitingFor: 'the hot standby has no Ready pod' };
    const ctx = this.engineContext();
    const template = ctx ? this.engine.promoteTemplate(ctx) : asPodTemplate(this.site.spec.engine.generic?.promoteJobTemplate);
    if (!template) return { done: true };
    const jobName = names.promoteJob(this.site.metadata.name, promotionId(this.current.status?.promotion));
    return this.runJob(jobName, 'promote', template, {});
  }

  /** Runs a one-off Job to completion, idempotently; volumes by name are mounted from the given PVCs. */
  private async runJob(name: string, role: 'promote' | 'restore', template: V1PodTemplateSpec, claims: Record<string, string>): Promise<StepResult> {
    const ns = this.site.metadata.namespace;
    let job: V1Job | undefined = this.d.caches.jobs.get(`${ns}/${name}`);
    if (!job) {
      const pod = jobPod(this.site, role, template);
      if (Object.keys(claims).length > 0) {
        const others = (pod.spec?.volumes ?? []).filter((v) => !(v.name in claims));
        pod.spec = {
          ...pod.spec!,
          volumes: [...others, ...Object.entries(claims).map(([v, c]) => ({ name: v, persistentVolumeClaim: { claimName: c } }))],
        };
      }
      const body: V1Job = {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name, namespace: ns, labels: siteLabels(this.site.metadata.name, role), ownerReferences: [ownerReference(this.site)] },
        spec: { backoffLimit: 2, activeDeadlineSeconds: COPY_JOB_DEADLINE_SECONDS, template: pod },
      };
      try {
        job = await this.d.client.create(R.job, body);
      } catch (err) {
        if (!isConflict(err) && !(err instanceof Error && /already exists/.test(err.message))) throw err;
        job = await this.d.client.get<V1Job>(R.job, ns, name);
      }
    }
    const outcome = job ? jobOutcome(job) : undefined;
    if (outcome?.succeeded) return { done: true };
    if (outcome?.failed) return { done: false, waitingFor: '', failed: `Job ${name} failed: ${outcome.message}` };
    return { done: false, waitingFor: `Job ${name} to complete` };
  }

  /** Scales the standby up on the given copy (or the one it mounts) and waits for a Ready pod. */
  private async startStandby(claims: Record<string, string> | undefined, run?: string): Promise<StepResult> {
    const { obs, site } = this;
    if (obs.primary) {
      const template = this.engine.standbyTemplate(
        { ...this.engineContext()!, tier: site.spec.tier },
        standbyPodTemplate(site.metadata.name, obs.primary, obs.primaryService),
      );
      const mountedClaims = claims ?? claimsOf(obs.standby?.spec?.template);
      if (Object.keys(mountedClaims).length === 0 && obs.volumes.length > 0) {
        return { done: false, waitingFor: '', failed: 'no standby copy exists to start the standby on' };
      }
      const workload = buildStandbyWorkload({
        site,
        primary: obs.primary,
        template,
        replicas: 1,
        volumes: { kind: 'claims', claims: mountedClaims },
      });
      if (run) workload.metadata = { ...workload.metadata, annotations: { [ANNOTATION_RUN]: run } };
      await this.applyOrThrow(workload);
    } else if (obs.standby) {
      const res = obs.standby.kind === 'StatefulSet' ? R.statefulSet : R.deployment;
      if ((obs.standby.spec?.replicas ?? 0) < 1) {
        await this.d.client.mergePatch(res, site.metadata.namespace, obs.standby.metadata?.name ?? '', { spec: { replicas: 1 } });
      }
    } else {
      return { done: false, waitingFor: '', failed: 'neither the primary workload (to copy its pod template) nor a standby workload exists' };
    }
    return this.standbyReady() ? { done: true } : { done: false, waitingFor: 'the standby to have a Ready pod' };
  }

  private async promoteCold(runs: readonly CopyRun[], sets: ReturnType<typeof snapshotSets>): Promise<StepResult> {
    const { site, obs } = this;
    const cold = site.spec.cold!;
    // Resuming: only a copy this promotion restores (from the newest ready set, or by its restore
    // Job). A complete copy left from an earlier warm tier may be far older than the newest snapshot.
    const newest = newestReadySet(sets);
    const ours = new Set([`restore-${promotionId(this.current.status?.promotion)}`, ...(newest ? [newest.run] : [])]);
    const restored = runs.find((r) => r.complete && ours.has(r.run));
    if (restored) return this.startStandby(restored.claims, restored.run);
    const ns = site.metadata.namespace;
    if (cold.method === 'volumeSnapshot') {
      const set = newest;
      if (!set) return { done: false, waitingFor: '', failed: 'no ready snapshot set exists to restore' };
      for (const v of obs.volumes) {
        const name = names.copyClaim(site.metadata.name, v.volume, set.run);
        if (this.d.caches.pvcs.get(`${ns}/${name}`)) continue;
        const pvc = buildCopyClaim({
          site,
          name,
          run: set.run,
          volume: v,
          primaryClaim: obs.primaryClaims.get(v.claim),
          fromSnapshot: set.snapshots[v.volume],
          annotations: { [ANNOTATION_DATA_TIME]: set.time.toISOString(), [ANNOTATION_COMPLETE]: 'true' },
        });
        await this.createIfMissing(R.pvc, pvc);
      }
      const claims = Object.fromEntries(obs.volumes.map((v) => [v.volume, names.copyClaim(site.metadata.name, v.volume, set.run)]));
      return this.startStandby(claims, set.run);
    }
    // method job or engine: fresh volumes, filled by the restore Job.
    const template = cold.method === 'job' ? asPodTemplate(cold.restoreJobTemplate) : this.engine.restoreTemplate(this.engineContext()!);
    if (!template) return { done: false, waitingFor: '', failed: `the ${site.spec.engine.type} engine has no restore for method ${cold.method}` };
    const run = `restore-${promotionId(this.current.status?.promotion)}`;
    const claims: Record<string, string> = {};
    for (const v of obs.volumes) {
      const name = names.copyClaim(site.metadata.name, v.volume, run);
      claims[v.volume] = name;
      if (!this.d.caches.pvcs.get(`${ns}/${name}`)) {
        await this.createIfMissing(R.pvc, buildCopyClaim({ site, name, run, volume: v, primaryClaim: obs.primaryClaims.get(v.claim) }));
      }
    }
    const job = await this.runJob(names.restoreJob(site.metadata.name, promotionId(this.current.status?.promotion)), 'restore', template, claims);
    if (!job.done) return job;
    const dataTime = newestSucceeded(obs.jobs, ['snapshot'])?.started ?? this.now();
    for (const name of Object.values(claims)) {
      await this.d.client.mergePatch(R.pvc, ns, name, {
        metadata: { annotations: { [ANNOTATION_COMPLETE]: 'true', [ANNOTATION_DATA_TIME]: dataTime.toISOString() } },
      });
    }
    return this.startStandby(claims, run);
  }

  private async createIfMissing(res: Resource, obj: KubeObject): Promise<void> {
    try {
      await this.d.client.create(res, obj);
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
  }

  private async switchTraffic(): Promise<StepResult> {
    const { site, obs } = this;
    const ctx = this.engineContext();
    const want = { ...standbySelector(site.metadata.name), ...(ctx ? this.engine.promotedSelector?.(ctx) : undefined) };
    if (site.spec.traffic.mode === 'primaryService') {
      if (!obs.primaryService) return { done: false, waitingFor: '', failed: `Service ${site.spec.primary.service} does not exist` };
      await this.d.client.jsonPatch(R.service, site.metadata.namespace, site.spec.primary.service, [
        { op: 'replace', path: '/spec/selector', value: want },
      ]);
      return { done: true };
    }
    const name = names.traffic(site.metadata.name, site.spec);
    if (obs.trafficService) {
      await this.d.client.jsonPatch<V1Service>(R.service, site.metadata.namespace, name, [
        { op: 'replace', path: '/spec/selector', value: want },
        { op: 'add', path: '/metadata/annotations', value: { ...obs.trafficService.metadata?.annotations, 'standby.dev/active': 'standby' } },
      ]);
      return { done: true };
    }
    if (!obs.primaryService) return { done: false, waitingFor: '', failed: 'neither the traffic Service nor the primary Service exists' };
    await this.applyOrThrow(buildTrafficService(site, obs.primaryService, 'standby', want));
    return { done: true };
  }

  private fencingState(promo: PromotionStatus): { holds: boolean; reason: string; message: string } | undefined {
    const { site, obs } = this;
    if (promo.state === 'Fencing') return undefined;
    if (site.spec.promotion.fencing === 'scaleDown') {
      const replicas = obs.primary?.spec?.replicas ?? 0;
      const ready = obs.primaryPods.filter(isPodReady).length;
      if (replicas > 0 || ready > 0) {
        return {
          holds: false,
          reason: 'PrimaryReturned',
          message: `the fenced primary came back: ${site.spec.primary.workload.kind} ${site.spec.primary.workload.name} has replicas=${replicas} and ${ready} Ready pod(s) (a GitOps tool may have reverted the scale-down); it may take writes while the standby serves clients. Stop it, or use fencing networkPolicy`,
        };
      }
      return { holds: true, reason: 'Fenced', message: 'the primary workload is scaled to 0' };
    }
    if (!obs.fence && !this.fenceWritten && obs.primary) {
      return {
        holds: false,
        reason: 'FenceMissing',
        message: `the fence NetworkPolicy ${names.fence(site.metadata.name)} was removed; the operator re-creates it`,
      };
    }
    const ready = obs.primaryPods.filter(isPodReady).length;
    return {
      holds: true,
      reason: 'Fenced',
      message:
        ready > 0
          ? `the old primary has ${ready} Ready pod(s) again, isolated by NetworkPolicy ${names.fence(site.metadata.name)} (needs a CNI that enforces NetworkPolicy)`
          : `NetworkPolicy ${names.fence(site.metadata.name)} isolates the old primary's pods`,
    };
  }

  private async writeStatus(prev: SiteStatus, status: SiteStatus, decision: Decision): Promise<void> {
    // dataAgeSeconds grows with the clock; alone it is no reason to write (DATA AGE and the metric are live).
    const { dataAgeSeconds: _a, ...prevRest } = prev;
    const { dataAgeSeconds: _b, ...nextRest } = status;
    if (mergePatchFor(prevRest, nextRest) === undefined) return;
    const patch = mergePatchFor(prev, status);
    if (patch === undefined) return;
    if (!this.d.isLeader()) return;
    try {
      this.current = await this.d.client.mergePatch<StandbySiteObject>(
        SITE_RESOURCE,
        this.site.metadata.namespace,
        this.site.metadata.name,
        { metadata: { resourceVersion: this.current.metadata?.resourceVersion }, status: patch },
        'status',
      );
      this.r.noteWritten(this.key, this.current);
    } catch (err) {
      if (isConflict(err)) {
        this.after(0);
        return;
      }
      throw err;
    }
    await this.emitTransitions(prev, status, decision);
  }

  /** Events for what a person should notice: the primary failing or recovering, refusals, a returned primary. */
  private async emitTransitions(prev: SiteStatus, next: SiteStatus, decision: Decision): Promise<void> {
    const was = (t: Parameters<typeof findCondition>[1]) => findCondition(prev.conditions, t);
    const is = (t: Parameters<typeof findCondition>[1]) => findCondition(next.conditions, t);
    const ph = is('PrimaryHealthy');
    if (ph && was('PrimaryHealthy') && was('PrimaryHealthy')?.status !== ph.status && ph.reason !== 'Fenced') {
      if (ph.status === 'False') await this.d.events.record(this.current, 'Warning', ph.reason, ph.message);
      else if (prev.primary?.everReady) await this.d.events.record(this.current, 'Normal', 'PrimaryRecovered', ph.message);
    }
    const pr = is('PromotionReady');
    if (decision.action === 'refuse' && pr && (was('PromotionReady')?.reason !== pr.reason || was('PromotionReady')?.status !== pr.status)) {
      await this.d.events.record(this.current, 'Warning', 'PromotionRefused', pr.message);
    }
    const fh = is('FencingHolds');
    if (fh?.status === 'False' && was('FencingHolds')?.status !== 'False') {
      await this.d.events.record(this.current, 'Warning', fh.reason === 'PrimaryReturned' ? 'FencedPrimaryReturned' : fh.reason, fh.message);
    }
    const ready = is('Ready');
    if (ready?.status === 'True' && was('Ready')?.status !== 'True') {
      await this.d.events.record(this.current, 'Normal', 'Protected', ready.message);
    }
  }
}

/**
 * After a promotion began, what serves clients (or will: the standby workload, its Services and
 * its claims) and the fence that keeps the old primary out are no longer the site's: without its owner
 * reference, deleting the site (as the README says to do after a failover) leaves them running,
 * and a StatefulSet standby keeps its claims whatever deletionPolicy says.
 */
function released(o: KubeObject): KubeObject {
  if (!['StatefulSet', 'Deployment', 'Service', 'NetworkPolicy', 'PersistentVolumeClaim'].includes(o.kind ?? '')) return o;
  const { ownerReferences: _owners, ...metadata } = o.metadata ?? {};
  const out: KubeObject = { ...o, metadata };
  if (o.kind === 'StatefulSet') {
    const spec = (o as { spec?: Record<string, unknown> }).spec;
    if (spec?.persistentVolumeClaimRetentionPolicy) {
      (out as { spec?: Record<string, unknown> }).spec = { ...spec, persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' } };
    }
  }
  return out;
}

/** A short stable id of the current promotion, for the names of its Jobs. */
function promotionId(p: PromotionStatus | undefined): string {
  const t = p?.startedAt ? new Date(p.startedAt) : new Date(0);
  return t.toISOString().replace(/\.\d+Z$/, 'z').replace(/[-:]/g, '').toLowerCase();
}


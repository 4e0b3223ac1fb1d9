// reconcile(key): read the caches, decide with pure functions, then act. The order is the
// safety argument: facts first (facts.ts), then the promotion (promote.ts: fence before anything
// moves), then the owned objects (converge.ts), then one status write (status-write.ts).
import type { Logger } from 'pino';
import { nextRun } from '../api/cron.ts';
import { describeProblems, validateSpec, type StandbySite, type StandbySiteObject } from '../api/site.ts';
import type { SiteStatus } from '../api/status.ts';
import type { Engine, EngineContext, EngineObservation } from '../engines/engine.ts';
import { engineFor } from '../engines/registry.ts';
import { fencingState } from '../fencing/holds.ts';
import { toDate } from '../k8s/types.ts';
import { promoteRequest } from '../promotion/decide.ts';
import { inProgress } from '../promotion/machine.ts';
import { lifecycleOf, promotionInEffect, reprotected, type Lifecycle } from '../promotion/lifecycle.ts';
import { reprotecting } from '../reprotect/machine.ts';
import type { SidesInput } from '../reprotect/sides.ts';
import { pinToPromotion } from '../promotion/pinned.ts';
import { ANNOTATION_PROMOTE, names } from '../site/names.ts';
import { podTemplateOf } from '../site/workload.ts';
import { unknownContainers } from '../tiers/reduced.ts';
import type { ReconcileContext, ReconcilerDeps } from './context.ts';
import { convergeSite, desiredFor, fencesFor, type ConvergeResult } from './converge.ts';
import { observe, referenceProblems, siteFacts, type Observed, type ReferenceProblem, type SiteFacts } from './facts.ts';
import { conflictAdvice, nameConflicts, protectingSite, type Blocked } from './ownership.ts';
import { SiteMemory } from './memory.ts';
import { SelectorKeys } from './selector-keys.ts';
import { remoteAssessment, remotePrimaryOf, remoteReferenceProblems, type RemotePrimary } from './remote.ts';
import { convergeRemote, remoteNameConflicts } from './remote-converge.ts';
import { ensureRemoteFence } from './remote-fencing.ts';
import { withRemoteStatus } from './remote-status.ts';
import { deleteGuardOf, withWitnessStatus, witnessStep, type WitnessOutcome } from './site-failover.ts';
import { runPromotion, type PromotionOutcome } from './promote.ts';
import { recloneLostCopy } from './reclone.ts';
import { drillView, runDrill, type DrillView } from './drill.ts';
import { runFailback, type FailbackOutcome } from './failback.ts';
import { keepReverseCopies, runReprotect, type ReprotectOutcome } from './reprotect.ts';
import { computeStatus, invalidStatus } from './status.ts';
import { siteCost } from '../cost/site-cost.ts';
import { writeInvalidStatus, writeStatus } from './status-write.ts';

export type { ReconcilerDeps } from './context.ts';

export interface ReconcileResult {
  requeueAfterMs?: number | undefined;
}

/** The errors of one reconcile, raised after status is written so the queue backs off. */
export class ReconcileError extends Error {}

export class Reconciler {
  private readonly d: ReconcilerDeps;
  private readonly now: () => Date;
  readonly memory: SiteMemory;
  /** The label keys Services select on, per namespace (the standby's pods carry none). */
  readonly selectorKeys: SelectorKeys;

  constructor(deps: ReconcilerDeps) {
    this.d = deps;
    this.now = deps.now ?? (() => new Date());
    this.memory = new SiteMemory(this.now, (ms, timedOut) => deps.metrics?.cacheWaitSeconds?.observe({ outcome: timedOut ? 'timeout' : 'seen' }, ms / 1000));
    this.selectorKeys = new SelectorKeys(deps.caches.services);
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const cached = this.d.caches.sites.get(key);
    if (!cached?.metadata) {
      // Before the primary's cluster is let go: the guard this site made there goes with it.
      await deleteGuardOf({ memory: this.memory, log: this.d.log }, key, this.d.isLeader());
      this.memory.forget(key);
      this.d.remote?.release(key);
      return {};
    }
    // Acting on a site older than what this process last wrote could undo a promotion's steps:
    // wait for the watch to deliver it; its event requeues.
    if (this.memory.cacheIsBehind(key, cached)) return { requeueAfterMs: 1000 };
    // No finalizers: owner references let the garbage collector remove what the site owns.
    if (cached.metadata.deletionTimestamp) return {};
    const { name } = cached.metadata;
    const namespace = cached.metadata.namespace ?? '';
    const validation = validateSpec(cached.spec, name);
    if (!validation.ok) return this.reportInvalid(cached, describeProblems(validation.problems));
    const pinned = pinToPromotion(validation.spec, promotionInEffect(cached.status ?? {}));
    const site: StandbySite = { metadata: { ...cached.metadata, name: name ?? '', namespace }, spec: pinned.spec, status: cached.status ?? {} };
    if (pinned.ignored && cached.metadata.generation !== cached.status?.observedGeneration && this.d.isLeader()) {
      await this.d.events.record(cached, 'Warning', 'SpecChangeIgnored', pinned.ignored);
    }
    return new SiteRun(this.d, this.memory, site, cached, this.now).run(pinned.frozen, this.selectorKeys.keys(namespace));
  }

  private async reportInvalid(cached: StandbySiteObject, message: string): Promise<ReconcileResult> {
    const prev = cached.status ?? {};
    const status = invalidStatus(prev, cached.metadata?.generation ?? 0, message, this.now());
    await writeInvalidStatus(this.d, cached, prev, status, message);
    return {};
  }

  /** A watch event showed a pod of this site's primary Ready. */
  noteReadyPrimary(key: string): void {
    this.memory.noteReadyPrimary(key);
  }

  /** Every watch event of a site: true when a reconcile put off for our own write must run now. */
  siteObserved(key: string, site: StandbySiteObject): boolean {
    return this.memory.siteObserved(key, site);
  }
}

/** One reconcile of one site: the state its parts share (see context.ts). */
class SiteRun implements ReconcileContext {
  readonly deps: ReconcilerDeps;
  readonly memory: SiteMemory;
  readonly site: StandbySite;
  readonly key: string;
  readonly log: Logger;
  current: StandbySiteObject;
  readonly errors: string[] = [];
  readonly conflicts: string[] = [];
  private readonly requeue: number[] = [];
  readonly now: () => Date;
  /** The primary's cluster, when it is another one (remote.ts). */
  remote: RemotePrimary | undefined;
  /** The fence is confirmed in the primary's cluster (remote-fencing.ts). */
  private fenceConfirmed = false;
  /** Automatic site failover decided to promote (site-failover.ts). */
  takeover: { epoch: number; reason: string } | undefined;
  private witness: WitnessOutcome | undefined;

  constructor(deps: ReconcilerDeps, memory: SiteMemory, site: StandbySite, cached: StandbySiteObject, now: () => Date) {
    this.deps = deps;
    this.memory = memory;
    this.site = site;
    this.current = cached;
    this.now = now;
    this.key = `${site.metadata.namespace}/${site.metadata.name}`;
    this.log = deps.log.child({ namespace: site.metadata.namespace, site: site.metadata.name });
  }

  after(ms: number | undefined): void {
    if (ms !== undefined && Number.isFinite(ms) && ms >= 0) this.requeue.push(ms);
  }

  async run(frozen: boolean, serviceLabelKeys: ReadonlySet<string>): Promise<ReconcileResult> {
    const { site, deps: d } = this;
    const spec = site.spec;
    // A primary in another cluster: its objects come from that cluster's caches (remote.ts).
    this.remote = await remotePrimaryOf(d, site);
    const obs = observe(d.caches, site, serviceLabelKeys, this.remote?.objects);
    const engine = engineFor(spec.engine);
    const engineCtx = engineContextOf(site, obs, d.operatorImage);
    const problems = this.remote
      ? remoteReferenceProblems(referenceProblems(site, obs, d.caches.snapshots.installed), this.remote, site)
      : referenceProblems(site, obs, d.caches.snapshots.installed);
    if (engineCtx) problems.push(...(await engine.check(engineCtx, d.engineIO)).map((message) => ({ message, stalls: true })));
    let engineObs: EngineObservation = {};
    if (spec.tier === 'hot' && engine.measuresLag && engineCtx) {
      const probeMs = d.lagProbeMs ?? 10_000;
      engineObs = await this.memory.probe(this.key, probeMs, () => engine.observe(engineCtx, d.engineIO));
      this.after(probeMs);
    }
    const facts = siteFacts({ site, obs, engineObs, measuresLag: engine.measuresLag, now: this.now(), lastSeenReady: this.memory.lastSeenReady(this.key) });
    // The driver may still succeed on a retry: reported, not a stall.
    if (facts.snapshotProblem) problems.push({ message: facts.snapshotProblem, stalls: false });
    if (this.remote) facts.primary = remoteAssessment(facts.primary, this.remote, site.status);
    // Fence first: once a promotion began, the old primary's cluster gets its fence before anything else.
    if (this.remote) this.fenceConfirmed = (await ensureRemoteFence(this, obs)) === 'confirmed';
    // Automatic site failover: the guard there, the witness's lease, and whether to take it over.
    if (this.remote) {
      this.witness = await witnessStep(this, {
        primaryServes: this.remote.site.reachable && facts.primary.ready,
        usability: facts.usability,
        fenceConfirmed: this.fenceConfirmed,
      });
      this.takeover = this.witness?.takeover;
    }

    // A site that is not the one to protect its workload, or whose names are taken, does nothing
    // but say so; a procedure already under way (a promotion, a failback, a re-protection) is
    // finished (its steps report what they cannot do).
    const before = lifecycleOf(site.status);
    const busy = inProgress(site.status.promotion) || inProgress(before.failback) || reprotecting(before.reprotection);
    const blocked = busy ? undefined : this.blocked(obs, facts, engine, before, frozen);
    let outcome: PromotionOutcome | undefined = blocked ? await this.refuseBlocked(blocked) : await runPromotion(this, obs, facts, engine, engineCtx, frozen);
    if (!outcome) return { requeueAfterMs: 0 };
    // Drills (drill.ts) after the promotion: a promotion that began aborted any drill already.
    const drill = blocked ? drillView(this) : await runDrill(this, { obs, facts, engine, engineCtx, promotion: outcome.promotion });
    // One procedure acts per reconcile, in this order: a promotion, a failback, a re-protection.
    // Each reads the status the one before it left (this.current).
    let failback: FailbackOutcome | undefined;
    let reprotect: ReprotectOutcome | undefined;
    // Not yet for a primary in another cluster: its steps would act on this cluster's objects.
    if (!blocked && !frozen && !inProgress(outcome.promotion) && !this.remote) {
      failback = await runFailback(this, () => this.sides(obs, facts, engine), facts.serving);
      if (!failback) return { requeueAfterMs: 0 };
      if (!failback.acted) {
        reprotect = await runReprotect(this, this.sides(obs, facts, engine));
        if (!reprotect) return { requeueAfterMs: 0 };
      }
    }
    const latest = this.current.status ?? {};
    const lifecycle = lifecycleOf(latest);
    let reverseDataTime: Date | undefined;
    let converged: ConvergeResult = { fenceReverted: false };
    if (!blocked) {
      converged = await convergeSite(this, obs, facts, engine, lifecycle, latest.active ?? 'primary', frozen);
      if (this.remote) this.fenceConfirmed ||= outcome.fenceWritten && this.remote.site.reachable;
      if (this.remote) await convergeRemote(this, obs, this.fenceConfirmed);
      // A warm standby's copy claim deleted by hand: cloned again from the sync's snapshot, if one is left.
      if (!frozen && facts.lostCopy) await recloneLostCopy(this, obs, facts.lostCopy);
      // Re-protected after a failover (warm, cold): the serving standby's copies, on the tier's schedule.
      if (!frozen && lifecycle.mode === 'failover' && reprotected(lifecycle) && spec.tier !== 'hot') {
        try {
          reverseDataTime = await keepReverseCopies(this, this.sides(obs, facts, engine));
        } catch (err) {
          this.errors.push(`could not keep the serving standby's copies: ${(err as Error).message}`);
        }
      }
    }
    await this.reportOnce(obs, facts);
    const late = this.lateConflict();
    if (!blocked && late) outcome = { ...outcome, decision: { action: 'refuse', reason: late.reason, message: late.message } };

    const computed = this.status(latest, obs, facts, engine, engineObs, outcome, converged, problems, blocked ?? this.lateConflict(), drill, {
      lifecycle,
      reprotect: reprotect?.decision,
      failback: failback?.decision,
      reverseDataTime,
    });
    const remoteStatus = withRemoteStatus(computed, {
      site,
      latest: this.current.status ?? {},
      primarySite: this.remote?.site,
      fenceConfirmed: this.fenceConfirmed,
      fenceUnseen: this.fenceConfirmed && obs.fence === undefined,
      now: this.now(),
    });
    const status = withWitnessStatus(remoteStatus, this.witness, this.current.status ?? {}, site.metadata.generation ?? 0, this.now());
    // Bad references and taken names are usually fixed by creating or deleting an object, which the
    // watches see; look again now and then anyway, for what no watch covers (a Secret, a CRD installed later).
    if (problems.length > 0 || this.errors.length > 0 || blocked) this.after(30_000);
    await writeStatus(this, latest, status, outcome.decision);
    if (this.errors.length > 0) throw new ReconcileError(this.errors.join('; '));
    return { requeueAfterMs: this.requeue.length ? Math.min(...this.requeue) : undefined };
  }

  /** Events for what holds now and did not before (the conditions say it while it lasts). */
  private async reportOnce(obs: Observed, facts: SiteFacts): Promise<void> {
    if (!this.deps.isLeader()) return;
    const lost = facts.lostCopy;
    if (lost && this.memory.newlyReported(this.key, 'lostCopy', lost.lost).length > 0) {
      await this.deps.events.record(this.current, 'Warning', 'CopyClaimDeleted', lost.event);
    } else if (!lost) this.memory.newlyReported(this.key, 'lostCopy', []);
    if (this.memory.newlyReported(this.key, 'hostBindings', obs.hostBindings).length > 0) {
      await this.deps.events.record(this.current, 'Normal', 'StandbyAdjusted', standbyAdjustedMessage(obs.hostBindings));
    }
    // spec.standby.resources naming a container the primary's pod template does not have changes nothing: say so.
    const unmatched = obs.primary ? unknownContainers(podTemplateOf(obs.primary), this.site.spec.standby?.resources) : [];
    if (this.memory.newlyReported(this.key, 'standbyResources', unmatched).length > 0) {
      await this.deps.events.record(
        this.current,
        'Warning',
        'StandbyResourcesUnmatched',
        `spec.standby.resources names ${unmatched.join(', ')}, which the primary's pod template has no container of: those entries change nothing`,
      );
    }
    const both = this.memory.newlyReported(this.key, 'bothSides', obs.bothSides.map((b) => b.service));
    for (const b of obs.bothSides.filter((x) => both.includes(x.service))) {
      await this.deps.events.record(
        this.current,
        'Warning',
        'ServiceSelectsBothSides',
        `Service ${b.service} selects both the primary's pods and the standby's (on ${b.keys.join(', ')}): its clients may reach the standby until the standby's pods are replaced without those labels`,
      );
    }
  }

  /** Both sides as observed, for the failback and re-protection steps, with the newest status. */
  private sides(obs: Observed, facts: SiteFacts, engine: Engine): SidesInput {
    return {
      site: this.site,
      status: this.current.status ?? {},
      engine,
      operatorImage: this.deps.operatorImage,
      now: this.now(),
      primary: obs.primary,
      primaryPods: obs.primaryPods,
      primaryService: obs.primaryService,
      trafficService: obs.trafficService,
      primaryClaims: obs.primaryClaims,
      standby: obs.standby,
      standbyPods: obs.standbyPods,
      snapshots: obs.snapshots,
      jobs: obs.jobs,
      cronJobs: obs.cronJobs,
      runs: facts.runs,
      snapshotsInstalled: this.deps.caches.snapshots.installed,
    };
  }

  /** Why the site must not act at all: its workload is another site's, or a name it writes is taken. */
  private blocked(obs: Observed, facts: SiteFacts, engine: Engine, lifecycle: Lifecycle, frozen: boolean): Blocked | undefined {
    const { site, deps: d } = this;
    const rival = protectingSite(d.caches, site);
    if (rival) {
      return {
        reason: 'WorkloadProtected',
        message: `${site.spec.primary.workload.kind} ${site.spec.primary.workload.name} is already protected by StandbySite ${rival.metadata?.name ?? '?'} (the oldest site for a workload protects it); delete that site, or point this one at another workload`,
      };
    }
    const wanted = desiredFor(this, obs, facts, engine, lifecycle, site.status.active ?? 'primary', frozen) ?? [];
    const taken = [...nameConflicts(d.caches, site, wanted), ...remoteNameConflicts(this, obs)];
    return taken.length ? { reason: 'NameConflict', message: `${taken.join('; ')}; ${conflictAdvice(site)}` } : undefined;
  }

  /** A blocked site promotes nothing; a promote token that comes meanwhile is refused once, saying why. */
  private async refuseBlocked(blocked: Blocked): Promise<PromotionOutcome> {
    const { site, deps: d } = this;
    const request = promoteRequest(site.metadata.annotations?.[ANNOTATION_PROMOTE], site.status.handledPromoteToken);
    if (request && d.isLeader()) {
      await d.events.record(this.current, 'Warning', 'PromotionRefused', `standby.dev/promote=${request.token}: ${blocked.message}`);
    }
    return {
      decision: { action: 'refuse', reason: blocked.reason, message: blocked.message },
      promotion: site.status.promotion,
      handledToken: request?.token ?? site.status.handledPromoteToken,
      fenceWritten: false,
    };
  }

  /** Names found taken while converging (between the check above and the write). */
  private lateConflict(): Blocked | undefined {
    return this.conflicts.length ? { reason: 'NameConflict', message: `${this.conflicts.join('; ')}; ${conflictAdvice(this.site)}` } : undefined;
  }

  /** The status this reconcile observed, computed by status.ts from the facts and the promotion's outcome. */
  private status(
    latest: SiteStatus,
    obs: Observed,
    facts: SiteFacts,
    engine: Engine,
    engineObs: EngineObservation,
    outcome: PromotionOutcome,
    converged: ConvergeResult,
    problems: readonly ReferenceProblem[],
    blocked: Blocked | undefined,
    drill: DrillView,
    cycle: { lifecycle: Lifecycle; reprotect: ReprotectOutcome['decision'] | undefined; failback: FailbackOutcome['decision'] | undefined; reverseDataTime: Date | undefined },
  ): SiteStatus {
    const { site } = this;
    const { spec } = site;
    const now = this.now();
    const { lifecycle } = cycle;
    // The failover whose effects hold (none after a failback); the record itself stays in status.
    const promo = lifecycle.promotion;
    const fencedSideLifted = lifecycle.mode === 'failback' && lifecycle.failback?.state === 'Switching';
    const following = reprotecting(lifecycle.reprotection) || lifecycle.reprotection?.state === 'Protected';
    // The fence is reported while it must hold: not once the old primary is scaled up again to follow.
    const fenceReported = promo && promo.state !== 'Fencing' && !fencedSideLifted && !((promo.fencing ?? spec.promotion.fencing) === 'scaleDown' && following);
    const scheduled = spec.tier === 'warm' ? spec.warm : spec.tier === 'cold' ? spec.cold : undefined;
    const nextSyncTime = scheduled && !scheduled.suspend && !promo ? nextRun(scheduled.schedule, scheduled.timeZone, now) : undefined;
    if (nextSyncTime) this.after(nextSyncTime.getTime() - now.getTime() + 1000);
    const lastCopyJob = facts.lastCopyJob;
    const { status, recheckInMs } = computeStatus({
      now,
      spec,
      generation: site.metadata.generation ?? 0,
      previous: latest,
      // A promotion begun in this very run fenced the primary already.
      primary: promo && facts.primary.state !== 'Missing' && facts.primary.state !== 'Unreachable' ? { ...facts.primary, state: 'Fenced' } : facts.primary,
      problems: [...problems.map((p) => p.message), ...this.errors],
      stalling: problems.filter((p) => p.stalls).map((p) => p.message),
      blocked,
      standby: {
        name: obs.standby ? names.standby(site.metadata.name) : undefined,
        exists: obs.standby !== undefined,
        readyReplicas: facts.standbyReadyPods,
        replicas: obs.standby?.spec?.replicas ?? 0,
        created: toDate(obs.standby?.metadata?.creationTimestamp),
        notReadySince: facts.serving.notReadySince,
      },
      measuresLag: engine.measuresLag,
      lagSeconds: engineObs.lagSeconds,
      engineProblem: engineObs.problem,
      lostCopy: facts.lostCopy?.message,
      standbyAdjusted: obs.hostBindings.length ? standbyAdjustedMessage(obs.hostBindings) : undefined,
      // Re-protected after a failover (warm, cold): the serving standby's newest copy is what protects.
      dataTime: cycle.reverseDataTime ?? facts.dataTime,
      lastSnapshotTime: facts.lastSnapshotTime,
      snapshots: facts.snapshotCount,
      lastSync: facts.lastSync,
      nextSyncTime,
      lastCopyJob: lastCopyJob?.finished ? { succeeded: lastCopyJob.succeeded, finished: lastCopyJob.finished, message: lastCopyJob.message } : undefined,
      usability: facts.usability,
      decision: outcome.decision,
      promotion: latest.promotion ?? outcome.promotion,
      lifecycle,
      reprotect: cycle.reprotect,
      failback: cycle.failback,
      history: latest.promotionHistory ?? [],
      handledToken: outcome.handledToken,
      handledAbandonToken: latest.handledAbandonToken,
      active: latest.active ?? 'primary',
      trafficService: spec.traffic.mode === 'operatorService' ? names.traffic(site.metadata.name, spec) : spec.primary.service,
      traffic: outcome.traffic,
      fencing: fenceReported
        ? fencingState(site, {
            ...obs,
            fenceWritten: outcome.fenceWritten,
            fenceReverted: converged.fenceReverted,
            // Held as converge holds it: narrowed once the old primary follows the standby.
            narrow: fencesFor(lifecycle, promo.fencing ?? spec.promotion.fencing).primary === 'narrow',
          })
        : undefined,
      drill,
      cost: siteCost({
        spec,
        now,
        primary: obs.primary,
        volumes: obs.volumes,
        primaryClaims: obs.primaryClaims,
        standby: obs.standby,
        claims: [...obs.copyClaims, ...obs.keptClaims],
        snapshots: obs.snapshots,
      }),
    });
    this.after(recheckInMs);
    return status;
  }
}

function engineContextOf(site: StandbySite, obs: Observed, operatorImage: string): EngineContext | undefined {
  if (!obs.primary) return undefined;
  return { site, tier: site.spec.tier, primary: obs.primary, primaryService: obs.primaryService, volumes: obs.volumes, operatorImage };
}

/** Why the standby's pod template differs from the primary's beyond its labels. */
function standbyAdjustedMessage(bindings: readonly string[]): string {
  return `the standby does not copy the primary's ${bindings.join(', ')}: it runs on the pod network, so it can run on the primary's node; clients reach it through the Service`;
}

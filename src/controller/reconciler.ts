// reconcile(key): read the caches, decide with pure functions, then act. The order is the
// safety argument: facts first (facts.ts), then the promotion (promote.ts: fence before anything
// moves), then the owned objects (converge.ts), then one status write (status-write.ts).
import type { Logger } from 'pino';
import { describeProblems, validateSpec, type StandbySite, type StandbySiteObject } from '../api/site.ts';
import type { EngineContext, EngineObservation } from '../engines/engine.ts';
import { engineFor } from '../engines/registry.ts';
import { inProgress } from '../promotion/machine.ts';
import { lifecycleOf, promotionInEffect, reprotected } from '../promotion/lifecycle.ts';
import { reprotecting } from '../reprotect/machine.ts';
import { pinToPromotion } from '../promotion/pinned.ts';
import type { ReconcileContext, ReconcilerDeps } from './context.ts';
import { convergeSite, type ConvergeResult } from './converge.ts';
import { observe, referenceProblems, siteFacts, type Observed } from './facts.ts';
import { blockedBy, lateConflict, refuseBlocked } from './blocked.ts';
import { SiteMemory } from './memory.ts';
import { SelectorKeys } from './selector-keys.ts';
import { remoteAssessment, remotePrimaryOf, remoteReferenceProblems, type RemotePrimary } from './remote.ts';
import { convergeRemote } from './remote-converge.ts';
import { ensureRemoteFence } from './remote-fencing.ts';
import { withRemoteStatus } from './remote-status.ts';
import { isAutomaticSiteFailover, withWitnessStatus, witnessStep, type WitnessOutcome } from './site-failover.ts';
import { finishDeletion, hasGuardFinalizer, releaseGuard } from './site-guard-cleanup.ts';
import { runPromotion, type PromotionOutcome } from './promote.ts';
import { recloneLostCopy } from './reclone.ts';
import { drillView, runDrill } from './drill.ts';
import { runFailback, type FailbackOutcome } from './failback.ts';
import { keepReverseCopies, runReprotect, type ReprotectOutcome } from './reprotect.ts';
import { reportOnce } from './site-events.ts';
import { sidesOf } from './sides.ts';
import { observedStatus } from './observed-status.ts';
import { invalidStatus } from './status.ts';
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
      this.memory.forget(key);
      this.d.remote?.release(key);
      return {};
    }
    // Acting on a site older than what this process last wrote could undo a promotion's steps:
    // wait for the watch to deliver it; its event requeues.
    if (this.memory.cacheIsBehind(key, cached)) return { requeueAfterMs: 1000 };
    // Owner references let the garbage collector remove what the site owns in this cluster; the
    // guard in the primary's cluster is deleted first (the site's one finalizer, site-guard-cleanup.ts).
    if (cached.metadata.deletionTimestamp) return hasGuardFinalizer(cached) ? this.finishDeletion(key, cached) : {};
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

  private async finishDeletion(key: string, cached: StandbySiteObject): Promise<ReconcileResult> {
    const v = validateSpec(cached.spec, cached.metadata?.name);
    const site: StandbySite | undefined = v.ok ? { metadata: { ...cached.metadata!, name: cached.metadata?.name ?? '', namespace: cached.metadata?.namespace ?? '' }, spec: v.spec, status: cached.status ?? {} } : undefined;
    const w = { deps: this.d, memory: this.memory, key, current: cached, site, remote: site ? await remotePrimaryOf(this.d, site) : undefined, log: this.d.log };
    return finishDeletion({
      ...w,
      warn: async (reason, message) => {
        if (this.memory.newlyReported(key, 'guardNotDeleted', [reason]).length > 0) await this.d.events.record(cached, 'Warning', reason, message);
      },
    });
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
    // No longer automatic (or never was): a guard the site wrote before is taken away.
    if (!isAutomaticSiteFailover(this)) await releaseGuard(this);

    // A site that is not the one to protect its workload, or whose names are taken, does nothing
    // but say so; a procedure already under way (a promotion, a failback, a re-protection) is
    // finished (its steps report what they cannot do).
    const before = lifecycleOf(site.status);
    const busy = inProgress(site.status.promotion) || inProgress(before.failback) || reprotecting(before.reprotection);
    const blocked = busy ? undefined : blockedBy(this, obs, facts, engine, before, frozen);
    let outcome: PromotionOutcome | undefined = blocked ? await refuseBlocked(this, blocked) : await runPromotion(this, obs, facts, engine, engineCtx, frozen);
    if (!outcome) return { requeueAfterMs: 0 };
    // Drills (drill.ts) after the promotion: a promotion that began aborted any drill already.
    const drill = blocked ? drillView(this) : await runDrill(this, { obs, facts, engine, engineCtx, promotion: outcome.promotion });
    // One procedure acts per reconcile, in this order: a promotion, a failback, a re-protection.
    // Each reads the status the one before it left (this.current).
    let failback: FailbackOutcome | undefined;
    let reprotect: ReprotectOutcome | undefined;
    // Not yet for a primary in another cluster: its steps would act on this cluster's objects.
    if (!blocked && !frozen && !inProgress(outcome.promotion) && !this.remote) {
      failback = await runFailback(this, () => sidesOf(this, obs, facts, engine), facts.serving);
      if (!failback) return { requeueAfterMs: 0 };
      if (!failback.acted) {
        reprotect = await runReprotect(this, sidesOf(this, obs, facts, engine));
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
          reverseDataTime = await keepReverseCopies(this, sidesOf(this, obs, facts, engine));
        } catch (err) {
          this.errors.push(`could not keep the serving standby's copies: ${(err as Error).message}`);
        }
      }
    }
    await reportOnce(this, obs, facts);
    const late = lateConflict(this);
    if (!blocked && late) outcome = { ...outcome, decision: { action: 'refuse', reason: late.reason, message: late.message } };

    const computed = observedStatus(this, latest, obs, facts, engine, engineObs, outcome, converged, problems, blocked ?? lateConflict(this), drill, {
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
}

function engineContextOf(site: StandbySite, obs: Observed, operatorImage: string): EngineContext | undefined {
  if (!obs.primary) return undefined;
  return { site, tier: site.spec.tier, primary: obs.primary, primaryService: obs.primaryService, volumes: obs.volumes, operatorImage };
}

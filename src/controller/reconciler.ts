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
import { pinToPromotion } from '../promotion/pinned.ts';
import { ANNOTATION_PROMOTE, names } from '../site/names.ts';
import type { ReconcileContext, ReconcilerDeps } from './context.ts';
import { convergeSite, desiredFor } from './converge.ts';
import { observe, referenceProblems, siteFacts, type Observed, type ReferenceProblem, type SiteFacts } from './facts.ts';
import { conflictAdvice, nameConflicts, protectingSite, type Blocked } from './ownership.ts';
import { SiteMemory } from './memory.ts';
import { remoteAssessment, remotePrimaryOf, remoteReferenceProblems, type RemotePrimary } from './remote.ts';
import { convergeRemote, remoteNameConflicts } from './remote-converge.ts';
import { ensureRemoteFence } from './remote-fencing.ts';
import { withRemoteStatus } from './remote-status.ts';
import { runPromotion, type PromotionOutcome } from './promote.ts';
import { computeStatus, invalidStatus } from './status.ts';
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

  constructor(deps: ReconcilerDeps) {
    this.d = deps;
    this.now = deps.now ?? (() => new Date());
    this.memory = new SiteMemory(this.now);
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
    // No finalizers: owner references let the garbage collector remove what the site owns.
    if (cached.metadata.deletionTimestamp) return {};
    const { name } = cached.metadata;
    const namespace = cached.metadata.namespace ?? '';
    const validation = validateSpec(cached.spec, name);
    if (!validation.ok) return this.reportInvalid(cached, describeProblems(validation.problems));
    const pinned = pinToPromotion(validation.spec, cached.status?.promotion);
    const site: StandbySite = { metadata: { ...cached.metadata, name: name ?? '', namespace }, spec: pinned.spec, status: cached.status ?? {} };
    if (pinned.ignored && cached.metadata.generation !== cached.status?.observedGeneration && this.d.isLeader()) {
      await this.d.events.record(cached, 'Warning', 'SpecChangeIgnored', pinned.ignored);
    }
    return new SiteRun(this.d, this.memory, site, cached, this.now).run(pinned.frozen);
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

  async run(frozen: boolean): Promise<ReconcileResult> {
    const { site, deps: d } = this;
    const spec = site.spec;
    // A primary in another cluster: its objects come from that cluster's caches (remote.ts).
    this.remote = await remotePrimaryOf(d, site);
    const obs = observe(d.caches, site, this.remote?.objects);
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
    if (this.remote) facts.primary = remoteAssessment(facts.primary, this.remote, site.status);
    // Fence first: once a promotion began, the old primary's cluster gets its fence before anything else.
    if (this.remote) this.fenceConfirmed = (await ensureRemoteFence(this, obs)) === 'confirmed';

    // A site that is not the one to protect its workload, or whose names are taken, does nothing
    // but say so; a promotion already under way is finished (its steps report what they cannot do).
    const blocked = inProgress(site.status.promotion) ? undefined : this.blocked(obs, facts, engine, frozen);
    let outcome: PromotionOutcome | undefined = blocked ? await this.refuseBlocked(blocked) : await runPromotion(this, obs, facts, engine, engineCtx, frozen);
    if (!outcome) return { requeueAfterMs: 0 };
    const latest = this.current.status ?? {};
    if (!blocked) await convergeSite(this, obs, facts, engine, outcome.promotion, latest.active ?? 'primary', frozen);
    if (this.remote) this.fenceConfirmed ||= outcome.fenceWritten && this.remote.site.reachable;
    if (!blocked && this.remote) await convergeRemote(this, obs, this.fenceConfirmed);
    const late = this.lateConflict();
    if (!blocked && late) outcome = { ...outcome, decision: { action: 'refuse', reason: late.reason, message: late.message } };

    const computed = this.status(latest, obs, facts, engine, engineObs, outcome, problems, blocked ?? this.lateConflict());
    const status = withRemoteStatus(computed, {
      site,
      latest: this.current.status ?? {},
      primarySite: this.remote?.site,
      fenceConfirmed: this.fenceConfirmed,
      now: this.now(),
    });
    // Bad references and taken names are usually fixed by creating or deleting an object, which the
    // watches see; look again now and then anyway, for what no watch covers (a Secret, a CRD installed later).
    if (problems.length > 0 || this.errors.length > 0 || blocked) this.after(30_000);
    await writeStatus(this, latest, status, outcome.decision);
    if (this.errors.length > 0) throw new ReconcileError(this.errors.join('; '));
    return { requeueAfterMs: this.requeue.length ? Math.min(...this.requeue) : undefined };
  }

  /** Why the site must not act at all: its workload is another site's, or a name it writes is taken. */
  private blocked(obs: Observed, facts: SiteFacts, engine: Engine, frozen: boolean): Blocked | undefined {
    const { site, deps: d } = this;
    const rival = protectingSite(d.caches, site);
    if (rival) {
      return {
        reason: 'WorkloadProtected',
        message: `${site.spec.primary.workload.kind} ${site.spec.primary.workload.name} is already protected by StandbySite ${rival.metadata?.name ?? '?'} (the oldest site for a workload protects it); delete that site, or point this one at another workload`,
      };
    }
    const wanted = desiredFor(this, obs, facts, engine, site.status.promotion, site.status.active ?? 'primary', frozen) ?? [];
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
    problems: readonly ReferenceProblem[],
    blocked: Blocked | undefined,
  ): SiteStatus {
    const { site } = this;
    const { spec } = site;
    const now = this.now();
    const promo = outcome.promotion;
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
      },
      measuresLag: engine.measuresLag,
      lagSeconds: engineObs.lagSeconds,
      engineProblem: engineObs.problem,
      dataTime: facts.dataTime,
      lastSnapshotTime: facts.lastSnapshotTime,
      snapshots: facts.snapshotCount,
      lastSync: facts.lastSync,
      nextSyncTime,
      lastCopyJob: lastCopyJob?.finished ? { succeeded: lastCopyJob.succeeded, finished: lastCopyJob.finished, message: lastCopyJob.message } : undefined,
      usability: facts.usability,
      decision: outcome.decision,
      promotion: promo,
      history: latest.promotionHistory ?? [],
      handledToken: outcome.handledToken,
      active: latest.active ?? 'primary',
      trafficService: spec.traffic.mode === 'operatorService' ? names.traffic(site.metadata.name, spec) : spec.primary.service,
      fencing: promo && promo.state !== 'Fencing' ? fencingState(site, { ...obs, fenceWritten: outcome.fenceWritten }) : undefined,
    });
    this.after(recheckInMs);
    return status;
  }
}

function engineContextOf(site: StandbySite, obs: Observed, operatorImage: string): EngineContext | undefined {
  if (!obs.primary) return undefined;
  return { site, tier: site.spec.tier, primary: obs.primary, primaryService: obs.primaryService, volumes: obs.volumes, operatorImage };
}

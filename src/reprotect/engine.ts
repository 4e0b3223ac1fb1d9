// Re-protection and failback of the hot tier by the engine's own hooks (engine.ts: divergence,
// reprotectTemplate, reprotectReport, setWritable, caughtUp, failbackTemplate), for engines that
// have them all (PostgreSQL); the generic engine runs the user's Job templates instead
// (steps.ts). What to do next is decided here by pure plans over what was observed; the steps
// (steps.ts, failback/steps.ts) carry them out, each action idempotent, so a step resumed by the
// next leader finds where it stood from the objects themselves.
import type { PromotionStatus, ReprotectionStatus, SiteStatus } from '../api/status.ts';
import type { CaughtUp, Divergence, EngineContext, EngineIO, ReprotectReport } from '../engines/engine.ts';
import type { JobOutcome } from '../k8s/jobs.ts';
import { doneWith, waiting, type StepResult } from '../site/step.ts';
import { desiredReplicas } from '../site/workload.ts';
import { volumesOf, type SidesInput } from './sides.ts';

/** What the engine steps read besides the observed objects. */
export interface LifecycleIO {
  /** The engine's reads of both sides (Secrets, Service endpoints). */
  engine: EngineIO;
  /** The termination messages of a Job's pods' containers (where the engine's report is). */
  jobMessages(job: string): Promise<string[]>;
}

/** The replicas to give the primary back, recorded in status.primaryHeld before it is stopped. */
export type Held = NonNullable<SiteStatus['primaryHeld']>;

/** Writes of status.primaryHeld. */
export interface HoldIO {
  set(h: Held): Promise<boolean>;
  clear(): Promise<boolean>;
}

/** Whether this site's hot re-protection and failback run on the engine's hooks. */
export function byEngine(i: Pick<SidesInput, 'site' | 'engine'>): boolean {
  const e = i.engine;
  return (
    i.site.spec.tier === 'hot' &&
    e.reprotectTemplate !== undefined &&
    e.failbackTemplate !== undefined &&
    e.caughtUp !== undefined &&
    e.setWritable !== undefined
  );
}

/** The engine's view of the site as the sides were observed; which side serves comes from status.active. */
export function contextOf(i: SidesInput): EngineContext | undefined {
  if (!i.primary) return undefined;
  return {
    site: i.site,
    tier: i.site.spec.tier,
    primary: i.primary,
    primaryService: i.primaryService,
    volumes: volumesOf(i.primary),
    operatorImage: i.operatorImage,
    serving: i.status.active ?? 'primary',
  };
}

type DivergenceRecord = NonNullable<ReprotectionStatus['divergence']>;

/** The divergence record: the kept copy (if any) and what the engine measured, before anything touched the old side. */
export function divergenceRecord(kept: DivergenceRecord, d: Divergence): DivergenceRecord {
  return {
    ...kept,
    ...(d.from !== undefined ? { from: d.from } : {}),
    ...(d.to !== undefined ? { to: d.to } : {}),
    ...(d.bytes !== undefined ? { bytes: d.bytes } : {}),
    ...(d.rewindable !== undefined ? { rewindable: d.rewindable } : {}),
    description: kept.description ? `${kept.description}; ${d.message}` : d.message,
  };
}

/**
 * What the re-protect Job reported, merged into the record: how it copied and how much, and what
 * only the old side held as its data directory showed it (filling in what the read before could
 * not measure; the commits only the Job can count).
 */
export function reportNote(r: ReprotectionStatus, report: ReprotectReport | undefined): Partial<ReprotectionStatus> {
  if (!report) return { method: 'job', report: 'the re-protect Job succeeded but left no report in its termination message' };
  const prev = r.divergence ?? {};
  const d = report.divergence;
  const divergence: DivergenceRecord | undefined = d
    ? {
        ...prev,
        ...(prev.from === undefined && d.from !== undefined ? { from: d.from } : {}),
        ...(prev.to === undefined && d.to !== undefined ? { to: d.to } : {}),
        ...(prev.bytes === undefined && d.bytes !== undefined ? { bytes: d.bytes } : {}),
        ...(d.commits !== undefined ? { commits: d.commits } : {}),
        ...(prev.rewindable === undefined && d.rewindable !== undefined ? { rewindable: d.rewindable } : {}),
      }
    : undefined;
  return {
    method: report.method,
    ...(report.bytes !== undefined ? { bytes: report.bytes } : {}),
    report: report.message,
    ...(divergence ? { divergence } : {}),
  };
}

/** The next action of the engine's re-protection of the old primary (Seeding). */
export type SeedPlan =
  | { do: 'hold'; held: Held }
  | { do: 'stop' }
  | { do: 'wait'; for: string }
  | { do: 'job' }
  | { do: 'release'; replicas: number }
  | { do: 'done' }
  | { do: 'fail'; message: string };

export interface SeedInput {
  now: Date;
  /** The old primary's replicas now, and those its owner wants (desiredReplicas). */
  replicas: number;
  desired: number;
  /** The replicas the promotion found (status.promotion.primaryReplicas), when its owner's are 0. */
  promotedFrom: number | undefined;
  pods: number;
  held: Held | undefined;
  job: JobOutcome | undefined;
  jobName: string;
}

/**
 * The engine's contract: the re-protect Job runs with the old primary stopped and its volumes
 * mounted. So: record the replicas to give back (before anything stops), scale it to 0, wait
 * until its pods are gone, run the Job; once the Job succeeded, give the replicas back. A failed
 * Job leaves it stopped (its volumes as the Job left them, the divergence copy kept): starting it
 * half rewound would be worse than not at all.
 */
export function planSeed(i: SeedInput): SeedPlan {
  if (i.job?.succeeded) return i.held ? { do: 'release', replicas: i.held.replicas } : { do: 'done' };
  if (i.job?.failed) {
    return { do: 'fail', message: `the re-protect Job ${i.jobName} failed: ${i.job.message}; the old primary stays stopped (status.primaryHeld), its volumes as the Job left them and the divergence copy kept` };
  }
  if (!i.held) {
    const replicas = i.desired > 0 ? i.desired : (i.promotedFrom ?? 1);
    return { do: 'hold', held: { replicas, since: i.now.toISOString(), for: `re-protection: the old primary is stopped while Job ${i.jobName} makes it a standby` } };
  }
  // The old primary must stay stopped while the Job works on its volumes, whoever scales it back
  // up meanwhile (GitOps self-heal): a pod on them during pg_rewind would corrupt them.
  if (i.replicas !== 0) return { do: 'stop' };
  if (i.job) return { do: 'wait', for: i.pods > 0 ? `${i.pods} pod(s) of the old primary to stop again (it was scaled back up while Job ${i.jobName} runs)` : `Job ${i.jobName} to complete` };
  if (i.pods > 0) return { do: 'wait', for: `${i.pods} pod(s) of the old primary to stop before Job ${i.jobName} rewinds its volumes` };
  return { do: 'job' };
}

export function seedInput(i: SidesInput, job: JobOutcome | undefined, jobName: string): SeedInput {
  return {
    now: i.now,
    replicas: i.primary?.spec?.replicas ?? 0,
    desired: i.primary ? desiredReplicas(i.primary) : 0,
    promotedFrom: i.status.promotion?.primaryReplicas,
    pods: i.primaryPods.length,
    held: i.status.primaryHeld,
    job,
    jobName,
  };
}

/** The Following step by the engine: the follower's pods Ready is not enough, it must stream. */
export function followVerdict(ready: boolean, streaming: boolean | undefined, problem: string | undefined, who: string): StepResult {
  if (!ready) return waiting(`${who} to have a Ready pod again (following the side that serves)`);
  if (streaming) return { done: true };
  return waiting(`${who} to stream from the side that serves${problem ? ` (${problem})` : ''}`);
}

/**
 * The failback's CatchingUp by the engine: done once the primary is proven to have replayed
 * everything the fenced standby flushed after its writes stopped; a force- token (or a failed
 * serving standby) waives the proof, saying what could not be proven. Otherwise it waits, with the
 * reason, until the step's deadline fails the failback (the standby then serves on).
 */
export function catchUpVerdict(c: CaughtUp, force: boolean): StepResult {
  const proof = { ...(c.servingLsn ? { servingLsn: c.servingLsn } : {}), ...(c.replayLsn ? { replayLsn: c.replayLsn } : {}) };
  if (c.caughtUp) return doneWith({ caughtUp: { ...proof, message: c.message } } satisfies Partial<PromotionStatus>);
  if (force) return doneWith({ caughtUp: { ...proof, message: `not proven, waived (force): ${c.message}` } } satisfies Partial<PromotionStatus>);
  return waiting(`the primary to catch up with the fenced standby: ${c.message}`);
}

/** A failed setWritable(false) keeps the failback waiting (the step's deadline ends it). */
export function writesStoppedVerdict(ok: boolean, message: string): StepResult {
  return ok ? { done: true } : waiting(`writes to stop on the serving standby: ${message}`);
}

// The status a site should show, computed from what was observed. Pure: the
// reconciler writes it only when it differs from what is stored.
import { formatDuration, parseDuration } from '../api/duration.ts';
import { schedulePeriodMs } from '../api/cron.ts';
import type { SiteSpec } from '../api/spec.ts';
import type { Condition, Phase, PromotionRecord, PromotionStatus, Side, SiteCost, SiteStatus } from '../api/status.ts';
import type { Decision, StandbyUsability } from '../promotion/decide.ts';
import type { PrimaryAssessment } from '../promotion/detect.ts';
import { inProgress } from '../promotion/machine.ts';
import { mergeConditions, type ConditionInput } from './conditions.ts';
import type { Blocked } from './ownership.ts';
import type { FailbackDecision } from '../failback/decide.ts';
import { reprotected, type Lifecycle } from '../promotion/lifecycle.ts';
import type { ReprotectDecision } from '../reprotect/decide.ts';
import { reprotecting } from '../reprotect/machine.ts';

/** Status fields written by the procedures themselves, never computed here. */
const PROCEDURE_FIELDS = ['epoch', 'reprotection', 'failback', 'handledReprotectToken', 'handledFailbackToken', 'primaryHeld'] as const;

/** How long a new hot standby may take to become Ready before the site counts as Degraded. */
const SETTLE_MS = 5 * 60_000;

export interface CopyJobSummary {
  succeeded: boolean;
  finished: Date;
  message: string;
}

export interface StatusInput {
  now: Date;
  spec: SiteSpec;
  generation: number;
  previous: SiteStatus;
  primary: PrimaryAssessment;
  /** Things that stop the site from being protected that only the controller can see (bad references). */
  problems: readonly string[];
  /** Of those, the ones nothing fixes but a person (a missing workload, Service or Secret): Stalled. */
  stalling: readonly string[];
  /** The site does not act at all: its workload is another site's, or a name it writes is taken. */
  blocked?: Blocked | undefined;
  standby: {
    name: string | undefined;
    exists: boolean;
    readyReplicas: number;
    replicas: number;
    created: Date | undefined;
    /** While it serves: since when it has had no Ready pod. */
    notReadySince?: Date | undefined;
  };
  measuresLag: boolean;
  lagSeconds: number | undefined;
  engineProblem: string | undefined;
  /** A warm standby's copy claim deleted outside the operator: what was lost and what happens next (copies/lost.ts). */
  lostCopy?: string | undefined;
  /** How the standby's pod template was adjusted from the primary's (hostNetwork, hostPort), if it was. */
  standbyAdjusted?: string | undefined;
  /** When the data of the newest usable copy was captured (warm/cold). */
  dataTime: Date | undefined;
  lastSnapshotTime: Date | undefined;
  snapshots: number | undefined;
  lastSync: { time: Date; durationMs: number | undefined } | undefined;
  nextSyncTime: Date | undefined;
  lastCopyJob: CopyJobSummary | undefined;
  usability: StandbyUsability;
  decision: Decision;
  promotion: PromotionStatus | undefined;
  /** Where in the DR cycle the site stands (after this reconcile's procedures). */
  lifecycle: Lifecycle;
  /** What re-protection would do now, and why (for the conditions while the standby serves). */
  reprotect?: ReprotectDecision | undefined;
  /** What a failback would do now, and why (while the standby serves). */
  failback?: FailbackDecision | undefined;
  history: readonly PromotionRecord[];
  handledToken: string | undefined;
  /** The last standby.dev/abandon token acted on (kept as written). */
  handledAbandonToken?: string | undefined;
  active: Side;
  trafficService: string | undefined;
  fencing: { holds: boolean; reason: string; message: string } | undefined;
  /** What the drill part of the reconcile says (controller/drill.ts): its status fields, carried as they are, and DrillPassed. */
  drill?: { fields: Partial<SiteStatus>; condition: ConditionInput } | undefined;
  /** After the promotion: whether the clients' Service selects the promoted standby. */
  traffic?: { holds: boolean; reason: string; message: string } | undefined;
  /** What the protection costs (cost/site-cost.ts). */
  cost?: SiteCost | undefined;
}

/** The recovery point objective in effect: rpoTarget, else the tier's natural bound. */
export function effectiveRpoMs(spec: SiteSpec, now: Date): number {
  if (spec.rpoTarget) return parseDuration(spec.rpoTarget) ?? 0;
  if (spec.tier === 'hot') return parseDuration(spec.hot?.maxLag ?? '30s') ?? 30_000;
  const s = spec.tier === 'warm' ? spec.warm : spec.cold;
  return s ? 2 * schedulePeriodMs(s.schedule, s.timeZone, now) : Number.POSITIVE_INFINITY;
}

/** Lag rounded so that small jitter does not cause a status write: 0.1 s below 1 s, whole seconds above. */
export function quantizeLag(seconds: number): number {
  return seconds < 1 ? Math.round(seconds * 10) / 10 : Math.round(seconds);
}

export interface StatusResult {
  status: SiteStatus;
  /** When the status will change by itself (an RPO deadline passing): re-check then. */
  recheckInMs: number | undefined;
}

export function computeStatus(i: StatusInput): StatusResult {
  const { spec, now } = i;
  const rpoMs = effectiveRpoMs(spec, now);
  const conditions: ConditionInput[] = [];
  let recheckInMs: number | undefined;

  // PrimaryHealthy
  if (i.primary.state === 'Unreachable') {
    // Not known, which is not the same as failed (controller/remote.ts).
    conditions.push({ type: 'PrimaryHealthy', status: 'Unknown', reason: 'PrimaryUnreachable', message: i.primary.message });
  } else if (i.primary.state === 'Fenced') {
    conditions.push({ type: 'PrimaryHealthy', status: 'False', reason: 'Fenced', message: `the old primary is fenced (${i.primary.message})` });
  } else if (i.primary.state === 'Missing') {
    const serving = i.primary.readyReplicas > 0 ? ` (${i.primary.readyReplicas} pod(s) its Service selects still serve)` : '';
    conditions.push({
      type: 'PrimaryHealthy',
      status: 'False',
      reason: 'PrimaryNotFound',
      message: `${spec.primary.workload.kind} ${spec.primary.workload.name} does not exist in this namespace${serving}; create it or fix spec.primary.workload. A deleted primary is never failed over automatically`,
    });
  } else if (i.primary.serviceSelectsNothing && !i.primary.scaledToZero) {
    conditions.push({
      type: 'PrimaryHealthy',
      status: 'False',
      reason: 'ServiceSelectsNothing',
      message: `Service ${spec.primary.service} selects no pod (${i.primary.message}): clients reach nothing and the primary's health cannot be seen; fix its selector. This is not failed over automatically`,
    });
  } else if (!i.primary.ready) {
    conditions.push({
      type: 'PrimaryHealthy',
      status: 'False',
      reason: i.primary.scaledToZero ? 'ScaledToZero' : 'PrimaryNotReady',
      message: i.primary.scaledToZero
        ? `${spec.primary.workload.kind} ${spec.primary.workload.name} is scaled to 0`
        : `${i.primary.message}, not Ready since ${i.primary.notReadySince?.toISOString() ?? 'now'}`,
    });
  } else {
    conditions.push({ type: 'PrimaryHealthy', status: 'True', reason: 'PrimaryReady', message: i.primary.message });
  }

  // StandbyReady: could the standby take over now?
  conditions.push({
    type: 'StandbyReady',
    status: i.usability.usable ? 'True' : 'False',
    reason: i.usability.usable ? 'Usable' : i.lostCopy ? 'CopyClaimLost' : i.engineProblem ? 'EngineProblem' : 'NotUsable',
    message: [i.usability.reason, i.engineProblem, i.standbyAdjusted].filter((x) => x).join('; '),
  });

  // RPOMet and the data age.
  let dataAgeSeconds: number | undefined;
  let dataTimestamp: string | undefined;
  let rpoMet: boolean | undefined;
  if (spec.tier === 'hot') {
    if (i.measuresLag && i.lagSeconds !== undefined) {
      dataAgeSeconds = quantizeLag(i.lagSeconds);
      rpoMet = i.lagSeconds * 1000 <= rpoMs;
    }
    // A hot standby that stopped streaming: its data ages from its last known point.
    if (i.previous.dataTimestamp && !i.usability.usable) dataTimestamp = i.previous.dataTimestamp;
  } else if (i.dataTime) {
    const ageMs = now.getTime() - i.dataTime.getTime();
    dataAgeSeconds = Math.max(0, Math.round(ageMs / 1000));
    dataTimestamp = i.dataTime.toISOString();
    rpoMet = ageMs <= rpoMs;
    if (rpoMet && Number.isFinite(rpoMs)) recheckInMs = rpoMs - ageMs + 1000;
  }
  const rpoText = Number.isFinite(rpoMs) ? formatDuration(rpoMs) : 'unbounded';
  if (rpoMet === undefined) {
    conditions.push({
      type: 'RPOMet',
      status: 'Unknown',
      reason: spec.tier === 'hot' ? 'NotMeasured' : 'NoCopyYet',
      message:
        spec.tier === 'hot'
          ? i.measuresLag
            ? `replication lag is not known yet${i.engineProblem ? `: ${i.engineProblem}` : ''}`
            : 'the generic engine does not measure replication lag; use an engine that does, or watch your application'
          : 'no complete copy exists yet',
    });
  } else {
    // The message names the data's time, not its age, so it does not change (and cause a write) as time passes.
    conditions.push({
      type: 'RPOMet',
      status: rpoMet ? 'True' : 'False',
      reason: rpoMet ? 'WithinTarget' : 'TargetMissed',
      message:
        spec.tier === 'hot'
          ? `replication lag is ${formatDuration((dataAgeSeconds ?? 0) * 1000)}; the RPO target is ${rpoText}`
          : `the standby's data is from ${i.dataTime?.toISOString() ?? '?'}, ${rpoMet ? 'within' : 'older than'} the RPO target of ${rpoText}`,
    });
  }

  // LastCopySucceeded: the newest finished snapshot or sync Job.
  if (spec.tier !== 'hot') {
    const job = i.lastCopyJob;
    conditions.push(
      job
        ? {
            type: 'LastCopySucceeded',
            status: job.succeeded ? 'True' : 'False',
            reason: job.succeeded ? 'Succeeded' : 'Failed',
            message: job.succeeded
              ? `the last ${spec.tier === 'warm' ? 'sync' : 'snapshot'} Job finished at ${job.finished.toISOString()}`
              : `the last ${spec.tier === 'warm' ? 'sync' : 'snapshot'} Job failed at ${job.finished.toISOString()}: ${job.message}; the previous copy is still in place`,
          }
        : { type: 'LastCopySucceeded', status: 'Unknown', reason: 'NoJobYet', message: 'no copy Job has finished yet' },
    );
  }

  // PromotionReady: would a promotion go ahead if it were needed?
  conditions.push(promotionReadyCondition(i));

  if (i.fencing) {
    conditions.push({
      type: 'FencingHolds',
      status: i.fencing.holds ? 'True' : 'False',
      reason: i.fencing.reason,
      message: i.fencing.message,
    });
  }

  if (i.drill) conditions.push(i.drill.condition);
  if (i.traffic) {
    conditions.push({ type: 'TrafficHolds', status: i.traffic.holds ? 'True' : 'False', reason: i.traffic.reason, message: i.traffic.message });
  }

  const phase = phaseOf(i, rpoMet);
  conditions.unshift(readyCondition(i, phase));
  conditions.push(stalledCondition(i), reconcilingCondition(phase, i));
  const fb = failbackReadyCondition(i);
  if (fb) conditions.push(fb);

  const standby: NonNullable<SiteStatus['standby']> = {
    ready: i.usability.usable,
    readyReplicas: i.standby.readyReplicas,
    replicas: i.standby.replicas,
  };
  if (i.standby.name) standby.workload = i.standby.name;
  if (spec.tier === 'hot' && i.measuresLag && i.lagSeconds !== undefined) {
    standby.lagSeconds = quantizeLag(i.lagSeconds);
    standby.lag = formatDuration(quantizeLag(i.lagSeconds) * 1000);
  }

  const status: SiteStatus = {
    observedGeneration: i.generation,
    phase,
    active: i.active,
    primary: {
      state: i.primary.state,
      ready: i.primary.ready,
      readyReplicas: i.primary.readyReplicas,
      replicas: i.primary.replicas,
      ...(i.primary.notReadySince ? { notReadySince: i.primary.notReadySince.toISOString() } : {}),
      ...(i.primary.uid ? { uid: i.primary.uid } : {}),
      ...(i.primary.everReady ? { everReady: true } : {}),
    },
    standby,
    conditions: mergeConditions(i.previous.conditions, conditions, i.generation, now),
  };
  if (i.trafficService) status.trafficService = i.trafficService;
  if (i.lastSnapshotTime) status.lastSnapshotTime = i.lastSnapshotTime.toISOString();
  if (i.snapshots !== undefined) status.snapshots = i.snapshots;
  if (i.lastSync) {
    status.lastSyncTime = i.lastSync.time.toISOString();
    if (i.lastSync.durationMs !== undefined) status.lastSyncDuration = formatDuration(Math.round(i.lastSync.durationMs / 1000) * 1000);
  }
  if (i.nextSyncTime) status.nextSyncTime = i.nextSyncTime.toISOString();
  if (dataTimestamp) status.dataTimestamp = dataTimestamp;
  if (dataAgeSeconds !== undefined) status.dataAgeSeconds = dataAgeSeconds;
  if (i.promotion) status.promotion = i.promotion;
  if (i.history.length > 0) status.promotionHistory = [...i.history];
  if (i.handledToken) status.handledPromoteToken = i.handledToken;
  if (i.drill) Object.assign(status, definedOnly(i.drill.fields));
  if (i.handledAbandonToken) status.handledAbandonToken = i.handledAbandonToken;
  if (i.cost) status.cost = i.cost;
  // What the procedures record themselves (promote.ts, reprotect.ts, failback.ts): carried over.
  for (const k of PROCEDURE_FIELDS) if (i.previous[k] !== undefined) (status as Record<string, unknown>)[k] = i.previous[k];
  if (i.standby.notReadySince) status.standby = { ...status.standby, notReadySince: i.standby.notReadySince.toISOString() };
  return { status, recheckInMs };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function phaseOf(i: StatusInput, rpoMet: boolean | undefined): Phase {
  const l = i.lifecycle;
  const p = l.promotion?.state;
  if (l.mode === 'failback' || l.mode === 'returning') {
    return l.mode === 'returning' && l.reprotection?.state === 'Failed' ? 'Degraded' : 'FailingBack';
  }
  if (l.mode === 'failover') {
    if (inProgress(l.promotion)) return 'Promoting';
    if (p === 'Failed') return 'Failed';
    if (reprotecting(l.reprotection)) return 'Reprotecting';
    if (l.reprotection?.state !== 'Protected') return 'Promoted';
    // Re-protected: the old primary follows the serving standby; as protected as its copies are.
    if (i.blocked || i.problems.length > 0 || !i.usability.usable || rpoMet === false) return 'Degraded';
    return 'Protected';
  }
  if (i.blocked) return 'Degraded';
  if (i.problems.length > 0 || !i.primary.ready || i.primary.missing || i.primary.serviceSelectsNothing) return 'Degraded';
  if (!i.usability.usable) {
    // Before the first copy, or while a new hot standby starts, the site is on its way, not broken.
    // A copy that was made and then lost (its claim deleted by hand) is not a first copy.
    const copyFailed = i.lastCopyJob !== undefined && !i.lastCopyJob.succeeded;
    const settingUp =
      i.spec.tier === 'hot'
        ? !i.standby.created || i.now.getTime() - i.standby.created.getTime() < SETTLE_MS
        : i.dataTime === undefined && !i.lostCopy;
    return settingUp && !copyFailed && !i.engineProblem ? 'Pending' : 'Degraded';
  }
  if (rpoMet === false) return 'Degraded';
  if (i.lastCopyJob && !i.lastCopyJob.succeeded) return 'Degraded';
  return 'Protected';
}

const PROTECTED = {
  hot: 'the hot standby runs and is ready to take over',
  warm: 'the warm standby holds a copy within the RPO target and is ready to take over',
  cold: 'a ready snapshot can be restored into a standby',
} as const;

function readyCondition(i: StatusInput, phase: Phase): ConditionInput {
  if (i.blocked && phase === 'Degraded') return { type: 'Ready', status: 'False', reason: i.blocked.reason, message: i.blocked.message };
  const l = i.lifecycle;
  switch (phase) {
    case 'Protected':
      return {
        type: 'Ready',
        status: 'True',
        reason: 'Protected',
        message: l.mode === 'failover' ? `the standby serves and the old primary follows it (${l.reprotection?.method ?? 're-protected'}); fail back with standby.dev/failback=<token>` : PROTECTED[i.spec.tier],
      };
    case 'Promoting':
      return { type: 'Ready', status: 'False', reason: 'Promoting', message: `promotion in progress: ${l.promotion?.state ?? ''}` };
    case 'Promoted':
      return { type: 'Ready', status: 'False', reason: 'Promoted', message: unprotectedMessage(i) };
    case 'Reprotecting':
      return { type: 'Ready', status: 'False', reason: 'Reprotecting', message: `re-protecting: ${l.reprotection?.message ?? ''}` };
    case 'FailingBack':
      return {
        type: 'Ready',
        status: 'False',
        reason: 'FailingBack',
        message: `failing back to the primary: ${l.mode === 'failback' ? (l.failback?.message ?? '') : (l.reprotection?.message ?? 'the standby is made the primary\'s standby again')}`,
      };
    case 'Failed':
      return { type: 'Ready', status: 'False', reason: 'PromotionFailed', message: l.promotion?.message ?? 'the promotion failed' };
    case 'Pending':
      return { type: 'Ready', status: 'False', reason: 'Pending', message: i.usability.reason };
    case 'Degraded': {
      const why = [
        ...i.problems,
        ...(i.primary.ready ? [] : [`primary: ${i.primary.message}`]),
        ...(i.usability.usable ? [] : [`standby: ${i.usability.reason}`]),
        ...(i.engineProblem ? [i.engineProblem] : []),
        ...(i.lastCopyJob && !i.lastCopyJob.succeeded ? [`last copy failed: ${i.lastCopyJob.message}`] : []),
      ];
      return { type: 'Ready', status: 'False', reason: 'Degraded', message: why.join('; ') || 'the RPO target is missed' };
    }
  }
}

/**
 * Stalled=True when nothing will improve until a person acts, so that kstatus (Flux, kpt) reports
 * Failed with the message instead of InProgress forever.
 */
function stalledCondition(i: StatusInput): ConditionInput {
  const stalled = (reason: string, message: string): ConditionInput => ({ type: 'Stalled', status: 'True', reason, message });
  if (i.blocked) return stalled(i.blocked.reason, i.blocked.message);
  const l = i.lifecycle;
  const p = l.promotion?.state;
  if (l.mode === 'failover' && p === 'Failed') return stalled('PromotionFailed', l.promotion?.message ?? 'the promotion failed');
  // Promoted and not re-protected: stalled when only a person can move it on (no automatic
  // re-protection, or none possible, or it failed); waiting for the old primary is progress.
  const r = i.reprotect;
  if (l.mode === 'failover' && p === 'Promoted' && r?.action === 'refuse' && r.reason !== 'NotLeader' && r.reason !== 'NothingToReprotect') {
    return stalled(r.reason === 'ReprotectFailed' ? 'ReprotectFailed' : 'Unprotected', r.message);
  }
  if (l.mode === 'failover' && p === 'Promoted' && r?.action === 'wait' && i.spec.promotion.reprotect === 'manual') return stalled('Unprotected', r.reason);
  if (l.mode === 'returning' && l.reprotection?.state === 'Failed') return stalled('ReprotectFailed', l.reprotection.message ?? 're-protecting the standby failed');
  if (i.primary.state === 'Missing') {
    return stalled('PrimaryNotFound', `${i.spec.primary.workload.kind} ${i.spec.primary.workload.name} does not exist in this namespace; create it or fix spec.primary.workload`);
  }
  if (i.stalling.length > 0) return stalled('BadReference', i.stalling.join('; '));
  return { type: 'Stalled', status: 'False', reason: 'AsExpected', message: 'nothing waits for a person' };
}

/**
 * The conditions with Reconciling rewritten for a new phase, for writes that change the phase
 * outside computeStatus (a promotion's start): a GitOps tool reading the site between that write
 * and the next full status must see it converging, not failing.
 */
export function conditionsForPhase(prev: SiteStatus, phase: Phase, generation: number, now: Date): Condition[] {
  const others = (prev.conditions ?? []).filter((c) => c.type !== 'Reconciling');
  const [reconciling] = mergeConditions(prev.conditions, [reconcilingCondition(phase)], generation, now);
  return [...others, reconciling!];
}

/** Reconciling=True while the site is on its way: setting up, promoting, re-protecting, failing back. */
function reconcilingCondition(phase: Phase, i?: StatusInput): ConditionInput {
  if (phase === 'Pending') return { type: 'Reconciling', status: 'True', reason: 'SettingUp', message: 'the standby is being set up' };
  if (phase === 'Promoting') return { type: 'Reconciling', status: 'True', reason: 'Promoting', message: 'a promotion is in progress' };
  if (phase === 'Reprotecting') return { type: 'Reconciling', status: 'True', reason: 'Reprotecting', message: 're-protection is in progress' };
  if (phase === 'FailingBack') return { type: 'Reconciling', status: 'True', reason: 'FailingBack', message: 'a failback is in progress' };
  if (phase === 'Promoted' && i?.reprotect?.action === 'wait' && i.spec.promotion.reprotect === 'automatic') {
    return { type: 'Reconciling', status: 'True', reason: 'WaitingForPrimary', message: i.reprotect.reason };
  }
  return { type: 'Reconciling', status: 'False', reason: 'AsExpected', message: `the site is ${phase}` };
}

/** A promoted site that nothing protects yet: why, and what comes next. */
function unprotectedMessage(i: StatusInput): string {
  const r = i.reprotect;
  const next = r === undefined ? '' : r.action === 'refuse' ? `: ${r.message}` : r.action === 'wait' ? `: ${r.reason}` : '';
  return `the standby serves clients and nothing protects it yet${next}`;
}

/** While the standby serves: would a failback to the primary go ahead now? */
function failbackReadyCondition(i: StatusInput): ConditionInput | undefined {
  const d = i.failback;
  if (!d || (i.lifecycle.mode !== 'failover' && i.lifecycle.mode !== 'failback') || i.lifecycle.promotion?.state !== 'Promoted') return undefined;
  switch (d.action) {
    case 'refuse':
      return { type: 'FailbackReady', status: 'False', reason: d.reason, message: d.message };
    case 'start':
    case 'continue':
      return { type: 'FailbackReady', status: 'True', reason: 'FailingBack', message: d.reason };
    case 'wait':
      return { type: 'FailbackReady', status: 'True', reason: 'Scheduled', message: d.reason };
    case 'none':
      return i.lifecycle.reprotection?.state === 'Protected'
        ? { type: 'FailbackReady', status: 'True', reason: 'Ready', message: `the primary follows the standby: annotate standby.dev/failback=<token> to fail back (${d.reason})` }
        : { type: 'FailbackReady', status: 'False', reason: 'NotReprotected', message: 'the primary does not follow the standby yet: a failback would need a force- token' };
  }
}

function promotionReadyCondition(i: StatusInput): ConditionInput {
  // The decision was taken at the start of this reconcile; a promotion it drove to its end since
  // is over, and the condition must say what holds now.
  const over = i.promotion?.state === 'Promoted' && (i.decision.action === 'start' || i.decision.action === 'continue');
  const d: Decision = over ? { action: 'none', reason: 'the promotion is complete' } : i.decision;
  switch (d.action) {
    case 'refuse':
      return { type: 'PromotionReady', status: 'False', reason: d.reason, message: d.message };
    case 'wait':
      return { type: 'PromotionReady', status: 'True', reason: 'ThresholdPending', message: d.reason };
    case 'start':
    case 'continue':
      return { type: 'PromotionReady', status: 'True', reason: 'Promoting', message: d.reason };
    case 'none': {
      if (i.active === 'standby' || i.lifecycle.promotion?.state === 'Promoted') {
        return {
          type: 'PromotionReady',
          status: 'False',
          reason: 'NotProtected',
          message: reprotected(i.lifecycle)
            ? 'the standby serves clients and the old primary follows it: a failback (standby.dev/failback=<token>) makes the primary serve again'
            : 'the standby serves clients and nothing would take over if it failed until the old primary is re-protected',
        };
      }
      if (i.spec.promotion.mode === 'disabled') {
        return { type: 'PromotionReady', status: 'False', reason: 'PromotionDisabled', message: 'promotion.mode is disabled' };
      }
      if (!i.usability.usable) return { type: 'PromotionReady', status: 'False', reason: 'StandbyNotUsable', message: i.usability.reason };
      const mode = i.spec.promotion.mode === 'manual' ? 'on request (promotion.mode manual)' : `after ${i.spec.promotion.failureThreshold} of primary failure`;
      return { type: 'PromotionReady', status: 'True', reason: 'Armed', message: `${d.reason}; the standby would be promoted ${mode}` };
    }
  }
}

/** The status of a site whose spec is invalid: Ready=False with the problems; a running promotion keeps its phase. */
export function invalidStatus(prev: SiteStatus, generation: number, message: string, now: Date): SiteStatus {
  const ready = prev.conditions?.find((c) => c.type === 'Ready');
  return {
    ...prev,
    observedGeneration: generation,
    phase: prev.promotion && inProgress(prev.promotion) ? prev.phase : 'Degraded',
    conditions: [
      ...(prev.conditions ?? []).filter((c) => c.type !== 'Ready' && c.type !== 'Stalled' && c.type !== 'Reconciling'),
      {
        type: 'Ready',
        status: 'False',
        reason: 'InvalidSpec',
        message,
        observedGeneration: generation,
        lastTransitionTime: ready?.reason === 'InvalidSpec' ? ready.lastTransitionTime : now.toISOString(),
      },
      ...mergeConditions(
        prev.conditions,
        [
          { type: 'Stalled', status: 'True', reason: 'InvalidSpec', message },
          { type: 'Reconciling', status: 'False', reason: 'InvalidSpec', message: 'nothing is done until the spec is fixed' },
        ],
        generation,
        now,
      ),
    ],
  };
}

// The drill state machine, as pure transitions on status.drill:
//   Copying -> Starting -> Verifying -> (a record in status.lastDrill: Passed), or a record
//   Failed (a step failed, or drill.timeout passed) or Aborted (a real failure, a promotion, an
//   operator restart) from any step.
// Each transition is written with the site's resourceVersion as precondition (controller/drill.ts),
// so two operators never both advance one drill; the scratch objects it made are found by label.
import type { DrillMethod, DrillRecord, DrillResult, DrillState, DrillStatus, DrillTrigger } from '../api/status.ts';
import type { Tier } from '../api/spec.ts';

export const NEXT: Record<DrillState, DrillState | 'Passed'> = {
  Copying: 'Starting',
  Starting: 'Verifying',
  Verifying: 'Passed',
};

const WORKING: Record<DrillState, string> = {
  Copying: 'making the scratch copy',
  Starting: 'starting the scratch workload on the copy',
  Verifying: 'verifying the scratch copy',
};

/**
 * A drill's id: its start in seconds since the epoch, base 36 (7 characters until 2059). Short,
 * because it is part of every scratch object's name (site/names.ts names.drill) and a label value;
 * one site runs one drill at a time, so a second of resolution is enough.
 */
export function drillId(at: Date): string {
  return Math.floor(at.getTime() / 1000).toString(36);
}

export interface BeginInput {
  now: Date;
  trigger: DrillTrigger;
  token: string | undefined;
  tier: Tier;
  method: DrillMethod;
  /** What is drilled, in words (for the message). */
  source: string;
  sourceRun?: string | undefined;
  volumes?: { volume: string; source: string }[] | undefined;
  dataTime?: Date | undefined;
  lagSeconds?: number | undefined;
}

export function begin(i: BeginInput): DrillStatus {
  const t = i.now.toISOString();
  return {
    id: drillId(i.now),
    trigger: i.trigger,
    ...(i.token ? { token: i.token } : {}),
    tier: i.tier,
    method: i.method,
    state: 'Copying',
    startedAt: t,
    stepStartedAt: t,
    message: `${WORKING.Copying} from ${i.source}`,
    ...(i.sourceRun ? { sourceRun: i.sourceRun } : {}),
    ...(i.volumes?.length ? { volumes: i.volumes } : {}),
    ...(i.dataTime ? { dataTime: i.dataTime.toISOString() } : {}),
    ...(i.lagSeconds !== undefined ? { lagSeconds: i.lagSeconds } : {}),
  };
}

/** Moves from a finished step to the next (Verifying has no next: see finish). */
export function advance(d: DrillStatus, now: Date, learned: Partial<DrillStatus> = {}): DrillStatus {
  const to = NEXT[d.state];
  if (to === 'Passed') return d;
  return { ...d, ...learned, state: to, stepStartedAt: now.toISOString(), message: WORKING[to] };
}

/** Whether the drill ran past spec.drill.timeout, counted from its start. */
export function overdue(d: DrillStatus, now: Date, timeoutMs: number): boolean {
  return now.getTime() - new Date(d.startedAt).getTime() > timeoutMs;
}

/** What is left of spec.drill.timeout, in whole seconds (at least 1): a Job's activeDeadlineSeconds. */
export function secondsLeft(d: DrillStatus, now: Date, timeoutMs: number): number {
  return Math.max(1, Math.ceil((new Date(d.startedAt).getTime() + timeoutMs - now.getTime()) / 1000));
}

const seconds = (ms: number) => Math.round(ms) / 1000;

/**
 * The record of a drill that ended. rtoSeconds (Passed only): from the start, the simulated
 * failure, to a Ready scratch copy the engine's verification accepted (verifiedAt; a failover runs
 * no user checks, so spec.drill.verify is not counted). dataAgeSeconds: how old the drilled data
 * was at the start, i.e. what a failover then would have lost.
 */
export function finish(d: DrillStatus, now: Date, result: DrillResult, message: string): DrillRecord {
  const started = new Date(d.startedAt).getTime();
  const record: DrillRecord = {
    id: d.id,
    trigger: d.trigger,
    ...(d.token ? { token: d.token } : {}),
    tier: d.tier,
    startedAt: d.startedAt,
    ...(d.readyAt ? { readyAt: d.readyAt } : {}),
    finishedAt: now.toISOString(),
    result,
    message,
  };
  if (result === 'Passed') record.rtoSeconds = seconds(Math.max(0, new Date(d.verifiedAt ?? now).getTime() - started));
  if (d.dataTime) {
    record.dataTime = d.dataTime;
    record.dataAgeSeconds = seconds(Math.max(0, started - new Date(d.dataTime).getTime()));
  }
  if (d.newestCommitTime) record.newestCommitTime = d.newestCommitTime;
  return record;
}

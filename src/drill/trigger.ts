// When a drill is asked for: a new standby.dev/drill token, or a time of spec.drill.schedule
// that came since the last one. Pure.
import { nextRun, previousRun } from '../api/cron.ts';
import type { DrillSpec } from '../api/spec.ts';

export interface DrillRequest {
  /** The standby.dev/drill annotation value. */
  token: string;
}

/** A new token (not yet handled) asks for a drill; each token runs one drill at most. */
export function drillRequest(annotation: string | undefined, handled: string | undefined): DrillRequest | undefined {
  const token = annotation?.trim();
  if (!token || token === handled) return undefined;
  return { token };
}

/** A schedule time that passed unhandled longer ago than this was missed (the operator was away): it is skipped. */
export const MISSED_AFTER_MS = 10 * 60_000;

export interface ScheduleVerdict {
  /** The schedule time a drill is due for now, if any (the newest since the last one handled). */
  due: Date | undefined;
  /** A schedule time that passed unhandled longer ago than MISSED_AFTER_MS: skipped, not run. */
  missed: Date | undefined;
  /** What status.lastDrillScheduleTime should say after this look (set or moved on). */
  lastScheduleTime: Date | undefined;
  /** The next time of the schedule after now. */
  next: Date | undefined;
}

/**
 * Where the drill schedule stands. The first look at a schedule only notes its newest past time
 * (a schedule added at noon does not drill at once for the 3 a.m. it "missed"); later, the newest
 * time since the last one handled is due, once, however many passed (the operator was away); one
 * that passed more than MISSED_AFTER_MS ago is missed instead.
 */
export function drillSchedule(drill: DrillSpec | undefined, lastScheduleTime: Date | undefined, now: Date): ScheduleVerdict {
  const none: ScheduleVerdict = { due: undefined, missed: undefined, lastScheduleTime, next: undefined };
  if (!drill?.schedule || drill.suspend) return none;
  const next = nextRun(drill.schedule, drill.timeZone, now);
  const newest = previousRun(drill.schedule, drill.timeZone, now);
  if (!newest) return { ...none, next };
  if (!lastScheduleTime) return { ...none, lastScheduleTime: newest, next };
  if (newest.getTime() <= lastScheduleTime.getTime()) return { ...none, next };
  if (now.getTime() - newest.getTime() > MISSED_AFTER_MS) return { due: undefined, missed: newest, lastScheduleTime: newest, next };
  return { due: newest, missed: undefined, lastScheduleTime: newest, next };
}

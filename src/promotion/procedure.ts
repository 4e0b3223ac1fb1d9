// A recorded procedure: an ordered list of steps whose state lives in status, so that an operator
// restarted at any step resumes it and finishes it exactly once. Promotions (and failbacks, which
// are promotions back to the primary) and re-protections are procedures; the executor drives any
// of them the same way.

/** The record of a running or finished procedure, as status holds it. */
export interface ProcedureRecord {
  state?: string | undefined;
  startedAt?: string | undefined;
  stepStartedAt?: string | undefined;
  completedAt?: string | undefined;
  durationSeconds?: number | undefined;
  message?: string | undefined;
}

export interface Procedure<P extends ProcedureRecord> {
  /** The steps of this record's procedure, in order (they may depend on the record, e.g. its direction). */
  steps(p: P): readonly string[];
  /** The state a procedure ends in when every step is done. */
  readonly done: string;
  /** The field stamped with the time a step finished, if any. */
  stamp?(step: string): string | undefined;
  /** What the record says while it is at a step. */
  describe(step: string, p: P): string;
}

export function inProgressOf<P extends ProcedureRecord>(proc: Procedure<P>, p: P | undefined): boolean {
  return p?.state !== undefined && proc.steps(p).includes(p.state);
}

/** Moves from a finished step to the next one (or to done). */
export function advanceOf<P extends ProcedureRecord>(proc: Procedure<P>, p: P, now: Date): P {
  const steps = proc.steps(p);
  const i = steps.indexOf(p.state ?? '');
  if (i < 0) return p;
  const to = steps[i + 1] ?? proc.done;
  const t = now.toISOString();
  const stamp = proc.stamp?.(p.state ?? '');
  const next: P = { ...p, state: to, stepStartedAt: t, ...(stamp ? { [stamp]: t } : {}) };
  if (to === proc.done) {
    next.completedAt = t;
    next.durationSeconds = Math.round(now.getTime() - new Date(p.startedAt ?? t).getTime()) / 1000;
  }
  next.message = proc.describe(to, next);
  return next;
}

export function failOf<P extends ProcedureRecord>(p: P, now: Date, message: string): P {
  return { ...p, state: 'Failed', message: `${p.state ?? 'step'} failed: ${message}`, completedAt: now.toISOString() };
}

/**
 * Whether the current step ran past its deadline. `resumedAt`: when this process took the step
 * over; the deadline counts from the later of the two, so an operator that was down longer than
 * the step timeout (perhaps on the node that failed) does not fail the step it resumes at once. (An
 * operator that keeps restarting postpones the deadline each time; it could not finish the step
 * either, and failing a procedure a healthy successor could complete is the worse mistake.)
 */
export function overdueOf(p: ProcedureRecord, now: Date, stepTimeoutMs: number, resumedAt?: Date): boolean {
  if (!p.stepStartedAt) return false;
  const started = Math.max(new Date(p.stepStartedAt).getTime(), resumedAt?.getTime() ?? 0);
  return now.getTime() - started > stepTimeoutMs;
}

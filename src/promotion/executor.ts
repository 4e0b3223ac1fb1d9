// Drives a recorded procedure (a promotion, a failback, a re-protection) through its steps. The
// steps themselves are I/O supplied by the controller; this loop decides when a step is done,
// overdue or failed, and records each transition.
//
// Every step is idempotent, so transitions are written in the background while the next steps
// act: if a write fails or the process dies, the recorded state is behind what was done, and the
// next leader simply does those steps again. What is never allowed is running a step before the
// previous one finished: traffic never moves before the fence is up.
import { formatDuration } from '../api/duration.ts';
import type { PromotionStatus } from '../api/status.ts';
import type { StepResult } from '../site/step.ts';
import { PROMOTION } from './machine.ts';
import { advanceOf, failOf, inProgressOf, overdueOf, type Procedure, type ProcedureRecord } from './procedure.ts';

export type { StepResult };

/** The actions of a procedure's steps, by step name. */
export type Steps = Readonly<Record<string, (() => Promise<StepResult>) | undefined>>;

/** A promotion's steps (CatchingUp only for a failback). */
export interface PromotionSteps {
  Fencing(): Promise<StepResult>;
  CatchingUp?(): Promise<StepResult>;
  Promoting(): Promise<StepResult>;
  Switching(): Promise<StepResult>;
  /** Only for a reduced standby (the record's `grow`): it grows to the primary's resources. */
  Growing?(): Promise<StepResult>;
}

export interface DriveOptions<P extends ProcedureRecord = PromotionStatus> {
  now: () => Date;
  stepTimeoutMs: number;
  /** The procedure the record follows; a promotion by default. */
  procedure?: Procedure<P>;
  /** Persists the new record; false when the site changed under us (resourceVersion conflict). */
  write: (p: P) => Promise<boolean>;
  /** The write of the procedure's start, still in flight: the first step runs beside it. */
  pendingWrite?: Promise<boolean>;
  /** Wait for each transition's write before the next step (the crash test hook needs a step boundary). */
  sequential?: boolean;
  /** When this process first drove the given step of this record (see overdueOf). */
  resumedAt?: (p: P) => Date | undefined;
  /** Called once a transition's write landed (tests stop the process here to prove resumption). */
  afterTransition?: (from: string, to: P) => void;
}

export interface DriveResult<P extends ProcedureRecord = PromotionStatus> {
  record: P;
  /** What the current step waits for, when it could not finish now. */
  waitingFor: string | undefined;
  /** A write was refused because the site changed: re-read and try again. */
  conflict: boolean;
}

async function attempt(step: (() => Promise<StepResult>) | undefined, name: string): Promise<StepResult> {
  if (!step) return { done: false, waitingFor: '', failed: `no action for step ${name}` };
  try {
    return await step();
  } catch (err) {
    return { done: false, waitingFor: `error: ${(err as Error).message}` };
  }
}

export async function drive<P extends ProcedureRecord = PromotionStatus>(
  start: P,
  steps: Steps | PromotionSteps,
  opts: DriveOptions<P>,
): Promise<DriveResult<P>> {
  const proc = (opts.procedure ?? PROMOTION) as unknown as Procedure<P>;
  const actions = steps as Steps;
  let p = start;
  // Transitions are written one after another (each needs the resourceVersion the previous one
  // returned), in the background of the steps; the chain's result says whether all landed.
  // A failed write (not a conflict) rejects the chain; it is awaited before drive returns, so the
  // error reaches the reconcile. The no-op handlers only keep a rejection that lands while a step
  // is still running from counting as unhandled, which would end the process.
  //
  // Transitions that come while a write is in flight are written as one: only the newest record
  // (a record behind what was done is safe, see above; one that skips a state it passed through
  // is as safe). Under load, when a status write takes seconds and the steps take less, a promotion
  // so costs two or three writes instead of one per step, and ends seconds sooner.
  let chain: Promise<boolean> = opts.pendingWrite ?? Promise.resolve(true);
  chain.catch(() => undefined);
  const unwritten: { from: string; next: P }[] = [];
  const record = (from: string, next: P): void => {
    unwritten.push({ from, next });
    chain = chain.then(async (ok) => {
      if (!ok) return false;
      const batch = unwritten.splice(0);
      if (batch.length === 0) return true;
      if (!(await opts.write(batch[batch.length - 1]!.next))) return false;
      for (const t of batch) opts.afterTransition?.(t.from, t.next);
      return true;
    });
    chain.catch(() => undefined);
  };
  const started = chain;
  const conflict = (): DriveResult<P> => ({ record: p, waitingFor: undefined, conflict: true });
  while (inProgressOf(proc, p)) {
    if (opts.sequential && !(await chain)) return conflict();
    const step = p.state ?? '';
    // Only the first step (a fence, a copy kept aside) may act before the start is on record:
    // anything after it (a standby scaled up, traffic moved) must be found and finished by whoever comes next.
    if (step !== proc.steps(p)[0] && !(await started)) return conflict();
    const result = await attempt(actions[step], step);
    if (!result.done) {
      // What was done so far must be on record before this reconcile ends.
      if (!(await chain)) return conflict();
      if (result.note && Object.entries(result.note).some(([k, v]) => (p as Record<string, unknown>)[k] !== v)) {
        // A decision the step made (its note) is on record before it waits: a resumed run follows it.
        const noted = { ...p, ...result.note };
        if (!(await opts.write(noted))) return conflict();
        p = noted;
      }
      let next: P | undefined;
      if (result.failed) next = failOf(p, opts.now(), result.failed);
      else if (overdueOf(p, opts.now(), opts.stepTimeoutMs, opts.resumedAt?.(p))) {
        if (result.overrun) {
          // Past its deadline, a step that must not fail the procedure is given up and recorded.
          const moved = advanceOf(proc, { ...p, ...result.overrun }, opts.now());
          record(step, moved);
          p = moved;
          continue;
        }
        next = failOf(p, opts.now(), `did not finish within ${formatDuration(opts.stepTimeoutMs)} (promotion.stepTimeout): ${result.waitingFor}`);
      }
      if (!next) return { record: p, waitingFor: result.waitingFor, conflict: false };
      if (!(await opts.write(next))) return conflict();
      opts.afterTransition?.(step, next);
      return { record: next, waitingFor: undefined, conflict: false };
    }
    const next = advanceOf(proc, result.note ? { ...p, ...result.note } : p, opts.now());
    record(step, next);
    p = next;
  }
  if (!(await chain)) return conflict();
  return { record: p, waitingFor: undefined, conflict: false };
}

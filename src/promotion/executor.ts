// Drives a promotion through its steps. The steps themselves (fence, promote,
// switch) are I/O supplied by the controller; this loop decides when a step is
// done, overdue or failed, and records each transition.
//
// Every step is idempotent, so transitions are written in the background while
// the next steps act: if a write fails or the process dies, the recorded state
// is behind what was done, and the next leader simply does those steps again.
// What is never allowed is running a step before the previous one finished:
// traffic never moves before the fence is up.
import { formatDuration } from '../api/duration.ts';
import type { PromotionStatus } from '../api/status.ts';
import type { StepResult } from '../site/step.ts';
import { advance, fail, inProgress, overdue } from './machine.ts';

export type { StepResult };


export interface PromotionSteps {
  Fencing(): Promise<StepResult>;
  Promoting(): Promise<StepResult>;
  Switching(): Promise<StepResult>;
}

export interface DriveOptions {
  now: () => Date;
  stepTimeoutMs: number;
  /** Persists the new promotion status; false when the site changed under us (resourceVersion conflict). */
  write: (p: PromotionStatus) => Promise<boolean>;
  /** The write of the promotion's start, still in flight: the first step runs beside it. */
  pendingWrite?: Promise<boolean>;
  /** Wait for each transition's write before the next step (the crash test hook needs a step boundary). */
  sequential?: boolean;
  /** When this process first drove the given step of this promotion (see overdue). */
  resumedAt?: (p: PromotionStatus) => Date | undefined;
  /** Called once a transition's write landed (tests stop the process here to prove resumption). */
  afterTransition?: (from: string, to: PromotionStatus) => void;
}

export interface DriveResult {
  promotion: PromotionStatus;
  /** What the current step waits for, when it could not finish now. */
  waitingFor: string | undefined;
  /** A write was refused because the site changed: re-read and try again. */
  conflict: boolean;
}

async function attempt(step: () => Promise<StepResult>): Promise<StepResult> {
  try {
    return await step();
  } catch (err) {
    return { done: false, waitingFor: `error: ${(err as Error).message}` };
  }
}

export async function drive(start: PromotionStatus, steps: PromotionSteps, opts: DriveOptions): Promise<DriveResult> {
  let p = start;
  // Transitions are written one after another (each needs the resourceVersion the previous one
  // returned), in the background of the steps; the chain's result says whether all landed.
  // A failed write (not a conflict) rejects the chain; it is awaited before drive returns, so the
  // error reaches the reconcile. The no-op handlers only keep a rejection that lands while a step
  // is still running from counting as unhandled, which would end the process.
  let chain: Promise<boolean> = opts.pendingWrite ?? Promise.resolve(true);
  chain.catch(() => undefined);
  const record = (from: string, next: PromotionStatus): void => {
    chain = chain.then(async (ok) => {
      if (!ok || !(await opts.write(next))) return false;
      opts.afterTransition?.(from, next);
      return true;
    });
    chain.catch(() => undefined);
  };
  const started = chain;
  while (inProgress(p)) {
    if (opts.sequential && !(await chain)) return { promotion: p, waitingFor: undefined, conflict: true };
    const step = p.state;
    // Only the fence may go up before the promotion's start is on record: anything after it
    // (a standby scaled up, traffic moved) must be found and finished by whoever comes next.
    if (step !== 'Fencing' && !(await started)) return { promotion: p, waitingFor: undefined, conflict: true };
    const result = await attempt(() => steps[step]());
    if (!result.done) {
      // What was done so far must be on record before this reconcile ends.
      if (!(await chain)) return { promotion: p, waitingFor: undefined, conflict: true };
      let next: PromotionStatus | undefined;
      if (result.failed) next = fail(p, opts.now(), result.failed);
      else if (overdue(p, opts.now(), opts.stepTimeoutMs, opts.resumedAt?.(p))) {
        next = fail(p, opts.now(), `did not finish within ${formatDuration(opts.stepTimeoutMs)} (promotion.stepTimeout): ${result.waitingFor}`);
      }
      if (!next) return { promotion: p, waitingFor: result.waitingFor, conflict: false };
      if (!(await opts.write(next))) return { promotion: p, waitingFor: undefined, conflict: true };
      opts.afterTransition?.(step, next);
      return { promotion: next, waitingFor: undefined, conflict: false };
    }
    const next = advance(p, opts.now());
    record(step, next);
    p = next;
  }
  if (!(await chain)) return { promotion: p, waitingFor: undefined, conflict: true };
  return { promotion: p, waitingFor: undefined, conflict: false };
}

// Drives a promotion through its steps. The steps themselves (fence, promote,
// switch) are I/O supplied by the controller; this loop decides when a step is
// done, overdue or failed, and records each transition.
//
// Every step is idempotent, so a transition's write may run at the same time
// as the next step's action: if the write fails or the process dies, the
// recorded state is at most one step behind what was done, and the next
// leader simply does that step again. What is never allowed is running a step
// before the previous one finished: traffic never moves before the fence is up.
import { formatDuration } from '../api/duration.ts';
import type { PromotionStatus } from '../api/status.ts';
import { advance, fail, inProgress, overdue } from './machine.ts';

export type StepResult = { done: true } | { done: false; waitingFor: string; failed?: string };

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
  let pending: { write: Promise<boolean>; from: string | undefined } | undefined = opts.pendingWrite
    ? { write: opts.pendingWrite, from: undefined }
    : undefined;
  const landed = async (): Promise<boolean> => {
    if (!pending) return true;
    const { write, from } = pending;
    pending = undefined;
    if (!(await write)) return false;
    if (from) opts.afterTransition?.(from, p);
    return true;
  };
  while (inProgress(p)) {
    const step = p.state;
    const [written, result] = await Promise.all([landed(), attempt(() => steps[step]())]);
    if (!written) return { promotion: p, waitingFor: undefined, conflict: true };
    if (!result.done) {
      let next: PromotionStatus | undefined;
      if (result.failed) next = fail(p, opts.now(), result.failed);
      else if (overdue(p, opts.now(), opts.stepTimeoutMs)) {
        next = fail(p, opts.now(), `did not finish within ${formatDuration(opts.stepTimeoutMs)} (promotion.stepTimeout): ${result.waitingFor}`);
      }
      if (!next) return { promotion: p, waitingFor: result.waitingFor, conflict: false };
      if (!(await opts.write(next))) return { promotion: p, waitingFor: undefined, conflict: true };
      opts.afterTransition?.(step, next);
      return { promotion: next, waitingFor: undefined, conflict: false };
    }
    const next = advance(p, opts.now());
    pending = { write: opts.write(next), from: step };
    p = next;
  }
  if (!(await landed())) return { promotion: p, waitingFor: undefined, conflict: true };
  return { promotion: p, waitingFor: undefined, conflict: false };
}

// Drives a promotion through its steps. The steps themselves (fence, promote,
// switch) are I/O supplied by the controller; this loop only decides when a
// step is done, overdue or failed, and records each transition before acting
// on the next, so that a crash at any point resumes correctly.
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
  /** Called after a transition was written (tests stop the process here to prove resumption). */
  afterTransition?: (from: string, to: PromotionStatus) => void;
}

export interface DriveResult {
  promotion: PromotionStatus;
  /** What the current step waits for, when it could not finish now. */
  waitingFor: string | undefined;
  /** The write was refused because the site changed: re-read and try again. */
  conflict: boolean;
}

export async function drive(start: PromotionStatus, steps: PromotionSteps, opts: DriveOptions): Promise<DriveResult> {
  let p = start;
  while (inProgress(p)) {
    const step = p.state;
    let result: StepResult;
    try {
      result = await steps[step]();
    } catch (err) {
      result = { done: false, waitingFor: `error: ${(err as Error).message}` };
    }
    if (!result.done) {
      let next: PromotionStatus | undefined;
      if (result.failed) next = fail(p, opts.now(), result.failed);
      else if (overdue(p, opts.now(), opts.stepTimeoutMs)) {
        next = fail(p, opts.now(), `did not finish within ${formatDuration(opts.stepTimeoutMs)} (promotion.stepTimeout): ${result.waitingFor}`);
      }
      if (next) {
        if (!(await opts.write(next))) return { promotion: p, waitingFor: undefined, conflict: true };
        opts.afterTransition?.(step, next);
        return { promotion: next, waitingFor: undefined, conflict: false };
      }
      return { promotion: p, waitingFor: result.waitingFor, conflict: false };
    }
    const next = advance(p, opts.now());
    if (!(await opts.write(next))) return { promotion: p, waitingFor: undefined, conflict: true };
    opts.afterTransition?.(step, next);
    p = next;
  }
  return { promotion: p, waitingFor: undefined, conflict: false };
}

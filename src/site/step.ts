// The outcome of one step of a recorded procedure (a promotion's fencing, promoting, switching):
// done, or not yet with what it waits for, or failed for good with why.
export type StepResult =
  /** `note`: what the step found out, kept in the procedure's record (e.g. the copy it kept aside). */
  | { done: true; note?: Readonly<Record<string, unknown>> }
  /**
   * `overrun`: a step whose failure must not fail its procedure (a promotion's Growing) says what
   * to record if its deadline passes; the procedure then moves on instead of failing.
   */
  | {
      done: false;
      waitingFor: string;
      failed?: string;
      overrun?: Readonly<Record<string, unknown>>;
      /** What the step decided and a later run must know (e.g. how the Growing step grows): written before it waits on. */
      note?: Readonly<Record<string, unknown>>;
    };

export const DONE: StepResult = { done: true };

export function doneWith(note: Readonly<Record<string, unknown>>): StepResult {
  return { done: true, note };
}

export function waiting(what: string): StepResult {
  return { done: false, waitingFor: what };
}

export function failed(why: string): StepResult {
  return { done: false, waitingFor: '', failed: why };
}

// Time for the runtime (informer backoff, leader election), injectable so that
// unit tests drive it with a fake clock. Durations and deadlines are measured
// on a monotonic clock, which an NTP step cannot move; wall time is only for
// timestamps other parties read (a Lease's renewTime).

export interface Clock {
  /** Milliseconds on a monotonic clock (arbitrary origin): for durations and deadlines. */
  now(): number;
  /** Milliseconds since the epoch, as the wall clock says: for timestamps written to the API. */
  wall(): number;
  /** Calls `fn` after `ms`; returns a function that cancels the call. */
  after(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wall: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/** Resolves after `ms`, or at once when the signal aborts; leaves no listener on the signal behind. */
export function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      cancel();
      signal.removeEventListener('abort', done);
      resolve();
    };
    const cancel = clock.after(ms, done);
    signal.addEventListener('abort', done, { once: true });
  });
}

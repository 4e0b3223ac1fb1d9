// Small shared pieces of the benchmark: time, statistics, bounded concurrency,
// logging and the clean-up registry that stops what the run started.

/** Monotonic milliseconds, for intervals measured inside this process. */
export function now(): number {
  return performance.now();
}

/** The wall clock in ms for a monotonic reading (to compare with timestamps other processes write). */
export function wallOf(monotonic: number): number {
  return performance.timeOrigin + monotonic;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A sleep that does not keep the process alive (for the losing side of a Promise.race). */
export function deadline(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export function log(message: string): void {
  const t = new Date().toISOString().slice(11, 19);
  process.stderr.write(`[bench ${t}] ${message}\n`);
}

/** Rounds to a number of decimals (results stay readable in JSON). */
export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export const MiB = 1024 * 1024;

/** Nearest-rank percentile (p in 0..100) of unsorted values; undefined when empty. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

export interface Summary {
  n: number;
  p50: number | null;
  p99: number | null;
  min: number | null;
  max: number | null;
  mean: number | null;
}

/** n, p50, p99, min, max and mean, rounded to `digits` decimals. */
export function summarize(values: readonly number[], digits = 1): Summary {
  if (values.length === 0) return { n: 0, p50: null, p99: null, min: null, max: null, mean: null };
  const r = (x: number | undefined) => (x === undefined ? null : round(x, digits));
  return {
    n: values.length,
    p50: r(percentile(values, 50)),
    p99: r(percentile(values, 99)),
    min: r(Math.min(...values)),
    max: r(Math.max(...values)),
    mean: r(values.reduce((a, b) => a + b, 0) / values.length),
  };
}

/** Runs fn over items with at most `limit` calls in flight; rejects on the first error after all settle. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && failure === undefined) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure instanceof Error ? failure : new Error(errorMessage(failure));
  return out;
}

/** Polls fn until it returns a value other than undefined/false, or throws after timeoutMs. */
export async function waitUntil<T>(
  what: string,
  timeoutMs: number,
  fn: () => Promise<T | undefined | false>,
  intervalMs = 1000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new TimeoutError(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}

/** A phase that did not finish in its time budget: recorded in the results instead of a number. */
export class TimeoutError extends Error {
  override name = 'TimeoutError';
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : JSON.stringify(err);
}

// ---- clean-up -------------------------------------------------------------------------------

type Cleanup = () => Promise<void>;
const cleanups = new Map<number, { what: string; fn: Cleanup }>();
let nextCleanup = 0;

/** Registers something to stop when the run ends, fails or is interrupted; returns the unregister function. */
export function onCleanup(what: string, fn: Cleanup): () => void {
  const id = nextCleanup++;
  cleanups.set(id, { what, fn });
  return () => {
    cleanups.delete(id);
  };
}

/** Runs every registered clean-up, newest first, each once; errors are logged, not thrown. */
export async function runCleanups(): Promise<void> {
  const list = [...cleanups.entries()].reverse();
  cleanups.clear();
  for (const [, c] of list) {
    try {
      await c.fn();
    } catch (err) {
      log(`clean-up of ${c.what} failed: ${errorMessage(err)}`);
    }
  }
}

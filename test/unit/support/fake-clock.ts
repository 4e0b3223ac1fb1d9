// A fake clock for the runtime's unit tests: time moves only when a test moves it. The
// monotonic and the wall clock move together, except when a test steps the wall clock (NTP).
import type { Clock } from '../../../src/k8s/clock.ts';

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

/** Lets pending I/O callbacks and promise continuations run (real time, a few event-loop turns). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export class FakeClock implements Clock {
  private mono = 1_000_000;
  private wallOffset = Date.parse('2026-03-01T12:00:00Z') - 1_000_000;
  private timers: Timer[] = [];
  private nextId = 1;
  /** Every delay asked for, in order: what the code under test chose to wait. */
  readonly requested: number[] = [];

  now(): number {
    return this.mono;
  }

  wall(): number {
    return this.mono + this.wallOffset;
  }

  after(ms: number, fn: () => void): () => void {
    const id = this.nextId++;
    this.requested.push(ms);
    this.timers.push({ id, at: this.mono + Math.max(0, ms), fn });
    return () => {
      this.timers = this.timers.filter((t) => t.id !== id);
    };
  }

  /** Delays of the timers now pending, from now. */
  get pending(): number[] {
    return this.timers.map((t) => t.at - this.mono).sort((a, b) => a - b);
  }

  /** Steps the wall clock only, as NTP may; the monotonic clock does not move. */
  stepWall(deltaMs: number): void {
    this.wallOffset += deltaMs;
  }

  /** Moves both clocks by `ms`, firing due timers in order and letting the code they run settle. */
  async advance(ms: number): Promise<void> {
    const target = this.mono + ms;
    for (;;) {
      const due = this.earliest();
      if (!due || due.at > target) break;
      this.fire(due);
      await settle();
    }
    this.mono = target;
    await settle();
  }

  /**
   * Waits (in real time, while I/O completes) until a timer is pending, moves the clocks to the
   * earliest one and fires it. Returns how far the clocks moved.
   */
  async next(timeoutMs = 5_000): Promise<number> {
    const due = await until(() => this.earliest(), `a timer to be set (${timeoutMs} ms)`, timeoutMs);
    const moved = due.at - this.mono;
    this.fire(due);
    await settle();
    return moved;
  }

  private earliest(): Timer | undefined {
    let best: Timer | undefined;
    for (const t of this.timers) if (!best || t.at < best.at || (t.at === best.at && t.id < best.id)) best = t;
    return best;
  }

  private fire(t: Timer): void {
    this.timers = this.timers.filter((x) => x.id !== t.id);
    this.mono = Math.max(this.mono, t.at);
    t.fn();
  }
}

/**
 * Polls (real time) until `cond` holds; fails naming what it waited for. The first polls are
 * one event-loop turn apart (I/O on loopback completes within a few), later ones a millisecond.
 */
export async function until<T>(cond: () => T | undefined | false, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (let i = 0; ; i++) {
    const v = cond();
    if (v !== undefined && v !== false) return v;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((resolve) => (i < 200 ? setImmediate(resolve) : setTimeout(resolve, 1)));
  }
}

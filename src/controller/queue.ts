// The keyed work queue, after client-go's: a key is queued at most once; a key
// being processed is never handed to a second worker (it is marked dirty and
// re-queued when the first finishes); failures back off per key; delayed
// re-queues (timers, next sync) wait in a heap served by one timer.
//
// Two lanes: urgent keys (a primary that just failed, a promotion under way) are
// handed out before routine ones, so that in a burst (a zone failing: hundreds of
// primaries at once, each event also waking routine reconciles) a promotion never
// waits behind a full queue of look-agains. Within a lane, first in, first out. After
// URGENT_STREAK urgent keys in a row, one routine key waiting is served, so that promotions that
// poll their steps for minutes cannot starve routine work (lag checks, schedules) entirely.

export interface QueueOptions {
  /** First retry delay after a failure; doubles per consecutive failure. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  now?: () => number;
  /** Whether a key added without an explicit lane is urgent now (asked at each add, also for timers and retries). */
  isUrgent?: (key: string) => boolean;
  /** Called when a key is handed to a worker: how long it waited in its lane. */
  onServe?: (waitMs: number, urgent: boolean) => void;
}

interface Delayed {
  at: number;
  key: string;
}

/** A key waiting in a lane; `seq` tells a live lane entry from one left behind when the key moved up. */
interface Waiting {
  seq: number;
  at: number;
  urgent: boolean;
}

interface Lane {
  items: { key: string; seq: number }[];
  head: number;
}

/** Urgent keys served in a row before one routine key that waits gets its turn. */
export const URGENT_STREAK = 8;

export class WorkQueue {
  private streak = 0;
  /** [urgent, routine] */
  private readonly lanes: [Lane, Lane] = [{ items: [], head: 0 }, { items: [], head: 0 }];
  private readonly waiting = new Map<string, Waiting>();
  private seq = 0;
  /** Keys added while being processed, re-queued when done (true: urgently). */
  private readonly dirty = new Map<string, boolean>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly heap: Delayed[] = [];
  private readonly waitingAt = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private waiters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly now: () => number;
  private readonly isUrgent: ((key: string) => boolean) | undefined;
  private readonly onServe: ((waitMs: number, urgent: boolean) => void) | undefined;

  constructor(opts: QueueOptions = {}) {
    this.baseDelayMs = opts.baseDelayMs ?? 100;
    this.maxDelayMs = opts.maxDelayMs ?? 300_000;
    // Monotonic: a wall-clock step (NTP) must not postpone or hasten delayed re-queues.
    this.now = opts.now ?? (() => performance.now());
    this.isUrgent = opts.isUrgent;
    this.onServe = opts.onServe;
  }

  /** Keys ready to be processed (not counting delayed ones or those in flight). */
  get depth(): number {
    return this.waiting.size;
  }

  /** Of those, the urgent ones. */
  get urgentDepth(): number {
    let n = 0;
    for (const w of this.waiting.values()) if (w.urgent) n++;
    return n;
  }

  get delayed(): number {
    return this.waitingAt.size;
  }

  get inFlight(): number {
    return this.processing.size;
  }

  /** Queues a key; `urgent` (default: the isUrgent option's answer) puts it in the first lane, or moves it there. */
  add(key: string, urgent?: boolean): void {
    if (this.shuttingDown) return;
    const u = urgent ?? this.isUrgent?.(key) ?? false;
    if (this.processing.has(key)) {
      this.dirty.set(key, u || (this.dirty.get(key) ?? false));
      return;
    }
    const w = this.waiting.get(key);
    if (w) {
      if (u && !w.urgent) {
        // Moved up: the routine lane's entry stays behind, skipped when reached (waiting says served).
        w.urgent = true;
        this.lanes[0].items.push({ key, seq: w.seq });
      }
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      this.processing.add(key);
      this.onServe?.(0, u);
      waiter(key);
      return;
    }
    const seq = ++this.seq;
    this.waiting.set(key, { seq, at: this.now(), urgent: u });
    this.lanes[u ? 0 : 1].items.push({ key, seq });
  }

  /** Adds the key after a delay; an earlier pending time for the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const at = this.now() + delayMs;
    const pending = this.waitingAt.get(key);
    if (pending !== undefined && pending <= at) return;
    this.waitingAt.set(key, at);
    heapPush(this.heap, { at, key });
    this.arm();
  }

  /** Re-queues a key that failed, after its own exponential backoff. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(this.baseDelayMs * 2 ** n, this.maxDelayMs);
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears a key's failure count (after a success). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Waits for the next key, urgent ones first; undefined once the queue shuts down. */
  get(): Promise<string | undefined> {
    const key = this.next();
    if (key !== undefined) return Promise.resolve(key);
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private next(): string | undefined {
    const order = this.streak >= URGENT_STREAK ? [this.lanes[1], this.lanes[0]] : this.lanes;
    for (const lane of order) {
      while (lane.head < lane.items.length) {
        const { key, seq } = lane.items[lane.head++]!;
        if (lane.head > 1024 && lane.head * 2 > lane.items.length) {
          lane.items.splice(0, lane.head);
          lane.head = 0;
        }
        const w = this.waiting.get(key);
        if (w?.seq !== seq) continue;
        this.waiting.delete(key);
        this.processing.add(key);
        this.streak = w.urgent ? this.streak + 1 : 0;
        this.onServe?.(this.now() - w.at, w.urgent);
        return key;
      }
    }
    return undefined;
  }

  /** Marks a key's processing finished; if it was added meanwhile, it is queued again (in the lane it was added to). */
  done(key: string): void {
    this.processing.delete(key);
    const urgent = this.dirty.get(key);
    if (urgent !== undefined) {
      this.dirty.delete(key);
      this.add(key, urgent || undefined);
    }
  }

  shutdown(): void {
    this.shuttingDown = true;
    if (this.timer) clearTimeout(this.timer);
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w(undefined);
  }

  private arm(): void {
    const first = this.heap[0];
    if (!first || first.at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = first.at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, first.at - this.now()));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.now();
    while (this.heap.length > 0 && this.heap[0]!.at <= now) {
      const { at, key } = heapPop(this.heap)!;
      // A stale entry: the key was re-armed for an earlier time, which already fired.
      if (this.waitingAt.get(key) !== at) continue;
      this.waitingAt.delete(key);
      this.add(key);
    }
    this.arm();
  }
}

function heapPush(heap: Delayed[], item: Delayed): void {
  heap.push(item);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]!.at <= item.at) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = item;
}

function heapPop(heap: Delayed[]): Delayed | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (top === undefined || last === undefined) return undefined;
  if (heap.length === 0) return top;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let child = -1;
    if (l < heap.length) child = l;
    if (r < heap.length && heap[r]!.at < heap[l]!.at) child = r;
    if (child < 0 || heap[child]!.at >= last.at) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = last;
  return top;
}

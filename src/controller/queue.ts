// The keyed work queue, after client-go's: a key is queued at most once; a key
// being processed is never handed to a second worker (it is marked dirty and
// re-queued when the first finishes); failures back off per key; delayed
// re-queues (timers, next sync) wait in a heap served by one timer.

export interface QueueOptions {
  /** First retry delay after a failure; doubles per consecutive failure. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  now?: () => number;
}

interface Delayed {
  at: number;
  key: string;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private head = 0;
  private readonly dirty = new Set<string>();
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

  constructor(opts: QueueOptions = {}) {
    this.baseDelayMs = opts.baseDelayMs ?? 100;
    this.maxDelayMs = opts.maxDelayMs ?? 300_000;
    // Monotonic: a wall-clock step (NTP) must not postpone or hasten delayed re-queues.
    this.now = opts.now ?? (() => performance.now());
  }

  /** Keys ready to be processed (not counting delayed ones or those in flight). */
  get depth(): number {
    return this.queue.length - this.head;
  }

  get delayed(): number {
    return this.waitingAt.size;
  }

  get inFlight(): number {
    return this.processing.size;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(key);
      this.processing.add(key);
      waiter(key);
    } else {
      this.queue.push(key);
    }
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

  /** Waits for the next key; undefined once the queue shuts down. */
  get(): Promise<string | undefined> {
    if (this.head < this.queue.length) {
      const key = this.queue[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks a key's processing finished; if it was added meanwhile, it is queued again. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
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

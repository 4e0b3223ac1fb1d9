import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { URGENT_STREAK, WorkQueue } from '../../../src/controller/queue.ts';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

async function drain(q: WorkQueue): Promise<string[]> {
  const out: string[] = [];
  while (q.depth > 0) {
    const k = await q.get();
    out.push(k!);
    q.done(k!);
  }
  return out;
}

describe('WorkQueue', () => {
  test('deduplicates keys waiting in the queue', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.depth).toBe(2);
    expect(await drain(q)).toEqual(['a', 'b']);
  });

  test('never hands a key being processed to a second worker, and re-queues it when done', async () => {
    const q = new WorkQueue();
    q.add('a');
    const first = await q.get();
    expect(first).toBe('a');
    q.add('a'); // an event arrives while a worker holds it
    expect(q.depth).toBe(0);
    const second = q.get();
    let handed: string | undefined;
    void second.then((k) => (handed = k));
    await Promise.resolve();
    expect(handed).toBeUndefined();
    q.done('a');
    expect(await second).toBe('a');
  });

  test('a waiting worker gets a newly added key at once', async () => {
    const q = new WorkQueue();
    const next = q.get();
    q.add('x');
    expect(await next).toBe('x');
    expect(q.inFlight).toBe(1);
  });

  test('delayed keys come due in time order, and an earlier time wins', async () => {
    const q = new WorkQueue();
    q.addAfter('late', 3000);
    q.addAfter('soon', 1000);
    q.addAfter('late', 2000);
    q.addAfter('soon', 5000); // later than pending: ignored
    vi.advanceTimersByTime(999);
    expect(q.depth).toBe(0);
    vi.advanceTimersByTime(1);
    expect(await drain(q)).toEqual(['soon']);
    vi.advanceTimersByTime(1000);
    expect(await drain(q)).toEqual(['late']);
    vi.advanceTimersByTime(10_000);
    expect(q.depth).toBe(0);
  });

  test('failures back off exponentially per key, up to the cap, and forget resets', () => {
    const q = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000 });
    expect([1, 2, 3, 4, 5, 6].map(() => q.addRateLimited('a'))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(q.addRateLimited('b')).toBe(100);
    q.forget('a');
    expect(q.addRateLimited('a')).toBe(100);
  });

  test('many delayed keys fire in order', async () => {
    const q = new WorkQueue();
    const delays = Array.from({ length: 200 }, (_, i) => ((i * 7919) % 200) + 1);
    delays.forEach((d, i) => q.addAfter(`k${i}`, d * 10));
    vi.advanceTimersByTime(2000);
    const order = await drain(q);
    expect(order).toHaveLength(200);
    const times = order.map((k) => delays[Number(k.slice(1))]!);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  test('shutdown releases waiting workers', async () => {
    const q = new WorkQueue();
    const w = q.get();
    q.shutdown();
    expect(await w).toBeUndefined();
    q.add('a');
    expect(q.depth).toBe(0);
  });

  test('delays are measured on the monotonic clock: the wall clock stepped back does not postpone a re-queue', () => {
    const q = new WorkQueue();
    q.addAfter('a', 1_000);
    vi.setSystemTime(Date.now() - 3_600_000); // NTP steps the wall clock an hour back
    vi.advanceTimersByTime(1_000);
    expect(q.depth).toBe(1);
  });
});

describe('WorkQueue: the urgent lane', () => {
  test('urgent keys are handed out before routine ones queued earlier, each lane first in, first out', async () => {
    const q = new WorkQueue();
    q.add('r1');
    q.add('r2');
    q.add('u1', true);
    q.add('r3');
    q.add('u2', true);
    expect(q.urgentDepth).toBe(2);
    expect(await drain(q)).toEqual(['u1', 'u2', 'r1', 'r2', 'r3']);
  });

  test(`after ${URGENT_STREAK} urgent keys in a row, a routine key that waits is served: promotions cannot starve routine work`, async () => {
    const q = new WorkQueue();
    q.add('r1');
    q.add('r2');
    for (let k = 0; k < 2 * URGENT_STREAK + 1; k++) q.add(`u${k}`, true);
    const order = await drain(q);
    expect(order.indexOf('r1')).toBe(URGENT_STREAK);
    expect(order.indexOf('r2')).toBe(2 * URGENT_STREAK + 1);
    expect(order.filter((k) => k.startsWith('u'))).toEqual(Array.from({ length: 2 * URGENT_STREAK + 1 }, (_, k) => `u${k}`));
  });

  test('a routine key made urgent moves up once, and is not handed out twice', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    q.add('b', true);
    q.add('b', true);
    expect(q.depth).toBe(2);
    expect(await drain(q)).toEqual(['b', 'a']);
  });

  test('a key added urgently while it is processed comes back in the urgent lane', async () => {
    const q = new WorkQueue();
    q.add('x');
    const k = await q.get();
    q.add('r');
    q.add('x', true);
    q.done(k!);
    expect(await drain(q)).toEqual(['x', 'r']);
  });

  test('isUrgent decides for keys added without a lane, timers and retries included', async () => {
    const urgent = new Set(['hot']);
    const q = new WorkQueue({ isUrgent: (key) => urgent.has(key) });
    q.add('cold');
    q.addAfter('hot', 1000);
    vi.advanceTimersByTime(1000);
    expect(await drain(q)).toEqual(['hot', 'cold']);
  });

  test('reports how long each key waited in its lane, on the clock it is given', async () => {
    let t = 0;
    const waits: [number, boolean][] = [];
    const q = new WorkQueue({ now: () => t, onServe: (ms, u) => waits.push([ms, u]) });
    q.add('r');
    t = 40;
    q.add('u', true);
    t = 100;
    await drain(q);
    expect(waits).toEqual([
      [60, true],
      [100, false],
    ]);
    const next = q.get();
    t = 150;
    q.add('direct');
    expect(await next).toBe('direct');
    expect(waits[2]).toEqual([0, false]);
  });
});

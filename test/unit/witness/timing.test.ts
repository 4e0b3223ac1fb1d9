import { describe, expect, test } from 'vitest';
import { acquireAfterObserved, DEFAULT_TIMING, selfFenceAfter, timingProblems, type WitnessTiming } from '../../../src/witness/timing.ts';

const t = (o: Partial<WitnessTiming>): WitnessTiming => ({ ...DEFAULT_TIMING, ...o });

describe('the timing rule of automatic site failover', () => {
  test('the defaults are safe: the primary fences itself at 25s, the standby may take over at 60s', () => {
    expect(timingProblems(DEFAULT_TIMING)).toEqual([]);
    expect(selfFenceAfter(DEFAULT_TIMING)).toBe(25_000);
    expect(acquireAfterObserved(DEFAULT_TIMING)).toBe(60_000);
  });

  test('a renewal that times out must fit a retry before the self-fence, naming the inequality and the fields', () => {
    const p = timingProblems(t({ renewInterval: 20_000 }));
    expect(p).toHaveLength(1);
    expect(p[0]!.fields).toEqual(['renewInterval', 'requestTimeout', 'leaseDuration', 'safetyMargin']);
    expect(p[0]!.message).toBe(
      'renewInterval + 2 × requestTimeout (30s) must be at most leaseDuration − safetyMargin (25s): otherwise one slow request to the witness fences a healthy primary',
    );
  });

  test('the fence must hold before the earliest takeover, drift included', () => {
    // 25s + 10s fence = 35s against 30s + 1ms: unsafe.
    const p = timingProblems(t({ acquireAfter: 1 }));
    expect(p.map((x) => x.fields)).toEqual([['leaseDuration', 'safetyMargin', 'fenceWithin', 'acquireAfter', 'maxClockDrift']]);
    expect(p[0]!.message).toContain('(35.025s) must be less than (leaseDuration + acquireAfter) × (1 − maxClockDrift) (29.971s)');
    expect(p[0]!.message).toContain('raise acquireAfter or safetyMargin');
  });

  test('drift alone can break a rule that is exact without it', () => {
    // 25s + 10s = 35s against 35s: equal is not enough, and with drift it is worse.
    expect(timingProblems(t({ acquireAfter: 5_000, maxClockDrift: 0 }))).toHaveLength(1);
    expect(timingProblems(t({ acquireAfter: 5_001, maxClockDrift: 0 }))).toEqual([]);
    expect(timingProblems(t({ acquireAfter: 5_001, maxClockDrift: 1e-3 }))).toHaveLength(1);
  });

  test('numbers that make no sense are named one by one, before any inequality', () => {
    const p = timingProblems(t({ renewInterval: 0, fenceWithin: -1, maxClockDrift: 0.5 }));
    expect(p.map((x) => x.fields[0])).toEqual(['renewInterval', 'fenceWithin', 'maxClockDrift']);
    expect(timingProblems(t({ safetyMargin: 30_000 }))[0]!.message).toBe('safetyMargin (30s) must be less than leaseDuration (30s)');
  });
});

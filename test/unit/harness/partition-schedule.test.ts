import { describe, expect, it } from 'vitest';
import { rng } from '../../cluster/rng.ts';
import { KINDS, trials, type TrialTiming } from '../../sites/partitions/schedule.ts';

const timing: TrialTiming = { leaseDuration: 6_000, safetyMargin: 1_500, acquireAfter: 5_000, failureThreshold: 2_000 };

describe('the partition suite schedule', () => {
  it('is a function of its seed: the same seed gives the same trials, another seed others', () => {
    expect(trials(7, 20, timing)).toEqual(trials(7, 20, timing));
    expect(JSON.stringify(trials(8, 20, timing))).not.toEqual(JSON.stringify(trials(7, 20, timing)));
    const r = rng(1);
    const xs = Array.from({ length: 1000 }, r);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
  });

  it('50 trials hold every kind (five of each but the two site losses, which share a slot: three and two), steps in time order within the trial', () => {
    const ts = trials(2026, 50, timing);
    expect(ts).toHaveLength(50);
    for (const k of KINDS) expect(ts.filter((t) => t.kind === k).length, k).toBe(k === 'site loss' ? 3 : k === 'standby site loss' ? 2 : 5);
    // The slots: trial i is of slot i % 10, so the operator-killed trials stay 9, 19, 29, 39, 49.
    expect(ts.filter((t) => t.kind === 'operator killed').map((t) => t.index)).toEqual([9, 19, 29, 39, 49]);
    expect(ts.filter((t) => t.kind === 'standby site loss').map((t) => t.index)).toEqual([18, 38]);
    for (const t of ts) {
      const ats = t.steps.map((s) => s.at);
      expect(ats).toEqual([...ats].sort((a, b) => a - b));
      expect(Math.max(...ats)).toBeLessThanOrEqual(t.duration);
    }
  });

  it('says what a correct system shows: a takeover when the primary is gone or cut from both, none when the standby still sees it or cannot reach the witness', () => {
    const ts = trials(3, 10, timing);
    const by = (k: string) => ts.find((t) => t.kind === k)!;
    expect(by('site loss').takeover).toBe('required');
    const lost = trials(3, 20, timing).find((t) => t.kind === 'standby site loss')!;
    expect(lost.steps[0]?.action).toEqual({ do: 'stopSite', site: 'standby' });
    expect(lost.takeover).toBe('forbidden');
    expect(lost.primaryKeepsServing).toBe(true);
    expect(by('primary isolated').takeover).toBe('required');
    for (const k of ['primary|standby', 'primary|witness', 'standby|witness', 'witness isolated']) {
      expect(by(k).takeover, k).toBe('forbidden');
      expect(by(k).primaryKeepsServing, k).toBe(true);
    }
    // A required takeover has time for it: the trial lasts past leaseDuration + acquireAfter after the fault.
    for (const k of ['site loss', 'primary isolated']) {
      const t = by(k);
      expect(t.duration - t.steps[0]!.at).toBeGreaterThan(timing.leaseDuration + timing.acquireAfter);
    }
  });

  it('heals the windows trials just around a deadline that matters', () => {
    const selfFence = timing.leaseDuration - timing.safetyMargin;
    const takeover = timing.leaseDuration + timing.acquireAfter;
    const windows = trials(11, 100, timing).filter((t) => t.kind === 'cut and heal in the windows');
    expect(windows.length).toBe(10);
    for (const t of windows) {
      const [cut, heal] = t.steps;
      const held = heal!.at - cut!.at;
      expect(Math.min(Math.abs(held - selfFence), Math.abs(held - takeover))).toBeLessThanOrEqual(1_500);
    }
  });
});

import { describe, expect, test } from 'vitest';
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { applyRetention } from '../../../src/snapshot/retention.ts';
import { newestReadySet, restorable, snapshotSets } from '../../../src/snapshot/sets.ts';
import type { VolumeSnapshot } from '../../../src/snapshot/types.ts';
import { copyRuns, newestCompleteRun, obsoleteRuns } from '../../../src/copies/inventory.ts';

const T0 = new Date('2026-11-22T10:00:00Z');
const at = (min: number) => new Date(T0.getTime() + min * 60_000);

function snap(run: string, volume: string, min: number, ready: boolean, error?: string): VolumeSnapshot {
  return {
    metadata: {
      name: `s-${volume}-${run}`,
      labels: { 'standby.dev/copy-run': run },
      annotations: { 'standby.dev/volume': volume },
      creationTimestamp: at(min).toISOString(),
    },
    status: { readyToUse: ready, creationTime: at(min).toISOString(), ...(error ? { error: { message: error } } : {}) },
  };
}

describe('snapshot sets', () => {
  test('a set is ready only when every volume has a ready snapshot', () => {
    const sets = snapshotSets(
      [snap('r1', 'data', 0, true), snap('r1', 'wal', 0, true), snap('r2', 'data', 60, true), snap('r2', 'wal', 60, false), snap('r3', 'data', 120, true)],
      ['data', 'wal'],
    );
    expect(sets.map((s) => [s.run, s.ready])).toEqual([
      ['r3', false],
      ['r2', false],
      ['r1', true],
    ]);
    expect(newestReadySet(sets)?.run).toBe('r1');
    expect(newestReadySet(sets)?.snapshots).toEqual({ data: 's-data-r1', wal: 's-wal-r1' });
  });

  test("a divergence copy (role divergent) is never a restore source nor the site's data, however new", () => {
    const divergent = { ...snap('divergent-p1', 'data', 120, true) };
    divergent.metadata = { ...divergent.metadata, labels: { ...divergent.metadata!.labels, 'standby.dev/role': 'divergent' } };
    const reverse = snap('seed-p1', 'data', 121, true);
    reverse.metadata!.labels!['standby.dev/role'] = 'reverse';
    const all = [snap('r1', 'data', 0, true), divergent, reverse];
    expect(newestReadySet(snapshotSets(all, ['data']))?.run).toBe('seed-p1');
    expect(snapshotSets(restorable([snap('r1', 'data', 0, true), divergent]), ['data']).map((s) => s.run)).toEqual(['r1']);
    expect(restorable(all).map((s) => s.metadata?.name)).toEqual(['s-data-r1', 's-data-seed-p1']);
  });

  test('a driver error is reported', () => {
    const [set] = snapshotSets([snap('r1', 'data', 0, false, 'quota exceeded')], ['data']);
    expect(set?.error).toBe('quota exceeded');
  });
});

describe('retention', () => {
  const day = 24 * 60;
  const sets = (n: number) => Array.from({ length: n }, (_, i) => ({ run: `r${i}`, time: at(-i * day), ready: true }));

  test('keepLast keeps the newest N ready sets', () => {
    const d = applyRetention(sets(10), { keepLast: 7 }, at(0), 3_600_000);
    expect(d.keep).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6']);
    expect(d.delete).toEqual(['r7', 'r8', 'r9']);
  });

  test('maxAge removes older sets', () => {
    const d = applyRetention(sets(10), { maxAgeMs: 3.5 * day * 60_000 }, at(0), 3_600_000);
    expect(d.keep).toEqual(['r0', 'r1', 'r2', 'r3']);
  });

  test('both: a set goes when either rule says so', () => {
    const d = applyRetention(sets(10), { keepLast: 2, maxAgeMs: 5 * day * 60_000 }, at(0), 3_600_000);
    expect(d.keep).toEqual(['r0', 'r1']);
  });

  test('the newest ready set is never deleted, however old', () => {
    const old = [{ run: 'ancient', time: at(-400 * day), ready: true }];
    expect(applyRetention(old, { maxAgeMs: 60_000 }, at(0), 3_600_000)).toEqual({ keep: ['ancient'], delete: [] });
    // Newer failed sets do not count as "newest ready".
    const mixed = [{ run: 'failed', time: at(-1), ready: false }, ...old];
    expect(applyRetention(mixed, { keepLast: 1, maxAgeMs: 60_000 }, at(0), 3_600_000).keep).toContain('ancient');
  });

  test('failed sets expire once superseded or stale; a run in progress stays', () => {
    const input = [
      { run: 'in-progress', time: at(-5), ready: false },
      { run: 'good', time: at(-60), ready: true },
      { run: 'failed-before-good', time: at(-120), ready: false },
    ];
    const d = applyRetention(input, { keepLast: 5 }, at(0), 2 * 3_600_000);
    expect(d.keep).toEqual(['in-progress', 'good']);
    expect(d.delete).toEqual(['failed-before-good']);
    const stale = applyRetention([{ run: 'abandoned', time: at(-300), ready: false }], { keepLast: 5 }, at(0), 2 * 3_600_000);
    expect(stale.delete).toEqual(['abandoned']);
  });
});

function pvc(run: string, volume: string, min: number, complete: boolean, phase = 'Bound'): V1PersistentVolumeClaim {
  return {
    status: { phase },
    metadata: {
      name: `c-${volume}-${run}`,
      labels: { 'standby.dev/copy-run': run },
      annotations: {
        'standby.dev/volume': volume,
        'standby.dev/data-time': at(min).toISOString(),
        ...(complete ? { 'standby.dev/complete': 'true' } : {}),
      },
      creationTimestamp: at(min),
    },
  };
}

describe('copy runs', () => {
  const claims = [pvc('r1', 'data', 0, true), pvc('r2', 'data', 15, true), pvc('r3', 'data', 30, false), pvc('hot', 'data', -100, true)];

  test('newest complete run; incomplete runs and the hot copies are not usable', () => {
    const runs = copyRuns(claims, ['data']);
    expect(runs.map((r) => r.run)).toEqual(['r3', 'r2', 'r1']);
    expect(newestCompleteRun(runs)?.claims).toEqual({ data: 'c-data-r2' });
  });

  test('a copy whose claim is not Bound is not complete, whatever its annotation says', () => {
    const runs = copyRuns([pvc('r1', 'data', 0, true), pvc('r2', 'data', 15, true, 'Pending'), pvc('r3', 'data', 30, true, 'Lost')], ['data']);
    expect(runs.map((r) => [r.run, r.complete])).toEqual([
      ['r3', false],
      ['r2', false],
      ['r1', true],
    ]);
    expect(newestCompleteRun(runs)?.run).toBe('r1');
  });

  test('a run missing a volume is not complete', () => {
    const runs = copyRuns([pvc('r1', 'data', 0, true)], ['data', 'wal']);
    expect(newestCompleteRun(runs)).toBeUndefined();
  });

  test('old runs go only when not mounted, and an in-progress run is left alone', () => {
    const runs = copyRuns(claims, ['data']);
    // r1 is still mounted, r2 is the newest complete copy, r3 is being made: nothing may go.
    expect(obsoleteRuns(runs, new Set(['c-data-r1']), at(31), 3_600_000).map((r) => r.run)).toEqual([]);
    expect(obsoleteRuns(runs, new Set(['c-data-r2']), at(31), 3_600_000).map((r) => r.run)).toEqual(['r1']);
    // An abandoned incomplete run older than the in-progress limit goes.
    expect(obsoleteRuns(runs, new Set(['c-data-r2']), at(200), 3_600_000).map((r) => r.run)).toEqual(['r3', 'r1']);
  });
});

// Issue 21 item 18: a failed snapshot set is reported while no ready set is newer.
import { describe, expect, test } from 'vitest';
import { snapshotSetProblem } from '../../../src/controller/facts.ts';
import type { SnapshotSet } from '../../../src/snapshot/sets.ts';

const set = (run: string, at: string, ready: boolean, error?: string): SnapshotSet => ({
  run,
  time: new Date(at),
  snapshots: { data: `db-data-${run}` },
  ready,
  error,
  names: [`db-data-${run}`],
});

describe('snapshotSetProblem', () => {
  test('every set failed: the newest error is named and nothing can be restored', () => {
    const sets = [set('b', '2026-12-01T02:00:00Z', false, 'quota'), set('a', '2026-12-01T01:00:00Z', false, 'no class')];
    expect(snapshotSetProblem(sets)).toBe('the 2 newest snapshot sets failed (run b: quota); no snapshot set can be restored');
  });

  test('a failed set newer than a ready one names the restorable set', () => {
    const sets = [set('b', '2026-12-01T02:00:00Z', false, 'quota'), set('a', '2026-12-01T01:00:00Z', true)];
    expect(snapshotSetProblem(sets)).toBe('the newest snapshot set failed (run b: quota); the newest restorable set is from 2026-12-01T01:00:00.000Z');
  });

  test('a ready set newer than a failed one, or a set still in progress, is no problem', () => {
    expect(snapshotSetProblem([set('b', '2026-12-01T02:00:00Z', true), set('a', '2026-12-01T01:00:00Z', false, 'quota')])).toBeUndefined();
    expect(snapshotSetProblem([set('b', '2026-12-01T02:00:00Z', false)])).toBeUndefined();
    expect(snapshotSetProblem([])).toBeUndefined();
  });
});

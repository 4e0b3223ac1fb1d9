import { describe, expect, test } from 'vitest';
import { validateSpec, type StandbySite } from '../../../src/api/site.ts';
import type { CopyRun } from '../../../src/copies/inventory.ts';
import { promotedClaims, promotionCopy } from '../../../src/promotion/copy.ts';
import type { SnapshotSet } from '../../../src/snapshot/sets.ts';

const T0 = new Date('2026-11-22T10:00:00Z');
const at = (min: number) => new Date(T0.getTime() + min * 60_000);

function site(s: Record<string, unknown>): StandbySite {
  const v = validateSpec({ primary: { workload: { kind: 'StatefulSet', name: 'db' }, service: 'db' }, ...s }, 'db');
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return { metadata: { name: 'db', namespace: 'shop' }, spec: v.spec, status: {} };
}

const run = (name: string, min: number, complete: boolean): CopyRun => ({
  run: name,
  dataTime: at(min),
  claims: { data: `db-data-${name}` },
  complete,
  created: at(min),
  names: [`db-data-${name}`],
});
const set = (name: string, min: number, ready: boolean): SnapshotSet => ({ run: name, time: at(min), snapshots: { data: `db-data-${name}` }, ready, error: undefined, names: [] });
const volumes = [{ volume: 'data', claim: 'data-db-0' }];

describe('the copy a promotion serves from (issue 21 items 5, 9)', () => {
  test('warm: the newest complete copy, recorded with its claims and data time', () => {
    const s = site({ tier: 'warm', warm: { schedule: '0 3 * * *' } });
    const copy = promotionCopy({ site: s, volumes, runs: [run('r3', 30, false), run('r2', 20, true), run('r1', 10, true)], sets: [], promotionId: 'p', dataTime: undefined });
    expect(copy).toEqual({ run: 'r2', claims: { data: 'db-data-r2' }, dataTime: at(20).toISOString() });
  });

  test('cold: the claims the newest ready set, or the restore Job, fills', () => {
    const snap = site({ tier: 'cold', cold: { schedule: '0 3 * * *' } });
    expect(promotionCopy({ site: snap, volumes, runs: [], sets: [set('s2', 20, false), set('s1', 10, true)], promotionId: 'p', dataTime: undefined })).toEqual({
      run: 's1',
      claims: { data: 'db-data-s1' },
      dataTime: at(10).toISOString(),
    });
    const job = site({ tier: 'cold', cold: { schedule: '0 3 * * *', method: 'job', jobTemplate: { spec: { containers: [{ name: 'x', image: 'x' }] } }, restoreJobTemplate: { spec: { containers: [{ name: 'x', image: 'x' }] } } } });
    expect(promotionCopy({ site: job, volumes, runs: [], sets: [], promotionId: '20261122t100000z', dataTime: at(5) })).toMatchObject({
      run: 'restore-20261122t100000z',
      claims: { data: 'db-data-restore-20261122t100000z' },
    });
  });

  test('hot records none', () => {
    expect(promotionCopy({ site: site({ tier: 'hot' }), volumes, runs: [run('r1', 0, true)], sets: [], promotionId: 'p', dataTime: undefined })).toBeUndefined();
  });

  test('convergence builds the standby only on the recorded copy, never a newer one', () => {
    const rec = { run: 'r1', claims: { data: 'db-data-r1' } };
    const runs = [run('r9', 90, true), run('r1', 10, true)];
    expect(promotedClaims({ state: 'Promoted', copy: rec }, runs, runs[0])).toEqual({ data: 'db-data-r1' });
    // Not complete yet (a cold restore binding): none until the Promoting step is done with it.
    expect(promotedClaims({ state: 'Promoting', copy: { run: 'r5', claims: { data: 'db-data-r5' } } }, runs, runs[0])).toBeUndefined();
    expect(promotedClaims({ state: 'Switching', copy: { run: 'r5', claims: { data: 'db-data-r5' } } }, runs, runs[0])).toEqual({ data: 'db-data-r5' });
    // A promotion recorded before copies were: as before.
    expect(promotedClaims({ state: 'Promoted' }, runs, runs[1])).toEqual({ data: 'db-data-r1' });
  });
});

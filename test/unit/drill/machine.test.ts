import { describe, expect, test } from 'vitest';
import type { SiteStatus } from '../../../src/api/status.ts';
import { advance, begin, drillId, finish, overdue, secondsLeft } from '../../../src/drill/machine.ts';
import { drillCondition, drillFieldsOf, lastPassed, lastVerdict, recordPatch, recorded } from '../../../src/drill/record.ts';
import { inUseByDrill } from '../../../src/drill/retention.ts';

const T0 = new Date('2026-11-22T03:00:00.000Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);

const started = () =>
  begin({
    now: T0,
    trigger: 'scheduled',
    token: undefined,
    tier: 'warm',
    method: 'cloneCopy',
    source: 'a clone of run r1',
    sourceRun: 'r1',
    volumes: [{ volume: 'data', source: 'db-data-r1' }],
    dataTime: at(-600),
  });

describe('the drill state machine', () => {
  test('a drill id is short, label-safe and its start in seconds', () => {
    expect(drillId(T0)).toBe(Math.floor(T0.getTime() / 1000).toString(36));
    expect(drillId(T0)).toMatch(/^[a-z0-9]{6,7}$/);
  });

  test('begins Copying with what it drills; advances Copying -> Starting -> Verifying, keeping what steps learned', () => {
    const d = started();
    expect(d).toMatchObject({ id: drillId(T0), state: 'Copying', trigger: 'scheduled', tier: 'warm', method: 'cloneCopy', sourceRun: 'r1', startedAt: T0.toISOString(), stepStartedAt: T0.toISOString() });
    expect(d.message).toContain('a clone of run r1');
    const s = advance(d, at(5), { dataTime: at(-590).toISOString() });
    expect(s).toMatchObject({ state: 'Starting', stepStartedAt: at(5).toISOString(), dataTime: at(-590).toISOString(), startedAt: T0.toISOString() });
    const v = advance(s, at(9), { readyAt: at(8).toISOString() });
    expect(v).toMatchObject({ state: 'Verifying', readyAt: at(8).toISOString() });
    // Verifying has no next step: a verified drill is finished, not advanced.
    expect(advance(v, at(10))).toBe(v);
  });

  test('a passed drill records the RTO up to the verification and the data age at its start', () => {
    const d = { ...advance(advance(started(), at(5)), at(9), { readyAt: at(8.5).toISOString() }), verifiedAt: at(12.25).toISOString() };
    const r = finish(d, at(20), 'Passed', 'ok');
    expect(r).toEqual({
      id: d.id,
      trigger: 'scheduled',
      tier: 'warm',
      startedAt: T0.toISOString(),
      readyAt: at(8.5).toISOString(),
      finishedAt: at(20).toISOString(),
      result: 'Passed',
      rtoSeconds: 12.25,
      dataTime: at(-600).toISOString(),
      dataAgeSeconds: 600,
      message: 'ok',
    });
  });

  test('failed and aborted drills measure no RTO; a token is kept', () => {
    const d = { ...started(), token: 'now-1', trigger: 'manual' as const };
    expect(finish(d, at(30), 'Failed', 'Copying failed: x').rtoSeconds).toBeUndefined();
    const a = finish(d, at(3), 'Aborted', 'a promotion began');
    expect(a).toMatchObject({ result: 'Aborted', token: 'now-1', trigger: 'manual', dataAgeSeconds: 600 });
    expect(a.rtoSeconds).toBeUndefined();
  });

  test('the timeout counts from the start; Jobs get what is left of it', () => {
    const d = started();
    expect(overdue(d, at(900), 900_000)).toBe(false);
    expect(overdue(d, at(900.001), 900_000)).toBe(true);
    expect(secondsLeft(d, at(100), 900_000)).toBe(800);
    expect(secondsLeft(d, at(2000), 900_000)).toBe(1);
  });
});

describe('the drill record in status', () => {
  const passed = finish({ ...started(), verifiedAt: at(7).toISOString() }, at(8), 'Passed', 'ok');

  test('ending a drill clears status.drill, sets lastDrill, appends to a history of 10 and shows the RTO', () => {
    const old = Array.from({ length: 10 }, (_, n) => ({ ...passed, id: `old${n}` }));
    const prev: SiteStatus = { drill: started(), drillHistory: old, lastDrill: old[9], measuredRto: '1m', handledDrillToken: 't1', phase: 'Protected' };
    const next = recorded(prev, passed);
    expect(next.drill).toBeUndefined();
    expect(next.lastDrill).toBe(passed);
    expect(next.drillHistory).toHaveLength(10);
    expect(next.drillHistory?.[0]?.id).toBe('old1');
    expect(next.drillHistory?.[9]).toBe(passed);
    expect(next.measuredRto).toBe('7s');
    expect(next.handledDrillToken).toBe('t1');
    // As a merge patch: drill removed, lastDrill replaced field by field (no stale rtoSeconds survives).
    const failed = finish(started(), at(30), 'Failed', 'no');
    const patch = recordPatch({ ...prev, lastDrill: passed }, failed);
    expect(patch.drill).toBeNull();
    expect(patch.lastDrill).toMatchObject({ result: 'Failed', rtoSeconds: null });
    expect(patch.phase).toBeUndefined();
    // A failed drill leaves the last measured RTO in place.
    expect(recorded(prev, failed).measuredRto).toBe('1m');
  });

  test('only the drill fields are the drill part of status', () => {
    expect(Object.keys(drillFieldsOf({ phase: 'Protected', lastDrill: passed, nextDrillTime: 'x' })).sort()).toEqual(['lastDrill', 'nextDrillTime']);
  });

  test('the verdict skips aborted drills; the newest passed one gives the metrics', () => {
    const aborted = finish(started(), at(50), 'Aborted', 'restart');
    const s: SiteStatus = { drillHistory: [passed, aborted], lastDrill: aborted };
    expect(lastVerdict(s)).toBe(passed);
    expect(lastPassed(s)).toBe(passed);
    expect(lastVerdict({ drillHistory: [aborted], lastDrill: aborted })).toBeUndefined();
  });

  test('retention keeps the run a running drill restores', () => {
    expect([...inUseByDrill({ drill: started() })]).toEqual(['r1']);
    expect(inUseByDrill({}).size).toBe(0);
  });
});

describe('DrillPassed', () => {
  const schedule = { schedule: '0 3 * * *', suspend: false, timeout: '15m', keepFailed: false };
  const passed = finish({ ...started(), verifiedAt: at(7).toISOString() }, at(8), 'Passed', 'ok');

  test('Unknown before the first drill, naming how to run one; an aborted one alone is still Unknown', () => {
    expect(drillCondition({}, undefined, T0).condition).toMatchObject({ status: 'Unknown', reason: 'NoDrillYet' });
    expect(drillCondition({}, undefined, T0).condition.message).toContain('set spec.drill.schedule');
    const aborted = finish(started(), at(1), 'Aborted', 'a promotion began');
    const c = drillCondition({ lastDrill: aborted, drillHistory: [aborted] }, schedule, T0).condition;
    expect(c.status).toBe('Unknown');
    expect(c.message).toContain('was aborted: a promotion began');
  });

  test('True after a pass; False after a failure', () => {
    const ok = drillCondition({ lastDrill: passed, drillHistory: [passed] }, schedule, at(60));
    expect(ok.condition).toMatchObject({ status: 'True', reason: 'DrillPassed' });
    expect(ok.condition.message).toContain('RTO 7s, data age 600s');
    const failed = finish(started(), at(30), 'Failed', 'Verifying failed: verification Job x failed');
    const bad = drillCondition({ lastDrill: failed, drillHistory: [passed, failed] }, schedule, at(60));
    expect(bad.condition).toMatchObject({ status: 'False', reason: 'DrillFailed' });
    expect(bad.condition.message).toContain('verification Job x failed');
  });

  test('False when the newest passed drill is older than 3 schedule periods; says when to look again before that', () => {
    const s: SiteStatus = { lastDrill: passed, drillHistory: [passed] };
    const fresh = drillCondition(s, schedule, at(3600));
    expect(fresh.condition.status).toBe('True');
    expect(fresh.recheckInMs).toBe(3 * 86_400_000 - 3_600_000 + 1000);
    const stale = drillCondition(s, schedule, at(3 * 86_400 + 1));
    expect(stale.condition).toMatchObject({ status: 'False', reason: 'DrillOverdue' });
    expect(stale.condition.message).toContain('72h0m0s');
    // The message names times, not ages: it does not change as time passes.
    expect(drillCondition(s, schedule, at(4 * 86_400)).condition.message).toBe(stale.condition.message);
    // Without a schedule (annotation drills only) a passed drill does not go stale.
    expect(drillCondition(s, undefined, at(365 * 86_400)).condition.status).toBe('True');
  });
});

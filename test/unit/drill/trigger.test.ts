import { describe, expect, test } from 'vitest';
import { previousRun } from '../../../src/api/cron.ts';
import { drillMayStart, drillMustAbort, type DrillGateInput } from '../../../src/drill/gate.ts';
import { drillRequest, drillSchedule, MISSED_AFTER_MS } from '../../../src/drill/trigger.ts';

const spec = (o: Partial<{ schedule: string; timeZone: string; suspend: boolean }> = {}) => ({
  schedule: '0 3 * * *',
  suspend: false,
  timeout: '15m',
  keepFailed: false,
  ...o,
});

describe('drill requests', () => {
  test('a new standby.dev/drill token asks for one drill; a handled or empty one for none', () => {
    expect(drillRequest('now-1', undefined)).toEqual({ token: 'now-1' });
    expect(drillRequest(' now-2 ', 'now-1')).toEqual({ token: 'now-2' });
    expect(drillRequest('now-1', 'now-1')).toBeUndefined();
    expect(drillRequest('  ', undefined)).toBeUndefined();
    expect(drillRequest(undefined, 'x')).toBeUndefined();
  });
});

describe('the drill schedule', () => {
  test('previousRun finds the newest time at or before a moment, in the time zone', () => {
    expect(previousRun('0 3 * * *', undefined, new Date('2026-11-22T03:00:00Z'))?.toISOString()).toBe('2026-11-22T03:00:00.000Z');
    expect(previousRun('0 3 * * *', undefined, new Date('2026-11-22T02:59:59Z'))?.toISOString()).toBe('2026-11-21T03:00:00.000Z');
    expect(previousRun('@daily', 'Europe/Berlin', new Date('2026-11-22T12:00:00Z'))?.toISOString()).toBe('2026-11-21T23:00:00.000Z');
  });

  test('the first look only notes the newest past time: a schedule added at noon does not drill for 3 a.m.', () => {
    const v = drillSchedule(spec(), undefined, new Date('2026-11-22T12:00:00Z'));
    expect(v.due).toBeUndefined();
    expect(v.lastScheduleTime?.toISOString()).toBe('2026-11-22T03:00:00.000Z');
    expect(v.next?.toISOString()).toBe('2026-11-23T03:00:00.000Z');
  });

  test('a time since the last one handled is due once; afterwards nothing until the next', () => {
    const last = new Date('2026-11-22T03:00:00Z');
    const due = drillSchedule(spec(), last, new Date('2026-11-23T03:00:05Z'));
    expect(due.due?.toISOString()).toBe('2026-11-23T03:00:00.000Z');
    expect(due.lastScheduleTime?.toISOString()).toBe('2026-11-23T03:00:00.000Z');
    expect(drillSchedule(spec(), due.lastScheduleTime, new Date('2026-11-23T03:00:06Z')).due).toBeUndefined();
  });

  test('several times passed while the operator was away: one drill, for the newest; older than the limit: missed', () => {
    const last = new Date('2026-11-20T03:00:00Z');
    expect(drillSchedule(spec(), last, new Date('2026-11-23T03:05:00Z')).due?.toISOString()).toBe('2026-11-23T03:00:00.000Z');
    const late = drillSchedule(spec(), last, new Date(new Date('2026-11-23T03:00:00Z').getTime() + MISSED_AFTER_MS + 1));
    expect(late.due).toBeUndefined();
    expect(late.missed?.toISOString()).toBe('2026-11-23T03:00:00.000Z');
    expect(late.lastScheduleTime?.toISOString()).toBe('2026-11-23T03:00:00.000Z');
  });

  test('no schedule, or a suspended one: nothing due, nothing next', () => {
    const now = new Date('2026-11-23T03:00:05Z');
    expect(drillSchedule(undefined, undefined, now)).toEqual({ due: undefined, missed: undefined, lastScheduleTime: undefined, next: undefined });
    expect(drillSchedule(spec({ suspend: true }), new Date('2026-11-22T03:00:00Z'), now).due).toBeUndefined();
    expect(drillSchedule({ suspend: false, timeout: '15m', keepFailed: false }, undefined, now).next).toBeUndefined();
  });
});

describe('whether a drill may start or must stop', () => {
  const ok: DrillGateInput = {
    phase: 'Protected',
    active: 'primary',
    promotion: undefined,
    primaryReady: true,
    standby: { usable: true, reason: 'fine' },
    running: undefined,
  };

  test('only a Protected site with nothing else going on drills', () => {
    expect(drillMayStart(ok)).toEqual({ ok: true });
    const no = (o: Partial<DrillGateInput>) => {
      const g = drillMayStart({ ...ok, ...o });
      return g.ok ? 'ok' : g.reason;
    };
    expect(no({ running: { id: 'abc' } })).toBe('drill abc is running');
    expect(no({ promotion: { state: 'Promoting' } })).toBe('a promotion is in progress (Promoting)');
    expect(no({ promotion: { state: 'Promoted' } })).toMatch(/the standby serves clients/);
    expect(no({ active: 'standby' })).toMatch(/the standby serves clients/);
    expect(no({ promotion: { state: 'Failed' } })).toMatch(/the last promotion failed/);
    expect(no({ primaryReady: false })).toBe('the primary is not Ready');
    expect(no({ phase: 'Degraded' })).toBe('the site is Degraded, not Protected');
    expect(no({ phase: undefined })).toBe('the site is not yet reconciled, not Protected');
    expect(no({ standby: { usable: false, reason: 'the newest sync is 3h old' } })).toBe('the standby could not take over: the newest sync is 3h old');
    expect(no({ busy: 're-protection is in progress' })).toBe('re-protection is in progress');
    expect(no({ busy: 'a failback is in progress' })).toBe('a failback is in progress');
  });

  test('a real failure, a promotion or a tier change stops a running drill', () => {
    const base = { promotion: undefined, active: 'primary' as const, primaryReady: true, drillTier: 'hot', specTier: 'hot' };
    expect(drillMustAbort(base)).toBeUndefined();
    expect(drillMustAbort({ ...base, primaryReady: false })).toBe('the primary is not Ready: a real failure wins over a drill');
    expect(drillMustAbort({ ...base, promotion: { state: 'Fencing' } })).toBe('a promotion began (Fencing): a real failure wins over a drill');
    expect(drillMustAbort({ ...base, specTier: 'warm' })).toBe('spec.tier changed from hot to warm during the drill');
  });
});

// The DR cycle as pure functions: where a site stands (lifecycle), the procedures' machines, the
// re-protection and failback decisions, and the fences each stage wants.
import { describe, expect, test } from 'vitest';
import type { PromotionStatus, ReprotectionStatus, SiteStatus } from '../../../src/api/status.ts';
import { fencesFor, standbyEpoch } from '../../../src/controller/converge.ts';
import { decideFailback, failbackRequest, type FailbackInput } from '../../../src/failback/decide.ts';
import { lifecycleOf, promotionInEffect, reprotected } from '../../../src/promotion/lifecycle.ts';
import { advance, begin, fail, inProgress, PROMOTION } from '../../../src/promotion/machine.ts';
import { decideReprotect, type ReprotectInput } from '../../../src/reprotect/decide.ts';
import { advanceReprotection, beginReprotection, failReprotection, reprotecting } from '../../../src/reprotect/machine.ts';

const T0 = new Date('2026-12-01T10:00:00Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);
const iso = (s: number) => at(s).toISOString();

const promoted: PromotionStatus = { state: 'Promoted', startedAt: iso(0), completedAt: iso(5), epoch: 1 };
const protectedPrimary: ReprotectionStatus = { state: 'Protected', of: 'primary', startedAt: iso(10), completedAt: iso(20) };
const failedBack: PromotionStatus = { state: 'Promoted', to: 'primary', startedAt: iso(100), completedAt: iso(110), epoch: 2 };

describe('lifecycleOf: where the site stands', () => {
  test('never promoted: forward, nothing in effect', () => {
    expect(lifecycleOf({})).toEqual({ mode: 'forward', promotion: undefined, failback: undefined, reprotection: undefined });
    expect(promotionInEffect({})).toBeUndefined();
  });

  test('a promotion running or done: failover, with the re-protection of the old primary that came after it', () => {
    expect(lifecycleOf({ promotion: { state: 'Promoting', startedAt: iso(0) } }).mode).toBe('failover');
    const l = lifecycleOf({ promotion: promoted, reprotection: protectedPrimary });
    expect(l).toMatchObject({ mode: 'failover', promotion: promoted, reprotection: protectedPrimary });
    expect(reprotected(l)).toBe(true);
    // A re-protection older than this failover is not this failover's.
    const stale = lifecycleOf({ promotion: { ...promoted, startedAt: iso(200) }, reprotection: protectedPrimary });
    expect(stale.reprotection).toBeUndefined();
    expect(reprotected(stale)).toBe(false);
  });

  test('a failback running: failback; the failover still holds', () => {
    const f: PromotionStatus = { state: 'CatchingUp', to: 'primary', startedAt: iso(100) };
    const l = lifecycleOf({ promotion: promoted, reprotection: protectedPrimary, failback: f });
    expect(l).toMatchObject({ mode: 'failback', promotion: promoted, failback: f, reprotection: protectedPrimary });
  });

  test('a failback that failed leaves the standby serving: failover again', () => {
    const f: PromotionStatus = { state: 'Failed', to: 'primary', startedAt: iso(100) };
    expect(lifecycleOf({ promotion: promoted, reprotection: protectedPrimary, failback: f }).mode).toBe('failover');
  });

  test('failed back: returning until the standby is re-protected, then forward with no promotion in effect', () => {
    const base: SiteStatus = { promotion: promoted, reprotection: protectedPrimary, failback: failedBack };
    const returning = lifecycleOf(base);
    expect(returning).toMatchObject({ mode: 'returning', promotion: undefined, failback: failedBack, reprotection: undefined });
    const running = lifecycleOf({ ...base, reprotection: { state: 'Seeding', of: 'standby', startedAt: iso(111) } });
    expect(running.mode).toBe('returning');
    expect(running.reprotection?.state).toBe('Seeding');
    const done = lifecycleOf({ ...base, reprotection: { state: 'Protected', of: 'standby', startedAt: iso(111), completedAt: iso(130) } });
    expect(done.mode).toBe('forward');
    expect(promotionInEffect({ ...base, reprotection: { state: 'Protected', of: 'standby', startedAt: iso(111) } })).toBeUndefined();
  });

  test('a second failover after a failback: failover again, the old failback ignored', () => {
    const second: PromotionStatus = { state: 'Promoted', startedAt: iso(500), epoch: 3 };
    const l = lifecycleOf({ promotion: second, failback: failedBack, reprotection: { state: 'Protected', of: 'standby', startedAt: iso(111) } });
    expect(l).toMatchObject({ mode: 'failover', promotion: second, failback: undefined, reprotection: undefined });
  });
});

describe('the procedures', () => {
  test('a failback is a promotion to the primary with a CatchingUp step, stamped and timed', () => {
    let f = begin(T0, 'manual', 'asked', 'tok', { tier: 'hot' }, 'primary', 2);
    expect(f).toMatchObject({ state: 'Fencing', to: 'primary', epoch: 2, token: 'tok', tier: 'hot', message: 'fencing the standby' });
    const seen: string[] = [];
    while (inProgress(f)) {
      seen.push(f.state);
      f = advance(f, at(seen.length));
    }
    expect(seen).toEqual(['Fencing', 'CatchingUp', 'Promoting', 'Switching']);
    expect(f).toMatchObject({ state: 'Promoted', fencedAt: iso(1), caughtUpAt: iso(2), promotedAt: iso(3), switchedAt: iso(4), completedAt: iso(4), durationSeconds: 4 });
    expect(f.message).toBe('the primary serves clients');
    expect(PROMOTION.steps(begin(T0, 'automatic', 'r', undefined))).toEqual(['Fencing', 'Promoting', 'Switching']);
  });

  test('a re-protection: Preserving, Seeding, Following, Protected; a failure names its step', () => {
    let r = beginReprotection(T0, 'primary', 'automatic', undefined);
    expect(r).toMatchObject({ state: 'Preserving', of: 'primary', message: 'keeping a copy of what only the old primary holds' });
    const seen: string[] = [];
    while (reprotecting(r)) {
      seen.push(r.state);
      r = advanceReprotection(r, at(seen.length * 2));
    }
    expect(seen).toEqual(['Preserving', 'Seeding', 'Following']);
    expect(r).toMatchObject({ state: 'Protected', completedAt: iso(6), durationSeconds: 6 });
    const failed = failReprotection({ ...beginReprotection(T0, 'standby', 'manual', 't'), state: 'Seeding' }, at(1), 'Job x failed');
    expect(failed).toMatchObject({ state: 'Failed', message: 'Seeding failed: Job x failed' });
    expect(fail(begin(T0, 'automatic', 'r', undefined), at(1), 'boom').message).toBe('Fencing failed: boom');
  });
});

describe('decideReprotect', () => {
  const failover = lifecycleOf({ promotion: promoted });
  const base: ReprotectInput = {
    lifecycle: failover,
    mode: 'automatic',
    request: undefined,
    isLeader: true,
    oldSideBack: false,
    oldSideState: "0 of the old primary's 1 pod(s) Ready",
    unsupported: undefined,
  };

  test('automatic: waits for the old primary, then starts of the primary', () => {
    expect(decideReprotect(base)).toEqual({ action: 'wait', reason: "waiting for the old primary to run again (0 of the old primary's 1 pod(s) Ready)" });
    expect(decideReprotect({ ...base, oldSideBack: true })).toMatchObject({ action: 'start', of: 'primary', trigger: 'automatic', token: undefined });
  });

  test('manual: only a token starts it, and the token is recorded', () => {
    expect(decideReprotect({ ...base, mode: 'manual', oldSideBack: true })).toMatchObject({ action: 'wait' });
    expect(decideReprotect({ ...base, mode: 'manual', request: 'r1' })).toMatchObject({ action: 'start', of: 'primary', trigger: 'manual', token: 'r1' });
  });

  test('nothing to re-protect before a failover is done, or after it is re-protected', () => {
    expect(decideReprotect({ ...base, lifecycle: lifecycleOf({}) })).toMatchObject({ action: 'none' });
    expect(decideReprotect({ ...base, lifecycle: lifecycleOf({}), request: 'x' })).toMatchObject({ action: 'refuse', reason: 'NothingToReprotect' });
    expect(decideReprotect({ ...base, lifecycle: lifecycleOf({ promotion: { state: 'Promoting', startedAt: iso(0) } }), oldSideBack: true })).toMatchObject({ action: 'none' });
    const done = lifecycleOf({ promotion: promoted, reprotection: protectedPrimary });
    expect(decideReprotect({ ...base, lifecycle: done, oldSideBack: true })).toMatchObject({ action: 'none' });
    expect(decideReprotect({ ...base, lifecycle: done, request: 'x' })).toMatchObject({ action: 'refuse', reason: 'NothingToReprotect' });
  });

  test('unsupported, failed and not the leader are refusals that say what to do', () => {
    const unsupported = decideReprotect({ ...base, oldSideBack: true, unsupported: 'set engine.generic.reprotectJobTemplate' });
    expect(unsupported).toEqual({ action: 'refuse', reason: 'ReprotectUnsupported', message: 'set engine.generic.reprotectJobTemplate' });
    const failed = lifecycleOf({ promotion: promoted, reprotection: { state: 'Failed', of: 'primary', startedAt: iso(10), message: 'Seeding failed: x' } });
    const refused = decideReprotect({ ...base, lifecycle: failed, oldSideBack: true });
    expect(refused).toMatchObject({ action: 'refuse', reason: 'ReprotectFailed' });
    expect(refused.action === 'refuse' && refused.message).toContain('standby.dev/reprotect=<new token>');
    expect(decideReprotect({ ...base, lifecycle: failed, request: 'retry' })).toMatchObject({ action: 'start', token: 'retry' });
    expect(decideReprotect({ ...base, oldSideBack: true, isLeader: false })).toMatchObject({ action: 'refuse', reason: 'NotLeader' });
  });

  test('a running re-protection continues; after a failback the standby is re-protected at once', () => {
    const running = lifecycleOf({ promotion: promoted, reprotection: { state: 'Seeding', of: 'primary', startedAt: iso(10) } });
    expect(decideReprotect({ ...base, lifecycle: running })).toMatchObject({ action: 'continue' });
    const returning = lifecycleOf({ promotion: promoted, reprotection: protectedPrimary, failback: failedBack });
    expect(decideReprotect({ ...base, lifecycle: returning, mode: 'manual' })).toMatchObject({ action: 'start', of: 'standby', trigger: 'automatic' });
  });
});

describe('decideFailback', () => {
  const served = lifecycleOf({ promotion: promoted, reprotection: protectedPrimary });
  const base: FailbackInput = {
    now: at(60),
    lifecycle: served,
    mode: 'manual',
    afterMs: 600_000,
    promotionMode: 'automatic',
    failureThresholdMs: 30_000,
    budget: { count: 1, windowMs: 3_600_000 },
    history: [{ startedAt: iso(0), trigger: 'automatic', result: 'Promoted' }],
    isLeader: true,
    request: undefined,
    serving: { ready: true, notReadySince: undefined },
  };

  test('a token: a force- prefix waives the proof; the same token twice is one request', () => {
    expect(failbackRequest(' fb-1 ', undefined)).toEqual({ token: 'fb-1', force: false });
    expect(failbackRequest('force-2', undefined)).toEqual({ token: 'force-2', force: true });
    expect(failbackRequest('fb-1', 'fb-1')).toBeUndefined();
    expect(failbackRequest('', undefined)).toBeUndefined();
  });

  test('manual: nothing without a token; a token on a re-protected site starts it, whatever the budget', () => {
    expect(decideFailback(base)).toMatchObject({ action: 'none' });
    expect(decideFailback({ ...base, request: { token: 'fb', force: false } })).toEqual({
      action: 'start',
      trigger: 'manual',
      token: 'fb',
      force: false,
      reason: 'failback requested by annotation',
    });
  });

  test('not re-protected: refused unless forced', () => {
    const notYet = lifecycleOf({ promotion: promoted });
    const refused = decideFailback({ ...base, lifecycle: notYet, request: { token: 'fb', force: false } });
    expect(refused).toMatchObject({ action: 'refuse', reason: 'NotReprotected' });
    expect(refused.action === 'refuse' && refused.message).toContain('force-<token>');
    expect(decideFailback({ ...base, lifecycle: notYet, request: { token: 'force-fb', force: true } })).toMatchObject({ action: 'start', trigger: 'forced', force: true });
  });

  test('nothing to fail back while the primary serves or a promotion runs; a running failback continues', () => {
    expect(decideFailback({ ...base, lifecycle: lifecycleOf({}), request: { token: 'x', force: false } })).toMatchObject({ action: 'refuse', reason: 'NothingToFailBack' });
    const running = lifecycleOf({ promotion: promoted, reprotection: protectedPrimary, failback: { state: 'CatchingUp', to: 'primary', startedAt: iso(50) } });
    expect(decideFailback({ ...base, lifecycle: running })).toMatchObject({ action: 'continue' });
    expect(decideFailback({ ...base, lifecycle: running, isLeader: false })).toMatchObject({ action: 'refuse', reason: 'NotLeader' });
  });

  test('automatic: once re-protected and stable for `after`, within the budget', () => {
    const auto = { ...base, mode: 'automatic' as const, budget: { count: 3, windowMs: 3_600_000 } };
    // Re-protected at 20 s, now 60 s: 40 s of the 10 min.
    expect(decideFailback(auto)).toMatchObject({ action: 'wait', afterMs: 560_000 });
    expect(decideFailback({ ...auto, now: at(620) })).toMatchObject({ action: 'start', trigger: 'automatic', force: false });
    // The default budget (one per hour) is used by the failover itself.
    expect(decideFailback({ ...auto, now: at(620), budget: { count: 1, windowMs: 3_600_000 } })).toMatchObject({ action: 'refuse', reason: 'BudgetExhausted' });
    // Re-protections do not count against it.
    const withReprotect = { ...auto, now: at(620), budget: { count: 2, windowMs: 3_600_000 }, history: [...base.history, { kind: 'reprotect' as const, startedAt: iso(10), trigger: 'automatic' as const, result: 'Protected' as const }] };
    expect(decideFailback(withReprotect)).toMatchObject({ action: 'start' });
  });

  test('the serving standby fails while the primary follows: after failureThreshold, a forced failback', () => {
    const down = { ...base, budget: { count: 3, windowMs: 3_600_000 }, serving: { ready: false, notReadySince: at(50) } };
    expect(decideFailback(down)).toMatchObject({ action: 'wait', afterMs: 20_000 });
    expect(decideFailback({ ...down, now: at(81) })).toMatchObject({ action: 'start', trigger: 'automatic', force: true });
    expect(decideFailback({ ...down, now: at(81), promotionMode: 'manual' })).toMatchObject({ action: 'none' });
  });
});

describe('fences per stage', () => {
  const returning = lifecycleOf({ promotion: promoted, reprotection: protectedPrimary, failback: failedBack });

  test('failover: the old primary closed, narrowed once it follows; scaleDown fences by replicas only', () => {
    expect(fencesFor(lifecycleOf({}), 'networkPolicy')).toEqual({});
    expect(fencesFor(lifecycleOf({ promotion: promoted }), 'networkPolicy')).toEqual({ primary: 'closed' });
    expect(fencesFor(lifecycleOf({ promotion: { state: 'Failed', startedAt: iso(0) } }), 'networkPolicy')).toEqual({ primary: 'closed' });
    expect(fencesFor(lifecycleOf({ promotion: promoted, reprotection: { state: 'Seeding', of: 'primary', startedAt: iso(10) } }), 'networkPolicy')).toEqual({ primary: 'narrow' });
    expect(fencesFor(lifecycleOf({ promotion: promoted, reprotection: protectedPrimary }), 'networkPolicy')).toEqual({ primary: 'narrow' });
    expect(fencesFor(lifecycleOf({ promotion: promoted }), 'scaleDown')).toEqual({});
  });

  test('failback: the standby narrow, the primary narrow until Switching lifts its fence; returning: the standby narrow', () => {
    const at = (state: PromotionStatus['state']) => lifecycleOf({ promotion: promoted, reprotection: protectedPrimary, failback: { state, to: 'primary', startedAt: iso(100) } });
    expect(fencesFor(at('CatchingUp'), 'networkPolicy')).toEqual({ standby: 'narrow', primary: 'narrow' });
    expect(fencesFor(at('Switching'), 'networkPolicy')).toEqual({ standby: 'narrow' });
    expect(fencesFor(at('CatchingUp'), 'scaleDown')).toEqual({ standby: 'narrow' });
    expect(fencesFor(returning, 'networkPolicy')).toEqual({ standby: 'narrow' });
    expect(fencesFor(lifecycleOf({ promotion: promoted, failback: failedBack, reprotection: { state: 'Protected', of: 'standby', startedAt: iso(111) } }), 'networkPolicy')).toEqual({});
  });

  test("the standby's epoch is the last completed failback's, once its re-protection kept what the standby held", () => {
    expect(standbyEpoch({}, undefined)).toBeUndefined();
    expect(standbyEpoch({ failback: { state: 'Switching', epoch: 2 } }, undefined)).toBeUndefined();
    // Failed back, the standby's copies not kept yet (no re-protection, or one still Preserving):
    // the pods keep the label they have, so nothing restarts (and rewinds) them.
    expect(standbyEpoch({ promotion: promoted, failback: failedBack }, undefined)).toBeUndefined();
    expect(standbyEpoch({ promotion: promoted, failback: failedBack }, 1)).toBe(1);
    const preserving = { state: 'Preserving' as const, of: 'standby' as const, startedAt: iso(111) };
    expect(standbyEpoch({ promotion: promoted, failback: failedBack, reprotection: preserving }, undefined)).toBeUndefined();
    const kept = { ...preserving, state: 'Seeding' as const, divergence: { snapshotRun: 'divergent-x', description: 'kept' } };
    expect(standbyEpoch({ promotion: promoted, failback: failedBack, reprotection: kept }, undefined)).toBe(2);
    expect(standbyEpoch({ promotion: promoted, failback: failedBack, reprotection: { state: 'Protected', of: 'standby', startedAt: iso(111), divergence: { description: 'kept' } } }, 1)).toBe(2);
  });
});

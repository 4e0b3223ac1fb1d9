import { describe, expect, test } from 'vitest';
import type { SiteStatus } from '../../../src/api/status.ts';
import { CAPABILITIES } from '../../../src/plugin/capabilities.ts';
import { settle } from '../../../src/plugin/settle.ts';

const T = 'kubectl-20261122t101500z-abc123';
const cond = (type: string, status: 'True' | 'False' | 'Unknown', message = '', reason = 'R') => ({ type, status, reason, message, lastTransitionTime: '2026-11-22T10:15:00Z' });

describe('promote', () => {
  const cap = CAPABILITIES.promote;
  test('waiting until the operator records the token, then following the promotion it started', () => {
    expect(settle(cap, {}, T)).toEqual({ state: 'waiting' });
    expect(settle(cap, { handledPromoteToken: 'older' }, T)).toEqual({ state: 'waiting' });
    // Another promotion (an automatic one) is not ours.
    expect(settle(cap, { promotion: { state: 'Promoting', trigger: 'automatic' } }, T)).toEqual({ state: 'waiting' });
    expect(settle(cap, { handledPromoteToken: T, promotion: { state: 'Fencing', token: T, message: 'fencing the primary' } }, T)).toEqual({
      state: 'running',
      line: 'promotion: Fencing (fencing the primary)',
    });
    expect(settle(cap, { handledPromoteToken: T, promotion: { state: 'Promoted', token: T, durationSeconds: 0.05 } }, T)).toEqual({
      state: 'done',
      ok: true,
      result: 'Promoted',
      message: 'the standby serves clients (the promotion took 0.05s)',
    });
    expect(settle(cap, { promotion: { state: 'Failed', token: T, message: 'Promoting failed: the Job failed' } }, T)).toMatchObject({ state: 'done', ok: false, result: 'Failed', message: 'Promoting failed: the Job failed' });
  });

  test('a token handled without a promotion of its own was refused, with PromotionReady saying why', () => {
    const s: SiteStatus = { handledPromoteToken: T, conditions: [cond('PromotionReady', 'False', 'the standby is already active; there is nothing to promote')] };
    expect(settle(cap, s, T)).toEqual({ state: 'done', ok: false, result: 'Refused', message: 'the standby is already active; there is nothing to promote' });
    expect(settle(cap, { handledPromoteToken: T }, T)).toMatchObject({ result: 'Refused', message: 'the operator refused the request' });
  });
});

describe('reprotect, as the operator records it (status.reprotection)', () => {
  const cap = CAPABILITIES.reprotect;
  const began = { of: 'primary', trigger: 'manual', token: T, startedAt: '2026-11-22T10:15:01.000Z' } as const;

  test('waiting until the operator records the token; running through the steps of a re-protection that carries it', () => {
    expect(settle(cap, { phase: 'Promoted', active: 'standby' }, T)).toEqual({ state: 'waiting' });
    // An automatic re-protection is not ours.
    expect(settle(cap, { phase: 'Reprotecting', reprotection: { ...began, trigger: 'automatic', token: undefined, state: 'Seeding' } }, T)).toEqual({ state: 'waiting' });
    expect(settle(cap, { handledReprotectToken: T, phase: 'Reprotecting', reprotection: { ...began, state: 'Seeding', message: 'waiting for Job db-reprotect-x to complete' } }, T)).toEqual({
      state: 'running',
      line: 're-protection: Seeding (waiting for Job db-reprotect-x to complete)',
    });
  });

  test('done once the record is Protected and the phase no longer Reprotecting (the status after it was written)', () => {
    const protectedRecord = { ...began, state: 'Protected', method: 'job', durationSeconds: 1.6, completedAt: '2026-11-22T10:15:02.600Z' } as const;
    // The record is written first; the phase follows in the next status write.
    expect(settle(cap, { handledReprotectToken: T, phase: 'Reprotecting', active: 'standby', reprotection: protectedRecord }, T)).toMatchObject({ state: 'running' });
    expect(settle(cap, { handledReprotectToken: T, phase: 'Protected', active: 'standby', reprotection: protectedRecord, conditions: [cond('Ready', 'True')] }, T)).toEqual({
      state: 'done',
      ok: true,
      result: 'Protected',
      message: 'the old primary follows the serving standby (job) (it took 1.6s)',
    });
    // Re-protected, but not as protected as it should be: said, and still a success of the request.
    expect(settle(cap, { phase: 'Degraded', active: 'standby', reprotection: protectedRecord, conditions: [cond('Ready', 'False', 'RPO missed')] }, T)).toMatchObject({
      ok: true,
      message: 'the old primary follows the serving standby (job) (it took 1.6s); the site is Degraded: RPO missed',
    });
  });

  test('a failed re-protection is the outcome, with its message', () => {
    expect(settle(cap, { phase: 'Promoted', active: 'standby', reprotection: { ...began, state: 'Failed', message: 'Job db-reprotect-x failed: BackoffLimitExceeded' } }, T)).toEqual({
      state: 'done',
      ok: false,
      result: 'Failed',
      message: 'Job db-reprotect-x failed: BackoffLimitExceeded; the standby serves unprotected',
    });
  });

  test('a token handled without a re-protection of its own was refused (the Event has the words; Stalled else)', () => {
    expect(settle(cap, { handledReprotectToken: T, phase: 'Protected', active: 'primary', reprotection: {} }, T)).toEqual({
      state: 'done',
      ok: false,
      result: 'Refused',
      message: 'the operator refused the re-protection',
    });
    const s: SiteStatus = { handledReprotectToken: T, phase: 'Promoted', conditions: [cond('Stalled', 'True', 'set engine.generic.reprotectJobTemplate')] };
    expect(settle(cap, s, T)).toMatchObject({ result: 'Refused', message: 'set engine.generic.reprotectJobTemplate' });
  });
});

describe('failback, as the operator records it (status.failback, then the standby re-protected)', () => {
  const cap = CAPABILITIES.failback;
  const fb = { to: 'primary', trigger: 'manual', token: T, startedAt: '2026-11-22T10:20:00.000Z' } as const;
  const promoted = { ...fb, state: 'Promoted', durationSeconds: 2.1 } as const;
  const back = { of: 'standby', trigger: 'automatic', startedAt: '2026-11-22T10:20:02.200Z' } as const;

  test('waiting, then running through the failback steps and the standby re-protection that closes it', () => {
    expect(settle(cap, { active: 'standby', phase: 'Protected' }, T)).toEqual({ state: 'waiting' });
    expect(settle(cap, { handledFailbackToken: T, phase: 'FailingBack', failback: { ...fb, state: 'CatchingUp', message: 'waiting for Job db-failback-x to complete' } }, T)).toEqual({
      state: 'running',
      line: 'failback: CatchingUp (waiting for Job db-failback-x to complete)',
    });
    expect(settle(cap, { phase: 'FailingBack', active: 'primary', failback: promoted }, T)).toEqual({ state: 'running', line: "failback: Promoted; the standby is made the primary's standby again" });
    expect(settle(cap, { phase: 'FailingBack', active: 'primary', failback: promoted, reprotection: { ...back, state: 'Following', message: 'waiting for a Ready standby pod' } }, T)).toEqual({
      state: 'running',
      line: "failback: Promoted; the standby is made the primary's standby again (Following: waiting for a Ready standby pod)",
    });
    // The re-protection of the failover before (of: primary, older) does not close it.
    expect(settle(cap, { phase: 'Protected', active: 'primary', failback: promoted, reprotection: { of: 'primary', state: 'Protected', startedAt: '2026-11-22T10:00:00Z' } }, T)).toMatchObject({ state: 'running' });
  });

  test('done once the primary serves, the standby follows it again and the phase settled', () => {
    const status: SiteStatus = { handledFailbackToken: T, phase: 'Protected', active: 'primary', failback: promoted, reprotection: { ...back, state: 'Protected' } };
    expect(settle(cap, status, T)).toEqual({ state: 'done', ok: true, result: 'FailedBack', message: 'the primary serves clients again (it took 2.1s); the standby follows it again' });
    expect(settle(cap, { ...status, phase: 'FailingBack' }, T)).toMatchObject({ state: 'running' });
  });

  test('a failed failback, or a failed re-protection of the standby after it, is the outcome', () => {
    expect(settle(cap, { active: 'standby', failback: { ...fb, state: 'Failed', message: 'CatchingUp failed: Job db-failback-x failed' } }, T)).toEqual({
      state: 'done',
      ok: false,
      result: 'Failed',
      message: 'CatchingUp failed: Job db-failback-x failed; the standby serves on, unfenced',
    });
    expect(settle(cap, { phase: 'Degraded', active: 'primary', failback: promoted, reprotection: { ...back, state: 'Failed', message: 'Job failed' } }, T)).toMatchObject({
      ok: false,
      result: 'Failed',
      message: 'the primary serves clients again (it took 2.1s), but re-protecting the standby failed: Job failed',
    });
  });

  test('a token handled without a failback of its own was refused, with FailbackReady saying why', () => {
    const s: SiteStatus = { handledFailbackToken: T, active: 'standby', conditions: [cond('FailbackReady', 'False', 'the primary does not follow the standby yet: a failback would need a force- token')] };
    expect(settle(cap, s, T)).toEqual({ state: 'done', ok: false, result: 'Refused', message: 'the primary does not follow the standby yet: a failback would need a force- token' });
    // An older failback (another token) is not ours.
    expect(settle(cap, { handledFailbackToken: T, failback: { ...promoted, token: 'older' } }, T)).toMatchObject({ result: 'Refused', message: 'the operator refused the failback' });
  });
});

describe('drill, as the operator records it', () => {
  const cap = CAPABILITIES.drill;
  const started = { id: 'd2', trigger: 'manual', token: T, tier: 'warm', method: 'cloneCopy', state: 'Starting', startedAt: '2026-11-21T00:00:00Z', message: 'waiting for a scratch pod to be Ready' } as const;
  const record = { id: 'd2', trigger: 'manual', token: T, tier: 'warm', startedAt: '2026-11-21T00:00:00Z', finishedAt: '2026-11-21T00:00:41Z' } as const;

  test('waiting until the operator handles the token; running while status.drill carries it', () => {
    expect(settle(cap, { lastDrill: { ...record, token: 'older', result: 'Passed', message: 'ok' } }, T)).toEqual({ state: 'waiting' });
    expect(settle(cap, { handledDrillToken: T, drill: started } as SiteStatus, T)).toEqual({ state: 'running', line: 'drill d2: Starting (waiting for a scratch pod to be Ready)' });
    // The state is not said twice when the message starts with it.
    expect(settle(cap, { handledDrillToken: T, drill: { ...started, message: 'Starting: waiting for a scratch pod to be Ready' } } as SiteStatus, T)).toEqual({
      state: 'running',
      line: 'drill d2: Starting (waiting for a scratch pod to be Ready)',
    });
  });

  test("done when status.lastDrill carries the token: its result, measured RTO and data age, or the failure's message", () => {
    expect(settle(cap, { handledDrillToken: T, lastDrill: { ...record, result: 'Passed', rtoSeconds: 41, dataAgeSeconds: 3, message: 'the scratch copy was Ready and verified' } }, T)).toEqual({
      state: 'done',
      ok: true,
      result: 'Passed',
      message: 'drill d2: RTO 41s, data age 3s',
    });
    expect(settle(cap, { handledDrillToken: T, lastDrill: { ...record, result: 'Failed', message: 'verification Job db-drill-d2-verify failed' } }, T)).toEqual({
      state: 'done',
      ok: false,
      result: 'Failed',
      message: 'drill d2: verification Job db-drill-d2-verify failed',
    });
  });

  test('refused: the token handled, but no drill carries it (another drill runs, a promotion, ...)', () => {
    const other = { ...started, id: 'd1', token: 'kubectl-other' };
    expect(settle(cap, { handledDrillToken: T, drill: other } as SiteStatus, T)).toMatchObject({ state: 'done', ok: false, result: 'Refused' });
  });
});

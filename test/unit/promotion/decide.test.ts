import { describe, expect, test } from 'vitest';
import { decide, promoteRequest, type DecisionInput } from '../../../src/promotion/decide.ts';
import { standbyUsability } from '../../../src/promotion/usable.ts';
import { advance, begin, fail, overdue } from '../../../src/promotion/machine.ts';
import { assessPrimary } from '../../../src/promotion/detect.ts';
import type { PromotionRecord } from '../../../src/api/status.ts';

const T0 = new Date('2026-11-22T10:00:00Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);
const usable = { usable: true, usableIfForced: true, reason: 'ok' };

function input(over: Partial<DecisionInput> = {}): DecisionInput {
  return {
    now: at(0),
    mode: 'automatic',
    failureThresholdMs: 30_000,
    budget: { count: 1, windowMs: 3_600_000 },
    primary: { ready: false, notReadySince: at(-31), scaledToZero: false, everReady: true },
    standby: usable,
    history: [],
    isLeader: true,
    request: undefined,
    current: undefined,
    active: 'primary',
    ...over,
  };
}

describe('decide: automatic promotion', () => {
  test('a Ready primary needs nothing', () => {
    expect(decide(input({ primary: { ready: true, notReadySince: undefined, scaledToZero: false, everReady: true } })).action).toBe('none');
  });

  test('starts once the primary was not Ready for the whole threshold', () => {
    const d = decide(input());
    expect(d).toMatchObject({ action: 'start', trigger: 'automatic' });
  });

  test('waits, with the exact remaining time, before the threshold', () => {
    const d = decide(input({ primary: { ready: false, notReadySince: at(-10), scaledToZero: false, everReady: true } }));
    expect(d).toMatchObject({ action: 'wait', afterMs: 20_000 });
  });

  test('exactly at the threshold it starts (the timer fires at notReadySince + threshold)', () => {
    const d = decide(input({ primary: { ready: false, notReadySince: at(-30), scaledToZero: false, everReady: true } }));
    expect(d.action).toBe('start');
  });

  test('failureThreshold 0 promotes at the first not-Ready observation', () => {
    const d = decide(input({ failureThresholdMs: 0, primary: { ready: false, notReadySince: at(0), scaledToZero: false, everReady: true } }));
    expect(d.action).toBe('start');
  });

  test('a clock that went backwards (notReadySince in the future) waits instead of promoting', () => {
    const d = decide(input({ primary: { ready: false, notReadySince: at(5), scaledToZero: false, everReady: true } }));
    expect(d.action).toBe('wait');
  });

  test('flapping readiness restarts the threshold: each recovery clears notReadySince', () => {
    // The primary was down 20 s, came back, went down again 15 s ago: never 30 s in a row.
    const first = assessPrimary({ now: at(-35), workload: sts(1), pods: [pod(false)], previousNotReadySince: undefined, previousEverReady: true, fenced: false });
    const recovered = assessPrimary({ now: at(-15), workload: sts(1), pods: [pod(true)], previousNotReadySince: first.notReadySince, previousEverReady: true, fenced: false });
    expect(recovered.notReadySince).toBeUndefined();
    const again = assessPrimary({ now: at(-15), workload: sts(1), pods: [pod(false)], previousNotReadySince: recovered.notReadySince, previousEverReady: true, fenced: false });
    const d = decide(input({ primary: { ready: false, notReadySince: again.notReadySince, scaledToZero: false, everReady: true } }));
    expect(d).toMatchObject({ action: 'wait', afterMs: 15_000 });
  });

  test('a flap back to Ready that no reconcile saw, only a watch event, still restarts the threshold', () => {
    // Stored: not Ready since -35 s. A watch event showed a Ready pod at -10 s; the next reconcile sees it not Ready again.
    const p = assessPrimary({ now: at(0), workload: sts(1), pods: [pod(false)], previousNotReadySince: at(-35), lastSeenReady: at(-10), previousEverReady: true, fenced: false });
    expect(p.notReadySince).toEqual(at(-10));
    expect(decide(input({ primary: { ready: false, notReadySince: p.notReadySince, scaledToZero: false, everReady: true } }))).toMatchObject({ action: 'wait', afterMs: 20_000 });
    // A Ready event from before the outage changes nothing, and one stamped ahead of this clock is capped at now.
    expect(assessPrimary({ now: at(0), workload: sts(1), pods: [pod(false)], previousNotReadySince: at(-35), lastSeenReady: at(-40), previousEverReady: true, fenced: false }).notReadySince).toEqual(at(-35));
    expect(assessPrimary({ now: at(0), workload: sts(1), pods: [pod(false)], previousNotReadySince: at(-35), lastSeenReady: at(3), previousEverReady: true, fenced: false }).notReadySince).toEqual(at(0));
  });

  test('refuses when the standby is not usable, saying why', () => {
    const d = decide(input({ standby: { usable: false, usableIfForced: true, reason: 'standby data is 42m old, rpoTarget is 15m' } }));
    expect(d).toMatchObject({ action: 'refuse', reason: 'StandbyNotUsable', message: 'standby data is 42m old, rpoTarget is 15m' });
  });

  test('refuses when the budget is used, and says when it frees', () => {
    const history: PromotionRecord[] = [{ startedAt: at(-600).toISOString(), trigger: 'automatic', result: 'Promoted' }];
    const d = decide(input({ history }));
    expect(d).toMatchObject({ action: 'refuse', reason: 'BudgetExhausted', retryAfterMs: 3_000_000 });
    if (d.action === 'refuse') expect(d.message).toContain('next is allowed in 50m0s');
  });

  test('promotions older than the window do not count', () => {
    const history: PromotionRecord[] = [{ startedAt: at(-3601).toISOString(), trigger: 'automatic', result: 'Promoted' }];
    expect(decide(input({ history })).action).toBe('start');
  });

  test('failed promotions count against the budget too', () => {
    const history: PromotionRecord[] = [{ startedAt: at(-60).toISOString(), trigger: 'automatic', result: 'Failed' }];
    expect(decide(input({ history, budget: { count: 2, windowMs: 3_600_000 } })).action).toBe('start');
    expect(decide(input({ history, budget: { count: 1, windowMs: 3_600_000 } })).action).toBe('refuse');
  });

  test('only the leader acts', () => {
    expect(decide(input({ isLeader: false }))).toMatchObject({ action: 'refuse', reason: 'NotLeader' });
  });

  test('manual mode reports and does not act', () => {
    const d = decide(input({ mode: 'manual' }));
    expect(d).toMatchObject({ action: 'refuse', reason: 'ManualMode' });
    if (d.action === 'refuse') expect(d.message).toContain('standby.dev/promote=<token>');
  });

  test('disabled mode does nothing', () => {
    expect(decide(input({ mode: 'disabled' })).action).toBe('none');
  });

  test('a primary scaled to zero by its owner is not a failure', () => {
    const d = decide(input({ primary: { ready: false, notReadySince: at(-600), scaledToZero: true, everReady: true } }));
    expect(d).toMatchObject({ action: 'refuse', reason: 'PrimaryScaledToZero' });
  });

  test('a primary never seen Ready is waited for, then not failed over automatically', () => {
    const starting = decide(input({ primary: { ready: false, notReadySince: at(-5), scaledToZero: false, everReady: false } }));
    expect(starting.action).toBe('wait');
    const d = decide(input({ primary: { ready: false, notReadySince: at(-600), scaledToZero: false, everReady: false } }));
    expect(d).toMatchObject({ action: 'refuse', reason: 'PrimaryNeverReady' });
  });

  test('after a promotion, nothing more happens', () => {
    expect(decide(input({ active: 'standby' })).action).toBe('none');
  });

  test('a promotion in progress continues (leader only)', () => {
    const current = begin(at(-1), 'automatic', 'x', undefined);
    expect(decide(input({ current })).action).toBe('continue');
    expect(decide(input({ current, isLeader: false })).action).toBe('refuse');
  });

  test('a failed promotion is not retried automatically', () => {
    const current = fail(begin(at(-600), 'automatic', 'x', undefined), at(-300), 'boom');
    expect(decide(input({ current }))).toMatchObject({ action: 'refuse', reason: 'PromotionFailed' });
  });
});

describe('decide: promotion on request (annotation)', () => {
  const healthy = { ready: true, notReadySince: undefined, scaledToZero: false, everReady: true };

  test('a planned switchover of a healthy primary', () => {
    const d = decide(input({ primary: healthy, request: { token: 'maint-1', force: false } }));
    expect(d).toMatchObject({ action: 'start', trigger: 'manual', token: 'maint-1' });
  });

  test('works in manual mode and ignores the budget', () => {
    const history: PromotionRecord[] = [{ startedAt: at(-60).toISOString(), trigger: 'automatic', result: 'Promoted' }];
    const d = decide(input({ mode: 'manual', primary: healthy, history, request: { token: 't', force: false } }));
    expect(d.action).toBe('start');
  });

  test('is refused in disabled mode', () => {
    expect(decide(input({ mode: 'disabled', request: { token: 't', force: false } }))).toMatchObject({ action: 'refuse', reason: 'PromotionDisabled' });
  });

  test('force- tokens waive the data-age check but not a missing standby', () => {
    const stale = { usable: false, usableIfForced: true, reason: 'stale' };
    expect(decide(input({ standby: stale, request: { token: 'x', force: false } })).action).toBe('refuse');
    expect(decide(input({ standby: stale, request: { token: 'force-x', force: true } }))).toMatchObject({ action: 'start', trigger: 'forced' });
    const none = { usable: false, usableIfForced: false, reason: 'no copy' };
    expect(decide(input({ standby: none, request: { token: 'force-x', force: true } })).action).toBe('refuse');
  });

  test('a token is acted on once', () => {
    expect(promoteRequest('maint-1', undefined)).toEqual({ token: 'maint-1', force: false });
    expect(promoteRequest('maint-1', 'maint-1')).toBeUndefined();
    expect(promoteRequest('force-2', 'maint-1')).toEqual({ token: 'force-2', force: true });
    expect(promoteRequest('  ', undefined)).toBeUndefined();
  });
});

describe('standby usability per tier', () => {
  const base = { now: at(0), rpoTargetMs: 900_000, standbyReady: true, lagSeconds: undefined, measuresLag: false, maxLagMs: 10_000, dataTime: undefined };

  test('hot: Ready, and within maxLag when lag is measured', () => {
    expect(standbyUsability({ ...base, tier: 'hot' }).usable).toBe(true);
    expect(standbyUsability({ ...base, tier: 'hot', standbyReady: false }).usableIfForced).toBe(false);
    expect(standbyUsability({ ...base, tier: 'hot', measuresLag: true, lagSeconds: 2 }).usable).toBe(true);
    const lagging = standbyUsability({ ...base, tier: 'hot', measuresLag: true, lagSeconds: 42 });
    expect(lagging).toMatchObject({ usable: false, usableIfForced: true });
    expect(lagging.reason).toContain('lags 42s, hot.maxLag is 10s');
    expect(standbyUsability({ ...base, tier: 'hot', measuresLag: true, lagSeconds: undefined }).usable).toBe(false);
  });

  test('warm: a sync younger than the RPO target', () => {
    expect(standbyUsability({ ...base, tier: 'warm' }).usableIfForced).toBe(false);
    expect(standbyUsability({ ...base, tier: 'warm', dataTime: at(-600) }).usable).toBe(true);
    const stale = standbyUsability({ ...base, tier: 'warm', dataTime: at(-42 * 60) });
    expect(stale).toMatchObject({ usable: false, usableIfForced: true });
    expect(stale.reason).toBe('standby data is 42m0s old, rpoTarget is 15m0s; annotate standby.dev/promote=force-<token> to promote anyway');
  });

  test('cold: any ready snapshot', () => {
    expect(standbyUsability({ ...base, tier: 'cold' }).usable).toBe(false);
    expect(standbyUsability({ ...base, tier: 'cold', dataTime: at(-86_400 * 3) }).usable).toBe(true);
  });
});

describe('the state machine', () => {
  test('Fencing → Promoting → Switching → Promoted, stamping each step and the duration', () => {
    let p = begin(at(0), 'automatic', 'down', undefined);
    expect(p).toMatchObject({ state: 'Fencing', startedAt: at(0).toISOString() });
    p = advance(p, at(0.1));
    expect(p).toMatchObject({ state: 'Promoting', fencedAt: at(0.1).toISOString(), stepStartedAt: at(0.1).toISOString() });
    p = advance(p, at(0.3));
    expect(p).toMatchObject({ state: 'Switching', promotedAt: at(0.3).toISOString() });
    p = advance(p, at(0.35));
    expect(p).toMatchObject({ state: 'Promoted', switchedAt: at(0.35).toISOString(), completedAt: at(0.35).toISOString(), durationSeconds: 0.35 });
    expect(advance(p, at(1))).toBe(p);
  });

  test('a step past its deadline is overdue', () => {
    const p = begin(at(0), 'manual', 'x', 't');
    expect(overdue(p, at(299), 300_000)).toBe(false);
    expect(overdue(p, at(301), 300_000)).toBe(true);
    expect(fail(p, at(301), 'no Ready pod')).toMatchObject({ state: 'Failed', message: 'Fencing failed: no Ready pod' });
  });

  test('a step resumed by an operator that was down longer than stepTimeout gets the whole timeout again', () => {
    const p = begin(at(0), 'automatic', 'x', undefined);
    // Recorded at 0, the operator came back at 600 s: overdue counts from 600 s.
    expect(overdue(p, at(601), 300_000, at(600))).toBe(false);
    expect(overdue(p, at(899), 300_000, at(600))).toBe(false);
    expect(overdue(p, at(901), 300_000, at(600))).toBe(true);
    // A resume time before the recorded start changes nothing.
    expect(overdue(p, at(301), 300_000, at(-50))).toBe(true);
  });
});

describe('what counts as a failed primary (issue 21 items 3, 14, 20)', () => {
  const base = { now: at(0), previousNotReadySince: at(-60), previousEverReady: true, fenced: false };
  const withUid = (uid: string) => ({ ...sts(1), metadata: { name: 'db', uid } });

  test('readiness comes from the pods the primary Service selects', () => {
    const p = assessPrimary({ ...base, workload: withUid('a'), pods: [pod(false)], servicePods: [pod(true)], previousUid: 'a' });
    expect(p).toMatchObject({ state: 'Ready', ready: true, readyReplicas: 1, notReadySince: undefined, uid: 'a', everReady: true });
  });

  test('a workload deleted with its pods kept (--cascade=orphan) is Missing, runs no failure clock, and is never promoted automatically', () => {
    const p = assessPrimary({ ...base, workload: undefined, pods: [], servicePods: [pod(true)], previousUid: 'a' });
    expect(p).toMatchObject({ state: 'Missing', missing: true, ready: false, readyReplicas: 1, notReadySince: undefined, everReady: false, uid: undefined });
    const d = decide(input({ primary: { ready: p.ready, notReadySince: at(-600), scaledToZero: false, everReady: true, missing: true } }));
    expect(d).toMatchObject({ action: 'refuse', reason: 'PrimaryNotFound' });
    if (d.action === 'refuse') expect(d.message).toContain('standby.dev/promote=<token>');
  });

  test('a workload deleted outright is treated as one scaled to 0: refused automatically, a promote token still works', () => {
    const gone = assessPrimary({ ...base, workload: undefined, pods: [], servicePods: [] });
    expect(gone).toMatchObject({ missing: true, notReadySince: undefined });
    expect(decide(input({ primary: { ready: false, notReadySince: undefined, scaledToZero: false, everReady: false, missing: true } }))).toMatchObject({ action: 'refuse', reason: 'PrimaryNotFound' });
    expect(decide(input({ primary: { ready: false, notReadySince: undefined, scaledToZero: false, everReady: false, missing: true }, request: { token: 't', force: false } }))).toMatchObject({ action: 'start', trigger: 'manual' });
    const scaled = assessPrimary({ ...base, workload: { ...sts(0), metadata: { name: 'db', uid: 'a' } }, pods: [], servicePods: [], previousUid: 'a' });
    expect(scaled).toMatchObject({ scaledToZero: true, notReadySince: undefined });
  });

  test('"seen Ready" belongs to one workload: a new uid starts unseen', () => {
    const renamed = assessPrimary({ ...base, workload: withUid('b'), pods: [pod(false)], servicePods: [pod(false)], previousUid: 'a' });
    expect(renamed).toMatchObject({ uid: 'b', everReady: false });
    const same = assessPrimary({ ...base, workload: withUid('a'), pods: [pod(false)], servicePods: [pod(false)], previousUid: 'a' });
    expect(same.everReady).toBe(true);
    // Status written before the uid was recorded keeps what it saw.
    expect(assessPrimary({ ...base, workload: withUid('a'), pods: [pod(false)], servicePods: [pod(false)] }).everReady).toBe(true);
  });

  test('a primary Service that selects no pod is a selector to fix, not a failure', () => {
    const p = assessPrimary({ ...base, workload: withUid('a'), pods: [pod(true)], servicePods: [], previousUid: 'a' });
    expect(p).toMatchObject({ ready: false, serviceSelectsNothing: true, notReadySince: undefined });
    expect(decide(input({ primary: { ready: false, notReadySince: at(-600), scaledToZero: false, everReady: true, serviceSelectsNothing: true } }))).toMatchObject({
      action: 'refuse',
      reason: 'ServiceSelectsNothing',
    });
  });

  test('without the primary Service, the workload\'s own pods count', () => {
    expect(assessPrimary({ ...base, workload: withUid('a'), pods: [pod(true)], servicePods: undefined, previousUid: 'a' })).toMatchObject({ ready: true, serviceSelectsNothing: false });
  });
});

function sts(replicas: number) {
  return { kind: 'StatefulSet', metadata: { name: 'db' }, spec: { replicas, selector: { matchLabels: { app: 'db' } }, serviceName: 'db', template: {} } };
}
function pod(ready: boolean) {
  return { metadata: { name: 'db-0', labels: { app: 'db' } }, status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } };
}

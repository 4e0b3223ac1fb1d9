import { describe, expect, test } from 'vitest';
import { validateSpec } from '../../../src/api/site.ts';
import type { SiteSpec } from '../../../src/api/spec.ts';
import { conditionsForPhase } from '../../../src/controller/phase.ts';
import { effectiveRpoMs, quantizeLag } from '../../../src/controller/rpo.ts';
import { computeStatus, type StatusInput } from '../../../src/controller/status.ts';
import { mergeConditions } from '../../../src/controller/conditions.ts';
import { mergePatchFor } from '../../../src/k8s/merge-patch.ts';
import { olderThan } from '../../../src/k8s/resource-version.ts';
import { lifecycleOf } from '../../../src/promotion/lifecycle.ts';

const T0 = new Date('2026-11-22T10:00:00Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);

function spec(s: Record<string, unknown>): SiteSpec {
  const v = validateSpec({ primary: { workload: { kind: 'StatefulSet', name: 'db' }, service: 'db' }, ...s }, 'db');
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return v.spec;
}

const warm = spec({ tier: 'warm', rpoTarget: '30m', warm: { schedule: '*/15 * * * *' } });
const healthy = { state: 'Ready' as const, ready: true, readyReplicas: 1, replicas: 1, notReadySince: undefined, everReady: true, uid: 'u1', scaledToZero: false, missing: false, serviceSelectsNothing: false, message: '1/1 pods Ready' };

function input(over: Partial<StatusInput> = {}): StatusInput {
  return {
    now: at(0),
    spec: warm,
    generation: 3,
    previous: {},
    primary: healthy,
    problems: [],
    stalling: [],
    standby: { name: 'db-standby', exists: true, readyReplicas: 0, replicas: 0, created: at(-3600) },
    measuresLag: false,
    lagSeconds: undefined,
    engineProblem: undefined,
    dataTime: at(-600),
    lastSnapshotTime: undefined,
    snapshots: undefined,
    lastSync: { time: at(-600), durationMs: 42_000 },
    nextSyncTime: at(300),
    lastCopyJob: { succeeded: true, finished: at(-560), message: '' },
    usability: { usable: true, usableIfForced: true, reason: 'the newest sync is 10m0s old' },
    decision: { action: 'none', reason: 'the primary is Ready' },
    promotion: undefined,
    history: [],
    handledToken: undefined,
    active: 'primary',
    trafficService: 'db-active',
    fencing: undefined,
    // Where the site stands follows from the promotion given (as the reconciler computes it).
    lifecycle: lifecycleOf({ ...(over.promotion ? { promotion: over.promotion } : {}) }),
    ...over,
  };
}

const cond = (s: ReturnType<typeof computeStatus>['status'], type: string) => s.conditions?.find((c) => c.type === type);

describe('computeStatus', () => {
  test('a healthy warm site is Protected, with its data time for the DATA AGE column', () => {
    const { status, recheckInMs } = computeStatus(input());
    expect(status.phase).toBe('Protected');
    expect(status.observedGeneration).toBe(3);
    expect(status.dataTimestamp).toBe(at(-600).toISOString());
    expect(status.dataAgeSeconds).toBe(600);
    expect(status.lastSyncTime).toBe(at(-600).toISOString());
    expect(status.lastSyncDuration).toBe('42s');
    expect(status.nextSyncTime).toBe(at(300).toISOString());
    for (const t of ['Ready', 'PrimaryHealthy', 'StandbyReady', 'RPOMet', 'LastCopySucceeded', 'PromotionReady']) {
      expect(cond(status, t)?.status, t).toBe('True');
      expect(cond(status, t)?.observedGeneration).toBe(3);
    }
    // RPOMet turns False when the data passes 30m: re-check just after.
    expect(recheckInMs).toBe((1800 - 600) * 1000 + 1000);
  });

  test('status.cost as computed; the same cost a minute later is no change to write', () => {
    const cost = { cpu: 0, memory: 0, storage: 2 ** 30, whatIf: { cold: { cpu: 0, memory: 0, storage: 7 * 2 ** 30 }, warm: { cpu: 0, memory: 0, storage: 2 ** 30 }, hot: { cpu: 0.25, memory: 2 ** 28, storage: 2 ** 30 } } };
    const first = computeStatus(input({ cost })).status;
    expect(first.cost).toEqual(cost);
    const { dataAgeSeconds: _a, ...prev } = first;
    const { dataAgeSeconds: _b, ...next } = computeStatus(input({ now: at(60), previous: first, cost: structuredClone(cost) })).status;
    expect(mergePatchFor(prev, next)).toBeUndefined();
    expect(computeStatus(input()).status.cost).toBeUndefined();
  });

  test('data older than the RPO target: RPOMet False and Degraded, with numbers in the message', () => {
    const { status } = computeStatus(input({ dataTime: at(-2400) }));
    expect(status.phase).toBe('Degraded');
    expect(cond(status, 'RPOMet')).toMatchObject({ status: 'False', reason: 'TargetMissed', message: `the standby's data is from ${at(-2400).toISOString()}, older than the RPO target of 30m0s` });
  });

  test('before the first copy the site is Pending, not Degraded', () => {
    const usability = { usable: false, usableIfForced: false, reason: 'no complete sync exists yet' };
    const { status } = computeStatus(input({ dataTime: undefined, lastSync: undefined, lastCopyJob: undefined, usability }));
    expect(status.phase).toBe('Pending');
    expect(cond(status, 'RPOMet')?.status).toBe('Unknown');
    expect(cond(status, 'LastCopySucceeded')?.status).toBe('Unknown');
  });

  test('a copy made and then lost (its claim deleted by hand) is Degraded, not Pending, and StandbyReady names it', () => {
    const lostCopy = "PersistentVolumeClaim db-data-20261122t090000z was deleted outside the operator: it held the standby's copy (run 20261122t090000z); re-cloning it";
    const usability = { usable: false, usableIfForced: false, reason: lostCopy };
    const { status } = computeStatus(input({ dataTime: undefined, lastSync: undefined, usability, lostCopy }));
    expect(status.phase).toBe('Degraded');
    expect(cond(status, 'StandbyReady')).toMatchObject({ status: 'False', reason: 'CopyClaimLost', message: lostCopy });
    expect(cond(status, 'Ready')?.message).toContain('db-data-20261122t090000z');
    expect(cond(status, 'Reconciling')?.status).toBe('False');
  });

  test('a failed copy keeps the previous copy, says so, and degrades the site', () => {
    const { status } = computeStatus(input({ lastCopyJob: { succeeded: false, finished: at(-10), message: 'DeadlineExceeded: Job was active longer than specified deadline' } }));
    expect(status.phase).toBe('Degraded');
    expect(cond(status, 'LastCopySucceeded')?.message).toContain('the previous copy is still in place');
    expect(cond(status, 'Ready')?.message).toContain('DeadlineExceeded');
  });

  test('a bad reference degrades the site and is named in Ready', () => {
    const { status } = computeStatus(input({ problems: ['Service db (spec.primary.service) does not exist in namespace shop'] }));
    expect(status.phase).toBe('Degraded');
    expect(cond(status, 'Ready')?.message).toContain('Service db (spec.primary.service) does not exist');
  });

  test('a missing primary', () => {
    const { status } = computeStatus(input({ primary: { ...healthy, state: 'Missing', ready: false, missing: true, readyReplicas: 0, notReadySince: at(-5), message: 'x' } }));
    expect(cond(status, 'PrimaryHealthy')).toMatchObject({ status: 'False', reason: 'PrimaryNotFound' });
    expect(status.primary?.notReadySince).toBe(at(-5).toISOString());
  });

  test('the abandon token acted on is kept, so the same annotation is never acted on twice', () => {
    expect(computeStatus(input({ handledAbandonToken: 'give-up' })).status.handledAbandonToken).toBe('give-up');
  });

  test('a refusal is visible in PromotionReady', () => {
    const { status } = computeStatus(input({ decision: { action: 'refuse', reason: 'BudgetExhausted', message: 'budget used' } }));
    expect(cond(status, 'PromotionReady')).toMatchObject({ status: 'False', reason: 'BudgetExhausted', message: 'budget used' });
  });

  test('promotion phases', () => {
    expect(computeStatus(input({ promotion: { state: 'Switching' } })).status.phase).toBe('Promoting');
    expect(computeStatus(input({ promotion: { state: 'Promoted' }, active: 'standby' })).status.phase).toBe('Promoted');
    const failed = computeStatus(input({ promotion: { state: 'Failed', message: 'Promoting failed: no Ready pod' } })).status;
    expect(failed.phase).toBe('Failed');
    expect(cond(failed, 'Ready')?.message).toBe('Promoting failed: no Ready pod');
  });

  test('hot: lag from the engine, quantized; generic hot says lag is not measured', () => {
    const hot = spec({ tier: 'hot', hot: { maxLag: '10s' } });
    const measured = computeStatus(input({ spec: hot, measuresLag: true, lagSeconds: 0.43, dataTime: undefined })).status;
    expect(measured.standby).toMatchObject({ lagSeconds: 0.4, lag: '400ms' });
    expect(measured.dataAgeSeconds).toBe(0.4);
    expect(cond(measured, 'RPOMet')?.status).toBe('True');
    const generic = computeStatus(input({ spec: hot, dataTime: undefined })).status;
    expect(cond(generic, 'RPOMet')).toMatchObject({ status: 'Unknown', reason: 'NotMeasured' });
    expect(generic.standby?.lag).toBeUndefined();
  });
});

describe('helpers', () => {
  test('the effective RPO target', () => {
    expect(effectiveRpoMs(warm, T0)).toBe(1_800_000);
    expect(effectiveRpoMs(spec({ tier: 'warm', warm: { schedule: '*/15 * * * *' } }), T0)).toBe(1_800_000);
    expect(effectiveRpoMs(spec({ tier: 'hot', hot: { maxLag: '10s' } }), T0)).toBe(10_000);
    expect(effectiveRpoMs(spec({ tier: 'cold', cold: { schedule: '@daily' } }), T0)).toBe(2 * 86_400_000);
  });

  test("the drill part is carried as the drill driver says: its fields and DrillPassed, which never changes the phase", () => {
    const lastDrill = {
      id: 'tq9x2ab',
      trigger: 'manual' as const,
      startedAt: at(-120).toISOString(),
      finishedAt: at(-100).toISOString(),
      result: 'Failed' as const,
      message: 'Verifying failed: verification Job x failed',
    };
    const drill = {
      fields: { lastDrill, drillHistory: [lastDrill], handledDrillToken: 't1', nextDrillTime: undefined },
      condition: { type: 'DrillPassed' as const, status: 'False' as const, reason: 'DrillFailed', message: 'drill tq9x2ab failed' },
    };
    const { status } = computeStatus(input({ previous: { nextDrillTime: at(60).toISOString() }, drill }));
    expect(status.lastDrill).toEqual(lastDrill);
    expect(status.handledDrillToken).toBe('t1');
    expect('nextDrillTime' in status).toBe(false);
    expect(cond(status, 'DrillPassed')).toMatchObject({ status: 'False', reason: 'DrillFailed' });
    expect(status.phase).toBe('Protected');
    expect(cond(status, 'Ready')?.status).toBe('True');
  });

  test('lag quantization keeps small jitter from causing writes', () => {
    expect([0.04, 0.43, 0.96, 1.4, 12.6].map(quantizeLag)).toEqual([0, 0.4, 1, 1, 13]);
  });

  test('lastTransitionTime moves only when a condition changes status', () => {
    const first = mergeConditions(undefined, [{ type: 'Ready', status: 'True', reason: 'a', message: 'm' }], 1, at(0));
    const same = mergeConditions(first, [{ type: 'Ready', status: 'True', reason: 'b', message: 'n' }], 2, at(10));
    expect(same[0]).toMatchObject({ lastTransitionTime: at(0).toISOString(), reason: 'b', observedGeneration: 2 });
    const flipped = mergeConditions(same, [{ type: 'Ready', status: 'False', reason: 'c', message: 'o' }], 2, at(20));
    expect(flipped[0]?.lastTransitionTime).toBe(at(20).toISOString());
  });

  test("a promotion's start rewrites only Reconciling, to True (Promoting), and keeps the rest", () => {
    const prev = mergeConditions(
      undefined,
      [
        { type: 'Ready', status: 'False', reason: 'PrimaryNotReady', message: 'primary: 0/1 pods Ready' },
        { type: 'Reconciling', status: 'False', reason: 'AsExpected', message: 'the site is Degraded' },
      ],
      3,
      at(0),
    );
    const next = conditionsForPhase({ conditions: prev }, 'Promoting', 3, at(5));
    expect(next.find((c) => c.type === 'Ready')).toEqual(prev[0]);
    expect(next.find((c) => c.type === 'Reconciling')).toMatchObject({ status: 'True', reason: 'Promoting', observedGeneration: 3, lastTransitionTime: at(5).toISOString() });
    expect(next).toHaveLength(2);
  });
});

describe('olderThan: a cached site older than the last status write', () => {
  test('compares etcd resourceVersions as integers, not as strings', () => {
    expect(olderThan('99', '100')).toBe(true);
    expect(olderThan('100', '100')).toBe(false);
    expect(olderThan('101', '100')).toBe(false);
    expect(olderThan('123456789012345678901', '123456789012345678902')).toBe(true);
  });
  test('anything it cannot compare is not older (never blocks a reconcile)', () => {
    expect(olderThan(undefined, '100')).toBe(false);
    expect(olderThan('abc', '100')).toBe(false);
    expect(olderThan('99', 'xyz')).toBe(false);
  });
});

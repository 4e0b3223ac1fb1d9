import { describe, expect, test } from 'vitest';
import { age, renderList, renderStatus } from '../../../src/plugin/render.ts';
import { timeline } from '../../../src/plugin/timeline.ts';
import { nextSteps, siteView, type SiteObject } from '../../../src/plugin/view.ts';

const now = new Date('2026-11-22T10:00:00Z');
const cond = (type: string, status: 'True' | 'False' | 'Unknown', reason: string, message: string, observedGeneration = 1) => ({
  type,
  status,
  reason,
  message,
  observedGeneration,
  lastTransitionTime: '2026-11-22T09:00:00Z',
});
const warm = (status: SiteObject['status'], generation = 1): SiteObject => ({
  metadata: { name: 'uploads', namespace: 'shop', generation },
  spec: { tier: 'warm', primary: { workload: { kind: 'Deployment', name: 'uploads' }, service: 'uploads' }, warm: { schedule: '*/15 * * * *' } },
  status,
});
const none = () => false;

describe('siteView', () => {
  test('data age is computed for now from dataTimestamp, against the RPO target in effect (2 × the schedule period)', () => {
    const v = siteView(warm({ observedGeneration: 1, dataTimestamp: '2026-11-22T09:56:00Z', active: 'primary' }), now);
    expect(v.dataAgeSeconds).toBe(240);
    expect(v.dataAgeFrom).toBe('copy');
    expect(v.rpoTargetSeconds).toBe(1800);
    expect(v.rpoMet).toBe(true);
    expect(siteView(warm({ dataTimestamp: '2026-11-22T09:00:00Z' }), now).rpoMet).toBe(false);
  });

  test('a hot standby: data age is the measured lag while it streams', () => {
    const hot: SiteObject = {
      metadata: { name: 'catalog', namespace: 'shop' },
      spec: { tier: 'hot', primary: { workload: { kind: 'StatefulSet', name: 'catalog' }, service: 'catalog' }, hot: { maxLag: '10s' } },
      status: { standby: { ready: true, lagSeconds: 2 } },
    };
    const v = siteView(hot, now);
    expect(v).toMatchObject({ dataAgeSeconds: 2, dataAgeFrom: 'lag', rpoTargetSeconds: 10, rpoMet: true, lagSeconds: 2 });
  });

  test('conditions written for an older generation are marked stale', () => {
    const v = siteView(warm({ observedGeneration: 1, conditions: [cond('Ready', 'True', 'Protected', 'ok', 1)] }, 2), now);
    expect(v.conditions[0]?.stale).toBe(true);
  });
});

describe('what to do next', () => {
  test('protected: nothing (and no drill to suggest while no operator runs drills)', () => {
    const v = siteView(warm({ observedGeneration: 1, conditions: [cond('Ready', 'True', 'Protected', 'protected')] }), now);
    expect(nextSteps(v, none)).toEqual(['nothing: the site is protected']);
    expect(nextSteps(v, (c) => c === 'drill')).toEqual(['nothing: the site is protected; `kubectl standby drill uploads` proves it']);
  });

  test('never reported, or a spec generation not yet seen: check the operator', () => {
    expect(nextSteps(siteView(warm(undefined), now), none)[0]).toContain('the operator has not reported on this site yet');
    expect(nextSteps(siteView(warm({ observedGeneration: 1, conditions: [cond('Ready', 'True', 'Protected', 'protected')] }, 3), now), none)[0]).toContain(
      'the operator has not yet acted on generation 3 of the spec (it last saw 1)',
    );
  });

  test('degraded: the Ready message, and why a failover now would not happen', () => {
    const v = siteView(
      warm({
        observedGeneration: 1,
        conditions: [
          cond('Ready', 'False', 'Degraded', 'standby: standby data is 42m0s old, rpoTarget is 30m0s'),
          cond('PromotionReady', 'False', 'StandbyNotUsable', 'standby data is 42m0s old, rpoTarget is 30m0s; annotate standby.dev/promote=force-<token> to promote anyway'),
        ],
      }),
      now,
    );
    expect(nextSteps(v, none)).toEqual([
      'standby: standby data is 42m0s old, rpoTarget is 30m0s',
      'a failover now would not happen: standby data is 42m0s old, rpoTarget is 30m0s; annotate standby.dev/promote=force-<token> to promote anyway',
    ]);
  });

  test('promoted: nothing protects the standby, and re-protection does not exist yet; a returned primary comes first', () => {
    const v = siteView(
      warm({
        observedGeneration: 1,
        active: 'standby',
        promotion: { state: 'Promoted' },
        conditions: [cond('Ready', 'False', 'Promoted', 'the standby serves'), cond('FencingHolds', 'False', 'PrimaryReturned', 'the fenced primary came back: 1 pod runs')],
      }),
      now,
    );
    const steps = nextSteps(v, none);
    expect(steps[0]).toContain('the old primary is no longer fenced (the fenced primary came back: 1 pod runs)');
    expect(steps[1]).toContain('re-protection is not supported by this operator yet');
    expect(nextSteps(v, (c) => c === 'reprotect')[1]).toBe('the standby serves clients and nothing protects it: `kubectl standby reprotect uploads`');
  });

  test('a running or failed promotion', () => {
    expect(nextSteps(siteView(warm({ observedGeneration: 1, promotion: { state: 'Switching' } }), now), none)).toEqual([
      'a promotion is running (Switching): follow it with `kubectl standby timeline uploads`',
    ]);
    expect(nextSteps(siteView(warm({ observedGeneration: 1, promotion: { state: 'Failed', message: 'Promoting failed: no snapshot' } }), now), none)[0]).toContain(
      'the last promotion failed (Promoting failed: no snapshot); the primary stays fenced',
    );
  });

  test('a Stalled condition (kstatus) is shown as the thing to fix', () => {
    const v = siteView(warm({ observedGeneration: 1, conditions: [cond('Ready', 'False', 'NameConflict', 'x'), cond('Stalled', 'True', 'NameConflict', 'Service uploads-active exists and is not ours: rename it')] }), now);
    expect(nextSteps(v, none)).toEqual(['Service uploads-active exists and is not ours: rename it']);
  });
});

describe('timeline', () => {
  test('older promotions by start and end, the current one step by step, Events at the end of their second, all in order', () => {
    const entries = timeline(
      { state: 'Promoted', trigger: 'manual', token: 't', reason: 'planned', startedAt: '2026-11-22T10:00:01.100Z', fencedAt: '2026-11-22T10:00:01.120Z', promotedAt: '2026-11-22T10:00:01.130Z', switchedAt: '2026-11-22T10:00:01.140Z', completedAt: '2026-11-22T10:00:01.140Z', durationSeconds: 0.04 },
      [
        { startedAt: '2026-11-20T08:00:00Z', completedAt: '2026-11-20T08:00:05Z', trigger: 'automatic', result: 'Failed', reason: 'Promoting failed: x' },
        { startedAt: '2026-11-22T10:00:01.100Z', completedAt: '2026-11-22T10:00:01.140Z', trigger: 'manual', result: 'Promoted' },
      ],
      [
        { type: 'Normal', reason: 'Promoted', message: 'the standby serves', lastTimestamp: '2026-11-22T10:00:01Z', firstTimestamp: '2026-11-22T10:00:01Z', count: 1 },
        { type: 'Normal', reason: 'PromotionStarted', message: 'manual promotion', lastTimestamp: '2026-11-22T10:00:01Z', count: 1 },
        { type: 'Warning', reason: 'PromotionRefused', message: 'no', firstTimestamp: '2026-11-21T00:00:00Z', lastTimestamp: '2026-11-21T00:10:00Z', count: 3 },
      ],
    );
    expect(entries.map((e) => `${e.source}:${e.what}`)).toEqual([
      'promotion:promotion started',
      'promotion:promotion failed',
      'event:PromotionRefused',
      'promotion:promotion started',
      'promotion:promotion fenced',
      'promotion:promotion promoted',
      'promotion:promotion switched',
      'promotion:promotion completed',
      'event:Promoted',
      'event:PromotionStarted',
    ]);
    expect(entries[2]).toMatchObject({ count: 3, firstAt: '2026-11-21T00:00:00Z' });
  });
});

describe('text', () => {
  test('ages as kubectl shows them', () => {
    expect([5, 119, 250, 3000, 4 * 3600 + 120, 30 * 3600, 3 * 86400 + 7200, 12 * 86400].map(age)).toEqual(['5s', '119s', '4m10s', '50m', '4h2m', '30h', '3d2h', '12d']);
  });

  test('list marks a missed RPO target; status shows every condition with its message', () => {
    const v = siteView(warm({ observedGeneration: 1, phase: 'Degraded', dataTimestamp: '2026-11-22T09:00:00Z', conditions: [cond('Ready', 'False', 'Degraded', 'the RPO target is missed')] }), now);
    expect(renderList([v], true).split('\n')).toEqual([
      'NAMESPACE   NAME      TIER   SERVING   PRIMARY   DATA AGE   RPO TARGET   LAG   PHASE      READY',
      'shop        uploads   warm   primary             60m (!)    30m          -     Degraded   False',
    ]);
    const text = renderStatus({ view: v, lastDrill: 'none', lastPromotion: [], next: nextSteps(v, none) });
    expect(text).toContain('Data age:       60m (data from 2026-11-22T09:00:00Z), RPO target 30m: TARGET MISSED');
    expect(text).toContain('  Ready  False    Degraded  the RPO target is missed');
    expect(text).toContain('Next:\n  - the RPO target is missed');
  });
});

describe('timeline ties', () => {
  test('Events of the same second keep the order the API server stored them in', () => {
    const entries = timeline(undefined, [], [
      { reason: 'Promoted', lastTimestamp: '2026-11-22T10:00:01Z', metadata: { resourceVersion: '120' } },
      { reason: 'PromotionStarted', lastTimestamp: '2026-11-22T10:00:01Z', metadata: { resourceVersion: '118' } },
      { reason: 'Fenced', lastTimestamp: '2026-11-22T10:00:01Z', metadata: { resourceVersion: '119' } },
    ]);
    expect(entries.map((e) => e.what)).toEqual(['PromotionStarted', 'Fenced', 'Promoted']);
    expect(entries[0]).not.toHaveProperty('order');
  });
});

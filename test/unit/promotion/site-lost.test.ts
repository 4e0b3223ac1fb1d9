import { describe, expect, test } from 'vitest';
import { siteLostDecision, type SiteLostInput } from '../../../src/promotion/site-lost.ts';

const since = new Date('2026-12-01T10:00:00Z');
const down = { server: 'https://10.213.0.10:6443', reachable: false, since, lastError: 'did not answer within the probe timeout', answering: false };
const up = { ...down, reachable: true, lastError: undefined, answering: true };
const usable = { usable: true, usableIfForced: true, reason: 'the hot standby is Ready' };
const base: SiteLostInput = { primarySite: down, request: undefined, current: undefined, active: 'primary', mode: 'automatic', isLeader: true, standby: usable };
const token = (t: string) => ({ token: t, force: t.startsWith('force') });

describe('promotion while the primary is in another cluster', () => {
  test('a partition never promotes by itself: refused, saying since when and what to do', () => {
    const d = siteLostDecision(base);
    expect(d).toMatchObject({ action: 'refuse', reason: 'PrimaryUnreachable' });
    expect(d?.action === 'refuse' && d.message).toContain("the primary's cluster https://10.213.0.10:6443 has not answered since 2026-12-01T10:00:00.000Z");
    expect(d?.action === 'refuse' && d.message).toContain('standby.dev/promote=site-lost-<date>');
    expect(siteLostDecision({ ...base, mode: 'manual' })).toMatchObject({ action: 'refuse', reason: 'PrimaryUnreachable' });
    expect(siteLostDecision({ ...base, mode: 'disabled' })).toMatchObject({ action: 'none' });
  });

  test('any token but site-lost-... is refused while the cluster does not answer (the old primary cannot be fenced)', () => {
    for (const t of ['maintenance-1', 'force-now']) {
      const d = siteLostDecision({ ...base, request: token(t) });
      expect(d).toMatchObject({ action: 'refuse', reason: 'PrimaryUnreachable' });
      expect(d?.action === 'refuse' && d.message).toContain('cannot be fenced');
    }
  });

  test('a site-lost-... token promotes, trigger siteLost, saying fencing could not be confirmed; the data-age check is waived', () => {
    const stale = { usable: false, usableIfForced: true, reason: 'standby data is 42m old' };
    const d = siteLostDecision({ ...base, request: token('site-lost-2026-12-01'), standby: stale });
    expect(d).toMatchObject({ action: 'start', trigger: 'siteLost', token: 'site-lost-2026-12-01' });
    expect(d?.action === 'start' && d.reason).toContain('fencing could not be confirmed');
    // A standby that cannot take over at all is still refused.
    const none = { usable: false, usableIfForced: false, reason: 'the hot standby has no Ready pod' };
    expect(siteLostDecision({ ...base, request: token('site-lost-x'), standby: none })).toMatchObject({ action: 'refuse', reason: 'StandbyNotUsable' });
    expect(siteLostDecision({ ...base, request: token('site-lost-x'), isLeader: false })).toMatchObject({ action: 'refuse', reason: 'NotLeader' });
    expect(siteLostDecision({ ...base, request: token('site-lost-x'), mode: 'disabled' })).toMatchObject({ action: 'refuse', reason: 'PromotionDisabled' });
  });

  test('a site-lost token is refused while the cluster answers, even if it refuses the operator', () => {
    expect(siteLostDecision({ ...base, primarySite: up, request: token('site-lost-x') })).toMatchObject({ action: 'refuse', reason: 'SiteNotLost' });
    const refusing = { ...down, answering: true, lastError: 'answered HTTP 403' };
    const d = siteLostDecision({ ...base, primarySite: refusing, request: token('site-lost-x') });
    expect(d).toMatchObject({ action: 'refuse', reason: 'SiteNotLost' });
    expect(d?.action === 'refuse' && d.message).toContain('HTTP 403');
    // Without a token, the reason says it refuses rather than that it does not answer.
    const plain = siteLostDecision({ ...base, primarySite: refusing });
    expect(plain?.action === 'refuse' && plain.message).toContain("the primary's cluster https://10.213.0.10:6443 has refused the operator since 2026-12-01T10:00:00.000Z (answered HTTP 403)");
  });

  test('a reachable cluster, or a promotion under way, is decide()\'s; a site-lost token for a primary in this cluster is refused', () => {
    expect(siteLostDecision({ ...base, primarySite: up })).toBeUndefined();
    expect(siteLostDecision({ ...base, primarySite: up, request: token('maintenance') })).toBeUndefined();
    expect(siteLostDecision({ ...base, current: { state: 'Promoting' } })).toBeUndefined();
    expect(siteLostDecision({ ...base, active: 'standby', request: token('site-lost-x') })).toBeUndefined();
    expect(siteLostDecision({ ...base, primarySite: undefined })).toBeUndefined();
    expect(siteLostDecision({ ...base, primarySite: undefined, request: token('site-lost-x') })).toMatchObject({ action: 'refuse', reason: 'SiteNotLost' });
  });
});

import { describe, expect, test } from 'vitest';
import { validateSpec } from '../../../src/api/site.ts';
import type { SiteSpec } from '../../../src/api/spec.ts';
import type { PromotionStatus } from '../../../src/api/status.ts';
import { pinToPromotion } from '../../../src/promotion/pinned.ts';

function spec(s: Record<string, unknown>): SiteSpec {
  const v = validateSpec({ primary: { workload: { kind: 'StatefulSet', name: 'db' }, service: 'db' }, ...s }, 'db');
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return v.spec;
}
const promoted: PromotionStatus = { state: 'Promoted', tier: 'hot', fencing: 'networkPolicy' };

describe('pinToPromotion: a promoted site keeps the tier and fence it was promoted with', () => {
  test('no promotion: the spec as written', () => {
    const s = spec({ tier: 'warm', warm: { schedule: '0 * * * *' } });
    expect(pinToPromotion(s, undefined)).toEqual({ spec: s, frozen: false, ignored: undefined });
  });

  test('a promotion recorded before tier and fencing were recorded: the spec as written', () => {
    const s = spec({ tier: 'cold', cold: { schedule: '0 * * * *' } });
    expect(pinToPromotion(s, { state: 'Promoted' })).toEqual({ spec: s, frozen: false, ignored: undefined });
  });

  test('unchanged spec: nothing to say', () => {
    const s = spec({ tier: 'hot' });
    expect(pinToPromotion(s, promoted)).toEqual({ spec: s, frozen: false, ignored: undefined });
  });

  test('hot changed to cold after the promotion, hot block kept: reconciled as hot, and said so', () => {
    const s = spec({ tier: 'cold', cold: { schedule: '0 * * * *' }, hot: { replicas: 3 } });
    const p = pinToPromotion(s, promoted);
    expect(p.spec.tier).toBe('hot');
    expect(p.spec.hot?.replicas).toBe(3);
    expect(p.frozen).toBe(false);
    expect(p.ignored).toContain('not applied: tier cold (the standby stays as the hot tier made it)');
  });

  test('hot changed to cold with the hot block removed: frozen (hot defaults would scale a larger standby down)', () => {
    const s = spec({ tier: 'cold', cold: { schedule: '0 * * * *' } });
    const p = pinToPromotion(s, promoted);
    expect(p.frozen).toBe(true);
    expect(p.ignored).toContain('spec.hot is gone, so nothing of it is changed');
  });

  test('a failed promotion pins nothing: a person may change the spec to recover', () => {
    const s = spec({ tier: 'cold', cold: { schedule: '0 * * * *' } });
    expect(pinToPromotion(s, { ...promoted, state: 'Failed' })).toEqual({ spec: s, frozen: false, ignored: undefined });
  });

  test('the fencing method changed after the promotion: the recorded fence stays', () => {
    const s = spec({ tier: 'hot', promotion: { fencing: 'scaleDown' } });
    const p = pinToPromotion(s, promoted);
    expect(p.spec.promotion.fencing).toBe('networkPolicy');
    expect(p.ignored).toContain('promotion.fencing scaleDown (the fence stays networkPolicy)');
  });

  test('warm promoted, then tier hot without a warm block: frozen (the warm standby cannot be rebuilt)', () => {
    const s = spec({ tier: 'hot' });
    const p = pinToPromotion(s, { state: 'Promoted', tier: 'warm', fencing: 'networkPolicy' });
    expect(p.frozen).toBe(true);
    expect(p.spec.tier).toBe('hot');
    expect(p.ignored).toContain('spec.warm is gone, so nothing of it is changed');
  });

  test('warm promoted, tier changed but the warm block kept: reconciled as warm', () => {
    const s = spec({ tier: 'cold', cold: { schedule: '0 * * * *' }, warm: { schedule: '0 * * * *' } });
    const p = pinToPromotion(s, { state: 'Promoted', tier: 'warm', fencing: 'networkPolicy' });
    expect(p).toMatchObject({ frozen: false, spec: { tier: 'warm' } });
  });
});

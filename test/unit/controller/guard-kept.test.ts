import { describe, expect, test } from 'vitest';
import type { StandbySiteObject } from '../../../src/api/site.ts';
import { guardKeptAfterPromotion } from '../../../src/controller/site-guard-cleanup.ts';

const site = (status: StandbySiteObject['status']): StandbySiteObject => ({ apiVersion: 'standby.dev/v1alpha1', kind: 'StandbySite', metadata: { name: 'orders', namespace: 'shop' }, status });

describe("a site's guard after a promotion", () => {
  test('a site that never promoted has its guard deleted (nothing kept)', () => {
    expect(guardKeptAfterPromotion(site(undefined))).toBeUndefined();
    expect(guardKeptAfterPromotion(site({ epoch: 1, active: 'primary' }))).toBeUndefined();
  });

  test('a site that promoted keeps its guard: its fence may be what holds the old primary', () => {
    expect(guardKeptAfterPromotion(site({ epoch: 2 }))).toContain('kept');
    expect(guardKeptAfterPromotion(site({ active: 'standby' }))).toContain('kept');
    expect(guardKeptAfterPromotion(site({ promotion: { state: 'Fencing' } }))).toContain('kept');
  });
});

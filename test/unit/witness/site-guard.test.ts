import { describe, expect, test } from 'vitest';
import { guardSpecSchema } from '../../../src/api/guard.ts';
import { validateSpec, type StandbySite } from '../../../src/api/site.ts';
import { buildGuard, guardDrift, leaseNameOf, pingToAnswer, primaryHolder, standbyHolder } from '../../../src/witness/site-guard.ts';

function siteWith(siteFailover: Record<string, unknown>, primary: Record<string, unknown> = {}): StandbySite {
  const v = validateSpec({
    tier: 'hot',
    primary: { workload: { kind: 'StatefulSet', name: 'orders' }, service: 'orders', cluster: { kubeconfigSecret: { name: 'primary-cluster' } }, ...primary },
    promotion: { siteFailover },
  });
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return { metadata: { name: 'orders', namespace: 'shop', uid: 'u-1', generation: 1 }, spec: v.spec, status: {} };
}

const automatic = {
  mode: 'automatic',
  witness: { kubeconfigSecret: { name: 'witness', key: 'config' }, namespace: 'leases' },
  leaseDuration: '8s',
  renewInterval: '2s',
  requestTimeout: '1s',
  safetyMargin: '2s',
  acquireAfter: '8s',
  fenceWithin: '3s',
};

describe('buildGuard', () => {
  test("the contract's guard: named like the site, in the primary's namespace, the site's identity, witness and timing", () => {
    const g = buildGuard(siteWith(automatic, { namespace: 'shop-prod' }), 1)!;
    expect(g.metadata).toEqual({
      name: 'orders',
      namespace: 'shop-prod',
      labels: { 'app.kubernetes.io/managed-by': 'standby-operator', 'standby.dev/site': 'orders', 'standby.dev/role': 'guard' },
      annotations: { 'standby.dev/site-uid': 'u-1' },
    });
    expect(g.spec).toEqual({
      site: { name: 'orders', namespace: 'shop', uid: 'u-1' },
      workload: { kind: 'StatefulSet', name: 'orders' },
      witness: { kubeconfigSecret: { name: 'witness', key: 'config' }, namespace: 'leases', leaseName: 'standby-shop-orders' },
      holder: 'primary:u-1',
      epoch: 1,
      timing: { leaseDuration: '8s', renewInterval: '2s', acquireAfter: '8s', safetyMargin: '2s', requestTimeout: '1s', fenceWithin: '3s' },
    });
    // What the CRD's schema accepts.
    expect(guardSpecSchema.safeParse(g.spec).success).toBe(true);
  });

  test('the primary namespace defaults to the site\'s; the ack read from the live guard is kept', () => {
    const g = buildGuard(siteWith(automatic), 2, { ping: 3, at: '2026-12-01T00:00:00Z' })!;
    expect(g.metadata.namespace).toBe('shop');
    expect(g.spec.epoch).toBe(2);
    expect(g.spec.ack).toEqual({ ping: 3, at: '2026-12-01T00:00:00Z' });
  });

  test('no guard for manual site failover', () => {
    expect(buildGuard(siteWith({ mode: 'manual' }), 1)).toBeUndefined();
  });
});

describe('lease names and holders', () => {
  test('standby-<namespace>-<name>, hashed to at most 63 characters when longer, distinct per site', () => {
    expect(leaseNameOf('shop', 'orders')).toBe('standby-shop-orders');
    const a = leaseNameOf('n'.repeat(40), 'a'.repeat(40));
    const b = leaseNameOf('n'.repeat(40), `${'a'.repeat(39)}b`);
    expect(a.length).toBeLessThanOrEqual(63);
    expect(a).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(a).not.toBe(b);
  });

  test('the two sides hold the lease under identities of the site uid', () => {
    expect(primaryHolder('u-1')).toBe('primary:u-1');
    expect(standbyHolder('u-1')).toBe('standby:u-1');
  });
});

describe('guardDrift', () => {
  const want = buildGuard(siteWith(automatic), 1)!;
  test('nothing when the live guard has the spec (in any key order) and the labels', () => {
    const reordered = JSON.parse(JSON.stringify({ ...want.spec, timing: Object.fromEntries(Object.entries(want.spec.timing).reverse()) })) as unknown;
    expect(guardDrift(want, { metadata: { labels: { ...want.metadata.labels, extra: 'x' } }, spec: reordered })).toBeUndefined();
  });
  test('the spec when someone changed it, the labels when they were removed', () => {
    expect(guardDrift(want, { metadata: { labels: want.metadata.labels! }, spec: { ...want.spec, holder: 'primary:other' } })).toEqual({ spec: want.spec });
    expect(guardDrift(want, { metadata: {}, spec: want.spec })).toEqual({ labels: want.metadata.labels });
  });
});

describe('pingToAnswer', () => {
  test('a ping above the last answered one, else nothing', () => {
    expect(pingToAnswer(undefined)).toBeUndefined();
    expect(pingToAnswer({ status: {} })).toBeUndefined();
    expect(pingToAnswer({ status: { ping: { number: 1 } } })).toBe(1);
    expect(pingToAnswer({ spec: { ack: { ping: 1 } }, status: { ping: { number: 1 } } })).toBeUndefined();
    expect(pingToAnswer({ spec: { ack: { ping: 1 } }, status: { ping: { number: 2 } } })).toBe(2);
    expect(pingToAnswer({ status: { ping: { number: -1 } } })).toBeUndefined();
  });
});

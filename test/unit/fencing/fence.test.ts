import { describe, expect, test } from 'vitest';
import type { V1StatefulSet } from '@kubernetes/client-node';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { validateSpec, type StandbySite } from '../../../src/api/site.ts';
import { fencingState } from '../../../src/fencing/holds.ts';
import { buildFence as build, fenceDrift } from '../../../src/fencing/network-policy.ts';
import { standbySelector } from '../../../src/site/names.ts';
import { validating } from '../support/models.ts';

/** The fence, checked against the NetworkPolicy schema. */
const buildFence = validating(build);

const want: INetworkPolicy = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'db-fence' },
  spec: { podSelector: { matchLabels: { app: 'db' } }, policyTypes: ['Ingress', 'Egress'] },
};
const live = (spec: INetworkPolicy['spec']): INetworkPolicy => ({ ...want, spec });

describe('fenceDrift: the fence is exactly what the operator wants', () => {
  test('the same fence, with policy types in another order or empty rule lists, is no drift', () => {
    expect(fenceDrift(want, live({ podSelector: { matchLabels: { app: 'db' } }, policyTypes: ['Egress', 'Ingress'], ingress: [], egress: [] }))).toBeUndefined();
  });

  test('allow-all rules added to either direction are drift', () => {
    expect(fenceDrift(want, live({ ...want.spec!, ingress: [{}] }))).toBe('1 extra ingress rule(s)');
    expect(fenceDrift(want, live({ ...want.spec!, ingress: [{}], egress: [{}] }))).toBe('1 extra ingress rule(s), 1 extra egress rule(s)');
  });

  test('a missing policy type and a changed selector are drift', () => {
    expect(fenceDrift(want, live({ ...want.spec!, policyTypes: ['Ingress'] }))).toBe('policyTypes [Ingress]');
    expect(fenceDrift(want, live({ ...want.spec!, podSelector: { matchLabels: { app: 'other' } } }))).toBe('podSelector {"matchLabels":{"app":"other"}}');
    expect(fenceDrift(want, live({ ...want.spec!, podSelector: { matchLabels: { app: 'db' }, matchExpressions: [{ key: 'x', operator: 'Exists' }] } }))).toContain('podSelector');
  });
});

describe('fencingState: the fence held is the one the DR cycle wants', () => {
  const v = validateSpec({ tier: 'hot', primary: { workload: { kind: 'StatefulSet', name: 'db' }, service: 'db' } }, 'db');
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  const site: StandbySite = { metadata: { name: 'db', namespace: 'shop', uid: 'u', generation: 1 }, spec: v.spec, status: {} };
  const primary: V1StatefulSet = { kind: 'StatefulSet', metadata: { name: 'db' }, spec: { selector: { matchLabels: { app: 'db' } }, serviceName: 'db', template: {} } };
  const closed = buildFence(site, primary);
  const narrowed = buildFence(site, primary, { peer: { matchLabels: standbySelector('db') } });
  const state = (fence: INetworkPolicy, narrow: boolean) => fencingState(site, { primary, primaryPods: [], primaryService: undefined, fence, fenceWritten: false, narrow });

  test('while the old primary is closed off, a narrowed fence is drift', () => {
    expect(state(closed, false)).toMatchObject({ holds: true, reason: 'Fenced' });
    expect(state(narrowed, false)).toMatchObject({ holds: false, reason: 'FenceAltered' });
  });

  test('once it follows the standby (re-protection, failback), the narrowed fence is the exact one (a still closed one holds too)', () => {
    expect(state(narrowed, true)).toMatchObject({ holds: true, reason: 'Fenced' });
    expect(state(closed, true)).toMatchObject({ holds: true, reason: 'Fenced' });
    expect(state({ ...narrowed, spec: { ...narrowed.spec!, ingress: [{}] } }, true)).toMatchObject({ holds: false, reason: 'FenceAltered' });
  });
});

import { describe, expect, test } from 'vitest';
import type { V1NetworkPolicy } from '@kubernetes/client-node';
import { fenceDrift } from '../../../src/fencing/network-policy.ts';

const want: V1NetworkPolicy = {
  kind: 'NetworkPolicy',
  metadata: { name: 'db-fence' },
  spec: { podSelector: { matchLabels: { app: 'db' } }, policyTypes: ['Ingress', 'Egress'] },
};
const live = (spec: V1NetworkPolicy['spec']): V1NetworkPolicy => ({ ...want, spec });

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

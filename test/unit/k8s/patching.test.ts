import { describe, expect, test } from 'vitest';
import { hashOf, isSubset, needsApply, stamped } from '../../../src/k8s/apply.ts';
import { mergePatchFor } from '../../../src/k8s/merge-patch.ts';

describe('mergePatchFor', () => {
  test('nothing changed: no patch', () => {
    expect(mergePatchFor({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toBeUndefined();
  });

  test('changed, added and removed fields, recursively; arrays replaced whole', () => {
    expect(mergePatchFor({ a: 1, b: { c: 1, d: 2 }, e: [1], gone: 'x' }, { a: 2, b: { c: 1 }, e: [1, 2], f: true })).toEqual({
      a: 2,
      b: { d: null },
      e: [1, 2],
      f: true,
      gone: null,
    });
  });

  test('undefined counts as absent', () => {
    expect(mergePatchFor({ a: undefined }, {})).toBeUndefined();
    expect(mergePatchFor({}, { a: undefined })).toBeUndefined();
  });
});

describe('apply skipping', () => {
  const desired = stamped({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's', labels: { a: 'b' } }, spec: { selector: { app: 'x' }, ports: [{ port: 80 }] } });

  test('the hash ignores key order', () => {
    expect(hashOf({ a: 1, b: 2 })).toBe(hashOf({ b: 2, a: 1 }));
    expect(hashOf({ a: 1 })).not.toBe(hashOf({ a: 2 }));
  });

  test('a live object with the same hash and every desired field needs no write', () => {
    const live = {
      ...desired,
      metadata: { ...desired.metadata, resourceVersion: '7', uid: 'u' },
      spec: { ...desired.spec, clusterIP: '10.0.0.1', ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }] },
    };
    expect(needsApply(desired, live)).toBe(false);
  });

  test('a changed desired state, a drifted owned field or a missing object needs a write', () => {
    expect(needsApply(desired, undefined)).toBe(true);
    const changed = stamped({ ...desired, spec: { selector: { app: 'y' }, ports: [{ port: 80 }] } });
    expect(needsApply(changed, desired)).toBe(true);
    const drifted = { ...desired, spec: { selector: { app: 'tampered' }, ports: [{ port: 80 }] } };
    expect(needsApply(desired, drifted)).toBe(true);
  });

  test('subset: numbers match their string form (quantities, int-or-string)', () => {
    expect(isSubset({ a: 1 }, { a: '1' })).toBe(true);
    expect(isSubset([1, 2], [1])).toBe(false);
  });
});

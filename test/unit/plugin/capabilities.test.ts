import { describe, expect, test } from 'vitest';
import { buildCrd } from '../../../src/api/crd.ts';
import { CAPABILITIES, enumIncludes, offer, schemaAt, siteSchemaIn, type SchemaNode } from '../../../src/plugin/capabilities.ts';

/** The StandbySite schema as the generated CRD declares it (what the API server serves). */
function crdSchema(): SchemaNode {
  const crd = buildCrd() as unknown as { spec: { versions: { schema: { openAPIV3Schema: SchemaNode } }[] } };
  return crd.spec.versions[0]!.schema.openAPIV3Schema;
}

/** An OpenAPI v3 document of the group version, shaped as /openapi/v3/apis/standby.dev/v1alpha1 answers. */
function openapi(schema: SchemaNode) {
  return {
    openapi: '3.0.0',
    components: {
      schemas: {
        'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta': { type: 'object' },
        'dev.standby.v1alpha1.StandbySite': { ...schema, 'x-kubernetes-group-version-kind': [{ group: 'standby.dev', kind: 'StandbySite', version: 'v1alpha1' }] },
        'dev.standby.v1alpha1.StandbySiteList': { type: 'object', 'x-kubernetes-group-version-kind': [{ group: 'standby.dev', kind: 'StandbySiteList', version: 'v1alpha1' }] },
      },
    },
  };
}

describe('the served schema', () => {
  test('the StandbySite schema is found by its group-version-kind, and paths are read below it', () => {
    const served = siteSchemaIn(openapi(crdSchema()));
    expect(served).toBeDefined();
    expect(schemaAt(served!, 'status.primary.state')?.enum).toEqual(['Ready', 'NotReady', 'Missing', 'Fenced', 'Unreachable']);
    expect(schemaAt(served!, 'status.nothing.here')).toBeUndefined();
    expect(siteSchemaIn({ components: { schemas: {} } })).toBeUndefined();
  });
});

describe('what the operator offers', () => {
  const served = crdSchema();

  test('promote is offered by this operator (its CRD records the handled token)', () => {
    expect(offer(CAPABILITIES.promote, served)).toEqual({ offered: true });
  });

  test('an operator whose CRD predates promote tokens is named too old', () => {
    const old = structuredClone(served);
    delete old.properties!.status!.properties!.handledPromoteToken;
    const o = offer(CAPABILITIES.promote, old);
    expect(o.offered).toBe(false);
    expect(o.offered === false && o.why).toContain('has no field status.handledPromoteToken: its operator is older than this plugin');
  });

  test('site-lost is offered by an operator that knows a primary cluster as Unreachable, and named too old by one that does not', () => {
    expect(offer(CAPABILITIES['site-lost'], served)).toEqual({ offered: true });
    const old = structuredClone(served);
    const state = schemaAt(old, 'status.primary.state')!;
    state.enum = state.enum!.filter((v) => v !== 'Unreachable');
    const o = offer(CAPABILITIES['site-lost'], old);
    expect(o.offered === false && o.why).toContain('has no status.primary.state value Unreachable: its operator is older than this plugin');
  });

  test('failback and reprotect are not offered by any operator yet, and say so plainly', () => {
    for (const name of ['failback', 'reprotect'] as const) {
      const o = offer(CAPABILITIES[name], served);
      expect(o, name).toEqual({ offered: false, why: CAPABILITIES[name].notYet });
      expect(CAPABILITIES[name].notYet, name).toMatch(/not support(ed)? (by )?this operator yet|does not support yet/);
    }
  });

  test('enabling one is one check: failback offered once the served phase enum has FailingBack', () => {
    const enabled = { ...CAPABILITIES.failback, offeredWhen: enumIncludes('status.phase', 'FailingBack') };
    // An operator whose phases predate failback, then this one (its CRD has FailingBack).
    const older = structuredClone(served);
    const phases = older.properties!.status!.properties!.phase!;
    phases.enum = phases.enum!.filter((p) => p !== 'FailingBack');
    expect(offer(enabled, older).offered).toBe(false);
    expect(offer(enabled, served)).toEqual({ offered: true });
    const newer = structuredClone(served);
    newer.properties!.status!.properties!.phase!.enum!.push('FailingBack');
    expect(offer(enabled, newer)).toEqual({ offered: true });
  });

  test('drill is offered by this operator (its CRD has status.lastDrill.id), and an older one is named too old', () => {
    expect(offer(CAPABILITIES.drill, served)).toEqual({ offered: true });
    const old = structuredClone(served);
    delete old.properties!.status!.properties!.lastDrill;
    const o = offer(CAPABILITIES.drill, old);
    expect(o.offered === false && o.why).toContain('has no field status.lastDrill.id: its operator is older than this plugin and cannot drill');
  });

  test('an unreadable schema leaves it unknown, with the reason', () => {
    expect(offer(CAPABILITIES.promote, undefined, 'forbidden')).toEqual({ offered: 'unknown', why: 'forbidden' });
  });
});

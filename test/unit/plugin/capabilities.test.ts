import { describe, expect, test } from 'vitest';
import { buildCrd } from '../../../src/api/crd.ts';
import { CAPABILITIES, enumIncludes, hasField, offer, schemaAt, siteSchemaIn, type SchemaNode } from '../../../src/plugin/capabilities.ts';

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
    expect(schemaAt(served!, 'status.primary.state')?.enum).toEqual(['Ready', 'NotReady', 'Missing', 'Fenced']);
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

  test('failback, reprotect, drill and site-lost are not offered by any operator yet, and say so plainly', () => {
    for (const name of ['failback', 'reprotect', 'drill', 'site-lost'] as const) {
      const o = offer(CAPABILITIES[name], served);
      expect(o, name).toEqual({ offered: false, why: CAPABILITIES[name].notYet });
      expect(CAPABILITIES[name].notYet, name).toMatch(/not support(ed)? (by )?this operator yet|does not support yet/);
    }
  });

  test('enabling one is one check: failback offered once the served phase enum has FailingBack', () => {
    const enabled = { ...CAPABILITIES.failback, offeredWhen: enumIncludes('status.phase', 'FailingBack') };
    expect(offer(enabled, served).offered).toBe(false);
    const newer = structuredClone(served);
    newer.properties!.status!.properties!.phase!.enum!.push('FailingBack');
    expect(offer(enabled, newer)).toEqual({ offered: true });
    const drill = { ...CAPABILITIES.drill, offeredWhen: hasField('status.lastDrill') };
    newer.properties!.status!.properties!.lastDrill = { type: 'object' };
    expect(offer(drill, newer)).toEqual({ offered: true });
  });

  test('an unreadable schema leaves it unknown, with the reason', () => {
    expect(offer(CAPABILITIES.promote, undefined, 'forbidden')).toEqual({ offered: 'unknown', why: 'forbidden' });
  });
});

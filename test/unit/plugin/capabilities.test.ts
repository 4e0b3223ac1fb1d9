import { describe, expect, test } from 'vitest';
import { buildCrd } from '../../../src/api/crd.ts';
import { allOf, CAPABILITIES, enumIncludes, hasField, offer, schemaAt, siteSchemaIn, type Offer, type SchemaNode } from '../../../src/plugin/capabilities.ts';

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

/** Why a capability is not offered ('' when it is, or unknown). */
const notOffered = (o: Offer) => (o.offered === false ? o.why : '');

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

  test('failback and reprotect are offered by this operator: its CRD has their phases, handled tokens and records', () => {
    expect(offer(CAPABILITIES.failback, served)).toEqual({ offered: true });
    expect(offer(CAPABILITIES.reprotect, served)).toEqual({ offered: true });
  });

  test('an operator whose phases predate failback and re-protection is named too old, by the first thing it lacks', () => {
    const older = structuredClone(served);
    const phases = older.properties!.status!.properties!.phase!;
    phases.enum = phases.enum!.filter((p) => p !== 'FailingBack' && p !== 'Reprotecting');
    const fb = offer(CAPABILITIES.failback, older);
    expect(fb.offered).toBe(false);
    expect(fb.offered === false && fb.why).toBe(
      'the StandbySite API served by this cluster has no status.phase value FailingBack: its operator is older than this plugin and cannot fail back; upgrade the operator and its CRD',
    );
    const rp = offer(CAPABILITIES.reprotect, older);
    expect(rp.offered === false && rp.why).toContain('has no status.phase value Reprotecting: its operator is older than this plugin and cannot re-protect');
  });

  test('a phase alone is not enough: without the handled token the plugin could not tell that the operator acted', () => {
    const noToken = structuredClone(served);
    delete noToken.properties!.status!.properties!.handledReprotectToken;
    delete noToken.properties!.status!.properties!.handledFailbackToken;
    expect(notOffered(offer(CAPABILITIES.reprotect, noToken))).toContain('has no field status.handledReprotectToken');
    expect(notOffered(offer(CAPABILITIES.failback, noToken))).toContain('has no field status.handledFailbackToken');
    // Nor without the record that carries the token of the procedure it started.
    const noRecord = structuredClone(served);
    delete noRecord.properties!.status!.properties!.failback;
    expect(notOffered(offer(CAPABILITIES.failback, noRecord))).toContain('has no field status.failback.token');
  });

  test('allOf holds only when every check does', () => {
    const check = allOf(enumIncludes('status.phase', 'FailingBack'), hasField('status.nothing'));
    expect(check.test(served)).toBe(false);
    expect(allOf(enumIncludes('status.phase', 'FailingBack'), hasField('status.failback')).test(served)).toBe(true);
  });

  test('a capability no operator offers says what it says while not offered', () => {
    const never = { ...CAPABILITIES.failback, offeredWhen: undefined, notYet: 'failback is not supported by this operator yet' };
    expect(offer(never, served)).toEqual({ offered: false, why: 'failback is not supported by this operator yet' });
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

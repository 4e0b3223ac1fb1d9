// The admission policy covers every field through which a StandbySite makes the operator run a
// pod template or read a Secret: the field lists it is generated from are checked against the
// spec schema itself, so a new such field fails here until the policy covers it. (The policy's
// CEL runs against the real API server in test/e2e/admission.test.ts.)
import { readFile } from 'node:fs/promises';
import { describe, expect, test } from 'vitest';
import { POD_TEMPLATE_FIELDS, PROMOTE_ANNOTATION, SECRET_FIELDS, buildAdmissionPolicySpec } from '../../../src/api/admission.ts';
import { buildCrd } from '../../../src/api/crd.ts';
import { ADMISSION_POLICY_FILE, renderAdmissionPolicy } from '../../../src/cli/gen-crd.ts';
import { ANNOTATION_PROMOTE } from '../../../src/site/names.ts';

type Node = Record<string, unknown>;

function specSchema(): Node {
  const root = (buildCrd().spec as { versions: { schema: { openAPIV3Schema: Node } }[] }).versions[0]!.schema.openAPIV3Schema;
  return (root.properties as Record<string, Node>).spec!;
}

/** Paths (below spec) of every node for which `is` holds. */
function find(node: Node, is: (n: Node, name: string) => boolean, path = ''): string[] {
  const out: string[] = [];
  for (const [name, child] of Object.entries((node.properties ?? {}) as Record<string, Node>)) {
    const at = path ? `${path}.${name}` : name;
    if (is(child, name)) out.push(at);
    out.push(...find(child, is, at));
    if (child.items) out.push(...find(child.items as Node, is, `${at}[]`));
  }
  return out;
}

const isPodTemplate = (n: Node): boolean => {
  const spec = (n.properties as Record<string, Node> | undefined)?.spec;
  return spec !== undefined && 'containers' in ((spec.properties ?? {}) as Node);
};

describe('the admission policy', () => {
  test('covers every pod template in the spec', () => {
    const templates = find(specSchema(), isPodTemplate);
    expect(templates.length).toBeGreaterThanOrEqual(4);
    expect([...POD_TEMPLATE_FIELDS].sort()).toEqual(templates.sort());
  });

  test('covers every Secret the spec names', () => {
    // A Secret is named by a string field (replicationSecret) or by a {name, key} reference (kubeconfigSecret).
    const named = find(specSchema(), (n, name) => n.type === 'string' && /secret/i.test(name));
    const refs = find(specSchema(), (n, name) => n.type === 'object' && /secret/i.test(name) && 'name' in ((n.properties ?? {}) as Node)).map((p) => `${p}.name`);
    expect(refs).toContain('primary.cluster.kubeconfigSecret.name');
    const secrets = [...named, ...refs];
    expect(secrets.length).toBeGreaterThanOrEqual(4);
    expect([...SECRET_FIELDS].sort()).toEqual(secrets.sort());
  });

  test('refuses nothing but creates and updates of StandbySites, and only on a spec or promote-annotation change', () => {
    const spec = buildAdmissionPolicySpec() as {
      matchConstraints: { resourceRules: { apiGroups: string[]; resources: string[]; operations: string[] }[] };
      matchConditions: { expression: string }[];
      validations: { expression: string; messageExpression: string }[];
    };
    expect(spec.matchConstraints.resourceRules).toEqual([
      { apiGroups: ['standby.dev'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: ['standbysites'] },
    ]);
    expect(spec.matchConditions[0]?.expression).toContain(`'${ANNOTATION_PROMOTE}'`);
    expect(PROMOTE_ANNOTATION).toBe(ANNOTATION_PROMOTE);
    // One validation per permission: a pod-template check, one per Secret field, four for the primary.
    expect(spec.validations).toHaveLength(1 + SECRET_FIELDS.length + 4);
    for (const v of spec.validations) expect(v.messageExpression).not.toContain('authorizer');
  });

  test('the chart template is current (run npm run gen:crd when this fails)', async () => {
    expect(await readFile(ADMISSION_POLICY_FILE, 'utf8')).toBe(renderAdmissionPolicy());
  });
});

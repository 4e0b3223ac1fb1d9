import { readFile } from 'node:fs/promises';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { buildCrd, buildGuardCrd, CRD_FILE, GUARD_CRD_FILE, renderCrd, renderGuardCrd } from '../../../src/api/crd.ts';
import { validated } from '../support/models.ts';

type Node = Record<string, unknown>;

/** Walks a schema and returns the paths of nodes that break the structural-schema rules we rely on. */
function structuralProblems(node: Node, path: string): string[] {
  const problems: string[] = [];
  const preserve = node['x-kubernetes-preserve-unknown-fields'] === true;
  if (typeof node.type !== 'string' && !preserve) problems.push(`${path}: no type`);
  for (const banned of ['$ref', '$schema', 'oneOf', 'anyOf', 'allOf']) {
    if (banned in node) problems.push(`${path}: has ${banned}`);
  }
  // A map (status.primaryHeld.claims, a selector) has additionalProperties with a schema; the API
  // server refuses it beside properties, or as a bare boolean.
  if ('additionalProperties' in node && ('properties' in node || typeof node.additionalProperties !== 'object')) problems.push(`${path}: has additionalProperties beside properties, or without a schema`);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') problems.push(...structuralProblems(node.additionalProperties as Node, `${path}{}`));
  const props = node.properties as Record<string, Node> | undefined;
  for (const [k, v] of Object.entries(props ?? {})) problems.push(...structuralProblems(v, `${path}.${k}`));
  // A map: additionalProperties with a value schema, and then no properties (the structural rule).
  if ('additionalProperties' in node) {
    const ap = node.additionalProperties;
    if (props || typeof ap !== 'object' || ap === null) problems.push(`${path}: additionalProperties beside properties, or without a schema`);
    else problems.push(...structuralProblems(ap as Node, `${path}{}`));
  }
  if (node.items) problems.push(...structuralProblems(node.items as Node, `${path}[]`));
  return problems;
}

/** Fields without a description of at least 10 characters, and how many fields there are. */
function undescribed(schema: Node): { missing: string[]; fields: number } {
  const missing: string[] = [];
  let fields = 0;
  const walk = (node: Node, path: string): void => {
    for (const [name, child] of Object.entries((node.properties ?? {}) as Record<string, Node>)) {
      const at = path ? `${path}.${name}` : name;
      fields++;
      // The API server refuses anything but type on the root metadata (it is ObjectMeta, documented by Kubernetes).
      if (at === 'metadata') continue;
      if (typeof child.description !== 'string' || child.description.trim().length < 10) missing.push(at);
      walk(child, at);
    }
    // A list's items are explained under the list's own name (kubectl explain x.conditions.type).
    if (node.items) walk(node.items as Node, path);
  };
  walk(schema, '');
  return { missing, fields };
}

describe('the generated CRD', () => {
  test('the checked-in CRD is current (run npm run gen:crd when this fails)', async () => {
    expect(await readFile(CRD_FILE, 'utf8')).toBe(renderCrd());
  });

  test('its schema is structural', () => {
    const crd = parse(renderCrd()) as Node;
    const version = (crd.spec as { versions: Node[] }).versions[0]!;
    const schema = (version.schema as { openAPIV3Schema: Node }).openAPIV3Schema;
    expect(structuralProblems(schema, 'root')).toEqual([]);
  });

  test('it has the status subresource, the short name and the printer columns', () => {
    const spec = buildCrd().spec as { names: Node; versions: Node[] };
    expect(spec.names.shortNames).toEqual(['sbs']);
    const version = spec.versions[0]!;
    expect(version.subresources).toEqual({ status: {} });
    const columns = version.additionalPrinterColumns as { name: string; priority?: number }[];
    expect(columns.filter((c) => !c.priority).map((c) => c.name)).toEqual(['Tier', 'Active', 'Primary', 'Data Age', 'RTO', 'Lag', 'Phase', 'Age']);
    expect(columns.filter((c) => c.priority === 1).map((c) => c.name)).toEqual(['Last Sync', 'Next Sync', 'Last Promotion', 'Reserved CPU', 'Reserved Memory', 'Copy Storage']);
  });

  test("every printer column's jsonPath is a field of the schema, of the column's type (the cost columns are status.cost's numbers)", () => {
    const version = (buildCrd().spec as { versions: Node[] }).versions[0]!;
    const schema = (version.schema as { openAPIV3Schema: Node }).openAPIV3Schema;
    const columns = version.additionalPrinterColumns as { name: string; type: string; jsonPath: string }[];
    const typeAt = (path: string): string | undefined => {
      let node: Node | undefined = schema;
      for (const key of path.split('.').slice(1)) node = (node?.properties as Record<string, Node> | undefined)?.[key];
      if (!node) return undefined;
      return node.format === 'date-time' ? 'date' : (node.type as string);
    };
    // A timestamp may print as a string (Next Sync: a future date column would read "<invalid>").
    const fits = (c: { type: string; jsonPath: string }) => typeAt(c.jsonPath) === c.type || (c.type === 'string' && typeAt(c.jsonPath) === 'date');
    const wrong = columns.filter((c) => !c.jsonPath.startsWith('.metadata.') && !fits(c)).map((c) => `${c.name}: ${c.jsonPath} is ${typeAt(c.jsonPath)}`);
    expect(wrong).toEqual([]);
    expect(columns.filter((c) => c.jsonPath.startsWith('.status.cost.')).map((c) => [c.name, c.jsonPath, c.type])).toEqual([
      ['Reserved CPU', '.status.cost.cpu', 'number'],
      ['Reserved Memory', '.status.cost.memory', 'integer'],
      ['Copy Storage', '.status.cost.storage', 'integer'],
    ]);
  });

  test('every field, in spec and status, has a description (kubectl explain shows it)', () => {
    const schema = (buildCrd().spec as { versions: { schema: { openAPIV3Schema: Node } }[] }).versions[0]!.schema.openAPIV3Schema;
    const { missing, fields } = undescribed(schema);
    expect(missing).toEqual([]);
    expect(fields).toBeGreaterThan(90);
    const promotion = ((schema.properties as Record<string, Node>).spec!.properties as Record<string, Node>).promotion!;
    expect((promotion.properties as Record<string, Node>).failureThreshold!.description).toMatch(/not Ready/);
  });

  test('the StandbySiteGuard CRD is current, structural, and every field has a description', async () => {
    expect(await readFile(GUARD_CRD_FILE, 'utf8')).toBe(renderGuardCrd());
    const version = (parse(renderGuardCrd()) as { spec: { versions: Node[] } }).spec.versions[0]!;
    const schema = (version.schema as { openAPIV3Schema: Node }).openAPIV3Schema;
    expect(structuralProblems(schema, 'root')).toEqual([]);
    expect(version.subresources).toEqual({ status: {} });
    const { missing, fields } = undescribed((buildGuardCrd().spec as { versions: { schema: { openAPIV3Schema: Node } }[] }).versions[0]!.schema.openAPIV3Schema);
    expect(missing).toEqual([]);
    expect(fields).toBeGreaterThan(30);
  });

  test('every CEL rule carries a message', () => {
    const rules: Node[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, c] of Object.entries(v)) {
          if (k === 'x-kubernetes-validations') rules.push(...(c as Node[]));
          else walk(c);
        }
      }
    };
    walk(buildCrd());
    expect(rules.length).toBeGreaterThan(10);
    for (const r of rules) expect(r.message ?? r.messageExpression, String(r.rule)).toBeTruthy();
  });
});

test('both CRDs are valid CustomResourceDefinitions by the Kubernetes schema', () => {
  expect(validated(buildCrd()).kind).toBe('CustomResourceDefinition');
  expect(validated(buildGuardCrd()).kind).toBe('CustomResourceDefinition');
});

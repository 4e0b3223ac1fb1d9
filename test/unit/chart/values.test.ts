// values.yaml and values.schema.json of the chart agree: the defaults fit the schema, the schema
// names every value, and every value is documented. (helm lint and helm template against a real
// helm run in test/e2e/chart.test.ts.)
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { isMap, isScalar, parse, parseDocument, type YAMLMap } from 'yaml';

const chartDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'charts', 'standby-operator');

/** The subset of JSON Schema (draft-07) the chart's schema uses. */
interface Schema {
  $schema?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  uniqueItems?: boolean;
  oneOf?: Schema[];
  description?: string;
  title?: string;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (Number.isInteger(v)) return 'integer';
  return typeof v;
}

/** Problems of `value` against `schema`, as "path: what"; empty when it fits. */
function validate(value: unknown, schema: Schema, path = 'values'): string[] {
  if (schema.oneOf) {
    const fits = schema.oneOf.filter((s) => validate(value, s, path).length === 0).length;
    return fits === 1 ? [] : [`${path}: fits ${fits} of the oneOf schemas, not exactly 1`];
  }
  const problems: string[] = [];
  const actual = typeOf(value);
  const types = schema.type === undefined ? [] : [schema.type].flat();
  if (types.length > 0 && !types.some((t) => t === actual || (t === 'number' && actual === 'integer'))) {
    return [`${path}: is ${actual}, the schema wants ${types.join(' or ')}`];
  }
  if (schema.enum && !schema.enum.includes(value)) problems.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (typeof value === 'string') {
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) problems.push(`${path}: does not match ${schema.pattern}`);
    if (schema.minLength !== undefined && value.length < schema.minLength) problems.push(`${path}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) problems.push(`${path}: longer than ${schema.maxLength}`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) problems.push(`${path}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) problems.push(`${path}: above ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.uniqueItems && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) problems.push(`${path}: items repeat`);
    if (schema.items) value.forEach((v, i) => problems.push(...validate(v, schema.items!, `${path}[${i}]`)));
  }
  if (actual === 'object') {
    const obj = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in obj)) problems.push(`${path}.${key}: required`);
    for (const [key, v] of Object.entries(obj)) {
      const child = schema.properties?.[key];
      if (child) problems.push(...validate(v, child, `${path}.${key}`));
      else if (schema.additionalProperties === false) problems.push(`${path}.${key}: not allowed by the schema`);
      else if (typeof schema.additionalProperties === 'object') problems.push(...validate(v, schema.additionalProperties, `${path}.${key}`));
    }
  }
  return problems;
}

/**
 * Paths of values in values.yaml that have no comment of their own or on an enclosing key. The
 * `yaml` parser keeps the comment above the first key of a map on the map itself (`firstComment`).
 */
function undocumented(map: YAMLMap, prefix: string, documented: boolean, firstComment: string | null | undefined): string[] {
  const missing: string[] = [];
  map.items.forEach((pair, i) => {
    const key = isScalar(pair.key) ? String(pair.key.value) : '?';
    const comment = (isScalar(pair.key) ? pair.key.commentBefore : undefined) ?? (i === 0 ? firstComment : undefined);
    const isDocumented = documented || (comment !== undefined && comment !== null && comment.trim() !== '');
    if (isMap(pair.value) && pair.value.items.length > 0) {
      missing.push(...undocumented(pair.value, `${prefix}${key}.`, isDocumented, pair.value.commentBefore));
    } else if (!isDocumented) {
      missing.push(`${prefix}${key}`);
    }
  });
  return missing;
}

let schema: Schema;
let valuesText: string;
let values: Record<string, unknown>;

beforeAll(async () => {
  schema = JSON.parse(await readFile(join(chartDir, 'values.schema.json'), 'utf8')) as Schema;
  valuesText = await readFile(join(chartDir, 'values.yaml'), 'utf8');
  values = parse(valuesText) as Record<string, unknown>;
});

describe('the chart values', () => {
  test('the schema is draft-07 and closed at the top level', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.type).toBe('object');
    expect(schema.additionalProperties).toBe(false);
  });

  test('the defaults in values.yaml fit the schema', () => {
    expect(validate(values, schema)).toEqual([]);
  });

  test('the schema names every top-level value, and values.yaml has a default for every property', () => {
    // `global` is set by Helm when the chart is a dependency; it has no default of its own.
    const named = Object.keys(schema.properties ?? {}).filter((k) => k !== 'global').sort();
    expect(Object.keys(values).sort()).toEqual(named);
  });

  test('the validator catches what Helm would refuse', () => {
    expect(validate({ ...values, logLevel: 'loud' }, schema)).toEqual([expect.stringContaining('values.logLevel')]);
    expect(validate({ ...values, replicaCount: '2' }, schema)).toEqual([expect.stringContaining('values.replicaCount')]);
    expect(validate({ ...values, watchNamespaces: ['Shop_1'] }, schema)).toEqual([expect.stringContaining('values.watchNamespaces[0]')]);
    expect(validate({ ...values, replicas: 2 }, schema)).toEqual(['values.replicas: not allowed by the schema']);
    expect(validate({ ...values, podDisruptionBudget: { enabled: true, minAvailable: '50%' } }, schema)).toEqual([]);
  });

  test('every value in values.yaml is documented by a comment', () => {
    const doc = parseDocument(valuesText);
    expect(isMap(doc.contents)).toBe(true);
    const top = doc.contents as YAMLMap;
    // The first key's comment is merged with the file's header comment.
    expect(undocumented(top, '', false, top.commentBefore ?? doc.commentBefore)).toEqual([]);
  });

  test('the defaults are what the operator needs', () => {
    expect(values.replicaCount).toBe(2);
    expect(values.watchNamespaces).toEqual([]);
    expect(values.leaderElection).toEqual({ enabled: true });
    expect(values.resources).toEqual({ requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '256Mi' } });
    expect(values.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: 65532,
      capabilities: { drop: ['ALL'] },
    });
    expect(values.podSecurityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect((values.metrics as { serviceMonitor: { enabled: boolean } }).serviceMonitor.enabled).toBe(false);
  });
});

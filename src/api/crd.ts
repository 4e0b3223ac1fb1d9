// Generates the StandbySite CustomResourceDefinition from the zod schemas.
// zod's JSON Schema output is turned into a Kubernetes structural schema:
// no additionalProperties beside properties, preserved unknown fields for
// embedded objects (pod templates), no JSON-Schema-only keywords.
import { z } from 'zod';
import { stringify } from 'yaml';
import { API_VERSION, GROUP, KIND, MAX_SITE_NAME, PLURAL, SHORT_NAMES, SINGULAR, VERSION } from './site.ts';
import { siteCelRules } from './conflicts.ts';
import { GUARD_KIND, GUARD_PLURAL, GUARD_SINGULAR, guardSpecSchema, guardStatusSchema } from './guard.ts';
import { siteSpecSchema } from './spec.ts';
import { siteStatusSchema } from './status.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const JS_SAFE_INT = Number.MAX_SAFE_INTEGER;

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Rewrites one JSON Schema node (and its children) into structural form. */
export function structural(node: Json): Json {
  if (Array.isArray(node)) return node.map(structural);
  if (!isObject(node)) return node;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$schema' || key === 'id' || key === '$id' || key === 'propertyNames') continue;
    if ((key === 'maximum' && value === JS_SAFE_INT) || (key === 'minimum' && value === -JS_SAFE_INT)) continue;
    if (key === 'x-kubernetes-validations' || key === 'default' || key === 'enum' || key === 'x-kubernetes-list-map-keys') {
      out[key] = value;
      continue;
    }
    // Field names are not keywords: a field may be called "id" (status.lastDrill.id).
    if (key === 'properties' && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, child]) => [name, structural(child)]));
      continue;
    }
    out[key] = structural(value);
  }
  // zod's date-time check brings a long regex; the API server knows the format.
  if (out.format === 'date-time') delete out.pattern;
  // Loose objects (embedded Kubernetes objects) keep fields the schema does not name; a map
  // (a record: no properties, a value schema) keeps its additionalProperties.
  if ('additionalProperties' in out) {
    const ap = out.additionalProperties;
    delete out.additionalProperties;
    if (isObject(ap) && Object.keys(ap).length === 0) out['x-kubernetes-preserve-unknown-fields'] = true;
    // A map (z.record): structural schemas take additionalProperties with a schema when there are
    // no properties beside it; without it the API server would prune every key.
    else if (isObject(ap) && !isObject(out.properties)) out.additionalProperties = ap;
  }
  if (isObject(out.properties) && Object.keys(out.properties).length === 0) delete out.properties;
  return out;
}

function schemaOf(s: z.ZodType): JsonObject {
  const json = z.toJSONSchema(s, { target: 'openapi-3.0', io: 'input', unrepresentable: 'throw' }) as Json;
  const out = structural(json);
  if (!isObject(out)) throw new Error('schema is not an object');
  return out;
}

const printerColumns: JsonObject[] = [
  { name: 'Tier', type: 'string', jsonPath: '.spec.tier', description: 'cold, warm or hot' },
  { name: 'Active', type: 'string', jsonPath: '.status.active', description: 'Which side serves clients' },
  { name: 'Primary', type: 'string', jsonPath: '.status.primary.state', description: 'Ready, NotReady, Missing or Fenced' },
  {
    name: 'Data Age',
    type: 'date',
    jsonPath: '.status.dataTimestamp',
    description: "Age of the standby's newest copy: what a failover now would lose",
  },
  { name: 'RTO', type: 'string', jsonPath: '.status.measuredRto', description: 'The recovery time the newest passed drill measured' },
  { name: 'Lag', type: 'string', jsonPath: '.status.standby.lag', description: 'Replication lag of a hot standby' },
  { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  { name: 'Last Sync', type: 'date', jsonPath: '.status.lastSyncTime', priority: 1 },
  // A future time printed as a date column would read "<invalid>"; print it as a timestamp.
  { name: 'Next Sync', type: 'string', jsonPath: '.status.nextSyncTime', priority: 1 },
  { name: 'Last Promotion', type: 'date', jsonPath: '.status.promotion.completedAt', priority: 1 },
  // The cost of protection (status.cost), as its numbers: a column cannot format bytes.
  { name: 'Reserved CPU', type: 'number', jsonPath: '.status.cost.cpu', description: "CPU cores the standby's pods request now", priority: 1 },
  { name: 'Reserved Memory', type: 'integer', jsonPath: '.status.cost.memory', description: "Bytes of memory the standby's pods request now", priority: 1 },
  { name: 'Copy Storage', type: 'integer', jsonPath: '.status.cost.storage', description: 'Bytes held by the copies, snapshots and dumps the site keeps', priority: 1 },
];

interface CrdShape {
  kind: string;
  plural: string;
  singular: string;
  shortNames?: string[];
  categories: string[];
  columns: JsonObject[];
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  validations?: JsonObject[];
}

/** One CustomResourceDefinition of the operator's group: served and stored at VERSION, with the status subresource. */
function crdOf(c: CrdShape): JsonObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${c.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/name': 'standby-operator', 'app.kubernetes.io/part-of': 'standby-operator' },
    },
    spec: {
      group: GROUP,
      names: { kind: c.kind, listKind: `${c.kind}List`, plural: c.plural, singular: c.singular, ...(c.shortNames ? { shortNames: c.shortNames } : {}), categories: c.categories },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: c.columns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: c.description,
              required: ['spec'],
              properties: {
                // The texts Kubernetes' own types carry for these (kubectl explain shows them).
                apiVersion: {
                  type: 'string',
                  description: `The versioned schema of this representation of an object: ${API_VERSION}.`,
                },
                kind: { type: 'string', description: `The REST resource this object represents: ${c.kind}.` },
                // The API server allows nothing here but type: kubectl explain shows ObjectMeta's own texts.
                metadata: { type: 'object' },
                spec: schemaOf(c.spec),
                status: schemaOf(c.status),
              },
              ...(c.validations ? { 'x-kubernetes-validations': c.validations } : {}),
            },
          },
        },
      ],
    },
  };
}

/** The CustomResourceDefinition object for StandbySite. */
export function buildCrd(): JsonObject {
  return crdOf({
    kind: KIND,
    plural: PLURAL,
    singular: SINGULAR,
    shortNames: SHORT_NAMES,
    categories: ['all', 'standby'],
    columns: printerColumns,
    description: 'A StandbySite gives one workload a disaster-recovery standby (cold, warm or hot) and promotes it when the primary fails.',
    spec: siteSpecSchema,
    status: siteStatusSchema,
    validations: [
      {
        rule: `self.metadata.name.size() <= ${MAX_SITE_NAME}`,
        message: `metadata.name has at most ${MAX_SITE_NAME} characters, so the names of the objects a StandbySite owns stay valid`,
        reason: 'FieldValueInvalid',
      },
      ...siteCelRules(),
    ],
  });
}

export const CRD_FILE = 'crds/standby.dev_standbysites.yaml';

/** The CRD as the YAML checked in under crds/. */
export function renderCrd(): string {
  return `# Generated from src/api by \`npm run gen:crd\`. Do not edit by hand.\n${stringify(buildCrd(), { lineWidth: 0 })}`;
}

/** The StandbySiteGuard CRD (src/api/guard.ts): installed in a primary's cluster by the same chart. */
export function buildGuardCrd(): JsonObject {
  return crdOf({
    kind: GUARD_KIND,
    plural: GUARD_PLURAL,
    singular: GUARD_SINGULAR,
    categories: ['standby'],
    columns: [
      { name: 'Workload', type: 'string', jsonPath: '.spec.workload.name' },
      { name: 'Holder', type: 'string', jsonPath: '.status.lease.holder', description: 'The lease holder the witness last showed' },
      { name: 'Epoch', type: 'integer', jsonPath: '.status.lease.epoch' },
      { name: 'Renewed', type: 'date', jsonPath: '.status.lease.renewedAt' },
      { name: 'Fenced', type: 'string', jsonPath: '.status.fenced.reason', priority: 1 },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
    description:
      "Written by the standby site's operator into the primary's cluster: the operator here renews the witness's lease for the workload it names, and fences that workload's pods when it cannot.",
    spec: guardSpecSchema,
    status: guardStatusSchema,
  });
}

export const GUARD_CRD_FILE = 'crds/standby.dev_standbysiteguards.yaml';

export function renderGuardCrd(): string {
  return `# Generated from src/api by \`npm run gen:crd\`. Do not edit by hand.\n${stringify(buildGuardCrd(), { lineWidth: 0 })}`;
}

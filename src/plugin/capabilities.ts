// What the plugin can ask the operator to do, and whether the operator offers it.
//
// Every request is the same exchange: the plugin writes an annotation with a fresh token, the
// operator records the token it acted on in a status field, and the status then tells how it
// went. A capability that no operator offers yet has `offeredWhen: undefined` and its command
// says so (`notYet`); enabling it is writing the check that tells an operator offering it. The check
// reads the StandbySite schema the API server serves (OpenAPI v3, which every authenticated
// user may read), so a plugin newer than the cluster's operator says the operator is too old
// instead of writing a request nobody acts on.
import { ANNOTATION_DRILL, ANNOTATION_FAILBACK, ANNOTATION_PROMOTE, ANNOTATION_REPROTECT } from '../site/names.ts';

export type CapabilityName = 'promote' | 'site-lost' | 'failback' | 'reprotect' | 'drill';

/** A JSON schema node as the API server publishes it. */
export interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  enum?: unknown[];
  allOf?: SchemaNode[];
}

/** A check on the served StandbySite schema (its root, the object). */
export type SchemaCheck = { describe: string; test: (root: SchemaNode) => boolean; parts?: SchemaCheck[] };

export interface Capability {
  name: CapabilityName;
  /** What it does, for a sentence ("its operator ... cannot fail back"). */
  verb: string;
  /** The annotation the request is written to. */
  annotation: string;
  /** Token prefix: the operator reads what a request means from it (force-, site-lost-). */
  tokenPrefix: string;
  /** The status field in which the operator records the last token it acted on. */
  handledField: string;
  /** The reason of the Event in which the operator says why it refused a token. */
  refusedEvent: string;
  /** When the operator offers it; undefined: no operator does yet. */
  offeredWhen: SchemaCheck | undefined;
  /** What to say while no operator offers it. */
  notYet: string;
}

/** The schema node at a dotted path below the object (e.g. status.primary.state). */
export function schemaAt(root: SchemaNode, path: string): SchemaNode | undefined {
  let node: SchemaNode | undefined = root;
  for (const part of path.split('.')) {
    const here: SchemaNode = node;
    node = here.properties?.[part] ?? here.allOf?.map((s) => s.properties?.[part]).find((s) => s !== undefined);
    if (!node) return undefined;
  }
  return node;
}

export const hasField = (path: string): SchemaCheck => ({
  describe: `field ${path}`,
  test: (root) => schemaAt(root, path) !== undefined,
});

export const enumIncludes = (path: string, value: string): SchemaCheck => ({
  describe: `${path} value ${value}`,
  test: (root) => schemaAt(root, path)?.enum?.includes(value) === true,
});

/** Every check holds (a too-old operator is told the first that does not). */
export const allOf = (...checks: SchemaCheck[]): SchemaCheck => ({
  describe: checks.map((c) => c.describe).join(', '),
  test: (root) => checks.every((c) => c.test(root)),
  parts: checks,
});

export const CAPABILITIES: Record<CapabilityName, Capability> = {
  promote: {
    name: 'promote',
    verb: 'promote',
    annotation: ANNOTATION_PROMOTE,
    tokenPrefix: 'kubectl-',
    handledField: 'handledPromoteToken',
    refusedEvent: 'PromotionRefused',
    offeredWhen: hasField('status.handledPromoteToken'),
    notYet: '',
  },
  'site-lost': {
    name: 'site-lost',
    verb: 'promote a lost site',
    annotation: ANNOTATION_PROMOTE,
    tokenPrefix: 'site-lost-',
    handledField: 'handledPromoteToken',
    refusedEvent: 'PromotionRefused',
    // An operator that watches a primary in another cluster knows it as Unreachable (issue 15).
    offeredWhen: enumIncludes('status.primary.state', 'Unreachable'),
    notYet: '',
  },
  failback: {
    name: 'failback',
    verb: 'fail back',
    annotation: ANNOTATION_FAILBACK,
    tokenPrefix: 'kubectl-',
    handledField: 'handledFailbackToken',
    refusedEvent: 'FailbackRefused',
    // An operator that fails back has the phase for it and records the token it acted on (issue 13).
    offeredWhen: allOf(enumIncludes('status.phase', 'FailingBack'), hasField('status.handledFailbackToken'), hasField('status.failback.token')),
    notYet: '',
  },
  reprotect: {
    name: 'reprotect',
    verb: 're-protect',
    annotation: ANNOTATION_REPROTECT,
    tokenPrefix: 'kubectl-',
    handledField: 'handledReprotectToken',
    refusedEvent: 'ReprotectRefused',
    offeredWhen: allOf(enumIncludes('status.phase', 'Reprotecting'), hasField('status.handledReprotectToken'), hasField('status.reprotection.token')),
    notYet: '',
  },
  drill: {
    name: 'drill',
    verb: 'drill',
    annotation: ANNOTATION_DRILL,
    tokenPrefix: 'kubectl-',
    handledField: 'handledDrillToken',
    refusedEvent: 'DrillRefused',
    offeredWhen: hasField('status.lastDrill.id'),
    notYet: '',
  },
};

/** The StandbySite schema in an OpenAPI v3 document of the standby.dev group version. */
export function siteSchemaIn(doc: unknown, kind = 'StandbySite'): SchemaNode | undefined {
  const schemas = (doc as { components?: { schemas?: Record<string, SchemaNode & { 'x-kubernetes-group-version-kind'?: { kind?: string }[] }> } })
    .components?.schemas;
  return Object.values(schemas ?? {}).find((s) => s['x-kubernetes-group-version-kind']?.some((g) => g.kind === kind));
}

export type Offer = { offered: true } | { offered: false; why: string } | { offered: 'unknown'; why: string };

/**
 * Whether the operator behind `served` (the schema the API server serves, or undefined when it
 * could not be read) offers the capability.
 */
export function offer(cap: Capability, served: SchemaNode | undefined, unreadable?: string): Offer {
  if (!cap.offeredWhen) return { offered: false, why: cap.notYet };
  if (!served) return { offered: 'unknown', why: unreadable ?? 'the served StandbySite schema could not be read' };
  if (cap.offeredWhen.test(served)) return { offered: true };
  const missing = cap.offeredWhen.parts?.find((p) => !p.test(served)) ?? cap.offeredWhen;
  return {
    offered: false,
    why: `the StandbySite API served by this cluster has no ${missing.describe}: its operator is older than this plugin and cannot ${cap.verb}; upgrade the operator and its CRD`,
  };
}

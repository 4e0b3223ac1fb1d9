// What the plugin can ask the operator to do, and whether the operator offers it.
//
// Every request is the same exchange: the plugin writes an annotation with a fresh token, the
// operator records the token it acted on in a status field, and the status then tells how it
// went. A capability that no operator offers yet has `offeredWhen: undefined` and its command
// says so; enabling it is replacing `undefined` with the check written beside it. The check
// reads the StandbySite schema the API server serves (OpenAPI v3, which every authenticated
// user may read), so a plugin newer than the cluster's operator says the operator is too old
// instead of writing a request nobody acts on.
import { ANNOTATION_PROMOTE } from '../site/names.ts';

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
export type SchemaCheck = { describe: string; test: (root: SchemaNode) => boolean };

export interface Capability {
  name: CapabilityName;
  /** The annotation the request is written to. */
  annotation: string;
  /** Token prefix: the operator reads what a request means from it (force-, site-lost-). */
  tokenPrefix: string;
  /** The status field in which the operator records the last token it acted on. */
  handledField: string;
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

export const CAPABILITIES: Record<CapabilityName, Capability> = {
  promote: {
    name: 'promote',
    annotation: ANNOTATION_PROMOTE,
    tokenPrefix: 'kubectl-',
    handledField: 'handledPromoteToken',
    offeredWhen: hasField('status.handledPromoteToken'),
    notYet: '',
  },
  'site-lost': {
    name: 'site-lost',
    annotation: ANNOTATION_PROMOTE,
    tokenPrefix: 'site-lost-',
    handledField: 'handledPromoteToken',
    // Issue 15 (a standby site in another cluster): enumIncludes('status.primary.state', 'Unreachable')
    offeredWhen: undefined,
    notYet: 'promoting after the loss of the primary\'s site (--site-lost) needs a standby in another cluster, which this operator does not support yet; without --site-lost, promote fences the primary first',
  },
  failback: {
    name: 'failback',
    annotation: 'standby.dev/failback',
    tokenPrefix: 'kubectl-',
    handledField: 'handledFailbackToken',
    // Issue 13 (re-protection and failback): enumIncludes('status.phase', 'FailingBack')
    offeredWhen: undefined,
    notYet: 'failback is not supported by this operator yet: after a promotion the standby keeps serving; make it the new primary in your manifests and create a StandbySite for it',
  },
  reprotect: {
    name: 'reprotect',
    annotation: 'standby.dev/reprotect',
    tokenPrefix: 'kubectl-',
    handledField: 'handledReprotectToken',
    // Issue 13 (re-protection and failback): enumIncludes('status.phase', 'Reprotecting')
    offeredWhen: undefined,
    notYet: 're-protection is not supported by this operator yet: nothing protects a promoted standby until you create a StandbySite for it',
  },
  drill: {
    name: 'drill',
    annotation: 'standby.dev/drill',
    tokenPrefix: 'kubectl-',
    handledField: 'handledDrillToken',
    // Issue 14 (DR drills): hasField('status.lastDrill')
    offeredWhen: undefined,
    notYet: 'DR drills are not supported by this operator yet: nothing has tested that this standby can take over short of a real promotion',
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
  return {
    offered: false,
    why: `the StandbySite API served by this cluster has no ${cap.offeredWhen.describe}: its operator is older than this plugin and cannot ${cap.name}; upgrade the operator and its CRD`,
  };
}

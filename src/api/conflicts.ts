// Name conflicts that one StandbySite shows by itself: a field that names an object the operator
// owns under a name it generates from the site's name, or the primary's own Service as the
// Service the operator owns. CEL sees `self.metadata.name` only at the root of the schema, so
// these rules live there (crd.ts) and name the spec field in fieldPath; validateSpec checks the
// same rules in TypeScript. Conflicts with objects of other sites are found by the controller.
import { celString, type CelRule } from './fields.ts';
import type { SiteSpec } from './spec.ts';

/**
 * Suffixes of the fixed names the operator gives a site's objects (src/site/names.ts builds the
 * names; a unit test keeps the two in step): the standby workload and its headless Service are
 * `<site>-standby`, the traffic Service defaults to `<site>-active`.
 */
export const STANDBY_SUFFIX = '-standby';
export const TRAFFIC_SUFFIX = '-active';

/** A piece of an error message: literal text, or a value the API server and the controller each compute. */
type Part = string | { cel: string; ts: (spec: SiteSpec, site: string) => string };

const quoted = (cel: string, ts: (spec: SiteSpec, site: string) => string): Part[] => ['"', { cel, ts }, '"'];

const SITE: Part = { cel: 'self.metadata.name', ts: (_s, site) => site };
const PRIMARY_SERVICE = quoted('self.spec.primary.service', (s) => s.primary.service);
const TRAFFIC_SERVICE = quoted('self.spec.traffic.service', (s) => s.traffic.service ?? '');
const WORKLOAD_KIND: Part = { cel: 'self.spec.primary.workload.kind', ts: (s) => s.primary.workload.kind };
const WORKLOAD_NAME = quoted('self.spec.primary.workload.name', (s) => s.primary.workload.name);

export interface SiteRule {
  /** The fields the rule reads (below spec); CEL passes the rule when one is absent (the schema reports that). */
  reads: readonly string[];
  /** The condition, in CEL over the whole object (`self` is the StandbySite). */
  cel: string;
  message: readonly Part[];
  /** The field the error is about, as kubectl spells it. */
  field: string;
  /** The rule's TypeScript twin. */
  holds: (spec: SiteSpec, site: string) => boolean;
}

// spec.traffic.mode has a default, so after defaulting it exists; an absent one means the default.
const MODE = "(has(self.spec.traffic) && has(self.spec.traffic.mode) ? self.spec.traffic.mode : 'operatorService')";
const HAS_TRAFFIC_SERVICE = '(has(self.spec.traffic) && has(self.spec.traffic.service))';

export const SITE_RULES: readonly SiteRule[] = [
  {
    field: 'spec.traffic.service',
    reads: ['primary.service'],
    cel: `${MODE} != 'operatorService' || !${HAS_TRAFFIC_SERVICE} || self.spec.traffic.service != self.spec.primary.service`,
    holds: (s) => s.traffic.mode !== 'operatorService' || s.traffic.service !== s.primary.service,
    message: [
      ...TRAFFIC_SERVICE,
      ' is also spec.primary.service: in traffic.mode operatorService the operator owns spec.traffic.service and rewrites its selector, ' +
        "so it must be a Service of its own, not the primary's. " +
        `Give traffic.service another name or leave it out (default <site name>${TRAFFIC_SUFFIX}), ` +
        "or set traffic.mode primaryService to have the operator switch the primary's Service selector itself",
    ],
  },
  {
    field: 'spec.primary.service',
    reads: ['primary.service'],
    cel: `${MODE} != 'operatorService' || ${HAS_TRAFFIC_SERVICE} || self.spec.primary.service != self.metadata.name + '${TRAFFIC_SUFFIX}'`,
    holds: (s, site) => s.traffic.mode !== 'operatorService' || s.traffic.service !== undefined || s.primary.service !== `${site}${TRAFFIC_SUFFIX}`,
    message: [
      ...PRIMARY_SERVICE,
      ` is the default name of the traffic Service (<site name>${TRAFFIC_SUFFIX} while spec.traffic.service is not set), ` +
        'which the operator owns and rewrites in traffic.mode operatorService. ' +
        "Set spec.traffic.service to another name, or set traffic.mode primaryService to have the operator switch the primary's Service selector itself",
    ],
  },
  {
    field: 'spec.primary.service',
    reads: ['primary.service'],
    cel: `self.spec.primary.service != self.metadata.name + '${STANDBY_SUFFIX}'`,
    holds: (s, site) => s.primary.service !== `${site}${STANDBY_SUFFIX}`,
    message: [
      ...PRIMARY_SERVICE,
      " is the name of the standby's Service, which the operator creates for site ",
      SITE,
      ` (<site name>${STANDBY_SUFFIX}). The primary's Service needs another name, or the StandbySite another name`,
    ],
  },
  {
    field: 'spec.traffic.service',
    reads: [],
    cel: `${MODE} != 'operatorService' || !${HAS_TRAFFIC_SERVICE} || self.spec.traffic.service != self.metadata.name + '${STANDBY_SUFFIX}'`,
    holds: (s, site) => s.traffic.mode !== 'operatorService' || s.traffic.service !== `${site}${STANDBY_SUFFIX}`,
    message: [
      ...TRAFFIC_SERVICE,
      ` is the name of the standby's own Service (<site name>${STANDBY_SUFFIX}), which selects only the standby's pods. ` +
        `Give spec.traffic.service another name, or leave it out (default <site name>${TRAFFIC_SUFFIX})`,
    ],
  },
  {
    field: 'spec.primary.workload.name',
    reads: ['primary.workload.name', 'primary.workload.kind'],
    cel: `self.spec.primary.workload.name != self.metadata.name + '${STANDBY_SUFFIX}'`,
    holds: (s, site) => s.primary.workload.name !== `${site}${STANDBY_SUFFIX}`,
    message: [
      ...WORKLOAD_NAME,
      ' is the name of the standby, a ',
      WORKLOAD_KIND,
      ' the operator creates and owns for site ',
      SITE,
      ` (<site name>${STANDBY_SUFFIX}). Give the StandbySite another name (e.g. the primary workload's) or protect a workload of another name`,
    ],
  },
  {
    field: 'spec.traffic.service',
    reads: ['primary.service'],
    cel: `${MODE} != 'primaryService' || !${HAS_TRAFFIC_SERVICE} || self.spec.traffic.service == self.spec.primary.service`,
    holds: (s) => s.traffic.mode !== 'primaryService' || s.traffic.service === undefined || s.traffic.service === s.primary.service,
    message: [
      ...TRAFFIC_SERVICE,
      ' is not used in traffic.mode primaryService, where clients use spec.primary.service ',
      ...PRIMARY_SERVICE,
      " and the operator switches that Service's selector. " +
        "Leave spec.traffic.service out, or set traffic.mode operatorService to get a Service of the operator's own",
    ],
  },
];

/** `has(self.spec) && has(self.spec.a) && has(self.spec.a.b) ...` for every step of the paths read. */
function present(paths: readonly string[]): string {
  const checks = new Set<string>(['has(self.spec)', 'has(self.spec.primary)']);
  for (const path of paths) {
    const steps = path.split('.');
    for (let i = 1; i <= steps.length; i++) checks.add(`has(self.spec.${steps.slice(0, i).join('.')})`);
  }
  return [...checks].join(' && ');
}

/** The message as the API server shows it: a CEL expression concatenating the parts. */
function messageExpression(parts: readonly Part[]): string {
  return parts.map((p) => (typeof p === 'string' ? celString(p) : p.cel)).join(' + ');
}

/**
 * The fields every rule reads are unchanged by this update. A rule at the root sees every write,
 * the operator's status writes included, and the API server ratchets (forgives) only rules whose
 * own value is unchanged: without this, a site stored before a rule existed could not get a
 * status saying what is wrong with it, nor a label. Compared piecewise: spec.primary and
 * spec.traffic are small, a whole spec (pod templates) would blow the CEL cost budget.
 */
const UNCHANGED =
  '(oldSelf.hasValue() && has(oldSelf.value().spec) && has(oldSelf.value().spec.primary) && oldSelf.value().spec.primary == self.spec.primary' +
  ' && has(oldSelf.value().spec.traffic) == has(self.spec.traffic) && (!has(self.spec.traffic) || oldSelf.value().spec.traffic == self.spec.traffic))';

/** The rules as the CRD's root x-kubernetes-validations. */
export function siteCelRules(): CelRule[] {
  return SITE_RULES.map((r) => ({
    rule: `!(${present(r.reads)}) || ${UNCHANGED} || ${r.cel}`,
    optionalOldSelf: true,
    messageExpression: messageExpression(r.message),
    fieldPath: `.${r.field}`,
    reason: 'FieldValueInvalid',
  }));
}

/** The conflicts of a valid spec with the names generated from the site's name. */
export function siteConflicts(spec: SiteSpec, site: string): { field: string; message: string }[] {
  return SITE_RULES.filter((r) => !r.holds(spec, site)).map((r) => ({
    field: r.field,
    message: r.message.map((p) => (typeof p === 'string' ? p : p.ts(spec, site))).join(''),
  }));
}

// The ValidatingAdmissionPolicy that keeps the operator from being a confused deputy. A
// StandbySite makes the operator act in its namespace with the operator's own permissions: run
// the author's pod templates as Jobs, read the Secrets the spec names, copy the primary
// workload's pod template into a standby workload, and on promotion fence the primary and
// (traffic.mode primaryService) rewrite the primary Service's selector. The policy asks the
// API server's authorizer whether the author of a create or update may do each of those
// themselves, and refuses the StandbySite, naming the missing permission, when not.
//
// Generated into the Helm chart by `npm run gen:crd` (src/cli/gen-crd.ts), from the same field
// lists that a unit test checks against the spec schema, so a new template or Secret field
// cannot be added without the policy covering it.
import { celString } from './fields.ts';
import { GROUP, PLURAL } from './site.ts';

/** Spec fields (below spec) that hold a pod template the operator runs as a Job. */
export const POD_TEMPLATE_FIELDS = [
  'cold.jobTemplate',
  'cold.restoreJobTemplate',
  'warm.jobTemplate',
  'engine.generic.promoteJobTemplate',
  'drill.verify.jobTemplate',
  'engine.generic.reprotectJobTemplate',
  'engine.generic.failbackJobTemplate',
] as const;

/** Spec fields (below spec) that name a Secret the operator reads. */
export const SECRET_FIELDS = [
  'engine.postgresql.replicationSecret',
  'engine.postgresql.superuserSecret',
  // The kubeconfig of the primary's cluster: whoever may not read it must not make the operator use it.
  'primary.cluster.kubeconfigSecret.name',
  'engine.postgresql.primaryEndpoint.caSecret.name',
  'promotion.siteFailover.witness.kubeconfigSecret.name',
] as const;

/** The annotation that starts a promotion (src/site/names.ts ANNOTATION_PROMOTE; a unit test keeps them equal). */
export const PROMOTE_ANNOTATION = 'standby.dev/promote';
/** The annotation that starts a drill, which runs the spec's verify pod template as a Job (ANNOTATION_DRILL). */
export const DRILL_ANNOTATION = 'standby.dev/drill';

/** has(object.spec) && has(object.spec.a) && has(object.spec.a.b) ... for every step of the paths. */
function present(...paths: string[]): string {
  const checks = new Set<string>();
  for (const path of paths) {
    const steps = ['spec', ...path.split('.')];
    for (let i = 1; i <= steps.length; i++) checks.add(`has(object.${steps.slice(0, i).join('.')})`);
  }
  return [...checks].join(' && ');
}

const can = (group: string, resource: string, verb: string, name?: string): string =>
  `authorizer.group(${celString(group)}).resource(${resource}).namespace(request.namespace)${name ? `.name(${name})` : ''}.check(${celString(verb)}).allowed()`;

function annotationValue(obj: 'object' | 'oldObject', annotation: string): string {
  const key = celString(annotation);
  return `(has(${obj}.metadata.annotations) && ${key} in ${obj}.metadata.annotations ? ${obj}.metadata.annotations[${key}] : '')`;
}

/** One permission the author must hold: when `needed` holds and `allowed` does not, the site is refused. */
interface Check {
  needed: string;
  allowed: string;
  /** CEL: what the author may not do, and why the site needs it (no authorizer here: see below). */
  missing: string;
}

/** The `spec` of the ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1). */
export function buildAdmissionPolicySpec(): Record<string, unknown> {
  const workload = 'object.spec.primary.workload';
  // The schema requires spec.primary; without it the CRD's own validation refuses the object.
  const primaryNamed = present('primary.workload.name', 'primary.workload.kind', 'primary.service');
  const variables: [string, string][] = [
    ['podTemplates', `[${POD_TEMPLATE_FIELDS.map((f) => `${present(f)} ? ${celString(`spec.${f}`)} : ''`).join(', ')}].filter(f, f != '')`],
    ['workloadResource', `${present('primary.workload.kind')} && ${workload}.kind == 'Deployment' ? 'deployments' : 'statefulsets'`],
    ['promotionMode', `${present('promotion.mode')} ? object.spec.promotion.mode : 'automatic'`],
    ['trafficMode', `${present('traffic.mode')} ? object.spec.traffic.mode : 'operatorService'`],
  ];
  const checks: Check[] = [
    {
      needed: 'size(variables.podTemplates) > 0',
      allowed: can('batch', "'jobs'", 'create'),
      missing: `'create Jobs (' + variables.podTemplates.join(', ') + ': the operator runs these pod templates as Jobs)'`,
    },
    ...SECRET_FIELDS.map((f): Check => ({
      needed: present(f),
      allowed: can('', "'secrets'", 'get', `object.spec.${f}`),
      missing: `'get Secret ' + object.spec.${f} + ${celString(` (spec.${f.replace(/\.name$/, '')}: the operator reads it)`)}`,
    })),
    {
      needed: primaryNamed,
      allowed: can('apps', 'variables.workloadResource', 'get', `${workload}.name`),
      missing: `'get ' + ${workload}.kind + ' ' + ${workload}.name + ' (spec.primary.workload: the standby is a copy of its pod template)'`,
    },
    {
      needed: primaryNamed,
      allowed: can('apps', 'variables.workloadResource', 'create'),
      missing:
        `'create ' + ${workload}.kind + 's (the operator creates the standby ' + object.metadata.name + '-standby from that pod template' + ` +
        `(${present('engine.generic.standbyEnv')} ? ' and spec.engine.generic.standbyEnv' : '') + ')'`,
    },
    {
      needed: `${primaryNamed} && variables.promotionMode != 'disabled'`,
      allowed: can('apps', 'variables.workloadResource', 'patch', `${workload}.name`),
      missing: `'patch ' + ${workload}.kind + ' ' + ${workload}.name + ' (a promotion fences the primary: it scales it to 0 or cuts it off with a NetworkPolicy; spec.promotion.mode disabled never promotes)'`,
    },
    {
      needed: `${primaryNamed} && variables.trafficMode == 'primaryService'`,
      allowed: can('', "'services'", 'patch', 'object.spec.primary.service'),
      missing: `'patch Service ' + object.spec.primary.service + ' (spec.traffic.mode primaryService: a promotion rewrites its selector)'`,
    },
  ];

  return {
    failurePolicy: 'Fail',
    matchConstraints: {
      resourceRules: [{ apiGroups: [GROUP], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: [PLURAL] }],
    },
    // Only what changes what the operator does: a new site, a new spec, a promote or drill
    // annotation (a drill runs the spec's pod templates as Jobs on the annotator's say).
    // (Status writes go to the status subresource, which the rules above do not match.)
    matchConditions: [
      {
        name: 'spec-or-request-changed',
        expression:
          `request.operation == 'CREATE' || object.spec != oldObject.spec || ` +
          [PROMOTE_ANNOTATION, DRILL_ANNOTATION].map((a) => `${annotationValue('object', a)} != ${annotationValue('oldObject', a)}`).join(' || '),
      },
    ],
    variables: variables.map(([name, expression]) => ({ name, expression })),
    // One validation per permission, in this order: the API server reports the first that fails.
    // (One validation naming every missing permission cannot be written: a messageExpression
    // has no authorizer, not even through a variable that uses it.)
    validations: checks.map((c) => ({
      expression: `!(${c.needed}) || ${c.allowed}`,
      reason: 'Forbidden',
      messageExpression:
        `'StandbySite ' + object.metadata.name + ': ' + request.userInfo.username + ' may not ' + ${c.missing} + ` +
        `' in namespace ' + request.namespace + '. A StandbySite makes the operator act with its own permissions, so its author must hold these: ` +
        `get the permission (RBAC), or leave out the field that needs it'`,
    })),
  };
}

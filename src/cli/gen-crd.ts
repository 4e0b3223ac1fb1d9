// `gen-crd`: writes what is generated from the API schema — the CRD (to crds/ and to the Helm
// chart's crds/) and the chart's ValidatingAdmissionPolicy template — or, with --check, checks
// that every file is current.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { stringify } from 'yaml';
import { buildAdmissionPolicySpec } from '../api/admission.ts';
import { CRD_FILE, GUARD_CRD_FILE, renderCrd, renderGuardCrd } from '../api/crd.ts';

/** The chart's copy of the CRD: Helm installs it from the chart's own crds/ folder. */
export const CHART_CRD_FILE = 'charts/standby-operator/crds/standby.dev_standbysites.yaml';

/** Every file that holds the generated CRD, relative to the repository root. */
export const CRD_FILES = [CRD_FILE, CHART_CRD_FILE] as const;

/** The StandbySiteGuard CRD, in both places too: the chart installs it in a primary's cluster. */
export const GUARD_CRD_FILES = [GUARD_CRD_FILE, 'charts/standby-operator/crds/standby.dev_standbysiteguards.yaml'] as const;

/** The chart template of the admission policy and its binding. */
export const ADMISSION_POLICY_FILE = 'charts/standby-operator/templates/admissionpolicy.yaml';

/**
 * The policy as a Helm template: the generated spec, wrapped in the chart's names and labels.
 * With watchNamespaces the binding covers only those namespaces, like the operator.
 */
export function renderAdmissionPolicy(): string {
  const spec = stringify(buildAdmissionPolicySpec(), { lineWidth: 0 }).trimEnd().replace(/^/gm, '  ');
  return `{{- /* Generated from src/api/admission.ts by \`npm run gen:crd\`. Do not edit by hand. */ -}}
{{- if and .Values.admissionPolicy.enabled (not .Values.remoteAccess.enabled) }}
# Refuses a StandbySite whose author may not do what the site makes the operator do (run its
# pod templates as Jobs, read its Secrets, copy and fence its primary): no confused deputy.
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: {{ include "standby-operator.fullname" . }}-author-permissions
  labels:
    {{- include "standby-operator.labels" . | nindent 4 }}
spec:
${spec}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: {{ include "standby-operator.fullname" . }}-author-permissions
  labels:
    {{- include "standby-operator.labels" . | nindent 4 }}
spec:
  policyName: {{ include "standby-operator.fullname" . }}-author-permissions
  validationActions: [Deny]
  {{- with .Values.watchNamespaces }}
  matchResources:
    namespaceSelector:
      matchExpressions:
        - key: kubernetes.io/metadata.name
          operator: In
          values: {{ toJson . }}
  {{- end }}
{{- end }}
`;
}

/** Every generated file and its content. */
function generated(): [string, string][] {
  const crd = renderCrd();
  const guard = renderGuardCrd();
  return [
    ...CRD_FILES.map((f): [string, string] => [f, crd]),
    ...GUARD_CRD_FILES.map((f): [string, string] => [f, guard]),
    [ADMISSION_POLICY_FILE, renderAdmissionPolicy()],
  ];
}

export async function genCrd(args: string[]): Promise<number> {
  if (args.includes('--check')) {
    let stale = 0;
    for (const [file, rendered] of generated()) {
      const current = await readFile(file, 'utf8').catch(() => '');
      if (current !== rendered) {
        console.error(`${file} is stale: run npm run gen:crd and commit the result`);
        stale++;
      } else {
        console.log(`${file} is current`);
      }
    }
    return stale === 0 ? 0 : 1;
  }
  for (const [file, rendered] of generated()) {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, rendered);
    console.log(`wrote ${file}`);
  }
  return 0;
}

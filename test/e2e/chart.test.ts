// The Helm chart (charts/standby-operator) with the helm and kubectl built with the test control
// plane: it lints, renders, applies to the real API server (server-side dry run), and its RBAC,
// installed for real, lets the operator's ServiceAccount do exactly what the operator does.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { CRD_FILE, GUARD_CRD_FILE } from '../../src/api/crd.ts';
import { validateSpec, type StandbySite } from '../../src/api/site.ts';
import { buildCopierIdentity } from '../../src/tiers/jobs.ts';
import { repoRoot, run } from '../cluster/common.ts';
import { clusterInfo, createNamespace, deleteNamespace, kubectl } from '../cluster/helpers.ts';
import { requireTool } from '../tools/support/tools.ts';

const CHART = join(repoRoot, 'charts', 'standby-operator');
/** The Lease a release uses (the chart names it after the release). */
const leaseOf = (release: string): string => `${release}-standby-operator-leader`;

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}
interface EnvVar { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }
interface Probe { httpGet?: { path: string; port: string | number } }
interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  resources?: unknown;
  securityContext?: Record<string, unknown>;
}
interface Deployment extends Obj {
  spec: {
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        serviceAccountName: string;
        automountServiceAccountToken?: boolean;
        terminationGracePeriodSeconds?: number;
        securityContext?: Record<string, unknown>;
        affinity?: { podAntiAffinity?: { preferredDuringSchedulingIgnoredDuringExecution?: unknown[]; requiredDuringSchedulingIgnoredDuringExecution?: unknown[] } };
        containers: Container[];
      };
    };
  };
}
interface Rule { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }
interface AlertRule { alert: string; expr: string; labels?: Record<string, string>; annotations?: Record<string, string> }
interface RuleGroup { name: string; rules: AlertRule[] }
interface PrometheusRule extends Obj { spec: { groups: RuleGroup[] } }

let helmHome = '';
const unique = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
const namespaces: string[] = [];
const releases: string[] = [];

/** Runs the built helm with its own cache/config/data folders (nothing from the user's helm setup). */
async function helm(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    ...process.env,
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_DATA_HOME: join(helmHome, 'data'),
  };
  return run(clusterInfo().helm, args, { env, timeoutMs: 60_000 });
}

/** `helm template` of the chart; rejects with helm's message when it fails. */
async function template(release: string, namespace: string, args: readonly string[] = []): Promise<string> {
  const res = await helm(['template', release, CHART, '--namespace', namespace, ...args]);
  if (res.code !== 0) throw new Error(`helm template failed: ${res.stderr.trim()}`);
  return res.stdout;
}

function allObjects(manifest: string): Obj[] {
  return parseAllDocuments(manifest)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
}

const isKeeper = (o: Obj) => o.metadata.labels?.['app.kubernetes.io/component'] === 'fence-keeper';

/** The operator's objects (the fence keeper's, fenceKeeper.enabled, have their own tests). */
function objects(manifest: string): Obj[] {
  return allObjects(manifest).filter((o) => !isKeeper(o));
}

/** The fence keeper's objects only. */
function keeperObjects(manifest: string): Obj[] {
  return allObjects(manifest).filter(isKeeper);
}

function toYaml(objs: readonly Obj[]): string {
  return objs.map((o) => JSON.stringify(o)).join('\n---\n');
}

const find = (objs: readonly Obj[], kind: string): Obj[] => objs.filter((o) => o.kind === kind);
const clusterScoped = new Set(['ClusterRole', 'ClusterRoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);

function deployment(objs: readonly Obj[]): Deployment {
  const [d, ...more] = find(objs, 'Deployment');
  expect(more).toEqual([]);
  return d as Deployment;
}

function envOf(c: Container, name: string): EnvVar | undefined {
  return c.env?.find((e) => e.name === name);
}

/** kubectl with stdout and stderr, never throwing (for checks on warnings and refusals). */
async function kubectlResult(args: readonly string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const { kubectl: bin, kubeconfig } = clusterInfo();
  return run(bin, ['--kubeconfig', kubeconfig, ...args], { input, timeoutMs: 60_000 });
}

interface Access {
  verb: string;
  resource: string;
  subresource?: string;
  name?: string;
  /** A namespace, or 'all' for the whole cluster; cluster-scoped resources ignore it. */
  namespace: string;
}

/**
 * A SelfSubjectAccessReview made while impersonating `user` (the API server adds a ServiceAccount's
 * groups). Not `kubectl auth can-i`: it maps the resource through discovery, and for a resource the
 * server does not serve (the CRD not installed yet) it silently asks about a group-less resource.
 * RBAC does not care whether a resource exists, so the group and resource are given as written.
 */
async function canI(user: string, a: Access): Promise<boolean> {
  const dot = a.resource.indexOf('.');
  const review = {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SelfSubjectAccessReview',
    spec: {
      resourceAttributes: {
        verb: a.verb,
        group: dot < 0 ? '' : a.resource.slice(dot + 1),
        resource: dot < 0 ? a.resource : a.resource.slice(0, dot),
        ...(a.subresource !== undefined ? { subresource: a.subresource } : {}),
        ...(a.name !== undefined ? { name: a.name } : {}),
        ...(a.namespace === 'all' ? {} : { namespace: a.namespace }),
      },
    },
  };
  const res = await kubectlResult(['create', `--as=${user}`, '--validate=false', '-o', 'json', '-f', '-'], JSON.stringify(review));
  if (res.code !== 0) throw new Error(`SelfSubjectAccessReview as ${user} for ${describeAccess(a)}: exit ${res.code}: ${res.stderr}`);
  const status = (JSON.parse(res.stdout) as { status?: { allowed?: boolean; evaluationError?: string } }).status;
  if (status?.evaluationError) throw new Error(`SelfSubjectAccessReview for ${describeAccess(a)}: ${status.evaluationError}`);
  return status?.allowed === true;
}

const describeAccess = (a: Access): string =>
  `${a.verb} ${a.resource}${a.subresource ? `/${a.subresource}` : ''}${a.name ? ` ${a.name}` : ''} in ${a.namespace}`;

/** The RBAC objects and the ServiceAccount of a rendered chart. */
function identityObjects(objs: readonly Obj[]): Obj[] {
  const kinds = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);
  return objs.filter((o) => kinds.has(o.kind));
}

async function newNamespace(prefix: string): Promise<string> {
  const ns = await createNamespace(prefix);
  namespaces.push(ns);
  return ns;
}

beforeAll(async () => {
  helmHome = await mkdtemp(join(tmpdir(), 'standby-chart-helm-'));
});

afterAll(async () => {
  for (const release of releases) {
    await kubectl(['delete', 'clusterrole,clusterrolebinding', '-l', `app.kubernetes.io/instance=${release}`, '--ignore-not-found', '--wait=false']);
  }
  for (const ns of namespaces) await deleteNamespace(ns);
  if (helmHome) await rm(helmHome, { recursive: true, force: true });
});

describe('helm lint and helm template', () => {
  test('helm lint --strict passes, with the default values and with the options set', async () => {
    const all = ['--set', 'metrics.serviceMonitor.enabled=true', '--set', 'metrics.prometheusRule.enabled=true', '--set', 'metrics.grafanaDashboard.enabled=true'];
    for (const set of [[], ['--set', 'watchNamespaces={shop,billing}'], all, ['--set', 'admissionPolicy.enabled=false']]) {
      const res = await helm(['lint', '--strict', CHART, ...set]);
      expect(res.code, `helm lint ${set.join(' ')}: ${res.stdout}${res.stderr}`).toBe(0);
      expect(res.stdout).toContain('0 chart(s) failed');
    }
  });

  test('the defaults render the operator Deployment as the operator expects it', async () => {
    const objs = objects(await template('std', 'standby-system'));
    expect(find(objs, 'ServiceMonitor')).toEqual([]);
    expect(new Set(objs.map((o) => o.kind))).toEqual(
      new Set([
        'ServiceAccount',
        'ClusterRole',
        'ClusterRoleBinding',
        'Role',
        'RoleBinding',
        'Service',
        'Deployment',
        'PodDisruptionBudget',
        'ValidatingAdmissionPolicy',
        'ValidatingAdmissionPolicyBinding',
      ]),
    );
    for (const o of objs) {
      expect(o.metadata.labels, `${o.kind} ${o.metadata.name}`).toMatchObject({
        'app.kubernetes.io/name': 'standby-operator',
        'app.kubernetes.io/instance': 'std',
        'app.kubernetes.io/managed-by': 'Helm',
        'app.kubernetes.io/version': '0.1.0',
      });
      if (!clusterScoped.has(o.kind)) expect(o.metadata.namespace).toBe('standby-system');
    }

    const d = deployment(objs);
    expect(d.spec.replicas).toBe(2);
    const pod = d.spec.template.spec;
    expect(pod.serviceAccountName).toBe(find(objs, 'ServiceAccount')[0]?.metadata.name);
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(pod.terminationGracePeriodSeconds).toBe(30);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution).toHaveLength(1);
    expect(pod.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
    expect(pod.containers).toHaveLength(1);
    const c = pod.containers[0]!;
    expect(c.image).toBe('ghcr.io/standby-operator/standby-operator:0.1.0');
    expect(c.args).toEqual(['run']);
    expect(envOf(c, 'OPERATOR_IMAGE')?.value).toBe(c.image);
    expect(envOf(c, 'LEADER_ELECT')?.value).toBe('true');
    expect(envOf(c, 'POD_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    expect(envOf(c, 'POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.namespace');
    expect(envOf(c, 'HEALTH_PORT')?.value).toBe('8080');
    expect(envOf(c, 'WATCH_NAMESPACES')).toBeUndefined();
    expect(c.ports).toEqual([{ name: 'http-metrics', containerPort: 8080, protocol: 'TCP' }]);
    expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http-metrics' });
    expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http-metrics' });
    expect(c.startupProbe?.httpGet?.path).toBe('/healthz');
    expect(c.resources).toEqual({ requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '256Mi' } });
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });

    const [svc] = find(objs, 'Service') as (Obj & { spec: { type: string; selector: Record<string, string>; ports: { name: string; port: number; targetPort: string }[] } })[];
    expect(svc?.spec.type).toBe('ClusterIP');
    expect(svc?.spec.selector).toEqual(d.spec.selector.matchLabels);
    expect(svc?.spec.ports).toEqual([{ name: 'http-metrics', port: 8080, targetPort: 'http-metrics', protocol: 'TCP' }]);
    const [pdb] = find(objs, 'PodDisruptionBudget') as (Obj & { spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } })[];
    expect(pdb?.spec.minAvailable).toBe(1);
    expect(pdb?.spec.selector.matchLabels).toEqual(d.spec.selector.matchLabels);
  });

  test('the ClusterRole holds no escalate, bind, impersonate or wildcard, and the Lease Role is named', async () => {
    const objs = objects(await template('std', 'standby-system'));
    const [clusterRole] = find(objs, 'ClusterRole') as (Obj & { rules: Rule[] })[];
    for (const rule of clusterRole?.rules ?? []) {
      expect(rule.verbs).not.toContain('*');
      expect(rule.resources).not.toContain('*');
      expect(rule.apiGroups).not.toContain('*');
      for (const v of ['escalate', 'bind', 'impersonate']) expect(rule.verbs).not.toContain(v);
    }
    const leader = (find(objs, 'Role') as (Obj & { rules: Rule[] })[]).find((r) => r.metadata.name.endsWith('-leader-election'));
    expect(leader?.metadata.namespace).toBe('standby-system');
    expect(leader?.rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [leaseOf('std')], verbs: ['get', 'update'] },
    ]);
  });

  test('watchNamespaces renders a Role and RoleBinding per namespace and nothing cluster-wide', async () => {
    const objs = objects(await template('std', 'standby-system', ['--set', 'watchNamespaces={shop,billing}']));
    expect(find(objs, 'ClusterRole')).toEqual([]);
    expect(find(objs, 'ClusterRoleBinding')).toEqual([]);
    const c = deployment(objs).spec.template.spec.containers[0]!;
    expect(envOf(c, 'WATCH_NAMESPACES')?.value).toBe('shop,billing');
    const roles = find(objs, 'Role') as (Obj & { rules: Rule[] })[];
    const bindings = find(objs, 'RoleBinding') as (Obj & { roleRef: { kind: string; name: string } })[];
    for (const ns of ['shop', 'billing']) {
      const role = roles.find((r) => r.metadata.namespace === ns);
      const binding = bindings.find((b) => b.metadata.namespace === ns);
      expect(role?.rules.some((r) => r.resources.includes('standbysites/status') && r.verbs.includes('patch'))).toBe(true);
      expect(binding?.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role?.metadata.name });
    }
    // The Lease stays in the release namespace.
    expect(roles.filter((r) => r.metadata.namespace === 'standby-system').map((r) => r.metadata.name)).toEqual(['std-standby-operator-leader-election']);
  });

  test('the admission policy: bound cluster-wide, to the watched namespaces only with watchNamespaces, and gone with admissionPolicy.enabled=false', async () => {
    type Binding = Obj & { spec: { policyName: string; validationActions: string[]; matchResources?: { namespaceSelector?: { matchExpressions: unknown[] } } } };
    const all = objects(await template('std', 'standby-system'));
    const [policy] = find(all, 'ValidatingAdmissionPolicy') as (Obj & { spec: { failurePolicy: string; validations: unknown[] } })[];
    const [binding] = find(all, 'ValidatingAdmissionPolicyBinding') as Binding[];
    expect(policy?.metadata.name).toBe('std-standby-operator-author-permissions');
    expect(policy?.spec.failurePolicy).toBe('Fail');
    expect(binding?.spec).toEqual({ policyName: 'std-standby-operator-author-permissions', validationActions: ['Deny'] });

    const [scoped] = find(objects(await template('std', 'standby-system', ['--set', 'watchNamespaces={shop,billing}'])), 'ValidatingAdmissionPolicyBinding') as Binding[];
    expect(scoped?.spec.matchResources?.namespaceSelector?.matchExpressions).toEqual([{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['shop', 'billing'] }]);

    const off = objects(await template('std', 'standby-system', ['--set', 'admissionPolicy.enabled=false']));
    expect(off.filter((o) => o.kind.startsWith('ValidatingAdmissionPolicy'))).toEqual([]);
  });

  test('metrics.serviceMonitor.enabled renders a ServiceMonitor that selects the metrics Service', async () => {
    const objs = objects(await template('std', 'standby-system', ['--set', 'metrics.serviceMonitor.enabled=true', '--set', 'metrics.serviceMonitor.labels.release=prometheus']));
    const [sm] = find(objs, 'ServiceMonitor') as (Obj & { spec: { selector: { matchLabels: Record<string, string> }; namespaceSelector: { matchNames: string[] }; endpoints: { port: string; path: string }[] } })[];
    expect(sm?.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(sm?.metadata.labels?.release).toBe('prometheus');
    expect(sm?.spec.namespaceSelector.matchNames).toEqual(['standby-system']);
    expect(sm?.spec.endpoints).toMatchObject([{ port: 'http-metrics', path: '/metrics' }]);
    const [svc] = find(objs, 'Service');
    expect(svc?.metadata.labels).toMatchObject(sm?.spec.selector.matchLabels ?? { missing: 'selector' });
    // The site metrics' own namespace label must survive the scrape (not become exported_namespace).
    expect(sm?.spec.endpoints[0]).toMatchObject({ honorLabels: true });
  });

  test('metrics.prometheusRule.enabled renders files/prometheus-rules.yaml as a PrometheusRule that promtool accepts', async () => {
    const file = parse(await readFile(join(CHART, 'files', 'prometheus-rules.yaml'), 'utf8')) as { groups: RuleGroup[] };
    const [plain] = find(objects(await template('std', 'standby-system', ['--set', 'metrics.prometheusRule.enabled=true'])), 'PrometheusRule') as PrometheusRule[];
    expect(plain?.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(plain?.spec.groups).toEqual(file.groups);
    expect(find(objects(await template('std', 'standby-system')), 'PrometheusRule')).toEqual([]);

    const [custom] = find(
      objects(
        await template('std', 'standby-system', [
          '--set', 'metrics.prometheusRule.enabled=true',
          '--set', 'metrics.prometheusRule.labels.release=prometheus',
          '--set', 'metrics.prometheusRule.additionalRuleLabels.team=platform',
          '--set', 'metrics.prometheusRule.runbookBaseURL=https://wiki.example/dr/',
        ]),
      ),
      'PrometheusRule',
    ) as PrometheusRule[];
    expect(custom?.metadata.labels?.release).toBe('prometheus');
    const rules = custom!.spec.groups.flatMap((g) => g.rules);
    expect(rules.length).toBe(file.groups.flatMap((g) => g.rules).length);
    for (const r of rules) {
      expect(r.labels, r.alert).toMatchObject({ team: 'platform', severity: expect.stringMatching(/^(warning|critical)$/) as unknown });
      expect(r.annotations?.runbook_url, r.alert).toBe(`https://wiki.example/dr#${r.alert.toLowerCase()}`);
    }
    const dir = await mkdtemp(join(tmpdir(), 'standby-rules-'));
    try {
      await writeFile(join(dir, 'rendered.yaml'), JSON.stringify({ groups: custom!.spec.groups }));
      const checked = await run(requireTool('promtool', 'prometheus'), ['check', 'rules', join(dir, 'rendered.yaml')]);
      expect(checked.code, checked.stdout + checked.stderr).toBe(0);
      expect(checked.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('metrics.grafanaDashboard.enabled renders the dashboard as a ConfigMap for the Grafana sidecar', async () => {
    const [cm] = find(
      objects(await template('std', 'standby-system', ['--set', 'metrics.grafanaDashboard.enabled=true', '--set', 'metrics.grafanaDashboard.annotations.grafana_folder=DR'])),
      'ConfigMap',
    ) as (Obj & { data: Record<string, string>; metadata: { annotations?: Record<string, string> } })[];
    expect(cm?.metadata.labels?.grafana_dashboard).toBe('1');
    expect(cm?.metadata.annotations).toEqual({ grafana_folder: 'DR' });
    const dashboard = JSON.parse(cm!.data['standby-operator.json']!) as { uid: string };
    expect(dashboard).toEqual(JSON.parse(await readFile(join(CHART, 'files', 'grafana-dashboard.json'), 'utf8')));
    expect(dashboard.uid).toBe('standby-operator');
    expect(find(objects(await template('std', 'standby-system')), 'ConfigMap')).toEqual([]);
  });

  test("the chart's NOTES warn while the image is the unpublished default, and not once an image is set", async () => {
    const notes = async (args: string[]) => {
      const res = await helm(['install', 'std', CHART, '--namespace', 'standby-system', '--dry-run=client', ...args]);
      expect(res.code, res.stderr).toBe(0);
      return res.stdout.slice(res.stdout.indexOf('NOTES:'));
    };
    const warned = await notes([]);
    expect(warned).toContain('WARNING: image.repository is the chart\'s default, ghcr.io/standby-operator/standby-operator, and no image is\npublished there yet');
    expect(warned).toContain('kind load docker-image standby-operator:dev');
    expect(await notes(['--set', 'image.repository=registry.example/standby-operator', '--set', 'image.tag=dev'])).not.toContain('WARNING');
  });

  test('--include-crds renders the generated CRDs: StandbySite, and StandbySiteGuard for a primary site', async () => {
    const objs = objects(await template('std', 'standby-system', ['--include-crds']));
    const crds = find(objs, 'CustomResourceDefinition');
    expect(crds.map((c) => c.metadata.name).sort()).toEqual(['standbysiteguards.standby.dev', 'standbysites.standby.dev']);
    for (const file of [CRD_FILE, GUARD_CRD_FILE]) {
      const [generated] = objects(await readFile(join(repoRoot, file), 'utf8'));
      expect(crds.find((c) => c.metadata.name === generated?.metadata.name)).toEqual(generated);
    }
  });

  test('the schema refuses wrong values and replicas without leader election', async () => {
    for (const set of ['logLevel=loud', 'replicas=3', 'watchNamespaces={Not_A_Namespace}', 'image.pullPolicy=Sometimes']) {
      const res = await helm(['template', 'std', CHART, '--set', set]);
      expect(res.code, set).not.toBe(0);
      expect(res.stderr, set).toContain('schema');
    }
    const res = await helm(['template', 'std', CHART, '--set', 'leaderElection.enabled=false']);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('leaderElection.enabled');
    // One replica may run without leader election.
    const single = await helm(['template', 'std', CHART, '--set', 'leaderElection.enabled=false', '--set', 'replicaCount=1']);
    expect(single.code, single.stderr).toBe(0);
    expect(find(objects(single.stdout), 'PodDisruptionBudget')).toEqual([]);
  });
});

describe('against the API server', () => {
  test('the rendered chart (with its CRD, without the ServiceMonitor) applies with a server-side dry run, within the restricted Pod Security Standard', async () => {
    const ns = await newNamespace('chart-dry');
    await kubectl(['label', 'namespace', ns, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/warn=restricted']);
    const release = `dry-${unique}`;
    const objs = allObjects(await template(release, ns, ['--include-crds'])).filter((o) => o.kind !== 'ServiceMonitor');
    expect(objs.filter(isKeeper).map((o) => o.kind)).toContain('Deployment');
    const res = await kubectlResult(['apply', '--server-side', '--dry-run=server', '-f', '-'], toYaml(objs));
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).not.toMatch(/violate PodSecurity/);
    for (const o of objs) expect(res.stdout).toContain(`${o.metadata.name} serverside-applied (server dry run)`);

    // The check above is not vacuous: a container allowed to escalate is reported.
    const loose = objects(await template(release, ns, ['--set', 'securityContext.allowPrivilegeEscalation=true'])).filter((o) => o.kind === 'Deployment');
    const warned = await kubectlResult(['apply', '--server-side', '--dry-run=server', '-f', '-'], toYaml(loose));
    expect(warned.stderr).toMatch(/would violate PodSecurity "restricted:latest": allowPrivilegeEscalation/);

    // With watchNamespaces, too.
    const watched = await newNamespace('chart-dry-watched');
    const nsObjs = allObjects(await template(release, ns, ['--set', `watchNamespaces={${watched}}`]));
    const nsRes = await kubectlResult(['apply', '--server-side', '--dry-run=server', '-f', '-'], toYaml(nsObjs));
    expect(nsRes.code, nsRes.stderr).toBe(0);
    expect(nsRes.stdout).toContain(`role.rbac.authorization.k8s.io/${release}-standby-operator serverside-applied (server dry run)`);
  });

  describe('the RBAC, installed for real, for all namespaces', () => {
    const release = `rbac-${unique}`;
    let opNs = '';
    let appNs = '';
    let sa = '';

    beforeAll(async () => {
      opNs = await newNamespace('chart-op');
      appNs = await newNamespace('chart-app');
      releases.push(release);
      const objs = identityObjects(objects(await template(release, opNs)));
      expect(objs.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'ServiceAccount']);
      await kubectl(['apply', '--server-side', '-f', '-'], { input: toYaml(objs) });
      sa = `system:serviceaccount:${opNs}:${find(objs, 'ServiceAccount')[0]!.metadata.name}`;
    });

    const can = (): Access[] => [
      { verb: 'get', resource: 'standbysites.standby.dev', namespace: appNs },
      { verb: 'list', resource: 'standbysites.standby.dev', namespace: 'all' },
      { verb: 'watch', resource: 'standbysites.standby.dev', namespace: 'all' },
      { verb: 'patch', resource: 'standbysites.standby.dev', subresource: 'status', namespace: appNs },
      { verb: 'update', resource: 'standbysites.standby.dev', subresource: 'status', namespace: appNs },
      // Only for its finalizer standby.dev/site-guard (RBAC cannot narrow a verb to a field); update stays denied.
      { verb: 'patch', resource: 'standbysites.standby.dev', namespace: appNs },
      { verb: 'patch', resource: 'statefulsets.apps', namespace: appNs },
      { verb: 'create', resource: 'deployments.apps', namespace: appNs },
      { verb: 'watch', resource: 'pods', namespace: 'all' },
      // A promoted reduced standby grows in place: only the resize subresource (requests and limits).
      { verb: 'patch', resource: 'pods', subresource: 'resize', namespace: appNs },
      { verb: 'patch', resource: 'services', namespace: appNs },
      { verb: 'delete', resource: 'persistentvolumeclaims', namespace: appNs },
      { verb: 'create', resource: 'serviceaccounts', namespace: appNs },
      { verb: 'get', resource: 'secrets', namespace: appNs },
      { verb: 'create', resource: 'events', namespace: appNs },
      { verb: 'create', resource: 'cronjobs.batch', namespace: appNs },
      { verb: 'delete', resource: 'jobs.batch', namespace: appNs },
      { verb: 'create', resource: 'networkpolicies.networking.k8s.io', namespace: appNs },
      { verb: 'create', resource: 'roles.rbac.authorization.k8s.io', namespace: appNs },
      { verb: 'patch', resource: 'rolebindings.rbac.authorization.k8s.io', namespace: appNs },
      { verb: 'create', resource: 'volumesnapshots.snapshot.storage.k8s.io', namespace: appNs },
      { verb: 'list', resource: 'endpointslices.discovery.k8s.io', namespace: appNs },
      { verb: 'create', resource: 'leases.coordination.k8s.io', namespace: opNs },
      { verb: 'get', resource: 'leases.coordination.k8s.io', name: leaseOf(release), namespace: opNs },
      { verb: 'update', resource: 'leases.coordination.k8s.io', name: leaseOf(release), namespace: opNs },
    ];

    const cannot = (): Access[] => [
      // The spec is the user's: the operator writes only the status.
      { verb: 'update', resource: 'standbysites.standby.dev', namespace: appNs },
      { verb: 'create', resource: 'standbysites.standby.dev', namespace: appNs },
      { verb: 'delete', resource: 'standbysites.standby.dev', namespace: appNs },
      // Secrets by name only.
      { verb: 'list', resource: 'secrets', namespace: appNs },
      { verb: 'watch', resource: 'secrets', namespace: 'all' },
      { verb: 'create', resource: 'secrets', namespace: appNs },
      // Pods are read, never run or entered.
      { verb: 'create', resource: 'pods', namespace: appNs },
      { verb: 'delete', resource: 'pods', namespace: appNs },
      { verb: 'patch', resource: 'pods', namespace: appNs },
      { verb: 'create', resource: 'pods', subresource: 'exec', namespace: appNs },
      { verb: 'update', resource: 'jobs.batch', namespace: appNs },
      { verb: 'list', resource: 'configmaps', namespace: appNs },
      // Nothing cluster-scoped, no way to gain more.
      { verb: 'delete', resource: 'nodes', namespace: 'all' },
      { verb: 'delete', resource: 'namespaces', namespace: 'all' },
      { verb: 'create', resource: 'clusterrolebindings.rbac.authorization.k8s.io', namespace: 'all' },
      { verb: 'create', resource: 'clusterroles.rbac.authorization.k8s.io', namespace: 'all' },
      { verb: 'escalate', resource: 'roles.rbac.authorization.k8s.io', namespace: appNs },
      { verb: 'bind', resource: 'roles.rbac.authorization.k8s.io', namespace: appNs },
      { verb: 'impersonate', resource: 'serviceaccounts', namespace: appNs },
      { verb: 'delete', resource: 'customresourcedefinitions.apiextensions.k8s.io', namespace: 'all' },
      { verb: 'update', resource: 'customresourcedefinitions.apiextensions.k8s.io', namespace: 'all' },
      { verb: 'create', resource: 'validatingwebhookconfigurations.admissionregistration.k8s.io', namespace: 'all' },
      // Leases: only its own, only in its own namespace.
      { verb: 'create', resource: 'leases.coordination.k8s.io', namespace: appNs },
      { verb: 'get', resource: 'leases.coordination.k8s.io', name: 'someone-elses-lease', namespace: opNs },
      { verb: 'delete', resource: 'leases.coordination.k8s.io', name: leaseOf(release), namespace: opNs },
    ];

    test('the ServiceAccount can do what the operator does', async () => {
      const denied: string[] = [];
      for (const a of can()) if (!(await canI(sa, a))) denied.push(describeAccess(a));
      expect(denied).toEqual([]);
    });

    test('the ServiceAccount cannot do what the operator does not need', async () => {
      const allowed: string[] = [];
      for (const a of cannot()) if (await canI(sa, a)) allowed.push(describeAccess(a));
      expect(allowed).toEqual([]);
    });

    test("it can create a site's copier ServiceAccount, Role and RoleBinding (escalation prevention lets it grant that Role)", async () => {
      const site = await exampleSite(appNs);
      // Without ownerReferences: the site is not stored, and the garbage collector would remove them.
      const identity = buildCopierIdentity(site).map((o) => ({ ...o, metadata: { ...o.metadata, ownerReferences: undefined } }));
      const res = await kubectlResult(['create', `--as=${sa}`, '-f', '-'], identity.map((o) => JSON.stringify(o)).join('\n'));
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toContain(`role.rbac.authorization.k8s.io/${site.metadata.name}-copier created`);
      expect(res.stdout).toContain(`rolebinding.rbac.authorization.k8s.io/${site.metadata.name}-copier created`);
    });

    test('it cannot grant what it does not hold', async () => {
      const role = {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'more-than-the-operator', namespace: appNs },
        rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }],
      };
      const res = await kubectlResult(['create', `--as=${sa}`, '-f', '-'], JSON.stringify(role));
      expect(res.code).not.toBe(0);
      expect(res.stderr).toMatch(/forbidden: user ".*" \(groups=.*\) is attempting to grant RBAC permissions not currently held/);

      const binding = {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'bind-admin', namespace: appNs },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' },
        subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: appNs }],
      };
      const bound = await kubectlResult(['create', `--as=${sa}`, '-f', '-'], JSON.stringify(binding));
      expect(bound.code).not.toBe(0);
      expect(bound.stderr).toContain('forbidden');
    });
  });

  describe('the RBAC, installed for real, with watchNamespaces', () => {
    const release = `rbacns-${unique}`;
    let opNs = '';
    let watchedNs = '';
    let otherNs = '';
    let sa = '';

    beforeAll(async () => {
      opNs = await newNamespace('chart-op');
      watchedNs = await newNamespace('chart-watched');
      otherNs = await newNamespace('chart-other');
      releases.push(release);
      const objs = identityObjects(objects(await template(release, opNs, ['--set', `watchNamespaces={${watchedNs}}`])));
      expect(objs.map((o) => o.kind).sort()).toEqual(['Role', 'Role', 'RoleBinding', 'RoleBinding', 'ServiceAccount']);
      await kubectl(['apply', '--server-side', '-f', '-'], { input: toYaml(objs) });
      sa = `system:serviceaccount:${opNs}:${find(objs, 'ServiceAccount')[0]!.metadata.name}`;
    });

    test('it acts in the watched namespace only', async () => {
      const both = (a: Omit<Access, 'namespace'>): [Access, Access] => [{ ...a, namespace: watchedNs }, { ...a, namespace: otherNs }];
      const checks = [
        both({ verb: 'watch', resource: 'standbysites.standby.dev' }),
        both({ verb: 'patch', resource: 'standbysites.standby.dev', subresource: 'status' }),
        both({ verb: 'create', resource: 'cronjobs.batch' }),
        both({ verb: 'get', resource: 'secrets' }),
        both({ verb: 'create', resource: 'roles.rbac.authorization.k8s.io' }),
        both({ verb: 'list', resource: 'pods' }),
      ];
      for (const [inWatched, inOther] of checks) {
        expect(await canI(sa, inWatched), describeAccess(inWatched)).toBe(true);
        expect(await canI(sa, inOther), describeAccess(inOther)).toBe(false);
      }
      // Nothing across all namespaces, and the Lease still in its own namespace.
      expect(await canI(sa, { verb: 'list', resource: 'standbysites.standby.dev', namespace: 'all' })).toBe(false);
      expect(await canI(sa, { verb: 'update', resource: 'leases.coordination.k8s.io', name: leaseOf(release), namespace: opNs })).toBe(true);
    });

    test("it can create a site's copier Role in the watched namespace, not elsewhere", async () => {
      for (const [ns, ok] of [[watchedNs, true], [otherNs, false]] as const) {
        const site = await exampleSite(ns);
        const [, role] = buildCopierIdentity(site);
        const res = await kubectlResult(['create', `--as=${sa}`, '-f', '-'], JSON.stringify({ ...role, metadata: { ...role.metadata, ownerReferences: undefined } }));
        expect(res.code === 0, `${ns}: ${res.stderr}`).toBe(ok);
      }
    });
  });
});

describe('the fence keeper (fenceKeeper)', () => {
  test('the defaults render its own Deployment: one replica, `fence-keeper`, away from the operator pods and never selected by them', async () => {
    const manifest = await template('std', 'standby-system');
    const keeper = keeperObjects(manifest);
    expect(keeper.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'ServiceAccount']);
    const d = deployment(keeper);
    const op = deployment(objects(manifest));
    expect(d.metadata.name).toBe('std-standby-operator-fence-keeper');
    expect(d.spec.replicas).toBe(1);
    const pod = d.spec.template.spec;
    expect(pod.serviceAccountName).toBe(find(keeper, 'ServiceAccount')[0]?.metadata.name);
    expect(pod.serviceAccountName).not.toBe(op.spec.template.spec.serviceAccountName);
    const c = pod.containers[0]!;
    expect(c.args).toEqual(['fence-keeper']);
    expect(c.image).toBe(op.spec.template.spec.containers[0]!.image);
    expect(envOf(c, 'HEALTH_PORT')?.value).toBe('8081');
    expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http-metrics' });
    // Its pods are not the operator's: neither selector matches the other's pods.
    const labels = (d as unknown as { spec: { template: { metadata: { labels: Record<string, string> } } } }).spec.template.metadata.labels;
    const opLabels = (op as unknown as { spec: { template: { metadata: { labels: Record<string, string> } } } }).spec.template.metadata.labels;
    const matches = (sel: Record<string, string>, l: Record<string, string>) => Object.entries(sel).every(([k, v]) => l[k] === v);
    expect(matches(op.spec.selector.matchLabels, labels)).toBe(false);
    expect(matches(d.spec.selector.matchLabels, opLabels)).toBe(false);
    expect(matches(d.spec.selector.matchLabels, labels)).toBe(true);
    // Anti-affinity to the operator's pods (soft by default).
    type Term = { labelSelector?: { matchLabels?: Record<string, string> }; topologyKey?: string };
    const [term] = (pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) as { podAffinityTerm: Term }[];
    expect(term?.podAffinityTerm.labelSelector?.matchLabels).toEqual(op.spec.selector.matchLabels);
    expect(term?.podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
    const hard = deployment(keeperObjects(await template('std', 'standby-system', ['--set', 'fenceKeeper.podAntiAffinityPreset=hard']))).spec.template.spec;
    const [required] = (hard.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) as Term[];
    expect(required?.labelSelector?.matchLabels).toEqual(op.spec.selector.matchLabels);
    // Its rules: read guards and workloads, get and create NetworkPolicies, Events; nothing more.
    const [role] = find(keeper, 'ClusterRole') as (Obj & { rules: Rule[] })[];
    expect(role?.rules).toEqual([
      { apiGroups: ['standby.dev'], resources: ['standbysiteguards'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['apps'], resources: ['statefulsets', 'deployments'], verbs: ['get'] },
      { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['get', 'create'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
    ]);
  });

  test('off with fenceKeeper.enabled=false and with remoteAccess; with watchNamespaces a Role per namespace', async () => {
    expect(keeperObjects(await template('std', 'standby-system', ['--set', 'fenceKeeper.enabled=false']))).toEqual([]);
    expect(keeperObjects(await template('std', 'standby-system', ['--set', 'remoteAccess.enabled=true', '--set', 'remoteAccess.namespaces={shop}']))).toEqual([]);
    const ns = keeperObjects(await template('std', 'standby-system', ['--set', 'watchNamespaces={shop,billing}']));
    expect(ns.map((o) => o.kind).sort()).toEqual(['Deployment', 'Role', 'Role', 'RoleBinding', 'RoleBinding', 'ServiceAccount']);
    expect(find(ns, 'Role').map((r) => r.metadata.namespace).sort()).toEqual(['billing', 'shop']);
    expect(envOf(deployment(ns).spec.template.spec.containers[0]!, 'WATCH_NAMESPACES')?.value).toBe('shop,billing');
    const bad = await helm(['template', 'std', CHART, '--set', 'fenceKeeper.podAntiAffinityPreset=always']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('fenceKeeper');
  });

  describe('its RBAC, installed for real', () => {
    const release = `keeper-${unique}`;
    let opNs = '';
    let appNs = '';
    let sa = '';

    beforeAll(async () => {
      opNs = await newNamespace('chart-keeper');
      appNs = await newNamespace('chart-keeper-app');
      releases.push(release);
      const objs = identityObjects(keeperObjects(await template(release, opNs)));
      expect(objs.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'ServiceAccount']);
      await kubectl(['apply', '--server-side', '-f', '-'], { input: toYaml(objs) });
      sa = `system:serviceaccount:${opNs}:${find(objs, 'ServiceAccount')[0]!.metadata.name}`;
    });

    test('the keeper can read the guards and the primary workloads, create the fence and record Events', async () => {
      const denied: string[] = [];
      for (const a of [
        { verb: 'list', resource: 'standbysiteguards.standby.dev', namespace: 'all' },
        { verb: 'watch', resource: 'standbysiteguards.standby.dev', namespace: 'all' },
        { verb: 'get', resource: 'standbysiteguards.standby.dev', namespace: appNs },
        { verb: 'get', resource: 'statefulsets.apps', namespace: appNs },
        { verb: 'get', resource: 'deployments.apps', namespace: appNs },
        { verb: 'get', resource: 'networkpolicies.networking.k8s.io', namespace: appNs },
        { verb: 'create', resource: 'networkpolicies.networking.k8s.io', namespace: appNs },
        { verb: 'create', resource: 'events', namespace: appNs },
        { verb: 'patch', resource: 'events', namespace: appNs },
      ] satisfies Access[]) if (!(await canI(sa, a))) denied.push(describeAccess(a));
      expect(denied).toEqual([]);
    });

    test('the keeper cannot lift or change a fence, write a guard, read Secrets or change workloads', async () => {
      const allowed: string[] = [];
      for (const a of [
        { verb: 'delete', resource: 'networkpolicies.networking.k8s.io', namespace: appNs },
        { verb: 'update', resource: 'networkpolicies.networking.k8s.io', namespace: appNs },
        { verb: 'patch', resource: 'networkpolicies.networking.k8s.io', namespace: appNs },
        { verb: 'update', resource: 'standbysiteguards.standby.dev', namespace: appNs },
        { verb: 'patch', resource: 'standbysiteguards.standby.dev', subresource: 'status', namespace: appNs },
        { verb: 'delete', resource: 'standbysiteguards.standby.dev', namespace: appNs },
        { verb: 'get', resource: 'secrets', namespace: appNs },
        { verb: 'patch', resource: 'statefulsets.apps', namespace: appNs },
        { verb: 'list', resource: 'statefulsets.apps', namespace: appNs },
        { verb: 'get', resource: 'standbysites.standby.dev', namespace: appNs },
        { verb: 'create', resource: 'leases.coordination.k8s.io', namespace: opNs },
        { verb: 'list', resource: 'pods', namespace: appNs },
      ] satisfies Access[]) if (await canI(sa, a)) allowed.push(describeAccess(a));
      expect(allowed).toEqual([]);
    });
  });
});

/** The StandbySite of examples/cold.yaml, as the controller sees it, in `namespace`. */
async function exampleSite(namespace: string): Promise<StandbySite> {
  const docs = parseAllDocuments(await readFile(join(repoRoot, 'examples', 'cold.yaml'), 'utf8')).map((d) => d.toJS() as { kind?: string; metadata?: { name?: string }; spec?: unknown });
  const doc = docs.find((d) => d.kind === 'StandbySite');
  const name = doc?.metadata?.name ?? 'site';
  const v = validateSpec(doc?.spec, name);
  if (!v.ok) throw new Error(`examples/cold.yaml: ${JSON.stringify(v.problems)}`);
  return { metadata: { name, namespace, uid: '00000000-0000-4000-8000-000000000000' }, spec: v.spec, status: {} };
}

// The chart's ValidatingAdmissionPolicy on the real API server, with real identities
// (impersonated ServiceAccounts bound to real Roles): a StandbySite author who may not do what
// the site makes the operator do is refused, with the missing permissions named; one who may is
// accepted. No operator runs here: admission alone decides.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { clusterInfo, createNamespace, deleteNamespace, kubectl, kubectlJson, waitFor } from '../cluster/helpers.ts';
import { run } from '../cluster/common.ts';
import { renderChart, type ChartObject } from './support/chart.ts';
import { installCrd } from './support/operator.ts';

const release = `adm-${Date.now().toString(36)}`;
let ns = '';
let otherNs = '';
let policy: ChartObject[] = [];

const primary = { workload: { kind: 'StatefulSet', name: 'db' }, service: 'db' };
const pod = { spec: { containers: [{ name: 'main', image: 'example.invalid/tool:1' }] } };
const specs = {
  plain: { tier: 'hot', primary },
  jobTemplate: { tier: 'cold', primary, cold: { schedule: '@daily', method: 'job', jobTemplate: pod, restoreJobTemplate: pod } },
  secret: { tier: 'hot', primary, engine: { type: 'postgresql', postgresql: { replicationSecret: 'pg-repl' } } },
};

/** Roles, by what their holder may do in the namespace. */
const rules = {
  sites: { apiGroups: ['standby.dev'], resources: ['standbysites'], verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'] },
  getWorkload: { apiGroups: ['apps'], resources: ['statefulsets'], verbs: ['get'] },
  createWorkload: { apiGroups: ['apps'], resources: ['statefulsets'], verbs: ['create'] },
  patchWorkload: { apiGroups: ['apps'], resources: ['statefulsets'], verbs: ['patch'] },
  jobs: { apiGroups: ['batch'], resources: ['jobs'], verbs: ['create'] },
  secret: { apiGroups: [''], resources: ['secrets'], resourceNames: ['pg-repl'], verbs: ['get'] },
};
/**
 * author: may only manage StandbySites. reader: and read the primary. copier: and create
 * StatefulSets. owner: and patch them. trusted: and create Jobs and read the Secret.
 */
const identities = {
  author: [rules.sites],
  reader: [rules.sites, rules.getWorkload],
  copier: [rules.sites, rules.getWorkload, rules.createWorkload],
  owner: [rules.sites, rules.getWorkload, rules.createWorkload, rules.patchWorkload],
  trusted: [rules.sites, rules.getWorkload, rules.createWorkload, rules.patchWorkload, rules.jobs, rules.secret],
} as const;
type Who = keyof typeof identities;

const user = (who: Who, namespace = ns): string => `system:serviceaccount:${namespace}:${who}`;

async function grant(namespace: string): Promise<void> {
  const objs = Object.entries(identities).flatMap(([who, r]) => [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: who, namespace } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: who, namespace }, rules: r },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: who, namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: who },
      subjects: [{ kind: 'ServiceAccount', name: who, namespace }],
    },
  ]);
  await kubectl(['apply', '-f', '-'], { input: objs.map((o) => JSON.stringify(o)).join('\n---\n') });
}

function site(name: string, spec: unknown, namespace = ns, annotations?: Record<string, string>): string {
  return JSON.stringify({ apiVersion: 'standby.dev/v1alpha1', kind: 'StandbySite', metadata: { name, namespace, ...(annotations ? { annotations } : {}) }, spec });
}

/** kubectl as `who` (impersonated), never throwing. */
async function as(who: string, args: readonly string[], input?: string): Promise<{ code: number; out: string }> {
  const { kubectl: bin, kubeconfig } = clusterInfo();
  const res = await run(bin, ['--kubeconfig', kubeconfig, `--as=${who}`, ...args], { input, timeoutMs: 60_000 });
  return { code: res.code, out: `${res.stdout}${res.stderr}` };
}

/** Creates a site as `who`; the API server's answer, and whether it was stored. */
async function create(who: string, name: string, spec: unknown, namespace = ns): Promise<{ accepted: boolean; out: string }> {
  const res = await as(who, ['create', '-f', '-'], site(name, spec, namespace));
  if (res.code === 0) await kubectl(['-n', namespace, 'delete', 'standbysite', name, '--wait=false']);
  return { accepted: res.code === 0, out: res.out };
}

const refusedBy = (out: string): boolean => out.includes(`ValidatingAdmissionPolicy '${release}-standby-operator-author-permissions'`);

beforeAll(async () => {
  await installCrd();
  ns = await createNamespace('admission');
  otherNs = await createNamespace('admission-other');
  await grant(ns);
  await grant(otherNs);
  // The binding of a release with watchNamespaces covers only those: this file's namespace.
  policy = (await renderChart(release, 'standby-system', ['--set', `watchNamespaces={${ns}}`])).filter((o) =>
    o.kind.startsWith('ValidatingAdmissionPolicy'),
  );
  expect(policy.map((o) => o.kind).sort()).toEqual(['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);
  await kubectl(['apply', '-f', '-'], { input: policy.map((o) => JSON.stringify(o)).join('\n---\n') });
  // The API server enforces a new policy once its informers have it: wait for the first refusal.
  await waitFor(async () => refusedBy((await create(user('author'), 'warm-up', specs.jobTemplate)).out), {
    timeoutMs: 30_000,
    description: 'the admission policy to take effect',
  });
});

afterAll(async () => {
  if (policy.length > 0) {
    await kubectl(['delete', '--ignore-not-found', '-f', '-'], { input: policy.map((o) => JSON.stringify(o)).join('\n---\n') });
  }
  for (const n of [ns, otherNs]) if (n) await deleteNamespace(n);
});

test('the policy type-checks against the CRD: no warnings', async () => {
  const name = `${release}-standby-operator-author-permissions`;
  const status = await waitFor(
    async () => {
      const vap = await kubectlJson<{ metadata: { generation: number }; status?: { observedGeneration?: number; typeChecking?: { expressionWarnings?: unknown[] } } }>([
        'get',
        'validatingadmissionpolicy',
        name,
      ]);
      return vap.status?.observedGeneration === vap.metadata.generation ? vap.status : undefined;
    },
    { timeoutMs: 30_000, description: 'the policy status (type checking)' },
  );
  expect(status.typeChecking?.expressionWarnings ?? []).toEqual([]);
});

describe('an author who may only create StandbySites', () => {
  test('is refused a site with pod templates: it may not create Jobs', async () => {
    const res = await create(user('author'), 'jobs', specs.jobTemplate);
    expect(res.accepted).toBe(false);
    expect(refusedBy(res.out)).toBe(true);
    expect(res.out).toContain(`StandbySite jobs: ${user('author')} may not create Jobs (spec.cold.jobTemplate, spec.cold.restoreJobTemplate: the operator runs these pod templates as Jobs)`);
    expect(res.out).toContain(`in namespace ${ns}`);
  });

  test('is refused a site that names a Secret: it may not get it', async () => {
    const res = await create(user('author'), 'secret', specs.secret);
    expect(res.accepted).toBe(false);
    expect(res.out).toContain('may not get Secret pg-repl (spec.engine.postgresql.replicationSecret: the operator reads it)');
    expect(res.out).not.toContain('create Jobs');
  });

  test('is refused a site for a workload it may not read', async () => {
    const res = await create(user('author'), 'plain', specs.plain);
    expect(res.accepted).toBe(false);
    expect(res.out).toContain(`StandbySite plain: ${user('author')} may not get StatefulSet db (spec.primary.workload: the standby is a copy of its pod template) in namespace ${ns}`);
  });
  test('is not refused outside the namespaces the binding covers', async () => {
    const res = await create(user('author', otherNs), 'jobs', specs.jobTemplate, otherNs);
    expect(res.out).not.toContain('ValidatingAdmissionPolicy');
    expect(res.accepted).toBe(true);
  });
});

describe('an author who may read the primary workload', () => {
  test('is refused a site if it may not create the standby, a StatefulSet', async () => {
    const res = await create(user('reader'), 'plain', specs.plain);
    expect(res.accepted).toBe(false);
    expect(res.out).toContain('may not create StatefulSets (the operator creates the standby plain-standby from that pod template) in namespace');
    const env = await create(user('reader'), 'env', { ...specs.plain, engine: { generic: { standbyEnv: [{ name: 'ROLE', value: 'standby' }] } } });
    expect(env.out).toContain('may not create StatefulSets (the operator creates the standby env-standby from that pod template and spec.engine.generic.standbyEnv)');
  });

  test('and create StatefulSets is refused a site that may promote, since fencing changes the primary', async () => {
    const res = await create(user('copier'), 'plain', specs.plain);
    expect(res.accepted).toBe(false);
    expect(res.out).toContain('may not patch StatefulSet db (a promotion fences the primary: it scales it to 0 or cuts it off with a NetworkPolicy');
    // With promotion disabled nothing fences the primary, so patching it is not needed.
    const disabled = await create(user('copier'), 'never', { ...specs.plain, promotion: { mode: 'disabled' } });
    expect(disabled.out).not.toContain('ValidatingAdmissionPolicy');
    expect(disabled.accepted).toBe(true);
  });
});

describe('an author who may also manage the primary workload', () => {
  test('is accepted for a site without pod templates or Secrets', async () => {
    const res = await create(user('owner'), 'plain', specs.plain);
    expect(res.out).not.toContain('ValidatingAdmissionPolicy');
    expect(res.accepted).toBe(true);
  });

  test('is refused pod templates and Secrets, and told exactly that', async () => {
    const jobs = await create(user('owner'), 'jobs', specs.jobTemplate);
    expect(jobs.accepted).toBe(false);
    expect(jobs.out).toMatch(/may not create Jobs \(spec\.cold\.jobTemplate, spec\.cold\.restoreJobTemplate: [^)]*\) in namespace/);
    const secret = await create(user('owner'), 'secret', specs.secret);
    expect(secret.accepted).toBe(false);
    expect(secret.out).toMatch(/may not get Secret pg-repl \([^)]*\) in namespace/);
  });

  test('is refused patching the primary Service in primaryService mode', async () => {
    const res = await create(user('owner'), 'switch', { ...specs.plain, traffic: { mode: 'primaryService' } });
    expect(res.accepted).toBe(false);
    expect(res.out).toMatch(/may not patch Service db \(spec\.traffic\.mode primaryService: a promotion rewrites its selector\) in namespace/);
  });
});

describe('an author who may also create Jobs and read the Secret', () => {
  test('is accepted for a site with pod templates and for one that names the Secret', async () => {
    for (const [name, spec] of [['jobs', specs.jobTemplate], ['secret', specs.secret]] as const) {
      const res = await create(user('trusted'), name, spec);
      expect(res.out, name).not.toContain('ValidatingAdmissionPolicy');
      expect(res.accepted, name).toBe(true);
    }
  });
});

describe('updates', () => {
  test("a spec change is judged by its author's permissions; a label is not; a promote annotation is", async () => {
    const created = await as(user('trusted'), ['create', '-f', '-'], site('shared', specs.plain));
    expect(created.code, created.out).toBe(0);
    try {
      const addTemplate = await as(user('owner'), ['-n', ns, 'patch', 'standbysite', 'shared', '--type=merge', '-p', JSON.stringify({ spec: { tier: 'cold', cold: specs.jobTemplate.cold } })]);
      expect(addTemplate.code).not.toBe(0);
      expect(addTemplate.out).toContain('may not create Jobs (spec.cold.jobTemplate, spec.cold.restoreJobTemplate');

      const label = await as(user('author'), ['-n', ns, 'label', 'standbysite', 'shared', 'team=data']);
      expect(label.code, label.out).toBe(0);

      const promote = await as(user('copier'), ['-n', ns, 'annotate', 'standbysite', 'shared', 'standby.dev/promote=now']);
      expect(promote.code).not.toBe(0);
      expect(promote.out).toContain('patch StatefulSet db (a promotion fences the primary');
      const owner = await as(user('owner'), ['-n', ns, 'annotate', 'standbysite', 'shared', 'standby.dev/promote=now']);
      expect(owner.code, owner.out).toBe(0);
    } finally {
      await kubectl(['-n', ns, 'delete', 'standbysite', 'shared', '--wait=false']);
    }
  });
});

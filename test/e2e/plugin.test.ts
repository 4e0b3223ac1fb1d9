// kubectl standby (src/plugin) against the real control plane and the real operator: run as a
// separate process, found by kubectl on PATH, as an ordinary user with namespace rights only.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { clusterInfo, apply, createNamespace, deleteNamespace, kubectl, kubectlJson } from '../cluster/helpers.ts';
import { run } from '../cluster/common.ts';
import { getSite, installCrd, runCopy, startOperator, statefulPrimary, waitForSite, type OperatorProcess } from './support/operator.ts';
import { PLUGIN, keepSample, kubeconfigWith, plugin, resetSamples } from './support/plugin.ts';

let op: OperatorProcess;
let ns = '';
let idle = '';
let dir = '';
/** A kubeconfig whose extra context `sre` acts as ServiceAccount sre of `ns`, which holds only a Role there. */
let sreConfig = '';

const site = (name: string, tier: string, extra: string) => `apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: ${name}}
spec:
  tier: ${tier}
  primary: {workload: {kind: StatefulSet, name: ${name}}, service: ${name}}
  promotion: {mode: manual}
${extra}`;

beforeAll(async () => {
  await installCrd();
  await resetSamples();
  ns = await createNamespace('plugin');
  idle = await createNamespace('plugin-idle');
  dir = await mkdtemp(join(tmpdir(), 'standby-plugin-'));
  op = await startOperator({ namespaces: [ns], name: 'plugin' });
  await apply(statefulPrimary('db'), ns);
  await apply(site('db', 'hot', '  hot: {replicas: 1, maxLag: 10s}\n'), ns);
  await apply(statefulPrimary('files'), ns);
  await apply(site('files', 'warm', '  warm: {schedule: "*/15 * * * *"}\n'), ns);
  await waitForSite(ns, 'files', (s) => s.status?.phase === 'Pending', 'warm site reconciled');
  const sync = await runCopy('sync', ns, 'files');
  expect(sync.code, sync.stderr).toBe(0);
  await waitForSite(ns, 'db', (s) => s.status?.phase === 'Protected', 'hot site Protected');
  await waitForSite(ns, 'files', (s) => s.status?.phase === 'Protected', 'warm site Protected');

  // An SRE who may read and annotate StandbySites and read Events in this namespace, nothing else.
  await apply(
    `apiVersion: v1
kind: ServiceAccount
metadata: {name: sre}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: standby-sre}
rules:
  - {apiGroups: [standby.dev], resources: [standbysites], verbs: [get, list, watch, patch]}
  - {apiGroups: [""], resources: [events], verbs: [list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: standby-sre}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: standby-sre}
subjects: [{kind: ServiceAccount, name: sre, namespace: ${ns}}]
`,
    ns,
  );
  sreConfig = await kubeconfigWith(join(dir, 'sre-kubeconfig'), {
    name: 'sre',
    namespace: ns,
    as: { user: `system:serviceaccount:${ns}:sre`, groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'] },
  });
});

afterAll(async () => {
  const code = await op.stop();
  expect(code, `operator exit code (log: ${op.logFile})`).toBe(0);
  await deleteNamespace(ns);
  await deleteNamespace(idle);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('kubectl standby', () => {
  test('kubectl finds the plugin on PATH: `kubectl standby list`', async () => {
    const bin = join(dir, 'bin');
    await kubectl(['version', '--client']);
    await run('mkdir', ['-p', bin]);
    await writeFile(join(bin, 'kubectl-standby'), `#!/bin/sh\nexec "${process.execPath}" "${PLUGIN}" "$@"\n`);
    await chmod(join(bin, 'kubectl-standby'), 0o755);
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, KUBECONFIG: clusterInfo().kubeconfig };
    const listed = await run(clusterInfo().kubectl, ['plugin', 'list'], { env });
    expect(listed.stdout).toContain(join(bin, 'kubectl-standby'));
    const res = await run(clusterInfo().kubectl, ['standby', 'list', '-n', ns], { env });
    expect(res.code, res.stderr).toBe(0);
    await keepSample(`kubectl standby list -n ${ns}`, res);
    const lines = res.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+TIER\s+SERVING\s+PRIMARY\s+DATA AGE\s+RPO TARGET\s+LAG\s+PHASE\s+READY$/);
    expect(lines[1]).toMatch(/^db\s+hot\s+primary\s+Ready\s+-\s+10s\s+-\s+Protected\s+True$/);
    expect(lines[2]).toMatch(/^files\s+warm\s+primary\s+Ready\s+\d+s\s+30m\s+-\s+Protected\s+True$/);
  });

  test('list -A -o json: every namespace, for scripts', async () => {
    const res = await plugin(['list', '-A', '-o', 'json']);
    expect(res.code, res.stderr).toBe(0);
    const items = (JSON.parse(res.stdout) as { items: { namespace: string; name: string; tier: string; rpoTargetSeconds?: number; dataAgeSeconds?: number }[] }).items;
    const ours = items.filter((i) => i.namespace === ns);
    expect(ours.map((i) => [i.name, i.tier, i.rpoTargetSeconds])).toEqual([
      ['db', 'hot', 10],
      ['files', 'warm', 1800],
    ]);
    expect(ours[1]?.dataAgeSeconds).toBeGreaterThanOrEqual(0);
  });

  test('status: tier, serving side, data age against the RPO target, each condition with its message, last drill, next step', async () => {
    const s = await getSite(ns, 'files');
    const res = await plugin(['status', 'files', '-n', ns]);
    expect(res.code, res.stderr).toBe(0);
    await keepSample(`kubectl standby status files -n ${ns}`, res);
    expect(res.stdout).toContain(`Site:           ${ns}/files`);
    expect(res.stdout).toContain('Tier:           warm');
    expect(res.stdout).toContain('Serving:        primary (clients use Service files-active)');
    expect(res.stdout).toMatch(new RegExp(`Data age:       \\d+s \\(data from ${s.status!.dataTimestamp!.replace(/\./g, '\\.')}\\), RPO target 30m: within target`));
    for (const c of s.status!.conditions!) {
      expect(res.stdout).toContain(`  ${c.type}`);
      expect(res.stdout).toContain(c.message);
    }
    expect(res.stdout).toContain('Last drill:     DR drills are not supported by this operator yet');
    expect(res.stdout).toContain('Last promotion: none');
    expect(res.stdout).toContain('Next:\n  - nothing: the site is protected');

    const j = await plugin(['status', 'files', '-n', ns, '-o', 'json']);
    const view = JSON.parse(j.stdout) as { tier: string; serving: string; rpoTargetSeconds: number; rpoMet: boolean; conditions: { type: string }[]; next: string[]; lastDrill: { supported: boolean } };
    expect(view).toMatchObject({ tier: 'warm', serving: 'primary', rpoTargetSeconds: 1800, rpoMet: true, next: ['nothing: the site is protected'], lastDrill: { supported: false } });
    expect(view.conditions.map((c) => c.type)).toEqual(s.status!.conditions!.map((c) => c.type));
  });

  test('promote, as a user with namespace rights only: the annotation with a fresh token, a progress line, the outcome', async () => {
    const res = await plugin(['promote', 'db', '--context', 'sre', '--timeout', '60s'], { kubeconfig: sreConfig });
    await keepSample('kubectl standby promote db', res);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`^promote ${ns}/db: Promoted after [\\d.]+s: the standby serves clients \\(the promotion took [\\d.]+s\\)\\n$`));
    expect(res.stderr).toMatch(/^standby\.dev\/promote=kubectl-\d{8}t\d{6}z-[0-9a-f]{6} written; waiting for the operator to act on it$/m);
    const s = await getSite(ns, 'db');
    const token = s.metadata.annotations?.['standby.dev/promote'];
    expect(token).toMatch(/^kubectl-/);
    // The real operator acted on exactly this token.
    expect(s.status?.handledPromoteToken).toBe(token);
    expect(s.status?.promotion).toMatchObject({ state: 'Promoted', trigger: 'manual', token });
    expect(s.status?.active).toBe('standby');
    // Written as itself, not as the operator.
    const managers = (await kubectlJson<{ metadata: { managedFields: { manager: string; fieldsV1: unknown }[] } }>(['-n', ns, 'get', 'standbysite', 'db', '--show-managed-fields'])).metadata.managedFields;
    expect(managers.find((m) => JSON.stringify(m.fieldsV1).includes('standby.dev/promote'))?.manager).toBe('kubectl-standby');
  });

  test('timeline: the promotion step by step and the Events, in order', async () => {
    const res = await plugin(['timeline', 'db', '-n', ns]);
    expect(res.code, res.stderr).toBe(0);
    await keepSample(`kubectl standby timeline db -n ${ns}`, res);
    const j = JSON.parse((await plugin(['timeline', 'db', '-n', ns, '-o', 'json'])).stdout) as { entries: { at: string; source: string; what: string }[] };
    const whats = j.entries.map((e) => e.what);
    const order = ['promotion started', 'promotion fenced', 'promotion promoted', 'promotion switched', 'promotion completed'].map((w) => whats.indexOf(w));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    for (const reason of ['PromotionStarted', 'Promoted']) expect(whats).toContain(reason);
    expect(whats.indexOf('Promoted')).toBeGreaterThan(whats.indexOf('promotion started'));
    const times = j.entries.map((e) => Date.parse(e.at));
    expect(times.every((t) => Number.isFinite(t))).toBe(true);
  });

  test('status after the promotion says what serves and what to do next', async () => {
    const res = await plugin(['status', 'db', '-n', ns]);
    expect(res.code, res.stderr).toBe(0);
    await keepSample(`kubectl standby status db -n ${ns}`, res);
    expect(res.stdout).toContain('Serving:        standby (clients use Service db-active)');
    expect(res.stdout).toMatch(/Last promotion: Promoted, manual, took [\d.]+s\n {2}\S+ {2}started {4}manual promotion \(token kubectl-/);
    expect(res.stdout).toContain('  - the standby serves clients and nothing protects it; re-protection is not supported by this operator yet');
  });

  test("a refused request exits 1 with the operator's reason on one line", async () => {
    const res = await plugin(['promote', 'db', '-n', ns, '--timeout', '60s']);
    await keepSample(`kubectl standby promote db -n ${ns}`, res);
    expect(res.code).toBe(1);
    const errors = res.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors).toEqual(['error: promote db: refused: the standby is already active; there is nothing to promote (failback is not supported yet)']);
    expect(res.stdout).toMatch(/^promote .*\/db: Refused after/);
  });

  test('an operator that never acts: the wait times out and the request is withdrawn', async () => {
    await apply(site('lonely', 'hot', ''), idle);
    const res = await plugin(['promote', 'lonely', '-n', idle, '--timeout', '3s', '-o', 'json']);
    expect(res.code).toBe(1);
    const out = JSON.parse(res.stdout) as { result: string; acted: boolean; token: string; message: string };
    expect(out).toMatchObject({ result: 'Withdrawn', acted: false });
    expect(out.message).toContain(`is the operator running and watching namespace ${idle}?`);
    expect(res.stderr.split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
    expect((await getSite(idle, 'lonely')).metadata.annotations?.['standby.dev/promote']).toBeUndefined();
  });

  test('capabilities the operator does not have yet say so plainly and write nothing', async () => {
    const cases: [string[], string][] = [
      [['failback', 'files'], 'error: failback is not supported by this operator yet'],
      [['reprotect', 'files'], 'error: re-protection is not supported by this operator yet'],
      [['drill', 'files'], 'error: DR drills are not supported by this operator yet'],
      [['promote', 'files', '--site-lost'], "error: promoting after the loss of the primary's site (--site-lost) needs a standby in another cluster, which this operator does not support yet"],
    ];
    for (const [args, message] of cases) {
      const res = await plugin([...args, '-n', ns]);
      if (args[0] === 'drill') await keepSample(`kubectl standby drill files -n ${ns}`, res);
      expect(res.code, args.join(' ')).toBe(1);
      expect(res.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(res.stderr, args.join(' ')).toContain(message);
    }
    const annotations = (await getSite(ns, 'files')).metadata.annotations ?? {};
    expect(Object.keys(annotations).filter((k) => k.startsWith('standby.dev/'))).toEqual([]);
  });

  test("kubectl's conventions: the context's namespace, -n over it, --context, and one-line errors", async () => {
    const other = await kubeconfigWith(join(dir, 'ctx-kubeconfig'), { name: 'plugctx', namespace: ns });
    const inCtx = await plugin(['list', '--context', 'plugctx'], { kubeconfig: other });
    expect(inCtx.code, inCtx.stderr).toBe(0);
    expect(inCtx.stdout).toMatch(/^files\s+warm/m);
    const overridden = await plugin(['list', '--context', 'plugctx', '-n', idle], { kubeconfig: other });
    expect(overridden.stdout).toMatch(/^lonely\s+hot/m);
    expect(overridden.stdout).not.toMatch(/^files/m);

    const failures: [string[], number, RegExp][] = [
      [['status', 'nope', '-n', ns], 1, new RegExp(`^error: standbysite "nope" not found in namespace "${ns}"$`)],
      [['list', '--context', 'nope'], 1, /^error: .*: context "nope" not found$/],
      [['status'], 2, /^error: a site name is required: kubectl standby status NAME \(see kubectl standby --help\)$/],
      [['explode', 'db'], 2, /^error: unknown command "explode"; commands: status, list, promote, failback, reprotect, drill, timeline/],
      [['promote', 'db', '--timeout', 'soon'], 2, /^error: --timeout "soon" is not a positive duration/],
      [['status', 'db', '--kubeconfig', join(dir, 'missing')], 1, /^error: ENOENT: no such file or directory/],
    ];
    for (const [args, code, message] of failures) {
      const res = await plugin(args);
      expect(res.code, args.join(' ')).toBe(code);
      expect(res.stderr.trim(), args.join(' ')).toMatch(message);
      expect(res.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
    // The SRE's Role is namespaced: across all namespaces the API server says no, in one line.
    const forbidden = await plugin(['list', '-A', '--context', 'sre'], { kubeconfig: sreConfig });
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr.trim()).toMatch(/^error: standbysites\.standby\.dev is forbidden: User "system:serviceaccount:.*:sre" cannot list resource "standbysites"/);
  });
});

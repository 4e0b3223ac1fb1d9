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

const site = (name: string, tier: string, extra: string, promotion = '{mode: manual}') => `apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: ${name}}
spec:
  tier: ${tier}
  primary: {workload: {kind: StatefulSet, name: ${name}}, service: ${name}}
  promotion: ${promotion}
${extra}`;

/**
 * The hot site goes through the whole DR cycle by the plugin: re-protection only on request (so
 * that `kubectl standby reprotect` starts it), the generic engine's Jobs to make the old primary
 * follow and to prove it caught up (kwok completes their pods).
 */
const job = (name: string) => `{spec: {restartPolicy: Never, containers: [{name: ${name}, image: "example.invalid/${name}:1"}]}}`;
const HOT = `  hot: {replicas: 1, maxLag: 10s}
  engine:
    type: generic
    generic:
      reprotectJobTemplate: ${job('follow')}
      failbackJobTemplate: ${job('catchup')}
`;

beforeAll(async () => {
  await installCrd();
  await resetSamples();
  ns = await createNamespace('plugin');
  idle = await createNamespace('plugin-idle');
  dir = await mkdtemp(join(tmpdir(), 'standby-plugin-'));
  op = await startOperator({ namespaces: [ns], name: 'plugin' });
  await apply(statefulPrimary('db'), ns);
  await apply(site('db', 'hot', HOT, '{mode: manual, reprotect: manual}'), ns);
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
    expect(res.stdout).toContain('Last drill:     none yet');
    expect(res.stdout).toContain('Last promotion: none');
    expect(res.stdout).toContain('Next:\n  - nothing: the site is protected; `kubectl standby drill files` proves it');

    const j = await plugin(['status', 'files', '-n', ns, '-o', 'json']);
    const view = JSON.parse(j.stdout) as { tier: string; serving: string; rpoTargetSeconds: number; rpoMet: boolean; conditions: { type: string }[]; next: string[]; lastDrill: unknown };
    expect(view).toMatchObject({ tier: 'warm', serving: 'primary', rpoTargetSeconds: 1800, rpoMet: true, next: ['nothing: the site is protected; `kubectl standby drill files` proves it'], lastDrill: null });
    expect(view.conditions.map((c) => c.type)).toEqual(s.status!.conditions!.map((c) => c.type));
  });

  test('drill, as a user with namespace rights only: the real operator drills the warm standby and the outcome is its measured RTO', async () => {
    const res = await plugin(['drill', 'files', '--context', 'sre', '--timeout', '120s'], { kubeconfig: sreConfig });
    await keepSample('kubectl standby drill files', res);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`^drill ${ns}/files: Passed after [\\d.]+s: drill \\S+: RTO [\\d.]+s, data age [\\d.]+s\\n$`));
    expect(res.stderr).toMatch(/^standby\.dev\/drill=kubectl-\d{8}t\d{6}z-[0-9a-f]{6} written; waiting for the operator to act on it$/m);
    const s = await getSite(ns, 'files');
    const token = s.metadata.annotations?.['standby.dev/drill'];
    expect(token).toMatch(/^kubectl-/);
    // The real operator acted on exactly this token, once.
    expect(s.status?.handledDrillToken).toBe(token);
    expect(s.status?.lastDrill).toMatchObject({ token, result: 'Passed', tier: 'warm', trigger: 'manual' });
    expect(s.status?.drillHistory).toHaveLength(1);
    expect(res.stdout).toContain(`drill ${s.status!.lastDrill!.id}: RTO ${s.status!.lastDrill!.rtoSeconds}s`);

    const status = await plugin(['status', 'files', '-n', ns]);
    await keepSample(`kubectl standby status files -n ${ns}`, status);
    expect(status.stdout).toContain(`Last drill:     Passed at ${s.status!.lastDrill!.finishedAt} (drill ${s.status!.lastDrill!.id}, manual): RTO ${s.status!.lastDrill!.rtoSeconds}s`);
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
    // promotion.reprotect is manual: the operator waits for a person, and the plugin names the command.
    expect(res.stdout).toContain('  - promotion.reprotect is manual: annotate standby.dev/reprotect=<token> to make the old primary the standby');
    expect(res.stdout).toContain('  - the standby serves clients and nothing protects it: `kubectl standby reprotect db`');
  });

  test("a refused request exits 1 with the operator's reason on one line", async () => {
    const res = await plugin(['promote', 'db', '-n', ns, '--timeout', '60s']);
    await keepSample(`kubectl standby promote db -n ${ns}`, res);
    expect(res.code).toBe(1);
    const errors = res.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors).toEqual(['error: promote db: refused: the standby is already active; there is nothing to promote (annotate standby.dev/failback=<token> to fail back to the primary)']);
    expect(res.stdout).toMatch(/^promote .*\/db: Refused after/);

    // A drill of a promoted site: the operator's DrillRefused Event says why.
    const drill = await plugin(['drill', 'db', '-n', ns, '--timeout', '60s']);
    await keepSample(`kubectl standby drill db -n ${ns}`, drill);
    expect(drill.code).toBe(1);
    const drillErrors = drill.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(drillErrors).toHaveLength(1);
    expect(drillErrors[0]).toMatch(/^error: drill db: refused: no drill: .*the standby serves clients/);
    expect((await getSite(ns, 'db')).status?.lastDrill).toBeUndefined();
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

  test('reprotect, then failback, as a user with namespace rights only: the real operator re-protects the old primary and fails back', { timeout: 300_000 }, async () => {
    // Before re-protection a failback is refused, naming the way out, in one line.
    const early = await plugin(['failback', 'db', '--context', 'sre', '--timeout', '60s'], { kubeconfig: sreConfig });
    await keepSample('kubectl standby failback db', early);
    expect(early.code).toBe(1);
    const earlyErrors = early.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(earlyErrors).toHaveLength(1);
    expect(earlyErrors[0]).toMatch(/^error: failback db: refused: the primary does not follow the standby yet \(no re-protection yet\).*standby\.dev\/failback=force-<token>/);
    const refusedToken = (await getSite(ns, 'db')).metadata.annotations?.['standby.dev/failback'];
    expect((await getSite(ns, 'db')).status).toMatchObject({ handledFailbackToken: refusedToken, active: 'standby' });
    expect((await getSite(ns, 'db')).status?.failback).toBeUndefined();

    const rp = await plugin(['reprotect', 'db', '--context', 'sre', '--timeout', '120s'], { kubeconfig: sreConfig });
    await keepSample('kubectl standby reprotect db', rp);
    expect(rp.code, rp.stderr).toBe(0);
    expect(rp.stdout).toMatch(new RegExp(`^reprotect ${ns}/db: Protected after [\\d.]+s: the old primary follows the serving standby \\(job\\) \\(it took [\\d.]+s\\)\\n$`));
    expect(rp.stderr).toMatch(/^standby\.dev\/reprotect=kubectl-\d{8}t\d{6}z-[0-9a-f]{6} written; waiting for the operator to act on it$/m);
    expect(rp.stderr).toMatch(/^re-protection: (Preserving|Seeding|Following)/m);
    const r = await getSite(ns, 'db');
    const rpToken = r.metadata.annotations?.['standby.dev/reprotect'];
    expect(rpToken).toMatch(/^kubectl-/);
    // The real operator acted on exactly this token: the old primary follows the serving standby.
    expect(r.status?.handledReprotectToken).toBe(rpToken);
    expect(r.status?.reprotection).toMatchObject({ of: 'primary', state: 'Protected', trigger: 'manual', token: rpToken, method: 'job' });
    expect(r.status).toMatchObject({ phase: 'Protected', active: 'standby' });
    // The fence narrowed to the standby's pods is the one wanted now: it holds.
    expect(r.status?.conditions?.find((c) => c.type === 'FencingHolds')).toMatchObject({ status: 'True', reason: 'Fenced' });
    expect(rp.stdout).toContain(`(it took ${r.status!.reprotection!.durationSeconds}s)`);

    const next = await plugin(['status', 'db', '-n', ns]);
    await keepSample(`kubectl standby status db -n ${ns}`, next);
    expect(next.stdout).toContain('Phase:          Protected');
    expect(next.stdout).toContain('Serving:        standby (clients use Service db-active)');
    expect(next.stdout).toContain('Next:\n  - the old primary follows the standby: `kubectl standby failback db` makes the primary serve again');

    const fb = await plugin(['failback', 'db', '--context', 'sre', '--timeout', '180s', '-o', 'json'], { kubeconfig: sreConfig });
    await keepSample('kubectl standby failback db -o json', fb);
    expect(fb.code, fb.stderr).toBe(0);
    const out = JSON.parse(fb.stdout) as { command: string; result: string; ok: boolean; acted: boolean; token: string; annotation: string; message: string; status: { active: string; phase: string } };
    expect(out).toMatchObject({ command: 'failback', result: 'FailedBack', ok: true, acted: true, annotation: 'standby.dev/failback', status: { active: 'primary', phase: 'Protected' } });
    expect(out.message).toMatch(/^the primary serves clients again \(it took [\d.]+s\); the standby follows it again$/);
    expect(fb.stderr).toMatch(/^failback: (Fencing|CatchingUp|Promoting|Switching)/m);
    const b = await getSite(ns, 'db');
    expect(b.metadata.annotations?.['standby.dev/failback']).toBe(out.token);
    expect(b.status?.handledFailbackToken).toBe(out.token);
    expect(b.status?.failback).toMatchObject({ to: 'primary', state: 'Promoted', trigger: 'manual', token: out.token });
    expect(b.status?.reprotection).toMatchObject({ of: 'standby', state: 'Protected' });
    expect(b.status).toMatchObject({ phase: 'Protected', active: 'primary' });
    expect(b.status?.promotionHistory?.map((h) => `${h.kind ?? 'promotion'}:${h.result}`)).toEqual(['promotion:Promoted', 'reprotect:Protected', 'failback:Promoted', 'reprotect:Protected']);
    expect(await kubectlJson<{ spec: { selector: Record<string, string> } }>(['-n', ns, 'get', 'service', 'db-active']).then((svc) => svc.spec.selector)).toEqual({ app: 'db' });

    const after = await plugin(['status', 'db', '-n', ns]);
    await keepSample(`kubectl standby status db -n ${ns}`, after);
    expect(after.stdout).toContain('Serving:        primary (clients use Service db-active)');
    expect(after.stdout).toContain('Next:\n  - nothing: the site is protected; `kubectl standby drill db` proves it');

    const tl = await plugin(['timeline', 'db', '-n', ns]);
    await keepSample(`kubectl standby timeline db -n ${ns}`, tl);
    const whats = (JSON.parse((await plugin(['timeline', 'db', '-n', ns, '-o', 'json'])).stdout) as { entries: { what: string }[] }).entries.map((e) => e.what);
    for (const what of ['ReprotectStarted', 'Reprotected', 'FailbackStarted', 'FailedBack', 're-protection completed', 'failback completed']) expect(whats).toContain(what);
    // Each step of the cycle succeeded, and narrowing the fence for it is no alteration to warn of.
    expect(whats).not.toContain('promotion failed');
    expect(whats).not.toContain('re-protection failed');
    expect(whats).not.toContain('FenceReverted');
  });

  test('reprotect and failback of a site that was never promoted: refused by the operator, one line, exit 1, nothing changed', async () => {
    const before = await getSite(ns, 'files');
    const cases: [string, RegExp][] = [
      ['reprotect', /^error: reprotect files: refused: the primary serves and the standby follows it: there is nothing to re-protect$/],
      ['failback', /^error: failback files: refused: the primary serves \(or a promotion is still under way\): there is nothing to fail back$/],
    ];
    for (const [command, message] of cases) {
      const res = await plugin([command, 'files', '-n', ns, '--timeout', '60s']);
      await keepSample(`kubectl standby ${command} files -n ${ns}`, res);
      expect(res.code, command).toBe(1);
      const errors = res.stderr.split('\n').filter((l) => l.startsWith('error:'));
      expect(errors, command).toHaveLength(1);
      expect(errors[0], command).toMatch(message);
      expect(res.stdout, command).toMatch(new RegExp(`^${command} ${ns}/files: Refused after [\\d.]+s: `));
      const s = await getSite(ns, 'files');
      const token = s.metadata.annotations?.[`standby.dev/${command}`];
      expect(token, command).toMatch(/^kubectl-/);
      expect((s.status as Record<string, unknown>)[command === 'reprotect' ? 'handledReprotectToken' : 'handledFailbackToken'], command).toBe(token);
    }
    const s = await getSite(ns, 'files');
    // Nothing started: the primary serves, the site protected as before.
    expect(s.status?.reprotection?.state).toBeUndefined();
    expect(s.status?.failback).toBeUndefined();
    expect(s.status).toMatchObject({ phase: 'Protected', active: 'primary' });
    expect(s.status?.promotionHistory ?? []).toEqual(before.status?.promotionHistory ?? []);
  });

  test('--force is a flag of promote and failback only', async () => {
    const res = await plugin(['reprotect', 'files', '-n', ns, '--force']);
    expect(res.code).toBe(2);
    expect(res.stderr.trim()).toBe('error: --force is a flag of promote and failback, not of reprotect (see kubectl standby --help)');
  });

  test('--site-lost for a primary in this cluster: the operator refuses it, saying why', async () => {
    const res = await plugin(['promote', 'files', '-n', ns, '--site-lost', '--timeout', '60s']);
    expect(res.code, res.stderr).toBe(1);
    const errors = res.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^error: promote files: refused: site-lost-\.\.\. tokens confirm the loss of the site of a primary in another cluster \(spec\.primary\.cluster\); this primary is in this cluster/);
    expect((await getSite(ns, 'files')).status?.promotion).toBeUndefined();
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

// Drills against the real control plane, for each tier with the generic engine: by annotation and
// by schedule, isolated scratch objects that production never notices, retention that keeps what
// a drill restores, a real failure that wins, an operator killed half way, a failing verification.
// kwok runs no containers: a drill's verification Job is held Pending (it asks for a node that
// does not exist) until the test sets its pod Succeeded or Failed, as the Job's container would.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { apply, createNamespace, deleteNamespace, kubectl, kubectlJson, waitFor } from '../cluster/helpers.ts';
import { drillNames } from '../../src/drill/objects.ts';
import { matches } from '../../src/site/workload.ts';
import {
  condition,
  failPrimaryPods,
  getSite,
  installCrd,
  lastJson,
  runCopy,
  startOperator,
  statefulPrimary,
  waitForSite,
  type OperatorProcess,
  type SiteObject,
} from './support/operator.ts';

const NAMESPACES = ['hot', 'warm', 'cold', 'coldjob', 'abort', 'restart', 'fail'] as const;
const ns = {} as Record<(typeof NAMESPACES)[number], string>;
let op: OperatorProcess;

beforeAll(async () => {
  await installCrd();
  for (const k of NAMESPACES) ns[k] = await createNamespace(`drill-${k}`);
  // The restart test runs its own operators on its own namespace.
  op = await startOperator({ namespaces: NAMESPACES.filter((k) => k !== 'restart').map((k) => ns[k]), name: 'drill' });
});

afterAll(async () => {
  const code = await op.stop();
  expect(code, `operator exit code (log: ${op.logFile})`).toBe(0);
  for (const k of NAMESPACES) await deleteNamespace(ns[k]);
});

/** A verification Job whose pod waits for a node that never comes: the test decides how it ends. */
const HELD_VERIFY = '{jobTemplate: {spec: {nodeSelector: {standby.dev/e2e: held}, containers: [{name: check, image: example.invalid/check:1}]}}}';

function site(name: string, tier: string, extra: string, promotion = 'mode: automatic, failureThreshold: 30s'): string {
  return `apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: ${name}}
spec:
  tier: ${tier}
  primary: {workload: {kind: StatefulSet, name: ${name}}, service: ${name}}
  promotion: {${promotion}}
${extra}`;
}

const isProtected = (s: SiteObject) => s.status?.phase === 'Protected' && s.status.observedGeneration === s.metadata.generation;
const drillIn = (state: string) => (s: SiteObject) => s.status?.drill?.state === state;

async function annotate(n: string, name: string, token: string): Promise<void> {
  await kubectl(['-n', n, 'annotate', 'standbysite', name, `standby.dev/drill=${token}`, '--overwrite']);
}

/** Every object of the site's drills (or of one drill), by label. */
async function drillObjects(n: string, name: string, id?: string): Promise<string[]> {
  const selector = `standby.dev/site=${name},standby.dev/role=drill${id ? `,standby.dev/drill-id=${id}` : ''}`;
  const out = await kubectl(['-n', n, 'get', 'statefulsets,deployments,jobs,pods,persistentvolumeclaims,volumesnapshots,networkpolicies', '-l', selector, '-o', 'name']);
  return out.split('\n').filter(Boolean);
}

async function noDrillObjectsLeft(n: string, name: string): Promise<void> {
  let left: string[] = [];
  await waitFor(async () => (left = await drillObjects(n, name)).length === 0, { timeoutMs: 60_000, description: `no drill object of ${n}/${name} left (left: ${left.join(', ')})` });
}

/** resourceVersions of production objects, to prove a drill changed none of them. */
async function versions(n: string, objects: string[]): Promise<Record<string, string>> {
  const list = await kubectlJson<{ items: { kind: string; metadata: { name: string; resourceVersion: string } }[] }>(['-n', n, 'get', ...objects]);
  expect(list.items).toHaveLength(objects.length);
  return Object.fromEntries(list.items.map((o) => [`${o.kind}/${o.metadata.name}`, o.metadata.resourceVersion]));
}

/** The held verification Job's pod, once it exists, ended as its container would have. */
async function endVerify(n: string, name: string, id: string, phase: 'Succeeded' | 'Failed'): Promise<void> {
  const job = drillNames(name, id).verifyJob;
  const pod = await waitFor(async () => (await kubectl(['-n', n, 'get', 'pods', '-l', `job-name=${job}`, '-o', 'name'])).trim(), {
    timeoutMs: 30_000,
    description: `the pod of ${job}`,
  });
  await kubectl(['-n', n, 'patch', pod, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { phase } })]);
}

async function events(n: string, reason: string): Promise<{ message: string }[]> {
  return (await kubectlJson<{ items: { message: string }[] }>(['-n', n, 'get', 'events', '--field-selector', `reason=${reason}`])).items;
}

/** The scratch pods of a drill are Ready, carry the drill's labels only, and no Service of the namespace selects them. */
async function expectIsolatedScratch(n: string, name: string, id: string): Promise<void> {
  const pods = await kubectlJson<{ items: { metadata: { labels: Record<string, string> }; status: { conditions?: { type: string; status: string }[] } }[] }>([
    '-n',
    n,
    'get',
    'pods',
    '-l',
    `standby.dev/drill-id=${id},standby.dev/drill-part=scratch`,
  ]);
  expect(pods.items).toHaveLength(1);
  const pod = pods.items[0]!;
  expect(pod.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  expect(pod.metadata.labels).toMatchObject({ 'standby.dev/site': name, 'standby.dev/role': 'drill', 'standby.dev/drill-id': id, 'standby.dev/drill-part': 'scratch' });
  expect(pod.metadata.labels.app).toBeUndefined();
  const services = await kubectlJson<{ items: { metadata: { name: string }; spec: { selector?: Record<string, string> } }[] }>(['-n', n, 'get', 'services']);
  expect(services.items.length).toBeGreaterThan(0);
  for (const svc of services.items) {
    if (svc.spec.selector) expect(matches({ matchLabels: svc.spec.selector }, pod.metadata.labels), `Service ${svc.metadata.name}`).toBe(false);
  }
  const policy = await kubectlJson<{ spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: { from: { podSelector: { matchLabels: Record<string, string> } }[] }[]; egress?: unknown } }>([
    '-n',
    n,
    'get',
    'networkpolicy',
    drillNames(name, id).policy,
  ]);
  expect(matches({ matchLabels: policy.spec.podSelector.matchLabels }, pod.metadata.labels)).toBe(true);
  expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
  expect(policy.spec.egress).toBeUndefined();
  expect(policy.spec.ingress).toEqual([{ from: [{ podSelector: { matchLabels: expect.objectContaining({ 'standby.dev/drill-id': id, 'standby.dev/drill-part': 'verify' }) as unknown } }] }]);
}

async function metrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${op.healthPort}/metrics`)).text();
}

function expectPassed(s: SiteObject, id: string, trigger: string): void {
  const d = s.status?.lastDrill;
  expect(d).toMatchObject({ id, trigger, result: 'Passed' });
  expect(d?.rtoSeconds).toBeGreaterThan(0);
  expect(d?.rtoSeconds).toBeLessThanOrEqual((new Date(d!.finishedAt).getTime() - new Date(d!.startedAt).getTime()) / 1000);
  expect(d?.dataAgeSeconds).toBeGreaterThanOrEqual(0);
  expect(d?.readyAt).toBeDefined();
  expect(s.status?.drill).toBeUndefined();
  expect(s.status?.measuredRto).toMatch(/^\d+(\.\d+)?m?s$|^\d+m/);
  expect(condition(s, 'DrillPassed')).toMatchObject({ status: 'True', reason: 'DrillPassed' });
}

describe('hot tier', () => {
  test('a drill by annotation clones the standby into isolated scratch objects, records RTO and data age, and changes no production object', async () => {
    const n = ns.hot;
    await apply(statefulPrimary('db'), n);
    await apply(site('db', 'hot', `  drill: {timeout: 5m, verify: ${HELD_VERIFY}}\n`), n);
    const ready = await waitForSite(n, 'db', isProtected, 'hot site Protected');
    expect(condition(ready, 'DrillPassed')).toMatchObject({ status: 'Unknown', reason: 'NoDrillYet' });
    const production = ['service/db-active', 'service/db', 'statefulset/db', 'statefulset/db-standby', 'pod/db-0', 'pod/db-standby-0', 'pvc/data-db-0', 'pvc/data-db-standby-0'];
    const before = await versions(n, production);

    await annotate(n, 'db', 'first');
    const running = await waitForSite(n, 'db', drillIn('Verifying'), 'the drill verifying');
    const d = running.status!.drill!;
    expect(d).toMatchObject({ trigger: 'manual', token: 'first', tier: 'hot', method: 'cloneStandby', volumes: [{ volume: 'data', source: 'data-db-standby-0' }] });
    expect(running.status?.handledDrillToken).toBe('first');
    const names = drillNames('db', d.id);
    const snap = await kubectlJson<{ metadata: { labels: Record<string, string> }; spec: { source: { persistentVolumeClaimName: string } } }>(['-n', n, 'get', 'volumesnapshot', names.volume('data')]);
    expect(snap.spec.source.persistentVolumeClaimName).toBe('data-db-standby-0');
    expect(snap.metadata.labels).toMatchObject({ 'standby.dev/role': 'drill', 'standby.dev/drill-id': d.id });
    const clone = await kubectlJson<{ spec: { dataSource: { kind: string; name: string } } }>(['-n', n, 'get', 'pvc', names.volume('data')]);
    expect(clone.spec.dataSource).toMatchObject({ kind: 'VolumeSnapshot', name: names.volume('data') });
    await expectIsolatedScratch(n, 'db', d.id);
    // Clients still reach the primary, and nothing of production changed.
    expect((await kubectlJson<{ spec: { selector: Record<string, string> } }>(['-n', n, 'get', 'service', 'db-active'])).spec.selector).toEqual({ app: 'db' });
    expect(await versions(n, production)).toEqual(before);

    await endVerify(n, 'db', d.id, 'Succeeded');
    const done = await waitForSite(n, 'db', (s) => s.status?.lastDrill?.id === d.id, 'the drill recorded');
    expectPassed(done, d.id, 'manual');
    expect(done.status?.lastDrill?.token).toBe('first');
    expect(done.status?.drillHistory).toHaveLength(1);
    // RTO ends where the scratch copy was Ready (the generic engine has no check of its own); the held verification is not counted.
    expect(done.status!.lastDrill!.rtoSeconds).toBe((new Date(done.status!.lastDrill!.readyAt!).getTime() - new Date(d.startedAt).getTime()) / 1000);
    await noDrillObjectsLeft(n, 'db');
    expect(await versions(n, production)).toEqual(before);

    expect((await events(n, 'DrillStarted'))[0]?.message).toContain(`drill ${d.id} of the hot tier`);
    expect((await events(n, 'DrillPassed'))[0]?.message).toContain('RTO');
    const table = await kubectl(['-n', n, 'get', 'standbysites']);
    expect(table.split('\n')[0]).toMatch(/^NAME\s+TIER\s+ACTIVE\s+PRIMARY\s+DATA AGE\s+RTO\s+LAG\s+PHASE\s+AGE$/);
    expect(table.split('\n')[1]).toContain(` ${done.status!.measuredRto!} `);
    const text = await metrics();
    expect(text).toMatch(/standby_drills_total\{tier="hot",result="Passed",trigger="manual"\} 1/);
    expect(text).toMatch(new RegExp(`standby_drill_rto_seconds\\{namespace="${n}",site="db",tier="hot"\\} ${done.status!.lastDrill!.rtoSeconds}`));
    expect(text).toMatch(new RegExp(`standby_drill_last_success_timestamp_seconds\\{namespace="${n}",site="db",tier="hot"\\} \\d+`));
    expect(text).toMatch(new RegExp(`standby_drill_data_age_seconds\\{namespace="${n}",site="db",tier="hot"\\} \\d`));

    // The same token again is no new drill.
    await annotate(n, 'db', 'first');
    await kubectl(['-n', n, 'annotate', 'standbysite', 'db', 'touch=1', '--overwrite']);
    await new Promise((r) => setTimeout(r, 2000));
    expect((await getSite(n, 'db')).status?.drillHistory).toHaveLength(1);
  });
});

describe('warm tier', () => {
  test('a drill clones the newest copy (never the copy itself), and retention keeps that copy until the drill ends', async () => {
    const n = ns.warm;
    await apply(statefulPrimary('db'), n);
    await apply(site('db', 'warm', `  warm: {schedule: "*/15 * * * *"}\n  drill: {verify: ${HELD_VERIFY}}\n`), n);
    const first = await runCopy('sync', n, 'db');
    expect(first.code, first.stderr).toBe(0);
    const copy1 = (lastJson(first.stdout) as { claims: { data: string }; run: string });
    await waitForSite(n, 'db', isProtected, 'warm site Protected');
    const production = ['service/db-active', 'service/db', 'statefulset/db', 'statefulset/db-standby', 'cronjob/db-sync', `pvc/${copy1.claims.data}`, 'pod/db-0', 'pvc/data-db-0'];
    const before = await versions(n, production);

    await annotate(n, 'db', 'w1');
    const running = await waitForSite(n, 'db', drillIn('Verifying'), 'the drill verifying');
    const d = running.status!.drill!;
    expect(d).toMatchObject({ method: 'cloneCopy', sourceRun: copy1.run, volumes: [{ volume: 'data', source: copy1.claims.data }] });
    const names = drillNames('db', d.id);
    expect((await kubectlJson<{ spec: { source: { persistentVolumeClaimName: string } } }>(['-n', n, 'get', 'volumesnapshot', names.volume('data')])).spec.source.persistentVolumeClaimName).toBe(copy1.claims.data);
    expect((await kubectlJson<{ spec: { dataSource: { name: string } } }>(['-n', n, 'get', 'pvc', names.volume('data')])).spec.dataSource.name).toBe(names.volume('data'));
    await expectIsolatedScratch(n, 'db', d.id);
    expect(await versions(n, production)).toEqual(before);

    // A sync during the drill: the standby moves to the new copy; the one being drilled stays.
    await new Promise((r) => setTimeout(r, 1100));
    const second = await runCopy('sync', n, 'db');
    expect(second.code, second.stderr).toBe(0);
    const copy2 = (lastJson(second.stdout) as { claims: { data: string } }).claims.data;
    await waitFor(
      async () => (await kubectl(['-n', n, 'get', 'statefulset', 'db-standby', '-o', 'jsonpath={.spec.template.spec.volumes[*].persistentVolumeClaim.claimName}'])) === copy2,
      { timeoutMs: 30_000, description: 'the standby to mount the second copy' },
    );
    await new Promise((r) => setTimeout(r, 5000));
    expect(await kubectl(['-n', n, 'get', 'pvc', copy1.claims.data, '-o', 'name'])).toContain(copy1.claims.data);

    await endVerify(n, 'db', d.id, 'Succeeded');
    const done = await waitForSite(n, 'db', (s) => s.status?.lastDrill?.id === d.id, 'the drill recorded');
    expectPassed(done, d.id, 'manual');
    // The data drilled is the first copy's: its age at the drill's start.
    expect(done.status?.lastDrill?.dataTime).toBe(d.dataTime);
    expect(done.status!.lastDrill!.dataAgeSeconds).toBe((new Date(d.startedAt).getTime() - new Date(d.dataTime!).getTime()) / 1000);
    await noDrillObjectsLeft(n, 'db');
    // Now retention may have it.
    await waitFor(async () => (await kubectl(['-n', n, 'get', 'pvc', copy1.claims.data, '--ignore-not-found'])) === '', { timeoutMs: 30_000, description: 'the drilled copy pruned after the drill' });
  });
});

describe('cold tier', () => {
  test('a drill restores the newest ready snapshot set into new claims; snapshot retention keeps that set until the drill ends', async () => {
    const n = ns.cold;
    await apply(statefulPrimary('db'), n);
    await apply(site('db', 'cold', `  cold: {schedule: "0 2 * * *", retention: {keepLast: 1}}\n  drill: {verify: ${HELD_VERIFY}}\n`), n);
    const snap1 = await runCopy('snapshot', n, 'db');
    expect(snap1.code, snap1.stderr).toBe(0);
    const set1 = lastJson(snap1.stdout) as { run: string; snapshots: { data: string } };
    await waitForSite(n, 'db', isProtected, 'cold site Protected');
    const production = ['service/db-active', 'service/db', 'statefulset/db', 'cronjob/db-snapshot', `volumesnapshot/${set1.snapshots.data}`, 'pod/db-0', 'pvc/data-db-0'];
    const before = await versions(n, production);

    await annotate(n, 'db', 'c1');
    const running = await waitForSite(n, 'db', drillIn('Verifying'), 'the drill verifying');
    const d = running.status!.drill!;
    expect(d).toMatchObject({ method: 'restoreSnapshots', sourceRun: set1.run, volumes: [{ volume: 'data', source: set1.snapshots.data }] });
    expect((await kubectlJson<{ spec: { dataSource: { kind: string; name: string } } }>(['-n', n, 'get', 'pvc', drillNames('db', d.id).volume('data')])).spec.dataSource).toMatchObject({
      kind: 'VolumeSnapshot',
      name: set1.snapshots.data,
    });
    await expectIsolatedScratch(n, 'db', d.id);
    expect(await versions(n, production)).toEqual(before);

    // keepLast 1: a new snapshot would prune the set being drilled; it is kept.
    await new Promise((r) => setTimeout(r, 1100));
    const snap2 = await runCopy('snapshot', n, 'db');
    expect(snap2.code, snap2.stderr).toBe(0);
    expect((lastJson(snap2.stdout) as { deleted: string[] }).deleted).toEqual([]);
    expect(await kubectl(['-n', n, 'get', 'volumesnapshot', set1.snapshots.data, '-o', 'name'])).toContain(set1.snapshots.data);

    await endVerify(n, 'db', d.id, 'Succeeded');
    const done = await waitForSite(n, 'db', (s) => s.status?.lastDrill?.id === d.id, 'the drill recorded');
    expectPassed(done, d.id, 'manual');
    expect(done.status?.lastDrill?.dataTime).toBe(d.dataTime);
    await noDrillObjectsLeft(n, 'db');
    await new Promise((r) => setTimeout(r, 1100));
    const snap3 = await runCopy('snapshot', n, 'db');
    expect(snap3.code, snap3.stderr).toBe(0);
    expect((lastJson(snap3.stdout) as { deleted: string[] }).deleted).toContain(set1.snapshots.data);
  });

  test('method job: the restore Job fills new claims from the newest copy, as a promotion would', async () => {
    const n = ns.coldjob;
    await apply(statefulPrimary('db'), n);
    await apply(
      site(
        'db',
        'cold',
        `  cold:
    schedule: "0 2 * * *"
    method: job
    jobTemplate: {spec: {containers: [{name: dump, image: example.invalid/dump:1}]}}
    restoreJobTemplate: {spec: {containers: [{name: restore, image: example.invalid/restore:1, volumeMounts: [{name: data, mountPath: /data}]}]}}
`,
      ),
      n,
    );
    await waitFor(async () => (await kubectl(['-n', n, 'get', 'cronjob', 'db-snapshot', '-o', 'name'])).trim() !== '', { timeoutMs: 30_000, description: 'the snapshot CronJob' });
    await kubectl(['-n', n, 'create', 'job', '--from=cronjob/db-snapshot', 'db-snapshot-manual']);
    await waitForSite(n, 'db', isProtected, 'cold site Protected after its first copy Job');
    await annotate(n, 'db', 'j1');
    const done = await waitForSite(n, 'db', (s) => s.status?.lastDrill?.token === 'j1', 'the drill recorded', 90_000);
    expect(done.status?.lastDrill?.message).not.toContain('failed');
    expectPassed(done, done.status!.lastDrill!.id, 'manual');
    // The restore Job ran with the scratch claim mounted, and is gone with the rest.
    const ev = (await events(n, 'DrillStarted'))[0]?.message ?? '';
    expect(ev).toContain("restored by the cold tier's restore Job");
    await noDrillObjectsLeft(n, 'db');
  });
});

describe('a real failure wins', () => {
  test('a primary failure aborts a running drill at once, and the promotion goes ahead', async () => {
    const n = ns.abort;
    await apply(statefulPrimary('db'), n);
    await apply(site('db', 'hot', `  drill: {verify: ${HELD_VERIFY}}\n`, 'mode: automatic, failureThreshold: 2s'), n);
    await apply(statefulPrimary('zero'), n);
    await apply(site('zero', 'hot', `  drill: {verify: ${HELD_VERIFY}}\n`, 'mode: automatic, failureThreshold: 0s'), n);
    for (const name of ['db', 'zero']) {
      await waitForSite(n, name, isProtected, `${name} Protected`);
      await annotate(n, name, 'a1');
      await waitForSite(n, name, drillIn('Verifying'), `${name}: the drill verifying`);
    }
    await failPrimaryPods(n, 'db');
    await failPrimaryPods(n, 'zero');
    for (const name of ['db', 'zero']) {
      const s = await waitForSite(n, name, (x) => x.status?.phase === 'Promoted', `${name} promoted`);
      expect(s.status?.lastDrill).toMatchObject({ result: 'Aborted', token: 'a1' });
      expect(s.status?.lastDrill?.rtoSeconds).toBeUndefined();
      expect(s.status?.drill).toBeUndefined();
      expect(s.status?.promotion).toMatchObject({ state: 'Promoted', trigger: 'automatic' });
      // Aborted no later than the promotion began.
      expect(new Date(s.status!.lastDrill!.finishedAt).getTime()).toBeLessThanOrEqual(new Date(s.status!.promotion!.startedAt!).getTime());
      await noDrillObjectsLeft(n, name);
    }
    // With a threshold, the failure itself aborts the drill; without one, the promotion's start does, in its own write.
    expect((await getSite(n, 'db')).status?.lastDrill?.message).toContain('the primary is not Ready: a real failure wins over a drill');
    const zero = await getSite(n, 'zero');
    expect(zero.status?.lastDrill?.message).toContain('a promotion began');
    expect(zero.status?.lastDrill?.finishedAt).toBe(zero.status?.promotion?.startedAt);
    expect((await events(n, 'DrillAborted')).length).toBeGreaterThanOrEqual(2);
    // No drill on a promoted site.
    await annotate(n, 'zero', 'a2');
    await waitFor(async () => (await events(n, 'DrillRefused')).some((e) => e.message.includes('standby.dev/drill=a2') && e.message.includes('the standby serves clients')), {
      timeoutMs: 30_000,
      description: 'the drill on a promoted site refused',
    });
    expect((await getSite(n, 'zero')).status?.handledDrillToken).toBe('a2');
  });
});

describe('an operator restarted mid-drill', () => {
  test('the next operator records the drill Aborted and removes its scratch objects', async () => {
    const n = ns.restart;
    const first = await startOperator({ namespaces: [n], name: 'drill-restart-1' });
    let second: OperatorProcess | undefined;
    try {
      await apply(statefulPrimary('db'), n);
      await apply(site('db', 'hot', `  drill: {verify: ${HELD_VERIFY}}\n`), n);
      await waitForSite(n, 'db', isProtected, 'Protected');
      await annotate(n, 'db', 'r1');
      const running = await waitForSite(n, 'db', drillIn('Verifying'), 'the drill verifying');
      const id = running.status!.drill!.id;
      expect(await drillObjects(n, 'db', id)).not.toEqual([]);
      await first.kill();
      second = await startOperator({ namespaces: [n], name: 'drill-restart-2' });
      const s = await waitForSite(n, 'db', (x) => x.status?.lastDrill?.id === id, 'the drill recorded by the next operator');
      expect(s.status?.lastDrill).toMatchObject({ result: 'Aborted', token: 'r1' });
      expect(s.status?.lastDrill?.message).toContain('the operator restarted');
      expect(s.status?.drill).toBeUndefined();
      await noDrillObjectsLeft(n, 'db');
      expect(condition(s, 'DrillPassed')?.status).toBe('Unknown');
    } finally {
      await first.kill();
      if (second) expect(await second.stop()).toBe(0);
    }
  });
});

describe('a drill that fails', () => {
  test("a failing verification fails the drill with the Job's message; keepFailed keeps its objects until the next drill; a timeout fails it too", async () => {
    const n = ns.fail;
    await apply(statefulPrimary('db'), n);
    await apply(site('db', 'hot', `  drill: {keepFailed: true, verify: ${HELD_VERIFY}}\n`), n);
    await waitForSite(n, 'db', isProtected, 'Protected');
    await annotate(n, 'db', 'f1');
    const running = await waitForSite(n, 'db', drillIn('Verifying'), 'the drill verifying');
    const id = running.status!.drill!.id;
    // One drill at a time: a token that comes meanwhile is refused, once.
    await annotate(n, 'db', 'f2');
    await waitFor(async () => (await events(n, 'DrillRefused')).some((e) => e.message.includes(`standby.dev/drill=f2: no drill: drill ${id} is running`)), {
      timeoutMs: 30_000,
      description: 'the second token refused',
    });

    await endVerify(n, 'db', id, 'Failed');
    const failed = await waitForSite(n, 'db', (s) => s.status?.lastDrill?.id === id, 'the failed drill recorded');
    expect(failed.status?.lastDrill).toMatchObject({ result: 'Failed', token: 'f1' });
    expect(failed.status?.lastDrill?.message).toContain(`verification Job ${drillNames('db', id).verifyJob} failed: BackoffLimitExceeded: Job has reached the specified backoff limit`);
    expect(failed.status?.lastDrill?.rtoSeconds).toBeUndefined();
    expect(failed.status?.handledDrillToken).toBe('f2');
    expect(condition(failed, 'DrillPassed')).toMatchObject({ status: 'False', reason: 'DrillFailed' });
    expect((await events(n, 'DrillFailed'))[0]?.message).toContain('spec.drill.keepFailed');
    expect(await new Promise<string[]>((r) => setTimeout(() => r(drillObjects(n, 'db', id)), 3000))).toEqual(
      expect.arrayContaining([`networkpolicy.networking.k8s.io/${drillNames('db', id).policy}`, `statefulset.apps/${drillNames('db', id).workload}`]),
    );

    // The next drill (no verification now) passes, and the kept objects go.
    await apply(site('db', 'hot', '  drill: {keepFailed: true}\n'), n);
    await annotate(n, 'db', 'f3');
    const passed = await waitForSite(n, 'db', (s) => s.status?.lastDrill?.token === 'f3', 'the next drill recorded');
    expectPassed(passed, passed.status!.lastDrill!.id, 'manual');
    await noDrillObjectsLeft(n, 'db');

    // A drill that outlives spec.drill.timeout fails, and (keepFailed off) leaves nothing.
    await apply(site('db', 'hot', `  drill: {timeout: 3s, verify: ${HELD_VERIFY}}\n`), n);
    await annotate(n, 'db', 'f4');
    const late = await waitForSite(n, 'db', (s) => s.status?.lastDrill?.token === 'f4', 'the late drill recorded');
    expect(late.status?.lastDrill?.result).toBe('Failed');
    expect(late.status?.lastDrill?.message).toContain('did not finish within 3s (spec.drill.timeout)');
    await noDrillObjectsLeft(n, 'db');
    expect(late.status?.drillHistory?.map((h) => h.result)).toEqual(['Failed', 'Passed', 'Failed']);
  });
});

describe('scheduled drills', () => {
  test('every tier drills on spec.drill.schedule and records it as scheduled', async () => {
    const sites: [string, string][] = [
      [ns.hot, site('db', 'hot', '  drill: {schedule: "* * * * *"}\n')],
      [ns.warm, site('db', 'warm', '  warm: {schedule: "*/15 * * * *"}\n  drill: {schedule: "* * * * *", timeZone: Europe/Berlin}\n')],
      [ns.cold, site('db', 'cold', '  cold: {schedule: "0 2 * * *", retention: {keepLast: 1}}\n  drill: {schedule: "* * * * *"}\n')],
    ];
    for (const [n, manifest] of sites) await apply(manifest, n);
    for (const [n] of sites) {
      const s = await waitForSite(n, 'db', (x) => x.status?.lastDrill?.trigger === 'scheduled', `${n}: a scheduled drill`, 150_000);
      expectPassed(s, s.status!.lastDrill!.id, 'scheduled');
      expect(s.status?.lastDrillScheduleTime).toBeDefined();
      expect(new Date(s.status!.nextDrillTime!).getTime()).toBeGreaterThan(new Date(s.status!.lastDrillScheduleTime!).getTime());
      await noDrillObjectsLeft(n, 'db');
    }
    const text = await metrics();
    for (const tier of ['hot', 'warm', 'cold']) expect(text).toMatch(new RegExp(`standby_drills_total\\{tier="${tier}",result="Passed",trigger="scheduled"\\} [1-9]`));
    // Suspended: no more scheduled drills, and no next time shown.
    for (const [n] of sites) await kubectl(['-n', n, 'patch', 'standbysite', 'db', '--type=merge', '-p', '{"spec":{"drill":{"suspend":true}}}']);
    for (const [n] of sites) await waitForSite(n, 'db', (x) => x.status?.nextDrillTime === undefined && x.status?.drill === undefined, `${n}: the schedule suspended`, 90_000);
  });
});

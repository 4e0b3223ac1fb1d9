// Never take what is not yours: an object of a name the site writes that the operator did not
// make for this very site is never adopted, changed or deleted; one workload has one site; and
// the status says so in a way kstatus (Flux, kpt) judges right.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { apply, createNamespace, deleteNamespace, kubectl, kubectlJson, waitFor } from '../cluster/helpers.ts';
import { kstatusOf } from '../kstatus/kstatus.ts';
import {
  condition,
  getSite,
  installCrd,
  podNames,
  runCopy,
  setPodReady,
  startOperator,
  statefulPrimary,
  waitForSite,
  type OperatorProcess,
  type SiteObject,
} from './support/operator.ts';

interface Obj {
  metadata: { name: string; resourceVersion: string; uid: string; labels?: Record<string, string>; ownerReferences?: { uid: string }[]; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
}

const KEYS = ['svc', 'sts', 'fence', 'copier', 'twins', 'again', 'kstatus'] as const;
const ns = {} as Record<(typeof KEYS)[number], string>;
let op: OperatorProcess;

beforeAll(async () => {
  await installCrd();
  for (const k of KEYS) ns[k] = await createNamespace(`own-${k}`);
  op = await startOperator({ namespaces: KEYS.map((k) => ns[k]), name: 'ownership' });
});

afterAll(async () => {
  const code = await op.stop();
  expect(code, `operator exit code (log: ${op.logFile})`).toBe(0);
  for (const k of KEYS) await deleteNamespace(ns[k]);
});

const site = (name: string, tier: string, extra = '', primary = name) => `apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: ${name}}
spec:
  tier: ${tier}
  primary: {workload: {kind: StatefulSet, name: ${primary}}, service: ${primary}}
${extra
  .split('\n')
  .map((l) => `  ${l.trim()}`)
  .join('\n')}`;

const isProtected = (s: SiteObject) =>
  s.status?.phase === 'Protected' && condition(s, 'Ready')?.status === 'True' && s.status.observedGeneration === s.metadata.generation;
const conflicted = (s: SiteObject) => condition(s, 'Stalled')?.status === 'True' && condition(s, 'Stalled')?.reason === 'NameConflict';

async function get(n: string, kind: string, name: string): Promise<Obj> {
  return kubectlJson<Obj>(['-n', n, 'get', kind, name]);
}

/**
 * The object as the user left it: the same object (UID), the same spec, labels, annotations and
 * owners, none of the operator's marks. (Not the resourceVersion: a workload's controller writes
 * its status.)
 */
async function expectUntouched(n: string, kind: string, before: Obj): Promise<void> {
  const now = await get(n, kind, before.metadata.name);
  const what = `${kind} ${before.metadata.name}`;
  expect(now.metadata.uid, what).toBe(before.metadata.uid);
  expect(now.spec, `${what} spec`).toEqual(before.spec);
  expect(now.metadata.labels ?? {}, `${what} labels`).toEqual(before.metadata.labels ?? {});
  expect(now.metadata.annotations ?? {}, `${what} annotations`).toEqual(before.metadata.annotations ?? {});
  expect(now.metadata.ownerReferences ?? [], `${what} owners`).toEqual(before.metadata.ownerReferences ?? []);
}

async function expectNoWrites(n: string, name: string): Promise<void> {
  // A blocked site creates nothing at all.
  const owned = await kubectlJson<{ items: Obj[] }>(['-n', n, 'get', 'statefulsets,services,cronjobs,networkpolicies,serviceaccounts', '-l', `standby.dev/site=${name}`]);
  expect(owned.items.map((o) => o.metadata.name)).toEqual([]);
}

describe('an object of a name the site writes, not made for it, is never adopted', () => {
  test('traffic.service names an existing Service of the user: NameConflict, the Service untouched', async () => {
    const n = ns.svc;
    await apply(statefulPrimary('db'), n);
    await apply(
      `apiVersion: v1
kind: Service
metadata: {name: clients}
spec:
  selector: {app: something-else}
  ports: [{port: 80}]
`,
      n,
    );
    const before = await get(n, 'service', 'clients');
    await apply(site('db', 'hot', 'traffic: {service: clients}\nhot: {replicas: 1}'), n);
    const s = await waitForSite(n, 'db', conflicted, 'a NameConflict');
    expect(condition(s, 'Ready')).toMatchObject({ status: 'False', reason: 'NameConflict' });
    expect(condition(s, 'Stalled')?.message).toMatch(/Service clients already exists and it was not created by this StandbySite.*spec\.traffic\.service/);
    expect(condition(s, 'PromotionReady')).toMatchObject({ status: 'False', reason: 'NameConflict' });
    expect((await kstatusOf(s)).status).toBe('Failed');
    const events = await kubectlJson<{ items: { reason: string }[] }>(['-n', n, 'get', 'events', '--field-selector', 'involvedObject.name=db']);
    expect(events.items.map((e) => e.reason)).not.toContain('Protected');
    expect(s.status?.handledPromoteToken).toBeUndefined();
    // Seconds later, still untouched, and nothing else made.
    await new Promise((r) => setTimeout(r, 3000));
    await expectUntouched(n, 'service', before);
    await expectNoWrites(n, 'db');
  });

  test("a user's <site>-standby StatefulSet: NameConflict until the user removes it, then the site proceeds", async () => {
    const n = ns.sts;
    await apply(statefulPrimary('db'), n);
    await apply(statefulPrimary('db-standby', { volume: false }).split('---')[1]!, n);
    const before = await get(n, 'statefulset', 'db-standby');
    await apply(site('db', 'hot', 'hot: {replicas: 1}'), n);
    const s = await waitForSite(n, 'db', conflicted, 'a NameConflict');
    expect(condition(s, 'Stalled')?.message).toContain('StatefulSet db-standby already exists');
    await new Promise((r) => setTimeout(r, 2000));
    await expectUntouched(n, 'statefulset', before);
    await expectNoWrites(n, 'db');
    // The user decides: their StatefulSet goes; the site wakes up by itself and protects.
    await kubectl(['-n', n, 'delete', 'statefulset', 'db-standby', '--wait=true']);
    const ok = await waitForSite(n, 'db', isProtected, 'Protected once the name is free', 90_000);
    expect(condition(ok, 'Stalled')?.status).toBe('False');
    const sts = await get(n, 'statefulset', 'db-standby');
    expect(sts.metadata.uid).not.toBe(before.metadata.uid);
    expect(sts.metadata.ownerReferences?.map((r) => r.uid)).toEqual([ok.metadata.uid]);
  });

  test("a user's <site>-fence NetworkPolicy (no labels): NameConflict, never overwritten", async () => {
    const n = ns.fence;
    await apply(statefulPrimary('db'), n);
    await apply(
      `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-fence}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress: [{}]
`,
      n,
    );
    const before = await get(n, 'networkpolicy', 'db-fence');
    await apply(site('db', 'hot', 'hot: {replicas: 1}'), n);
    const s = await waitForSite(n, 'db', conflicted, 'a NameConflict');
    expect(condition(s, 'Stalled')?.message).toContain('NetworkPolicy db-fence already exists');
    // Not even a promotion by request may write over it.
    await kubectl(['-n', n, 'annotate', 'standbysite', 'db', 'standby.dev/promote=try-1']);
    await new Promise((r) => setTimeout(r, 3000));
    const after = await waitForSite(n, 'db', (x) => x.status?.handledPromoteToken === 'try-1', 'the token handled (refused)');
    expect(after.status?.promotion).toBeUndefined();
    const refusals = await kubectlJson<{ items: { message: string }[] }>(['-n', n, 'get', 'events', '--field-selector', 'reason=PromotionRefused']);
    expect(refusals.items.map((e) => e.message).join('\n')).toContain('standby.dev/promote=try-1: NetworkPolicy db-fence already exists');
    await expectUntouched(n, 'networkpolicy', before);
  });

  test("a user's <site>-copier ServiceAccount (warm): NameConflict, untouched", async () => {
    const n = ns.copier;
    await apply(statefulPrimary('db'), n);
    await kubectl(['-n', n, 'create', 'serviceaccount', 'db-copier']);
    const before = await get(n, 'serviceaccount', 'db-copier');
    await apply(site('db', 'warm', 'warm: {schedule: "*/15 * * * *"}'), n);
    const s = await waitForSite(n, 'db', conflicted, 'a NameConflict');
    expect(condition(s, 'Stalled')?.message).toContain('ServiceAccount db-copier already exists');
    await new Promise((r) => setTimeout(r, 2000));
    await expectUntouched(n, 'serviceaccount', before);
    await expectNoWrites(n, 'db');
  });
});

describe('one workload, one site', () => {
  test('a second site for a protected workload is refused naming the first; it proceeds once the first is gone; the winner is stable', async () => {
    const n = ns.twins;
    await apply(statefulPrimary('db'), n);
    await apply(site('first', 'hot', 'hot: {replicas: 1}', 'db'), n);
    const first = await waitForSite(n, 'first', isProtected, 'the first site Protected');
    const standbyBefore = await get(n, 'statefulset', 'first-standby');
    await new Promise((r) => setTimeout(r, 1100)); // a later creationTimestamp (seconds)
    await apply(site('second', 'hot', 'hot: {replicas: 1}', 'db'), n);
    const refused = (s: SiteObject) => condition(s, 'Stalled')?.reason === 'WorkloadProtected';
    const second = await waitForSite(n, 'second', refused, 'the second site refused');
    expect(condition(second, 'Stalled')?.message).toContain('already protected by StandbySite first');
    expect(condition(second, 'Ready')).toMatchObject({ status: 'False', reason: 'WorkloadProtected' });
    await expectNoWrites(n, 'second');
    // The first keeps working untouched.
    expect((await get(n, 'statefulset', 'first-standby')).metadata.resourceVersion).toBe(standbyBefore.metadata.resourceVersion);
    expect(isProtected(await getSite(n, 'first'))).toBe(true);
    // The winner does not depend on which site an operator happens to reconcile first.
    await op.stop();
    op = await startOperator({ namespaces: KEYS.map((k) => ns[k]), name: 'ownership-restarted' });
    await new Promise((r) => setTimeout(r, 3000));
    expect(refused(await getSite(n, 'second'))).toBe(true);
    expect(isProtected(await getSite(n, 'first'))).toBe(true);
    await expectNoWrites(n, 'second');
    // The first goes: the second takes over protecting the workload.
    await kubectl(['-n', n, 'delete', 'standbysite', 'first']);
    const now = await waitForSite(n, 'second', isProtected, 'the second site Protected once the first is gone', 90_000);
    expect(now.metadata.uid).not.toBe(first.metadata.uid);
  });
});

describe('after a failover, a re-applied site takes nothing over', () => {
  test('delete the promoted site and apply the same manifest: NameConflict (left by a promotion); traffic stays on the standby', async () => {
    const n = ns.again;
    await apply(statefulPrimary('db'), n);
    const manifest = site('db', 'warm', 'warm: {schedule: "*/15 * * * *"}\npromotion: {mode: automatic, failureThreshold: 2s}');
    await apply(manifest, n);
    // kwok runs no container: make the first copy as the sync CronJob's pod would.
    expect((await runCopy('sync', n, 'db')).code).toBe(0);
    await waitForSite(n, 'db', isProtected, 'Protected with a copy');
    for (const p of await podNames(n, 'app=db')) await setPodReady(n, p, false);
    await waitForSite(n, 'db', (s) => s.status?.phase === 'Promoted', 'Promoted', 90_000);
    // After a promotion the site tells the truth: nothing protects it yet; re-protection
    // (automatic by default) waits for the old primary to run again, which is progress, not a stall.
    const waiting = await waitForSite(n, 'db', (s) => condition(s, 'Reconciling')?.reason === 'WaitingForPrimary', 'waiting for the old primary');
    expect(condition(waiting, 'PromotionReady')).toMatchObject({ status: 'False', reason: 'NotProtected' });
    expect(condition(waiting, 'Stalled')).toMatchObject({ status: 'False' });
    expect((await kstatusOf(waiting)).status).toBe('InProgress');
    const traffic = await get(n, 'service', 'db-active');
    const standby = await get(n, 'statefulset', 'db-standby');
    expect(traffic.spec?.selector).toMatchObject({ 'standby.dev/role': 'standby' });
    // What GitOps self-heal does after `kubectl delete standbysite`: apply the same manifest.
    await kubectl(['-n', n, 'delete', 'standbysite', 'db', '--wait=true']);
    await apply(manifest, n);
    const again = await waitForSite(n, 'db', conflicted, 'a NameConflict on the re-applied site');
    expect(condition(again, 'Stalled')?.message).toMatch(/left by a promotion of an earlier StandbySite db/);
    await new Promise((r) => setTimeout(r, 3000));
    const trafficNow = await get(n, 'service', 'db-active');
    expect(trafficNow.spec?.selector).toEqual(traffic.spec?.selector);
    expect(trafficNow.metadata.resourceVersion).toBe(traffic.metadata.resourceVersion);
    const standbyNow = await get(n, 'statefulset', 'db-standby');
    expect(standbyNow.metadata.resourceVersion).toBe(standby.metadata.resourceVersion);
    expect((standbyNow.spec as { replicas?: number }).replicas).toBe(1);
    // No sync CronJob comes back to copy the fenced old primary over what serves.
    const crons = await kubectlJson<{ items: Obj[] }>(['-n', n, 'get', 'cronjobs']);
    expect(crons.items.map((c) => c.metadata.name)).toEqual([]);
  });
});

describe('status that kstatus judges right', () => {
  test('Protected → Current; setting up → InProgress; a missing workload → Failed; a spec only the controller can refuse → Failed', async () => {
    const n = ns.kstatus;
    await apply(statefulPrimary('db'), n);
    await apply(site('db', 'hot', 'hot: {replicas: 1}'), n);
    expect((await kstatusOf(await waitForSite(n, 'db', isProtected, 'Protected'))).status).toBe('Current');
    await kubectl(['-n', n, 'wait', '--for=condition=Ready', 'standbysite/db', '--timeout=30s']);

    // Warm before its first copy: on its way.
    await apply(statefulPrimary('wdb'), n);
    await apply(site('wdb', 'warm', 'warm: {schedule: "0 3 * * *"}'), n);
    const pending = await waitForSite(n, 'wdb', (s) => s.status?.phase === 'Pending' && s.status.observedGeneration === s.metadata.generation, 'Pending');
    expect(condition(pending, 'Reconciling')?.status).toBe('True');
    expect((await kstatusOf(pending)).status).toBe('InProgress');

    // A workload that does not exist: nothing improves until a person acts.
    await apply(site('ghost', 'hot', 'hot: {replicas: 1}', 'nothing-here'), n);
    const ghost = await waitForSite(n, 'ghost', (s) => condition(s, 'Stalled')?.status === 'True', 'Stalled');
    expect(condition(ghost, 'Stalled')?.reason).toMatch(/PrimaryNotFound|BadReference/);
    const verdict = await kstatusOf(ghost);
    expect(verdict.status).toBe('Failed');
    expect(verdict.message).toMatch(/does not exist/);
    await waitFor(async () => (await kubectl(['-n', n, 'get', 'standbysite', 'ghost', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])) === 'False', {
      timeoutMs: 10_000,
      description: 'Ready False',
    });

    // A time zone of the right shape that does not exist: only the controller can tell.
    await apply(statefulPrimary('tz'), n);
    await apply(site('tz', 'cold', 'cold: {schedule: "0 2 * * *", timeZone: Mars/Olympus_Mons}'), n);
    const tz = await waitForSite(n, 'tz', (s) => condition(s, 'Stalled')?.reason === 'InvalidSpec', 'Stalled InvalidSpec');
    expect((await kstatusOf(tz)).status).toBe('Failed');
  });
});

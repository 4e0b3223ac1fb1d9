// The DR cycle against the real control plane, with the generic engine (hot tier): a failover,
// the old primary re-protected into the standby of the promoted one, a failback to the declared
// primary (by token, and automatic after `after`), the standby made the primary's standby again;
// nothing written to the spec, the user's objects untouched; an operator killed mid-re-protection
// and mid-failback resumes each exactly once; a second primary failure while re-protecting
// promotes nothing. Primary failures are made through the pods' /status, as a failing kubelet would.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { apply, createNamespace, deleteNamespace, kubectl, kubectlJson, waitFor } from '../cluster/helpers.ts';
import { condition, getSite, installCrd, podNames, setPodReady, startOperator, statefulPrimary, waitForSite, type OperatorProcess, type SiteObject } from './support/operator.ts';

const NAMESPACES = ['token', 'auto', 'crash'] as const;
const ns = {} as Record<(typeof NAMESPACES)[number], string>;
let op: OperatorProcess;

beforeAll(async () => {
  await installCrd();
  for (const k of NAMESPACES) ns[k] = await createNamespace(`life-${k}`);
  // The crash test runs its own operators on its own namespace.
  op = await startOperator({ namespaces: [ns.token, ns.auto], name: 'lifecycle' });
});

afterAll(async () => {
  const code = await op.stop();
  expect(code, `operator exit code (log: ${op.logFile})`).toBe(0);
  for (const k of NAMESPACES) await deleteNamespace(ns[k]);
});

const job = (name: string) => `{spec: {restartPolicy: Never, containers: [{name: ${name}, image: "example.invalid/${name}:1"}]}}`;

function hotSite(name: string, failback = '{mode: manual}'): string {
  return `apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: ${name}}
spec:
  tier: hot
  hot: {replicas: 1}
  primary: {workload: {kind: StatefulSet, name: ${name}}, service: ${name}}
  promotion: {mode: automatic, failureThreshold: 3s, maxPromotions: {count: 5, window: 1h}, failback: ${failback}}
  engine:
    type: generic
    generic:
      reprotectJobTemplate: ${job('follow')}
      failbackJobTemplate: ${job('catchup')}
`;
}

async function setPrimaryReady(n: string, name: string, ready: boolean): Promise<void> {
  const pods = await podNames(n, `app=${name}`);
  expect(pods.length).toBeGreaterThan(0);
  for (const p of pods) await setPodReady(n, p, ready);
}

async function trafficSelector(n: string, svc: string): Promise<Record<string, string>> {
  return (await kubectlJson<{ spec: { selector: Record<string, string> } }>(['-n', n, 'get', 'service', svc])).spec.selector;
}

async function events(n: string, reason: string): Promise<{ message: string }[]> {
  return (await kubectlJson<{ items: { message: string }[] }>(['-n', n, 'get', 'events', '--field-selector', `reason=${reason}`])).items;
}

async function exists(n: string, kind: string, name: string): Promise<boolean> {
  const out = await kubectl(['-n', n, 'get', kind, name, '--ignore-not-found', '-o', 'name']);
  return out.trim() !== '';
}

/** What the user owns: the primary StatefulSet's and Service's spec and generation. */
async function userObjects(n: string, name: string): Promise<unknown> {
  const sts = await kubectlJson<{ metadata: { generation: number; annotations?: Record<string, string> }; spec: unknown }>(['-n', n, 'get', 'statefulset', name]);
  const svc = await kubectlJson<{ metadata: { annotations?: Record<string, string> }; spec: { selector: unknown; ports: unknown } }>(['-n', n, 'get', 'service', name]);
  return { sts: { generation: sts.metadata.generation, spec: sts.spec, annotations: sts.metadata.annotations }, svc: { selector: svc.spec.selector, ports: svc.spec.ports, annotations: svc.metadata.annotations } };
}

const promoted = (s: SiteObject) => s.status?.promotion?.state === 'Promoted' && s.status.active === 'standby';
const reprotectedOnStandby = (s: SiteObject) => s.status?.phase === 'Protected' && s.status.active === 'standby' && s.status.reprotection?.state === 'Protected';
const backOnPrimary = (s: SiteObject) =>
  s.status?.phase === 'Protected' && s.status.active === 'primary' && s.status.failback?.state === 'Promoted' && s.status.reprotection?.of === 'standby' && s.status.reprotection.state === 'Protected';

async function expectReprotectedOnStandby(n: string, s: SiteObject): Promise<void> {
  expect(s.status?.reprotection).toMatchObject({ of: 'primary', method: 'job' });
  expect(condition(s, 'Ready')).toMatchObject({ status: 'True', reason: 'Protected' });
  expect(condition(s, 'FailbackReady')).toMatchObject({ status: 'True' });
  expect(await trafficSelector(n, 'db-active')).toEqual({ 'standby.dev/site': 'db', 'standby.dev/role': 'standby' });
  // The old primary's fence is narrowed to the standby's pods (it must reach what it follows).
  const fence = await kubectlJson<{ spec: { podSelector: unknown; ingress?: { from: unknown[] }[] } }>(['-n', n, 'get', 'networkpolicy', 'db-fence']);
  expect(fence.spec.podSelector).toEqual({ matchLabels: { app: 'db' } });
  expect(fence.spec.ingress).toEqual([{ from: [{ podSelector: { matchLabels: { 'standby.dev/site': 'db', 'standby.dev/role': 'standby' } } }] }]);
  // What only the old primary held is kept before anything makes it follow.
  expect(s.status?.reprotection?.divergence?.snapshotRun).toMatch(/^divergent-/);
}

async function expectBackOnPrimary(n: string, s: SiteObject, generation: number, before: unknown): Promise<void> {
  expect(s.status?.epoch).toBe(2);
  expect(await trafficSelector(n, 'db-active')).toEqual({ app: 'db' });
  expect(await exists(n, 'networkpolicy', 'db-fence')).toBe(false);
  expect(await exists(n, 'networkpolicy', 'db-standby-fence')).toBe(false);
  // The standby restarted as the primary's standby: its pods carry the failback's epoch.
  const standbyPods = await kubectlJson<{ items: { metadata: { labels: Record<string, string> } }[] }>(['-n', n, 'get', 'pods', '-l', 'standby.dev/site=db,standby.dev/role=standby']);
  expect(standbyPods.items.length).toBeGreaterThan(0);
  for (const p of standbyPods.items) expect(p.metadata.labels['standby.dev/epoch']).toBe('2');
  expect(s.status?.promotionHistory?.map((h) => `${h.kind ?? 'promotion'}:${h.result}`)).toEqual(['promotion:Promoted', 'reprotect:Protected', 'failback:Promoted', 'reprotect:Protected']);
  expect(condition(s, 'PromotionReady')).toMatchObject({ status: 'True', reason: 'Armed' });
  // Nothing was written to the spec; the user's objects are as they were.
  expect(s.metadata.generation).toBe(generation);
  expect(await userObjects(n, 'db')).toEqual(before);
}

describe('hot tier, generic engine', () => {
  test('failover, re-protection, failback by token, the standby re-protected: the primary serves again, nothing lost, no spec written', { timeout: 240_000 }, async () => {
    const n = ns.token;
    await apply(statefulPrimary('db', { replicas: 1 }), n);
    await apply(hotSite('db'), n);
    const first = await waitForSite(n, 'db', (s) => s.status?.phase === 'Protected', 'Protected');
    const generation = first.metadata.generation;
    const before = await userObjects(n, 'db');

    await setPrimaryReady(n, 'db', false);
    const p = await waitForSite(n, 'db', promoted, 'promoted', 30_000);
    // Re-protection waits for the old primary to run again, and says so.
    expect(p.status?.reprotection).toBeUndefined();
    const waiting = await waitForSite(n, 'db', (s) => condition(s, 'Reconciling')?.reason === 'WaitingForPrimary', 'waiting for the old primary');
    expect(waiting.status?.phase).toBe('Promoted');
    // A failback before re-protection is refused, naming the way out.
    await kubectl(['-n', n, 'annotate', 'standbysite', 'db', 'standby.dev/failback=too-early']);
    const early = await waitForSite(n, 'db', (s) => s.status?.handledFailbackToken === 'too-early', 'early failback refused');
    expect(early.status?.failback).toBeUndefined();
    expect((await events(n, 'FailbackRefused'))[0]?.message).toContain('force-<token>');

    await setPrimaryReady(n, 'db', true);
    const r = await waitForSite(n, 'db', reprotectedOnStandby, 're-protected on the standby', 60_000);
    await expectReprotectedOnStandby(n, r);
    const reprotectJobs = await kubectlJson<{ items: { metadata: { name: string } }[] }>(['-n', n, 'get', 'jobs', '-l', 'standby.dev/role=reprotect']);
    expect(reprotectJobs.items).toHaveLength(1);

    await kubectl(['-n', n, 'annotate', '--overwrite', 'standbysite', 'db', 'standby.dev/failback=fb-1']);
    const back = await waitForSite(n, 'db', backOnPrimary, 'failed back and the standby re-protected', 90_000);
    expect(back.status?.handledFailbackToken).toBe('fb-1');
    expect(back.status?.failback).toMatchObject({ to: 'primary', trigger: 'manual', token: 'fb-1', epoch: 2 });
    expect(back.status?.failback?.caughtUpAt).toBeDefined();
    expect(await events(n, 'FailedBack')).toHaveLength(1);
    await expectBackOnPrimary(n, back, generation, before);
  });

  test('automatic failback once re-protected and stable for `after`', { timeout: 240_000 }, async () => {
    const n = ns.auto;
    await apply(statefulPrimary('db', { replicas: 1 }), n);
    await apply(hotSite('db', '{mode: automatic, after: 5s}'), n);
    const first = await waitForSite(n, 'db', (s) => s.status?.phase === 'Protected', 'Protected');
    const before = await userObjects(n, 'db');
    await setPrimaryReady(n, 'db', false);
    await waitForSite(n, 'db', promoted, 'promoted', 30_000);
    await setPrimaryReady(n, 'db', true);
    const r = await waitForSite(n, 'db', (s) => s.status?.reprotection?.state === 'Protected' && s.status.active === 'standby', 're-protected', 60_000);
    const back = await waitForSite(n, 'db', backOnPrimary, 'failed back by itself', 90_000);
    expect(back.status?.failback).toMatchObject({ trigger: 'automatic', to: 'primary' });
    expect(back.status?.failback?.reason).toContain('promotion.failback.after');
    // Not before `after` had passed since re-protection completed.
    expect(new Date(back.status!.failback!.startedAt!).getTime() - new Date(r.status!.reprotection!.completedAt!).getTime()).toBeGreaterThanOrEqual(5000);
    await expectBackOnPrimary(n, back, first.metadata.generation, before);
  });

  test('an operator killed mid-re-protection and mid-failback: each resumed once; a primary failure while re-protecting promotes nothing', { timeout: 300_000 }, async () => {
    const n = ns.crash;
    const first = await startOperator({ namespaces: [n], name: 'life-crash-1', env: { STANDBY_TEST_EXIT_AFTER_STEP: 'reprotect:Seeding' } });
    await apply(statefulPrimary('db', { replicas: 1 }), n);
    await apply(hotSite('db'), n);
    const protectedSite = await waitForSite(n, 'db', (s) => s.status?.phase === 'Protected', 'Protected');
    const before = await userObjects(n, 'db');
    await setPrimaryReady(n, 'db', false);
    await waitForSite(n, 'db', promoted, 'promoted', 30_000);
    await setPrimaryReady(n, 'db', true);
    expect(await first.exited).toBe(75);
    const midway = await getSite(n, 'db');
    expect(midway.status?.phase).toBe('Reprotecting');
    expect(midway.status?.reprotection?.state).toBe('Following');

    // The old primary fails again while it is being made the standby's follower.
    await setPrimaryReady(n, 'db', false);
    const second = await startOperator({ namespaces: [n], name: 'life-crash-2', env: { STANDBY_TEST_EXIT_AFTER_STEP: 'failback:CatchingUp' } });
    try {
      // Well past failureThreshold (3 s): still re-protecting, still the one promotion.
      const since = Date.now();
      await waitFor(
        async () => {
          const s = await getSite(n, 'db');
          expect(s.status?.phase).toBe('Reprotecting');
          expect(s.status?.promotion?.startedAt).toBe(midway.status?.promotion?.startedAt);
          expect(s.status?.promotionHistory?.filter((h) => (h.kind ?? 'promotion') === 'promotion')).toHaveLength(1);
          return Date.now() - since > 10_000 && s.status?.primary?.ready === false;
        },
        { timeoutMs: 30_000, intervalMs: 500, description: 'ten seconds of a failed old primary while re-protecting' },
      );
      expect(await events(n, 'PromotionStarted')).toHaveLength(1);

      await setPrimaryReady(n, 'db', true);
      const r = await waitForSite(n, 'db', reprotectedOnStandby, 're-protection finished by the restarted operator', 60_000);
      expect(r.status?.reprotection?.startedAt).toBe(midway.status?.reprotection?.startedAt);
      await expectReprotectedOnStandby(n, r);
      expect(await events(n, 'ReprotectStarted')).toHaveLength(1);
      expect(await events(n, 'Reprotected')).toHaveLength(1);

      await kubectl(['-n', n, 'annotate', 'standbysite', 'db', 'standby.dev/failback=fb-crash']);
      expect(await second.exited).toBe(75);
    } finally {
      await second.stop();
    }
    const mid = await getSite(n, 'db');
    expect(mid.status?.phase).toBe('FailingBack');
    expect(mid.status?.failback?.state).toBe('Promoting');
    expect(mid.status?.active).toBe('standby');

    const third = await startOperator({ namespaces: [n], name: 'life-crash-3' });
    try {
      const back = await waitForSite(n, 'db', backOnPrimary, 'failback finished by the restarted operator', 90_000);
      expect(back.status?.failback?.startedAt).toBe(mid.status?.failback?.startedAt);
      expect(await events(n, 'FailbackStarted')).toHaveLength(1);
      expect(await events(n, 'FailedBack')).toHaveLength(1);
      const catchUpJobs = await kubectlJson<{ items: unknown[] }>(['-n', n, 'get', 'jobs', '-l', 'standby.dev/role=failback']);
      expect(catchUpJobs.items).toHaveLength(1);
      await expectBackOnPrimary(n, back, protectedSite.metadata.generation, before);
    } finally {
      expect(await third.stop()).toBe(0);
    }
  });
});

// The DR cycle against the real control plane, with the generic engine (hot tier): a failover,
// the old primary re-protected into the standby of the promoted one, a failback to the declared
// primary (by token, and automatic after `after`), the standby made the primary's standby again;
// nothing written to the spec, the user's objects untouched; an operator killed mid-re-protection
// and mid-failback resumes each exactly once; a second primary failure while re-protecting
// promotes nothing. The warm and cold tiers go through the same cycle on copies: the old primary's
// volumes kept aside (divergent), snapshots of the serving standby, the primary's claims restored
// from the fenced standby's final snapshot; markers written into the fake storage's volume folders
// (on this machine) show what data ends where. Primary failures are made through the pods'
// /status, as a failing kubelet would.
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { apply, createNamespace, deleteNamespace, kubectl, kubectlJson, waitFor } from '../cluster/helpers.ts';
import { condition, getSite, installCrd, podNames, runCopy, setPodReady, startOperator, statefulPrimary, waitForSite, type OperatorProcess, type SiteObject } from './support/operator.ts';

const NAMESPACES = ['token', 'auto', 'crash', 'warm', 'cold'] as const;
const ns = {} as Record<(typeof NAMESPACES)[number], string>;
let op: OperatorProcess;

beforeAll(async () => {
  await installCrd();
  for (const k of NAMESPACES) ns[k] = await createNamespace(`life-${k}`);
  // The crash test runs its own operators on its own namespace.
  op = await startOperator({ namespaces: [ns.token, ns.auto, ns.warm, ns.cold], name: 'lifecycle' });
});

afterAll(async () => {
  const code = await op.stop();
  expect(code, `operator exit code (log: ${op.logFile})`).toBe(0);
  for (const k of NAMESPACES) await deleteNamespace(ns[k]);
});

const job = (name: string) => `{spec: {restartPolicy: Never, containers: [{name: ${name}, image: "example.invalid/${name}:1"}]}}`;

function hotSite(name: string, failback = '{mode: manual}', extra = ''): string {
  return `apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: ${name}}
spec:
  tier: hot
  hot: {replicas: 1}
${extra}  primary: {workload: {kind: StatefulSet, name: ${name}}, service: ${name}}
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

/** The requests of the standby StatefulSet's container main (its pods are made from it). */
async function standbyRequests(n: string): Promise<unknown> {
  const sts = await kubectlJson<{ spec: { template: { spec: { containers: { name: string; resources?: { requests?: unknown } }[] } } } }>(['-n', n, 'get', 'statefulset', 'db-standby']);
  return sts.spec.template.spec.containers.find((c) => c.name === 'main')?.resources?.requests;
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

  test('automatic failback once re-protected and stable for `after`; a smaller standby serves grown and stands by reduced again', { timeout: 240_000 }, async () => {
    const n = ns.auto;
    // The standby stands by at 250m / 256Mi of the primary's 1 CPU / 1Gi (spec.standby.resources).
    await apply(statefulPrimary('db', { replicas: 1, resources: '{requests: {cpu: "1", memory: 1Gi}}' }), n);
    await apply(hotSite('db', '{mode: automatic, after: 5s}', '  standby: {resources: {main: {requests: {cpu: 250m, memory: 256Mi}}}}\n'), n);
    const first = await waitForSite(n, 'db', (s) => s.status?.phase === 'Protected' && s.status.cost?.cpu === 0.25, 'Protected, reserving the reduced requests');
    expect(await standbyRequests(n)).toEqual({ cpu: '250m', memory: '256Mi' });
    const before = await userObjects(n, 'db');
    await setPrimaryReady(n, 'db', false);
    const p = await waitForSite(n, 'db', (s) => promoted(s) && s.status?.promotion?.grownAt !== undefined, 'promoted and grown', 60_000);
    expect(p.status?.promotion?.growthFailed).toBeUndefined();
    expect(await standbyRequests(n)).toEqual({ cpu: '1', memory: '1Gi' });
    await setPrimaryReady(n, 'db', true);
    const r = await waitForSite(n, 'db', (s) => s.status?.reprotection?.state === 'Protected' && s.status.active === 'standby', 're-protected', 60_000);
    const back = await waitForSite(n, 'db', backOnPrimary, 'failed back by itself', 90_000);
    expect(back.status?.failback).toMatchObject({ trigger: 'automatic', to: 'primary' });
    expect(back.status?.failback?.reason).toContain('promotion.failback.after');
    // The failback promoted the primary (nothing grew); the standby stands by reduced again, in the failback's epoch.
    expect(back.status?.failback?.grow).toBeUndefined();
    expect(await standbyRequests(n)).toEqual({ cpu: '250m', memory: '256Mi' });
    await waitForSite(n, 'db', (s) => s.status?.cost?.cpu === 0.25 && s.status.cost.memory === 256 * 2 ** 20, 'status.cost back at the reduced requests');
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


// ---- warm and cold: the same cycle on copies ----------------------------------------------------

function copySite(tier: 'warm' | 'cold'): string {
  return `apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: db}
spec:
  tier: ${tier}
  ${tier === 'warm' ? 'warm: {schedule: "*/15 * * * *"}' : 'cold: {schedule: "0 2 * * *"}'}
  primary: {workload: {kind: StatefulSet, name: db}, service: db}
  promotion: {mode: automatic, failureThreshold: 3s, maxPromotions: {count: 5, window: 1h}, failback: {mode: manual}}
  engine: {type: generic}
`;
}

interface Pvc { metadata: { name: string; uid: string; annotations?: Record<string, string> }; spec: { volumeName?: string; dataSource?: { kind: string; name: string } }; status: { phase?: string } }
interface Snap { metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string }; spec: { source: { persistentVolumeClaimName: string } }; status?: { readyToUse?: boolean; boundVolumeSnapshotContentName?: string; creationTime?: string } }

/** The folder of a Bound claim's volume: the fake storage's hostPath PVs live on this machine. */
async function claimFolder(n: string, claim: string): Promise<string> {
  const pvc = await waitFor(async () => {
    const c = await kubectlJson<Pvc>(['-n', n, 'get', 'pvc', claim]);
    return c.status.phase === 'Bound' && c.spec.volumeName ? c : undefined;
  }, { timeoutMs: 60_000, description: `PVC ${claim} Bound` });
  const pv = await kubectlJson<{ spec: { hostPath: { path: string } } }>(['get', 'pv', pvc.spec.volumeName!]);
  return pv.spec.hostPath.path;
}

/** The folder the fake snapshotter copied a VolumeSnapshot into (<state>/snapshots/<content>, beside <state>/volumes). */
function snapshotFolder(volumeFolder: string, s: Snap): string {
  return join(dirname(dirname(volumeFolder)), 'snapshots', s.status!.boundVolumeSnapshotContentName!);
}

async function files(folder: string): Promise<string[]> {
  return existsSync(folder) ? (await readdir(folder)).sort() : [];
}

async function snapshotsOfRun(n: string, run: string): Promise<Snap[]> {
  return (await kubectlJson<{ items: Snap[] }>(['-n', n, 'get', 'volumesnapshots', '-l', `standby.dev/copy-run=${run}`])).items;
}

/** The standby's claim of the volume `data` (warm and cold standbys run on copies, mounted by name). */
async function standbyClaim(n: string): Promise<string> {
  const sts = await kubectlJson<{ spec: { template: { spec: { volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[] } } } }>(['-n', n, 'get', 'statefulset', 'db-standby']);
  const claim = sts.spec.template.spec.volumes?.find((v) => v.name === 'data')?.persistentVolumeClaim?.claimName;
  expect(claim, 'the standby mounts a copy as its volume data').toBeDefined();
  return claim!;
}

/** The primary StatefulSet as its owner wrote it, and its Service. */
async function userPrimary(n: string): Promise<unknown> {
  const sts = await kubectlJson<{ metadata: { uid: string; annotations?: Record<string, string> }; spec: unknown }>(['-n', n, 'get', 'statefulset', 'db']);
  const svc = await kubectlJson<{ metadata: { uid: string; annotations?: Record<string, string> }; spec: { selector: unknown; ports: unknown } }>(['-n', n, 'get', 'service', 'db']);
  return { sts: { uid: sts.metadata.uid, spec: sts.spec, annotations: sts.metadata.annotations }, svc: { uid: svc.metadata.uid, selector: svc.spec.selector, ports: svc.spec.ports, annotations: svc.metadata.annotations } };
}

const STANDBY_SELECTOR = { 'standby.dev/site': 'db', 'standby.dev/role': 'standby' };

async function copyTierCycle(tier: 'warm' | 'cold'): Promise<void> {
  const n = ns[tier];
  const copy = tier === 'warm' ? 'sync' : 'snapshot';
  await apply(statefulPrimary('db', { replicas: 1 }), n);
  await apply(copySite(tier), n);
  await waitForSite(n, 'db', (s) => s.status?.phase === 'Pending', `${tier} site waiting for its first copy`);
  // Data the primary holds before the failure: it must be on the primary at the end.
  const primaryFolder = await claimFolder(n, 'data-db-0');
  await writeFile(join(primaryFolder, 'before-failure'), 'committed on the primary\n');
  const first = await runCopy(copy, n, 'db');
  expect(first.code, first.stderr).toBe(0);
  const protectedSite = await waitForSite(n, 'db', (s) => s.status?.phase === 'Protected' && s.status.observedGeneration === s.metadata.generation, `${tier} site Protected`);
  const generation = protectedSite.metadata.generation;
  const before = await userPrimary(n);
  const oldClaim = await kubectlJson<Pvc>(['-n', n, 'get', 'pvc', 'data-db-0']);

  await setPrimaryReady(n, 'db', false);
  // The promotion's record is written before the status that derives the phase from it: wait for both.
  const p = await waitForSite(n, 'db', (s) => promoted(s) && s.status?.phase === 'Promoted', `${tier} site promoted`, 60_000);
  expect(p.status?.phase).toBe('Promoted');
  expect(await trafficSelector(n, 'db-active')).toEqual(STANDBY_SELECTOR);
  // While the standby serves it takes writes; the fenced old primary holds one write it never passed on.
  const servingClaim = await standbyClaim(n);
  const servingFolder = await claimFolder(n, servingClaim);
  expect(await files(servingFolder)).toEqual(['before-failure']);
  await writeFile(join(servingFolder, 'while-standby-served'), 'committed on the standby\n');
  await writeFile(join(primaryFolder, 'divergent'), 'written on the old primary after the failover\n');

  // Automatic re-protection (the spec's default) once the old primary runs again.
  await setPrimaryReady(n, 'db', true);
  const r = await waitForSite(n, 'db', reprotectedOnStandby, `${tier}: re-protected on the standby`, 90_000);
  expect(r.status?.reprotection).toMatchObject({ of: 'primary', trigger: 'automatic', method: 'snapshots' });
  expect(r.status?.reprotection?.token).toBeUndefined();
  expect(condition(r, 'Ready')).toMatchObject({ status: 'True', reason: 'Protected' });
  expect(condition(r, 'FailbackReady')).toMatchObject({ status: 'True' });
  expect(await trafficSelector(n, 'db-active')).toEqual(STANDBY_SELECTOR);
  // Clients still cannot reach the old primary: its fence stays (narrowed to the standby's pods).
  const fence = await kubectlJson<{ spec: { podSelector: unknown } }>(['-n', n, 'get', 'networkpolicy', 'db-fence']);
  expect(fence.spec.podSelector).toEqual({ matchLabels: { app: 'db' } });
  // What only the old primary held is kept, before anything overwrites it.
  const divergentRun = r.status?.reprotection?.divergence?.snapshotRun;
  expect(divergentRun).toMatch(/^divergent-/);
  const divergent = await snapshotsOfRun(n, divergentRun!);
  expect(divergent).toHaveLength(1);
  expect(divergent[0]).toMatchObject({ metadata: { labels: { 'standby.dev/role': 'divergent' } }, spec: { source: { persistentVolumeClaimName: 'data-db-0' } }, status: { readyToUse: true } });
  expect(await files(snapshotFolder(primaryFolder, divergent[0]!))).toEqual(['before-failure', 'divergent']);
  if (tier === 'cold') {
    // The divergence copy is kept, but it is not one of the site's backups: not counted, not its data time.
    const backups = (await kubectlJson<{ items: Snap[] }>(['-n', n, 'get', 'volumesnapshots', '-l', 'standby.dev/role in (snapshot,reverse)'])).items;
    expect(r.status?.snapshots).toBe(backups.filter((b) => b.status?.readyToUse === true).length);
    expect(r.status?.lastSnapshotTime).not.toBe(divergent[0]!.status?.creationTime);
  }
  // The old primary is seeded by a snapshot of the serving standby's copy (role reverse).
  const seed = (await kubectlJson<{ items: Snap[] }>(['-n', n, 'get', 'volumesnapshots', '-l', 'standby.dev/role=reverse'])).items;
  expect(seed.map((s) => s.spec.source.persistentVolumeClaimName)).toContain(servingClaim);
  expect((await events(n, 'DivergenceKept')).length).toBeGreaterThanOrEqual(1);

  // Failback by token.
  await kubectl(['-n', n, 'annotate', 'standbysite', 'db', 'standby.dev/failback=fb-1']);
  const fb = await waitForSite(n, 'db', (s) => s.status?.failback?.state === 'Promoted', `${tier}: failed back`, 120_000);
  expect(fb.status?.handledFailbackToken).toBe('fb-1');
  expect(fb.status?.failback).toMatchObject({ to: 'primary', trigger: 'manual', token: 'fb-1', epoch: 2 });
  // The standby is made a standby again. First its re-protection keeps what its copies held (they
  // are what it served on): no sync may replace them before that.
  const kept = await waitForSite(n, 'db', (s) => s.status?.reprotection?.of === 'standby' && s.status.reprotection.divergence !== undefined, `${tier}: the standby's copies kept`, 60_000);
  if (tier === 'warm') {
    // (A cold standby workload is gone once failed back: the final snapshot the primary was restored from holds its data.)
    const standbyKept = await snapshotsOfRun(n, kept.status!.reprotection!.divergence!.snapshotRun!);
    expect(standbyKept.map((x) => x.spec.source.persistentVolumeClaimName), JSON.stringify(kept.status?.reprotection)).toContain(servingClaim);
  }
  // Then it waits for a copy of the primary made after the failback.
  await new Promise((res) => setTimeout(res, 1100)); // copy runs are named per second
  const after = await runCopy(copy, n, 'db');
  expect(after.code, after.stderr).toBe(0);
  const back = await waitForSite(n, 'db', backOnPrimaryCopies, `${tier}: back on the primary, the standby re-protected`, 120_000);

  expect(back.status?.epoch).toBe(2);
  expect(back.status?.primaryHeld).toBeUndefined();
  expect(condition(back, 'Ready')).toMatchObject({ status: 'True', reason: 'Protected' });
  expect(await trafficSelector(n, 'db-active')).toEqual({ app: 'db' });
  expect(await exists(n, 'networkpolicy', 'db-fence')).toBe(false);
  expect(await exists(n, 'networkpolicy', 'db-standby-fence')).toBe(false);
  expect(await events(n, 'FailedBack')).toHaveLength(1);
  const history = back.status?.promotionHistory ?? [];
  expect(history.map((h) => `${h.kind ?? 'promotion'}:${h.result}`)).toEqual(['promotion:Promoted', 'reprotect:Protected', 'failback:Promoted', 'reprotect:Protected']);
  for (const h of history) expect(h.durationSeconds, `${h.kind ?? 'promotion'} duration`).toBeGreaterThanOrEqual(0);

  // The primary's claim was restored from the fenced standby's final snapshot: the standby's data.
  const restored = await kubectlJson<Pvc>(['-n', n, 'get', 'pvc', 'data-db-0']);
  expect(restored.metadata.uid).not.toBe(oldClaim.metadata.uid);
  expect(restored.spec.dataSource?.kind).toBe('VolumeSnapshot');
  const finalRun = restored.metadata.annotations?.['standby.dev/restored-from'];
  expect(finalRun).toMatch(/^final-/);
  const final = await kubectlJson<Snap>(['-n', n, 'get', 'volumesnapshot', restored.spec.dataSource!.name]);
  expect(final.metadata.labels).toMatchObject({ 'standby.dev/role': 'reverse', 'standby.dev/copy-run': finalRun });
  expect(final.spec.source.persistentVolumeClaimName).toBe(servingClaim);
  const restoredFolder = await claimFolder(n, 'data-db-0');
  expect(restoredFolder).not.toBe(primaryFolder);
  expect(await files(restoredFolder)).toEqual(['before-failure', 'while-standby-served']);
  // The divergent copy is still there, with what only the old primary held.
  for (const s of divergent) {
    const now = await kubectlJson<Snap>(['-n', n, 'get', 'volumesnapshot', s.metadata.name]);
    expect(now.metadata.deletionTimestamp).toBeUndefined();
    expect(now.status?.readyToUse).toBe(true);
    expect(await files(snapshotFolder(primaryFolder, now))).toEqual(['before-failure', 'divergent']);
  }

  // Nothing was written to the spec; the user's workload and Service are the same objects with
  // the same spec (the restore held the StatefulSet at 0 replicas and gave its replicas back).
  expect(back.metadata.generation).toBe(generation);
  expect(await userPrimary(n)).toEqual(before);
}

const backOnPrimaryCopies = (s: SiteObject) =>
  s.status?.phase === 'Protected' && s.status.active === 'primary' && s.status.failback?.state === 'Promoted' && s.status.reprotection?.of === 'standby' && s.status.reprotection.state === 'Protected';

describe('warm tier, generic engine', () => {
  test('failover, automatic re-protection on snapshots, failback by token: the primary serves the standby\'s data, the divergence kept, no spec written', { timeout: 360_000 }, async () => {
    await copyTierCycle('warm');
  });
});

describe('cold tier, generic engine', () => {
  test('failover onto a restored snapshot, automatic re-protection, failback by token: the primary serves the standby\'s data, the divergence kept, no spec written', { timeout: 360_000 }, async () => {
    await copyTierCycle('cold');
  });
});

// Issue 21: the defects a hostile user found, each against the real control plane with the
// operator running. Every test names the rule it enforces (the README's "Safety rules").
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { apply, createNamespace, deleteNamespace, kubectl, kubectlJson, waitFor } from '../cluster/helpers.ts';
import {
  condition,
  getSite,
  installCrd,
  podNames,
  runCopy,
  startOperator,
  statefulPrimary,
  waitForSite,
  type OperatorProcess,
} from './support/operator.ts';
import {
  claimOf,
  deleteSiteAndWaitForGc,
  eventCount,
  events,
  failPrimary,
  isProtected,
  promoted,
  sameMap,
  service,
  site,
  sleep,
  standby,
  STANDBY_SELECTOR,
  stuckHot,
} from './support/defects.ts';

const NAMESPACES = [
  'fence',
  'delete',
  'orphan',
  'rename',
  'gone',
  'nothing',
  'unbound',
  'stale',
  'missing',
  'labels',
  'abandon',
  'leftover',
  'revert',
  'svc',
  'host',
  'lost',
  'snaperr',
  'twin',
  'reclone',
  'nosnap',
] as const;
const ns = {} as Record<(typeof NAMESPACES)[number], string>;
let op: OperatorProcess;

beforeAll(async () => {
  await installCrd();
  for (const k of NAMESPACES) ns[k] = await createNamespace(`defects-${k}`);
  op = await startOperator({ namespaces: NAMESPACES.map((k) => ns[k]), name: 'defects' });
});

afterAll(async () => {
  const code = await op.stop();
  expect(code, `operator exit code (log: ${op.logFile})`).toBe(0);
  for (const k of NAMESPACES) await deleteNamespace(ns[k]);
});

describe('fencing', () => {
  // issue 21 item 1
  test('a fence loosened by extra rules or a dropped policy type is replaced exactly and reported, each time', async () => {
    const n = ns.fence;
    await apply(statefulPrimary('db'), n);
    await apply(site('db', 'hot', ''), n);
    await waitForSite(n, 'db', isProtected, 'Protected');
    await failPrimary(n);
    await waitForSite(n, 'db', promoted, 'promoted', 30_000);
    const exact = { podSelector: { matchLabels: { app: 'db' } }, policyTypes: ['Ingress', 'Egress'] };
    const fenceSpec = async () => (await kubectlJson<{ spec: Record<string, unknown> }>(['-n', n, 'get', 'networkpolicy', 'db-fence'])).spec;
    expect(await fenceSpec()).toEqual(exact);

    // Allow-all rules added by hand (another field manager: server-side apply alone cannot remove them).
    await kubectl(['-n', n, 'patch', 'networkpolicy', 'db-fence', '--type=merge', '-p', '{"spec":{"ingress":[{}],"egress":[{}]}}']);
    await waitFor(async () => JSON.stringify(await fenceSpec()) === JSON.stringify(exact) && (await eventCount(n, 'FenceReverted')) === 1, {
      timeoutMs: 20_000,
      description: 'the loosened fence replaced by the exact one, and a FenceReverted Event',
    });
    const [reverted] = await events(n, 'FenceReverted');
    expect(reverted?.message).toContain('NetworkPolicy db-fence');

    // Egress no longer denied: a policy type removed.
    await kubectl(['-n', n, 'patch', 'networkpolicy', 'db-fence', '--type=json', '-p', '[{"op":"replace","path":"/spec/policyTypes","value":["Ingress"]}]']);
    await waitFor(async () => JSON.stringify(await fenceSpec()) === JSON.stringify(exact) && (await eventCount(n, 'FenceReverted')) === 2, {
      timeoutMs: 20_000,
      description: 'the fence repaired again, and a second FenceReverted Event',
    });
    const s = await waitForSite(n, 'db', (x) => condition(x, 'FencingHolds')?.status === 'True', 'fencing holds again');
    expect(s.status?.phase).toBe('Promoted');
  });
});

describe('the traffic Service while a promotion runs', () => {
  // issue 21 item 13
  test('a traffic Service deleted while the promotion runs is re-created at once, pointing at the fenced primary, released', async () => {
    const n = ns.delete;
    await apply(statefulPrimary('db'), n);
    await apply(stuckHot('mode: manual'), n);
    await waitForSite(n, 'db', isProtected, 'Protected');
    await kubectl(['-n', n, 'annotate', 'standbysite', 'db', 'standby.dev/promote=stuck-1']);
    await waitForSite(n, 'db', (s) => s.status?.promotion?.state === 'Promoting', 'the promotion waiting in Promoting', 20_000);
    const before = await service(n, 'db-active');
    expect(before?.spec.selector).toEqual({ app: 'db' });

    await kubectl(['-n', n, 'delete', 'service', 'db-active']);
    const back = await waitFor(
      async () => {
        const svc = await service(n, 'db-active');
        return svc && svc.metadata.uid !== before?.metadata.uid ? svc : undefined;
      },
      { timeoutMs: 15_000, description: 'the traffic Service re-created during Promoting' },
    );
    expect(back.spec.selector).toEqual({ app: 'db' });
    expect(back.spec.ports).toMatchObject([{ name: 'main', port: 5432 }]);
    expect(back.metadata.ownerReferences ?? []).toEqual([]);
    expect((await getSite(n, 'db')).status?.promotion?.state).toBe('Promoting');
  });

  // issue 21 item 2
  test('deleting the site while the promotion runs never deletes the Service clients use', async () => {
    const n = ns.delete;
    // From the moment the promotion began, the traffic Service is not the site's.
    await waitFor(async () => ((await service(n, 'db-active'))?.metadata.ownerReferences ?? []).length === 0, {
      timeoutMs: 15_000,
      description: 'the traffic Service released by the site',
    });
    await deleteSiteAndWaitForGc(n);
    const svc = await service(n, 'db-active');
    expect(svc?.spec.selector).toEqual({ app: 'db' });
    expect((await kubectl(['-n', n, 'get', 'networkpolicy', 'db-fence', '-o', 'name'])).trim()).toBe('networkpolicy.networking.k8s.io/db-fence');
  });
});

describe('what counts as a failed primary', () => {
  // issue 21 item 3
  test('a primary StatefulSet deleted with --cascade=orphan, its pods still serving, is Missing: reported, never promoted', async () => {
    const n = ns.orphan;
    await apply(statefulPrimary('db'), n);
    await apply(site('db', 'hot', ''), n);
    await waitForSite(n, 'db', isProtected, 'Protected');
    await kubectl(['-n', n, 'delete', 'statefulset', 'db', '--cascade=orphan']);
    const s = await waitForSite(n, 'db', (x) => x.status?.primary?.state === 'Missing', 'the primary workload reported Missing');
    expect(condition(s, 'PrimaryHealthy')).toMatchObject({ status: 'False', reason: 'PrimaryNotFound' });
    expect(await podNames(n, 'app=db')).toEqual(['db-0']);
    // Well past failureThreshold (2s): the pods serve, nothing is promoted.
    await sleep(6000);
    const later = await getSite(n, 'db');
    expect(later.status?.promotion).toBeUndefined();
    expect(later.status?.phase).toBe('Degraded');
    expect(condition(later, 'PromotionReady')).toMatchObject({ status: 'False', reason: 'PrimaryNotFound' });
    expect((await service(n, 'db-active'))?.spec.selector).toEqual({ app: 'db' });
    // The StatefulSet applied again (the immutable field changed) adopts its pods: protected again.
    await apply(statefulPrimary('db'), n);
    await waitForSite(n, 'db', isProtected, 'Protected again');
  });

  // issue 21 item 3
  test('renaming spec.primary.workload to one that does not exist yet never promotes; "seen Ready" belongs to the workload identity', async () => {
    const n = ns.rename;
    await apply(statefulPrimary('db'), n);
    await apply(site('db', 'hot', ''), n);
    const s = await waitForSite(n, 'db', isProtected, 'Protected');
    const uid = (await kubectlJson<{ metadata: { uid: string } }>(['-n', n, 'get', 'statefulset', 'db'])).metadata.uid;
    expect(s.status?.primary).toMatchObject({ uid, everReady: true });

    // A typo, or GitOps applying the site before the new workload.
    await kubectl(['-n', n, 'patch', 'standbysite', 'db', '--type=merge', '-p', '{"spec":{"primary":{"workload":{"name":"db2"},"service":"db2"}}}']);
    const missing = await waitForSite(n, 'db', (x) => x.status?.primary?.state === 'Missing', 'db2 reported Missing');
    expect(missing.status?.primary?.everReady).toBeUndefined();
    expect(missing.status?.primary?.uid).toBeUndefined();
    await sleep(6000);
    const later = await getSite(n, 'db');
    expect(later.status?.promotion).toBeUndefined();
    expect(condition(later, 'PrimaryHealthy')?.reason).toBe('PrimaryNotFound');

    // db2 appears but never becomes Ready: it was never seen Ready, so it is not failed over.
    await apply(statefulPrimary('db2').replace('containers:', 'nodeSelector: {standby.dev/e2e: nowhere}\n      containers:'), n);
    const uid2 = await waitFor(async () => (await kubectlJson<{ metadata: { uid: string } }>(['-n', n, 'get', 'statefulset', 'db2'])).metadata.uid, { timeoutMs: 10_000, description: 'db2' });
    const db2 = await waitForSite(n, 'db', (x) => x.status?.primary?.uid === uid2, 'db2 seen', 20_000);
    expect(db2.status?.primary?.everReady).toBeUndefined();
    const refused = await waitForSite(n, 'db', (x) => condition(x, 'PromotionReady')?.reason === 'PrimaryNeverReady', 'PrimaryNeverReady', 20_000);
    expect(refused.status?.promotion).toBeUndefined();
  });

  // issue 21 item 20
  test('a primary deleted outright, like one scaled to 0, is not promoted automatically; a promote token still works', async () => {
    const n = ns.gone;
    await apply(statefulPrimary('db'), n);
    await apply(site('db', 'hot', ''), n);
    await waitForSite(n, 'db', isProtected, 'Protected');

    await kubectl(['-n', n, 'scale', 'statefulset', 'db', '--replicas=0']);
    const scaled = await waitForSite(n, 'db', (x) => condition(x, 'PrimaryHealthy')?.reason === 'ScaledToZero', 'ScaledToZero');
    expect(scaled.status?.promotion).toBeUndefined();
    await kubectl(['-n', n, 'scale', 'statefulset', 'db', '--replicas=1']);
    await waitForSite(n, 'db', isProtected, 'Protected again');

    await kubectl(['-n', n, 'delete', 'statefulset', 'db', '--wait=true']);
    await waitFor(async () => (await podNames(n, 'app=db')).length === 0, { timeoutMs: 30_000, description: 'the primary pods gone' });
    const s = await waitForSite(n, 'db', (x) => x.status?.primary?.state === 'Missing', 'Missing');
    expect(condition(s, 'PrimaryHealthy')).toMatchObject({ status: 'False', reason: 'PrimaryNotFound' });
    await sleep(6000);
    const later = await getSite(n, 'db');
    expect(later.status?.promotion).toBeUndefined();
    expect(condition(later, 'PromotionReady')).toMatchObject({ status: 'False', reason: 'PrimaryNotFound' });
    expect(condition(later, 'PromotionReady')?.message).toContain('standby.dev/promote=<token>');

    await kubectl(['-n', n, 'annotate', 'standbysite', 'db', 'standby.dev/promote=really-lost']);
    const done = await waitForSite(n, 'db', promoted, 'promoted on request', 30_000);
    expect(done.status?.promotion).toMatchObject({ trigger: 'manual', token: 'really-lost' });
    expect((await service(n, 'db-active'))?.spec.selector).toEqual(STANDBY_SELECTOR);
  });

  // issue 21 item 14
  test('a primary Service that selects no pod: PrimaryHealthy=False (ServiceSelectsNothing), Degraded, no promotion', async () => {
    const n = ns.nothing;
    await apply(statefulPrimary('db'), n);
    await apply(site('db', 'hot', ''), n);
    await waitForSite(n, 'db', isProtected, 'Protected');
    await kubectl(['-n', n, 'patch', 'service', 'db', '--type=json', '-p', '[{"op":"replace","path":"/spec/selector","value":{"app":"typo"}}]']);
    const s = await waitForSite(n, 'db', (x) => condition(x, 'PrimaryHealthy')?.reason === 'ServiceSelectsNothing', 'ServiceSelectsNothing');
    expect(condition(s, 'PrimaryHealthy')?.status).toBe('False');
    expect(condition(s, 'PrimaryHealthy')?.message).toContain('Service db selects no pod');
    await sleep(5000);
    const later = await getSite(n, 'db');
    expect(later.status?.phase).toBe('Degraded');
    expect(later.status?.promotion).toBeUndefined();
    await kubectl(['-n', n, 'patch', 'service', 'db', '--type=json', '-p', '[{"op":"replace","path":"/spec/selector","value":{"app":"db"}}]']);
    await waitForSite(n, 'db', isProtected, 'Protected again');
  });
});

describe('copies', () => {
  // issue 21 item 4
  test('a warm copy whose claim never binds is never marked complete; the last good copy stays in use', async () => {
    const n = ns.unbound;
    // Statically provisioned storage: two volumes of a class nothing provisions, one for the
    // primary and one for the first copy; the second copy has nowhere to bind.
    const cls = `manual-${n}`;
    for (const i of [1, 2]) {
      await apply(`apiVersion: v1
kind: PersistentVolume
metadata: {name: ${n}-pv${i}}
spec:
  storageClassName: ${cls}
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: /tmp/${n}-pv${i}}
`);
    }
    try {
      await apply(statefulPrimary('db').replace('accessModes: [ReadWriteOnce]', `accessModes: [ReadWriteOnce]\n        storageClassName: ${cls}`), n);
      await apply(site('db', 'warm', '  warm: {schedule: "0 3 * * *"}\n', 'mode: manual'), n);
      await waitFor(async () => (await kubectl(['-n', n, 'get', 'pvc', 'data-db-0', '-o', 'jsonpath={.status.phase}'])) === 'Bound', {
        timeoutMs: 30_000,
        description: "the primary's claim bound",
      });
      const first = await runCopy('sync', n, 'db', 30);
      expect(first.code, first.stderr).toBe(0);
      await waitForSite(n, 'db', isProtected, 'Protected on the first copy');
      const good = claimOf(await standby(n));
      expect(good).toBeDefined();
      expect(await kubectl(['-n', n, 'get', 'pvc', good!, '-o', 'jsonpath={.status.phase}'])).toBe('Bound');

      const second = await runCopy('sync', n, 'db', 15);
      expect(second.code, 'a copy that does not bind fails the sync').not.toBe(0);
      expect(second.stderr).toMatch(/not Bound/);
      // The failed copy is gone, the good one stays and the standby still mounts it.
      await sleep(3000);
      const s = await getSite(n, 'db');
      expect(claimOf(await standby(n))).toBe(good);
      const claims = (await kubectl(['-n', n, 'get', 'pvc', '-l', 'standby.dev/role=copy', '-o', 'name'])).trim();
      expect(claims).toBe(`persistentvolumeclaim/${good}`);
      expect(s.status?.phase).toBe('Protected');
    } finally {
      await deleteNamespace(n);
      for (const i of [1, 2]) await kubectl(['delete', 'pv', `${n}-pv${i}`, '--wait=false', '--ignore-not-found']);
    }
  });

  // issue 21 item 5
  test('after a promotion no sync runs, and the serving standby is rebuilt only on the copy the promotion recorded', async () => {
    const n = ns.stale;
    await apply(statefulPrimary('db'), n);
    await apply(site('db', 'warm', '  warm: {schedule: "0 3 * * *"}\n'), n);
    await waitForSite(n, 'db', (s) => s.status?.phase === 'Pending', 'warm site reconciled');
    const r = await runCopy('sync', n, 'db');
    expect(r.code, r.stderr).toBe(0);
    await waitForSite(n, 'db', isProtected, 'Protected');
    const copy = claimOf(await standby(n));
    await failPrimary(n);
    const s = await waitForSite(n, 'db', promoted, 'promoted', 30_000);
    expect(s.status?.promotion?.copy).toMatchObject({ claims: { data: copy } });

    // A sync (run by hand, or a Job already in flight) of the fenced old primary is refused.
    const late = await runCopy('sync', n, 'db');
    expect(late.code).not.toBe(0);
    expect(late.stderr).toContain('promotion');
    expect((await kubectl(['-n', n, 'get', 'pvc', '-l', 'standby.dev/role=copy', '-o', 'name'])).trim()).toBe(`persistentvolumeclaim/${copy}`);

    // Even a newer complete copy (one that slipped through) is never what the serving standby is rebuilt on.
    await apply(`apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: db-data-newer
  labels: {app.kubernetes.io/managed-by: standby-operator, standby.dev/site: db, standby.dev/role: copy, standby.dev/copy-run: 29990101t000000z}
  annotations: {standby.dev/volume: data, standby.dev/source-claim: data-db-0, standby.dev/complete: "true", standby.dev/data-time: "${new Date().toISOString()}"}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
`, n);
    await waitFor(async () => (await kubectl(['-n', n, 'get', 'pvc', 'db-data-newer', '-o', 'jsonpath={.status.phase}'])) === 'Bound', { timeoutMs: 30_000, description: 'the newer copy bound' });
    const old = await standby(n);
    await kubectl(['-n', n, 'delete', 'statefulset', 'db-standby', '--cascade=orphan']);
    const rebuilt = await waitFor(
      async () => {
        const w = await standby(n);
        return w && w.metadata.uid !== old?.metadata.uid ? w : undefined;
      },
      { timeoutMs: 20_000, description: 'the serving standby rebuilt' },
    );
    expect(claimOf(rebuilt)).toBe(copy);
    expect(rebuilt.spec.replicas).toBe(1);
  });

  // issue 21 item 9
  test('a warm standby workload missing when a promotion starts does not fail it: the copy comes from the record', async () => {
    const n = ns.missing;
    await apply(statefulPrimary('db'), n);
    await apply(site('db', 'warm', '  warm: {schedule: "0 3 * * *"}\n', 'mode: manual'), n);
    await waitForSite(n, 'db', (s) => s.status?.phase === 'Pending', 'warm site reconciled');
    const r = await runCopy('sync', n, 'db');
    expect(r.code, r.stderr).toBe(0);
    await waitForSite(n, 'db', isProtected, 'Protected');
    const copy = claimOf(await standby(n));
    // Nothing may create another StatefulSet for a while: the standby stays missing.
    await apply('apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: one-sts}\nspec: {hard: {count/statefulsets.apps: "1"}}\n', n);
    await waitFor(async () => (await kubectlJson<{ status?: { used?: Record<string, string> } }>(['-n', n, 'get', 'resourcequota', 'one-sts'])).status?.used?.['count/statefulsets.apps'] === '2', {
      timeoutMs: 30_000,
      description: 'the quota counted',
    });
    await kubectl(['-n', n, 'delete', 'statefulset', 'db-standby', '--wait=true']);
    await kubectl(['-n', n, 'annotate', 'standbysite', 'db', 'standby.dev/promote=now']);
    const promoting = await waitForSite(n, 'db', (x) => x.status?.promotion?.state === 'Promoting' || x.status?.promotion?.state === 'Failed', 'the promotion at its Promoting step', 20_000);
    expect(promoting.status?.promotion?.state).toBe('Promoting');
    await sleep(3000);
    expect((await getSite(n, 'db')).status?.promotion?.state).toBe('Promoting');
    await kubectl(['-n', n, 'delete', 'resourcequota', 'one-sts']);
    const s = await waitForSite(n, 'db', (x) => x.status?.promotion?.state === 'Promoted' || x.status?.promotion?.state === 'Failed', 'the promotion finished', 60_000);
    expect(s.status?.promotion?.state).toBe('Promoted');
    expect(claimOf(await standby(n))).toBe(copy);
  });

});

describe('a warm copy deleted by hand', () => {
  interface Snap {
    metadata: { name: string; labels: Record<string, string> };
    status?: { creationTime?: string; readyToUse?: boolean };
  }
  interface Claim {
    metadata: { uid: string; annotations?: Record<string, string> };
    spec: { dataSource?: { kind: string; name: string } };
    status?: { phase?: string };
  }
  const claim = async (n: string, name: string): Promise<Claim | undefined> => {
    const out = await kubectl(['-n', n, 'get', 'pvc', name, '--ignore-not-found', '-o', 'json']);
    return out.trim() ? (JSON.parse(out) as Claim) : undefined;
  };
  const transferSnapshots = async (n: string) =>
    (await kubectlJson<{ items: Snap[] }>(['-n', n, 'get', 'volumesnapshots', '-l', 'standby.dev/role=transfer'])).items;
  /** A warm site (method volumeSnapshot, generic engine) Protected on its first copy. */
  async function firstCopy(n: string) {
    await apply(statefulPrimary('db'), n);
    await apply(site('db', 'warm', '  warm: {schedule: "0 3 * * *"}\n', 'mode: manual'), n);
    await waitForSite(n, 'db', (s) => s.status?.phase === 'Pending', 'warm site reconciled');
    const r = await runCopy('sync', n, 'db');
    expect(r.code, r.stderr).toBe(0);
    const s = await waitForSite(n, 'db', isProtected, 'Protected on the first copy');
    const w = await standby(n);
    const copy = claimOf(w);
    expect(copy).toBeDefined();
    return { site: s, standbyUid: w!.metadata.uid, copy: copy!, claimUid: (await claim(n, copy!))!.metadata.uid };
  }

  // issue 21 item 17
  test("the standby's copy claim deleted by hand: the standby stays, Degraded with an Event, re-cloned from the sync's snapshot with its data time", async () => {
    const n = ns.reclone;
    const first = await firstCopy(n);
    const [snap] = await transferSnapshots(n);
    expect(snap?.status?.readyToUse).toBe(true);
    const snapTime = new Date(snap!.status!.creationTime!).getTime();
    expect(new Date(first.site.status!.dataTimestamp!).getTime()).toBe(snapTime);
    // No Job may be created for now: the re-clone cannot prove its copy usable yet, so the site
    // shows what it says while it re-clones.
    await apply('apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: no-jobs}\nspec: {hard: {count/jobs.batch: "0"}}\n', n);
    await waitFor(async () => (await kubectlJson<{ status?: { hard?: Record<string, string> } }>(['-n', n, 'get', 'resourcequota', 'no-jobs'])).status?.hard !== undefined, {
      timeoutMs: 30_000,
      description: 'the quota in force',
    });

    await kubectl(['-n', n, 'delete', 'pvc', first.copy, '--wait=true']);
    const s = await waitForSite(n, 'db', (x) => x.status?.phase === 'Degraded' && condition(x, 'StandbyReady')?.reason === 'CopyClaimLost', 'Degraded: the copy claim lost');
    expect(condition(s, 'StandbyReady')).toMatchObject({ status: 'False' });
    expect(condition(s, 'StandbyReady')?.message).toContain(`PersistentVolumeClaim ${first.copy}`);
    expect(condition(s, 'StandbyReady')?.message).toContain(`re-cloning it from VolumeSnapshot ${snap!.metadata.name}`);
    await waitFor(async () => (await eventCount(n, 'CopyClaimDeleted')) === 1, { timeoutMs: 15_000, description: 'a CopyClaimDeleted Event' });
    const [ev] = await events(n, 'CopyClaimDeleted');
    expect(ev?.message).toContain(`${first.copy} was deleted outside the operator`);
    // The standby workload is never deleted because its claim vanished.
    await sleep(3000);
    expect((await standby(n))?.metadata.uid).toBe(first.standbyUid);
    expect((await getSite(n, 'db')).status?.phase).toBe('Degraded');
    // The new claim exists (cloned from the snapshot) but is not marked complete until proven usable.
    const pending = await claim(n, first.copy);
    expect(pending?.spec.dataSource).toMatchObject({ kind: 'VolumeSnapshot', name: snap!.metadata.name });
    expect(pending?.metadata.annotations?.['standby.dev/complete']).toBeUndefined();

    await kubectl(['-n', n, 'delete', 'resourcequota', 'no-jobs']);
    const back = await waitForSite(n, 'db', isProtected, 'Protected on the re-cloned copy');
    const recloned = await claim(n, first.copy);
    expect(recloned?.metadata.uid).not.toBe(first.claimUid);
    expect(recloned?.status?.phase).toBe('Bound');
    expect(recloned?.metadata.annotations?.['standby.dev/complete']).toBe('true');
    // Its data is as old as the snapshot it came from, not "now".
    expect(new Date(back.status!.dataTimestamp!).getTime()).toBe(snapTime);
    expect(new Date(recloned!.metadata.annotations!['standby.dev/data-time']!).getTime()).toBe(snapTime);
    expect(claimOf(await standby(n))).toBe(first.copy);
    expect((await standby(n))?.metadata.uid).toBe(first.standbyUid);
    // Nothing deleted a snapshot to do it; the check Job that proved the copy mounts is gone.
    expect((await transferSnapshots(n)).map((x) => x.metadata.name)).toEqual([snap!.metadata.name]);
    await waitFor(async () => (await kubectl(['-n', n, 'get', 'jobs', '-l', 'standby.dev/role=transfer', '-o', 'name'])).trim() === '', {
      timeoutMs: 15_000,
      description: 'the check Job removed',
    });
    expect(await eventCount(n, 'CopyClaimDeleted')).toBe(1);
    expect((await events(n, 'CopyRecloned'))[0]?.message).toContain(`the standby's copy holds data from ${new Date(snapTime).toISOString()}`);
  });

  // issue 21 item 17
  test("the standby's copy claim deleted with no snapshot left: Degraded until the next sync makes a new copy", async () => {
    const n = ns.nosnap;
    const first = await firstCopy(n);
    // The user removed the sync's snapshots too: nothing can re-clone the copy.
    await kubectl(['-n', n, 'delete', 'volumesnapshots', '-l', 'standby.dev/role=transfer', '--wait=true']);
    await kubectl(['-n', n, 'delete', 'pvc', first.copy, '--wait=true']);
    const s = await waitForSite(n, 'db', (x) => x.status?.phase === 'Degraded' && condition(x, 'StandbyReady')?.reason === 'CopyClaimLost', 'Degraded: the copy claim lost');
    const msg = condition(s, 'StandbyReady')?.message ?? '';
    expect(msg).toContain(`PersistentVolumeClaim ${first.copy}`);
    expect(msg).toContain('the next scheduled sync');
    expect(condition(s, 'Ready')?.message).toContain(first.copy);
    await waitFor(async () => (await eventCount(n, 'CopyClaimDeleted')) === 1, { timeoutMs: 15_000, description: 'a CopyClaimDeleted Event' });
    await sleep(3000);
    expect((await standby(n))?.metadata.uid).toBe(first.standbyUid);
    expect(await claim(n, first.copy)).toBeUndefined();
    expect((await getSite(n, 'db')).status?.phase).toBe('Degraded');

    const r = await runCopy('sync', n, 'db');
    expect(r.code, r.stderr).toBe(0);
    const back = await waitForSite(n, 'db', isProtected, 'Protected on the new copy');
    const copy = claimOf(await standby(n));
    expect(copy).not.toBe(first.copy);
    expect(new Date(back.status!.dataTimestamp!).getTime()).toBeGreaterThan(new Date(first.site.status!.dataTimestamp!).getTime());
    expect((await standby(n))?.metadata.uid).toBe(first.standbyUid);
    expect(condition(back, 'StandbyReady')?.status).toBe('True');
  });
});

describe('the standby copy of the pod template', () => {
  // issue 21 item 8
  test('the standby drops labels other Services select; a Service that would select both sides is reported', async () => {
    const n = ns.labels;
    await apply(
      `${statefulPrimary('db').replace('labels: {app: db, team: data}', 'labels: {app: db, role: writer, team: data}')}
---
apiVersion: v1
kind: Service
metadata: {name: writers}
spec:
  selector: {role: writer}
  ports: [{port: 5432}]
`,
      n,
    );
    await apply(site('db', 'hot', ''), n);
    await waitForSite(n, 'db', isProtected, 'Protected');
    expect((await standby(n))?.spec.template.metadata.labels).toEqual({ team: 'data', ...STANDBY_SELECTOR });
    expect(await podNames(n, 'role=writer')).toEqual(['db-0']);

    // A Service added later selects a label the running standby still carries: reported, then dropped.
    await apply('apiVersion: v1\nkind: Service\nmetadata: {name: teams}\nspec:\n  selector: {team: data}\n  ports: [{port: 80}]\n', n);
    await waitFor(async () => (await eventCount(n, 'ServiceSelectsBothSides')) >= 1, { timeoutMs: 20_000, description: 'a ServiceSelectsBothSides Event' });
    const [both] = await events(n, 'ServiceSelectsBothSides');
    expect(both?.message).toContain('Service teams');
    await waitFor(async () => sameMap((await standby(n))?.spec.template.metadata.labels, STANDBY_SELECTOR), {
      timeoutMs: 20_000,
      description: 'the standby template without the team label',
    });
    await waitFor(async () => (await podNames(n, 'team=data')).join() === 'db-0', { timeoutMs: 30_000, description: 'only the primary pod selected by teams' });
    await waitForSite(n, 'db', isProtected, 'Protected');
  });

});

describe('after a failed promotion', () => {
  // issue 21 item 10
  test('standby.dev/abandon ends a Failed promotion: fence lifted, traffic on the primary, history kept; refused unless Failed', async () => {
    const n = ns.abandon;
    await apply(statefulPrimary('db'), n);
    await apply(stuckHot('mode: manual, stepTimeout: 3s'), n);
    await waitForSite(n, 'db', isProtected, 'Protected');
    await kubectl(['-n', n, 'annotate', 'standbysite', 'db', 'standby.dev/abandon=too-early']);
    await waitFor(async () => (await eventCount(n, 'AbandonRefused')) === 1, { timeoutMs: 15_000, description: 'an AbandonRefused Event' });
    expect((await events(n, 'AbandonRefused'))[0]?.message).toContain('no failed promotion');

    await kubectl(['-n', n, 'annotate', 'standbysite', 'db', 'standby.dev/promote=doomed']);
    const failed = await waitForSite(n, 'db', (x) => x.status?.phase === 'Failed', 'the promotion Failed', 30_000);
    expect(failed.status?.promotion?.message).toContain('promotion.stepTimeout');
    expect((await kubectl(['-n', n, 'get', 'networkpolicy', '-o', 'name'])).trim()).toBe('networkpolicy.networking.k8s.io/db-fence');

    await kubectl(['-n', n, 'annotate', 'standbysite', 'db', 'standby.dev/abandon=give-up', '--overwrite']);
    const s = await waitForSite(n, 'db', (x) => x.status?.promotion === undefined && isProtected(x), 'the promotion abandoned and the site Protected', 30_000);
    expect(s.status?.promotionHistory).toMatchObject([{ result: 'Failed', trigger: 'manual' }]);
    expect(s.status?.active).toBe('primary');
    expect((await kubectl(['-n', n, 'get', 'networkpolicy', '-o', 'name'])).trim()).toBe('');
    expect((await kubectl(['-n', n, 'get', 'jobs', '-l', 'standby.dev/role=promote', '-o', 'name'])).trim()).toBe('');
    const traffic = await service(n, 'db-active');
    expect(traffic?.spec.selector).toEqual({ app: 'db' });
    expect(traffic?.metadata.ownerReferences).toHaveLength(1);
    await waitFor(async () => (await eventCount(n, 'PromotionAbandoned')) === 1, { timeoutMs: 10_000, description: 'a PromotionAbandoned Event' });
    expect((await events(n, 'PromotionAbandoned'))[0]?.message).toContain('give-up');
  });

  // issue 21 item 10
  test('a site re-created over a fence left by an earlier failed promotion reports it and is not Protected', async () => {
    const n = ns.leftover;
    await apply(statefulPrimary('db'), n);
    await apply(stuckHot('mode: manual, stepTimeout: 3s'), n);
    await waitForSite(n, 'db', isProtected, 'Protected');
    await kubectl(['-n', n, 'annotate', 'standbysite', 'db', 'standby.dev/promote=doomed']);
    await waitForSite(n, 'db', (x) => x.status?.phase === 'Failed', 'the promotion Failed', 30_000);
    await deleteSiteAndWaitForGc(n);
    expect((await kubectl(['-n', n, 'get', 'networkpolicy', '-o', 'name'])).trim()).toBe('networkpolicy.networking.k8s.io/db-fence');
    // Cleaned up by hand, all but the fence (the standby and the traffic Service were released too).
    await kubectl(['-n', n, 'delete', 'statefulset/db-standby', 'service/db-standby', 'service/db-active', '--ignore-not-found', '--wait=true']);

    await apply(stuckHot('mode: manual, stepTimeout: 3s'), n);
    const s = await waitForSite(n, 'db', (x) => x.status?.observedGeneration === 1 && x.status.phase !== undefined && x.status.phase !== 'Pending', 'the new site reconciled');
    expect(s.status?.phase).toBe('Degraded');
    expect(condition(s, 'Ready')?.message).toContain('NetworkPolicy db-fence');
    await sleep(2000);
    expect((await getSite(n, 'db')).status?.phase).toBe('Degraded');
    // It was not adopted: still released, still there.
    const fence = await kubectlJson<{ metadata: { ownerReferences?: unknown[] } }>(['-n', n, 'get', 'networkpolicy', 'db-fence']);
    expect(fence.metadata.ownerReferences ?? []).toEqual([]);
    await kubectl(['-n', n, 'delete', 'networkpolicy', 'db-fence']);
    await waitForSite(n, 'db', isProtected, 'Protected once the old fence is removed');
  });
});

describe('traffic after a promotion', () => {
  // issue 21 item 11
  test('traffic.mode primaryService: a reverted selector is restored and reported, each time', async () => {
    const n = ns.revert;
    await apply(statefulPrimary('db'), n);
    await apply(site('db', 'hot', '  traffic: {mode: primaryService}\n'), n);
    await waitForSite(n, 'db', isProtected, 'Protected');
    await failPrimary(n);
    await waitForSite(n, 'db', promoted, 'promoted', 30_000);
    expect((await service(n, 'db'))?.spec.selector).toEqual(STANDBY_SELECTOR);
    for (const round of [1, 2]) {
      // What a GitOps tool's self-heal does to the primary Service.
      await kubectl(['-n', n, 'patch', 'service', 'db', '--type=json', '-p', '[{"op":"replace","path":"/spec/selector","value":{"app":"db"}}]']);
      await waitFor(async () => sameMap((await service(n, 'db'))?.spec.selector, STANDBY_SELECTOR) && (await eventCount(n, 'TrafficRestored')) === round, {
        timeoutMs: 20_000,
        description: `the selector restored (round ${round}) with a TrafficRestored Event`,
      });
    }
    expect((await events(n, 'TrafficRestored'))[0]?.message).toContain('Service db');
    const s = await waitForSite(n, 'db', (x) => condition(x, 'TrafficHolds')?.status === 'True', 'TrafficHolds');
    expect(s.status?.phase).toBe('Promoted');
  });

  // issue 21 item 12
  test('deleting the primary Service keeps the traffic Service (its ports and selector) and reports the missing Service', async () => {
    const n = ns.svc;
    await apply(statefulPrimary('db'), n);
    await apply(site('db', 'hot', ''), n);
    await waitForSite(n, 'db', isProtected, 'Protected');
    await kubectl(['-n', n, 'delete', 'service', 'db']);
    const s = await waitForSite(n, 'db', (x) => x.status?.phase === 'Degraded', 'Degraded');
    expect(condition(s, 'Ready')?.message).toContain('Service db (spec.primary.service) does not exist');
    const traffic = await service(n, 'db-active');
    expect(traffic?.spec.selector).toEqual({ app: 'db' });
    expect(traffic?.spec.ports).toMatchObject([{ name: 'main', port: 5432 }]);
    await sleep(3000);
    expect((await service(n, 'db-active'))?.metadata.uid).toBe(traffic?.metadata.uid);
    expect((await getSite(n, 'db')).status?.promotion).toBeUndefined();
    await apply(statefulPrimary('db'), n);
    await waitForSite(n, 'db', isProtected, 'Protected again');
  });
});

describe('cold snapshots', () => {
  // issue 21 item 18
  test('a snapshot set the driver failed is shown (Degraded, the error named), not "wait for the first snapshot"', async () => {
    const n = ns.snaperr;
    await apply(statefulPrimary('db'), n);
    await apply(site('db', 'cold', '  cold: {schedule: "0 2 * * *", timeZone: UTC}\n'), n);
    const pending = await waitForSite(n, 'db', (s) => s.status?.phase === 'Pending', 'Pending before the first snapshot');
    await waitFor(async () => (await kubectl(['-n', n, 'get', 'pvc', 'data-db-0', '--ignore-not-found'])).trim() !== '', { timeoutMs: 30_000, description: "the primary's claim" });
    // The set a snapshot run makes (what src/snapshot/take.ts creates), which the CSI driver fails.
    const run = '20261201t000000z';
    await apply(
      `apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata:
  name: db-data-${run}
  labels: {app.kubernetes.io/managed-by: standby-operator, standby.dev/site: db, standby.dev/role: snapshot, standby.dev/copy-run: ${run}}
  annotations:
    standby.dev/volume: data
    standby.dev/source-claim: data-db-0
    standby.dev/site-uid: ${pending.metadata.uid}
    fake.standby.dev/snapshot-error: "the backend is out of quota"
spec:
  source: {persistentVolumeClaimName: data-db-0}
`,
      n,
    );
    const s = await waitForSite(n, 'db', (x) => x.status?.phase === 'Degraded', 'Degraded');
    const ready = condition(s, 'Ready');
    expect(ready?.reason).toBe('Degraded');
    expect(ready?.message).toContain(`the newest snapshot set failed (run ${run}: the backend is out of quota); no snapshot set can be restored`);
    expect(s.status?.snapshots).toBe(0);
    // A ready set newer than the failed one ends it.
    const r = await runCopy('snapshot', n, 'db');
    expect(r.code, r.stderr).toBe(0);
    const ok = await waitForSite(n, 'db', isProtected, 'Protected after a ready set');
    expect(condition(ok, 'Ready')?.message).not.toContain('failed');
  });
});

describe('two replicas without leader election', () => {
  // issue 21 item 19
  test('a promotion both replicas try to start is announced once, by the replica whose start was recorded', async () => {
    const n = ns.twin;
    const twin = await startOperator({ namespaces: [n], name: 'defects-twin' });
    try {
      await apply(statefulPrimary('db'), n);
      await apply(site('db', 'hot', ''), n);
      await waitForSite(n, 'db', isProtected, 'Protected');
      await failPrimary(n);
      await waitForSite(n, 'db', promoted, 'promoted', 60_000);
      // Both replicas reconcile every change; let a late duplicate arrive if there is one.
      await sleep(3000);
      expect(await eventCount(n, 'PromotionStarted')).toBe(1);
      expect((await getSite(n, 'db')).status?.promotionHistory).toHaveLength(1);
      const started = async (file: string) =>
        (await readFile(file, 'utf8')).split('\n').filter((l) => l.includes('"promotion started"') && l.includes(`"namespace":"${n}"`)).length;
      expect((await started(op.logFile)) + (await started(twin.logFile))).toBe(1);
    } finally {
      expect(await twin.stop()).toBe(0);
    }
  });
});

describe('the standby on the primary\'s node', () => {
  // issue 21 item 16
  test("the primary's hostNetwork and hostPort are not copied into the standby, which gets Ready; the adjustment is said", async () => {
    const n = ns.host;
    await apply(
      `apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  selector: {app: db}
  ports: [{name: main, port: 5432, targetPort: 5432}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 1
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      hostNetwork: true
      dnsPolicy: ClusterFirstWithHostNet
      containers:
        - name: main
          image: example.invalid/db:1
          ports: [{containerPort: 5432, hostPort: 5432}]
`,
      n,
    );
    await apply(site('db', 'hot', ''), n);
    const s = await waitForSite(n, 'db', isProtected, 'Protected with a standby next to a hostNetwork primary');
    const sts = await kubectlJson<{ spec: { template: { spec: { hostNetwork?: boolean; dnsPolicy?: string; containers: { ports?: { containerPort: number; hostPort?: number }[] }[] } } } }>([
      '-n',
      n,
      'get',
      'statefulset',
      'db-standby',
    ]);
    const pod = sts.spec.template.spec;
    expect(pod.hostNetwork).toBeUndefined();
    expect(pod.dnsPolicy).toBe('ClusterFirst');
    expect(pod.containers[0]?.ports).toEqual([{ containerPort: 5432, protocol: 'TCP' }]);
    expect(condition(s, 'StandbyReady')?.message).toContain("the standby does not copy the primary's hostNetwork, hostPort 5432 (container main)");
    expect(await eventCount(n, 'StandbyAdjusted')).toBe(1);
  });
});

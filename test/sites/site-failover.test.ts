// Automatic site failover, the standby's side, for real: the operator runs in the standby site,
// the primary in the primary site, and the witness site's API server holds the lease. This test
// plays the primary side's guard (it renews the lease from the runner through witness/store.ts,
// as the guard controller in the primary's cluster does). A partition while the lease is renewed
// takes nothing over; a site loss (the lease no longer renewed, the primary's site stopped) is
// taken over and promoted, never before leaseDuration + acquireAfter after the last renewal.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeClient } from '../../src/k8s/client.ts';
import { connectionFromKubeconfig } from '../../src/k8s/connection.ts';
import { renewalOf } from '../../src/witness/lease.ts';
import { WitnessStore } from '../../src/witness/store.ts';
import { waitFor } from '../cluster/helpers.ts';
import { useSites } from '../cluster/site-helpers.ts';
import { heal, partition, readSites, site, startSite, stopSite, type SiteRecord } from '../cluster/sites.ts';
import { apply, condition, eventsOf, installCrd, kubectl, kubectlJson, operatorIdentity, remoteAccess, startOperatorIn, statefulPrimary, waitForSite, type SiteOperator } from './support.ts';
import { automaticSiteYaml } from '../cluster/site-manifest.ts';

const dir = inject('sitesDir');
const ns = `sfo-${Date.now().toString(36)}`;
const LEASE_MS = 8_000;
const ACQUIRE_AFTER_MS = 8_000;
let primary: SiteRecord;
let standby: SiteRecord;
let witness: SiteRecord;
let operator: SiteOperator | undefined;
let store: WitnessStore;
let uid = '';
let remoteUser = '';
let identity: Awaited<ReturnType<typeof operatorIdentity>>;
/** The test's renewals, as the primary's guard would make them. */
let renewing: { stop: () => Promise<void>; lastSentAt: () => number; renewals: () => number } | undefined;
const figures: Record<string, number> = {};

const SITE = automaticSiteYaml({
  timing: { leaseDuration: '8s', renewInterval: '2s', requestTimeout: '1s', safetyMargin: '2s', acquireAfter: '8s', fenceWithin: '3s' },
  witnessNamespace: ns,
  witnessKey: 'kubeconfig',
});

interface Guard {
  metadata: { name: string; namespace: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, unknown> & { ack?: { ping: number; at: string } };
}

async function podsReady(s: SiteRecord, selector: string): Promise<number> {
  const pods = await kubectlJson<{ items: { status?: { conditions?: { type: string; status: string }[] } }[] }>(s, ['-n', ns, 'get', 'pods', '-l', selector]);
  return pods.items.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
}

/** Renews the lease every renewInterval as holder primary:<uid> at epoch 1, from the runner. */
function renew(holder: string): NonNullable<typeof renewing> {
  let stopped = false;
  let lastSentAt = 0;
  let count = 0;
  const loop = (async () => {
    while (!stopped) {
      const rec = await store.read().catch(() => undefined);
      const sentAt = Date.now();
      if (!rec) {
        if ((await store.create(holder, 1, sentAt).catch(() => 'exists')) !== 'exists') {
          lastSentAt = sentAt;
          count++;
        }
      } else {
        const r = renewalOf(rec, holder, 1);
        if (r.action === 'lost') throw new Error(r.message);
        const res = await store.write(r.expect, r.holder, r.epoch, sentAt).catch(() => 'conflict' as const);
        if (typeof res === 'object') {
          lastSentAt = sentAt;
          count++;
        }
      }
      await new Promise((res) => setTimeout(res, 2_000));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
    lastSentAt: () => lastSentAt,
    renewals: () => count,
  };
}

beforeAll(async () => {
  await useSites();
  const state = (await readSites(dir))!;
  primary = site(state, 'primary');
  standby = site(state, 'standby');
  witness = site(state, 'witness');
  // Both CRDs in both clusters: the StandbySiteGuard lives in the primary's.
  await installCrd(standby);
  await installCrd(primary);
  await waitFor(
    async () => (await kubectl(primary, ['get', 'crd', 'standbysiteguards.standby.dev', '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}'])).trim() === 'True',
    { timeoutMs: 60_000, description: 'the StandbySiteGuard CRD Established' },
  );
  identity = await operatorIdentity(standby);
  const access = await remoteAccess(primary, [ns]);
  remoteUser = `system:serviceaccount:standby-remote:${access.docs.find((d) => d.kind === 'ServiceAccount')!.metadata.name}`;
  await kubectl(standby, ['create', 'namespace', ns]);
  await kubectl(witness, ['create', 'namespace', ns]);
  await apply(standby, JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'primary-cluster' }, stringData: { kubeconfig: access.kubeconfig } }), ns);
  // The witness's API server as both sites reach it (its credentials are embedded).
  const witnessKubeconfig = readFileSync(witness.kubeconfig, 'utf8');
  await apply(standby, JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'witness' }, stringData: { kubeconfig: witnessKubeconfig } }), ns);
  store = new WitnessStore(new KubeClient(await connectionFromKubeconfig(witnessKubeconfig, { origin: 'the witness site', path: witness.kubeconfig })), ns, `standby-${ns}-orders`, 8);
  await apply(primary, statefulPrimary('orders'), ns);
  await waitFor(async () => (await podsReady(primary, 'app=orders')) === 1, { timeoutMs: 60_000, description: 'the primary pod Ready' });
  operator = await startOperatorIn(standby, identity, [ns]);
});

afterAll(async () => {
  if (Object.keys(figures).length) console.log(`[figures] ${JSON.stringify({ ...figures, at: new Date().toISOString() })}`);
  await renewing?.stop().catch(() => undefined);
  await operator?.stop();
  await heal(dir);
  const s = (await readSites(dir))!;
  if (site(s, 'primary').stoppedAt !== undefined) await startSite(dir, 'primary');
  for (const x of [primary, standby, witness]) await kubectl(x, ['delete', 'namespace', ns, '--wait=false']).catch(() => '');
});

describe('automatic site failover, the standby side', () => {
  it("writes the StandbySiteGuard into the primary's cluster with the contract's spec, and reads the witness's lease", async () => {
    await apply(standby, SITE, ns);
    const s = await waitForSite(standby, ns, 'orders', (x) => x.status?.phase === 'Protected', 'the site Protected');
    uid = (await kubectlJson<{ metadata: { uid: string } }>(standby, ['-n', ns, 'get', 'standbysite', 'orders'])).metadata.uid;
    expect(s.status?.primary?.state).toBe('Ready');
    let guard: Guard | undefined;
    await waitFor(
      async () => {
        guard = JSON.parse((await kubectl(primary, ['-n', ns, 'get', 'standbysiteguard', 'orders', '-o', 'json', '--ignore-not-found'])) || 'null') as Guard | undefined;
        return guard !== null && guard !== undefined;
      },
      { timeoutMs: 60_000, description: "the StandbySiteGuard in the primary's cluster" },
    );
    expect(guard!.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'standby-operator', 'standby.dev/site': 'orders', 'standby.dev/role': 'guard' });
    expect(guard!.metadata.annotations?.['standby.dev/site-uid']).toBe(uid);
    expect(guard!.spec).toEqual({
      site: { name: 'orders', namespace: ns, uid },
      workload: { kind: 'StatefulSet', name: 'orders' },
      witness: { kubeconfigSecret: { name: 'witness', key: 'kubeconfig' }, namespace: ns, leaseName: `standby-${ns}-orders` },
      holder: `primary:${uid}`,
      epoch: 1,
      timing: { leaseDuration: '8s', renewInterval: '2s', acquireAfter: '8s', safetyMargin: '2s', requestTimeout: '1s', fenceWithin: '3s' },
    });
    // The first record: created by whichever side found it missing (here the standby's), holder the primary.
    const lease = await waitForSite(standby, ns, 'orders', (x) => condition(x, 'WitnessLease')?.reason === 'HeldByPrimary', 'WitnessLease HeldByPrimary');
    expect(condition(lease, 'WitnessLease')?.message).toContain(`holder primary:${uid}, epoch 1`);
    expect(condition(lease, 'WitnessReachable')).toMatchObject({ status: 'True' });
    expect(await store.read()).toMatchObject({ holder: `primary:${uid}`, epoch: 1 });
    renewing = renew(`primary:${uid}`);
  });

  it("answers a failsafe ping written in the guard's status in spec.ack while not promoting", async () => {
    await kubectl(primary, ['-n', ns, 'patch', 'standbysiteguard', 'orders', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { ping: { number: 1, sentAt: new Date().toISOString() } } })]);
    let ack: Guard['spec']['ack'];
    await waitFor(
      async () => {
        ack = (await kubectlJson<Guard>(primary, ['-n', ns, 'get', 'standbysiteguard', 'orders'])).spec.ack;
        return ack?.ping === 1;
      },
      { timeoutMs: 30_000, description: 'spec.ack.ping 1' },
    );
    expect(Date.parse(ack!.at)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("never adopts a guard it did not create; deletes the one it created with its site; may write guards but not their status", async () => {
    // A guard of the name a site wants, made by someone else: left exactly as it is, and kept when that site goes.
    const theirs = `
apiVersion: standby.dev/v1alpha1
kind: StandbySiteGuard
metadata: {name: ledger, labels: {team: ledger}}
spec:
  site: {name: ledger, namespace: elsewhere, uid: not-this-one}
  workload: {kind: StatefulSet, name: ledger}
  witness: {kubeconfigSecret: {name: w, key: k}, namespace: x, leaseName: x}
  holder: someone
  epoch: 7
  timing: {leaseDuration: 30s, renewInterval: 10s, acquireAfter: 30s, safetyMargin: 5s, requestTimeout: 5s, fenceWithin: 10s}
`;
    await apply(primary, theirs, ns);
    const before = await kubectlJson<{ metadata: { resourceVersion: string } }>(primary, ['-n', ns, 'get', 'standbysiteguard', 'ledger']);
    await apply(standby, SITE.replace(/name: orders\}/, 'name: ledger}'), ns);
    await waitForSite(standby, ns, 'ledger', (x) => condition(x, 'WitnessLease') !== undefined, 'the ledger site read the witness');
    // Another reconcile or two.
    await new Promise((r) => setTimeout(r, 4_000));
    const after = await kubectlJson<{ metadata: { resourceVersion: string }; spec: { epoch: number } }>(primary, ['-n', ns, 'get', 'standbysiteguard', 'ledger']);
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(after.spec.epoch).toBe(7);
    await kubectl(standby, ['-n', ns, 'delete', 'standbysite', 'ledger', '--wait=true']);
    await new Promise((r) => setTimeout(r, 3_000));
    expect((await kubectlJson<{ metadata: { resourceVersion: string } }>(primary, ['-n', ns, 'get', 'standbysiteguard', 'ledger'])).metadata.resourceVersion).toBe(before.metadata.resourceVersion);

    // A site's own guard goes with the site.
    await apply(standby, SITE.replace(/name: orders\}/, 'name: stock}'), ns);
    await waitFor(async () => (await kubectl(primary, ['-n', ns, 'get', 'standbysiteguard', 'stock', '--ignore-not-found'])).trim() !== '', {
      timeoutMs: 60_000,
      description: 'the stock guard created',
    });
    await kubectl(standby, ['-n', ns, 'delete', 'standbysite', 'stock', '--wait=true']);
    await waitFor(async () => (await kubectl(primary, ['-n', ns, 'get', 'standbysiteguard', 'stock', '--ignore-not-found'])).trim() === '', {
      timeoutMs: 60_000,
      description: 'the stock guard deleted with its site',
    });

    // The chart's remoteAccess Role: the guards' metadata and spec, not their status.
    const can = (verb: string, ...more: string[]) =>
      kubectl(primary, ['auth', 'can-i', verb, 'standbysiteguards.standby.dev', ...more, '-n', ns, '--as', remoteUser]).then((o) => o.trim(), () => 'no');
    for (const verb of ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']) expect(await can(verb), verb).toBe('yes');
    for (const verb of ['update', 'patch']) expect(await can(verb, '--subresource=status'), `${verb} status`).toBe('no');
    const forbidden = operator!.logLines().filter((l) => /forbidden|HTTP 403/i.test(JSON.stringify(l)));
    expect(forbidden).toEqual([]);
  });

  it('a guard outlives the process that wrote it: the next operator deletes it when its site goes, or when siteFailover turns manual', async () => {
    const guardOf = async (name: string) => (await kubectl(primary, ['-n', ns, 'get', 'standbysiteguard', name, '--ignore-not-found', '-o', 'name'])).trim();
    const finalizersOf = async (name: string) =>
      (await kubectlJson<{ metadata: { finalizers?: string[] } }>(standby, ['-n', ns, 'get', 'standbysite', name])).metadata.finalizers ?? [];
    for (const name of ['batch', 'cart']) {
      await apply(standby, SITE.replace(/name: orders\}/, `name: ${name}}`), ns);
      await waitFor(async () => (await guardOf(name)) !== '', { timeoutMs: 60_000, description: `the ${name} guard created` });
      // The finalizer came before the guard.
      expect(await finalizersOf(name)).toContain('standby.dev/site-guard');
    }
    // The process that wrote both guards stops; the site batch is deleted meanwhile and waits (its finalizer).
    await operator!.stop();
    await kubectl(standby, ['-n', ns, 'delete', 'standbysite', 'batch', '--wait=false']);
    const deleting = await kubectlJson<{ metadata: { deletionTimestamp?: string } }>(standby, ['-n', ns, 'get', 'standbysite', 'batch']);
    expect(deleting.metadata.deletionTimestamp).toBeDefined();
    expect(await guardOf('batch')).not.toBe('');
    // A new process, with no memory of either guard.
    operator = await startOperatorIn(standby, identity, [ns]);
    await waitFor(async () => (await guardOf('batch')) === '', { timeoutMs: 60_000, description: 'the batch guard deleted by the restarted operator' });
    await waitFor(async () => (await kubectl(standby, ['-n', ns, 'get', 'standbysite', 'batch', '--ignore-not-found', '-o', 'name'])).trim() === '', {
      timeoutMs: 60_000,
      description: 'the batch site gone once its guard is',
    });
    // The site cart switches to manual after another restart: its guard goes, then the finalizer; the site stays.
    await operator.stop();
    operator = await startOperatorIn(standby, identity, [ns]);
    await kubectl(standby, ['-n', ns, 'patch', 'standbysite', 'cart', '--type=merge', '-p', JSON.stringify({ spec: { promotion: { siteFailover: { mode: 'manual' } } } })]);
    await waitFor(async () => (await guardOf('cart')) === '', { timeoutMs: 60_000, description: 'the cart guard deleted after the switch to manual' });
    await waitFor(async () => !(await finalizersOf('cart')).includes('standby.dev/site-guard'), { timeoutMs: 60_000, description: 'the finalizer removed from cart' });
    await kubectl(standby, ['-n', ns, 'delete', 'standbysite', 'cart', '--wait=true']);
    // The other site's guard (orders) is untouched by all of this.
    expect(await guardOf('orders')).not.toBe('');
  });

  it('a partition while the lease is renewed takes nothing over: the primary Unreachable, no promotion', async () => {
    await partition(dir, 'primary', 'standby');
    await waitForSite(standby, ns, 'orders', (x) => x.status?.primary?.state === 'Unreachable', 'PRIMARY Unreachable');
    const before = renewing!.renewals();
    // Well past failureThreshold and leaseDuration + acquireAfter.
    await new Promise((r) => setTimeout(r, LEASE_MS + ACQUIRE_AFTER_MS + 6_000));
    expect(renewing!.renewals()).toBeGreaterThan(before + 3);
    const still = await kubectlJson<{ status?: { promotion?: unknown; phase?: string } }>(standby, ['-n', ns, 'get', 'standbysite', 'orders']);
    expect(still.status?.promotion).toBeUndefined();
    expect(await store.read()).toMatchObject({ holder: `primary:${uid}`, epoch: 1 });
    expect(await podsReady(primary, 'app=orders')).toBe(1);
  });

  it('a site loss: the lease no longer renewed is taken over (standby, epoch 2) and promoted, never before leaseDuration + acquireAfter', async () => {
    await renewing!.stop();
    const lastRenewal = renewing!.lastSentAt();
    renewing = undefined;
    await stopSite(dir, 'primary');
    const promoted = await waitForSite(standby, ns, 'orders', (x) => x.status?.phase === 'Promoted', 'Promoted by the takeover', 120_000);
    const rec = await store.read();
    expect(rec).toMatchObject({ holder: `standby:${uid}`, epoch: 2 });
    // The takeover's time, as the standby's operator wrote it on the lease (the same host clock as this runner).
    const lease = await kubectlJson<{ spec: { acquireTime: string; leaseTransitions: number } }>(witness, ['-n', ns, 'get', 'lease', `standby-${ns}-orders`]);
    const takenAfter = Date.parse(lease.spec.acquireTime) - lastRenewal;
    figures.takeoverAfterLastRenewalSeconds = takenAfter / 1000;
    // The safety property: not before leaseDuration + acquireAfter after the last renewal was sent.
    expect(takenAfter).toBeGreaterThanOrEqual(LEASE_MS + ACQUIRE_AFTER_MS);
    // And not much later (generous for a shared CPU).
    expect(takenAfter).toBeLessThan(LEASE_MS + ACQUIRE_AFTER_MS + 45_000);
    expect(lease.spec.leaseTransitions).toBe(1);
    expect(promoted.status?.promotion).toMatchObject({ state: 'Promoted', trigger: 'siteFailover', epoch: 2 });
    expect(promoted.status?.promotion?.reason).toContain("automatic site failover by the witness's lease");
    expect(promoted.status?.epoch).toBe(2);
    expect(condition(promoted, 'WitnessLease')).toMatchObject({ status: 'True', reason: 'HeldByStandby' });
    expect(condition(promoted, 'WitnessLease')?.message).toContain(`holder standby:${uid}, epoch 2`);
    expect((await eventsOf(standby, ns, 'orders')).some((e) => e.reason === 'LeaseTakenOver')).toBe(true);
    const metrics = await (await fetch(`${operator!.healthUrl}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`standby_site_lease_takeovers_total\\{namespace="${ns}",site="orders"\\} 1`));
    expect(metrics).toMatch(new RegExp(`standby_site_witness_reachable\\{namespace="${ns}",site="orders"\\} 1`));
  });
});

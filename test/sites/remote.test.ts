// A standby site in another cluster, for real: the primary runs in the primary site's control
// plane, the operator and the standby in the standby site's (each in its own network namespace).
// The operator reaches the primary's API server over the "WAN" with exactly the chart's
// remoteAccess Role. A partition leaves both sides running and promotes nothing; a site loss and a
// site-lost-... token promote; the old site coming back is fenced before anything else.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { repoRoot } from '../cluster/common.ts';
import { waitFor } from '../cluster/helpers.ts';
import { useSites } from '../cluster/site-helpers.ts';
import { heal, partition, readSites, site, startSite, stopSite, type SiteRecord } from '../cluster/sites.ts';
import {
  apply,
  condition,
  eventsOf,
  installCrd,
  kubectl,
  kubectlJson,
  operatorIdentity,
  remoteAccess,
  startOperatorIn,
  statefulPrimary,
  waitForSite,
  type SiteOperator,
} from './support.ts';

const dir = inject('sitesDir');
const ns = `xsite-${Date.now().toString(36)}`;
let primary: SiteRecord;
let standby: SiteRecord;
let operator: SiteOperator | undefined;
let remoteUser = '';
/** Seconds measured in this run (printed, and kept in .cluster/e2e-logs/remote-figures.json for the README). */
const figures: Record<string, number | string> = {};
/** Operator log lines before the primary's site was started again (site-loss test). */
let linesBeforeReturn = -1;
const since = (t: number) => Math.round((Date.now() - t) / 100) / 10;

interface Svc {
  metadata: { annotations?: Record<string, string>; ownerReferences?: unknown[] };
  spec: { selector?: Record<string, string>; type?: string };
}

const SITE = `
apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: orders}
spec:
  tier: hot
  primary:
    workload: {kind: StatefulSet, name: orders}
    service: orders
    cluster: {kubeconfigSecret: {name: primary-cluster}}
  traffic: {externalDNS: {hostname: orders.example.com}}
  promotion: {mode: automatic, failureThreshold: 2s}
`;

async function podsReady(s: SiteRecord, selector: string): Promise<number> {
  const pods = await kubectlJson<{ items: { status?: { conditions?: { type: string; status: string }[] } }[] }>(s, ['-n', ns, 'get', 'pods', '-l', selector]);
  return pods.items.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
}

beforeAll(async () => {
  await useSites();
  const state = (await readSites(dir))!;
  primary = site(state, 'primary');
  standby = site(state, 'standby');
  await installCrd(standby);
  const identity = await operatorIdentity(standby);
  const access = await remoteAccess(primary, [ns], { externalDNS: true });
  remoteUser = `system:serviceaccount:standby-remote:${access.docs.find((d) => d.kind === 'ServiceAccount')!.metadata.name}`;
  await kubectl(standby, ['create', 'namespace', ns]);
  // What `kubectl create secret generic primary-cluster --from-file=kubeconfig=primary.kubeconfig` makes.
  await apply(standby, JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'primary-cluster' }, stringData: { kubeconfig: access.kubeconfig } }), ns);
  await apply(primary, statefulPrimary('orders'), ns);
  await waitFor(async () => (await podsReady(primary, 'app=orders')) === 1, { timeoutMs: 60_000, description: 'the primary pod Ready' });
  operator = await startOperatorIn(standby, identity, [ns]);
});

afterAll(async () => {
  if (Object.keys(figures).length) {
    figures.probe = 'REMOTE_PROBE_INTERVAL_MS=1000 REMOTE_PROBE_TIMEOUT_MS=1500';
    figures.at = new Date().toISOString();
    console.log(`[figures] ${JSON.stringify(figures)}`);
    writeFileSync(join(repoRoot, '.cluster', 'e2e-logs', 'remote-figures.json'), `${JSON.stringify(figures, null, 2)}\n`);
  }
  await operator?.stop();
  await heal(dir);
  const s = (await readSites(dir))!;
  if (site(s, 'primary').stoppedAt !== undefined) await startSite(dir, 'primary');
  for (const x of [primary, standby]) await kubectl(x, ['delete', 'namespace', ns, '--wait=false']).catch(() => '');
});

describe('a hot standby site in another cluster', () => {
  it('becomes Protected: the standby runs here, the primary is watched there through the remoteAccess Role', async () => {
    const t0 = Date.now();
    await apply(standby, SITE, ns);
    const s = await waitForSite(standby, ns, 'orders', (x) => x.status?.phase === 'Protected', 'the cross-site hot site Protected');
    expect(s.status?.primary?.state).toBe('Ready');
    expect(s.status?.primarySite).toMatchObject({ reachable: true });
    expect(s.status?.primarySite?.cluster).toMatch(new RegExp(`^https://${primary.address.replace(/\./g, '\\.')}:`));
    expect(s.status?.activeEndpoint).toBe('orders.example.com');
    expect(condition(s, 'PrimaryHealthy')).toMatchObject({ status: 'True' });
    figures.protectedAfterApplySeconds = since(t0);

    // The standby, a copy of the primary's pod template, runs in the standby's cluster.
    const sts = await kubectlJson<{ spec: { template: { spec: { containers: { image: string }[] } } } }>(standby, ['-n', ns, 'get', 'statefulset', 'orders-standby']);
    expect(sts.spec.template.spec.containers[0]?.image).toBe('example.invalid/db:1');
    await waitFor(async () => (await podsReady(standby, 'standby.dev/site=orders')) === 1, { timeoutMs: 60_000, description: 'the standby pod Ready' });
    // Its traffic Service selects nothing until the standby serves; the DNS name is on the primary's side.
    const here = await kubectlJson<Svc>(standby, ['-n', ns, 'get', 'service', 'orders-active']);
    expect(here.spec.selector).toBeUndefined();
    expect(here.metadata.annotations?.['external-dns.alpha.kubernetes.io/hostname']).toBeUndefined();
    const there = await kubectlJson<Svc>(primary, ['-n', ns, 'get', 'service', 'orders-active']);
    expect(there.metadata.annotations?.['external-dns.alpha.kubernetes.io/hostname']).toBe('orders.example.com');
    expect(there.spec.selector).toEqual({ app: 'orders' });
    expect(there.metadata.ownerReferences).toBeUndefined();
  });

  it("never adopts an object in the primary's cluster it did not create: a Service of the name it wants there stays the user's", async () => {
    const userService = `
apiVersion: v1
kind: Service
metadata: {name: ledger-active, labels: {team: ledger}}
spec:
  selector: {app: ledger}
  ports: [{name: main, port: 5432, targetPort: 5432}]
`;
    await apply(primary, statefulPrimary('ledger'), ns);
    await apply(primary, userService, ns);
    await waitFor(async () => (await podsReady(primary, 'app=ledger')) === 1, { timeoutMs: 60_000, description: 'the ledger primary pod Ready' });
    const before = await kubectlJson<Svc & { metadata: { resourceVersion: string; labels?: Record<string, string> } }>(primary, ['-n', ns, 'get', 'service', 'ledger-active']);
    await apply(standby, SITE.replace(/orders/g, 'ledger'), ns);
    const s = await waitForSite(standby, ns, 'ledger', (x) => condition(x, 'Ready')?.reason === 'NameConflict', 'the ledger site reports the name conflict');
    expect(condition(s, 'Ready')?.message).toMatch(/ledger-active.*in namespace \S+ of the primary's cluster/);
    // Left exactly as the user made it: same resourceVersion, no annotation or selector of ours.
    const after = await kubectlJson<Svc & { metadata: { resourceVersion: string; labels?: Record<string, string> } }>(primary, ['-n', ns, 'get', 'service', 'ledger-active']);
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(after.metadata.annotations?.['external-dns.alpha.kubernetes.io/hostname']).toBeUndefined();
    expect(after.spec.selector).toEqual({ app: 'ledger' });
    expect(after.spec.type).toBe('ClusterIP');
    // A promote token is refused while the conflict lasts; nothing is fenced there.
    await kubectl(standby, ['-n', ns, 'annotate', 'standbysite', 'ledger', 'standby.dev/promote=ledger-1']);
    await waitForSite(standby, ns, 'ledger', (x) => x.status?.handledPromoteToken === 'ledger-1', 'the ledger token handled');
    expect((await kubectlJson<{ status?: { promotion?: unknown } }>(standby, ['-n', ns, 'get', 'standbysite', 'ledger'])).status?.promotion).toBeUndefined();
    expect(await kubectl(primary, ['-n', ns, 'get', 'networkpolicy', 'ledger-fence', '--ignore-not-found'])).toBe('');
    // Out of the way of the partition and site-loss tests.
    await kubectl(standby, ['-n', ns, 'delete', 'standbysite', 'ledger', '--wait=true']);
    expect((await kubectlJson<Svc & { metadata: { resourceVersion: string } }>(primary, ['-n', ns, 'get', 'service', 'ledger-active'])).metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    await kubectl(primary, ['-n', ns, 'delete', 'statefulset', 'ledger']);
  });

  it('a partition leaves both sides running; the standby says Unreachable and promotes nothing, not even on a token; healing restores it', async () => {
    const cutAt = Date.now();
    await partition(dir, 'primary', 'standby');
    const cut = await waitForSite(standby, ns, 'orders', (x) => x.status?.primary?.state === 'Unreachable', 'PRIMARY Unreachable');
    figures.unreachableAfterPartitionSeconds = since(cutAt);
    expect(condition(cut, 'PrimaryHealthy')).toMatchObject({ status: 'Unknown', reason: 'PrimaryUnreachable' });
    expect(condition(cut, 'PrimaryHealthy')?.message).toMatch(/the primary's cluster https:\/\/\S+ has not answered since \S+ \(/);
    expect(cut.status?.primarySite).toMatchObject({ reachable: false });
    expect(cut.status?.primarySite?.lastError).toBeTruthy();
    const ready = await waitForSite(standby, ns, 'orders', (x) => condition(x, 'PromotionReady')?.reason === 'PrimaryUnreachable', 'PromotionReady PrimaryUnreachable');
    expect(condition(ready, 'PromotionReady')?.message).toContain('never promotes by itself');

    // Well past failureThreshold: nothing promoted, both sides still up.
    await new Promise((r) => setTimeout(r, 8_000));
    expect(await podsReady(primary, 'app=orders')).toBe(1);
    expect(await podsReady(standby, 'standby.dev/site=orders')).toBe(1);
    const still = await kubectlJson<{ status?: { promotion?: unknown; primary?: { notReadySince?: string } } }>(standby, ['-n', ns, 'get', 'standbysite', 'orders']);
    expect(still.status?.promotion).toBeUndefined();
    expect(still.status?.primary?.notReadySince).toBeUndefined();

    // A planned switchover cannot fence the primary now: refused, saying why.
    await kubectl(standby, ['-n', ns, 'annotate', 'standbysite', 'orders', 'standby.dev/promote=maintenance-1']);
    await waitForSite(standby, ns, 'orders', (x) => x.status?.handledPromoteToken === 'maintenance-1', 'the token handled');
    const refused = (await eventsOf(standby, ns, 'orders')).find((e) => e.reason === 'PromotionRefused' && e.message.includes('maintenance-1'));
    expect(refused?.message).toContain('cannot be fenced');
    expect((await kubectlJson<{ status?: { promotion?: unknown } }>(standby, ['-n', ns, 'get', 'standbysite', 'orders'])).status?.promotion).toBeUndefined();
    expect((await eventsOf(standby, ns, 'orders')).some((e) => e.reason === 'PrimarySiteUnreachable')).toBe(true);

    const healedAt = Date.now();
    await heal(dir);
    const back = await waitForSite(standby, ns, 'orders', (x) => x.status?.phase === 'Protected' && x.status.primarySite?.reachable === true, 'Protected again after healing');
    figures.protectedAfterHealSeconds = since(healedAt);
    expect(back.status?.primary?.state).toBe('Ready');
    expect((await eventsOf(standby, ns, 'orders')).some((e) => e.reason === 'PrimarySiteReachable')).toBe(true);
  });

  it('a site loss and a site-lost- token promote, saying fencing could not be confirmed; the site coming back is fenced before anything else', async () => {
    await stopSite(dir, 'primary');
    await waitForSite(standby, ns, 'orders', (x) => x.status?.primary?.state === 'Unreachable', 'PRIMARY Unreachable after the site loss');
    const askedAt = Date.now();
    await kubectl(standby, ['-n', ns, 'annotate', '--overwrite', 'standbysite', 'orders', 'standby.dev/promote=site-lost-2026-12-01']);
    const promoted = await waitForSite(standby, ns, 'orders', (x) => x.status?.phase === 'Promoted', 'Promoted on the site-lost token');
    figures.promotedAfterTokenSeconds = since(askedAt);
    figures.promotionDurationSeconds = promoted.status?.promotion?.durationSeconds ?? 'unknown';
    expect(promoted.status?.promotion).toMatchObject({ state: 'Promoted', trigger: 'siteLost', token: 'site-lost-2026-12-01', epoch: 1 });
    expect(promoted.status?.epoch).toBe(1);
    expect(condition(promoted, 'FencingHolds')).toMatchObject({ status: 'Unknown', reason: 'FenceNotConfirmed' });
    expect(condition(promoted, 'FencingHolds')?.message).toContain('fencing could not be confirmed');
    const started = (await eventsOf(standby, ns, 'orders')).find((e) => e.reason === 'PromotionStarted');
    expect(started?.message).toContain('fencing could not be confirmed');
    // Clients here reach the standby; the DNS name moved to this side.
    const here = await kubectlJson<Svc>(standby, ['-n', ns, 'get', 'service', 'orders-active']);
    expect(here.spec.selector).toMatchObject({ 'standby.dev/site': 'orders', 'standby.dev/role': 'standby' });
    await waitFor(
      async () => (await kubectlJson<Svc>(standby, ['-n', ns, 'get', 'service', 'orders-active'])).metadata.annotations?.['external-dns.alpha.kubernetes.io/hostname'] === 'orders.example.com',
      { timeoutMs: 30_000, description: 'the DNS name on the standby side' },
    );
    expect(promoted.status?.activeEndpoint).toBe('orders.example.com');

    const before = operator!.logLines().length;
    linesBeforeReturn = before;
    await startSite(dir, 'primary');
    const startedAt = Date.now();
    const back = await waitForSite(standby, ns, 'orders', (x) => x.status?.primarySite?.fencedAt !== undefined && x.status.primarySite.returnedAt !== undefined, 'the returning site fenced', 120_000);
    figures.fencedAfterSiteBackSeconds = since(startedAt);
    // The condition follows once the fence is seen in that cluster's cache (a reconcile later at most).
    const holds = condition(back, 'FencingHolds')?.status === 'True'
      ? back
      : await waitForSite(standby, ns, 'orders', (x) => condition(x, 'FencingHolds')?.status === 'True', 'FencingHolds True after the return', 30_000);
    expect(condition(holds, 'FencingHolds')).toMatchObject({ status: 'True' });
    const fence = await kubectlJson<{ metadata: { annotations?: Record<string, string>; ownerReferences?: unknown[] }; spec: { podSelector: unknown; policyTypes: string[] } }>(primary, ['-n', ns, 'get', 'networkpolicy', 'orders-fence']);
    expect(fence.spec).toMatchObject({ podSelector: { matchLabels: { app: 'orders' } }, policyTypes: ['Ingress', 'Egress'] });
    expect(fence.metadata.annotations?.['standby.dev/epoch']).toBe('1');
    expect(fence.metadata.ownerReferences).toBeUndefined();
    expect((await eventsOf(standby, ns, 'orders')).find((e) => e.reason === 'PrimarySiteReturned')?.message).toContain('fenced first');
    // The DNS name leaves the old primary's side, after the fence.
    await waitFor(
      async () => (await kubectlJson<Svc>(primary, ['-n', ns, 'get', 'service', 'orders-active'])).metadata.annotations?.['external-dns.alpha.kubernetes.io/hostname'] === undefined,
      { timeoutMs: 30_000, description: "the DNS name gone from the old primary's side" },
    );
    const writes = operator!.logLines().slice(before).filter((l) => l.msg === "wrote in the primary's cluster").map((l) => `${String(l.kind)}/${String(l.name)}`);
    expect(writes[0]).toBe('NetworkPolicy/orders-fence');
    expect(writes).toContain('Service/orders-active');
    // A fence loosened there by hand is replaced whole, as at home (an apply would keep the rule).
    await kubectl(primary, ['-n', ns, 'patch', 'networkpolicy', 'orders-fence', '--type=merge', '-p', '{"spec":{"ingress":[{}]}}']);
    await waitFor(
      async () => (await kubectlJson<{ spec: { ingress?: unknown[] } }>(primary, ['-n', ns, 'get', 'networkpolicy', 'orders-fence'])).spec.ingress === undefined,
      { timeoutMs: 90_000, description: "the loosened fence in the primary's cluster replaced by the exact one" },
    );
  });

  it('the remote operator needs nothing beyond the generated Role', async () => {
    const lines = operator!.logLines();
    const forbidden = (l: Record<string, unknown>) => /forbidden|HTTP 403/i.test(JSON.stringify(l));
    expect(linesBeforeReturn).toBeGreaterThan(0);
    expect(lines.slice(0, linesBeforeReturn).filter(forbidden)).toEqual([]);
    // A restarted API server answers 403 until its RBAC caches have loaded: refusals are allowed
    // there only before the fence went up (the cluster counted as reachable only after them), none after.
    const fenced = lines.findIndex((l, i) => i >= linesBeforeReturn && l.msg === "wrote in the primary's cluster" && l.name === 'orders-fence');
    expect(fenced).toBeGreaterThan(0);
    expect(lines.slice(fenced).filter(forbidden)).toEqual([]);
    // What the identity may do in the primary's namespace is what the chart's Role says, nothing more.
    const can = (verb: string, resource: string) =>
      kubectl(primary, ['auth', 'can-i', verb, resource, '-n', ns, '--as', remoteUser]).then((o) => o.trim(), () => 'no');
    expect(await can('patch', 'networkpolicies')).toBe('yes');
    // A loosened fence there is replaced whole (fencing/fence.ts keepFence).
    expect(await can('update', 'networkpolicies')).toBe('yes');
    expect(await can('watch', 'pods')).toBe('yes');
    for (const [verb, resource] of [['delete', 'networkpolicies'], ['patch', 'statefulsets'], ['get', 'secrets'], ['create', 'pods'], ['delete', 'services']]) {
      expect(await can(verb!, resource!), `${verb} ${resource}`).toBe('no');
    }
    expect(await kubectl(primary, ['auth', 'can-i', 'list', 'pods', '-n', 'default', '--as', remoteUser]).then((o) => o.trim(), () => 'no')).toBe('no');
  });
});

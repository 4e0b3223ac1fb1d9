// Hot PostgreSQL failover on real pods: the primary runs in the test image on the real node
// with a real readiness probe; the operator's standby bootstraps through the engine's init
// container (pg_basebackup) and streams synchronously; a client writes numbered rows through
// the traffic Service; the primary fails (its container killed, or its readiness probe
// failing); the operator fences, runs the pg_promote Job and switches the Service; every row
// the client saw acknowledged is on the promoted standby.
import { describe, expect, test } from 'vitest';
import { apply, kubectlJson, waitFor } from '../cluster/helpers.ts';
import { getSite, startOperator, waitForSite } from '../e2e/support/operator.ts';
import {
  clusterIP,
  createRealNamespace,
  failReadiness,
  images,
  killContainer,
  logs,
  pod,
  postgresPrimary,
  query,
  reachableFromPod,
  RowWriter,
  waitReady,
  suiteResources,
} from './support.ts';
import { hotSiteYaml } from './workload.ts';

const SITE = 'db';

function hotSite(): string {
  return hotSiteYaml(SITE);
}

interface Failover {
  ns: string;
  writer: RowWriter;
  /** Acknowledged rows the promoted standby has, and those it lacks. */
  present: number[];
  missing: number[];
  promotedIP: string;
  oldPrimaryIP: string;
}

const { operators, namespaces } = suiteResources();

/** Primary up, site Protected with a streaming synchronous standby, rows flowing through the traffic Service. */
async function protectedSite(prefix: string): Promise<{ ns: string; writer: RowWriter }> {
  const ns = await createRealNamespace(prefix);
  namespaces.push(ns);
  await apply(postgresPrimary(SITE), ns);
  const primary = await waitReady(ns, `${SITE}-0`);
  expect(primary.spec.nodeName).toBe('real-node-0');
  await query(primary.status.podIP!, 'CREATE TABLE rows (n integer PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())');

  operators.push(await startOperator({ namespaces: [ns], env: { OPERATOR_IMAGE: images().operator }, name: `realpods-${prefix}` }));
  await apply(hotSite(), ns);
  await waitForSite(ns, SITE, (s) => s.status?.phase === 'Protected', 'site Protected with a streaming standby', 300_000);

  // The standby bootstrapped through the engine's init container and streams synchronously.
  const standby = await waitReady(ns, `${SITE}-standby-0`);
  expect(standby.status.initContainerStatuses?.find((c) => c.name === 'standby-bootstrap')?.state?.terminated?.exitCode).toBe(0);
  expect(await logs(ns, `${SITE}-standby-0`, 'standby-bootstrap')).toMatch(/standby data directory ready/);
  const replication = await waitFor(async () => {
    const rows = await query<{ application_name: string; state: string; sync_state: string }>(primary.status.podIP!, 'SELECT application_name, state, sync_state FROM pg_stat_replication');
    return rows.find((r) => r.application_name === `standby_${SITE}_0` && r.state === 'streaming' && r.sync_state === 'sync');
  }, { timeoutMs: 60_000, description: 'the standby streaming synchronously' });
  expect(replication.sync_state).toBe('sync');

  const writer = new RowWriter(await clusterIP(ns, `${SITE}-active`));
  writer.start();
  await writer.waitForMore(50, 120_000);
  return { ns, writer };
}

async function failoverAndCheck(ns: string, writer: RowWriter, fail: () => Promise<void>): Promise<Failover> {
  const oldPrimaryIP = (await pod(ns, `${SITE}-0`)).status.podIP!;
  await fail();
  const site = await waitForSite(ns, SITE, (s) => s.status?.promotion?.state === 'Promoted' || s.status?.promotion?.state === 'Failed', 'the promotion to finish', 300_000);
  expect(site.status?.promotion?.state, JSON.stringify(site.status?.promotion)).toBe('Promoted');

  // Writes go on through the traffic Service, now to the promoted standby.
  await writer.waitForMore(30, 120_000);
  await writer.stop();

  const standby = await pod(ns, `${SITE}-standby-0`);
  const promotedIP = standby.status.podIP!;
  const [state] = await query<{ recovery: boolean }>(promotedIP, 'SELECT pg_is_in_recovery() AS recovery');
  expect(state?.recovery).toBe(false);
  const have = new Set((await query<{ n: number }>(promotedIP, 'SELECT n FROM rows')).map((r) => r.n));
  return {
    ns,
    writer,
    present: writer.acked.filter((n) => have.has(n)),
    missing: writer.acked.filter((n) => !have.has(n)),
    promotedIP,
    oldPrimaryIP,
  };
}

/** The promote Job ran pg_promote for real, on the real node. */
async function checkPromoteJob(ns: string): Promise<void> {
  const jobs = await kubectlJson<{ items: { metadata: { name: string }; status: { succeeded?: number } }[] }>(['-n', ns, 'get', 'jobs', '-l', 'standby.dev/role=promote']);
  expect(jobs.items.length).toBeGreaterThan(0);
  expect(jobs.items.some((j) => (j.status.succeeded ?? 0) >= 1)).toBe(true);
  const job = jobs.items.find((j) => (j.status.succeeded ?? 0) >= 1)!;
  const pods = await kubectlJson<{ items: { metadata: { name: string }; spec: { nodeName?: string } }[] }>(['-n', ns, 'get', 'pods', '-l', `job-name=${job.metadata.name}`]);
  const ran = pods.items[0];
  expect(ran?.spec.nodeName).toBe('real-node-0');
  expect(await logs(ns, ran!.metadata.name, 'promote')).toMatch(/promoted: .* has left recovery and accepts writes/);
}

async function checkFenceAndTraffic(ns: string): Promise<void> {
  const fence = await kubectlJson<{ spec: { podSelector: { matchLabels?: Record<string, string> }; policyTypes: string[]; ingress?: unknown[]; egress?: unknown[] } }>(['-n', ns, 'get', 'networkpolicy', `${SITE}-fence`]);
  expect(fence.spec.podSelector.matchLabels).toEqual({ app: SITE });
  expect(fence.spec.policyTypes.sort()).toEqual(['Egress', 'Ingress']);
  // Clients are cut off. Re-protection is automatic: once the old primary is back (the kubelet
  // restarts a killed container) the fence may already be narrowed to let it follow the promoted
  // standby, and then it admits this site's standby and failback pods, nothing else.
  const ingress = fence.spec.ingress ?? [];
  if (ingress.length > 0) {
    const site = await getSite(ns, SITE);
    expect(site.status?.reprotection, 'a narrowed fence while nothing re-protects').toBeDefined();
    expect(ingress).toEqual([{ from: [
      { podSelector: { matchLabels: { 'standby.dev/role': 'standby', 'standby.dev/site': SITE } } },
      { podSelector: { matchLabels: { 'standby.dev/role': 'failback', 'standby.dev/site': SITE } } },
    ] }]);
  }
  const svc = await kubectlJson<{ spec: { selector: Record<string, string> } }>(['-n', ns, 'get', 'service', `${SITE}-active`]);
  expect(svc.spec.selector['standby.dev/role']).toBe('standby');
  expect(svc.spec.selector['statefulset.kubernetes.io/pod-name']).toBe(`${SITE}-standby-0`);
}

describe('hot PostgreSQL failover on a real node', () => {
  test('the primary container is killed: fenced, pg_promote Job, traffic switched, every acknowledged row on the promoted standby', async () => {
    const { ns, writer } = await protectedSite('rp-kill');
    const before = writer.acked.length;
    const result = await failoverAndCheck(ns, writer, async () => {
      // Killed over and over (a crash loop) until the operator starts promoting: one kill
      // alone is a blip the kubelet restarts within the failure threshold.
      await killContainer(ns, `${SITE}-0`, 'postgres');
      await waitFor(async () => {
        const s = await getSite(ns, SITE);
        if (s.status?.promotion?.startedAt) return true;
        await killContainer(ns, `${SITE}-0`, 'postgres').catch(() => undefined);
        return false;
      }, { timeoutMs: 180_000, intervalMs: 1_000, description: 'the operator to start promoting' });
      const p = await pod(ns, `${SITE}-0`);
      expect(p.status.containerStatuses?.[0]?.restartCount ?? 0).toBeGreaterThan(0);
    });
    process.stdout.write(`kill: ${result.writer.acked.length} rows acknowledged (${before} before the failure), ${result.writer.errors.length} client errors during the failover\n`);
    expect(result.missing).toEqual([]);
    expect(result.present.length).toBe(result.writer.acked.length);
    await checkPromoteJob(ns);
    await checkFenceAndTraffic(ns);
  });

  test('the readiness probe starts failing: the same failover, the old primary still running', async () => {
    const { ns, writer } = await protectedSite('rp-ready');
    const result = await failoverAndCheck(ns, writer, async () => {
      await failReadiness(ns, `data-${SITE}-0`);
      await waitFor(async () => (await pod(ns, `${SITE}-0`)).status.conditions?.some((c) => c.type === 'Ready' && c.status === 'False'), { timeoutMs: 30_000, description: 'the primary pod to turn not Ready' });
    });
    process.stdout.write(`readiness: ${result.writer.acked.length} rows acknowledged, ${result.writer.errors.length} client errors during the failover\n`);
    expect(result.missing).toEqual([]);
    const old = await pod(ns, `${SITE}-0`);
    expect(old.status.phase).toBe('Running'); // the server runs on: only the fence keeps it out
    await checkPromoteJob(ns);
    await checkFenceAndTraffic(ns);

    // The fence is enforced (kube-router's firewall): the old primary, still serving, is out
    // of reach of other pods, while the promoted standby is not.
    const reach = await reachableFromPod(ns, [result.oldPrimaryIP, result.promotedIP]);
    expect(reach).toEqual({ [result.oldPrimaryIP]: false, [result.promotedIP]: true });
  });
});

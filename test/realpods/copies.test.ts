// Warm and cold PostgreSQL copies on real pods: the CronJobs' Jobs run for real (the warm sync
// in the operator image, which creates the engine's pg_basebackup Job; the cold dump in the
// postgres image), and a promotion starts the standby on the copy, which holds exactly the
// rows the primary had when the copy was made.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { apply, kubectl, kubectlJson, waitFor } from '../cluster/helpers.ts';
import { startOperator, waitForSite } from '../e2e/support/operator.ts';
import { DUMP_FILES, DUMP_NAME_PATTERN } from '../../src/engines/postgresql/script-dump.ts';
import { claimFolder, clusterIP, createRealNamespace, images, logs, postgresPrimary, query, waitReady, suiteResources } from './support.ts';

const SITE = 'db';
/** A schedule that does not fire during a test: the test starts the CronJob's Job itself. */
const NEVER = '0 0 1 1 *';

const { operators, namespaces } = suiteResources();

function site(tier: 'warm' | 'cold', block: string): string {
  return `
apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: ${SITE}}
spec:
  tier: ${tier}
  primary:
    workload: {kind: StatefulSet, name: ${SITE}}
    service: ${SITE}
  traffic: {service: ${SITE}-active}
  engine:
    type: postgresql
    postgresql:
      replicationSecret: ${SITE}-repl
      superuserSecret: ${SITE}-super
  rpoTarget: 24h
${block}
  promotion: {mode: manual, stepTimeout: 5m}
`;
}

const FINGERPRINT = "SELECT count(*)::int AS rows, md5(string_agg(n::text || ':' || payload, ',' ORDER BY n)) AS digest FROM rows";

/** A primary with 1,000 rows; returns its address and the rows' fingerprint. */
async function primaryWithRows(prefix: string): Promise<{ ns: string; ip: string; fingerprint: { rows: number; digest: string } }> {
  const ns = await createRealNamespace(prefix);
  namespaces.push(ns);
  await apply(postgresPrimary(SITE), ns);
  const ip = (await waitReady(ns, `${SITE}-0`)).status.podIP!;
  await query(ip, 'CREATE TABLE rows (n integer PRIMARY KEY, payload text NOT NULL)');
  await query(ip, "INSERT INTO rows SELECT n, md5(n::text) FROM generate_series(1, 1000) AS n");
  const [fingerprint] = await query<{ rows: number; digest: string }>(ip, FINGERPRINT);
  operators.push(await startOperator({ namespaces: [ns], env: { OPERATOR_IMAGE: images().operator }, name: `realpods-${prefix}` }));
  return { ns, ip, fingerprint: fingerprint! };
}

/** Starts a Job from the site's CronJob (as its schedule would) and waits for it to succeed. */
async function runCronJob(ns: string, cronJob: string, job: string): Promise<void> {
  await waitFor(() => kubectl(['-n', ns, 'get', 'cronjob', cronJob]).then(() => true), { timeoutMs: 60_000, description: `CronJob ${cronJob}` });
  await kubectl(['-n', ns, 'create', 'job', job, `--from=cronjob/${cronJob}`]);
  await waitFor(async () => {
    const j = await kubectlJson<{ status: { succeeded?: number; failed?: number } }>(['-n', ns, 'get', 'job', job]);
    if ((j.status.failed ?? 0) > 0) {
      const pods = await kubectlJson<{ items: { metadata: { name: string }; spec: { containers: { name: string }[] } }[] }>(['-n', ns, 'get', 'pods', '-l', `job-name=${job}`]);
      const p = pods.items[0];
      throw new Error(`Job ${job} failed: ${p ? await logs(ns, p.metadata.name, p.spec.containers[0]!.name).catch((e: unknown) => String(e)) : 'no pod'}`);
    }
    return (j.status.succeeded ?? 0) >= 1;
  }, { timeoutMs: 300_000, intervalMs: 1_000, description: `Job ${job} to succeed` });
}

/** Pods of a Job, with the node they ran on. */
async function jobPods(ns: string, selector: string): Promise<{ name: string; job: string; node?: string; container: string }[]> {
  const pods = await kubectlJson<{ items: { metadata: { name: string; labels?: Record<string, string> }; spec: { nodeName?: string; containers: { name: string }[] } }[] }>(['-n', ns, 'get', 'pods', '-l', selector]);
  return pods.items.map((p) => ({ name: p.metadata.name, job: p.metadata.labels?.['job-name'] ?? '', node: p.spec.nodeName, container: p.spec.containers[0]!.name }));
}

async function promote(ns: string, token: string): Promise<void> {
  await kubectl(['-n', ns, 'annotate', 'standbysite', SITE, `standby.dev/promote=${token}`]);
  const s = await waitForSite(ns, SITE, (x) => x.status?.promotion?.state === 'Promoted' || x.status?.promotion?.state === 'Failed', 'the promotion to finish', 420_000);
  expect(s.status?.promotion?.state, JSON.stringify(s.status?.promotion)).toBe('Promoted');
}

/** The fingerprint of the rows, read through the traffic Service once it answers. */
async function fingerprintThroughTraffic(ns: string): Promise<{ rows: number; digest: string }> {
  const ip = await clusterIP(ns, `${SITE}-active`);
  return waitFor(async () => (await query<{ rows: number; digest: string }>(ip, FINGERPRINT))[0], { timeoutMs: 180_000, intervalMs: 2_000, description: 'the promoted standby to answer through the traffic Service' });
}

describe('warm and cold PostgreSQL copies on a real node', () => {
  test('warm tier: the sync Job runs the operator image, its pg_basebackup Job copies the primary, and the promoted copy has its rows', async () => {
    const { ns, ip, fingerprint } = await primaryWithRows('rp-warm');
    await apply(site('warm', `  warm: {schedule: "${NEVER}", method: engine}`), ns);

    await runCronJob(ns, `${SITE}-sync`, 'sync-now');
    const [syncPod] = await jobPods(ns, 'job-name=sync-now');
    expect(syncPod?.node).toBe('real-node-0');
    // The engine's copy Job, which the sync subcommand (in the operator image) created.
    const copies = (await jobPods(ns, 'standby.dev/role=transfer')).filter((p) => p.job.startsWith(`${SITE}-copy-`));
    expect(copies.length).toBeGreaterThan(0);
    expect(copies.every((c) => c.node === 'real-node-0')).toBe(true);
    expect(await logs(ns, copies[0]!.name, copies[0]!.container)).toMatch(/base backup complete and verified/);
    expect(await logs(ns, syncPod!.name, syncPod!.container)).toMatch(/"msg":"[^"]*"/); // the operator's own log lines, from the pod

    // Written after the copy: a warm standby does not have it.
    await query(ip, "INSERT INTO rows VALUES (1000001, 'after the sync')");
    await waitForSite(ns, SITE, (s) => s.status?.phase === 'Protected', 'site Protected with a copy', 120_000);
    await promote(ns, 'warm-drill-1');
    expect(await fingerprintThroughTraffic(ns)).toEqual(fingerprint);
  });

  test('cold tier: the dump Job writes a checksummed dump, the restore Job restores it, and the promoted standby has the rows', async () => {
    const { ns, fingerprint } = await primaryWithRows('rp-cold');
    await apply(site('cold', `  cold: {schedule: "${NEVER}", method: engine, retention: {keepLast: 3}}`), ns);

    await runCronJob(ns, `${SITE}-snapshot`, 'dump-now');
    const [dumpPod] = await jobPods(ns, 'job-name=dump-now');
    expect(dumpPod?.node).toBe('real-node-0');

    // The dump on its volume, each file as SHA256SUMS says (checked here on the host).
    const folder = await claimFolder(ns, `${SITE}-dumps`);
    const dumps = readdirSync(folder).filter((d) => new RegExp(DUMP_NAME_PATTERN).test(d));
    expect(dumps).toHaveLength(1);
    const dir = join(folder, dumps[0]!);
    const sums = readFileSync(join(dir, DUMP_FILES.sums), 'utf8').trim().split('\n');
    expect(sums.length).toBeGreaterThanOrEqual(6);
    for (const line of sums) {
      const [sum, file] = line.split(/\s+/);
      expect(createHash('sha256').update(readFileSync(join(dir, file!))).digest('hex'), file).toBe(sum);
    }

    await waitForSite(ns, SITE, (s) => s.status?.phase === 'Protected', 'site Protected with a dump', 120_000);
    await promote(ns, 'cold-drill-1');
    const restores = await jobPods(ns, 'standby.dev/role=restore');
    expect(restores.length).toBeGreaterThan(0);
    expect(await logs(ns, restores[0]!.name, restores[0]!.container)).toMatch(/restore of \d{8}T\d{6}Z complete/);
    expect(await fingerprintThroughTraffic(ns)).toEqual(fingerprint);
  });
});

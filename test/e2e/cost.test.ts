// The cost of protection (status.cost, issue #20) against the real control plane: one workload
// (a StatefulSet whose pod requests 250m / 256Mi, one 1Gi volume) protected hot, warm and cold;
// what each reserves and holds, the what-if, the metrics and `kubectl standby status`.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { apply, createNamespace, deleteNamespace, kubectl, kubectlJson, waitFor } from '../cluster/helpers.ts';
import type { SiteCost } from '../../src/api/status.ts';
import { condition, getSite, installCrd, runCopy, startOperator, statefulPrimary, waitForSite, type OperatorProcess, type SiteObject } from './support/operator.ts';
import { plugin } from './support/plugin.ts';

const Mi = 2 ** 20;
const Gi = 2 ** 30;

let op: OperatorProcess;
const ns: Record<'hot' | 'warm' | 'cold', string> = { hot: '', warm: '', cold: '' };
/** The costs measured, printed at the end (the README's worked example comes from them). */
const measured: Record<string, SiteCost | undefined> = {};

beforeAll(async () => {
  await installCrd();
  for (const k of Object.keys(ns) as (keyof typeof ns)[]) ns[k] = await createNamespace(`cost-${k}`);
  op = await startOperator({ namespaces: Object.values(ns), name: 'cost' });
});

afterAll(async () => {
  console.log(`cost e2e figures: ${JSON.stringify(measured, null, 2)}`);
  const code = await op.stop();
  expect(code, `operator exit code (log: ${op.logFile})`).toBe(0);
  for (const n of Object.values(ns)) await deleteNamespace(n);
});

/** The workload: a StatefulSet whose one container requests 250m CPU and 256Mi, on a 1Gi volume. */
const primary = (name: string) => statefulPrimary(name, { resources: '{requests: {cpu: 250m, memory: 256Mi}, limits: {memory: 512Mi}}' });

const site = (name: string, tier: string, extra: string) => `apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: ${name}}
spec:
  tier: ${tier}
  primary: {workload: {kind: StatefulSet, name: ${name}}, service: ${name}}
${extra}`;

const protectedSite = (s: SiteObject) => s.status?.phase === 'Protected' && condition(s, 'Ready')?.status === 'True' && s.status.observedGeneration === s.metadata.generation;

/** One site's value of a metric on the operator's /metrics, or undefined when it has no series. */
async function metric(name: string, namespace: string, site: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${op.healthPort}/metrics`)).text();
  for (const line of text.split('\n')) {
    const [key, value] = line.split(' ');
    if (key?.startsWith(`${name}{`) && key.includes(`namespace="${namespace}"`) && key.includes(`site="${site}"`)) return Number(value);
  }
  return undefined;
}

/** The site's three cost metrics once they equal its status.cost (a scrape reads the cached site). */
async function costMetrics(namespace: string, name: string, cost: SiteCost) {
  return waitFor(
    async () => {
      const m = {
        cpu: await metric('standby_site_reserved_cpu_cores', namespace, name),
        memory: await metric('standby_site_reserved_memory_bytes', namespace, name),
        storage: await metric('standby_site_copy_storage_bytes', namespace, name),
      };
      return m.cpu === cost.cpu && m.memory === cost.memory && m.storage === cost.storage ? m : undefined;
    },
    { timeoutMs: 30_000, description: `the cost metrics of ${namespace}/${name} to show its status.cost` },
  );
}

/**
 * `kubectl get standbysite NAME -o wide`, as the column values by header: kubectl aligns the
 * columns, so each value starts where its header does (a value may be empty or hold spaces).
 */
async function wideColumns(namespace: string, name: string): Promise<Record<string, string>> {
  const [header = '', row = ''] = (await kubectl(['-n', namespace, 'get', 'standbysite', name, '-o', 'wide'])).split('\n');
  const starts = [...header.matchAll(/\S+(?: \S+)*/g)].map((m) => ({ name: m[0], at: m.index }));
  return Object.fromEntries(starts.map((c, i) => [c.name, row.slice(c.at, starts[i + 1]?.at ?? row.length).trim()]));
}

describe('cost of protection', () => {
  test('hot, 2 standby replicas of 250m / 256Mi: 0.5 cores and 512Mi reserved, their two 1Gi volumes held; metrics and kubectl standby status show it', async () => {
    const n = ns.hot;
    await apply(primary('db'), n);
    await apply(site('db', 'hot', '  hot: {replicas: 2, maxLag: 10s}\n'), n);
    await waitForSite(n, 'db', protectedSite, 'hot site Protected', 120_000);
    const s = await waitForSite(n, 'db', (x) => x.status?.cost?.storage === 2 * Gi, "hot site's cost with both standby volumes", 60_000);
    const cost = s.status!.cost!;
    measured.hot = cost;
    expect(cost).toMatchObject({ cpu: 0.5, memory: 512 * Mi, storage: 2 * Gi });
    // The what-if: the same workload on each tier, from the primary's template and its 1Gi claim.
    expect(cost.whatIf).toEqual({
      cold: { cpu: 0, memory: 0, storage: 7 * Gi },
      // One copy and the snapshots of its last two syncs (method volumeSnapshot).
      warm: { cpu: 0, memory: 0, storage: 3 * Gi },
      hot: { cpu: 0.5, memory: 512 * Mi, storage: 2 * Gi },
    });
    // The claims the figure counts are the standby's own.
    const claims = await kubectlJson<{ items: { metadata: { name: string } }[] }>(['-n', n, 'get', 'pvc']);
    expect(claims.items.map((c) => c.metadata.name).sort()).toEqual(['data-db-0', 'data-db-standby-0', 'data-db-standby-1']);

    expect(await costMetrics(n, 'db', cost)).toEqual({ cpu: 0.5, memory: 512 * Mi, storage: 2 * Gi });

    // `kubectl get standbysites -o wide` prints status.cost's numbers (the default view does not).
    const wide = await wideColumns(n, 'db');
    expect(wide).toMatchObject({ NAME: 'db', TIER: 'hot', 'RESERVED CPU': '0.5', 'RESERVED MEMORY': String(512 * Mi), 'COPY STORAGE': String(2 * Gi) });
    expect(await kubectl(['-n', n, 'get', 'standbysite', 'db'])).not.toContain('RESERVED CPU');

    const text = await plugin(['status', 'db', '-n', n]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('Cost:           cpu 0.5, memory 512Mi, storage 2Gi');
    expect(text.stdout).toContain('\n  as cold: cpu 0, memory 0, storage 7Gi\n  as warm: cpu 0, memory 0, storage 3Gi\n  as hot:  cpu 0.5, memory 512Mi, storage 2Gi (this tier)\n');
    const json = await plugin(['status', 'db', '-n', n, '-o', 'json']);
    expect(json.code, json.stderr).toBe(0);
    expect((JSON.parse(json.stdout) as { cost: SiteCost }).cost).toEqual(cost);
  });

  test('an idle hot site whose cost is written makes no more status writes', async () => {
    const n = ns.hot;
    const before = await getSite(n, 'db');
    const rv = (before as { metadata: { resourceVersion?: string } }).metadata.resourceVersion;
    // Longer than the operator's periodic look (the 10 s lag probe of a hot site) and a resync.
    await new Promise((r) => setTimeout(r, 25_000));
    const after = await getSite(n, 'db');
    expect((after as { metadata: { resourceVersion?: string } }).metadata.resourceVersion).toBe(rv);
  });

  test("warm: a standby at 0 replicas reserves nothing; its copy of the 1Gi volume and the sync's snapshot are the storage", async () => {
    const n = ns.warm;
    await apply(primary('db'), n);
    await apply(site('db', 'warm', '  rpoTarget: 1h\n  warm: {schedule: "*/15 * * * *"}\n'), n);
    await waitForSite(n, 'db', (x) => x.status?.phase === 'Pending', 'warm site Pending before its first sync');
    // Before the first copy: nothing runs and nothing is held, but the what-if is known.
    const empty = (await getSite(n, 'db')).status?.cost;
    expect(empty).toMatchObject({ cpu: 0, memory: 0, storage: 0 });
    const sync = await runCopy('sync', n, 'db');
    expect(sync.code, sync.stderr).toBe(0);
    // The copy (a 1Gi claim) and the snapshot it was cloned from, kept for the next sync (1Gi restore size).
    const s = await waitForSite(n, 'db', (x) => protectedSite(x) && x.status?.cost?.storage === 2 * Gi, 'warm site Protected, its copy and snapshot counted');
    const cost = s.status!.cost!;
    measured.warm = cost;
    expect(cost).toMatchObject({ cpu: 0, memory: 0, storage: 2 * Gi });
    const claims = await kubectlJson<{ items: { metadata: { name: string; labels?: Record<string, string> } }[] }>(['-n', n, 'get', 'pvc']);
    expect(claims.items.filter((c) => c.metadata.labels?.['standby.dev/role'] === 'copy')).toHaveLength(1);
    const snaps = await kubectlJson<{ items: { metadata: { labels?: Record<string, string> }; status?: { restoreSize?: string } }[] }>(['-n', n, 'get', 'volumesnapshots']);
    expect(snaps.items.map((x) => x.metadata.labels?.['standby.dev/role'])).toEqual(['transfer']);
    // spec.hot is not set: a hot standby would run one replica.
    expect(cost.whatIf).toEqual({
      cold: { cpu: 0, memory: 0, storage: 7 * Gi },
      warm: { cpu: 0, memory: 0, storage: 3 * Gi },
      hot: { cpu: 0.25, memory: 256 * Mi, storage: Gi },
    });
    const standby = await kubectlJson<{ spec: { replicas: number } }>(['-n', n, 'get', 'statefulset', 'db-standby']);
    expect(standby.spec.replicas).toBe(0);
    expect(await costMetrics(n, 'db', cost)).toEqual({ cpu: 0, memory: 0, storage: 2 * Gi });
    expect(await wideColumns(n, 'db')).toMatchObject({ TIER: 'warm', 'RESERVED CPU': '0', 'RESERVED MEMORY': '0', 'COPY STORAGE': String(2 * Gi) });

    // A second sync: the standby moves to the new copy, the old one goes, two sync snapshots stay:
    // what the what-if said warm holds.
    await new Promise((r) => setTimeout(r, 1100));
    const second = await runCopy('sync', n, 'db');
    expect(second.code, second.stderr).toBe(0);
    const steady = await waitForSite(n, 'db', (x) => x.status?.cost?.storage === 3 * Gi, 'warm site holding one copy and two sync snapshots');
    measured.warmSteady = steady.status?.cost;
    expect(steady.status?.cost?.storage).toBe(cost.whatIf?.warm.storage);
  });

  test("cold: no standby runs; its snapshots' restore sizes are the storage", async () => {
    const n = ns.cold;
    await apply(primary('db'), n);
    await apply(site('db', 'cold', '  cold: {schedule: "0 2 * * *", retention: {keepLast: 2}}\n'), n);
    await waitForSite(n, 'db', (x) => x.status?.phase === 'Pending', 'cold site Pending before its first snapshot');
    for (let i = 0; i < 2; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 1100));
      const r = await runCopy('snapshot', n, 'db');
      expect(r.code, r.stderr).toBe(0);
    }
    const snaps = await kubectlJson<{ items: { status?: { restoreSize?: string } }[] }>(['-n', n, 'get', 'volumesnapshots']);
    expect(snaps.items).toHaveLength(2);
    expect(snaps.items.every((x) => x.status?.restoreSize !== undefined)).toBe(true);
    const s = await waitForSite(n, 'db', (x) => protectedSite(x) && x.status?.cost?.storage === 2 * Gi, 'cold site Protected, its 2 snapshots counted');
    const cost = s.status!.cost!;
    measured.cold = cost;
    expect(cost).toMatchObject({ cpu: 0, memory: 0, storage: 2 * Gi });
    expect(cost.whatIf?.cold).toEqual({ cpu: 0, memory: 0, storage: 2 * Gi });
    expect(await costMetrics(n, 'db', cost)).toEqual({ cpu: 0, memory: 0, storage: 2 * Gi });
  });
});

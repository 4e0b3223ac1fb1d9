// A real Prometheus server (Debian's prometheus) scrapes the running operator with the chart's
// alert rules loaded: every query of the Grafana dashboard returns series, every rule evaluates
// without error, and a fenced primary that comes back fires its alert for real.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { freePort, repoRoot } from '../cluster/common.ts';
import { apply, createNamespace, deleteNamespace, kubectl, waitFor } from '../cluster/helpers.ts';
import { requireTool } from '../tools/support/tools.ts';
import { condition, getSite, installCrd, runCopy, startOperator, statefulPrimary, waitForSite, type OperatorProcess } from './support/operator.ts';

const CHART = join(repoRoot, 'charts/standby-operator');
let op: OperatorProcess;
let prometheus: ChildProcess | undefined;
let promUrl = '';
let dir = '';
let ns = '';

interface Panel { title: string; type: string; targets?: { expr: string }[] }
interface QueryResult { status: string; error?: string; data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] } }

async function query(expr: string): Promise<QueryResult> {
  const res = await fetch(`${promUrl}/api/v1/query?${new URLSearchParams({ query: expr }).toString()}`);
  return (await res.json()) as QueryResult;
}

/** A dashboard query as Grafana would send it: its variables replaced ($namespace and $site: All). */
function asGrafanaSends(expr: string): string {
  return expr.replaceAll('$__rate_interval', '30s').replaceAll('$__range', '10m').replaceAll('$namespace', '.*').replaceAll('$site', '.*');
}

const site = (name: string, tier: string, extra: string, promotion = 'mode: manual') => `apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: ${name}}
spec:
  tier: ${tier}
  primary: {workload: {kind: StatefulSet, name: ${name}}, service: ${name}}
  promotion: {${promotion}}
${extra}`;

beforeAll(async () => {
  const bin = requireTool('prometheus', 'prometheus');
  await installCrd();
  ns = await createNamespace('prom');
  op = await startOperator({ namespaces: [ns], name: 'prometheus' });
  dir = await mkdtemp(join(tmpdir(), 'standby-prometheus-'));
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  await writeFile(join(dir, 'rules.yaml'), await readFile(join(CHART, 'files/prometheus-rules.yaml')));
  // As the chart's ServiceMonitor has the Prometheus Operator scrape it: the target carries the
  // operator's own namespace and pod, and honor_labels keeps the sites' namespace label.
  await writeFile(
    join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [join(dir, 'rules.yaml')],
      scrape_configs: [
        {
          job_name: 'standby-operator',
          honor_labels: true,
          static_configs: [{ targets: [`127.0.0.1:${op.healthPort}`], labels: { namespace: 'standby-system', pod: 'standby-operator-0' } }],
        },
      ],
    }),
  );
  const log = createWriteStream(join(repoRoot, '.cluster', 'e2e-logs', `prometheus-${Date.now()}.log`));
  prometheus = spawn(bin, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  prometheus.stdout?.pipe(log);
  prometheus.stderr?.pipe(log);
  await waitFor(
    async () => {
      const t = (await (await fetch(`${promUrl}/api/v1/targets`)).json()) as { data: { activeTargets: { health: string }[] } };
      return t.data.activeTargets[0]?.health === 'up';
    },
    { timeoutMs: 60_000, description: 'Prometheus scraping the operator' },
  );

  // Sites for every panel: a warm site with a copy (data age), a hot one promoted (promotions,
  // their duration, the promotion state) whose generic engine leaves RPOMet Unknown.
  await apply(statefulPrimary('files'), ns);
  await apply(site('files', 'warm', '  warm: {schedule: "*/15 * * * *"}\n'), ns);
  await waitForSite(ns, 'files', (s) => s.status?.phase === 'Pending', 'warm site reconciled');
  expect((await runCopy('sync', ns, 'files')).code).toBe(0);
  await apply(statefulPrimary('db'), ns);
  await apply(site('db', 'hot', '', 'mode: manual, fencing: scaleDown'), ns);
  await waitForSite(ns, 'db', (s) => s.status?.phase === 'Protected', 'hot site Protected');
  await waitForSite(ns, 'files', (s) => s.status?.phase === 'Protected', 'warm site Protected');
  await kubectl(['-n', ns, 'annotate', 'standbysite', 'db', 'standby.dev/promote=prometheus-e2e']);
  await waitForSite(ns, 'db', (s) => s.status?.promotion?.state === 'Promoted' && condition(s, 'FencingHolds')?.status === 'True', 'promoted and fenced', 30_000);
});

afterAll(async () => {
  if (prometheus && prometheus.exitCode === null) {
    const exited = new Promise((r) => prometheus!.once('exit', r));
    prometheus.kill('SIGTERM');
    await exited;
  }
  expect(await op.stop(), `operator exit code (log: ${op.logFile})`).toBe(0);
  await deleteNamespace(ns);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('Prometheus scraping the operator', () => {
  test('every query of the Grafana dashboard returns series', async () => {
    const dashboard = JSON.parse(await readFile(join(CHART, 'files/grafana-dashboard.json'), 'utf8')) as { panels: Panel[] };
    const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: asGrafanaSends(t.expr) })));
    expect(queries.length).toBeGreaterThan(15);
    // The hot site's generic engine measures no lag: its lag panel has nothing to show here.
    const db = await getSite(ns, 'db');
    expect(db.status?.standby?.lagSeconds).toBeUndefined();
    const noLagHere = new Set(['Replication lag (hot)']);
    const empty: string[] = [];
    await waitFor(
      async () => {
        empty.length = 0;
        for (const q of queries) {
          const r = await query(q.expr);
          expect(r.status, `${q.panel}: ${q.expr}: ${r.error ?? ''}`).toBe('success');
          if (r.data.result.length === 0 && !noLagHere.has(q.panel)) empty.push(`${q.panel}: ${q.expr}`);
        }
        return empty.length === 0;
      },
      { timeoutMs: 60_000, intervalMs: 2000, description: 'series for every dashboard query' },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; no series for: ${empty.join(' | ')}`);
    });
    // The sites' own namespace label survived the scrape next to the target's.
    const age = await query(`standby_site_data_age_seconds{site="files"}`);
    expect(age.data.result[0]?.metric).toMatchObject({ namespace: ns, site: 'files', tier: 'warm', job: 'standby-operator', pod: 'standby-operator-0' });
    expect(Number(age.data.result[0]?.value[1])).toBeGreaterThanOrEqual(0);
    const promotions = await query(asGrafanaSends('sum by (tier, result, trigger) (increase(standby_promotions_total[$__range]))'));
    expect(promotions.data.result.find((r) => r.metric.tier === 'hot' && r.metric.result === 'Promoted' && r.metric.trigger === 'manual')?.value[1]).not.toBe('0');
  });

  test("the dashboard's variables find the sites", async () => {
    const res = (await (await fetch(`${promUrl}/api/v1/label/namespace/values?${new URLSearchParams({ 'match[]': 'standby_site_rpo_target_seconds' }).toString()}`)).json()) as { data: string[] };
    expect(res.data).toContain(ns);
    const sites = (await (await fetch(`${promUrl}/api/v1/label/site/values?${new URLSearchParams({ 'match[]': `standby_site_rpo_target_seconds{namespace="${ns}"}` }).toString()}`)).json()) as { data: string[] };
    expect(sites.data.sort()).toEqual(['db', 'files']);
  });

  test('every alert rule evaluates against the real series without error', async () => {
    const rules = await waitFor(
      async () => {
        const r = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string; health: string; lastError?: string; lastEvaluation: string }[] }[] } };
        const all = r.data.groups.flatMap((g) => g.rules);
        return all.length > 0 && all.every((x) => !x.lastEvaluation.startsWith('0001')) ? all : undefined;
      },
      { timeoutMs: 30_000, description: 'every rule evaluated once' },
    );
    expect(rules.map((r) => r.name).sort()).toHaveLength(8);
    for (const r of rules) expect(r.health, `${r.name}: ${r.lastError ?? ''}`).toBe('ok');
  });

  test('a fenced primary brought back fires StandbyFencedPrimaryReturned for its site', async () => {
    await kubectl(['-n', ns, 'scale', 'statefulset', 'db', '--replicas=1']);
    await waitForSite(ns, 'db', (s) => condition(s, 'FencingHolds')?.status === 'False', 'the returned primary reported', 30_000);
    const alert = await waitFor(
      async () => {
        const r = (await (await fetch(`${promUrl}/api/v1/alerts`)).json()) as { data: { alerts: { labels: Record<string, string>; state: string; annotations: Record<string, string> }[] } };
        return r.data.alerts.find((a) => a.labels.alertname === 'StandbyFencedPrimaryReturned' && a.state === 'firing');
      },
      { timeoutMs: 30_000, description: 'StandbyFencedPrimaryReturned firing' },
    );
    expect(alert.labels).toEqual({ alertname: 'StandbyFencedPrimaryReturned', severity: 'critical', namespace: ns, site: 'db', tier: 'hot' });
    expect(alert.annotations.summary).toBe(`StandbySite ${ns}/db: the fenced old primary is back`);
  });
});

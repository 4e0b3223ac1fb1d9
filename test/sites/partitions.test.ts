// Automatic site failover under partitions (issue #16), in the manner of Jepsen: the primary's
// site (the guard renews the witness's lease, fences itself when it cannot), the standby's site
// (takes the lease over, then promotes) and the witness, each its own network namespace; one
// client process writes numbered rows to both sites' real PostgreSQL servers through gates that
// enforce what the operators decided (partitions/enforcer.ts); randomized faults from one seed
// (partitions/schedule.ts). Every trial: no two sites accepted writes at once (the checker), and
// the takeover happened when the primary was lost, and never while the standby still saw it.
//
// PARTITION_TRIALS (default 5, one per chosen kind) and PARTITION_SEED pick the trials;
// `npm run test:partitions` runs 50 and writes bench/results-partitions.json.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { repoRoot, run } from '../cluster/common.ts';
import { waitFor } from '../cluster/helpers.ts';
import { useSites } from '../cluster/site-helpers.ts';
import { heal, isolate, partition, readSites, site, startSite, stopSite, type SiteRecord } from '../cluster/sites.ts';
import { PgHarness, SUPERUSER, type PgServer } from '../postgres/harness.ts';
import { checkWriters, type WriterCheck } from './checker.ts';
import { clientFor, enforce, primaryGate, standbyGate } from './partitions/enforcer.ts';
import { trials, type Action, type Kind, type Trial } from './partitions/schedule.ts';
import { startWriters, WRITES_TABLE, type Target } from './partitions/writers.ts';
import {
  apply,
  installCrd,
  kubectl,
  kubectlJson,
  operatorIdentity,
  remoteAccess,
  startKeeperIn,
  startOperatorIn,
  statefulPrimary,
  waitForSite,
  type Identity,
  type SiteOperator,
} from './support.ts';
import { automaticSiteYaml, SHORT_WITNESS_TIMING } from '../cluster/site-manifest.ts';

const dir = inject('sitesDir');
const SEED = Number(process.env.PARTITION_SEED ?? 2026);
const COUNT = Number(process.env.PARTITION_TRIALS ?? 5);
const RESULTS = process.env.PARTITION_RESULTS;
const run36 = Date.now().toString(36);

// The short timing of the trials: a lost site is taken over after about 11 s.
const TIMING = SHORT_WITNESS_TIMING;
const MS = { leaseDuration: 6_000, safetyMargin: 1_500, acquireAfter: 5_000, failureThreshold: 2_000 };

// In the short run, one trial of each kind that decides most: a takeover required, forbidden, and the windows.
const SHORT: Kind[] = ['site loss', 'primary isolated', 'primary|witness', 'witness isolated', 'cut and heal in the windows'];
const all = trials(SEED, COUNT <= 5 ? 50 : COUNT, MS);
// PARTITION_ONLY=39,49 runs those trials of the list, with the operators still watching every trial's namespace.
const only = process.env.PARTITION_ONLY?.split(',').map(Number);
const listed: Trial[] = COUNT <= 5 ? SHORT.slice(0, COUNT).map((k) => all.find((t) => t.kind === k)!) : all;
const chosen: Trial[] = only ? listed.filter((t) => only.includes(t.index)) : listed;
const nsOf = (t: Trial) => `pt${t.index}-${run36}`;

let primary: SiteRecord;
let standby: SiteRecord;
let witness: SiteRecord;
let idPrimary: Identity;
let idStandby: Identity;
let opPrimary: SiteOperator | undefined;
let opStandby: SiteOperator | undefined;
/** The primary site's fence keeper (the chart's fenceKeeper): a process of its own, never killed with the operator. */
let keeperPrimary: SiteOperator | undefined;
const pgs: PgHarness[] = [];
const servers = new Map<string, PgServer>();
const results: Record<string, unknown>[] = [];

async function startOperators(which: ('primary' | 'standby')[]): Promise<void> {
  const namespaces = listed.map(nsOf);
  if (which.includes('primary')) opPrimary = await startOperatorIn(primary, idPrimary, namespaces);
  if (which.includes('standby')) opStandby = await startOperatorIn(standby, idStandby, namespaces);
}

async function startKeeper(): Promise<void> {
  keeperPrimary = await startKeeperIn(primary, idPrimary, listed.map(nsOf));
}

async function startPostgres(s: SiteRecord): Promise<void> {
  const h = await PgHarness.create({ netns: s.netns });
  pgs.push(h);
  const server = await h.primary({ host: s.address });
  await server.query(`CREATE TABLE ${WRITES_TABLE} (id bigint PRIMARY KEY, trial int NOT NULL, site text NOT NULL)`);
  servers.set(s.name, server);
}

beforeAll(async () => {
  const state = await useSites();
  primary = site(state, 'primary');
  standby = site(state, 'standby');
  witness = site(state, 'witness');
  for (const s of [primary, standby]) await installCrd(s);
  idPrimary = await operatorIdentity(primary);
  idStandby = await operatorIdentity(standby);
  const namespaces = listed.map(nsOf);
  const access = await remoteAccess(primary, namespaces);
  // The witness: its API server, with a kubeconfig each site keeps in a Secret (here the same one).
  const witnessKubeconfig = readFileSync(witness.kubeconfig, 'utf8');
  await kubectl(witness, ['create', 'namespace', 'standby-witness']).catch(() => '');
  for (const ns of namespaces) {
    await kubectl(standby, ['create', 'namespace', ns]);
    for (const s of [primary, standby]) {
      await apply(s, JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'witness' }, stringData: { kubeconfig: witnessKubeconfig } }), ns);
    }
    await apply(standby, JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'primary-cluster' }, stringData: { kubeconfig: access.kubeconfig } }), ns);
    await apply(primary, statefulPrimary('orders'), ns);
  }
  await startPostgres(primary);
  await startPostgres(standby);
  await startOperators(['primary', 'standby']);
  await startKeeper();
}, 600_000);

afterAll(async () => {
  if (RESULTS && results.length) {
    const commit = (await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot })).stdout.trim();
    writeFileSync(join(repoRoot, RESULTS), `${JSON.stringify({ date: new Date().toISOString(), commit, seed: SEED, trials: results.length, timing: TIMING, results }, null, 2)}\n`);
  }
  await opPrimary?.stop();
  await keeperPrimary?.stop();
  await opStandby?.stop();
  for (const h of pgs) await h.cleanup();
  await heal(dir);
  const s = (await readSites(dir))!;
  for (const n of ['primary', 'standby']) if (site(s, n).stoppedAt !== undefined) await startSite(dir, n);
  for (const ns of listed.map(nsOf)) for (const x of [primary, standby]) await kubectl(x, ['delete', 'namespace', ns, '--wait=false']).catch(() => '');
});

const SITE = automaticSiteYaml({ timing: TIMING, witnessNamespace: 'standby-witness', onePromotion: true });

interface GuardView {
  status?: { conditions?: { type: string; status: string }[]; lease?: { holder: string; epoch: number } };
}

async function act(a: Action): Promise<void> {
  switch (a.do) {
    case 'cut':
      await partition(dir, a.a, a.b);
      return;
    case 'oneWay':
      await partition(dir, a.from, a.to, { oneWay: true });
      return;
    case 'isolate':
      await isolate(dir, a.site);
      return;
    case 'heal':
      await heal(dir);
      return;
    case 'stopSite':
      await stopSite(dir, a.site);
      return;
    case 'killOperator': {
      // A crash, and the restart a Deployment would make. Only the operator: the fence keeper is
      // another Deployment and runs on.
      const op = a.side === 'primary' ? opPrimary : opStandby;
      await op?.kill();
      await startOperators([a.side]);
      return;
    }
  }
}

async function runTrial(t: Trial): Promise<{ check: WriterCheck; tookOver: boolean; primaryClosed: boolean }> {
  const ns = nsOf(t);
  await apply(standby, SITE, ns);
  await waitForSite(standby, ns, 'orders', (x) => x.status?.phase === 'Protected', `trial ${t.index}: Protected`, 120_000);
  await waitFor(
    async () => {
      const g = await kubectlJson<GuardView>(primary, ['-n', ns, 'get', 'standbysiteguard', 'orders']).catch(() => undefined);
      return g?.status?.conditions?.some((c) => c.type === 'LeaseHeld' && c.status === 'True') === true;
    },
    { timeoutMs: 60_000, description: `trial ${t.index}: the guard holds the lease` },
  );
  const enforcer = await enforce([
    primaryGate(primary, await clientFor(primary), ns, 'orders', servers.get('primary')!.port),
    standbyGate(standby, await clientFor(standby), ns, 'orders', servers.get('standby')!.port),
  ]);
  const target = (s: SiteRecord): Target => ({ site: s.name, host: s.address, port: servers.get(s.name)!.port, user: SUPERUSER.username, password: SUPERUSER.password });
  const writers = startWriters([target(primary), target(standby)], t.index);
  await waitFor(() => Promise.resolve(enforcer.changes.some((c) => c.site === 'primary' && c.open)), { timeoutMs: 10_000, description: 'the primary gate open' });
  const t0 = performance.now();
  for (const step of t.steps) {
    const wait = t0 + step.at - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await act(step.action);
  }
  const rest = t0 + t.duration - performance.now();
  if (rest > 0) await new Promise((r) => setTimeout(r, rest));
  const history = await writers.stop();
  await enforcer.stop();
  await heal(dir);
  const after = (await readSites(dir))!;
  // A lost standby site's API server back first (its etcd kept): its site's status says whether it promoted.
  if (site(after, 'standby').stoppedAt !== undefined) await startSite(dir, 'standby');
  const s = await kubectlJson<{ status?: { phase?: string; promotion?: { trigger?: string } } }>(standby, ['-n', ns, 'get', 'standbysite', 'orders']);
  const tookOver = s.status?.promotion !== undefined;
  const primaryClosed = enforcer.changes.some((c) => c.site === 'primary' && !c.open);
  if (site(after, 'primary').stoppedAt !== undefined) {
    await startSite(dir, 'primary');
    await startPostgres(primary);
    await startOperators(['primary']);
    await startKeeper();
  }
  if (site(after, 'standby').stoppedAt !== undefined) {
    await startPostgres(standby);
    await startOperators(['standby']);
  }
  // Out of the next trials' way: their faults would otherwise act on this pair too.
  await kubectl(standby, ['-n', ns, 'delete', 'standbysite', 'orders', '--wait=false']).catch(() => '');
  return { check: checkWriters(history, tookOver ? 1 : 0), tookOver, primaryClosed };
}

describe(`automatic site failover under ${chosen.length} randomized partitions (seed ${SEED})`, () => {
  for (const t of chosen) {
    it(`trial ${t.index}: ${t.kind} — never two writers; takeover ${t.takeover}`, async () => {
      const r = await runTrial(t);
      results.push({ index: t.index, kind: t.kind, steps: t.steps, takeover: t.takeover, tookOver: r.tookOver, primaryFenced: r.primaryClosed, writes: r.check.writes, needed: r.check.needed, recorded: r.check.recorded, overlapping: r.check.overlapping });
      expect(r.check.writes).toBeGreaterThan(0);
      expect(r.check.overlapping, `overlapping writers: ${JSON.stringify(r.check.chain.slice(0, 12))}`).toBe(0);
      if (t.takeover === 'required') expect(r.tookOver).toBe(true);
      if (t.takeover === 'forbidden') expect(r.tookOver).toBe(false);
      if (t.primaryKeepsServing) expect(r.primaryClosed).toBe(false);
    }, 300_000);
  }
});

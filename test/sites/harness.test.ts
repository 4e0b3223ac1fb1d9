// The multi-site harness itself: partitions really cut traffic between sites (and only there),
// heal restores it, and a site loss stops every process of that site. Runs against the sites
// of this run (primary, standby, witness: test/cluster/site-helpers.ts).
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { isAlive, repoRoot, run } from '../cluster/common.ts';
import { readState } from '../cluster/control-plane.ts';
import { netnsPids } from '../cluster/network.ts';
import {
  heal,
  isolate,
  partition,
  readSites,
  setSitesLatency,
  site,
  sitesHealth,
  startSite,
  stopSite,
  type SiteRecord,
  type SitesState,
} from '../cluster/sites.ts';
import { useSites } from '../cluster/site-helpers.ts';
import { startS3Server, type S3Server } from '../cluster/s3.ts';
import { PgHarness } from '../postgres/harness.ts';
import { connectRttMs, tcp, udpArrives, type From } from './probe.ts';

const dir = inject('sitesDir');
const kubectlBin = inject('sitesKubectl');
// Top level, so that the tests that depend on the kernel (netem) know before they are collected.
let state: SitesState = await useSites();
let primary: SiteRecord;
let standby: SiteRecord;
let witness: SiteRecord;
/** Each site's API server address and port. */
const api = new Map<string, { host: string; port: number }>();

async function reach(from: From, to: SiteRecord): Promise<string> {
  const a = api.get(to.name)!;
  return tcp(from, a.host, a.port);
}

/** A real API request (TLS, auth, /readyz) from inside a site to another site's API server. */
async function readyzFrom(from: SiteRecord, to: SiteRecord): Promise<string> {
  const res = await run('ip', ['netns', 'exec', from.netns, kubectlBin, '--kubeconfig', to.kubeconfig, 'get', '--raw', '/readyz', '--request-timeout=3s'], { timeoutMs: 30_000 });
  return res.code === 0 ? res.stdout.trim() : `failed: ${res.stderr.trim()}`;
}

beforeAll(async () => {
  state = (await readSites(dir))!;
  primary = site(state, 'primary');
  standby = site(state, 'standby');
  witness = site(state, 'witness');
  for (const s of state.sites) {
    const cp = (await readState(s.stateDir))!;
    const url = new URL(cp.server);
    api.set(s.name, { host: url.hostname, port: Number(url.port) });
  }
  await heal(dir);
});

afterEach(async () => {
  await heal(dir);
});

describe('links between sites', () => {
  it('every API server is reachable from the runner and from every other site', async () => {
    for (const to of state.sites) {
      expect(await reach('runner', to)).toBe('open');
      for (const from of state.sites) {
        if (from !== to) expect(await reach(from, to), `${from.name} -> ${to.name}`).toBe('open');
      }
    }
    expect(await readyzFrom(standby, primary)).toBe('ok');
  });

  it('a partition cuts TCP between two sites in both directions, leaves both reachable from the runner and the witness, and heal restores it', async () => {
    const after = await partition(dir, 'primary', 'standby');
    expect(after.cuts).toEqual([{ from: 'primary', to: 'standby' }, { from: 'standby', to: 'primary' }]);

    expect(await reach(primary, standby)).toBe('timeout');
    expect(await reach(standby, primary)).toBe('timeout');
    expect(await readyzFrom(standby, primary)).toMatch(/^failed: /);
    for (const s of [primary, standby]) {
      expect(await reach('runner', s), `runner -> ${s.name}`).toBe('open');
      expect(await reach(witness, s), `witness -> ${s.name}`).toBe('open');
      expect(await reach(s, witness), `${s.name} -> witness`).toBe('open');
    }
    // Both control planes keep running through it.
    expect(Object.values(await sitesHealth(after)).every((h) => h.ok)).toBe(true);

    await heal(dir);
    expect(await reach(primary, standby)).toBe('open');
    expect(await reach(standby, primary)).toBe('open');
    expect(await readyzFrom(standby, primary)).toBe('ok');
  });

  it('heal of one pair leaves the other cuts in force', async () => {
    await partition(dir, 'primary', 'standby');
    await partition(dir, 'primary', 'witness');
    const after = await heal(dir, 'primary', 'standby');
    expect(after.cuts).toEqual([{ from: 'primary', to: 'witness' }, { from: 'witness', to: 'primary' }]);
    expect(await reach(primary, standby)).toBe('open');
    expect(await reach(primary, witness)).toBe('timeout');
  });

  it('an asymmetric cut drops what one site sends to the other and nothing the other way', async () => {
    expect(await udpArrives(primary, standby, 9471)).toBe(true);
    await partition(dir, 'primary', 'standby', { oneWay: true });
    expect(await udpArrives(primary, standby, 9471)).toBe(false);
    expect(await udpArrives(standby, primary, 9471)).toBe(true);
    // TCP needs both directions: it fails either way, as on a real one-way WAN fault.
    expect(await reach(standby, primary)).toBe('timeout');
  });

  it('isolating a site cuts it from every other site but not from the runner, unless asked', async () => {
    await isolate(dir, 'primary');
    expect(await reach(primary, standby)).toBe('timeout');
    expect(await reach(primary, witness)).toBe('timeout');
    expect(await reach(witness, primary)).toBe('timeout');
    expect(await reach(standby, witness)).toBe('open');
    expect(await reach('runner', primary)).toBe('open');

    await isolate(dir, 'primary', { includingRunner: true });
    expect(await reach('runner', primary)).toBe('timeout');
    expect(await reach('runner', standby)).toBe('open');
    await heal(dir);
    expect(await reach('runner', primary)).toBe('open');
    expect(await reach(primary, witness)).toBe('open');
  });
});

describe('emulated WAN latency', () => {
  // Which of the two runs depends on the kernel (CONFIG_NET_SCH_NETEM); the harness records it.
  it.runIf(state.netemUnavailable === undefined)('tc netem delays traffic between sites', async () => {
    const base = await connectRttMs(standby, api.get('primary')!.host, api.get('primary')!.port);
    await setSitesLatency(dir, 50);
    try {
      const rtt = await connectRttMs(standby, api.get('primary')!.host, api.get('primary')!.port);
      expect(rtt).toBeGreaterThanOrEqual(100); // 50 ms each way
      expect(rtt).toBeGreaterThan(base);
    } finally {
      await setSitesLatency(dir, 0);
    }
  });

  it('says when the kernel cannot emulate latency', async () => {
    const s = (await readSites(dir))!;
    if (s.netemUnavailable === undefined) {
      expect((await setSitesLatency(dir, 0)).latencyMs).toBe(0);
      return;
    }
    expect(s.netemUnavailable).toMatch(/tc netem is not available/);
    await expect(setSitesLatency(dir, 20)).rejects.toThrow(/tc netem is not available.*cannot emulate WAN latency/);
  });
});

describe('an S3 bucket in a third site', () => {
  let s3: S3Server | undefined;
  let work: string | undefined;

  afterAll(async () => {
    await s3?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('serves a backup from the primary site and a restore in the standby site while the two are cut off from each other', async () => {
    s3 = await startS3Server({ site: witness });
    work = await mkdtemp(join(tmpdir(), 'standby-sites-mover-'));
    const [src, dst] = [join(work, 'src'), join(work, 'dst')];
    await mkdir(src);
    await mkdir(dst);
    const bytes = randomBytes(256 * 1024);
    await writeFile(join(src, 'data.bin'), bytes);
    await writeFile(join(work, 'password'), 'harness-password');
    await partition(dir, 'primary', 'standby');

    // The operator's mover subcommand, run inside each site as its Job would run there.
    const mover = (from: SiteRecord, args: string[]) => run('ip', ['netns', 'exec', from.netns, process.execPath, join(repoRoot, 'src', 'cli', 'main.ts'), 'mover', ...args,
      `--repository=s3:${s3!.endpoint}/dr-copies/orders/data`, `--password-file=${join(work!, 'password')}`, `--cache-dir=${join(work!, `cache-${from.name}`)}`, '--host=orders-data'], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: s3!.accessKey, AWS_SECRET_ACCESS_KEY: s3!.secretKey },
      timeoutMs: 120_000,
    });
    const backedUp = await mover(primary, ['backup', `--source=${src}`, '--keep-last=3']);
    expect(backedUp.code, backedUp.stderr).toBe(0);
    const restored = await mover(standby, ['restore', `--target=${dst}`]);
    expect(restored.code, restored.stderr).toBe(0);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(sha(await readFile(join(dst, 'data.bin')))).toBe(sha(bytes));
    // ... and the two sites really could not talk to each other meanwhile.
    expect(await reach(standby, primary)).toBe('timeout');
  });
});

describe('site loss', () => {
  let pg: PgHarness | undefined;

  afterAll(async () => {
    await pg?.cleanup();
    // Whatever happened, leave the site running for the files after this one.
    const s = (await readSites(dir))!;
    if (site(s, 'primary').stoppedAt !== undefined) await startSite(dir, 'primary');
  });

  it('stopping a site kills every process in it (its control plane and a PostgreSQL server started there), the other sites keep running, and it comes back with its data', async () => {
    const kubectl = (s: SiteRecord, ...args: string[]) => run(kubectlBin, ['--kubeconfig', s.kubeconfig, ...args], { timeoutMs: 30_000 });
    const name = `before-loss-${Date.now().toString(36)}`;
    expect((await kubectl(primary, 'create', 'configmap', name, '-n', 'default', '--from-literal=k=v')).code).toBe(0);

    // A real PostgreSQL server inside the primary site, reached from the runner and the standby site.
    pg = await PgHarness.create({ netns: primary.netns });
    const server = await pg.primary({ host: primary.address });
    expect(await server.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    expect(await tcp(standby, primary.address, server.port)).toBe('open');
    const postmaster = await run('head', ['-1', `${server.dataDir}/postmaster.pid`]);
    const postmasterPid = Number(postmaster.stdout.trim());
    expect(isAlive(postmasterPid)).toBe(true);

    const cp = (await readState(primary.stateDir))!;
    const inside = await netnsPids(primary.netns);
    for (const p of cp.processes) expect(inside, p.name).toContain(p.pid);
    expect(inside).toContain(postmasterPid);

    const killed = await stopSite(dir, 'primary');
    expect(killed).toEqual(expect.arrayContaining(inside));
    expect(await netnsPids(primary.netns)).toEqual([]);
    for (const p of cp.processes) expect(isAlive(p.pid), p.name).toBe(false);
    expect(isAlive(postmasterPid)).toBe(false);
    expect(await reach('runner', primary)).toBe('refused'); // the address answers, nothing listens
    expect(await tcp('runner', primary.address, server.port)).toBe('refused');

    const health = await sitesHealth((await readSites(dir))!);
    expect(health.primary?.ok).toBe(false);
    expect(health.standby?.ok).toBe(true);
    expect(health.witness?.ok).toBe(true);

    await startSite(dir, 'primary');
    expect((await sitesHealth((await readSites(dir))!)).primary?.ok).toBe(true);
    const back = await kubectl(primary, 'get', 'configmap', name, '-n', 'default', '-o', 'jsonpath={.data.k}');
    expect(back.stdout).toBe('v');
    await kubectl(primary, 'delete', 'configmap', name, '-n', 'default');
  });
});

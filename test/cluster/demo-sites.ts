// npm run demo -- --sites: a standby site in another cluster, end to end. Two sites (primary,
// standby), each a control plane in its own network namespace (sites.ts); the operator runs in
// the standby's site and watches the primary in the primary's site through the chart's
// remoteAccess Role. The demo shows the hot generic site Protected, a partition (the primary
// Unreachable, nothing promoted, the time out of contact growing), the heal, a site loss, the
// site failover a person confirms with a site-lost- token, and the old site coming back and
// being fenced before anything else. It stops everything it started (the operator, the sites,
// their network namespaces) at the end, on failure and on Ctrl-C.
//
// Sites that `npm run cluster:up -- --sites primary,standby[,witness]` left in .cluster/ are
// used (and left running, healed, with the primary's site up); so are those of --sites-dir DIR
// (the sites test project's, for test/sites/demo.test.ts).
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { buildBinaries } from './build.ts';
import { ClusterError, defaultStateDir, log, repoRoot, sleep } from './common.ts';
import {
  installOperatorIdentity,
  installRemoteAccess,
  installSiteCrd,
  siteKubectl,
  startSiteOperator,
  statefulPrimary,
  type SiteOperator,
  type Tools,
} from './site-ops.ts';
import { netnsUnavailable } from './network.ts';
import { heal, partition, readSites, site, sitesHealth, startSite, startSites, stopSite, teardownSites, type SiteRecord, type SitesState } from './sites.ts';
import { waitFor } from './wait.ts';

const NS = 'demo-sites';
const NAME = 'orders';
const HOSTNAME = 'orders.example.com';

export interface SitesDemoOptions {
  /** Use the (healthy) sites recorded in this folder instead of starting a harness. */
  sitesDir?: string;
}

interface SiteView {
  status?: {
    phase?: string;
    active?: string;
    primary?: { state?: string };
    primarySite?: { reachable?: boolean; since?: string; lastError?: string; fencedAt?: string; returnedAt?: string };
    promotion?: {
      state?: string;
      trigger?: string;
      token?: string;
      epoch?: number;
      startedAt?: string;
      fencedAt?: string;
      promotedAt?: string;
      switchedAt?: string;
      completedAt?: string;
      durationSeconds?: number;
    };
    activeEndpoint?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

const SITE_YAML = `
apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: ${NAME}}
spec:
  tier: hot
  primary:
    workload: {kind: StatefulSet, name: ${NAME}}
    service: ${NAME}
    cluster: {kubeconfigSecret: {name: primary-cluster}}
  traffic: {externalDNS: {hostname: ${HOSTNAME}}}
  promotion: {mode: automatic, failureThreshold: 2s}
`;

/** The folder of the demo's own harness: one per work tree, so a run killed hard is cleaned up by the next. */
function ownDir(): string {
  return join(tmpdir(), `standby-demo-sites-${createHash('sha256').update(repoRoot).digest('hex').slice(0, 8)}`);
}

async function healthy(state: SitesState | undefined): Promise<boolean> {
  if (!state || !['primary', 'standby'].every((n) => state.sites.some((s) => s.name === n && s.profile === 'full'))) return false;
  return Object.values(await sitesHealth(state)).every((h) => h.ok);
}

export async function sitesDemo(opts: SitesDemoOptions = {}): Promise<void> {
  const t0 = Date.now();
  const cleanups: { what: string; run: () => Promise<unknown> }[] = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> => {
    cleaning ??= (async () => {
      for (const c of cleanups.reverse()) {
        try {
          await c.run();
        } catch (err) {
          log(`cleanup: ${c.what}: ${(err as Error).message}`);
        }
      }
    })();
    return cleaning;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: stopping what the demo started\n`);
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let step = 0;
  let stepAt = Date.now();
  const say = (text: string): void => {
    stepAt = Date.now();
    process.stdout.write(`\n== ${++step}. ${text}   [${((stepAt - t0) / 1000).toFixed(1)}s into the demo]\n`);
  };
  const took = (what: string): void => {
    process.stdout.write(`   ${what} after ${((Date.now() - stepAt) / 1000).toFixed(1)}s\n`);
  };

  try {
    say('building the control plane binaries (cached after the first run) and the sites primary and standby');
    // Before a first build that takes minutes: without network namespaces (not root) nothing can run.
    const why = opts.sitesDir === undefined ? await netnsUnavailable() : undefined;
    if (why !== undefined) throw new ClusterError(why);
    const { bin } = await buildBinaries();
    const tools: Tools = { kubectl: bin.kubectl, helm: bin.helm };
    let dir: string;
    const reused = opts.sitesDir ?? ((await healthy(await readSites(defaultStateDir))) ? defaultStateDir : undefined);
    if (reused !== undefined) {
      if (!(await healthy(await readSites(reused)))) throw new ClusterError(`the sites in ${reused} are not healthy (or lack primary and standby)`);
      dir = reused;
      log(`using the sites in ${reused} (left running at the end)`);
      cleanups.push({ what: `restoring the sites and deleting namespace ${NS}`, run: async () => {
        await heal(dir);
        const now = await readSites(dir);
        if (now && site(now, 'primary').stoppedAt !== undefined) await startSite(dir, 'primary');
        for (const s of now?.sites.filter((x) => x.name === 'primary' || x.name === 'standby') ?? []) {
          await siteKubectl(tools, s, ['delete', 'namespace', NS, '--wait=false', '--ignore-not-found']);
        }
      } });
    } else {
      dir = ownDir();
      if (await readSites(dir)) {
        log(`stopping the sites an earlier demo left in ${dir}`);
        await teardownSites(dir);
      }
      cleanups.push({ what: 'stopping the sites', run: async () => {
        await teardownSites(dir);
        log('the sites are stopped and their network namespaces removed');
      } });
      await startSites({ stateDir: dir, owner: 'demo', sites: [{ name: 'primary', profile: 'full' }, { name: 'standby', profile: 'full' }] });
    }
    const state = (await readSites(dir))!;
    const primary = site(state, 'primary');
    const standby = site(state, 'standby');
    const kubectl = (s: SiteRecord, args: readonly string[], input?: string) => siteKubectl(tools, s, args, input);
    const get = async (): Promise<SiteView> => JSON.parse(await kubectl(standby, ['-n', NS, 'get', 'standbysite', NAME, '-o', 'json'])) as SiteView;
    const until = async (ok: (s: SiteView) => boolean, description: string, timeoutMs = 120_000): Promise<SiteView> => {
      let last: SiteView | undefined;
      try {
        return await waitFor(async () => ((last = await get()), ok(last) ? last : undefined), { timeoutMs, intervalMs: 250, description });
      } catch (err) {
        throw new Error(`${(err as Error).message}; last status: ${JSON.stringify(last?.status)}`, { cause: err });
      }
    };
    const view = async (): Promise<void> => {
      process.stdout.write(`   $ kubectl get standbysites -n ${NS} -o wide   (standby's cluster)\n`);
      process.stdout.write(indent(await kubectl(standby, ['-n', NS, 'get', 'standbysites', '-o', 'wide'])));
    };
    const condition = (s: SiteView, type: string) => s.status?.conditions?.find((c) => c.type === type);
    process.stdout.write(`   sites: ${state.sites.map((s) => `${s.name} ${s.address} (netns ${s.netns})`).join(', ')}\n`);
    took('sites up');

    say("installing the CRD and the operator's RBAC in the standby's cluster, the remoteAccess Role in the primary's");
    await installSiteCrd(tools, standby);
    const identity = await installOperatorIdentity(tools, standby, 'demo');
    // A namespace left by an earlier run of the demo on reused sites starts afresh.
    for (const s of [primary, standby]) await kubectl(s, ['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=120s']);
    const access = await installRemoteAccess(tools, primary, [NS], { externalDNS: true });
    await kubectl(standby, ['create', 'namespace', NS]);
    // What `kubectl create secret generic primary-cluster --from-file=kubeconfig=primary.kubeconfig` makes.
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'primary-cluster' }, stringData: { kubeconfig: access.kubeconfig } };
    await kubectl(standby, ['-n', NS, 'apply', '-f', '-'], JSON.stringify(secret));
    process.stdout.write(`   remote identity in the primary's cluster: ${access.user} (Role in namespace ${NS})\n`);
    process.stdout.write(`   kubeconfig Secret ${NS}/primary-cluster in the standby's cluster, made by \`standby-operator remote-kubeconfig\`\n`);
    process.stdout.write(`   the primary, StatefulSet ${NAME} (kwok pods), in the primary's cluster\n`);
    await kubectl(primary, ['-n', NS, 'apply', '-f', '-'], statefulPrimary(NAME));
    await waitFor(
      async () => (await kubectl(primary, ['-n', NS, 'get', 'pod', `${NAME}-0`, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])).trim() === 'True',
      { timeoutMs: 90_000, description: 'the primary pod Ready' },
    );

    const logDir = join(repoRoot, '.cluster', 'logs');
    mkdirSync(logDir, { recursive: true });
    const logFile = join(logDir, 'demo-sites-operator.log');
    say(`starting the operator inside the standby's network namespace (its JSON log: ${relative(repoRoot, logFile)})`);
    const operator: SiteOperator = await startSiteOperator(standby, identity, [NS], { logFile, env: { LOG_LEVEL: 'info' } });
    cleanups.push({ what: 'stopping the operator', run: () => operator.stop() });
    took('operator ready');

    say(`applying the hot StandbySite ${NAME} in the standby's cluster; its primary is in the primary's cluster`);
    process.stdout.write(indent(SITE_YAML.trim() + '\n'));
    await kubectl(standby, ['-n', NS, 'apply', '-f', '-'], SITE_YAML);
    const prot = await until((s) => s.status?.phase === 'Protected', 'the site Protected');
    took('Protected');
    await view();
    process.stdout.write(`   status.activeEndpoint: ${prot.status?.activeEndpoint ?? '-'}; the DNS name ${HOSTNAME} is on the primary's traffic Service\n`);

    say('a partition: the link between the primary and standby sites is cut (nftables drops on the bridge)');
    await partition(dir, 'primary', 'standby');
    const cut = await until((s) => s.status?.primary?.state === 'Unreachable', 'PRIMARY Unreachable');
    took('PRIMARY Unreachable');
    process.stdout.write(`   PrimaryHealthy=${condition(cut, 'PrimaryHealthy')?.status ?? '?'} (${condition(cut, 'PrimaryHealthy')?.reason ?? '?'}): ${condition(cut, 'PrimaryHealthy')?.message ?? ''}\n`);
    const since = cut.status?.primarySite?.since;
    const outOfContact = () => (since ? `${((Date.now() - new Date(since).getTime()) / 1000).toFixed(1)}s` : '?');
    // Well past failureThreshold (2s): a partition must never promote. The generic engine measures
    // no lag: what the operator knows is how long it has had no word from the primary.
    for (let i = 0; i < 3; i++) {
      await sleep(4000);
      const s = await get();
      process.stdout.write(
        `   no word from the primary's site for ${outOfContact()} (status.primarySite.since ${since ?? '?'}): the standby's data is at least that old; ` +
          `promotion: ${s.status?.promotion?.state ?? 'none'}; PromotionReady: ${condition(s, 'PromotionReady')?.reason ?? '?'}\n`,
      );
      if (s.status?.promotion !== undefined) throw new Error(`a partition promoted: ${JSON.stringify(s.status.promotion)}`);
    }
    process.stdout.write(`   both sides still run: primary pod ${await podReady(kubectl, primary, `${NAME}-0`)}, standby pod ${await podReady(kubectl, standby, `${NAME}-standby-0`)}\n`);
    await view();

    say('healing the partition');
    await heal(dir);
    await until((s) => s.status?.phase === 'Protected' && s.status.primarySite?.reachable === true && s.status.primary?.state === 'Ready', 'Protected again');
    took('Protected again');
    await view();

    say("the primary's site is lost: every process in its network namespace is killed (its API server, its nodes)");
    const lostAt = Date.now();
    await stopSite(dir, 'primary');
    await until((s) => s.status?.primary?.state === 'Unreachable', 'PRIMARY Unreachable after the site loss');
    took('PRIMARY Unreachable');
    await sleep(3000);
    const idle = await get();
    process.stdout.write(`   ${((Date.now() - lostAt) / 1000).toFixed(1)}s after the loss, past failureThreshold: promotion ${idle.status?.promotion?.state ?? 'none'} (a person confirms a site failover)\n`);
    if (idle.status?.promotion !== undefined) throw new Error(`the site loss promoted by itself: ${JSON.stringify(idle.status.promotion)}`);
    await view();

    const token = `site-lost-${new Date().toISOString().slice(0, 10)}`;
    say(`a person confirms the site failover: kubectl annotate standbysite ${NAME} standby.dev/promote=${token}`);
    const askedAt = new Date();
    await kubectl(standby, ['-n', NS, 'annotate', '--overwrite', 'standbysite', NAME, `standby.dev/promote=${token}`]);
    const promoted = await until((s) => s.status?.phase === 'Promoted' || s.status?.promotion?.state === 'Failed', 'Promoted');
    if (promoted.status?.phase !== 'Promoted') throw new Error(`the site failover failed: ${JSON.stringify(promoted.status?.promotion)}`);
    took('Promoted');
    const p = promoted.status.promotion ?? {};
    const line = (t: string | undefined, what: string): void => {
      if (t) process.stdout.write(`   ${t}  +${((new Date(t).getTime() - askedAt.getTime()) / 1000).toFixed(3)}s  ${what}\n`);
    };
    line(askedAt.toISOString(), `token ${token} set`);
    line(p.startedAt, `promotion started (trigger ${p.trigger ?? '?'}, epoch ${p.epoch ?? '?'})`);
    line(p.promotedAt, 'standby promoted');
    line(p.switchedAt, `traffic Service ${NAME}-active in the standby's cluster switched to the standby`);
    line(p.completedAt, `promotion ${p.state ?? '?'} in ${p.durationSeconds ?? '?'}s`);
    process.stdout.write(`   FencingHolds=${condition(promoted, 'FencingHolds')?.status ?? '?'} (${condition(promoted, 'FencingHolds')?.reason ?? '?'}): ${condition(promoted, 'FencingHolds')?.message ?? ''}\n`);
    await waitFor(
      async () => (await kubectl(standby, ['-n', NS, 'get', 'service', `${NAME}-active`, '-o', 'jsonpath={.metadata.annotations.external-dns\\.alpha\\.kubernetes\\.io/hostname}'])).trim() === HOSTNAME,
      { timeoutMs: 60_000, description: "the DNS name on the standby's traffic Service" },
    );
    process.stdout.write(`   the ExternalDNS name ${HOSTNAME} is now on the standby's traffic Service ${NAME}-active; activeEndpoint ${promoted.status.activeEndpoint ?? '-'}\n`);
    await view();

    say("the primary's site comes back (same etcd data): the old primary is fenced there before anything else");
    const linesBefore = operator.logLines().length;
    await startSite(dir, 'primary');
    const back = await until((s) => s.status?.primarySite?.fencedAt !== undefined && s.status.primarySite.returnedAt !== undefined, 'the returning site fenced', 180_000);
    took('fenced');
    process.stdout.write(`   primarySite.returnedAt ${back.status?.primarySite?.returnedAt ?? '?'}, fencedAt ${back.status?.primarySite?.fencedAt ?? '?'}\n`);
    const writes = operator.logLines().slice(linesBefore).filter((l) => l.msg === "wrote in the primary's cluster").map((l) => `${String(l.kind)}/${String(l.name)}`);
    process.stdout.write(`   the operator's writes in the primary's cluster since it returned, in order: ${writes.join(', ') || '(none logged)'}\n`);
    process.stdout.write(`   $ kubectl get networkpolicy ${NAME}-fence -n ${NS}   (primary's cluster)\n`);
    process.stdout.write(indent(await kubectl(primary, ['-n', NS, 'get', 'networkpolicy', `${NAME}-fence`])));
    await waitFor(
      async () => (await kubectl(primary, ['-n', NS, 'get', 'service', `${NAME}-active`, '-o', 'jsonpath={.metadata.annotations.external-dns\\.alpha\\.kubernetes\\.io/hostname}'])).trim() === '',
      { timeoutMs: 60_000, description: "the DNS name gone from the old primary's side" },
    );
    process.stdout.write(`   the DNS name left the old primary's traffic Service; FencingHolds=${condition(back, 'FencingHolds')?.status ?? '?'}\n`);
    await view();
    if (writes[0] !== `NetworkPolicy/${NAME}-fence`) throw new Error(`the fence was not the first write in the returning site: ${writes.join(', ')}`);

    say(`done in ${((Date.now() - t0) / 1000).toFixed(1)}s; stopping what the demo started`);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await cleanup();
  }
}

function indent(text: string): string {
  return text.replace(/^(?=.)/gm, '   ');
}

async function podReady(kubectl: (s: SiteRecord, args: readonly string[]) => Promise<string>, s: SiteRecord, pod: string): Promise<string> {
  const ready = await kubectl(s, ['-n', NS, 'get', 'pod', pod, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']).catch(() => '?');
  return `${pod} Ready=${ready.trim() || '?'}`;
}

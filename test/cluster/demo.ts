// npm run demo — the operator's main job end to end, with no cluster around:
// starts the local control plane (or reuses the one `npm run cluster:up` left),
// installs the CRD, runs the operator, applies examples/, shows the sites
// turning Protected, runs one drill of the hot example by annotation and
// prints its record (RTO, data age), then makes the hot example's primary
// fail and prints the promotion's timeline; then the old primary comes back and is
// re-protected, `kubectl standby failback` returns the site to its declared primary,
// and `kubectl standby timeline` prints the whole cycle. The control plane stays up for exploring.
//
// npm run demo -- --real: the same on a real node (kubelet + containerd): a PostgreSQL primary
// in the test image, its hot standby streaming synchronously, a client writing numbered rows
// through the traffic Service; the primary's container is killed until the operator promotes,
// and the rows are counted before and after on the promoted standby.
//
// npm run demo -- --sites: a standby site in another cluster (demo-sites.ts): two sites in their own
// network namespaces, a partition, a site loss, a site failover confirmed by a person, the old
// site fenced when it returns; everything it started is stopped at the end.
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { DEFAULT_IMAGE } from '../../src/cli/image.ts';
import { KubeClient } from '../../src/k8s/client.ts';
import { loadConnection } from '../../src/k8s/connection.ts';
import { R } from '../../src/k8s/resources.ts';
import { startOperator } from '../../src/process/operator.ts';
import { snapshotSite } from '../../src/snapshot/command.ts';
import { syncSite } from '../../src/sync/command.ts';
import type { StandbySiteObject } from '../../src/api/site.ts';
import { SITE_RESOURCE } from '../../src/api/resource.ts';
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import { hotSiteYaml, postgresPrimary, query, RowWriter } from '../realpods/workload.ts';
import { REAL_NAMESPACE_ANNOTATIONS } from './real-node.ts';
import { ClusterError, defaultStateDir, log, repoRoot, run, runMain } from './common.ts';
import { sitesDemo } from './demo-sites.ts';
import { checkHealth, readState, startControlPlane, stopControlPlane, type ClusterState } from './control-plane.ts';

const NS = 'demo';

async function controlPlane(realNodes = 0): Promise<ClusterState> {
  const existing = await readState(defaultStateDir);
  if (existing && (existing.realNodes?.count ?? 0) >= realNodes && (await checkHealth(existing)).ok) {
    log(`reusing the control plane at ${existing.server}`);
    return existing;
  }
  if (existing) await stopControlPlane(defaultStateDir);
  log('starting a local control plane (the first run builds it from source: see test/cluster/README.md)');
  return startControlPlane({ stateDir: defaultStateDir, owner: 'cluster:up', realNodes });
}

function say(text: string): void {
  process.stdout.write(`\n== ${text}\n`);
}

runMain(async () => {
  const args = process.argv.slice(2);
  if (args.includes('--sites')) {
    const at = args.indexOf('--sites-dir');
    const sitesDir = at >= 0 ? args[at + 1] : undefined;
    if (at >= 0 && (sitesDir === undefined || sitesDir.startsWith('--'))) throw new ClusterError('--sites-dir needs the folder of running sites (sites.json)');
    await sitesDemo(sitesDir === undefined ? {} : { sitesDir });
    return;
  }
  if (process.argv.includes('--real')) {
    await realDemo();
    return;
  }
  const cluster = await controlPlane();
  const kubectl = async (args: string[], input?: string) => {
    const res = await run(cluster.bin.kubectl, ['--kubeconfig', cluster.kubeconfig, ...args], input === undefined ? {} : { input });
    if (res.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${res.stderr.trim()}`);
    return res.stdout;
  };

  say('installing the StandbySite CRD');
  process.stdout.write(await kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(repoRoot, 'crds')]));
  await kubectl(['wait', '--for=condition=Established', 'crd/standbysites.standby.dev', '--timeout=60s']);

  say('starting the operator (its JSON log goes to .cluster/logs/operator.log)');
  mkdirSync(join(defaultStateDir, 'logs'), { recursive: true });
  const logger = pino({ level: 'info' }, pino.destination({ dest: join(defaultStateDir, 'logs', 'operator.log'), sync: true }));
  const connection = await loadConnection(cluster.kubeconfig);
  const operator = await startOperator({ connection, log: logger, operatorImage: DEFAULT_IMAGE, namespaces: [NS] });

  say(`applying examples/ to namespace ${NS}`);
  await kubectl(['create', 'namespace', NS]).catch(() => '');
  await kubectl(['delete', 'standbysites', '--all', '-n', NS, '--wait=true']).catch(() => '');
  for (const f of readdirSync(join(repoRoot, 'examples')).filter((x) => x.endsWith('.yaml')).sort()) {
    process.stdout.write(await kubectl(['apply', '-n', NS, '-f', join(repoRoot, 'examples', f)]));
  }

  // kwok runs no containers: the copy Jobs' pods complete without running anything. The demo runs
  // the operator's own copy subcommands here instead, exactly as those pods would.
  const client = new KubeClient(connection);
  await sleep(2000);
  say('first copies: `sync` for the warm site, `snapshot` for the cold one (what their CronJobs run)');
  const quiet = pino({ level: 'warn' });
  // The sync proves its copy usable with a check Job of the operator's image (kwok runs none).
  const sync = await syncSite(client, `${NS}/uploads`, { log: quiet, pollMs: 250, image: DEFAULT_IMAGE });
  process.stdout.write(`warm sync ${sync.run}: standby copy ${Object.values(sync.claims).join(', ')}\n`);
  const snap = await snapshotSite(client, `${NS}/sessions`, { log: quiet, pollMs: 250 });
  process.stdout.write(`cold snapshot ${snap.run}: ${Object.values(snap.snapshots).join(', ')}\n`);

  say('waiting for every site to be Protected');
  const phases = async () => (await client.list<StandbySiteObject>(SITE_RESOURCE, NS)).items.map((s) => s.status?.phase);
  for (let i = 0; i < 120 && !(await phases()).every((p) => p === 'Protected'); i++) await sleep(500);
  process.stdout.write(await kubectl(['get', 'standbysites', '-n', NS]));

  // A drill first: proof that the standby could take over, with its measured RTO, before a real failover.
  const token = `demo-${Date.now().toString(36)}`;
  say(`a drill of the hot site catalog: kubectl annotate standbysite catalog standby.dev/drill=${token}`);
  await kubectl(['annotate', '-n', NS, 'standbysite', 'catalog', `standby.dev/drill=${token}`, '--overwrite']);
  let drilled: StandbySiteObject | undefined;
  for (let i = 0; i < 240; i++) {
    drilled = await client.get<StandbySiteObject>(SITE_RESOURCE, NS, 'catalog');
    if (drilled?.status?.lastDrill?.token === token) break;
    await sleep(500);
  }
  const drill = drilled?.status?.lastDrill;
  if (drill?.token !== token) throw new Error(`the drill was not recorded: ${JSON.stringify(drilled?.status?.drill ?? drilled?.status?.conditions)}`);
  process.stdout.write(
    [
      `drill ${drill.id} (${drill.trigger}, ${drill.tier ?? '?'}): ${drill.result}`,
      `  startedAt ${drill.startedAt}  readyAt ${drill.readyAt ?? '-'}  finishedAt ${drill.finishedAt}`,
      `  rtoSeconds ${drill.rtoSeconds ?? '-'}  dataAgeSeconds ${drill.dataAgeSeconds ?? '-'}`,
      `  ${drill.message}`,
      '',
    ].join('\n'),
  );
  process.stdout.write(await kubectl(['get', 'standbysite', '-n', NS, 'catalog']));
  if (drill.result !== 'Passed') throw new Error(`the drill did not pass: ${drill.message}`);

  say('the hot primary (catalog) fails: its pods become not Ready');
  const pods = (await client.list<V1Pod>(R.pod, NS, { labelSelector: 'app=catalog' })).items;
  const failedAt = new Date();
  for (const p of pods) {
    await client.mergePatch(R.pod, NS, p.metadata?.name ?? '', { status: { conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: failedAt.toISOString() }] } }, 'status');
  }
  process.stdout.write(`${failedAt.toISOString()}  ${pods.length} primary pods set not Ready; failureThreshold is 20s\n`);
  let site: StandbySiteObject | undefined;
  for (let i = 0; i < 120; i++) {
    site = await client.get<StandbySiteObject>(SITE_RESOURCE, NS, 'catalog');
    if (site?.status?.promotion?.state === 'Promoted' || site?.status?.promotion?.state === 'Failed') break;
    await sleep(500);
  }
  const p = site?.status?.promotion;
  say('timeline');
  const line = (t: string | undefined, what: string) => {
    if (t) process.stdout.write(`${t}  +${((new Date(t).getTime() - failedAt.getTime()) / 1000).toFixed(3)}s  ${what}\n`);
  };
  line(failedAt.toISOString(), 'primary pods not Ready');
  line(site?.status?.primary?.notReadySince, 'operator saw the primary not Ready (status.primary.notReadySince)');
  line(p?.startedAt, `promotion started: ${p?.reason ?? ''}`);
  line(p?.fencedAt, 'primary fenced (NetworkPolicy catalog-fence)');
  line(p?.promotedAt, 'standby promoted');
  line(p?.switchedAt, 'traffic Service catalog-active switched to the standby');
  line(p?.completedAt, `promotion ${p?.state ?? 'unknown'} in ${p?.durationSeconds ?? '?'}s`);
  process.stdout.write('\n');
  process.stdout.write(await kubectl(['get', 'standbysite', '-n', NS, 'catalog', '-o', 'wide']));
  if (p?.state !== 'Promoted') {
    await operator.stop();
    throw new Error(`the promotion did not complete: ${JSON.stringify(p)}`);
  }

  // The rest of the cycle: the old primary comes back, follows the standby, and the site fails back
  // to its declared direction, with no manifest changed (the generic engine runs the example's
  // reprotectJobTemplate and failbackJobTemplate Jobs; on kwok their pods complete at once).
  say('the old primary runs again (its pods Ready behind the fence): re-protection starts by itself');
  for (const pod of pods) {
    const at = new Date().toISOString();
    const conditions = [{ type: 'Ready', status: 'True', lastTransitionTime: at }, { type: 'ContainersReady', status: 'True', lastTransitionTime: at }];
    await client.mergePatch(R.pod, NS, pod.metadata?.name ?? '', { status: { conditions } }, 'status');
  }
  for (let i = 0; i < 240; i++) {
    site = await client.get<StandbySiteObject>(SITE_RESOURCE, NS, 'catalog');
    const r = site?.status?.reprotection;
    if ((r?.state === 'Protected' && site?.status?.phase === 'Protected') || r?.state === 'Failed') break;
    await sleep(500);
  }
  const r = site?.status?.reprotection;
  process.stdout.write(
    [
      `re-protection of the ${r?.of ?? '?'} (${r?.trigger ?? '?'}, ${r?.method ?? '?'}): ${r?.state ?? 'not started'}${r?.message ? ` — ${r.message}` : ''}`,
      `  divergent copy kept: ${r?.divergence?.snapshotRun ?? '-'}`,
      '',
    ].join('\n'),
  );
  process.stdout.write(await kubectl(['get', 'standbysite', '-n', NS, 'catalog', '-o', 'wide']));
  if (r?.state !== 'Protected' || site?.status?.active !== 'standby') {
    await operator.stop();
    throw new Error(`the old primary was not re-protected: ${JSON.stringify(r ?? site?.status?.conditions)}`);
  }

  const plugin = async (args: string[]) => {
    process.stdout.write(`$ kubectl standby ${args.join(' ')}\n`);
    const res = await run(process.execPath, [join(repoRoot, 'src/plugin/main.ts'), ...args, '-n', NS, '--kubeconfig', cluster.kubeconfig]);
    process.stdout.write(res.stdout + res.stderr);
    return res.code;
  };
  say('a planned failback to the declared primary');
  const failback = await plugin(['failback', 'catalog']);
  say('the whole cycle');
  await plugin(['timeline', 'catalog']);
  process.stdout.write('\n');
  process.stdout.write(await kubectl(['get', 'standbysites', '-n', NS, '-o', 'wide']));

  await operator.stop();
  say('done. The control plane is still up:');
  process.stdout.write(`export KUBECONFIG=${cluster.kubeconfig}\nalias kubectl=${cluster.bin.kubectl}\nnpm start   # run the operator against it\nnpm run cluster:down   # stop it\n`);
  site = await client.get<StandbySiteObject>(SITE_RESOURCE, NS, 'catalog');
  if (failback !== 0 || site?.status?.active !== 'primary' || site.status.phase !== 'Protected') {
    throw new Error(`the failback did not complete: ${JSON.stringify(site?.status?.failback ?? site?.status?.conditions)}`);
  }
});


/** npm run demo -- --real: a real PostgreSQL failover on a real node, rows counted before and after. */
async function realDemo(): Promise<void> {
  const cluster = await controlPlane(1);
  const real = cluster.realNodes;
  if (!real) throw new Error('the control plane has no real nodes');
  const kubectl = async (args: string[], input?: string): Promise<string> => {
    const res = await run(cluster.bin.kubectl, ['--kubeconfig', cluster.kubeconfig, ...args], input === undefined ? {} : { input });
    if (res.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${res.stderr.trim()}`);
    return res.stdout;
  };
  const ns = 'demo-real';
  const site = 'db';
  await kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(repoRoot, 'crds')]);
  await kubectl(['wait', '--for=condition=Established', 'crd/standbysites.standby.dev', '--timeout=60s']);
  await kubectl(['delete', 'namespace', ns, '--ignore-not-found', '--wait=true', '--timeout=120s']).catch(() => '');
  await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, annotations: REAL_NAMESPACE_ANNOTATIONS } }));

  say(`a PostgreSQL primary on ${real.nodes[0] ?? 'the real node'} (${real.images.postgres})`);
  process.stdout.write(await kubectl(['apply', '-n', ns, '-f', '-'], postgresPrimary(site, real.images.postgres)));
  const connection = await loadConnection(cluster.kubeconfig);
  const client = new KubeClient(connection);
  const readyPod = async (name: string): Promise<V1Pod> => {
    for (let i = 0; i < 600; i++) {
      const p = await client.get<V1Pod>(R.pod, ns, name);
      if (p?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return p;
      await sleep(1000);
    }
    throw new Error(`pod ${ns}/${name} did not become Ready`);
  };
  const primary = await readyPod(`${site}-0`);
  await query(primary.status?.podIP ?? '', 'CREATE TABLE rows (n integer PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())');

  say('the operator (its JSON log goes to .cluster/logs/operator-real.log) and a hot StandbySite, synchronous');
  mkdirSync(join(defaultStateDir, 'logs'), { recursive: true });
  const logger = pino({ level: 'info' }, pino.destination({ dest: join(defaultStateDir, 'logs', 'operator-real.log'), sync: true }));
  const operator = await startOperator({ connection, log: logger, operatorImage: real.images.operator, namespaces: [ns] });
  try {
    process.stdout.write(await kubectl(['apply', '-n', ns, '-f', '-'], hotSiteYaml(site)));
    let s: StandbySiteObject | undefined;
    for (let i = 0; i < 600 && s?.status?.phase !== 'Protected'; i++) {
      await sleep(1000);
      s = await client.get<StandbySiteObject>(SITE_RESOURCE, ns, site);
    }
    if (s?.status?.phase !== 'Protected') throw new Error(`the site did not become Protected: ${JSON.stringify(s?.status?.conditions)}`);
    process.stdout.write(await kubectl(['get', 'pods,standbysites', '-n', ns, '-o', 'wide']));

    const traffic = await client.get<V1Service>(R.service, ns, `${site}-active`);
    const writer = new RowWriter(traffic?.spec?.clusterIP ?? '');
    say(`a client writes numbered rows through the traffic Service ${site}-active (${traffic?.spec?.clusterIP ?? '?'})`);
    writer.start();
    await writer.waitForMore(200, 120_000);
    const before = writer.acked.length;
    const failedAt = new Date();
    say(`${before} rows acknowledged; killing the primary's postgres container (SIGKILL through containerd) until the operator promotes`);
    const sock = real.containerd[primary.spec?.nodeName ?? ''] ?? '';
    for (let i = 0; i < 300; i++) {
      const p = await client.get<V1Pod>(R.pod, ns, `${site}-0`);
      const id = p?.status?.containerStatuses?.[0]?.containerID?.replace(/^containerd:\/\//, '');
      if (id) await run('ctr', ['--address', sock, '--namespace', 'k8s.io', 'tasks', 'kill', '--signal', 'SIGKILL', id]);
      s = await client.get<StandbySiteObject>(SITE_RESOURCE, ns, site);
      if (s?.status?.promotion?.startedAt) break;
      await sleep(1000);
    }
    for (let i = 0; i < 600 && s?.status?.promotion?.state !== 'Promoted' && s?.status?.promotion?.state !== 'Failed'; i++) {
      await sleep(500);
      s = await client.get<StandbySiteObject>(SITE_RESOURCE, ns, site);
    }
    await writer.waitForMore(100, 120_000).catch(() => undefined);
    await writer.stop();
    const p = s?.status?.promotion;
    say('timeline');
    const line = (t: string | undefined, what: string): void => {
      if (t) process.stdout.write(`${t}  +${((new Date(t).getTime() - failedAt.getTime()) / 1000).toFixed(3)}s  ${what}\n`);
    };
    line(failedAt.toISOString(), 'first kill of the primary container');
    line(p?.startedAt, `promotion started: ${p?.reason ?? ''}`);
    line(p?.fencedAt, `primary fenced (NetworkPolicy ${site}-fence, enforced by kube-router)`);
    line(p?.promotedAt, 'standby promoted by the pg_promote Job');
    line(p?.switchedAt, `traffic Service ${site}-active switched to the standby`);
    line(p?.completedAt, `promotion ${p?.state ?? 'unknown'} in ${p?.durationSeconds ?? '?'}s`);

    const standby = await client.get<V1Pod>(R.pod, ns, `${site}-standby-0`);
    const have = new Set((await query<{ n: number }>(standby?.status?.podIP ?? '', 'SELECT n FROM rows')).map((r) => r.n));
    const missing = writer.acked.filter((n) => !have.has(n));
    say('rows');
    process.stdout.write(`acknowledged before the failure:        ${before}\n`);
    process.stdout.write(`acknowledged in all:                    ${writer.acked.length} (${writer.errors.length} client errors while it failed over)\n`);
    process.stdout.write(`rows on the promoted standby:           ${have.size}\n`);
    process.stdout.write(`acknowledged rows missing there:        ${missing.length}${missing.length > 0 ? ` (${missing.slice(0, 10).join(', ')})` : ''}\n`);
    process.stdout.write(await kubectl(['get', 'pods,jobs,networkpolicies,standbysites', '-n', ns, '-o', 'wide']));
    if (p?.state !== 'Promoted') throw new Error(`the promotion did not complete: ${JSON.stringify(p)}`);
    if (missing.length > 0) throw new Error(`${missing.length} acknowledged rows are missing on the promoted standby`);
  } finally {
    await operator.stop();
  }
  say('done. The control plane (with its real node) is still up:');
  process.stdout.write(`export KUBECONFIG=${cluster.kubeconfig}\nalias kubectl=${cluster.bin.kubectl}\nnpm run cluster:down   # stop it\n`);
}

// The API server going away and coming back: informers re-list or resume, a
// too-old resourceVersion answers 410 and is recovered by a fresh list, and
// the operator keeps working without a restart of its own. The second test
// makes the operator's watches certainly too old (the process is stopped while
// the revision moves on and the API server restarts), then proves the re-list:
// 410s counted, lists made, and a change made during the outage reconciled.
import { dirname } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { pino } from 'pino';
import { apply, clusterInfo, createNamespace, deleteNamespace, kubectl, kubectlJson, waitFor } from '../cluster/helpers.ts';
import { restartProcess } from '../cluster/control-plane.ts';
import { isGone, KubeClient } from '../../src/k8s/client.ts';
import { loadConnection } from '../../src/k8s/connection.ts';
import { Informer } from '../../src/k8s/informer.ts';
import type { Resource } from '../../src/k8s/resources.ts';
import type { KubeObject } from '../../src/k8s/types.ts';
import { failPrimaryPods, getSite, installCrd, startOperator, statefulPrimary, waitForSite, type OperatorProcess } from './support/operator.ts';

const configMaps: Resource = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };
let n = '';
let op: OperatorProcess;

beforeAll(async () => {
  await installCrd();
  n = await createNamespace('resilience');
  op = await startOperator({ namespaces: [n], name: 'resilience' });
});

afterAll(async () => {
  expect(await op.stop()).toBe(0);
  await deleteNamespace(n);
});

const hotSite = (name: string) => `apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: ${name}}
spec:
  tier: hot
  primary: {workload: {kind: StatefulSet, name: ${name}}, service: ${name}}
  promotion: {failureThreshold: 1s}
`;

/** The sum of a metric's samples whose labels include every one of `labels` (e.g. 'kind="gone"'). */
async function metric(name: string, ...labels: string[]): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${op.healthPort}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .filter((l) => labels.every((label) => l.slice(0, l.lastIndexOf(' ')).includes(label)))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

test('informers and the operator survive a kube-apiserver restart; a stale resourceVersion gets 410 Gone', async () => {
  await apply(statefulPrimary('before'), n);
  await apply(hotSite('before'), n);
  await waitForSite(n, 'before', (s) => s.status?.phase === 'Protected', 'first site Protected');

  const client = new KubeClient(await loadConnection(clusterInfo().kubeconfig));
  const informer = new Informer<KubeObject>(client, { resource: configMaps, namespaces: [n], log: pino({ level: 'silent' }), minBackoffMs: 100, maxBackoffMs: 1000 });
  const abort = new AbortController();
  const running = informer.run(abort.signal);
  await informer.waitSynced();
  const staleRv = (await client.list(configMaps, n)).resourceVersion;
  for (let i = 0; i < 20; i++) await kubectl(['-n', n, 'create', 'configmap', `churn-${i}`]);
  const listsBefore = informer.stats.lists;
  const errorsBefore = await metric('standby_watch_errors_total');

  await restartProcess(dirname(clusterInfo().kubeconfig), 'kube-apiserver', 2000);

  // A watch from before the restart is older than the new watch cache: 410 Gone.
  const gone = await client
    .watch(configMaps, n, { resourceVersion: staleRv, signal: AbortSignal.timeout(5000) }, () => undefined)
    .then(() => undefined, (err: unknown) => err);
  expect(isGone(gone), `expected 410, got ${String(gone)}`).toBe(true);

  // Our informer noticed the broken watch and is back: it sees an object created after the restart.
  await kubectl(['-n', n, 'create', 'configmap', 'after-restart']);
  await waitFor(() => informer.get(`${n}/after-restart`), { timeoutMs: 30_000, description: 'the informer to see a ConfigMap created after the restart' });
  expect(informer.stats.errors).toBeGreaterThan(0);
  expect(informer.stats.lists + informer.stats.watches).toBeGreaterThan(listsBefore + 1);
  abort.abort();
  await running;

  // The operator process kept running, counted its broken watches, and still reconciles and promotes.
  expect(op.child.exitCode).toBeNull();
  expect(await metric('standby_watch_errors_total')).toBeGreaterThan(errorsBefore);
  await kubectl(['-n', n, 'patch', 'standbysite', 'before', '--type=merge', '-p', '{"spec":{"hot":{"replicas":2}}}']);
  await waitForSite(n, 'before', (s) => s.status?.observedGeneration === 2 && s.status.standby?.readyReplicas === 2, 'a spec change after the restart');
  await apply(statefulPrimary('after'), n);
  await apply(hotSite('after'), n);
  await waitForSite(n, 'after', (s) => s.status?.phase === 'Protected', 'a site created after the restart');
  await failPrimaryPods(n, 'after');
  await waitForSite(n, 'after', (s) => s.status?.promotion?.state === 'Promoted', 'a promotion after the restart', 30_000);
});

test('after an outage its watches cannot resume from, the operator re-lists (410 Gone) and reconciles a change made meanwhile', async () => {
  // Its own site, never promoted: the outage makes the fake nodes' pods not Ready for a while.
  const site = 'outage';
  await apply(statefulPrimary(site), n);
  await apply(
    `apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: ${site}}
spec:
  tier: hot
  primary: {workload: {kind: StatefulSet, name: ${site}}, service: ${site}}
  promotion: {mode: disabled}
`,
    n,
  );
  await waitForSite(n, site, (s) => s.status?.phase === 'Protected', 'the site Protected');
  const generation = (await getSite(n, site)).metadata.generation;
  const gone = () => metric('standby_watch_errors_total', 'kind="gone"', 'resource="standbysites"');
  const lists = () => metric('standby_api_requests_total', 'verb="list"', 'resource="standbysites"', 'code="200"');
  const [goneBefore, listsBefore] = [await gone(), await lists()];
  const pid = op.child.pid!;

  // The operator is frozen: it reads nothing from here on. Its connections are to the API server
  // instance that stops first, so what it may still find in its sockets (events, bookmarks) is no
  // newer than that instance's end. The change is made on the next instance, and a third one
  // starts its watch cache after the change: every resume of the operator's watches is too old.
  const stateDir = dirname(clusterInfo().kubeconfig);
  process.kill(pid, 'SIGSTOP');
  try {
    await restartProcess(stateDir, 'kube-apiserver', 1000);
    // The change made during the outage: only a fresh list can show it to the operator.
    await kubectl(['-n', n, 'patch', 'standbysite', site, '--type=merge', '-p', '{"spec":{"hot":{"replicas":2}}}']);
    await restartProcess(stateDir, 'kube-apiserver', 1000);
  } finally {
    process.kill(pid, 'SIGCONT');
  }

  await waitFor(async () => (await gone()) > goneBefore, { timeoutMs: 30_000, description: 'the operator to count a 410 Gone on its StandbySite watch' });
  await waitFor(async () => (await lists()) > listsBefore, { timeoutMs: 30_000, description: 'the operator to list StandbySites again' });
  // Reconciled from the new spec: the status names the new generation and the standby has grown.
  await waitForSite(n, site, (s) => s.status?.observedGeneration === generation + 1, 'the change made during the outage reconciled');
  await waitFor(
    async () => (await kubectlJson<{ spec: { replicas: number } }>(['-n', n, 'get', 'statefulset', `${site}-standby`])).spec.replicas === 2,
    { timeoutMs: 30_000, description: 'the standby StatefulSet scaled to the replicas of the change' },
  );
  expect(op.child.exitCode).toBeNull();
});

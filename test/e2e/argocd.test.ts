// The Argo CD health check (integrations/argocd/.../health.lua) run by a real Lua 5.1 over
// StandbySites the real operator brought into each state. With STANDBY_CAPTURE_ARGOCD=1 the
// objects are also written to the check's testdata/ (as Argo CD keeps them), from real runs.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { apply, createNamespace, deleteNamespace, kubectl } from '../cluster/helpers.ts';
import { HEALTH_DIR, health } from '../tools/support/argocd-health.ts';
import { condition, failPrimaryPods, getSite, installCrd, startOperator, statefulPrimary, waitForSite, type OperatorProcess, type SiteObject } from './support/operator.ts';

const CAPTURE = process.env.STANDBY_CAPTURE_ARGOCD === '1';
const namespaces: string[] = [];
let op: OperatorProcess;
let ns = '';

function site(name: string, tier: string, extra: string, promotion = 'mode: automatic, failureThreshold: 2s'): string {
  return `apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: ${name}}
spec:
  tier: ${tier}
  primary: {workload: {kind: StatefulSet, name: ${name}}, service: ${name}}
  promotion: {${promotion}}
${extra}`;
}

/** The object as Argo CD sees it (no managedFields), kept as testdata when capturing. */
async function judged(s: SiteObject, testdata: string) {
  const obj = { apiVersion: 'standby.dev/v1alpha1', kind: 'StandbySite', metadata: { name: s.metadata.name, namespace: 'shop', generation: s.metadata.generation }, spec: s.spec, status: s.status };
  if (CAPTURE) {
    const header = `# A StandbySite as the operator left it in test/e2e/argocd.test.ts (${new Date().toISOString().slice(0, 10)}; namespace renamed).\n`;
    await writeFile(join(HEALTH_DIR, 'testdata', `${testdata}.yaml`), header + stringify(obj));
  }
  return health(obj);
}

beforeAll(async () => {
  await installCrd();
  ns = await createNamespace('argocd');
  namespaces.push(ns);
  op = await startOperator({ namespaces: [ns], name: 'argocd' });
});

afterAll(async () => {
  expect(await op.stop(), `operator exit code (log: ${op.logFile})`).toBe(0);
  for (const n of namespaces) await deleteNamespace(n);
});

describe('Argo CD health of real StandbySites', () => {
  test('Protected -> Healthy, with the Ready message', async () => {
    await apply(statefulPrimary('db'), ns);
    await apply(site('db', 'hot', '  hot: {replicas: 1}\n'), ns);
    const s = await waitForSite(ns, 'db', (x) => x.status?.phase === 'Protected', 'Protected');
    expect(await judged(s, 'e2e-protected')).toEqual({ status: 'Healthy', message: condition(s, 'Ready')!.message });
  });

  test('waiting for its first copy -> Progressing (this operator writes no Reconciling condition yet)', async () => {
    await apply(statefulPrimary('files'), ns);
    await apply(site('files', 'warm', '  warm: {schedule: "*/15 * * * *"}\n'), ns);
    const s = await waitForSite(ns, 'files', (x) => x.status?.phase === 'Pending' && condition(x, 'Ready') !== undefined, 'Pending');
    expect(await judged(s, 'e2e-first-copy-pending')).toEqual({ status: 'Progressing', message: condition(s, 'Ready')!.message });
  });

  test('a fenced primary that came back -> Degraded, saying so', async () => {
    await apply(statefulPrimary('orders'), ns);
    await apply(site('orders', 'hot', '', 'mode: automatic, failureThreshold: 2s, fencing: scaleDown'), ns);
    await waitForSite(ns, 'orders', (x) => x.status?.phase === 'Protected', 'Protected');
    await failPrimaryPods(ns, 'orders');
    await waitForSite(ns, 'orders', (x) => condition(x, 'FencingHolds')?.status === 'True', 'promoted and fenced', 30_000);
    await kubectl(['-n', ns, 'scale', 'statefulset', 'orders', '--replicas=1']);
    const s = await waitForSite(ns, 'orders', (x) => condition(x, 'FencingHolds')?.status === 'False', 'the returned primary reported', 30_000);
    expect(await judged(s, 'e2e-fenced-primary-returned')).toEqual({
      status: 'Degraded',
      message: `The old primary is no longer fenced: ${condition(s, 'FencingHolds')!.message}`,
    });
  });

  test('Promoting -> Progressing; a spec the operator has not seen -> Progressing; Promoted', async () => {
    const n = await createNamespace('argocd-promo');
    namespaces.push(n);
    // This operator stops right after the fence went up, leaving the promotion half way.
    const first = await startOperator({ namespaces: [n], name: 'argocd-crash', env: { STANDBY_TEST_EXIT_AFTER_STEP: 'Fencing' } });
    await apply(statefulPrimary('db'), n);
    await apply(site('db', 'hot', ''), n);
    await waitForSite(n, 'db', (x) => x.status?.phase === 'Protected', 'Protected');
    await failPrimaryPods(n, 'db');
    expect(await first.exited).toBe(75);
    const promoting = await getSite(n, 'db');
    expect(promoting.status?.phase).toBe('Promoting');
    expect(await judged(promoting, 'e2e-promoting')).toEqual({ status: 'Progressing', message: condition(promoting, 'Ready')!.message });

    // A spec change while no operator runs: the status is for the previous generation.
    await kubectl(['-n', n, 'patch', 'standbysite', 'db', '--type=merge', '-p', '{"spec":{"promotion":{"stepTimeout":"4m"}}}']);
    const stale = await getSite(n, 'db');
    expect(stale.metadata.generation).toBe((promoting.metadata.generation ?? 0) + 1);
    expect(await judged(stale, 'e2e-generation-not-observed')).toEqual({
      status: 'Progressing',
      message: `Waiting for the operator to act on generation ${stale.metadata.generation} (the status is for generation ${promoting.metadata.generation})`,
    });

    const second = await startOperator({ namespaces: [n], name: 'argocd-resume' });
    try {
      const promoted = await waitForSite(n, 'db', (x) => x.status?.phase === 'Promoted' && x.status.observedGeneration === stale.metadata.generation, 'Promoted', 30_000);
      // Not Ready (nothing protects it) and, without kstatus conditions, not known to be stuck.
      expect(await judged(promoted, 'e2e-promoted')).toEqual({ status: 'Progressing', message: condition(promoted, 'Ready')!.message });
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });
});

// GitOps self-heal against a `fencing: scaleDown` site, on the real control plane with the
// generic engine (hot tier): after a promotion the operator has scaled the user's primary
// StatefulSet to 0; a GitOps tool with self-heal (Argo CD, Flux) puts the replicas of the
// repository back, as `kubectl scale` does here. That must start the re-protection of the old
// primary, not a fight: the operator never scales the workload down again (no spec change, no
// pod deleted by the StatefulSet controller over a window), and the site ends Protected with the
// standby serving and the old primary following it.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { apply, createNamespace, deleteNamespace, kubectl, kubectlJson, waitFor } from '../cluster/helpers.ts';
import { condition, getSite, installCrd, podNames, setPodReady, startOperator, statefulPrimary, waitForSite, type OperatorProcess, type SiteObject } from './support/operator.ts';

let n: string;
let op: OperatorProcess;

beforeAll(async () => {
  await installCrd();
  n = await createNamespace('gitops-heal');
  op = await startOperator({ namespaces: [n], name: 'gitops-heal' });
});

afterAll(async () => {
  const code = await op.stop();
  expect(code, `operator exit code (log: ${op.logFile})`).toBe(0);
  await deleteNamespace(n);
});

const job = (name: string) => `{spec: {restartPolicy: Never, containers: [{name: ${name}, image: "example.invalid/${name}:1"}]}}`;

const SITE = `apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: db}
spec:
  tier: hot
  hot: {replicas: 1}
  primary: {workload: {kind: StatefulSet, name: db}, service: db}
  promotion: {mode: automatic, failureThreshold: 3s, fencing: scaleDown, maxPromotions: {count: 5, window: 1h}, failback: {mode: manual}}
  engine:
    type: generic
    generic:
      reprotectJobTemplate: ${job('follow')}
      failbackJobTemplate: ${job('catchup')}
`;

interface Sts {
  metadata: { generation: number };
  spec: { replicas: number };
}

const statefulSet = () => kubectlJson<Sts>(['-n', n, 'get', 'statefulset', 'db']);

interface Event {
  reason: string;
  message: string;
  count?: number;
  involvedObject: { kind: string; name: string };
}

async function events(): Promise<Event[]> {
  return (await kubectlJson<{ items: Event[] }>(['-n', n, 'get', 'events'])).items;
}

const count = (all: Event[], kind: string, reason: string) => all.filter((e) => e.involvedObject.kind === kind && e.reason === reason).reduce((sum, e) => sum + (e.count ?? 1), 0);

const reprotectedOnStandby = (s: SiteObject) => s.status?.phase === 'Protected' && s.status.active === 'standby' && s.status.reprotection?.of === 'primary' && s.status.reprotection.state === 'Protected';

test('a scaleDown-fenced primary scaled back up by GitOps self-heal is re-protected, not scaled down again', { timeout: 240_000 }, async () => {
  await apply(statefulPrimary('db', { replicas: 1 }), n);
  await apply(SITE, n);
  const first = await waitForSite(n, 'db', (s) => s.status?.phase === 'Protected', 'Protected');

  const pods = await podNames(n, 'app=db');
  expect(pods.length).toBeGreaterThan(0);
  for (const p of pods) await setPodReady(n, p, false);
  await waitForSite(n, 'db', (s) => s.status?.promotion?.state === 'Promoted' && s.status.active === 'standby', 'promoted', 30_000);
  // The fence: the user's StatefulSet at 0, its pods gone.
  await waitFor(async () => (await statefulSet()).spec.replicas === 0 && (await podNames(n, 'app=db')).length === 0, { timeoutMs: 30_000, description: 'the primary scaled to 0' });
  const fenced = await statefulSet();
  const scaledDownBefore = count(await events(), 'StatefulSet', 'SuccessfulDelete');
  expect(scaledDownBefore).toBeGreaterThan(0);

  // GitOps self-heal: the repository says 1 replica.
  await kubectl(['-n', n, 'scale', 'statefulset', 'db', '--replicas=1']);
  const healed = await statefulSet();
  expect(healed.spec.replicas).toBe(1);
  expect(healed.metadata.generation).toBe(fenced.metadata.generation + 1);

  const r = await waitForSite(n, 'db', reprotectedOnStandby, 're-protected on the standby', 90_000);
  expect(r.status?.reprotection).toMatchObject({ of: 'primary', trigger: 'automatic', method: 'job' });
  expect(condition(r, 'Ready')).toMatchObject({ status: 'True', reason: 'Protected' });
  expect(condition(r, 'FailbackReady')).toMatchObject({ status: 'True' });
  expect((await kubectlJson<{ spec: { selector: Record<string, string> } }>(['-n', n, 'get', 'service', 'db-active'])).spec.selector).toEqual({
    'standby.dev/site': 'db',
    'standby.dev/role': 'standby',
  });

  // A window after re-protection: nothing scales the workload again, the site stays where it is
  // (checked every half second; any sample that differs fails the test).
  const until = Date.now() + 15_000;
  while (Date.now() < until) {
    const sts = await statefulSet();
    expect(sts.spec.replicas).toBe(1);
    expect(sts.metadata.generation, 'a spec change of the primary StatefulSet after the self-heal').toBe(healed.metadata.generation);
    const s = await getSite(n, 'db');
    expect(reprotectedOnStandby(s), JSON.stringify(s.status?.conditions)).toBe(true);
    await new Promise((res) => setTimeout(res, 500));
  }

  const all = await events();
  // No pod of the primary was deleted after the self-heal: the StatefulSet controller would have said so.
  expect(count(all, 'StatefulSet', 'SuccessfulDelete'), JSON.stringify(all.filter((e) => e.involvedObject.kind === 'StatefulSet'))).toBe(scaledDownBefore);
  const site = (reason: string) => count(all, 'StandbySite', reason);
  expect(site('PromotionStarted')).toBe(1);
  expect(site('ReprotectStarted')).toBe(1);
  expect(site('Reprotected')).toBe(1);
  // The returned primary is the one re-protection takes up, not a fence that failed.
  expect(site('FencedPrimaryReturned'), JSON.stringify(all.filter((e) => e.reason === 'FencedPrimaryReturned'))).toBe(0);
  expect(condition(r, 'FencingHolds')?.reason).not.toBe('PrimaryReturned');
  // Nothing written to the spec.
  expect(r.metadata.generation).toBe(first.metadata.generation);
});

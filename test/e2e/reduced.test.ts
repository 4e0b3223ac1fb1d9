// A standby at reduced capacity (spec.standby.resources, issue #20) against the real control plane
// (kwok nodes): a hot standby of a 1 CPU / 1Gi primary stands by at 250m / 256Mi, which its pods
// and status.cost show; the primary fails; the promotion switches traffic, then grows the
// standby's template and pods to the primary's requests, and ends Promoted. The API server offers
// in-place pod resize (pods/resize) but refuses it for a pod on a kwok node ("Pod running on node
// without support for resize"): this is the fallback to the rolling update, recorded as such.
// The in-place growth itself is tested on a real kubelet (test/realpods/resize.test.ts).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { apply, createNamespace, deleteNamespace, kubectl, kubectlJson, waitFor } from '../cluster/helpers.ts';
import { installCrd, podNames, setPodReady, startOperator, waitForSite, type OperatorProcess, type SiteObject } from './support/operator.ts';

const Mi = 2 ** 20;
const Gi = 2 ** 30;

let op: OperatorProcess;
let ns = '';
let refused = '';
/** What the run measured, printed at the end (the README's paragraph comes from it). */
const measured: Record<string, unknown> = {};

beforeAll(async () => {
  await installCrd();
  ns = await createNamespace('reduced');
  refused = await createNamespace('reduced-bad');
  op = await startOperator({ namespaces: [ns, refused], name: 'reduced' });
});

afterAll(async () => {
  console.log(`reduced standby e2e figures: ${JSON.stringify(measured, null, 2)}`);
  const code = await op.stop();
  expect(code, `operator exit code (log: ${op.logFile})`).toBe(0);
  await deleteNamespace(ns);
  await deleteNamespace(refused);
});

const FULL = { requests: { cpu: '1', memory: '1Gi' }, limits: { memory: '1Gi' } };

const primary = `
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  selector: {app: db}
  ports: [{name: main, port: 5432, targetPort: 5432}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 1
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
        - name: main
          image: example.invalid/db:1
          ports: [{containerPort: 5432}]
          resources: {requests: {cpu: "1", memory: 1Gi}, limits: {memory: 1Gi}}
`;

const site = (tier: string, standby: string, extra = '') => `apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: db}
spec:
  tier: ${tier}
  primary: {workload: {kind: StatefulSet, name: db}, service: db}
  promotion: {mode: automatic, failureThreshold: 3s}
  standby: ${standby}
${extra}`;

interface PodList {
  items: { metadata: { name: string; deletionTimestamp?: string }; spec: { containers: { name: string; resources?: object }[] }; status?: { conditions?: { type: string; status: string }[] } }[];
}
interface Sts {
  spec: { replicas: number; template: { spec: { containers: { name: string; resources?: object }[] } } };
}

const standbyPods = async () => (await kubectlJson<PodList>(['-n', ns, 'get', 'pods', '-l', 'standby.dev/site=db,standby.dev/role=standby'])).items;
const mainOf = (p: { spec: { containers: { name: string; resources?: object }[] } }) => p.spec.containers.find((c) => c.name === 'main')?.resources;
const ready = (p: PodList['items'][number]) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

describe('a hot standby at reduced capacity', () => {
  test('stands by at 250m / 256Mi: its template, its pods and status.cost show the reduced requests', async () => {
    await apply(primary, ns);
    await apply(site('hot', '{resources: {main: {requests: {cpu: 250m, memory: 256Mi}, limits: {memory: 256Mi}}}}', '  hot: {replicas: 1, maxLag: 10s}\n'), ns);
    const s = await waitForSite(ns, 'db', (x) => x.status?.phase === 'Protected' && x.status.cost?.cpu === 0.25, 'reduced hot site Protected with its cost', 120_000);
    const sts = await kubectlJson<Sts>(['-n', ns, 'get', 'statefulset', 'db-standby']);
    expect(mainOf(sts.spec.template)).toEqual({ requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '256Mi' } });
    const pods = await waitFor(async () => {
      const p = await standbyPods();
      return p.length === 1 && p.every(ready) ? p : undefined;
    }, { timeoutMs: 60_000, description: 'the standby pod Ready' });
    expect(mainOf(pods[0]!)).toEqual({ requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '256Mi' } });
    // The primary keeps its own.
    expect(mainOf((await kubectlJson<Sts>(['-n', ns, 'get', 'statefulset', 'db'])).spec.template)).toEqual(FULL);
    expect(s.status?.cost).toMatchObject({ cpu: 0.25, memory: 256 * Mi, storage: 0 });
    expect(s.status?.cost?.whatIf?.hot).toMatchObject({ cpu: 0.25, memory: 256 * Mi });
    measured.standingBy = { template: mainOf(sts.spec.template), cost: s.status?.cost };
    // The API server offers in-place pod resize: the operator tries it first (then falls back, below).
    const core = JSON.parse(await kubectl(['get', '--raw', '/api/v1'])) as { resources: { name: string }[] };
    expect(core.resources.some((r) => r.name === 'pods/resize')).toBe(true);
  });

  test("the primary fails: promoted, traffic switched, then the standby's template and pods grow to the primary's requests", async () => {
    const failedAt = Date.now();
    for (const p of await podNames(ns, 'app=db')) await setPodReady(ns, p, false);
    const s = await waitForSite(ns, 'db', (x: SiteObject) => x.status?.promotion?.state === 'Promoted', 'the reduced hot site promoted', 90_000).catch(async (e: unknown) => {
      console.log(await kubectl(['-n', ns, 'get', 'sts', 'db-standby', '-o', 'yaml']));
      console.log(await kubectl(['-n', ns, 'get', 'pods', '-o', 'yaml']));
      throw e;
    });
    const p = s.status!.promotion!;
    expect(p.growthFailed, p.message).toBeUndefined();
    expect(p.grow).toBe(true);
    // Tried in place, refused by the API server for a pod on a kwok node: grown by a rolling update.
    expect(p.growth).toBe('RollingUpdate');
    expect(p.growthNote).toContain('node without support for resize');
    // Growing came after the switch.
    expect(new Date(p.grownAt!).getTime()).toBeGreaterThanOrEqual(new Date(p.switchedAt!).getTime());
    expect(s.status?.active).toBe('standby');
    expect((await kubectlJson<{ spec: { selector: Record<string, string> } }>(['-n', ns, 'get', 'service', 'db-active'])).spec.selector).toEqual({
      'standby.dev/site': 'db',
      'standby.dev/role': 'standby',
    });
    const sts = await kubectlJson<Sts>(['-n', ns, 'get', 'statefulset', 'db-standby']);
    expect(mainOf(sts.spec.template)).toEqual(FULL);
    const pods = (await standbyPods()).filter((x) => !x.metadata.deletionTimestamp);
    expect(pods).toHaveLength(1);
    expect(pods.every(ready)).toBe(true);
    expect(mainOf(pods[0]!)).toEqual(FULL);
    const grown = await kubectlJson<{ items: { message: string }[] }>(['-n', ns, 'get', 'events', '--field-selector', 'reason=Grown']);
    expect(grown.items).toHaveLength(1);
    const after = await waitForSite(ns, 'db', (x) => x.status?.cost?.cpu === 1, "status.cost with the grown standby's requests", 60_000);
    expect(after.status?.cost).toMatchObject({ cpu: 1, memory: 1 * Gi });
    measured.promotion = {
      failedToPromotedSeconds: (new Date(p.completedAt!).getTime() - failedAt) / 1000,
      switchedToGrownSeconds: (new Date(p.grownAt!).getTime() - new Date(p.switchedAt!).getTime()) / 1000,
      durationSeconds: p.durationSeconds,
      growth: p.growth,
      growthNote: p.growthNote,
      template: mainOf(sts.spec.template),
      cost: { cpu: after.status?.cost?.cpu, memory: after.status?.cost?.memory },
    };
    // The operator does not shrink the standby that serves, nor touch it again.
    await new Promise((r) => setTimeout(r, 5000));
    expect(mainOf((await kubectlJson<Sts>(['-n', ns, 'get', 'statefulset', 'db-standby'])).spec.template)).toEqual(FULL);
  });
});

describe('the API server refuses a bad standby.resources, naming the field', () => {
  const refusedWith = async (manifest: string) => {
    try {
      await apply(manifest, refused);
    } catch (err) {
      return (err as Error).message;
    }
    await kubectl(['-n', refused, 'delete', 'standbysite', 'db', '--ignore-not-found']);
    return 'accepted';
  };

  test.each([
    ['a request of zero', 'hot', '{resources: {main: {requests: {cpu: "0"}}}}', 'spec.standby.resources[main].requests.cpu', 'must be more than zero'],
    ['a limit below its request', 'hot', '{resources: {main: {requests: {memory: 512Mi}, limits: {memory: 256Mi}}}}', 'spec.standby.resources[main].limits.memory', 'must not be below requests.memory'],
    ['resources on the cold tier', 'cold', '{resources: {main: {requests: {cpu: 250m}}}}', 'spec.standby.resources', 'cannot be used with tier cold'],
  ])('%s', async (_name, tier, standby, field, words) => {
    const extra = tier === 'cold' ? '  cold: {schedule: "0 2 * * *"}\n' : '';
    const msg = await refusedWith(site(tier, standby, extra));
    expect(msg).toContain(field);
    expect(msg).toContain(words);
  });

  test('a smaller standby on the warm tier is accepted', async () => {
    expect(await refusedWith(site('warm', '{resources: {main: {requests: {cpu: 100m}}}}', '  warm: {schedule: "*/15 * * * *"}\n'))).toBe('accepted');
  });
});

// In-place growth of a promoted standby on a real kubelet node (issue #20): a hot generic standby
// stands by at reduced requests and limits; the primary's readiness fails; the operator promotes
// it and grows its pod in place through the pods' resize subresource. The container is not
// restarted (same pod UID, same container ID, restart count and start time) and the kubelet
// reports the primary's resources (containerStatuses[].resources, allocatedResources), which
// the container's cgroup shows too. A standby pod recreated afterwards (from the template, which
// keeps the reduced resources) is resized again by the operator.
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, test } from 'vitest';
import { apply, kubectl, kubectlJson, waitFor } from '../cluster/helpers.ts';
import { run } from '../cluster/common.ts';
import { startOperator, waitForSite } from '../e2e/support/operator.ts';
import { createRealNamespace, images, suiteResources, waitReady } from './support.ts';

const SITE = 'app';
const FULL = { requests: { cpu: '200m', memory: '96Mi' }, limits: { memory: '96Mi' } };
const SMALL = { requests: { cpu: '50m', memory: '32Mi' }, limits: { memory: '32Mi' } };
const Mi = 2 ** 20;

const { operators, namespaces } = suiteResources();
/** What the run measured, printed at the end (the README's figures come from it). */
const measured: Record<string, unknown> = {};

const primary = (shell: string) => `
apiVersion: v1
kind: Service
metadata: {name: ${SITE}}
spec:
  selector: {app: ${SITE}}
  ports: [{name: main, port: 8080}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: ${SITE}}
spec:
  replicas: 1
  serviceName: ${SITE}
  selector: {matchLabels: {app: ${SITE}}}
  template:
    metadata: {labels: {app: ${SITE}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: ${shell}
          command: [sh, -c, 'trap "exit 0" TERM; while true; do sleep 1; done']
          resources: ${JSON.stringify(FULL)}
          readinessProbe:
            exec: {command: [sh, -c, 'test ! -e /tmp/fail']}
            periodSeconds: 1
            failureThreshold: 1
`;

const site = `
apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: ${SITE}}
spec:
  tier: hot
  primary: {workload: {kind: StatefulSet, name: ${SITE}}, service: ${SITE}}
  hot: {replicas: 1, maxLag: 10s}
  standby: {resources: {main: ${JSON.stringify(SMALL)}}}
  promotion: {mode: automatic, failureThreshold: 3s, stepTimeout: 2m, maxPromotions: {count: 1, window: 1h}}
`;

interface ContainerStatus {
  name: string;
  containerID?: string;
  restartCount: number;
  state?: { running?: { startedAt: string } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  allocatedResources?: Record<string, string>;
}
interface PodView {
  metadata: { name: string; uid: string };
  spec: { nodeName?: string; containers: { name: string; resources?: object }[] };
  status: { conditions?: { type: string; status: string }[]; containerStatuses?: ContainerStatus[] };
}

const getPod = (ns: string, name: string) => kubectlJson<PodView>(['-n', ns, 'get', 'pod', name]);
const main = (p: PodView) => p.status.containerStatuses?.find((c) => c.name === 'main');
const asked = (p: PodView) => p.spec.containers.find((c) => c.name === 'main')?.resources;

/** The memory limit the kernel enforces on the container (cgroup v1 memory hierarchy). */
async function memoryLimit(containerID: string): Promise<number> {
  const id = containerID.replace(/^containerd:\/\//, '');
  const found = await run('find', ['/sys/fs/cgroup/memory', '-type', 'd', '-name', id]);
  const dir = found.stdout.trim().split('\n')[0];
  if (!dir) throw new Error(`no memory cgroup for container ${id}`);
  return Number((await run('cat', [`${dir}/memory.limit_in_bytes`])).stdout.trim());
}

describe('a hot generic standby at reduced capacity on a real node', () => {
  let ns = '';

  test('stands by at 50m / 32Mi, its container limited to 32Mi by its cgroup', async () => {
    ns = await createRealNamespace('resize');
    namespaces.push(ns);
    await apply(primary(images().shell), ns);
    const p = await waitReady(ns, `${SITE}-0`, 120_000);
    expect(p.spec.nodeName).toBe('real-node-0');
    operators.push(await startOperator({ namespaces: [ns], env: { OPERATOR_IMAGE: images().operator }, name: 'realpods-resize' }));
    await apply(site, ns);
    await waitForSite(ns, SITE, (s) => s.status?.phase === 'Protected', 'the reduced hot site Protected', 180_000);
    await waitReady(ns, `${SITE}-standby-0`, 120_000);
    const s = await getPod(ns, `${SITE}-standby-0`);
    expect(s.spec.nodeName).toBe('real-node-0');
    expect(asked(s)).toEqual(SMALL);
    expect(main(s)?.resources).toEqual(SMALL);
    expect(await memoryLimit(main(s)!.containerID!)).toBe(32 * Mi);
  });

  test("the primary fails: promoted, and the standby's pod grows in place to the primary's resources without a restart", async () => {
    const before = await getPod(ns, `${SITE}-standby-0`);
    const b = main(before)!;
    const failedAt = Date.now();
    await kubectl(['-n', ns, 'exec', `${SITE}-0`, '-c', 'main', '--', 'touch', '/tmp/fail']);
    const promoted = await waitForSite(ns, SITE, (x) => x.status?.promotion?.state === 'Promoted', 'the reduced hot site promoted', 180_000);
    const p = promoted.status!.promotion!;
    expect(p.growthFailed, p.message).toBeUndefined();
    expect(p.growth, p.growthNote).toBe('InPlace');
    expect(p.growthNote).toContain('keeps the reduced resources');

    const after = await getPod(ns, `${SITE}-standby-0`);
    const a = main(after)!;
    // The same pod and the same container, never restarted.
    expect(after.metadata.uid).toBe(before.metadata.uid);
    expect(a.containerID).toBe(b.containerID);
    expect(a.restartCount).toBe(b.restartCount);
    expect(a.state?.running?.startedAt).toBe(b.state?.running?.startedAt);
    // What it asks for, what the kubelet allocated and applied, and what the kernel enforces: the primary's.
    expect(asked(after)).toEqual(FULL);
    expect(a.resources).toEqual(FULL);
    expect(a.allocatedResources).toEqual(FULL.requests);
    expect(await memoryLimit(a.containerID!)).toBe(96 * Mi);
    // The template keeps the reduced resources: changing it would have replaced the pod.
    const sts = await kubectlJson<{ spec: { template: { spec: { containers: { name: string; resources?: object }[] } } } }>(['-n', ns, 'get', 'statefulset', `${SITE}-standby`]);
    expect(sts.spec.template.spec.containers.find((c) => c.name === 'main')?.resources).toEqual(SMALL);
    measured.inPlace = {
      failedToPromotedSeconds: (new Date(p.completedAt!).getTime() - failedAt) / 1000,
      switchedToGrownSeconds: (new Date(p.grownAt!).getTime() - new Date(p.switchedAt!).getTime()) / 1000,
      durationSeconds: p.durationSeconds,
      restartCount: a.restartCount,
      resources: a.resources,
    };
  });

  test('a standby pod recreated while it serves starts reduced and is resized in place again', async () => {
    const before = await getPod(ns, `${SITE}-standby-0`);
    const deletedAt = Date.now();
    await kubectl(['-n', ns, 'delete', 'pod', `${SITE}-standby-0`, '--wait=true']);
    const grown = await waitFor(async () => {
      const p = await getPod(ns, `${SITE}-standby-0`).catch(() => undefined);
      if (!p || p.metadata.uid === before.metadata.uid) return undefined;
      const m = main(p);
      return m?.state?.running && isDeepStrictEqual(m.resources, FULL) ? p : undefined;
    }, { timeoutMs: 120_000, intervalMs: 1_000, description: "the recreated standby pod resized to the primary's resources" });
    expect(asked(grown)).toEqual(FULL);
    expect(main(grown)!.restartCount).toBe(0);
    expect(await memoryLimit(main(grown)!.containerID!)).toBe(96 * Mi);
    measured.recreatedToGrownSeconds = (Date.now() - deletedAt) / 1000;
    console.log(`realpods resize figures: ${JSON.stringify(measured, null, 2)}`);
  });
});

// The test control plane itself (test/cluster/): the parts the operator relies on behave as
// in a real cluster. Runs against the control plane of the e2e global setup.
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { apply, createNamespace, deleteNamespace, kubectl, kubectlJson, waitFor } from '../cluster/helpers.ts';

interface Condition { type: string; status: string; reason?: string }
interface Pod {
  metadata: { name: string; uid: string; ownerReferences?: { kind: string; name: string }[] };
  spec: { nodeName?: string };
  status: { phase?: string; podIP?: string; conditions?: Condition[] };
}
interface List<T> { items: T[] }
interface Job { metadata: { name: string; ownerReferences?: { kind: string; name: string }[] }; status: { conditions?: Condition[]; succeeded?: number } }
interface Pvc { spec: { storageClassName?: string; volumeName?: string }; status: { phase?: string } }
interface Pv { metadata: { annotations?: Record<string, string> }; spec: { claimRef?: { name?: string; namespace?: string } } }
interface VolumeSnapshot { status?: { readyToUse?: boolean; boundVolumeSnapshotContentName?: string; restoreSize?: string; creationTime?: string } }
interface VolumeSnapshotContent { spec: { driver: string; volumeSnapshotRef: { name: string; namespace: string } }; status?: { readyToUse?: boolean } }
interface EndpointSlice { endpoints?: { addresses: string[]; conditions?: { ready?: boolean }; targetRef?: { name?: string } }[] }

const isReady = (p: Pod): boolean => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
const readyCondition = (p: Pod): string | undefined => p.status.conditions?.find((c) => c.type === 'Ready')?.status;

let ns = '';

function podManifest(name: string, labels: Record<string, string>): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels },
    spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] },
  });
}

async function getPod(name: string): Promise<Pod> {
  return kubectlJson<Pod>(['-n', ns, 'get', 'pod', name]);
}

async function waitPodReady(name: string): Promise<Pod> {
  return waitFor(async () => {
    const p = await getPod(name);
    return p.status.phase === 'Running' && isReady(p) && p.status.podIP ? p : undefined;
  }, { timeoutMs: 60_000, description: `pod ${name} Running and Ready` });
}

/** Sets the pod's Ready condition through the /status subresource, as a kubelet would. */
async function setPodReady(name: string, ready: boolean): Promise<void> {
  const status = ready ? 'True' : 'False';
  const patch = { status: { conditions: [{ type: 'Ready', status, reason: ready ? '' : 'TestMadeNotReady' }, { type: 'ContainersReady', status }] } };
  await kubectl(['-n', ns, 'patch', 'pod', name, '--subresource=status', '--type=strategic', '-p', JSON.stringify(patch)]);
}

beforeAll(async () => {
  ns = await createNamespace('cluster-e2e');
  await waitFor(async () => (await kubectl(['-n', ns, 'get', 'serviceaccount', 'default', '-o', 'name'])).trim() !== '', {
    timeoutMs: 30_000, description: 'the default ServiceAccount in the test namespace',
  });
  // Created first: its first Job fires at the next minute boundary while the other tests run.
  await apply(JSON.stringify({
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'tick' },
    spec: {
      schedule: '* * * * *',
      concurrencyPolicy: 'Forbid',
      jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'tick', image: 'registry.invalid/tick:1' }] } } } },
    },
  }), ns);
});

afterAll(async () => {
  if (ns) await deleteNamespace(ns);
});

describe('test control plane', () => {
  test('kubectl get nodes shows Ready nodes and /version reports the stamped version', { timeout: 120_000 }, async () => {
    const nodes = await kubectl(['get', 'nodes', '--no-headers']);
    expect(nodes).toMatch(/^kwok-node-0\s+Ready\s/m);

    const expected = inject('kubernetesVersion');
    expect(expected).toMatch(/^v1\.36\.\d+$/);
    const server = JSON.parse(await kubectl(['get', '--raw', '/version'])) as { gitVersion: string; major: string; minor: string };
    expect(server.gitVersion).toBe(expected);
    expect(server.major).toBe('1');
    expect(server.minor).toBe('36');
    const client = JSON.parse(await kubectl(['version', '--client', '-o', 'json'])) as { clientVersion: { gitVersion: string } };
    expect(client.clientVersion.gitVersion).toBe(expected);
  });

  test('a StatefulSet with 2 replicas gets Running, Ready pods with IPs', async () => {
    await apply(JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'web' },
      spec: {
        serviceName: 'web',
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'registry.invalid/web:1' }] } },
      },
    }), ns);
    const pods = await waitFor(async () => {
      const list = await kubectlJson<List<Pod>>(['-n', ns, 'get', 'pods', '-l', 'app=web']);
      const ok = list.items.filter((p) => p.status.phase === 'Running' && isReady(p) && p.status.podIP);
      return ok.length === 2 ? ok : undefined;
    }, { timeoutMs: 90_000, description: 'two Ready web pods' });
    expect(pods.map((p) => p.metadata.name).sort()).toEqual(['web-0', 'web-1']);
    for (const p of pods) {
      expect(p.status.podIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(p.spec.nodeName).toMatch(/^kwok-node-\d$/);
    }
    expect(new Set(pods.map((p) => p.status.podIP)).size).toBe(2);
    await waitFor(async () => (await kubectlJson<{ status: { readyReplicas?: number } }>(['-n', ns, 'get', 'statefulset', 'web'])).status.readyReplicas === 2,
      { timeoutMs: 30_000, description: 'statefulset web readyReplicas=2' });

    // A deleted pod goes away (kwok's pod-delete stage) and the StatefulSet replaces it.
    const old = pods.find((p) => p.metadata.name === 'web-0');
    await kubectl(['-n', ns, 'delete', 'pod', 'web-0', '--wait=true', '--timeout=60s']);
    const replaced = await waitFor(async () => {
      const p = await getPod('web-0');
      return p.metadata.uid !== old?.metadata.uid && p.status.phase === 'Running' && isReady(p) ? p : undefined;
    }, { timeoutMs: 60_000, description: 'web-0 replaced by a new Ready pod' });
    expect(replaced.metadata.uid).not.toBe(old?.metadata.uid);
  });

  test('a CronJob every minute fires a Job whose pod completes and the Job becomes Complete', { timeout: 200_000 }, async () => {
    const job = await waitFor(async () => {
      const jobs = await kubectlJson<List<Job>>(['-n', ns, 'get', 'jobs']);
      return jobs.items.find((j) => j.metadata.ownerReferences?.some((o) => o.kind === 'CronJob' && o.name === 'tick')
        && j.status.conditions?.some((c) => c.type === 'Complete' && c.status === 'True'));
    }, { timeoutMs: 150_000, intervalMs: 2_000, description: 'a Complete Job created by CronJob tick' });
    expect(job.status.succeeded).toBe(1);
    const pods = await kubectlJson<List<Pod>>(['-n', ns, 'get', 'pods', '-l', `job-name=${job.metadata.name}`]);
    expect(pods.items.length).toBeGreaterThanOrEqual(1);
    expect(pods.items.some((p) => p.status.phase === 'Succeeded')).toBe(true);
    const cron = await waitFor(async () => {
      const c = await kubectlJson<{ status: { lastSuccessfulTime?: string } }>(['-n', ns, 'get', 'cronjob', 'tick']);
      return c.status.lastSuccessfulTime === undefined ? undefined : c;
    }, { timeoutMs: 30_000, description: 'cronjob tick lastSuccessfulTime' });
    expect(Date.parse(cron.status.lastSuccessfulTime ?? '')).not.toBeNaN();
  });

  test('Ready=False patched through /status sticks and is seen by a watch', { timeout: 90_000 }, async () => {
    await apply(podManifest('flip', { app: 'flip' }), ns);
    const before = await waitPodReady('flip');

    const kc = new KubeConfig();
    kc.loadFromFile(inject('kubeconfig'));
    const seen: string[] = [];
    const timeout = (ms: number, what: string): Promise<never> => new Promise((_, reject) => {
      setTimeout(() => { reject(new Error(`${what}; watch events: ${seen.join(', ')}`)); }, ms);
    });
    let addedSeen: () => void = () => undefined;
    let notReadySeen: () => void = () => undefined;
    const added = new Promise<void>((r) => { addedSeen = r; });
    const notReady = new Promise<void>((r) => { notReadySeen = r; });
    const controller = await new Watch(kc).watch(`/api/v1/namespaces/${ns}/pods`, { fieldSelector: 'metadata.name=flip' },
      (phase: string, obj: unknown) => {
        const ready = readyCondition(obj as Pod) ?? 'unknown';
        seen.push(`${phase}:${ready}`);
        if (phase === 'ADDED') addedSeen();
        if (phase === 'MODIFIED' && ready === 'False') notReadySeen();
      }, () => undefined);
    try {
      await Promise.race([added, timeout(10_000, 'the watch delivered no ADDED event')]);
      await setPodReady('flip', false);
      await Promise.race([notReady, timeout(15_000, 'the watch saw no Ready=False event')]);

      // kwok must not flip it back: sample for 20 s.
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const p = await getPod('flip');
        expect(readyCondition(p)).toBe('False');
        expect(p.metadata.uid).toBe(before.metadata.uid);
        await new Promise((r) => setTimeout(r, 1_000));
      }
      const afterFlip = seen.slice(seen.indexOf('MODIFIED:False'));
      expect(afterFlip).not.toContain('MODIFIED:True');

      // ...and a test can make it Ready again.
      await setPodReady('flip', true);
      await waitPodReady('flip');
    } finally {
      controller.abort();
    }
  });

  test('a PVC of the default class binds, a VolumeSnapshot of it becomes ready, and a PVC restored from it binds', { timeout: 120_000 }, async () => {
    await apply(JSON.stringify({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'data' },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    }), ns);
    const pvc = await waitFor(async () => {
      const c = await kubectlJson<Pvc>(['-n', ns, 'get', 'pvc', 'data']);
      return c.status.phase === 'Bound' ? c : undefined;
    }, { timeoutMs: 60_000, description: 'PVC data Bound' });
    expect(pvc.spec.storageClassName).toBe('standard');
    const pv = await kubectlJson<Pv>(['get', 'pv', pvc.spec.volumeName ?? '']);
    expect(pv.spec.claimRef).toMatchObject({ name: 'data', namespace: ns });

    await apply(JSON.stringify({
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshot',
      metadata: { name: 'data-snap' },
      spec: { volumeSnapshotClassName: 'fake-snapclass', source: { persistentVolumeClaimName: 'data' } },
    }), ns);
    const snap = await waitFor(async () => {
      const s = await kubectlJson<VolumeSnapshot>(['-n', ns, 'get', 'volumesnapshot', 'data-snap']);
      return s.status?.readyToUse === true ? s : undefined;
    }, { timeoutMs: 60_000, description: 'VolumeSnapshot data-snap readyToUse' });
    expect(snap.status?.restoreSize).toBe('1Gi');
    expect(Date.parse(snap.status?.creationTime ?? '')).not.toBeNaN();
    const content = await kubectlJson<VolumeSnapshotContent>(['get', 'volumesnapshotcontent', snap.status?.boundVolumeSnapshotContentName ?? '']);
    expect(content.spec.driver).toBe('fake.standby.dev');
    expect(content.spec.volumeSnapshotRef).toMatchObject({ name: 'data-snap', namespace: ns });
    expect(content.status?.readyToUse).toBe(true);

    await apply(JSON.stringify({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'restored' },
      spec: {
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: '1Gi' } },
        dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'data-snap' },
      },
    }), ns);
    const restored = await waitFor(async () => {
      const c = await kubectlJson<Pvc>(['-n', ns, 'get', 'pvc', 'restored']);
      return c.status.phase === 'Bound' ? c : undefined;
    }, { timeoutMs: 60_000, description: 'PVC restored Bound' });
    const restoredPv = await kubectlJson<Pv>(['get', 'pv', restored.spec.volumeName ?? '']);
    expect(restoredPv.metadata.annotations?.['fake.standby.dev/data-source']).toBe(`VolumeSnapshot/${ns}/data-snap`);
  });

  test('a delayed VolumeSnapshot is not ready until its delay passes, and a restore waits for it', { timeout: 120_000 }, async () => {
    await apply(JSON.stringify({
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshot',
      metadata: { name: 'slow-snap', annotations: { 'fake.standby.dev/snapshot-delay': '8s' } },
      spec: { volumeSnapshotClassName: 'fake-snapclass', source: { persistentVolumeClaimName: 'data' } },
    }), ns);
    await apply(JSON.stringify({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'slow-restore' },
      spec: {
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: '1Gi' } },
        dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'slow-snap' },
      },
    }), ns);
    const bound = await waitFor(async () => {
      const s = await kubectlJson<VolumeSnapshot>(['-n', ns, 'get', 'volumesnapshot', 'slow-snap']);
      return s.status?.boundVolumeSnapshotContentName ? s : undefined;
    }, { timeoutMs: 30_000, description: 'VolumeSnapshot slow-snap bound to a content' });
    expect(bound.status?.readyToUse).toBe(false);
    expect((await kubectlJson<Pvc>(['-n', ns, 'get', 'pvc', 'slow-restore'])).status.phase).toBe('Pending');
    await waitFor(async () => (await kubectlJson<VolumeSnapshot>(['-n', ns, 'get', 'volumesnapshot', 'slow-snap'])).status?.readyToUse === true,
      { timeoutMs: 40_000, description: 'VolumeSnapshot slow-snap readyToUse' });
    await waitFor(async () => (await kubectlJson<Pvc>(['-n', ns, 'get', 'pvc', 'slow-restore'])).status.phase === 'Bound',
      { timeoutMs: 40_000, description: 'PVC slow-restore Bound' });
  });

  test('an EndpointSlice of a Service lists the Ready pod and drops it when the pod is not Ready', { timeout: 120_000 }, async () => {
    await apply(podManifest('ep-0', { app: 'ep' }), ns);
    await apply(JSON.stringify({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'ep' },
      spec: { selector: { app: 'ep' }, ports: [{ port: 80, targetPort: 8080 }] },
    }), ns);
    const pod = await waitPodReady('ep-0');
    const ip = pod.status.podIP ?? '';
    const endpointOf = async (): Promise<{ ready: boolean | undefined } | undefined> => {
      const slices = await kubectlJson<List<EndpointSlice>>(['-n', ns, 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=ep']);
      const ep = slices.items.flatMap((s) => s.endpoints ?? []).find((e) => e.targetRef?.name === 'ep-0');
      if (ep === undefined) return undefined;
      expect(ep.addresses).toEqual([ip]);
      return { ready: ep.conditions?.ready };
    };
    await waitFor(async () => (await endpointOf())?.ready === true, { timeoutMs: 60_000, description: 'ep-0 listed as a ready endpoint' });

    await setPodReady('ep-0', false);
    await waitFor(async () => {
      const ep = await endpointOf();
      return ep === undefined || ep.ready === false;
    }, { timeoutMs: 60_000, description: 'ep-0 no longer a ready endpoint' });
    expect(readyCondition(await getPod('ep-0'))).toBe('False');
  });
});

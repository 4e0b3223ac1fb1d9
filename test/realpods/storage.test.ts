// The fake storage holds data on real nodes: a pod writes files to a volume, a VolumeSnapshot
// copies them, and a volume restored from the snapshot or cloned from the PVC has the same
// bytes (sha256sum -c in a pod), while later writes to the source do not reach the snapshot.
import { afterAll, describe, expect, test } from 'vitest';
import { apply, deleteNamespace, kubectlJson, waitFor } from '../cluster/helpers.ts';
import { createRealNamespace, images, logs, pod } from './support.ts';

const namespaces: string[] = [];

afterAll(async () => {
  for (const ns of namespaces) await deleteNamespace(ns);
});

function claim(name: string, source?: { kind: 'VolumeSnapshot' | 'PersistentVolumeClaim'; name: string }): string {
  const dataSource = source === undefined
    ? ''
    : `  dataSource: {kind: ${source.kind}, name: ${source.name}${source.kind === 'VolumeSnapshot' ? ', apiGroup: snapshot.storage.k8s.io' : ''}}\n`;
  return `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: ${name}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
${dataSource}`;
}

function shellPod(name: string, claimName: string, script: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      restartPolicy: 'Never',
      containers: [{ name: 'sh', image: images().shell, command: ['sh', '-c', script], volumeMounts: [{ name: 'v', mountPath: '/v' }] }],
      volumes: [{ name: 'v', persistentVolumeClaim: { claimName } }],
    },
  });
}

/** Runs a shell pod on a claim to completion and returns its output (throws with it on failure). */
async function runPod(ns: string, name: string, claimName: string, script: string): Promise<string> {
  await apply(shellPod(name, claimName, script), ns);
  const phase = await waitFor(async () => {
    const p = await pod(ns, name);
    return p.status.phase === 'Succeeded' || p.status.phase === 'Failed' ? p.status.phase : undefined;
  }, { timeoutMs: 180_000, intervalMs: 1_000, description: `pod ${name} to finish` });
  const out = await logs(ns, name, 'sh');
  if (phase !== 'Succeeded') throw new Error(`pod ${name} failed:\n${out}`);
  return out;
}

describe('fake storage on a real node', () => {
  test('a snapshot, a restore from it and a clone hold the bytes the pod wrote (checksums)', async () => {
    const ns = await createRealNamespace('rp-storage');
    namespaces.push(ns);
    await apply(claim('source'), ns);
    await runPod(ns, 'writer', 'source', [
      'set -e',
      'mkdir -p /v/dir/nested',
      'head -c 4194304 /dev/urandom > /v/dir/random.bin',
      'head -c 65536 /dev/urandom > /v/dir/nested/small.bin',
      'echo hello > /v/hello.txt',
      'cd /v && sha256sum hello.txt dir/random.bin dir/nested/small.bin > /v/SUMS && cat /v/SUMS',
    ].join('\n'));

    await apply(`apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: snap}
spec: {source: {persistentVolumeClaimName: source}}
`, ns);
    await waitFor(async () => (await kubectlJson<{ status?: { readyToUse?: boolean } }>(['-n', ns, 'get', 'volumesnapshot', 'snap'])).status?.readyToUse === true,
      { timeoutMs: 60_000, description: 'the VolumeSnapshot to be ready' });
    // Changed after the snapshot: the restore must not see it, the clone (taken now) must.
    const changed = await runPod(ns, 'changer', 'source', 'set -e; echo changed > /v/hello.txt; cd /v && sha256sum hello.txt');

    await apply(claim('restored', { kind: 'VolumeSnapshot', name: 'snap' }), ns);
    const restored = await runPod(ns, 'check-restored', 'restored', 'set -e; cd /v && sha256sum -c SUMS');
    expect(restored).toMatch(/hello\.txt: OK/);
    expect(restored).toMatch(/dir\/random\.bin: OK/);
    expect(restored).toMatch(/dir\/nested\/small\.bin: OK/);

    await apply(claim('cloned', { kind: 'PersistentVolumeClaim', name: 'source' }), ns);
    const cloned = await runPod(ns, 'check-cloned', 'cloned', 'cd /v && sha256sum -c SUMS; sha256sum hello.txt');
    expect(cloned).toMatch(/dir\/random\.bin: OK/);
    expect(cloned).toMatch(/hello\.txt: FAILED/); // the clone has the change made after the snapshot
    expect(cloned).toContain(changed.trim());
  });
});

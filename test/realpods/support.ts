// Helpers of the real-pod tests: namespaces whose pods land on the real node, the PostgreSQL
// primary they protect (the test image, a real readiness probe), a client that writes numbered
// rows through a Service and remembers which the server acknowledged, and ways to make the
// primary fail (kill its container through containerd, or make its readiness probe fail).
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, inject } from 'vitest';
import { deleteNamespace, kubectl, kubectlJson, waitFor } from '../cluster/helpers.ts';
import { installCrd, type OperatorProcess } from '../e2e/support/operator.ts';
import { run } from '../cluster/common.ts';
import { REAL_NAMESPACE_ANNOTATIONS, type RealNodesState } from '../cluster/real-node.ts';
import { FAIL_READINESS_FILE, postgresPrimary as primaryManifests } from './workload.ts';

export { connect, PGDATA, query, REPLICATION, RowWriter, SUPERUSER } from './workload.ts';

export function realNodes(): RealNodesState {
  const r = inject('realNodes');
  if (!r) throw new Error('the realpods project runs against a control plane with real nodes (test/realpods/global-setup.ts)');
  return r;
}

export function images(): RealNodesState['images'] {
  return realNodes().images;
}

/** A namespace whose every pod (the operator's Jobs included) runs on the real node. */
export async function createRealNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${Date.now().toString(36)}`;
  const annotations = Object.entries(REAL_NAMESPACE_ANNOTATIONS).map(([k, v]) => `    ${k}: '${v}'`).join('\n');
  await kubectl(['apply', '-f', '-'], { input: `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n  annotations:\n${annotations}\n` });
  return name;
}

/** The primary's manifests (workload.ts) in the test image built for this run. */
export function postgresPrimary(name: string, o: { tlsSecret?: string } = {}): string {
  return primaryManifests(name, images().postgres, o);
}

interface PodView {
  metadata: { name: string; labels?: Record<string, string> };
  spec: { nodeName?: string };
  status: {
    podIP?: string;
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; containerID?: string; ready: boolean; restartCount: number }[];
    initContainerStatuses?: { name: string; state?: { terminated?: { exitCode: number } } }[];
  };
}

export async function pod(ns: string, name: string): Promise<PodView> {
  return kubectlJson<PodView>(['-n', ns, 'get', 'pod', name]);
}

export function isReady(p: PodView): boolean {
  return p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

export async function waitReady(ns: string, name: string, timeoutMs = 300_000): Promise<PodView> {
  return waitFor(async () => {
    const p = await pod(ns, name);
    return isReady(p) ? p : undefined;
  }, { timeoutMs, intervalMs: 1_000, description: `pod ${ns}/${name} to be Ready` });
}

/** The ClusterIP of a Service. */
export async function clusterIP(ns: string, service: string): Promise<string> {
  const svc = await kubectlJson<{ spec: { clusterIP: string } }>(['-n', ns, 'get', 'service', service]);
  return svc.spec.clusterIP;
}

/** The host folder behind a PVC (the fake storage's hostPath PV). */
export async function claimFolder(ns: string, claim: string): Promise<string> {
  const pvc = await kubectlJson<{ spec: { volumeName?: string } }>(['-n', ns, 'get', 'pvc', claim]);
  if (!pvc.spec.volumeName) throw new Error(`PVC ${ns}/${claim} is not bound`);
  const pv = await kubectlJson<{ spec: { hostPath?: { path: string } } }>(['get', 'pv', pvc.spec.volumeName]);
  if (!pv.spec.hostPath) throw new Error(`PV ${pvc.spec.volumeName} is not a hostPath volume`);
  return pv.spec.hostPath.path;
}

/** Makes the primary's readiness probe fail (the server keeps running). */
export async function failReadiness(ns: string, claim: string): Promise<void> {
  const folder = await claimFolder(ns, claim);
  if (!existsSync(folder)) throw new Error(`volume folder ${folder} does not exist`);
  await writeFile(join(folder, FAIL_READINESS_FILE), 'the test made this primary fail its readiness probe\n');
}

/** Makes the primary's readiness probe pass again (undoes failReadiness: the server recovered). */
export async function restoreReadiness(ns: string, claim: string): Promise<void> {
  await rm(join(await claimFolder(ns, claim), FAIL_READINESS_FILE), { force: true });
}

/** SIGKILLs a container's processes through the node's containerd (as an OOM kill or a crash would). */
export async function killContainer(ns: string, podName: string, container: string): Promise<string> {
  const p = await pod(ns, podName);
  const id = p.status.containerStatuses?.find((c) => c.name === container)?.containerID?.replace(/^containerd:\/\//, '');
  if (!id) throw new Error(`pod ${ns}/${podName} has no running container ${container}`);
  const node = p.spec.nodeName ?? '';
  const sock = realNodes().containerd[node];
  if (!sock) throw new Error(`pod ${ns}/${podName} runs on ${node}, not on a real node`);
  const res = await run('ctr', ['--address', sock, '--namespace', 'k8s.io', 'tasks', 'kill', '--signal', 'SIGKILL', id]);
  if (res.code !== 0 && !/not found|process already finished/i.test(res.stderr)) throw new Error(`ctr tasks kill ${id}: ${res.stderr}`);
  return id;
}

/** Logs of a pod's container, through the kubelet. */
export async function logs(ns: string, podName: string, container: string): Promise<string> {
  return kubectl(['-n', ns, 'logs', podName, '-c', container]);
}

/**
 * From a fresh pod on the real node (not selected by any policy), whether each address accepts
 * PostgreSQL connections on 5432 (pg_isready). Enforced NetworkPolicies decide what it reaches.
 */
export async function reachableFromPod(ns: string, addresses: string[]): Promise<Record<string, boolean>> {
  const name = `probe-${Date.now().toString(36)}`;
  const script = addresses.map((a) => `if pg_isready --host ${a} --port 5432 --timeout 5 >/dev/null; then echo "${a} open"; else echo "${a} closed"; fi`).join('; ');
  await kubectl(['-n', ns, 'apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels: { app: 'probe' } },
      spec: { restartPolicy: 'Never', securityContext: { runAsUser: 999 }, containers: [{ name: 'probe', image: images().postgres, command: ['sh', '-c', script] }] },
    }),
  });
  await waitFor(async () => {
    const p = await pod(ns, name);
    if (p.status.phase === 'Failed') throw new Error(`probe pod failed`);
    return p.status.phase === 'Succeeded';
  }, { timeoutMs: 120_000, intervalMs: 1_000, description: `probe pod ${ns}/${name} to finish` });
  const out = await logs(ns, name, 'probe');
  const result: Record<string, boolean> = {};
  for (const a of addresses) result[a] = new RegExp(`^${a.replaceAll('.', '\\.')} open$`, 'm').test(out);
  return result;
}

/**
 * A realpods file's operators and namespaces: the CRD is installed before its tests; what they
 * push here is stopped and deleted after them.
 */
export function suiteResources(): { operators: OperatorProcess[]; namespaces: string[] } {
  const operators: OperatorProcess[] = [];
  const namespaces: string[] = [];
  beforeAll(async () => {
    await installCrd();
  });
  afterAll(async () => {
    for (const o of operators) await o.stop();
    for (const ns of namespaces) await deleteNamespace(ns);
  });
  return { operators, namespaces };
}

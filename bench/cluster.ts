// A dedicated control plane for one benchmark size, in its own temporary state
// folder (never <repo>/.cluster/): started with the e2e tests' startControlPlane,
// given the StandbySite CRD and enough kwok nodes for the size's pods, stopped
// at the end, on failure and on SIGINT.
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { fetch } from 'undici';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, tail } from '../test/cluster/common.ts';
import { startControlPlane, stopControlPlane, type ClusterState } from '../test/cluster/control-plane.ts';
import { KubeClient } from '../src/k8s/client.ts';
import { loadConnection } from '../src/k8s/connection.ts';
import type { Resource } from '../src/k8s/resources.ts';
import type { KubeObject } from '../src/k8s/types.ts';
import { log, now, onCleanup, waitUntil } from './common.ts';
import { parseMetrics, procStats, type Sample } from './operator-process.ts';

/** Pods one bench node takes (the control plane's own two nodes take 250 each). */
export const PODS_PER_NODE = 1000;
const STATE_PREFIX = 'standby-bench-';
const NODE: Resource = { group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false };

export interface BenchCluster {
  state: ClusterState;
  client: KubeClient;
  kubeconfig: string;
  startupMs: number;
  /** CPU seconds of each control-plane process (etcd, kube-apiserver, ...) so far. */
  cpuSeconds(): Record<string, number>;
  /** The control plane's CA certificate (PEM). */
  ca: string;
  /** kube-apiserver's own /metrics. */
  apiServerMetrics(): Promise<Sample[]>;
  stop(): Promise<void>;
}

interface NodeView extends KubeObject {
  status?: { conditions?: { type?: string; status?: string }[] };
}

/** Starts a control plane with room for `pods` pods and the CRD from `crdDir`. */
export async function startCluster(pods: number, crdDir: string): Promise<BenchCluster> {
  const started = now();
  const stateDir = await mkdtemp(join(tmpdir(), STATE_PREFIX));
  log(`starting a control plane in ${stateDir}`);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    unregister();
    const t = now();
    const res = await stopControlPlane(stateDir);
    log(`control plane stopped (${res.stopped.join(', ')}) in ${Math.round(now() - t)} ms; ${stateDir} removed`);
  };
  const unregister = onCleanup(`control plane ${stateDir}`, stop);
  try {
    const state = await startControlPlane({ stateDir, owner: 'bench' });
    const client = new KubeClient(await loadConnection(state.kubeconfig), { userAgent: 'standby-bench' });
    await installCrd(state, crdDir);
    await addNodes(client, pods);
    const startupMs = now() - started;
    log(`control plane ${state.kubernetesVersion} ready at ${state.server} in ${Math.round(startupMs / 1000)} s`);
    return {
      state,
      client,
      kubeconfig: state.kubeconfig,
      startupMs,
      ca: readFileSync(join(stateDir, 'pki', 'ca.crt'), 'utf8'),
      cpuSeconds: () => {
        const out: Record<string, number> = {};
        for (const p of state.processes) {
          const s = procStats(p.pid);
          if (s) out[p.name] = s.cpuSeconds;
        }
        return out;
      },
      apiServerMetrics: async () => {
        const url = `${client.server}/metrics`;
        const res = await fetch(url, { headers: await client.connection.headers(url), dispatcher: client.connection.dispatcher });
        if (!res.ok) throw new Error(`kube-apiserver /metrics answered ${res.status}`);
        return parseMetrics(await res.text());
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function installCrd(state: ClusterState, crdDir: string): Promise<void> {
  const kubectl = (args: string[]) => run(state.bin.kubectl, ['--kubeconfig', state.kubeconfig, ...args], { timeoutMs: 120_000 });
  const applied = await kubectl(['apply', '--server-side', '--force-conflicts', '-f', crdDir]);
  if (applied.code !== 0) throw new Error(`installing the StandbySite CRD failed: ${tail(applied.stderr, 3)}`);
  // kubectl wait fails at once on a CRD whose status has no conditions yet (".status.conditions
  // accessor error"), which a loaded API server shows for a moment: asked again.
  let established = await kubectl(['wait', '--for=condition=Established', 'crd/standbysites.standby.dev', '--timeout=60s']);
  for (let i = 0; i < 5 && established.code !== 0 && /accessor error/.test(established.stderr); i++) {
    await new Promise((r) => setTimeout(r, 1000));
    established = await kubectl(['wait', '--for=condition=Established', 'crd/standbysites.standby.dev', '--timeout=60s']);
  }
  if (established.code !== 0) throw new Error(`the StandbySite CRD was not established: ${tail(established.stderr, 3)}`);
}

/** Adds kwok-managed nodes (PODS_PER_NODE pods each) until `pods` pods fit, and waits until they are Ready. */
async function addNodes(client: KubeClient, pods: number): Promise<void> {
  const count = Math.max(0, Math.ceil((pods * 1.2 - 500) / PODS_PER_NODE));
  if (count === 0) return;
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `bench-node-${i}`;
    names.push(name);
    await client.create(NODE, {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        labels: {
          'kubernetes.io/hostname': name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          type: 'kwok',
          'topology.kubernetes.io/zone': `zone-${i % 2 === 0 ? 'a' : 'b'}`,
        },
      },
      status: {
        allocatable: { cpu: '256', memory: '1Ti', pods: String(PODS_PER_NODE) },
        capacity: { cpu: '256', memory: '1Ti', pods: String(PODS_PER_NODE) },
      },
    } as KubeObject);
  }
  await waitUntil(`${count} bench nodes to be Ready`, 120_000, async () => {
    const { items } = await client.list<NodeView>(NODE, undefined);
    const ready = items.filter((n) => names.includes(n.metadata?.name ?? '') && n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    return ready.length === count;
  });
  log(`added ${count} kwok nodes of ${PODS_PER_NODE} pods`);
}

// vitest globalSetup of the e2e project. Reuses a healthy control plane started by
// `npm run cluster:up` (found through KUBECONFIG or <repo>/.cluster/kubeconfig) and leaves it
// running; otherwise builds (cached) and starts a fresh one in a temporary state folder and
// stops it at teardown (STANDBY_E2E_KEEP_STATE=1 keeps that folder, logs included).
//
// Tests get the kubeconfig and binary paths with `inject('kubeconfig')` etc., or through the
// helpers in ./helpers.ts; process.env.KUBECONFIG is set too.
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { defaultStateDir, isAlive, log } from './common.ts';
import { checkHealth, readState, startControlPlane, stopControlPlane, stopProcesses, type ClusterState } from './control-plane.ts';
import type { RealNodesState } from './real-node.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin kubeconfig of the test control plane. */
    kubeconfig: string;
    /** kubectl built at the control plane's Kubernetes version. */
    kubectl: string;
    /** helm built from test/cluster/go/helm. */
    helm: string;
    /** e.g. `v1.36.3`. */
    kubernetesVersion: string;
    /** Whether the tests run against a control plane started by `npm run cluster:up`. */
    clusterReused: boolean;
    /** The control plane's state folder (volumes/, logs/). */
    stateDir: string;
    /** The real nodes (realpods project), or null. */
    realNodes: RealNodesState | null;
  }
}

export interface SetupOptions {
  /** Real nodes the tests need (a reused control plane must have at least as many). */
  realNodes: number;
  /** Prefix of the temporary state folder of a control plane this setup starts. */
  prefix: string;
  /** Name of the vitest project, in messages. */
  label: string;
}

/** A healthy control plane started by `npm run cluster:up`, if KUBECONFIG or .cluster/ points at one. */
async function findRunningCluster(realNodes: number): Promise<ClusterState | undefined> {
  const candidates = new Set<string>();
  const env = process.env.KUBECONFIG;
  if (env !== undefined && env !== '' && !env.includes(':')) candidates.add(dirname(resolve(env)));
  candidates.add(defaultStateDir);
  for (const dir of candidates) {
    const state = await readState(dir);
    if (!state || state.owner !== 'cluster:up') continue;
    if ((state.realNodes?.count ?? 0) < realNodes) {
      log(`not reusing the control plane in ${dir}: it has ${state.realNodes?.count ?? 0} real nodes, these tests need ${realNodes} (npm run cluster:up -- --real-nodes ${realNodes})`);
      continue;
    }
    if (env !== undefined && env !== '' && dir !== defaultStateDir && resolve(env) !== state.kubeconfig) continue;
    const health = await checkHealth(state);
    if (health.ok) return state;
    log(`not reusing the control plane in ${dir}: ${health.reason}`);
  }
  return undefined;
}

/**
 * Stops control planes of earlier runs that died without their teardown (killed vitest), and
 * removes state folders of failed starts after a day (their logs explain the failure).
 */
async function reapStaleRuns(prefix: string): Promise<void> {
  for (const name of await readdir(tmpdir()).catch(() => [])) {
    if (!name.startsWith(prefix)) continue;
    const dir = join(tmpdir(), name);
    const state = await readState(dir);
    if (state) {
      if (isAlive(state.ownerPid)) continue; // another run in progress
      log(`stopping the control plane of a run that ended without teardown (${dir})`);
      await stopControlPlane(dir);
    } else {
      const age = Date.now() - (await stat(dir).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > 24 * 3600_000) await rm(dir, { recursive: true, force: true });
    }
  }
}

function provideAll(project: TestProject, state: ClusterState, reused: boolean): void {
  project.provide('kubeconfig', state.kubeconfig);
  project.provide('kubectl', state.bin.kubectl);
  project.provide('helm', state.bin.helm);
  project.provide('kubernetesVersion', state.kubernetesVersion);
  project.provide('clusterReused', reused);
  project.provide('stateDir', state.stateDir);
  project.provide('realNodes', state.realNodes ?? null);
  process.env.KUBECONFIG = state.kubeconfig;
}

/** A vitest globalSetup that reuses a `cluster:up` control plane or starts one for the run. */
export function clusterSetup(opts: SetupOptions): (project: TestProject) => Promise<() => Promise<void>> {
  return async (project) => {
    const { label } = opts;
    const running = await findRunningCluster(opts.realNodes);
    if (running) {
      log(`${label}: reusing the control plane from \`npm run cluster:up\` at ${running.server} (left running)`);
      provideAll(project, running, true);
      return () => Promise.resolve();
    }

    await reapStaleRuns(opts.prefix);
    const stateDir = await mkdtemp(join(tmpdir(), opts.prefix));
    log(`${label}: starting a control plane for this run in ${stateDir}`);
    // Another run's real nodes (one set per machine) are waited for, not failed on.
    const state = await startControlPlane({ stateDir, owner: 'vitest', realNodes: opts.realNodes, realNodesWaitMs: 20 * 60_000 });
    log(`${label}: control plane ${state.kubernetesVersion} ready at ${state.server}`);
    provideAll(project, state, false);
    return async () => {
      if (process.env.STANDBY_E2E_KEEP_STATE === '1') {
        if (state.realNodes) {
          await stopControlPlane(stateDir); // real nodes hold the host's network and cgroups: never left half-stopped
          log(`${label}: control plane stopped (with real nodes the state folder is not kept)`);
          return;
        }
        await stopProcesses(state.processes);
        log(`${label}: control plane stopped; state kept in ${stateDir}`);
        return;
      }
      await stopControlPlane(stateDir);
      log(`${label}: control plane stopped`);
    };
  };
}

export default clusterSetup({ realNodes: 0, prefix: 'standby-e2e-', label: 'e2e' });

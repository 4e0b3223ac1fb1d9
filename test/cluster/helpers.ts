// Helpers for e2e tests that run against the test control plane (see global-setup.ts).
import { inject } from 'vitest';
import { run } from './common.ts';

export interface ClusterInfo {
  kubeconfig: string;
  kubectl: string;
  helm: string;
  kubernetesVersion: string;
}

/** Paths provided by the e2e global setup. */
export function clusterInfo(): ClusterInfo {
  return {
    kubeconfig: inject('kubeconfig'),
    kubectl: inject('kubectl'),
    helm: inject('helm'),
    kubernetesVersion: inject('kubernetesVersion'),
  };
}

export interface KubectlOptions {
  /** Written to kubectl's stdin (e.g. for `apply -f -`). */
  input?: string;
  timeoutMs?: number;
}

/**
 * Runs the built kubectl against the test control plane and returns its stdout; rejects with
 * kubectl's stderr when it exits non-zero.
 */
export async function kubectl(args: readonly string[], opts: KubectlOptions = {}): Promise<string> {
  const { kubectl: bin, kubeconfig } = clusterInfo();
  const res = await run(bin, ['--kubeconfig', kubeconfig, ...args], { input: opts.input, timeoutMs: opts.timeoutMs ?? 60_000 });
  if (res.code !== 0) {
    throw new Error(`kubectl ${args.join(' ')} failed (exit ${res.code}): ${res.stderr.trim() || res.stdout.trim()}`);
  }
  return res.stdout;
}

/** `kubectl ... -o json`, parsed. */
export async function kubectlJson<T>(args: readonly string[]): Promise<T> {
  return JSON.parse(await kubectl([...args, '-o', 'json'])) as T;
}

/** `kubectl apply -f -` with the given manifest text (YAML or JSON). */
export async function apply(manifest: string, namespace?: string): Promise<string> {
  return kubectl([...(namespace === undefined ? [] : ['-n', namespace]), 'apply', '-f', '-'], { input: manifest });
}

/** Creates a namespace with a unique name; delete it with `deleteNamespace`. */
export async function createNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
  await kubectl(['create', 'namespace', name]);
  return name;
}

/** Starts deleting a namespace (does not wait for its contents to go). */
export async function deleteNamespace(name: string): Promise<void> {
  await kubectl(['delete', 'namespace', name, '--wait=false', '--ignore-not-found']);
}

// waitFor lives in wait.ts, free of vitest, so that scripts (the demo) use it too.
export { waitFor, type WaitOptions } from './wait.ts';

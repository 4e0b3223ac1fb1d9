// Runs the operator as a real process against the test control plane, and
// small helpers the tier and promotion tests share.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { clusterInfo, kubectl, kubectlJson, waitFor } from '../../cluster/helpers.ts';
import { freePort, repoRoot } from '../../cluster/common.ts';
import type { SiteStatus } from '../../../src/api/status.ts';
import { operatorIdentity } from './identity.ts';

export interface OperatorProcess {
  child: ChildProcess;
  healthPort: number;
  logFile: string;
  /** SIGTERM, and wait for the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash. */
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

export interface OperatorStart {
  namespaces: string[];
  env?: Record<string, string>;
  name?: string;
}

const NODE = process.execPath;

/**
 * Starts `standby-operator run` watching the given namespaces, as the Helm chart's
 * ServiceAccount (impersonated), and resolves once /readyz answers 200.
 */
export async function startOperator(o: OperatorStart): Promise<OperatorProcess> {
  const identity = await operatorIdentity();
  const healthPort = await freePort();
  const logDir = join(repoRoot, '.cluster', 'e2e-logs');
  mkdirSync(logDir, { recursive: true });
  // Many namespaces would make a name longer than the file system allows: the first one and a count.
  const scope = o.namespaces.length > 3 ? `${o.namespaces[0]}+${o.namespaces.length - 1}` : o.namespaces.join('_');
  const logFile = join(logDir, `${o.name ?? 'operator'}-${scope}-${Date.now()}.log`);
  const out = createWriteStream(logFile);
  const child = spawn(NODE, [join(repoRoot, 'src/cli/main.ts'), 'run'], {
    env: {
      ...process.env,
      KUBECONFIG: clusterInfo().kubeconfig,
      WATCH_NAMESPACES: o.namespaces.join(','),
      HEALTH_PORT: String(healthPort),
      HEALTH_HOST: '127.0.0.1',
      OPERATOR_IMAGE: 'example.invalid/standby-operator:e2e',
      LOG_LEVEL: 'debug',
      STANDBY_IMPERSONATE: identity.user,
      POD_NAMESPACE: identity.namespace,
      LEASE_NAME: identity.lease,
      ...o.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let dead = false;
  void exited.then(() => (dead = true));
  await waitFor(
    async () => {
      if (dead) throw new Error(`the operator exited during start-up; see ${logFile}`);
      const res = await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined);
      return res?.status === 200;
    },
    { timeoutMs: 60_000, description: `operator /readyz (log: ${logFile})` },
  );
  return {
    child,
    healthPort,
    logFile,
    exited,
    async stop() {
      if (!dead) child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (!dead) child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface SiteObject {
  metadata: { name: string; namespace: string; generation: number; uid: string; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
  status?: SiteStatus;
}

export async function getSite(ns: string, name: string): Promise<SiteObject> {
  return kubectlJson<SiteObject>(['-n', ns, 'get', 'standbysite', name]);
}

export function condition(site: SiteObject, type: string) {
  return site.status?.conditions?.find((c) => c.type === type);
}

/** Waits until the site's status satisfies `ok`, and returns the site. */
export async function waitForSite(
  ns: string,
  name: string,
  ok: (s: SiteObject) => boolean,
  description: string,
  timeoutMs = 60_000,
): Promise<SiteObject> {
  let last: SiteObject | undefined;
  try {
    return await waitFor(
      async () => {
        last = await getSite(ns, name);
        return ok(last) ? last : undefined;
      },
      { timeoutMs, intervalMs: 250, description },
    );
  } catch (err) {
    // What the cluster made of the workloads, so that a slow control plane (a pod created late,
    // a claim not bound) is told apart from an operator that did not act.
    const pods = await kubectl(['-n', ns, 'get', 'pods,pvc', '-o', 'wide']).catch((e: unknown) => (e as Error).message);
    throw new Error(`${(err as Error).message}; last status: ${JSON.stringify(last?.status)}; at ${new Date().toISOString()} the namespace held:\n${pods}`, { cause: err });
  }
}

/** Sets a pod's Ready condition through the /status subresource, as a failing kubelet would. */
export async function setPodReady(ns: string, pod: string, ready: boolean): Promise<void> {
  const status = ready ? 'True' : 'False';
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  await kubectl([
    '-n',
    ns,
    'patch',
    'pod',
    pod,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({
      status: {
        conditions: [
          { type: 'Ready', status, lastTransitionTime: now },
          { type: 'ContainersReady', status, lastTransitionTime: now },
        ],
      },
    }),
  ]);
}

/** Makes every pod of a primary (label app=<name>) not Ready. */
export async function failPrimaryPods(ns: string, name: string): Promise<void> {
  for (const p of await podNames(ns, `app=${name}`)) await setPodReady(ns, p, false);
}

/** Pod names in a namespace matching a label selector. */
export async function podNames(ns: string, selector: string): Promise<string[]> {
  const list = await kubectlJson<{ items: { metadata: { name: string } }[] }>(['-n', ns, 'get', 'pods', '-l', selector]);
  return list.items.map((p) => p.metadata.name);
}

/** Installs (or updates) the StandbySite CRD and waits until it is served. */
export async function installCrd(): Promise<void> {
  // Test files install it concurrently: an apply that loses a race is tried again.
  await waitFor(async () => (await kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(repoRoot, 'crds')]), true), {
    timeoutMs: 60_000,
    description: 'the StandbySite CRD applied',
  });
  // `kubectl wait --for=condition=Established` fails at once while a new CRD has no status yet.
  await waitFor(
    async () => {
      const crd = await kubectlJson<{ status?: { conditions?: { type: string; status: string }[] } }>(['get', 'crd', 'standbysites.standby.dev']);
      return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') === true;
    },
    { timeoutMs: 60_000, description: 'the StandbySite CRD Established' },
  );
}

/** Runs one of the operator's copy subcommands (snapshot, sync) on the host, as the CronJob's pod would. */
export async function runCopy(what: 'snapshot' | 'sync', ns: string, site: string, timeoutSeconds = 60): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(NODE, [join(repoRoot, 'src/cli/main.ts'), what, '--site', `${ns}/${site}`, '--timeout', String(timeoutSeconds)], {
      env: { ...process.env, KUBECONFIG: clusterInfo().kubeconfig },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** The result a copy subcommand prints as its last line (log lines come before it). */
export function lastJson(stdout: string): unknown {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] ?? 'null');
}

/** A primary: a StatefulSet with one data volume and its Service, as YAML. */
export function statefulPrimary(name: string, opts: { replicas?: number; volume?: boolean; resources?: string } = {}): string {
  return `
apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec:
  selector: {app: ${name}}
  ports: [{name: main, port: 5432, targetPort: 5432}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: ${name}}
spec:
  replicas: ${opts.replicas ?? 1}
  serviceName: ${name}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}, team: data}}
    spec:
      containers:
        - name: main
          image: example.invalid/db:1
          ports: [{containerPort: 5432}]
${opts.resources ? `          resources: ${opts.resources}\n` : ''}${
  opts.volume === false
    ? ''
    : `          volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 1Gi}}`
}
`;
}

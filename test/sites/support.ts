// For the cross-site tests: kubectl against one site, the chart rendered with the built helm, the
// operator's identity in the standby's cluster (the chart's RBAC, impersonated), the chart's
// remoteAccess in the primary's cluster turned into the kubeconfig Secret by the operator's own
// remote-kubeconfig subcommand, and the operator run as a real process inside the standby site's
// network namespace (so a partition cuts it off from the primary's API server for real).
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { SiteStatus } from '../../src/api/status.ts';
import { freePort, repoRoot, run, type RunResult } from '../cluster/common.ts';
import { waitFor } from '../cluster/helpers.ts';
import { spawnInSite, type SiteRecord } from '../cluster/sites.ts';

export interface ChartObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [field: string]: unknown;
}

/** kubectl against one site's API server (from the runner); rejects with stderr on failure. */
export async function kubectl(s: SiteRecord, args: readonly string[], input?: string): Promise<string> {
  const res = await run(inject('sitesKubectl'), ['--kubeconfig', s.kubeconfig, ...args], { timeoutMs: 60_000, ...(input === undefined ? {} : { input }) });
  if (res.code !== 0) throw new Error(`kubectl (${s.name}) ${args.join(' ')} failed: ${res.stderr.trim() || res.stdout.trim()}`);
  return res.stdout;
}

export async function kubectlJson<T>(s: SiteRecord, args: readonly string[]): Promise<T> {
  return JSON.parse(await kubectl(s, [...args, '-o', 'json'])) as T;
}

export function apply(s: SiteRecord, manifest: string, namespace?: string): Promise<string> {
  return kubectl(s, [...(namespace ? ['-n', namespace] : []), 'apply', '-f', '-'], manifest);
}

let helmHome: Promise<string> | undefined;

export async function renderChart(release: string, namespace: string, args: readonly string[] = []): Promise<ChartObject[]> {
  helmHome ??= mkdtemp(join(tmpdir(), 'standby-helm-'));
  const h = await helmHome;
  const res = await run(inject('sitesHelm'), ['template', release, join(repoRoot, 'charts/standby-operator'), '--namespace', namespace, ...args], {
    env: { ...process.env, HELM_CACHE_HOME: join(h, 'c'), HELM_CONFIG_HOME: join(h, 'f'), HELM_DATA_HOME: join(h, 'd') },
    timeoutMs: 60_000,
  });
  if (res.code !== 0) throw new Error(`helm template failed: ${res.stderr}`);
  return parseAllDocuments(res.stdout)
    .map((d) => d.toJS() as ChartObject | null)
    .filter((o): o is ChartObject => o?.kind !== undefined);
}

async function applyObjects(s: SiteRecord, docs: readonly ChartObject[]): Promise<void> {
  await kubectl(s, ['apply', '--server-side', '--force-conflicts', '-f', '-'], docs.map((d) => JSON.stringify(d)).join('\n---\n'));
}

export async function installCrd(s: SiteRecord): Promise<void> {
  await kubectl(s, ['apply', '--server-side', '--force-conflicts', '-f', join(repoRoot, 'crds')]);
  // Polled rather than `kubectl wait`, which fails on a CRD whose status has no conditions yet.
  await waitFor(
    async () => (await kubectl(s, ['get', 'crd', 'standbysites.standby.dev', '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}'])).trim() === 'True',
    { timeoutMs: 60_000, description: 'the StandbySite CRD Established' },
  );
}

export interface Identity {
  user: string;
  namespace: string;
  lease: string;
}

/** The chart's operator ServiceAccount and RBAC in a site (all namespaces), for impersonation. */
export async function operatorIdentity(s: SiteRecord): Promise<Identity> {
  const kinds = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);
  const docs = (await renderChart('sites', 'standby-system')).filter((o) => kinds.has(o.kind));
  await kubectl(s, ['create', 'namespace', 'standby-system']).catch(() => '');
  await applyObjects(s, docs);
  const sa = docs.find((d) => d.kind === 'ServiceAccount')!.metadata.name;
  return { user: `system:serviceaccount:standby-system:${sa}`, namespace: 'standby-system', lease: 'sites-standby-operator-leader' };
}

/**
 * The chart's remoteAccess in the primary's cluster for these namespaces, and the kubeconfig the
 * operator's remote-kubeconfig subcommand makes from its token: what a user puts in the Secret.
 */
export async function remoteAccess(primary: SiteRecord, namespaces: readonly string[], o: { externalDNS?: boolean } = {}): Promise<{ kubeconfig: string; docs: ChartObject[] }> {
  const docs = await renderChart('remote', 'standby-remote', [
    '--set', 'remoteAccess.enabled=true',
    '--set', `remoteAccess.namespaces={${namespaces.join(',')}}`,
    ...(o.externalDNS ? ['--set', 'remoteAccess.externalDNS=true'] : []),
  ]);
  await kubectl(primary, ['create', 'namespace', 'standby-remote']).catch(() => '');
  for (const ns of namespaces) await kubectl(primary, ['create', 'namespace', ns]).catch(() => '');
  await applyObjects(primary, docs);
  const sa = docs.find((d) => d.kind === 'ServiceAccount')!.metadata.name;
  // The token controller fills the Secret.
  await waitFor(async () => (await kubectl(primary, ['-n', 'standby-remote', 'get', 'secret', `${sa}-token`, '-o', 'jsonpath={.data.token}'])).length > 0, {
    timeoutMs: 60_000,
    description: 'the remote access token',
  });
  const made = await run(process.execPath, [join(repoRoot, 'src/cli/main.ts'), 'remote-kubeconfig', '--kubeconfig', primary.kubeconfig, '--namespace', 'standby-remote', '--service-account', sa, '--primary-namespace', namespaces[0] ?? 'default'], { timeoutMs: 60_000 });
  if (made.code !== 0) throw new Error(`remote-kubeconfig failed: ${made.stderr}`);
  return { kubeconfig: made.stdout, docs };
}

export interface SiteOperator {
  logFile: string;
  healthUrl: string;
  stop(): Promise<void>;
  /** SIGKILL: a crash, nothing shut down in order. */
  kill(): Promise<void>;
  /** The operator's JSON log lines. */
  logLines(): Record<string, unknown>[];
}

/** `standby-operator run` inside a site's network namespace, as the chart's ServiceAccount there. */
export async function startOperatorIn(s: SiteRecord, identity: Identity, namespaces: readonly string[], env: Record<string, string> = {}): Promise<SiteOperator> {
  const port = await freePort();
  const logDir = join(repoRoot, '.cluster', 'e2e-logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `sites-operator-${s.name}-${Date.now()}.log`);
  const out = createWriteStream(logFile);
  const child = spawnInSite(s, process.execPath, [join(repoRoot, 'src/cli/main.ts'), 'run'], {
    env: {
      ...process.env,
      KUBECONFIG: s.kubeconfig,
      WATCH_NAMESPACES: namespaces.join(','),
      HEALTH_PORT: String(port),
      HEALTH_HOST: s.address,
      OPERATOR_IMAGE: 'example.invalid/standby-operator:sites',
      LOG_LEVEL: 'debug',
      STANDBY_IMPERSONATE: identity.user,
      POD_NAMESPACE: identity.namespace,
      LEASE_NAME: identity.lease,
      REMOTE_PROBE_INTERVAL_MS: '1000',
      REMOTE_PROBE_TIMEOUT_MS: '1500',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  let dead = false;
  const exited = new Promise<void>((resolve) =>
    child.on('exit', () => {
      dead = true;
      resolve();
    }),
  );
  const healthUrl = `http://${s.address}:${port}`;
  await waitFor(
    async () => {
      if (dead) throw new Error(`the operator exited during start-up; see ${logFile}`);
      return (await fetch(`${healthUrl}/readyz`).catch(() => undefined))?.status === 200;
    },
    { timeoutMs: 60_000, description: `operator /readyz (log: ${logFile})` },
  );
  return {
    logFile,
    healthUrl,
    async stop() {
      if (!dead) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (!dead) child.kill('SIGKILL');
      await exited;
    },
    logLines() {
      return readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    },
  };
}

export interface SiteObject {
  metadata: { name: string; namespace: string; generation: number; annotations?: Record<string, string> };
  status?: SiteStatus;
}

export function condition(site: SiteObject | undefined, type: string) {
  return site?.status?.conditions?.find((c) => c.type === type);
}

/** Waits until the StandbySite's status satisfies `ok`. */
export async function waitForSite(s: SiteRecord, ns: string, name: string, ok: (x: SiteObject) => boolean, description: string, timeoutMs = 90_000): Promise<SiteObject> {
  let last: SiteObject | undefined;
  try {
    return await waitFor(
      async () => {
        last = await kubectlJson<SiteObject>(s, ['-n', ns, 'get', 'standbysite', name]);
        return ok(last) ? last : undefined;
      },
      { timeoutMs, intervalMs: 500, description },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last status: ${JSON.stringify(last?.status)}`, { cause: err });
  }
}

/** Events of an object (reason: message), oldest first. */
export async function eventsOf(s: SiteRecord, ns: string, name: string): Promise<{ reason: string; message: string }[]> {
  const list = await kubectlJson<{ items: { reason: string; message: string; involvedObject: { name: string } }[] }>(s, ['-n', ns, 'get', 'events']);
  return list.items.filter((e) => e.involvedObject.name === name).map((e) => ({ reason: e.reason, message: e.message }));
}

/** A StatefulSet primary with one volume and its Service, as YAML. */
export function statefulPrimary(name: string): string {
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
  replicas: 1
  serviceName: ${name}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers:
        - name: main
          image: example.invalid/db:1
          ports: [{containerPort: 5432}]
          volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 1Gi}}
`;
}

export type { RunResult };

// What the cross-site tests and `npm run demo -- --sites` do to the sites, free of vitest: kubectl
// against one site, the chart rendered with the built helm, the operator's identity in the
// standby's cluster (the chart's RBAC, impersonated), the chart's remoteAccess in the primary's
// cluster turned into the kubeconfig Secret by the operator's own remote-kubeconfig subcommand, and
// the operator run as a real process inside the standby site's network namespace (so a partition
// cuts it off from the primary's API server for real). test/sites/support.ts binds them to the
// tools of the vitest run.
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { freePort, repoRoot, run } from './common.ts';
import { spawnInSite, type SiteRecord } from './sites.ts';
import { waitFor } from './wait.ts';

/** The built kubectl and helm (test/cluster/build.ts). */
export interface Tools {
  kubectl: string;
  helm: string;
}

export interface ChartObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [field: string]: unknown;
}

/** kubectl against one site's API server (from the runner); rejects with stderr on failure. */
export async function siteKubectl(tools: Tools, s: SiteRecord, args: readonly string[], input?: string): Promise<string> {
  const res = await run(tools.kubectl, ['--kubeconfig', s.kubeconfig, ...args], { timeoutMs: 60_000, ...(input === undefined ? {} : { input }) });
  if (res.code !== 0) throw new Error(`kubectl (${s.name}) ${args.join(' ')} failed: ${res.stderr.trim() || res.stdout.trim()}`);
  return res.stdout;
}

let helmHome: Promise<string> | undefined;

export async function renderChart(tools: Tools, release: string, namespace: string, args: readonly string[] = []): Promise<ChartObject[]> {
  helmHome ??= mkdtemp(join(tmpdir(), 'standby-helm-'));
  const h = await helmHome;
  const res = await run(tools.helm, ['template', release, join(repoRoot, 'charts/standby-operator'), '--namespace', namespace, ...args], {
    env: { ...process.env, HELM_CACHE_HOME: join(h, 'c'), HELM_CONFIG_HOME: join(h, 'f'), HELM_DATA_HOME: join(h, 'd') },
    timeoutMs: 60_000,
  });
  if (res.code !== 0) throw new Error(`helm template failed: ${res.stderr}`);
  return parseAllDocuments(res.stdout)
    .map((d) => d.toJS() as ChartObject | null)
    .filter((o): o is ChartObject => o?.kind !== undefined);
}

async function applyObjects(tools: Tools, s: SiteRecord, docs: readonly ChartObject[]): Promise<void> {
  await siteKubectl(tools, s, ['apply', '--server-side', '--force-conflicts', '-f', '-'], docs.map((d) => JSON.stringify(d)).join('\n---\n'));
}

export async function installSiteCrd(tools: Tools, s: SiteRecord): Promise<void> {
  await siteKubectl(tools, s, ['apply', '--server-side', '--force-conflicts', '-f', join(repoRoot, 'crds')]);
  // Polled rather than `kubectl wait`, which fails on a CRD whose status has no conditions yet.
  await waitFor(
    async () => (await siteKubectl(tools, s, ['get', 'crd', 'standbysites.standby.dev', '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}'])).trim() === 'True',
    { timeoutMs: 60_000, description: 'the StandbySite CRD Established' },
  );
}

export interface Identity {
  user: string;
  namespace: string;
  lease: string;
  /** The fence keeper's ServiceAccount (the chart's fenceKeeper), for impersonation. */
  keeper: string;
}

const isKeeper = (o: ChartObject) => (o.metadata as { labels?: Record<string, string> }).labels?.['app.kubernetes.io/component'] === 'fence-keeper';

/** The chart's operator and fence keeper ServiceAccounts and RBAC in a site (all namespaces), for impersonation; one set per release name. */
export async function installOperatorIdentity(tools: Tools, s: SiteRecord, release = 'sites'): Promise<Identity> {
  const kinds = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);
  const docs = (await renderChart(tools, release, 'standby-system')).filter((o) => kinds.has(o.kind));
  await siteKubectl(tools, s, ['create', 'namespace', 'standby-system']).catch(() => '');
  await applyObjects(tools, s, docs);
  const sa = docs.find((d) => d.kind === 'ServiceAccount' && !isKeeper(d))!.metadata.name;
  const keeper = docs.find((d) => d.kind === 'ServiceAccount' && isKeeper(d))!.metadata.name;
  return {
    user: `system:serviceaccount:standby-system:${sa}`,
    namespace: 'standby-system',
    lease: `${release}-standby-operator-leader`,
    keeper: `system:serviceaccount:standby-system:${keeper}`,
  };
}

/**
 * The chart's remoteAccess in the primary's cluster for these namespaces, and the kubeconfig the
 * operator's remote-kubeconfig subcommand makes from its token: what a user puts in the Secret.
 */
export async function installRemoteAccess(
  tools: Tools,
  primary: SiteRecord,
  namespaces: readonly string[],
  o: { externalDNS?: boolean } = {},
): Promise<{ kubeconfig: string; docs: ChartObject[]; user: string }> {
  const docs = await renderChart(tools, 'remote', 'standby-remote', [
    '--set', 'remoteAccess.enabled=true',
    '--set', `remoteAccess.namespaces={${namespaces.join(',')}}`,
    ...(o.externalDNS ? ['--set', 'remoteAccess.externalDNS=true'] : []),
  ]);
  await siteKubectl(tools, primary, ['create', 'namespace', 'standby-remote']).catch(() => '');
  for (const ns of namespaces) await siteKubectl(tools, primary, ['create', 'namespace', ns]).catch(() => '');
  await applyObjects(tools, primary, docs);
  const sa = docs.find((d) => d.kind === 'ServiceAccount' && !isKeeper(d))!.metadata.name;
  // The token controller fills the Secret.
  await waitFor(async () => (await siteKubectl(tools, primary, ['-n', 'standby-remote', 'get', 'secret', `${sa}-token`, '-o', 'jsonpath={.data.token}'])).length > 0, {
    timeoutMs: 60_000,
    description: 'the remote access token',
  });
  const made = await run(process.execPath, [join(repoRoot, 'src/cli/main.ts'), 'remote-kubeconfig', '--kubeconfig', primary.kubeconfig, '--namespace', 'standby-remote', '--service-account', sa, '--primary-namespace', namespaces[0] ?? 'default'], { timeoutMs: 60_000 });
  if (made.code !== 0) throw new Error(`remote-kubeconfig failed: ${made.stderr}`);
  return { kubeconfig: made.stdout, docs, user: `system:serviceaccount:standby-remote:${sa}` };
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

export interface OperatorOptions {
  /** Extra environment (overrides the defaults below). */
  env?: Record<string, string>;
  /** Where the log goes (default .cluster/e2e-logs/sites-operator-<site>-<time>.log). */
  logFile?: string;
}

/** `standby-operator run` inside a site's network namespace, as the chart's ServiceAccount there. */
export async function startSiteOperator(s: SiteRecord, identity: Identity, namespaces: readonly string[], opts: OperatorOptions = {}): Promise<SiteOperator> {
  return startSiteProcess(s, 'run', 'operator', opts, {
    KUBECONFIG: s.kubeconfig,
    WATCH_NAMESPACES: namespaces.join(','),
    OPERATOR_IMAGE: 'example.invalid/standby-operator:sites',
    LOG_LEVEL: 'debug',
    STANDBY_IMPERSONATE: identity.user,
    POD_NAMESPACE: identity.namespace,
    LEASE_NAME: identity.lease,
    REMOTE_PROBE_INTERVAL_MS: '1000',
    REMOTE_PROBE_TIMEOUT_MS: '1500',
  });
}

/**
 * `standby-operator fence-keeper` inside a site's network namespace, as the chart's fenceKeeper
 * ServiceAccount there: a process of its own beside the operator (its own kill()), as the chart's
 * Deployment runs it.
 */
export async function startSiteKeeper(s: SiteRecord, identity: Identity, namespaces: readonly string[], opts: OperatorOptions = {}): Promise<SiteOperator> {
  return startSiteProcess(s, 'fence-keeper', 'keeper', opts, {
    KUBECONFIG: s.kubeconfig,
    WATCH_NAMESPACES: namespaces.join(','),
    LOG_LEVEL: 'debug',
    STANDBY_IMPERSONATE: identity.keeper,
  });
}

async function startSiteProcess(s: SiteRecord, command: string, label: string, opts: OperatorOptions, env: Record<string, string>): Promise<SiteOperator> {
  const port = await freePort();
  const logDir = join(repoRoot, '.cluster', 'e2e-logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = opts.logFile ?? join(logDir, `sites-${label}-${s.name}-${Date.now()}.log`);
  const out = createWriteStream(logFile);
  const child = spawnInSite(s, process.execPath, [join(repoRoot, 'src/cli/main.ts'), command], {
    env: { ...process.env, ...env, HEALTH_PORT: String(port), HEALTH_HOST: s.address, ...opts.env },
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
      if (dead) throw new Error(`the ${label} exited during start-up; see ${logFile}`);
      return (await fetch(`${healthUrl}/readyz`).catch(() => undefined))?.status === 200;
    },
    { timeoutMs: 60_000, description: `${label} /readyz (log: ${logFile})` },
  ).catch(async (err: unknown) => {
    if (!dead) child.kill('SIGKILL');
    await exited;
    throw err;
  });
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

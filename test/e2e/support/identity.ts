// The operator's identity in the e2e tests: the ServiceAccount and RBAC that
// the Helm chart installs, rendered with the built helm and applied for real.
// The operator runs with the admin kubeconfig but impersonates that
// ServiceAccount, so every test that runs it also proves the chart's RBAC is
// enough (and nothing it does needs more).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { clusterInfo, kubectl } from '../../cluster/helpers.ts';
import { repoRoot, run } from '../../cluster/common.ts';

export interface OperatorIdentity {
  /** The user name to impersonate: system:serviceaccount:<namespace>:<name>. */
  user: string;
  groups: string[];
  /** The release namespace: where the operator's Lease lives. */
  namespace: string;
  lease: string;
}

const RELEASE = 'e2e';
const NAMESPACE = 'standby-e2e';
let installed: Promise<OperatorIdentity> | undefined;

async function install(): Promise<OperatorIdentity> {
  const home = await mkdtemp(join(tmpdir(), 'standby-helm-'));
  const env = { ...process.env, HELM_CACHE_HOME: join(home, 'c'), HELM_CONFIG_HOME: join(home, 'f'), HELM_DATA_HOME: join(home, 'd') };
  const res = await run(clusterInfo().helm, ['template', RELEASE, join(repoRoot, 'charts/standby-operator'), '--namespace', NAMESPACE], { env, timeoutMs: 60_000 });
  if (res.code !== 0) throw new Error(`helm template failed: ${res.stderr}`);
  const kinds = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);
  const docs = parseAllDocuments(res.stdout)
    .map((d) => d.toJS() as { kind?: string; metadata?: { name?: string } } | null)
    .filter((o): o is { kind: string; metadata: { name: string } } => o?.kind !== undefined && kinds.has(o.kind));
  await kubectl(['create', 'namespace', NAMESPACE]).catch(() => '');
  await kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], { input: docs.map((d) => JSON.stringify(d)).join('\n---\n') });
  const sa = docs.find((d) => d.kind === 'ServiceAccount')!.metadata.name;
  return {
    user: `system:serviceaccount:${NAMESPACE}:${sa}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${NAMESPACE}`],
    namespace: NAMESPACE,
    lease: `${RELEASE}-standby-operator-leader`,
  };
}

/** Installs the chart's ServiceAccount and RBAC once per test run. */
export function operatorIdentity(): Promise<OperatorIdentity> {
  installed ??= install();
  return installed;
}

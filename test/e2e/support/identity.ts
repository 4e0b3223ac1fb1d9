// The operator's identity in the e2e tests: the ServiceAccount and RBAC that
// the Helm chart installs, rendered with the built helm and applied for real.
// The operator runs with the admin kubeconfig but impersonates that
// ServiceAccount, so every test that runs it also proves the chart's RBAC is
// enough (and nothing it does needs more).
import { kubectl } from '../../cluster/helpers.ts';
import { renderChart } from './chart.ts';

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
  const kinds = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);
  const docs = (await renderChart(RELEASE, NAMESPACE)).filter((o) => kinds.has(o.kind));
  await kubectl(['create', 'namespace', NAMESPACE]).catch(() => '');
  await kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], { input: docs.map((d) => JSON.stringify(d)).join('\n---\n') });
  // The operator's, not the fence keeper's (the chart renders both; the keeper's file sorts first).
  const sa = docs.find((d) => d.kind === 'ServiceAccount' && (d.metadata as { labels?: Record<string, string> }).labels?.['app.kubernetes.io/component'] !== 'fence-keeper')!.metadata.name;
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

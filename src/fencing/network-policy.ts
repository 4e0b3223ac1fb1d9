// Fencing by isolation: an operator-owned NetworkPolicy that denies all
// traffic to and from the old primary's pods. Operator-owned, so a GitOps
// revert of the user's objects does not lift it.
import type { V1NetworkPolicy } from '@kubernetes/client-node';
import type { StandbySite } from '../api/site.ts';
import { names, ownedMeta } from '../site/names.ts';
import { selectorOf, type Workload } from '../site/workload.ts';

export function buildFence(site: StandbySite, primary: Workload): V1NetworkPolicy {
  const sel = selectorOf(primary);
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: ownedMeta(site, names.fence(site.metadata.name), 'fence'),
    spec: {
      podSelector: {
        ...(sel.matchLabels ? { matchLabels: sel.matchLabels } : {}),
        ...(sel.matchExpressions ? { matchExpressions: sel.matchExpressions } : {}),
      },
      // No rules: nothing may reach the old primary and it may reach nothing.
      policyTypes: ['Ingress', 'Egress'],
    },
  };
}

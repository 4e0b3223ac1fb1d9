// The guard's own fence: a NetworkPolicy `<guard>-self-fence` that denies all traffic to and from
// the primary workload's pods, owned by the StandbySiteGuard (so it goes with it), never the
// standby operator's `<site>-fence`. Same shape as the operator's fence (src/fencing/). Pure.
import type { V1OwnerReference } from '@kubernetes/client-node';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { GROUP, VERSION } from '../api/site.ts';
import { GUARD_KIND, selfFenceName, type GuardObject } from '../api/guard.ts';
import { podSelectorOf } from '../fencing/network-policy.ts';
import { LABEL_MANAGED_BY, LABEL_ROLE, LABEL_SITE, MANAGER } from '../site/names.ts';
import { selectorOf, type Workload } from '../site/workload.ts';

/** On a fence the keeper wrote: who, why and when (the guard's own fences do not carry them). */
export const ANNOTATION_FENCED_BY = 'standby.dev/fenced-by';
export const ANNOTATION_FENCE_REASON = 'standby.dev/fence-reason';
export const ANNOTATION_FENCED_AT = 'standby.dev/fenced-at';
export const FENCE_KEEPER = 'fence-keeper';

export function guardOwnerReference(g: GuardObject): V1OwnerReference {
  return { apiVersion: `${GROUP}/${VERSION}`, kind: GUARD_KIND, name: g.metadata.name, uid: g.metadata.uid ?? '', controller: true };
}

export function buildSelfFence(g: GuardObject, workload: Workload): INetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: selfFenceName(g.metadata.name),
      namespace: g.metadata.namespace,
      labels: { [LABEL_MANAGED_BY]: MANAGER, [LABEL_SITE]: g.spec.site.name, [LABEL_ROLE]: 'self-fence' },
      ownerReferences: [guardOwnerReference(g)],
    },
    // No rules: nothing may reach the fenced pods and they may reach nothing.
    spec: { podSelector: podSelectorOf(selectorOf(workload)), policyTypes: ['Ingress', 'Egress'] },
  };
}

/** Ours only with the guard's ownerReference: a policy of that name made by anyone else is never adopted. */
export function selfFenceOwnedBy(np: { metadata?: { ownerReferences?: V1OwnerReference[] } }, g: GuardObject): boolean {
  return !!g.metadata.uid && (np.metadata?.ownerReferences ?? []).some((r) => r.uid === g.metadata.uid && r.kind === GUARD_KIND);
}

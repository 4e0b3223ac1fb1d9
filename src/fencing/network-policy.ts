// Fencing by isolation: an operator-owned NetworkPolicy that denies all traffic to and from the
// fenced side's pods. Operator-owned, so a GitOps revert of the user's objects does not lift it.
// During re-protection and failback the fence is narrowed: the fenced side may exchange traffic
// with the other side's pods only (replication), and look names up (DNS); clients still cannot
// reach it.
import type { V1LabelSelector, V1NetworkPolicy, V1NetworkPolicyIngressRule, V1NetworkPolicyPeer } from '@kubernetes/client-node';
import type { StandbySite } from '../api/site.ts';
import { names, ownedMeta } from '../site/names.ts';
import { selectorOf, type Workload } from '../site/workload.ts';

export interface FenceOptions {
  /** Default: the old primary's fence, `<site>-fence`. */
  name?: string;
  /** The pods the fenced side may still exchange traffic with (the other side, for replication). */
  peer?: V1LabelSelector | undefined;
}

/** A label selector as a NetworkPolicy takes it (no empty fields). */
export function podSelectorOf(sel: V1LabelSelector): V1LabelSelector {
  return {
    ...(sel.matchLabels ? { matchLabels: sel.matchLabels } : {}),
    ...(sel.matchExpressions ? { matchExpressions: sel.matchExpressions } : {}),
  };
}

export function buildFence(site: StandbySite, fenced: Workload, o: FenceOptions = {}): V1NetworkPolicy {
  const peer: V1NetworkPolicyPeer | undefined = o.peer ? { podSelector: podSelectorOf(o.peer) } : undefined;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: ownedMeta(site, o.name ?? names.fence(site.metadata.name), 'fence'),
    spec: {
      podSelector: podSelectorOf(selectorOf(fenced)),
      policyTypes: ['Ingress', 'Egress'],
      // Without a peer, no rules: nothing may reach the fenced pods and they may reach nothing.
      ...(peer
        ? {
            // client-node's model names `from` `_from` (a reserved word in its generator); the API takes `from`.
            ingress: [{ from: [peer] }] as unknown as V1NetworkPolicyIngressRule[],
            egress: [
              { to: [peer] },
              // Names of the other side (a Service, a pod's DNS name) must resolve.
              { to: [{ namespaceSelector: {} }], ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] },
            ],
          }
        : {}),
    },
  };
}

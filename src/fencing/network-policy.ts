// Fencing by isolation: an operator-owned NetworkPolicy that denies all traffic to and from the
// fenced side's pods. Operator-owned, so a GitOps revert of the user's objects does not lift it.
// During re-protection and failback the fence is narrowed: the fenced side may exchange traffic
// with the other side's pods only (replication), and look names up (DNS); clients still cannot
// reach it.
import type { ILabelSelector } from '@kubernetes-models/apimachinery/apis/meta/v1';
import type { INetworkPolicy, INetworkPolicyPeer, INetworkPolicySpec } from 'kubernetes-models/networking.k8s.io/v1';
import { stable } from '../k8s/apply.ts';
import type { StandbySite } from '../api/site.ts';
import { LABEL_ROLE, LABEL_SITE, names, ownedMeta, standbySelector } from '../site/names.ts';
import { selectorOf, type Workload } from '../site/workload.ts';

export interface FenceOptions {
  /** Default: the old primary's fence, `<site>-fence`. */
  name?: string;
  /** The pods the fenced side may still exchange traffic with (the other side, for replication). */
  peer?: ILabelSelector | undefined;
  /** More pods it may exchange traffic with (e.g. the failback's promote Job, which must reach the primary). */
  morePeers?: readonly ILabelSelector[] | undefined;
}

/** A label selector as a NetworkPolicy takes it (no empty fields). */
export function podSelectorOf(sel: ILabelSelector): ILabelSelector {
  return {
    ...(sel.matchLabels ? { matchLabels: sel.matchLabels } : {}),
    ...(sel.matchExpressions ? { matchExpressions: sel.matchExpressions } : {}),
  };
}

export function buildFence(site: StandbySite, fenced: Workload, o: FenceOptions = {}): INetworkPolicy {
  const peer: INetworkPolicyPeer | undefined = o.peer ? { podSelector: podSelectorOf(o.peer) } : undefined;
  const peers: INetworkPolicyPeer[] = peer ? [peer, ...(o.morePeers ?? []).map((p) => ({ podSelector: podSelectorOf(p) }))] : [];
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
            ingress: [{ from: peers }],
            egress: [
              { to: peers },
              // Names of the other side (a Service, a pod's DNS name) must resolve: DNS to any
              // address, since the resolver is often no pod (node-local DNS, a CoreDNS on the host).
              { ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] },
            ],
          }
        : {}),
    },
  };
}

/**
 * The old primary's fence once it follows the standby (re-protection, failback): it may reach the
 * standby's pods; with an engine whose failback promotes the primary from a Job (hot PostgreSQL:
 * pg_promote() through the primary's Service), that Job's pods may reach it too. Clients still
 * cannot.
 */
export function narrowedPrimaryFence(site: StandbySite, primary: Workload): INetworkPolicy {
  const promoteJob = site.spec.tier === 'hot' && site.spec.engine.type === 'postgresql';
  return buildFence(site, primary, {
    peer: { matchLabels: standbySelector(site.metadata.name) },
    ...(promoteJob ? { morePeers: [{ matchLabels: { [LABEL_SITE]: site.metadata.name, [LABEL_ROLE]: 'failback' } }] } : {}),
  });
}

function selectorText(sel: ILabelSelector | undefined): string {
  return stable({
    matchLabels: sel?.matchLabels && Object.keys(sel.matchLabels).length ? sel.matchLabels : undefined,
    matchExpressions: sel?.matchExpressions?.length ? sel.matchExpressions : undefined,
  });
}

/**
 * How a live fence differs from the wanted one, in words; undefined when it is exactly the fence.
 * Equality, not a subset: one added rule (`ingress: [{}]` allows everything) or a policy type
 * left out (no Egress: the old primary may reach the database's peers) undoes the fence.
 */
export function fenceDrift(want: INetworkPolicy, live: INetworkPolicy): string | undefined {
  const w: INetworkPolicySpec = want.spec ?? { podSelector: {} };
  const l: INetworkPolicySpec = live.spec ?? { podSelector: {} };
  const out: string[] = [];
  if (selectorText(w.podSelector) !== selectorText(l.podSelector)) out.push(`podSelector ${stable(l.podSelector ?? {})}`);
  const types = (t: string[] | undefined) => [...(t ?? [])].sort().join(',');
  if (types(w.policyTypes) !== types(l.policyTypes)) out.push(`policyTypes [${types(l.policyTypes)}]`);
  for (const dir of ['ingress', 'egress'] as const) {
    const extra = (l[dir]?.length ?? 0) - (w[dir]?.length ?? 0);
    if (stable(w[dir]?.length ? w[dir] : undefined) !== stable(l[dir]?.length ? l[dir] : undefined)) out.push(`${extra > 0 ? `${extra} extra` : 'changed'} ${dir} rule(s)`);
  }
  const known = new Set(['podSelector', 'policyTypes', 'ingress', 'egress']);
  for (const k of Object.keys(l)) if (!known.has(k) && (l as Record<string, unknown>)[k] !== undefined) out.push(`unexpected field ${k}`);
  return out.length ? out.join(', ') : undefined;
}

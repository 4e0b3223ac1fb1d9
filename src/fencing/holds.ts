// Whether the fence still holds after a promotion: a scaled-down primary scaled up again (a
// GitOps revert) or a fence NetworkPolicy removed is reported loudly, never silently fought.
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { StandbySite } from '../api/site.ts';
import { names } from '../site/names.ts';
import { isPodReady, type Workload } from '../site/workload.ts';
import { fenceFor } from './fence.ts';
import { fenceDrift, narrowedPrimaryFence } from './network-policy.ts';

export interface FencingState {
  holds: boolean;
  reason: string;
  message: string;
}

export interface HoldsInput {
  primary: Workload | undefined;
  primaryPods: readonly V1Pod[];
  primaryService: V1Service | undefined;
  fence: INetworkPolicy | undefined;
  /** The fence was written in this very reconcile (the cache may not show it yet). */
  fenceWritten: boolean;
  /** A drifted fence was replaced with the exact one in this very reconcile. */
  fenceReverted?: boolean;
  /**
   * The fence is wanted narrowed to the standby's pods (re-protection, failback: the old primary
   * must reach what it follows), so that is the exact fence, not a drift of the closed one.
   */
  narrow?: boolean;
}

export function fencingState(site: StandbySite, i: HoldsInput): FencingState {
  const ready = i.primaryPods.filter(isPodReady).length;
  if (site.spec.promotion.fencing === 'scaleDown') {
    const replicas = i.primary?.spec?.replicas ?? 0;
    if (replicas > 0 || ready > 0) {
      return {
        holds: false,
        reason: 'PrimaryReturned',
        message: `the fenced primary came back: ${site.spec.primary.workload.kind} ${site.spec.primary.workload.name} has replicas=${replicas} and ${ready} Ready pod(s) (a GitOps tool may have reverted the scale-down); it may take writes while the standby serves clients. Stop it, or use fencing networkPolicy`,
      };
    }
    return { holds: true, reason: 'Fenced', message: 'the primary workload is scaled to 0' };
  }
  const fence = names.fence(site.metadata.name);
  if (!i.fence && !i.fenceWritten && i.primary) {
    return { holds: false, reason: 'FenceMissing', message: `the fence NetworkPolicy ${fence} was removed; the operator re-creates it` };
  }
  const closed = fenceFor(site, i);
  const want = i.narrow && i.primary ? narrowedPrimaryFence(site, i.primary) : closed;
  let drift = i.fence && want && !i.fenceReverted ? fenceDrift(want, i.fence) : undefined;
  // Still closed while it should be narrowed (the step that narrows it has not been seen yet) isolates it more, not less.
  if (drift && want !== closed && closed && i.fence && !fenceDrift(closed, i.fence)) drift = undefined;
  if (drift) {
    return {
      holds: false,
      reason: 'FenceAltered',
      message: `the fence NetworkPolicy ${fence} differs from the exact fence (${drift}): it may let traffic reach or leave the old primary; the operator replaces it`,
    };
  }
  return {
    holds: true,
    reason: 'Fenced',
    message:
      ready > 0
        ? `the old primary has ${ready} Ready pod(s) again, isolated by NetworkPolicy ${fence} (needs a CNI that enforces NetworkPolicy)`
        : `NetworkPolicy ${fence} isolates the old primary's pods`,
  };
}

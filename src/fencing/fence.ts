// The Fencing step of a promotion: stop the old primary from taking writes before anything else
// moves. By isolation (the fence NetworkPolicy, operator-owned) or by scaling the user's
// workload to 0 (which a GitOps tool may undo; see holds.ts).
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { StandbySite } from '../api/site.ts';
import type { ObjectActions } from '../k8s/actions.ts';
import { DONE, waiting, type StepResult } from '../site/step.ts';
import type { Workload } from '../site/workload.ts';
import { buildFence, fenceDrift } from './network-policy.ts';

/** What fencing reads of the primary. */
export interface FenceInput {
  primary: Workload | undefined;
  primaryPods: readonly V1Pod[];
  primaryService: V1Service | undefined;
}

/** The fence for the primary's pods: by the workload's selector, else (workload gone) its Service's. */
export function fenceFor(site: StandbySite, i: Pick<FenceInput, 'primary' | 'primaryService'>): INetworkPolicy | undefined {
  if (i.primary) return buildFence(site, i.primary);
  const sel = i.primaryService?.spec?.selector;
  if (!sel) return undefined;
  return buildFence(site, { kind: 'Deployment', metadata: {}, spec: { selector: { matchLabels: sel }, template: {} } });
}

export async function raiseFence(site: StandbySite, i: FenceInput, act: ObjectActions): Promise<StepResult> {
  if (site.spec.promotion.fencing === 'scaleDown') {
    if (!i.primary) return DONE;
    if ((i.primary.spec?.replicas ?? 1) !== 0) {
      await act.patch(i.primary.kind ?? '', site.metadata.namespace, i.primary.metadata?.name ?? '', { spec: { replicas: 0 } });
    }
    const running = i.primaryPods.length;
    return running === 0 ? DONE : waiting(`${running} primary pod(s) still exist after scaling to 0`);
  }
  const fence = fenceFor(site, i);
  if (fence) await keepFence(fence, act);
  return DONE;
}

/**
 * Puts the fence up exactly as wanted: applied, or replaced whole when the live one differs
 * (server-side apply cannot remove rules another field manager added). Returns the drift it
 * reverted, if any.
 */
export async function keepFence(fence: INetworkPolicy, act: ObjectActions): Promise<string | undefined> {
  const live = act.cached<INetworkPolicy>('NetworkPolicy', fence.metadata?.namespace ?? '', fence.metadata?.name ?? '');
  const drift = live && !live.metadata?.deletionTimestamp ? fenceDrift(fence, live) : undefined;
  if (drift) await act.replace(fence);
  else await act.apply(fence);
  return drift;
}

export interface LiftInput {
  fencing: 'networkPolicy' | 'scaleDown';
  primary: Workload | undefined;
  fence: INetworkPolicy | undefined;
  /** scaleDown: the replicas before the promotion scaled the primary to 0. */
  primaryReplicas: number | undefined;
}

/** Lifts the fence of a promotion that is abandoned; says what it did. */
export async function liftFence(site: StandbySite, i: LiftInput, act: ObjectActions): Promise<string> {
  const ns = site.metadata.namespace;
  if (i.fencing === 'networkPolicy') {
    if (!i.fence?.metadata?.name) return 'no fence NetworkPolicy was up';
    await act.remove('NetworkPolicy', ns, i.fence.metadata.name, { uid: i.fence.metadata.uid });
    return `the fence NetworkPolicy ${i.fence.metadata.name} is removed`;
  }
  if (!i.primary) return 'the primary workload does not exist, so nothing is scaled up';
  if ((i.primary.spec?.replicas ?? 1) !== 0) return `${i.primary.kind} ${i.primary.metadata?.name} is already scaled up`;
  if (i.primaryReplicas === undefined) return `${i.primary.kind} ${i.primary.metadata?.name} stays at 0 replicas (its earlier count was not recorded): scale it up`;
  await act.patch(i.primary.kind ?? '', ns, i.primary.metadata?.name ?? '', { spec: { replicas: i.primaryReplicas } });
  return `${i.primary.kind} ${i.primary.metadata?.name} is scaled back to ${i.primaryReplicas}`;
}

// Fencing an old primary in another cluster: the fence NetworkPolicy is written there, through
// the remote actuator, with the promotion's epoch on it. While that cluster does not answer, a
// promotion a person confirmed as a site loss goes on without it (the condition and the Event
// say fencing could not be confirmed); any other promotion waits for the cluster (and fails at
// its step timeout). Once a promotion has begun, the fence is the first thing written there when
// the cluster answers, before anything else the operator does there.
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { PromotionStatus } from '../api/status.ts';
import { fenceFor, keepFence } from '../fencing/fence.ts';
import { released } from '../promotion/release.ts';
import { unreachableText } from '../promotion/site-lost.ts';
import { DONE, waiting, type StepResult } from '../site/step.ts';
import type { ReconcileContext } from './context.ts';
import type { Observed } from './facts.ts';
import { remoteActuator } from './remote-actuator.ts';

export const ANNOTATION_EPOCH = 'standby.dev/epoch';

/** The fence for the primary's pods there, carrying the promotion's epoch. */
export function remoteFence(rc: ReconcileContext, obs: Observed, epoch: number | undefined): INetworkPolicy | undefined {
  const fence = fenceFor(rc.site, obs);
  if (!fence) return undefined;
  return epoch === undefined ? fence : { ...fence, metadata: { ...fence.metadata, annotations: { ...fence.metadata?.annotations, [ANNOTATION_EPOCH]: String(epoch) } } };
}

async function writeFence(rc: ReconcileContext, obs: Observed, epoch: number | undefined): Promise<StepResult> {
  const r = rc.remote!;
  const fence = remoteFence(rc, obs, epoch);
  if (!fence || !r.cluster) {
    return waiting(`neither ${rc.site.spec.primary.workload.kind} ${rc.site.spec.primary.workload.name} nor Service ${rc.site.spec.primary.service} is known in the primary's cluster: nothing to fence by`);
  }
  const act = remoteActuator(rc.site, r.cluster, {
    fenceFirst: true,
    prepare: released,
    onWrite: (verb, o) => rc.log.warn({ verb, kind: o.kind, name: o.metadata?.name, remote: r.cluster?.server }, "wrote in the primary's cluster"),
  });
  // The fence exactly, as at home (fencing/fence.ts): a loosened one is replaced whole.
  const drift = await keepFence(fence, act);
  if (drift) rc.log.warn({ drift, remote: r.cluster.server }, "the fence NetworkPolicy in the primary's cluster was altered; replaced it with the exact fence");
  return DONE;
}

/** The Fencing step of a promotion whose primary is in another cluster. */
export async function fenceRemote(rc: ReconcileContext, obs: Observed, promo: PromotionStatus): Promise<StepResult> {
  const r = rc.remote!;
  if (!r.site.reachable) {
    if (promo.trigger === 'siteLost' || promo.trigger === 'siteFailover') {
      rc.log.warn({ remote: r.site.server }, "site-lost promotion: the primary's cluster does not answer; fencing could not be confirmed");
      return DONE;
    }
    return waiting(`${unreachableText(r.site)}: the fence cannot be written there`);
  }
  return writeFence(rc, obs, promo.epoch);
}

/**
 * Before anything else in the primary's cluster: once a promotion has begun, the fence is there.
 * `confirmed` when it is (found as it should be in the fresh caches, or written now); `pending`
 * while the cluster does not answer or the write failed (then nothing else is written there);
 * `none` when no promotion has begun.
 */
export async function ensureRemoteFence(rc: ReconcileContext, obs: Observed): Promise<'none' | 'confirmed' | 'pending'> {
  const r = rc.remote;
  const promo = rc.current.status?.promotion;
  if (!r || !promo?.state || (promo.fencing ?? rc.site.spec.promotion.fencing) !== 'networkPolicy') return 'none';
  if (!r.site.reachable) return 'pending';
  try {
    const done = await writeFence(rc, obs, promo.epoch ?? rc.current.status?.epoch);
    return done.done ? 'confirmed' : 'pending';
  } catch (err) {
    rc.errors.push(`could not fence the old primary in its cluster: ${(err as Error).message}`);
    return 'pending';
  }
}

// standby.dev/abandon=<token>: the documented way out of a Failed promotion besides a new promote
// token. The fence is lifted, the promotion's Jobs (and a cold standby it started, which never
// served) are removed, status.promotion is cleared (its record stays in promotionHistory) and the
// site protects its primary again. Refused unless the promotion is Failed: one in progress, or a
// standby that serves clients, is never undone by an annotation.
import { liftFence } from '../fencing/fence.ts';
import { R, resourceOfKind } from '../k8s/resources.ts';
import type { KubeObject } from '../k8s/types.ts';
import { LABEL_ROLE } from '../site/names.ts';
import { ownershipOf } from '../site/ownership.ts';
import { actuator } from './actuator.ts';
import { patchStatus } from './records.ts';
import type { ReconcileContext } from './context.ts';
import type { Observed } from './facts.ts';

/** Acts on a new abandon token; the caller re-reads the site afterwards. */
export async function abandonPromotion(rc: ReconcileContext, obs: Observed, token: string): Promise<void> {
  const d = rc.deps;
  const { site } = rc;
  const p = rc.current.status?.promotion;
  if (p?.state !== 'Failed') {
    if (await patchStatus(rc, { handledAbandonToken: token })) {
      const what = p?.state ? `the promotion is ${p.state}` : 'no promotion has begun';
      await d.events.record(rc.current, 'Warning', 'AbandonRefused', `standby.dev/abandon=${token}: there is no failed promotion to abandon (${what}); only a Failed promotion is abandoned`);
    }
    return;
  }
  if (rc.remote) {
    // Its fence is in the primary's cluster, which this path does not write: refused, not half done.
    if (await patchStatus(rc, { handledAbandonToken: token })) {
      await d.events.record(
        rc.current,
        'Warning',
        'AbandonRefused',
        `standby.dev/abandon=${token}: abandoning a failed promotion of a primary in another cluster is not supported yet; its fence NetworkPolicy there stays up (delete it there yourself if the primary should serve), or retry with a new promote token`,
      );
    }
    return;
  }
  const ns = site.metadata.namespace;
  const fencing = p.fencing ?? site.spec.promotion.fencing;
  const notes: string[] = [];
  // Only what this site made (site/ownership.ts): an earlier site's leftovers are never removed.
  const mine = (o: KubeObject) => ownershipOf(o, { name: site.metadata.name, uid: site.metadata.uid }).ours;
  try {
    notes.push(await liftFence(site, { fencing, primary: obs.primary, fence: obs.fence, primaryReplicas: p.primaryReplicas }, actuator(d, site)));
    // Its promote or restore Job must not run later, out of band.
    for (const job of obs.jobs) {
      const role = job.metadata?.labels?.[LABEL_ROLE];
      if ((role !== 'promote' && role !== 'restore') || !mine(job)) continue;
      await d.client.delete(R.job, ns, job.metadata?.name ?? '', { uid: job.metadata?.uid ?? '' });
    }
    // A cold standby exists only for a promotion; the one this promotion started never served.
    if ((p.tier ?? site.spec.tier) === 'cold' && obs.standby?.metadata?.name && mine(obs.standby)) {
      await d.client.delete(resourceOfKind(obs.standby.kind ?? 'StatefulSet'), ns, obs.standby.metadata.name, { uid: obs.standby.metadata.uid ?? '' });
      notes.push(`the standby ${obs.standby.metadata.name} it started is removed (its restored claims are kept)`);
    }
  } catch (err) {
    // Nothing recorded yet: the reconcile fails and is retried with backoff.
    throw new Error(`could not abandon the failed promotion: ${(err as Error).message}`, { cause: err });
  }
  if (!(await patchStatus(rc, { promotion: null, handledAbandonToken: token, active: 'primary' }))) return;
  rc.log.warn({ token, startedAt: p.startedAt }, 'failed promotion abandoned');
  await d.events.record(
    rc.current,
    'Normal',
    'PromotionAbandoned',
    `standby.dev/abandon=${token}: the failed promotion begun ${p.startedAt ?? '?'} (${p.message ?? 'failed'}) is abandoned: ${notes.join('; ')}; clients are served by the primary and the site protects it again. The promotion stays in status.promotionHistory`,
  );
}

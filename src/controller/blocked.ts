// A site that must not act at all: its workload is protected by an older site, or a name it
// writes is taken by an object it did not create. It says so and waits (ownership.ts).
import type { Engine } from '../engines/engine.ts';
import { promoteRequest } from '../promotion/decide.ts';
import type { Lifecycle } from '../promotion/lifecycle.ts';
import { ANNOTATION_PROMOTE } from '../site/names.ts';
import type { ReconcileContext } from './context.ts';
import { desiredFor } from './converge.ts';
import type { Observed, SiteFacts } from './facts.ts';
import { conflictAdvice, nameConflicts, protectingSite, type Blocked } from './ownership.ts';
import type { PromotionOutcome } from './promote.ts';
import { remoteNameConflicts } from './remote-converge.ts';

/** Why the site must not act at all: its workload is another site's, or a name it writes is taken. */
export function blockedBy(rc: ReconcileContext, obs: Observed, facts: SiteFacts, engine: Engine, lifecycle: Lifecycle, frozen: boolean): Blocked | undefined {
  const { site, deps: d } = rc;
  const rival = protectingSite(d.caches, site);
  if (rival) {
    return {
      reason: 'WorkloadProtected',
      message: `${site.spec.primary.workload.kind} ${site.spec.primary.workload.name} is already protected by StandbySite ${rival.metadata?.name ?? '?'} (the oldest site for a workload protects it); delete that site, or point this one at another workload`,
    };
  }
  const wanted = desiredFor(rc, obs, facts, engine, lifecycle, site.status.active ?? 'primary', frozen) ?? [];
  const taken = [...nameConflicts(d.caches, site, wanted), ...remoteNameConflicts(rc, obs)];
  return taken.length ? { reason: 'NameConflict', message: `${taken.join('; ')}; ${conflictAdvice(site)}` } : undefined;
}

/** A blocked site promotes nothing; a promote token that comes meanwhile is refused once, saying why. */
export async function refuseBlocked(rc: ReconcileContext, blocked: Blocked): Promise<PromotionOutcome> {
  const { site, deps: d } = rc;
  const request = promoteRequest(site.metadata.annotations?.[ANNOTATION_PROMOTE], site.status.handledPromoteToken);
  if (request && d.isLeader()) {
    await d.events.record(rc.current, 'Warning', 'PromotionRefused', `standby.dev/promote=${request.token}: ${blocked.message}`);
  }
  return {
    decision: { action: 'refuse', reason: blocked.reason, message: blocked.message },
    promotion: site.status.promotion,
    handledToken: request?.token ?? site.status.handledPromoteToken,
    fenceWritten: false,
  };
}

/** Names found taken while converging (between the check above and the write). */
export function lateConflict(rc: ReconcileContext): Blocked | undefined {
  return rc.conflicts.length ? { reason: 'NameConflict', message: `${rc.conflicts.join('; ')}; ${conflictAdvice(rc.site)}` } : undefined;
}

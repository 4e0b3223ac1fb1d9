// Events for what holds now and did not before: each is recorded once (SiteMemory.newlyReported),
// while the conditions say it for as long as it lasts.
import { podTemplateOf } from '../site/workload.ts';
import { unknownContainers } from '../tiers/reduced.ts';
import type { ReconcileContext } from './context.ts';
import type { Observed, SiteFacts } from './facts.ts';

/** Events for what holds now and did not before (the conditions say it while it lasts). */
export async function reportOnce(rc: ReconcileContext, obs: Observed, facts: SiteFacts): Promise<void> {
  if (!rc.deps.isLeader()) return;
  const lost = facts.lostCopy;
  if (lost && rc.memory.newlyReported(rc.key, 'lostCopy', lost.lost).length > 0) {
    await rc.deps.events.record(rc.current, 'Warning', 'CopyClaimDeleted', lost.event);
  } else if (!lost) rc.memory.newlyReported(rc.key, 'lostCopy', []);
  if (rc.memory.newlyReported(rc.key, 'hostBindings', obs.hostBindings).length > 0) {
    await rc.deps.events.record(rc.current, 'Normal', 'StandbyAdjusted', standbyAdjustedMessage(obs.hostBindings));
  }
  // spec.standby.resources naming a container the primary's pod template does not have changes nothing: say so.
  const unmatched = obs.primary ? unknownContainers(podTemplateOf(obs.primary), rc.site.spec.standby?.resources) : [];
  if (rc.memory.newlyReported(rc.key, 'standbyResources', unmatched).length > 0) {
    await rc.deps.events.record(
      rc.current,
      'Warning',
      'StandbyResourcesUnmatched',
      `spec.standby.resources names ${unmatched.join(', ')}, which the primary's pod template has no container of: those entries change nothing`,
    );
  }
  const both = rc.memory.newlyReported(rc.key, 'bothSides', obs.bothSides.map((b) => b.service));
  for (const b of obs.bothSides.filter((x) => both.includes(x.service))) {
    await rc.deps.events.record(
      rc.current,
      'Warning',
      'ServiceSelectsBothSides',
      `Service ${b.service} selects both the primary's pods and the standby's (on ${b.keys.join(', ')}): its clients may reach the standby until the standby's pods are replaced without those labels`,
    );
  }
}

/** Why the standby's pod template differs from the primary's beyond its labels. */
export function standbyAdjustedMessage(bindings: readonly string[]): string {
  return `the standby does not copy the primary's ${bindings.join(', ')}: it runs on the pod network, so it can run on the primary's node; clients reach it through the Service`;
}

// Both sides of a site as one reconcile observed them: what the failback and re-protection steps
// decide from (reprotect/sides.ts).
import type { Engine } from '../engines/engine.ts';
import type { SidesInput } from '../reprotect/sides.ts';
import type { ReconcileContext } from './context.ts';
import type { Observed, SiteFacts } from './facts.ts';

/** Both sides as observed, for the failback and re-protection steps, with the newest status. */
export function sidesOf(rc: ReconcileContext, obs: Observed, facts: SiteFacts, engine: Engine): SidesInput {
  return {
    site: rc.site,
    status: rc.current.status ?? {},
    engine,
    operatorImage: rc.deps.operatorImage,
    now: rc.now(),
    primary: obs.primary,
    primaryPods: obs.primaryPods,
    primaryService: obs.primaryService,
    trafficService: obs.trafficService,
    primaryClaims: obs.primaryClaims,
    standby: obs.standby,
    standbyPods: obs.standbyPods,
    snapshots: obs.snapshots,
    jobs: obs.jobs,
    cronJobs: obs.cronJobs,
    runs: facts.runs,
    snapshotsInstalled: rc.deps.caches.snapshots.installed,
  };
}

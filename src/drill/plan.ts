// What a drill restores, per tier: exactly what a failover would use now. Pure.
//   hot:  the running standby: its volumes snapshotted and cloned, or (an engine that can) a copy
//         the engine takes from it (PostgreSQL: a base backup from the standby, not the primary);
//   warm: the newest complete copy, snapshotted and cloned (never the copy itself);
//   cold: the newest ready snapshot set restored into new claims, or the newest dump restored by
//         the tier's restore Job.
import type { V1Job } from '@kubernetes/client-node';
import type { SiteSpec } from '../api/spec.ts';
import type { DrillMethod } from '../api/status.ts';
import { newestCompleteRun, type CopyRun } from '../copies/inventory.ts';
import { newestSucceeded } from '../copies/jobs.ts';
import type { Engine, EngineContext } from '../engines/engine.ts';
import { asPodTemplate } from '../engines/generic.ts';
import { names } from '../site/names.ts';
import { claimsOf, isStatefulSet, type PrimaryVolume, type Workload } from '../site/workload.ts';
import { newestReadySet, type SnapshotSet } from '../snapshot/sets.ts';

export interface PlanInput {
  spec: SiteSpec;
  siteName: string;
  engine: Engine;
  engineCtx: EngineContext | undefined;
  /** The primary's volumes: every one gets a scratch copy. */
  volumes: readonly PrimaryVolume[];
  standby: Workload | undefined;
  runs: readonly CopyRun[];
  sets: readonly SnapshotSet[];
  /** The site's Jobs (the newest succeeded snapshot Job dates a dump). */
  jobs: readonly V1Job[];
  snapshotsInstalled: boolean;
}

export interface DrillPlan {
  method: DrillMethod;
  /** What is drilled, in words. */
  source: string;
  /** A copy run or snapshot set that retention must keep until the drill ends. */
  sourceRun?: string | undefined;
  /** What each scratch volume is made from (a claim to snapshot, or a snapshot to restore). */
  volumes: { volume: string; source: string }[];
  /** When the drilled data was captured, when known before the copy is made. */
  dataTime?: Date | undefined;
}

export type PlanResult = DrillPlan | { problem: string };

const NO_SNAPSHOTS = 'the VolumeSnapshot API (snapshot.storage.k8s.io/v1) is not installed; a drill of this tier snapshots and clones volumes';

/** The claims of the hot standby's replica 0 (the one a promotion promotes), by primary volume. */
export function standbyClaims(siteName: string, standby: Workload, volumes: readonly PrimaryVolume[]): Record<string, string> {
  const mounted = claimsOf(standby.spec?.template);
  const out: Record<string, string> = {};
  const templates = isStatefulSet(standby) ? (standby.spec?.volumeClaimTemplates ?? []).map((t) => t.metadata?.name ?? '') : [];
  for (const v of volumes) {
    const claim = templates.includes(v.volume) ? `${v.volume}-${names.standby(siteName)}-0` : mounted[v.volume];
    if (claim) out[v.volume] = claim;
  }
  return out;
}

export function planDrill(i: PlanInput): PlanResult {
  const { spec } = i;
  switch (spec.tier) {
    case 'hot': {
      if (i.engineCtx && i.engine.drillCopyTemplate?.(i.engineCtx)) {
        return { method: 'copyJob', source: `a copy the ${i.engine.type} engine takes from the running standby (not from the primary)`, volumes: [] };
      }
      if (!i.standby) return { problem: 'the hot standby workload does not exist' };
      if (i.volumes.length > 0 && !i.snapshotsInstalled) return { problem: NO_SNAPSHOTS };
      const claims = standbyClaims(i.siteName, i.standby, i.volumes);
      const missing = i.volumes.filter((v) => !claims[v.volume]).map((v) => v.volume);
      if (missing.length) return { problem: `the hot standby mounts no claim for volume(s) ${missing.join(', ')}` };
      return {
        method: 'cloneStandby',
        source: `snapshots of the hot standby's volumes (${Object.values(claims).join(', ') || 'none'})`,
        volumes: i.volumes.map((v) => ({ volume: v.volume, source: claims[v.volume]! })),
      };
    }
    case 'warm': {
      const run = newestCompleteRun(i.runs);
      if (!run) return { problem: 'no complete standby copy exists yet' };
      if (!i.snapshotsInstalled) return { problem: NO_SNAPSHOTS };
      const missing = i.volumes.filter((v) => !run.claims[v.volume]).map((v) => v.volume);
      if (missing.length) return { problem: `copy run ${run.run} has no claim for volume(s) ${missing.join(', ')}` };
      return {
        method: 'cloneCopy',
        source: `a clone of the newest complete copy, run ${run.run} (${Object.values(run.claims).join(', ')})`,
        sourceRun: run.run,
        volumes: i.volumes.map((v) => ({ volume: v.volume, source: run.claims[v.volume]! })),
        dataTime: run.dataTime,
      };
    }
    case 'cold': {
      const cold = spec.cold!;
      if (cold.method === 'volumeSnapshot') {
        const set = newestReadySet(i.sets);
        if (!set) return { problem: 'no ready snapshot set exists yet' };
        return {
          method: 'restoreSnapshots',
          source: `the newest ready snapshot set, run ${set.run}`,
          sourceRun: set.run,
          volumes: i.volumes.map((v) => ({ volume: v.volume, source: set.snapshots[v.volume] ?? '' })),
          dataTime: set.time,
        };
      }
      if (!restoreTemplateOf(i)) return { problem: `the ${spec.engine.type} engine has no restore for cold.method ${cold.method}` };
      const dumped = newestSucceeded(i.jobs, ['snapshot'])?.started;
      if (!dumped) return { problem: 'no snapshot Job has succeeded yet: there is nothing to restore' };
      return { method: 'restoreJob', source: `the newest ${cold.method === 'engine' ? 'dump' : 'copy'}, restored by the cold tier's restore Job`, volumes: [], dataTime: dumped };
    }
  }
}

/** The cold tier's restore Job template, as a promotion runs it. */
export function restoreTemplateOf(i: Pick<PlanInput, 'spec' | 'engine' | 'engineCtx'>) {
  const cold = i.spec.cold;
  if (!cold) return undefined;
  return cold.method === 'job' ? asPodTemplate(cold.restoreJobTemplate) : i.engineCtx ? i.engine.restoreTemplate(i.engineCtx) : undefined;
}

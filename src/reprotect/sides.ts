// What the steps of re-protection and failback read: both sides' objects as observed, and the
// one thing they all do to volumes: a snapshot set of one side, made idempotently, ready or not.
import type { V1CronJob, V1Job, V1PersistentVolumeClaim, V1Pod, V1Service } from '@kubernetes/client-node';
import type { StandbySite } from '../api/site.ts';
import type { SiteStatus } from '../api/status.ts';
import type { CopyRun } from '../copies/inventory.ts';
import type { Engine } from '../engines/engine.ts';
import type { ObjectActions } from '../k8s/actions.ts';
import { LABEL_ROLE } from '../site/names.ts';
import { failed, waiting, type StepResult } from '../site/step.ts';
import { claimsOf, isStatefulSet, primaryVolumes, type PrimaryVolume, type Workload } from '../site/workload.ts';
import { snapshotSets, type SnapshotSet } from '../snapshot/sets.ts';
import { buildSnapshot, type SnapshotRole } from '../snapshot/take.ts';
import type { VolumeSnapshot } from '../snapshot/types.ts';

export interface SidesInput {
  site: StandbySite;
  /** The site's status as this reconcile last wrote or read it. */
  status: SiteStatus;
  engine: Engine;
  operatorImage: string;
  now: Date;
  primary: Workload | undefined;
  primaryPods: readonly V1Pod[];
  primaryService: V1Service | undefined;
  trafficService: V1Service | undefined;
  primaryClaims: ReadonlyMap<string, V1PersistentVolumeClaim>;
  standby: Workload | undefined;
  standbyPods: readonly V1Pod[];
  /** The site's own VolumeSnapshots and Jobs, and its copy runs. */
  snapshots: readonly VolumeSnapshot[];
  jobs: readonly V1Job[];
  cronJobs: readonly V1CronJob[];
  runs: readonly CopyRun[];
  snapshotsInstalled: boolean;
}

/** The primary's data volumes (for a StatefulSet: replica 0's claims). */
export function volumesOf(w: Workload | undefined): PrimaryVolume[] {
  return w ? primaryVolumes(w) : [];
}

/**
 * The standby's data volumes: replica 0's claims from its claim templates (hot), and the claims
 * its pod template mounts by name. A warm or cold standby StatefulSet has no claim templates:
 * it runs on the copies (claims) a sync or a restore made, and those are what re-protection and
 * failback must snapshot. A claim the primary's own template also mounts by name is the user's
 * (shared by both sides, copied into the standby's template), not the standby's data: left out.
 */
export function standbyVolumesOf(w: Workload | undefined, primary: Workload | undefined): PrimaryVolume[] {
  if (!w) return [];
  const own = primaryVolumes(w);
  if (!isStatefulSet(w)) return own;
  const named = new Set(own.map((v) => v.volume));
  const shared = new Set(Object.values(claimsOf(primary?.spec?.template)));
  const mounted = Object.entries(claimsOf(w.spec?.template))
    .filter(([volume, claim]) => !named.has(volume) && !shared.has(claim))
    .map(([volume, claim]) => ({ volume, claim }));
  return [...own, ...mounted];
}

/** The site's snapshot sets of one role, over the given volumes. */
export function setsOf(i: SidesInput, role: SnapshotRole, volumes: readonly PrimaryVolume[]): SnapshotSet[] {
  return snapshotSets(
    i.snapshots.filter((s) => s.metadata?.labels?.[LABEL_ROLE] === role),
    volumes.map((v) => v.volume),
  );
}

/** The snapshot class a site's tier names, if any (hot names none: the cluster default). */
export function snapshotClass(site: StandbySite): string | undefined {
  return site.spec.tier === 'warm' ? site.spec.warm?.volumeSnapshotClassName : site.spec.tier === 'cold' ? site.spec.cold?.volumeSnapshotClassName : undefined;
}

/**
 * Makes (once) a snapshot set of these volumes under this run, and says whether it is ready:
 * done with the set, waiting for it, or failed when a snapshot reports an error.
 */
export async function snapshotSetStep(
  i: SidesInput,
  act: ObjectActions,
  what: string,
  volumes: readonly PrimaryVolume[],
  run: string,
  role: SnapshotRole,
): Promise<{ result: StepResult; set: SnapshotSet | undefined }> {
  if (!i.snapshotsInstalled) {
    return { result: failed(`cannot snapshot ${what}: the VolumeSnapshot API (snapshot.storage.k8s.io/v1) is not installed in this cluster`), set: undefined };
  }
  const set = setsOf(i, role, volumes).find((s) => s.run === run);
  for (const v of volumes) {
    if (set?.snapshots[v.volume]) continue;
    await act.ensure(buildSnapshot(i.site, v, run, snapshotClass(i.site), role));
  }
  if (set?.error) return { result: failed(`the snapshot of ${what} failed: ${set.error}`), set };
  if (!set?.ready) return { result: waiting(`the snapshot of ${what} (run ${run}) to be ready`), set };
  return { result: { done: true }, set };
}

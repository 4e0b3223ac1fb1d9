// The cost of a site's protection, for status.cost: what the standby's pods reserve now, the
// storage its copies, snapshots and dumps hold, and what the same site would reserve on each
// tier (the owner's what-if). Pure: computed from the spec and the objects the caches hold.
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { parseDuration } from '../api/duration.ts';
import { schedulePeriodMs } from '../api/cron.ts';
import type { SiteSpec, Tier } from '../api/spec.ts';
import type { SiteCost, TierCost } from '../api/status.ts';
import { bytes } from '../k8s/quantity.ts';
import { isStatefulSet, podTemplateOf, type PrimaryVolume, type Workload } from '../site/workload.ts';
import type { VolumeSnapshot } from '../snapshot/types.ts';
import { withReducedResources } from '../tiers/reduced.ts';
import { NOTHING, podRequests, times, type Reservation } from './requests.ts';

/** The transfer snapshot sets a warm sync keeps (sync/command.ts prunes to its last 2). */
const WARM_TRANSFER_SETS = 2;

export interface CostInput {
  spec: SiteSpec;
  now: Date;
  /** The primary workload (undefined when it does not exist: no what-if then). */
  primary: Workload | undefined;
  volumes: readonly PrimaryVolume[];
  primaryClaims: ReadonlyMap<string, V1PersistentVolumeClaim>;
  /** The standby workload as it exists now. */
  standby: Workload | undefined;
  /** The claims the site keeps: its copies, its dump volume, the hot standby's own volumes. */
  claims: readonly V1PersistentVolumeClaim[];
  /** The site's VolumeSnapshots (its drills' own left out). */
  snapshots: readonly VolumeSnapshot[];
}

/** A claim's size: its capacity once bound, else what it requests. */
export function claimBytes(c: V1PersistentVolumeClaim | undefined): number {
  return bytes(c?.status?.capacity?.storage ?? c?.spec?.resources?.requests?.storage);
}

/** The bytes of one set of the primary's data volumes (one pod's, for a StatefulSet). */
export function primaryVolumeBytes(volumes: readonly PrimaryVolume[], claims: ReadonlyMap<string, V1PersistentVolumeClaim>): number {
  return volumes.reduce((sum, v) => sum + (claims.has(v.claim) ? claimBytes(claims.get(v.claim)) : claimBytes(v.template)), 0);
}

const figures = (r: Reservation, storage: number): TierCost => ({ cpu: r.milliCpu / 1000, memory: r.memoryBytes, storage });

/** Reserved now: the standby workload's replicas × its pods' requests (a warm standby at 0 reserves nothing). */
export function reservedNow(standby: Workload | undefined): Reservation {
  if (!standby) return NOTHING;
  return times(podRequests(podTemplateOf(standby)), standby.spec?.replicas ?? 1);
}

/** Storage held now: every kept claim (once, by name) and every snapshot's restore size. */
export function storageNow(claims: readonly V1PersistentVolumeClaim[], snapshots: readonly VolumeSnapshot[]): number {
  const byName = new Map(claims.map((c) => [c.metadata?.name ?? '', c]));
  let total = 0;
  for (const c of byName.values()) total += claimBytes(c);
  for (const s of snapshots) total += bytes(s.status?.restoreSize);
  return total;
}

/** How many snapshot sets cold retention keeps: keepLast, or as many schedules as fit in maxAge, whichever is fewer. */
export function keptSnapshotSets(spec: SiteSpec, now: Date): number {
  const cold = spec.cold;
  const keepLast = cold?.retention.keepLast ?? (cold ? undefined : 7);
  const maxAgeMs = cold?.retention.maxAge ? parseDuration(cold.retention.maxAge) : undefined;
  let byAge: number | undefined;
  if (cold && maxAgeMs !== undefined) {
    const period = schedulePeriodMs(cold.schedule, cold.timeZone, now);
    byAge = Number.isFinite(period) && period > 0 ? Math.floor(maxAgeMs / period) + 1 : 1;
  }
  const kept = Math.min(keepLast ?? Number.POSITIVE_INFINITY, byAge ?? Number.POSITIVE_INFINITY);
  return Number.isFinite(kept) ? Math.max(1, kept) : 1;
}

/**
 * What the same site would reserve on one tier while it stands by: hot runs spec.hot.replicas
 * pods of the primary's template (with spec.standby.resources, if given) on volumes of their own (one set per pod for a StatefulSet);
 * warm runs no pod and keeps one complete copy (a second while a sync makes the next) and, with
 * method volumeSnapshot, the snapshots of its last two syncs (sync/command.ts keeps 2); cold runs
 * no pod and keeps its retained snapshot sets (at most the volumes' size each; most drivers store
 * less) or one dump volume as large as the primary's first data volume (method engine; a Job's
 * own storage, method job, is not counted).
 */
export function tierCost(tier: Tier, i: CostInput, primary: Workload): TierCost {
  const volumeBytes = primaryVolumeBytes(i.volumes, i.primaryClaims);
  switch (tier) {
    case 'hot': {
      const replicas = i.spec.hot?.replicas ?? 1;
      // A standby at reduced capacity (spec.standby.resources) reserves what it stands by with.
      const template = withReducedResources(podTemplateOf(primary), i.spec.standby?.resources);
      return figures(times(podRequests(template), replicas), isStatefulSet(primary) ? volumeBytes * replicas : volumeBytes);
    }
    case 'warm':
      return figures(NOTHING, volumeBytes * ((i.spec.warm?.method ?? 'volumeSnapshot') === 'volumeSnapshot' ? 1 + WARM_TRANSFER_SETS : 1));
    case 'cold': {
      const method = i.spec.cold?.method ?? 'volumeSnapshot';
      if (method === 'volumeSnapshot') return figures(NOTHING, keptSnapshotSets(i.spec, i.now) * volumeBytes);
      if (method === 'engine') {
        const first = i.volumes[0];
        return figures(NOTHING, first ? primaryVolumeBytes([first], i.primaryClaims) : 0);
      }
      return figures(NOTHING, 0);
    }
  }
}

export function siteCost(i: CostInput): SiteCost {
  const cost: SiteCost = figures(reservedNow(i.standby), storageNow(i.claims, i.snapshots));
  const primary = i.primary;
  if (primary) cost.whatIf = { cold: tierCost('cold', i, primary), warm: tierCost('warm', i, primary), hot: tierCost('hot', i, primary) };
  return cost;
}

// The copy a promotion serves from, chosen once when it begins and recorded in status.promotion:
// the serving standby is only ever (re)built on it. A newer copy made later would be a copy of
// the fenced old primary, without the writes the promoted standby took since. Pure.
import type { StandbySite } from '../api/site.ts';
import type { PromotionStatus } from '../api/status.ts';
import { newestCompleteRun, type CopyRun } from '../copies/inventory.ts';
import { names } from '../site/names.ts';
import type { PrimaryVolume } from '../site/workload.ts';
import { newestReadySet, type SnapshotSet } from '../snapshot/sets.ts';

export type PromotionCopy = NonNullable<PromotionStatus['copy']>;

export interface CopyChoice {
  site: StandbySite;
  volumes: readonly PrimaryVolume[];
  runs: readonly CopyRun[];
  sets: readonly SnapshotSet[];
  /** The id of the promotion being begun (names its restore copy, cold method job/engine). */
  promotionId: string;
  /** cold method job/engine: when the newest dump was taken. */
  dataTime: Date | undefined;
}

/** warm: the newest complete copy; cold: the claims the newest ready snapshot set (or dump) is restored into; hot: none. */
export function promotionCopy(i: CopyChoice): PromotionCopy | undefined {
  const { site } = i;
  const claimsOf = (run: string) => Object.fromEntries(i.volumes.map((v) => [v.volume, names.copyClaim(site.metadata.name, v.volume, run)]));
  if (site.spec.tier === 'warm') {
    const run = newestCompleteRun(i.runs);
    return run ? { run: run.run, claims: { ...run.claims }, dataTime: run.dataTime.toISOString() } : undefined;
  }
  if (site.spec.tier === 'cold') {
    if (site.spec.cold?.method === 'volumeSnapshot') {
      const set = newestReadySet(i.sets);
      return set ? { run: set.run, claims: claimsOf(set.run), dataTime: set.time.toISOString() } : undefined;
    }
    const run = `restore-${i.promotionId}`;
    return { run, claims: claimsOf(run), ...(i.dataTime ? { dataTime: i.dataTime.toISOString() } : {}) };
  }
  return undefined;
}

/**
 * The claims the standby is built on by convergence while a promotion exists: the recorded copy,
 * once it holds data (complete, or the Promoting step finished with it); until then none (the
 * Promoting step starts the standby itself). Without a record (a promotion begun before copies
 * were recorded): `legacy`, the copy the standby mounts or else the newest.
 */
export function promotedClaims(p: PromotionStatus, runs: readonly CopyRun[], legacy: CopyRun | undefined): Record<string, string> | undefined {
  const rec = p.copy;
  if (!rec) return legacy?.claims;
  const proven = p.state === 'Switching' || p.state === 'Growing' || p.state === 'Promoted' || runs.some((r) => r.run === rec.run && r.complete);
  return proven ? rec.claims : undefined;
}

// Standby copies are made in runs: one new PVC per primary volume, labelled
// with the run, marked complete only when the whole copy is in place and
// every claim is Bound. The
// standby always uses a complete run; older runs are deleted only after the
// standby moved off them, so the last good copy is never lost to a new one.
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { ANNOTATION_COMPLETE, ANNOTATION_DATA_TIME, ANNOTATION_VOLUME, byCopyRun } from '../site/names.ts';
import { toDate } from '../k8s/types.ts';

export interface CopyRun {
  run: string;
  /** When the copied data was captured on the primary. */
  dataTime: Date;
  /** PVC names by primary volume name. */
  claims: Record<string, string>;
  complete: boolean;
  created: Date;
  names: string[];
}

/** The runs found among a site's copy PVCs, newest data first. The hot tier's fixed copies are not runs. */
export function copyRuns(pvcs: readonly V1PersistentVolumeClaim[], volumes: readonly string[]): CopyRun[] {
  const runs: CopyRun[] = [];
  for (const [run, list] of byCopyRun(pvcs)) {
    if (run === 'hot') continue;
    const claims: Record<string, string> = {};
    let dataTime: Date | undefined;
    let created: Date | undefined;
    let allComplete = true;
    for (const p of list) {
      const a = p.metadata?.annotations ?? {};
      const volume = a[ANNOTATION_VOLUME];
      if (volume) claims[volume] = p.metadata?.name ?? '';
      const t = toDate(a[ANNOTATION_DATA_TIME]);
      if (t && (!dataTime || t < dataTime)) dataTime = t;
      const c = toDate(p.metadata?.creationTimestamp);
      if (c && (!created || c < created)) created = c;
      // Marked complete by whoever filled it, and usable: a claim that is not Bound (Pending for
      // good on a class that cannot provision, or Lost) holds no copy a standby could start on.
      if (a[ANNOTATION_COMPLETE] !== 'true' || p.metadata?.deletionTimestamp || p.status?.phase !== 'Bound') allComplete = false;
    }
    runs.push({
      run,
      dataTime: dataTime ?? created ?? new Date(0),
      claims,
      complete: allComplete && volumes.length > 0 && volumes.every((v) => v in claims),
      created: created ?? new Date(0),
      names: list.map((p) => p.metadata?.name ?? ''),
    });
  }
  return runs.sort((a, b) => b.dataTime.getTime() - a.dataTime.getTime() || (a.run < b.run ? 1 : -1));
}

export function newestCompleteRun(runs: readonly CopyRun[]): CopyRun | undefined {
  return runs.find((r) => r.complete);
}

/**
 * Copy runs that may be deleted: not the newest complete run, not mounted by
 * the standby, and not still being made (younger than `inProgressMs`).
 */
export function obsoleteRuns(
  runs: readonly CopyRun[],
  mounted: ReadonlySet<string>,
  now: Date,
  inProgressMs: number,
): CopyRun[] {
  const newest = newestCompleteRun(runs);
  return runs.filter((r) => {
    if (r === newest) return false;
    if (r.names.some((n) => mounted.has(n))) return false;
    if (!r.complete) {
      const superseded = newest !== undefined && r.created < newest.created;
      return superseded || now.getTime() - r.created.getTime() > inProgressMs;
    }
    return newest !== undefined;
  });
}

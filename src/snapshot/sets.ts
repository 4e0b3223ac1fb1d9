// Snapshots are taken in runs: one VolumeSnapshot per primary volume, labelled
// with the run. A set is usable for restore only when every volume's snapshot
// is ready, so a restore is always consistent across volumes.
import { ANNOTATION_VOLUME, byCopyRun, LABEL_ROLE } from '../site/names.ts';
import { toDate } from '../k8s/types.ts';
import type { VolumeSnapshot } from './types.ts';

export interface SnapshotSet {
  run: string;
  /** When the data was captured: the oldest snapshot's creation time (or the object's, until the driver reports). */
  time: Date;
  /** Snapshot names by primary volume name. */
  snapshots: Record<string, string>;
  ready: boolean;
  /** A driver error on any snapshot of the set. */
  error: string | undefined;
  names: string[];
}

/** Groups snapshots into sets, newest first. `volumes` are the primary's volume names. */
export function snapshotSets(snaps: readonly VolumeSnapshot[], volumes: readonly string[]): SnapshotSet[] {
  const sets: SnapshotSet[] = [];
  for (const [run, list] of byCopyRun(snaps)) {
    const snapshots: Record<string, string> = {};
    let time: Date | undefined;
    let error: string | undefined;
    let allReady = true;
    for (const s of list) {
      const volume = s.metadata?.annotations?.[ANNOTATION_VOLUME];
      if (volume) snapshots[volume] = s.metadata?.name ?? '';
      const t = toDate(s.status?.creationTime) ?? toDate(s.metadata?.creationTimestamp);
      if (t && (!time || t < time)) time = t;
      if (s.status?.readyToUse !== true) allReady = false;
      if (s.status?.error?.message) error = s.status.error.message;
    }
    const complete = volumes.length > 0 && volumes.every((v) => v in snapshots);
    sets.push({
      run,
      time: time ?? new Date(0),
      snapshots,
      ready: complete && allReady,
      error,
      names: list.map((s) => s.metadata?.name ?? ''),
    });
  }
  return sets.sort((a, b) => b.time.getTime() - a.time.getTime() || (a.run < b.run ? 1 : -1));
}

/**
 * The snapshots a site may restore from and counts as its data: not the divergence copies
 * (role divergent: what only an old side held after a failover, kept for a person, never a
 * restore source nor the site's data age).
 */
export function restorable(snaps: readonly VolumeSnapshot[]): VolumeSnapshot[] {
  return snaps.filter((s) => s.metadata?.labels?.[LABEL_ROLE] !== 'divergent');
}

export function newestReadySet(sets: readonly SnapshotSet[]): SnapshotSet | undefined {
  return sets.find((s) => s.ready);
}

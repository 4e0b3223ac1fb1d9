// Taking one snapshot set: a VolumeSnapshot per primary volume, then waiting
// until every one is readyToUse (or one reports an error, or time runs out).
import type { Logger } from 'pino';
import type { StandbySite } from '../api/site.ts';
import type { KubeClient } from '../k8s/client.ts';
import { R } from '../k8s/resources.ts';
import {
  ANNOTATION_SOURCE_CLAIM,
  ANNOTATION_VOLUME,
  LABEL_RUN,
  names,
  ownedMeta,
} from '../site/names.ts';
import type { PrimaryVolume } from '../site/workload.ts';
import type { VolumeSnapshot } from './types.ts';

export interface SnapshotSetResult {
  run: string;
  /** Snapshot names by volume name. */
  snapshots: Record<string, string>;
  /** The oldest creation time the driver reported: when the data was captured. */
  time: Date;
}

/** What a snapshot is for; each role is pruned by its own rule, never by another's. */
export type SnapshotRole = 'snapshot' | 'transfer' | 'divergent' | 'reverse';

/**
 * role `snapshot`: a cold tier's backup, kept by cold.retention. role `transfer`: a warm sync's
 * way of cloning the primary, pruned by the sync. role `divergent`: what only an old side held,
 * kept before re-protection overwrote it (kept by deletionPolicy only). role `reverse`: the
 * serving standby's volumes after a failover, what a failback restores the primary from.
 */
export function buildSnapshot(
  site: StandbySite,
  v: PrimaryVolume,
  run: string,
  className: string | undefined,
  role: SnapshotRole = 'snapshot',
): VolumeSnapshot {
  return {
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshot',
    metadata: ownedMeta(site, names.snapshot(site.metadata.name, v.volume, run), role, {
      owner: site.spec.deletionPolicy.snapshots === 'Delete' ? 'reference' : 'none',
      labels: { [LABEL_RUN]: run },
      annotations: { [ANNOTATION_VOLUME]: v.volume, [ANNOTATION_SOURCE_CLAIM]: v.claim },
    }),
    spec: {
      source: { persistentVolumeClaimName: v.claim },
      ...(className ? { volumeSnapshotClassName: className } : {}),
    },
  };
}

export async function takeSnapshotSet(
  client: KubeClient,
  site: StandbySite,
  volumes: readonly PrimaryVolume[],
  run: string,
  className: string | undefined,
  opts: { timeoutMs: number; pollMs: number; log: Logger; role?: 'snapshot' | 'transfer' },
): Promise<SnapshotSetResult> {
  const ns = site.metadata.namespace;
  const snapshots: Record<string, string> = {};
  for (const v of volumes) {
    const snap = buildSnapshot(site, v, run, className, opts.role);
    await client.create(R.volumeSnapshot, snap);
    snapshots[v.volume] = snap.metadata!.name!;
  }
  opts.log.info({ run, snapshots }, 'snapshots requested; waiting until ready');
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    let time: Date | undefined;
    let pending = 0;
    for (const name of Object.values(snapshots)) {
      const s = await client.get<VolumeSnapshot>(R.volumeSnapshot, ns, name);
      if (!s) throw new Error(`VolumeSnapshot ${name} disappeared while waiting for it`);
      if (s.status?.error?.message) throw new Error(`VolumeSnapshot ${name} failed: ${s.status.error.message}`);
      if (s.status?.readyToUse !== true) {
        pending++;
        continue;
      }
      const t = s.status.creationTime ? new Date(s.status.creationTime) : new Date();
      if (!time || t < time) time = t;
    }
    if (pending === 0) return { run, snapshots, time: time ?? new Date() };
    if (Date.now() > deadline) {
      throw new Error(`${pending} VolumeSnapshot(s) of run ${run} not ready after ${Math.round(opts.timeoutMs / 1000)}s; is a CSI snapshotter installed for the class?`);
    }
    await new Promise((r) => setTimeout(r, opts.pollMs));
  }
}

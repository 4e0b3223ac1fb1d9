// The `snapshot` subcommand, run by the cold tier's CronJob: snapshot every
// primary volume as one set, wait until ready, then prune by retention.
import type { Logger } from 'pino';
import { parseDuration } from '../api/duration.ts';
import type { KubeClient } from '../k8s/client.ts';
import { R } from '../k8s/resources.ts';
import { LABEL_ROLE, LABEL_SITE, runId } from '../site/names.ts';
import { COPY_JOB_DEADLINE_SECONDS } from '../tiers/jobs.ts';
import { loadSite } from './load.ts';
import { applyRetention } from './retention.ts';
import { snapshotSets } from './sets.ts';
import { takeSnapshotSet } from './take.ts';
import type { VolumeSnapshot } from './types.ts';

export interface CopyRunOptions {
  now?: Date;
  timeoutMs?: number;
  pollMs?: number;
  log: Logger;
}

export interface SnapshotOutcome {
  run: string;
  snapshots: Record<string, string>;
  deleted: string[];
}

export async function snapshotSite(client: KubeClient, key: string, o: CopyRunOptions): Promise<SnapshotOutcome> {
  const { site, volumes } = await loadSite(client, key);
  if (site.spec.tier !== 'cold' || site.spec.cold?.method !== 'volumeSnapshot') {
    throw new Error(`StandbySite ${key} is not a cold site with method volumeSnapshot (tier ${site.spec.tier})`);
  }
  const cold = site.spec.cold;
  const run = runId(o.now ?? new Date());
  const taken = await takeSnapshotSet(client, site, volumes, run, cold.volumeSnapshotClassName, {
    timeoutMs: o.timeoutMs ?? (COPY_JOB_DEADLINE_SECONDS - 120) * 1000,
    pollMs: o.pollMs ?? 2000,
    log: o.log,
  });
  const deleted = await pruneSnapshots(client, site.metadata.namespace, site.metadata.name, volumes.map((v) => v.volume), {
    keepLast: cold.retention.keepLast,
    maxAgeMs: cold.retention.maxAge ? parseDuration(cold.retention.maxAge) : undefined,
  });
  o.log.info({ run, deleted }, 'snapshot set ready; retention applied');
  return { run, snapshots: taken.snapshots, deleted };
}

/** Deletes the snapshots of the sets retention lets go; returns their names. */
export async function pruneSnapshots(
  client: KubeClient,
  namespace: string,
  site: string,
  volumes: string[],
  policy: { keepLast?: number | undefined; maxAgeMs?: number | undefined },
  now = new Date(),
  role: 'snapshot' | 'transfer' = 'snapshot',
): Promise<string[]> {
  // Only this role's snapshots: a warm sync never prunes the cold tier's backups, nor the reverse.
  const { items } = await client.list<VolumeSnapshot>(R.volumeSnapshot, namespace, { labelSelector: `${LABEL_SITE}=${site},${LABEL_ROLE}=${role}` });
  const sets = snapshotSets(items, volumes);
  const decision = applyRetention(sets, policy, now, 2 * COPY_JOB_DEADLINE_SECONDS * 1000);
  const doomed = new Set(decision.delete);
  const deleted: string[] = [];
  for (const set of sets) {
    if (!doomed.has(set.run)) continue;
    for (const name of set.names) {
      if (await client.delete(R.volumeSnapshot, namespace, name)) deleted.push(name);
    }
  }
  return deleted;
}

// The `snapshot` subcommand, run by the cold tier's CronJob: snapshot every
// primary volume as one set, wait until ready, then prune by retention.
import { parseDuration } from '../api/duration.ts';
import { loadSite, type CopyRunOptions } from '../copies/load.ts';
import type { KubeClient } from '../k8s/client.ts';
import { runId } from '../site/names.ts';
import { COPY_JOB_DEADLINE_SECONDS } from '../tiers/jobs.ts';
import { pruneSnapshots } from './prune.ts';
import { takeSnapshotSet } from './take.ts';

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
  const deleted = await pruneSnapshots(client, site, volumes.map((v) => v.volume), {
    keepLast: cold.retention.keepLast,
    maxAgeMs: cold.retention.maxAge ? parseDuration(cold.retention.maxAge) : undefined,
  });
  o.log.info({ run, deleted }, 'snapshot set ready; retention applied');
  return { run, snapshots: taken.snapshots, deleted };
}


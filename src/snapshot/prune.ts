// Retention applied to the cluster: delete the snapshot sets that the policy lets go.
import type { StandbySite } from '../api/site.ts';
import type { KubeClient } from '../k8s/client.ts';
import { ownershipOf } from '../site/ownership.ts';
import { R } from '../k8s/resources.ts';
import { LABEL_ROLE, LABEL_SITE } from '../site/names.ts';
import { COPY_JOB_DEADLINE_SECONDS } from '../tiers/jobs.ts';
import { applyRetention } from './retention.ts';
import { snapshotSets } from './sets.ts';
import type { VolumeSnapshot } from './types.ts';

/** Deletes the snapshots of the sets retention lets go; returns their names. */
export async function pruneSnapshots(
  client: KubeClient,
  site: StandbySite,
  volumes: string[],
  policy: { keepLast?: number | undefined; maxAgeMs?: number | undefined },
  now = new Date(),
  role: 'snapshot' | 'transfer' = 'snapshot',
): Promise<string[]> {
  // Only this role's snapshots: a warm sync never prunes the cold tier's backups, nor the reverse.
  const namespace = site.metadata.namespace;
  const { items } = await client.list<VolumeSnapshot>(R.volumeSnapshot, namespace, {
    labelSelector: `${LABEL_SITE}=${site.metadata.name},${LABEL_ROLE}=${role}`,
  });
  // Never another site's (an earlier site of the same name keeps its snapshots: site/ownership.ts).
  const ours = items.filter((s) => ownershipOf(s, { name: site.metadata.name, uid: site.metadata.uid }).ours);
  const sets = snapshotSets(ours, volumes);
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

// Re-cloning a warm standby's copy whose claim was deleted outside the operator, from the ready
// transfer snapshot set the sync cloned it from (copies/lost.ts decides; this acts, one step per
// reconcile): the claim again, from the snapshot and with the snapshot's data time; then the
// check Job a sync uses to prove a copy mounts; then, Bound, marked complete. No snapshot is ever
// deleted, and the standby workload stays as it is throughout.
import { buildCopyClaim } from '../copies/claim.ts';
import type { LostCopy } from '../copies/lost.ts';
import { isConflict } from '../k8s/client.ts';
import { R } from '../k8s/resources.ts';
import { ANNOTATION_COMPLETE, ANNOTATION_DATA_TIME, names } from '../site/names.ts';
import { checkJob } from '../sync/prove.ts';
import { actuator } from './actuator.ts';
import type { ReconcileContext } from './context.ts';
import type { Observed } from './facts.ts';

/** How long the check Job may take to mount the re-cloned copy. */
const CHECK_DEADLINE_SECONDS = 600;
const POLL_MS = 2000;

export async function recloneLostCopy(rc: ReconcileContext, obs: Observed, lost: LostCopy): Promise<void> {
  const { set } = lost;
  if (!set || !rc.deps.isLeader()) return;
  const { site } = rc;
  const ns = site.metadata.namespace;
  const { client } = rc.deps;
  try {
    switch (lost.action) {
      case 'create':
        for (const [volume, name] of Object.entries(lost.create)) {
          const v = obs.volumes.find((x) => x.volume === volume);
          if (!v) continue;
          const pvc = buildCopyClaim({
            site,
            name,
            run: lost.run,
            volume: v,
            primaryClaim: obs.primaryClaims.get(v.claim),
            fromSnapshot: set.snapshots[volume],
            // The copy holds the snapshot's data: its age is the snapshot's, not the re-clone's.
            annotations: { [ANNOTATION_DATA_TIME]: set.time.toISOString() },
          });
          try {
            await client.create(R.pvc, pvc);
            rc.log.info({ claim: name, snapshot: set.snapshots[volume] }, "re-cloning the standby's lost copy claim from its snapshot");
          } catch (err) {
            // Made by an earlier pass whose write the cache does not show yet.
            if (!isConflict(err)) throw err;
          }
        }
        rc.after(POLL_MS);
        return;
      case 'prove':
        await actuator(rc.deps, site).ensure(checkJob(site, lost.run, lost.claims, rc.deps.operatorImage, CHECK_DEADLINE_SECONDS));
        rc.after(POLL_MS);
        return;
      case 'mark': {
        // Its pod must not hold the claims; then the copy is usable and complete again.
        await client.delete(R.job, ns, names.bindJob(site.metadata.name, lost.run));
        for (const name of lost.lost) {
          await client.mergePatch(R.pvc, ns, name, {
            metadata: { annotations: { [ANNOTATION_COMPLETE]: 'true', [ANNOTATION_DATA_TIME]: set.time.toISOString() } },
          });
        }
        rc.log.info({ run: lost.run, claims: lost.lost }, "the standby's copy re-cloned from its snapshot is complete");
        await rc.deps.events.record(
          rc.current,
          'Normal',
          'CopyRecloned',
          `PersistentVolumeClaim ${lost.lost.join(', ')} re-cloned from VolumeSnapshot ${Object.values(set.snapshots).join(', ')}: the standby's copy holds data from ${set.time.toISOString()}`,
        );
        return;
      }
      case 'wait':
        rc.after(POLL_MS);
        return;
      case 'failed':
      case 'none':
        // Said in status; the next scheduled sync makes a new copy.
        return;
    }
  } catch (err) {
    rc.errors.push(`could not re-clone the standby's copy ${lost.lost.join(', ')}: ${(err as Error).message}`);
  }
}

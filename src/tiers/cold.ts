// Cold: scheduled snapshots (or dumps) of the primary; no standby runs until a
// promotion restores the newest copy into one.
import type { V1PersistentVolumeClaim, V1PodTemplateSpec } from '@kubernetes/client-node';
import type { StandbySite } from '../api/site.ts';
import { buildCopyClaim } from '../copies/claim.ts';
import type { SnapshotSet } from '../snapshot/sets.ts';
import type { PrimaryVolume } from '../site/workload.ts';
import { type BuildContext, type Desired, promotionStarted, standbyMustRun } from './context.ts';
import { buildCopierIdentity, buildCronJob, jobPod, operatorPod } from './jobs.ts';
import { standbyFor } from './standby-workload.ts';
import { asPodTemplate } from '../engines/generic.ts';
import { ANNOTATION_COMPLETE, ANNOTATION_DATA_TIME, names } from '../site/names.ts';

function snapshotPod(ctx: BuildContext): V1PodTemplateSpec | undefined {
  const { site } = ctx;
  const cold = site.spec.cold!;
  switch (cold.method) {
    case 'volumeSnapshot':
      return operatorPod(site, ctx.operatorImage, 'snapshot', ['snapshot', '--site', `${site.metadata.namespace}/${site.metadata.name}`]);
    case 'job':
      return jobPod(site, 'snapshot', asPodTemplate(cold.jobTemplate)!);
    case 'engine': {
      const t = ctx.engine.dumpTemplate({ ...ctx, tier: 'cold' });
      return t ? jobPod(site, 'snapshot', t) : undefined;
    }
  }
}

export function coldObjects(ctx: BuildContext): Desired[] {
  const { site } = ctx;
  const cold = site.spec.cold!;
  const out: Desired[] = [...buildCopierIdentity(site, ctx.imagePullSecrets)];
  const pod = snapshotPod(ctx);
  if (pod) {
    out.push(
      buildCronJob(
        site,
        names.snapshotCronJob(site.metadata.name),
        'snapshot',
        { schedule: cold.schedule, timeZone: cold.timeZone, suspend: cold.suspend || promotionStarted(ctx) },
        pod,
      ),
    );
  }
  // The standby exists only once a promotion restored a copy for it.
  if (ctx.copyClaims && standbyMustRun(ctx)) out.push(standbyFor(ctx, 1, { kind: 'claims', claims: ctx.copyClaims }));
  return out;
}

export interface RestoreInput {
  site: StandbySite;
  volumes: readonly PrimaryVolume[];
  primaryClaims: ReadonlyMap<string, V1PersistentVolumeClaim>;
  /** The copy run the claims belong to (a snapshot set's run, or restore-<promotion>). */
  run: string;
  /** Restore from this snapshot set; without it the claims are empty, for a restore Job to fill. */
  set?: SnapshotSet | undefined;
}

/**
 * The fresh claims a cold promotion restores into, one per primary volume. From a snapshot set
 * they are complete as soon as they exist (the data comes with them); empty ones are completed
 * by the restore Job.
 */
export function restoreClaims(i: RestoreInput): V1PersistentVolumeClaim[] {
  return i.volumes.map((v) =>
    buildCopyClaim({
      site: i.site,
      name: names.copyClaim(i.site.metadata.name, v.volume, i.run),
      run: i.run,
      volume: v,
      primaryClaim: i.primaryClaims.get(v.claim),
      ...(i.set
        ? {
            fromSnapshot: i.set.snapshots[v.volume],
            annotations: { [ANNOTATION_DATA_TIME]: i.set.time.toISOString(), [ANNOTATION_COMPLETE]: 'true' },
          }
        : {}),
    }),
  );
}

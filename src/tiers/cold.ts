// Cold: scheduled snapshots (or dumps) of the primary; no standby runs until a
// promotion restores the newest copy into one.
import type { V1PodTemplateSpec } from '@kubernetes/client-node';
import { type BuildContext, type Desired, promotionStarted, standbyMustRun } from './context.ts';
import { buildCopierIdentity, buildCronJob, jobPod, operatorPod } from './jobs.ts';
import { buildStandbyWorkload, standbyPodTemplate } from './standby-workload.ts';
import { asPodTemplate } from '../engines/generic.ts';
import { names } from '../site/names.ts';

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
  if (ctx.copyClaims && standbyMustRun(ctx)) {
    const template = ctx.engine.standbyTemplate(
      { ...ctx, tier: 'cold' },
      standbyPodTemplate(site.metadata.name, ctx.primary, ctx.primaryService),
    );
    out.push(buildStandbyWorkload({ site, primary: ctx.primary, template, replicas: 1, volumes: { kind: 'claims', claims: ctx.copyClaims } }));
  }
  return out;
}

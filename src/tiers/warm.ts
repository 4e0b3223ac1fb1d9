// Warm: a standby kept at zero replicas on the newest complete copy of the
// primary's volumes, refreshed by the sync CronJob (the operator's `sync`
// subcommand, which makes a new copy beside the old one).
import { type BuildContext, type Desired, promotionStarted, standbyMustRun } from './context.ts';
import { buildCopierIdentity, buildCronJob, operatorPod } from './jobs.ts';
import { standbyFor } from './standby-workload.ts';
import { names } from '../site/names.ts';
import { standsByReduced } from './reduced.ts';

export function warmObjects(ctx: BuildContext): Desired[] {
  const { site } = ctx;
  const warm = site.spec.warm!;
  const key = `${site.metadata.namespace}/${site.metadata.name}`;
  const out: Desired[] = [
    ...buildCopierIdentity(site, ctx.imagePullSecrets),
    buildCronJob(
      site,
      names.syncCronJob(site.metadata.name),
      'copy',
      // After a promotion began, the standby's data must not be replaced by a copy of the old primary.
      { schedule: warm.schedule, timeZone: warm.timeZone, suspend: warm.suspend || promotionStarted(ctx) },
      // Its own image runs the check Job that proves a new copy mounts.
      operatorPod(site, ctx.operatorImage, 'copy', ['sync', '--site', key, '--image', ctx.operatorImage]),
    ),
  ];
  if (ctx.copyClaims) out.push(standbyFor({ ...ctx, reduced: !ctx.keepPods && standsByReduced(site.spec, ctx.active, ctx.promotion, ctx.growth) }, standbyMustRun(ctx) ? 1 : 0, { kind: 'claims', claims: ctx.copyClaims }));
  return out;
}

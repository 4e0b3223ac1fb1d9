// Hot: a standby that runs all the time; the engine makes it stream.
import type { Desired, BuildContext } from './context.ts';
import { buildCopyClaim } from '../copies/claim.ts';
import { standbyFor } from './standby-workload.ts';
import { names } from '../site/names.ts';
import { isStatefulSet } from '../site/workload.ts';
import { standsByReduced } from './reduced.ts';

export function hotObjects(ctx: BuildContext): Desired[] {
  const { site } = ctx;
  const hot = site.spec.hot ?? { replicas: 1, maxLag: '30s' };
  const src = { ...ctx, reduced: !ctx.keepPods && standsByReduced(site.spec, ctx.active, ctx.promotion, ctx.growth) };
  if (isStatefulSet(ctx.primary)) return [standbyFor(src, hot.replicas, { kind: 'templates' })];
  // A Deployment's PVCs are shared by its pods: the standby gets one PVC per volume of its own.
  const out: Desired[] = [];
  const claims: Record<string, string> = {};
  for (const v of ctx.volumes) {
    const name = names.copyClaim(site.metadata.name, v.volume, 'hot');
    claims[v.volume] = name;
    out.push(buildCopyClaim({ site, name, run: 'hot', volume: v, primaryClaim: ctx.primaryClaims.get(v.claim) }));
  }
  out.push(standbyFor(src, hot.replicas, { kind: 'claims', claims }));
  return out;
}

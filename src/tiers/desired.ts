// Everything a site should own right now: the tier's objects, the traffic Service and the
// fences the DR cycle wants (the old primary's after a failover, the standby's during a failback).
import type { BuildContext, Desired } from './context.ts';
import { coldObjects } from './cold.ts';
import { hotObjects } from './hot.ts';
import { warmObjects } from './warm.ts';
import { buildFence, narrowedPrimaryFence } from '../fencing/network-policy.ts';
import { buildTrafficService } from '../traffic/service.ts';
import { names } from '../site/names.ts';
import { selectorOf, type Workload } from '../site/workload.ts';

export function desiredObjects(ctx: BuildContext): Desired[] {
  const out: Desired[] = [];
  switch (ctx.site.spec.tier) {
    case 'hot':
      out.push(...hotObjects(ctx));
      break;
    case 'warm':
      out.push(...warmObjects(ctx));
      break;
    case 'cold':
      out.push(...coldObjects(ctx));
      break;
  }
  // Objects the engine owns (e.g. the PostgreSQL engine's standby Service or dump PVC).
  out.push(...(ctx.engine.objects?.({ ...ctx, tier: ctx.site.spec.tier }) ?? []));
  if (ctx.site.spec.traffic.mode === 'operatorService' && ctx.primaryService) {
    const promoted = ctx.engine.promotedSelector?.({ ...ctx, tier: ctx.site.spec.tier }) ?? {};
    out.push(buildTrafficService(ctx.site, ctx.primaryService, ctx.active, promoted));
  }
  const { primary: p, standby: s } = ctx.fences ?? {};
  // A primary in another cluster is fenced there (controller/remote-fencing.ts), not here.
  if (p && !ctx.site.spec.primary.cluster) out.push(p === 'narrow' ? narrowedPrimaryFence(ctx.site, ctx.primary) : buildFence(ctx.site, ctx.primary));
  const standby = out.find((o): o is Workload => o.kind === ctx.primary.kind && o.metadata?.name === names.standby(ctx.site.metadata.name));
  if (s && standby) {
    out.push(buildFence(ctx.site, standby, { name: names.standbyFence(ctx.site.metadata.name), ...(s === 'narrow' ? { peer: selectorOf(ctx.primary) } : {}) }));
  }
  return out;
}

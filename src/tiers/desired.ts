// Everything a site should own right now: the tier's objects, the traffic
// Service and, during and after a promotion, the fence.
import type { BuildContext, Desired } from './context.ts';
import { coldObjects } from './cold.ts';
import { hotObjects } from './hot.ts';
import { warmObjects } from './warm.ts';
import { buildFence } from '../fencing/network-policy.ts';
import { buildTrafficService } from '../traffic/service.ts';
import { promotionStarted } from './context.ts';

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
  // A primary in another cluster is fenced there (controller/remote-fencing.ts), not here.
  if (promotionStarted(ctx) && ctx.site.spec.promotion.fencing === 'networkPolicy' && !ctx.site.spec.primary.cluster) {
    out.push(buildFence(ctx.site, ctx.primary));
  }
  return out;
}

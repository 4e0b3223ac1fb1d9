// A standby at reduced capacity (spec.standby.resources): while it stands by, its containers'
// CPU and memory are the site's override instead of the primary's; once it serves, the primary's
// again (the promotion's Growing step). Pure.
import type { V1Container, V1PodTemplateSpec, V1ResourceRequirements } from '@kubernetes/client-node';
import type { ContainerResources, SiteSpec } from '../api/spec.ts';
import type { GrowthMethod, PromotionState, Side } from '../api/status.ts';
import { parseQuantity } from '../k8s/quantity.ts';

const RESOURCES = ['cpu', 'memory'] as const;

/** Whether the site asks for a smaller standby (the cold tier runs none: validation refuses it there). */
export function hasReducedStandby(spec: Pick<SiteSpec, 'tier' | 'standby'>): boolean {
  return spec.tier !== 'cold' && Object.keys(spec.standby?.resources ?? {}).length > 0;
}

/**
 * Whether the standby's template is built at reduced capacity now: while it stands by, and
 * through a promotion up to its Growing step (traffic switches to the standby as it stood by).
 * From Growing on it has the primary's when the growth is a rolling update (`growth`
 * RollingUpdate, or a record from before the choice was recorded, once Promoted); grown in place
 * (InPlace, and while Growing has not chosen yet) the template keeps the reduced resources,
 * because changing it would replace the pods that were just resized (promotion/grow.ts). A
 * promotion that Failed keeps it as it stood by. Without a promotion in effect, the active side
 * says whether it serves.
 */
export function standsByReduced(
  spec: Pick<SiteSpec, 'tier' | 'standby'>,
  active: Side,
  promotion: PromotionState | undefined,
  growth?: GrowthMethod,
): boolean {
  if (!hasReducedStandby(spec)) return false;
  if (promotion === 'Growing') return growth !== 'RollingUpdate';
  if (promotion === 'Promoted') return growth === 'InPlace';
  if (promotion !== undefined) return true;
  return active !== 'standby';
}

const smaller = (a: string | undefined, b: string | undefined): string | undefined => {
  if (a === undefined || b === undefined) return a ?? b;
  return (parseQuantity(a) ?? 0) <= (parseQuantity(b) ?? 0) ? a : b;
};

/**
 * One container's resources under the override: for cpu and memory, the override's request and
 * limit; a value it leaves out is the primary's, lowered when needed so that the request never
 * exceeds the limit (a primary request above the override's limit becomes that limit; a primary
 * limit below the override's request becomes that request). Other resources are the primary's.
 */
export function reducedResources(primary: V1ResourceRequirements | undefined, override: ContainerResources): V1ResourceRequirements {
  const requests: Record<string, string> = { ...(primary?.requests ?? {}) };
  const limits: Record<string, string> = { ...(primary?.limits ?? {}) };
  for (const r of RESOURCES) {
    const req = override.requests?.[r];
    const lim = override.limits?.[r];
    if (req === undefined && lim === undefined) continue;
    // The API server defaults a missing request to the limit: read the primary's the same way.
    const primaryReq = primary?.requests?.[r] ?? primary?.limits?.[r];
    const primaryLim = primary?.limits?.[r];
    const wantReq = req ?? smaller(primaryReq, lim);
    let wantLim = lim ?? primaryLim;
    if (wantLim !== undefined && wantReq !== undefined && (parseQuantity(wantLim) ?? 0) < (parseQuantity(wantReq) ?? 0)) wantLim = wantReq;
    // Always given here (the override names a request or a limit); a limit only if one is known.
    if (wantReq !== undefined) requests[r] = wantReq;
    if (wantLim !== undefined) limits[r] = wantLim;
  }
  const out: V1ResourceRequirements = { ...(primary ?? {}) };
  if (Object.keys(requests).length) out.requests = requests;
  else delete out.requests;
  if (Object.keys(limits).length) out.limits = limits;
  else delete out.limits;
  return out;
}

/** The template with the override applied to the containers it names (init containers included). */
export function withReducedResources(template: V1PodTemplateSpec, resources: Readonly<Record<string, ContainerResources>> | undefined): V1PodTemplateSpec {
  if (!resources || Object.keys(resources).length === 0 || !template.spec) return template;
  const apply = (c: V1Container): V1Container => {
    const o = resources[c.name];
    return o ? { ...c, resources: reducedResources(c.resources, o) } : c;
  };
  return {
    ...template,
    spec: {
      ...template.spec,
      containers: template.spec.containers.map(apply),
      ...(template.spec.initContainers ? { initContainers: template.spec.initContainers.map(apply) } : {}),
    },
  };
}

/** Container names the override gives that the primary's pod template does not have (they change nothing). */
export function unknownContainers(template: V1PodTemplateSpec, resources: Readonly<Record<string, ContainerResources>> | undefined): string[] {
  const have = new Set([...(template.spec?.containers ?? []), ...(template.spec?.initContainers ?? [])].map((c) => c.name));
  return Object.keys(resources ?? {}).filter((n) => !have.has(n)).sort();
}

// The Service clients use. The operator owns it and points its selector at the
// active side, so a GitOps tool that reverts the user's own objects cannot
// undo a failover.
import type { V1Service, V1ServicePort } from '@kubernetes/client-node';
import type { StandbySite } from '../api/site.ts';
import { names, ownerReference, siteLabels, standbySelector } from '../site/names.ts';

export type Side = 'primary' | 'standby';

/** The selector of the active side: the primary Service's own selector, or the standby's pods. */
export function activeSelector(
  site: StandbySite,
  primaryService: V1Service,
  active: Side,
  promoted: Record<string, string> = {},
): Record<string, string> {
  return active === 'standby' ? { ...standbySelector(site.metadata.name), ...promoted } : { ...(primaryService.spec?.selector ?? {}) };
}

export function buildTrafficService(
  site: StandbySite,
  primaryService: V1Service,
  active: Side,
  promoted: Record<string, string> = {},
): V1Service {
  const ports: V1ServicePort[] = (primaryService.spec?.ports ?? []).map((p) => ({
    ...(p.name ? { name: p.name } : {}),
    port: p.port,
    protocol: p.protocol ?? 'TCP',
    ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
    ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
  }));
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: names.traffic(site.metadata.name, site.spec),
      namespace: site.metadata.namespace,
      labels: siteLabels(site.metadata.name, 'traffic'),
      annotations: { 'standby.dev/active': active },
      ownerReferences: [ownerReference(site)],
    },
    spec: {
      type: 'ClusterIP',
      selector: activeSelector(site, primaryService, active, promoted),
      ports,
    },
  };
}

// The Service clients use. The operator owns it and points its selector at the
// active side, so a GitOps tool that reverts the user's own objects cannot
// undo a failover.
import type { V1Service, V1ServicePort } from '@kubernetes/client-node';
import type { StandbySite } from '../api/site.ts';
import type { Side } from '../api/status.ts';
import { ANNOTATION_ACTIVE, names, ownedMeta, standbySelector } from '../site/names.ts';

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
  // A primary in another cluster has no pods here: until the standby serves, this Service selects nothing.
  const remotePrimary = site.spec.primary.cluster !== undefined && active === 'primary';
  const hostname = site.spec.traffic.externalDNS?.hostname;
  // The DNS name is on the active side's traffic Service only (for a remote primary: in its cluster, controller/remote-converge.ts).
  const dns: Record<string, string> = hostname !== undefined && !remotePrimary ? { [ANNOTATION_EXTERNAL_DNS]: hostname } : {};
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMeta(site, names.traffic(site.metadata.name, site.spec), 'traffic', { annotations: { [ANNOTATION_ACTIVE]: active, ...dns } }),
    spec: {
      // ExternalDNS publishes a LoadBalancer's address: what clients in other sites can reach.
      type: hostname !== undefined ? 'LoadBalancer' : 'ClusterIP',
      ...(remotePrimary ? {} : { selector: activeSelector(site, primaryService, active, promoted) }),
      ports,
    },
  };
}

/** The annotation ExternalDNS publishes a Service's address under. */
export const ANNOTATION_EXTERNAL_DNS = 'external-dns.alpha.kubernetes.io/hostname';

// What a site keeps in its primary's cluster besides the fence: for DNS-based failover
// (traffic.externalDNS), a traffic Service of its own there that selects the primary's pods and
// carries the ExternalDNS hostname until a promotion begins; from then on the hostname is on the
// standby's traffic Service here (traffic/service.ts). Written only once the fence is confirmed
// there when a promotion has begun (remote-actuator.ts), and only while the cluster answers.
import type { V1Service } from '@kubernetes/client-node';
import { ANNOTATION_ACTIVE, names, ownedMeta } from '../site/names.ts';
import { ANNOTATION_EXTERNAL_DNS } from '../traffic/service.ts';
import type { KubeObject } from '../k8s/types.ts';
import { NameConflict } from './actuator.ts';
import type { ReconcileContext } from './context.ts';
import type { Observed } from './facts.ts';
import { ownershipOf } from '../site/ownership.ts';
import { FenceFirst, remoteActuator, remoteCached } from './remote-actuator.ts';

/** The objects a site wants in its primary's cluster, besides the fence. */
export function remoteDesired(rc: ReconcileContext, obs: Observed): KubeObject[] {
  const { site } = rc;
  const hostname = site.spec.traffic.externalDNS?.hostname;
  if (hostname === undefined || !obs.primaryService) return [];
  const moved = (rc.current.status?.active ?? 'primary') === 'standby' || rc.current.status?.promotion?.state !== undefined;
  const svc: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMeta(site, names.traffic(site.metadata.name, site.spec), 'traffic', {
      owner: 'none',
      annotations: { [ANNOTATION_ACTIVE]: moved ? 'standby' : 'primary', ...(moved ? {} : { [ANNOTATION_EXTERNAL_DNS]: hostname }) },
    }),
    spec: {
      type: 'LoadBalancer',
      selector: { ...(obs.primaryService.spec?.selector ?? {}) },
      ports: (obs.primaryService.spec?.ports ?? []).map((p) => ({
        ...(p.name ? { name: p.name } : {}),
        port: p.port,
        protocol: p.protocol ?? 'TCP',
        ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
      })),
    },
  };
  return [svc];
}

/**
 * The objects of names the site would write in its primary's cluster (the fence, and what
 * remoteDesired makes) that exist there and are not the site's, as sentences: the site then does
 * nothing until a person acts, as for a conflict at home (ownership.ts).
 */
export function remoteNameConflicts(rc: ReconcileContext, obs: Observed): string[] {
  const cluster = rc.remote?.cluster;
  if (!cluster || !rc.remote?.site.reachable) return [];
  const wanted: { kind: string; name: string }[] = [
    { kind: 'NetworkPolicy', name: names.fence(rc.site.metadata.name) },
    ...remoteDesired(rc, obs).map((o) => ({ kind: o.kind ?? '', name: o.metadata?.name ?? '' })),
  ];
  const out: string[] = [];
  for (const { kind, name } of wanted) {
    const live = remoteCached(cluster, kind, name);
    if (!live) continue;
    const own = ownershipOf(live, { name: rc.site.metadata.name, uid: rc.site.metadata.uid });
    if (!own.ours) out.push(`${kind} ${name} in namespace ${cluster.namespace} of the primary's cluster already exists and ${own.why}`);
  }
  return out;
}

/** Converges what the site keeps in its primary's cluster; `fenceConfirmed` from ensureRemoteFence. */
export async function convergeRemote(rc: ReconcileContext, obs: Observed, fenceConfirmed: boolean): Promise<void> {
  const r = rc.remote;
  if (!r?.cluster || !r.site.reachable) return;
  const desired = remoteDesired(rc, obs);
  if (desired.length === 0) return;
  const act = remoteActuator(rc.site, r.cluster, {
    fenceFirst: rc.current.status?.promotion?.state !== undefined && !fenceConfirmed,
    onWrite: (verb, o) => rc.log.info({ verb, kind: o.kind, name: o.metadata?.name, remote: r.cluster?.server }, "wrote in the primary's cluster"),
  });
  for (const obj of desired) {
    try {
      await act.apply(obj);
    } catch (err) {
      if (err instanceof NameConflict) rc.conflicts.push(`${err.message} (in namespace ${r.cluster.namespace} of the primary's cluster)`);
      else if (!(err instanceof FenceFirst)) rc.errors.push(`could not apply ${obj.kind} ${obj.metadata?.name} in the primary's cluster: ${(err as Error).message}`);
    }
  }
}

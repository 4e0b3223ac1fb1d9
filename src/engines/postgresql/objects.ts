// Objects the PostgreSQL engine owns besides the tiers' own: the standby's
// headless Service (hot: the promote Job reaches replica 0 by name; it is
// also the StatefulSet standby's governing Service) and the dump PVC (cold,
// method engine). Pure.
import type { V1PersistentVolumeClaim, V1Service } from '@kubernetes/client-node';
import type { KubeObject } from '../../k8s/types.ts';
import { names, ownedMeta, standbySelector } from '../../site/names.ts';
import type { EngineContext } from '../engine.ts';
import { pgSpec } from './settings.ts';

export function standbyService(ctx: EngineContext): V1Service {
  const { site } = ctx;
  const spec = pgSpec(site);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMeta(site, names.standbyService(site.metadata.name), 'standby'),
    spec: {
      clusterIP: 'None',
      selector: standbySelector(site.metadata.name),
      // The promote Job must find the standby even while a readiness probe fails.
      publishNotReadyAddresses: true,
      ports: [{ name: 'postgresql', port: spec.port, targetPort: spec.port, protocol: 'TCP' }],
    },
  };
}

/** The dump PVC: as large as the primary's data volume unless sized in the spec; kept or deleted with the site like snapshots. */
export function dumpClaim(ctx: EngineContext): V1PersistentVolumeClaim {
  const { site } = ctx;
  const spec = pgSpec(site);
  const size = spec.dumpVolume?.size ?? ctx.volumes[0]?.template?.spec?.resources?.requests?.storage ?? '10Gi';
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: ownedMeta(site, names.dumpClaim(site.metadata.name), 'dumps', {
      owner: site.spec.deletionPolicy.snapshots === 'Delete' ? 'reference' : 'none',
    }),
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: size } },
      ...(spec.dumpVolume?.storageClassName ? { storageClassName: spec.dumpVolume.storageClassName } : {}),
    },
  };
}

export function engineObjects(ctx: EngineContext): KubeObject[] {
  if (ctx.tier === 'hot') return [standbyService(ctx)];
  if (ctx.tier === 'cold' && ctx.site.spec.cold?.method === 'engine') return [dumpClaim(ctx)];
  return [];
}

// Standby copies of the primary's volumes: same size, class and access modes,
// optionally filled from a VolumeSnapshot. Owned by the site only when the
// deletion policy says the copies go with it.
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { StandbySite } from '../api/site.ts';
import { ANNOTATION_SOURCE_CLAIM, ANNOTATION_VOLUME, LABEL_RUN, ownedMeta } from '../site/names.ts';
import type { PrimaryVolume } from '../site/workload.ts';

export interface CopyClaimInput {
  site: StandbySite;
  name: string;
  run: string;
  volume: PrimaryVolume;
  /** The primary's live PVC, if known (Deployment volumes have no template). */
  primaryClaim: V1PersistentVolumeClaim | undefined;
  /** Restore from this VolumeSnapshot. */
  fromSnapshot?: string | undefined;
  annotations?: Record<string, string>;
}

export function buildCopyClaim(input: CopyClaimInput): V1PersistentVolumeClaim {
  const { site, volume } = input;
  const source = input.primaryClaim?.spec ?? volume.template?.spec ?? {};
  const storage = input.primaryClaim?.status?.capacity?.storage ?? source.resources?.requests?.storage ?? '1Gi';
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: ownedMeta(site, input.name, 'copy', {
      owner: site.spec.deletionPolicy.standbyVolumes === 'Delete' ? 'reference' : 'none',
      labels: { [LABEL_RUN]: input.run },
      annotations: { [ANNOTATION_VOLUME]: volume.volume, [ANNOTATION_SOURCE_CLAIM]: volume.claim, ...input.annotations },
    }),
    spec: {
      accessModes: source.accessModes ?? ['ReadWriteOnce'],
      resources: { requests: { storage } },
      ...(source.storageClassName ? { storageClassName: source.storageClassName } : {}),
      ...(source.volumeMode ? { volumeMode: source.volumeMode } : {}),
      ...(input.fromSnapshot
        ? { dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: input.fromSnapshot } }
        : {}),
    },
  };
}

// The parts of snapshot.storage.k8s.io/v1 VolumeSnapshot the operator uses.
import type { IObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1';

export interface VolumeSnapshot {
  apiVersion?: string;
  kind?: string;
  metadata?: IObjectMeta;
  spec?: {
    source: { persistentVolumeClaimName?: string; volumeSnapshotContentName?: string };
    volumeSnapshotClassName?: string;
  };
  status?: {
    readyToUse?: boolean;
    creationTime?: string;
    restoreSize?: string;
    boundVolumeSnapshotContentName?: string;
    error?: { message?: string; time?: string };
  };
}

// From the moment a promotion begins, what serves clients (or will: the standby workload, its
// Services and its claims) and the fence that keeps the old primary out are no longer the site's:
// without its owner reference, deleting the site leaves them running, and a StatefulSet standby
// keeps its claims whatever deletionPolicy says.
import type { KubeObject } from '../k8s/types.ts';

const RELEASED_KINDS = new Set(['StatefulSet', 'Deployment', 'Service', 'NetworkPolicy', 'PersistentVolumeClaim']);

export function released<T extends KubeObject>(o: T): T {
  if (!RELEASED_KINDS.has(o.kind ?? '')) return o;
  const { ownerReferences: _owners, ...metadata } = o.metadata ?? {};
  const out = { ...o, metadata };
  if (o.kind === 'StatefulSet') {
    const spec = (o as { spec?: Record<string, unknown> }).spec;
    if (spec?.persistentVolumeClaimRetentionPolicy) {
      (out as { spec?: Record<string, unknown> }).spec = { ...spec, persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' } };
    }
  }
  return out;
}

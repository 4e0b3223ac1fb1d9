// From the moment a promotion begins, what serves clients (or will: the standby workload, its
// Services and its claims) and the fence that keeps the old primary out are no longer the site's:
// without its owner reference, deleting the site leaves them running, and a StatefulSet standby
// keeps its claims whatever deletionPolicy says.
import type { KubeObject } from '../k8s/types.ts';
import { ANNOTATION_RELEASED } from '../site/names.ts';

const RELEASED_KINDS = new Set(['StatefulSet', 'Deployment', 'Service', 'NetworkPolicy', 'PersistentVolumeClaim']);

export function released<T extends KubeObject>(o: T): T {
  if (!RELEASED_KINDS.has(o.kind ?? '')) return o;
  const { ownerReferences: _owners, ...rest } = o.metadata ?? {};
  // Marked, so that a later site of the same name recognises what a promotion left (site/ownership.ts).
  const out = { ...o, metadata: { ...rest, annotations: { ...rest.annotations, [ANNOTATION_RELEASED]: 'true' } } };
  if (o.kind === 'StatefulSet') {
    const spec = (o as { spec?: Record<string, unknown> }).spec;
    if (spec?.persistentVolumeClaimRetentionPolicy) {
      (out as { spec?: Record<string, unknown> }).spec = { ...spec, persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' } };
    }
  }
  return out;
}

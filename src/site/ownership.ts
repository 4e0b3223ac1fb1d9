// Whose an object is. The operator changes and deletes only what it made for this very site: an
// owner reference to the site's UID, or the site-UID annotation every object it creates carries
// (released objects and retained copies have no owner reference). An object of the same name
// that it did not make is never adopted: the site reports a NameConflict instead.
import type { KubeObject } from '../k8s/types.ts';
import { ANNOTATION_RELEASED, ANNOTATION_SITE_UID, LABEL_MANAGED_BY, LABEL_SITE, MANAGER } from './names.ts';

export type Ownership = { ours: true } | { ours: false; why: string };

/** Kinds whose objects made before the site-UID annotation existed are recognised by the site's labels alone (data: never lose it). */
const LEGACY_DATA_KINDS = new Set(['PersistentVolumeClaim', 'VolumeSnapshot']);

export function ownershipOf(o: KubeObject, site: { name: string; uid: string | undefined }): Ownership {
  const meta = o.metadata ?? {};
  const uid = site.uid ?? '';
  if (uid && meta.ownerReferences?.some((r) => r.uid === uid)) return { ours: true };
  const madeFor = meta.annotations?.[ANNOTATION_SITE_UID];
  if (uid && madeFor === uid) return { ours: true };
  const labelled = meta.labels?.[LABEL_MANAGED_BY] === MANAGER && meta.labels[LABEL_SITE] === site.name;
  if (madeFor === undefined && labelled && LEGACY_DATA_KINDS.has(o.kind ?? '')) return { ours: true };
  const owner = meta.ownerReferences?.find((r) => r.controller);
  if (madeFor !== undefined) {
    const released = meta.annotations?.[ANNOTATION_RELEASED] !== undefined;
    return {
      ours: false,
      why: released
        ? `it was left by a promotion of an earlier StandbySite ${meta.labels?.[LABEL_SITE] ?? '?'} (uid ${madeFor}) and may serve clients`
        : `it was made for another StandbySite ${meta.labels?.[LABEL_SITE] ?? '?'} (uid ${madeFor})`,
    };
  }
  return { ours: false, why: owner ? `it is owned by ${owner.kind} ${owner.name}` : 'it was not created by this StandbySite' };
}

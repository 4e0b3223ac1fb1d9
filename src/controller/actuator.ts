// Every write the controller makes to an object of a site goes through here, so that one rule
// holds everywhere: the operator changes only what it made for this very site (site/ownership.ts).
// An existing object of the same name that is not the site's is never applied to, adopted or
// deleted: the write throws NameConflict and the site says so.
//
// A first apply (the cache shows no object of that name) is sent without force: if an object of
// that name appeared after the cache last saw the namespace, any field someone else set
// differently is a conflict, not an overwrite, and the object's owner is then checked. (What stays
// open is an object created within the watch's latency whose every field agrees with ours; one
// request per new object is worth more at scale than a create-then-apply that would close it.)
// Later applies carry the live object's UID, so they can only reach the object that was checked.
import type { StandbySite } from '../api/site.ts';
import { needsApply, stamped } from '../k8s/apply.ts';
import type { ObjectActions } from '../k8s/actions.ts';
import { isConflict, type KubeClient } from '../k8s/client.ts';
import { resourceOfKind } from '../k8s/resources.ts';
import { keyOf, type KubeObject } from '../k8s/types.ts';
import { ownershipOf } from '../site/ownership.ts';
import { informerOfKind } from './caches.ts';
import type { ReconcilerDeps } from './context.ts';

/** An object of a name the site wants exists and is not the site's. */
export class NameConflict extends Error {
  readonly kind: string;
  readonly objectName: string;
  constructor(kind: string, name: string, why: string) {
    super(`${kind} ${name} already exists and ${why}`);
    this.kind = kind;
    this.objectName = name;
  }
}

/** Throws NameConflict unless `live` is the site's. */
export function assertOurs(site: StandbySite, live: KubeObject): void {
  const own = ownershipOf(live, { name: site.metadata.name, uid: site.metadata.uid });
  if (!own.ours) throw new NameConflict(live.kind ?? '', live.metadata?.name ?? '', own.why);
}

function withUid<T extends KubeObject>(obj: T, uid: string | undefined): T {
  return uid ? { ...obj, metadata: { ...obj.metadata, uid } } : obj;
}

/**
 * Applies a (stamped) object of the site, given what the cache holds of it. Skipped when the
 * cache already matches; never reaches an object that is not the site's.
 */
export async function applyOwned(d: ReconcilerDeps, site: StandbySite, want: KubeObject, live: KubeObject | undefined): Promise<void> {
  return applyOwnedWith(d.client, site, want, live);
}

/** applyOwned through a given client (the primary's cluster's, for a remote primary). */
export async function applyOwnedWith(client: KubeClient, site: StandbySite, want: KubeObject, live: KubeObject | undefined): Promise<void> {
  const d = { client };
  if (!needsApply(want, live)) {
    if (live) assertOurs(site, live);
    return;
  }
  const res = resourceOfKind(want.kind ?? '');
  if (live) {
    assertOurs(site, live);
    await d.client.apply(res, withUid(want, live.metadata?.uid));
    return;
  }
  try {
    await d.client.apply(res, want, { force: false });
  } catch (err) {
    if (!isConflict(err)) throw err;
    // Another manager set a field differently: the object exists. Whose is it?
    const found = await d.client.get(res, want.metadata?.namespace, want.metadata?.name ?? '');
    if (!found) throw err;
    assertOurs(site, found);
    await d.client.apply(res, withUid(want, found.metadata?.uid));
    return;
  }
}

/** The writes of a promotion's step actions (and anything else written object by object). */
export function actuator(d: ReconcilerDeps, site: StandbySite, prepare: (o: KubeObject) => KubeObject = (o) => o): ObjectActions {
  const cached = <T extends KubeObject>(kind: string, namespace: string, name: string): T | undefined =>
    informerOfKind(d.caches, kind)?.get(`${namespace}/${name}`) as T | undefined;
  return {
    cached,
    async apply(obj) {
      const want = stamped(prepare(obj));
      await applyOwned(d, site, want, informerOfKind(d.caches, want.kind ?? '')?.get(keyOf(want)));
    },
    async replace(obj) {
      const want = stamped(prepare(obj));
      const res = resourceOfKind(want.kind ?? '');
      const live = informerOfKind(d.caches, want.kind ?? '')?.get(keyOf(want));
      if (!live) {
        await applyOwned(d, site, want, undefined);
        return;
      }
      assertOurs(site, live);
      // The live identity and precondition, the wanted labels, owners and content; annotations
      // others set are kept (they change nothing the object does).
      const { labels: _l, annotations, ownerReferences: _o, managedFields: _m, ...identity } = live.metadata ?? {};
      await d.client.replace(res, {
        ...want,
        metadata: {
          ...identity,
          labels: want.metadata?.labels,
          annotations: { ...annotations, ...want.metadata?.annotations },
          ...(want.metadata?.ownerReferences ? { ownerReferences: want.metadata.ownerReferences } : {}),
        },
      });
    },
    async ensure<T extends KubeObject>(obj: T): Promise<T> {
      const ns = obj.metadata?.namespace ?? '';
      const name = obj.metadata?.name ?? '';
      const have = cached<T>(obj.kind ?? '', ns, name);
      if (have) {
        assertOurs(site, have);
        return have;
      }
      const res = resourceOfKind(obj.kind ?? '');
      try {
        return await d.client.create(res, prepare(obj) as T);
      } catch (err) {
        if (!isConflict(err) && !(err instanceof Error && /already exists/.test(err.message))) throw err;
        const live = await d.client.get<T>(res, ns, name);
        if (!live) throw err;
        assertOurs(site, live);
        return live;
      }
    },
    async patch(kind, namespace, name, patch) {
      await d.client.mergePatch(resourceOfKind(kind), namespace, name, patch);
    },
    async jsonPatch(kind, namespace, name, ops) {
      await d.client.jsonPatch(resourceOfKind(kind), namespace, name, ops);
    },
    async remove(kind, namespace, name, opts = {}) {
      const live = cached(kind, namespace, name);
      if (live && opts.theirs !== true) assertOurs(site, live);
      await d.client.delete(resourceOfKind(kind), namespace, name, { ...(opts.uid ? { uid: opts.uid } : live?.metadata?.uid ? { uid: live.metadata.uid } : {}) });
    },
  };
}

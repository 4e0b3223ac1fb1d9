// The StandbySiteGuard a site wrote into the primary's cluster is taken away by level, not by the
// memory of the process that wrote it: the site carries the finalizer standby.dev/site-guard from
// before its guard is created, and whichever process leads later (after a restart, a change of
// leader) deletes the guard once the site no longer fails over automatically (siteFailover.mode
// manual, siteFailover removed, the primary back in this cluster) or is being deleted; then the
// finalizer goes. Only a guard that carries this site's uid is deleted (never one the site did
// not create), with the uid as precondition. A guard left behind would keep renewing the
// witness's lease for a primary no standby watches, and fence it when the witness is down.
import type { GuardObject } from '../api/guard.ts';
import { GUARD_RESOURCE, SITE_RESOURCE } from '../api/resource.ts';
import type { StandbySite, StandbySiteObject } from '../api/site.ts';
import { isConflict, isNotFound } from '../k8s/client.ts';
import { ownershipOf } from '../site/ownership.ts';
import type { ReconcileContext, ReconcilerDeps } from './context.ts';
import type { RemotePrimary } from './remote.ts';
import type { SiteMemory } from './memory.ts';

export const FINALIZER_SITE_GUARD = 'standby.dev/site-guard';

export function hasGuardFinalizer(o: StandbySiteObject): boolean {
  return o.metadata?.finalizers?.includes(FINALIZER_SITE_GUARD) ?? false;
}

/** The site and what its parts of a reconcile need to change its finalizers. */
interface SiteWriter {
  deps: Pick<ReconcilerDeps, 'client' | 'isLeader'>;
  memory: SiteMemory;
  key: string;
  current: StandbySiteObject;
}

/** Writes the finalizers with the site's resourceVersion as precondition; false on a conflict (read again). */
async function writeFinalizers(w: SiteWriter, finalizers: string[]): Promise<boolean> {
  const m = w.current.metadata;
  try {
    w.current = await w.deps.client.mergePatch<StandbySiteObject>(SITE_RESOURCE, m?.namespace, m?.name ?? '', { metadata: { resourceVersion: m?.resourceVersion, finalizers } });
    w.memory.noteWritten(w.key, w.current);
    return true;
  } catch (err) {
    if (isConflict(err) || isNotFound(err)) return false;
    throw err;
  }
}

/** Before a guard is created (or kept): the site carries the finalizer. False when it could not be written yet. */
export async function ensureGuardFinalizer(rc: ReconcileContext): Promise<boolean> {
  if (hasGuardFinalizer(rc.current)) return true;
  const ok = await writeFinalizers(rc, [...(rc.current.metadata?.finalizers ?? []), FINALIZER_SITE_GUARD]);
  if (!ok) rc.after(0);
  return ok;
}

type Removal = { done: true; kept?: string } | { done: false; why: string };

/**
 * A site that ever promoted (its epoch grew, a promotion is recorded, or the standby is active)
 * keeps its guard: after a failover the guard's self-fence (owned by the guard, so garbage-collected
 * with it) may be all that holds the old primary, and this site's own fence there may not be
 * written or seen yet. Deleting the guard would unfence it. The guard is left in place, holding.
 */
export function guardKeptAfterPromotion(o: StandbySiteObject): string | undefined {
  const st = o.status ?? {};
  const promoted = (st.epoch ?? 1) > 1 || st.promotion !== undefined || st.active === 'standby';
  return promoted
    ? `this site promoted away from the primary in that cluster, so its StandbySiteGuard is kept there: the guard's fence may be what holds the old primary. Delete the guard in the primary's cluster by hand once that primary is retired or follows again`
    : undefined;
}

/** Deletes this site's guard in the primary's cluster; done once none of the site's is there. */
async function deleteOwnGuard(o: StandbySiteObject, site: StandbySite, remote: RemotePrimary | undefined, log: ReconcileContext['log']): Promise<Removal> {
  const kept = guardKeptAfterPromotion(o);
  if (kept) return { done: true, kept };
  const c = remote?.cluster;
  if (!c || !remote.site.reachable) return { done: false, why: `the primary's cluster does not answer (${remote?.site.lastError ?? remote?.problem ?? 'not reachable'})` };
  const name = site.metadata.name;
  const live = await c.reader.get<GuardObject>(GUARD_RESOURCE, c.namespace, name);
  if (!live) return { done: true };
  const own = ownershipOf({ kind: 'StandbySiteGuard', metadata: live.metadata }, { name, uid: site.metadata.uid });
  // Someone else's guard of that name: never deleted; none of this site's is left.
  if (!own.ours) return { done: true };
  await c.writer.delete(GUARD_RESOURCE, c.namespace, name, live.metadata.uid ? { uid: live.metadata.uid } : {});
  log.info({ guard: name, remote: c.server }, "deleted the site's StandbySiteGuard in the primary's cluster");
  return { done: true };
}

/**
 * A site that does not fail over automatically (any more) but carries the finalizer: its guard is
 * deleted, then the finalizer. Level-based: any leader does it, on any reconcile.
 */
export async function releaseGuard(rc: ReconcileContext): Promise<void> {
  if (!hasGuardFinalizer(rc.current) || !rc.deps.isLeader()) return;
  try {
    const r = await deleteOwnGuard(rc.current, rc.site, rc.remote, rc.log);
    if (!r.done) {
      rc.after(10_000);
      return;
    }
    if (r.kept) await rc.deps.events.record(rc.current, 'Normal', 'GuardKept', r.kept);
    if (!(await writeFinalizers(rc, (rc.current.metadata?.finalizers ?? []).filter((f) => f !== FINALIZER_SITE_GUARD)))) rc.after(0);
  } catch (err) {
    rc.errors.push(`could not delete the StandbySiteGuard ${rc.site.metadata.name} in the primary's cluster: ${(err as Error).message}`);
  }
}

/**
 * A site being deleted with the finalizer: its guard goes first, then the finalizer (and so the
 * site). While the primary's cluster does not answer the site waits, and says so once in an Event:
 * a person who knows that cluster is gone removes the finalizer.
 */
export async function finishDeletion(
  w: SiteWriter & { site: StandbySite | undefined; remote: RemotePrimary | undefined; log: ReconcileContext['log']; warn: (reason: string, message: string) => Promise<void> },
): Promise<{ requeueAfterMs?: number }> {
  if (!w.deps.isLeader()) return {};
  let r: Removal;
  try {
    r = w.site ? await deleteOwnGuard(w.current, w.site, w.remote, w.log) : { done: false, why: 'the spec is not valid, so the primary\'s cluster is not known' };
  } catch (err) {
    r = { done: false, why: (err as Error).message };
  }
  if (!r.done) {
    await w.warn(
      'GuardNotDeleted',
      `the StandbySiteGuard in the primary's cluster is not deleted yet: ${r.why}; the site waits for it (retried every 10s). If that cluster is gone for good, remove the finalizer ${FINALIZER_SITE_GUARD} from the site`,
    );
    return { requeueAfterMs: 10_000 };
  }
  if (r.kept) await w.warn('GuardKept', r.kept);
  const ok = await writeFinalizers(w, (w.current.metadata?.finalizers ?? []).filter((f) => f !== FINALIZER_SITE_GUARD));
  return ok ? {} : { requeueAfterMs: 0 };
}

// Writing a site's status: only when something but the passage of time changed, with the site's
// resourceVersion as precondition, and only by the leader; then the Events the change deserves.
import type { StandbySiteObject } from '../api/site.ts';
import type { SiteStatus } from '../api/status.ts';
import { isConflict } from '../k8s/client.ts';
import { mergePatchFor } from '../k8s/merge-patch.ts';
import { SITE_RESOURCE } from '../api/resource.ts';
import type { Decision } from '../promotion/decide.ts';
import type { ReconcileContext, ReconcilerDeps } from './context.ts';
import { transitionEvents } from './transitions.ts';

export async function writeStatus(rc: ReconcileContext, prev: SiteStatus, status: SiteStatus, decision: Decision): Promise<void> {
  const d = rc.deps;
  // dataAgeSeconds grows with the clock; alone it is no reason to write (DATA AGE and the metric are live).
  const { dataAgeSeconds: _a, ...prevRest } = prev;
  const { dataAgeSeconds: _b, ...nextRest } = status;
  if (mergePatchFor(prevRest, nextRest) === undefined) return;
  const patch = mergePatchFor(prev, status);
  if (patch === undefined) return;
  if (!d.isLeader()) return;
  try {
    rc.current = await d.client.mergePatch<StandbySiteObject>(
      SITE_RESOURCE,
      rc.site.metadata.namespace,
      rc.site.metadata.name,
      { metadata: { resourceVersion: rc.current.metadata?.resourceVersion }, status: patch },
      'status',
    );
    rc.memory.noteWritten(rc.key, rc.current);
  } catch (err) {
    if (isConflict(err)) {
      rc.after(0);
      return;
    }
    throw err;
  }
  for (const e of transitionEvents(prev, status, decision)) await d.events.record(rc.current, e.type, e.reason, e.message);
}

/** An invalid spec: Ready=False with the problems, and an Event, once per change. */
export async function writeInvalidStatus(d: ReconcilerDeps, cached: StandbySiteObject, prev: SiteStatus, status: SiteStatus, message: string): Promise<void> {
  const patch = mergePatchFor(prev, status);
  if (patch === undefined || !d.isLeader()) return;
  await d.client.mergePatch(SITE_RESOURCE, cached.metadata?.namespace, cached.metadata?.name ?? '', { status: patch }, 'status');
  await d.events.record(cached, 'Warning', 'InvalidSpec', message);
}

// Writing a procedure's record (status.promotion, status.failback, status.reprotection) with the
// site's resourceVersion as precondition, so two operators never both advance one; a record that
// ends goes to the history with its kind and duration.
import { SITE_RESOURCE } from '../api/resource.ts';
import type { StandbySiteObject } from '../api/site.ts';
import type { PromotionRecord, PromotionStatus, ReprotectionStatus, SiteStatus } from '../api/status.ts';
import { isConflict } from '../k8s/client.ts';
import { mergePatchFor } from '../k8s/merge-patch.ts';
import type { ReconcileContext } from './context.ts';

const HISTORY_LIMIT = 20;

export type RecordField = 'promotion' | 'failback' | 'reprotection';

const KIND: Record<RecordField, NonNullable<PromotionRecord['kind']>> = { promotion: 'promotion', failback: 'failback', reprotection: 'reprotect' };

/** A merge patch of status, written with the resourceVersion this reconcile last saw; false on a conflict. */
export async function patchStatus(rc: ReconcileContext, patch: Record<string, unknown>): Promise<boolean> {
  try {
    const updated = await rc.deps.client.mergePatch<StandbySiteObject>(
      SITE_RESOURCE,
      rc.site.metadata.namespace,
      rc.site.metadata.name,
      { metadata: { resourceVersion: rc.current.metadata?.resourceVersion }, status: patch },
      'status',
    );
    rc.current = updated;
    rc.memory.noteWritten(rc.key, updated);
    return true;
  } catch (err) {
    if (isConflict(err)) {
      rc.log.info('site changed while a procedure ran; re-reading');
      return false;
    }
    throw err;
  }
}

/** Writes a procedure's record, and what its end implies (history, `extra`). */
export async function writeRecord(
  rc: ReconcileContext,
  field: RecordField,
  r: PromotionStatus | ReprotectionStatus,
  extra: Partial<Record<keyof SiteStatus, unknown>> = {},
): Promise<boolean> {
  const prev = rc.current.status ?? {};
  const patch: Record<string, unknown> = { [field]: mergePatchFor(prev[field] ?? {}, r) ?? {}, ...extra };
  const ended = r.state === 'Promoted' || r.state === 'Protected' || r.state === 'Failed';
  if (ended && prev[field]?.state !== r.state) {
    const record: PromotionRecord = {
      ...(field === 'promotion' ? {} : { kind: KIND[field] }),
      startedAt: r.startedAt ?? rc.now().toISOString(),
      trigger: r.trigger ?? 'automatic',
      result: r.state as PromotionRecord['result'],
      ...(r.completedAt ? { completedAt: r.completedAt } : {}),
      ...(r.durationSeconds !== undefined ? { durationSeconds: r.durationSeconds } : {}),
      ...('reason' in r && r.reason ? { reason: r.reason } : r.state === 'Failed' && r.message ? { reason: r.message } : {}),
    };
    patch.promotionHistory = [...(prev.promotionHistory ?? []), record].slice(-HISTORY_LIMIT);
  }
  return patchStatus(rc, patch);
}

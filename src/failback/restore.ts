// Giving the primary back its data: its claims are replaced by claims restored from the serving
// standby's final snapshot set, while the operator holds the primary workload at 0 replicas.
//
// This is the one place the operator deletes objects that are not its own: the primary's
// PersistentVolumeClaims. It does so only in a failback a person asked for (or set up to run by
// itself), only after re-protection kept a copy of those volumes (role divergent), and only for
// claims of the primary workload's own volumes. Every step is idempotent and resumable: the
// replicas to give back and the claims' shapes are recorded in status.primaryHeld before the
// primary is stopped, so an operator restarted half way finishes the same restore; and a hold is
// never released while a claim is missing (the workload would start on an empty volume).
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { ObjectActions } from '../k8s/actions.ts';
import type { SidesInput } from '../reprotect/sides.ts';
import { ANNOTATION_RESTORED_FROM } from '../site/names.ts';
import { DONE, failed, waiting, type StepResult } from '../site/step.ts';
import { desiredReplicas, primaryVolumes } from '../site/workload.ts';
import type { SnapshotSet } from '../snapshot/sets.ts';
import type { Held, HoldIO } from './steps.ts';

/** The shape of a claim, enough to create it again. */
export interface ClaimShape {
  accessModes: string[];
  storage: string;
  storageClassName?: string | undefined;
  volumeMode?: string | undefined;
  labels?: Record<string, string> | undefined;
}

export function shapeOf(pvc: V1PersistentVolumeClaim): ClaimShape {
  return {
    accessModes: pvc.spec?.accessModes ?? ['ReadWriteOnce'],
    storage: pvc.status?.capacity?.storage ?? pvc.spec?.resources?.requests?.storage ?? '1Gi',
    ...(pvc.spec?.storageClassName ? { storageClassName: pvc.spec.storageClassName } : {}),
    ...(pvc.spec?.volumeMode ? { volumeMode: pvc.spec.volumeMode } : {}),
    ...(pvc.metadata?.labels ? { labels: pvc.metadata.labels } : {}),
  };
}

/** A claim of the primary's, restored from a snapshot. It stays the user's: no labels or owner of the site. */
export function restoredClaim(namespace: string, name: string, shape: ClaimShape, snapshot: string, run: string): V1PersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, namespace, ...(shape.labels ? { labels: shape.labels } : {}), annotations: { [ANNOTATION_RESTORED_FROM]: run } },
    spec: {
      accessModes: shape.accessModes,
      resources: { requests: { storage: shape.storage } },
      ...(shape.storageClassName ? { storageClassName: shape.storageClassName } : {}),
      ...(shape.volumeMode ? { volumeMode: shape.volumeMode } : {}),
      dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: snapshot },
    },
  };
}

/** Done once every claim of the primary is restored from the set, Bound, and the primary runs again. */
export async function restoreClaimsOfPrimary(i: SidesInput, set: SnapshotSet, act: ObjectActions, hold: HoldIO): Promise<StepResult> {
  const { site } = i;
  const ns = site.metadata.namespace;
  const p = i.primary;
  if (!p) return failed(`the primary ${site.spec.primary.workload.kind} ${site.spec.primary.workload.name} does not exist: there is nothing to give the data back to`);
  const volumes = primaryVolumes(p);
  const held = i.status.primaryHeld;
  const restored = (name: string) => {
    const pvc = act.cached<V1PersistentVolumeClaim>('PersistentVolumeClaim', ns, name);
    return pvc?.metadata?.annotations?.[ANNOTATION_RESTORED_FROM] === set.run && !pvc.metadata.deletionTimestamp ? pvc : undefined;
  };
  if (volumes.every((v) => restored(v.claim)?.status?.phase === 'Bound')) {
    if (held) {
      if ((p.spec?.replicas ?? 0) !== held.replicas) await act.patch(p.kind ?? '', ns, p.metadata?.name ?? '', { spec: { replicas: held.replicas } });
      if (!(await hold.clear())) return waiting('recording that the primary is given back its replicas');
    }
    return DONE;
  }
  if (!held) {
    // Before anything stops: what to give back (the replicas its owner set) and the claims' shapes.
    const replicas = desiredReplicas(p) > 0 ? desiredReplicas(p) : (i.status.promotion?.primaryReplicas ?? 1);
    const claims: Record<string, ClaimShape> = {};
    for (const v of volumes) {
      const live = i.primaryClaims.get(v.claim);
      if (live) claims[v.claim] = shapeOf(live);
      else if (v.template) claims[v.claim] = shapeOf(v.template);
      else return failed(`the primary's claim ${v.claim} does not exist and has no template to restore it from`);
    }
    const record: Held = { replicas, since: i.now.toISOString(), for: `failback: restore from ${set.run}`, claims };
    return (await hold.set(record)) ? waiting('the primary to stop') : waiting('recording the primary\'s replicas');
  }
  if ((p.spec?.replicas ?? 0) !== 0) {
    await act.patch(p.kind ?? '', ns, p.metadata?.name ?? '', { spec: { replicas: 0 } });
    return waiting('the primary to stop');
  }
  if (i.primaryPods.length > 0) return waiting(`${i.primaryPods.length} primary pod(s) to stop`);
  for (const v of volumes) {
    const live = act.cached<V1PersistentVolumeClaim>('PersistentVolumeClaim', ns, v.claim);
    if (live && !restored(v.claim)) {
      // The primary's own claim: kept aside by re-protection (role divergent), now replaced.
      if (!live.metadata?.deletionTimestamp) await act.remove('PersistentVolumeClaim', ns, v.claim, { uid: live.metadata?.uid, theirs: true });
      continue;
    }
    if (!live) {
      const snapshot = set.snapshots[v.volume];
      const shape = held.claims?.[v.claim];
      if (!snapshot || !shape) return failed(`the final snapshot set ${set.run} has no snapshot of volume ${v.volume}`);
      await act.ensure(restoredClaim(ns, v.claim, shape, snapshot, set.run));
    }
  }
  return waiting("the primary's claims to be restored from the standby's final snapshot and Bound");
}

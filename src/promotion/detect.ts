// Failure detection: is the primary serving? Read from the Ready condition of the pods its
// Service selects (watched) — what clients reach — with the time it was first seen not Ready
// kept in status so that the failure threshold survives operator restarts.
import type { V1Pod } from '@kubernetes/client-node';
import type { PrimaryState } from '../api/status.ts';
import { desiredReplicas, isPodReady, type Workload } from '../site/workload.ts';

export interface PrimaryAssessment {
  state: PrimaryState;
  ready: boolean;
  readyReplicas: number;
  replicas: number;
  notReadySince: Date | undefined;
  /** Seen Ready at least once since the site was created, this workload (uid). */
  everReady: boolean;
  /** The primary workload's uid: "seen Ready" belongs to one workload, not to a name. */
  uid: string | undefined;
  scaledToZero: boolean;
  /** The workload does not exist (deleted, even with its pods kept, or never made). */
  missing: boolean;
  /** The primary Service selects no pod at all: a selector problem, not a failure. */
  serviceSelectsNothing: boolean;
  message: string;
}

export interface DetectInput {
  now: Date;
  workload: Workload | undefined;
  /** The workload's own pods. */
  pods: readonly V1Pod[];
  /** The pods the primary Service selects (the site's own pods left out); undefined without the Service. */
  servicePods?: readonly V1Pod[] | undefined;
  previousNotReadySince: Date | undefined;
  /**
   * The last time a watch event showed one of the primary's pods Ready (this process only). A
   * flap back to Ready that no reconcile saw (keys coalesce in the queue) still restarts the clock.
   */
  lastSeenReady?: Date | undefined;
  previousEverReady: boolean;
  /** The workload uid that previousEverReady was seen on (unset in status written before it was recorded). */
  previousUid?: string | undefined;
  /** A promotion fenced the primary: it is no longer expected to serve. */
  fenced: boolean;
}

/**
 * The primary is Ready while at least one pod its Service selects is Ready: that is when the
 * Service has an endpoint (without the Service, the workload's pods count). What the owner did
 * on purpose is never a failure: a workload scaled to 0 or deleted (its pods kept or not), and a
 * Service that selects nothing is a selector to fix. Those are reported and not promoted away
 * from automatically, and the failure clock does not run while they last.
 */
export function assessPrimary(i: DetectInput): PrimaryAssessment {
  const replicas = i.workload ? desiredReplicas(i.workload) : 0;
  const serving = i.servicePods ?? i.pods;
  const readyReplicas = serving.filter(isPodReady).length;
  const ready = readyReplicas > 0;
  const missing = i.workload === undefined;
  const scaledToZero = i.workload !== undefined && replicas === 0;
  const serviceSelectsNothing = i.servicePods !== undefined && i.servicePods.length === 0;
  const deliberate = missing || scaledToZero || serviceSelectsNothing;
  let notReadySince = ready || deliberate ? undefined : (i.previousNotReadySince ?? i.now);
  if (notReadySince && i.lastSeenReady && i.lastSeenReady > notReadySince) {
    notReadySince = i.lastSeenReady < i.now ? i.lastSeenReady : i.now;
  }
  let state: PrimaryState = ready ? 'Ready' : 'NotReady';
  let message = `${readyReplicas}/${replicas} pods Ready`;
  if (missing) {
    state = 'Missing';
    message = ready ? `the primary workload does not exist; ${readyReplicas} pod(s) its Service selects are still Ready` : 'the primary workload does not exist';
  } else if (serviceSelectsNothing) {
    message = `the primary Service selects no pod (the workload has ${i.pods.length})`;
  }
  if (i.fenced) state = 'Fenced';
  const uid = i.workload?.metadata?.uid;
  const sameWorkload = i.workload !== undefined && (i.previousUid === undefined || i.previousUid === uid);
  return {
    state,
    ready: ready && !missing,
    readyReplicas,
    replicas,
    notReadySince,
    everReady: i.workload !== undefined && ((sameWorkload && i.previousEverReady) || ready),
    uid,
    scaledToZero,
    missing,
    serviceSelectsNothing,
    message,
  };
}

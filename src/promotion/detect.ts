// Failure detection: is the primary serving? Read from its pods' Ready
// condition (watched), with the time it was first seen not Ready kept in
// status so that the failure threshold survives operator restarts.
import type { V1Pod } from '@kubernetes/client-node';
import type { PrimaryState } from '../api/status.ts';
import { desiredReplicas, isPodReady, type Workload } from '../site/workload.ts';

export interface PrimaryAssessment {
  state: PrimaryState;
  ready: boolean;
  readyReplicas: number;
  replicas: number;
  notReadySince: Date | undefined;
  /** Seen Ready at least once since the site was created. */
  everReady: boolean;
  scaledToZero: boolean;
  message: string;
}

export interface DetectInput {
  now: Date;
  workload: Workload | undefined;
  pods: readonly V1Pod[];
  previousNotReadySince: Date | undefined;
  /**
   * The last time a watch event showed one of the primary's pods Ready (this process only). A
   * flap back to Ready that no reconcile saw (keys coalesce in the queue) still restarts the clock.
   */
  lastSeenReady?: Date | undefined;
  previousEverReady: boolean;
  /** A promotion fenced the primary: it is no longer expected to serve. */
  fenced: boolean;
}

/**
 * The primary is Ready while at least one of its pods is Ready: that is when
 * its Service has an endpoint. A primary whose owner set replicas to 0 is
 * stopped on purpose; it is reported, never promoted away from automatically.
 */
export function assessPrimary(i: DetectInput): PrimaryAssessment {
  const replicas = i.workload ? desiredReplicas(i.workload) : 0;
  const readyReplicas = i.pods.filter(isPodReady).length;
  const ready = i.workload !== undefined && readyReplicas > 0;
  let notReadySince = ready ? undefined : (i.previousNotReadySince ?? i.now);
  if (notReadySince && i.lastSeenReady && i.lastSeenReady > notReadySince) {
    notReadySince = i.lastSeenReady < i.now ? i.lastSeenReady : i.now;
  }
  let state: PrimaryState = ready ? 'Ready' : 'NotReady';
  let message = `${readyReplicas}/${replicas} pods Ready`;
  if (!i.workload) {
    state = 'Missing';
    message = 'the primary workload does not exist';
  }
  if (i.fenced) state = 'Fenced';
  return {
    state,
    ready,
    readyReplicas,
    replicas,
    notReadySince,
    everReady: i.previousEverReady || ready,
    scaledToZero: i.workload !== undefined && replicas === 0,
    message,
  };
}

// The conditions on the two sides and the copies: PrimaryHealthy, StandbyReady and
// LastCopySucceeded. Pure.
import type { ConditionInput } from './conditions.ts';
import type { StatusInput } from './status-input.ts';

/** PrimaryHealthy: is the primary there, Ready, and does its Service reach it? */
export function primaryHealthyCondition(i: StatusInput): ConditionInput {
  const { spec } = i;
  if (i.primary.state === 'Unreachable') {
    // Not known, which is not the same as failed (controller/remote.ts).
    return { type: 'PrimaryHealthy', status: 'Unknown', reason: 'PrimaryUnreachable', message: i.primary.message };
  }
  if (i.primary.state === 'Fenced') {
    return { type: 'PrimaryHealthy', status: 'False', reason: 'Fenced', message: `the old primary is fenced (${i.primary.message})` };
  }
  if (i.primary.state === 'Missing') {
    const serving = i.primary.readyReplicas > 0 ? ` (${i.primary.readyReplicas} pod(s) its Service selects still serve)` : '';
    return {
      type: 'PrimaryHealthy',
      status: 'False',
      reason: 'PrimaryNotFound',
      message: `${spec.primary.workload.kind} ${spec.primary.workload.name} does not exist in this namespace${serving}; create it or fix spec.primary.workload. A deleted primary is never failed over automatically`,
    };
  }
  if (i.primary.serviceSelectsNothing && !i.primary.scaledToZero) {
    return {
      type: 'PrimaryHealthy',
      status: 'False',
      reason: 'ServiceSelectsNothing',
      message: `Service ${spec.primary.service} selects no pod (${i.primary.message}): clients reach nothing and the primary's health cannot be seen; fix its selector. This is not failed over automatically`,
    };
  }
  if (!i.primary.ready) {
    return {
      type: 'PrimaryHealthy',
      status: 'False',
      reason: i.primary.scaledToZero ? 'ScaledToZero' : 'PrimaryNotReady',
      message: i.primary.scaledToZero
        ? `${spec.primary.workload.kind} ${spec.primary.workload.name} is scaled to 0`
        : `${i.primary.message}, not Ready since ${i.primary.notReadySince?.toISOString() ?? 'now'}`,
    };
  }
  return { type: 'PrimaryHealthy', status: 'True', reason: 'PrimaryReady', message: i.primary.message };
}

/** StandbyReady: could the standby take over now? */
export function standbyReadyCondition(i: StatusInput): ConditionInput {
  return {
    type: 'StandbyReady',
    status: i.usability.usable ? 'True' : 'False',
    reason: i.usability.usable ? 'Usable' : i.lostCopy ? 'CopyClaimLost' : i.engineProblem ? 'EngineProblem' : 'NotUsable',
    message: [i.usability.reason, i.engineProblem, i.standbyAdjusted].filter((x) => x).join('; '),
  };
}

/** LastCopySucceeded: the newest finished snapshot or sync Job (warm and cold; hot has none). */
export function lastCopyCondition(i: StatusInput): ConditionInput | undefined {
  const { spec } = i;
  if (spec.tier === 'hot') return undefined;
  const job = i.lastCopyJob;
  return job
    ? {
        type: 'LastCopySucceeded',
        status: job.succeeded ? 'True' : 'False',
        reason: job.succeeded ? 'Succeeded' : 'Failed',
        message: job.succeeded
          ? `the last ${spec.tier === 'warm' ? 'sync' : 'snapshot'} Job finished at ${job.finished.toISOString()}`
          : `the last ${spec.tier === 'warm' ? 'sync' : 'snapshot'} Job failed at ${job.finished.toISOString()}: ${job.message}; the previous copy is still in place`,
      }
    : { type: 'LastCopySucceeded', status: 'Unknown', reason: 'NoJobYet', message: 'no copy Job has finished yet' };
}

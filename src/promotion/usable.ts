// Whether the standby could take over right now, per tier. Each "no" carries
// what to do about it.
import { formatDuration } from '../api/duration.ts';
import type { Tier } from '../api/spec.ts';
import type { StandbyUsability } from './decide.ts';

export interface UsabilityInput {
  tier: Tier;
  now: Date;
  rpoTargetMs: number;
  /** hot: the standby has Ready pods. */
  standbyReady: boolean;
  /** hot: measured lag, when the engine measures it. */
  lagSeconds: number | undefined;
  measuresLag: boolean;
  maxLagMs: number;
  /** warm/cold: when the newest usable copy's data was captured. */
  dataTime: Date | undefined;
}

export function standbyUsability(i: UsabilityInput): StandbyUsability {
  if (i.tier === 'hot') {
    if (!i.standbyReady) {
      return { usable: false, usableIfForced: false, reason: 'the hot standby has no Ready pod; check its pods and events' };
    }
    if (!i.measuresLag) return { usable: true, usableIfForced: true, reason: 'the hot standby is Ready' };
    if (i.lagSeconds === undefined) {
      return {
        usable: false,
        usableIfForced: true,
        reason: 'the standby lag could not be measured; annotate standby.dev/promote=force-<token> to promote anyway',
      };
    }
    if (i.lagSeconds * 1000 > i.maxLagMs) {
      return {
        usable: false,
        usableIfForced: true,
        reason: `the standby lags ${formatDuration(i.lagSeconds * 1000)}, hot.maxLag is ${formatDuration(i.maxLagMs)}; annotate standby.dev/promote=force-<token> to promote anyway`,
      };
    }
    return { usable: true, usableIfForced: true, reason: 'the hot standby is Ready and within maxLag' };
  }
  const noun = i.tier === 'warm' ? 'sync' : 'snapshot';
  if (!i.dataTime) {
    return {
      usable: false,
      usableIfForced: false,
      reason: `no complete ${noun} exists yet; wait for the first ${noun} or run one now (kubectl create job --from=cronjob/<site>-${noun} <name>)`,
    };
  }
  const age = i.now.getTime() - i.dataTime.getTime();
  if (i.tier === 'warm' && age > i.rpoTargetMs) {
    return {
      usable: false,
      usableIfForced: true,
      reason: `standby data is ${formatDuration(roundSeconds(age))} old, rpoTarget is ${formatDuration(i.rpoTargetMs)}; annotate standby.dev/promote=force-<token> to promote anyway`,
    };
  }
  return { usable: true, usableIfForced: true, reason: `the newest ${noun} is from ${i.dataTime.toISOString()}` };
}

function roundSeconds(ms: number): number {
  return Math.round(ms / 1000) * 1000;
}

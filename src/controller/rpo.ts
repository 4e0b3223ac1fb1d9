// The recovery point a site's standby holds: the RPO in effect, the data's age and time, and the
// RPOMet condition. Pure.
import { formatDuration, parseDuration } from '../api/duration.ts';
import { schedulePeriodMs } from '../api/cron.ts';
import type { SiteSpec } from '../api/spec.ts';
import type { ConditionInput } from './conditions.ts';
import type { StatusInput } from './status-input.ts';

/** The recovery point objective in effect: rpoTarget, else the tier's natural bound. */
export function effectiveRpoMs(spec: SiteSpec, now: Date): number {
  if (spec.rpoTarget) return parseDuration(spec.rpoTarget) ?? 0;
  if (spec.tier === 'hot') return parseDuration(spec.hot?.maxLag ?? '30s') ?? 30_000;
  const s = spec.tier === 'warm' ? spec.warm : spec.cold;
  return s ? 2 * schedulePeriodMs(s.schedule, s.timeZone, now) : Number.POSITIVE_INFINITY;
}

/** Lag rounded so that small jitter does not cause a status write: 0.1 s below 1 s, whole seconds above. */
export function quantizeLag(seconds: number): number {
  return seconds < 1 ? Math.round(seconds * 10) / 10 : Math.round(seconds);
}

/** What the standby's data says about the RPO: its age and time (for status) and RPOMet. */
export interface RpoAssessment {
  dataAgeSeconds: number | undefined;
  dataTimestamp: string | undefined;
  /** Undefined while it is not known (no lag measured, no copy yet). */
  rpoMet: boolean | undefined;
  /** When the status will change by itself (the data's age passing the RPO target): re-check then. */
  recheckInMs: number | undefined;
  condition: ConditionInput;
}

/** RPOMet and the data age. */
export function assessRpo(i: StatusInput): RpoAssessment {
  const { spec, now } = i;
  const rpoMs = effectiveRpoMs(spec, now);
  let recheckInMs: number | undefined;
  let dataAgeSeconds: number | undefined;
  let dataTimestamp: string | undefined;
  let rpoMet: boolean | undefined;
  if (spec.tier === 'hot') {
    if (i.measuresLag && i.lagSeconds !== undefined) {
      dataAgeSeconds = quantizeLag(i.lagSeconds);
      rpoMet = i.lagSeconds * 1000 <= rpoMs;
    }
    // A hot standby that stopped streaming: its data ages from its last known point.
    if (i.previous.dataTimestamp && !i.usability.usable) dataTimestamp = i.previous.dataTimestamp;
  } else if (i.dataTime) {
    const ageMs = now.getTime() - i.dataTime.getTime();
    dataAgeSeconds = Math.max(0, Math.round(ageMs / 1000));
    dataTimestamp = i.dataTime.toISOString();
    rpoMet = ageMs <= rpoMs;
    if (rpoMet && Number.isFinite(rpoMs)) recheckInMs = rpoMs - ageMs + 1000;
  }
  const rpoText = Number.isFinite(rpoMs) ? formatDuration(rpoMs) : 'unbounded';
  let condition: ConditionInput;
  if (rpoMet === undefined) {
    condition = {
      type: 'RPOMet',
      status: 'Unknown',
      reason: spec.tier === 'hot' ? 'NotMeasured' : 'NoCopyYet',
      message:
        spec.tier === 'hot'
          ? i.measuresLag
            ? `replication lag is not known yet${i.engineProblem ? `: ${i.engineProblem}` : ''}`
            : 'the generic engine does not measure replication lag; use an engine that does, or watch your application'
          : 'no complete copy exists yet',
    };
  } else {
    // The message names the data's time, not its age, so it does not change (and cause a write) as time passes.
    condition = {
      type: 'RPOMet',
      status: rpoMet ? 'True' : 'False',
      reason: rpoMet ? 'WithinTarget' : 'TargetMissed',
      message:
        spec.tier === 'hot'
          ? `replication lag is ${formatDuration((dataAgeSeconds ?? 0) * 1000)}; the RPO target is ${rpoText}`
          : `the standby's data is from ${i.dataTime?.toISOString() ?? '?'}, ${rpoMet ? 'within' : 'older than'} the RPO target of ${rpoText}`,
    };
  }
  return { dataAgeSeconds, dataTimestamp, rpoMet, recheckInMs, condition };
}

// spec.drill: disaster-recovery drills, their schedule, timeout and the user's verification Job.
import { z } from 'zod';
import { duration, flag, podTemplate, schedule, timeZone } from './fields.ts';

const drillVerify = z
  .object({
    jobTemplate: podTemplate('a pod template for the drill verification Job')
      .optional()
      .meta({
        description:
          "Your check of the drill's scratch copy, run as a Job after the engine's own once the copy is Ready (e.g. query the data it holds). " +
          'Its containers get DRILL_HOST (the scratch pod\'s IP), DRILL_ID, DRILL_SITE, DRILL_TIER and DRILL_DATA_TIME; the drill fails with the Job\'s message when it fails.',
      }),
  })
  .meta({ description: "What checks a drill's scratch copy besides the engine's own verification." });

export const drill = z
  .object({
    schedule: schedule()
      .optional()
      .meta({ description: 'When a drill runs, in the Kubernetes CronJob dialect (5 fields, no seconds). Without it drills run only by the standby.dev/drill annotation.' }),
    timeZone: timeZone().optional().meta({ description: 'IANA time zone of the drill schedule. Defaults to UTC.' }),
    suspend: flag('whether the drill schedule is paused')
      .default(false)
      .meta({ description: 'Pauses the drill schedule; the standby.dev/drill annotation still runs one.' }),
    timeout: duration('how long a drill may take', { positive: true })
      .default('15m')
      .meta({
        description:
          'How long a drill may take from its start to a verified scratch copy before it is marked Failed and its scratch objects are removed (e.g. 15m).',
      }),
    keepFailed: flag('whether the scratch objects of a failed drill are kept')
      .default(false)
      .meta({ description: 'Keep the scratch objects of a failed drill for inspection, until the next drill starts or the site is deleted.' }),
    verify: drillVerify.optional(),
  })
  .meta({
    description:
      'Disaster-recovery drills: on a schedule (or the standby.dev/drill annotation) the operator restores what a failover would use into scratch objects no Service selects, isolated by a NetworkPolicy, measures the RTO, verifies the copy and removes it. Production objects are never changed.',
  });

// status.drill, status.lastDrill and status.drillHistory: the running drill (src/drill/machine.ts)
// and the record of finished ones. Its own file, as cost-status.ts.
import { z } from 'zod';
import { time } from './fields.ts';
import { TIERS } from './tiers.ts';

/** The steps of a drill (src/drill/machine.ts); a drill ends Passed, Failed or Aborted. */
export const DRILL_STATES = ['Copying', 'Starting', 'Verifying'] as const;
export const DRILL_RESULTS = ['Passed', 'Failed', 'Aborted'] as const;
export const DRILL_TRIGGERS = ['scheduled', 'manual'] as const;
/** How a drill makes its scratch copy (src/drill/plan.ts). */
export const DRILL_METHODS = ['cloneStandby', 'cloneCopy', 'restoreSnapshots', 'restoreJob', 'copyJob'] as const;
/** The most drills status.drillHistory keeps. */
export const DRILL_HISTORY_LIMIT = 10;

const drillVolume = z
  .object({
    volume: z.string().meta({ description: "The primary's volume (pod-template volume name) this source copies." }),
    source: z.string().meta({ description: 'The PersistentVolumeClaim (clone methods) or VolumeSnapshot (restoreSnapshots) the scratch copy of that volume comes from.' }),
  })
  .meta({ description: 'What one scratch volume of a drill is made from.' });

export const drillStatus = z
  .object({
    id: z.string().meta({ description: 'The drill id: in the names (<site>-drill-<id>) and the standby.dev/drill-id label of its scratch objects.' }),
    trigger: z.enum(DRILL_TRIGGERS).meta({ description: 'scheduled (spec.drill.schedule) or manual (the standby.dev/drill annotation).' }),
    token: z.string().optional().meta({ description: 'The standby.dev/drill annotation value that started it, if any.' }),
    tier: z.enum(TIERS).meta({ description: 'The tier drilled: what a failover of this tier would use now is what is restored.' }),
    method: z
      .enum(DRILL_METHODS)
      .meta({
        description:
          "How the scratch copy is made: cloneStandby (snapshots of the hot standby's volumes, cloned), copyJob (the engine copies the running standby, e.g. a PostgreSQL base backup from it), cloneCopy (the newest complete warm copy, snapshotted and cloned), restoreSnapshots (the newest ready snapshot set) or restoreJob (the newest dump, restored by a Job).",
      }),
    state: z.enum(DRILL_STATES).meta({ description: 'Copying (making the scratch copy), Starting (the scratch workload until Ready) or Verifying (the engine\'s check, then spec.drill.verify).' }),
    startedAt: time.meta({ description: 'When the drill began: the simulated failure, from which RTO and data age count.' }),
    stepStartedAt: time.meta({ description: 'When the current step began.' }),
    message: z.string().meta({ description: 'What the drill is doing or waiting for.' }),
    sourceRun: z
      .string()
      .optional()
      .meta({ description: 'The copy run (warm) or snapshot set (cold) drilled: retention keeps it until the drill ends.' }),
    volumes: z.array(drillVolume).max(64).optional().meta({ description: 'What each scratch volume is made from.' }),
    dataTime: time.optional().meta({ description: 'When the data of the drilled copy was captured.' }),
    lagSeconds: z.number().optional().meta({ description: "The hot standby's replication lag when the drill began, as the engine measured it." }),
    readyAt: time.optional().meta({ description: 'When a scratch pod became Ready.' }),
    verifiedAt: time
      .optional()
      .meta({ description: "When the engine's verification passed (for an engine without one: readyAt): the measured RTO ends here." }),
    newestCommitTime: time
      .optional()
      .meta({ description: "The newest committed transaction the engine's verification found in the copy, when it can tell." }),
  })
  .meta({ description: 'The running drill; an operator restarted mid-drill records it Aborted and removes its scratch objects.' });

export const drillRecordSchema = z
  .object({
    id: z.string().meta({ description: 'The drill id (the standby.dev/drill-id label of its scratch objects).' }),
    trigger: z.enum(DRILL_TRIGGERS).meta({ description: 'scheduled or manual.' }),
    token: z.string().optional().meta({ description: 'The standby.dev/drill annotation value that started it, if any.' }),
    tier: z.enum(TIERS).optional().meta({ description: 'The tier drilled.' }),
    startedAt: time.meta({ description: 'When the drill began (the simulated failure).' }),
    readyAt: time.optional().meta({ description: 'When the scratch copy was Ready.' }),
    finishedAt: time.meta({ description: 'When the drill ended.' }),
    result: z.enum(DRILL_RESULTS).meta({ description: 'Passed (a verified scratch copy), Failed (a step failed or timed out) or Aborted (a real failure, a promotion or an operator restart came first).' }),
    rtoSeconds: z
      .number()
      .optional()
      .meta({
        description:
          "Passed: seconds from the start to a Ready scratch copy the engine's verification accepted: the recovery time a failover now would take (spec.drill.verify runs after, and is not counted).",
      }),
    dataAgeSeconds: z
      .number()
      .optional()
      .meta({ description: 'How old the drilled data was when the drill began: what a failover then would have lost.' }),
    dataTime: time.optional().meta({ description: 'When the drilled data was captured.' }),
    newestCommitTime: time.optional().meta({ description: "The newest committed transaction the engine's verification found, when it can tell." }),
    message: z.string().meta({ description: 'What happened, and why when it did not pass.' }),
  })
  .meta({ description: 'One finished drill.' });

export type DrillStatus = z.infer<typeof drillStatus>;
export type DrillRecord = z.infer<typeof drillRecordSchema>;
export type DrillState = (typeof DRILL_STATES)[number];
export type DrillResult = (typeof DRILL_RESULTS)[number];
export type DrillTrigger = (typeof DRILL_TRIGGERS)[number];
export type DrillMethod = (typeof DRILL_METHODS)[number];

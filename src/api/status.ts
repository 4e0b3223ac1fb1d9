// The StandbySite status: what the operator observed, written only by the
// operator through the /status subresource. Timestamps are RFC 3339 strings.
import { z } from 'zod';
import { FENCING_METHODS, TIERS } from './spec.ts';

export const PHASES = ['Pending', 'Protected', 'Degraded', 'Promoting', 'Promoted', 'Failed'] as const;
export const PROMOTION_STATES = ['Fencing', 'Promoting', 'Switching', 'Promoted', 'Failed'] as const;
export const PRIMARY_STATES = ['Ready', 'NotReady', 'Missing', 'Fenced'] as const;
/** The two sides of a site: which one serves clients. */
export const SIDES = ['primary', 'standby'] as const;
export const CONDITION_TYPES = [
  'Ready',
  'PrimaryHealthy',
  'StandbyReady',
  'RPOMet',
  'LastCopySucceeded',
  'PromotionReady',
  'FencingHolds',
  'TrafficHolds',
] as const;

const time = z.string().meta({ format: 'date-time' });

export const conditionSchema = z.object({
  type: z.string().max(316),
  status: z.enum(['True', 'False', 'Unknown']),
  observedGeneration: z.number().int().min(0).optional(),
  lastTransitionTime: time,
  reason: z.string().max(1024),
  message: z.string().max(32768),
});

const promotionStatus = z
  .object({
    state: z.enum(PROMOTION_STATES).optional(),
    trigger: z.enum(['automatic', 'manual', 'forced']).optional(),
    token: z.string().optional().meta({ description: 'The standby.dev/promote annotation value that started it, if any.' }),
    reason: z.string().optional(),
    message: z.string().optional(),
    startedAt: time.optional(),
    stepStartedAt: time.optional(),
    completedAt: time.optional(),
    durationSeconds: z.number().optional(),
    fencedAt: time.optional(),
    promotedAt: time.optional(),
    switchedAt: time.optional(),
    tier: z
      .enum(TIERS)
      .optional()
      .meta({ description: 'The tier when the promotion began: a later spec.tier change never rebuilds the standby that serves clients.' }),
    fencing: z
      .enum(FENCING_METHODS)
      .optional()
      .meta({ description: 'The fencing method when the promotion began: a later spec change never lifts the fence.' }),
    primaryReplicas: z
      .number()
      .int()
      .optional()
      .meta({ description: 'fencing scaleDown: the replicas the primary had before it was scaled to 0 (given back when a failed promotion is abandoned).' }),
    copy: z
      .object({
        run: z.string().meta({ description: 'The copy run (its standby.dev/copy-run label).' }),
        claims: z.record(z.string(), z.string()).meta({ description: 'The claims of the copy, by the primary volume they copy.' }),
        dataTime: time.optional().meta({ description: 'When the copied data was captured on the primary.' }),
      })
      .optional()
      .meta({
        description:
          'warm and cold: the copy the promotion serves from, recorded when it began; the serving standby is only ever (re)built on it, never on a newer copy of the fenced old primary.',
      }),
  })
  .meta({ description: 'The promotion state machine; an operator restarted mid-promotion resumes from here.' });

export const promotionRecordSchema = z.object({
  startedAt: time,
  completedAt: time.optional(),
  trigger: z.enum(['automatic', 'manual', 'forced']),
  result: z.enum(['Promoted', 'Failed']),
  reason: z.string().optional(),
});

export const siteStatusSchema = z
  .object({
    observedGeneration: z.number().int().optional(),
    phase: z.enum(PHASES).optional(),
    active: z.enum(SIDES).optional(),
    trafficService: z.string().optional().meta({ description: 'The Service clients use, following the active side.' }),
    primary: z
      .object({
        state: z.enum(PRIMARY_STATES).optional(),
        ready: z.boolean().optional(),
        readyReplicas: z.number().int().optional(),
        replicas: z.number().int().optional(),
        notReadySince: time.optional(),
        uid: z
          .string()
          .optional()
          .meta({ description: 'The uid of the primary workload everReady was seen on: a new workload of that name starts unseen.' }),
        everReady: z
          .boolean()
          .optional()
          .meta({ description: 'The primary has been Ready since the site was created: only then is a failure promoted automatically.' }),
      })
      .optional(),
    standby: z
      .object({
        workload: z.string().optional(),
        ready: z.boolean().optional(),
        readyReplicas: z.number().int().optional(),
        replicas: z.number().int().optional(),
        lagSeconds: z.number().optional().meta({ description: 'Replication lag measured by the engine (hot tier).' }),
        lag: z.string().optional().meta({ description: 'lagSeconds as a duration, for kubectl get.' }),
      })
      .optional(),
    lastSnapshotTime: time.optional(),
    snapshots: z.number().int().optional().meta({ description: 'Ready snapshots kept for this site.' }),
    lastSyncTime: time.optional(),
    lastSyncDuration: z.string().optional(),
    nextSyncTime: time.optional(),
    dataTimestamp: time
      .optional()
      .meta({ description: 'The point in time the standby data reflects; kubectl shows its age as DATA AGE.' }),
    dataAgeSeconds: z
      .number()
      .optional()
      .meta({ description: 'Data age when this status was written (hot: measured lag). DATA AGE and the metric are live.' }),
    promotion: promotionStatus.optional(),
    promotionHistory: z.array(promotionRecordSchema).max(20).optional(),
    handledPromoteToken: z.string().optional().meta({ description: 'The last standby.dev/promote annotation value acted on.' }),
    handledAbandonToken: z.string().optional().meta({ description: 'The last standby.dev/abandon annotation value acted on.' }),
    conditions: z
      .array(conditionSchema)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
  })
  .meta({ description: 'What the operator observed. Written only by the operator.' });

export type SiteStatus = z.infer<typeof siteStatusSchema>;
export type Condition = z.infer<typeof conditionSchema>;
export type ConditionType = (typeof CONDITION_TYPES)[number];
export type Phase = (typeof PHASES)[number];
export type PrimaryState = (typeof PRIMARY_STATES)[number];
export type Side = (typeof SIDES)[number];
export type PromotionState = (typeof PROMOTION_STATES)[number];
export type PromotionStatus = NonNullable<SiteStatus['promotion']>;
export type PromotionRecord = z.infer<typeof promotionRecordSchema>;

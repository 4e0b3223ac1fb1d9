// The StandbySite status: what the operator observed, written only by the
// operator through the /status subresource. Timestamps are RFC 3339 strings.
// Its long parts have their own files: promotion-status.ts (promotion, failback, re-protection
// and their history), drill-status.ts (drills) and cost-status.ts (cost).
import { z } from 'zod';
import { siteCost } from './cost-status.ts';
import { drillRecordSchema, drillStatus, DRILL_HISTORY_LIMIT } from './drill-status.ts';
import { time } from './fields.ts';
import { promotionRecordSchema, promotionStatus, reprotectionStatus, SIDES } from './promotion-status.ts';

export const PHASES = ['Pending', 'Protected', 'Degraded', 'Promoting', 'Promoted', 'Reprotecting', 'FailingBack', 'Failed'] as const;
export const PRIMARY_STATES = ['Ready', 'NotReady', 'Missing', 'Fenced', 'Unreachable'] as const;
export const CONDITION_TYPES = [
  'Ready',
  'PrimaryHealthy',
  'StandbyReady',
  'RPOMet',
  'LastCopySucceeded',
  'PromotionReady',
  'FencingHolds',
  'DrillPassed',
  'TrafficHolds',
  'FailbackReady',
  // Automatic site failover (promotion.siteFailover.mode automatic): the witness and its lease.
  'WitnessReachable',
  'WitnessLease',
  // kstatus (sigs.k8s.io/cli-utils), as Flux and kpt judge resources: Stalled=True is Failed
  // (nothing improves until a person acts), Reconciling=True is InProgress.
  'Stalled',
  'Reconciling',
] as const;

export const conditionSchema = z
  .object({
    type: z.string().max(316).meta({ description: `The condition's type: ${CONDITION_TYPES.join(', ')}.` }),
    status: z.enum(['True', 'False', 'Unknown']).meta({ description: 'True, False or Unknown.' }),
    observedGeneration: z
      .number()
      .int()
      .min(0)
      .optional()
      .meta({ description: 'The metadata.generation the condition was computed from: older than the site\'s means stale.' }),
    lastTransitionTime: time.meta({ description: 'When status last changed.' }),
    reason: z.string().max(1024).meta({ description: 'A CamelCase word for programs (e.g. PrimaryNotReady).' }),
    message: z.string().max(32768).meta({ description: 'What is the case and, when something is wrong, what to do about it.' }),
  })
  .meta({ description: 'A condition in the Kubernetes convention (metav1.Condition).' });

export const siteStatusSchema = z
  .object({
    observedGeneration: z
      .number()
      .int()
      .optional()
      .meta({ description: 'The metadata.generation this status was computed from.' }),
    phase: z
      .enum(PHASES)
      .optional()
      .meta({ description: `A summary for people: ${PHASES.join(', ')}. Programs should read the conditions.` }),
    active: z.enum(SIDES).optional().meta({ description: 'Which side serves clients: primary or standby.' }),
    trafficService: z.string().optional().meta({ description: 'The Service clients use, following the active side.' }),
    activeEndpoint: z
      .string()
      .optional()
      .meta({
        description:
          "Where clients should connect now: the traffic Service of the active side's cluster (<service>.<namespace>.svc, and the cluster's API server for a primary in another cluster), or engine.postgresql.primaryEndpoint.",
      }),
    epoch: z
      .number()
      .int()
      .min(0)
      .optional()
      .meta({
        description:
          'Grows by one with every promotion that begins and every failback; the fence carries it (annotation standby.dev/epoch), so that what acts for an older epoch can be told apart and refused.',
      }),
    primarySite: z
      .object({
        cluster: z.string().optional().meta({ description: "The primary cluster's API server (from the kubeconfig Secret)." }),
        reachable: z.boolean().optional().meta({ description: "The primary's API server answered the operator's last probes." }),
        since: time.optional().meta({ description: 'Since when it has been reachable, or unreachable.' }),
        lastError: z.string().optional().meta({ description: 'Why the last probe failed, while unreachable.' }),
        fencedAt: time
          .optional()
          .meta({ description: "When the fence NetworkPolicy was confirmed in the primary's cluster after a promotion began." }),
        returnedAt: time
          .optional()
          .meta({ description: "When the primary's cluster answered again after a promotion that began while it was unreachable (site lost)." }),
      })
      .optional()
      .meta({ description: "The primary's cluster, when it is another one (spec.primary.cluster): can the operator reach it." }),
    primary: z
      .object({
        state: z
          .enum(PRIMARY_STATES)
          .optional()
          .meta({ description: "Ready, NotReady, Missing (the workload does not exist), Fenced, or Unreachable (the primary's cluster does not answer: spec.primary.cluster)." }),
        ready: z.boolean().optional().meta({ description: 'At least one of its pods is Ready.' }),
        readyReplicas: z.number().int().optional().meta({ description: 'Ready pods of the primary workload.' }),
        replicas: z.number().int().optional().meta({ description: "The primary workload's desired replicas." }),
        notReadySince: time
          .optional()
          .meta({ description: 'When the primary was first seen not Ready: promotion.failureThreshold counts from here.' }),
        uid: z
          .string()
          .optional()
          .meta({ description: 'The uid of the primary workload everReady was seen on: a new workload of that name starts unseen.' }),
        everReady: z
          .boolean()
          .optional()
          .meta({ description: 'The primary has been Ready since the site was created: only then is a failure promoted automatically.' }),
      })
      .optional()
      .meta({ description: 'The primary workload as observed.' }),
    standby: z
      .object({
        workload: z.string().optional().meta({ description: 'The name of the standby workload (<site name>-standby).' }),
        ready: z.boolean().optional().meta({ description: 'The standby could take over now (the StandbyReady condition).' }),
        readyReplicas: z.number().int().optional().meta({ description: 'Ready pods of the standby workload.' }),
        replicas: z.number().int().optional().meta({ description: "The standby workload's desired replicas (0 for a warm standby between promotions)." }),
        lagSeconds: z.number().optional().meta({ description: 'Replication lag measured by the engine (hot tier).' }),
        lag: z.string().optional().meta({ description: 'lagSeconds as a duration, for kubectl get.' }),
        notReadySince: time.optional().meta({ description: 'While the standby serves: since when it has had no Ready pod.' }),
      })
      .optional()
      .meta({ description: 'The standby workload as observed.' }),
    lastSnapshotTime: time.optional().meta({ description: 'When the newest ready snapshot set was taken (cold tier).' }),
    snapshots: z.number().int().optional().meta({ description: 'Ready snapshots kept for this site.' }),
    lastSyncTime: time
      .optional()
      .meta({ description: "When the data of the standby's current copy was captured (warm), or of the newest snapshot (cold)." }),
    lastSyncDuration: z.string().optional().meta({ description: 'How long the sync Job of that copy took, as a duration (warm tier).' }),
    nextSyncTime: time.optional().meta({ description: 'When the schedule runs the next copy.' }),
    dataTimestamp: time
      .optional()
      .meta({ description: 'The point in time the standby data reflects; kubectl shows its age as DATA AGE.' }),
    dataAgeSeconds: z
      .number()
      .optional()
      .meta({ description: 'Data age when this status was written (hot: measured lag). DATA AGE and the metric are live.' }),
    promotion: promotionStatus.optional(),
    failback: promotionStatus
      .optional()
      .meta({ description: 'The running or last failback: a promotion back to the primary (to: primary), recorded beside the failover it ends.' }),
    promotionHistory: z
      .array(promotionRecordSchema)
      .max(20)
      .optional()
      .meta({ description: 'The last promotions (at most 20), oldest first; the promotion budget counts them.' }),
    handledPromoteToken: z.string().optional().meta({ description: 'The last standby.dev/promote annotation value acted on.' }),
    drill: drillStatus.optional(),
    lastDrill: drillRecordSchema.optional(),
    drillHistory: z
      .array(drillRecordSchema)
      .max(DRILL_HISTORY_LIMIT)
      .optional()
      .meta({ description: `The last drills (at most ${DRILL_HISTORY_LIMIT}), oldest first.` }),
    measuredRto: z
      .string()
      .optional()
      .meta({ description: 'The RTO the newest passed drill measured, as a duration, for kubectl get (RTO).' }),
    handledDrillToken: z.string().optional().meta({ description: 'The last standby.dev/drill annotation value acted on.' }),
    lastDrillScheduleTime: time
      .optional()
      .meta({ description: 'The time of spec.drill.schedule the last scheduled drill was for (run or skipped).' }),
    nextDrillTime: time.optional().meta({ description: 'When spec.drill.schedule runs the next drill.' }),
    handledAbandonToken: z.string().optional().meta({ description: 'The last standby.dev/abandon annotation value acted on.' }),
    handledReprotectToken: z.string().optional().meta({ description: 'The last standby.dev/reprotect annotation value acted on.' }),
    handledFailbackToken: z.string().optional().meta({ description: 'The last standby.dev/failback annotation value acted on.' }),
    reprotection: reprotectionStatus.optional(),
    cost: siteCost.optional(),
    primaryHeld: z
      .object({
        replicas: z.number().int().meta({ description: 'The replicas the primary workload had, restored when the step ends.' }),
        since: time.meta({ description: 'Since when the operator holds it at 0.' }),
        for: z.string().meta({ description: 'Which step needs it stopped (its volumes are rewound or replaced).' }),
        claims: z
          .record(
            z.string(),
            z.object({
              accessModes: z.array(z.string()),
              storage: z.string(),
              storageClassName: z.string().optional(),
              volumeMode: z.string().optional(),
              labels: z.record(z.string(), z.string()).optional(),
            }),
          )
          .optional()
          .meta({ description: 'The shapes of the claims the step replaces, recorded before it stops the primary.' }),
      })
      .optional()
      .meta({ description: 'The operator holds the primary workload at 0 replicas while a step rewrites its volumes (after keeping a copy of them).' }),
    conditions: z
      .array(conditionSchema)
      .optional()
      .meta({
        description: 'The conditions, one per type; Ready is True only while the site is protected.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      }),
  })
  .meta({ description: 'What the operator observed. Written only by the operator.' });

export type SiteStatus = z.infer<typeof siteStatusSchema>;
export type Condition = z.infer<typeof conditionSchema>;
export type { SiteCost, TierCost } from './cost-status.ts';
export type ConditionType = (typeof CONDITION_TYPES)[number];
export type Phase = (typeof PHASES)[number];
export type PrimaryState = (typeof PRIMARY_STATES)[number];
export type {
  GrowthMethod,
  PromotionRecord,
  PromotionState,
  PromotionStatus,
  ReprotectionState,
  ReprotectionStatus,
  Side,
  Trigger,
} from './promotion-status.ts';
export type { DrillMethod, DrillRecord, DrillResult, DrillState, DrillStatus, DrillTrigger } from './drill-status.ts';

// The StandbySite status: what the operator observed, written only by the
// operator through the /status subresource. Timestamps are RFC 3339 strings.
import { z } from 'zod';
import { FENCING_METHODS, TIERS } from './spec.ts';

export const PHASES = ['Pending', 'Protected', 'Degraded', 'Promoting', 'Promoted', 'Failed'] as const;
export const PROMOTION_STATES = ['Fencing', 'Promoting', 'Switching', 'Promoted', 'Failed'] as const;
export const PRIMARY_STATES = ['Ready', 'NotReady', 'Missing', 'Fenced', 'Unreachable'] as const;
/** What started a promotion: siteLost is a person's confirmation (a site-lost-... token) that the primary's site is gone. */
export const TRIGGERS = ['automatic', 'manual', 'forced', 'siteLost'] as const;
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
  // kstatus (sigs.k8s.io/cli-utils), as Flux and kpt judge resources: Stalled=True is Failed
  // (nothing improves until a person acts), Reconciling=True is InProgress.
  'Stalled',
  'Reconciling',
] as const;

const time = z.string().meta({ format: 'date-time' });

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

const promotionStatus = z
  .object({
    state: z
      .enum(PROMOTION_STATES)
      .optional()
      .meta({ description: 'Fencing, Promoting, Switching (in progress), Promoted or Failed.' }),
    trigger: z
      .enum(TRIGGERS)
      .optional()
      .meta({
        description:
          "automatic (the primary failed), manual (the standby.dev/promote annotation), forced (a force-... token) or siteLost (a site-lost-... token while the primary's cluster did not answer: fencing could not be confirmed).",
      }),
    token: z.string().optional().meta({ description: 'The standby.dev/promote annotation value that started it, if any.' }),
    reason: z.string().optional().meta({ description: 'Why the promotion began, or why it failed.' }),
    message: z.string().optional().meta({ description: 'What the promotion is doing or, when Failed, what went wrong.' }),
    startedAt: time.optional().meta({ description: 'When the promotion began.' }),
    stepStartedAt: time.optional().meta({ description: 'When the current step began (or was resumed): promotion.stepTimeout counts from here.' }),
    completedAt: time.optional().meta({ description: 'When the promotion ended, Promoted or Failed.' }),
    durationSeconds: z.number().optional().meta({ description: 'Seconds from startedAt to completedAt.' }),
    fencedAt: time.optional().meta({ description: 'When the old primary was fenced.' }),
    promotedAt: time.optional().meta({ description: 'When the standby was promoted.' }),
    switchedAt: time.optional().meta({ description: 'When the traffic Service was switched to the standby.' }),
    tier: z
      .enum(TIERS)
      .optional()
      .meta({ description: 'The tier when the promotion began: a later spec.tier change never rebuilds the standby that serves clients.' }),
    fencing: z
      .enum(FENCING_METHODS)
      .optional()
      .meta({ description: 'The fencing method when the promotion began: a later spec change never lifts the fence.' }),
    epoch: z.number().int().min(1).optional().meta({ description: "The site's epoch this promotion began (status.epoch); its fence carries it." }),
  })
  .meta({ description: 'The promotion state machine; an operator restarted mid-promotion resumes from here.' });

export const promotionRecordSchema = z
  .object({
    startedAt: time.meta({ description: 'When the promotion began.' }),
    completedAt: time.optional().meta({ description: 'When it ended.' }),
    trigger: z.enum(TRIGGERS).meta({ description: 'automatic, manual, forced or siteLost.' }),
    result: z.enum(['Promoted', 'Failed']).meta({ description: 'Promoted or Failed.' }),
    reason: z.string().optional().meta({ description: 'Why it began, or why it failed.' }),
  })
  .meta({ description: 'One past promotion.' });

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
          'Grows by one with every promotion that begins; the fence carries it (annotation standby.dev/epoch), so that what acts for an older epoch can be told apart.',
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
    promotionHistory: z
      .array(promotionRecordSchema)
      .max(20)
      .optional()
      .meta({ description: 'The last promotions (at most 20), oldest first; the promotion budget counts them.' }),
    handledPromoteToken: z.string().optional().meta({ description: 'The last standby.dev/promote annotation value acted on.' }),
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
export type ConditionType = (typeof CONDITION_TYPES)[number];
export type Phase = (typeof PHASES)[number];
export type PrimaryState = (typeof PRIMARY_STATES)[number];
export type Side = (typeof SIDES)[number];
export type PromotionState = (typeof PROMOTION_STATES)[number];
export type PromotionStatus = NonNullable<SiteStatus['promotion']>;
export type PromotionRecord = z.infer<typeof promotionRecordSchema>;

// The StandbySite status: what the operator observed, written only by the
// operator through the /status subresource. Timestamps are RFC 3339 strings.
import { z } from 'zod';
import { siteCost } from './cost-status.ts';
import { FENCING_METHODS } from './promotion.ts';
import { TIERS } from './tiers.ts';

export const PHASES = ['Pending', 'Protected', 'Degraded', 'Promoting', 'Promoted', 'Reprotecting', 'FailingBack', 'Failed'] as const;
/** How a promotion's Growing step grows the standby (status.promotion.growth). */
export const GROWTH_METHODS = ['InPlace', 'RollingUpdate'] as const;
export type GrowthMethod = (typeof GROWTH_METHODS)[number];
export const PROMOTION_STATES = ['Fencing', 'CatchingUp', 'Promoting', 'Switching', 'Growing', 'Promoted', 'Failed'] as const;
export const REPROTECTION_STATES = ['Preserving', 'Seeding', 'Following', 'Protected', 'Failed'] as const;
/**
 * What started a promotion: siteLost is a person's confirmation (a site-lost-... token) that the
 * primary's site is gone; siteFailover is automatic site failover, by taking over the witness's lease.
 */
export const TRIGGERS = ['automatic', 'manual', 'forced', 'siteLost', 'siteFailover'] as const;
export const PRIMARY_STATES = ['Ready', 'NotReady', 'Missing', 'Fenced', 'Unreachable'] as const;
/** The two sides of a site: which one serves clients. */
export const SIDES = ['primary', 'standby'] as const;
/** The steps of a drill (src/drill/machine.ts); a drill ends Passed, Failed or Aborted. */
export const DRILL_STATES = ['Copying', 'Starting', 'Verifying'] as const;
export const DRILL_RESULTS = ['Passed', 'Failed', 'Aborted'] as const;
export const DRILL_TRIGGERS = ['scheduled', 'manual'] as const;
/** How a drill makes its scratch copy (src/drill/plan.ts). */
export const DRILL_METHODS = ['cloneStandby', 'cloneCopy', 'restoreSnapshots', 'restoreJob', 'copyJob'] as const;
/** The most drills status.drillHistory keeps. */
export const DRILL_HISTORY_LIMIT = 10;
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
      .meta({ description: 'Fencing, CatchingUp (failback only), Promoting, Switching, Growing (a reduced standby only; in progress), Promoted or Failed.' }),
    to: z
      .enum(SIDES)
      .optional()
      .meta({ description: 'The side that takes over: standby (a failover or switchover; the default) or primary (a failback).' }),
    epoch: z
      .number()
      .int()
      .optional()
      .meta({ description: 'The epoch this promotion opens (status.epoch once it is Promoted).' }),
    force: z
      .boolean()
      .optional()
      .meta({ description: 'Failback: the proof that the primary caught up is waived (a force- token, or the serving standby failed).' }),
    trigger: z
      .enum(TRIGGERS)
      .optional()
      .meta({
        description:
          "automatic (the primary failed), manual (the standby.dev/promote annotation), forced (a force-... token) siteLost (a site-lost-... token while the primary's cluster did not answer: fencing could not be confirmed) or siteFailover (automatic site failover: the standby's site took the witness's lease over).",
      }),
    token: z.string().optional().meta({ description: 'The standby.dev/promote annotation value that started it, if any.' }),
    reason: z.string().optional().meta({ description: 'Why the promotion began, or why it failed.' }),
    message: z.string().optional().meta({ description: 'What the promotion is doing or, when Failed, what went wrong.' }),
    startedAt: time.optional().meta({ description: 'When the promotion began.' }),
    stepStartedAt: time.optional().meta({ description: 'When the current step began (or was resumed): promotion.stepTimeout counts from here.' }),
    completedAt: time.optional().meta({ description: 'When the promotion ended, Promoted or Failed.' }),
    durationSeconds: z.number().optional().meta({ description: 'Seconds from startedAt to completedAt.' }),
    fencedAt: time.optional().meta({ description: 'When the side that served was fenced.' }),
    caughtUpAt: time.optional().meta({ description: 'Failback: when the primary was proven to hold everything the standby committed.' }),
    caughtUp: z
      .object({
        servingLsn: z.string().optional().meta({ description: "Where the serving side's WAL ended once its writes stopped (PostgreSQL: its flush LSN)." }),
        replayLsn: z.string().optional().meta({ description: 'How far the side that takes over had replayed (PostgreSQL: its replay LSN).' }),
        message: z.string().optional().meta({ description: 'What proved it, or, for a forced failback, what could not be proven.' }),
      })
      .optional()
      .meta({ description: "Failback (hot, engines that prove it): the engine's proof that the primary caught up." }),
    primarySelector: z
      .record(z.string(), z.string())
      .optional()
      .meta({ description: "traffic.mode primaryService: the primary Service's own selector before the switch, given back on failback." }),
    promotedAt: time.optional().meta({ description: 'When the standby was promoted.' }),
    switchedAt: time.optional().meta({ description: 'When the traffic Service was switched to the standby.' }),
    grow: z
      .boolean()
      .optional()
      .meta({ description: "The standby stood by at reduced capacity (spec.standby.resources) when the promotion began: after the switch it grows to the primary's (the Growing step)." }),
    growth: z
      .enum(GROWTH_METHODS)
      .optional()
      .meta({
        description:
          "How the Growing step grows the promoted standby: InPlace (each pod's resize subresource: no container restarts; the workload's pod template keeps the reduced resources, see growthNote) " +
          'or RollingUpdate (the pod template gets the primary\'s resources and its controller replaces the pods: they restart once).',
      }),
    growthNote: z
      .string()
      .optional()
      .meta({ description: 'Why the Growing step grows this way: what refused or lacked in-place resize (RollingUpdate), or what InPlace leaves as is.' }),
    grownAt: time.optional().meta({ description: "When the Growing step ended: the promoted standby's pods had the primary's requests and limits, or growth was given up (growthFailed)." }),
    growthFailed: z
      .string()
      .optional()
      .meta({ description: "Why the promoted standby did not reach the primary's requests and limits within promotion.stepTimeout. The promotion still ends Promoted; the operator keeps asking for the primary's resources." }),
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
      .meta({ description: 'fencing scaleDown: the replicas the primary had before it was scaled to 0 (given back when a failed promotion is abandoned, or on failback).' }),
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

const reprotectionStatus = z
  .object({
    state: z
      .enum(REPROTECTION_STATES)
      .optional()
      .meta({ description: 'Preserving (keeping a copy of what only the old side holds), Seeding (making it follow the serving side), Following (waiting until it does), then Protected; or Failed.' }),
    of: z.enum(SIDES).optional().meta({ description: 'The side made a standby: primary (after a failover) or standby (after a failback).' }),
    trigger: z.enum(TRIGGERS).optional().meta({ description: 'automatic, or manual (the standby.dev/reprotect annotation).' }),
    token: z.string().optional().meta({ description: 'The standby.dev/reprotect annotation value that started it, if any.' }),
    message: z.string().optional().meta({ description: 'What the re-protection is doing or, when Failed, what went wrong.' }),
    startedAt: time.optional().meta({ description: 'When it began.' }),
    stepStartedAt: time.optional().meta({ description: 'When the current step began (or was resumed): promotion.stepTimeout counts from here.' }),
    completedAt: time.optional().meta({ description: 'When it ended, Protected or Failed.' }),
    durationSeconds: z.number().optional().meta({ description: 'Seconds from startedAt to completedAt.' }),
    divergence: z
      .object({
        snapshotRun: z.string().optional().meta({ description: 'The copy run of the VolumeSnapshots kept of the old side\'s volumes (role divergent).' }),
        keptAt: time.optional().meta({ description: 'When that copy was ready.' }),
        description: z.string().optional().meta({ description: 'What only the old side holds, as the engine measures it (e.g. a WAL range), or why it could not be measured.' }),
        from: z.string().optional().meta({ description: 'Where what only the old side holds begins, in the engine\'s positions (PostgreSQL: the LSN where the serving side\'s timeline forked).' }),
        to: z.string().optional().meta({ description: 'Where it ends (PostgreSQL: the old primary\'s last LSN).' }),
        bytes: z.number().optional().meta({ description: 'How much the old side holds that the serving side lacks (PostgreSQL: bytes of WAL).' }),
        commits: z.number().optional().meta({ description: 'Transactions committed on the old side after the fork (PostgreSQL, from the re-protect Job).' }),
        rewindable: z.boolean().optional().meta({ description: 'Whether the old side could be rewound (only what changed copied back) rather than copied whole.' }),
      })
      .optional()
      .meta({ description: 'What the old side held that the serving side may not (written between the failure and the fence), kept before anything overwrites it.' }),
    method: z.string().optional().meta({ description: 'How the old side was made to follow (e.g. job, snapshots, rewind, basebackup).' }),
    bytes: z.number().optional().meta({ description: 'Bytes the re-protection copied onto the old side (PostgreSQL: what pg_rewind copied, or the size of a fresh base backup).' }),
    report: z.string().optional().meta({ description: 'What the engine\'s re-protect Job reported: what it copied and why (e.g. why it could not rewind).' }),
  })
  .meta({ description: 'The re-protection state machine: after a failover (or failback) it makes the other side a standby of the serving one.' });

export const promotionRecordSchema = z
  .object({
    kind: z
      .enum(['promotion', 'failback', 'reprotect'])
      .optional()
      .meta({ description: 'promotion (a failover or switchover to the standby; the default), failback (back to the primary) or reprotect.' }),
    startedAt: time.meta({ description: 'When the promotion began.' }),
    completedAt: time.optional().meta({ description: 'When it ended.' }),
    durationSeconds: z.number().optional().meta({ description: 'Seconds from start to end.' }),
    trigger: z.enum(TRIGGERS).meta({ description: 'automatic, manual, forced, siteLost or siteFailover.' }),
    result: z.enum(['Promoted', 'Protected', 'Failed']).meta({ description: 'Promoted or Failed (promotion, failback); Protected or Failed (reprotect).' }),
    reason: z.string().optional().meta({ description: 'Why it began, or why it failed.' }),
  })
  .meta({ description: 'One past promotion.' });

const drillVolume = z
  .object({
    volume: z.string().meta({ description: "The primary's volume (pod-template volume name) this source copies." }),
    source: z.string().meta({ description: 'The PersistentVolumeClaim (clone methods) or VolumeSnapshot (restoreSnapshots) the scratch copy of that volume comes from.' }),
  })
  .meta({ description: 'What one scratch volume of a drill is made from.' });

const drillStatus = z
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
export type Side = (typeof SIDES)[number];
export type PromotionState = (typeof PROMOTION_STATES)[number];
export type PromotionStatus = NonNullable<SiteStatus['promotion']>;
export type PromotionRecord = z.infer<typeof promotionRecordSchema>;
export type DrillStatus = NonNullable<SiteStatus['drill']>;
export type DrillRecord = z.infer<typeof drillRecordSchema>;
export type DrillState = (typeof DRILL_STATES)[number];
export type DrillResult = (typeof DRILL_RESULTS)[number];
export type DrillTrigger = (typeof DRILL_TRIGGERS)[number];
export type DrillMethod = (typeof DRILL_METHODS)[number];
export type ReprotectionStatus = NonNullable<SiteStatus['reprotection']>;
export type ReprotectionState = (typeof REPROTECTION_STATES)[number];
export type Trigger = (typeof TRIGGERS)[number];

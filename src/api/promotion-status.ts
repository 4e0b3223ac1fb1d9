// status.promotion, status.failback, status.reprotection and status.promotionHistory: the
// promotion and re-protection state machines an operator restarted mid-way resumes from, and the
// record of past ones. Its own file, as cost-status.ts: the status schema is long enough without it.
import { z } from 'zod';
import { time } from './fields.ts';
import { FENCING_METHODS } from './promotion.ts';
import { TIERS } from './tiers.ts';

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
/** The two sides of a site: which one serves clients. */
export const SIDES = ['primary', 'standby'] as const;

export const promotionStatus = z
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

export const reprotectionStatus = z
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

export type Side = (typeof SIDES)[number];
export type PromotionState = (typeof PROMOTION_STATES)[number];
export type PromotionStatus = z.infer<typeof promotionStatus>;
export type PromotionRecord = z.infer<typeof promotionRecordSchema>;
export type ReprotectionStatus = z.infer<typeof reprotectionStatus>;
export type ReprotectionState = (typeof REPROTECTION_STATES)[number];
export type Trigger = (typeof TRIGGERS)[number];

// spec.cold, spec.warm and spec.hot: what runs between disasters for each tier, the scheduled
// copies of the cold and warm tiers (their method and, for snapshots, retention).
import { z } from 'zod';
import { duration, flag, integer, objectName, oneOf, podTemplate, schedule, timeZone, withRules } from './fields.ts';

export const TIERS = ['cold', 'warm', 'hot'] as const;
export const COPY_METHODS = ['volumeSnapshot', 'job', 'engine'] as const;

const retention = withRules(
  z.object({
    keepLast: integer('the number of snapshots to keep', 1, 1000)
      .optional()
      .meta({ description: 'Keep at most this many ready snapshots (1-1000); older ones are deleted.' }),
    maxAge: duration('how long snapshots are kept', { positive: true })
      .optional()
      .meta({ description: 'Delete ready snapshots older than this duration (e.g. 720h).' }),
  }),
  [
    {
      rule: 'has(self.keepLast) || has(self.maxAge)',
      message: 'needs keepLast, maxAge or both; the newest ready snapshot is always kept',
      holds: (r) => r.keepLast !== undefined || r.maxAge !== undefined,
    },
  ],
  'Which snapshots are pruned. The newest ready snapshot is never deleted.',
);

function scheduledCopy(tier: 'cold' | 'warm') {
  const noun = tier === 'cold' ? 'snapshot' : 'sync';
  return {
    schedule: schedule().meta({ description: `When the ${noun} runs, in the Kubernetes CronJob dialect (5 fields, no seconds).` }),
    timeZone: timeZone().optional().meta({ description: 'IANA time zone of the schedule. Defaults to UTC.' }),
    suspend: flag(`whether the ${noun} schedule is paused`)
      .default(false)
      .meta({ description: `Pauses the ${noun} schedule (the CronJob's suspend); promotion still uses the newest copy.` }),
    method: oneOf(COPY_METHODS, `a ${noun} method`)
      .default('volumeSnapshot')
      .meta({
        description:
          tier === 'cold'
            ? "volumeSnapshot: CSI VolumeSnapshots of the primary's PVCs. job: your jobTemplate (e.g. a dump). engine: the engine's logical dump."
            : "volumeSnapshot: snapshot the primary's PVCs and clone them for the standby. job: your jobTemplate. engine: the engine's own copy (PostgreSQL: base backup).",
      }),
    volumeSnapshotClassName: objectName('a VolumeSnapshotClass')
      .optional()
      .meta({ description: 'VolumeSnapshotClass for method volumeSnapshot. Defaults to the cluster default.' }),
    jobTemplate: podTemplate(`a pod template for the ${noun} Job`)
      .optional()
      .meta({ description: `Pod template of the ${noun} Job, for method job.` }),
  };
}

const methodNeedsTemplate = {
  rule: "self.method != 'job' || has(self.jobTemplate)",
  message: 'is required when method is job: give the pod template the Job runs',
  fieldPath: '.jobTemplate',
  reason: 'FieldValueRequired' as const,
  holds: (c: { method: string; jobTemplate?: unknown }) => c.method !== 'job' || c.jobTemplate !== undefined,
  path: ['jobTemplate'],
};

export const cold = withRules(
  z.object({
    ...scheduledCopy('cold'),
    restoreJobTemplate: podTemplate('a pod template for the restore Job')
      .optional()
      .meta({ description: 'For method job: the Job that restores the newest copy into the standby on promotion.' }),
    retention: retention.default({ keepLast: 7 }),
  }),
  [
    methodNeedsTemplate,
    {
      rule: "self.method != 'job' || has(self.restoreJobTemplate)",
      message: 'is required when method is job: give the pod template of the Job that restores a copy on promotion',
      fieldPath: '.restoreJobTemplate',
      reason: 'FieldValueRequired',
      holds: (c) => c.method !== 'job' || c.restoreJobTemplate !== undefined,
      path: ['restoreJobTemplate'],
    },
  ],
  'Cold tier: scheduled snapshots, restored into a standby on disaster.',
);

export const warm = withRules(z.object(scheduledCopy('warm')), [methodNeedsTemplate], 'Warm tier: a standby kept at zero replicas, refreshed on a schedule.');

export const hot = z
  .object({
    replicas: integer('the number of standby replicas', 1, 16)
      .default(1)
      .meta({ description: 'Pods of the standby workload (1-16).' }),
    maxLag: duration('the largest replication lag at which the standby may be promoted', { positive: true })
      .default('30s')
      .meta({
        description:
          'The largest replication lag (measured by the engine) at which the standby may be promoted automatically; a standby further behind is not promoted.',
      }),
  })
  .meta({ description: 'Hot tier: a standby that runs and streams from the primary all the time.' });

// The copy Jobs of a site (sync, snapshot) as status reads them: the newest that finished.
import type { V1Job } from '@kubernetes/client-node';
import { jobOutcome, type JobOutcome } from '../k8s/jobs.ts';
import { LABEL_ROLE, type Role } from '../site/names.ts';

function newest(jobs: readonly V1Job[], roles: readonly Role[], ok: (o: JobOutcome) => boolean): JobOutcome | undefined {
  return jobs
    .map(jobOutcome)
    .filter((o) => ok(o) && roles.includes(o.labels[LABEL_ROLE] as Role))
    .sort((a, b) => (b.finished?.getTime() ?? 0) - (a.finished?.getTime() ?? 0))[0];
}

/** The newest finished Job with one of the roles, if any. */
export function newestFinished(jobs: readonly V1Job[], roles: readonly Role[]): JobOutcome | undefined {
  return newest(jobs, roles, (o) => o.succeeded || o.failed);
}

/** The newest succeeded Job with one of the roles, if any. */
export function newestSucceeded(jobs: readonly V1Job[], roles: readonly Role[]): JobOutcome | undefined {
  return newest(jobs, roles, (o) => o.succeeded);
}

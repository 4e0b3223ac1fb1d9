// Running a Job to completion, the same way for the controller (which looks once per reconcile
// and comes back) and for the copy subcommands (which wait for it): one reading of a Job's
// conditions, one way to create it idempotently.
import type { V1Job } from '@kubernetes/client-node';
import type { ObjectActions } from './actions.ts';
import type { KubeClient } from './client.ts';
import { R } from './resources.ts';
import { toDate } from './types.ts';

export interface JobOutcome {
  name: string;
  labels: Readonly<Record<string, string>>;
  started: Date | undefined;
  finished: Date | undefined;
  succeeded: boolean;
  failed: boolean;
  message: string;
}

export function jobOutcome(j: V1Job): JobOutcome {
  const conds = j.status?.conditions ?? [];
  const complete = conds.find((c) => (c.type === 'Complete' || c.type === 'SuccessCriteriaMet') && c.status === 'True');
  const failed = conds.find((c) => c.type === 'Failed' && c.status === 'True');
  return {
    name: j.metadata?.name ?? '',
    labels: j.metadata?.labels ?? {},
    started: toDate(j.status?.startTime) ?? toDate(j.metadata?.creationTimestamp),
    finished: toDate(j.status?.completionTime) ?? toDate(failed?.lastTransitionTime) ?? toDate(complete?.lastTransitionTime),
    succeeded: complete !== undefined,
    failed: failed !== undefined,
    message: failed ? `${failed.reason ?? 'Failed'}: ${failed.message ?? ''}`.trim() : '',
  };
}

/** Creates the Job unless it exists, and says how it stands now. */
export async function ensureJob(actions: ObjectActions, job: V1Job): Promise<JobOutcome> {
  return jobOutcome(await actions.ensure(job));
}

/** Creates the Job and waits until it succeeds; throws when it fails, disappears or runs out of time. */
export async function runJobToCompletion(
  client: KubeClient,
  job: V1Job,
  o: { timeoutMs: number; pollMs: number; what?: string },
): Promise<JobOutcome> {
  const ns = job.metadata?.namespace ?? '';
  const name = job.metadata?.name ?? '';
  const what = o.what ?? 'Job';
  await client.create<V1Job>(R.job, job);
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const live = await client.get<V1Job>(R.job, ns, name);
    if (!live) throw new Error(`${what} ${name} disappeared`);
    const out = jobOutcome(live);
    if (out.succeeded) return out;
    if (out.failed) throw new Error(`${what} ${name} failed: ${out.message}`);
    if (Date.now() > deadline) throw new Error(`${what} ${name} did not finish in time`);
    await new Promise((r) => setTimeout(r, o.pollMs));
  }
}

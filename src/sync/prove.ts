// A new copy is complete only when it is usable: its claims bind and a pod can mount them. A
// claim cloned from a snapshot on a class that cannot provision stays Pending for good, and one
// on a WaitForFirstConsumer class binds only for a pod; so a short Job mounts every claim (and
// looks into it), and the claims must then be Bound. Until then the standby stays on the old copy.
import type { V1Job, V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { StandbySite } from '../api/site.ts';
import type { KubeClient } from '../k8s/client.ts';
import { jobOutcome } from '../k8s/jobs.ts';
import { R } from '../k8s/resources.ts';
import { names } from '../site/names.ts';
import { buildJob, operatorPod } from '../tiers/jobs.ts';

/** Where the check Job mounts each claim: /copies/<volume>. */
export const COPY_MOUNT_ROOT = '/copies';

export interface ProveOptions {
  /** The operator's image, which runs `verify-copy`. */
  image: string;
  deadline: number;
  pollMs: number;
  /** Mount the claims in a Job first (copies no Job has mounted yet: snapshot clones). */
  mount: boolean;
}

export function checkJob(site: StandbySite, run: string, claims: Readonly<Record<string, string>>, image: string, deadlineSeconds: number): V1Job {
  const pod = operatorPod(site, image, 'transfer', ['verify-copy', '--dir', COPY_MOUNT_ROOT]);
  const container = pod.spec!.containers[0]!;
  container.volumeMounts = Object.keys(claims)
    .sort()
    .map((volume) => ({ name: volume, mountPath: `${COPY_MOUNT_ROOT}/${volume}`, readOnly: true }));
  return buildJob(site, {
    name: names.bindJob(site.metadata.name, run),
    role: 'transfer',
    template: pod,
    claims,
    backoffLimit: 0,
    activeDeadlineSeconds: Math.max(1, deadlineSeconds),
    ttlSecondsAfterFinished: 3600,
  });
}

async function unbound(client: KubeClient, ns: string, claims: Readonly<Record<string, string>>): Promise<string[]> {
  const out: string[] = [];
  for (const name of Object.values(claims)) {
    const pvc = await client.get<V1PersistentVolumeClaim>(R.pvc, ns, name);
    const phase = pvc?.status?.phase ?? (pvc ? 'Pending' : 'gone');
    if (phase !== 'Bound') out.push(`${name} (${phase})`);
  }
  return out;
}

/** Resolves once every claim is Bound (and, with `mount`, mounted by the check Job); throws saying which are not. */
export async function proveUsable(client: KubeClient, site: StandbySite, run: string, claims: Readonly<Record<string, string>>, o: ProveOptions): Promise<void> {
  const ns = site.metadata.namespace;
  const sleep = () => new Promise((r) => setTimeout(r, o.pollMs));
  const notBound = (list: string[]) =>
    new Error(
      `the new copy's claim(s) ${list.join(', ')} are not Bound after ${Math.round((o.deadline - started) / 1000)}s; a copy that cannot bind is never used (the standby stays on the previous copy): check the StorageClass (provisioner, quota, topology)`,
    );
  const started = Date.now();
  if (o.mount) {
    const job = checkJob(site, run, claims, o.image, Math.ceil((o.deadline - Date.now()) / 1000));
    const name = job.metadata!.name!;
    await client.create(R.job, job);
    try {
      for (;;) {
        const live = await client.get<V1Job>(R.job, ns, name);
        if (!live) throw new Error(`the copy check Job ${name} disappeared`);
        const out = jobOutcome(live);
        if (out.succeeded) {
          // Its pod must not hold the claims (a claim in use by a pod is never deleted).
          await client.delete(R.job, ns, name);
          break;
        }
        if (out.failed) {
          const list = await unbound(client, ns, claims);
          throw list.length ? notBound(list) : new Error(`the copy check Job ${name} failed: ${out.message}`);
        }
        if (Date.now() > o.deadline) {
          const list = await unbound(client, ns, claims);
          throw list.length ? notBound(list) : new Error(`the copy check Job ${name} could not mount the new copy in time`);
        }
        await sleep();
      }
    } catch (err) {
      await client.delete(R.job, ns, name).catch(() => false);
      throw err;
    }
  }
  for (;;) {
    const list = await unbound(client, ns, claims);
    if (list.length === 0) return;
    if (Date.now() > o.deadline) throw notBound(list);
    await sleep();
  }
}

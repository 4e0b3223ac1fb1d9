// Gathers, from the caches only, everything the reconciler needs to know about one site.
import type {
  V1CronJob,
  V1Job,
  V1NetworkPolicy,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Service,
} from '@kubernetes/client-node';
import type { StandbySite } from '../api/site.ts';
import { toDate } from '../k8s/types.ts';
import { LABEL_ROLE, LABEL_SITE, names } from '../site/names.ts';
import { primaryVolumes, selectorOf, matches, type PrimaryVolume, type Workload } from '../site/workload.ts';
import type { VolumeSnapshot } from '../snapshot/types.ts';
import type { Caches } from './caches.ts';

export interface Observed {
  primary: Workload | undefined;
  primaryPods: V1Pod[];
  primaryService: V1Service | undefined;
  volumes: PrimaryVolume[];
  primaryClaims: Map<string, V1PersistentVolumeClaim>;
  missingClaims: string[];
  standby: Workload | undefined;
  standbyPods: V1Pod[];
  copyClaims: V1PersistentVolumeClaim[];
  snapshots: VolumeSnapshot[];
  jobs: V1Job[];
  cronJobs: V1CronJob[];
  trafficService: V1Service | undefined;
  fence: V1NetworkPolicy | undefined;
}

export function observe(c: Caches, site: StandbySite): Observed {
  const ns = site.metadata.namespace;
  const key = `${ns}/${site.metadata.name}`;
  const ref = site.spec.primary.workload;
  const primary: Workload | undefined =
    ref.kind === 'StatefulSet' ? c.statefulSets.get(`${ns}/${ref.name}`) : c.deployments.get(`${ns}/${ref.name}`);
  const selector = primary ? selectorOf(primary) : undefined;
  const pods = c.pods.inNamespace(ns);
  const primaryPods = selector
    ? pods.filter((p) => p.metadata?.labels?.[LABEL_SITE] === undefined && matches(selector, p.metadata?.labels))
    : [];
  const standbyPods = pods.filter(
    (p) => p.metadata?.labels?.[LABEL_SITE] === site.metadata.name && p.metadata.labels[LABEL_ROLE] === 'standby',
  );
  const volumes = primary ? primaryVolumes(primary) : [];
  const primaryClaims = new Map<string, V1PersistentVolumeClaim>();
  const missingClaims: string[] = [];
  for (const v of volumes) {
    const pvc = c.pvcs.get(`${ns}/${v.claim}`);
    if (pvc) primaryClaims.set(v.claim, pvc);
    else missingClaims.push(v.claim);
  }
  const standbyName = `${ns}/${names.standby(site.metadata.name)}`;
  const standby: Workload | undefined =
    ref.kind === 'StatefulSet' ? c.statefulSets.get(standbyName) : c.deployments.get(standbyName);
  const owned = <T extends { metadata?: { labels?: Record<string, string> } }>(list: T[], role?: string) =>
    role ? list.filter((o) => o.metadata?.labels?.[LABEL_ROLE] === role) : list;
  return {
    primary,
    primaryPods,
    primaryService: c.services.get(`${ns}/${site.spec.primary.service}`),
    volumes,
    primaryClaims,
    missingClaims,
    standby,
    standbyPods,
    copyClaims: owned(c.pvcs.byIndex('site', key), 'copy'),
    snapshots: c.snapshots.byIndex('site', key),
    jobs: c.jobs.byIndex('site', key),
    cronJobs: c.cronJobs.byIndex('site', key),
    trafficService: c.services.get(`${ns}/${names.traffic(site.metadata.name, site.spec)}`),
    fence: c.networkPolicies.get(`${ns}/${names.fence(site.metadata.name)}`),
  };
}

export interface JobOutcome {
  name: string;
  role: string | undefined;
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
    role: j.metadata?.labels?.[LABEL_ROLE],
    started: toDate(j.status?.startTime) ?? toDate(j.metadata?.creationTimestamp),
    finished: toDate(j.status?.completionTime) ?? toDate(failed?.lastTransitionTime) ?? toDate(complete?.lastTransitionTime),
    succeeded: complete !== undefined,
    failed: failed !== undefined,
    message: failed ? `${failed.reason ?? 'Failed'}: ${failed.message ?? ''}`.trim() : '',
  };
}

/** The newest finished Job with one of the roles, if any. */
export function newestFinished(jobs: readonly V1Job[], roles: readonly string[]): JobOutcome | undefined {
  return jobs
    .map(jobOutcome)
    .filter((o) => (o.succeeded || o.failed) && o.role !== undefined && roles.includes(o.role))
    .sort((a, b) => (b.finished?.getTime() ?? 0) - (a.finished?.getTime() ?? 0))[0];
}

/** The newest succeeded Job with one of the roles, if any. */
export function newestSucceeded(jobs: readonly V1Job[], roles: readonly string[]): JobOutcome | undefined {
  return jobs
    .map(jobOutcome)
    .filter((o) => o.succeeded && o.role !== undefined && roles.includes(o.role))
    .sort((a, b) => (b.finished?.getTime() ?? 0) - (a.finished?.getTime() ?? 0))[0];
}

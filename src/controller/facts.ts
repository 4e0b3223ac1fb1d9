// The facts of one site: what the caches hold of its objects (observe), what only the controller
// can check about its references, and what follows from both (its copies, the data age, the
// primary's health, whether the standby could take over). Everything but observe is pure.
import type {
  V1CronJob,
  V1Deployment,
  V1Job,
  V1NetworkPolicy,
  V1ObjectMeta,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Service,
  V1StatefulSet,
} from '@kubernetes/client-node';
import { parseDuration } from '../api/duration.ts';
import type { StandbySite } from '../api/site.ts';
import type { PromotionStatus } from '../api/status.ts';
import { copyRuns, newestCompleteRun, type CopyRun } from '../copies/inventory.ts';
import { newestFinished, newestSucceeded } from '../copies/jobs.ts';
import type { EngineObservation } from '../engines/engine.ts';
import type { JobOutcome } from '../k8s/jobs.ts';
import { toDate } from '../k8s/types.ts';
import type { StandbyUsability } from '../promotion/decide.ts';
import { assessPrimary, type PrimaryAssessment } from '../promotion/detect.ts';
import { standbyUsability } from '../promotion/usable.ts';
import { LABEL_ROLE, LABEL_SITE, names } from '../site/names.ts';
import { ownershipOf } from '../site/ownership.ts';
import { claimsOf, isPodReady, primaryVolumes, selectorOf, matches, type PrimaryVolume, type Workload } from '../site/workload.ts';
import { snapshotSets, type SnapshotSet } from '../snapshot/sets.ts';
import type { VolumeSnapshot } from '../snapshot/types.ts';
import type { Caches } from './caches.ts';
import { effectiveRpoMs } from './status.ts';

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

/** A cache of one kind, as facts read it: by namespace/name, or a namespace's objects. */
export interface Lookup<T> {
  get(key: string): T | undefined;
  inNamespace(namespace: string): T[];
}

/**
 * Where the primary's objects come from: this cluster's caches (the site's own namespace), or
 * the caches of the primary's cluster (controller/remote.ts), so that nothing after observe()
 * needs to know which. The fence is among them: it is written where the primary runs.
 */
export interface PrimaryObjects {
  namespace: string;
  statefulSets: Lookup<V1StatefulSet>;
  deployments: Lookup<V1Deployment>;
  pods: Lookup<V1Pod>;
  services: Lookup<V1Service>;
  pvcs: Lookup<V1PersistentVolumeClaim>;
  networkPolicies: Lookup<V1NetworkPolicy>;
}

/** The primary's objects in this cluster's caches. */
export function localPrimary(c: Caches, site: StandbySite): PrimaryObjects {
  const { statefulSets, deployments, pods, services, pvcs, networkPolicies } = c;
  return { namespace: site.metadata.namespace, statefulSets, deployments, pods, services, pvcs, networkPolicies };
}

export function observe(c: Caches, site: StandbySite, p: PrimaryObjects = localPrimary(c, site)): Observed {
  const ns = site.metadata.namespace;
  const pns = p.namespace;
  const key = `${ns}/${site.metadata.name}`;
  const ref = site.spec.primary.workload;
  const primary: Workload | undefined =
    ref.kind === 'StatefulSet' ? p.statefulSets.get(`${pns}/${ref.name}`) : p.deployments.get(`${pns}/${ref.name}`);
  const selector = primary ? selectorOf(primary) : undefined;
  const primaryPods = selector
    ? p.pods.inNamespace(pns).filter((x) => x.metadata?.labels?.[LABEL_SITE] === undefined && matches(selector, x.metadata?.labels))
    : [];
  const standbyPods = c.pods.inNamespace(ns).filter(
    (x) => x.metadata?.labels?.[LABEL_SITE] === site.metadata.name && x.metadata.labels[LABEL_ROLE] === 'standby',
  );
  const volumes = primary ? primaryVolumes(primary) : [];
  const primaryClaims = new Map<string, V1PersistentVolumeClaim>();
  const missingClaims: string[] = [];
  for (const v of volumes) {
    const pvc = p.pvcs.get(`${pns}/${v.claim}`);
    if (pvc) primaryClaims.set(v.claim, pvc);
    else missingClaims.push(v.claim);
  }
  const standbyName = `${ns}/${names.standby(site.metadata.name)}`;
  const standby: Workload | undefined =
    ref.kind === 'StatefulSet' ? c.statefulSets.get(standbyName) : c.deployments.get(standbyName);
  const ours = (o: { kind?: string; metadata?: V1ObjectMeta }) => ownershipOf(o, { name: site.metadata.name, uid: site.metadata.uid }).ours;
  const owned = <T extends { metadata?: { labels?: Record<string, string> } }>(list: T[], role?: string) =>
    role ? list.filter((o) => o.metadata?.labels?.[LABEL_ROLE] === role) : list;
  return {
    primary,
    primaryPods,
    primaryService: p.services.get(`${pns}/${site.spec.primary.service}`),
    volumes,
    primaryClaims,
    missingClaims,
    standby,
    standbyPods,
    // Only the site's own data: an earlier site of the same name keeps its copies (site/ownership.ts).
    copyClaims: owned(c.pvcs.byIndex('site', key), 'copy').filter(ours),
    snapshots: c.snapshots.byIndex('site', key).filter(ours),
    jobs: c.jobs.byIndex('site', key),
    cronJobs: c.cronJobs.byIndex('site', key),
    trafficService: c.services.get(`${ns}/${names.traffic(site.metadata.name, site.spec)}`),
    fence: p.networkPolicies.get(`${pns}/${names.fence(site.metadata.name)}`),
  };
}

/** A problem with a reference; `stalls` when nothing but a person fixes it (kstatus Stalled). */
export interface ReferenceProblem {
  message: string;
  stalls: boolean;
}

/** Problems with references that only the controller can see (the schema cannot). */
export function referenceProblems(site: StandbySite, obs: Observed, snapshotsInstalled: boolean): ReferenceProblem[] {
  const { spec } = site;
  const problems: ReferenceProblem[] = [];
  const stalls = (message: string) => problems.push({ message, stalls: true });
  if (!obs.primaryService) {
    stalls(`Service ${spec.primary.service} (spec.primary.service) does not exist in namespace ${site.metadata.namespace}`);
  }
  const usesSnapshots = (spec.tier === 'cold' && spec.cold?.method === 'volumeSnapshot') || (spec.tier === 'warm' && spec.warm?.method === 'volumeSnapshot');
  if (obs.primary && usesSnapshots && obs.volumes.length === 0) {
    stalls(
      `${spec.primary.workload.kind} ${spec.primary.workload.name} has no PersistentVolumeClaims to snapshot; method volumeSnapshot needs volumeClaimTemplates or PVC volumes (or use method job)`,
    );
  }
  if (usesSnapshots && !snapshotsInstalled) {
    stalls('the VolumeSnapshot API (snapshot.storage.k8s.io/v1) is not installed in this cluster; install the CSI snapshot CRDs and controller, or use method job');
  }
  if (obs.primary && obs.missingClaims.length > 0 && spec.tier !== 'hot') {
    // The workload's controller makes them: a matter of time, not of a person.
    problems.push({ message: `the primary's PersistentVolumeClaim(s) ${obs.missingClaims.join(', ')} do not exist yet`, stalls: false });
  }
  return problems;
}

export interface SiteFacts {
  /** The copy runs among the site's copy claims, newest data first. */
  runs: CopyRun[];
  sets: SnapshotSet[];
  /** The claims the standby workload mounts, by volume. */
  mounted: Record<string, string>;
  /** The copy the standby is (to be) on. */
  standbyRun: CopyRun | undefined;
  /** When the data of the standby's copy was captured (warm/cold). */
  dataTime: Date | undefined;
  lastSnapshotTime: Date | undefined;
  snapshotCount: number | undefined;
  lastSync: { time: Date; durationMs: number | undefined } | undefined;
  lastCopyJob: JobOutcome | undefined;
  primary: PrimaryAssessment;
  standbyReadyPods: number;
  usability: StandbyUsability;
}

export interface FactsInput {
  site: StandbySite;
  obs: Observed;
  engineObs: EngineObservation;
  measuresLag: boolean;
  now: Date;
  /** When a watch event last showed the primary Ready (this process). */
  lastSeenReady: Date | undefined;
}

export function siteFacts(i: FactsInput): SiteFacts {
  const { site, obs, now } = i;
  const { spec } = site;
  const prev = site.status;
  const promotion: PromotionStatus | undefined = prev.promotion;
  const volumeNames = obs.volumes.map((v) => v.volume);
  const mounted = claimsOf(obs.standby?.spec?.template);
  const runs = copyRuns(obs.copyClaims, volumeNames.length ? volumeNames : Object.keys(mounted));
  const sets = snapshotSets(obs.snapshots, volumeNames);
  const mountedRun = runs.find((r) => r.complete && Object.values(r.claims).every((c) => Object.values(mounted).includes(c)));
  const standbyRun = promotion ? (mountedRun ?? newestCompleteRun(runs)) : newestCompleteRun(runs);

  let dataTime: Date | undefined;
  let lastSnapshotTime: Date | undefined;
  let snapshotCount: number | undefined;
  let lastSync: SiteFacts['lastSync'];
  if (spec.tier === 'warm') {
    dataTime = standbyRun?.dataTime;
    const job = newestSucceeded(obs.jobs, ['copy']);
    if (standbyRun) {
      lastSync = {
        time: standbyRun.dataTime,
        durationMs: job?.started && job.finished ? job.finished.getTime() - job.started.getTime() : undefined,
      };
    }
  } else if (spec.tier === 'cold') {
    if (spec.cold?.method === 'volumeSnapshot') {
      const ready = sets.filter((s) => s.ready);
      dataTime = ready[0]?.time;
      snapshotCount = ready.length;
    } else {
      dataTime = newestSucceeded(obs.jobs, ['snapshot'])?.started;
    }
    lastSnapshotTime = dataTime;
    // For kubectl's LAST SYNC column, a cold tier's copy is its snapshot.
    if (dataTime) lastSync = { time: dataTime, durationMs: undefined };
  }

  const primary = assessPrimary({
    now,
    workload: obs.primary,
    pods: obs.primaryPods,
    previousNotReadySince: toDate(prev.primary?.notReadySince),
    lastSeenReady: i.lastSeenReady,
    previousEverReady: prev.primary?.everReady === true,
    fenced: promotion !== undefined,
  });
  const standbyReadyPods = obs.standbyPods.filter(isPodReady).length;
  const usability = standbyUsability({
    tier: spec.tier,
    now,
    rpoTargetMs: effectiveRpoMs(spec, now),
    standbyReady: standbyReadyPods > 0,
    lagSeconds: i.engineObs.lagSeconds,
    measuresLag: i.measuresLag,
    maxLagMs: parseDuration(spec.hot?.maxLag ?? '30s') ?? 30_000,
    dataTime,
  });
  return {
    runs,
    sets,
    mounted,
    standbyRun,
    dataTime,
    lastSnapshotTime,
    snapshotCount,
    lastSync,
    lastCopyJob: newestFinished(obs.jobs, ['copy', 'snapshot']),
    primary,
    standbyReadyPods,
    usability,
  };
}

// The facts of one site: what the caches hold of its objects (observe), what only the controller
// can check about its references, and what follows from both (its copies, the data age, the
// primary's health, whether the standby could take over). Everything but observe is pure.
import type {
  V1CronJob,
  V1Deployment,
  V1Job,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Service,
  V1StatefulSet,
} from '@kubernetes/client-node';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { parseDuration } from '../api/duration.ts';
import type { StandbySite } from '../api/site.ts';
import type { PromotionStatus } from '../api/status.ts';
import { copyRuns, newestCompleteRun, type CopyRun } from '../copies/inventory.ts';
import { newestFinished, newestSucceeded } from '../copies/jobs.ts';
import { lostCopy, type LostCopy } from '../copies/lost.ts';
import type { EngineObservation } from '../engines/engine.ts';
import { jobOutcome, type JobOutcome } from '../k8s/jobs.ts';
import { toDate, type KubeObject } from '../k8s/types.ts';
import type { StandbyUsability } from '../promotion/decide.ts';
import { assessPrimary, type PrimaryAssessment } from '../promotion/detect.ts';
import { promotedClaims } from '../promotion/copy.ts';
import { promotionInEffect } from '../promotion/lifecycle.ts';
import { standbyUsability } from '../promotion/usable.ts';
import { LABEL_ROLE, LABEL_SITE, names } from '../site/names.ts';
import { ownershipOf } from '../site/ownership.ts';
import { claimsOf, isPodReady, isStatefulSet, primaryVolumes, selectorOf, matches, type PrimaryVolume, type Workload } from '../site/workload.ts';
import { restorable, snapshotSets, type SnapshotSet } from '../snapshot/sets.ts';
import { hostBindings, servicesSelectingBothSides, type BothSides } from '../tiers/standby-workload.ts';
import type { VolumeSnapshot } from '../snapshot/types.ts';
import type { Caches } from './caches.ts';
import { effectiveRpoMs } from './rpo.ts';

export interface Observed {
  primary: Workload | undefined;
  /** The workload's own pods (what a fence isolates). */
  primaryPods: V1Pod[];
  /** The pods the primary Service selects, the site's own left out (what clients reach); undefined without the Service. */
  servicePods: V1Pod[] | undefined;
  primaryService: V1Service | undefined;
  volumes: PrimaryVolume[];
  primaryClaims: Map<string, V1PersistentVolumeClaim>;
  missingClaims: string[];
  standby: Workload | undefined;
  standbyPods: V1Pod[];
  copyClaims: V1PersistentVolumeClaim[];
  /** The claims whose storage the site's protection holds besides its copies: its dump volume, a StatefulSet standby's own volumes. */
  keptClaims: V1PersistentVolumeClaim[];
  snapshots: VolumeSnapshot[];
  jobs: V1Job[];
  cronJobs: V1CronJob[];
  trafficService: V1Service | undefined;
  fence: INetworkPolicy | undefined;
  /** Label keys Services of the namespace select on (see SelectorKeys). */
  serviceLabelKeys: ReadonlySet<string>;
  /** Services that select the primary's pods and the standby's at once. */
  bothSides: BothSides[];
  /** What of the primary's pod template binds it to its node, left out of the standby's. */
  hostBindings: string[];
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
  networkPolicies: Lookup<INetworkPolicy>;
}

/** The primary's objects in this cluster's caches. */
export function localPrimary(c: Caches, site: StandbySite): PrimaryObjects {
  const { statefulSets, deployments, pods, services, pvcs, networkPolicies } = c;
  return { namespace: site.metadata.namespace, statefulSets, deployments, pods, services, pvcs, networkPolicies };
}

export function observe(c: Caches, site: StandbySite, serviceLabelKeys: ReadonlySet<string> = new Set(), p: PrimaryObjects = localPrimary(c, site)): Observed {
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
  const primaryService = p.services.get(`${pns}/${site.spec.primary.service}`);
  const serviceSelector = primaryService?.spec?.selector;
  const servicePods = primaryService
    ? serviceSelector && Object.keys(serviceSelector).length > 0
      ? p.pods.inNamespace(pns).filter((x) => x.metadata?.labels?.[LABEL_SITE] === undefined && matches({ matchLabels: serviceSelector }, x.metadata?.labels))
      : []
    : undefined;
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
  // Only when a standby pod still carries a key some Service selects on (rare: pods made before
  // the Service) are the namespace's Services looked through.
  const carries = standbyPods.some((p) => Object.keys(p.metadata?.labels ?? {}).some((k) => k !== LABEL_SITE && k !== LABEL_ROLE && serviceLabelKeys.has(k)));
  const bothSides = carries ? servicesSelectingBothSides(c.services.inNamespace(ns), [...primaryPods, ...(servicePods ?? [])], standbyPods) : [];
  const ours = (o: KubeObject) => ownershipOf(o, { name: site.metadata.name, uid: site.metadata.uid }).ours;
  const owned = <T extends { metadata?: { labels?: Record<string, string> } }>(list: T[], role?: string) =>
    role ? list.filter((o) => o.metadata?.labels?.[LABEL_ROLE] === role) : list;
  const dumps = c.pvcs.get(`${ns}/${names.dumpClaim(site.metadata.name)}`);
  const keptClaims = [
    ...(dumps && ours(dumps) && dumps.metadata?.labels?.[LABEL_ROLE] === 'dumps' ? [dumps] : []),
    ...(standby && isStatefulSet(standby) ? standbyVolumeClaims(c, ns, standby) : []),
  ];
  return {
    primary,
    primaryPods,
    servicePods,
    primaryService,
    volumes,
    primaryClaims,
    missingClaims,
    standby,
    standbyPods,
    // Only the site's own data: an earlier site of the same name keeps its copies (site/ownership.ts).
    copyClaims: owned(c.pvcs.byIndex('site', key), 'copy').filter(ours),
    keptClaims,
    // A drill's snapshots are its own (controller/drill.ts): not copies, not the site's data.
    snapshots: c.snapshots.byIndex('site', key).filter((s) => ours(s) && s.metadata?.labels?.[LABEL_ROLE] !== 'drill'),
    jobs: c.jobs.byIndex('site', key),
    cronJobs: c.cronJobs.byIndex('site', key),
    trafficService: c.services.get(`${ns}/${names.traffic(site.metadata.name, site.spec)}`),
    fence: p.networkPolicies.get(`${pns}/${names.fence(site.metadata.name)}`),
    serviceLabelKeys,
    bothSides,
    hostBindings: primary ? hostBindings(primary) : [],
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
  // A fence this site's promotions did not put up (an earlier site of this name left it, its
  // promotion Failed): it isolates the primary all the same. Reported, never adopted or removed.
  const fence = obs.fence;
  const madeHere = fence ? ownershipOf(fence, { name: site.metadata.name, uid: site.metadata.uid }).ours : false;
  if (fence && !site.status.promotion?.state && !fence.metadata?.deletionTimestamp && !madeHere) {
    stalls(
      `NetworkPolicy ${fence.metadata?.name ?? ''} isolates the primary's pods but was not put up by a promotion of this site (an earlier site of this name left it): the primary's clients may reach nothing; delete it (kubectl delete networkpolicy ${fence.metadata?.name ?? ''}) if the primary should serve`,
    );
  }
  for (const b of obs.bothSides) {
    // Replacing the standby's pods ends it (the operator's own doing): not a stall.
    problems.push({
      message: `Service ${b.service} selects both the primary's pods and the standby's (on ${b.keys.join(', ')}): its clients may reach the standby; the standby's pods lose those labels when they are replaced`,
      stalls: false,
    });
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
  /** The copy the standby is (to be) on: during a promotion, the one it recorded. */
  standbyRun: CopyRun | undefined;
  /** The claims convergence builds the standby on (see promotedClaims). */
  standbyClaims: Record<string, string> | undefined;
  /** A warm standby's copy claim deleted outside the operator, and what is done about it (copies/lost.ts). */
  lostCopy: LostCopy | undefined;
  /** When the data of the standby's copy was captured (warm/cold). */
  dataTime: Date | undefined;
  lastSnapshotTime: Date | undefined;
  snapshotCount: number | undefined;
  /** A cold site's snapshot set newer than every ready one that the driver failed (status.error). */
  snapshotProblem: string | undefined;
  lastSync: { time: Date; durationMs: number | undefined } | undefined;
  lastCopyJob: JobOutcome | undefined;
  primary: PrimaryAssessment;
  standbyReadyPods: number;
  usability: StandbyUsability;
  /** The side that serves when it is the standby: Ready, or not Ready since when (continuously). */
  serving: { ready: boolean; notReadySince: Date | undefined };
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
  // The failover in effect, if any: after a failback the primary serves and copies move forward again.
  const promotion: PromotionStatus | undefined = promotionInEffect(prev);
  const volumeNames = obs.volumes.map((v) => v.volume);
  const mounted = claimsOf(obs.standby?.spec?.template);
  const runs = copyRuns(obs.copyClaims, volumeNames.length ? volumeNames : Object.keys(mounted));
  // The divergence copies of a DR cycle are kept, never restored from nor counted as the site's data.
  const sets = snapshotSets(restorable(obs.snapshots), volumeNames);
  const mountedRun = runs.find((r) => r.complete && Object.values(r.claims).every((c) => Object.values(mounted).includes(c)));
  const newest = newestCompleteRun(runs);
  const recorded = promotion?.copy;
  const standbyRun = recorded ? runs.find((r) => r.run === recorded.run) : promotion ? (mountedRun ?? newest) : newest;
  // A warm standby whose copy claim was deleted by hand: kept on it (re-cloned, or replaced by the next sync).
  const lost =
    spec.tier === 'warm' && !promotion && obs.standby
      ? lostCopy({
          site: site.metadata.name,
          volumes: volumeNames,
          mounted,
          copyClaims: obs.copyClaims,
          runs,
          sets: snapshotSets(obs.snapshots.filter((x) => x.metadata?.labels?.[LABEL_ROLE] === 'transfer'), volumeNames),
          jobs: obs.jobs.filter((j) => j.metadata?.labels?.[LABEL_ROLE] === 'transfer').map(jobOutcome),
        })
      : undefined;
  const standbyClaims = promotion ? promotedClaims(promotion, runs, mountedRun ?? newest) : (newest?.claims ?? lost?.claims);

  let dataTime: Date | undefined;
  let lastSnapshotTime: Date | undefined;
  let snapshotCount: number | undefined;
  let snapshotProblem: string | undefined;
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
      snapshotProblem = snapshotSetProblem(sets);
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
    servicePods: obs.servicePods,
    previousNotReadySince: toDate(prev.primary?.notReadySince),
    lastSeenReady: i.lastSeenReady,
    previousEverReady: prev.primary?.everReady === true,
    previousUid: prev.primary?.uid,
    fenced: promotion !== undefined,
  });
  const standbyReadyPods = obs.standbyPods.filter(isPodReady).length;
  // Only while the standby serves does its readiness decide anything (a failback of a failed standby).
  const servingReady = standbyReadyPods > 0;
  const serving = {
    ready: servingReady,
    notReadySince: prev.active === 'standby' && !servingReady ? (toDate(prev.standby?.notReadySince) ?? now) : undefined,
  };
  const measured = standbyUsability({
    tier: spec.tier,
    now,
    rpoTargetMs: effectiveRpoMs(spec, now),
    standbyReady: standbyReadyPods > 0,
    lagSeconds: i.engineObs.lagSeconds,
    measuresLag: i.measuresLag,
    maxLagMs: parseDuration(spec.hot?.maxLag ?? '30s') ?? 30_000,
    dataTime,
  });
  // A lost copy is no copy: nothing to take over from until it is re-cloned or a sync makes a new one.
  const usability: StandbyUsability = lost ? { usable: false, usableIfForced: false, reason: lost.message } : measured;
  return {
    runs,
    sets,
    mounted,
    standbyRun,
    standbyClaims,
    lostCopy: lost,
    dataTime,
    lastSnapshotTime,
    snapshotCount,
    snapshotProblem,
    lastSync,
    lastCopyJob: newestFinished(obs.jobs, ['copy', 'snapshot']),
    primary,
    standbyReadyPods,
    usability,
    serving,
  };
}

/**
 * The driver's error on the newest snapshot sets, while no ready set is newer: without it a site
 * whose every set failed would only say "wait for the first snapshot".
 */
export function snapshotSetProblem(sets: readonly SnapshotSet[]): string | undefined {
  const failed: SnapshotSet[] = [];
  for (const s of sets) {
    if (s.ready) break;
    if (s.error) failed.push(s);
  }
  const newest = failed[0];
  if (!newest) return undefined;
  const older = sets.find((s) => s.ready);
  const what = failed.length > 1 ? `the ${failed.length} newest snapshot sets failed` : 'the newest snapshot set failed';
  return `${what} (run ${newest.run}: ${newest.error ?? ''}); ${older ? `the newest restorable set is from ${older.time.toISOString()}` : 'no snapshot set can be restored'}`;
}

/**
 * A StatefulSet standby's own volumes, made by the StatefulSet controller as
 * <template>-<standby>-<ordinal>: looked up by name (not by a scan of the namespace), up to its
 * replicas and on while more exist (claims of a scaled-down standby are kept, and hold storage).
 */
function standbyVolumeClaims(c: Caches, ns: string, standby: V1StatefulSet): V1PersistentVolumeClaim[] {
  const out: V1PersistentVolumeClaim[] = [];
  const replicas = standby.spec?.replicas ?? 1;
  for (const t of standby.spec?.volumeClaimTemplates ?? []) {
    for (let i = 0; ; i++) {
      const pvc = c.pvcs.get(`${ns}/${t.metadata?.name ?? ''}-${standby.metadata?.name ?? ''}-${i}`);
      if (pvc) out.push(pvc);
      else if (i >= replicas) break;
    }
  }
  return out;
}

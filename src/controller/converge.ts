// Converging the objects a site owns: apply what the builders want (server-side apply, skipped
// when the cache already matches), replace a standby whose immutable fields changed, remove what
// the site no longer wants, prune copies nobody needs, and keep data's ownership in line with
// deletionPolicy. Errors are collected, not thrown: one bad object must not stop the others.
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { Side, SiteStatus } from '../api/status.ts';
import type { Engine } from '../engines/engine.ts';
import { lifecycleOf, promotionInEffect, standbyCopiesUnkept, type Lifecycle } from '../promotion/lifecycle.ts';
import { inProgress } from '../promotion/machine.ts';
import { reprotecting } from '../reprotect/machine.ts';
import { ownershipOf } from '../site/ownership.ts';
import { released } from '../promotion/release.ts';
import { inUseByDrill } from '../drill/retention.ts';
import { LABEL_EPOCH, LABEL_ROLE, names, ownerReference } from '../site/names.ts';
import type { Workload } from '../site/workload.ts';
import type { BuildContext, FenceShape } from '../tiers/context.ts';
import { desiredObjects } from '../tiers/desired.ts';
import { needsApply, stamped } from '../k8s/apply.ts';
import { R, resourceOfKind, type Resource } from '../k8s/resources.ts';
import { keyOf, type KubeObject } from '../k8s/types.ts';
import { newestCompleteRun, obsoleteRuns, type CopyRun } from '../copies/inventory.ts';
import { COPY_JOB_DEADLINE_SECONDS } from '../tiers/jobs.ts';
import { keepFence } from '../fencing/fence.ts';
import { buildFence, fenceDrift, narrowedPrimaryFence } from '../fencing/network-policy.ts';
import { holdTraffic } from '../traffic/switch.ts';
import { actuator, applyOwned, NameConflict } from './actuator.ts';
import { informerOfKind } from './caches.ts';
import type { ReconcileContext } from './context.ts';
import type { Observed, SiteFacts } from './facts.ts';

/** Kinds the site owns and removes when it no longer wants them. Data (PVCs, snapshots) is never among them. */
const REMOVABLE_KINDS = ['StatefulSet', 'Deployment', 'CronJob', 'Service', 'NetworkPolicy', 'ServiceAccount', 'Role', 'RoleBinding'] as const;

/** Applies the desired objects together: one reconcile costs one round trip, and a failure does not stop the rest. */
export async function applyAll(rc: ReconcileContext, desired: readonly KubeObject[]): Promise<void> {
  await Promise.all(desired.map((obj) => applyOne(rc, obj)));
}

async function applyOne(rc: ReconcileContext, obj: KubeObject): Promise<void> {
  const { client } = rc.deps;
  const res = resourceOfKind(obj.kind ?? '');
  const want = stamped(obj);
  const live = informerOfKind(rc.deps.caches, res.kind)?.get(keyOf(want));
  if (live && needsApply(want, live) && mustReplace(rc, want, live)) {
    // volumeClaimTemplates cannot change (a warm standby on copies becoming a hot one with its
    // own claims, or back): replace the standby. Claims it made stay, as deletionPolicy says.
    try {
      // Whatever deletionPolicy says, a replacement is not a deletion of the site: keep the claims.
      await client.mergePatch(res, live.metadata?.namespace, live.metadata?.name ?? '', {
        spec: { persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain' } },
      });
      await client.delete(res, live.metadata?.namespace, live.metadata?.name ?? '', { uid: live.metadata?.uid ?? '' });
      rc.log.info({ kind: want.kind, name: want.metadata?.name }, 'replaced the standby workload: its volume claim templates changed');
    } catch (err) {
      rc.errors.push(`could not replace ${want.kind} ${want.metadata?.name}: ${(err as Error).message}`);
    }
    rc.after(500);
    return;
  }
  try {
    await applyOwned(rc.deps, rc.site, want, live);
  } catch (err) {
    if (err instanceof NameConflict) rc.conflicts.push(err.message);
    else rc.errors.push(`could not apply ${obj.kind} ${obj.metadata?.name}: ${(err as Error).message}`);
  }
}

/** An owned StatefulSet whose volumeClaimTemplates (immutable) differ, while no promotion relies on it. */
function mustReplace(rc: ReconcileContext, want: KubeObject, live: KubeObject): boolean {
  if (want.kind !== 'StatefulSet' || promotionInEffect(rc.current.status ?? {})) return false;
  if (!live.metadata?.ownerReferences?.some((r) => r.uid === rc.site.metadata.uid)) return false;
  const claimNames = (o: KubeObject) =>
    ((o as { spec?: { volumeClaimTemplates?: { metadata?: { name?: string } }[] } }).spec?.volumeClaimTemplates ?? [])
      .map((t) => t.metadata?.name ?? '')
      .sort()
      .join(',');
  return claimNames(want) !== claimNames(live);
}

/** Deletes owned objects the site no longer wants (after a tier change); `keep` (kind/name) are never deleted. */
export async function removeUnwanted(rc: ReconcileContext, desired: readonly KubeObject[], keep: readonly string[] = []): Promise<void> {
  const wanted = new Set([...desired.map((o) => `${o.kind}/${o.metadata?.name}`), ...keep]);
  for (const kind of REMOVABLE_KINDS) {
    const res = resourceOfKind(kind);
    for (const o of informerOfKind(rc.deps.caches, kind)?.byIndex('site', rc.key) ?? []) {
      if (wanted.has(`${kind}/${o.metadata?.name}`)) continue;
      // A drill's scratch objects are the drill driver's to remove (drill.ts).
      if (o.metadata?.labels?.[LABEL_ROLE] === 'drill') continue;
      // Only objects this site made (site/ownership.ts): a label alone is not proof of ownership.
      // Released objects (a promotion's, without owner reference) are the site's too once a
      // failback made them unwanted: the fence of a side that serves again, the standby's fence.
      const meta = o.metadata;
      if (!meta || !ownershipOf({ kind, metadata: meta }, { name: rc.site.metadata.name, uid: rc.site.metadata.uid }).ours) continue;
      try {
        await rc.deps.client.delete(res, meta.namespace, meta.name ?? '', { uid: meta.uid ?? '' });
        rc.log.info({ kind, name: meta.name }, 'removed an object the site no longer needs');
      } catch (err) {
        rc.errors.push(`could not delete ${kind} ${meta.name}: ${(err as Error).message}`);
      }
    }
  }
}

/** Deletes standby copies that are neither the newest complete one nor mounted; never during a promotion (the caller checks). */
export async function pruneCopies(rc: ReconcileContext, obs: Observed, runs: readonly CopyRun[], mounted: Record<string, string>): Promise<void> {
  const inUse = new Set(Object.values(mounted));
  // The standby must already have moved to the newest copy before older ones go.
  const newest = newestCompleteRun(runs);
  if (newest && obs.standby && !Object.values(newest.claims).every((c) => inUse.has(c))) return;
  // Nor the copy a running drill clones.
  const drilled = inUseByDrill(rc.current.status);
  for (const run of obsoleteRuns(runs, inUse, rc.now(), (COPY_JOB_DEADLINE_SECONDS + 600) * 1000).filter((r) => !drilled.has(r.run))) {
    for (const name of run.names) {
      try {
        await rc.deps.client.delete(R.pvc, rc.site.metadata.namespace, name);
      } catch (err) {
        rc.errors.push(`could not delete old standby copy ${name}: ${(err as Error).message}`);
      }
    }
    rc.log.info({ run: run.run }, 'deleted an older standby copy');
  }
}

/**
 * Snapshots and standby copies are owned by the site (and go with it) only under deletionPolicy
 * Delete; a policy changed later is applied to the copies that already exist.
 */
export async function alignDataOwnership(rc: ReconcileContext, obs: Observed): Promise<void> {
  const { site } = rc;
  const uid = site.metadata.uid;
  if (!uid) return;
  // Once a promotion began, the copies may be what serves clients: deleting the site never takes them.
  const promoted = promotionInEffect(rc.current.status ?? {}) !== undefined;
  const targets: [Resource, KubeObject[], boolean][] = [
    [R.volumeSnapshot, obs.snapshots, site.spec.deletionPolicy.snapshots === 'Delete'],
    [R.pvc, obs.copyClaims, site.spec.deletionPolicy.standbyVolumes === 'Delete' && !promoted],
  ];
  for (const [res, objects, owned] of targets) {
    for (const o of objects) {
      const refs = o.metadata?.ownerReferences ?? [];
      const has = refs.some((r) => r.uid === uid);
      if (has === owned) continue;
      const next = owned ? [...refs, ownerReference(site, false)] : refs.filter((r) => r.uid !== uid);
      try {
        await rc.deps.client.mergePatch(res, site.metadata.namespace, o.metadata?.name ?? '', {
          metadata: { ownerReferences: next.length ? next : null },
        });
      } catch (err) {
        rc.errors.push(`could not update the owner of ${res.kind} ${o.metadata?.name}: ${(err as Error).message}`);
      }
    }
  }
}

/**
 * Which side is fenced, and how, where the site stands in the DR cycle (pure):
 *   failover   the old primary closed (fencing networkPolicy), narrowed to the standby's pods once
 *              its re-protection began (it must reach the side it follows)
 *   failback   the standby narrow (the primary catches up from it); the primary narrow until the
 *              failback's Switching step lifts its fence
 *   returning  the standby narrow until it is re-protected (it must not take writes)
 */
export function fencesFor(l: Lifecycle, fencing: 'networkPolicy' | 'scaleDown'): { primary?: FenceShape; standby?: FenceShape } {
  const byPolicy = fencing === 'networkPolicy';
  switch (l.mode) {
    case 'failover': {
      if (!byPolicy || !l.promotion) return {};
      const following = reprotecting(l.reprotection) || l.reprotection?.state === 'Protected';
      return { primary: following ? 'narrow' : 'closed' };
    }
    case 'failback': {
      const lifted = l.failback?.state === 'Switching';
      return { standby: 'narrow', ...(byPolicy && !lifted ? { primary: 'narrow' as const } : {}) };
    }
    case 'returning':
      return { standby: 'narrow' };
    default:
      return {};
  }
}

/** The epoch the standby's pods carry: the last failback's, once it is done (see standbyFor). */
/**
 * The epoch the standby's pods carry: the last failback's once it Promoted, for their restart as a
 * standby of the primary again (PostgreSQL: rewound onto its timeline). Not before that standby's
 * re-protection kept what it held (a forced failback may leave commits only there): until then the
 * pods keep the label they have (`live`), so that nothing restarts them.
 */
export function standbyEpoch(status: SiteStatus, live: number | undefined): number | undefined {
  if (status.failback?.state !== 'Promoted') return undefined;
  return standbyCopiesUnkept(lifecycleOf(status)) ? live : status.failback.epoch;
}

/** The epoch label on the standby workload's pod template, as it stands. */
export function liveEpoch(standby: Workload | undefined): number | undefined {
  const v = Number(standby?.spec?.template.metadata?.labels?.[LABEL_EPOCH]);
  return Number.isInteger(v) && v > 0 ? v : undefined;
}

/** The builders' input: the site, what was observed of it and where it stands in the DR cycle. */
export function buildContext(
  rc: ReconcileContext,
  obs: Observed,
  engine: Engine,
  lifecycle: Lifecycle,
  active: Side,
  copyClaims: Record<string, string> | undefined,
): BuildContext | undefined {
  if (!obs.primary) return undefined;
  // The failover whose effects hold (failover, failback); after a failback none does.
  const promo = lifecycle.promotion;
  const switching = promo?.state === 'Switching' || promo?.state === 'Growing' || promo?.state === 'Promoted';
  return {
    site: rc.site,
    primary: obs.primary,
    primaryService: obs.primaryService,
    volumes: obs.volumes,
    primaryClaims: obs.primaryClaims,
    engine,
    operatorImage: rc.deps.operatorImage,
    imagePullSecrets: rc.deps.imagePullSecrets ?? [],
    active: switching ? 'standby' : active,
    promotion: promo?.state,
    copyClaims,
    avoidLabels: obs.serviceLabelKeys,
    fences: fencesFor(lifecycle, promo?.fencing ?? rc.site.spec.promotion.fencing),
    epoch: standbyEpoch(rc.current.status ?? {}, liveEpoch(obs.standby)),
    keepPods: standbyCopiesUnkept(lifecycle),
    growth: promo?.growth,
  };
}

/** What converging did that the status of this reconcile must know (the cache does not show it yet). */
export interface ConvergeResult {
  /** The fence had drifted and was replaced with the exact one. */
  fenceReverted: boolean;
}

/**
 * The fence, exactly: a drifted one is replaced whole and an Event says so, each time. A fence
 * in the other shape the operator itself gives it (closed, or narrowed to the standby's pods
 * while the old primary follows it) is a step of the DR cycle, replaced without a warning.
 */
async function holdFence(rc: ReconcileContext, fence: INetworkPolicy, primary: Workload | undefined): Promise<boolean> {
  const name = fence.metadata?.name ?? '';
  try {
    const act = actuator(rc.deps, rc.site);
    const live = act.cached<INetworkPolicy>('NetworkPolicy', rc.site.metadata.namespace, name);
    const shapes = primary ? [buildFence(rc.site, primary), narrowedPrimaryFence(rc.site, primary)] : [];
    const ours = live !== undefined && shapes.some((f) => fenceDrift(f, live) === undefined);
    const drift = await keepFence(fence, act);
    if (!drift) return false;
    if (ours) {
      rc.log.info({ drift }, 'the fence NetworkPolicy changed shape for the DR cycle');
      return false;
    }
    rc.log.warn({ drift }, 'the fence NetworkPolicy was altered; replaced it with the exact fence');
    await rc.deps.events.record(rc.current, 'Warning', 'FenceReverted', `NetworkPolicy ${name} was altered (${drift}); replaced it with the exact fence that isolates the old primary`);
    return true;
  } catch (err) {
    rc.errors.push(`could not restore the fence NetworkPolicy ${name}: ${(err as Error).message}`);
    return false;
  }
}

async function holdTrafficService(rc: ReconcileContext, obs: Observed): Promise<void> {
  try {
    await holdTraffic(rc.site, obs, actuator(rc.deps, rc.site));
  } catch (err) {
    rc.errors.push(`could not keep the traffic Service during the promotion: ${(err as Error).message}`);
  }
}

/** What the site should own now; undefined without the primary workload (nothing can be built). */
export function desiredFor(
  rc: ReconcileContext,
  obs: Observed,
  facts: SiteFacts,
  engine: Engine,
  lifecycle: Lifecycle,
  active: Side,
  frozen: boolean,
): KubeObject[] | undefined {
  const ctx = buildContext(rc, obs, engine, lifecycle, active, facts.standbyClaims);
  if (!ctx) return undefined;
  const trafficName = names.traffic(rc.site.metadata.name, rc.site.spec);
  const built = frozen ? desiredObjects(ctx).filter((o) => (o.kind === 'Service' && o.metadata?.name === trafficName) || o.kind === 'NetworkPolicy') : desiredObjects(ctx);
  // While a failover holds (or a failback runs) what serves is released (promotion/release.ts).
  return lifecycle.promotion ? built.map(released) : built;
}

/**
 * Converges what the site owns. Without the primary workload nothing new can be built; what
 * exists is kept. `frozen` (see pinToPromotion): only the traffic Service and the fence are kept,
 * nothing is changed or removed.
 */
export async function convergeSite(
  rc: ReconcileContext,
  obs: Observed,
  facts: SiteFacts,
  engine: Engine,
  lifecycle: Lifecycle,
  active: Side,
  frozen: boolean,
): Promise<ConvergeResult> {
  const result: ConvergeResult = { fenceReverted: false };
  const promo = lifecycle.promotion;
  const running = inProgress(promo);
  // Held even without the primary workload (a promotion asked for after it was deleted).
  const hold = running && rc.site.spec.traffic.mode === 'operatorService' ? holdTrafficService(rc, obs) : undefined;
  const desired = desiredFor(rc, obs, facts, engine, lifecycle, active, frozen);
  if (!desired) {
    await hold;
    return result;
  }
  const trafficName = names.traffic(rc.site.metadata.name, rc.site.spec);
  const fenceName = names.fence(rc.site.metadata.name);
  const isTraffic = (o: KubeObject) => o.kind === 'Service' && o.metadata?.name === trafficName;
  const isFence = (o: KubeObject): o is INetworkPolicy => o.kind === 'NetworkPolicy' && o.metadata?.name === fenceName;
  const fence = desired.find(isFence);
  // While a promotion or a failback runs, only its steps move traffic: a transition recorded a
  // step late must never make this pass point clients back at the fenced side. During a
  // promotion the traffic Service is held (released, its selector untouched, re-created if
  // deleted) instead of applied.
  const stepsOwnTraffic = running || (lifecycle.mode === 'failback' && inProgress(lifecycle.failback));
  const rest = (stepsOwnTraffic ? desired.filter((o) => !isTraffic(o)) : desired).filter((o) => !isFence(o));
  const [, reverted] = await Promise.all([applyAll(rc, rest), fence ? holdFence(rc, fence, obs.primary) : false, hold]);
  result.fenceReverted = reverted;
  if (frozen) return result;
  // The traffic Service is what clients use: never removed because the primary Service is gone
  // (it is not built without it), it keeps its last ports and selector.
  await removeUnwanted(rc, desired, rc.site.spec.traffic.mode === 'operatorService' ? [`Service/${trafficName}`] : []);
  // After a failback, the copies the standby served on go only once its re-protection kept them.
  if (!promo && !standbyCopiesUnkept(lifecycle)) await pruneCopies(rc, obs, facts.runs, facts.mounted);
  await alignDataOwnership(rc, obs);
  return result;
}

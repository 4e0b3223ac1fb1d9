// The scratch objects of a drill: named <site>-drill-<id>..., labelled with role drill and the
// drill's id, owned by the site (deleting it removes them), selected by no Service (their pods
// carry only the drill's labels) and cut off by a NetworkPolicy but for the drill's own checks.
// Pure builders.
import type {
  V1Deployment,
  V1EnvVar,
  V1Job,
  V1PersistentVolumeClaim,
  V1PodTemplateSpec,
  V1StatefulSet,
} from '@kubernetes/client-node';
import type { INetworkPolicy, INetworkPolicyIngressRule } from 'kubernetes-models/networking.k8s.io/v1';
import type { StandbySite } from '../api/site.ts';
import { buildCopyClaim } from '../copies/claim.ts';
import { LABEL_DRILL, LABEL_DRILL_PART, names, ownedMeta, siteLabels, type OwnedMeta } from '../site/names.ts';
import { isStatefulSet, mountClaims, type PrimaryVolume } from '../site/workload.ts';
import type { VolumeSnapshot } from '../snapshot/types.ts';
import { buildJob } from '../tiers/jobs.ts';
import { standbyPodTemplate, type StandbySource } from '../tiers/standby-workload.ts';

/** scratch: the restored workload's pods; verify: the checks, the only pods that may reach them. */
export type DrillPart = 'scratch' | 'verify';

export function drillLabels(site: string, id: string, part?: DrillPart): Record<string, string> {
  return { ...siteLabels(site, 'drill'), [LABEL_DRILL]: id, ...(part ? { [LABEL_DRILL_PART]: part } : {}) };
}

/** Owned by the site as its controller: the garbage collector removes whatever cleanup missed. */
export function drillMeta(site: StandbySite, name: string, id: string): OwnedMeta {
  return ownedMeta(site, name, 'drill', { labels: { [LABEL_DRILL]: id } });
}

/** The names of one drill's objects (Job names stay within 63 characters: names.drill is at most 52). */
export function drillNames(site: string, id: string) {
  const base = names.drill(site, id);
  return {
    base,
    /** The scratch workload and its NetworkPolicy. */
    workload: base,
    policy: base,
    /** A drill snapshot and a scratch claim of one volume (different kinds, one name). */
    volume: (volume: string) => `${base}-${volume}`.slice(0, 253),
    copyJob: `${base}-copy`,
    restoreJob: `${base}-restore`,
    /** The engine's verification, then the user's (spec.drill.verify). */
    checkJob: `${base}-check`,
    verifyJob: `${base}-verify`,
  };
}

/** An ingress rule admitting pods with these labels. */
function allowFrom(labels: Record<string, string>): INetworkPolicyIngressRule {
  return { from: [{ podSelector: { matchLabels: labels } }] };
}

/** Denies all traffic to and from the scratch pods, except from the drill's own check Jobs. */
export function buildDrillPolicy(site: StandbySite, id: string): INetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: drillMeta(site, drillNames(site.metadata.name, id).policy, id),
    spec: {
      podSelector: { matchLabels: drillLabels(site.metadata.name, id, 'scratch') },
      policyTypes: ['Ingress', 'Egress'],
      // No egress rule: the scratch copy reaches nothing (not the primary, not the standby).
      ingress: [allowFrom(drillLabels(site.metadata.name, id, 'verify'))],
    },
  };
}

/** A point-in-time snapshot of one source claim (the hot standby's, or a warm copy's), for the drill's clone. */
export function buildDrillSnapshot(site: StandbySite, id: string, volume: string, sourceClaim: string, className: string | undefined): VolumeSnapshot {
  return {
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshot',
    metadata: drillMeta(site, drillNames(site.metadata.name, id).volume(volume), id),
    spec: { source: { persistentVolumeClaimName: sourceClaim }, ...(className ? { volumeSnapshotClassName: className } : {}) },
  };
}

/** A scratch claim of one primary volume: the primary's size, class and access modes; restored from a snapshot if given. */
export function buildScratchClaim(
  site: StandbySite,
  id: string,
  volume: PrimaryVolume,
  primaryClaim: V1PersistentVolumeClaim | undefined,
  fromSnapshot: string | undefined,
): V1PersistentVolumeClaim {
  const name = drillNames(site.metadata.name, id).volume(volume.volume);
  const like = buildCopyClaim({ site, name, run: id, volume, primaryClaim, fromSnapshot });
  return { ...like, metadata: drillMeta(site, name, id) };
}

/**
 * The scratch workload: what a promotion would start (the standby's pod template, adjusted by the
 * engine for a drill), one replica, on the scratch claims, with the drill's labels only.
 */
export function buildScratchWorkload(src: StandbySource, id: string, claims: Readonly<Record<string, string>>): V1StatefulSet | V1Deployment {
  const { engine, ...ctx } = src;
  const site = ctx.site;
  const ectx = { ...ctx, tier: site.spec.tier };
  const base = standbyPodTemplate(site.metadata.name, ctx.primary, ctx.primaryService);
  const adjusted = engine.drillTemplate ? engine.drillTemplate(ectx, base) : engine.standbyTemplate(ectx, base);
  const labels = drillLabels(site.metadata.name, id, 'scratch');
  const template = mountClaims({ ...adjusted, metadata: { ...adjusted.metadata, labels } }, claims);
  const name = drillNames(site.metadata.name, id).workload;
  const metadata = drillMeta(site, name, id);
  const selector = { matchLabels: labels };
  if (isStatefulSet(ctx.primary)) {
    return {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata,
      spec: { replicas: 1, serviceName: name, podManagementPolicy: 'Parallel', selector, template },
    };
  }
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata, spec: { replicas: 1, selector, template, strategy: { type: 'Recreate' } } };
}

export interface DrillEnvInput {
  site: StandbySite;
  id: string;
  /** The scratch pod's IP (verification Jobs). */
  host?: string | undefined;
  dataTime?: string | undefined;
}

/** What a drill's Jobs are told about it. */
export function drillEnv(i: DrillEnvInput): V1EnvVar[] {
  return [
    { name: 'DRILL_ID', value: i.id },
    { name: 'DRILL_SITE', value: i.site.metadata.name },
    { name: 'DRILL_TIER', value: i.site.spec.tier },
    { name: 'DRILL_HOST', value: i.host ?? '' },
    { name: 'DRILL_DATA_TIME', value: i.dataTime ?? '' },
  ];
}

function withEnv(template: V1PodTemplateSpec, env: readonly V1EnvVar[]): V1PodTemplateSpec {
  if (env.length === 0) return template;
  const names = new Set(env.map((e) => e.name));
  const containers = (template.spec?.containers ?? []).map((c) => ({ ...c, env: [...(c.env ?? []).filter((e) => !names.has(e.name)), ...env] }));
  return { ...template, spec: { ...template.spec!, containers } };
}

export interface DrillJobInput {
  name: string;
  id: string;
  /** verify: may reach the scratch pods through the drill's NetworkPolicy. */
  part?: DrillPart | undefined;
  template: V1PodTemplateSpec;
  /** Scratch claims mounted as the template's volumes of those names (copy and restore Jobs). */
  claims?: Readonly<Record<string, string>>;
  env: readonly V1EnvVar[];
  backoffLimit: number;
  activeDeadlineSeconds: number;
}

/** One of a drill's Jobs: copy, restore, check or verify. */
export function buildDrillJob(site: StandbySite, i: DrillJobInput): V1Job {
  const job = buildJob(site, {
    name: i.name,
    role: 'drill',
    template: withEnv(i.template, i.env),
    claims: i.claims ?? {},
    backoffLimit: i.backoffLimit,
    activeDeadlineSeconds: i.activeDeadlineSeconds,
  });
  const pod = job.spec!.template;
  return {
    ...job,
    metadata: { ...job.metadata, labels: { ...job.metadata?.labels, [LABEL_DRILL]: i.id } },
    spec: {
      ...job.spec!,
      template: { ...pod, metadata: { ...pod.metadata, labels: { ...pod.metadata?.labels, ...drillLabels(site.metadata.name, i.id, i.part) } } },
    },
  };
}

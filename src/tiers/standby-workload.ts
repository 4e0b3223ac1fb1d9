// The standby workload: a copy of the primary's pod template whose pods can
// never be mistaken for the primary's (the labels that the primary workload or
// its Service select on are replaced by the site's own).
import type { V1Deployment, V1PersistentVolumeClaim, V1Pod, V1PodTemplateSpec, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import type { StandbySite } from '../api/site.ts';
import type { Engine, EngineContext } from '../engines/engine.ts';
import { LABEL_EPOCH, names, ownedMeta, standbySelector } from '../site/names.ts';
import { isStatefulSet, matches, mountClaims, podTemplateOf, selectorOf, type Workload } from '../site/workload.ts';
import { withReducedResources } from './reduced.ts';

/** Label keys that would make a pod look like the primary's. */
export function primaryLabelKeys(primary: Workload, primaryService: V1Service | undefined): Set<string> {
  const sel = selectorOf(primary);
  return new Set([
    ...Object.keys(sel.matchLabels ?? {}),
    ...(sel.matchExpressions ?? []).map((e) => e.key),
    ...Object.keys(primaryService?.spec?.selector ?? {}),
  ]);
}

/**
 * The standby's pod template: the primary's, relabelled. Besides the keys that select the
 * primary, every key some Service of the namespace selects on (`avoid`) is dropped: a Service
 * selecting `role: writer` must never send writers to the standby.
 */
export function standbyPodTemplate(site: string, primary: Workload, primaryService: V1Service | undefined, avoid: ReadonlySet<string> = new Set()): V1PodTemplateSpec {
  const template = podTemplateOf(primary);
  const drop = primaryLabelKeys(primary, primaryService);
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(template.metadata?.labels ?? {})) if (!drop.has(k) && !avoid.has(k)) labels[k] = v;
  Object.assign(labels, standbySelector(site));
  const spec = structuredClone(template.spec ?? { containers: [] });
  // The node's network and ports are the primary's: a standby holding them could never run on
  // the primary's node (hot: Pending for good on a one-node pool). It serves on the pod network.
  if (spec.hostNetwork) {
    delete spec.hostNetwork;
    if (spec.dnsPolicy === 'ClusterFirstWithHostNet') spec.dnsPolicy = 'ClusterFirst';
  }
  for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) for (const port of c.ports ?? []) delete port.hostPort;
  return {
    metadata: { ...(template.metadata?.annotations ? { annotations: template.metadata.annotations } : {}), labels },
    spec,
  };
}

/** What of the primary's pod template binds it to its node and is left out of the standby's (above). */
export function hostBindings(primary: Workload): string[] {
  const spec = podTemplateOf(primary).spec;
  if (!spec) return [];
  const out: string[] = spec.hostNetwork ? ['hostNetwork'] : [];
  for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
    for (const port of c.ports ?? []) if (port.hostPort !== undefined) out.push(`hostPort ${port.hostPort} (container ${c.name})`);
  }
  return out;
}

/** Where the standby's data volumes come from. */
export type StandbyVolumes =
  /** Fresh volumes per pod from the primary's volumeClaimTemplates (hot StatefulSet). */
  | { kind: 'templates' }
  /** Existing PVCs by pod-template volume name (warm/cold copies, hot Deployment). */
  | { kind: 'claims'; claims: Record<string, string> };

export interface StandbyWorkloadInput {
  site: StandbySite;
  primary: Workload;
  template: V1PodTemplateSpec;
  replicas: number;
  volumes: StandbyVolumes;
}

/**
 * What the standby is built from: the site, the primary and the engine that adjusts its template;
 * `avoidLabels`: label keys Services of the namespace select on (the standby's pods carry none);
 * `epoch`: the epoch of the site's last failback, if any (its pods restarted then, as a standby of
 * the primary again; it changes at no other time, so a serving standby is never restarted).
 */
export type StandbySource = Omit<EngineContext, 'tier'> & {
  engine: Engine;
  avoidLabels?: ReadonlySet<string> | undefined;
  epoch?: number | undefined;
  /** The standby stands by at reduced capacity (spec.standby.resources; see tiers/reduced.ts). */
  reduced?: boolean | undefined;
};

/**
 * The standby workload of a site as its tier wants it: the primary's pod template, relabelled,
 * adjusted by the engine, on the given volumes. One builder for the tiers and for a promotion.
 */
export function standbyFor(src: StandbySource, replicas: number, volumes: StandbyVolumes): V1StatefulSet | V1Deployment {
  const { engine, avoidLabels, epoch, reduced, ...ctx } = src;
  const engineAdjusted = engine.standbyTemplate(
    { ...ctx, tier: ctx.site.spec.tier },
    standbyPodTemplate(ctx.site.metadata.name, ctx.primary, ctx.primaryService, avoidLabels),
  );
  // While it stands by, a smaller standby (after the engine's adjustments, so that they cannot undo it).
  const adjusted = reduced ? withReducedResources(engineAdjusted, ctx.site.spec.standby?.resources) : engineAdjusted;
  // Only after a failback: a site never promoted keeps the template (and pods) it had.
  const template = epoch ? { ...adjusted, metadata: { ...adjusted.metadata, labels: { ...adjusted.metadata?.labels, [LABEL_EPOCH]: String(epoch) } } } : adjusted;
  return buildStandbyWorkload({ site: ctx.site, primary: ctx.primary, template, replicas, volumes });
}

export function buildStandbyWorkload(input: StandbyWorkloadInput): V1StatefulSet | V1Deployment {
  const { site, primary, replicas, volumes } = input;
  const name = names.standby(site.metadata.name);
  const metadata = ownedMeta(site, name, 'standby');
  const selector = { matchLabels: standbySelector(site.metadata.name) };
  const template = volumes.kind === 'claims' ? mountClaims(input.template, volumes.claims) : input.template;
  if (isStatefulSet(primary)) {
    const retain = site.spec.deletionPolicy.standbyVolumes;
    return {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata,
      spec: {
        replicas,
        serviceName: name,
        podManagementPolicy: 'Parallel',
        selector,
        template,
        ...(volumes.kind === 'templates'
          ? {
              volumeClaimTemplates: (primary.spec?.volumeClaimTemplates ?? []).map(
                (t): V1PersistentVolumeClaim => ({
                  apiVersion: 'v1',
                  kind: 'PersistentVolumeClaim',
                  metadata: { name: t.metadata?.name ?? '' },
                  spec: {
                    accessModes: t.spec?.accessModes ?? ['ReadWriteOnce'],
                    resources: t.spec?.resources ?? {},
                    ...(t.spec?.storageClassName ? { storageClassName: t.spec.storageClassName } : {}),
                    ...(t.spec?.volumeMode ? { volumeMode: t.spec.volumeMode } : {}),
                  },
                }),
              ),
              persistentVolumeClaimRetentionPolicy: { whenDeleted: retain, whenScaled: 'Retain' },
            }
          : {}),
      },
    };
  }
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata,
    spec: {
      replicas,
      selector,
      template,
      // Two pods must never hold the same ReadWriteOnce copy.
      strategy: { type: 'Recreate' },
    },
  };
}

/** A Service that selects pods of both sides, and the label keys it selects on. */
export interface BothSides {
  service: string;
  keys: string[];
}

/**
 * Services that select a primary pod and a standby pod at once: their clients may reach the
 * standby. The standby drops those keys (standbyPodTemplate); this reports the pods that still
 * carry them (made before the Service, until they are replaced).
 */
export function servicesSelectingBothSides(services: readonly V1Service[], primaryPods: readonly V1Pod[], standbyPods: readonly V1Pod[]): BothSides[] {
  const out: BothSides[] = [];
  for (const svc of services) {
    const selector = svc.spec?.selector;
    if (!selector || Object.keys(selector).length === 0) continue;
    const selects = (p: V1Pod) => matches({ matchLabels: selector }, p.metadata?.labels);
    if (standbyPods.some(selects) && primaryPods.some(selects)) out.push({ service: svc.metadata?.name ?? '', keys: Object.keys(selector).sort() });
  }
  return out;
}

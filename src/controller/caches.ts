// The informers the controller reads from, with the indexes that map any
// change back to the sites it concerns.
import type {
  V1CronJob,
  V1Deployment,
  V1Job,
  V1NetworkPolicy,
  V1PersistentVolumeClaim,
  V1Pod,
  V1ResourceRequirements,
  V1Role,
  V1RoleBinding,
  V1Service,
  V1ServiceAccount,
  V1StatefulSet,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { StandbySiteObject } from '../api/site.ts';
import { SITE_RESOURCE } from '../api/resource.ts';
import type { KubeClient } from '../k8s/client.ts';
import { Informer } from '../k8s/informer.ts';
import { R } from '../k8s/resources.ts';
import type { KubeObject } from '../k8s/types.ts';
import { ANNOTATION_RELEASED, ANNOTATION_SITE_UID, LABEL_MANAGED_BY, LABEL_SITE, MANAGER } from '../site/names.ts';
import type { VolumeSnapshot } from '../snapshot/types.ts';

export interface Caches {
  sites: Informer<StandbySiteObject>;
  statefulSets: Informer<V1StatefulSet>;
  deployments: Informer<V1Deployment>;
  pods: Informer<V1Pod>;
  services: Informer<V1Service>;
  pvcs: Informer<V1PersistentVolumeClaim>;
  cronJobs: Informer<V1CronJob>;
  jobs: Informer<V1Job>;
  snapshots: Informer<VolumeSnapshot>;
  networkPolicies: Informer<V1NetworkPolicy>;
  serviceAccounts: Informer<V1ServiceAccount>;
  roles: Informer<V1Role>;
  roleBindings: Informer<V1RoleBinding>;
}

export const OWNED = `${LABEL_MANAGED_BY}=${MANAGER}`;

/** The site an owned object belongs to, as a queue key. */
export function ownerSiteKey(o: KubeObject): string | undefined {
  const site = o.metadata?.labels?.[LABEL_SITE];
  return site && o.metadata?.namespace ? `${o.metadata.namespace}/${site}` : undefined;
}

function pick(m: Record<string, string> | undefined, keys: readonly string[]): Record<string, string> | undefined {
  if (!m) return undefined;
  const out: Record<string, string> = {};
  for (const k of keys) if (m[k] !== undefined) out[k] = m[k];
  return Object.keys(out).length ? out : undefined;
}

/**
 * Objects of kinds the operator creates by name, that it did not make, are kept as stubs: enough
 * to know that the name is taken and by whom (site/ownership.ts), nothing else.
 */
function stubUnlessManaged<T extends KubeObject>(o: T): T {
  if (o.metadata?.labels?.[LABEL_MANAGED_BY] === MANAGER) return o;
  const m = o.metadata ?? {};
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      labels: pick(m.labels, [LABEL_MANAGED_BY, LABEL_SITE]),
      annotations: pick(m.annotations, [ANNOTATION_SITE_UID, ANNOTATION_RELEASED]),
      ownerReferences: m.ownerReferences,
    },
  } as T;
}

/** Only a container's name and resources (what the Growing step compares; promotion/grow.ts). */
const sized = <T extends { name: string; resources?: V1ResourceRequirements | undefined }>(cs: T[] | undefined) =>
  cs?.map((c) => ({ name: c.name, ...(c.resources ? { resources: c.resources } : {}) }));

/** The pod conditions the controller reads: readiness, and the kubelet's word on an in-place resize. */
const KEPT_CONDITIONS = new Set(['Ready', 'PodResizePending', 'PodResizeInProgress']);

/**
 * Pods are kept lean: the controller reads only identity, owners, labels, readiness and, for the
 * in-place growth of a promoted standby, the containers' resources asked (spec) and applied
 * (containerStatuses[].resources) and the resize conditions.
 */
function leanPod(p: V1Pod): V1Pod {
  const conditions = (p.status?.conditions ?? []).filter((c) => KEPT_CONDITIONS.has(c.type));
  return {
    apiVersion: p.apiVersion,
    kind: p.kind,
    metadata: {
      name: p.metadata?.name,
      namespace: p.metadata?.namespace,
      uid: p.metadata?.uid,
      resourceVersion: p.metadata?.resourceVersion,
      labels: p.metadata?.labels,
      ownerReferences: p.metadata?.ownerReferences,
      deletionTimestamp: p.metadata?.deletionTimestamp,
    },
    ...(p.spec ? { spec: { containers: sized(p.spec.containers) ?? [], ...(p.spec.initContainers ? { initContainers: sized(p.spec.initContainers) } : {}) } } : {}),
    status: {
      phase: p.status?.phase,
      podIP: p.status?.podIP,
      conditions,
      ...(p.status?.containerStatuses ? { containerStatuses: p.status.containerStatuses.map((c) => ({ name: c.name, ready: c.ready, restartCount: c.restartCount, image: c.image, imageID: c.imageID, ...(c.resources ? { resources: c.resources } : {}) })) } : {}),
      ...(p.status?.initContainerStatuses ? { initContainerStatuses: p.status.initContainerStatuses.map((c) => ({ name: c.name, ready: c.ready, restartCount: c.restartCount, image: c.image, imageID: c.imageID, ...(c.resources ? { resources: c.resources } : {}) })) } : {}),
    },
  };
}

export function createCaches(
  client: KubeClient,
  log: Logger,
  namespaces: readonly string[] | undefined,
  onError?: (resource: string, kind: 'gone' | 'error') => void,
): Caches {
  const make = <T extends KubeObject>(
    resource: (typeof R)[keyof typeof R],
    extra: { labelSelector?: string; transform?: (o: T) => T; optional?: boolean } = {},
  ) =>
    new Informer<T>(client, { resource, namespaces, log, ...(onError ? { onError } : {}), ...extra });
  const caches: Caches = {
    sites: make(SITE_RESOURCE),
    statefulSets: make(R.statefulSet),
    deployments: make(R.deployment),
    pods: make<V1Pod>(R.pod, { transform: leanPod }),
    services: make(R.service),
    pvcs: make(R.pvc),
    // Kinds the site applies by name are watched whole (others' objects as stubs), so a name
    // taken by someone else is seen before the first apply. Jobs are created, never applied: a
    // taken name shows as AlreadyExists and is checked then.
    cronJobs: make(R.cronJob, { transform: stubUnlessManaged }),
    jobs: make(R.job, { labelSelector: OWNED }),
    snapshots: make(R.volumeSnapshot, { labelSelector: OWNED, optional: true }),
    networkPolicies: make(R.networkPolicy, { transform: stubUnlessManaged }),
    serviceAccounts: make(R.serviceAccount, { transform: stubUnlessManaged }),
    roles: make(R.role, { transform: stubUnlessManaged }),
    roleBindings: make(R.roleBinding, { transform: stubUnlessManaged }),
  };
  for (const inf of Object.values(caches) as Informer<KubeObject>[]) {
    inf.addIndex('site', (o) => {
      const k = ownerSiteKey(o);
      return k ? [k] : [];
    });
  }
  caches.sites.addIndex('primary', (s) => {
    const w = (s.spec as { primary?: { workload?: { kind?: string; name?: string } } } | undefined)?.primary?.workload;
    return w?.kind && w.name ? [`${s.metadata?.namespace ?? ''}/${w.kind}/${w.name}`] : [];
  });
  caches.sites.addIndex('primaryService', (s) => {
    const svc = (s.spec as { primary?: { service?: string } } | undefined)?.primary?.service;
    return svc ? [`${s.metadata?.namespace ?? ''}/${svc}`] : [];
  });
  return caches;
}

export function allInformers(c: Caches): Informer<KubeObject>[] {
  return Object.values(c) as Informer<KubeObject>[];
}

/** The informer that caches objects of a kind: the one table from kind to cache. */
export function informerOfKind(c: Caches, kind: string): Informer<KubeObject> | undefined {
  const byKind: Record<string, Informer<KubeObject> | undefined> = {
    StatefulSet: c.statefulSets,
    Deployment: c.deployments,
    Pod: c.pods,
    Service: c.services,
    PersistentVolumeClaim: c.pvcs,
    CronJob: c.cronJobs,
    Job: c.jobs,
    VolumeSnapshot: c.snapshots,
    NetworkPolicy: c.networkPolicies,
    ServiceAccount: c.serviceAccounts,
    Role: c.roles,
    RoleBinding: c.roleBindings,
    // Informer<T> is invariant in T (handlers take T); each holds objects of exactly its kind.
  } as unknown as Record<string, Informer<KubeObject> | undefined>;
  return byKind[kind];
}

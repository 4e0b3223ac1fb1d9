// The informers the controller reads from, with the indexes that map any
// change back to the sites it concerns.
import type {
  V1CronJob,
  V1Deployment,
  V1Job,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Service,
  V1StatefulSet,
} from '@kubernetes/client-node';
import type { IRole, IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import type { IServiceAccount } from 'kubernetes-models/v1';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { Logger } from 'pino';
import type { StandbySiteObject } from '../api/site.ts';
import { SITE_RESOURCE } from '../api/resource.ts';
import type { KubeClient } from '../k8s/client.ts';
import { Informer } from '../k8s/informer.ts';
import { R } from '../k8s/resources.ts';
import type { KubeObject } from '../k8s/types.ts';
import { LABEL_MANAGED_BY, LABEL_SITE, MANAGER } from '../site/names.ts';
import type { VolumeSnapshot } from '../snapshot/types.ts';
import {
  leanClaim,
  leanCronJob,
  leanJob,
  leanNetworkPolicy,
  leanPod,
  leanRole,
  leanRoleBinding,
  leanService,
  leanServiceAccount,
  leanSite,
  leanSnapshot,
  leanWorkload,
} from './cache-transforms.ts';

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
  networkPolicies: Informer<INetworkPolicy>;
  serviceAccounts: Informer<IServiceAccount>;
  roles: Informer<IRole>;
  roleBindings: Informer<IRoleBinding>;
}

export const OWNED = `${LABEL_MANAGED_BY}=${MANAGER}`;

/** The site an owned object belongs to, as a queue key. */
export function ownerSiteKey(o: KubeObject): string | undefined {
  const site = o.metadata?.labels?.[LABEL_SITE];
  return site && o.metadata?.namespace ? `${o.metadata.namespace}/${site}` : undefined;
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
    // Each cache keeps only what the controller reads (cache-transforms.ts).
    sites: make(SITE_RESOURCE, { transform: leanSite }),
    statefulSets: make<V1StatefulSet>(R.statefulSet, { transform: leanWorkload }),
    deployments: make<V1Deployment>(R.deployment, { transform: leanWorkload }),
    pods: make(R.pod, { transform: leanPod }),
    services: make(R.service, { transform: leanService }),
    pvcs: make(R.pvc, { transform: leanClaim }),
    // Kinds the site applies by name are watched whole (others' objects as stubs), so a name
    // taken by someone else is seen before the first apply. Jobs are created, never applied: a
    // taken name shows as AlreadyExists and is checked then.
    cronJobs: make(R.cronJob, { transform: leanCronJob }),
    jobs: make(R.job, { labelSelector: OWNED, transform: leanJob }),
    snapshots: make(R.volumeSnapshot, { labelSelector: OWNED, optional: true, transform: leanSnapshot }),
    networkPolicies: make(R.networkPolicy, { transform: leanNetworkPolicy }),
    serviceAccounts: make(R.serviceAccount, { transform: leanServiceAccount }),
    roles: make(R.role, { transform: leanRole }),
    roleBindings: make(R.roleBinding, { transform: leanRoleBinding }),
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

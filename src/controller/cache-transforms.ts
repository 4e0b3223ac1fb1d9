// What the caches keep of each object: only what the controller reads (controller-runtime's cache
// TransformFunc). Every field kept here is read somewhere; every field dropped is read nowhere:
//
// - metadata: identity (name, namespace, uid, resourceVersion, timestamps), the labels and
//   annotations the ownership rules read (site/ownership.ts); a pod's labels whole (selectors);
//   owner references whole on the operator's objects (needsApply compares them, alignDataOwnership
//   writes them back) and finalizers (a replace, fencing/fence.ts, must not drop them), the fields
//   ownershipOf and the manager read on others; a claim's labels whole (a failback re-creates the
//   primary's claim with them, failback/restore.ts).
// - the operator's own objects keep every field its builders set, so that needsApply
//   (k8s/apply.ts) finds the desired fields in the cached object and a converged site costs no
//   write; and their annotations whole (switchTraffic writes the traffic Service's back).
// - status only where it is read: a pod's Ready and resize conditions, IP (a drill's checks reach
//   its scratch pod there) and containers' applied resources (in-place growth), a claim's phase (a copy is complete only Bound) and capacity, a Job's
//   outcome, a snapshot's readiness and restore size (cost), the operator's workloads' rollout
//   (the Growing step), and the site's own (written back as a patch against it).
//
// The result is compacted (k8s/compact.ts): fresh plain objects, every string shared.
import type {
  V1ContainerStatus,
  V1CronJob,
  V1Deployment,
  V1Job,
  V1OwnerReference,
  V1PersistentVolumeClaim,
  V1Pod,
  V1ResourceRequirements,
  V1Service,
  V1StatefulSet,
} from '@kubernetes/client-node';
import type { IRole, IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import type { IServiceAccount } from 'kubernetes-models/v1';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { StandbySiteObject } from '../api/site.ts';
import { compact } from '../k8s/compact.ts';
import type { KubeMeta, KubeObject } from '../k8s/types.ts';
import { ANNOTATION_RELEASED, ANNOTATION_SITE_UID, LABEL_MANAGED_BY, LABEL_SITE, MANAGER } from '../site/names.ts';
import type { Workload } from '../site/workload.ts';
import type { VolumeSnapshot } from '../snapshot/types.ts';

/** The operator's labels and annotations all start so (site/names.ts), but for the managed-by label. */
const OURS = 'standby.dev/';

/** Made by the operator (ownedMeta labels everything it creates so). */
export function isManaged(o: KubeObject): boolean {
  return o.metadata?.labels?.[LABEL_MANAGED_BY] === MANAGER;
}

function pick(m: Record<string, string> | undefined, keys: readonly string[]): Record<string, string> | undefined {
  if (!m) return undefined;
  const out: Record<string, string> = {};
  for (const k of keys) if (m[k] !== undefined) out[k] = m[k];
  return Object.keys(out).length ? out : undefined;
}

/** The operator's own keys of a label or annotation map. */
function operatorKeys(m: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!m) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) if (k.startsWith(OURS) || k === LABEL_MANAGED_BY) out[k] = v;
  return Object.keys(out).length ? out : undefined;
}

/** What ownershipOf and the manager read of another party's owner reference. */
function ownerRefs(refs: V1OwnerReference[] | undefined): V1OwnerReference[] | undefined {
  return refs?.map((r) => ({ kind: r.kind, name: r.name, uid: r.uid, ...(r.controller ? { controller: true } : {}) }) as V1OwnerReference);
}

interface MetaOptions {
  /** Every label (a claim's: a failback re-creates the primary's claim with them). Else the operator's only. */
  allLabels?: boolean;
  /** metadata.generation (sites: observedGeneration). */
  generation?: boolean;
}

/**
 * The metadata kept: the operator's objects keep their labels, annotations and owner references
 * whole (what it wrote, and what switchTraffic and alignDataOwnership write back); others keep
 * what ownership and the manager read.
 */
export function leanMeta<M extends KubeMeta>(o: KubeObject & { metadata?: M | undefined }, opts: MetaOptions = {}): M {
  const m: KubeMeta = o.metadata ?? {};
  const managed = isManaged(o);
  // A subset of o's own metadata, so of its type M too: the timestamps stay what M says they are.
  return {
    name: m.name,
    namespace: m.namespace,
    uid: m.uid,
    resourceVersion: m.resourceVersion,
    ...(opts.generation ? { generation: m.generation } : {}),
    creationTimestamp: m.creationTimestamp,
    deletionTimestamp: m.deletionTimestamp,
    labels: opts.allLabels || managed ? m.labels : operatorKeys(m.labels),
    annotations: managed ? m.annotations : operatorKeys(m.annotations),
    ownerReferences: managed ? m.ownerReferences : ownerRefs(m.ownerReferences),
    ...(managed && m.finalizers?.length ? { finalizers: m.finalizers } : {}),
  } as M;
}

function lean<T extends KubeObject>(o: T, rest: Omit<T, 'apiVersion' | 'kind' | 'metadata'>, opts?: MetaOptions): T {
  return compact({ apiVersion: o.apiVersion, kind: o.kind, metadata: leanMeta(o, opts), ...rest } as T);
}

/**
 * Objects of kinds the operator creates by name, that it did not make, are kept as stubs: enough
 * to know that the name is taken and by whom (site/ownership.ts), nothing else.
 */
export function stubUnlessManaged<T extends KubeObject>(o: T, ownedTransform: (o: T) => T = (x) => x): T {
  if (isManaged(o)) return ownedTransform(o);
  const m = o.metadata ?? {};
  return compact({
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
  } as T);
}

/** A StandbySite: spec and status whole (validated, and the status patched against), metadata lean. */
export function leanSite(s: StandbySiteObject): StandbySiteObject {
  return compact({
    apiVersion: s.apiVersion,
    kind: s.kind,
    // Finalizers too: the site's own (site-guard-cleanup.ts) is added and removed by precondition.
    metadata: { ...leanMeta(s, { generation: true }), labels: s.metadata?.labels, ...(s.metadata?.finalizers?.length ? { finalizers: s.metadata.finalizers } : {}) },
    spec: s.spec,
    status: s.status,
  });
}

/**
 * A StatefulSet or Deployment: the primary's pod template (copied into the standby), selector,
 * replicas and claim templates; the standby's every field its builder sets, its generation and
 * the rollout its controller reports (promotion/grow.ts: observedGeneration, a StatefulSet's
 * updateRevision, a Deployment's updatedReplicas). No status of others' workloads.
 */
export function leanWorkload<T extends Workload>(w: T): T {
  const spec = (w.spec ?? {}) as Record<string, unknown> & NonNullable<V1StatefulSet['spec'] & V1Deployment['spec']>;
  const claimTemplates = spec.volumeClaimTemplates?.map((t) => ({
    ...(t.apiVersion ? { apiVersion: t.apiVersion } : {}),
    ...(t.kind ? { kind: t.kind } : {}),
    metadata: { name: t.metadata?.name },
    spec: {
      accessModes: t.spec?.accessModes,
      resources: t.spec?.resources,
      storageClassName: t.spec?.storageClassName,
      volumeMode: t.spec?.volumeMode,
    },
  }));
  const managed = isManaged(w);
  const st = (w.status ?? {}) as { observedGeneration?: number; updateRevision?: string; updatedReplicas?: number };
  const rollout = managed
    ? {
        status: {
          observedGeneration: st.observedGeneration,
          ...(w.kind === 'StatefulSet' ? { updateRevision: st.updateRevision } : { updatedReplicas: st.updatedReplicas }),
        },
      }
    : {};
  const kept = managed
    ? {
        replicas: spec.replicas,
        selector: spec.selector,
        template: spec.template,
        serviceName: spec.serviceName,
        podManagementPolicy: spec.podManagementPolicy,
        volumeClaimTemplates: claimTemplates,
        persistentVolumeClaimRetentionPolicy: spec.persistentVolumeClaimRetentionPolicy,
        strategy: spec.strategy,
      }
    : { replicas: spec.replicas, selector: spec.selector, template: spec.template, volumeClaimTemplates: claimTemplates };
  return lean(w, { spec: kept, ...rollout } as Omit<T, 'apiVersion' | 'kind' | 'metadata'>, { generation: managed });
}

/** Only a container's name and resources (what the Growing step compares; promotion/grow.ts). */
const sized = <T extends { name: string; resources?: V1ResourceRequirements | undefined }>(cs: T[] | undefined) =>
  cs?.map((c) => ({ name: c.name, ...(c.resources ? { resources: c.resources } : {}) }));

/** The pod conditions the controller reads: readiness, and the kubelet's word on an in-place resize. */
const KEPT_CONDITIONS = new Set(['Ready', 'PodResizePending', 'PodResizeInProgress']);

/**
 * A pod: identity (the uid too: an in-place resize is guarded by it), labels, the operator's
 * annotations, owners, its Ready and resize conditions and its IP (what readiness, ownership, the
 * manager and a drill's checks, controller/drill-steps.ts, read), and for the in-place growth of a
 * promoted standby (promotion/grow.ts) its containers' resources asked (spec) and applied
 * (containerStatuses[].resources).
 */
export function leanPod(p: V1Pod): V1Pod {
  const conditions = (p.status?.conditions ?? [])
    .filter((c) => KEPT_CONDITIONS.has(c.type))
    .map((c) => ({ type: c.type, status: c.status, ...(c.reason ? { reason: c.reason } : {}), ...(c.message ? { message: c.message } : {}), lastTransitionTime: c.lastTransitionTime }));
  const statuses = (cs: V1ContainerStatus[] | undefined) => cs?.map((c) => ({ name: c.name, ready: c.ready, restartCount: c.restartCount, image: c.image, imageID: c.imageID, ...(c.resources ? { resources: c.resources } : {}) }));
  const m = p.metadata ?? {};
  return compact({
    apiVersion: p.apiVersion,
    kind: p.kind,
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      labels: m.labels,
      // Pods are never written, but ownership reads the same marks on every kind.
      annotations: operatorKeys(m.annotations),
      ownerReferences: ownerRefs(m.ownerReferences),
      deletionTimestamp: m.deletionTimestamp,
    },
    ...(p.spec ? { spec: { containers: sized(p.spec.containers) ?? [], ...(p.spec.initContainers ? { initContainers: sized(p.spec.initContainers) } : {}) } } : {}),
    status: {
      ...(p.status?.phase ? { phase: p.status.phase } : {}),
      ...(p.status?.podIP ? { podIP: p.status.podIP } : {}),
      conditions,
      ...(p.status?.containerStatuses ? { containerStatuses: statuses(p.status.containerStatuses) } : {}),
      ...(p.status?.initContainerStatuses ? { initContainerStatuses: statuses(p.status.initContainerStatuses) } : {}),
    },
  });
}

/** A Service: selector and ports (the primary's are copied); the operator's also its type and clusterIP (None for a headless one). */
export function leanService(s: V1Service): V1Service {
  const spec = s.spec ?? {};
  const kept = isManaged(s)
    ? { type: spec.type, clusterIP: spec.clusterIP, selector: spec.selector, ports: spec.ports, publishNotReadyAddresses: spec.publishNotReadyAddresses }
    : { selector: spec.selector, ports: spec.ports };
  return lean(s, { spec: kept });
}

/**
 * A claim: what a copy of it needs (size, class, access and volume modes), its labels, its phase
 * (copies/inventory.ts: a copy is complete only Bound; failback/restore.ts) and capacity (cost).
 */
export function leanClaim(c: V1PersistentVolumeClaim): V1PersistentVolumeClaim {
  const spec = c.spec ?? {};
  const storage = c.status?.capacity?.storage;
  const phase = c.status?.phase;
  return lean(
    c,
    {
    spec: {
      accessModes: spec.accessModes,
      resources: spec.resources,
      storageClassName: spec.storageClassName,
      volumeMode: spec.volumeMode,
      dataSource: spec.dataSource,
    },
    ...(storage || phase ? { status: { ...(phase ? { phase } : {}), ...(storage ? { capacity: { storage } } : {}) } } : {}),
    },
    { allLabels: true },
  );
}

/** A copy Job: its outcome (k8s/jobs.ts reads the conditions and times). Jobs are created, never applied. */
export function leanJob(j: V1Job): V1Job {
  const st = j.status ?? {};
  return lean(j, {
    status: {
      startTime: st.startTime,
      completionTime: st.completionTime,
      conditions: st.conditions?.map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message, lastTransitionTime: c.lastTransitionTime })),
    },
  });
}

/** A snapshot: readiness, time and error (snapshot/sets.ts), restore size (cost/site-cost.ts). */
export function leanSnapshot(s: VolumeSnapshot): VolumeSnapshot {
  const st = s.status ?? {};
  return lean(s, {
    status: {
      readyToUse: st.readyToUse,
      creationTime: st.creationTime,
      ...(st.restoreSize ? { restoreSize: st.restoreSize } : {}),
      ...(st.error?.message ? { error: { message: st.error.message } } : {}),
    },
  });
}

/** The operator's CronJob: the spec its builder sets (buildCronJob). */
export const leanCronJob = (c: V1CronJob): V1CronJob => stubUnlessManaged(c, (o) => lean(o, { spec: o.spec }));
/** The operator's fence: its spec (buildFence). */
export const leanNetworkPolicy = (n: INetworkPolicy): INetworkPolicy => stubUnlessManaged(n, (o) => lean(o, { spec: o.spec }));
/** The copier's ServiceAccount (buildCopierIdentity). */
export const leanServiceAccount = (a: IServiceAccount): IServiceAccount =>
  stubUnlessManaged(a, (o) => lean(o, { automountServiceAccountToken: o.automountServiceAccountToken, imagePullSecrets: o.imagePullSecrets }));
/** The copier's Role. */
export const leanRole = (r: IRole): IRole => stubUnlessManaged(r, (o) => lean(o, { rules: o.rules }));
/** The copier's RoleBinding. */
export const leanRoleBinding = (b: IRoleBinding): IRoleBinding => stubUnlessManaged(b, (o) => lean(o, { roleRef: o.roleRef, subjects: o.subjects }));

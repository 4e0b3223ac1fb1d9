// What each cache transform keeps, and that it keeps every field a code path reads: the builders'
// fields on the operator's own objects (needsApply finds them, so a converged site costs no
// write), the ownership fields on everyone's (ownershipOf decides the same on the cached copy as
// on the stored object), and what the builders, observe and the manager read of the primary's.
import type { V1Deployment, V1Job, V1ObjectMeta, V1PersistentVolumeClaim, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import { beforeAll, describe, expect, test } from 'vitest';
import { validateSpec, type StandbySite, type StandbySiteObject } from '../../../src/api/site.ts';
import { buildCopyClaim } from '../../../src/copies/claim.ts';
import { copyRuns } from '../../../src/copies/inventory.ts';
import { siteCost, storageNow } from '../../../src/cost/site-cost.ts';
import { drillEnv } from '../../../src/drill/objects.ts';
import { shapeOf } from '../../../src/failback/restore.ts';
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
} from '../../../src/controller/cache-transforms.ts';
import { ownerSiteKey } from '../../../src/controller/caches.ts';
import { registerBuiltinEngines } from '../../../src/engines/builtin.ts';
import { engineFor } from '../../../src/engines/registry.ts';
import { fenceFor } from '../../../src/fencing/fence.ts';
import { needsApply, stamped } from '../../../src/k8s/apply.ts';
import { jobOutcome } from '../../../src/k8s/jobs.ts';
import type { KubeObject } from '../../../src/k8s/types.ts';
import { assessPrimary } from '../../../src/promotion/detect.ts';
import { growthPlan } from '../../../src/promotion/grow.ts';
import { released } from '../../../src/promotion/release.ts';
import {
  ANNOTATION_COMPLETE,
  ANNOTATION_DATA_TIME,
  ANNOTATION_PROMOTE,
  ANNOTATION_RELEASED,
  ANNOTATION_SITE_UID,
  LABEL_MANAGED_BY,
  LABEL_ROLE,
  LABEL_SITE,
  MANAGER,
  names,
} from '../../../src/site/names.ts';
import { ownershipOf } from '../../../src/site/ownership.ts';
import { isPodReady, primaryVolumes, readyTransition, selectorOf, type Workload } from '../../../src/site/workload.ts';
import { snapshotSets } from '../../../src/snapshot/sets.ts';
import { buildSnapshot } from '../../../src/snapshot/take.ts';
import type { VolumeSnapshot } from '../../../src/snapshot/types.ts';
import type { BuildContext } from '../../../src/tiers/context.ts';
import { desiredObjects } from '../../../src/tiers/desired.ts';
import { buildJob } from '../../../src/tiers/jobs.ts';
import { asKubernetesStoresIt, pod, primaryClaim, primaryPod, primaryService, primaryStatefulSet, site as siteObject } from './support/objects.ts';
import { NS } from './support/world.ts';

type Obj = KubeObject & Record<string, unknown>;

/** The transform caches.ts gives each kind. */
const TRANSFORM: Record<string, (o: never) => KubeObject> = {
  StatefulSet: leanWorkload,
  Deployment: leanWorkload,
  Pod: leanPod,
  Service: leanService,
  PersistentVolumeClaim: leanClaim,
  CronJob: leanCronJob,
  Job: leanJob,
  VolumeSnapshot: leanSnapshot,
  NetworkPolicy: leanNetworkPolicy,
  ServiceAccount: leanServiceAccount,
  Role: leanRole,
  RoleBinding: leanRoleBinding,
};
const cached = <T extends KubeObject>(o: T): T => (TRANSFORM[o.kind ?? ''] as (o: T) => T)(o);

const PLURAL: Record<string, string> = {
  StatefulSet: 'statefulsets',
  Deployment: 'deployments',
  Service: 'services',
  PersistentVolumeClaim: 'persistentvolumeclaims',
  CronJob: 'cronjobs',
  NetworkPolicy: 'networkpolicies',
  ServiceAccount: 'serviceaccounts',
};

let rv = 1000;
/** The object as the API server returns it: server-set metadata, defaults, status, others' annotations. */
function stored<T extends KubeObject>(o: T): T {
  const out = structuredClone(o) as T & Obj;
  out.metadata = {
    namespace: NS,
    ...out.metadata,
    uid: out.metadata?.uid ?? `uid-${out.kind ?? ''}-${out.metadata?.name ?? ''}`,
    resourceVersion: String(++rv),
    generation: 1,
    creationTimestamp: '2026-03-01T10:00:00Z' as unknown as Date,
  };
  asKubernetesStoresIt(PLURAL[o.kind ?? ''] ?? '', out);
  return out;
}

function validSite(spec: Record<string, unknown>): StandbySite {
  const obj = siteObject('orders', spec);
  const v = validateSpec(obj.spec, 'orders');
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return { metadata: { name: 'orders', namespace: NS, uid: 'site-uid-1', generation: 1 }, spec: v.spec, status: {} };
}

const primaryDeployment = (): V1Deployment => {
  const sts = primaryStatefulSet();
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'db', namespace: NS, labels: { app: 'db' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'db' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['cache'] }] },
      template: {
        ...sts.spec!.template,
        spec: { ...sts.spec!.template.spec!, volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data-db-0' } }] },
      },
    },
  };
};

interface Variant {
  name: string;
  spec: Record<string, unknown>;
  primary: () => Workload;
  copyClaims?: Record<string, string>;
  promotion?: BuildContext['promotion'];
}

const PG = { type: 'postgresql', postgresql: { replicationSecret: 'db-repl', container: 'main' } };
const VARIANTS: Variant[] = [
  { name: 'hot StatefulSet', spec: { tier: 'hot' }, primary: primaryStatefulSet },
  { name: 'hot StatefulSet, PostgreSQL engine (headless standby Service)', spec: { tier: 'hot', engine: PG }, primary: primaryStatefulSet },
  { name: 'hot Deployment (copy claims, Recreate)', spec: { tier: 'hot' }, primary: primaryDeployment },
  { name: 'warm on a copy (CronJob, copier identity)', spec: { tier: 'warm', warm: { schedule: '0 3 * * *' } }, primary: primaryStatefulSet, copyClaims: { data: 'orders-data-run-a' } },
  { name: 'warm Deployment', spec: { tier: 'warm', warm: { schedule: '0 3 * * *' } }, primary: primaryDeployment },
  { name: 'cold by snapshot', spec: { tier: 'cold', cold: { schedule: '0 2 * * *', method: 'volumeSnapshot' } }, primary: primaryStatefulSet },
  { name: 'cold by engine dump (dump claim)', spec: { tier: 'cold', engine: PG, cold: { schedule: '0 2 * * *', method: 'engine' } }, primary: primaryStatefulSet },
  { name: 'hot, promotion under way (fence, released objects)', spec: { tier: 'hot' }, primary: primaryStatefulSet, promotion: 'Switching' },
  { name: 'cold, promoted on a restored copy', spec: { tier: 'cold', cold: { schedule: '0 2 * * *', method: 'volumeSnapshot' } }, primary: primaryStatefulSet, copyClaims: { data: 'orders-data-r1' }, promotion: 'Promoted' },
];

function buildContext(v: Variant, primary: Workload, service: V1Service, claim: V1PersistentVolumeClaim): BuildContext {
  const site = validSite(v.spec);
  return {
    site,
    primary,
    primaryService: service,
    volumes: primaryVolumes(primary),
    primaryClaims: new Map([[claim.metadata?.name ?? '', claim]]),
    engine: engineFor(site.spec.engine),
    operatorImage: 'example.invalid/standby-operator:test',
    imagePullSecrets: ['registry'],
    active: v.promotion === 'Switching' || v.promotion === 'Promoted' ? 'standby' : 'primary',
    promotion: v.promotion,
    copyClaims: v.copyClaims,
  };
}

/** The primary's objects as stored; for a Deployment its claim is the volume's. */
function primaries(v: Variant) {
  const claim = stored(primaryClaim());
  // A provisioner may give more than was asked for: copies are made as large as the capacity.
  claim.status = { ...claim.status, capacity: { storage: '2Gi' } };
  return { primary: stored(v.primary()), service: stored(primaryService()), claim, pod: stored(primaryPod()) };
}

beforeAll(() => {
  registerBuiltinEngines();
});

describe("the operator's own objects keep every field its builders set", () => {
  for (const v of VARIANTS) {
    test(`${v.name}: the cached copy of each built object needs no apply, and is the site's`, () => {
      const p = primaries(v);
      const ctx = buildContext(v, cached(p.primary), cached(p.service), cached(p.claim));
      const built = desiredObjects(ctx).map((o) => (v.promotion ? released(o) : o));
      expect(built.length).toBeGreaterThan(0);
      for (const o of built) {
        const want = stamped(o);
        const live = stored(want);
        // Not vacuous: what Kubernetes adds makes the stored object differ from the built one.
        expect(live).not.toEqual(want);
        const kept = cached(live);
        expect({ kind: o.kind, name: o.metadata?.name, needsApply: needsApply(want, kept) }).toEqual({ kind: o.kind, name: o.metadata?.name, needsApply: false });
        expect(ownershipOf(kept, { name: 'orders', uid: 'site-uid-1' })).toEqual({ ours: true });
        expect(ownerSiteKey(kept)).toBe(`${NS}/orders`);
      }
    });
  }

  test('a field someone else changed on a cached object is still seen (the apply is not skipped)', () => {
    const v = VARIANTS[0]!;
    const p = primaries(v);
    const ctx = buildContext(v, cached(p.primary), cached(p.service), cached(p.claim));
    for (const o of desiredObjects(ctx)) {
      const want = stamped(o);
      const live = stored(want) as Obj & { spec?: Record<string, unknown> };
      if (!live.spec) continue;
      if (o.kind === 'StatefulSet') live.spec.podManagementPolicy = 'OrderedReady';
      if (o.kind === 'Service') live.spec.selector = { app: 'elsewhere' };
      expect(needsApply(want, cached(live))).toBe(true);
    }
  });

  test("the copies, snapshots and Jobs the controller reads keep their runs, readiness and outcome", () => {
    const site = validSite({ tier: 'warm', warm: { schedule: '0 3 * * *' } });
    const vol = primaryVolumes(primaryStatefulSet())[0]!;
    const copy = stored(
      buildCopyClaim({
        site,
        name: names.copyClaim('orders', 'data', 'run-a'),
        run: 'run-a',
        volume: vol,
        primaryClaim: primaryClaim(),
        annotations: { [ANNOTATION_DATA_TIME]: '2026-03-01T09:00:00.000Z', [ANNOTATION_COMPLETE]: 'true' },
      }),
    );
    expect(copyRuns([cached(copy)], ['data'])).toEqual(copyRuns([copy], ['data']));
    expect(copyRuns([cached(copy)], ['data'])[0]).toMatchObject({ run: 'run-a', complete: true });

    const snap = stored(buildSnapshot(site, vol, 'run-b', undefined)) as VolumeSnapshot & Obj;
    snap.status = { readyToUse: true, creationTime: '2026-03-01T09:30:00Z', restoreSize: '1Gi', boundVolumeSnapshotContentName: 'snapcontent-1' };
    expect(snapshotSets([cached(snap)], ['data'])).toEqual(snapshotSets([snap], ['data']));
    const failedSnap = { ...snap, status: { readyToUse: false, error: { message: 'driver failed', time: '2026-03-01T09:31:00Z' } } };
    expect(snapshotSets([cached(failedSnap)], ['data'])).toEqual(snapshotSets([failedSnap], ['data']));
    expect(snapshotSets([cached(failedSnap)], ['data'])[0]?.error).toBe('driver failed');

    const job = stored(buildJob(site, { name: 'orders-sync-1', role: 'copy', template: { spec: { containers: [{ name: 'c', image: 'x' }] } }, backoffLimit: 1, activeDeadlineSeconds: 60 })) as V1Job & Obj;
    job.status = {
      startTime: '2026-03-01T10:00:00Z' as unknown as Date,
      // The conditions' times may differ from completionTime, which is what counts.
      completionTime: '2026-03-01T10:04:58Z' as unknown as Date,
      succeeded: 1,
      ready: 0,
      uncountedTerminatedPods: {},
      conditions: [{ type: 'SuccessCriteriaMet', status: 'True', lastTransitionTime: '2026-03-01T10:05:00Z' as unknown as Date }, { type: 'Complete', status: 'True', lastTransitionTime: '2026-03-01T10:05:00Z' as unknown as Date }],
    };
    expect(jobOutcome(cached(job))).toEqual(jobOutcome(job));
    const failedJob = { ...job, status: { startTime: job.status.startTime, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastTransitionTime: '2026-03-01T10:06:00Z' as unknown as Date }] } };
    expect(jobOutcome(cached(failedJob))).toEqual(jobOutcome(failedJob));
    expect(jobOutcome(cached(failedJob)).message).toBe('BackoffLimitExceeded: Job has reached the specified backoff limit');
  });
});

describe("the primary's objects keep what the builders, observe, fencing and the manager read", () => {
  for (const v of VARIANTS) {
    test(`${v.name}: the builders make the same objects from the cached primary as from the stored one`, () => {
      const p = primaries(v);
      const fromStored = desiredObjects(buildContext(v, p.primary, p.service, p.claim));
      const fromCache = desiredObjects(buildContext(v, cached(p.primary), cached(p.service), cached(p.claim)));
      expect(fromCache).toEqual(fromStored);
    });
  }

  test('workload: selector, volumes, replicas and the fence read the same', () => {
    for (const w of [stored(primaryStatefulSet()), stored(primaryDeployment())]) {
      const c = cached(w);
      expect(selectorOf(c)).toEqual(selectorOf(w));
      // Of a claim template the builders read its name, sizes, class, access and volume modes.
      const read = (x: ReturnType<typeof primaryVolumes>[number]) => {
        const t = x.template?.spec;
        return { volume: x.volume, claim: x.claim, t: t && [t.accessModes, t.resources, t.storageClassName, t.volumeMode] };
      };
      expect(primaryVolumes(c).map(read)).toEqual(primaryVolumes(w).map(read));
      expect(c.spec?.replicas).toBe(w.spec?.replicas);
      const site = validSite({ tier: 'hot' });
      expect(fenceFor(site, { primary: c, primaryService: undefined })).toEqual(fenceFor(site, { primary: w, primaryService: undefined }));
      // No status: nothing reads the status of someone else's workload (the standby's rollout is kept, see below).
      expect((c as Obj).status).toBeUndefined();
    }
  });

  test("pods: readiness, its transition, labels (selectors) and owners (the manager) read the same", () => {
    for (const ready of [true, false]) {
      const p = stored(primaryPod(ready));
      const c = cached(p);
      expect(isPodReady(c)).toBe(isPodReady(p));
      expect(readyTransition(c)).toEqual(readyTransition(p));
      expect(c.metadata?.labels).toEqual(p.metadata?.labels);
      expect(c.metadata?.ownerReferences?.map((r) => [r.kind, r.name])).toEqual(p.metadata?.ownerReferences?.map((r) => [r.kind, r.name]));
      const input = { now: new Date('2026-03-01T12:00:00Z'), workload: stored(primaryStatefulSet()), previousNotReadySince: undefined, previousEverReady: false, fenced: false };
      expect(assessPrimary({ ...input, pods: [c] })).toEqual(assessPrimary({ ...input, pods: [p] }));
    }
    const deleting = stored(primaryPod(true));
    deleting.metadata!.deletionTimestamp = '2026-03-01T12:00:00Z' as unknown as Date;
    expect(isPodReady(cached(deleting))).toBe(false);
  });
});

describe("others' objects keep what ownership reads, whatever their kind", () => {
  const site = { name: 'orders', uid: 'site-uid-1' };
  const metas: [string, V1ObjectMeta][] = [
    ['an owner reference to the site', { ownerReferences: [{ apiVersion: 'standby.dev/v1alpha1', kind: 'StandbySite', name: 'orders', uid: 'site-uid-1', blockOwnerDeletion: true }] }],
    ["the site's UID mark", { annotations: { [ANNOTATION_SITE_UID]: 'site-uid-1', 'example.com/x': 'y' } }],
    ["another site's, released by its promotion", { labels: { [LABEL_SITE]: 'orders', app: 'x' }, annotations: { [ANNOTATION_SITE_UID]: 'site-uid-0', [ANNOTATION_RELEASED]: 'true' } }],
    ["another site's", { labels: { [LABEL_SITE]: 'orders' }, annotations: { [ANNOTATION_SITE_UID]: 'site-uid-0' } }],
    ['labelled by another manager', { labels: { [LABEL_MANAGED_BY]: 'helm', [LABEL_SITE]: 'orders' } }],
    ["owned by someone's controller", { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', uid: 'rs-1', controller: true, blockOwnerDeletion: true }] }],
    ['nobody', { labels: { app: 'web' } }],
    ["legacy data: the operator's labels, no UID mark", { labels: { [LABEL_MANAGED_BY]: MANAGER, [LABEL_SITE]: 'orders' } }],
  ];
  for (const kind of Object.keys(TRANSFORM)) {
    test(`${kind}: ownershipOf and the site index decide the same on the cached copy`, () => {
      for (const [what, meta] of metas) {
        const o = stored({ apiVersion: 'v1', kind, metadata: { name: `orders-${kind.toLowerCase()}`, ...structuredClone(meta) }, spec: {} } as KubeObject);
        const c = cached(o);
        expect({ what, own: ownershipOf(c, site) }).toEqual({ what, own: ownershipOf(o, site) });
        expect({ what, key: ownerSiteKey(c) }).toEqual({ what, key: ownerSiteKey(o) });
        expect(c.metadata?.uid).toBe(o.metadata?.uid);
      }
    });
  }
});

describe('what each transform keeps', () => {
  test('a site: spec and status whole; metadata: identity, generation, labels, the operator\'s annotations', () => {
    const s = stored(siteObject('orders', { tier: 'hot' }) as StandbySiteObject);
    s.metadata!.annotations![ANNOTATION_PROMOTE] = 'token-1';
    s.metadata!.labels = { team: 'data' };
    s.status = { phase: 'Protected', observedGeneration: 1, conditions: [] };
    expect(leanSite(s)).toEqual({
      apiVersion: s.apiVersion,
      kind: s.kind,
      metadata: {
        name: 'orders',
        namespace: NS,
        uid: s.metadata?.uid,
        resourceVersion: s.metadata?.resourceVersion,
        generation: 1,
        creationTimestamp: '2026-03-01T10:00:00Z',
        labels: { team: 'data' },
        annotations: { [ANNOTATION_PROMOTE]: 'token-1' },
      },
      spec: s.spec,
      status: s.status,
    });
  });

  test("someone else's workload: replicas, selector, pod template, claim templates' name and storage; no status", () => {
    const w = stored(primaryStatefulSet());
    expect(leanWorkload(w)).toEqual({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db', namespace: NS, uid: w.metadata?.uid, resourceVersion: w.metadata?.resourceVersion, creationTimestamp: '2026-03-01T10:00:00Z' },
      spec: {
        replicas: 1,
        selector: w.spec?.selector,
        template: w.spec?.template,
        volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, volumeMode: 'Filesystem' } }],
      },
    });
  });

  test("the operator's workload: also its name, serviceName, podManagementPolicy, retention and strategy, and its metadata whole", () => {
    const site = validSite({ tier: 'hot' });
    const want = stamped(desiredObjects(buildContext(VARIANTS[0]!, primaryStatefulSet(), primaryService(), primaryClaim())).find((o) => o.kind === 'StatefulSet')!) as V1StatefulSet;
    const live = stored(want);
    live.status = { replicas: 1, readyReplicas: 1, currentRevision: 'orders-standby-abc', updateRevision: 'orders-standby-abc', observedGeneration: 1, availableReplicas: 1 };
    const kept = leanWorkload(live);
    expect(Object.keys(kept.spec ?? {}).sort()).toEqual(['persistentVolumeClaimRetentionPolicy', 'podManagementPolicy', 'replicas', 'selector', 'serviceName', 'template', 'volumeClaimTemplates']);
    expect(kept.metadata?.labels).toEqual(live.metadata?.labels);
    expect(kept.metadata?.annotations).toEqual(live.metadata?.annotations);
    expect(kept.metadata?.ownerReferences).toEqual(live.metadata?.ownerReferences);
    expect(kept.metadata?.ownerReferences?.[0]?.uid).toBe(site.metadata.uid);
    // Of its status the rollout only (promotion/grow.ts), with the generation it is compared with.
    expect((kept as Obj).status).toEqual({ observedGeneration: 1, updateRevision: 'orders-standby-abc' });
    expect(kept.metadata?.generation).toBe(live.metadata?.generation);
    expect(kept.metadata?.managedFields).toBeUndefined();
  });

  test("a pod: name, namespace, uid, version, labels, the operator's annotations, owners, deletion, the Ready and resize conditions, its IP, its containers' resources", () => {
    const p = stored(primaryPod(true));
    p.status!.conditions = [...(p.status!.conditions ?? []), { type: 'PodScheduled', status: 'True' }, { type: 'PodResizeInProgress', status: 'True', reason: 'Resizing' }];
    expect(leanPod(p)).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'db-0',
        namespace: NS,
        uid: p.metadata?.uid,
        resourceVersion: p.metadata?.resourceVersion,
        labels: p.metadata?.labels,
        ownerReferences: [{ kind: 'StatefulSet', name: 'db', uid: 'uid-db', controller: true }],
      },
      // The spec of the containers only as far as their resources (the Growing step compares them).
      spec: { containers: [{ name: 'main' }] },
      status: {
        phase: 'Running',
        podIP: '10.0.0.7',
        conditions: [
          { type: 'Ready', status: 'True', lastTransitionTime: '2026-03-01T11:00:00Z' },
          { type: 'PodResizeInProgress', status: 'True', reason: 'Resizing' },
        ],
        containerStatuses: [{ name: 'main', ready: true, restartCount: 0, image: 'example.invalid/db:1', imageID: 'sha256:0' }],
      },
    });
  });

  test("someone else's Service: selector and ports; the operator's: also type, clusterIP, publishNotReadyAddresses", () => {
    const s = stored(primaryService());
    expect(leanService(s)).toEqual({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'db', namespace: NS, uid: s.metadata?.uid, resourceVersion: s.metadata?.resourceVersion, creationTimestamp: '2026-03-01T10:00:00Z' },
      spec: { selector: { app: 'db' }, ports: s.spec?.ports },
    });
    const ours = stored({ ...s, metadata: { ...s.metadata, labels: { [LABEL_MANAGED_BY]: MANAGER } } });
    expect(Object.keys(leanService(ours).spec ?? {}).sort()).toEqual(['clusterIP', 'ports', 'selector', 'type']);
  });

  test('a claim: access and volume modes, size, class, data source, its labels, its phase and capacity', () => {
    const c = stored(primaryClaim());
    expect(leanClaim(c)).toEqual({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'data-db-0', namespace: NS, uid: c.metadata?.uid, resourceVersion: c.metadata?.resourceVersion, creationTimestamp: '2026-03-01T10:00:00Z', labels: { app: 'db' } },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'standard', volumeMode: 'Filesystem' },
      status: { phase: 'Bound', capacity: { storage: '1Gi' } },
    });
  });

  test('a Job: its outcome (start, completion, conditions), no spec', () => {
    const site = validSite({ tier: 'warm', warm: { schedule: '0 3 * * *' } });
    const j = stored(buildJob(site, { name: 'orders-sync-1', role: 'copy', template: { spec: { containers: [{ name: 'c', image: 'x' }] } }, backoffLimit: 1, activeDeadlineSeconds: 60 }));
    j.status = { startTime: '2026-03-01T10:00:00Z' as unknown as Date, active: 1, ready: 1 };
    const kept = leanJob(j);
    expect(kept.spec).toBeUndefined();
    expect(kept.status).toEqual({ startTime: '2026-03-01T10:00:00Z' });
    expect(kept.metadata?.labels).toEqual(j.metadata?.labels);
  });

  test('a snapshot: readiness, creation time, restore size and error message, no spec', () => {
    const site = validSite({ tier: 'cold', cold: { schedule: '0 2 * * *', method: 'volumeSnapshot' } });
    const s = stored(buildSnapshot(site, primaryVolumes(primaryStatefulSet())[0]!, 'r1', undefined)) as VolumeSnapshot & Obj;
    s.status = { readyToUse: true, creationTime: '2026-03-01T09:30:00Z', restoreSize: '1Gi', boundVolumeSnapshotContentName: 'c' };
    expect(leanSnapshot(s)).toEqual({ apiVersion: s.apiVersion, kind: s.kind, metadata: expect.objectContaining({ labels: s.metadata?.labels }) as unknown, status: { readyToUse: true, creationTime: '2026-03-01T09:30:00Z', restoreSize: '1Gi' } });
  });

  test("kinds the site applies by name keep someone else's object as a stub: identity and the ownership fields", () => {
    for (const kind of ['CronJob', 'NetworkPolicy', 'ServiceAccount', 'Role', 'RoleBinding']) {
      const o = stored({
        apiVersion: 'v1',
        kind,
        metadata: { name: 'orders-sync', labels: { [LABEL_SITE]: 'orders', [LABEL_ROLE]: 'x', app: 'y' }, annotations: { [ANNOTATION_SITE_UID]: 'u0', [ANNOTATION_RELEASED]: 'true' } },
        spec: { schedule: '* * * * *' },
        rules: [{ verbs: ['get'] }],
      } as KubeObject);
      expect(cached(o)).toEqual({
        apiVersion: 'v1',
        kind,
        metadata: {
          name: 'orders-sync',
          namespace: NS,
          uid: o.metadata?.uid,
          resourceVersion: o.metadata?.resourceVersion,
          labels: { [LABEL_SITE]: 'orders' },
          annotations: { [ANNOTATION_SITE_UID]: 'u0', [ANNOTATION_RELEASED]: 'true' },
        },
      });
    }
  });
});

// Fields read by code written after the transforms: each reader is run on the cached copy and on
// the stored object, so that a transform that drops what it reads fails here.
describe('what the later readers read keeps its value in the cache', () => {
  test("a drill's checks reach the scratch pod at the IP the cache keeps (controller/drill-steps.ts)", () => {
    const site = validSite({ tier: 'hot' });
    const scratch = stored(pod('orders-drill-1-0', { [LABEL_SITE]: 'orders', [LABEL_ROLE]: 'drill' }, { kind: 'StatefulSet', name: 'orders-drill-1' }, true));
    const env = (p: typeof scratch) => drillEnv({ site, id: 'd1', host: p.status?.podIP });
    expect(env(cached(scratch))).toEqual(env(scratch));
    expect(env(cached(scratch)).find((e) => e.name === 'DRILL_HOST')?.value).toBe('10.0.0.7');
  });

  test('a copy run is complete only while its claims are Bound, in the cache too (copies/inventory.ts)', () => {
    const site = validSite({ tier: 'warm', warm: { schedule: '0 3 * * *' } });
    const vol = primaryVolumes(primaryStatefulSet())[0]!;
    const copy = stored(
      buildCopyClaim({
        site,
        name: names.copyClaim('orders', 'data', 'run-a'),
        run: 'run-a',
        volume: vol,
        primaryClaim: primaryClaim(),
        annotations: { [ANNOTATION_DATA_TIME]: '2026-03-01T09:00:00.000Z', [ANNOTATION_COMPLETE]: 'true' },
      }),
    );
    for (const phase of ['Bound', 'Pending', 'Lost']) {
      const c = { ...copy, status: { ...copy.status, phase } };
      expect({ phase, runs: copyRuns([cached(c)], ['data']) }).toEqual({ phase, runs: copyRuns([c], ['data']) });
      expect({ phase, complete: copyRuns([cached(c)], ['data'])[0]?.complete }).toEqual({ phase, complete: phase === 'Bound' });
    }
  });

  test("a failback re-creates the primary's claim in the same shape from the cache, its labels included (failback/restore.ts)", () => {
    const claim = stored(primaryClaim());
    claim.metadata!.labels = { ...claim.metadata!.labels, 'example.com/backup': 'daily' };
    claim.status = { ...claim.status, capacity: { storage: '2Gi' } };
    expect(shapeOf(cached(claim))).toEqual(shapeOf(claim));
    expect(shapeOf(cached(claim))).toMatchObject({ storage: '2Gi', labels: { app: 'db', 'example.com/backup': 'daily' } });
  });

  test("status.cost counts the same storage and reservations from the cache: claims' capacity, snapshots' restore size, templates' requests (cost/site-cost.ts)", () => {
    const site = validSite({ tier: 'cold', cold: { schedule: '0 2 * * *', method: 'volumeSnapshot' } });
    const vol = primaryVolumes(primaryStatefulSet())[0]!;
    const snap = stored(buildSnapshot(site, vol, 'r1', undefined)) as VolumeSnapshot & Obj;
    snap.status = { readyToUse: true, creationTime: '2026-03-01T09:30:00Z', restoreSize: '3Gi', boundVolumeSnapshotContentName: 'c' };
    const claim = stored(primaryClaim());
    claim.status = { ...claim.status, capacity: { storage: '2Gi' } };
    expect(storageNow([cached(claim)], [cached(snap)])).toBe(storageNow([claim], [snap]));
    expect(storageNow([], [cached(snap)])).toBe(3 * 1024 ** 3);

    const sts = primaryStatefulSet();
    sts.spec!.template.spec!.containers[0]!.resources = { requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '2Gi' } };
    const primary = stored(sts);
    const hot = validSite({ tier: 'hot' });
    const standby = stored(
      stamped(desiredObjects(buildContext(VARIANTS[0]!, primary, primaryService(), claim)).find((o) => o.kind === 'StatefulSet')!) as V1StatefulSet,
    );
    const input = (c: <T extends KubeObject>(o: T) => T) => ({
      spec: hot.spec,
      now: new Date('2026-03-01T12:00:00Z'),
      primary: c(primary),
      volumes: primaryVolumes(c(primary)),
      primaryClaims: new Map([[claim.metadata?.name ?? '', c(claim)]]),
      standby: c(standby),
      claims: [c(claim)],
      snapshots: [c(snap)],
    });
    expect(siteCost(input(cached))).toEqual(siteCost(input((o) => o)));
    expect(siteCost(input(cached))).toMatchObject({ cpu: 0.5, memory: 1024 ** 3 });
  });

  describe('the Growing step plans the same from the cached standby and pods (promotion/grow.ts)', () => {
    const site = validSite({ tier: 'hot', standby: { resources: { main: { requests: { cpu: '100m', memory: '128Mi' } } } } });
    const grownPrimary = () => {
      const sts = primaryStatefulSet();
      sts.spec!.template.spec!.containers[0]!.resources = { requests: { cpu: '1', memory: '1Gi' } };
      return sts;
    };
    // The standby's template already has the primary's resources (the patch is done): what is left is the rollout.
    const standbyOf = (primary: Workload, generation: number, status: Record<string, unknown>) => {
      const v = primary.kind === 'Deployment' ? VARIANTS[2]! : VARIANTS[0]!;
      const built = desiredObjects(buildContext(v, primary, primaryService(), primaryClaim())).find((o) => o.kind === primary.kind)! as Workload;
      built.spec!.replicas = 1;
      const live = stored(stamped(built)) as Workload & Obj;
      live.metadata!.generation = generation;
      live.status = { ...(live.status as object), ...status };
      return live;
    };
    const standbyPod = (hash: string, ready: boolean, owner: { kind: string; name: string }) =>
      stored(pod('orders-standby-0', { [LABEL_SITE]: 'orders', [LABEL_ROLE]: 'standby', 'controller-revision-hash': hash }, owner, ready));

    test('StatefulSet: the controller to see the template, the pods of the old revision, then done', () => {
      const primary = stored(grownPrimary());
      const owner = { kind: 'StatefulSet', name: 'orders-standby' };
      const states = [
        { standby: standbyOf(primary, 2, { observedGeneration: 1, updateRevision: 'orders-standby-old' }), pods: [standbyPod('orders-standby-old', true, owner)] },
        { standby: standbyOf(primary, 2, { observedGeneration: 2, updateRevision: 'orders-standby-new' }), pods: [standbyPod('orders-standby-old', true, owner)] },
        { standby: standbyOf(primary, 2, { observedGeneration: 2, updateRevision: 'orders-standby-new' }), pods: [standbyPod('orders-standby-new', false, owner)] },
        { standby: standbyOf(primary, 2, { observedGeneration: 2, updateRevision: 'orders-standby-new' }), pods: [standbyPod('orders-standby-new', true, owner)] },
      ];
      const plans = states.map((x) => growthPlan({ site, primary: cached(primary), standby: cached(x.standby), standbyPods: x.pods.map(cached) }));
      expect(plans).toEqual(states.map((x) => growthPlan({ site, primary, standby: x.standby, standbyPods: x.pods })));
      expect(plans.map((p) => p.kind)).toEqual(['wait', 'wait', 'wait', 'done']);
    });

    test('Deployment: the updated replicas its controller reports, then done', () => {
      const dep = primaryDeployment();
      dep.spec!.template.spec!.containers[0]!.resources = { requests: { cpu: '1', memory: '1Gi' } };
      const primary = stored(dep);
      const owner = { kind: 'ReplicaSet', name: 'orders-standby-abc' };
      const states = [
        { standby: standbyOf(primary, 2, { observedGeneration: 2, updatedReplicas: 0 }), pods: [standbyPod('abc', true, owner)] },
        { standby: standbyOf(primary, 2, { observedGeneration: 2, updatedReplicas: 1 }), pods: [standbyPod('def', true, owner)] },
      ];
      const plans = states.map((x) => growthPlan({ site, primary: cached(primary), standby: cached(x.standby), standbyPods: x.pods.map(cached) }));
      expect(plans).toEqual(states.map((x) => growthPlan({ site, primary, standby: x.standby, standbyPods: x.pods })));
      expect(plans.map((p) => p.kind)).toEqual(['wait', 'done']);
    });
  });

  test("the operator's objects keep their finalizers: the fence is replaced whole from its cached identity (controller/actuator.ts)", () => {
    const site = validSite({ tier: 'hot' });
    const fence = stored(stamped(fenceFor(site, { primary: primaryStatefulSet(), primaryService: undefined })!));
    fence.metadata!.finalizers = ['example.com/audit'];
    expect(cached(fence).metadata?.finalizers).toEqual(['example.com/audit']);
  });
});

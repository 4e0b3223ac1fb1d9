// Reconcile without a cluster: fixed contents of the fake API server, listed and watched by the
// real informers (with their transforms), then the real Reconciler, and the exact writes it made.
// Every object is stored as Kubernetes would store it (defaults, status, managedFields, others'
// annotations), so a converged site costing no write also proves the caches kept what it reads.
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-call --
   the writes' bodies are JSON read field by field (Body), and an absent field fails the assertion */
import type { V1Pod, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { SITE_RESOURCE } from '../../../src/api/resource.ts';
import { buildCopyClaim } from '../../../src/copies/claim.ts';
import { R } from '../../../src/k8s/resources.ts';
import type { KubeObject } from '../../../src/k8s/types.ts';
import { ANNOTATION_COMPLETE, ANNOTATION_DATA_TIME, ANNOTATION_SITE_UID, LABEL_ROLE, LABEL_SITE, names } from '../../../src/site/names.ts';
import { validateSpec, type StandbySite } from '../../../src/api/site.ts';
import { asKubernetesStoresIt, pod, primaryClaim, primaryPod, primaryService, primaryStatefulSet, site } from './support/objects.ts';
import { NS, summary, World, type Write } from './support/world.ts';

let w: World;
beforeEach(async () => {
  w = await World.start();
  w.api.defaulting = asKubernetesStoresIt;
});
afterEach(async () => {
  await w.stop();
});

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- request bodies are read field by field

const body = (x: Write | undefined): Body => x?.body ?? {};
const find = (writes: readonly Write[], what: string): Write => {
  const found = writes.find((x) => `${x.op} ${x.resource}/${x.name}` === what);
  if (!found) throw new Error(`no write "${what}" among ${JSON.stringify(summary(writes))}`);
  return found;
};
const indexOf = (writes: readonly Write[], what: string) => summary(writes).indexOf(what);
const condition = (status: Body, type: string): Body | undefined => (status.conditions as Body[] | undefined)?.find((c) => c.type === type);

function seedPrimary(): void {
  w.create(R.statefulSet, primaryStatefulSet());
  w.create(R.pod, primaryPod());
  w.create(R.service, primaryService());
  w.create(R.pvc, primaryClaim());
}

/** The standby pod the StatefulSet controller would start for the site's standby. */
function standbyPod(siteName: string, ready: boolean): V1Pod {
  return pod(`${siteName}-standby-0`, { team: 'data', [LABEL_SITE]: siteName, [LABEL_ROLE]: 'standby' }, { kind: 'StatefulSet', name: `${siteName}-standby` }, ready);
}

/** A new hot site reconciled to Protected (its standby pod Ready). */
async function protectedHotSite(spec: Record<string, unknown> = {}): Promise<void> {
  seedPrimary();
  w.create(SITE_RESOURCE, site('orders', { tier: 'hot', ...spec }));
  await w.startOperator();
  await w.reconcile('orders');
  w.create(R.pod, standbyPod('orders', true));
  await w.reconcile('orders');
  expect(w.site('orders').status?.phase).toBe('Protected');
}

describe('reconcile: a new hot site', () => {
  test('applies the standby StatefulSet and the traffic Service, writes status; once the standby is Ready, status and one Protected Event', async () => {
    seedPrimary();
    const created = w.create(SITE_RESOURCE, site('orders', { tier: 'hot' }));
    await w.startOperator();
    const uid = created.metadata?.uid;

    const first = await w.reconcile('orders');
    expect(summary(first.writes).sort()).toEqual(['apply services/orders-active', 'apply statefulsets/orders-standby', 'patch standbysites/status/orders']);

    const standby = find(first.writes, 'apply statefulsets/orders-standby');
    // A first apply never takes over fields someone else set (actuator.ts).
    expect(standby.query.get('force')).toBe('false');
    expect(standby.query.get('fieldManager')).toBe('standby-operator');
    const sts = body(standby);
    expect(sts.metadata.ownerReferences).toEqual([{ apiVersion: 'standby.dev/v1alpha1', kind: 'StandbySite', name: 'orders', uid, controller: true, blockOwnerDeletion: true }]);
    expect(sts.metadata.annotations[ANNOTATION_SITE_UID]).toBe(uid);
    expect(sts.spec.replicas).toBe(1);
    expect(sts.spec.selector).toEqual({ matchLabels: { [LABEL_SITE]: 'orders', [LABEL_ROLE]: 'standby' } });
    // The primary's pod template, without the labels its selector and Service select on.
    expect(sts.spec.template.metadata.labels).toEqual({ team: 'data', [LABEL_SITE]: 'orders', [LABEL_ROLE]: 'standby' });
    expect(sts.spec.template.spec.containers[0].image).toBe('example.invalid/db:1');
    expect(sts.spec.volumeClaimTemplates.map((t: Body) => t.metadata.name)).toEqual(['data']);

    const traffic = body(find(first.writes, 'apply services/orders-active'));
    expect(traffic.spec).toEqual({ type: 'ClusterIP', selector: { app: 'db' }, ports: [{ name: 'db', port: 5432, protocol: 'TCP', targetPort: 5432 }] });
    expect(traffic.metadata.annotations['standby.dev/active']).toBe('primary');

    const status = body(find(first.writes, 'patch standbysites/status/orders'));
    expect(status.metadata.resourceVersion).toBe(created.metadata?.resourceVersion);
    expect(status.status.phase).toBe('Pending');
    expect(status.status.observedGeneration).toBe(1);
    expect(condition(status.status, 'Ready')).toMatchObject({ status: 'False', reason: 'Pending' });
    expect(condition(status.status, 'PrimaryHealthy')).toMatchObject({ status: 'True', reason: 'PrimaryReady' });

    w.create(R.pod, standbyPod('orders', true));
    const rv = w.site('orders').metadata?.resourceVersion;
    const second = await w.reconcile('orders');
    expect(summary(second.writes)).toEqual(['patch standbysites/status/orders', 'create events/Protected']);
    const protectedStatus = body(second.writes[0]);
    expect(protectedStatus.metadata.resourceVersion).toBe(rv);
    expect(protectedStatus.status.phase).toBe('Protected');
    expect(condition(protectedStatus.status, 'Ready')).toMatchObject({ status: 'True', reason: 'Protected' });
    const event = body(second.writes[1]);
    expect(event).toMatchObject({ type: 'Normal', reason: 'Protected', involvedObject: { kind: 'StandbySite', name: 'orders', namespace: NS, uid } });
  });
});

describe('reconcile: a converged site', () => {
  test('costs no write, in this process and in a fresh one (caches listed anew)', async () => {
    await protectedHotSite();
    expect((await w.reconcile('orders')).writes).toEqual([]);
    await w.startOperator();
    expect((await w.reconcile('orders')).writes).toEqual([]);
  });

  test('a field of the standby changed by someone else is applied back, and nothing else is written', async () => {
    await protectedHotSite();
    const live = w.get<V1StatefulSet>(R.statefulSet, 'orders-standby')!;
    w.api.update(R.statefulSet, { ...live, spec: { ...live.spec!, podManagementPolicy: 'OrderedReady' } });
    const { writes } = await w.reconcile('orders');
    expect(summary(writes)).toEqual(['apply statefulsets/orders-standby']);
    // Later applies name the live object's UID: they reach only the object that was checked.
    expect(body(writes[0]).metadata.uid).toBe(live.metadata?.uid);
    expect(body(writes[0]).spec.podManagementPolicy).toBe('Parallel');
    expect(writes[0]!.query.get('force')).toBe('true');
  });
});

describe('reconcile: the primary fails past the threshold', () => {
  test('networkPolicy fencing: the start is recorded with the resourceVersion precondition, the fence goes up before traffic switches', async () => {
    await protectedHotSite();
    w.api.update(R.pod, primaryPod(false));
    const noticed = await w.reconcile('orders');
    expect(summary(noticed.writes)).toEqual(['patch standbysites/status/orders', 'create events/PrimaryNotReady']);
    expect(body(noticed.writes[0]).status.primary.notReadySince).toBe(new Date(w.clock.wall()).toISOString());

    // Not yet: 29 s of the 30 s threshold. Status says how long is left, and nothing else moves.
    await w.clock.advance(29_000);
    const waiting = await w.reconcile('orders');
    expect(summary(waiting.writes)).toEqual(['patch standbysites/status/orders']);
    expect(body(waiting.writes[0]).status.promotion).toBeUndefined();
    expect(condition(body(waiting.writes[0]).status, 'PromotionReady')).toMatchObject({ reason: 'ThresholdPending' });
    expect(waiting.result.requeueAfterMs).toBeLessThanOrEqual(1_000);

    await w.clock.advance(2_000);
    const before = w.site('orders').metadata?.resourceVersion;
    const { writes } = await w.reconcile('orders');
    expect(summary(writes).sort()).toEqual([
      'apply networkpolicies/orders-fence',
      // Released from the site once the promotion began (promotion/release.ts).
      'apply services/orders-active',
      'apply statefulsets/orders-standby',
      'create events/Fenced',
      'create events/Promoted',
      'create events/PromotionStarted',
      'jsonpatch services/orders-active',
      // The traffic Service loses the site's owner reference while the promotion runs (traffic/switch.ts holdTraffic).
      'patch services/orders-active',
      'patch standbysites/status/orders',
      'patch standbysites/status/orders',
      'patch standbysites/status/orders',
      'patch standbysites/status/orders',
      'patch standbysites/status/orders',
    ]);
    expect(body(find(writes, 'patch services/orders-active')).metadata).toMatchObject({ ownerReferences: null });
    const statusWrites = writes.filter((x) => x.resource === 'standbysites/status');
    const start = statusWrites[0]!;
    expect(body(start).metadata.resourceVersion).toBe(before);
    expect(body(start).status.phase).toBe('Promoting');
    expect(body(start).status.promotion).toMatchObject({ state: 'Fencing', trigger: 'automatic', tier: 'hot', fencing: 'networkPolicy' });

    const fence = find(writes, 'apply networkpolicies/orders-fence');
    expect(body(fence).spec).toEqual({ podSelector: { matchLabels: { app: 'db' } }, policyTypes: ['Ingress', 'Egress'] });
    // Released from the site: deleting the site must not lift the fence.
    expect(body(fence).metadata.ownerReferences).toBeUndefined();
    const standbySelector = { [LABEL_SITE]: 'orders', [LABEL_ROLE]: 'standby' };
    expect(body(find(writes, 'jsonpatch services/orders-active'))).toContainEqual({ op: 'add', path: '/spec/selector', value: standbySelector });
    // Traffic moves only once the fence is up and the start is on record.
    expect(indexOf(writes, 'apply networkpolicies/orders-fence')).toBeLessThan(indexOf(writes, 'jsonpatch services/orders-active'));
    expect(writes.indexOf(start)).toBeLessThan(indexOf(writes, 'jsonpatch services/orders-active'));
    // The convergence after the promotion keeps clients on the standby.
    const reapplied = body(find(writes, 'apply services/orders-active'));
    expect(reapplied.spec.selector).toEqual(standbySelector);
    expect(reapplied.metadata.ownerReferences).toBeUndefined();
    expect(indexOf(writes, 'apply services/orders-active')).toBeGreaterThan(indexOf(writes, 'jsonpatch services/orders-active'));

    // Each transition is written once, against the version the previous write returned.
    const transitions = statusWrites.filter((x) => body(x).status.promotion?.state !== undefined);
    expect(transitions.map((x) => body(x).status.promotion.state as string)).toEqual(['Fencing', 'Promoting', 'Switching', 'Promoted']);
    const versions = statusWrites.map((x) => body(x).metadata.resourceVersion as string);
    expect(new Set(versions).size).toBe(versions.length);
    for (let i = 1; i < versions.length; i++) expect(Number(versions[i])).toBeGreaterThan(Number(versions[i - 1]));

    const promoted = w.site('orders').status as Body;
    expect(promoted.promotion.state).toBe('Promoted');
    expect(promoted.active).toBe('standby');
    expect(w.get<V1Service>(R.service, 'orders-active')?.spec?.selector).toEqual({ [LABEL_SITE]: 'orders', [LABEL_ROLE]: 'standby' });
    expect(w.get<INetworkPolicy>(R.networkPolicy, 'orders-fence')).toBeDefined();
  });

  test('scaleDown fencing: nothing touches the workload before the start is recorded, and traffic waits until the primary\'s pods are gone', async () => {
    await protectedHotSite({ promotion: { fencing: 'scaleDown' } });
    w.api.update(R.pod, primaryPod(false));
    await w.reconcile('orders');
    await w.clock.advance(31_000);
    const before = w.site('orders').metadata?.resourceVersion;
    const fencing = await w.reconcile('orders');
    expect(summary(fencing.writes).sort()).toEqual([
      'apply statefulsets/orders-standby',
      'create events/PromotionStarted',
      // The traffic Service released (holdTraffic), by the Fencing step and by the convergence
      // that follows it, each against the version it read: the second finds it changed (409) or released.
      'patch services/orders-active',
      'patch services/orders-active',
      'patch standbysites/status/orders',
      'patch standbysites/status/orders',
      'patch statefulsets/db',
    ]);
    expect(w.get<V1Service>(R.service, 'orders-active')?.metadata?.ownerReferences).toBeUndefined();
    // The scale-down waits for the start's record; nothing moves traffic while the primary's pod exists.
    expect(indexOf(fencing.writes, 'patch standbysites/status/orders')).toBe(0);
    expect(body(fencing.writes[0]).metadata.resourceVersion).toBe(before);
    expect(body(fencing.writes[0]).status.promotion.state).toBe('Fencing');
    expect(body(find(fencing.writes, 'patch statefulsets/db'))).toEqual({ spec: { replicas: 0 } });

    // The StatefulSet controller removes the pod; only then does traffic move.
    w.api.remove(R.pod, NS, 'db-0');
    const { writes } = await w.reconcile('orders');
    expect(indexOf(writes, 'jsonpatch services/orders-active')).toBeGreaterThan(-1);
    expect(writes.filter((x) => x.resource === 'standbysites/status' && body(x).status.promotion?.state).map((x) => body(x).status.promotion.state)).toEqual(['Promoting', 'Switching', 'Promoted']);
  });
});

describe('reconcile: a name taken by someone else', () => {
  test('writes nothing but status: Stalled, NameConflict, naming the object', async () => {
    seedPrimary();
    w.create<V1Service>(R.service, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'orders-active' }, spec: { selector: { app: 'other' }, ports: [{ port: 80 }] } });
    w.create(SITE_RESOURCE, site('orders', { tier: 'hot' }));
    await w.startOperator();
    const { writes } = await w.reconcile('orders');
    // The site says why in status; a person also gets told, once, that it will not promote.
    expect(summary(writes)).toEqual(['patch standbysites/status/orders', 'create events/PromotionRefused']);
    expect(body(writes[1])).toMatchObject({ type: 'Warning', message: expect.stringContaining('Service orders-active already exists') as string });
    const status = body(writes[0]).status;
    expect(condition(status, 'Stalled')).toMatchObject({ status: 'True', reason: 'NameConflict' });
    expect(condition(status, 'Stalled')?.message).toContain('Service orders-active already exists');
    expect(condition(status, 'Ready')).toMatchObject({ status: 'False' });
    expect(w.get(R.statefulSet, 'orders-standby')).toBeUndefined();
    // And the next look changes nothing.
    expect((await w.reconcile('orders')).writes).toEqual([]);
  });
});

describe('reconcile: a warm site after a newer copy', () => {
  test('moves the standby to the newer copy first, and only then deletes the older one', async () => {
    seedPrimary();
    const created = w.create(SITE_RESOURCE, site('orders', { tier: 'warm', warm: { schedule: '0 3 * * *' } }));
    const v = validateSpec(created.spec, 'orders');
    if (!v.ok) throw new Error('invalid warm site');
    const s: StandbySite = { metadata: { name: 'orders', namespace: NS, uid: created.metadata?.uid ?? '' }, spec: v.spec, status: {} };
    const now = w.clock.wall();
    const copy = (run: string, ageMs: number): KubeObject =>
      buildCopyClaim({
        site: s,
        name: names.copyClaim('orders', 'data', run),
        run,
        volume: { volume: 'data', claim: 'data-db-0' },
        primaryClaim: primaryClaim(),
        annotations: { [ANNOTATION_DATA_TIME]: new Date(now - ageMs).toISOString(), [ANNOTATION_COMPLETE]: 'true' },
      });
    w.create(R.pvc, copy('run-a', 7_200_000));
    await w.startOperator();
    const first = await w.reconcile('orders');
    expect(summary(first.writes).sort()).toEqual([
      'apply cronjobs/orders-sync',
      'apply rolebindings/orders-copier',
      'apply roles/orders-copier',
      'apply serviceaccounts/orders-copier',
      'apply services/orders-active',
      'apply statefulsets/orders-standby',
      'create events/Protected',
      'patch standbysites/status/orders',
    ]);
    const standby = body(find(first.writes, 'apply statefulsets/orders-standby'));
    expect(standby.spec.replicas).toBe(0);
    expect(standby.spec.template.spec.volumes).toEqual([{ name: 'data', persistentVolumeClaim: { claimName: 'orders-data-run-a' } }]);
    // Status names the standby workload once the cache shows it (the next pass), then nothing moves.
    const seen = await w.reconcile('orders');
    expect(summary(seen.writes)).toEqual(['patch standbysites/status/orders']);
    expect(body(seen.writes[0]).status).toEqual({ standby: { workload: 'orders-standby' } });
    expect((await w.reconcile('orders')).writes).toEqual([]);

    // The sync made a newer complete copy.
    w.create(R.pvc, copy('run-b', 3_600_000));
    const moved = await w.reconcile('orders');
    expect(summary(moved.writes)).toEqual(['apply statefulsets/orders-standby', 'patch standbysites/status/orders']);
    expect(body(moved.writes[0]).spec.template.spec.volumes).toEqual([{ name: 'data', persistentVolumeClaim: { claimName: 'orders-data-run-b' } }]);
    expect(body(moved.writes[1]).status.lastSyncTime).toBe(new Date(now - 3_600_000).toISOString());

    // The cache shows the standby on the newer copy: the older one goes, nothing else is written.
    const pruned = await w.reconcile('orders');
    expect(summary(pruned.writes)).toEqual(['delete persistentvolumeclaims/orders-data-run-a']);
    expect(w.get(R.pvc, 'orders-data-run-a')).toBeUndefined();
    expect(w.get(R.pvc, 'orders-data-run-b')).toBeDefined();
    // The cache shows it gone: status.cost counts one copy's storage less, then nothing moves.
    const counted = await w.reconcile('orders');
    expect(summary(counted.writes)).toEqual(['patch standbysites/status/orders']);
    expect(body(counted.writes[0]).status).toEqual({ cost: { storage: 1024 ** 3 } });
    expect((await w.reconcile('orders')).writes).toEqual([]);
  });
});

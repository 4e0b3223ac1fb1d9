// The manager against the fake API server: informers -> site keys -> queue -> bounded workers,
// only while leading. The reconciler is a stand-in that records what it is asked to do.
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { SITE_RESOURCE } from '../../../src/api/resource.ts';
import { createCaches, type Caches } from '../../../src/controller/caches.ts';
import { Manager, type SiteReconciler } from '../../../src/controller/manager.ts';
import type { ReconcileResult } from '../../../src/controller/reconciler.ts';
import { R } from '../../../src/k8s/resources.ts';
import type { KubeObject } from '../../../src/k8s/types.ts';
import { LABEL_ROLE, LABEL_SITE } from '../../../src/site/names.ts';
import { FakeApi } from '../support/fake-api.ts';
import { settle, until } from '../support/fake-clock.ts';

const NS = 'apps';
const log = pino({ level: 'silent' });

/** Reconciles block until released, so that a test sees how many run at once. */
class StandIn implements SiteReconciler {
  inFlight = 0;
  maxInFlight = 0;
  readonly reconciled: string[] = [];
  readonly readyPrimaries: string[] = [];
  private gates: (() => void)[] = [];
  blocking = true;

  reconcile(key: string): Promise<ReconcileResult> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise<ReconcileResult>((resolve) => {
      const finish = () => {
        this.inFlight--;
        this.reconciled.push(key);
        resolve({});
      };
      if (this.blocking) this.gates.push(finish);
      else queueMicrotask(finish);
    });
  }

  siteObserved(): boolean {
    return false;
  }

  noteReadyPrimary(key: string): void {
    this.readyPrimaries.push(key);
  }

  /** Lets every reconcile waiting so far finish. */
  release(): void {
    const gates = this.gates;
    this.gates = [];
    for (const g of gates) g();
  }
}

let api: FakeApi;
let caches: Caches;
let reconciler: StandIn;
let manager: Manager;

beforeEach(async () => {
  api = await FakeApi.start();
  caches = createCaches(api.client(), log, [NS]);
  reconciler = new StandIn();
  manager = new Manager({ caches, reconciler, log, concurrency: 2 });
});

afterEach(async () => {
  reconciler.blocking = false;
  reconciler.release();
  const done = manager.shutdown();
  for (let i = 0; i < 100 && reconciler.inFlight > 0; i++) {
    reconciler.release();
    await settle();
  }
  await done;
  await api.close();
});

describe('Manager: workers', () => {
  test('reconciles at most `concurrency` keys at once', async () => {
    manager.lead();
    for (let i = 0; i < 10; i++) manager.queue.add(`${NS}/s${i}`);
    await settle(20);
    expect(reconciler.inFlight).toBe(2);
    while (reconciler.reconciled.length < 10) {
      reconciler.release();
      await settle();
    }
    expect(reconciler.maxInFlight).toBe(2);
  });

  test('the bound holds across losing and regaining the lease, idle or busy', async () => {
    manager.lead();
    await settle();
    // Lost and won back while every worker was idle, waiting for a key: many times over.
    for (let i = 0; i < 50; i++) {
      manager.stopLeading();
      manager.lead();
    }
    for (let i = 0; i < 10; i++) manager.queue.add(`${NS}/idle-${i}`);
    await settle(20);
    expect(reconciler.inFlight).toBe(2);

    // Lost and won back while both workers were busy reconciling.
    manager.stopLeading();
    manager.lead();
    for (let i = 0; i < 10; i++) manager.queue.add(`${NS}/busy-${i}`);
    await settle(20);
    expect(reconciler.inFlight).toBe(2);

    while (reconciler.reconciled.length < 20) {
      reconciler.release();
      await settle();
    }
    expect(reconciler.maxInFlight).toBe(2);
    expect(new Set(reconciler.reconciled).size).toBe(20);
  });

  test('takes no key while not leading; on leading again it queues every cached site', async () => {
    api.create(SITE_RESOURCE, site('a', 'db'));
    api.create(SITE_RESOURCE, site('b', 'db'));
    manager.startInformers();
    await manager.waitSynced();
    reconciler.blocking = false;
    manager.lead();
    await until(() => reconciler.reconciled.length === 2, 'both sites reconciled');
    manager.stopLeading();
    manager.queue.add(`${NS}/a`);
    await settle(20);
    expect(reconciler.reconciled).toHaveLength(2);
    manager.lead();
    await until(() => reconciler.reconciled.length === 4, 'both sites reconciled again');
    expect(reconciler.reconciled.slice(2).sort()).toEqual([`${NS}/a`, `${NS}/b`]);
    expect(reconciler.maxInFlight).toBeLessThanOrEqual(2);
  });
});

// ---- informers -> keys ------------------------------------------------------------------------

function site(name: string, primary: string, kind = 'StatefulSet'): KubeObject {
  return {
    apiVersion: 'standby.dev/v1alpha1',
    kind: 'StandbySite',
    metadata: { name, namespace: NS },
    spec: { tier: 'hot', primary: { workload: { kind, name: primary }, service: primary } },
  } as KubeObject;
}

function statefulSet(name: string, app: string): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace: NS },
    spec: { serviceName: name, selector: { matchLabels: { app } }, template: { metadata: { labels: { app } }, spec: { containers: [] } } },
  } as KubeObject;
}

function pod(name: string, labels: Record<string, string>, ready = true): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  } as KubeObject;
}

/** Every key queued so far (the manager is not leading, so nothing takes them). */
async function queued(): Promise<string[]> {
  const out: string[] = [];
  while (manager.queue.depth > 0) {
    const k = (await manager.queue.get())!;
    out.push(k);
    manager.queue.done(k);
  }
  return out.sort();
}

/** Changes an object through the API and waits until the cache shows it (its handlers have run). */
async function change(res: typeof R.pod, obj: KubeObject, cache: { get(key: string): KubeObject | undefined }): Promise<void> {
  const updated = api.update(res, obj);
  const key = `${NS}/${obj.metadata?.name ?? ''}`;
  await until(() => cache.get(key)?.metadata?.resourceVersion === updated.metadata?.resourceVersion, `the cache to show ${key}`);
}

describe('Manager: which sites a change wakes', () => {
  beforeEach(async () => {
    api.create(SITE_RESOURCE, site('db-site', 'db'));
    api.create(SITE_RESOURCE, site('web-site', 'web'));
    api.create(R.statefulSet, statefulSet('db', 'db'));
    api.create(R.statefulSet, statefulSet('web', 'web'));
    api.create(R.pod, pod('stray', { app: 'other' }));
    api.create(R.pod, pod('standby-0', { [LABEL_SITE]: 'db-site', [LABEL_ROLE]: 'standby' }));
    manager.startInformers();
    await manager.waitSynced();
    await queued();
    reconciler.readyPrimaries.length = 0;
  });

  test('a pod relabelled into a primary selector wakes that site (and notes a Ready primary pod)', async () => {
    await change(R.pod, pod('stray', { app: 'db' }), caches.pods);
    expect(await queued()).toEqual([`${NS}/db-site`]);
    expect(reconciler.readyPrimaries).toEqual([`${NS}/db-site`]);
  });

  test('a pod relabelled from one primary selector to another wakes both sites', async () => {
    await change(R.pod, pod('stray', { app: 'db' }), caches.pods);
    await queued();
    await change(R.pod, pod('stray', { app: 'web' }, false), caches.pods);
    expect(await queued()).toEqual([`${NS}/db-site`, `${NS}/web-site`]);
  });

  test("a pod whose site label changes wakes the site it left and the one it joined", async () => {
    await change(R.pod, pod('standby-0', { [LABEL_SITE]: 'web-site', [LABEL_ROLE]: 'standby' }), caches.pods);
    expect(await queued()).toEqual([`${NS}/db-site`, `${NS}/web-site`]);
  });

  test('a relabelled pod no site selects, before or after, wakes nothing; nor does an update that changes nothing a site reads', async () => {
    await change(R.pod, pod('stray', { app: 'still-other' }), caches.pods);
    expect(await queued()).toEqual([]);
    await change(R.pod, { ...pod('stray', { app: 'still-other' }), spec: { nodeName: 'n1' } } as KubeObject, caches.pods);
    expect(await queued()).toEqual([]);
  });

  test('a primary pod turning Ready wakes its site through its owner', async () => {
    const owned = (ready: boolean) =>
      ({ ...pod('db-0', { app: 'db' }, ready), metadata: { name: 'db-0', namespace: NS, labels: { app: 'db' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: 'u', controller: true }] } }) as KubeObject;
    api.create(R.pod, owned(false));
    await until(() => caches.pods.get(`${NS}/db-0`), 'the new pod in the cache');
    await queued();
    await change(R.pod, owned(true), caches.pods);
    expect(await queued()).toEqual([`${NS}/db-site`]);
    expect(reconciler.readyPrimaries).toEqual([`${NS}/db-site`]);
  });

  test("a site's labels changing wakes it; its own status write does not", async () => {
    const live = api.get<KubeObject>(SITE_RESOURCE, NS, 'db-site')!;
    await change(SITE_RESOURCE, { ...live, status: { phase: 'Protected' } } as KubeObject, caches.sites);
    expect(await queued()).toEqual([]);
    await change(SITE_RESOURCE, { ...live, metadata: { ...live.metadata, labels: { team: 'a' } } }, caches.sites);
    expect(await queued()).toEqual([`${NS}/db-site`]);
  });
});

describe('Manager: urgent sites', () => {
  test("a primary pod turning not Ready puts its site before routine keys queued earlier; a promotion under way keeps it urgent", async () => {
    api.create(SITE_RESOURCE, site('db-site', 'db'));
    api.create(R.statefulSet, statefulSet('db', 'db'));
    const owned = (ready: boolean) =>
      ({ ...pod('db-0', { app: 'db' }, ready), metadata: { name: 'db-0', namespace: NS, labels: { app: 'db' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: 'u', controller: true }] } }) as KubeObject;
    api.create(R.pod, owned(true));
    manager.startInformers();
    await manager.waitSynced();
    await queued();
    for (let i = 0; i < 5; i++) manager.queue.add(`${NS}/routine-${i}`);
    expect(manager.isUrgent(`${NS}/db-site`)).toBe(false);
    await change(R.pod, owned(false), caches.pods);
    expect(manager.queue.urgentDepth).toBe(1);
    expect(await manager.queue.get()).toBe(`${NS}/db-site`);
    manager.queue.done(`${NS}/db-site`);
    // Ready again: routine; a promotion recorded in the site's status: urgent again.
    await change(R.pod, owned(true), caches.pods);
    expect(manager.isUrgent(`${NS}/db-site`)).toBe(false);
    const live = api.get<KubeObject>(SITE_RESOURCE, NS, 'db-site')!;
    await change(SITE_RESOURCE, { ...live, status: { promotion: { state: 'Fencing' } } } as KubeObject, caches.sites);
    expect(manager.isUrgent(`${NS}/db-site`)).toBe(true);
    // Failed again, then promoted: the follow-up reconciles are routine.
    await change(R.pod, owned(false), caches.pods);
    const fencing = api.get<KubeObject>(SITE_RESOURCE, NS, 'db-site')!;
    await change(SITE_RESOURCE, { ...fencing, status: { promotion: { state: 'Promoted' } } } as KubeObject, caches.sites);
    expect(manager.isUrgent(`${NS}/db-site`)).toBe(false);
  });
});

// The fence keeper (src/witness/keeper.ts, keeper-loop.ts): its deadline from what the guard
// recorded, and the loop on a fake clock with in-memory ports for this cluster: when it fences,
// what it writes, what it never does (lift a fence, adopt a NetworkPolicy it did not create).
import pino from 'pino';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { afterEach, describe, expect, test } from 'vitest';
import type { GuardObject } from '../../../src/api/guard.ts';
import { ApiError } from '../../../src/k8s/client.ts';
import { keeperAction, keeperPlan, notePing } from '../../../src/witness/keeper.ts';
import { FenceKeeper, type KeeperPorts } from '../../../src/witness/keeper-loop.ts';
import { ANNOTATION_FENCED_BY, ANNOTATION_FENCE_REASON, selfFenceOwnedBy } from '../../../src/witness/self-fence.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { validated } from '../support/models.ts';

const HOLDER = 'primary:site-uid-1';
const TERM = 6_000; // leaseDuration 8s − safetyMargin 2s
const CREATED = Date.parse('2026-03-01T11:00:00Z');

function makeGuard(status?: GuardObject['status'], ack?: number): GuardObject {
  return {
    apiVersion: 'standby.dev/v1alpha1',
    kind: 'StandbySiteGuard',
    metadata: { name: 'orders', namespace: 'shop', uid: 'guard-uid', generation: 1, creationTimestamp: new Date(CREATED).toISOString() },
    spec: {
      site: { name: 'orders', namespace: 'shop', uid: 'site-uid-1' },
      workload: { kind: 'StatefulSet', name: 'orders' },
      witness: { kubeconfigSecret: { name: 'witness', key: 'kubeconfig' }, namespace: 'leases', leaseName: 'standby-shop-orders' },
      holder: HOLDER,
      epoch: 2,
      timing: { leaseDuration: '8s', renewInterval: '2s', requestTimeout: '1s', safetyMargin: '2s', acquireAfter: '8s', fenceWithin: '3s' },
      ...(ack !== undefined ? { ack: { ping: ack, at: new Date(CREATED).toISOString() } } : {}),
    },
    ...(status ? { status } : {}),
  };
}

const iso = (ms: number) => new Date(ms).toISOString();
const held = (renewedAt?: number, epoch = 2, holder = HOLDER): GuardObject['status'] => ({ lease: { holder, epoch, ...(renewedAt !== undefined ? { renewedAt: iso(renewedAt) } : {}) } });

describe("the keeper's deadline (keeperPlan)", () => {
  const R = Date.parse('2026-03-01T12:00:00Z');

  test("from the recorded renewal: renewedAt + leaseDuration − safetyMargin, while the status shows this side's lease", () => {
    const p = keeperPlan(makeGuard(held(R)), new Map());
    expect(p).toMatchObject({ carry: true, deadline: R + TERM, basis: 'renewal' });
    expect(keeperAction(p, R + TERM - 1, undefined, 'orders-self-fence')).toMatchObject({ do: 'wait', at: R + TERM });
    expect(keeperAction(p, R + TERM, 'absent', 'orders-self-fence')).toMatchObject({ do: 'fence', basis: 'renewal' });
  });

  test('no renewal recorded (no status, a lease without renewedAt, an older epoch of this holder): creationTimestamp + term', () => {
    for (const status of [undefined, held(undefined), held(R, 1)]) {
      expect(keeperPlan(makeGuard(status), new Map())).toMatchObject({ carry: true, deadline: CREATED + TERM, basis: 'creation' });
    }
  });

  test('a lease held by the other side, or at a newer epoch: fenced at once (the guard has lost it for good)', () => {
    for (const status of [held(R, 2, 'standby:site-uid-1'), held(R, 3)]) {
      const p = keeperPlan(makeGuard(status), new Map());
      expect(p).toMatchObject({ carry: true, deadline: 0, basis: 'lost' });
      expect(keeperAction(p, R, 'absent', 'x')).toMatchObject({ do: 'fence', basis: 'lost' });
    }
  });

  test("a failsafe ping the standby answered extends the deadline from the ping's send; one the keeper never saw does not", () => {
    const pings = new Map<number, number>();
    const ping = (n: number, at: number) => ({ ...held(R), ping: { number: n, sentAt: iso(at) } });
    notePing(pings, makeGuard(ping(4, R + 3_000)));
    notePing(pings, makeGuard(ping(5, R + 5_000)));
    // Answered up to 4: counted from ping 4's send.
    expect(keeperPlan(makeGuard(ping(5, R + 5_000), 4), pings)).toMatchObject({ deadline: R + 3_000 + TERM, basis: 'failsafe' });
    // Answered up to 5: from ping 5; ping 4 no longer kept.
    notePing(pings, makeGuard(ping(5, R + 5_000), 5));
    expect([...pings.keys()]).toEqual([5]);
    expect(keeperPlan(makeGuard(ping(5, R + 5_000), 5), pings)).toMatchObject({ deadline: R + 5_000 + TERM, basis: 'failsafe' });
    // A keeper that never saw ping 3 (it started later) counts only the renewal.
    expect(keeperPlan(makeGuard(held(R), 3), new Map([[5, R + 5_000]]))).toMatchObject({ deadline: R + TERM, basis: 'renewal' });
  });

  test('past the deadline: nothing when the fence is there; a conflict (never adopted) when the policy is not the guard\'s', () => {
    const p = keeperPlan(makeGuard(held(R)), new Map());
    expect(keeperAction(p, R + TERM + 5, 'ours', 'orders-self-fence')).toMatchObject({ do: 'nothing' });
    const conflict = keeperAction(p, R + TERM + 5, 'foreign', 'orders-self-fence');
    expect(conflict.do).toBe('conflict');
    expect(conflict.do === 'conflict' ? conflict.message : '').toMatch(/orders-self-fence .*did not create/);
  });

  test('a timing that does not parse: carries nothing (the guard does not guard it either)', () => {
    const g = makeGuard(held(R));
    g.spec.timing.leaseDuration = 'soon';
    expect(keeperPlan(g, new Map())).toMatchObject({ carry: false });
  });
});

class World implements KeeperPorts {
  guard: GuardObject;
  fence: INetworkPolicy | undefined;
  creates = 0;
  deletes = 0;
  events: { type: string; reason: string; message: string }[] = [];
  constructor(g: GuardObject) {
    this.guard = g;
  }
  getGuard = () => Promise.resolve(this.guard);
  workload = () => Promise.resolve({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'orders' }, spec: { selector: { matchLabels: { app: 'orders' } } } } as never);
  getFence = () => Promise.resolve(this.fence);
  createFence = (np: INetworkPolicy) => {
    validated(np); // every fence the keeper writes passes the Kubernetes schema
    this.creates++;
    if (this.fence) return Promise.reject(new ApiError(409, 'AlreadyExists', 'networkpolicies "orders-self-fence" already exists'));
    this.fence = { ...np, metadata: { ...np.metadata, uid: 'np-uid' } };
    return Promise.resolve();
  };
  event = (_g: GuardObject, type: 'Normal' | 'Warning', reason: string, message: string) => {
    this.events.push({ type, reason, message });
    return Promise.resolve();
  };
}

const log = pino({ level: 'silent' });
let keeper: FenceKeeper | undefined;
afterEach(async () => {
  await keeper?.stop();
  keeper = undefined;
});

describe('the fence keeper loop', () => {
  test('fences at renewedAt + term (a timer, not a poll), with the guard\'s name, owner and labels and its reason in annotations; an Event', async () => {
    const clock = new FakeClock();
    const world = new World(makeGuard(held(clock.wall())));
    const results: string[] = [];
    keeper = new FenceKeeper({ clock, ports: world, log, resyncMs: 60_000, onResult: (r) => results.push(r) });
    keeper.update(world.guard);
    expect(clock.pending).toContain(TERM + 1);
    await clock.advance(TERM);
    expect(world.fence).toBeUndefined();
    await clock.advance(1);
    expect(world.fence?.metadata).toMatchObject({ name: 'orders-self-fence', namespace: 'shop', labels: { 'standby.dev/role': 'self-fence' } });
    expect(selfFenceOwnedBy(world.fence!, world.guard)).toBe(true);
    expect(world.fence?.spec).toEqual({ podSelector: { matchLabels: { app: 'orders' } }, policyTypes: ['Ingress', 'Egress'] });
    expect(world.fence?.metadata?.annotations?.[ANNOTATION_FENCED_BY]).toBe('fence-keeper');
    expect(world.fence?.metadata?.annotations?.[ANNOTATION_FENCE_REASON]).toMatch(/renewal of the lease sent at/);
    expect(world.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'FencedByKeeper' })]);
    expect(results).toEqual(['renewal']);
  });

  test('a live guard that records its renewals moves the deadline ahead: never fenced', async () => {
    const clock = new FakeClock();
    const world = new World(makeGuard(held(clock.wall())));
    keeper = new FenceKeeper({ clock, ports: world, log, resyncMs: 3_000 });
    keeper.update(world.guard);
    for (let i = 0; i < 20; i++) {
      await clock.advance(2_000);
      // The guard renews every renewInterval and records the renewal's send time (a little earlier).
      world.guard = makeGuard(held(clock.wall() - 300));
      keeper.update(world.guard);
    }
    expect(world.creates).toBe(0);
    expect(keeper.deadlineOf('shop/orders')).toBe(clock.wall() - 300 + TERM);
  });

  test('the guard reread at the deadline: a renewal recorded just now (not yet in the cache) moves it, no fence', async () => {
    const clock = new FakeClock();
    const world = new World(makeGuard(held(clock.wall())));
    keeper = new FenceKeeper({ clock, ports: world, log, resyncMs: 60_000 });
    keeper.update(world.guard);
    await clock.advance(TERM - 500);
    world.guard = makeGuard(held(clock.wall()));
    await clock.advance(501);
    expect(world.fence).toBeUndefined();
    await clock.advance(TERM);
    expect(world.fence).toBeDefined();
  });

  test('already fenced: writes nothing; never lifts a fence; writes it again if it is deleted while the deadline stays past', async () => {
    const clock = new FakeClock();
    const world = new World(makeGuard(held(clock.wall())));
    keeper = new FenceKeeper({ clock, ports: world, log, resyncMs: 5_000 });
    world.fence = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'orders-self-fence', namespace: 'shop', uid: 'np-0', ownerReferences: [{ apiVersion: 'standby.dev/v1alpha1', kind: 'StandbySiteGuard', name: 'orders', uid: 'guard-uid', controller: true }] } };
    keeper.update(world.guard);
    await clock.advance(TERM + 20_000);
    expect(world.creates).toBe(0);
    expect(world.fence.metadata?.uid).toBe('np-0');
    world.fence = undefined;
    await clock.advance(5_000);
    expect(world.fence).toBeDefined();
    expect(world.creates).toBe(1);
  });

  test('a NetworkPolicy of that name it did not create: never adopted or changed; FenceConflict reported once', async () => {
    const clock = new FakeClock();
    const world = new World(makeGuard(held(clock.wall() - TERM - 1)));
    const foreign: INetworkPolicy = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'orders-self-fence', namespace: 'shop', uid: 'np-x' }, spec: { podSelector: {} } };
    world.fence = foreign;
    keeper = new FenceKeeper({ clock, ports: world, log, resyncMs: 2_000 });
    keeper.update(world.guard);
    await clock.advance(10_000);
    expect(world.fence).toBe(foreign);
    expect(world.creates).toBe(0);
    expect(world.events.filter((e) => e.reason === 'FenceConflict')).toHaveLength(1);
    expect(world.events[0]?.message).toMatch(/did not create/);
  });

  test('a lease held by the other side: fenced at once; a deleted guard: its timer goes', async () => {
    const clock = new FakeClock();
    const world = new World(makeGuard(held(clock.wall(), 2, 'standby:site-uid-1')));
    keeper = new FenceKeeper({ clock, ports: world, log, resyncMs: 60_000 });
    keeper.update(world.guard);
    await clock.advance(0);
    expect(world.fence).toBeDefined();
    const other = new World(makeGuard(held(clock.wall())));
    const k2 = new FenceKeeper({ clock, ports: other, log, resyncMs: 60_000 });
    k2.update(other.guard);
    k2.remove('shop/orders');
    await clock.advance(TERM + 10);
    expect(other.fence).toBeUndefined();
    await k2.stop();
  });
});

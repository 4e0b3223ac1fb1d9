// The guard loop (src/witness/guard-loop.ts) on a fake clock, with an in-memory witness whose
// requests can hang (a partition) and in-memory ports for this cluster: what it writes, when.
import pino from 'pino';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { afterEach, describe, expect, test } from 'vitest';
import type { GuardObject, GuardStatus } from '../../../src/api/guard.ts';
import { GuardLoop, type GuardPorts, type WitnessLease } from '../../../src/witness/guard-loop.ts';
import { keeperPlan } from '../../../src/witness/keeper.ts';
import type { StoredRecord } from '../../../src/witness/store.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { validated } from '../support/models.ts';

const UID = 'site-uid-1';
const HOLDER = `primary:${UID}`;

function makeGuard(): GuardObject {
  return {
    apiVersion: 'standby.dev/v1alpha1',
    kind: 'StandbySiteGuard',
    metadata: { name: 'orders', namespace: 'shop', uid: 'guard-uid', generation: 1 },
    spec: {
      site: { name: 'orders', namespace: 'shop', uid: UID },
      workload: { kind: 'StatefulSet', name: 'orders' },
      witness: { kubeconfigSecret: { name: 'witness', key: 'kubeconfig' }, namespace: 'leases', leaseName: 'standby-shop-orders' },
      holder: HOLDER,
      epoch: 1,
      timing: { leaseDuration: '8s', renewInterval: '2s', requestTimeout: '1s', safetyMargin: '2s', acquireAfter: '8s', fenceWithin: '3s' },
    },
  };
}

/** The witness's lease, in memory; `down` makes every request hang, as across a partition. */
class FakeWitness implements WitnessLease {
  record: (StoredRecord & { writes: number }) | undefined;
  down = false;
  private rv = 1;
  private gate<T>(fn: () => T): Promise<T> {
    return this.down ? new Promise<T>(() => undefined) : Promise.resolve().then(fn);
  }
  read() {
    return this.gate(() => (this.record ? { ...this.record } : undefined));
  }
  create(holder: string, epoch: number, wallMs: number) {
    return this.gate((): StoredRecord | 'exists' => {
      if (this.record) return 'exists';
      this.record = { holder, epoch, resourceVersion: String(this.rv++), renewTime: new Date(wallMs).toISOString(), writes: 0 };
      return { ...this.record };
    });
  }
  write(expect: string, holder: string, epoch: number, wallMs: number) {
    return this.gate((): StoredRecord | 'conflict' | 'gone' => {
      if (!this.record) return 'gone';
      if (this.record.resourceVersion !== expect) return 'conflict';
      this.record = { holder, epoch, resourceVersion: String(this.rv++), renewTime: new Date(wallMs).toISOString(), writes: this.record.writes + 1 };
      return { ...this.record };
    });
  }
}

class World implements GuardPorts {
  guard: GuardObject | undefined = makeGuard();
  fence: INetworkPolicy | undefined;
  statuses: GuardStatus[] = [];
  events: { type: string; reason: string; message: string }[] = [];
  readonly w = new FakeWitness();
  witness = () => Promise.resolve(this.w);
  workload = () => Promise.resolve({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'orders' }, spec: { selector: { matchLabels: { app: 'orders' } } } } as never);
  getFence = () => Promise.resolve(this.fence);
  createFence = (np: INetworkPolicy) => {
    validated(np); // every self-fence the loop writes passes the Kubernetes schema
    if (this.fence) return Promise.reject(new Error('AlreadyExists'));
    this.fence = { ...np, metadata: { ...np.metadata, uid: 'np-uid', creationTimestamp: new Date().toISOString() } };
    return Promise.resolve();
  };
  deleteFence = () => {
    this.fence = undefined;
    return Promise.resolve();
  };
  writeStatus = (_g: GuardObject, s: GuardStatus) => {
    this.statuses.push(s);
    if (this.guard) this.guard = { ...this.guard, status: s };
    return Promise.resolve();
  };
  event = (_g: GuardObject, type: 'Normal' | 'Warning', reason: string, message: string) => {
    this.events.push({ type, reason, message });
    return Promise.resolve();
  };
  get status(): GuardStatus | undefined {
    return this.statuses.at(-1);
  }
  cond(type: string) {
    return this.status?.conditions?.find((c) => c.type === type);
  }
}

const log = pino({ level: 'silent' });
let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

function start(world: World, clock: FakeClock) {
  const loop = new GuardLoop({ clock, ports: world, log, current: () => world.guard });
  const ac = new AbortController();
  const done = loop.run(ac.signal);
  stop = async () => {
    ac.abort();
    await done;
  };
  return loop;
}

/** The fence the keeper writes (keeper-loop.ts) while the operator is down, 30 s before `clock`'s now. */
function keeperFence(clock: FakeClock): INetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: 'orders-self-fence',
      uid: 'np-keeper',
      annotations: { 'standby.dev/fenced-by': 'fence-keeper', 'standby.dev/fence-reason': 'no renewal recorded', 'standby.dev/fenced-at': new Date(clock.wall() - 30_000).toISOString() },
      ownerReferences: [{ apiVersion: 'standby.dev/v1alpha1', kind: 'StandbySiteGuard', name: 'orders', uid: 'guard-uid', controller: true }],
    },
  };
}

describe('the guard loop', () => {
  test('creates the first record, renews every renewInterval, and writes its status only when it changes', async () => {
    const clock = new FakeClock();
    const world = new World();
    start(world, clock);
    await clock.advance(0);
    expect(world.w.record).toMatchObject({ holder: HOLDER, epoch: 1 });
    expect(world.cond('LeaseHeld')).toMatchObject({ status: 'True', reason: 'Renewed', observedGeneration: 1 });
    expect(world.status?.lease).toMatchObject({ holder: HOLDER, epoch: 1 });
    const writes = world.statuses.length;
    await clock.advance(20_000);
    expect(world.w.record?.writes).toBe(10);
    // One write per renewal, and only renewedAt changes: the fence keeper counts from it.
    expect(world.statuses.length - writes).toBe(10);
    expect(Date.parse(world.status!.lease!.renewedAt!)).toBe(Date.parse(world.w.record!.renewTime!));
    expect(world.statuses.slice(writes).every((x) => JSON.stringify(x.conditions) === JSON.stringify(world.statuses[writes - 1]!.conditions))).toBe(true);
    expect(world.fence).toBeUndefined();
  });

  test('cut from the witness with no answer, fences itself at leaseDuration − safetyMargin after the last renewal sent; an Event; healed, lifts the fence', async () => {
    const clock = new FakeClock();
    const world = new World();
    const loop = start(world, clock);
    await clock.advance(0);
    const lastSent = loop.guardState!.renewedSentAt!;
    world.w.down = true;
    await clock.advance(lastSent + 6_000 - clock.now() - 1);
    expect(world.fence).toBeUndefined();
    expect(world.cond('WitnessReachable')).toMatchObject({ status: 'False', reason: 'RenewalFailed' });
    expect(world.status?.ping?.number).toBeGreaterThan(0);
    await clock.advance(2);
    expect(world.fence?.metadata?.name).toBe('orders-self-fence');
    expect(world.fence?.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'StandbySiteGuard', uid: 'guard-uid', controller: true })]);
    expect(world.fence?.spec).toEqual({ podSelector: { matchLabels: { app: 'orders' } }, policyTypes: ['Ingress', 'Egress'] });
    expect(world.cond('SelfFenced')).toMatchObject({ status: 'True' });
    expect(world.events.map((e) => e.reason)).toContain('SelfFenced');
    world.w.down = false;
    await clock.advance(2_000);
    expect(world.fence).toBeUndefined();
    expect(world.cond('LeaseHeld')?.status).toBe('True');
    expect(world.status?.fenced).toBeUndefined();
    expect(world.events.map((e) => e.reason)).toContain('SelfFenceLifted');
  });

  test('failsafe: a standby answering every ping keeps a primary cut from the witness serving; unanswered, it fences', async () => {
    const clock = new FakeClock();
    const world = new World();
    const loop = start(world, clock);
    await clock.advance(0);
    world.w.down = true;
    for (let i = 0; i < 60; i++) {
      await clock.advance(500);
      const n = world.status?.ping?.number ?? 0;
      if (n > (world.guard!.spec.ack?.ping ?? 0)) {
        world.guard = { ...world.guard!, spec: { ...world.guard!.spec, ack: { ping: n, at: new Date(clock.wall()).toISOString() } } };
        loop.poke();
      }
      expect(world.fence, `fenced at ${i * 500} ms despite the answers`).toBeUndefined();
    }
    expect(world.cond('SelfFenced')).toMatchObject({ status: 'False', reason: 'ConfirmedByStandby' });
    // An answer to an older ping than the last one sent does not confirm the newer one.
    await clock.advance(8_000);
    expect(world.fence).toBeDefined();
  });

  test('a takeover on the witness is lost for good: fenced, an Event, and the lease never written again', async () => {
    const clock = new FakeClock();
    const world = new World();
    start(world, clock);
    await clock.advance(0);
    world.w.record = { ...world.w.record!, holder: `standby:${UID}`, epoch: 2, resourceVersion: '99' };
    await clock.advance(2_000);
    expect(world.cond('LeaseHeld')).toMatchObject({ status: 'False', reason: 'Lost' });
    expect(world.fence).toBeDefined();
    expect(world.events.filter((e) => e.reason === 'LeaseLost')).toHaveLength(1);
    await clock.advance(20_000);
    expect(world.w.record).toMatchObject({ holder: `standby:${UID}`, epoch: 2, resourceVersion: '99' });
    expect(world.fence).toBeDefined();
  });

  test('a NetworkPolicy of the self-fence name that the guard did not create is a conflict, never adopted or deleted', async () => {
    const clock = new FakeClock();
    const world = new World();
    world.fence = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'orders-self-fence', uid: 'theirs' }, spec: { podSelector: {} } };
    world.w.down = true;
    start(world, clock);
    await clock.advance(10_000);
    expect(world.fence.metadata?.uid).toBe('theirs');
    expect(world.cond('SelfFenced')).toMatchObject({ status: 'False', reason: 'FenceConflict' });
    expect(world.cond('SelfFenced')?.message).toMatch(/did not create/);
  });

  test("a restarted guard serves only for what is left of its own last renewal's term (status.lease.renewedAt)", async () => {
    const clock = new FakeClock();
    const world = new World();
    world.w.record = { holder: HOLDER, epoch: 1, resourceVersion: '5', renewTime: undefined, writes: 0 };
    world.guard!.status = { lease: { holder: HOLDER, epoch: 1, renewedAt: new Date(clock.wall() - 4_000).toISOString() } };
    world.w.down = true;
    start(world, clock);
    await clock.advance(1_500);
    expect(world.fence).toBeUndefined();
    await clock.advance(1_000);
    expect(world.fence).toBeDefined();
  });

  test("a fence the keeper wrote while the operator was down: the restarted guard reports it, records its renewal and only then lifts it", async () => {
    const clock = new FakeClock();
    const world = new World();
    world.w.record = { holder: HOLDER, epoch: 1, resourceVersion: '5', renewTime: undefined, writes: 0 };
    world.guard!.status = { lease: { holder: HOLDER, epoch: 1, renewedAt: new Date(clock.wall() - 60_000).toISOString() } };
    world.guard!.metadata.uid = 'guard-uid';
    world.fence = keeperFence(clock);
    // The order of what the guard does: each status (with the fence still there or not), then the lift.
    const seen: { fence: boolean; renewedAt: string | undefined }[] = [];
    const write = world.writeStatus;
    world.writeStatus = (g, st) => {
      seen.push({ fence: world.fence !== undefined, renewedAt: st.lease?.renewedAt });
      return write(g, st);
    };
    world.w.down = true;
    start(world, clock);
    await clock.advance(1_500);
    expect(world.fence?.metadata?.uid).toBe('np-keeper');
    expect(world.status?.fenced?.reason).toBe('fenced by the fence keeper: no renewal recorded');
    world.w.down = false;
    await clock.advance(2_000);
    expect(world.fence).toBeUndefined();
    expect(world.events.some((e) => e.reason === 'SelfFenceLifted')).toBe(true);
    // The renewal that lifts the fence was in the status while the fence was still there.
    const renewed = seen.findIndex((x) => x.renewedAt !== undefined && Date.parse(x.renewedAt) > clock.wall() - 10_000);
    expect(renewed).toBeGreaterThanOrEqual(0);
    expect(seen[renewed]!.fence).toBe(true);
  });

  test("restarted while the witness is out, behind the keeper's fence: the standby's answer to its ping lifts the fence, and the keeper's deadline moves past now", async () => {
    const clock = new FakeClock();
    const world = new World();
    world.w.record = { holder: HOLDER, epoch: 1, resourceVersion: '5', renewTime: undefined, writes: 0 };
    world.guard!.status = { lease: { holder: HOLDER, epoch: 1, renewedAt: new Date(clock.wall() - 60_000).toISOString() } };
    world.fence = keeperFence(clock);
    world.w.down = true;
    const loop = start(world, clock);
    await clock.advance(1_500);
    // No renewal answers: still fenced, and a ping is out for the standby's site.
    expect(world.fence?.metadata?.uid).toBe('np-keeper');
    const ping = world.status?.ping;
    expect(ping?.number).toBeGreaterThan(0);
    world.guard = { ...world.guard!, spec: { ...world.guard!.spec, ack: { ping: ping!.number, at: new Date(clock.wall()).toISOString() } } };
    loop.poke();
    await clock.advance(10);
    expect(world.fence).toBeUndefined();
    expect(world.status?.fenced).toBeUndefined();
    expect(world.cond('SelfFenced')).toMatchObject({ status: 'False', reason: 'ConfirmedByStandby' });
    expect(world.events.find((e) => e.reason === 'SelfFenceLifted')?.message).toMatch(/standby's site confirmed/);
    // The keeper, reading this guard, counts from the answered ping: no fence again behind it.
    const plan = keeperPlan(world.guard, new Map([[ping!.number, Date.parse(ping!.sentAt)]]));
    expect(plan).toMatchObject({ carry: true, basis: 'failsafe' });
    expect(plan.carry && plan.deadline > clock.wall()).toBe(true);
    // Unanswered from then on, it fences again at the end of the confirmed term.
    await clock.advance(8_000);
    expect(world.fence).toBeDefined();
  });
});

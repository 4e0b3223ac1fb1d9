// Leader election against a fake API server and a fake clock: acquiring, renewing, respecting
// another holder, losing at the renew deadline, wall-clock steps, and no leak per retry period.
import { getEventListeners } from 'node:events';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { R } from '../../../src/k8s/resources.ts';
import type { KubeObject } from '../../../src/k8s/types.ts';
import { LeaderElector, type LeaderOptions } from '../../../src/process/leader.ts';
import { FakeApi } from '../support/fake-api.ts';
import { FakeClock, until } from '../support/fake-clock.ts';

interface Lease extends KubeObject {
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

const NS = 'ops';
const NAME = 'standby-operator';
const log = pino({ level: 'silent' });

let api: FakeApi;
let clock: FakeClock;
let abort: AbortController;
let running: Promise<void> | undefined;
let started: number;
let stopped: number;

beforeEach(async () => {
  api = await FakeApi.start();
  clock = new FakeClock();
  abort = new AbortController();
  running = undefined;
  started = 0;
  stopped = 0;
});

afterEach(async () => {
  abort.abort();
  await running;
  await api.close();
});

function elect(opts: Partial<LeaderOptions> = {}): LeaderElector {
  const elector = new LeaderElector(api.client(), {
    namespace: NS,
    name: NAME,
    identity: 'me',
    log,
    clock,
    onStartedLeading: () => started++,
    onStoppedLeading: () => stopped++,
    ...opts,
  });
  running = elector.run(abort.signal);
  return elector;
}

const lease = () => api.get<Lease>(R.lease, NS, NAME);
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/** Lets one retry period pass: fires the loop's timer and waits until it has set the next one. */
async function period(): Promise<number> {
  const moved = await clock.next();
  await until(() => clock.pending.length === 1, 'the loop to wait for its next retry period');
  return moved;
}

function otherHolds(renewAtWall: number): void {
  const spec = { holderIdentity: 'other', leaseDurationSeconds: 15, renewTime: iso(renewAtWall), acquireTime: iso(renewAtWall), leaseTransitions: 3 };
  const have = lease();
  if (have) api.update(R.lease, { ...have, spec });
  else api.create(R.lease, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: NAME, namespace: NS }, spec });
}

describe('LeaderElector', () => {
  test('acquires a free lease, then renews it every retry period with the wall time in renewTime', async () => {
    const elector = elect();
    await until(() => started === 1, 'leading');
    await until(() => clock.pending.length === 1, 'the first retry period');
    expect(elector.isLeader).toBe(true);
    const first = lease()!.spec!;
    expect(first).toMatchObject({ holderIdentity: 'me', leaseDurationSeconds: 15, leaseTransitions: 0 });
    expect(first.renewTime).toBe(iso(clock.wall()));
    expect(await period()).toBe(2_000);
    const second = lease()!.spec!;
    expect(second.renewTime).toBe(iso(clock.wall()));
    expect(second.acquireTime).toBe(first.acquireTime);
    expect(second.leaseTransitions).toBe(0);
    expect(started).toBe(1);
    expect(stopped).toBe(0);
  });

  test("respects another holder's lease while it is renewed, takes it over once unrenewed for its duration (by our own clock)", async () => {
    // The other replica's clock is an hour behind: its renewTime looks stale, which must not matter.
    otherHolds(clock.wall() - 3_600_000);
    const elector = elect();
    await until(() => clock.pending.length === 1, 'the first retry period');
    for (let i = 0; i < 10; i++) {
      otherHolds(clock.wall() - 3_600_000 + i);
      await period();
      expect(elector.isLeader).toBe(false);
    }
    expect(lease()!.spec!.holderIdentity).toBe('other');
    // The other replica stops renewing: 15 s later by our clock, the lease is ours.
    let waited = 0;
    while (started === 0) {
      waited += await period();
      if (waited > 20_000) throw new Error('never took the expired lease over');
    }
    expect(waited).toBeGreaterThanOrEqual(15_000);
    expect(waited).toBeLessThanOrEqual(15_000 + 2_000);
    expect(lease()!.spec).toMatchObject({ holderIdentity: 'me', leaseTransitions: 4 });
    expect(elector.isLeader).toBe(true);
  });

  test('a leader that cannot renew stops at the renew deadline: isLeader turns false at once, the loop then stops it', async () => {
    const elector = elect({ retryPeriodMs: 3_000 });
    await until(() => clock.pending.length === 1, 'the first retry period');
    expect(started).toBe(1);
    api.fail({ verb: 'get', plural: 'leases' }, 500);
    for (let t = 3_000; t <= 9_000; t += 3_000) {
      await period();
      expect(elector.isLeader, `at ${t} ms`).toBe(true);
      expect(stopped).toBe(0);
    }
    // 10 s after the last renewal, between two retry periods: no longer the leader.
    await clock.advance(999);
    expect(elector.isLeader).toBe(true);
    await clock.advance(1);
    expect(elector.isLeader).toBe(false);
    expect(stopped).toBe(0);
    await period();
    expect(stopped).toBe(1);
    // Renewals work again: leading again, on the same lease.
    api.heal();
    await period();
    expect(started).toBe(2);
    expect(elector.isLeader).toBe(true);
  });

  test('a leader stops at once when another replica holds the lease', async () => {
    const elector = elect();
    await until(() => clock.pending.length === 1, 'the first retry period');
    otherHolds(clock.wall());
    await period();
    expect(stopped).toBe(1);
    expect(elector.isLeader).toBe(false);
  });

  test('a wall clock stepped back does not keep a leader that cannot renew past its deadline', async () => {
    const elector = elect();
    await until(() => clock.pending.length === 1, 'the first retry period');
    api.fail({ verb: 'get', plural: 'leases' }, 500);
    clock.stepWall(-3_600_000);
    for (let i = 0; i < 5; i++) await period();
    expect(elector.isLeader).toBe(false);
    expect(stopped).toBe(1);
  });

  test('a wall clock stepped forward neither drops a lease that renews nor steals a live one', async () => {
    const leader = elect();
    await until(() => clock.pending.length === 1, 'the first retry period');
    await period();
    clock.stepWall(3_600_000);
    expect(leader.isLeader).toBe(true);
    await period();
    expect(leader.isLeader).toBe(true);
    expect(stopped).toBe(0);
    abort.abort();
    await running;

    // A follower whose clock steps forward while the holder keeps renewing.
    abort = new AbortController();
    started = 0;
    otherHolds(clock.wall());
    const follower = elect({ identity: 'follower' });
    await until(() => clock.pending.length === 1, 'the first retry period');
    otherHolds(clock.wall() + 1);
    await period();
    clock.stepWall(3_600_000);
    otherHolds(clock.wall() + 2);
    await period();
    expect(follower.isLeader).toBe(false);
    expect(started).toBe(0);
    expect(lease()!.spec!.holderIdentity).toBe('other');
  });

  test('10,000 retry periods leave no listener behind on the abort signal', async () => {
    // As a follower (one read per period, half a leader's requests): the wait between periods,
    // where listeners were left behind, is the same for leader and follower.
    otherHolds(clock.wall());
    const elector = elect();
    await until(() => clock.pending.length === 1, 'the first retry period');
    const before = getEventListeners(abort.signal, 'abort').length;
    for (let i = 0; i < 10_000; i++) {
      if (i % 5 === 0) otherHolds(clock.wall() + i);
      await period();
    }
    expect(elector.isLeader).toBe(false);
    expect(api.count('get', 'leases')).toBeGreaterThanOrEqual(10_001);
    expect(getEventListeners(abort.signal, 'abort').length).toBe(before);
    expect(before).toBeLessThanOrEqual(1);
  }, 180_000);

  test('release gives the lease up so that another replica takes over at once', async () => {
    const elector = elect();
    await until(() => clock.pending.length === 1, 'the first retry period');
    abort.abort();
    await running;
    await elector.release();
    expect(lease()!.spec).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
    expect(elector.isLeader).toBe(false);
  });
});

import { describe, expect, test } from 'vitest';
import { confirm, decideAcquire, observe, startWatcher, type AcquireInput } from '../../../src/witness/acquire.ts';
import { renewedSinceAcquired } from '../../../src/witness/store.ts';
import { DEFAULT_TIMING as T } from '../../../src/witness/timing.ts';

const rec = (rv: string, holder = 'east', epoch = 1) => ({ holder, epoch, resourceVersion: rv });
const input = (o: Partial<AcquireInput>): AcquireInput => ({
  watcher: observe(startWatcher(0, T), rec('5'), 0),
  now: 0,
  timing: T,
  self: 'west',
  primaryGoneSince: undefined,
  failureThreshold: 20_000,
  primaryFenced: false,
  holderRenewed: true,
  ...o,
});

describe("the standby site's takeover", () => {
  test('nothing while the primary serves, whatever the lease says', () => {
    expect(decideAcquire(input({ now: 1e9 }))).toEqual({ action: 'none', reason: 'the primary serves' });
  });

  test('a new version of the record restarts the count; the same version keeps it', () => {
    let w = observe(startWatcher(0, T), rec('5'), 1_000);
    w = observe(w, rec('5'), 30_000);
    expect(w.observedAt).toBe(1_000);
    w = observe(w, rec('6'), 40_000);
    expect(w.observedAt).toBe(40_000);
  });

  test('waits for the failure threshold, the lease term plus acquireAfter, and its own start, each named', () => {
    const w = observe(startWatcher(0, T), rec('5'), 10_000);
    const d = decideAcquire(input({ watcher: w, now: 30_000, primaryGoneSince: 20_000 }));
    expect(d.action).toBe('wait');
    if (d.action !== 'wait') return;
    expect(d.until).toBe(70_000);
    expect(d.reason).toContain('promotion.failureThreshold 20s');
    expect(d.reason).toContain('last renewed 20s ago, of leaseDuration + acquireAfter 60s');
    expect(d.reason).toContain('confirmed to the primary');
    expect(decideAcquire(input({ watcher: w, now: 70_000, primaryGoneSince: 20_000 }))).toMatchObject({ action: 'takeOver', expect: '5', holder: 'west', epoch: 2 });
  });

  test('a promise to the primary site holds off the takeover for leaseDuration + acquireAfter', () => {
    const w0 = observe(startWatcher(0, T), rec('5'), 0);
    const c = confirm(w0, 100_000, T, false);
    expect(c.ok).toBe(true);
    if (!c.ok) return;
    expect(decideAcquire(input({ watcher: c.watcher, now: 159_999, primaryGoneSince: 0 })).action).toBe('wait');
    expect(decideAcquire(input({ watcher: c.watcher, now: 160_000, primaryGoneSince: 0 })).action).toBe('takeOver');
    expect(confirm(w0, 100_000, T, true)).toEqual({ ok: false, reason: 'the standby site is promoting: it confirms nothing' });
  });

  test('a fence of its own confirmed in the primary cluster waives the lease term, not the failure threshold', () => {
    const w = observe(startWatcher(0, T), rec('5'), 10_000);
    expect(decideAcquire(input({ watcher: w, now: 30_000, primaryGoneSince: 20_000, primaryFenced: true })).action).toBe('wait');
    expect(decideAcquire(input({ watcher: w, now: 40_000, primaryGoneSince: 20_000, primaryFenced: true })).action).toBe('takeOver');
  });

  test('maxPromotions: a takeover is a promotion; refused once the budget is used, naming it, before the lease is written', () => {
    const w = observe(startWatcher(0, T), rec('5'), 0);
    const due = { watcher: w, now: 1e6, primaryGoneSince: 0 };
    // Budget left: taken over as without one.
    expect(decideAcquire(input({ ...due, budget: { count: 2, windowMs: 3_600_000, used: 1, freesInMs: 1_800_000 } }))).toMatchObject({ action: 'takeOver', epoch: 2 });
    const d = decideAcquire(input({ ...due, budget: { count: 1, windowMs: 3_600_000, used: 1, freesInMs: 1_800_000 } }));
    expect(d).toMatchObject({ action: 'refuse', reason: 'BudgetExhausted', retryAfterMs: 1_800_000 });
    if (d.action !== 'refuse') return;
    expect(d.message).toContain('1 promotion(s) in the last 3600s used the budget of 1 (promotion.maxPromotions)');
    expect(d.message).toContain('the next is allowed in 1800s');
    // The conditions that come first still wait first: the budget is only the last word.
    expect(decideAcquire(input({ watcher: w, now: 1_000, primaryGoneSince: 0, budget: { count: 1, windowMs: 3_600_000, used: 1, freesInMs: 1 } })).action).toBe('wait');
    expect(decideAcquire(input({ now: 1e6, budget: { count: 1, windowMs: 3_600_000, used: 5, freesInMs: 1 } })).action).toBe('none');
  });

  test('never without having read the witness, never over its own record', () => {
    expect(decideAcquire(input({ watcher: startWatcher(0, T), now: 1e9, primaryGoneSince: 0 })).action).toBe('none');
    expect(decideAcquire(input({ watcher: observe(startWatcher(0, T), rec('9', 'west', 2), 0), now: 1e9, primaryGoneSince: 0 }))).toMatchObject({
      action: 'none',
      reason: 'this site holds the lease (epoch 2)',
    });
  });
  test('a lease its holder never renewed since acquiring it is not taken over: no guard promised a fence', () => {
    const w = observe(startWatcher(0, T), rec('5'), 0);
    const d = decideAcquire(input({ watcher: w, now: 1e6, primaryGoneSince: 0, holderRenewed: false }));
    expect(d.action).toBe('wait');
    expect(d.action === 'wait' && d.reason).toContain('never renewed');
    // The same record once renewed, everything else equal: taken over.
    expect(decideAcquire(input({ watcher: w, now: 1e6, primaryGoneSince: 0, holderRenewed: true })).action).toBe('takeOver');
    // A fence of this site's own, confirmed in the primary's cluster, stops that primary without its guard.
    expect(decideAcquire(input({ watcher: w, now: 1e6, primaryGoneSince: 0, holderRenewed: false, primaryFenced: true })).action).toBe('takeOver');
  });
  test('renewed since acquired: the renewTime its holder wrote moved past the acquireTime', () => {
    const r = (acquireTime: string | undefined, renewTime: string | undefined) => ({ ...rec('5'), acquireTime, renewTime });
    expect(renewedSinceAcquired(r('2026-12-02T04:00:00.000000Z', '2026-12-02T04:00:00.000000Z'))).toBe(false);
    expect(renewedSinceAcquired(r('2026-12-02T04:00:00.000000Z', '2026-12-02T04:00:01.500000Z'))).toBe(true);
    expect(renewedSinceAcquired(r(undefined, '2026-12-02T04:00:01.500000Z'))).toBe(false);
  });
});

import { describe, expect, test } from 'vitest';
import { afterEvent, decide, initialGuard } from '../../../src/witness/guard.ts';
import { firstRecord, renewalOf, takeoverOf } from '../../../src/witness/lease.ts';
import { DEFAULT_TIMING as T } from '../../../src/witness/timing.ts';

describe("the primary's guard", () => {
  test('serves for leaseDuration − safetyMargin from the send of its last renewal that succeeded, then fences', () => {
    let g = initialGuard(0, undefined);
    expect(decide(g, 0, T)).toMatchObject({ serve: false, reason: 'the lease has not been renewed since the guard started' });
    g = afterEvent(g, { type: 'renewed', sentAt: 1_000 });
    expect(decide(g, 25_999, T)).toMatchObject({ serve: true, until: 26_000, by: 'lease' });
    g = afterEvent(g, { type: 'renewFailed', error: 'dial tcp 10.0.3.1:6443: i/o timeout' });
    const d = decide(g, 26_000, T);
    expect(d).toMatchObject({ serve: false, since: 26_000 });
    expect(d.reason).toContain('neither the witness nor the standby');
    expect(d.reason).toContain('i/o timeout');
  });

  test('a late answer to an older renewal never moves the deadline back', () => {
    let g = afterEvent(initialGuard(0, undefined), { type: 'renewed', sentAt: 20_000 });
    g = afterEvent(g, { type: 'renewed', sentAt: 10_000 });
    expect(decide(g, 44_000, T)).toMatchObject({ serve: true, until: 45_000 });
  });

  test('failsafe: a confirmation from the standby site keeps a primary cut off from the witness serving', () => {
    let g = afterEvent(initialGuard(0, undefined), { type: 'renewed', sentAt: 0 });
    g = afterEvent(g, { type: 'renewFailed', error: 'witness unreachable' });
    g = afterEvent(g, { type: 'confirmed', sentAt: 20_000 });
    const d = decide(g, 30_000, T);
    expect(d).toMatchObject({ serve: true, until: 45_000, by: 'failsafe' });
    expect(d.serve && d.reason).toContain('witness unreachable');
    expect(decide(g, 45_000, T).serve).toBe(false);
  });

  test('a lost lease fences for good: no renewal or confirmation afterwards makes it serve', () => {
    let g = afterEvent(initialGuard(0, undefined), { type: 'renewed', sentAt: 0 });
    const r = renewalOf({ holder: 'standby-site', epoch: 2, resourceVersion: '9' }, 'primary-site', 1);
    expect(r.action).toBe('lost');
    if (r.action !== 'lost') return;
    g = afterEvent(g, { type: 'lost', holder: r.holder, epoch: r.epoch, message: r.message });
    g = afterEvent(g, { type: 'renewed', sentAt: 5_000 });
    g = afterEvent(g, { type: 'confirmed', sentAt: 5_000 });
    expect(decide(g, 6_000, T)).toEqual({ serve: false, since: undefined, reason: r.message });
    expect(r.message).toBe("the witness's lease is held by standby-site at epoch 2 (this site, primary-site, held epoch 1): the other site took over");
  });

  test('after a restart, only what is left of the last term (from the lease renewTime it wrote) is served', () => {
    expect(decide(initialGuard(100_000, 20_000), 100_000, T)).toMatchObject({ serve: true, until: 105_000 });
    expect(decide(initialGuard(100_000, 30_000), 100_000, T).serve).toBe(false);
    expect(decide(initialGuard(100_000, -5), 100_000, T).serve).toBe(false);
  });
});

describe('the lease record', () => {
  test('renewal keeps holder and epoch and expects the version read; takeover opens the next epoch', () => {
    expect(firstRecord('east')).toEqual({ holder: 'east', epoch: 1 });
    expect(renewalOf({ holder: 'east', epoch: 1, resourceVersion: '7' }, 'east', 1)).toEqual({ action: 'renew', expect: '7', holder: 'east', epoch: 1 });
    expect(renewalOf({ holder: 'east', epoch: 3, resourceVersion: '7' }, 'east', 1).action).toBe('lost');
    expect(takeoverOf({ holder: 'east', epoch: 1, resourceVersion: '7' }, 'west')).toEqual({ expect: '7', holder: 'west', epoch: 2 });
  });
});

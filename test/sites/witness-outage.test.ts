// A witness outage, for real, with the primary's operator restarted in the middle of it: both
// operators and the primary site's fence keeper run as processes in their sites' network
// namespaces, the witness site is cut from both. The standby's site answers the guard's failsafe
// pings, so the primary serves. Its operator is killed: nobody pings, and the keeper fences the
// primary at the end of the last confirmed term. The operator restarted (the witness still out),
// its guard pings, the standby's site answers, and the fence is lifted: a witness outage alone
// does not keep a healthy primary down, whatever restarts meanwhile. No takeover all along.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { waitFor } from '../cluster/helpers.ts';
import { heal, isolate, type SiteRecord } from '../cluster/sites.ts';
import { startGuardedPair, type GuardedPair, type GuardView } from './guarded-pair.ts';
import { apply, eventsOf, waitForSite } from './support.ts';

const dir = inject('sitesDir');
const ns = `wout-${Date.now().toString(36)}`;
const witnessNs = `${ns}-witness`;
let pair: GuardedPair;
let primary: SiteRecord;
let standby: SiteRecord;

const cond = (g: GuardView | undefined, type: string) => g?.status?.conditions?.find((c) => c.type === type);
const guard = () => pair.guard();
const fence = () => pair.fence();
const leaseHolders = async () => (await pair.leases()).map((l) => l.spec.holderIdentity);

beforeAll(async () => {
  pair = await startGuardedPair(ns, witnessNs);
  ({ primary, standby } = pair);
}, 600_000);

afterAll(() => pair?.tearDown(dir));

describe('a witness outage with a restart of the primary\'s operator', () => {
  it("the keeper fences while the operator is down; restarted, the guard lifts the fence on the standby's answer, the witness still out; no takeover", async () => {
    await apply(standby, pair.manifest, ns);
    await waitForSite(standby, ns, 'orders', (x) => x.status?.phase === 'Protected', 'Protected', 120_000);
    await waitFor(async () => cond(await guard().catch(() => undefined), 'LeaseHeld')?.status === 'True', { timeoutMs: 60_000, description: 'the guard holds the lease' });

    // The witness is cut from both sites: the guard serves by the standby's answers (failsafe).
    await isolate(dir, 'witness');
    await waitFor(async () => cond(await guard(), 'SelfFenced')?.reason === 'ConfirmedByStandby', { timeoutMs: 30_000, description: "the primary confirmed by the standby's site" });
    expect(await fence()).toBeUndefined();

    // The primary's operator dies: no more pings; the keeper fences at the end of the confirmed term.
    await pair.opPrimary!.kill();
    pair.opPrimary = undefined;
    const np = await waitFor(fence, { timeoutMs: 60_000, intervalMs: 200, description: "the keeper's fence" });
    expect(np.metadata.annotations?.['standby.dev/fenced-by']).toBe('fence-keeper');
    expect(np.metadata.annotations?.['standby.dev/fence-reason']).toMatch(/failsafe ping/);

    // Restarted with the witness still out: a ping, the standby's answer, the fence lifted.
    const restartedAt = Date.now();
    await pair.restartPrimaryOperator();
    await waitFor(async () => (await fence()) === undefined, { timeoutMs: 60_000, intervalMs: 200, description: 'the fence lifted' });
    console.log(`fence lifted ${((Date.now() - restartedAt) / 1000).toFixed(1)}s after the operator was restarted, the witness still cut`);
    const g = await guard();
    expect(cond(g, 'SelfFenced')).toMatchObject({ status: 'False', reason: 'ConfirmedByStandby' });
    expect(g.status?.fenced).toBeUndefined();
    await waitFor(async () => (await eventsOf(primary, ns, 'orders')).some((e) => e.reason === 'SelfFenceLifted' && /standby's site confirmed/.test(e.message)), { timeoutMs: 30_000, description: 'a SelfFenceLifted Event' });
    // It stays lifted while the answers go on (two terms of leaseDuration − safetyMargin).
    for (let i = 0; i < 18; i++) {
      await new Promise((r) => setTimeout(r, 500));
      expect(await fence(), `fenced again ${(i + 1) * 0.5}s after the lift`).toBeUndefined();
    }

    // Healed: the lease is still the primary's, renewed again; the standby's site never promoted.
    await heal(dir);
    await waitFor(async () => cond(await guard(), 'LeaseHeld')?.reason === 'Renewed', { timeoutMs: 30_000, description: 'the lease renewed after the heal' });
    expect((await leaseHolders()).every((h) => h.startsWith('primary:'))).toBe(true);
    const s = await waitForSite(standby, ns, 'orders', (x) => x.status?.phase === 'Protected', 'still Protected', 30_000);
    expect(s.status?.promotion).toBeUndefined();
  }, 300_000);
});

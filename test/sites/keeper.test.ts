// The fence keeper, for real: both operators and the primary site's fence keeper run as processes
// in their sites' network namespaces (as the chart's ServiceAccounts), the witness site's API
// server holds the lease. The primary's site is cut from the witness and the standby's site and
// its operator is killed and not restarted: nobody renews and the guard cannot fence. The keeper
// fences the primary from what the guard recorded (status.lease.renewedAt), and the fence is there
// while the witness's lease is still the primary's, before the standby's site takes it over.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { waitFor } from '../cluster/helpers.ts';
import { heal, isolate, type SiteRecord } from '../cluster/sites.ts';
import { startGuardedPair, type GuardedPair, type LeaseView } from './guarded-pair.ts';
import { apply, eventsOf, waitForSite } from './support.ts';

const dir = inject('sitesDir');
const ns = `keeper-${Date.now().toString(36)}`;
// A witness namespace of its own: the only lease there is this test's.
const witnessNs = `${ns}-witness`;
let pair: GuardedPair;
let primary: SiteRecord;
let standby: SiteRecord;

const guard = () => pair.guard();
const fence = () => pair.fence();
const leases = () => pair.leases();

beforeAll(async () => {
  pair = await startGuardedPair(ns, witnessNs);
  ({ primary, standby } = pair);
}, 600_000);

afterAll(() => pair?.tearDown(dir));

describe("the primary site's fence keeper", () => {
  it("fences the primary when its operator dies during an isolation, before the standby's site takes the lease over", async () => {
    await apply(standby, pair.manifest, ns);
    await waitForSite(standby, ns, 'orders', (x) => x.status?.phase === 'Protected', 'Protected', 120_000);
    const held = await waitFor(
      async () => {
        const g = await guard().catch(() => undefined);
        return g?.status?.conditions?.some((c) => c.type === 'LeaseHeld' && c.status === 'True') && g.status.lease?.renewedAt ? g : undefined;
      },
      { timeoutMs: 60_000, description: 'the guard holds the lease and recorded a renewal' },
    );
    // A live guard records every renewal: renewedAt moves on while nothing is cut.
    await waitFor(async () => ((await guard()).status?.lease?.renewedAt ?? '') > held.status!.lease!.renewedAt!, { timeoutMs: 20_000, description: 'renewedAt refreshed' });
    expect(await fence()).toBeUndefined();

    await isolate(dir, 'primary');
    await pair.opPrimary!.kill();
    pair.opPrimary = undefined;
    const killedAt = Date.now();
    // Poll the fence and the witness's lease together (the runner reaches every site).
    let fencedWhile: LeaseView | undefined;
    const np = await waitFor(
      async () => {
        const p = await fence();
        if (p) fencedWhile = (await leases())[0];
        return p;
      },
      { timeoutMs: 60_000, intervalMs: 200, description: "the keeper's fence" },
    );
    console.log(`keeper's fence seen ${((Date.now() - killedAt) / 1000).toFixed(1)}s after the operator was killed`);
    expect(np.metadata.annotations?.['standby.dev/fenced-by']).toBe('fence-keeper');
    expect(np.metadata.annotations?.['standby.dev/fence-reason']).toMatch(/renewal of the lease sent at/);
    expect(np.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'StandbySiteGuard', uid: held.metadata.uid })]);
    // Still the primary's lease when the fence was already there.
    expect(fencedWhile?.spec.holderIdentity).toMatch(/^primary:/);
    await waitFor(async () => (await eventsOf(primary, ns, 'orders')).some((e) => e.reason === 'FencedByKeeper'), { timeoutMs: 30_000, description: 'a FencedByKeeper Event' });

    // The standby's site takes over (the primary is cut from it and from the witness), after the fence.
    const after = await waitFor(
      async () => {
        const l = (await leases())[0];
        return l && !l.spec.holderIdentity.startsWith('primary:') ? l : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 300, description: "the standby's takeover of the lease" },
    );
    expect(Date.parse(after.spec.renewTime!)).toBeGreaterThan(Date.parse(np.metadata.annotations!['standby.dev/fenced-at']!));
    // The keeper never lifts: the fence is still there.
    expect(await fence()).toBeDefined();
  }, 300_000);

  it('the restarted operator, healed, sees the lease lost and keeps the fence; its status says the keeper fenced', async () => {
    await heal(dir);
    await pair.restartPrimaryOperator();
    const g = await waitFor(
      async () => {
        const x = await guard();
        return x.status?.conditions?.some((c) => c.type === 'LeaseHeld' && c.reason === 'Lost') ? x : undefined;
      },
      { timeoutMs: 60_000, description: 'LeaseHeld reason Lost' },
    );
    expect(g.status?.conditions?.find((c) => c.type === 'SelfFenced')?.status).toBe('True');
    expect(g.status?.fenced?.reason).toMatch(/^fenced by the fence keeper: /);
    expect((await fence())?.metadata.annotations?.['standby.dev/fenced-by']).toBe('fence-keeper');
  }, 120_000);
});

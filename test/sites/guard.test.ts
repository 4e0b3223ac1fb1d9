// Automatic site failover, the primary's side, for real: the operator runs inside the primary
// site's network namespace and guards a StandbySiteGuard that this test writes as the standby's
// operator would; the witness site's API server holds the lease. A partition between the primary
// and the witness is answered by the failsafe while the "standby" acks the pings; without acks
// the primary fences itself; healing lifts the fence; a takeover on the witness fences for good.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { waitFor } from '../cluster/helpers.ts';
import { useSites } from '../cluster/site-helpers.ts';
import { heal, partition, readSites, site, type SiteRecord } from '../cluster/sites.ts';
import { KubeClient } from '../../src/k8s/client.ts';
import { loadConnection } from '../../src/k8s/connection.ts';
import { WitnessStore } from '../../src/witness/store.ts';
import { apply, eventsOf, installCrd, kubectl, kubectlJson, operatorIdentity, startOperatorIn, statefulPrimary, type SiteOperator } from './support.ts';

const dir = inject('sitesDir');
const ns = `guard-${Date.now().toString(36)}`;
const witnessNs = `lease-${Date.now().toString(36)}`;
const UID = `0000-guard-${Date.now().toString(36)}`;
const HOLDER = `primary:${UID}`;
const LEASE = `standby-${ns}-orders`;
const FENCE = 'orders-self-fence';
let primary: SiteRecord;
let witness: SiteRecord;
let operator: SiteOperator | undefined;

interface Guard {
  metadata: { generation: number };
  spec: { ack?: { ping: number; at: string } };
  status?: {
    observedGeneration?: number;
    conditions?: { type: string; status: string; reason: string; message: string; observedGeneration?: number }[];
    ping?: { number: number; sentAt: string };
    lease?: { holder: string; epoch: number; renewedAt?: string };
    fenced?: { since: string; reason: string };
  };
}
interface Lease {
  metadata: { resourceVersion: string; annotations?: Record<string, string> };
  spec: { holderIdentity: string; renewTime: string };
}

const GUARD = `
apiVersion: standby.dev/v1alpha1
kind: StandbySiteGuard
metadata: {name: orders}
spec:
  site: {name: orders, namespace: standby-ns, uid: ${UID}}
  workload: {kind: StatefulSet, name: orders}
  witness:
    kubeconfigSecret: {name: witness, key: kubeconfig}
    namespace: ${witnessNs}
    leaseName: ${LEASE}
  holder: ${HOLDER}
  epoch: 1
  timing: {leaseDuration: 8s, renewInterval: 2s, requestTimeout: 1s, safetyMargin: 2s, acquireAfter: 8s, fenceWithin: 3s}
`;

const guard = () => kubectlJson<Guard>(primary, ['-n', ns, 'get', 'standbysiteguard', 'orders']);
const cond = (g: Guard, type: string) => g.status?.conditions?.find((c) => c.type === type);
const lease = () => kubectlJson<Lease>(witness, ['-n', witnessNs, 'get', 'lease', LEASE]);
const fence = async () => {
  const list = await kubectlJson<{ items: { metadata: { name: string; ownerReferences?: { kind: string; name: string }[] } }[] }>(primary, ['-n', ns, 'get', 'networkpolicies']);
  return list.items.find((p) => p.metadata.name === FENCE);
};

async function waitGuard(ok: (g: Guard) => boolean, description: string, timeoutMs = 60_000): Promise<Guard> {
  let last: Guard | undefined;
  try {
    return await waitFor(async () => ((last = await guard()), ok(last) ? last : undefined), { timeoutMs, intervalMs: 300, description });
  } catch (err) {
    throw new Error(`${(err as Error).message}; last status: ${JSON.stringify(last?.status)}`, { cause: err });
  }
}

/** Plays the standby's operator: answers every ping the guard writes, for `ms`. Returns the pings answered. */
async function ackPings(ms: number, check: () => Promise<void>): Promise<number> {
  const until = Date.now() + ms;
  let acked = 0;
  let answered = 0;
  while (Date.now() < until) {
    const g = await guard();
    const n = g.status?.ping?.number ?? 0;
    if (n > acked) {
      await kubectl(primary, ['-n', ns, 'patch', 'standbysiteguard', 'orders', '--type', 'merge', '-p', JSON.stringify({ spec: { ack: { ping: n, at: new Date().toISOString() } } })]);
      acked = n;
      answered++;
    }
    await check();
    await new Promise((r) => setTimeout(r, 200));
  }
  return answered;
}

beforeAll(async () => {
  await useSites();
  const state = (await readSites(dir))!;
  primary = site(state, 'primary');
  witness = site(state, 'witness');
  await installCrd(primary);
  await waitFor(async () => (await kubectl(primary, ['get', 'crd', 'standbysiteguards.standby.dev', '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}'])).trim() === 'True', {
    timeoutMs: 60_000,
    description: 'the StandbySiteGuard CRD Established',
  });
  const identity = await operatorIdentity(primary);
  await kubectl(primary, ['create', 'namespace', ns]);
  await kubectl(witness, ['create', 'namespace', witnessNs]);
  // The witness's kubeconfig with everything embedded, as a user would put it in the Secret.
  const kubeconfig = await kubectl(witness, ['config', 'view', '--raw', '--minify', '--flatten']);
  await apply(primary, JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'witness' }, stringData: { kubeconfig } }), ns);
  await apply(primary, statefulPrimary('orders'), ns);
  operator = await startOperatorIn(primary, identity, [ns]);
  // What the standby's operator writes into the primary's cluster.
  await apply(primary, GUARD, ns);
}, 180_000);

afterAll(async () => {
  await heal(dir).catch(() => undefined);
  await operator?.stop();
  await kubectl(primary, ['delete', 'namespace', ns, '--wait=false']).catch(() => '');
  await kubectl(witness, ['delete', 'namespace', witnessNs, '--wait=false']).catch(() => '');
});

describe("the primary's guard", () => {
  it('creates the lease on the witness and renews it; LeaseHeld=True', async () => {
    const first = await waitFor(() => lease().catch(() => undefined), { timeoutMs: 60_000, description: 'the lease on the witness' });
    expect(first.spec.holderIdentity).toBe(HOLDER);
    expect(first.metadata.annotations?.['standby.dev/epoch']).toBe('1');
    const later = await waitFor(async () => {
      const l = await lease();
      return l.metadata.resourceVersion !== first.metadata.resourceVersion && l.spec.renewTime !== first.spec.renewTime ? l : undefined;
    }, { timeoutMs: 30_000, description: 'a renewal (renewTime and resourceVersion advance)' });
    expect(Date.parse(later.spec.renewTime)).toBeGreaterThan(Date.parse(first.spec.renewTime));
    const g = await waitGuard((x) => cond(x, 'LeaseHeld')?.status === 'True', 'LeaseHeld=True');
    expect(cond(g, 'LeaseHeld')?.observedGeneration).toBe(g.metadata.generation);
    expect(cond(g, 'SelfFenced')?.status).toBe('False');
    expect(g.status?.lease).toMatchObject({ holder: HOLDER, epoch: 1 });
    expect(await fence()).toBeUndefined();
  });

  it('cut from the witness, stays unfenced while the standby answers its pings (failsafe)', async () => {
    await partition(dir, 'primary', 'witness');
    await waitGuard((x) => cond(x, 'WitnessReachable')?.status === 'False' && (x.status?.ping?.number ?? 0) > 0, 'WitnessReachable=False and a ping', 30_000);
    // Twice leaseDuration: without the answers the guard would have fenced by now.
    const answered = await ackPings(16_000, async () => {
      expect(await fence(), 'no self-fence while the standby confirms').toBeUndefined();
    });
    expect(answered).toBeGreaterThanOrEqual(3);
    const g = await guard();
    expect(cond(g, 'SelfFenced')).toMatchObject({ status: 'False', reason: 'ConfirmedByStandby' });
  });

  it('with no answer either, fences itself within leaseDuration − safetyMargin (+ slack); SelfFenced=True and an Event', async () => {
    const stoppedAt = Date.now();
    await waitFor(fence, { timeoutMs: 6_000 + 15_000, intervalMs: 300, description: 'the self-fence NetworkPolicy' });
    const np = (await fence())!;
    expect(np.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'StandbySiteGuard', name: 'orders' })]);
    const g = await waitGuard((x) => cond(x, 'SelfFenced')?.status === 'True', 'SelfFenced=True', 30_000);
    expect(g.status?.fenced?.reason).toMatch(/neither the witness nor the standby/);
    expect(cond(g, 'LeaseHeld')?.status).toBe('False');
    await waitFor(async () => (await eventsOf(primary, ns, 'orders')).some((e) => e.reason === 'SelfFenced'), { timeoutMs: 30_000, description: 'a SelfFenced Event' });
    console.log(`self-fence NetworkPolicy seen ${((Date.now() - stoppedAt) / 1000).toFixed(1)}s after the last ack`);
  });

  it('healed, renews again and lifts its fence (the lease is still its own)', async () => {
    await heal(dir);
    await waitFor(async () => (await fence()) === undefined, { timeoutMs: 30_000, intervalMs: 300, description: 'the self-fence lifted' });
    const g = await waitGuard((x) => cond(x, 'LeaseHeld')?.status === 'True' && cond(x, 'SelfFenced')?.status === 'False' && !x.status?.fenced, 'LeaseHeld=True, not fenced');
    expect(cond(g, 'WitnessReachable')?.status).toBe('True');
    expect((await lease()).spec.holderIdentity).toBe(HOLDER);
  });

  it('a takeover on the witness (epoch + 1) is lost for good: fenced and stays fenced', async () => {
    const store = new WitnessStore(new KubeClient(await loadConnection(witness.kubeconfig)), witnessNs, LEASE, 8);
    const rec = (await store.read())!;
    // The standby's takeover: its own identity at the next epoch, on the version it read.
    const took = await store.write(rec.resourceVersion, `standby:${UID}`, rec.epoch + 1, Date.now());
    expect(took).toMatchObject({ holder: `standby:${UID}`, epoch: 2 });
    const g = await waitGuard((x) => cond(x, 'LeaseHeld')?.reason === 'Lost', 'LeaseHeld=False reason Lost', 30_000);
    expect(cond(g, 'LeaseHeld')?.status).toBe('False');
    await waitFor(fence, { timeoutMs: 15_000, intervalMs: 300, description: 'the self-fence after the loss' });
    await waitFor(async () => (await eventsOf(primary, ns, 'orders')).some((e) => e.reason === 'LeaseLost'), { timeoutMs: 30_000, description: 'a LeaseLost Event' });
    // Several renewIntervals later: still fenced, and the witness still shows the standby's lease.
    await new Promise((r) => setTimeout(r, 8_000));
    expect(await fence()).toBeDefined();
    expect(cond(await guard(), 'SelfFenced')?.status).toBe('True');
    expect((await lease()).spec.holderIdentity).toBe(`standby:${UID}`);
  });
});

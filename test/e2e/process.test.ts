// The operator as a process: leader election between two replicas, take-over
// when the leader dies, and a clean exit on SIGTERM.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { apply, createNamespace, deleteNamespace, kubectl, kubectlJson, waitFor } from '../cluster/helpers.ts';
import { installCrd, startOperator, statefulPrimary, waitForSite, type OperatorProcess } from './support/operator.ts';
import { operatorIdentity, type OperatorIdentity } from './support/identity.ts';

let n = '';
let identity: OperatorIdentity;
const running: OperatorProcess[] = [];

beforeAll(async () => {
  await installCrd();
  n = await createNamespace('process');
  identity = await operatorIdentity();
  // A Lease left by an earlier run must not decide who leads here.
  await kubectl(['-n', identity.namespace, 'delete', 'lease', identity.lease, '--ignore-not-found']);
});

afterAll(async () => {
  for (const p of running) await p.kill();
  await deleteNamespace(n);
});

async function metric(p: OperatorProcess, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${p.healthPort}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const [key, value] = line.split(' ');
    if (key === undefined || value === undefined) continue;
    if (key !== name && !key.startsWith(`${name}{`)) continue;
    if (labels && !key.includes(labels)) continue;
    total += Number(value);
  }
  return total;
}

const LEASE_ENV = { LEADER_ELECT: 'true' };

describe('leader election', () => {
  test('of two replicas exactly one acts; when it is killed the other takes over within the lease duration', async () => {
    const env = LEASE_ENV;
    const a = await startOperator({ namespaces: [n], name: 'replica-a', env: { ...env, POD_NAME: 'replica-a' } });
    running.push(a);
    const b = await startOperator({ namespaces: [n], name: 'replica-b', env: { ...env, POD_NAME: 'replica-b' } });
    running.push(b);
    const leader = await waitFor(
      async () => {
        const [la, lb] = [await metric(a, 'standby_leader'), await metric(b, 'standby_leader')];
        return la + lb === 1 ? (la === 1 ? a : b) : undefined;
      },
      { timeoutMs: 20_000, description: 'exactly one leader' },
    );
    const follower = leader === a ? b : a;
    const lease = await kubectlJson<{ spec: { holderIdentity: string } }>(['-n', identity.namespace, 'get', 'lease', identity.lease]);
    expect(lease.spec.holderIdentity).toBe(leader === a ? 'replica-a' : 'replica-b');

    await apply(statefulPrimary('db'), n);
    await apply(
      `apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: db}
spec:
  tier: hot
  primary: {workload: {kind: StatefulSet, name: db}, service: db}
`,
      n,
    );
    await waitForSite(n, 'db', (s) => s.status?.phase === 'Protected', 'reconciled by the leader');
    expect(await metric(leader, 'standby_reconcile_total')).toBeGreaterThan(0);
    expect(await metric(leader, 'standby_api_requests_total', 'resource="standbysites/status"')).toBeGreaterThan(0);
    // The follower keeps warm caches but never reconciles nor writes.
    expect(await metric(follower, 'standby_reconcile_total')).toBe(0);
    expect(await metric(follower, 'standby_api_requests_total', 'verb="patch"')).toBe(0);
    expect(await metric(follower, 'standby_api_requests_total', 'verb="create",resource="statefulsets"')).toBe(0);

    await leader.kill();
    const killedAt = Date.now();
    await waitFor(async () => (await metric(follower, 'standby_leader')) === 1, { timeoutMs: 25_000, description: 'the follower to take over' });
    // Lease duration 15 s, retry period 2 s: the take-over happens within about 17 s.
    expect(Date.now() - killedAt).toBeLessThan(19_000);
    await kubectl(['-n', n, 'patch', 'standbysite', 'db', '--type=merge', '-p', '{"spec":{"hot":{"replicas":2}}}']);
    await waitForSite(n, 'db', (s) => s.status?.observedGeneration === 2 && s.status.standby?.readyReplicas === 2, 'the new leader reconciles');
    expect(await metric(follower, 'standby_reconcile_total')).toBeGreaterThan(0);
  });
});

describe('shutdown', () => {
  test('SIGTERM while reconciling exits 0 and gives the lease up', async () => {
    for (const p of running.splice(0)) await p.kill();
    const p = await startOperator({ namespaces: [n], name: 'sigterm', env: { ...LEASE_ENV, POD_NAME: 'sigterm' } });
    await waitFor(async () => (await metric(p, 'standby_leader')) === 1, { timeoutMs: 25_000, description: 'leadership' });
    // Give it work, then stop it in the middle of it.
    for (let i = 0; i < 5; i++) {
      await apply(statefulPrimary(`w${i}`), n);
      await apply(
        `apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: w${i}}
spec:
  tier: warm
  primary: {workload: {kind: StatefulSet, name: w${i}}, service: w${i}}
  warm: {schedule: "@hourly"}
`,
        n,
      );
    }
    const stoppedAt = Date.now();
    expect(await p.stop()).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    const lease = await kubectlJson<{ spec: { holderIdentity?: string } }>(['-n', identity.namespace, 'get', 'lease', identity.lease]);
    expect(lease.spec.holderIdentity ?? '').toBe('');
  });
});

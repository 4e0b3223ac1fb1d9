import { describe, expect, test } from 'vitest';
import { validateSpec, type StandbySite } from '../../../src/api/site.ts';
import type { SiteStatus } from '../../../src/api/status.ts';
import { remoteAssessment, remoteReferenceProblems, type RemotePrimary } from '../../../src/controller/remote.ts';
import { activeEndpoint, remoteEvents, withRemoteStatus } from '../../../src/controller/remote-status.ts';
import { forPrimaryCluster } from '../../../src/controller/remote-actuator.ts';
import { buildTrafficService, ANNOTATION_EXTERNAL_DNS } from '../../../src/traffic/service.ts';
import type { PrimarySiteView } from '../../../src/promotion/site-lost.ts';

function site(extra: Record<string, unknown> = {}, status: SiteStatus = {}): StandbySite {
  const spec = {
    tier: 'hot',
    primary: { workload: { kind: 'StatefulSet', name: 'orders' }, service: 'orders', cluster: { kubeconfigSecret: { name: 'primary-cluster' } }, namespace: 'shop-eu' },
    ...extra,
  };
  const v = validateSpec(spec, 'orders');
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return { metadata: { name: 'orders', namespace: 'shop', uid: 'u1', generation: 3 }, spec: v.spec, status };
}

const since = new Date('2026-12-01T10:00:00Z');
const now = new Date('2026-12-01T10:05:00Z');
const down = { server: 'https://10.213.0.10:6443', reachable: false, since, lastError: 'no answer', answering: false };
const up = { ...down, reachable: true, lastError: undefined, answering: true };
const remote = (s: PrimarySiteView = down): RemotePrimary => ({ cluster: undefined, objects: undefined as never, site: s, problem: undefined });

describe('a primary in another cluster: what the reconcile makes of it', () => {
  test('unreachable is not NotReady: the failure clock neither starts nor restarts, the counts are the last known', () => {
    const a = { state: 'NotReady' as const, ready: false, readyReplicas: 0, replicas: 1, notReadySince: now, everReady: true, uid: 'u1', scaledToZero: false, missing: false, serviceSelectsNothing: false, message: '0/1 pods Ready' };
    const prev: SiteStatus = { primary: { state: 'Ready', ready: true, readyReplicas: 1, replicas: 1, everReady: true } };
    const r = remoteAssessment(a, remote(), prev);
    expect(r).toMatchObject({ state: 'Unreachable', ready: false, notReadySince: undefined, everReady: true, readyReplicas: 1 });
    expect(r.message).toContain("the primary's cluster https://10.213.0.10:6443 has not answered since 2026-12-01T10:00:00.000Z (no answer)");
    expect(remoteAssessment(a, remote(up), prev)).toBe(a);
  });

  test("while it does not answer, its Service and claims are not known missing; while it answers, the messages name its namespace there", () => {
    const problems = [
      { message: 'Service orders (spec.primary.service) does not exist in namespace shop', stalls: true },
      { message: "the primary's PersistentVolumeClaim(s) data-orders-0 do not exist yet", stalls: false },
    ];
    expect(remoteReferenceProblems(problems, remote(), site())).toEqual([]);
    expect(remoteReferenceProblems(problems, remote(up), site())[0]?.message).toBe(
      "Service orders (spec.primary.service) does not exist in namespace shop-eu of the primary's cluster",
    );
    expect(remoteReferenceProblems([], { ...remote(), problem: 'Secret primary-cluster does not exist' }, site())).toEqual([{ message: 'Secret primary-cluster does not exist', stalls: true }]);
  });

  test('status.activeEndpoint follows the active side', () => {
    expect(activeEndpoint(site(), { active: 'primary' }, down.server)).toBe('orders.shop-eu.svc (in the cluster at https://10.213.0.10:6443)');
    expect(activeEndpoint(site(), { active: 'standby', trafficService: 'orders-active' }, down.server)).toBe('orders-active.shop.svc');
    expect(activeEndpoint(site({ traffic: { externalDNS: { hostname: 'orders.example.com' } } }), { active: 'primary' }, undefined)).toBe('orders.example.com');
  });

  test('after a site-lost promotion: FencingHolds Unknown until the fence is confirmed there; fencedAt and returnedAt once, with their Events', () => {
    const promotion = { state: 'Promoted' as const, trigger: 'siteLost' as const, startedAt: since.toISOString(), epoch: 1 };
    const s = site({}, {});
    const computed: SiteStatus = { active: 'standby', promotion, conditions: [{ type: 'FencingHolds', status: 'False', reason: 'FenceMissing', message: 'x', lastTransitionTime: since.toISOString() }] };
    const latest: SiteStatus = { epoch: 1, promotion, primarySite: { cluster: down.server, reachable: false, since: since.toISOString() } };
    const cut = withRemoteStatus(computed, { site: s, latest, primarySite: down, fenceConfirmed: false, now });
    expect(cut.epoch).toBe(1);
    expect(cut.primarySite).toEqual({ cluster: down.server, reachable: false, since: since.toISOString(), lastError: 'no answer' });
    const fh = cut.conditions?.find((c) => c.type === 'FencingHolds');
    expect(fh).toMatchObject({ status: 'Unknown', reason: 'FenceNotConfirmed', observedGeneration: 3 });
    expect(fh?.message).toContain('fencing could not be confirmed');

    const back = withRemoteStatus({ ...computed, conditions: [] }, { site: s, latest: cut, primarySite: { ...up, since: now }, fenceConfirmed: true, now });
    expect(back.primarySite).toMatchObject({ reachable: true, fencedAt: now.toISOString(), returnedAt: now.toISOString() });
    const events = remoteEvents(cut, back).map((e) => e.reason);
    expect(events).toEqual(['PrimarySiteReachable', 'PrimarySiteReturned']);
    // Once: the next reconcile keeps the times and says nothing again.
    const later = withRemoteStatus({ ...computed, conditions: [] }, { site: s, latest: back, primarySite: up, fenceConfirmed: true, now: new Date(now.getTime() + 60_000) });
    expect(later.primarySite).toMatchObject({ fencedAt: now.toISOString(), returnedAt: now.toISOString() });
    expect(remoteEvents(back, later)).toEqual([]);
    expect(remoteEvents({ primarySite: { reachable: true } }, { primarySite: { reachable: false, lastError: 'x' } }).map((e) => e.reason)).toEqual(['PrimarySiteUnreachable']);
  });

  test('a fence written in the primary cluster in this reconcile, not yet in its cache: FencingHolds Unknown, then what the cache shows', () => {
    const promotion = { state: 'Promoted' as const, trigger: 'manual' as const, startedAt: since.toISOString(), epoch: 2 };
    const s = site({}, {});
    const missing = { type: 'FencingHolds', status: 'False' as const, reason: 'FenceMissing', message: 'the fence NetworkPolicy orders-fence was removed; the operator re-creates it', lastTransitionTime: since.toISOString() };
    const latest: SiteStatus = { epoch: 2, promotion, primarySite: { cluster: up.server, reachable: true, since: since.toISOString(), fencedAt: since.toISOString() } };
    // The fence was removed there and re-created now: the local view (from the cache) says missing.
    const written = withRemoteStatus({ active: 'standby', promotion, conditions: [missing] }, { site: s, latest, primarySite: up, fenceConfirmed: true, fenceUnseen: true, now });
    const fh = written.conditions?.find((c) => c.type === 'FencingHolds');
    expect(fh).toMatchObject({ status: 'Unknown', reason: 'FenceWritten', observedGeneration: 3 });
    expect(fh?.message).toContain("written in the primary's cluster just now");
    expect(written.conditions?.filter((c) => c.type === 'FencingHolds')).toHaveLength(1);
    // The next reconcile's cache shows it: what status.ts computed stands.
    const held = { ...missing, status: 'True' as const, reason: 'Fenced', message: 'NetworkPolicy orders-fence isolates the old primary' };
    const seen = withRemoteStatus({ active: 'standby', promotion, conditions: [held] }, { site: s, latest: written, primarySite: up, fenceConfirmed: true, fenceUnseen: false, now });
    expect(seen.conditions?.find((c) => c.type === 'FencingHolds')).toMatchObject({ status: 'True', reason: 'Fenced' });
    // A fence missing with nothing written now stays False (it was removed, loudly).
    const removed = withRemoteStatus({ active: 'standby', promotion, conditions: [missing] }, { site: s, latest, primarySite: up, fenceConfirmed: false, now });
    expect(removed.conditions?.find((c) => c.type === 'FencingHolds')).toMatchObject({ status: 'False', reason: 'FenceMissing' });
    // No promotion: nothing to say about a fence.
    expect(withRemoteStatus({ conditions: [] }, { site: s, latest: {}, primarySite: up, fenceConfirmed: false, fenceUnseen: true, now }).conditions).toEqual([]);
  });

  test('objects written in the primary cluster: its namespace, no owner references (the garbage collector there would delete them)', () => {
    const o = forPrimaryCluster({ kind: 'NetworkPolicy', metadata: { name: 'orders-fence', namespace: 'shop', ownerReferences: [{ apiVersion: 'v1', kind: 'X', name: 'y', uid: 'u1' }], annotations: { 'standby.dev/site-uid': 'u1' } } }, 'shop-eu');
    expect(o.metadata).toEqual({ name: 'orders-fence', namespace: 'shop-eu', annotations: { 'standby.dev/site-uid': 'u1' } });
  });

  test('the traffic Service here selects nothing until the standby serves; the ExternalDNS name is on the active side', () => {
    const primaryService = { metadata: { name: 'orders' }, spec: { selector: { app: 'orders' }, ports: [{ port: 5432 }] } };
    const before = buildTrafficService(site(), primaryService, 'primary');
    expect(before.spec?.selector).toBeUndefined();
    expect(buildTrafficService(site(), primaryService, 'standby').spec?.selector).toEqual({ 'standby.dev/site': 'orders', 'standby.dev/role': 'standby' });
    const dns = site({ traffic: { externalDNS: { hostname: 'orders.example.com' } } });
    expect(buildTrafficService(dns, primaryService, 'primary').metadata?.annotations?.[ANNOTATION_EXTERNAL_DNS]).toBeUndefined();
    const after = buildTrafficService(dns, primaryService, 'standby');
    expect(after.metadata?.annotations?.[ANNOTATION_EXTERNAL_DNS]).toBe('orders.example.com');
    expect(after.spec?.type).toBe('LoadBalancer');
  });
});

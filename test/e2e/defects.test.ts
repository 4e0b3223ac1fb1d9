// Issue 21: the defects a hostile user found, each against the real control plane with the
// operator running. Every test names the rule it enforces (the README's "Safety rules").
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { apply, createNamespace, deleteNamespace, kubectl, kubectlJson, waitFor } from '../cluster/helpers.ts';
import { condition, getSite, installCrd, startOperator, statefulPrimary, waitForSite, type OperatorProcess } from './support/operator.ts';
import {
  deleteSiteAndWaitForGc,
  eventCount,
  events,
  failPrimary,
  isProtected,
  promoted,
  service,
  site,
  standby,
  stuckHot,
} from './support/defects.ts';

const NAMESPACES = [
  'fence',
  'delete',
  'orphan',
  'rename',
  'gone',
  'nothing',
  'unbound',
  'stale',
  'missing',
  'labels',
  'abandon',
  'leftover',
  'revert',
  'svc',
  'host',
  'lost',
  'snaperr',
] as const;
const ns = {} as Record<(typeof NAMESPACES)[number], string>;
let op: OperatorProcess;

beforeAll(async () => {
  await installCrd();
  for (const k of NAMESPACES) ns[k] = await createNamespace(`defects-${k}`);
  op = await startOperator({ namespaces: NAMESPACES.map((k) => ns[k]), name: 'defects' });
});

afterAll(async () => {
  const code = await op.stop();
  expect(code, `operator exit code (log: ${op.logFile})`).toBe(0);
  for (const k of NAMESPACES) await deleteNamespace(ns[k]);
});

describe('fencing', () => {
  // issue 21 item 1
  test('a fence loosened by extra rules or a dropped policy type is replaced exactly and reported, each time', async () => {
    const n = ns.fence;
    await apply(statefulPrimary('db'), n);
    await apply(site('db', 'hot', ''), n);
    await waitForSite(n, 'db', isProtected, 'Protected');
    await failPrimary(n);
    await waitForSite(n, 'db', promoted, 'promoted', 30_000);
    const exact = { podSelector: { matchLabels: { app: 'db' } }, policyTypes: ['Ingress', 'Egress'] };
    const fenceSpec = async () => (await kubectlJson<{ spec: Record<string, unknown> }>(['-n', n, 'get', 'networkpolicy', 'db-fence'])).spec;
    expect(await fenceSpec()).toEqual(exact);

    // Allow-all rules added by hand (another field manager: server-side apply alone cannot remove them).
    await kubectl(['-n', n, 'patch', 'networkpolicy', 'db-fence', '--type=merge', '-p', '{"spec":{"ingress":[{}],"egress":[{}]}}']);
    await waitFor(async () => JSON.stringify(await fenceSpec()) === JSON.stringify(exact) && (await eventCount(n, 'FenceReverted')) === 1, {
      timeoutMs: 20_000,
      description: 'the loosened fence replaced by the exact one, and a FenceReverted Event',
    });
    const [reverted] = await events(n, 'FenceReverted');
    expect(reverted?.message).toContain('NetworkPolicy db-fence');

    // Egress no longer denied: a policy type removed.
    await kubectl(['-n', n, 'patch', 'networkpolicy', 'db-fence', '--type=json', '-p', '[{"op":"replace","path":"/spec/policyTypes","value":["Ingress"]}]']);
    await waitFor(async () => JSON.stringify(await fenceSpec()) === JSON.stringify(exact) && (await eventCount(n, 'FenceReverted')) === 2, {
      timeoutMs: 20_000,
      description: 'the fence repaired again, and a second FenceReverted Event',
    });
    const s = await waitForSite(n, 'db', (x) => condition(x, 'FencingHolds')?.status === 'True', 'fencing holds again');
    expect(s.status?.phase).toBe('Promoted');
  });
});

describe('the traffic Service while a promotion runs', () => {
  // issue 21 item 13
  test('a traffic Service deleted while the promotion runs is re-created at once, pointing at the fenced primary, released', async () => {
    const n = ns.delete;
    await apply(statefulPrimary('db'), n);
    await apply(stuckHot('mode: manual'), n);
    await waitForSite(n, 'db', isProtected, 'Protected');
    await kubectl(['-n', n, 'annotate', 'standbysite', 'db', 'standby.dev/promote=stuck-1']);
    await waitForSite(n, 'db', (s) => s.status?.promotion?.state === 'Promoting', 'the promotion waiting in Promoting', 20_000);
    const before = await service(n, 'db-active');
    expect(before?.spec.selector).toEqual({ app: 'db' });

    await kubectl(['-n', n, 'delete', 'service', 'db-active']);
    const back = await waitFor(
      async () => {
        const svc = await service(n, 'db-active');
        return svc && svc.metadata.uid !== before?.metadata.uid ? svc : undefined;
      },
      { timeoutMs: 15_000, description: 'the traffic Service re-created during Promoting' },
    );
    expect(back.spec.selector).toEqual({ app: 'db' });
    expect(back.spec.ports).toMatchObject([{ name: 'main', port: 5432 }]);
    expect(back.metadata.ownerReferences ?? []).toEqual([]);
    expect((await getSite(n, 'db')).status?.promotion?.state).toBe('Promoting');
  });

  // issue 21 item 2
  test('deleting the site while the promotion runs never deletes the Service clients use', async () => {
    const n = ns.delete;
    // From the moment the promotion began, the traffic Service is not the site's.
    await waitFor(async () => ((await service(n, 'db-active'))?.metadata.ownerReferences ?? []).length === 0, {
      timeoutMs: 15_000,
      description: 'the traffic Service released by the site',
    });
    await deleteSiteAndWaitForGc(n);
    const svc = await service(n, 'db-active');
    expect(svc?.spec.selector).toEqual({ app: 'db' });
    expect((await kubectl(['-n', n, 'get', 'networkpolicy', 'db-fence', '-o', 'name'])).trim()).toBe('networkpolicy.networking.k8s.io/db-fence');
  });
});


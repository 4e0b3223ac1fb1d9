// The partition suite's own parts, on the real sites before any operator uses them: the gate
// that stands in for a CNI stops a site's PostgreSQL from acknowledging writes within a poll of
// a fence appearing in that site's cluster, and lets them through again when it goes; and the
// checker, fed by the real writers, finds two writers when both sites' gates are open at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../cluster/helpers.ts';
import { useSites } from '../cluster/site-helpers.ts';
import { site, type SiteRecord } from '../cluster/sites.ts';
import { PgHarness, SUPERUSER, type PgServer } from '../postgres/harness.ts';
import { checkWriters } from './checker.ts';
import { clientFor, enforce, primaryGate, type Gate } from './partitions/enforcer.ts';
import { startWriters, WRITES_TABLE, type Target } from './partitions/writers.ts';
import { kubectl } from './support.ts';

const ns = `gate-${Date.now().toString(36)}`;
let primary: SiteRecord;
let standby: SiteRecord;
const pgs: PgHarness[] = [];
const servers = new Map<string, PgServer>();

const target = (s: SiteRecord): Target => ({ site: s.name, host: s.address, port: servers.get(s.name)!.port, user: SUPERUSER.username, password: SUPERUSER.password });

beforeAll(async () => {
  const state = await useSites();
  primary = site(state, 'primary');
  standby = site(state, 'standby');
  for (const s of [primary, standby]) {
    const h = await PgHarness.create({ netns: s.netns });
    pgs.push(h);
    const server = await h.primary({ host: s.address });
    await server.query(`CREATE TABLE ${WRITES_TABLE} (id bigint PRIMARY KEY, trial int NOT NULL, site text NOT NULL)`);
    servers.set(s.name, server);
    await kubectl(s, ['create', 'namespace', ns]);
  }
});

afterAll(async () => {
  for (const h of pgs) await h.cleanup();
  for (const s of [primary, standby]) await kubectl(s, ['delete', 'namespace', ns, '--wait=false']).catch(() => '');
});

describe('the partition suite parts', () => {
  it('a fence in the primary cluster stops the primary PostgreSQL acknowledging writes, for real (nftables in its site), and its removal lets them through', async () => {
    const gate = primaryGate(primary, await clientFor(primary), ns, 'orders', servers.get('primary')!.port);
    const enforcer = await enforce([gate]);
    const writers = startWriters([target(primary)], 1);
    await waitFor(() => Promise.resolve(enforcer.changes.some((c) => c.open)), { timeoutMs: 10_000, description: 'the gate opened (no fence yet)' });
    await new Promise((r) => setTimeout(r, 1_000));
    const np = JSON.stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'orders-self-fence', namespace: ns }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } });
    await kubectl(primary, ['apply', '-f', '-'], np);
    await waitFor(() => Promise.resolve(enforcer.changes.filter((c) => !c.open).length > 0), { timeoutMs: 10_000, description: 'the gate closed' });
    const closedAt = enforcer.changes.find((c) => !c.open)!.at;
    await new Promise((r) => setTimeout(r, 2_500));
    await kubectl(primary, ['delete', 'networkpolicy', 'orders-self-fence', '-n', ns]);
    await waitFor(() => Promise.resolve(enforcer.changes.filter((c) => c.open).length > 1), { timeoutMs: 10_000, description: 'the gate open again' });
    const reopenedAt = enforcer.changes.filter((c) => c.open)[1]!.at;
    await new Promise((r) => setTimeout(r, 1_000));
    const history = await writers.stop();
    await enforcer.stop();
    // Acknowledged before the fence and after it went; none sent after the gate closed and before it reopened.
    expect(history.filter((w) => w.ackedAt < closedAt).length).toBeGreaterThan(5);
    expect(history.filter((w) => w.sentAt > reopenedAt).length).toBeGreaterThan(5);
    expect(history.filter((w) => w.sentAt > closedAt && w.ackedAt < reopenedAt)).toEqual([]);
    // Every acknowledged write is in the table.
    const rows = await servers.get('primary')!.query<{ id: string }>(`SELECT id FROM ${WRITES_TABLE} WHERE trial = 1`);
    const ids = new Set(rows.map((r) => Number(r.id)));
    for (const w of history) expect(ids.has(w.id)).toBe(true);
  });

  it('control: with both sites accepting writes at once, the checker finds overlapping writers', async () => {
    const open: Gate[] = [primary, standby].map((s) => ({ site: s, port: servers.get(s.name)!.port, open: () => Promise.resolve(true) }));
    const enforcer = await enforce(open);
    const writers = startWriters([target(primary), target(standby)], 2);
    await waitFor(() => Promise.resolve(enforcer.changes.filter((c) => c.open).length === 2), { timeoutMs: 10_000, description: 'both gates open' });
    await new Promise((r) => setTimeout(r, 2_000));
    const history = await writers.stop();
    await enforcer.stop();
    const check = checkWriters(history, 1);
    expect(check.overlapping).toBeGreaterThan(10);
  });
});

// The whole hot PostgreSQL cycle under the operator on a real node: the primary fails (its
// readiness probe), the operator promotes the standby; the primary recovers behind its fence and
// is re-protected by itself (its volumes snapshotted and the divergence read first, then stopped,
// rewound by the engine's Job and restarted as a streaming standby of the promoted one); a
// failback token fences the standby, stops its writes, proves the primary caught up, promotes it
// with the engine's Job and switches traffic back; the standby restarts as the primary's standby.
// A client writes numbered rows through the traffic Service all along: every row acknowledged
// before the failure, while the standby served and after failback is on the final primary
// (count and checksum), and on its standby.
import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { apply, kubectl, kubectlJson, waitFor } from '../cluster/helpers.ts';
import { startOperator, waitForSite, type SiteObject } from '../e2e/support/operator.ts';
import { clusterIP, createRealNamespace, failReadiness, images, pod, postgresPrimary, query, restoreReadiness, RowWriter, waitReady, suiteResources } from './support.ts';
import { hotSiteYaml } from './workload.ts';

const SITE = 'db';
const { operators, namespaces } = suiteResources();

interface JobView {
  metadata: { name: string };
  status: { succeeded?: number };
}

async function jobsOf(ns: string, role: string): Promise<JobView[]> {
  return (await kubectlJson<{ items: JobView[] }>(['-n', ns, 'get', 'jobs', '-l', `standby.dev/role=${role}`])).items;
}

/** Which application names stream from the server at this address. */
async function streamingTo(ip: string): Promise<string[]> {
  const rows = await query<{ application_name: string; state: string }>(ip, 'SELECT application_name, state FROM pg_stat_replication');
  return rows.filter((r) => r.state === 'streaming').map((r) => r.application_name).sort();
}

/** The count and an md5 of the given row numbers as the server holds them. */
async function fingerprint(ip: string, ns: readonly number[]): Promise<{ count: number; md5: string }> {
  const [row] = await query<{ count: string; md5: string | null }>(
    ip,
    "SELECT count(*)::text AS count, md5(string_agg(n::text, ',' ORDER BY n)) AS md5 FROM rows WHERE n = ANY($1::int[])",
    [ns],
  );
  return { count: Number(row?.count ?? 0), md5: row?.md5 ?? '' };
}

function expectedFingerprint(ns: readonly number[]): { count: number; md5: string } {
  const sorted = [...ns].sort((a, b) => a - b);
  return { count: sorted.length, md5: createHash('md5').update(sorted.join(',')).digest('hex') };
}

const failed = (s: SiteObject, what: 'promotion' | 'reprotection' | 'failback') => (s.status as Record<string, { state?: string } | undefined> | undefined)?.[what]?.state === 'Failed';

describe('hot PostgreSQL lifecycle on a real node', () => {
  test('failover, automatic re-protection by pg_rewind, failback by token, the standby streaming again: every acknowledged row on the final primary', async () => {
    const ns = await createRealNamespace('rp-cycle');
    namespaces.push(ns);
    await apply(postgresPrimary(SITE), ns);
    const first = await waitReady(ns, `${SITE}-0`);
    // wal_log_hints lets pg_rewind rewind; wal_keep_size (not below max_wal_size) keeps the WAL it
    // needs through the clean shutdown of the scale-down. In the data directory's own settings
    // (the standby's copy and single-user crash recovery read them too); a restart applies them.
    for (const sql of ["ALTER SYSTEM SET wal_log_hints = 'on'", "ALTER SYSTEM SET wal_keep_size = '256MB'", "ALTER SYSTEM SET max_wal_size = '256MB'"]) await query(first.status.podIP!, sql);
    await kubectl(['-n', ns, 'delete', 'pod', `${SITE}-0`, '--wait=true']);
    const primary = await waitReady(ns, `${SITE}-0`);
    const primaryIP = primary.status.podIP!;
    const [hints] = await query<{ wal_log_hints: string }>(primaryIP, 'SHOW wal_log_hints');
    expect(hints?.wal_log_hints).toBe('on');
    await query(primaryIP, 'CREATE TABLE rows (n integer PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())');

    operators.push(await startOperator({ namespaces: [ns], env: { OPERATOR_IMAGE: images().operator }, name: 'realpods-cycle' }));
    await apply(hotSiteYaml(SITE), ns);
    await waitForSite(ns, SITE, (s) => s.status?.phase === 'Protected', 'site Protected with a streaming standby', 300_000);
    await waitReady(ns, `${SITE}-standby-0`);

    const writer = new RowWriter(await clusterIP(ns, `${SITE}-active`));
    writer.start();
    try {
      await writer.waitForMore(50, 120_000);
      const beforeFailure = [...writer.acked];

      // Failover: the primary's readiness fails (the server runs on, fenced).
      await failReadiness(ns, `data-${SITE}-0`);
      const promoted = await waitForSite(ns, SITE, (s) => s.status?.promotion?.state === 'Promoted' || failed(s, 'promotion'), 'the promotion to finish', 300_000);
      expect(promoted.status?.promotion?.state, JSON.stringify(promoted.status?.promotion)).toBe('Promoted');
      await writer.waitForMore(30, 120_000);

      // The primary recovers behind its fence: re-protection starts by itself.
      await restoreReadiness(ns, `data-${SITE}-0`);
      const reprotected = await waitForSite(
        ns,
        SITE,
        (s) => (s.status?.reprotection?.of === 'primary' && s.status.reprotection.state === 'Protected') || failed(s, 'reprotection'),
        'the old primary to be re-protected',
        420_000,
      );
      const r = reprotected.status!.reprotection!;
      expect(r.state, JSON.stringify(r)).toBe('Protected');
      process.stdout.write(`re-protection: ${JSON.stringify(r)}\n`);
      // A copy of its volumes was kept, and what only it held was read, before anything touched it.
      expect(r.divergence?.snapshotRun).toMatch(/^divergent-/);
      expect(r.divergence?.description).toMatch(/kept in VolumeSnapshot/);
      expect(r.divergence?.rewindable).toBe(true);
      // The engine's Job rewound it (wal_log_hints), and said how much it copied.
      expect(r.method).toBe('rewind');
      expect(r.bytes).toBeGreaterThan(0);
      expect(r.report).toMatch(/^rewound with pg_rewind: /);
      const reprotectJobs = await jobsOf(ns, 'reprotect');
      expect(reprotectJobs.some((j) => (j.status.succeeded ?? 0) >= 1)).toBe(true);
      // The old primary is a streaming standby of the promoted one.
      const standbyIP = (await pod(ns, `${SITE}-standby-0`)).status.podIP!;
      const oldPrimary = await waitReady(ns, `${SITE}-0`);
      const [recovery] = await query<{ r: boolean }>(oldPrimary.status.podIP!, 'SELECT pg_is_in_recovery() AS r');
      expect(recovery?.r).toBe(true);
      expect(await streamingTo(standbyIP)).toContain(`standby_${SITE}_primary`);
      await writer.waitForMore(30, 120_000);
      const whileServed = writer.acked.filter((n) => !beforeFailure.includes(n));

      // Failback by token.
      await kubectl(['-n', ns, 'annotate', 'standbysite', SITE, 'standby.dev/failback=back-1', '--overwrite']);
      const back = await waitForSite(ns, SITE, (s) => s.status?.failback?.state === 'Promoted' || failed(s, 'failback'), 'the failback to finish', 420_000);
      const f = back.status!.failback!;
      expect(f.state, JSON.stringify(f)).toBe('Promoted');
      process.stdout.write(`failback: ${JSON.stringify(f)}\n`);
      expect(back.status?.active).toBe('primary');
      // Proven caught up: the primary's replay position reached the fenced standby's flush position.
      const caught = (f as { caughtUp?: { servingLsn?: string; replayLsn?: string; message?: string } }).caughtUp;
      expect(caught?.servingLsn).toBeTruthy();
      expect(caught?.replayLsn).toBe(caught?.servingLsn);
      expect(caught?.message).toMatch(/has replayed up to .*everything the serving side .* flushed/);
      expect((await jobsOf(ns, 'failback')).some((j) => (j.status.succeeded ?? 0) >= 1)).toBe(true);
      const newPrimaryIP = (await pod(ns, `${SITE}-0`)).status.podIP!;
      const [left] = await query<{ r: boolean }>(newPrimaryIP, 'SELECT pg_is_in_recovery() AS r');
      expect(left?.r).toBe(false);
      const svc = await kubectlJson<{ spec: { selector: Record<string, string> } }>(['-n', ns, 'get', 'service', `${SITE}-active`]);
      expect(svc.spec.selector).toEqual({ app: SITE });
      const failedBackAt = writer.acked.length;
      await writer.waitForMore(30, 300_000);

      // The former standby restarts as the primary's standby again and streams.
      const forward = await waitForSite(
        ns,
        SITE,
        (s) => (s.status?.reprotection?.of === 'standby' && s.status.reprotection.state === 'Protected') || failed(s, 'reprotection'),
        'the standby to be re-protected',
        420_000,
      );
      expect(forward.status?.reprotection?.state, JSON.stringify(forward.status?.reprotection)).toBe('Protected');
      await waitFor(async () => (await streamingTo(newPrimaryIP)).includes(`standby_${SITE}_0`), { timeoutMs: 120_000, description: 'the standby streaming from the primary again' });
      await writer.waitForMore(20, 120_000);
      await writer.stop();
      const afterFailback = writer.acked.slice(failedBackAt);

      // Every acknowledged row, of each phase, is on the final primary; its standby has them too.
      const all = writer.acked;
      expect(beforeFailure.length).toBeGreaterThanOrEqual(50);
      expect(whileServed.length).toBeGreaterThanOrEqual(60);
      expect(afterFailback.length).toBeGreaterThanOrEqual(50);
      expect(await fingerprint(newPrimaryIP, all)).toEqual(expectedFingerprint(all));
      const standbyNow = (await pod(ns, `${SITE}-standby-0`)).status.podIP!;
      await waitFor(async () => (await fingerprint(standbyNow, all)).count === all.length, { timeoutMs: 60_000, description: 'the standby to replay every row' });
      expect(await fingerprint(standbyNow, all)).toEqual(expectedFingerprint(all));
      process.stdout.write(
        `lifecycle: ${beforeFailure.length} rows before the failure, ${whileServed.length} while the standby served, ${afterFailback.length} after failback; ${writer.errors.length} client errors over the cycle\n`,
      );
    } finally {
      await writer.stop();
    }
  });
});

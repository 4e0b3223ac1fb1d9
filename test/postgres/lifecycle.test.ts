// Re-protection and failback against real servers, as the operator runs
// them: P primary, S its streaming standby; S promoted (failover) while P
// still takes writes (divergent); P stopped and its data directory kept
// aside (the divergence copy); the re-protect Job's script makes P a standby
// of S; failback stops writes on S, waits until P has replayed everything,
// promotes P; S's own init container rewinds it into P's standby again.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { forgetPrimaries, observeReplication } from '../../src/engines/postgresql/observe.ts';
import { parseReprotectReport } from '../../src/engines/postgresql/report.ts';
import { PgHarness, waitFor } from './harness.ts';
import { fingerprint, ids, insertRows, Pair, rewindVersusBaseBackup } from './lifecycle.ts';

let h: PgHarness;
beforeEach(async () => {
  h = await PgHarness.create();
  forgetPrimaries();
});
afterEach(async () => {
  await h.cleanup();
});

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('re-protection and failback (PostgreSQL engine)', () => {
  test('the whole cycle keeps every row committed before the failure, while the standby served and after failback; divergent rows only in the kept copy', async () => {
    const pair = await Pair.create(h, { conf: { wal_log_hints: 'on' } });
    await pair.p.query('CREATE TABLE orders (id int PRIMARY KEY, phase text NOT NULL)');
    const before = await insertRows(pair.p, 1, 200, 'before');
    await pair.protect();

    // Failover: S is promoted while P, cut off from S but not from its clients, still commits.
    const promoted = await pair.promote('standby');
    expect(promoted.code, promoted.stderr).toBe(0);
    const s = pair.s!;
    const served = await insertRows(s, 1001, 1100, 'served');
    const divergent = await insertRows(pair.p, 5001, 5050, 'divergent');

    // What only P holds, as the operator reads it before re-protecting (P still running behind the fence).
    const div = await pair.divergence('standby');
    const history = (await s.query<{ h: string }>("SELECT pg_read_file('pg_wal/00000002.history') AS h"))[0]!.h;
    const fork = /^1\s+(\S+)/.exec(history)![1]!;
    expect(div).toMatchObject({ from: fork, timeline: 1, rewindable: true });
    expect(div.bytes).toBeGreaterThan(50 * 30);
    expect(div.message).toMatch(/^the old primary at 127\.0\.0\.1:\d+ holds [\d.]+ KiB of WAL \(.+ on timeline 1\) that the serving side never received/);

    // P crashes (or is scaled down); the operator keeps a copy of its volume before anything touches it.
    await pair.p.stop('immediate');
    const kept = join(h.root, 'divergence-copy');
    await h.copyDir(pair.pDir, kept);

    // The re-protect Job: P's data directory is rewound to S and made its standby.
    const job = await pair.reprotectP();
    expect(job.code, job.stderr + job.stdout).toBe(0);
    expect(job.stdout).toContain('not shut down cleanly');
    expect(job.report).toMatchObject({ method: 'rewind', forkLsn: fork, forkTimeline: 1, walLogHints: true, checksums: false });
    expect(job.report!.divergentCommits).toBeGreaterThanOrEqual(divergent.length);
    expect(job.report!.bytes).toBeGreaterThan(0);
    const report = parseReprotectReport(job.stdout)!;
    expect(report.message).toMatch(/^rewound with pg_rewind: [\d.]+ (KiB|MiB) copied in \d+s; the rewound side held .* after the fork at /);
    expect(existsSync(join(pair.pDir, 'standby.signal'))).toBe(true);
    const auto = readFileSync(join(pair.pDir, 'postgresql.auto.conf'), 'utf8');
    expect(auto).toMatch(/primary_conninfo = '.*host=''127\.0\.0\.2''.*application_name=''standby_orders_db_primary'''/);
    expect(auto).toContain("primary_slot_name = 'standby_orders_db_primary'");
    // P's own configuration, not the copy pg_rewind brought from S.
    expect(readFileSync(join(pair.pDir, 'postgresql.conf'), 'utf8')).toContain("wal_log_hints = 'on'");

    // P's own postgres starts as S's standby; the operator measures S streaming to it.
    const p = await pair.startP();
    expect((await p.query('SELECT pg_is_in_recovery() AS r'))[0]).toEqual({ r: true });
    await pair.waitStreaming('standby');
    const slots = await s.query<{ slot_name: string; active: boolean }>('SELECT slot_name, active FROM pg_replication_slots');
    expect(slots).toEqual([{ slot_name: 'standby_orders_db_primary', active: true }]);
    // S's pod restarts while it serves: its init container asks P, finds it in recovery, and leaves S as it is.
    await s.stop('fast');
    const restart = await pair.bootstrapS();
    expect(restart.code, restart.stderr).toBe(0);
    expect(restart.stdout).toContain('leaving it as it is (the primary at 127.0.0.1');
    expect(restart.stdout).toContain('it is in recovery');
    expect(restart.report).toMatchObject({ method: 'none' });
    await pair.startS();
    await pair.waitStreaming('standby');
    const servedMore = await insertRows(pair.s!, 1101, 1200, 'served');
    await waitFor(async () => (await ids(p, "phase = 'served'")).length === 200, 20_000, 'rows served by S on P');
    expect(await ids(p, "phase = 'divergent'")).toEqual([]);

    // Failback: writes stop on S, P catches up and is promoted.
    const times = await pair.switchover('standby', () => undefined);
    expect(times.polls).toBeGreaterThan(0);
    await expect(pair.s!.query('INSERT INTO orders VALUES (9999, $1)', ['refused'])).rejects.toThrow(/read-only transaction/);
    expect((await p.query('SELECT pg_is_in_recovery() AS r'))[0]).toEqual({ r: false });
    const resetConf = readFileSync(join(pair.pDir, 'postgresql.auto.conf'), 'utf8');
    expect(resetConf).not.toContain('primary_conninfo');
    const after = await insertRows(p, 2001, 2100, 'after');

    // S's pod restarts: its init container sees that P took over from it and rewinds it into P's standby.
    const forward = await pair.reprotectForward();
    expect(forward.stdout).toMatch(/the primary at 127\.0\.0\.1:\d+ was promoted from timeline 2 of .* \(it is on timeline 3\)/);
    expect(forward.report).toMatchObject({ method: 'rewind' });
    const s2 = pair.s!;
    expect((await s2.query('SELECT pg_is_in_recovery() AS r'))[0]).toEqual({ r: true });
    await pair.waitStreaming('primary');
    expect(await observeReplication(pair.ctx('primary'), pair.io)).toEqual({ streaming: true, lagSeconds: 0 });
    const moreAfter = await insertRows(p, 2101, 2150, 'after');
    await waitFor(async () => (await ids(s2, "phase = 'after'")).length === 150, 20_000, 'rows after failback on S');

    // Everything committed on the serving side at each step is on the final primary, and on its standby.
    const expected = [...before, ...served, ...servedMore, ...after, ...moreAfter];
    expect(await ids(p)).toEqual(expected);
    const final = await fingerprint(p);
    expect(final.n).toBe(expected.length);
    expect(await fingerprint(s2)).toEqual(final);
    expect(await ids(s2, "phase = 'divergent'")).toEqual([]);

    // The divergent rows are in the kept copy, nowhere else.
    const copy = await h.server(kept);
    expect(await ids(copy, "phase = 'divergent'")).toEqual(range(5001, 5050));
    expect(await ids(copy, "phase = 'before'")).toEqual(before);
  });

  test('without data checksums or wal_log_hints the Job re-seeds the old primary with a base backup, and says so; a password that needs quoting works', async () => {
    const password = `it's a \\ "quoted" pass word`;
    const pair = await Pair.create(h, { replication: { user: 'repl2', password } });
    await pair.p.query(`CREATE ROLE repl2 LOGIN REPLICATION PASSWORD '${password.replace(/'/g, "''")}'`);
    await pair.p.query('GRANT pg_monitor TO repl2');
    await pair.p.query('CREATE TABLE orders (id int PRIMARY KEY, phase text NOT NULL)');
    const before = await insertRows(pair.p, 1, 100, 'before');
    await pair.protect();
    expect((await pair.promote('standby')).code).toBe(0);
    const served = await insertRows(pair.s!, 1001, 1050, 'served');
    await insertRows(pair.p, 5001, 5010, 'divergent');
    expect(await pair.divergence('standby')).toMatchObject({ rewindable: false, timeline: 1 });

    await pair.p.stop('fast');
    const job = await pair.reprotectP();
    expect(job.code, job.stderr + job.stdout).toBe(0);
    expect(job.report).toMatchObject({
      method: 'basebackup',
      reason: 'pg_rewind needs data checksums or wal_log_hints = on, and this data directory has neither',
      checksums: false,
      walLogHints: false,
      forkLsn: null,
    });
    const size = Number((await pair.s!.query<{ b: string }>('SELECT sum(pg_database_size(datname))::text AS b FROM pg_database'))[0]!.b);
    expect(job.report!.bytes).toBeGreaterThan(size);
    expect(parseReprotectReport(job.stdout)!.message).toMatch(
      /^copied whole with pg_basebackup: [\d.]+ MiB in \d+s \(no rewind: pg_rewind needs data checksums or wal_log_hints = on, and this data directory has neither\)$/,
    );

    const p = await pair.startP();
    await pair.waitStreaming('standby');
    const who = await pair.s!.query<{ usename: string; application_name: string }>('SELECT usename, application_name FROM pg_stat_replication');
    expect(who).toEqual([{ usename: 'repl2', application_name: 'standby_orders_db_primary' }]);
    expect(await ids(p)).toEqual([...before, ...served]);

    // The Job again (a retry after it succeeded): the data directory is a standby already, nothing is copied.
    await p.stop('fast');
    const again = await pair.reprotectP();
    expect(again.code, again.stderr).toBe(0);
    expect(again.report).toMatchObject({ method: 'none', reason: 'the data directory is a standby already (an earlier run completed its copy)' });
    await pair.startP();
    await pair.waitStreaming('standby');
  });

  test('a clean shutdown recycles the WAL pg_rewind needs unless wal_keep_size keeps it: the Job re-seeds and names the cause', async () => {
    const pair = await Pair.create(h, { conf: { wal_log_hints: 'on' } });
    await pair.p.query('CREATE TABLE orders (id int PRIMARY KEY, phase text NOT NULL)');
    await insertRows(pair.p, 1, 100, 'before');
    await pair.protect();
    expect((await pair.promote('standby')).code).toBe(0);
    await insertRows(pair.p, 5001, 5010, 'divergent');
    const div = await pair.divergence('standby');
    expect(div.rewindable).toBe(true);
    expect(div.message).toContain('it keeps no more than that (wal_keep_size 0 bytes, below max_wal_size 1.0 GiB, and no restore_command)');

    // Scaled down: the fast shutdown's checkpoint recycles the segment holding the last checkpoint before the fork.
    await pair.p.stop('fast');
    const job = await pair.reprotectP();
    expect(job.code, job.stderr + job.stdout).toBe(0);
    expect(job.report).toMatchObject({ method: 'basebackup', walLogHints: true });
    expect(job.report!.reason).toMatch(
      /^its WAL since its last checkpoint before the two sides diverged is gone \(recycled by a later checkpoint\), which pg_rewind needs; keep it with wal_keep_size or a WAL archive \(restore_command\); pg_rewind cannot rewind this data directory: pg_rewind: error: could not find previous WAL record at /,
    );
    await pair.startP();
    await pair.waitStreaming('standby');
    expect(await ids(pair.p, "phase = 'divergent'")).toEqual([]);
  });

  test('data checksums allow the rewind, wal_keep_size keeps its WAL through a clean shutdown; a Job interrupted after pg_rewind finishes without rewinding again; the standby restarting without the primary stays as it is', async () => {
    const pair = await Pair.create(h, { checksums: true, conf: { wal_keep_size: '256MB', max_wal_size: '256MB' } });
    await pair.p.query('CREATE TABLE orders (id int PRIMARY KEY, phase text NOT NULL)');
    const before = await insertRows(pair.p, 1, 100, 'before');
    await pair.protect();
    expect((await pair.promote('standby')).code).toBe(0);
    const served = await insertRows(pair.s!, 1001, 1050, 'served');
    await insertRows(pair.p, 5001, 5010, 'divergent');
    expect((await pair.divergence('standby')).message).toMatch(/it can be rewound \(data checksums; its WAL is kept by wal_keep_size\)$/);
    await pair.p.stop('fast');

    const job = await pair.reprotectP();
    expect(job.code, job.stderr + job.stdout).toBe(0);
    expect(job.stdout).not.toContain('not shut down cleanly');
    expect(job.report, job.stdout + job.stderr).toMatchObject({ method: 'rewind', checksums: true, walLogHints: false });
    expect(job.report!.divergentCommits).toBeGreaterThanOrEqual(10);

    // As if the Job's pod had been killed right after pg_rewind: no standby.signal, no standby settings yet.
    const undo = await h.runScript(
      `rm "${join(pair.pDir, 'standby.signal')}" && sed -i -e '/^primary_/d' -e '/standby-operator/d' "${join(pair.pDir, 'postgresql.auto.conf')}"`,
    );
    expect(undo.code, undo.stderr).toBe(0);
    const retry = await pair.reprotectP();
    expect(retry.code, retry.stderr + retry.stdout).toBe(0);
    expect(retry.stdout).not.toContain('pg_rewind: servers diverged');
    expect(retry.report).toMatchObject({ method: 'rewind', reason: 'an earlier run rewound the data directory' });
    const p = await pair.startP();
    await pair.waitStreaming('standby');
    expect(await ids(p)).toEqual([...before, ...served]);

    // Both sides down; S's pod starts first and cannot ask P: it serves as it is, never rewound blindly.
    await p.stop('fast');
    await pair.s!.stop('fast');
    const alone = await pair.bootstrapS();
    expect(alone.code, alone.stderr).toBe(0);
    expect(alone.stdout).toMatch(/leaving it as it is \(the primary at 127\.0\.0\.1:\d+ did not take over from it: it cannot be asked: .*Connection refused/);
    const s = await pair.startS();
    expect((await s.query('SELECT pg_is_in_recovery() AS r'))[0]).toEqual({ r: false });
    expect(await ids(s)).toEqual([...before, ...served]);
  });
  test('pg_rewind moves fewer bytes than a base backup of the same database (both printed)', { timeout: 600_000 }, async () => {
    // pgbench scale 10 is ~160 MB; STANDBY_PG_REWIND_SCALE=70 makes it ~1 GB (bench/postgresql.ts runs that size).
    const scale = Number(process.env.STANDBY_PG_REWIND_SCALE ?? '10');
    const c = await rewindVersusBaseBackup(h, { scale });
    expect(c.rewind.report).toMatchObject({ method: 'rewind' });
    expect(c.rewind.report!.divergentCommits).toBeGreaterThanOrEqual(400);
    expect(c.baseBackup.report).toMatchObject({ method: 'basebackup', reason: 'the data directory is empty or was never started (an interrupted copy)' });
    expect(c.baseBackup.report!.bytes).toBeGreaterThan(c.databaseBytes);
    expect(c.rewind.report!.bytes!).toBeGreaterThan(0);
    // A fixed part (WAL segments since the fork, configuration, pg_xact) weighs more on a small database: bench/postgresql.ts measures ~1 GB.
    expect(c.rewind.report!.bytes!).toBeLessThan(c.baseBackup.report!.bytes! / 2);
    const mib = (b: number) => `${(b / (1024 * 1024)).toFixed(1)} MiB`;
    console.log(
      `re-protection of a ${mib(c.databaseBytes)} database (pgbench scale ${scale}): pg_rewind copied ${mib(c.rewind.report!.bytes!)} in ${Math.round(c.rewind.ms)} ms; a base backup copied ${mib(c.baseBackup.report!.bytes!)} in ${Math.round(c.baseBackup.ms)} ms`,
    );
  });
});

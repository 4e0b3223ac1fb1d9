// Re-protection and failback decisions of the PostgreSQL engine over what SQL
// read from both sides (divergence, caught-up), WAL positions, the report a
// re-protect Job leaves, and the re-protect and failback Job templates. The
// same functions run against real servers in test/postgres/lifecycle.test.ts.
import { describe, expect, test } from 'vitest';
import { postgresqlEngine } from '../../../../src/engines/postgresql/engine.ts';
import { assessCaughtUp, assessDivergence, type OldPrimaryRow, type ReplayRow, type ServingFlushRow } from '../../../../src/engines/postgresql/lifecycle.ts';
import { forkPoint, lsnDiff, parseHistory, parseLsn } from '../../../../src/engines/postgresql/lsn.ts';
import { parseReprotectReport } from '../../../../src/engines/postgresql/report.ts';
import { promoteScript } from '../../../../src/engines/postgresql/script-promote.ts';
import { reprotectScript } from '../../../../src/engines/postgresql/script-reprotect.ts';
import { REPORT_PREFIX } from '../../../../src/engines/postgresql/script-rewind.ts';
import { failbackOptions, reprotectOptions } from '../../../../src/engines/postgresql/script-options.ts';
import { caughtUp, divergence } from '../../../../src/engines/postgresql/lifecycle-io.ts';
import { context, fakeIO } from '../../../postgres/site.ts';

const secretRef = (env: string, name: string, key: string) => ({ name: env, valueFrom: { secretKeyRef: { name, key } } });

describe('WAL positions and timeline histories', () => {
  test('parses pg_lsn text into byte positions and differences; anything else is undefined', () => {
    expect(parseLsn('0/3000158')).toBe(0x3000158n);
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n);
    expect(parseLsn('garbage')).toBeUndefined();
    expect(parseLsn(null)).toBeUndefined();
    expect(lsnDiff('1/0', '0/FFFFFF00')).toBe(256);
    expect(lsnDiff('0/100', '0/200')).toBe(-256);
    expect(lsnDiff('0/100', undefined)).toBeUndefined();
  });

  test('the fork point is where the history says the old timeline ended', () => {
    const h = parseHistory('1\t0/3000158\tno recovery target specified\n\n2\t0/5000A0\tno recovery target specified\nnot a line\n');
    expect(h).toEqual([
      { parent: 1, switchLsn: '0/3000158' },
      { parent: 2, switchLsn: '0/5000A0' },
    ]);
    expect(forkPoint(h, 1)).toBe('0/3000158');
    expect(forkPoint(h, 3)).toBeUndefined();
    expect(parseHistory(null)).toEqual([]);
  });
});

const oldRow = (o: Partial<OldPrimaryRow> = {}): OldPrimaryRow => ({
  in_recovery: false,
  system_id: '7300000000000000001',
  timeline: 1,
  lsn: '0/3002000',
  checksums: false,
  wal_log_hints: true,
  wal_keep_bytes: 256 * 1024 * 1024,
  max_wal_bytes: 256 * 1024 * 1024,
  restores_wal: false,
  oldest_wal_byte: String(0x1000000),
  ...o,
});
const servingRow = { in_recovery: false, system_id: '7300000000000000001', timeline: 2, history: '1\t0/3000158\tno recovery target specified\n' };
const old = (o: Partial<OldPrimaryRow> = {}) => ({ row: oldRow(o), where: '10.0.0.1:5432' });
const serving = (o: Partial<typeof servingRow> = {}) => ({ row: { ...servingRow, ...o }, where: '10.0.0.2:5432' });

describe('assessDivergence', () => {
  test('measures the WAL the old primary holds beyond the fork, rewindable with wal_log_hints and its WAL kept', () => {
    const d = assessDivergence({ old: old(), serving: serving() });
    expect(d).toMatchObject({ from: '0/3000158', to: '0/3002000', bytes: 0x3002000 - 0x3000158, timeline: 1, rewindable: true });
    expect(d.message).toBe(
      'the old primary at 10.0.0.1:5432 holds 7.7 KiB of WAL (0/3000158 to 0/3002000 on timeline 1) that the serving side never received: writes after the serving side took over; it can be rewound (wal_log_hints = on; its WAL is kept by wal_keep_size)',
    );
  });

  test('nothing beyond the fork: zero bytes', () => {
    expect(assessDivergence({ old: old({ lsn: '0/3000158' }), serving: serving() })).toMatchObject({ bytes: 0, rewindable: true });
  });

  test('neither checksums nor wal_log_hints: not rewindable, says the whole database is copied', () => {
    const d = assessDivergence({ old: old({ wal_log_hints: false }), serving: serving() });
    expect(d.rewindable).toBe(false);
    expect(d.message).toContain('it cannot be rewound (neither data checksums nor wal_log_hints = on): re-protection copies the whole database');
  });

  test('its oldest WAL file begins after the fork: not rewindable, names wal_keep_size and restore_command', () => {
    const d = assessDivergence({ old: old({ oldest_wal_byte: String(0x4000000) }), serving: serving() });
    expect(d.rewindable).toBe(false);
    expect(d.message).toContain('its WAL before the fork is gone (its oldest WAL file begins after 0/3000158)');
  });

  test('WAL kept by neither wal_keep_size nor an archive: rewindable for now, with the warning', () => {
    const d = assessDivergence({ old: old({ checksums: true, wal_log_hints: false, wal_keep_bytes: 0 }), serving: serving() });
    expect(d.rewindable).toBe(true);
    expect(d.message).toContain('it can be rewound (data checksums) while its WAL since its last checkpoint before the fork lasts');
  });

  test('different clusters, a serving side in recovery, and unreadable sides are reported, never guessed', () => {
    expect(assessDivergence({ old: old(), serving: serving({ system_id: '99' }) })).toMatchObject({ rewindable: false });
    expect(assessDivergence({ old: old(), serving: serving({ in_recovery: true }) }).message).toContain('is in recovery: it has not been promoted');
    expect(assessDivergence({ old: { problem: 'connection refused' }, serving: serving() })).toEqual({
      message: 'the divergence cannot be measured: connection refused; the re-protect Job reports it from the data directory',
    });
    const unrelated = assessDivergence({ old: old({ timeline: 5 }), serving: serving() });
    expect(unrelated.bytes).toBeUndefined();
    expect(unrelated.message).toContain('did not fork from timeline 5');
  });
});

const flushRow = (o: Partial<ServingFlushRow> = {}): ServingFlushRow => ({ in_recovery: false, flush_lsn: '0/5000000', timeline: 2, writers: 0, read_only: true, ...o });
const replayRow = (o: Partial<ReplayRow> = {}): ReplayRow => ({
  in_recovery: true,
  replay_lsn: '0/5000000',
  receive_lsn: '0/5000000',
  received_timeline: 2,
  slot_name: 'standby_orders_db_primary',
  ...o,
});
const caught = (s: Partial<ServingFlushRow> = {}, t: Partial<ReplayRow> = {}) =>
  assessCaughtUp({ serving: { row: flushRow(s), where: 'S' }, taking: { row: replayRow(t), where: 'P' } });

describe('assessCaughtUp', () => {
  test('caught up only when the replay LSN reaches the serving flush LSN with no write transaction open', () => {
    expect(caught()).toEqual({
      caughtUp: true,
      servingLsn: '0/5000000',
      replayLsn: '0/5000000',
      message: 'P has replayed up to 0/5000000, everything the serving side at S flushed (0/5000000), with no write transaction open there',
    });
    expect(caught({}, { replay_lsn: '0/4FFFF00' })).toMatchObject({ caughtUp: false, message: "P has replayed up to 0/4FFFF00, 256 bytes short of the serving side's flush position 0/5000000" });
  });

  test('an open write transaction, another timeline, a side not in recovery, or no replay position: not caught up', () => {
    expect(caught({ writers: 2 })).toMatchObject({ caughtUp: false, message: '2 client sessions on the serving side at S still hold a write transaction: writes have not stopped' });
    expect(caught({}, { received_timeline: 1 }).caughtUp).toBe(false);
    expect(caught({}, { in_recovery: false })).toMatchObject({ caughtUp: false, message: 'the server at P is not in recovery: it is no standby of the serving side' });
    expect(caught({}, { replay_lsn: null })).toMatchObject({ caughtUp: false, message: 'P shows no replay position yet' });
    expect(caught({ in_recovery: true, flush_lsn: null }).caughtUp).toBe(false);
    expect(assessCaughtUp({ serving: { problem: 'timeout' }, taking: { problem: 'x' } })).toEqual({ caughtUp: false, message: "cannot read the serving side's WAL position: timeout" });
  });
});

describe('the re-protect report', () => {
  const raw = {
    method: 'rewind',
    reason: null,
    bytes: 5 * 1024 * 1024,
    forkLsn: '0/3000158',
    forkTimeline: 1,
    endLsn: '0/3002000',
    divergentBytes: 7848,
    divergentCommits: 50,
    checksums: false,
    walLogHints: true,
    seconds: 3,
  };

  test('a rewind: bytes, seconds and what only the rewound side held', () => {
    const r = parseReprotectReport(`pg_rewind: done\n${REPORT_PREFIX}${JSON.stringify(raw)}\n`)!;
    expect(r).toEqual({
      method: 'rewind',
      bytes: 5 * 1024 * 1024,
      seconds: 3,
      divergence: { from: '0/3000158', to: '0/3002000', bytes: 7848, timeline: 1, commits: 50, rewindable: true, message: expect.any(String) as string },
      message:
        'rewound with pg_rewind: 5.0 MiB copied in 3s; the rewound side held 8 KiB of WAL after the fork at 0/3000158 on timeline 1 (50 commits), kept only in the divergence copy',
    });
    // The termination message is the JSON alone.
    expect(parseReprotectReport(JSON.stringify(raw))?.method).toBe('rewind');
  });

  test('a base backup says why it did not rewind; garbage is no report', () => {
    const r = parseReprotectReport(JSON.stringify({ ...raw, method: 'basebackup', reason: 'no wal_log_hints', forkLsn: null, bytes: 2 * 1024 * 1024 * 1024 }))!;
    expect(r).toMatchObject({ method: 'basebackup', reason: 'no wal_log_hints', message: 'copied whole with pg_basebackup: 2.00 GiB in 3s (no rewind: no wal_log_hints)' });
    expect(r.divergence).toBeUndefined();
    expect(parseReprotectReport('not json')).toBeUndefined();
    expect(parseReprotectReport(JSON.stringify({ method: 'copy' }))).toBeUndefined();
  });
});

describe('the re-protect and failback Job templates', () => {
  test('hot: the re-protect Job mounts the old primary’s data claim, runs the script with both logins, and never chowns the volume', () => {
    const ctx = context({ serving: 'standby' });
    const t = postgresqlEngine.reprotectTemplate!(ctx, { claims: { data: 'data-orders-db-0' } })!;
    const c = t.spec!.containers[0]!;
    expect(c.command).toEqual(['/bin/sh', '-c', reprotectScript(reprotectOptions(ctx))]);
    expect(reprotectOptions(ctx)).toEqual({
      serving: { host: 'orders-db-standby-0.orders-db-standby.shop.svc', port: 5432, database: 'postgres' },
      dataDirectory: '/var/lib/postgresql/data/pgdata',
      slot: 'standby_orders_db_primary',
      timeoutSeconds: 300,
    });
    expect(t.spec!.volumes).toEqual([{ name: 'data', persistentVolumeClaim: { claimName: 'data-orders-db-0' } }]);
    expect(c.volumeMounts).toEqual([{ name: 'data', mountPath: '/var/lib/postgresql/data' }]);
    expect(c.env).toEqual([
      secretRef('PGUSER', 'orders-db-repl', 'username'),
      secretRef('PGPASSWORD', 'orders-db-repl', 'password'),
      secretRef('PG_SUPERUSER', 'orders-db-super', 'username'),
      secretRef('PG_SUPERUSER_PASSWORD', 'orders-db-super', 'password'),
    ]);
    expect(t.spec!.securityContext?.fsGroup).toBeUndefined();
    // Without the data volume's claim, or on another tier, there is no Job.
    expect(postgresqlEngine.reprotectTemplate!(ctx, { claims: {} })).toBeUndefined();
    expect(postgresqlEngine.reprotectTemplate!(context({ tier: 'warm' }), { claims: { data: 'x' } })).toBeUndefined();
  });

  test('hot: the failback Job promotes the primary through its Service and removes its standby settings', () => {
    const ctx = context({ serving: 'standby' });
    const t = postgresqlEngine.failbackTemplate!(ctx)!;
    const c = t.spec!.containers[0]!;
    expect(c.command).toEqual(['/bin/sh', '-c', promoteScript(failbackOptions(ctx))]);
    expect(failbackOptions(ctx)).toMatchObject({ standby: { host: 'orders-db.shop.svc', port: 5432 }, resetStandbySettings: true, timeoutSeconds: 300 });
    expect(c.env).toEqual([secretRef('PGUSER', 'orders-db-super', 'username'), secretRef('PGPASSWORD', 'orders-db-super', 'password')]);
    expect(postgresqlEngine.failbackTemplate!(context({ tier: 'cold' }))).toBeUndefined();
  });

  test('traffic.mode primaryService: the primary Service leads to the serving standby, so no failback Job, no catch-up and no divergence are aimed at it', async () => {
    const ctx = context({ serving: 'standby', traffic: 'primaryService' });
    expect(postgresqlEngine.failbackTemplate!(ctx)).toBeUndefined();
    expect(postgresqlEngine.failbackTemplate!(context({ serving: 'standby', traffic: 'operatorService' }))).toBeDefined();
    // Re-protection addresses the standby's own replica 0 and works in both modes.
    expect(postgresqlEngine.reprotectTemplate!(ctx, { claims: { data: 'data-orders-db-0' } })).toBeDefined();
    const reason = "with traffic.mode primaryService the primary's Service orders-db selects the standby's pods while the standby serves, so the PostgreSQL engine cannot reach the old primary through it; failback needs traffic.mode operatorService";
    expect(await caughtUp(ctx, fakeIO())).toEqual({ caughtUp: false, message: reason });
    expect((await divergence(ctx, fakeIO())).message).toBe(`the divergence cannot be measured: ${reason}; the re-protect Job reports it from the data directory`);
  });
});

// Benchmark of the PostgreSQL engine's data paths on loopback servers (the
// test harness's): how long the promote action takes, how far a hot standby
// lags under a steady pgbench write load (and what synchronous mode costs),
// how long a warm sync of a ~1 GB database takes, how long a failback under
// load refuses writes, and what re-protecting an old primary of a ~1 GB
// database copies with pg_rewind and with a base backup, and what a hot drill
// (a base backup taken from the standby) makes the primary do. Everything runs the
// engine's own scripts and observe(), as the tests do.
//
//   npm exec -- node bench/postgresql.ts      (as root; prints a table and the JSON)
//   npm exec -- node bench/postgresql.ts --drill      (only the hot drill)
//   npm exec -- node bench/postgresql.ts --lifecycle [--failback-runs 10] [--reprotect-scale 70] [--out FILE]
//     (only failback under load and re-protection; writes bench/results-postgresql-lifecycle.json)
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { observeReplication } from '../src/engines/postgresql/observe.ts';
import { standbyBootstrapScript } from '../src/engines/postgresql/script-bootstrap.ts';
import { drillCopyScript, drillVerifyScript } from '../src/engines/postgresql/script-drill.ts';
import { promoteScript } from '../src/engines/postgresql/script-promote.ts';
import { warmCopyScript } from '../src/engines/postgresql/script-warm-copy.ts';
import { REPLICATION_SQL } from '../src/engines/postgresql/sql.ts';
import { bootstrapOptions, drillCopyOptions, drillVerifyOptions, promoteOptions, warmCopyOptions } from '../src/engines/postgresql/script-options.ts';
import { PgHarness, SUPERUSER, waitFor, type PgServer } from '../test/postgres/harness.ts';
import { failbackUnderLoad, Pair, pgbench as pairPgbench, rewindVersusBaseBackup, Writers, type FailbackRun, type Traffic } from '../test/postgres/lifecycle.ts';
import { context, fakeIO, scriptEnv } from '../test/postgres/site.ts';

export interface PostgresBenchOptions {
  /** Promotions measured (each on a fresh primary and standby). */
  promoteRuns?: number;
  /** Seconds of steady pgbench load while the lag is sampled. */
  lagSeconds?: number;
  /** Target transactions per second of the steady load. */
  lagRate?: number;
  /** Seconds of unthrottled pgbench per replication mode (the cost of synchronous commit). */
  modeSeconds?: number;
  /** pgbench scale of the warm-sync database (70 ≈ 1 GB). */
  warmScale?: number;
  /** Failbacks measured under load (each followed by an unmeasured switchover back). */
  failbackRuns?: number;
  /** pgbench scale of the re-protection database (70 ≈ 1 GB). */
  reprotectScale?: number;
}

function log(message: string): void {
  process.stderr.write(`[bench postgresql ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function stats(values: readonly number[], digits = 3): { n: number; p50: number | null; p99: number | null; min: number | null; max: number | null } {
  if (values.length === 0) return { n: 0, p50: null, p99: null, min: null, max: null };
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number) => round(s[Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length))) - 1]!, digits);
  return { n: s.length, p50: at(50), p99: at(99), min: round(s[0]!, digits), max: round(s[s.length - 1]!, digits) };
}

const PGBENCH_CONF = { fsync: 'on', shared_buffers: '128MB', max_wal_size: '2GB', checkpoint_timeout: '15min' };

/** A primary and a streaming standby bootstrapped by the engine's script. */
async function pair(h: PgHarness, name: string, synchronous = false): Promise<{ primary: PgServer; standby: PgServer }> {
  const primary = await h.primary({ name: `${name}-primary`, conf: PGBENCH_CONF });
  const ctx = context({ port: primary.port, synchronous });
  const opts = bootstrapOptions(ctx);
  const dir = join(h.root, `${name}-standby`);
  const run = await h.runScript(standbyBootstrapScript({ ...opts, primary: { ...opts.primary, host: '127.0.0.1' }, dataDirectory: dir }), scriptEnv());
  if (run.code !== 0) throw new Error(`bootstrap failed: ${run.stderr}`);
  const standby = await h.server(dir);
  return { primary, standby };
}

function pgbench(h: PgHarness, server: PgServer, args: string[]) {
  return h.asPostgres([join(h.bin, 'pgbench'), '-h', server.socketDir, '-p', String(server.port), '-U', SUPERUSER.username, ...args, 'postgres']);
}

function tpsOf(output: string): number | undefined {
  const m = /tps = ([\d.]+)/.exec(output);
  return m ? Number(m[1]) : undefined;
}

async function benchPromote(runs: number) {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const h = await PgHarness.create();
    try {
      const { primary, standby } = await pair(h, `p${i}`);
      await primary.query('CREATE TABLE t AS SELECT generate_series(1, 10000) AS x');
      await primary.stop('immediate');
      const opts = promoteOptions(context({ port: standby.port }));
      const script = promoteScript({ ...opts, standby: { ...opts.standby, host: '127.0.0.1', port: standby.port }, timeoutSeconds: 60 });
      const r = await h.runScript(script, scriptEnv({ user: SUPERUSER.username, password: SUPERUSER.password }));
      if (r.code !== 0) throw new Error(`promote failed: ${r.stderr}`);
      times.push(r.ms);
      log(`promote ${i + 1}/${runs}: ${r.ms} ms`);
    } finally {
      await h.cleanup();
    }
  }
  return { note: 'wall time of the promote Job script: pg_isready, pg_promote(wait => true), leave-recovery check', ms: stats(times, 0) };
}

async function benchLag(seconds: number, rate: number) {
  const h = await PgHarness.create();
  try {
    const { primary } = await pair(h, 'lag');
    const init = await pgbench(h, primary, ['-i', '-s', '10', '-q']);
    if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
    const ctx = context({ port: primary.port });
    const load = pgbench(h, primary, ['-n', '-c', '4', '-j', '2', '-T', String(seconds), '-R', String(rate)]);
    const lags: number[] = [];
    const behind: number[] = [];
    const problems = new Set<string>();
    const c = await primary.client();
    const started = Date.now();
    await new Promise((r) => setTimeout(r, 2000)); // let the load settle
    while (Date.now() - started < (seconds - 1) * 1000) {
      const o = await observeReplication(ctx, fakeIO());
      if (o.lagSeconds !== undefined) lags.push(o.lagSeconds);
      if (o.problem) problems.add(o.problem);
      const rows = await c.query<{ replay_behind_bytes: number | null }>(REPLICATION_SQL, [['standby_orders_db_0']]);
      const b = rows.rows[0]?.replay_behind_bytes;
      if (b !== null && b !== undefined) behind.push(b);
      await new Promise((r) => setTimeout(r, 250));
    }
    const done = await load;
    return {
      load: `pgbench TPC-B-like, 4 clients, rate-limited to ${rate} tps, scale 10, fsync on`,
      tps: tpsOf(done.stdout) ?? null,
      lagSeconds: stats(lags, 3),
      replayBehindBytes: stats(behind, 0),
      problems: [...problems],
    };
  } finally {
    await h.cleanup();
  }
}

async function benchModes(seconds: number) {
  const out: Record<string, number | null> = {};
  for (const synchronous of [false, true]) {
    const h = await PgHarness.create();
    try {
      const { primary } = await pair(h, synchronous ? 'sync' : 'async', synchronous);
      const init = await pgbench(h, primary, ['-i', '-s', '10', '-q']);
      if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
      const r = await pgbench(h, primary, ['-n', '-c', '4', '-j', '2', '-T', String(seconds)]);
      out[synchronous ? 'synchronousTps' : 'asynchronousTps'] = tpsOf(r.stdout) ?? null;
      log(`${synchronous ? 'synchronous' : 'asynchronous'}: ${tpsOf(r.stdout) ?? '?'} tps`);
    } finally {
      await h.cleanup();
    }
  }
  return { load: `pgbench TPC-B-like, 4 clients, unthrottled, ${seconds}s per mode, fsync on`, ...out };
}

async function benchWarmSync(scale: number) {
  const h = await PgHarness.create();
  try {
    const primary = await h.primary({ name: 'warm-primary', conf: { ...PGBENCH_CONF, fsync: 'off' } });
    const t0 = Date.now();
    // Server-side data generation (G): the fastest way to a large database on two cores.
    const init = await pgbench(h, primary, ['-i', '-s', String(scale), '-I', 'dtGvp', '-q']);
    if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
    const [{ bytes }] = (await primary.query<{ bytes: string }>('SELECT sum(pg_database_size(datname))::text AS bytes FROM pg_database')) as [{ bytes: string }];
    log(`warm: ${scale} scale database ready in ${Math.round((Date.now() - t0) / 1000)} s (${Math.round(Number(bytes) / 2 ** 20)} MiB)`);
    await primary.query('CHECKPOINT');
    const opts = warmCopyOptions(context({ tier: 'warm', port: primary.port }));
    const copy = join(h.root, 'warm-copy');
    const r = await h.runScript(warmCopyScript({ ...opts, primary: { ...opts.primary, host: '127.0.0.1' }, dataDirectory: copy }), scriptEnv());
    if (r.code !== 0) throw new Error(`warm sync failed: ${r.stderr}`);
    const verify = await h.asPostgres([join(h.bin, 'pg_verifybackup'), '--quiet', copy]);
    const mib = Number(bytes) / 2 ** 20;
    return {
      databaseMiB: Math.round(mib),
      syncSeconds: round(r.ms / 1000, 1),
      MiBPerSecond: round(mib / (r.ms / 1000), 0),
      verifyAloneSeconds: round(verify.ms / 1000, 1),
      note: "the warm copy Job script: full pg_basebackup (fast checkpoint, WAL streamed) then pg_verifybackup; verifyAloneSeconds re-runs the verification alone",
    };
  } finally {
    await h.cleanup();
  }
}

/** Failbacks under a steady pgbench load and 4 writers that record every acknowledged commit (test/postgres/failback.test.ts). */
export async function benchFailback(runs: number) {
  const h = await PgHarness.create();
  try {
    const pair = await Pair.create(h, { name: 'failback', conf: { ...PGBENCH_CONF, wal_log_hints: 'on' } });
    const init = await pairPgbench(h, pair.p, ['-i', '-s', '5', '-q']);
    if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
    await pair.p.query('CREATE TABLE acked (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())');
    await pair.protect();
    const promoted = await pair.promote('standby');
    if (promoted.code !== 0) throw new Error(`promote failed: ${promoted.stderr}`);
    await pair.reprotectBack();
    await pair.waitStreaming('standby');
    const traffic: Traffic = { target: pair.s! };
    const writers = new Writers(traffic, 4);
    const measured: FailbackRun[] = [];
    try {
      for (let i = 0; i < runs; i++) {
        measured.push(await failbackUnderLoad(pair, writers, traffic, { rate: 100, settleMs: 1500 }));
        log(`failback ${i + 1}/${runs}: writes refused for ${Math.round(measured[i]!.refusedMs)} ms`);
      }
    } finally {
      await writers.stop();
    }
    const final = await pair.serving();
    const present = new Set((await final.query<{ id: string }>('SELECT id::text FROM acked')).map((r) => Number(r.id)));
    return {
      load: 'pgbench TPC-B-like, 2 clients rate-limited to 100 tps, scale 5, plus 4 writers committing one row per transaction; fsync on',
      writesRefusedMs: stats(measured.map((r) => r.refusedMs), 0),
      stopWritesMs: stats(measured.map((r) => r.stopWritesMs), 0),
      catchUpMs: stats(measured.map((r) => r.catchUpMs), 0),
      promoteMs: stats(measured.map((r) => r.promoteMs), 0),
      acknowledgedCommits: writers.acks.length,
      acknowledgedCommitsLost: writers.acks.filter((a) => !present.has(a.id)).length,
      // pgbench's own count of committed transactions per failback against the history rows (one
      // per transaction) the promoted primary gained, and both sides' tables right after the promotion.
      pgbenchCommitted: measured.reduce((n, r) => n + r.pgbenchProcessed, 0),
      pgbenchCommitsMissing: measured.reduce((n, r) => n + Math.max(0, r.pgbenchProcessed - r.historyAdded), 0),
      tablesDifferedAfterPromotion: measured.filter((r) => r.servingTables !== r.promotedTables).length,
      note: 'writesRefusedMs: the longest time no writer got a commit acknowledged around each failback (stop writes, wait until caught up, pg_promote, traffic switch, reconnect)',
    };
  } finally {
    await h.cleanup();
  }
}

/** Re-protection of an old primary after a failover: pg_rewind against a base backup of the same serving side. */
export async function benchReprotect(scale: number) {
  const h = await PgHarness.create();
  try {
    const c = await rewindVersusBaseBackup(h, { scale, conf: PGBENCH_CONF });
    const side = (r: { report: { method: string; bytes: number | null } | undefined; ms: number }) => ({
      method: r.report?.method ?? null,
      MiB: r.report?.bytes != null ? round(r.report.bytes / 2 ** 20, 1) : null,
      seconds: round(r.ms / 1000, 1),
    });
    return {
      databaseMiB: Math.round(c.databaseBytes / 2 ** 20),
      rewind: side(c.rewind),
      baseBackup: side(c.baseBackup),
      note: 'the re-protect Job script after a failover and 400 pgbench transactions on each side: pg_rewind of the old primary (crash recovery, dry run, rewind, standby settings), then the same Job into an empty directory (pg_basebackup)',
    };
  } finally {
    await h.cleanup();
  }
}

/** What the primary has done so far: WAL written, WAL sent to its WAL senders, blocks read, tuples returned, connections. */
const PRIMARY_FIGURES_SQL = `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8 AS wal,
  (SELECT coalesce(sum(pg_wal_lsn_diff(sent_lsn, '0/0')), 0) FROM pg_stat_replication)::float8 AS sent,
  (SELECT sum(blks_read) FROM pg_stat_database)::float8 AS blks_read,
  (SELECT sum(tup_returned) FROM pg_stat_database)::float8 AS tup_returned`;
const SENDERS_SQL = `SELECT count(*)::int AS all, count(*) FILTER (WHERE application_name = $1)::int AS drill FROM pg_stat_replication`;

interface PrimaryFigures {
  wal: number;
  sent: number;
  blks_read: number;
  tup_returned: number;
}

/** One committing client (a few hundred small transactions a second) until stopped: the load a drill runs under. */
function writeLoad(c: pg.Client): { stop: () => Promise<number> } {
  const state = { stopped: false };
  let n = 0;
  const loop = (async () => {
    while (!state.stopped) {
      await c.query('INSERT INTO orders (id) VALUES ($1)', [++n]);
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  return {
    stop: async () => {
      state.stopped = true;
      await loop;
      return n;
    },
  };
}

/** Over a window: how much the primary's figures grew, and the most WAL senders (all, and the drill's) seen on each server. */
async function window(primary: PgServer, standby: PgServer, app: string, during: () => Promise<void>) {
  const p = await primary.client();
  const s = await standby.client();
  try {
    const figures = async () => (await p.query<PrimaryFigures>(PRIMARY_FIGURES_SQL)).rows[0]!;
    const before = await figures();
    const max = { primarySenders: 0, primaryDrillSenders: 0, standbyDrillSenders: 0, primaryDrillConnections: 0 };
    const state = { sampling: true };
    const sampler = (async () => {
      while (state.sampling) {
        const a = (await p.query<{ all: number; drill: number }>(SENDERS_SQL, [app])).rows[0]!;
        const b = (await s.query<{ all: number; drill: number }>(SENDERS_SQL, [app])).rows[0]!;
        const conn = (await p.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [app])).rows[0]!;
        max.primarySenders = Math.max(max.primarySenders, a.all);
        max.primaryDrillSenders = Math.max(max.primaryDrillSenders, a.drill);
        max.standbyDrillSenders = Math.max(max.standbyDrillSenders, b.drill);
        max.primaryDrillConnections = Math.max(max.primaryDrillConnections, conn.n);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const t0 = performance.now();
    await during();
    const seconds = (performance.now() - t0) / 1000;
    state.sampling = false;
    await sampler;
    // Cumulative statistics are flushed about once a second: let the window's counts arrive.
    await new Promise((r) => setTimeout(r, 1500));
    const after = await figures();
    return {
      seconds: round(seconds, 2),
      primaryWalWrittenBytes: after.wal - before.wal,
      primaryWalSentBytes: after.sent - before.sent,
      primaryBlocksRead: after.blks_read - before.blks_read,
      primaryTuplesReturned: after.tup_returned - before.tup_returned,
      ...max,
    };
  } finally {
    await p.end();
    await s.end();
  }
}

/**
 * A hot drill of a real streaming standby under a steady write load, as the copy Job and the
 * verification Job run it (the engine's drillCopyScript against the standby, the scratch server
 * started on the copy, drillVerifyScript against it): its RTO on loopback, and what the primary
 * did during the copy next to a window of the same length without a drill.
 */
export async function benchPostgresDrill(o: { scale?: number } = {}): Promise<Record<string, unknown>> {
  const scale = o.scale ?? 10;
  const h = await PgHarness.create();
  try {
    const { primary, standby } = await pair(h, 'drill');
    const init = await pgbench(h, primary, ['-i', '-s', String(scale), '-q']);
    if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
    await primary.query('CREATE TABLE orders (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())');
    const ctx = context({ port: primary.port });
    const load = writeLoad(await primary.client());
    await waitFor(async () => (await observeReplication(ctx, fakeIO())).streaming === true, 60_000, 'the standby streaming');
    const databaseMiB = round(Number((await primary.query<{ b: string }>('SELECT pg_database_size(current_database())::text AS b'))[0]!.b) / 2 ** 20, 1);
    const co = drillCopyOptions(ctx);
    const copyDir = join(h.root, 'drill-copy');
    const t = { copy: 0, ready: 0, verified: 0 };
    let copyOut = '';
    const started = performance.now();
    const drill = await window(primary, standby, co.applicationName, async () => {
      const copy = await h.runScript(drillCopyScript({ ...co, standby: { ...co.standby, host: standby.host, port: standby.port }, dataDirectory: copyDir }), scriptEnv());
      if (copy.code !== 0) throw new Error(`drill copy failed: ${copy.stderr}`);
      copyOut = copy.stdout;
      t.copy = performance.now() - started;
    });
    const scratch = await h.server(copyDir);
    t.ready = performance.now() - started;
    const terminationLog = join(h.root, 'termination-log');
    const check = await h.runScript(drillVerifyScript({ ...drillVerifyOptions(context({ port: scratch.port })), terminationLog }), {
      ...scriptEnv({ user: SUPERUSER.username, password: SUPERUSER.password }),
      DRILL_HOST: '127.0.0.1',
    });
    t.verified = performance.now() - started;
    if (check.code !== 0) throw new Error(`drill check failed: ${check.stderr}`);
    const message = existsSync(terminationLog) ? readFileSync(terminationLog, 'utf8') : '';
    const copyMiB = round(Number((await scratch.query<{ b: string }>('SELECT sum(pg_database_size(datname))::text AS b FROM pg_database'))[0]!.b) / 2 ** 20, 1);
    // The same load, the same length, no drill: what the primary does anyway.
    const baseline = await window(primary, standby, co.applicationName, () => new Promise((r) => setTimeout(r, drill.seconds * 1000)));
    const commits = await load.stop();
    return {
      setup: `one primary and one streaming standby (the engine's bootstrap script), pgbench -i -s ${scale} plus one client committing small inserts every ~2 ms throughout; the drill copy is drillCopyScript against the standby's address, the check drillVerifyScript against the scratch server, all on loopback`,
      databaseMiB,
      copyMiB,
      copiedFrom: /drill copy complete and verified/.test(copyOut) ? 'the standby (drill copy complete and verified)' : copyOut.slice(-200),
      seconds: { copy: round(t.copy / 1000, 2), scratchReady: round(t.ready / 1000, 2), rto: round(t.verified / 1000, 2) },
      newestCommit: /newest-commit=(\S+)/.exec(message)?.[1] ?? null,
      primaryDuringDrill: drill,
      primaryWithoutDrill: baseline,
      extraOnPrimary: {
        walSentBytes: drill.primaryWalSentBytes - drill.primaryWalWrittenBytes,
        drillWalSenders: drill.primaryDrillSenders,
        drillConnections: drill.primaryDrillConnections,
        note: 'primaryWalSentBytes - primaryWalWrittenBytes during the copy: what the primary sent beyond streaming its own new WAL to the standby; the drill\'s WAL sender (BASE_BACKUP) runs on the standby',
      },
      commits,
    };
  } finally {
    await h.cleanup();
  }
}

export async function benchPostgres(o: PostgresBenchOptions = {}): Promise<Record<string, unknown>> {
  const h = await PgHarness.create();
  const environment = { postgres: h.major, cpus: cpus().length, bin: h.bin };
  await h.cleanup();
  log(`PostgreSQL ${environment.postgres}, ${environment.cpus} CPUs`);
  const promote = await benchPromote(o.promoteRuns ?? 10);
  log(`promote: p50 ${promote.ms.p50 ?? '?'} ms`);
  const replicationLag = await benchLag(o.lagSeconds ?? 30, o.lagRate ?? 300);
  log(`lag: p50 ${replicationLag.lagSeconds.p50 ?? '?'} s, p99 ${replicationLag.lagSeconds.p99 ?? '?'} s at ${replicationLag.tps ?? '?'} tps`);
  const synchronousCost = await benchModes(o.modeSeconds ?? 15);
  const warmSync = await benchWarmSync(o.warmScale ?? 70);
  log(`warm sync: ${warmSync.syncSeconds} s for ${warmSync.databaseMiB} MiB`);
  const failback = await benchFailback(o.failbackRuns ?? 5);
  log(`failback: writes refused p50 ${failback.writesRefusedMs.p50 ?? '?'} ms, p99 ${failback.writesRefusedMs.p99 ?? '?'} ms`);
  const reprotect = await benchReprotect(o.reprotectScale ?? 70);
  log(`re-protect: rewind ${reprotect.rewind.MiB ?? '?'} MiB in ${reprotect.rewind.seconds} s, base backup ${reprotect.baseBackup.MiB ?? '?'} MiB in ${reprotect.baseBackup.seconds} s`);
  const drill = await benchPostgresDrill();
  return { environment, promote, replicationLag, synchronousCost, warmSync, failback, reprotect, drill };
}

function printTable(r: Record<string, unknown>): void {
  const rows: [string, string][] = [];
  const walk = (prefix: string, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(prefix ? `${prefix}.${k}` : k, x);
    } else {
      rows.push([prefix, Array.isArray(v) ? (v.length ? v.join('; ') : '-') : String(v)]);
    }
  };
  walk('', r);
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(w)}  ${v}\n`);
}

/** The commit under test, "-dirty" when the code the bench runs differs from it (taken at the start). */
function gitCommit(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'bench/*.ts', 'test/postgres'], { encoding: 'utf8' }).trim();
    return dirty ? `${commit}-dirty` : commit;
  } catch {
    return 'unknown'; // not a git checkout
  }
}

/**
 * Only the lifecycle parts (failback under load, re-protection rewind vs base backup), written to
 * their own results file with date, commit, settings and the machine's load: results.json keeps
 * the other figures.
 */
export async function benchPostgresLifecycle(o: { failbackRuns: number; reprotectScale: number }): Promise<Record<string, unknown>> {
  const started = new Date();
  const commit = gitCommit();
  const loadAverageAtStart = loadavg().map((x) => round(x, 2));
  const h = await PgHarness.create();
  const environment = { postgres: h.major, cpus: cpus().length, model: cpus()[0]?.model.trim() ?? 'unknown', node: process.version };
  await h.cleanup();
  log(`PostgreSQL ${environment.postgres}, ${environment.cpus} CPUs, load average ${loadAverageAtStart.join(' ')}`);
  const failback = await benchFailback(o.failbackRuns);
  log(`failback: writes refused p50 ${failback.writesRefusedMs.p50 ?? '?'} ms, p99 ${failback.writesRefusedMs.p99 ?? '?'} ms, ${failback.acknowledgedCommitsLost} of ${failback.acknowledgedCommits} acknowledged commits lost`);
  const loadAverageAfterFailback = loadavg().map((x) => round(x, 2));
  const reprotect = await benchReprotect(o.reprotectScale);
  log(`re-protect: rewind ${reprotect.rewind.MiB ?? '?'} MiB in ${reprotect.rewind.seconds} s, base backup ${reprotect.baseBackup.MiB ?? '?'} MiB in ${reprotect.baseBackup.seconds} s`);
  return {
    date: started.toISOString(),
    commit,
    command: `node bench/postgresql.ts --lifecycle --failback-runs ${o.failbackRuns} --reprotect-scale ${o.reprotectScale}`,
    settings: {
      failbackRuns: o.failbackRuns,
      reprotectScale: o.reprotectScale,
      servers: 'PostgreSQL on loopback (P at 127.0.0.1, S at 127.0.0.2), the engine\'s own scripts (test/postgres/lifecycle.ts)',
    },
    machine: {
      ...environment,
      loadAverageAtStart,
      loadAverageAfterFailback,
      loadAverageAtEnd: loadavg().map((x) => round(x, 2)),
      note: 'a machine shared with other engineers\' tests and builds: the times are upper bounds',
    },
    durationSeconds: round((Date.now() - started.getTime()) / 1000, 0),
    failback,
    reprotect,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      drill: { type: 'boolean', default: false },
      lifecycle: { type: 'boolean', default: false },
      'failback-runs': { type: 'string', default: '10' },
      'reprotect-scale': { type: 'string', default: '70' },
      out: { type: 'string' },
    },
    strict: true,
  });
  const positive = (flag: 'failback-runs' | 'reprotect-scale') => {
    const n = Number(values[flag]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} ${values[flag]}: give a positive integer`);
    return n;
  };
  const result = values.drill
    ? await benchPostgresDrill()
    : values.lifecycle
      ? await benchPostgresLifecycle({ failbackRuns: positive('failback-runs'), reprotectScale: positive('reprotect-scale') })
      : await benchPostgres();
  printTable(result);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  if (values.lifecycle) {
    const out = values.out ?? join(dirname(fileURLToPath(import.meta.url)), 'results-postgresql-lifecycle.json');
    await writeFile(`${out}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
    await rename(`${out}.tmp`, out);
    log(`results written to ${out}`);
  }
}

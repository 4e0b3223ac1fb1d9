// Drills against real servers: the engine's drill copy script (the hot drill's copy Job), the cold
// tier's dump and restore scripts, and the engine's drill check (the verification Job), exactly as
// the pod templates run them, with only addresses and directories pointed at loopback. The drill's
// steps and its record come from the operator's own pure functions (src/drill/plan.ts, machine.ts,
// record.ts) fed with the times measured here, so the printed record is what status.lastDrill says.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Job } from '@kubernetes/client-node';
import type pg from 'pg';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { DrillRecord, DrillStatus } from '../../src/api/status.ts';
import { advance, begin, finish } from '../../src/drill/machine.ts';
import { planDrill } from '../../src/drill/plan.ts';
import { recorded } from '../../src/drill/record.ts';
import type { EngineContext } from '../../src/engines/engine.ts';
import { postgresqlEngine } from '../../src/engines/postgresql/engine.ts';
import { forgetPrimaries, observeReplication } from '../../src/engines/postgresql/observe.ts';
import { standbyBootstrapScript } from '../../src/engines/postgresql/script-bootstrap.ts';
import { drillCopyScript, drillVerifyScript } from '../../src/engines/postgresql/script-drill.ts';
import { dumpScript } from '../../src/engines/postgresql/script-dump.ts';
import { restoreScript } from '../../src/engines/postgresql/script-restore.ts';
import { bootstrapOptions, drillCopyOptions, drillVerifyOptions, dumpOptions, restoreOptions } from '../../src/engines/postgresql/script-options.ts';
import { LABEL_ROLE } from '../../src/site/names.ts';
import { PgHarness, SUPERUSER, waitFor, type PgServer } from './harness.ts';
import { context, scriptEnv, fakeIO, SITE } from './site.ts';

let h: PgHarness;
beforeEach(async () => {
  h = await PgHarness.create();
  forgetPrimaries();
});
afterEach(async () => {
  await h.cleanup();
});

/**
 * Commit timestamps (to compare the copy with what the primary committed before a time), and
 * every connection and replication command logged with its application_name (to prove which
 * server a drill read from).
 */
const CONF = {
  track_commit_timestamp: 'on',
  log_connections: 'on',
  log_replication_commands: 'on',
  log_line_prefix: '%m [%p] app=%a ',
};

const DRILL_APP = 'standby_orders_db_drill';

/**
 * One client committing numbered rows into `orders` one transaction at a time until stopped: the
 * load a drill runs under. One writer, so commit order is id order and "every row committed before
 * time T" is exact (concurrent backends may write commit records out of timestamp order).
 */
class Writer {
  acked = 0;
  private stopped = false;
  private error: Error | undefined;
  private readonly loop: Promise<void>;

  constructor(c: pg.Client) {
    this.loop = (async () => {
      while (!this.stopped) {
        await c.query('INSERT INTO orders (id) VALUES ($1)', [this.acked + 1]);
        this.acked++;
        // ~ a few hundred commits a second: load, without taking both cores from the servers.
        await new Promise((r) => setTimeout(r, 2));
      }
    })().catch((err: unknown) => {
      // Kept for stop(); a test that ends early (its servers stopped under the writer) has failed already.
      this.error = err as Error;
    });
  }

  async waitFor(n: number): Promise<void> {
    const target = this.acked + n;
    await waitFor(() => Promise.resolve(this.acked >= target || this.error !== undefined), 60_000, `${n} more committed rows`);
    if (this.error) throw this.error;
  }

  async stop(): Promise<number> {
    this.stopped = true;
    await this.loop;
    if (this.error) throw this.error;
    return this.acked;
  }
}

async function ordersTable(primary: PgServer): Promise<Writer> {
  await primary.query('CREATE TABLE orders (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())');
  return new Writer(await primary.client());
}

async function idsOf(server: PgServer, where = 'true', params: unknown[] = []): Promise<number[]> {
  return (await server.query<{ id: number }>(`SELECT id FROM orders WHERE ${where} ORDER BY id`, params)).map((r) => r.id);
}

/** The ids the primary committed at or before `t` (by its own commit timestamps). */
function committedBy(primary: PgServer, t: string, strictly = false): Promise<number[]> {
  return idsOf(primary, `pg_xact_commit_timestamp(xmin) ${strictly ? '<' : '<='} $1::timestamptz`, [t]);
}

function logSince(server: PgServer, offset: number): string {
  return readFileSync(server.log, 'utf8').slice(offset);
}

function logSize(server: PgServer): number {
  return statSync(server.log).size;
}

/**
 * The engine's drill check against the scratch copy listening on `port`, as the verification Job
 * runs it (superuser credentials, DRILL_HOST the scratch pod's address); the newest commit it
 * reported in its termination message, if any.
 */
async function verify(port: number) {
  const opts = drillVerifyOptions(context({ port }));
  const terminationLog = join(h.root, `termination-log-${port}`);
  const run = await h.runScript(drillVerifyScript({ ...opts, terminationLog }), {
    ...scriptEnv({ user: SUPERUSER.username, password: SUPERUSER.password }),
    DRILL_HOST: '127.0.0.1',
  });
  const message = existsSync(terminationLog) ? readFileSync(terminationLog, 'utf8') : '';
  return { run, message, newestCommit: /newest-commit=(\S+)/.exec(message)?.[1] };
}

/** The Starting step: the scratch workload starts on the copy; Ready once it accepts connections. */
async function startScratch(d: DrillStatus, dir: string): Promise<{ d: DrillStatus; scratch: PgServer }> {
  const scratch = await h.server(dir);
  return { d: advance(d, new Date(), { readyAt: new Date().toISOString() }), scratch };
}

/** What the site's status holds once the drill is recorded, printed for the README and the report. */
function record(d: DrillStatus, message: string): DrillRecord {
  const r = finish(d, new Date(), 'Passed', message);
  const status = recorded({}, r);
  process.stdout.write(
    `\n[drill ${r.tier ?? '?'}] status.lastDrill = ${JSON.stringify(status.lastDrill)}\n[drill ${r.tier ?? '?'}] status.measuredRto = ${status.measuredRto ?? '-'}\n`,
  );
  return status.lastDrill!;
}

describe('drills (PostgreSQL engine)', () => {
  test("hot: the drill copies the running standby (the primary sees nothing), the copy leaves recovery on its own, never follows the primary, and holds every row committed before its newest commit", async () => {
    const primary = await h.primary({ conf: CONF });
    const ctx: EngineContext = context({ port: primary.port });
    const writer = await ordersTable(primary);
    // The hot standby, bootstrapped by the engine's init-container script.
    const dir = join(h.root, 'standby-0');
    const bo = bootstrapOptions(ctx);
    const boot = await h.runScript(standbyBootstrapScript({ ...bo, primary: { ...bo.primary, host: '127.0.0.1' }, dataDirectory: dir }), scriptEnv());
    expect(boot.code, boot.stderr).toBe(0);
    const standby = await h.server(dir);
    await writer.waitFor(300);
    await waitFor(async () => (await observeReplication(ctx, fakeIO())).streaming === true, 30_000, 'the standby streaming');

    // The drill, under load: what the controller plans for a hot PostgreSQL site, with the lag it knew.
    const primaryLog = logSize(primary);
    const standbyLog = logSize(standby);
    const startedAt = new Date();
    const lagSeconds = (await observeReplication(ctx, fakeIO())).lagSeconds;
    expect(lagSeconds).toBeDefined();
    const plan = planDrill({
      spec: ctx.site.spec,
      siteName: SITE,
      engine: postgresqlEngine,
      engineCtx: ctx,
      volumes: ctx.volumes,
      standby: undefined,
      runs: [],
      sets: [],
      jobs: [],
      snapshotsInstalled: false,
    });
    if ('problem' in plan) throw new Error(plan.problem);
    expect(plan.method).toBe('copyJob');
    let d = begin({ now: startedAt, trigger: 'manual', token: 'pg-hot', tier: 'hot', method: plan.method, source: plan.source, lagSeconds });

    // Copying: the engine's copy Job, aimed at the standby (replica 0's address).
    const copyDir = join(h.root, 'drill-copy');
    const co = drillCopyOptions(ctx);
    expect(co.applicationName).toBe(DRILL_APP);
    const copyStarted = Date.now();
    const copy = await h.runScript(drillCopyScript({ ...co, standby: { ...co.standby, host: standby.host, port: standby.port }, dataDirectory: copyDir }), scriptEnv());
    expect(copy.code, copy.stderr).toBe(0);
    expect(copy.stdout).toContain('drill copy complete and verified');
    // As controller/drill.ts learns it: the standby's data when the copy began, less its lag.
    d = advance(d, new Date(), { dataTime: new Date(copyStarted - (lagSeconds ?? 0) * 1000).toISOString() });
    expect(existsSync(join(copyDir, 'standby.signal'))).toBe(false);
    expect(existsSync(join(copyDir, 'recovery.signal'))).toBe(true);

    const started = await startScratch(d, copyDir);
    d = started.d;
    const scratch = started.scratch;
    const checked = await verify(scratch.port);
    expect(checked.run.code, checked.run.stderr).toBe(0);
    d = { ...d, verifiedAt: new Date().toISOString(), ...(checked.newestCommit ? { newestCommitTime: new Date(checked.newestCommit).toISOString() } : {}) };
    const rec = record(d, `newest committed transaction in the copy: ${checked.newestCommit ?? 'none'}`);
    await writer.waitFor(200);
    const total = await writer.stop();

    // The check saw the copy leave recovery and reported its newest replayed commit.
    expect(checked.newestCommit, checked.run.stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(checked.run.stdout).toContain(`left recovery and answers reads; newest replayed commit: ${checked.newestCommit!}`);
    expect((await scratch.query('SELECT pg_is_in_recovery() AS r'))[0]).toEqual({ r: false });

    // The rows: exactly those the primary committed up to the newest commit the check reported,
    // which include every row committed before the record's data time.
    const inCopy = await idsOf(scratch);
    const upToNewest = await committedBy(primary, checked.newestCommit!);
    expect(inCopy.length).toBeGreaterThan(300);
    expect(inCopy).toEqual(upToNewest);
    const beforeDataTime = await committedBy(primary, rec.dataTime!, true);
    expect(beforeDataTime.length).toBeGreaterThan(0);
    expect(beforeDataTime.filter((id) => !inCopy.includes(id))).toEqual([]);
    expect(rec.newestCommitTime! >= rec.dataTime!).toBe(true);
    process.stdout.write(`[drill hot] ${inCopy.length} rows in the copy of ${total} the primary committed during the test; copy script ${copy.ms} ms, check script ${checked.run.ms} ms\n`);

    // It never follows the primary: no WAL receiver, and rows the primary went on committing (which
    // the standby received) never arrive.
    expect(total).toBeGreaterThan(inCopy.length);
    await waitFor(async () => (await standby.query<{ n: number }>('SELECT count(*)::int AS n FROM orders'))[0]!.n === total, 30_000, 'every row on the standby');
    expect(await scratch.query('SELECT pid FROM pg_stat_wal_receiver')).toEqual([]);
    expect(await idsOf(scratch)).toEqual(inCopy);
    const conf = readFileSync(join(copyDir, 'postgresql.auto.conf'), 'utf8');
    expect(conf.trimEnd().split('\n').slice(-3)).toEqual(["primary_conninfo = ''", "primary_slot_name = ''", "restore_command = 'false'"]);

    // The primary did no work for it: no connection of the drill's, no base backup, no new slot; the standby served both.
    const onPrimary = logSince(primary, primaryLog);
    const onStandby = logSince(standby, standbyLog);
    expect(onStandby).toMatch(new RegExp(`app=${DRILL_APP} .*BASE_BACKUP`));
    expect(onPrimary).not.toContain(DRILL_APP);
    expect(onPrimary).not.toContain('BASE_BACKUP');
    expect(await primary.query('SELECT slot_name FROM pg_replication_slots')).toEqual([{ slot_name: 'standby_orders_db_0' }]);
    expect(await standby.query('SELECT slot_name FROM pg_replication_slots')).toEqual([]);

    // The record, as status.lastDrill has it.
    expect(rec).toMatchObject({ result: 'Passed', tier: 'hot', trigger: 'manual', token: 'pg-hot' });
    expect(rec.rtoSeconds).toBeGreaterThan(0);
    expect(rec.rtoSeconds).toBe((new Date(d.verifiedAt!).getTime() - startedAt.getTime()) / 1000);
    expect(rec.dataAgeSeconds).toBe(Math.max(0, (startedAt.getTime() - new Date(rec.dataTime!).getTime()) / 1000));
  });

  test('hot, on a quiet site: a copy of a standby with nothing to replay still leaves recovery; the check reports no commit rather than a wrong one', async () => {
    const primary = await h.primary({ conf: CONF });
    const ctx = context({ port: primary.port });
    await primary.query('CREATE TABLE orders (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())');
    await primary.query('INSERT INTO orders (id) SELECT generate_series(1, 1000)');
    const dir = join(h.root, 'standby-0');
    const bo = bootstrapOptions(ctx);
    const boot = await h.runScript(standbyBootstrapScript({ ...bo, primary: { ...bo.primary, host: '127.0.0.1' }, dataDirectory: dir }), scriptEnv());
    expect(boot.code, boot.stderr).toBe(0);
    const standby = await h.server(dir);
    await waitFor(async () => (await observeReplication(ctx, fakeIO())).lagSeconds === 0, 30_000, 'the standby caught up');
    // Nothing is written from here on: the standby replays no commit while the drill copies it.
    const copyDir = join(h.root, 'drill-copy');
    const co = drillCopyOptions(ctx);
    const copy = await h.runScript(drillCopyScript({ ...co, standby: { ...co.standby, host: standby.host, port: standby.port }, dataDirectory: copyDir }), scriptEnv());
    expect(copy.code, copy.stderr).toBe(0);
    const scratch = await h.server(copyDir);
    const checked = await verify(scratch.port);
    expect(checked.run.code, checked.run.stderr).toBe(0);
    expect(checked.run.stdout).toContain('left recovery and answers reads; newest replayed commit: none replayed');
    expect(checked.message).toBe('');
    expect((await scratch.query('SELECT pg_is_in_recovery() AS r'))[0]).toEqual({ r: false });
    expect(await idsOf(scratch)).toEqual(await idsOf(primary));
  });

  test('cold: the drill restores the newest dump into a new data directory; it holds every row committed before the dump began, and the check finds it a primary', async () => {
    const primary = await h.primary({ conf: CONF });
    const ctx = context({ tier: 'cold', port: primary.port });
    const writer = await ordersTable(primary);
    await writer.waitFor(300);

    // The dump CronJob's run, under load. Its Job's status.startTime (whole seconds) dates the dump.
    // Wait for the next whole second first: 300 rows can commit within one second, and then none
    // would be dated before the dump's whole-second start, leaving the check below with nothing.
    await new Promise((r) => setTimeout(r, 1_010 - (Date.now() % 1_000)));
    const dumps = await h.dir('dumps');
    const dumpStarted = new Date(Math.floor(Date.now() / 1000) * 1000);
    const dopts = dumpOptions(ctx);
    const dumped = await h.runScript(dumpScript({ ...dopts, primary: { ...dopts.primary, host: '127.0.0.1' }, directory: dumps }), scriptEnv({ user: SUPERUSER.username, password: SUPERUSER.password }));
    expect(dumped.code, dumped.stderr).toBe(0);
    const snapshotJob: V1Job = {
      metadata: { name: `${SITE}-snapshot-1`, labels: { [LABEL_ROLE]: 'snapshot' } },
      status: { startTime: dumpStarted, completionTime: new Date(), conditions: [{ type: 'Complete', status: 'True' }] },
    };
    await writer.waitFor(200);

    const startedAt = new Date();
    const plan = planDrill({
      spec: ctx.site.spec,
      siteName: SITE,
      engine: postgresqlEngine,
      engineCtx: ctx,
      volumes: ctx.volumes,
      standby: undefined,
      runs: [],
      sets: [],
      jobs: [snapshotJob],
      snapshotsInstalled: false,
    });
    if ('problem' in plan) throw new Error(plan.problem);
    expect(plan).toMatchObject({ method: 'restoreJob', dataTime: dumpStarted });
    let d = begin({ now: startedAt, trigger: 'manual', token: 'pg-cold', tier: 'cold', method: plan.method, source: plan.source, dataTime: plan.dataTime });

    // Copying: the cold tier's restore Job, into the drill's new (scratch) data directory.
    const data = join(h.root, 'drill-restored');
    const restored = await h.runScript(restoreScript({ ...restoreOptions(ctx), directory: dumps, dataDirectory: data }));
    expect(restored.code, restored.stderr).toBe(0);
    d = advance(d, new Date());
    const started = await startScratch(d, data);
    d = started.d;
    const scratch = started.scratch;
    const checked = await verify(scratch.port);
    expect(checked.run.code, checked.run.stderr).toBe(0);
    d = { ...d, verifiedAt: new Date().toISOString() };
    const rec = record(d, 'restored the newest dump');
    const total = await writer.stop();

    // A restored dump replays no WAL: the check says so and reports no commit time; the dump's time is the data time.
    expect(checked.run.stdout).toContain('left recovery and answers reads; newest replayed commit: none replayed');
    expect(checked.message).toBe('');
    expect(rec.newestCommitTime).toBeUndefined();
    expect(rec.dataTime).toBe(dumpStarted.toISOString());

    // The rows: a gapless prefix of what the primary committed (pg_dump's snapshot), holding every
    // row committed before the dump began, and none of what came after the drill started.
    const inCopy = await idsOf(scratch);
    expect(inCopy.length).toBeGreaterThan(0);
    expect(inCopy).toEqual(Array.from({ length: inCopy.length }, (_, i) => i + 1));
    const beforeDataTime = await committedBy(primary, rec.dataTime!, true);
    expect(beforeDataTime.length).toBeGreaterThan(0);
    expect(beforeDataTime.filter((id) => !inCopy.includes(id))).toEqual([]);
    expect(total).toBeGreaterThan(inCopy.length);
    expect((await committedBy(primary, startedAt.toISOString())).length).toBeGreaterThan(inCopy.length);
    process.stdout.write(`[drill cold] ${inCopy.length} rows in the copy of ${total} the primary committed during the test; dump script ${dumped.ms} ms, restore script ${restored.ms} ms, check script ${checked.run.ms} ms\n`);

    expect(rec).toMatchObject({ result: 'Passed', tier: 'cold', trigger: 'manual', token: 'pg-cold' });
    expect(rec.rtoSeconds).toBe((new Date(d.verifiedAt!).getTime() - startedAt.getTime()) / 1000);
    expect(rec.dataAgeSeconds).toBe((startedAt.getTime() - dumpStarted.getTime()) / 1000);
  });
});

// The hot tier against real servers: the standby is bootstrapped by the
// engine's own init-container script, measured by the engine's observe()
// and promoted by the engine's promote script, exactly as the pod templates
// run them, with only addresses and directories pointed at loopback.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { forgetPrimaries, observeReplication } from '../../src/engines/postgresql/observe.ts';
import { standbyBootstrapScript } from '../../src/engines/postgresql/script-bootstrap.ts';
import { promoteScript } from '../../src/engines/postgresql/script-promote.ts';
import { bootstrapOptions, promoteOptions } from '../../src/engines/postgresql/script-options.ts';
import { PgHarness, SUPERUSER, waitFor, type PgServer } from './harness.ts';
import { context, fakeIO, scriptEnv, type SiteOptions } from './site.ts';

let h: PgHarness;
beforeEach(async () => {
  h = await PgHarness.create();
  forgetPrimaries();
});
afterEach(async () => {
  await h.cleanup();
});

/** Runs the engine's bootstrap script (as the standby's init container would) for replica `ordinal`. */
async function bootstrap(primary: PgServer, o: SiteOptions & { ordinal?: number; dir?: string } = {}) {
  const ctx = context({ ...o, port: primary.port });
  const opts = bootstrapOptions(ctx);
  const dir = o.dir ?? join(h.root, `standby-${o.ordinal ?? 0}`);
  const script = standbyBootstrapScript({ ...opts, primary: { ...opts.primary, host: '127.0.0.1' }, dataDirectory: dir });
  const run = await h.runScript(script, scriptEnv({ pod: `orders-db-standby-${o.ordinal ?? 0}` }));
  return { ctx, dir, run, script };
}

/** The engine's promote script aimed at a loopback standby, run as the promote Job would. */
async function promote(standby: PgServer, o: SiteOptions = {}) {
  const opts = promoteOptions(context(o));
  const script = promoteScript({ ...opts, standby: { ...opts.standby, host: standby.host, port: standby.port }, timeoutSeconds: 60 });
  return h.runScript(script, scriptEnv({ user: SUPERUSER.username, password: SUPERUSER.password }));
}

async function count(server: PgServer, table = 'orders'): Promise<number> {
  const rows = await server.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return rows[0]!.n;
}

describe('hot standby (PostgreSQL engine)', () => {
  test("bootstraps a streaming standby with the engine's base-backup script; rows written on the primary appear on it", async () => {
    const primary = await h.primary();
    await primary.query('CREATE TABLE orders (id int PRIMARY KEY, note text)');
    await primary.query("INSERT INTO orders SELECT g, 'before' FROM generate_series(1, 100) g");

    const { dir, run, ctx } = await bootstrap(primary);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('base backup completed');
    expect(existsSync(join(dir, 'standby.signal'))).toBe(true);
    const auto = readFileSync(join(dir, 'postgresql.auto.conf'), 'utf8');
    expect(auto).toContain("primary_slot_name = 'standby_orders_db_0'");
    expect(auto).toMatch(/primary_conninfo = '.*application_name=standby_orders_db_0/);
    expect(auto).toContain('hot_standby = on');
    const slots = await primary.query<{ slot_name: string; slot_type: string }>('SELECT slot_name, slot_type FROM pg_replication_slots');
    expect(slots).toEqual([{ slot_name: 'standby_orders_db_0', slot_type: 'physical' }]);

    const standby = await h.server(dir);
    expect((await standby.query('SELECT pg_is_in_recovery() AS r'))[0]).toEqual({ r: true });
    expect(await count(standby)).toBe(100);
    await primary.query("INSERT INTO orders SELECT g, 'after' FROM generate_series(101, 250) g");
    await waitFor(async () => (await count(standby)) === 250, 20_000, 'the new rows on the standby');
    await expect(standby.query('INSERT INTO orders VALUES (999, $1)', ['x'])).rejects.toThrow(/read-only transaction/);

    const states = await primary.query<{ application_name: string; state: string }>('SELECT application_name, state FROM pg_stat_replication');
    expect(states).toEqual([{ application_name: 'standby_orders_db_0', state: 'streaming' }]);
    await waitFor(async () => (await observeReplication(ctx, fakeIO())).lagSeconds === 0, 20_000, 'lag 0');
    expect(await observeReplication(ctx, fakeIO())).toEqual({ streaming: true, lagSeconds: 0 });

    // The pod restarts: the init container leaves a standby's data directory alone and never needs the primary for it.
    await standby.stop();
    await primary.stop();
    const again = await bootstrap(primary, { dir });
    expect(again.run.code, again.run.stderr).toBe(0);
    expect(again.run.stdout).toContain('is a standby already');
    expect(again.run.stderr).toContain('warning: could not check synchronous_standby_names');
    const restarted = await h.server(dir);
    expect(await count(restarted)).toBe(250);
  });

  test('a data directory left half-written by an interrupted bootstrap is bootstrapped again; a promoted one is left alone', async () => {
    const primary = await h.primary();
    await primary.query('CREATE TABLE orders (id int)');
    await primary.query('INSERT INTO orders SELECT generate_series(1, 10)');
    const dir = await h.dir('standby-0');
    // What a killed pg_basebackup leaves: some files, no standby.signal, never started.
    for (const [name, text] of [['PG_VERSION', '15\n'], ['garbage', 'x']] as const) {
      const r = await h.runScript(`printf '%s' '${text}' > '${join(dir, name)}'`);
      expect(r.code).toBe(0);
    }
    const { run } = await bootstrap(primary, { dir });
    expect(run.code, run.stderr).toBe(0);
    expect(existsSync(join(dir, 'garbage'))).toBe(false);
    const standby = await h.server(dir);
    expect(await count(standby)).toBe(10);

    const promoted = await promote(standby);
    expect(promoted.code, promoted.stderr).toBe(0);
    const again = await bootstrap(primary, { dir });
    expect(again.run.code, again.run.stderr).toBe(0);
    expect(again.run.stdout).toContain('was promoted and is no longer a standby');
    // The primary still runs on the old timeline: this side serves, and nothing is rewound.
    expect(again.run.stdout).toContain("did not take over from it: it is not on a newer timeline than this data directory's 2: this side serves");
    expect(existsSync(join(dir, 'postmaster.opts'))).toBe(true);
  });

  test('reads the lag from pg_stat_replication: 0 when caught up, growing while replay is stuck, a problem when a replica stops', async () => {
    const primary = await h.primary();
    await primary.query('CREATE TABLE orders (id serial, at timestamptz DEFAULT now())');
    const r0 = await bootstrap(primary, { replicas: 2, ordinal: 0 });
    const r1 = await bootstrap(primary, { replicas: 2, ordinal: 1 });
    expect([r0.run.code, r1.run.code]).toEqual([0, 0]);
    const s0 = await h.server(r0.dir);
    const s1 = await h.server(r1.dir);
    const ctx = context({ port: primary.port, replicas: 2 });
    await waitFor(async () => (await observeReplication(ctx, fakeIO())).lagSeconds === 0, 20_000, 'lag 0');
    expect(await observeReplication(ctx, fakeIO())).toEqual({ streaming: true, lagSeconds: 0 });

    // Replay stopped on replica 0 (as a long query on the standby can stop it): the lag grows with the time since the first unreplayed write.
    await s0.query('SELECT pg_wal_replay_pause()');
    const started = Date.now();
    while (Date.now() - started < 3000) {
      await primary.query('INSERT INTO orders DEFAULT VALUES');
      await new Promise((r) => setTimeout(r, 100));
    }
    const stuck = await observeReplication(ctx, fakeIO());
    expect(stuck.streaming).toBe(true);
    expect(stuck.lagSeconds).toBeGreaterThan(2);
    expect(stuck.lagSeconds).toBeLessThan(30);
    await s0.query('SELECT pg_wal_replay_resume()');
    await waitFor(async () => (await observeReplication(ctx, fakeIO())).lagSeconds === 0, 20_000, 'lag back to 0');

    // Replica 1 stops: replica 0 still measures, the problem names replica 1 and its inactive slot.
    await s1.stop();
    const one = await observeReplication(ctx, fakeIO());
    expect(one.lagSeconds).toBe(0);
    expect(one.problem).toMatch(/^standby replica standby_orders_db_1 is not connected to the primary; its replication slot is inactive and retains \d+ KiB of WAL$/);

    // Scaled down to one replica: replica 1's slot belongs to nobody and holds WAL.
    const scaled = await observeReplication(context({ port: primary.port, replicas: 1 }), fakeIO());
    expect(scaled.problem).toMatch(/replication slot standby_orders_db_1 on the primary belongs to no standby replica .* SELECT pg_drop_replication_slot\('standby_orders_db_1'\)/);

    // Replica 0, the one promotion promotes, stops: no lag to show, and the status says why.
    await s0.stop();
    const none = await observeReplication(ctx, fakeIO());
    expect(none.streaming).toBe(false);
    expect(none.lagSeconds).toBeUndefined();
    expect(none.problem).toContain('standby replica standby_orders_db_0 is not connected to the primary; its replication slot is inactive');
  });

  test("promotion: after the primary stops, the engine's promote action makes the standby writable with every committed row", async () => {
    const primary = await h.primary();
    await primary.query('CREATE TABLE orders (id int PRIMARY KEY)');
    const { dir, run, ctx } = await bootstrap(primary);
    expect(run.code, run.stderr).toBe(0);
    // On its own address with the primary's port, as a pod would be.
    const standby = await h.server(dir, { host: '127.0.0.2', port: primary.port });
    const io = fakeIO({ standbyEndpoints: ['127.0.0.2'] });
    const c = await primary.client();
    const committed: number[] = [];
    for (let i = 1; i <= 500; i++) {
      await c.query('INSERT INTO orders VALUES ($1)', [i]);
      committed.push(i);
    }
    await waitFor(async () => (await observeReplication(ctx, io)).lagSeconds === 0, 20_000, 'lag 0');
    await primary.stop('fast');

    // The primary is gone, which is when promotion asks for the lag: replica 0 holds all WAL the primary was last seen with.
    const without = await observeReplication(ctx, io);
    expect(without.lagSeconds).toBe(0);
    expect(without.streaming).toBe(false);
    expect(without.problem).toMatch(
      new RegExp(`^cannot reach the primary at 127\\.0\\.0\\.1:${primary.port}: connect ECONNREFUSED; standby replica standby_orders_db_0 holds all WAL up to [0-9A-F]+/[0-9A-F]+, the primary's position \\d+s ago, when its lag was 0s$`),
    );
    // An operator that never saw the primary cannot judge it.
    forgetPrimaries();
    expect((await observeReplication(ctx, io)).lagSeconds).toBeUndefined();

    const result = await promote(standby);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('has left recovery and accepts writes');
    expect((await standby.query('SELECT pg_is_in_recovery() AS r'))[0]).toEqual({ r: false });
    await standby.query('INSERT INTO orders VALUES (100000)');
    const ids = (await standby.query<{ id: number }>('SELECT id FROM orders WHERE id < 100000 ORDER BY id')).map((r) => r.id);
    expect(ids).toEqual(committed);

    // The promote Job may run again (a retry after it succeeded): still success, nothing changes.
    const twice = await promote(standby);
    expect(twice.code, twice.stderr).toBe(0);
  });

  describe('a crash of the primary while the standby cannot receive WAL', () => {
    /**
     * Writers commit rows on the primary and record each acknowledged id.
     * Replica 0's WAL receiver is frozen for a second, the primary crashes
     * (immediate stop) and the frozen receiver is killed with what it had
     * not written; then the standby is promoted with the engine's action.
     * Returns the acknowledged ids missing on the promoted standby.
     */
    async function crashAndPromote(synchronous: boolean): Promise<{ acked: number[]; missing: number[] }> {
      const primary = await h.primary();
      await primary.query('CREATE TABLE acked (id int PRIMARY KEY)');
      const { dir, run, ctx } = await bootstrap(primary, { synchronous });
      expect(run.code, run.stderr).toBe(0);
      const standby = await h.server(dir);
      if (synchronous) {
        const setting = await primary.query<{ v: string }>("SELECT current_setting('synchronous_standby_names') AS v");
        expect(setting).toEqual([{ v: 'FIRST 1 ("standby_orders_db_0")' }]);
      }
      await waitFor(async () => {
        const o = await observeReplication(ctx, fakeIO());
        return o.streaming === true && o.problem === undefined;
      }, 20_000, 'replica 0 streaming (synchronously when asked)');
      const sync = await primary.query<{ sync_state: string }>('SELECT sync_state FROM pg_stat_replication');
      expect(sync).toEqual([{ sync_state: synchronous ? 'sync' : 'async' }]);

      const acked: number[] = [];
      let next = 0;
      let stop = false;
      const writer = async (c: pg.Client) => {
        while (!stop) {
          const id = ++next;
          try {
            await c.query('INSERT INTO acked VALUES ($1)', [id]);
            acked.push(id);
          } catch {
            return; // the primary is gone
          }
        }
      };
      const clients = await Promise.all([1, 2, 3, 4].map(() => primary.client()));
      const writers = clients.map(writer);
      await new Promise((r) => setTimeout(r, 1000));
      const receiver = (await standby.query<{ pid: number }>('SELECT pid FROM pg_stat_wal_receiver'))[0]!.pid;
      process.kill(receiver, 'SIGSTOP');
      await new Promise((r) => setTimeout(r, 1000));
      await primary.stop('immediate');
      process.kill(receiver, 'SIGKILL');
      stop = true;
      await Promise.all(writers);

      const result = await promote(standby);
      expect(result.code, result.stderr).toBe(0);
      await standby.waitReady();
      await standby.query('INSERT INTO acked VALUES (-1)');
      const present = new Set((await standby.query<{ id: number }>('SELECT id FROM acked')).map((r) => r.id));
      return { acked, missing: acked.filter((id) => !present.has(id)) };
    }

    test('synchronous mode: every acknowledged commit is on the promoted standby, row by row', async () => {
      const { acked, missing } = await crashAndPromote(true);
      expect(acked.length).toBeGreaterThan(50);
      expect(missing).toEqual([]);
    });

    test('asynchronous mode (control): the same crash loses acknowledged commits, so the check above can fail', async () => {
      const { acked, missing } = await crashAndPromote(false);
      expect(acked.length).toBeGreaterThan(50);
      expect(missing.length).toBeGreaterThan(0);
    });
  });
});

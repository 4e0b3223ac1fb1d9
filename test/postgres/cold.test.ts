// The cold tier against real servers: the engine's dump script (the dump
// CronJob's) and restore script (the restore Job's), with only the primary's
// address and the directories pointed at loopback and temp directories.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { DUMP_FILES, dumpScript } from '../../src/engines/postgresql/script-dump.ts';
import { restoreScript } from '../../src/engines/postgresql/script-restore.ts';
import { dumpOptions, restoreOptions } from '../../src/engines/postgresql/script-options.ts';
import { PgHarness, SUPERUSER, type PgServer } from './harness.ts';
import { context, scriptEnv } from './site.ts';

let h: PgHarness;
beforeEach(async () => {
  h = await PgHarness.create();
});
afterEach(async () => {
  await h.cleanup();
});

const asSuperuser = () => scriptEnv({ user: SUPERUSER.username, password: SUPERUSER.password });

async function dump(primary: PgServer, dir: string, database: string) {
  const opts = dumpOptions(context({ tier: 'cold', port: primary.port, database }));
  return h.runScript(dumpScript({ ...opts, primary: { ...opts.primary, host: '127.0.0.1' }, directory: dir }), asSuperuser());
}

async function restore(dir: string, data: string, database: string) {
  const opts = restoreOptions(context({ tier: 'cold', database }));
  // The restore Job gets no credentials: it works on a cluster of its own, over a private socket.
  return h.runScript(restoreScript({ ...opts, directory: dir, dataDirectory: data }));
}

function dumps(dir: string): string[] {
  return readdirSync(dir).sort();
}

/** Per table: row count and an md5 over all rows in a stable order. */
async function fingerprint(server: PgServer, database: string): Promise<Record<string, { rows: number; md5: string }>> {
  const tables = await server.query<{ t: string }>(
    "SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
    [],
    database,
  );
  const out: Record<string, { rows: number; md5: string }> = {};
  for (const { t } of tables) {
    const [r] = await server.query<{ rows: number; md5: string }>(
      `SELECT count(*)::int AS rows, md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) AS md5 FROM ${t} x`,
      [],
      database,
    );
    out[t] = r!;
  }
  return out;
}

async function shopData(primary: PgServer): Promise<void> {
  await primary.query("CREATE ROLE app LOGIN PASSWORD 'app-secret'");
  await primary.query('CREATE DATABASE shop OWNER app');
  const c = await primary.client({ database: 'shop' });
  await c.query('SET ROLE app');
  await c.query(`CREATE SCHEMA sales;
    CREATE TABLE sales.customers (id bigserial PRIMARY KEY, name text NOT NULL, tags jsonb, created timestamptz DEFAULT now());
    CREATE TABLE sales.orders (id bigserial PRIMARY KEY, customer bigint REFERENCES sales.customers, total numeric(12,2), blob bytea);
    CREATE INDEX ON sales.orders (customer);
    CREATE VIEW sales.big_orders AS SELECT * FROM sales.orders WHERE total > 500;
    COMMENT ON TABLE sales.orders IS 'orders, restored from a dump';
    INSERT INTO sales.customers (name, tags) SELECT 'customer ' || g, jsonb_build_object('n', g, 'vip', g % 7 = 0) FROM generate_series(1, 2000) g;
    INSERT INTO sales.orders (customer, total, blob) SELECT 1 + g % 2000, (g * 37 % 100000) / 100.0, decode(md5(g::text), 'hex') FROM generate_series(1, 20000) g;
    CREATE TABLE public.empty_one (x int);`);
}

describe('cold tier: logical dump and restore (PostgreSQL engine)', () => {
  test('a dump followed by a restore gives the same tables, row counts and checksums, with roles and pg_hba.conf', async () => {
    const primary = await h.primary();
    await writeFile(join(primary.dataDir, 'pg_hba.conf'), `# hba of the orders-db primary\n${readFileSync(join(primary.dataDir, 'pg_hba.conf'), 'utf8')}`);
    await primary.query('SELECT pg_reload_conf()');
    await shopData(primary);
    const before = await fingerprint(primary, 'shop');
    expect(Object.keys(before)).toEqual(['public.empty_one', 'sales.customers', 'sales.orders']);
    expect(before['sales.orders']!.rows).toBe(20000);
    const seq = await primary.query('SELECT last_value FROM sales.orders_id_seq', [], 'shop');

    const dir = await h.dir('dumps');
    const d = await dump(primary, dir, 'shop');
    expect(d.code, d.stderr).toBe(0);
    const [stamp, ...more] = dumps(dir);
    expect(more).toEqual([]);
    expect(stamp).toMatch(/^\d{8}T\d{6}Z$/);
    expect(readdirSync(join(dir, stamp!)).sort()).toEqual(Object.values(DUMP_FILES).sort());
    expect(readFileSync(join(dir, stamp!, DUMP_FILES.superuser), 'utf8').trim()).toBe(SUPERUSER.username);
    // The primary is gone by the time anyone restores.
    await primary.stop('immediate');

    const data = join(h.root, 'restored');
    const r = await restore(dir, data, 'shop');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`restore of ${stamp!} complete`);
    expect(readFileSync(join(data, 'pg_hba.conf'), 'utf8')).toContain('# hba of the orders-db primary');
    expect(readFileSync(join(data, 'postgresql.auto.conf'), 'utf8')).toContain("synchronous_standby_names = ''");

    // Started as the primary's pod template would start it (h.server logs in as postgres with its password).
    const restored = await h.server(data);
    expect((await restored.query('SELECT pg_is_in_recovery() AS r'))[0]).toEqual({ r: false });
    expect(await fingerprint(restored, 'shop')).toEqual(before);
    expect(await restored.query('SELECT last_value FROM sales.orders_id_seq', [], 'shop')).toEqual(seq);
    const owners = await restored.query('SELECT tableowner FROM pg_tables WHERE schemaname = $1 ORDER BY tablename', ['sales'], 'shop');
    expect(owners).toEqual([{ tableowner: 'app' }, { tableowner: 'app' }]);
    const app = await restored.client({ user: 'app', password: 'app-secret', database: 'shop' });
    expect((await app.query('SELECT count(*)::int AS n FROM sales.big_orders')).rows[0]).toEqual({ n: expect.any(Number) as number });
    expect((await app.query("SELECT obj_description('sales.orders'::regclass) AS c")).rows[0]).toEqual({ c: 'orders, restored from a dump' });
    await app.query("INSERT INTO sales.customers (name) VALUES ('after restore')");
  });

  test('the default database postgres is restored over the fresh cluster’s own', async () => {
    const primary = await h.primary();
    await primary.query('CREATE TABLE items (id int PRIMARY KEY, v text)');
    await primary.query("INSERT INTO items SELECT g, repeat('x', g % 50) FROM generate_series(1, 5000) g");
    const before = await fingerprint(primary, 'postgres');
    const dir = await h.dir('dumps');
    const d = await dump(primary, dir, 'postgres');
    expect(d.code, d.stderr).toBe(0);
    const data = join(h.root, 'restored');
    const r = await restore(dir, data, 'postgres');
    expect(r.code, r.stderr).toBe(0);
    const restored = await h.server(data);
    expect(await fingerprint(restored, 'postgres')).toEqual(before);
  });

  test('retention: keepLast and maxAge delete older dumps and leftovers of failed runs, never the newest', async () => {
    const primary = await h.primary();
    const dir = await h.dir('dumps');
    const stamp = (hoursAgo: number) =>
      new Date(Date.now() - hoursAgo * 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
    const fakes = [stamp(24 * 400), stamp(24 * 31), stamp(3), stamp(2), stamp(1)];
    const made = await h.runScript(
      [...fakes.map((s) => `mkdir -p '${join(dir, s)}'`), `mkdir -p '${join(dir, '.partial-20200101T000000Z')}'`].join('\n'),
    );
    expect(made.code).toBe(0);
    // The site keeps the last 3 and nothing older than 720h.
    const d = await dump(primary, dir, 'postgres');
    expect(d.code, d.stderr).toBe(0);
    const left = dumps(dir);
    expect(left).toHaveLength(3);
    expect(left.slice(0, 2)).toEqual([fakes[3]!, fakes[4]!].sort());
    expect(left[2]! > fakes[4]!).toBe(true);
    expect(d.stdout).toContain(`retention: deleted dump ${fakes[0]!}`);
    expect(d.stdout).toContain(`retention: deleted dump ${fakes[2]!}`);
  });

  test('a restore without a dump, or from a corrupted one, fails with a message saying so', async () => {
    const empty = await h.dir('no-dumps');
    const none = await restore(empty, join(h.root, 'r1'), 'postgres');
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain(`no complete dump in ${empty}: the dump CronJob has not succeeded yet`);

    const primary = await h.primary();
    await primary.query('CREATE TABLE t AS SELECT generate_series(1, 1000) AS x');
    const dir = await h.dir('dumps');
    expect((await dump(primary, dir, 'postgres')).code).toBe(0);
    const file = join(dir, dumps(dir)[0]!, DUMP_FILES.database);
    const bytes = readFileSync(file);
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
    await writeFile(file, bytes);
    const bad = await restore(dir, join(h.root, 'r2'), 'postgres');
    expect(bad.code).not.toBe(0);
    expect(`${bad.stdout}${bad.stderr}`).toMatch(/database\.dump: FAILED/);
    expect(existsSync(join(h.root, 'r2', 'PG_VERSION'))).toBe(false);
  });

  test('a dump with credentials the primary refuses fails and leaves no dump behind', async () => {
    const primary = await h.primary();
    const dir = await h.dir('dumps');
    const opts = dumpOptions(context({ tier: 'cold', port: primary.port }));
    const r = await h.runScript(dumpScript({ ...opts, primary: { ...opts.primary, host: '127.0.0.1' }, directory: dir }), scriptEnv({ user: 'postgres', password: 'wrong' }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('password authentication failed for user "postgres"');
    expect(dumps(dir).filter((n) => !n.startsWith('.'))).toEqual([]);
  });
});

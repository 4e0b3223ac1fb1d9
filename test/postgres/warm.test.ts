// The warm tier against real servers: the engine's copy script (the sync
// Job's) fills a fresh directory from the primary; "promotion" starts that
// copy as the scaled-up standby would.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { warmCopyScript } from '../../src/engines/postgresql/script-warm-copy.ts';
import { warmCopyOptions } from '../../src/engines/postgresql/script-options.ts';
import { PgHarness, type PgServer } from './harness.ts';
import { context, scriptEnv } from './site.ts';

let h: PgHarness;
beforeEach(async () => {
  h = await PgHarness.create();
});
afterEach(async () => {
  await h.cleanup();
});

function sync(primary: PgServer, dataDirectory: string, env = scriptEnv()) {
  const opts = warmCopyOptions(context({ tier: 'warm', port: primary.port }));
  return h.runScript(warmCopyScript({ ...opts, primary: { ...opts.primary, host: '127.0.0.1' }, dataDirectory }), env);
}

describe('warm tier: base-backup sync (PostgreSQL engine)', () => {
  test('a warm sync followed by promotion: the copy starts as a primary holding every row committed before the sync', async () => {
    const primary = await h.primary();
    await primary.query('CREATE TABLE orders (id int PRIMARY KEY, note text)');
    await primary.query("INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, 20000) g");
    const before = await primary.query('SELECT count(*)::int AS n, md5(string_agg(note, \',\' ORDER BY id)) AS sum FROM orders');

    const copy = join(h.root, 'copy-1');
    const r = await sync(primary, copy);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/server_version_num \d{6}/);
    expect(r.stdout).toContain('base backup complete and verified');
    expect(existsSync(join(copy, 'standby.signal'))).toBe(false);
    expect(readFileSync(join(copy, 'postgresql.auto.conf'), 'utf8')).toContain("synchronous_standby_names = ''");
    // The copy's temporary slot is gone: a warm standby holds no WAL on the primary.
    expect(await primary.query('SELECT slot_name FROM pg_replication_slots')).toEqual([]);

    // Writes after the sync, then the primary dies.
    await primary.query("INSERT INTO orders SELECT g, 'late' FROM generate_series(20001, 20500) g");
    await primary.stop('immediate');

    // Promotion scales the standby up on the copy.
    const standby = await h.server(copy);
    expect((await standby.query('SELECT pg_is_in_recovery() AS r'))[0]).toEqual({ r: false });
    expect(await standby.query('SELECT count(*)::int AS n, md5(string_agg(note, \',\' ORDER BY id)) AS sum FROM orders')).toEqual(before);
    await standby.query("INSERT INTO orders VALUES (30000, 'written on the promoted standby')");
  });

  test('a sync into a volume a failed attempt left behind replaces what is there', async () => {
    const primary = await h.primary();
    await primary.query('CREATE TABLE t AS SELECT generate_series(1, 100) AS x');
    const copy = await h.dir('copy');
    const junk = await h.runScript(`mkdir -p '${copy}/base' && echo 15 > '${copy}/PG_VERSION' && echo x > '${copy}/half-written'`);
    expect(junk.code).toBe(0);
    const r = await sync(primary, copy);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(copy, 'half-written'))).toBe(false);
    await primary.stop();
    const standby = await h.server(copy);
    expect(await standby.query('SELECT count(*)::int AS n FROM t')).toEqual([{ n: 100 }]);
  });

  test('wrong credentials: the sync fails with the server’s message (the Job retries; the previous copy stays in use)', async () => {
    const primary = await h.primary();
    const r = await sync(primary, join(h.root, 'copy'), scriptEnv({ password: 'wrong' }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('password authentication failed for user "repl"');
  });
});

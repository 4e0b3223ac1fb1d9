// What users see when something the engine needs is wrong: the sentences
// check() and observe() put into the site's conditions (observe() runs again
// on every probe, so fixing the cause is the retry), and the failure of the
// bootstrap container (kubelet restarts it with backoff).
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { postgresqlEngine } from '../../src/engines/postgresql/engine.ts';
import { forgetPrimaries, observeReplication } from '../../src/engines/postgresql/observe.ts';
import { standbyBootstrapScript } from '../../src/engines/postgresql/script-bootstrap.ts';
import { bootstrapOptions } from '../../src/engines/postgresql/script-options.ts';
import { PgHarness, REPLICATION, SUPERUSER } from './harness.ts';
import { context, fakeIO, REPL_SECRET, scriptEnv, SUPER_SECRET } from './site.ts';

let h: PgHarness;
beforeEach(async () => {
  h = await PgHarness.create();
  forgetPrimaries();
});
afterEach(async () => {
  await h.cleanup();
});

const superuser = { username: SUPERUSER.username, password: SUPERUSER.password };

describe('problems the PostgreSQL engine reports', () => {
  test('wrong credentials give the documented message, from observe() and from the bootstrap container', async () => {
    const primary = await h.primary();
    const ctx = context({ port: primary.port });
    const io = fakeIO({ secrets: { [REPL_SECRET]: { username: 'repl', password: 'not-the-password' }, [SUPER_SECRET]: superuser } });
    expect(await observeReplication(ctx, io)).toEqual({
      problem: 'PostgreSQL refused the credentials in Secret orders-db-repl: password authentication failed for user "repl"',
    });
    // Fixed in the Secret: the next probe measures.
    expect((await observeReplication(ctx, fakeIO())).problem).toMatch(/^standby replica standby_orders_db_0 is not connected/);

    const opts = bootstrapOptions(ctx);
    const script = standbyBootstrapScript({ ...opts, primary: { ...opts.primary, host: '127.0.0.1' }, dataDirectory: join(h.root, 'standby') });
    const run = await h.runScript(script, scriptEnv({ password: 'not-the-password' }));
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('password authentication failed for user "repl"');
  });

  test('an unreachable primary, a Service without endpoints and a server that is not a primary', async () => {
    const closed = await h.port();
    const ctx = context({ port: closed });
    // Without the primary the engine asks replica 0 (through the standby's Service), which is not there either.
    expect(await observeReplication(ctx, fakeIO())).toEqual({
      streaming: false,
      problem: `cannot reach the primary at 127.0.0.1:${closed}: connect ECONNREFUSED; standby replica standby_orders_db_0 cannot be reached either: Service orders-db-standby has no endpoints`,
    });
    expect(await observeReplication(ctx, fakeIO({ endpoints: [], standbyEndpoints: ['127.0.0.1'] }))).toEqual({
      streaming: false,
      problem: `the primary Service orders-db has no ready endpoints; standby replica standby_orders_db_0 cannot be reached either: cannot reach the standby at 127.0.0.1:${closed}: connect ECONNREFUSED`,
    });

    // The Service selects a standby instead of the primary.
    const primary = await h.primary();
    const opts = bootstrapOptions(context({ port: primary.port }));
    const dir = join(h.root, 'standby');
    const run = await h.runScript(standbyBootstrapScript({ ...opts, primary: { ...opts.primary, host: '127.0.0.1' }, dataDirectory: dir }), scriptEnv());
    expect(run.code, run.stderr).toBe(0);
    const standby = await h.server(dir);
    const atStandby = await observeReplication(context({ port: standby.port }), fakeIO());
    expect(atStandby.problem).toMatch(
      new RegExp(`^the server at 127\\.0\\.0\\.1:${standby.port} is a standby \\(in recovery\\), not the primary; spec\\.primary\\.service must select the primary's pods$`),
    );

    // The bootstrap container of an unreachable primary fails (and is restarted by the kubelet).
    const down = await h.runScript(
      standbyBootstrapScript({ ...opts, primary: { ...opts.primary, host: '127.0.0.1', port: closed }, dataDirectory: join(h.root, 'other') }),
      scriptEnv(),
    );
    expect(down.code).not.toBe(0);
    expect(down.stderr).toMatch(/connection to server at "127\.0\.0\.1", port \d+ failed: Connection refused/);
  });

  test('missing Secrets and keys are named with their field, by check() and observe()', async () => {
    const ctx = context({ port: 5432 });
    const none = fakeIO({ secrets: {} });
    expect(await postgresqlEngine.check(ctx, none)).toEqual([
      'Secret orders-db-repl (spec.engine.postgresql.replicationSecret) does not exist in namespace shop',
      'Secret orders-db-super (spec.engine.postgresql.superuserSecret) does not exist in namespace shop',
    ]);
    expect(await postgresqlEngine.observe(ctx, none)).toEqual({
      problem: 'Secret orders-db-repl (spec.engine.postgresql.replicationSecret) does not exist in namespace shop',
    });
    const noKey = fakeIO({ secrets: { [REPL_SECRET]: { username: 'repl' }, [SUPER_SECRET]: superuser } });
    expect(await postgresqlEngine.check(ctx, noKey)).toEqual([
      'Secret orders-db-repl (spec.engine.postgresql.replicationSecret) has no "password" (or it is empty); it needs keys username and password',
    ]);
    const failing = { ...fakeIO(), secret: () => Promise.reject(new Error('secrets "orders-db-repl" is forbidden')) };
    expect(await postgresqlEngine.observe(ctx, failing)).toEqual({
      problem: 'cannot read Secret orders-db-repl (spec.engine.postgresql.replicationSecret): secrets "orders-db-repl" is forbidden',
    });
    expect(await postgresqlEngine.check(ctx, fakeIO())).toEqual([]);
  });

  test('a replication role that may not read the replication positions is told what to grant', async () => {
    const primary = await h.primary();
    await primary.query(`REVOKE pg_monitor FROM ${REPLICATION.username}`);
    const ctx = context({ port: primary.port });
    const opts = bootstrapOptions(ctx);
    const dir = join(h.root, 'standby');
    const run = await h.runScript(standbyBootstrapScript({ ...opts, primary: { ...opts.primary, host: '127.0.0.1' }, dataDirectory: dir }), scriptEnv());
    expect(run.code, run.stderr).toBe(0);
    await h.server(dir);
    expect(await observeReplication(ctx, fakeIO())).toEqual({
      problem:
        'role "repl" (Secret orders-db-repl) cannot read the replication positions in pg_stat_replication; grant it pg_monitor (GRANT pg_monitor TO "repl") or pg_read_all_stats',
    });
  });
});

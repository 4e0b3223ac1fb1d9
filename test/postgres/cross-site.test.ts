// A primary in another cluster, against real servers: the engine's bootstrap script and the
// operator's observe() reach it only at engine.postgresql.primaryEndpoint, with
// sslmode=verify-full against a CA made here with the openssl CLI (the CA file stands in for the
// Secret the pod template mounts). A CA that did not sign the certificate, and a server without
// TLS, fail both, with sentences naming the field.
import { readFileSync } from 'node:fs';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { EngineContext, EngineIO } from '../../src/engines/engine.ts';
import { forgetPrimaries, observeReplication } from '../../src/engines/postgresql/observe.ts';
import { standbyBootstrapScript } from '../../src/engines/postgresql/script-bootstrap.ts';
import { bootstrapOptions } from '../../src/engines/postgresql/script-options.ts';
import { PgHarness, REPLICATION, SUPERUSER, waitFor, type PgServer } from './harness.ts';
import { context, fakeIO, REPL_SECRET, scriptEnv, SUPER_SECRET } from './site.ts';

let h: PgHarness;
let tls: string;
beforeEach(async () => {
  h = await PgHarness.create();
  forgetPrimaries();
  tls = await h.dir('tls');
  const openssl = async (args: string[]) => {
    const r = await h.asPostgres(['openssl', ...args], {}, 60_000);
    if (r.code !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  for (const ca of ['ca', 'wrong-ca']) {
    await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=test ${ca}`, '-keyout', join(tls, `${ca}.key`), '-out', join(tls, `${ca}.crt`), '-addext', 'basicConstraints=critical,CA:TRUE']);
  }
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', join(tls, 'server.key'), '-out', join(tls, 'server.csr')]);
  await writeFile(join(tls, 'ext.cnf'), 'subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\n');
  await openssl(['x509', '-req', '-in', join(tls, 'server.csr'), '-CA', join(tls, 'ca.crt'), '-CAkey', join(tls, 'ca.key'), '-CAcreateserial', '-days', '2', '-extfile', join(tls, 'ext.cnf'), '-out', join(tls, 'server.crt')]);
  await chmod(join(tls, 'server.key'), 0o600);
});
afterEach(async () => {
  await h.cleanup();
});

const withTls = (): Promise<PgServer> =>
  h.primary({ conf: { ssl: 'on', ssl_cert_file: join(tls, 'server.crt'), ssl_key_file: join(tls, 'server.key') } });

function remoteContext(primary: PgServer): EngineContext {
  return context({ port: primary.port, remote: { host: '127.0.0.1', port: primary.port } });
}

async function io(caFile: string): Promise<EngineIO> {
  const ca = await readFile(join(tls, caFile), 'utf8');
  return fakeIO({
    secrets: {
      [REPL_SECRET]: { username: REPLICATION.username, password: REPLICATION.password },
      [SUPER_SECRET]: { username: SUPERUSER.username, password: SUPERUSER.password },
      'primary-ca': { 'ca.crt': ca },
    },
    // Across sites the operator never asks for the primary Service's endpoints: these lead nowhere.
    endpoints: ['127.0.0.9'],
  });
}

/** The bootstrap script as the standby's init container runs it, the mounted CA file pointed at one here. */
async function bootstrap(ctx: EngineContext, caFile: string, dir: string) {
  const o = bootstrapOptions(ctx);
  expect(o.primary.tls).toBeDefined();
  const script = standbyBootstrapScript({ ...o, primary: { ...o.primary, tls: { rootCert: join(tls, caFile) } }, dataDirectory: dir });
  return h.runScript(script, scriptEnv());
}

describe('hot standby of a primary across sites (verify-full TLS)', () => {
  test('bootstraps through the endpoint over TLS, streams encrypted, and observe() measures it over verify-full', async () => {
    const primary = await withTls();
    await primary.query('CREATE TABLE orders (id int PRIMARY KEY)');
    const ctx = remoteContext(primary);
    const dir = join(h.root, 'standby');
    const run = await bootstrap(ctx, 'ca.crt', dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`bootstrapping ${dir} from the primary at 127.0.0.1:${primary.port}`);
    const auto = readFileSync(join(dir, 'postgresql.auto.conf'), 'utf8');
    expect(auto).toMatch(/primary_conninfo = '.*sslmode=''?verify-full/);
    expect(auto).toContain(join(tls, 'ca.crt'));
    expect((await primary.query<{ slot_name: string }>('SELECT slot_name FROM pg_replication_slots')).map((r) => r.slot_name)).toEqual(['standby_orders_db_0']);

    const standby = await h.server(dir);
    await primary.query('INSERT INTO orders SELECT generate_series(1, 50)');
    await waitFor(async () => (await standby.query<{ n: number }>('SELECT count(*)::int AS n FROM orders'))[0]?.n === 50, 30_000, 'rows on the standby');
    const [walsender] = await primary.query<{ ssl: boolean }>(
      "SELECT s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) WHERE r.application_name = 'standby_orders_db_0'",
    );
    expect(walsender?.ssl).toBe(true);

    const good = await io('ca.crt');
    await waitFor(async () => (await observeReplication(ctx, good)).streaming === true, 30_000, 'observe() to see the standby streaming');
    const obs = await observeReplication(ctx, good);
    expect(obs.problem).toBeUndefined();
    expect(obs.lagSeconds).toBeDefined();

    // The probe with another CA: verify-full refuses the certificate, and says which field to fix.
    const wrong = await observeReplication(ctx, await io('wrong-ca.crt'));
    expect(wrong.problem).toContain(`the primary's certificate at 127.0.0.1:${primary.port} (spec.engine.postgresql.primaryEndpoint) does not verify against the CA in spec.engine.postgresql.primaryEndpoint.caSecret`);
  });

  test('a CA that did not sign the certificate: the bootstrap fails before copying anything', async () => {
    const primary = await withTls();
    const run = await bootstrap(remoteContext(primary), 'wrong-ca.crt', join(h.root, 'standby'));
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/certificate verify failed/);
    expect(await primary.query('SELECT slot_name FROM pg_replication_slots')).toEqual([]);
  });

  test('a primary without TLS: the bootstrap refuses to connect in the clear; observe() says TLS is required, naming the field', async () => {
    const primary = await h.primary();
    const ctx = remoteContext(primary);
    const run = await bootstrap(ctx, 'ca.crt', join(h.root, 'standby'));
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/server does not support SSL/);
    const obs = await observeReplication(ctx, await io('ca.crt'));
    expect(obs.problem).toContain(`the primary at 127.0.0.1:${primary.port} (spec.engine.postgresql.primaryEndpoint) does not offer TLS`);
  });
});

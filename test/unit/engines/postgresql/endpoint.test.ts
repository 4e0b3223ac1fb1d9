// A PostgreSQL primary in another cluster: the pure builders of endpoint.ts and what they change
// in the engine's addresses, scripts, pod templates and checks (the real TLS data path runs in
// test/realpods/cross-site.test.ts).
import { describe, expect, test } from 'vitest';
import { conninfo, serverConninfo } from '../../../../src/engines/postgresql/commands.ts';
import {
  caProblem,
  describeTlsError,
  endpointAddress,
  PRIMARY_CA_FILE,
  readEndpointCa,
  verifyFullTls,
  withPrimaryCa,
} from '../../../../src/engines/postgresql/endpoint.ts';
import { checkSite } from '../../../../src/engines/postgresql/check.ts';
import { postgresqlEngine } from '../../../../src/engines/postgresql/engine.ts';
import { standbyBootstrapScript } from '../../../../src/engines/postgresql/script-bootstrap.ts';
import { bootstrapOptions } from '../../../../src/engines/postgresql/script-options.ts';
import { standbyPodTemplate } from '../../../../src/tiers/standby-workload.ts';
import { context, fakeIO, REPL_SECRET, SUPER_SECRET } from '../../../postgres/site.ts';

// Made once with the openssl CLI for these tests (EC P-256, valid for a century).
const CA = [
  '-----BEGIN CERTIFICATE-----',
  'MIIBgTCCASegAwIBAgIUJmH0VoE5Szv02sxG8u78jfytJd0wCgYIKoZIzj0EAwIw',
  'FTETMBEGA1UEAwwKZml4dHVyZSBjYTAgFw0yNjEyMDIwMzMyMjlaGA8yMTI2MTEw',
  'ODAzMzIyOVowFTETMBEGA1UEAwwKZml4dHVyZSBjYTBZMBMGByqGSM49AgEGCCqG',
  'SM49AwEHA0IABMSmazIwxQpHH1jpbiQQOXH3+VxcwtVOGDNr10t+2IbmyE7tHxqV',
  '6INW/CGrd927DczbKjNE4C721mfaK+emvyujUzBRMB0GA1UdDgQWBBS/c6cQs+3h',
  '/h+4d7QsVEilTwpfXjAfBgNVHSMEGDAWgBS/c6cQs+3h/h+4d7QsVEilTwpfXjAP',
  'BgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQCzDCvJwvSvzHpSz7h5',
  'lCRijE9APjPICjqQgd1I5o+eAAIgIM6wY8ilWZnfA87gAOB2xYxzR5OSr/BHpP5F',
  'U86f5yo=',
  '-----END CERTIFICATE-----',
].join('\n');
const LEAF = [
  '-----BEGIN CERTIFICATE-----',
  'MIIBhzCCASygAwIBAgIUbQedPiYoCWVtP7h4Teer3Fn2f+cwCgYIKoZIzj0EAwIw',
  'GTEXMBUGA1UEAwwOZGIuZXhhbXBsZS5jb20wIBcNMjYxMjAyMDMzMjI5WhgPMjEy',
  'NjExMDgwMzMyMjlaMBkxFzAVBgNVBAMMDmRiLmV4YW1wbGUuY29tMFkwEwYHKoZI',
  'zj0CAQYIKoZIzj0DAQcDQgAEkvia4cL0bkZF/FFoKDXbwH/G35ABJgmQbicM7b3g',
  'YYtMSVQJ2WjqiN+GLc4kysDvmSSwzOfzd2BNIdcA4UquGaNQME4wHQYDVR0OBBYE',
  'FF97wvJ8jWJYY2iKG4rvUROJNUMLMB8GA1UdIwQYMBaAFF97wvJ8jWJYY2iKG4rv',
  'UROJNUMLMAwGA1UdEwEB/wQCMAAwCgYIKoZIzj0EAwIDSQAwRgIhAJEvARVQr+Ps',
  'BZK+tNveysLAnVK7rKqIIVQXOGWAHybaAiEApKqi9j1zw9m/nzami6/LRMlTU2QM',
  'Tg3Y5MBZJS3Uf0M=',
  '-----END CERTIFICATE-----',
].join('\n');

const endpoint = { host: 'db.primary.example.com', port: 6432, caSecret: { name: 'primary-ca', key: 'ca.crt' } };
const remote = () => context({ remote: { host: endpoint.host, port: endpoint.port }, synchronous: true });
const creds = { username: 'repl', password: 'pw' };
const io = (ca: Record<string, string> | undefined) =>
  fakeIO({ secrets: { [REPL_SECRET]: creds, [SUPER_SECRET]: creds, ...(ca ? { 'primary-ca': ca } : {}) } });

describe('PostgreSQL primary across sites: connection', () => {
  test('conninfo verifies the server fully against the mounted CA', () => {
    expect(serverConninfo(endpointAddress(endpoint, 'app'))).toBe(
      'host=db.primary.example.com port=6432 dbname=app sslmode=verify-full sslrootcert=/etc/standby-operator/primary-ca/ca.crt',
    );
    // In one cluster nothing changes.
    expect(serverConninfo({ host: 'db.shop.svc', port: 5432, database: 'postgres' })).toBe('host=db.shop.svc port=5432 dbname=postgres');
    expect(conninfo({ sslrootcert: '/a b/ca.crt' })).toBe("sslrootcert='/a b/ca.crt'");
  });

  test('the bootstrap reaches the primary only at the endpoint, over verify-full (slot, synchronous_standby_names, pg_basebackup)', () => {
    const ctx = remote();
    const o = bootstrapOptions(ctx);
    expect(o.primary).toEqual({ host: endpoint.host, port: 6432, database: 'postgres', tls: { rootCert: PRIMARY_CA_FILE } });
    const script = standbyBootstrapScript(o);
    expect(script).not.toContain('orders-db.shop.svc');
    const conn = 'host=db.primary.example.com port=6432 dbname=postgres sslmode=verify-full sslrootcert=/etc/standby-operator/primary-ca/ca.crt';
    // ensure_slot and configure_primary (psql) and pg_basebackup all use it.
    expect(script.split(conn).length - 1).toBeGreaterThanOrEqual(4);
    expect(script).toMatch(/pg_basebackup [^\n]*--dbname '?host=db\.primary\.example\.com port=6432 dbname=postgres sslmode=verify-full/);
  });

  test('the operator\'s probe: node TLS options equal to verify-full', () => {
    expect(verifyFullTls(CA, 'db.example.com')).toEqual({ ca: CA, rejectUnauthorized: true, servername: 'db.example.com' });
    // An address is checked against the certificate's IP names (no SNI for addresses).
    expect(verifyFullTls(CA, '10.96.0.7')).toEqual({ ca: CA, rejectUnauthorized: true, host: '10.96.0.7' });
  });
});

describe('PostgreSQL primary across sites: the standby pod template', () => {
  test('the CA Secret is mounted read-only into the bootstrap and postgres containers only', () => {
    const ctx = remote();
    const base = standbyPodTemplate('orders-db', ctx.primary, ctx.primaryService);
    base.spec!.containers.push({ name: 'exporter', image: 'exporter:1' });
    const t = postgresqlEngine.standbyTemplate(ctx, base);
    expect(t.spec!.volumes).toContainEqual({
      name: 'standby-operator-primary-ca',
      secret: { secretName: 'primary-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }], defaultMode: 0o444 },
    });
    const mount = { name: 'standby-operator-primary-ca', mountPath: '/etc/standby-operator/primary-ca', readOnly: true };
    const init = t.spec!.initContainers!.find((c) => c.name === 'standby-bootstrap')!;
    expect(init.volumeMounts).toContainEqual(mount);
    expect(t.spec!.containers.find((c) => c.name === 'postgres')!.volumeMounts).toContainEqual(mount);
    expect(t.spec!.containers.find((c) => c.name === 'exporter')!.volumeMounts ?? []).not.toContainEqual(mount);
    // Applying twice adds nothing twice.
    const again = postgresqlEngine.standbyTemplate(ctx, t);
    expect(again.spec!.volumes!.filter((v) => v.name === 'standby-operator-primary-ca')).toHaveLength(1);
    expect(again.spec!.containers.find((c) => c.name === 'postgres')!.volumeMounts!.filter((m) => m.name === mount.name)).toHaveLength(1);
  });

  test('a primary in this cluster gets no CA volume', () => {
    const ctx = context({});
    const t = postgresqlEngine.standbyTemplate(ctx, standbyPodTemplate('orders-db', ctx.primary, ctx.primaryService));
    expect(JSON.stringify(t)).not.toContain('primary-ca');
  });

  test('withPrimaryCa keeps the template\'s own volumes and mounts', () => {
    const t = withPrimaryCa(
      { spec: { volumes: [{ name: 'data', emptyDir: {} }], containers: [{ name: 'postgres', volumeMounts: [{ name: 'data', mountPath: '/d' }] }] } },
      endpoint,
      ['postgres'],
    );
    expect(t.spec!.volumes!.map((v) => v.name)).toEqual(['data', 'standby-operator-primary-ca']);
    expect(t.spec!.containers[0]!.volumeMounts!.map((m) => m.name)).toEqual(['data', 'standby-operator-primary-ca']);
  });
});

describe('PostgreSQL primary across sites: the CA Secret and TLS failures name the field', () => {
  test('a usable CA', async () => {
    expect(caProblem(CA)).toBeUndefined();
    expect(await readEndpointCa(io({ 'ca.crt': CA }), 'shop', endpoint)).toEqual({ ok: true, ca: CA });
  });

  test.each([
    ['a missing Secret', undefined, ['Secret primary-ca (spec.engine.postgresql.primaryEndpoint.caSecret) does not exist in namespace shop']],
    ['a missing key', { other: CA }, ['has no key "ca.crt"', 'set spec.engine.postgresql.primaryEndpoint.caSecret.key']],
    ['not PEM', { 'ca.crt': 'hello' }, ['spec.engine.postgresql.primaryEndpoint.caSecret', 'is not a PEM certificate']],
    ['a broken PEM', { 'ca.crt': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }, ['is not a readable certificate']],
    ['a server certificate, not a CA', { 'ca.crt': LEAF }, ['is not a CA certificate', 'CN=db.example.com']],
  ])('%s', async (_n, secret, words) => {
    const r = await readEndpointCa(io(secret), 'shop', endpoint);
    expect(r.ok).toBe(false);
    for (const w of words) expect(!r.ok && r.problem).toContain(w);
  });

  test('check() stops a remote site whose CA Secret is missing, and not a site in one cluster', async () => {
    expect((await checkSite(remote(), io(undefined))).join('\n')).toContain('spec.engine.postgresql.primaryEndpoint.caSecret) does not exist');
    expect(await checkSite(remote(), io({ 'ca.crt': CA }))).toEqual([]);
    expect(await checkSite(context({}), io(undefined))).toEqual([]);
  });

  test.each([
    ['a server without TLS', { message: 'The server does not support SSL connections' }, ['does not offer TLS', 'db.primary.example.com:6432 (spec.engine.postgresql.primaryEndpoint)', 'ssl = on']],
    ['a certificate of another CA', { code: 'SELF_SIGNED_CERT_IN_CHAIN', message: 'self-signed certificate in certificate chain' }, ['does not verify against the CA in spec.engine.postgresql.primaryEndpoint.caSecret (primary-ca, key ca.crt)']],
    ['a certificate that names another host', { code: 'ERR_TLS_CERT_ALTNAME_INVALID', message: "Hostname/IP does not match certificate's altnames" }, ['does not name db.primary.example.com', 'spec.engine.postgresql.primaryEndpoint.host']],
  ])('%s', (_n, err, words) => {
    const s = describeTlsError(err, endpoint);
    for (const w of words) expect(s).toContain(w);
  });

  test('other errors are not TLS errors', () => {
    expect(describeTlsError({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 10.0.0.1:5432' }, endpoint)).toBeUndefined();
    expect(describeTlsError({ code: '28P01', message: 'password authentication failed for user "repl"' }, endpoint)).toBeUndefined();
  });
});

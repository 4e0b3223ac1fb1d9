// A hot PostgreSQL standby of a primary "in another cluster", on real pods. Honestly: the other
// cluster is the same API server reached through a kubeconfig Secret, with the primary in its
// own namespace and the operator acting there only with the chart's generated remoteAccess Role
// (the token's kubeconfig, as test/sites/remote.test.ts makes it). The data path is the one a
// second site uses: the standby's pods and the operator reach the primary only at
// engine.postgresql.primaryEndpoint (here the primary Service's ClusterIP, standing in for a
// LoadBalancer address), over TLS with sslmode=verify-full against a CA this test makes with the
// openssl CLI. What this does not show is a WAN between two API servers and two pod networks
// (test/sites does that for the generic engine).
//
// Shown: a wrong CA makes the standby's bootstrap fail and the site say so, naming caSecret
// (verify-full really verifies); with the right CA the site becomes Protected, the standby
// streams over TLS (pg_stat_ssl on the primary), rows written to the primary reach it; an
// ordinary promotion (the remote primary reachable) fences the primary in its namespace through
// the remote Role and leaves every acknowledged row on the promoted standby.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { run } from '../cluster/common.ts';
import { apply, clusterInfo, kubectl, kubectlJson, waitFor } from '../cluster/helpers.ts';
import { installRemoteAccess } from '../cluster/site-ops.ts';
import type { SiteRecord } from '../cluster/sites.ts';
import { getSite, startOperator, waitForSite } from '../e2e/support/operator.ts';
import { clusterIP, createRealNamespace, images, logs, pod, postgresPrimary, query, RowWriter, suiteResources, waitReady } from './support.ts';

const SITE = 'db';
const { operators, namespaces } = suiteResources();
let primaryNs = '';
let standbyNs = '';
let endpointHost = '';
let tlsDir = '';
const certs: { ca: string; wrongCa: string; crt: string; key: string } = { ca: '', wrongCa: '', crt: '', key: '' };

async function openssl(args: string[]): Promise<void> {
  const res = await run('openssl', args, { cwd: tlsDir, timeoutMs: 60_000 });
  if (res.code !== 0) throw new Error(`openssl ${args.join(' ')}: ${res.stderr}`);
}

/** A CA, a server certificate it signs naming the endpoint's address and the Service's DNS name, and an unrelated CA. */
async function makeCertificates(host: string, dns: string): Promise<void> {
  tlsDir = await mkdtemp(join(tmpdir(), 'standby-pg-tls-'));
  for (const ca of ['ca', 'wrong-ca']) {
    await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=standby test ${ca}`, '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-addext', 'basicConstraints=critical,CA:TRUE']);
  }
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${dns}`, '-keyout', 'server.key', '-out', 'server.csr']);
  await writeFile(join(tlsDir, 'ext.cnf'), `subjectAltName = IP:${host}, DNS:${dns}\nbasicConstraints = CA:FALSE\n`);
  await openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'ext.cnf', '-out', 'server.crt']);
  const read = (f: string) => readFile(join(tlsDir, f), 'utf8');
  Object.assign(certs, { ca: await read('ca.crt'), wrongCa: await read('wrong-ca.crt'), crt: await read('server.crt'), key: await read('server.key') });
}

function tlsSecret(name: string): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': certs.crt, 'tls.key': certs.key } });
}

function caSecret(pem: string): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'primary-ca' }, stringData: { 'ca.crt': pem } });
}

function siteYaml(): string {
  return `
apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: ${SITE}}
spec:
  tier: hot
  primary:
    workload: {kind: StatefulSet, name: ${SITE}}
    service: ${SITE}
    namespace: ${primaryNs}
    cluster: {kubeconfigSecret: {name: primary-cluster}}
  traffic: {service: ${SITE}-active}
  engine:
    type: postgresql
    postgresql:
      replicationSecret: ${SITE}-repl
      superuserSecret: ${SITE}-super
      synchronous: true
      primaryEndpoint: {host: '${endpointHost}', port: 5432, caSecret: {name: primary-ca}}
  rpoTarget: 5s
  hot: {replicas: 1, maxLag: 10s}
  promotion: {mode: manual, stepTimeout: 2m, fencing: networkPolicy, reprotect: manual}
`;
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

const conditions = async (): Promise<Condition[]> => (await getSite(standbyNs, SITE)).status?.conditions ?? [];

beforeAll(async () => {
  primaryNs = await createRealNamespace('xpg-primary');
  standbyNs = await createRealNamespace('xpg-standby');
  namespaces.push(primaryNs, standbyNs);
  // The primary's Service first: its address is the endpoint the certificate must name.
  await apply(postgresPrimary(SITE, { tlsSecret: `${SITE}-tls` }).split('---').filter((d) => /kind: Service\n/.test(d)).join('---'), primaryNs);
  endpointHost = await clusterIP(primaryNs, SITE);
  await makeCertificates(endpointHost, `${SITE}.${primaryNs}.svc`);
  // The standby runs the primary's pod template: its Secrets (credentials, server certificate) exist in both sites.
  for (const ns of [primaryNs, standbyNs]) await apply(tlsSecret(`${SITE}-tls`), ns);
  await apply(postgresPrimary(SITE, { tlsSecret: `${SITE}-tls` }), primaryNs);
  await apply(postgresPrimary(SITE, { tlsSecret: `${SITE}-tls` }).split('---').filter((d) => /kind: Secret\n/.test(d)).join('---'), standbyNs);
  const primary = await waitReady(primaryNs, `${SITE}-0`);
  await query(primary.status.podIP!, 'CREATE TABLE rows (n integer PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())');

  // The chart's remoteAccess Role for the primary's namespace and the kubeconfig of its token.
  const info = clusterInfo();
  // installRemoteAccess reads only the name and kubeconfig of a site record.
  const here = { name: 'primary', kubeconfig: info.kubeconfig } as unknown as SiteRecord;
  const access = await installRemoteAccess({ kubectl: info.kubectl, helm: info.helm }, here, [primaryNs]);
  await apply(JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'primary-cluster' }, stringData: { kubeconfig: access.kubeconfig } }), standbyNs);
  operators.push(await startOperator({ namespaces: [standbyNs], env: { OPERATOR_IMAGE: images().operator }, name: 'realpods-xpg' }));
});

afterAll(async () => {
  if (tlsDir) await rm(tlsDir, { recursive: true, force: true });
});

describe('hot PostgreSQL standby of a primary in another cluster, over TLS', () => {
  test('a CA that did not sign the primary certificate: the bootstrap fails verify-full, the site names caSecret', async () => {
    await apply(caSecret(certs.wrongCa), standbyNs);
    await apply(siteYaml(), standbyNs);
    const c = await waitFor(async () => (await conditions()).find((x) => x.message?.includes('spec.engine.postgresql.primaryEndpoint.caSecret')), {
      timeoutMs: 240_000,
      intervalMs: 2_000,
      description: 'a condition naming primaryEndpoint.caSecret',
    });
    expect(c.message).toContain('does not verify against the CA');
    expect((await getSite(standbyNs, SITE)).status?.phase).not.toBe('Protected');
    // The standby's own bootstrap refused the certificate too (libpq, sslmode=verify-full).
    const failed = await waitFor(async () => {
      const text = await logs(standbyNs, `${SITE}-standby-0`, 'standby-bootstrap').catch(() => '');
      return /certificate verify failed/.test(text) ? text : undefined;
    }, { timeoutMs: 180_000, intervalMs: 2_000, description: 'the bootstrap to fail on the certificate' });
    expect(failed).toMatch(/certificate verify failed/);
  });

  test('the right CA: Protected, streaming over TLS from the endpoint, rows reach the standby; a promotion keeps every acknowledged row', async () => {
    await apply(caSecret(certs.ca), standbyNs);
    // The failed bootstrap backs off; a new pod starts it at once.
    await kubectl(['-n', standbyNs, 'delete', 'pod', `${SITE}-standby-0`, '--wait=false']);
    await waitForSite(standbyNs, SITE, (s) => s.status?.phase === 'Protected', 'site Protected with a streaming standby', 300_000);
    expect((await conditions()).some((c) => c.message?.includes('primaryEndpoint.caSecret'))).toBe(false);

    const primaryIP = (await pod(primaryNs, `${SITE}-0`)).status.podIP!;
    const standby = await waitReady(standbyNs, `${SITE}-standby-0`);
    // The bootstrap of the pod that failed on the wrong CA may already have been retried by the
    // kubelet once the Secret volume showed the right CA, and finished before that pod was deleted:
    // the claim keeps its data, so this pod's bootstrap either copies or resumes. The endpoint it
    // streams from is checked below, in primary_conninfo.
    expect(await logs(standbyNs, `${SITE}-standby-0`, 'standby-bootstrap')).toMatch(
      new RegExp(`bootstrapping /var/lib/postgresql/data/pgdata from the primary at ${endpointHost.replaceAll('.', '\\.')}:5432|/var/lib/postgresql/data/pgdata is a standby already; it resumes streaming`),
    );
    // The CA is mounted read-only into the bootstrap and postgres containers.
    const spec = await kubectlJson<{ spec: { containers: { name: string; volumeMounts?: { name: string; readOnly?: boolean }[] }[]; initContainers: { name: string; volumeMounts?: { name: string; readOnly?: boolean }[] }[] } }>(['-n', standbyNs, 'get', 'pod', `${SITE}-standby-0`]);
    for (const c of [...spec.spec.initContainers.filter((i) => i.name === 'standby-bootstrap'), ...spec.spec.containers.filter((i) => i.name === 'postgres')]) {
      expect(c.volumeMounts?.find((m) => m.name === 'standby-operator-primary-ca')?.readOnly, c.name).toBe(true);
    }

    // On the primary: the standby's walsender is synchronous and encrypted.
    const walsender = await waitFor(async () => {
      const rows = await query<{ application_name: string; state: string; sync_state: string; ssl: boolean; version: string | null }>(
        primaryIP,
        'SELECT r.application_name, r.state, r.sync_state, s.ssl, s.version FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)',
      );
      return rows.find((r) => r.application_name === `standby_${SITE}_0` && r.state === 'streaming');
    }, { timeoutMs: 60_000, description: 'the standby streaming' });
    expect(walsender).toMatchObject({ sync_state: 'sync', ssl: true });
    process.stdout.write(`walsender: ${JSON.stringify(walsender)}\n`);
    // The standby's primary_conninfo verifies the same way (pg_basebackup -R wrote it).
    const [conninfo] = await query<{ primary_conninfo: string }>(standby.status.podIP!, 'SHOW primary_conninfo');
    // (pg_basebackup -R quotes every value.)
    expect(conninfo?.primary_conninfo).toMatch(/\bsslmode='?verify-full'?(\s|$)/);
    expect(conninfo?.primary_conninfo).toMatch(/\bsslrootcert='?\/etc\/standby-operator\/primary-ca\/ca\.crt'?(\s|$)/);
    expect(conninfo?.primary_conninfo).toMatch(new RegExp(`\\bhost='?${endpointHost.replaceAll('.', '\\.')}'?(\\s|$)`));

    // Rows written to the primary reach the standby.
    const writer = new RowWriter(endpointHost);
    writer.start();
    await writer.waitForMore(50, 120_000);
    const seen = writer.acked.at(-1)!;
    await waitFor(async () => (await query<{ n: number }>(standby.status.podIP!, 'SELECT n FROM rows WHERE n = $1', [seen])).length === 1, {
      timeoutMs: 60_000,
      description: `row ${seen} on the standby`,
    });

    // An ordinary promotion (the primary's cluster answers): fence there, pg_promote here.
    await kubectl(['-n', standbyNs, 'annotate', 'standbysite', SITE, 'standby.dev/promote=xsite-1']);
    const done = await waitForSite(standbyNs, SITE, (s) => s.status?.promotion?.state === 'Promoted' || s.status?.promotion?.state === 'Failed', 'the promotion to finish', 300_000);
    expect(done.status?.promotion?.state, JSON.stringify(done.status?.promotion)).toBe('Promoted');
    await writer.stop();
    // The fence NetworkPolicy was written in the primary's namespace, through the remote Role.
    const fence = await kubectlJson<{ spec: { podSelector: { matchLabels?: Record<string, string> }; ingress?: unknown[] } }>(['-n', primaryNs, 'get', 'networkpolicy', `${SITE}-fence`]);
    expect(fence.spec.podSelector.matchLabels).toEqual({ app: SITE });

    const promoted = (await pod(standbyNs, `${SITE}-standby-0`)).status.podIP!;
    const [state] = await query<{ recovery: boolean }>(promoted, 'SELECT pg_is_in_recovery() AS recovery');
    expect(state?.recovery).toBe(false);
    const have = new Set((await query<{ n: number }>(promoted, 'SELECT n FROM rows')).map((r) => r.n));
    const missing = writer.acked.filter((n) => !have.has(n));
    process.stdout.write(`cross-site promotion: ${writer.acked.length} rows acknowledged by the primary, ${missing.length} missing on the promoted standby, ${writer.errors.length} client errors\n`);
    expect(missing).toEqual([]);
    expect(writer.acked.length).toBeGreaterThan(50);
  });
});

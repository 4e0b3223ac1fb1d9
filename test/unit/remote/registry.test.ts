import pino from 'pino';
import { describe, expect, test } from 'vitest';
import type { KubeClient } from '../../../src/k8s/client.ts';
import { RemoteClusters, type RemotePrimaryRef } from '../../../src/remote/registry.ts';

// Only the Secret read is exercised: each kubeconfig here is refused before any connection.
function clusters(secrets: Record<string, Record<string, string>>, secretTtlMs?: number) {
  const reads: string[] = [];
  const client = {
    get: (_r: unknown, namespace: string, name: string) => {
      reads.push(`${namespace}/${name}`);
      const data = secrets[name];
      return Promise.resolve(data ? { metadata: { name, namespace }, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) } : undefined);
    },
  } as unknown as KubeClient;
  return { reads, r: new RemoteClusters({ client, log: pino({ level: 'silent' }), enqueue: () => undefined, ...(secretTtlMs === undefined ? {} : { secretTtlMs }) }) };
}

const primary = (name = 'primary-cluster', key = 'kubeconfig'): RemotePrimaryRef => ({ workload: { kind: 'StatefulSet', name: 'db' }, cluster: { kubeconfigSecret: { name, key } } });
const kubeconfig = (user: string, server = 'https://10.0.0.1:6443') => `
current-context: c
clusters: [{name: k, cluster: {server: "${server}"}}]
users: [{name: u, user: ${user}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
`;

describe('the kubeconfig Secret of a site whose primary is in another cluster', () => {
  test('a missing Secret, or a missing key, names spec.primary.cluster.kubeconfigSecret and what is there', async () => {
    const { r } = clusters({ other: { config: 'x' } });
    expect(await r.access('shop/db', 'shop', primary())).toEqual({ ok: false, problem: 'Secret primary-cluster (spec.primary.cluster.kubeconfigSecret) does not exist in namespace shop' });
    expect(await r.access('shop/db', 'shop', primary('other'))).toEqual({
      ok: false,
      problem: 'Secret other (spec.primary.cluster.kubeconfigSecret) has no key "kubeconfig"; its keys: config',
    });
  });

  test.each([
    ['an exec plugin', kubeconfig('{exec: {command: /bin/sh}}'), 'only embedded credentials are allowed here, not users[].user.exec (it would run a program)'],
    ['a token file', kubeconfig('{tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token}'), 'not users[].user.tokenFile (a file path)'],
    ['plain http', kubeconfig('{token: t}', 'http://10.0.0.1:8080'), 'clusters[].cluster.server must be an https:// URL, not "http://10.0.0.1:8080"'],
    ['no current context', 'clusters: []\n', 'no current context'],
    ['not a mapping', '- a\n- b\n', 'not a kubeconfig'],
  ])('%s is refused, naming the Secret, its key and the field', async (_n, text, words) => {
    const { r } = clusters({ 'primary-cluster': { kubeconfig: text } });
    const a = await r.access('shop/db', 'shop', primary());
    expect(a.ok).toBe(false);
    const problem = a.ok ? '' : a.problem;
    expect(problem.startsWith('Secret shop/primary-cluster key kubeconfig: ')).toBe(true);
    expect(problem).toContain(words);
    expect(problem.endsWith('(spec.primary.cluster.kubeconfigSecret)')).toBe(true);
  });

  test('the Secret is read once per secretTtlMs, not at every reconcile; a stale read is read again (a fixed Secret takes effect)', async () => {
    const cached = clusters({ 'primary-cluster': { kubeconfig: kubeconfig('{exec: {command: x}}') } });
    await cached.r.access('shop/db', 'shop', primary());
    await cached.r.access('shop/db', 'shop', primary());
    expect(cached.reads).toEqual(['shop/primary-cluster']);
    const stale = clusters({ 'primary-cluster': { kubeconfig: kubeconfig('{exec: {command: x}}') } }, -1);
    await stale.r.access('shop/db', 'shop', primary());
    await stale.r.access('shop/db', 'shop', primary());
    expect(stale.reads).toEqual(['shop/primary-cluster', 'shop/primary-cluster']);
    await cached.r.stop();
    await stale.r.stop();
  });
});

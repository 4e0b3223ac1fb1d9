import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { ApiError, KubeClient } from '../../../src/k8s/client.ts';
import { loadConnection } from '../../../src/k8s/connection.ts';
import { R } from '../../../src/k8s/resources.ts';

// A loopback HTTP server that answers every request with an empty object and records it.
const seen: string[] = [];
const server = createServer((req, res) => {
  seen.push(`${req.method ?? ''} ${req.url ?? ''}`);
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } }));
});

let kubeconfig = '';
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dir = mkdtempSync(join(tmpdir(), 'kc-'));
  kubeconfig = join(dir, 'config');
  writeFileSync(
    kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'c',
      clusters: [{ name: 'k', cluster: { server: `http://127.0.0.1:${(server.address() as AddressInfo).port}` } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
    }),
  );
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('KubeClient writeGuard (the controller client of a replica that lost the lease)', () => {
  test('refuses writes before sending them, lets reads through, and writes again once allowed', async () => {
    let leader = false;
    const client = new KubeClient(await loadConnection(kubeconfig), {
      writeGuard: (verb, resource) => {
        if (!leader) throw new ApiError(0, 'NotLeader', `${verb} ${resource}: not the leader`);
      },
    });
    seen.length = 0;
    await expect(client.mergePatch(R.pod, 'ns', 'p', { metadata: { labels: { a: 'b' } } })).rejects.toThrow('patch pods: not the leader');
    await expect(client.delete(R.pod, 'ns', 'p')).rejects.toThrow('delete pods: not the leader');
    expect(seen).toEqual([]);
    await client.get(R.pod, 'ns', 'p');
    expect(seen).toEqual(['GET /api/v1/namespaces/ns/pods/p']);
    leader = true;
    await client.mergePatch(R.pod, 'ns', 'p', { metadata: { labels: { a: 'b' } } });
    expect(seen).toEqual(['GET /api/v1/namespaces/ns/pods/p', 'PATCH /api/v1/namespaces/ns/pods/p?fieldManager=standby-operator']);
  });
});

describe('KubeClient fieldManager', () => {
  test('writes carry the given field manager (a CLI writes as itself, not as the operator)', async () => {
    const client = new KubeClient(await loadConnection(kubeconfig), { fieldManager: 'kubectl-standby' });
    seen.length = 0;
    await client.mergePatch(R.pod, 'ns', 'p', { metadata: { annotations: { a: 'b' } } });
    expect(seen).toEqual(['PATCH /api/v1/namespaces/ns/pods/p?fieldManager=kubectl-standby']);
  });
});

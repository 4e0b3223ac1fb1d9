import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { loadConnection } from '../../../src/k8s/connection.ts';

function kubeconfig(user: Record<string, unknown>, extra: { namespace?: string; server?: string } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'kc-'));
  const path = join(dir, 'config');
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'c',
      clusters: [{ name: 'k', cluster: { server: extra.server ?? 'https://127.0.0.1:6443/', 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'c', context: { cluster: 'k', user: 'u', ...(extra.namespace ? { namespace: extra.namespace } : {}) } }],
    }),
  );
  return path;
}

describe('loadConnection from a kubeconfig', () => {
  test('a bearer token, the context namespace, the server without a trailing slash', async () => {
    const c = await loadConnection(kubeconfig({ token: 'abc' }, { namespace: 'shop' }));
    expect(c.server).toBe('https://127.0.0.1:6443');
    expect(c.namespace).toBe('shop');
    expect(await c.headers(c.server)).toEqual([['Authorization', 'Bearer abc']]);
  });

  test('a token file, relative to the kubeconfig, and impersonation', async () => {
    const path = kubeconfig({ tokenFile: 'token', as: 'system:serviceaccount:ops:op', 'as-groups': ['system:serviceaccounts'] });
    writeFileSync(join(path, '..', 'token'), 'from-file\n');
    const c = await loadConnection(path);
    expect(c.namespace).toBe('default');
    expect(await c.headers(c.server)).toEqual([
      ['Authorization', 'Bearer from-file'],
      ['Impersonate-User', 'system:serviceaccount:ops:op'],
      ['Impersonate-Group', 'system:serviceaccounts'],
    ]);
  });

  test('basic auth', async () => {
    const c = await loadConnection(kubeconfig({ username: 'admin', password: 's3cret' }));
    expect(await c.headers(c.server)).toEqual([['Authorization', `Basic ${Buffer.from('admin:s3cret').toString('base64')}`]]);
  });

  test('a kubeconfig without its current context says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kc-'));
    writeFileSync(join(dir, 'config'), stringify({ 'current-context': 'gone', contexts: [] }));
    await expect(loadConnection(join(dir, 'config'))).rejects.toThrow('no current context ("gone")');
  });
});

describe('contexts and merged kubeconfigs, as kubectl finds them', () => {
  function file(doc: Record<string, unknown>): string {
    const dir = mkdtempSync(join(tmpdir(), 'kc-'));
    writeFileSync(join(dir, 'config'), stringify(doc));
    return join(dir, 'config');
  }
  const two = () =>
    file({
      'current-context': 'a',
      clusters: [
        { name: 'ka', cluster: { server: 'https://a.example:6443' } },
        { name: 'kb', cluster: { server: 'https://b.example:6443' } },
      ],
      users: [
        { name: 'ua', user: { token: 'ta' } },
        { name: 'ub', user: { token: 'tb' } },
      ],
      contexts: [
        { name: 'a', context: { cluster: 'ka', user: 'ua' } },
        { name: 'b', context: { cluster: 'kb', user: 'ub', namespace: 'shop' } },
      ],
    });

  test('--context picks another context than current-context', async () => {
    const c = await loadConnection(two(), { context: 'b' });
    expect(c.server).toBe('https://b.example:6443');
    expect(c.namespace).toBe('shop');
    expect(await c.headers(c.server)).toEqual([['Authorization', 'Bearer tb']]);
  });

  test('an unknown context is named in the error', async () => {
    await expect(loadConnection(two(), { context: 'nope' })).rejects.toThrow('context "nope" not found');
  });

  test('$KUBECONFIG files are merged: the first current-context and the first entry of each name win', async () => {
    const first = file({
      'current-context': 'b',
      users: [{ name: 'ub', user: { tokenFile: 'tok' } }],
    });
    writeFileSync(join(first, '..', 'tok'), 'from-first-file\n');
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = `${first}:/does/not/exist:${two()}`;
    try {
      const c = await loadConnection();
      expect(c.server).toBe('https://b.example:6443');
      // ub comes from the first file, whose tokenFile is relative to that file.
      expect(await c.headers(c.server)).toEqual([['Authorization', 'Bearer from-first-file']]);
      const other = await loadConnection(undefined, { context: 'a' });
      expect(other.server).toBe('https://a.example:6443');
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });
});

import { describe, expect, test } from 'vitest';
import { connectionFromKubeconfig } from '../../../src/k8s/connection.ts';
import { remoteKubeconfig } from '../../../src/remote/kubeconfig.ts';

const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('the kubeconfig of a primary cluster (remote-kubeconfig)', () => {
  test('embeds server, CA and token, and is accepted as an untrusted kubeconfig', async () => {
    const text = remoteKubeconfig({ server: 'https://10.213.0.10:6443', caPem: ca, token: 'abc\n', namespace: 'shop' });
    const c = await connectionFromKubeconfig(text, { origin: 'test', untrusted: true });
    expect(c.server).toBe('https://10.213.0.10:6443');
    expect(c.namespace).toBe('shop');
    expect(await c.headers(c.server)).toEqual([['Authorization', 'Bearer abc']]);
  });

  test('refuses what would not work', () => {
    expect(() => remoteKubeconfig({ server: 'http://x', caPem: ca, token: 't', namespace: 'n' })).toThrow('https://');
    expect(() => remoteKubeconfig({ server: 'https://x', caPem: ca, token: ' ', namespace: 'n' })).toThrow('token is empty');
    expect(() => remoteKubeconfig({ server: 'https://x', caPem: 'nope', token: 't', namespace: 'n' })).toThrow('not a PEM certificate');
  });
});

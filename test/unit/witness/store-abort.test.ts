// A witness that accepts connections and never answers: the caller gives up after
// requestTimeout and aborts, so the request's socket is closed, not left open for a late answer.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { KubeClient } from '../../../src/k8s/client.ts';
import { connectionFromKubeconfig } from '../../../src/k8s/connection.ts';
import { WitnessStore } from '../../../src/witness/store.ts';

const sockets: { socket: Socket; closed: boolean }[] = [];
const requests: string[] = [];
let server: Server;
let store: WitnessStore;

beforeAll(async () => {
  server = createServer((req) => {
    // Never answers.
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
  });
  server.on('connection', (socket: Socket) => {
    const s = { socket, closed: false };
    sockets.push(s);
    socket.on('close', () => (s.closed = true));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const kubeconfig = JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'c',
    clusters: [{ name: 'w', cluster: { server: `http://127.0.0.1:${(server.address() as AddressInfo).port}` } }],
    users: [{ name: 'u', user: { token: 't' } }],
    contexts: [{ name: 'c', context: { cluster: 'w', user: 'u' } }],
  });
  store = new WitnessStore(new KubeClient(await connectionFromKubeconfig(kubeconfig, { origin: 'test' })), 'w', 'standby-a-b', 6);
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
});

async function until(ok: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return ok();
}

describe('WitnessStore: a request given up is aborted', () => {
  test.each([
    ['read', (s: AbortSignal) => store.read(s)],
    ['create', (s: AbortSignal) => store.create('primary:u', 1, Date.now(), s)],
    ['write', (s: AbortSignal) => store.write('5', 'standby:u', 2, Date.now(), s)],
  ] as const)('%s: the socket is open while the request waits, closed once the signal aborts', async (_name, call) => {
    const before = sockets.length;
    const asked = requests.length;
    const abort = new AbortController();
    const p = call(abort.signal);
    p.catch(() => undefined);
    expect(await until(() => requests.length > asked, 5_000)).toBe(true);
    const mine = sockets.slice(before);
    expect(mine.length).toBeGreaterThan(0);
    // Still waiting: nothing closed it.
    await new Promise((r) => setTimeout(r, 200));
    expect(mine.some((s) => !s.closed)).toBe(true);
    abort.abort();
    await expect(p).rejects.toThrow(/abort/i);
    expect(await until(() => mine.every((s) => s.closed), 5_000)).toBe(true);
  });

  test('without a signal the request stays open (what the timeout used to leave behind)', async () => {
    const before = sockets.length;
    const asked = requests.length;
    const p = store.read();
    p.catch(() => undefined);
    expect(await until(() => requests.length > asked, 5_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(sockets.slice(before).some((s) => !s.closed)).toBe(true);
    server.closeAllConnections();
    await expect(p).rejects.toThrow();
  });
});

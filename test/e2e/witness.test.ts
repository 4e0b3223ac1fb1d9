// The witness's lease on a real API server (this suite's control plane stands in for the third
// location): every write carries the version read, so of two sites that act on the same version
// exactly one wins, and an old holder that renews after a takeover learns it lost.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { clusterInfo, createNamespace, deleteNamespace } from '../cluster/helpers.ts';
import { KubeClient } from '../../src/k8s/client.ts';
import { loadConnection } from '../../src/k8s/connection.ts';
import { renewalOf, takeoverOf } from '../../src/witness/lease.ts';
import { WitnessStore, type StoredRecord } from '../../src/witness/store.ts';

let n = '';
let store: WitnessStore;

beforeAll(async () => {
  n = await createNamespace('witness');
  store = new WitnessStore(new KubeClient(await loadConnection(clusterInfo().kubeconfig)), n, 'orders-east-west', 30);
});
afterAll(async () => {
  await deleteNamespace(n);
});

const record = (r: StoredRecord | 'exists' | 'conflict' | 'gone' | undefined): StoredRecord => {
  if (!r || typeof r === 'string') throw new Error(`expected a record, got ${r}`);
  return r;
};

describe('the lease on the witness (real kube-apiserver)', () => {
  let east: StoredRecord;

  test('the first record is created once; a second create is refused, never overwriting it', async () => {
    const first = record(await store.create('east', 1, Date.parse('2026-12-01T10:00:00Z')));
    east = first;
    expect(first).toMatchObject({ holder: 'east', epoch: 1, renewTime: '2026-12-01T10:00:00.000000Z' });
    expect(await store.create('west', 1, Date.now())).toBe('exists');
    expect(record(await store.read())).toMatchObject({ holder: 'east', epoch: 1 });
  });

  test('two takeovers of the same version: the API server accepts exactly one', async () => {
    const seen = record(await store.read());
    const a = takeoverOf(seen, 'west');
    const b = takeoverOf(seen, 'north');
    const results = await Promise.all([store.write(a.expect, a.holder, a.epoch, Date.now()), store.write(b.expect, b.holder, b.epoch, Date.now())]);
    const won = results.filter((x) => typeof x !== 'string');
    expect(won).toHaveLength(1);
    expect(results.filter((x) => x === 'conflict')).toHaveLength(1);
    const now = record(await store.read());
    expect(now).toEqual(won[0]);
    expect(now.epoch).toBe(2);
  });

  test('the old holder renewing the version it had: conflict, and on reading the record it has lost', async () => {
    const now = record(await store.read());
    // east renews with the version of its last renewal, from before the takeover: the update
    // reaches the API server, which refuses it (409).
    expect(await store.write(east.resourceVersion, 'east', 1, Date.now())).toBe('conflict');
    const r = renewalOf(now, 'east', 1);
    expect(r.action).toBe('lost');
    expect(record(await store.read())).toEqual(now);
  });

  test("the holder's renewals move the version and keep holder and epoch", async () => {
    const before = record(await store.read());
    const r = renewalOf(before, before.holder, before.epoch);
    if (r.action !== 'renew') throw new Error(r.message);
    const after = record(await store.write(r.expect, r.holder, r.epoch, Date.parse('2026-12-01T10:05:00Z')));
    expect(after).toMatchObject({ holder: before.holder, epoch: before.epoch, renewTime: '2026-12-01T10:05:00.000000Z' });
    expect(after.resourceVersion).not.toBe(before.resourceVersion);
  });
});

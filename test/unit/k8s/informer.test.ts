// The informer against a fake API server (in-process HTTP, list/watch with bookmarks, 410 and
// injected errors) and a fake clock: what it caches, when it lists again, how it backs off.
import { getEventListeners } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext, runInThisContext } from 'node:vm';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { Informer, type ChangeType } from '../../../src/k8s/informer.ts';
import type { Resource } from '../../../src/k8s/resources.ts';
import type { KubeObject } from '../../../src/k8s/types.ts';
import { FakeApi } from '../support/fake-api.ts';
import { FakeClock, settle, until } from '../support/fake-clock.ts';

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

const CM: Resource = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };
const log = pino({ level: 'silent' });
const cm = (namespace: string, name: string, data: Record<string, string> = {}, labels?: Record<string, string>): ConfigMap => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace, ...(labels ? { labels } : {}) },
  data,
});

let api: FakeApi;
let clock: FakeClock;
let abort: AbortController;
let running: Promise<void>[];

beforeEach(async () => {
  api = await FakeApi.start();
  clock = new FakeClock();
  abort = new AbortController();
  running = [];
});

afterEach(async () => {
  abort.abort();
  await Promise.all(running);
  await api.close();
});

function start(opts: Partial<ConstructorParameters<typeof Informer<ConfigMap>>[1]> = {}) {
  const changes: { type: ChangeType; key: string; data: Record<string, string> | undefined; old: Record<string, string> | undefined }[] = [];
  const errors: string[] = [];
  const informer = new Informer<ConfigMap>(api.client(), {
    resource: CM,
    log,
    clock,
    minBackoffMs: 200,
    maxBackoffMs: 1_000,
    onError: (_resource, kind) => errors.push(kind),
    ...opts,
  });
  informer.onChange((type, obj, old) =>
    changes.push({ type, key: `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`, data: obj.data, old: old?.data }),
  );
  running.push(informer.run(abort.signal));
  return { informer, changes, errors };
}

const watchRequests = () => api.requests.filter((r) => r.verb === 'watch');
const lastWatchFrom = () => watchRequests().at(-1)?.query.get('resourceVersion');

describe('Informer: list and watch', () => {
  test('lists every page, then follows adds, updates and deletes from the watch; handlers get the old object', async () => {
    for (let i = 0; i < 1_201; i++) api.create(CM, cm('a', `cm-${String(i).padStart(4, '0')}`, { i: String(i) }));
    const { informer, changes } = start();
    await informer.waitSynced();
    expect(informer.size).toBe(1_201);
    expect(api.count('list')).toBe(3); // pages of 500
    expect(changes.filter((c) => c.type === 'add')).toHaveLength(1_201);
    expect(informer.get('a/cm-0042')?.data).toEqual({ i: '42' });
    await until(() => api.openWatches === 1, 'the watch to open');
    expect(lastWatchFrom()).toBe(api.resourceVersion);
    changes.length = 0;

    api.create(CM, cm('a', 'new', { v: '1' }));
    api.update(CM, cm('a', 'cm-0001', { i: 'changed' }));
    api.remove(CM, 'a', 'cm-0002');
    await until(() => changes.length === 3, 'three watch events');
    expect(changes).toEqual([
      { type: 'add', key: 'a/new', data: { v: '1' }, old: undefined },
      { type: 'update', key: 'a/cm-0001', data: { i: 'changed' }, old: { i: '1' } },
      { type: 'delete', key: 'a/cm-0002', data: { i: '2' }, old: { i: '2' } },
    ]);
    expect(informer.get('a/cm-0001')?.data).toEqual({ i: 'changed' });
    expect(informer.get('a/cm-0002')).toBeUndefined();
    expect(informer.inNamespace('a')).toHaveLength(1_201);
    expect(api.count('list')).toBe(3);
  });

  test('one scope per namespace: synced only once every namespace listed; objects elsewhere are not seen', async () => {
    api.create(CM, cm('a', 'x'));
    api.create(CM, cm('b', 'y'));
    api.create(CM, cm('c', 'z'));
    api.fail({ verb: 'list' }, 500, 1);
    const { informer } = start({ namespaces: ['a', 'b'] });
    await until(() => api.count('list') === 2, 'both namespaces to be listed once');
    await settle();
    expect(informer.synced).toBe(false); // one of the two lists failed
    await clock.next();
    await informer.waitSynced();
    expect(informer.list().map((o) => o.metadata?.name).sort()).toEqual(['x', 'y']);
  });

  test('keeps only what the transform keeps, and drops managedFields and the last-applied annotation', async () => {
    api.create(CM, {
      ...cm('a', 'x', { big: 'x'.repeat(1000) }),
      metadata: {
        name: 'x',
        namespace: 'a',
        managedFields: [{ manager: 'kubectl' }],
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}', keep: 'me' },
      },
    });
    const { informer } = start({ transform: (o) => ({ ...o, data: { size: String(o.data?.big?.length ?? 0) } }) });
    await informer.waitSynced();
    const x = informer.get('a/x');
    expect(x?.data).toEqual({ size: '1000' });
    expect(x?.metadata?.managedFields).toBeUndefined();
    expect(x?.metadata?.annotations).toEqual({ keep: 'me' });
  });
});

describe('Informer: resuming and re-listing', () => {
  test('a bookmark moves the resume point: after the watch ends it watches again from the bookmark, without a list', async () => {
    api.create(CM, cm('a', 'x'));
    const { informer, errors } = start();
    await informer.waitSynced();
    await until(() => api.openWatches === 1, 'the watch to open');
    const listed = lastWatchFrom();
    // Other resources move the resourceVersion on; only a bookmark tells this watch about it.
    for (let i = 0; i < 5; i++) api.create({ ...CM, plural: 'secrets', kind: 'Secret' }, cm('a', `s${i}`));
    const bookmarked = api.resourceVersion;
    expect(bookmarked).not.toBe(listed);
    api.bookmark();
    // History before the bookmark is gone: resuming from the list's version would now be refused.
    api.expireHistory();
    api.closeWatches();
    await until(() => watchRequests().length === 2 && api.openWatches === 1, 'the watch to be opened again');
    expect(lastWatchFrom()).toBe(bookmarked);
    expect(api.count('list')).toBe(1);
    expect(errors).toEqual([]);
    expect(informer.stats).toMatchObject({ lists: 1, gone: 0 });
    // And it still sees changes.
    api.create(CM, cm('a', 'after'));
    await until(() => informer.get('a/after'), 'an object created after the resume');
  });

  for (const goneAs of ['event', 'status'] as const) {
    test(`410 Gone (${goneAs === 'event' ? 'an ERROR event, as the watch cache answers' : 'HTTP 410'}) re-lists; what changed while the watch was down is seen, deletions included`, async () => {
      api.goneAs = goneAs;
      api.create(CM, cm('a', 'kept', { v: '1' }));
      api.create(CM, cm('a', 'deleted'));
      const { informer, changes, errors } = start();
      await informer.waitSynced();
      await until(() => api.openWatches === 1, 'the watch to open');
      changes.length = 0;

      // The outage: watches fail; meanwhile objects change and the server forgets the history.
      api.fail({ verb: 'watch' }, 503);
      api.closeWatches();
      await until(() => clock.pending.length === 1, 'the informer to wait before watching again');
      api.update(CM, cm('a', 'kept', { v: '2' }));
      api.remove(CM, 'a', 'deleted');
      api.create(CM, cm('a', 'created'));
      api.expireHistory();
      api.heal();
      expect(informer.get('a/kept')?.data).toEqual({ v: '1' });

      await clock.next();
      await until(() => api.count('list') === 2, 'a second list');
      await until(() => changes.length === 3, 'the differences of the re-list');
      expect(changes).toEqual(
        expect.arrayContaining([
          { type: 'update', key: 'a/kept', data: { v: '2' }, old: { v: '1' } },
          { type: 'add', key: 'a/created', data: {}, old: undefined },
          { type: 'delete', key: 'a/deleted', data: {}, old: {} },
        ]),
      );
      expect(informer.list().map((o) => o.metadata?.name).sort()).toEqual(['created', 'kept']);
      expect(errors).toContain('gone');
      expect(informer.stats.gone).toBe(1);
      expect(informer.stats.lists).toBe(2);
      // The re-list's version is where the new watch starts.
      await until(() => api.openWatches === 1, 'the watch to open again');
      expect(lastWatchFrom()).toBe(api.resourceVersion);
    });
  }
});

describe('Informer: errors', () => {
  test('failed lists back off exponentially up to the cap; the informer syncs once the API answers', async () => {
    api.create(CM, cm('a', 'x'));
    api.fail({ verb: 'list' }, 500, 5);
    const { informer, errors } = start();
    const waited: number[] = [];
    for (let i = 0; i < 5; i++) waited.push(await clock.next());
    await informer.waitSynced();
    expect(waited).toEqual([200, 400, 800, 1_000, 1_000]);
    expect(errors).toEqual(['error', 'error', 'error', 'error', 'error']);
    expect(api.count('list')).toBe(6);
    expect(informer.get('a/x')).toBeDefined();
  });

  test('after a success (a list, a watch that delivered events) the backoff starts again from the minimum', async () => {
    api.fail({ verb: 'list' }, 500, 3);
    const { informer } = start();
    expect([await clock.next(), await clock.next(), await clock.next()]).toEqual([200, 400, 800]);
    await informer.waitSynced();
    await until(() => api.openWatches === 1, 'the watch to open');
    // The watch ends at once with no event (a failure), then fails outright: 200, then 400.
    api.fail({ verb: 'watch' }, 500, 1);
    api.closeWatches();
    expect([await clock.next(), await clock.next()]).toEqual([200, 400]);
    await until(() => api.openWatches === 1, 'the watch to open again');
    api.create(CM, cm('a', 'x'));
    await until(() => informer.get('a/x'), 'a watch event');
    api.fail({ verb: 'watch' }, 500, 1);
    api.closeWatches();
    expect(await clock.next()).toBe(200);
    await until(() => api.openWatches === 1, 'the watch to open once more');
  });

  test('a watch the server ends at once, with no event, counts as a failure: the informer waits before the next', async () => {
    const { informer } = start();
    await informer.waitSynced();
    await until(() => api.openWatches === 1, 'the watch to open');
    for (let i = 0; i < 3; i++) {
      const before = watchRequests().length;
      api.closeWatches();
      await until(() => clock.pending.length === 1, 'the informer to wait');
      await settle(20);
      expect(watchRequests().length).toBe(before);
      await clock.next();
      await until(() => api.openWatches === 1, 'the watch to open again');
    }
    expect(clock.requested).toEqual([200, 400, 800]);
    expect(api.count('list')).toBe(1);
  });

  test('an optional resource that is not installed counts as synced and empty, and is looked for again', async () => {
    api.fail({ verb: 'list' }, 404, 2);
    const { informer } = start({ optional: true });
    await informer.waitSynced();
    expect(informer.installed).toBe(false);
    expect(await clock.next()).toBeGreaterThanOrEqual(10_000);
    await until(() => api.count('list') === 2, 'a second look');
    expect(await clock.next()).toBeGreaterThanOrEqual(10_000);
    api.create(CM, cm('a', 'x'));
    await until(() => informer.get('a/x'), 'the resource, once installed');
    expect(informer.installed).toBe(true);
  });

  test('an abort stops the informer during a backoff, leaving no listener on the signal', async () => {
    api.fail({ verb: 'list' }, 500);
    start();
    for (let i = 0; i < 20; i++) await clock.next();
    expect(getEventListeners(abort.signal, 'abort').length).toBeLessThanOrEqual(2);
    abort.abort();
    await Promise.all(running);
  });
});

// What a cache costs: V8 keeps what it is asked to keep, so the informer must hold no more than
// the objects it caches. `gc` and `%HasFastProperties` are V8's own, switched on for this file.
setFlagsFromString('--expose-gc');
setFlagsFromString('--allow-natives-syntax');
const gc = runInNewContext('gc') as () => void;
const hasFastProperties = runInThisContext('(o) => %HasFastProperties(o)') as (o: object) => boolean;

describe('Informer: memory', () => {
  test('a list transforms each page as it arrives: no more than one page of whole objects at a time', async () => {
    for (let i = 0; i < 1_201; i++) api.create(CM, cm('a', `cm-${String(i).padStart(4, '0')}`, { i: String(i) }));
    const pagesAsked: number[] = [];
    const listed = await api.client().list<ConfigMap, string>(CM, 'a', {
      transform: (o) => {
        pagesAsked.push(api.count('list'));
        return o.metadata?.name ?? '';
      },
    });
    expect(listed.items).toHaveLength(1_201);
    expect(listed.items[42]).toBe('cm-0042');
    // Items of page p (500 each) are transformed while only p pages have been asked for.
    expect(pagesAsked.map((asked, i) => asked - Math.floor(i / 500))).toEqual(Array.from({ length: 1_201 }, () => 1));
  });

  test('keeps no raw listed object once it is transformed, not even while the watch after the list runs', async () => {
    for (let i = 0; i < 1_200; i++) api.create(CM, cm('a', `cm-${i}`, { big: 'x'.repeat(200) }));
    const raw: WeakRef<object>[] = [];
    const { informer } = start({
      transform: (o) => {
        raw.push(new WeakRef(o));
        return { apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata?.name, namespace: o.metadata?.namespace, resourceVersion: o.metadata?.resourceVersion } };
      },
    });
    await informer.waitSynced();
    await until(() => api.openWatches === 1, 'the watch to open');
    expect(raw).toHaveLength(1_200);
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(raw.filter((r) => r.deref() !== undefined)).toHaveLength(0);
    expect(informer.size).toBe(1_200);
  });

  test('metadata stripped of managedFields keeps fast properties (a `delete` would turn it into a dictionary)', async () => {
    api.create(CM, {
      ...cm('a', 'x'),
      metadata: { name: 'x', namespace: 'a', labels: { app: 'x' }, managedFields: [{ manager: 'kubectl' }], annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
    });
    api.create(CM, { ...cm('a', 'y'), metadata: { name: 'y', namespace: 'a', managedFields: [{ manager: 'kubectl' }] } });
    const { informer } = start();
    await informer.waitSynced();
    for (const key of ['a/x', 'a/y']) {
      const meta = informer.get(key)?.metadata;
      expect(meta?.managedFields).toBeUndefined();
      expect(hasFastProperties(meta!)).toBe(true);
    }
    expect(informer.get('a/x')?.metadata?.annotations).toEqual({});
  });

  test('an index keeps one key or a set of keys per value, and answers the same through adds, moves and deletes', async () => {
    const { informer } = start();
    informer.addIndex('team', (o) => (o.metadata?.labels?.team ? [o.metadata.labels.team] : []));
    await informer.waitSynced();
    const team = (t: string) => informer.byIndex('team', t).map((o) => o.metadata?.name).sort();
    api.create(CM, cm('a', 'x', {}, { team: 'red' }));
    await until(() => team('red').length === 1, 'x indexed');
    api.create(CM, cm('a', 'y', {}, { team: 'red' }));
    api.create(CM, cm('a', 'z', {}, { team: 'blue' }));
    await until(() => team('red').length === 2 && team('blue').length === 1, 'y and z indexed');
    expect(team('red')).toEqual(['x', 'y']);
    api.update(CM, cm('a', 'x', {}, { team: 'blue' }));
    await until(() => team('blue').length === 2, 'x moved to blue');
    expect(team('red')).toEqual(['y']);
    expect(team('blue')).toEqual(['x', 'z']);
    api.remove(CM, 'a', 'y');
    api.remove(CM, 'a', 'z');
    await until(() => team('red').length === 0 && team('blue').length === 1, 'y and z gone');
    expect(team('blue')).toEqual(['x']);
    api.update(CM, cm('a', 'x', {}, {}));
    await until(() => team('blue').length === 0, 'x left the index');
    expect(informer.byIndex('team', 'red')).toEqual([]);
  });
});

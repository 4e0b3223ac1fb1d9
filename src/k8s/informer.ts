// An informer: list, then watch from the list's resourceVersion, into an
// in-memory store with indexes. It never gives up: a 410 Gone re-lists, any
// other error (API server restart, network, a CRD not installed yet) retries
// with capped exponential backoff. Handlers get read-only cached objects.
import type { Logger } from 'pino';
import { isGone, isNotFound, type KubeClient } from './client.ts';
import { sleep, systemClock, type Clock } from './clock.ts';
import type { Resource } from './resources.ts';
import { keyOf, type KubeObject, type WatchEvent } from './types.ts';

export type ChangeType = 'add' | 'update' | 'delete';
export type ChangeHandler<T> = (type: ChangeType, obj: T, old: T | undefined) => void;
export type IndexFn<T> = (obj: T) => readonly string[];

export interface InformerOptions<T> {
  resource: Resource;
  /** Namespaces to watch; undefined watches all. */
  namespaces?: readonly string[] | undefined;
  labelSelector?: string;
  /** Keeps only what the operator reads, so large clusters cost little memory. */
  transform?: (obj: T) => T;
  log: Logger;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * The resource may not be installed (e.g. the VolumeSnapshot CRDs): a 404
   * counts as an empty, synced list, and the informer keeps looking for it.
   */
  optional?: boolean;
  /** Called on every failed list or watch: `gone` for 410 (a re-list follows), `error` otherwise. */
  onError?: (resource: string, kind: 'gone' | 'error') => void;
  /** Times the backoff (tests pass a fake one). */
  clock?: Clock;
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
/** A watch that ends sooner than this with no event failed (client-go's "very short watch"). */
const SHORT_WATCH_MS = 1_000;

export class Informer<T extends KubeObject> {
  readonly resource: Resource;
  private readonly client: KubeClient;
  private readonly opts: InformerOptions<T>;
  private readonly store = new Map<string, T>();
  private readonly handlers: ChangeHandler<T>[] = [];
  private readonly indexFns = new Map<string, IndexFn<T>>();
  /** Per index, per value: the key of the one object with that value, or a Set of several (a Set costs ~250 bytes). */
  private readonly indexes = new Map<string, Map<string, string | Set<string>>>();
  private readonly syncedNamespaces = new Set<string>();
  private syncWaiters: (() => void)[] = [];
  /** Counts re-lists and watch restarts, for tests and metrics. */
  readonly stats = { lists: 0, watches: 0, errors: 0, gone: 0 };

  constructor(client: KubeClient, opts: InformerOptions<T>) {
    this.client = client;
    this.opts = opts;
    this.resource = opts.resource;
    this.addIndex('namespace', (o) => [o.metadata?.namespace ?? '']);
  }

  addIndex(name: string, fn: IndexFn<T>): void {
    this.indexFns.set(name, fn);
    const index = new Map<string, string | Set<string>>();
    this.indexes.set(name, index);
    for (const [key, obj] of this.store) for (const v of fn(obj)) addTo(index, v, key);
  }

  onChange(handler: ChangeHandler<T>): void {
    this.handlers.push(handler);
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  get size(): number {
    return this.store.size;
  }

  list(): T[] {
    return [...this.store.values()];
  }

  byIndex(name: string, value: string): T[] {
    const keys = this.indexes.get(name)?.get(value);
    if (keys === undefined) return [];
    if (typeof keys === 'string') {
      const o = this.store.get(keys);
      return o ? [o] : [];
    }
    const out: T[] = [];
    for (const k of keys) {
      const o = this.store.get(k);
      if (o) out.push(o);
    }
    return out;
  }

  inNamespace(namespace: string): T[] {
    return this.byIndex('namespace', namespace);
  }

  /** Whether the last list found the resource installed (false for an optional resource that is absent). */
  installed = true;

  get synced(): boolean {
    return this.syncedNamespaces.size === this.scopes().length;
  }

  waitSynced(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  private scopes(): (string | undefined)[] {
    return this.opts.namespaces ? [...this.opts.namespaces] : [undefined];
  }

  /** Runs until the signal aborts. */
  async run(signal: AbortSignal): Promise<void> {
    await Promise.all(this.scopes().map((ns) => this.runScope(ns, signal)));
  }

  private async runScope(namespace: string | undefined, signal: AbortSignal): Promise<void> {
    const min = this.opts.minBackoffMs ?? 200;
    const max = this.opts.maxBackoffMs ?? 30_000;
    const clock = this.opts.clock ?? systemClock;
    let backoff = min;
    let resourceVersion = '';
    let lastLogged = '';
    while (!signal.aborted) {
      try {
        if (!resourceVersion) {
          resourceVersion = await this.relist(namespace);
          backoff = min;
        }
        this.stats.watches++;
        let events = 0;
        const opened = clock.now();
        await this.client.watch<T>(
          this.resource,
          namespace,
          { resourceVersion, signal, ...this.selector() },
          (event: WatchEvent<T>) => {
            events++;
            resourceVersion = event.object.metadata?.resourceVersion ?? resourceVersion;
            if (event.type !== 'BOOKMARK') this.apply(event);
          },
        );
        if (events === 0 && clock.now() - opened < SHORT_WATCH_MS) {
          // Ended at once with nothing to say (a server shutting down, a proxy closing streams):
          // watching again at once would hammer it, so this counts as a failure and backs off.
          this.stats.errors++;
          this.opts.onError?.(this.resource.plural, 'error');
          await sleep(clock, backoff, signal);
          backoff = Math.min(backoff * 2, max);
          continue;
        }
        if (events > 0) backoff = min;
        lastLogged = '';
      } catch (err) {
        // The signal may have aborted while the watch was awaited.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
        if (signal.aborted) return;
        this.stats.errors++;
        if (this.opts.optional && isNotFound(err) && !resourceVersion) {
          this.installed = false;
          this.replace(namespace, []);
          this.markSynced(namespace);
          if (lastLogged !== 'absent') {
            this.opts.log.info({ resource: this.resource.plural }, 'resource not installed; will keep looking for it');
            lastLogged = 'absent';
          }
          await sleep(clock, Math.max(backoff, 10_000), signal);
          backoff = Math.min(backoff * 2, max);
          continue;
        }
        if (isGone(err)) {
          // Our resourceVersion is too old: the only way back is a fresh list.
          this.stats.gone++;
          this.opts.onError?.(this.resource.plural, 'gone');
          resourceVersion = '';
          this.opts.log.debug({ resource: this.resource.plural, namespace }, 'watch expired (410 Gone); re-listing');
          continue;
        }
        this.opts.onError?.(this.resource.plural, 'error');
        const message = (err as Error).message;
        if (message !== lastLogged) {
          this.opts.log.warn({ resource: this.resource.plural, namespace, err: message, retryInMs: backoff }, 'watch failed; retrying');
          lastLogged = message;
        }
        await sleep(clock, backoff, signal);
        backoff = Math.min(backoff * 2, max);
      }
    }
  }

  /**
   * Lists into the store and returns the resourceVersion to watch from. A method of its own: a
   * list held in runScope's frame would stay alive (V8 keeps the suspended frame's registers)
   * for as long as the watch after it runs, every raw object of it next to the cached copy.
   */
  private async relist(namespace: string | undefined): Promise<string> {
    const listed = await this.client.list<T>(this.resource, namespace, { ...this.selector(), transform: (o) => this.transform(o) });
    this.stats.lists++;
    this.installed = true;
    this.replace(namespace, listed.items);
    this.markSynced(namespace);
    return listed.resourceVersion;
  }

  private selector(): { labelSelector?: string } {
    return this.opts.labelSelector ? { labelSelector: this.opts.labelSelector } : {};
  }

  private markSynced(namespace: string | undefined): void {
    this.syncedNamespaces.add(namespace ?? '');
    if (this.synced) {
      const waiters = this.syncWaiters;
      this.syncWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Replaces the store's view of one scope with a fresh (transformed) list, emitting the differences. */
  private replace(namespace: string | undefined, items: T[]): void {
    const seen = new Set<string>();
    for (const obj of items) {
      const key = keyOf(obj);
      seen.add(key);
      const old = this.store.get(key);
      if (old?.metadata?.resourceVersion === obj.metadata?.resourceVersion) continue;
      this.put(key, obj);
      this.emit(old ? 'update' : 'add', obj, old);
    }
    for (const [key, old] of this.store) {
      if (namespace !== undefined && old.metadata?.namespace !== namespace) continue;
      if (seen.has(key)) continue;
      this.remove(key);
      this.emit('delete', old, old);
    }
  }

  private apply(event: WatchEvent<T>): void {
    const obj = this.transform(event.object);
    const key = keyOf(obj);
    const old = this.store.get(key);
    if (event.type === 'DELETED') {
      if (!old) return;
      this.remove(key);
      this.emit('delete', obj, old);
      return;
    }
    this.put(key, obj);
    this.emit(old ? 'update' : 'add', obj, old);
  }

  private transform(obj: T): T {
    // Fields the operator never reads but that make up much of an object's size: managedFields
    // (every field manager's field set) and kubectl's last-applied copy of the whole object.
    // The object is fresh from the wire, not yet shared, so it may be trimmed in place; by
    // copying the rest, not with `delete`, which would turn metadata into a dictionary of its
    // properties, several times larger, for as long as the object is cached.
    const meta = obj.metadata;
    if (meta && (meta.managedFields !== undefined || (meta.annotations && LAST_APPLIED in meta.annotations))) {
      const { managedFields: _fields, ...rest } = meta;
      if (rest.annotations && LAST_APPLIED in rest.annotations) {
        const { [LAST_APPLIED]: _dropped, ...annotations } = rest.annotations;
        rest.annotations = annotations;
      }
      obj.metadata = rest;
    }
    return this.opts.transform ? this.opts.transform(obj) : obj;
  }

  private put(key: string, obj: T): void {
    const old = this.store.get(key);
    if (old) this.unindex(key, old);
    this.store.set(key, obj);
    for (const [name, fn] of this.indexFns) {
      const index = this.indexes.get(name)!;
      for (const v of fn(obj)) addTo(index, v, key);
    }
  }

  private remove(key: string): void {
    const old = this.store.get(key);
    if (!old) return;
    this.unindex(key, old);
    this.store.delete(key);
  }

  private unindex(key: string, obj: T): void {
    for (const [name, fn] of this.indexFns) {
      const index = this.indexes.get(name)!;
      for (const v of fn(obj)) removeFrom(index, v, key);
    }
  }

  private emit(type: ChangeType, obj: T, old: T | undefined): void {
    for (const h of this.handlers) {
      try {
        h(type, obj, old);
      } catch (err) {
        this.opts.log.error({ err: (err as Error).message, resource: this.resource.plural }, 'informer handler failed');
      }
    }
  }
}

function addTo(index: Map<string, string | Set<string>>, value: string, key: string): void {
  const have = index.get(value);
  if (have === undefined) index.set(value, key);
  else if (typeof have === 'string') {
    if (have !== key) index.set(value, new Set([have, key]));
  } else have.add(key);
}

function removeFrom(index: Map<string, string | Set<string>>, value: string, key: string): void {
  const have = index.get(value);
  if (have === undefined) return;
  if (typeof have === 'string') {
    if (have === key) index.delete(value);
    return;
  }
  have.delete(key);
  if (have.size === 1) index.set(value, have.values().next().value!);
  else if (have.size === 0) index.delete(value);
}

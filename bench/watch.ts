// Watches for the measurements. The operator's KubeClient.watch gives no sign
// of when the stream is open and no receive time per event, both of which a
// latency measurement needs, so the bench opens its own watch streams (the same
// connection and credentials as the bench's KubeClient) and stamps every event
// with the monotonic time its line arrived.
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { fetch } from 'undici';
import type { KubeClient } from '../src/k8s/client.ts';
import { apiVersionOf, collectionPath, type Resource } from '../src/k8s/resources.ts';
import { keyOf, type KubeObject, type WatchEvent } from '../src/k8s/types.ts';
import { errorMessage, log, now, sleep } from './common.ts';

export interface WatchHandle {
  /** Resolves when the API server answered the watch (the stream is open). */
  opened: Promise<void>;
  /** Resolves when the stream ends (stop, server timeout) or fails (with the error). */
  ended: Promise<Error | undefined>;
  stop(): void;
}

export interface WatchParams {
  resourceVersion: string;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  timeoutSeconds?: number;
}

/** One watch stream; onEvent gets each event with its arrival time (performance.now()). */
export function openWatch<T extends KubeObject>(
  client: KubeClient,
  res: Resource,
  namespace: string | undefined,
  p: WatchParams,
  onEvent: (event: WatchEvent<T>, at: number) => void,
): WatchHandle {
  const abort = new AbortController();
  let resolveOpened!: () => void;
  let rejectOpened!: (err: Error) => void;
  const opened = new Promise<void>((resolve, reject) => {
    resolveOpened = resolve;
    rejectOpened = reject;
  });
  opened.catch(() => undefined);
  const ended = (async (): Promise<Error | undefined> => {
    try {
      const url = new URL(client.server + collectionPath(res, namespace));
      const q: Record<string, string | undefined> = {
        watch: 'true',
        allowWatchBookmarks: 'true',
        resourceVersion: p.resourceVersion,
        labelSelector: p.labelSelector,
        fieldSelector: p.fieldSelector,
        timeoutSeconds: String(p.timeoutSeconds ?? 3600),
      };
      for (const [k, v] of Object.entries(q)) if (v !== undefined) url.searchParams.set(k, v);
      const headers = await client.connection.headers(url.toString());
      const response = await fetch(url, {
        headers: [...headers, ['Accept', 'application/json'], ['User-Agent', 'standby-bench']],
        signal: abort.signal,
        dispatcher: client.connection.dispatcher,
      });
      if (!response.ok || !response.body) throw new Error(`watch ${res.plural}: HTTP ${response.status} ${(await response.text()).slice(0, 200)}`);
      resolveOpened();
      const lines = createInterface({ input: Readable.fromWeb(response.body) });
      for await (const line of lines) {
        const at = now();
        if (!line) continue;
        const event = JSON.parse(line) as WatchEvent<T>;
        if (event.type === 'ERROR') {
          const st = event.object as unknown as { code?: number; message?: string };
          throw new WatchError(st.code ?? 500, st.message ?? 'watch error');
        }
        if (event.type !== 'BOOKMARK') {
          event.object.apiVersion = apiVersionOf(res);
          event.object.kind = res.kind;
        }
        onEvent(event, at);
      }
      return undefined;
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      rejectOpened(e);
      return abort.signal.aborted ? undefined : e;
    }
  })();
  return {
    opened,
    ended,
    stop: () => {
      abort.abort();
    },
  };
}

export class WatchError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

export type TrackerEvent = 'ADDED' | 'MODIFIED' | 'DELETED';

/**
 * A list + watch cache of one resource that re-watches when the stream ends and
 * re-lists after a 410 Gone, calling onEvent for every change (the initial list
 * is reported as ADDED with its list time).
 */
export class Tracker<T extends KubeObject> {
  readonly items = new Map<string, T>();
  private readonly client: KubeClient;
  private readonly res: Resource;
  private readonly namespace: string | undefined;
  private readonly selectors: { labelSelector?: string; fieldSelector?: string };
  private readonly onEvent: (type: TrackerEvent, obj: T, at: number) => void;
  private current: WatchHandle | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    client: KubeClient,
    res: Resource,
    namespace: string | undefined,
    selectors: { labelSelector?: string; fieldSelector?: string },
    onEvent: (type: TrackerEvent, obj: T, at: number) => void,
  ) {
    this.client = client;
    this.res = res;
    this.namespace = namespace;
    this.selectors = selectors;
    this.onEvent = onEvent;
  }

  /** Lists, opens the watch, and resolves once the watch stream is open. */
  async start(): Promise<void> {
    let resourceVersion = await this.relist();
    let handle = this.watchFrom(resourceVersion, (rv) => (resourceVersion = rv));
    await handle.opened;
    this.loop = (async () => {
      for (;;) {
        const err = await handle.ended;
        if (this.stopped) return;
        if (err) {
          if (err instanceof WatchError && err.code === 410) {
            resourceVersion = await this.relist().catch(() => '');
          } else {
            log(`watch of ${this.res.plural} ended (${errorMessage(err)}); re-watching`);
            await sleep(500);
          }
          if (!resourceVersion) resourceVersion = await this.relist().catch(() => '');
        }
        if (this.isStopped()) return;
        handle = this.watchFrom(resourceVersion, (rv) => (resourceVersion = rv));
      }
    })();
  }

  private watchFrom(resourceVersion: string, setRv: (rv: string) => void): WatchHandle {
    const h = openWatch<T>(this.client, this.res, this.namespace, { resourceVersion, ...this.selectors }, (event, at) => {
      const rv = event.object.metadata?.resourceVersion;
      if (rv) setRv(rv);
      if (event.type === 'BOOKMARK') return;
      const key = keyOf(event.object);
      if (event.type === 'DELETED') this.items.delete(key);
      else this.items.set(key, event.object);
      this.onEvent(event.type as TrackerEvent, event.object, at);
    });
    this.current = h;
    return h;
  }

  private async relist(): Promise<string> {
    const listed = await this.client.list<T>(this.res, this.namespace, this.selectors);
    const at = now();
    const seen = new Set<string>();
    for (const item of listed.items) {
      const key = keyOf(item);
      seen.add(key);
      const old = this.items.get(key);
      this.items.set(key, item);
      if (old?.metadata?.resourceVersion !== item.metadata?.resourceVersion) this.onEvent(old ? 'MODIFIED' : 'ADDED', item, at);
    }
    for (const [key, old] of this.items) {
      if (!seen.has(key)) {
        this.items.delete(key);
        this.onEvent('DELETED', old, at);
      }
    }
    return listed.resourceVersion;
  }

  private isStopped(): boolean {
    return this.stopped;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.current?.stop();
    await this.loop;
  }
}

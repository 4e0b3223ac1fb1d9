// A thin Kubernetes API client over undici: every call is counted, nothing is
// throttled client-side, and watches stream with bookmarks. Where the server
// is and how to authenticate comes from a Connection (connection.ts).
import { fetch, type Dispatcher } from 'undici';
import type { Connection } from './connection.ts';

type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const HttpMethod = { GET: 'GET', POST: 'POST', PUT: 'PUT', PATCH: 'PATCH', DELETE: 'DELETE' } as const;
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { apiVersionOf, collectionPath, objectPath, type Resource } from './resources.ts';
import { nameOf, type KubeObject, type ObjectList, type WatchEvent } from './types.ts';

export const FIELD_MANAGER = 'standby-operator';

/** An error answered by the API server (or the transport), with its HTTP status. */
export class ApiError extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.reason = reason;
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.status === 404;
}
export function isConflict(err: unknown): boolean {
  return err instanceof ApiError && err.status === 409;
}
export function isGone(err: unknown): boolean {
  return err instanceof ApiError && err.status === 410;
}

export interface RequestInfo {
  method: string;
  /** get, list, watch, create, update, patch, delete: as the API server's audit log names them. */
  verb: string;
  resource: string;
  status: number;
  seconds: number;
}

export interface ClientOptions {
  userAgent?: string;
  /** The field manager of every write (default: standby-operator); a CLI writes as itself. */
  fieldManager?: string;
  /** Act as this user (e.g. system:serviceaccount:ns:name) through impersonation headers. */
  impersonate?: { user: string; groups?: string[] };
  /** Called after every request: counting and metrics hook. */
  onRequest?: (info: RequestInfo) => void;
  /** Called before every write (create, update, patch, delete); throws to refuse it. */
  writeGuard?: (verb: string, resource: string) => void;
}

const READ_VERBS = new Set(['get', 'list', 'watch']);

interface RequestOpts {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  verb: string;
  resource: string;
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size; lists are read page by page to the end. */
  limit?: number;
}

export interface WatchOptions {
  resourceVersion: string;
  labelSelector?: string;
  fieldSelector?: string;
  timeoutSeconds?: number;
  signal: AbortSignal;
}

const JSON_TYPE = 'application/json';

export class KubeClient {
  readonly connection: Connection;
  readonly server: string;
  private readonly opts: ClientOptions;
  private readonly fieldManager: string;

  constructor(connection: Connection, opts: ClientOptions = {}) {
    this.connection = connection;
    this.server = connection.server;
    this.opts = opts;
    this.fieldManager = opts.fieldManager ?? FIELD_MANAGER;
  }

  /** The namespace of the current kubeconfig context (default when unset). */
  defaultNamespace(): string {
    return this.connection.namespace;
  }

  /** Headers and dispatcher for a request to `url`, for callers that stream on their own. */
  async prepare(_method: HttpMethod, url: string): Promise<{ headers: [string, string][]; dispatcher?: Dispatcher }> {
    const out = await this.connection.headers(url);
    out.push(['User-Agent', this.opts.userAgent ?? FIELD_MANAGER]);
    if (this.opts.impersonate) {
      out.push(['Impersonate-User', this.opts.impersonate.user]);
      for (const g of this.opts.impersonate.groups ?? []) out.push(['Impersonate-Group', g]);
    }
    return { headers: out, dispatcher: this.connection.dispatcher };
  }

  private url(path: string, query?: RequestOpts['query']): string {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url.toString();
  }

  async request<T>(method: HttpMethod, path: string, opts: RequestOpts): Promise<T> {
    if (!READ_VERBS.has(opts.verb)) this.opts.writeGuard?.(opts.verb, opts.resource);
    const url = this.url(path, opts.query);
    const { headers, dispatcher } = await this.prepare(method, url);
    headers.push(['Accept', JSON_TYPE]);
    if (opts.body !== undefined) headers.push(['Content-Type', opts.contentType ?? JSON_TYPE]);
    const started = performance.now();
    let status = 0;
    try {
      const res = await fetch(url, {
        method,
        headers,
        ...(dispatcher ? { dispatcher } : {}),
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      status = res.status;
      const text = await res.text();
      if (!res.ok) throw errorFrom(res.status, text, `${method} ${path}`);
      return (text ? JSON.parse(text) : undefined) as T;
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw new ApiError(0, 'Transport', `${method} ${path}: ${(err as Error).message}`);
    } finally {
      this.opts.onRequest?.({
        method,
        verb: opts.verb,
        resource: opts.resource,
        status,
        seconds: (performance.now() - started) / 1000,
      });
    }
  }

  /** Reads one object; undefined when it does not exist. `signal` aborts the request (its socket closes). */
  async get<T extends KubeObject>(res: Resource, namespace: string | undefined, name: string, opts: { signal?: AbortSignal | undefined } = {}): Promise<T | undefined> {
    try {
      return await this.request<T>(HttpMethod.GET, objectPath(res, namespace, name), { verb: 'get', resource: res.plural, ...(opts.signal ? { signal: opts.signal } : {}) });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * Lists every object, page by page, and returns the list's resourceVersion to watch from.
   * `transform` maps each item as its page arrives, so that a large list never holds more than
   * one page of whole objects (an informer keeps only what it reads).
   */
  async list<T extends KubeObject, U = T>(
    res: Resource,
    namespace: string | undefined,
    opts: ListOptions & { transform?: (item: T) => U } = {},
  ): Promise<{ items: U[]; resourceVersion: string }> {
    const items: U[] = [];
    let cont: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.request<ObjectList<T>>(HttpMethod.GET, collectionPath(res, namespace), {
        verb: 'list',
        resource: res.plural,
        query: {
          labelSelector: opts.labelSelector,
          fieldSelector: opts.fieldSelector,
          limit: opts.limit ?? 500,
          continue: cont,
        },
      });
      for (const item of page.items) {
        // Items of a list carry no apiVersion/kind; add them so cached objects are whole.
        item.apiVersion = apiVersionOf(res);
        item.kind = res.kind;
        items.push(opts.transform ? opts.transform(item) : (item as unknown as U));
      }
      cont = page.metadata.continue || undefined;
      resourceVersion = page.metadata.resourceVersion ?? resourceVersion;
    } while (cont);
    return { items, resourceVersion };
  }

  async create<T extends KubeObject>(res: Resource, obj: T, opts: { signal?: AbortSignal | undefined } = {}): Promise<T> {
    return this.request<T>(HttpMethod.POST, collectionPath(res, obj.metadata?.namespace), {
      verb: 'create',
      resource: res.plural,
      body: obj,
      query: { fieldManager: this.fieldManager },
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  /**
   * Server-side apply with the operator's field manager. Conflicts with other managers are forced
   * unless `force: false` (for a first apply that must not take over fields someone else set).
   */
  async apply<T extends KubeObject>(res: Resource, obj: T, opts: { subresource?: string; force?: boolean } = {}): Promise<T> {
    return this.request<T>(HttpMethod.PATCH, objectPath(res, obj.metadata?.namespace, nameOf(obj), opts.subresource), {
      verb: 'patch',
      resource: res.plural,
      body: obj,
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: this.fieldManager, force: opts.force ?? true },
    });
  }

  /** JSON merge patch (RFC 7386): null removes a field. */
  async mergePatch<T extends KubeObject>(
    res: Resource,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    subresource?: string,
  ): Promise<T> {
    return this.request<T>(HttpMethod.PATCH, objectPath(res, namespace, name, subresource), {
      verb: 'patch',
      resource: subresource ? `${res.plural}/${subresource}` : res.plural,
      body: patch,
      contentType: 'application/merge-patch+json',
      query: { fieldManager: this.fieldManager },
    });
  }

  /** JSON patch (RFC 6902), e.g. with a test op as a precondition. */
  async jsonPatch<T extends KubeObject>(
    res: Resource,
    namespace: string | undefined,
    name: string,
    ops: unknown[],
    subresource?: string,
  ): Promise<T> {
    return this.request<T>(HttpMethod.PATCH, objectPath(res, namespace, name, subresource), {
      verb: 'patch',
      resource: subresource ? `${res.plural}/${subresource}` : res.plural,
      body: ops,
      contentType: 'application/json-patch+json',
      query: { fieldManager: this.fieldManager },
    });
  }

  async replace<T extends KubeObject>(res: Resource, obj: T, subresource?: string, opts: { signal?: AbortSignal | undefined } = {}): Promise<T> {
    return this.request<T>(HttpMethod.PUT, objectPath(res, obj.metadata?.namespace, nameOf(obj), subresource), {
      verb: 'update',
      resource: subresource ? `${res.plural}/${subresource}` : res.plural,
      body: obj,
      query: { fieldManager: this.fieldManager },
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  /** Deletes an object; false when it was already gone. */
  async delete(
    res: Resource,
    namespace: string | undefined,
    name: string,
    opts: { propagationPolicy?: 'Background' | 'Foreground' | 'Orphan'; uid?: string } = {},
  ): Promise<boolean> {
    try {
      await this.request(HttpMethod.DELETE, objectPath(res, namespace, name), {
        verb: 'delete',
        resource: res.plural,
        body: {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          propagationPolicy: opts.propagationPolicy ?? 'Background',
          ...(opts.uid ? { preconditions: { uid: opts.uid } } : {}),
        },
      });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /**
   * Streams watch events until the server closes the stream, the signal aborts
   * or an error occurs (thrown). Asks for bookmarks so that a restart resumes
   * from a recent resourceVersion instead of re-listing.
   */
  async watch<T extends KubeObject>(
    res: Resource,
    namespace: string | undefined,
    opts: WatchOptions,
    onEvent: (event: WatchEvent<T>) => void,
  ): Promise<void> {
    const url = this.url(collectionPath(res, namespace), {
      watch: true,
      allowWatchBookmarks: true,
      resourceVersion: opts.resourceVersion,
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
      timeoutSeconds: opts.timeoutSeconds ?? 300 + Math.floor(Math.random() * 300),
    });
    const { headers, dispatcher } = await this.prepare(HttpMethod.GET, url);
    const started = performance.now();
    let status = 0;
    try {
      const response = await fetch(url, {
        method: 'GET',
        headers,
        signal: opts.signal,
        ...(dispatcher ? { dispatcher } : {}),
      });
      status = response.status;
      if (!response.ok || !response.body) throw errorFrom(response.status, await response.text(), `watch ${res.plural}`);
      const lines = createInterface({ input: Readable.fromWeb(response.body) });
      for await (const line of lines) {
        if (!line) continue;
        const event = JSON.parse(line) as WatchEvent<T>;
        if (event.type === 'ERROR') {
          const st = event.object as unknown as { code?: number; reason?: string; message?: string };
          throw new ApiError(st.code ?? 500, st.reason ?? 'WatchError', st.message ?? 'watch error');
        }
        if (event.type !== 'BOOKMARK') {
          event.object.apiVersion = apiVersionOf(res);
          event.object.kind = res.kind;
        }
        onEvent(event);
      }
    } catch (err) {
      if (opts.signal.aborted) return;
      if (err instanceof ApiError) throw err;
      throw new ApiError(0, 'Transport', `watch ${res.plural}: ${(err as Error).message}`);
    } finally {
      this.opts.onRequest?.({
        method: 'GET',
        verb: 'watch',
        resource: res.plural,
        status,
        seconds: (performance.now() - started) / 1000,
      });
    }
  }
}

function errorFrom(status: number, body: string, what: string): ApiError {
  try {
    const st = JSON.parse(body) as { reason?: string; message?: string };
    return new ApiError(status, st.reason ?? String(status), st.message ?? `${what}: HTTP ${status}`);
  } catch {
    return new ApiError(status, String(status), `${what}: HTTP ${status} ${body.slice(0, 200)}`);
  }
}

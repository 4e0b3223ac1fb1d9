// A fake Kubernetes API server for the runtime's unit tests: an in-process HTTP
// server (node:http) that keeps objects in memory and speaks what the operator's
// client uses — get, list (paged), create, replace (with resourceVersion
// preconditions), merge, JSON and apply patches, delete, and watch with bookmarks —
// and lets a test expire old resourceVersions (410 Gone), end watches, and make
// requests fail. Every request is recorded, with its path, content type and body.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { KubeClient, type ClientOptions } from '../../../src/k8s/client.ts';
import type { Connection } from '../../../src/k8s/connection.ts';
import type { Resource } from '../../../src/k8s/resources.ts';
import type { KubeObject } from '../../../src/k8s/types.ts';
import { schemaProblem } from './models.ts';

export interface ApiRequest {
  method: string;
  /** get, list, watch, create, update, patch, delete: as the API server's audit log names them. */
  verb: string;
  group: string;
  plural: string;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
  query: URLSearchParams;
  /** The URL path, e.g. /apis/apps/v1/namespaces/db/statefulsets/orders-standby. */
  path: string;
  contentType: string | undefined;
  /** The parsed JSON body (undefined for GET). */
  body: unknown;
}

type Obj = KubeObject & Record<string, unknown>;
type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface Change {
  rv: number;
  coll: string;
  type: EventType;
  obj: Obj;
  prev: Obj | undefined;
}

interface Watch {
  coll: string;
  namespace: string | undefined;
  selector: string;
  bookmarks: boolean;
  res: ServerResponse;
}

interface Fault {
  match: (r: ApiRequest) => boolean;
  status: number;
  remaining: number;
}

/**
 * A whole object the client sent (create, update, server-side apply) must pass its kind's
 * Kubernetes schema, as the real API server refuses it with 422 Invalid: what the operator
 * writes in the controller's tests is checked as its builders' output is in theirs.
 */
function invalidUnlessValid(body: unknown): Obj {
  const problem = schemaProblem(body as Obj);
  if (problem) throw new HttpError(422, 'Invalid', problem);
  return body as Obj;
}

class HttpError extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

const collOf = (group: string, plural: string) => `${group}/${plural}`;
const keyOf = (namespace: string | undefined, name: string) => `${namespace ?? ''}/${name}`;

export class FakeApi {
  readonly requests: ApiRequest[] = [];
  /** How a watch from an expired resourceVersion is refused: an ERROR event (as the watch cache does) or HTTP 410. */
  goneAs: 'event' | 'status' = 'event';
  /**
   * Changes every object before it is stored, as the API server's defaulting and other
   * controllers would (defaulted fields, status, managedFields, others' annotations).
   */
  defaulting: ((plural: string, obj: KubeObject & Record<string, unknown>) => void) | undefined;
  private readonly server: Server;
  private readonly agent = new Agent();
  private rv = 100;
  /** A watch from a resourceVersion older than this answers 410 Gone. */
  private expiredBefore = 0;
  private readonly store = new Map<string, Map<string, Obj>>();
  private history: Change[] = [];
  private readonly watches = new Set<Watch>();
  private faults: Fault[] = [];
  url = '';

  private constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(): Promise<FakeApi> {
    const api = new FakeApi();
    await new Promise<void>((resolve) => api.server.listen(0, '127.0.0.1', resolve));
    api.url = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
    return api;
  }

  connection(): Connection {
    return { server: this.url, namespace: 'default', headers: () => Promise.resolve([]), dispatcher: this.agent };
  }

  client(opts: ClientOptions = {}): KubeClient {
    return new KubeClient(this.connection(), opts);
  }

  async close(): Promise<void> {
    this.closeWatches();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.agent.close();
  }

  // ---- what another party does through the API ----------------------------------------------

  get resourceVersion(): string {
    return String(this.rv);
  }

  get<T extends KubeObject>(res: Resource, namespace: string | undefined, name: string): T | undefined {
    return this.coll(res.group, res.plural).get(keyOf(namespace, name)) as T | undefined;
  }

  /** Every object of a resource (in one namespace): what another client would list. */
  objects<T extends KubeObject>(res: Resource, namespace?: string): T[] {
    return [...this.coll(res.group, res.plural).values()].filter((o) => namespace === undefined || o.metadata?.namespace === namespace) as T[];
  }

  create<T extends KubeObject>(res: Resource, obj: T): T {
    return this.doCreate(res.group, res.plural, obj.metadata?.namespace, obj as Obj) as T;
  }

  /** Replaces an object as another client would (no resourceVersion precondition). */
  update<T extends KubeObject>(res: Resource, obj: T): T {
    const { resourceVersion: _rv, ...meta } = obj.metadata ?? {};
    return this.doReplace(res.group, res.plural, obj.metadata?.namespace, obj.metadata?.name ?? '', { ...obj, metadata: meta } as Obj) as T;
  }

  remove(res: Resource, namespace: string | undefined, name: string): void {
    this.doDelete(res.group, res.plural, namespace, name);
  }

  // ---- what a test does to the server -------------------------------------------------------

  /** Sends a BOOKMARK at the current resourceVersion on every open watch that asked for bookmarks. */
  bookmark(): void {
    for (const w of this.watches) {
      if (w.bookmarks) this.send(w, { type: 'BOOKMARK', object: { metadata: { resourceVersion: String(this.rv) } } });
    }
  }

  /** Ends every open watch, as an API server restart or a watch timeout does. */
  closeWatches(): void {
    for (const w of this.watches) w.res.end();
    this.watches.clear();
  }

  get openWatches(): number {
    return this.watches.size;
  }

  /** Forgets the event history: a watch from any resourceVersion before now answers 410 Gone. */
  expireHistory(): void {
    this.history = [];
    this.expiredBefore = this.rv;
  }

  /** Makes the next `times` requests that `match` fail with `status`. */
  fail(match: Partial<Pick<ApiRequest, 'verb' | 'plural' | 'method'>>, status: number, times = Infinity): void {
    this.faults.push({
      match: (r) => Object.entries(match).every(([k, v]) => r[k as keyof ApiRequest] === v),
      status,
      remaining: times,
    });
  }

  /** Lets every request through again. */
  heal(): void {
    this.faults = [];
  }

  count(verb: string, plural?: string): number {
    return this.requests.filter((r) => r.verb === verb && (plural === undefined || r.plural === plural)).length;
  }

  // ---- the HTTP side ------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const r = this.parse(req);
      const body = req.method === 'GET' ? undefined : await readBody(req);
      r.body = body;
      this.requests.push(r);
      const fault = this.faults.find((f) => f.remaining > 0 && f.match(r));
      if (fault) {
        fault.remaining--;
        throw new HttpError(fault.status, fault.status === 410 ? 'Expired' : 'InternalError', `injected ${fault.status}`);
      }
      if (r.verb === 'watch') {
        this.watch(r, res);
        return;
      }
      let out: unknown;
      switch (r.verb) {
        case 'list':
          out = this.list(r);
          break;
        case 'get': {
          const obj = this.coll(r.group, r.plural).get(keyOf(r.namespace, r.name ?? ''));
          if (!obj) throw notFound(r);
          out = obj;
          break;
        }
        case 'create':
          out = this.doCreate(r.group, r.plural, r.namespace, invalidUnlessValid(body));
          break;
        case 'update':
          out = this.doReplace(r.group, r.plural, r.namespace, r.name ?? '', r.subresource ? (body as Obj) : invalidUnlessValid(body), r.subresource);
          break;
        case 'patch':
          out = this.doPatch(r, req.headers['content-type'] ?? '', body);
          break;
        case 'delete':
          out = this.doDelete(r.group, r.plural, r.namespace, r.name ?? '');
          break;
        default:
          throw new HttpError(405, 'MethodNotAllowed', `${r.method} not supported`);
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(out));
    } catch (err) {
      const e = err instanceof HttpError ? err : new HttpError(500, 'InternalError', (err as Error).message);
      res.writeHead(e.status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(status(e)));
    }
  }

  private parse(req: IncomingMessage): ApiRequest {
    const url = new URL(req.url ?? '/', 'http://fake');
    const parts = url.pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);
    let group = '';
    let rest: string[];
    if (parts[0] === 'api') rest = parts.slice(2);
    else if (parts[0] === 'apis') {
      group = parts[1] ?? '';
      rest = parts.slice(3);
    } else throw new HttpError(404, 'NotFound', `no such path ${url.pathname}`);
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural = '', name, subresource] = rest;
    const method = req.method ?? 'GET';
    const collection = name === undefined;
    const verb =
      method === 'GET'
        ? collection
          ? url.searchParams.get('watch') === 'true'
            ? 'watch'
            : 'list'
          : 'get'
        : method === 'POST'
          ? 'create'
          : method === 'PUT'
            ? 'update'
            : method === 'PATCH'
              ? 'patch'
              : method === 'DELETE'
                ? 'delete'
                : method;
    const contentType = req.headers['content-type'];
    return { method, verb, group, plural, namespace, name, subresource, query: url.searchParams, path: url.pathname, contentType, body: undefined };
  }

  private coll(group: string, plural: string): Map<string, Obj> {
    const id = collOf(group, plural);
    let m = this.store.get(id);
    if (!m) this.store.set(id, (m = new Map<string, Obj>()));
    return m;
  }

  private list(r: ApiRequest): unknown {
    const selector = r.query.get('labelSelector') ?? '';
    const all = [...this.coll(r.group, r.plural).values()]
      .filter((o) => r.namespace === undefined || o.metadata?.namespace === r.namespace)
      .filter((o) => matchesSelector(selector, o.metadata?.labels))
      .sort((a, b) => keyOf(a.metadata?.namespace, a.metadata?.name ?? '').localeCompare(keyOf(b.metadata?.namespace, b.metadata?.name ?? '')));
    const limit = Number(r.query.get('limit') ?? '0');
    const from = Number(r.query.get('continue') ?? '0');
    const items = limit > 0 ? all.slice(from, from + limit) : all.slice(from);
    const next = limit > 0 && from + limit < all.length ? String(from + limit) : undefined;
    // Items of a list carry no apiVersion/kind, as the real API server's typed lists.
    const bare = items.map(({ apiVersion: _a, kind: _k, ...o }) => structuredClone(o));
    return { kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv), ...(next ? { continue: next } : {}) }, items: bare };
  }

  private watch(r: ApiRequest, res: ServerResponse): void {
    const from = Number(r.query.get('resourceVersion') ?? '0');
    if (from < this.expiredBefore) {
      const gone = new HttpError(410, 'Expired', `too old resource version: ${from} (${this.expiredBefore})`);
      if (this.goneAs === 'status') {
        res.writeHead(410, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(status(gone)));
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(`${JSON.stringify({ type: 'ERROR', object: status(gone) })}\n`);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    const w: Watch = {
      coll: collOf(r.group, r.plural),
      namespace: r.namespace,
      selector: r.query.get('labelSelector') ?? '',
      bookmarks: r.query.get('allowWatchBookmarks') === 'true',
      res,
    };
    for (const c of this.history) if (c.rv > from) this.deliver(w, c);
    this.watches.add(w);
    res.on('close', () => this.watches.delete(w));
  }

  private deliver(w: Watch, c: Change): void {
    if (c.coll !== w.coll) return;
    if (w.namespace !== undefined && c.obj.metadata?.namespace !== w.namespace) return;
    const now = matchesSelector(w.selector, c.obj.metadata?.labels);
    const before = c.prev !== undefined && matchesSelector(w.selector, c.prev.metadata?.labels);
    let type: EventType | undefined = c.type;
    // Leaving or entering a label selector is a deletion or an addition for that watch.
    if (c.type === 'MODIFIED') type = now ? (before ? 'MODIFIED' : 'ADDED') : before ? 'DELETED' : undefined;
    else if (!now) type = undefined;
    if (type) this.send(w, { type, object: c.obj });
  }

  private send(w: Watch, event: unknown): void {
    w.res.write(`${JSON.stringify(event)}\n`);
  }

  private record(group: string, plural: string, type: EventType, obj: Obj, prev: Obj | undefined): void {
    const c: Change = { rv: this.rv, coll: collOf(group, plural), type, obj: structuredClone(obj), prev };
    this.history.push(c);
    for (const w of this.watches) this.deliver(w, c);
  }

  private doCreate(group: string, plural: string, namespace: string | undefined, body: Obj): Obj {
    const m = this.coll(group, plural);
    const name = body.metadata?.name ?? '';
    if (m.has(keyOf(namespace, name))) throw new HttpError(409, 'AlreadyExists', `${plural} "${name}" already exists`);
    const obj: Obj = structuredClone(body);
    obj.metadata = {
      ...obj.metadata,
      name,
      ...(namespace !== undefined ? { namespace } : {}),
      uid: randomUUID(),
      generation: 1,
      creationTimestamp: new Date().toISOString(),
      resourceVersion: String(++this.rv),
    };
    this.defaulting?.(plural, obj);
    m.set(keyOf(namespace, name), obj);
    this.record(group, plural, 'ADDED', obj, undefined);
    return obj;
  }

  private doReplace(group: string, plural: string, namespace: string | undefined, name: string, body: Obj, subresource?: string): Obj {
    const m = this.coll(group, plural);
    const old = m.get(keyOf(namespace, name));
    if (!old) throw new HttpError(404, 'NotFound', `${plural} "${name}" not found`);
    const want = body.metadata?.resourceVersion;
    if (want !== undefined && want !== old.metadata?.resourceVersion) {
      throw new HttpError(409, 'Conflict', `the object has been modified; please apply your changes to the latest version and try again`);
    }
    const next: Obj = subresource === 'status' ? { ...structuredClone(old), status: structuredClone(body.status) } : structuredClone(body);
    const specChanged = JSON.stringify(next.spec) !== JSON.stringify(old.spec);
    next.metadata = {
      ...(subresource === 'status' ? old.metadata : next.metadata),
      name,
      ...(namespace !== undefined ? { namespace } : {}),
      uid: old.metadata?.uid,
      creationTimestamp: old.metadata?.creationTimestamp,
      generation: (old.metadata?.generation ?? 1) + (specChanged ? 1 : 0),
      resourceVersion: String(++this.rv),
    };
    this.defaulting?.(plural, next);
    m.set(keyOf(namespace, name), next);
    this.record(group, plural, 'MODIFIED', next, old);
    return next;
  }

  private doPatch(r: ApiRequest, contentType: string, body: unknown): Obj {
    const m = this.coll(r.group, r.plural);
    const old = m.get(keyOf(r.namespace, r.name ?? ''));
    // A uid or resourceVersion in the patch's metadata is a precondition, as on the real API server.
    const meta = (body as Obj | undefined)?.metadata;
    if (old && !Array.isArray(body) && meta?.uid !== undefined && meta.uid !== old.metadata?.uid) {
      throw new HttpError(409, 'Conflict', `Precondition failed: UID in precondition: ${meta.uid}, UID in object meta: ${old.metadata?.uid ?? ''}`);
    }
    if (old && !Array.isArray(body) && meta?.resourceVersion !== undefined && meta.resourceVersion !== old.metadata?.resourceVersion) {
      throw new HttpError(409, 'Conflict', 'the object has been modified; please apply your changes to the latest version and try again');
    }
    if (contentType.startsWith('application/apply-patch')) {
      // An apply to the object itself carries all of it: the fields the applier owns.
      const applied = r.subresource ? (body as Obj) : invalidUnlessValid(body);
      if (!old) return this.doCreate(r.group, r.plural, r.namespace, applied);
      return this.doReplace(r.group, r.plural, r.namespace, r.name ?? '', mergePatch(old, applied) as Obj, r.subresource);
    }
    if (!old) throw notFound(r);
    let patched: Obj;
    if (contentType.startsWith('application/merge-patch+json')) patched = mergePatch(old, body) as Obj;
    else if (contentType.startsWith('application/json-patch+json')) patched = jsonPatch(old, body);
    else throw new HttpError(415, 'UnsupportedMediaType', contentType);
    const { resourceVersion: _rv, ...rest } = patched.metadata ?? {};
    return this.doReplace(r.group, r.plural, r.namespace, r.name ?? '', { ...patched, metadata: rest }, r.subresource);
  }

  private doDelete(group: string, plural: string, namespace: string | undefined, name: string): unknown {
    const m = this.coll(group, plural);
    const old = m.get(keyOf(namespace, name));
    if (!old) throw new HttpError(404, 'NotFound', `${plural} "${name}" not found`);
    m.delete(keyOf(namespace, name));
    const gone: Obj = { ...structuredClone(old), metadata: { ...old.metadata, resourceVersion: String(++this.rv) } };
    this.record(group, plural, 'DELETED', gone, old);
    return { kind: 'Status', apiVersion: 'v1', status: 'Success' };
  }
}

function status(e: HttpError) {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: e.status, reason: e.reason, message: e.message };
}

function notFound(r: ApiRequest): HttpError {
  return new HttpError(404, 'NotFound', `${r.plural} "${r.name ?? ''}" not found`);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

/** RFC 6902 (add, replace, remove, test) on objects and arrays; a failed test answers 422. */
function jsonPatch(target: Obj, ops: unknown): Obj {
  if (!Array.isArray(ops)) throw new HttpError(400, 'BadRequest', 'a JSON patch is an array of operations');
  const doc = structuredClone(target) as Record<string, unknown>;
  for (const op of ops as { op: string; path: string; value?: unknown }[]) {
    const parts = op.path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop();
    if (last === undefined) throw new HttpError(422, 'Invalid', `path ${op.path}`);
    let parent: unknown = doc;
    for (const p of parts) {
      parent = (parent as Record<string, unknown> | undefined)?.[p];
      if (parent === null || typeof parent !== 'object') throw new HttpError(422, 'Invalid', `path ${op.path} does not exist`);
    }
    const holder = parent as Record<string, unknown> & unknown[];
    const index = Array.isArray(holder) ? (last === '-' ? holder.length : Number(last)) : undefined;
    switch (op.op) {
      case 'add':
        if (index !== undefined) holder.splice(index, 0, op.value);
        else holder[last] = op.value;
        break;
      case 'replace':
        if (!(index !== undefined ? index < holder.length : last in holder)) throw new HttpError(422, 'Invalid', `replace: ${op.path} does not exist`);
        if (index !== undefined) holder[index] = op.value;
        else holder[last] = op.value;
        break;
      case 'remove':
        if (index !== undefined) holder.splice(index, 1);
        else Reflect.deleteProperty(holder, last);
        break;
      case 'test':
        if (JSON.stringify(index !== undefined ? holder[index] : holder[last]) !== JSON.stringify(op.value)) {
          throw new HttpError(422, 'Invalid', `test failed at ${op.path}`);
        }
        break;
      default:
        throw new HttpError(422, 'Invalid', `op ${op.op} not supported`);
    }
  }
  return doc;
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out = new Map(target !== null && typeof target === 'object' && !Array.isArray(target) ? Object.entries(target) : []);
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) out.delete(k);
    else out.set(k, mergePatch(out.get(k), v));
  }
  return Object.fromEntries(out);
}

/** Equality-based label selectors: `k=v`, `k==v`, `k!=v`, `k`, `!k`, comma-separated. */
export function matchesSelector(selector: string, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return selector
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .every((term) => {
      let m = /^([^!=]+)!=(.*)$/.exec(term);
      if (m) return l[m[1]!] !== m[2];
      m = /^([^!=]+)==?(.*)$/.exec(term);
      if (m) return l[m[1]!] === m[2];
      if (term.startsWith('!')) return !(term.slice(1) in l);
      return term in l;
    });
}

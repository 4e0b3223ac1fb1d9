// A reconcile's world without a cluster: the fake API server holds the objects, the real
// informers (createCaches, with their transforms) list and watch them, and the real Reconciler
// runs against both. A test seeds objects, reconciles a key and reads back the exact writes.
import { pino } from 'pino';
import { SITE_RESOURCE } from '../../../../src/api/resource.ts';
import { createCaches, allInformers, OWNED, type Caches } from '../../../../src/controller/caches.ts';
import { Reconciler, type ReconcileResult } from '../../../../src/controller/reconciler.ts';
import type { EngineIO } from '../../../../src/engines/engine.ts';
import { registerBuiltinEngines } from '../../../../src/engines/builtin.ts';
import type { KubeClient } from '../../../../src/k8s/client.ts';
import { EventRecorder } from '../../../../src/k8s/events.ts';
import { R, type Resource } from '../../../../src/k8s/resources.ts';
import { keyOf, type KubeObject } from '../../../../src/k8s/types.ts';
import { FakeApi, matchesSelector, type ApiRequest } from '../../support/fake-api.ts';
import { FakeClock, until } from '../../support/fake-clock.ts';

export const NS = 'shop';
const log = pino({ level: 'silent' });

/** One write as a test asserts it. */
export interface Write {
  /** create, patch (merge), apply (server-side apply), jsonpatch, update, delete */
  op: string;
  /** plural, with /status for the status subresource */
  resource: string;
  name: string;
  body: Record<string, unknown>;
  query: URLSearchParams;
}

function writeOf(r: ApiRequest): Write {
  const op =
    r.verb === 'patch'
      ? r.contentType?.startsWith('application/apply-patch')
        ? 'apply'
        : r.contentType?.startsWith('application/json-patch')
          ? 'jsonpatch'
          : 'patch'
      : r.verb;
  // An Event's name is random: a create of an Event is named by its reason.
  const body = (r.body ?? {}) as Record<string, unknown>;
  const name = r.plural === 'events' && r.verb === 'create' ? String(body.reason) : (r.name ?? '');
  return { op, resource: r.subresource ? `${r.plural}/${r.subresource}` : r.plural, name, body, query: r.query };
}

export class World {
  readonly api: FakeApi;
  readonly clock = new FakeClock();
  readonly client: KubeClient;
  caches!: Caches;
  reconciler!: Reconciler;
  private abort = new AbortController();
  private running: Promise<unknown> = Promise.resolve();
  private mark = 0;

  private constructor(api: FakeApi) {
    this.api = api;
    this.client = api.client();
  }

  static async start(): Promise<World> {
    registerBuiltinEngines();
    const w = new World(await FakeApi.start());
    return w;
  }

  /** Starts informers over what the API holds now and a Reconciler (a fresh operator process). */
  async startOperator(): Promise<void> {
    this.abort.abort();
    await this.running;
    this.abort = new AbortController();
    this.caches = createCaches(this.client, log, [NS]);
    this.running = Promise.all(allInformers(this.caches).map((i) => i.run(this.abort.signal)));
    await Promise.all(allInformers(this.caches).map((i) => i.waitSynced()));
    const engineIO: EngineIO = { secret: () => Promise.resolve(undefined), endpoints: () => Promise.resolve([]) };
    this.reconciler = new Reconciler({
      client: this.client,
      caches: this.caches,
      events: new EventRecorder(this.client, log, 'test'),
      log,
      operatorImage: 'example.invalid/standby-operator:test',
      isLeader: () => true,
      engineIO,
      now: () => new Date(this.clock.wall()),
    });
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
    await this.api.close();
  }

  create<T extends KubeObject>(res: Resource, obj: T): T {
    return this.api.create(res, { ...obj, metadata: { namespace: NS, ...obj.metadata } });
  }

  /** Waits until every cache holds exactly what the API server holds (the watches delivered every change). */
  async caughtUp(): Promise<void> {
    await until(() => allInformers(this.caches).every((inf) => {
      const live = this.api.objects(inf.resource, NS).filter((o) => !selective(inf.resource) || matchesSelector(OWNED, o.metadata?.labels));
      return live.length === inf.size && live.every((o) => inf.get(keyOf(o))?.metadata?.resourceVersion === o.metadata?.resourceVersion);
    }), 'the caches to show every object the API server holds');
  }

  /** Reconciles a site once (after the caches caught up) and returns the writes it made, in order. */
  async reconcile(site: string): Promise<{ writes: Write[]; result: ReconcileResult }> {
    await this.caughtUp();
    this.mark = this.api.requests.length;
    const result = await this.reconciler.reconcile(`${NS}/${site}`);
    return { writes: this.writesSinceMark(), result };
  }

  writesSinceMark(): Write[] {
    return this.api.requests.slice(this.mark).filter((r) => r.method !== 'GET').map(writeOf);
  }

  site(name: string): KubeObject & { status?: Record<string, unknown> } {
    const s = this.api.get<KubeObject & { status?: Record<string, unknown> }>(SITE_RESOURCE, NS, name);
    if (!s) throw new Error(`no site ${name}`);
    return s;
  }

  get<T extends KubeObject>(res: Resource, name: string): T | undefined {
    return this.api.get<T>(res, NS, name);
  }
}

/** The informers that list only the operator's own objects (caches.ts). */
function selective(res: Resource): boolean {
  return res === R.job || res === R.volumeSnapshot;
}

/** "op resource/name" of each write, for comparing the set of writes at a glance. */
export function summary(writes: readonly Write[]): string[] {
  return writes.map((w) => `${w.op} ${w.resource}/${w.name}`);
}

// The primary's side of automatic site failover in the operator: watches StandbySiteGuards (the
// standby's operator writes them into this cluster) and runs one GuardLoop per guard while this
// replica leads. The informer is optional: where the StandbySiteGuard CRD is not served, it is an
// empty list and the controller does nothing (no flag to forget: a cluster that serves the CRD is
// one the chart installed it in, and the chart grants the RBAC with it).
import { createHash } from 'node:crypto';
import type { ISecret } from 'kubernetes-models/v1';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { GUARD_RESOURCE } from '../api/resource.ts';
import { selfFenceName, type GuardObject, type GuardStatus } from '../api/guard.ts';
import { witnessTimingOf } from '../api/site-failover.ts';
import type { ClientOptions, KubeClient } from '../k8s/client.ts';
import { KubeClient as Client } from '../k8s/client.ts';
import { systemClock, type Clock } from '../k8s/clock.ts';
import { connectionFromKubeconfig } from '../k8s/connection.ts';
import type { EventRecorder } from '../k8s/events.ts';
import { Informer } from '../k8s/informer.ts';
import { R } from '../k8s/resources.ts';
import type { Workload } from '../site/workload.ts';
import { GuardLoop, WitnessConfigError, type GuardPorts, type WitnessLease } from './guard-loop.ts';
import { WitnessStore } from './store.ts';

export interface GuardControllerOptions {
  /** Reads (informer, Secrets, workloads). */
  client: KubeClient;
  /** Writes in this cluster (refuses once the leader lease is lost). */
  acting: KubeClient;
  events: EventRecorder;
  log: Logger;
  namespaces?: readonly string[] | undefined;
  registry: Registry;
  clock?: Clock;
  /** For the witness's client: user agent and request metrics, never the operator's impersonation. */
  witnessClientOptions?: ClientOptions;
  /** How long a kubeconfig read from its Secret is used before the Secret is read again. */
  secretTtlMs?: number;
}

interface Running {
  uid: string;
  loop: GuardLoop;
  abort: AbortController;
  done: Promise<void>;
}

const key = (g: { metadata?: { namespace?: string; name?: string } }) => `${g.metadata?.namespace ?? ''}/${g.metadata?.name ?? ''}`;

export class GuardController {
  readonly informer: Informer<GuardObject & { metadata: GuardObject['metadata'] }>;
  private readonly o: GuardControllerOptions;
  private readonly clock: Clock;
  private readonly loops = new Map<string, Running>();
  private readonly witnesses = new Map<string, { at: number; hash: string; store: WitnessStore }>();
  private leading = false;
  private readonly renewals: Counter<'result'>;
  private readonly fencedGauge: Gauge<'namespace' | 'guard'>;

  constructor(o: GuardControllerOptions) {
    this.o = o;
    this.clock = o.clock ?? systemClock;
    this.informer = new Informer(o.client, { resource: GUARD_RESOURCE, namespaces: o.namespaces, log: o.log, optional: true });
    this.informer.onChange((type, obj) => {
      if (type === 'delete') void this.stopLoop(key(obj));
      else this.sync(obj);
    });
    this.renewals = new Counter({
      name: 'standby_guard_lease_renewals_total',
      help: "Renewals of the witness's lease by this (the primary's) site, by result: renewed, created, failed, lost.",
      labelNames: ['result'],
      registers: [o.registry],
    });
    for (const r of ['renewed', 'created', 'failed', 'lost']) this.renewals.inc({ result: r }, 0);
    this.fencedGauge = new Gauge({
      name: 'standby_guard_self_fenced',
      help: 'Whether the guard fences its primary (1) because neither the witness nor the standby confirmed it may serve.',
      labelNames: ['namespace', 'guard'],
      registers: [o.registry],
    });
  }

  run(signal: AbortSignal): Promise<void> {
    return this.informer.run(signal);
  }

  lead(): void {
    this.leading = true;
    for (const g of this.informer.list()) this.sync(g);
  }

  async stopLeading(): Promise<void> {
    this.leading = false;
    await Promise.all([...this.loops.keys()].map((k) => this.stopLoop(k)));
  }

  private sync(g: GuardObject): void {
    if (!this.leading) return;
    const k = key(g);
    const running = this.loops.get(k);
    if (running && running.uid === (g.metadata.uid ?? '')) return running.loop.poke();
    if (running) void this.stopLoop(k);
    const loop = new GuardLoop({
      clock: this.clock,
      ports: this.ports(),
      log: this.o.log.child({ guard: k }),
      current: () => {
        const now = this.informer.get(k);
        return now && now.metadata.uid === g.metadata.uid ? now : undefined;
      },
      onRenewal: (result) => this.renewals.inc({ result }),
      onFenced: (f) => this.fencedGauge.set({ namespace: g.metadata.namespace, guard: g.metadata.name }, f ? 1 : 0),
    });
    const abort = new AbortController();
    const done = loop.run(abort.signal).catch((err: unknown) => this.o.log.error({ err, guard: k }, 'guard loop failed'));
    this.loops.set(k, { uid: g.metadata.uid ?? '', loop, abort, done });
    void done.then(() => {
      if (this.loops.get(k)?.loop === loop) this.loops.delete(k);
    });
  }

  private async stopLoop(k: string): Promise<void> {
    const r = this.loops.get(k);
    if (!r) return;
    this.loops.delete(k);
    r.abort.abort();
    await r.done;
  }

  private ports(): GuardPorts {
    const { client, acting } = this.o;
    return {
      witness: (g) => this.witness(g),
      workload: async (g) => client.get<Workload>(g.spec.workload.kind === 'StatefulSet' ? R.statefulSet : R.deployment, g.metadata.namespace, g.spec.workload.name),
      getFence: (g) => client.get<INetworkPolicy>(R.networkPolicy, g.metadata.namespace, selfFenceName(g.metadata.name)),
      createFence: async (np) => {
        await acting.create(R.networkPolicy, np);
      },
      deleteFence: async (g) => {
        const live = await client.get<INetworkPolicy>(R.networkPolicy, g.metadata.namespace, selfFenceName(g.metadata.name));
        // The uid precondition: only the very policy that was checked to be the guard's.
        if (live?.metadata?.uid) await acting.delete(R.networkPolicy, g.metadata.namespace, selfFenceName(g.metadata.name), { uid: live.metadata.uid });
      },
      writeStatus: async (g: GuardObject, status: GuardStatus) => {
        // A merge patch removes a field only when it says null (a lifted fence, say).
        const patch = { ...status, lease: status.lease ?? null, ping: status.ping ?? null, fenced: status.fenced ?? null };
        await acting.mergePatch(GUARD_RESOURCE, g.metadata.namespace, g.metadata.name, { status: patch }, 'status');
      },
      event: (g, type, reason, message) => this.o.events.record(g, type, reason, message),
    };
  }

  /** The guard's witness, from its kubeconfig Secret (embedded credentials only, like a primary's cluster). */
  private async witness(g: GuardObject): Promise<WitnessLease> {
    const k = key(g);
    const ref = g.spec.witness.kubeconfigSecret;
    const cached = this.witnesses.get(k);
    if (cached && this.clock.now() - cached.at < (this.o.secretTtlMs ?? 60_000)) return cached.store;
    const field = 'spec.witness.kubeconfigSecret';
    const s = await this.o.client.get<ISecret>(R.secret, g.metadata.namespace, ref.name);
    if (!s) throw new WitnessConfigError(`Secret ${ref.name} (${field}) does not exist in namespace ${g.metadata.namespace}`);
    const data = s.data?.[ref.key];
    if (!data) throw new WitnessConfigError(`Secret ${ref.name} (${field}) has no key "${ref.key}"; its keys: ${Object.keys(s.data ?? {}).join(', ') || 'none'}`);
    const text = Buffer.from(data, 'base64').toString('utf8');
    const hash = createHash('sha256').update(text).digest('hex');
    if (cached && cached.hash === hash) {
      cached.at = this.clock.now();
      return cached.store;
    }
    let connection;
    try {
      connection = await connectionFromKubeconfig(text, { origin: `Secret ${g.metadata.namespace}/${ref.name} key ${ref.key} (${field})`, untrusted: true });
    } catch (err) {
      throw new WitnessConfigError((err as Error).message);
    }
    const t = witnessTimingOf(g.spec.timing);
    const witnessClient = new Client(connection, this.o.witnessClientOptions ?? {});
    const store = new WitnessStore(witnessClient, g.spec.witness.namespace, g.spec.witness.leaseName, Math.ceil((t?.leaseDuration ?? 30_000) / 1000));
    this.witnesses.set(k, { at: this.clock.now(), hash, store });
    return store;
  }
}

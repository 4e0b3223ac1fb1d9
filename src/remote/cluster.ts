// One primary cluster, as the operator in the standby's cluster sees it: a client through the
// kubeconfig Secret, informers on the one namespace the primary lives in (only what the operator
// reads there: workloads, their pods, Services, claims and the fence NetworkPolicy it writes),
// and a probe that says whether the cluster answers (health.ts). The local caches of the
// standby's cluster are not touched.
//
// While the cluster does not answer, the informers keep what they last saw (the standby is built
// and promoted from the primary's last known pod template) but nothing is decided from it: the
// health says Unreachable. When it answers again, a fresh set of informers lists everything anew
// before the cluster counts as reachable, since watches that hung through a partition may have
// missed changes.
import type {
  V1Deployment,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Service,
  V1StatefulSet,
} from '@kubernetes/client-node';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { Logger } from 'pino';
import { ApiError, KubeClient, type ClientOptions } from '../k8s/client.ts';
import type { Connection } from '../k8s/connection.ts';
import { sleep, systemClock } from '../k8s/clock.ts';
import { Informer } from '../k8s/informer.ts';
import { collectionPath, R, type Resource } from '../k8s/resources.ts';
import type { KubeObject } from '../k8s/types.ts';
import { afterProbe, afterSync, initialHealth, type ProbeResult, type RemoteHealth } from './health.ts';

/** The informers of one namespace of a primary cluster. */
export interface RemoteInformers {
  statefulSets: Informer<V1StatefulSet>;
  deployments: Informer<V1Deployment>;
  pods: Informer<V1Pod>;
  services: Informer<V1Service>;
  pvcs: Informer<V1PersistentVolumeClaim>;
  networkPolicies: Informer<INetworkPolicy>;
  /** Jobs the operator runs there (the mover's backups), by the operator's label. */
}

/** What the remote operator lists and watches there: the access Role must allow exactly these. */
// Exactly what the chart's remoteAccess Role grants (templates/remoteaccess.yaml): no Jobs run
// there (copies and dumps run in the standby's site).
export const WATCHED: readonly Resource[] = [R.statefulSet, R.deployment, R.pod, R.service, R.pvc, R.networkPolicy];

export interface RemoteClusterOptions {
  /** Identifies the cluster and namespace (a hash of the kubeconfig, and the namespace). */
  key: string;
  connection: Connection;
  namespace: string;
  log: Logger;
  /** Options of both clients (user agent, request metrics); the writer adds the leader guard. */
  clientOptions?: ClientOptions;
  /** Refuses writes when this replica no longer leads (as the local acting client does). */
  writeGuard?: (verb: string, resource: string) => void;
  probeIntervalMs?: number;
  probeTimeoutMs?: number;
  /** Something changed there (an object, or the health): the sites using this cluster look again. */
  onChange: (what: { kind: string; object?: KubeObject; health?: boolean }) => void;
  now?: () => Date;
}

/** Pods are kept lean: identity, owners, labels and readiness. */
function leanPod(p: V1Pod): V1Pod {
  const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
  return {
    apiVersion: p.apiVersion,
    kind: p.kind,
    metadata: {
      name: p.metadata?.name,
      namespace: p.metadata?.namespace,
      uid: p.metadata?.uid,
      resourceVersion: p.metadata?.resourceVersion,
      labels: p.metadata?.labels,
      ownerReferences: p.metadata?.ownerReferences,
      deletionTimestamp: p.metadata?.deletionTimestamp,
    },
    status: { phase: p.status?.phase, podIP: p.status?.podIP, conditions: ready ? [ready] : [] },
  };
}

export class RemoteCluster {
  readonly key: string;
  readonly server: string;
  readonly namespace: string;
  /** Reads and probes. */
  readonly reader: KubeClient;
  /** Writes: refused once this replica no longer leads. */
  readonly writer: KubeClient;
  private readonly o: RemoteClusterOptions;
  private readonly now: () => Date;
  private current: { informers: RemoteInformers; abort: AbortController } | undefined;
  private next: { informers: RemoteInformers; abort: AbortController } | undefined;
  private healthState: RemoteHealth;
  private readonly stopped = new AbortController();
  private loop: Promise<void> | undefined;
  private firstRound: Promise<void> | undefined;

  constructor(o: RemoteClusterOptions) {
    this.o = o;
    this.key = o.key;
    this.namespace = o.namespace;
    this.server = o.connection.server;
    this.now = o.now ?? (() => new Date());
    this.reader = new KubeClient(o.connection, o.clientOptions);
    this.writer = new KubeClient(o.connection, { ...o.clientOptions, ...(o.writeGuard ? { writeGuard: o.writeGuard } : {}) });
    this.healthState = initialHealth(this.now());
  }

  get health(): RemoteHealth {
    return this.healthState;
  }

  /** The informers last listed: fresh while reachable, the last known state otherwise. Undefined before any list. */
  get informers(): RemoteInformers | undefined {
    return this.current?.informers;
  }

  /** Starts probing; resolves after the first probe and (if it answered) the first list, or after `waitMs`. */
  async start(waitMs = 5000): Promise<void> {
    this.firstRound = this.round();
    this.loop = this.run();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.firstRound, new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    this.stopped.abort();
    this.current?.abort.abort();
    this.next?.abort.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    await this.firstRound;
    const interval = this.o.probeIntervalMs ?? 5000;
    const signal = this.stopped.signal;
    for (;;) {
      await sleep(systemClock, interval, signal);
      if (signal.aborted) return;
      await this.round();
    }
  }

  /** One probe, and a fresh list when the cluster answers again. */
  private async round(): Promise<void> {
    const before = this.healthState;
    const result = await this.probe();
    this.healthState = afterProbe(this.healthState, result, this.now());
    if (this.healthState.resyncing && result.ok && !this.next) await this.resync();
    if (before.reachable !== this.healthState.reachable || before.lastError !== this.healthState.lastError) {
      this.o.log.warn(
        { server: this.server, namespace: this.namespace, reachable: this.healthState.reachable, err: this.healthState.lastError },
        this.healthState.reachable ? "the primary's cluster answers" : "the primary's cluster does not answer",
      );
      this.o.onChange({ kind: 'health', health: this.healthState.reachable });
    }
  }

  /** A cheap request that needs the network, authentication and authorization: list one pod. */
  async probe(): Promise<ProbeResult> {
    try {
      await this.reader.request('GET', collectionPath(R.pod, this.namespace), {
        verb: 'list',
        resource: 'pods',
        query: { limit: 1 },
        signal: AbortSignal.timeout(this.o.probeTimeoutMs ?? 3000),
      });
      return { ok: true };
    } catch (err) {
      return describeFailure(err, this.server);
    }
  }

  /**
   * Lists every watched resource afresh with new informers; only when all have listed do they
   * replace the old ones and the cluster count as reachable. A resource the credentials may not
   * list keeps the cluster unreachable, saying which.
   */
  private async resync(): Promise<void> {
    for (const res of WATCHED) {
      try {
        await this.reader.request('GET', collectionPath(res, this.namespace), {
          verb: 'list',
          resource: res.plural,
          query: { limit: 1 },
          signal: AbortSignal.timeout(this.o.probeTimeoutMs ?? 3000),
        });
      } catch (err) {
        const f = describeFailure(err, this.server);
        this.healthState = afterProbe(this.healthState, { ...f, error: `listing ${res.plural} in namespace ${this.namespace}: ${f.error}` }, this.now());
        return;
      }
    }
    const abort = new AbortController();
    const informers = this.makeInformers();
    this.next = { informers, abort };
    const all = Object.values(informers) as Informer<KubeObject>[];
    for (const inf of all) void inf.run(abort.signal);
    const synced = Promise.all(all.map((i) => i.waitSynced()));
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000));
    const outcome = await Promise.race([synced.then(() => 'synced' as const), timeout]);
    if (outcome === 'timeout' || this.stopped.signal.aborted) {
      abort.abort();
      this.next = undefined;
      return;
    }
    const old = this.current;
    this.current = this.next;
    this.next = undefined;
    old?.abort.abort();
    this.healthState = afterSync(this.healthState, this.now());
  }

  private makeInformers(): RemoteInformers {
    const make = <T extends KubeObject>(resource: Resource, extra: { transform?: (o: T) => T; labelSelector?: string } = {}) => {
      const inf = new Informer<T>(this.reader, { resource, namespaces: [this.namespace], log: this.o.log, ...extra });
      // Only the informers in use report changes (a fresh set lists before it replaces the old one).
      inf.onChange((_type, object) => {
        if (this.current?.informers && (Object.values(this.current.informers) as unknown[]).includes(inf)) this.o.onChange({ kind: resource.kind, object });
      });
      return inf;
    };
    return {
      statefulSets: make(R.statefulSet),
      deployments: make(R.deployment),
      pods: make<V1Pod>(R.pod, { transform: leanPod }),
      services: make(R.service),
      pvcs: make(R.pvc),
      networkPolicies: make(R.networkPolicy),
    };
  }
}

/** A failed request as a probe result: no answer, or an answer that refuses. */
export function describeFailure(err: unknown, server: string): ProbeResult & { ok: false } {
  if (err instanceof ApiError && err.status !== 0) {
    const hint =
      err.status === 401
        ? ': the credentials in the kubeconfig Secret are not accepted (expired or revoked token?)'
        : err.status === 403
          ? ": the kubeconfig's identity lacks a permission (install the chart's remoteAccess Role in the primary's cluster)"
          : '';
    return { ok: false, kind: 'refused', error: `${server} answered HTTP ${err.status}: ${err.message}${hint}` };
  }
  const message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  const timedOut = /aborted|timeout|TimeoutError/i.test(message);
  return { ok: false, kind: 'unanswered', error: timedOut ? `${server} did not answer within the probe timeout` : `${server} did not answer: ${message}${cause}` };
}

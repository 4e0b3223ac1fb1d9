// The operator process: caches, queue, reconciler, leader election, health
// and metrics, wired together; stop() shuts it down cleanly.
import { hostname } from 'node:os';
import type { Server } from 'node:http';
import type { Connection } from '../k8s/connection.ts';
import { ApiError, KubeClient } from '../k8s/client.ts';
import { EventRecorder } from '../k8s/events.ts';
import { allInformers, createCaches } from '../controller/caches.ts';
import { Manager } from '../controller/manager.ts';
import { Reconciler } from '../controller/reconciler.ts';
import { effectiveRpoMs } from '../controller/rpo.ts';
import { validateSpec } from '../api/site.ts';
import { lastPassed } from '../drill/record.ts';
import { schedulePeriodMs } from '../api/cron.ts';
import { TIERS } from '../api/tiers.ts';
import { LeaderElector } from './leader.ts';
import { startHealthServer } from './health.ts';
import { Metrics, type SiteSample } from './metrics.ts';
import { apiEngineIO } from './engine-io.ts';
import type { Logger } from './log.ts';
import { registerBuiltinEngines } from '../engines/builtin.ts';
import { RemoteClusters } from '../remote/registry.ts';
import { GuardController } from '../witness/guard-controller.ts';

export interface OperatorOptions {
  connection: Connection;
  log: Logger;
  operatorImage: string;
  imagePullSecrets?: string[] | undefined;
  namespaces?: string[] | undefined;
  concurrency?: number;
  leaderElection?: { namespace: string; name: string } | undefined;
  identity?: string;
  health?: { port: number; host: string } | undefined;
  impersonate?: { user: string; groups?: string[] } | undefined;
  lagProbeMs?: number;
  exitAfterStep?: string | undefined;
  /** How the primaries' clusters are probed (sites with spec.primary.cluster). */
  remote?: { probeIntervalMs?: number; probeTimeoutMs?: number; secretTtlMs?: number } | undefined;
}

export interface OperatorHandle {
  manager: Manager;
  metrics: Metrics;
  client: KubeClient;
  healthPort: number | undefined;
  isLeader: () => boolean;
  stop: () => Promise<void>;
}

export async function startOperator(o: OperatorOptions): Promise<OperatorHandle> {
  registerBuiltinEngines();
  const identity = o.identity ?? `${hostname()}-${process.pid}`;
  // Assigned below; the metrics callbacks only run on scrapes, after start-up.
  // eslint-disable-next-line prefer-const
  let manager: Manager | undefined;
  const metrics = new Metrics({
    queue: () => ({ depth: manager?.queue.depth ?? 0, delayed: manager?.queue.delayed ?? 0, inFlight: manager?.queue.inFlight ?? 0 }),
    sites: () => siteSamples(manager),
  });
  const clientOptions = {
    userAgent: `standby-operator/${identity}`,
    onRequest: metrics.onRequest,
    ...(o.impersonate ? { impersonate: o.impersonate } : {}),
  };
  const client = new KubeClient(o.connection, clientOptions);
  const caches = createCaches(client, o.log, o.namespaces, (resource, kind) => metrics.watchErrors.inc({ resource, kind }));
  metrics.initialize({ tiers: TIERS, watchedResources: allInformers(caches).map((i) => i.resource.plural) });
  let elector: LeaderElector | undefined;
  const isLeader = () => (elector ? elector.isLeader : true);
  // What the controller writes goes through a client that refuses once the lease is lost, so a
  // reconcile still running then cannot act behind the new leader's back. The Lease is written
  // through the plain client.
  const acting = new KubeClient(o.connection, {
    ...clientOptions,
    writeGuard: (verb, resource) => {
      if (!isLeader()) throw new ApiError(0, 'NotLeader', `${verb} ${resource}: this replica no longer holds the leader lease`);
    },
  });
  // Primary clusters of sites whose primary runs elsewhere: enqueue and noteReadyPrimary reach the
  // manager and reconciler made below (only called once informers run, after start-up).
  const remote = new RemoteClusters({
    client,
    log: o.log,
    // Not the impersonation: a primary's cluster is reached as its kubeconfig's identity alone.
    clientOptions: { userAgent: clientOptions.userAgent, onRequest: clientOptions.onRequest },
    writeGuard: (verb, resource) => {
      if (!isLeader()) throw new ApiError(0, 'NotLeader', `${verb} ${resource} in a primary's cluster: this replica no longer holds the leader lease`);
    },
    enqueue: (key) => manager?.queue.add(key),
    noteReadyPrimary: (key) => reconciler.noteReadyPrimary(key),
    ...(o.remote ?? {}),
  });
  const reconciler: Reconciler = new Reconciler({
    client: acting,
    caches,
    events: new EventRecorder(acting, o.log, identity),
    log: o.log,
    operatorImage: o.operatorImage,
    imagePullSecrets: o.imagePullSecrets,
    isLeader,
    engineIO: apiEngineIO(acting),
    metrics,
    ...(o.lagProbeMs !== undefined ? { lagProbeMs: o.lagProbeMs } : {}),
    exitAfterStep: o.exitAfterStep,
    remote,
  });
  // The primary's side of automatic site failover: StandbySiteGuards in this cluster (if served).
  const guards = new GuardController({
    client,
    acting,
    events: new EventRecorder(acting, o.log, identity),
    log: o.log.child({ controller: 'guard' }),
    namespaces: o.namespaces,
    registry: metrics.registry,
    witnessClientOptions: { userAgent: clientOptions.userAgent, onRequest: clientOptions.onRequest },
  });
  manager = new Manager({ caches, reconciler, log: o.log, metrics, concurrency: o.concurrency ?? 16 });
  const m = manager;
  let server: Server | undefined;
  if (o.health) server = await startHealthServer(o.health.port, o.health.host, { ready: () => m.synced, registry: metrics.registry });
  const abort = new AbortController();
  // The guard first, before the site caches: a restarted primary-site operator must fence its
  // primary within the timing rule's fenceWithin, and syncing the caches of many namespaces took
  // 16 s in the partition suite (50 namespaces), longer than its slack.
  const guardsDone = guards.run(abort.signal);
  m.startInformers();
  await guards.informer.waitSynced();
  if (!o.leaderElection) guards.lead();
  await m.waitSynced();
  o.log.info({ sites: caches.sites.size, identity }, 'caches synced');
  let electorDone: Promise<void> | undefined;
  if (o.leaderElection) {
    elector = new LeaderElector(client, {
      ...o.leaderElection,
      identity,
      log: o.log,
      onStartedLeading: () => {
        metrics.leader.set(1);
        m.lead();
        guards.lead();
      },
      onStoppedLeading: () => {
        metrics.leader.set(0);
        m.stopLeading();
        void guards.stopLeading();
      },
    });
    electorDone = elector.run(abort.signal);
  } else {
    metrics.leader.set(1);
    m.lead();
    guards.lead();
  }
  const address = server?.address();
  return {
    manager: m,
    metrics,
    client,
    healthPort: typeof address === 'object' && address ? address.port : undefined,
    isLeader,
    async stop() {
      o.log.info('shutting down: finishing the reconciles in flight');
      await m.shutdown();
      await guards.stopLeading();
      abort.abort();
      await guardsDone;
      await electorDone;
      await elector?.release();
      await remote.stop();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      o.log.info('stopped');
    },
  };
}

/** Validated specs by uid and generation: a scrape must not parse every spec again. */
const specCache = new Map<string, { v: ReturnType<typeof validateSpec>; rpoSeconds: number | undefined; drillPeriodSeconds: number | undefined }>();
let samplesCache: { at: number; samples: SiteSample[] } | undefined;

function siteSamples(manager: Manager | undefined): SiteSample[] {
  if (!manager) return [];
  const now = new Date();
  // Several gauges read the samples in one scrape: compute them once.
  if (samplesCache && now.getTime() - samplesCache.at < 1000) return samplesCache.samples;
  const seen = new Set<string>();
  const samples = manager.caches.sites.list().map((s) => {
    const key = `${s.metadata?.uid ?? ''}/${s.metadata?.generation ?? 0}`;
    seen.add(key);
    let cached = specCache.get(key);
    if (!cached) {
      const valid = validateSpec(s.spec);
      const rpo = valid.ok ? effectiveRpoMs(valid.spec, now) / 1000 : undefined;
      const drill = valid.ok ? valid.spec.drill : undefined;
      // Computed once per generation: a DST change moves the period of a daily schedule by an hour at most.
      const period = drill?.schedule && !drill.suspend ? schedulePeriodMs(drill.schedule, drill.timeZone, now) / 1000 : undefined;
      cached = {
        v: valid,
        rpoSeconds: rpo !== undefined && Number.isFinite(rpo) ? rpo : undefined,
        drillPeriodSeconds: period !== undefined && Number.isFinite(period) ? period : undefined,
      };
      specCache.set(key, cached);
    }
    const v = cached.v;
    const status = s.status ?? {};
    const tier = v.ok ? v.spec.tier : 'unknown';
    let dataAge: number | undefined;
    if (tier === 'hot') dataAge = status.standby?.lagSeconds;
    else if (status.dataTimestamp) dataAge = Math.max(0, (now.getTime() - new Date(status.dataTimestamp).getTime()) / 1000);
    const passed = lastPassed(status);
    return {
      namespace: s.metadata?.namespace ?? '',
      name: s.metadata?.name ?? '',
      tier,
      phase: status.phase,
      dataAgeSeconds: dataAge,
      rpoTargetSeconds: cached.rpoSeconds,
      fencedPrimaryReturned: status.conditions?.some((c) => c.type === 'FencingHolds' && c.status === 'False') ?? false,
      drillRtoSeconds: passed?.rtoSeconds,
      drillDataAgeSeconds: passed?.dataAgeSeconds,
      drillLastSuccessSeconds: passed ? new Date(passed.finishedAt).getTime() / 1000 : undefined,
      drillSchedulePeriodSeconds: cached.drillPeriodSeconds,
      conditions: status.conditions ?? [],
      promotionState: status.promotion?.state,
      reservedCpuCores: status.cost?.cpu,
      reservedMemoryBytes: status.cost?.memory,
      copyStorageBytes: status.cost?.storage,
    };
  });
  for (const k of specCache.keys()) if (!seen.has(k)) specCache.delete(k);
  samplesCache = { at: now.getTime(), samples };
  return samples;
}

// The fence keeper process (`standby-operator fence-keeper`): its own Deployment in the primary's
// cluster, apart from the operator's pods, so that a crash, a restart or a change of leader of the
// operator leaves someone to fence the primary at the guard's deadline (src/witness/keeper.ts).
// It talks only to this cluster's API server and needs no leader election: two keepers write the
// same fence (the second create is a conflict, taken as done), and it never lifts one.
import type { Server } from 'node:http';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { GUARD_RESOURCE } from '../api/resource.ts';
import { selfFenceName, type GuardObject } from '../api/guard.ts';
import { KubeClient } from '../k8s/client.ts';
import { systemClock, type Clock } from '../k8s/clock.ts';
import type { Connection } from '../k8s/connection.ts';
import { EventRecorder } from '../k8s/events.ts';
import { Informer } from '../k8s/informer.ts';
import { R } from '../k8s/resources.ts';
import type { Workload } from '../site/workload.ts';
import { FenceKeeper } from '../witness/keeper-loop.ts';
import { startHealthServer } from './health.ts';
import type { Logger } from './log.ts';

export interface FenceKeeperOptions {
  connection: Connection;
  log: Logger;
  namespaces?: readonly string[] | undefined;
  identity: string;
  health?: { port: number; host: string } | undefined;
  clock?: Clock;
  resyncMs?: number;
  /** Act as this user (the chart's ServiceAccount, in tests that run the keeper outside a pod). */
  impersonate?: { user: string; groups?: string[] } | undefined;
}

export interface FenceKeeperHandle {
  keeper: FenceKeeper;
  healthPort: number | undefined;
  stop(): Promise<void>;
}

const key = (g: { metadata?: { namespace?: string; name?: string } }) => `${g.metadata?.namespace ?? ''}/${g.metadata?.name ?? ''}`;

export async function startFenceKeeper(o: FenceKeeperOptions): Promise<FenceKeeperHandle> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const fences = new Counter({
    name: 'standby_fence_keeper_fences_total',
    help: "Fences the fence keeper wrote because the guard did not renew in time, by what the deadline was counted from (renewal, failsafe, creation, lost); conflict: a NetworkPolicy of the fence's name it did not create; failed: a write that failed (retried).",
    labelNames: ['result'],
    registers: [registry],
  });
  for (const r of ['renewal', 'failsafe', 'creation', 'lost', 'conflict', 'failed']) fences.inc({ result: r }, 0);
  const guarded = new Gauge({ name: 'standby_fence_keeper_guards', help: 'StandbySiteGuards the fence keeper watches.', registers: [registry] });
  const client = new KubeClient(o.connection, { userAgent: `standby-operator-fence-keeper/${o.identity}`, ...(o.impersonate ? { impersonate: o.impersonate } : {}) });
  const events = new EventRecorder(client, o.log, `fence-keeper-${o.identity}`);
  const keeper = new FenceKeeper({
    clock: o.clock ?? systemClock,
    log: o.log,
    ...(o.resyncMs !== undefined ? { resyncMs: o.resyncMs } : {}),
    onResult: (result) => fences.inc({ result }),
    ports: {
      getGuard: (g) => client.get<GuardObject>(GUARD_RESOURCE, g.metadata.namespace, g.metadata.name),
      workload: (g) => client.get<Workload>(g.spec.workload.kind === 'StatefulSet' ? R.statefulSet : R.deployment, g.metadata.namespace, g.spec.workload.name),
      getFence: (g) => client.get<INetworkPolicy>(R.networkPolicy, g.metadata.namespace, selfFenceName(g.metadata.name)),
      createFence: async (np) => {
        await client.create(R.networkPolicy, np);
      },
      event: (g, type, reason, message) => events.record(g, type, reason, message),
    },
  });
  // Optional: where the StandbySiteGuard CRD is not served the list is empty and the keeper idles.
  const informer = new Informer<GuardObject>(client, { resource: GUARD_RESOURCE, namespaces: o.namespaces, log: o.log, optional: true });
  informer.onChange((type, g) => {
    if (type === 'delete') keeper.remove(key(g));
    else keeper.update(g);
    guarded.set(informer.size);
  });
  const abort = new AbortController();
  const done = informer.run(abort.signal);
  let server: Server | undefined;
  if (o.health) server = await startHealthServer(o.health.port, o.health.host, { ready: () => informer.synced, registry });
  await informer.waitSynced();
  o.log.info({ guards: informer.size, namespaces: o.namespaces ?? 'all' }, 'fence keeper: watching StandbySiteGuards');
  const address = server?.address();
  return {
    keeper,
    healthPort: typeof address === 'object' && address ? address.port : undefined,
    async stop() {
      abort.abort();
      await done;
      await keeper.stop();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    },
  };
}

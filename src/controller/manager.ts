// The manager wires informers to the queue and the queue to the reconciler:
// watch handlers only map a change to site keys and enqueue them; workers
// (bounded) reconcile one key at a time each, and only while this replica leads.
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { StandbySiteObject } from '../api/site.ts';
import type { KubeObject } from '../k8s/types.ts';
import { keyOf } from '../k8s/types.ts';
import { LABEL_SITE } from '../site/names.ts';
import { matches, primaryVolumes } from '../site/workload.ts';
import type { ControllerMetrics } from './metrics.ts';
import { allInformers, ownerSiteKey, type Caches } from './caches.ts';
import { WorkQueue } from './queue.ts';
import type { Reconciler } from './reconciler.ts';

export interface ManagerOptions {
  caches: Caches;
  reconciler: Reconciler;
  log: Logger;
  metrics?: ControllerMetrics | undefined;
  concurrency: number;
}

export class Manager {
  readonly queue = new WorkQueue({ baseDelayMs: 200, maxDelayMs: 300_000 });
  private readonly o: ManagerOptions;
  private leading = false;
  private workers: Promise<void>[] = [];
  private readonly abort = new AbortController();
  private informersDone: Promise<void> | undefined;

  constructor(opts: ManagerOptions) {
    this.o = opts;
    this.wire();
  }

  get caches(): Caches {
    return this.o.caches;
  }

  /** Whether every informer has listed once: the operator is ready to act. */
  get synced(): boolean {
    return allInformers(this.o.caches).every((i) => i.synced);
  }

  private wire(): void {
    const c = this.o.caches;
    const enqueue = (key: string | undefined) => {
      if (key) this.queue.add(key);
    };
    c.sites.onChange((type, site: StandbySiteObject, old) => {
      // Status-only updates are our own writes; a spec, label or annotation change needs a look, and
      // so does the write a reconcile was put off for (the cache now shows it).
      const caughtUp = this.o.reconciler.siteObserved(keyOf(site), site);
      if (type === 'update' && old && !caughtUp && site.metadata?.generation === old.metadata?.generation &&
        JSON.stringify(site.metadata?.annotations) === JSON.stringify(old.metadata?.annotations) &&
        site.metadata?.deletionTimestamp === old.metadata?.deletionTimestamp) {
        return;
      }
      enqueue(keyOf(site));
    });
    const byPrimary = (o: KubeObject, kind: string, readyPod = false) => {
      for (const s of c.sites.byIndex('primary', `${o.metadata?.namespace ?? ''}/${kind}/${o.metadata?.name ?? ''}`)) {
        if (readyPod) this.o.reconciler.noteReadyPrimary(keyOf(s));
        enqueue(keyOf(s));
      }
    };
    c.statefulSets.onChange((_t, o) => {
      enqueue(ownerSiteKey(o));
      byPrimary(o, 'StatefulSet');
    });
    c.deployments.onChange((_t, o) => {
      enqueue(ownerSiteKey(o));
      byPrimary(o, 'Deployment');
    });
    c.pods.onChange((type, pod: V1Pod, old) => {
      // Only readiness, existence and labels matter to a site.
      if (
        type === 'update' &&
        old &&
        readyOf(old) === readyOf(pod) &&
        old.metadata?.deletionTimestamp === pod.metadata?.deletionTimestamp &&
        JSON.stringify(old.metadata?.labels) === JSON.stringify(pod.metadata?.labels)
      ) {
        return;
      }
      enqueue(ownerSiteKey(pod));
      const ready = type !== 'delete' && readyOf(pod) === 'True';
      let owned = false;
      for (const ref of pod.metadata?.ownerReferences ?? []) {
        if (ref.kind === 'StatefulSet') {
          owned = true;
          byPrimary({ metadata: { namespace: pod.metadata?.namespace, name: ref.name } }, 'StatefulSet', ready);
        }
        if (ref.kind === 'ReplicaSet') {
          owned = true;
          // A ReplicaSet is named <deployment>-<pod-template-hash>.
          const deployment = ref.name.replace(/-[a-z0-9]+$/, '');
          byPrimary({ metadata: { namespace: pod.metadata?.namespace, name: deployment } }, 'Deployment', ready);
        }
      }
      // A pod no workload owns (its StatefulSet deleted with --cascade=orphan) still serves the
      // sites whose primary Service selects it: readiness is counted from the Service's pods.
      if (!owned && pod.metadata?.labels?.[LABEL_SITE] === undefined) {
        const ns = pod.metadata?.namespace ?? '';
        for (const s of c.sites.inNamespace(ns)) {
          const svc = (s.spec as { primary?: { service?: string } } | undefined)?.primary?.service;
          const selector = svc ? c.services.get(`${ns}/${svc}`)?.spec?.selector : undefined;
          if (!selector || !matches({ matchLabels: selector }, pod.metadata?.labels)) continue;
          if (ready) this.o.reconciler.noteReadyPrimary(keyOf(s));
          enqueue(keyOf(s));
        }
      }
    });
    c.services.onChange((_t, svc) => {
      enqueue(ownerSiteKey(svc));
      for (const s of c.sites.byIndex('primaryService', keyOf(svc))) enqueue(keyOf(s));
    });
    // A namespace's Services now select on another set of label keys: its standbys' labels change.
    this.o.reconciler.selectorKeys.onChange((ns) => {
      for (const s of c.sites.inNamespace(ns)) enqueue(keyOf(s));
    });
    c.pvcs.onChange((_t, pvc) => {
      const owner = ownerSiteKey(pvc);
      if (owner) return enqueue(owner);
      // A primary's claim: the sites of the namespace whose primary mounts it take a look.
      const ns = pvc.metadata?.namespace ?? '';
      for (const s of c.sites.inNamespace(ns)) {
        const ref = (s.spec as { primary?: { workload?: { kind?: string; name?: string } } } | undefined)?.primary?.workload;
        const w = ref?.kind === 'StatefulSet' ? c.statefulSets.get(`${ns}/${ref.name ?? ''}`) : c.deployments.get(`${ns}/${ref?.name ?? ''}`);
        if (!w || primaryVolumes(w).some((v) => v.claim === pvc.metadata?.name)) enqueue(keyOf(s));
      }
    });
    for (const inf of [c.cronJobs, c.jobs, c.snapshots, c.networkPolicies, c.serviceAccounts, c.roles, c.roleBindings] as unknown as {
      onChange: (h: (t: string, o: KubeObject) => void) => void;
    }[]) {
      inf.onChange((_t, o) => enqueue(ownerSiteKey(o)));
    }
  }

  /** Starts the informers (every replica keeps warm caches, so a new leader acts at once). */
  startInformers(): void {
    this.informersDone = Promise.all(allInformers(this.o.caches).map((i) => i.run(this.abort.signal))).then(() => undefined);
  }

  async waitSynced(): Promise<void> {
    await Promise.all(allInformers(this.o.caches).map((i) => i.waitSynced()));
  }

  /** Called when this replica becomes the leader: queue every site and start the workers. */
  lead(): void {
    if (this.leading) return;
    this.leading = true;
    for (const s of this.o.caches.sites.list()) this.queue.add(keyOf(s));
    this.workers = Array.from({ length: this.o.concurrency }, () => this.work());
  }

  get isLeading(): boolean {
    return this.leading;
  }

  /** Called when the lease is lost: stop taking keys at once. */
  stopLeading(): void {
    this.leading = false;
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      if (!this.leading) {
        this.queue.done(key);
        return;
      }
      const started = performance.now();
      try {
        const result = await this.o.reconciler.reconcile(key);
        this.queue.forget(key);
        if (result.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
        this.o.metrics?.reconciles.inc({ result: 'success' });
      } catch (err) {
        const delay = this.queue.addRateLimited(key);
        this.o.metrics?.reconciles.inc({ result: 'error' });
        this.o.log.warn({ site: key, err: (err as Error).message, retryInMs: delay }, 'reconcile failed; will retry');
      } finally {
        this.o.metrics?.reconcileSeconds.observe((performance.now() - started) / 1000);
        this.queue.done(key);
      }
    }
  }

  /** Stops workers after their current reconcile (never mid-step) and the informers. */
  async shutdown(): Promise<void> {
    this.leading = false;
    this.queue.shutdown();
    await Promise.all(this.workers);
    this.abort.abort();
    await this.informersDone;
  }
}

function readyOf(p: V1Pod): string {
  return p.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? '';
}

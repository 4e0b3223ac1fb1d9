// The manager wires informers to the queue and the queue to the reconciler:
// watch handlers only map a change to site keys and enqueue them; workers
// (bounded) reconcile one key at a time each, and only while this replica leads.
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { StandbySiteObject } from '../api/site.ts';
import type { KubeObject } from '../k8s/types.ts';
import { keyOf } from '../k8s/types.ts';
import { LABEL_MANAGED_BY, LABEL_SITE, MANAGER } from '../site/names.ts';
import { matches, primaryVolumes, selectorOf, type Workload } from '../site/workload.ts';
import type { ControllerMetrics } from './metrics.ts';
import { allInformers, ownerSiteKey, type Caches } from './caches.ts';
import { WorkQueue } from './queue.ts';
import { inProgress } from '../promotion/machine.ts';
import type { Reconciler } from './reconciler.ts';

/** How long a site whose primary pod just failed stays urgent without a promotion under way (a threshold, a manual mode). */
const FAILED_URGENT_MS = 60_000;

/** What the manager needs of the reconciler. */
export type SiteReconciler = Pick<Reconciler, 'reconcile' | 'siteObserved' | 'noteReadyPrimary'> & Partial<Pick<Reconciler, 'selectorKeys'>>;

export interface ManagerOptions {
  caches: Caches;
  reconciler: SiteReconciler;
  log: Logger;
  metrics?: ControllerMetrics | undefined;
  concurrency: number;
}

export class Manager {
  readonly queue: WorkQueue;
  private readonly o: ManagerOptions;
  private leading = false;
  /** Workers alive, busy or waiting for a key, whichever term of leadership started them. */
  private readonly workers = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private informersDone: Promise<void> | undefined;
  /** Sites whose primary pod turned not Ready or went (watch), and when: urgent for a while. */
  private readonly failed = new Map<string, number>();

  constructor(opts: ManagerOptions) {
    this.o = opts;
    this.queue = new WorkQueue({
      baseDelayMs: 200,
      maxDelayMs: 300_000,
      onServe: (ms, urgent) => opts.metrics?.queueWaitSeconds?.observe({ lane: urgent ? 'urgent' : 'routine' }, ms / 1000),
      isUrgent: (key) => this.isUrgent(key),
    });
    this.wire();
  }

  /**
   * A site is urgent while a promotion of it runs, and for a while after a watch showed its primary
   * pod failing: in a burst (a zone down) those keys go first, before routine look-agains.
   */
  isUrgent(key: string): boolean {
    if (inProgress(this.o.caches.sites.get(key)?.status?.promotion)) return true;
    const at = this.failed.get(key);
    if (at === undefined) return false;
    if (performance.now() - at < FAILED_URGENT_MS) return true;
    this.failed.delete(key);
    return false;
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
      // Gone, or its promotion ended: its primary's failure is dealt with (no longer urgent).
      const ended = (x: StandbySiteObject | undefined) => !inProgress(x?.status?.promotion) && x?.status?.promotion !== undefined;
      if (type === 'delete' || (ended(site) && !ended(old))) this.failed.delete(keyOf(site));
      // One workload, one site: when a site comes, goes or changes its workload, the others that
      // name the same workload look again (the oldest protects it).
      if (type !== 'update' || site.metadata?.generation !== old?.metadata?.generation) {
        for (const s of [site, ...(old ? [old] : [])]) {
          const w = (s.spec as { primary?: { workload?: { kind?: string; name?: string } } } | undefined)?.primary?.workload;
          for (const rival of c.sites.byIndex('primary', `${s.metadata?.namespace ?? ''}/${w?.kind ?? ''}/${w?.name ?? ''}`)) {
            if (keyOf(rival) !== keyOf(site)) enqueue(keyOf(rival));
          }
        }
      }
      if (type === 'update' && old && !caughtUp && site.metadata?.generation === old.metadata?.generation &&
        JSON.stringify(site.metadata?.annotations) === JSON.stringify(old.metadata?.annotations) &&
        JSON.stringify(site.metadata?.labels) === JSON.stringify(old.metadata?.labels) &&
        site.metadata?.deletionTimestamp === old.metadata?.deletionTimestamp) {
        return;
      }
      enqueue(keyOf(site));
    });
    const byPrimary = (o: KubeObject, kind: string, readyPod = false, failedPod = false) => {
      for (const s of c.sites.byIndex('primary', `${o.metadata?.namespace ?? ''}/${kind}/${o.metadata?.name ?? ''}`)) {
        if (readyPod) this.o.reconciler.noteReadyPrimary(keyOf(s));
        if (readyPod) this.failed.delete(keyOf(s));
        if (failedPod) this.failed.set(keyOf(s), performance.now());
        enqueue(keyOf(s));
      }
    };
    // An object of a name a site writes, that is not the site's, blocks it (NameConflict); when it
    // comes or goes, the sites of the namespace named like it look again.
    const namesakes = (o: KubeObject) => {
      if (o.metadata?.labels?.[LABEL_MANAGED_BY] === MANAGER) return;
      const name = o.metadata?.name ?? '';
      for (const s of c.sites.inNamespace(o.metadata?.namespace ?? '')) {
        const traffic = (s.spec as { traffic?: { service?: string } } | undefined)?.traffic?.service;
        if (name.startsWith(`${s.metadata?.name ?? ''}-`) || name === traffic) enqueue(keyOf(s));
      }
    };
    /** The primary workload a site names, from the cache. */
    function primaryOf(s: StandbySiteObject): Workload | undefined {
      const ns = s.metadata?.namespace ?? '';
      const ref = (s.spec as { primary?: { workload?: { kind?: string; name?: string } } } | undefined)?.primary?.workload;
      return ref?.kind === 'StatefulSet' ? c.statefulSets.get(`${ns}/${ref.name ?? ''}`) : c.deployments.get(`${ns}/${ref?.name ?? ''}`);
    }
    c.statefulSets.onChange((_t, o) => {
      enqueue(ownerSiteKey(o));
      byPrimary(o, 'StatefulSet');
      namesakes(o);
    });
    c.deployments.onChange((_t, o) => {
      enqueue(ownerSiteKey(o));
      byPrimary(o, 'Deployment');
      namesakes(o);
    });
    c.pods.onChange((type, pod: V1Pod, old) => {
      // Only readiness, existence and labels matter to a site.
      const relabelled = type === 'update' && old !== undefined && JSON.stringify(old.metadata?.labels) !== JSON.stringify(pod.metadata?.labels);
      if (type === 'update' && old && !relabelled && readyOf(old) === readyOf(pod) && old.metadata?.deletionTimestamp === pod.metadata?.deletionTimestamp) return;
      enqueue(ownerSiteKey(pod));
      const ready = type !== 'delete' && readyOf(pod) === 'True';
      // A Ready pod that is no longer (or is gone): its site may have to promote.
      const failed = !ready && (type === 'delete' ? readyOf(pod) : readyOf(old ?? pod)) === 'True';
      let owned = false;
      if (relabelled) {
        enqueue(ownerSiteKey(old));
        // A site's primary pods are those its workload's selector matches (observe.ts): a relabelled
        // pod may have joined or left a primary that owner references do not name.
        for (const s of c.sites.inNamespace(pod.metadata?.namespace ?? '')) {
          const w = primaryOf(s);
          if (!w) continue;
          const now = matches(selectorOf(w), pod.metadata?.labels);
          if (!now && !matches(selectorOf(w), old.metadata?.labels)) continue;
          if (now && ready) this.o.reconciler.noteReadyPrimary(keyOf(s));
          enqueue(keyOf(s));
        }
      }
      for (const ref of pod.metadata?.ownerReferences ?? []) {
        if (ref.kind === 'StatefulSet') {
          owned = true;
          byPrimary({ metadata: { namespace: pod.metadata?.namespace, name: ref.name } }, 'StatefulSet', ready, failed);
        }
        if (ref.kind === 'ReplicaSet') {
          owned = true;
          // A ReplicaSet is named <deployment>-<pod-template-hash>.
          const deployment = ref.name.replace(/-[a-z0-9]+$/, '');
          byPrimary({ metadata: { namespace: pod.metadata?.namespace, name: deployment } }, 'Deployment', ready, failed);
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
      namesakes(svc);
      for (const s of c.sites.byIndex('primaryService', keyOf(svc))) enqueue(keyOf(s));
    });
    // A namespace's Services now select on another set of label keys: its standbys' labels change.
    this.o.reconciler.selectorKeys?.onChange((ns) => {
      for (const s of c.sites.inNamespace(ns)) enqueue(keyOf(s));
    });
    c.pvcs.onChange((_t, pvc) => {
      const owner = ownerSiteKey(pvc);
      if (owner) return enqueue(owner);
      // A primary's claim: the sites of the namespace whose primary mounts it take a look.
      for (const s of c.sites.inNamespace(pvc.metadata?.namespace ?? '')) {
        const w = primaryOf(s);
        if (!w || primaryVolumes(w).some((v) => v.claim === pvc.metadata?.name)) enqueue(keyOf(s));
      }
    });
    for (const inf of [c.cronJobs, c.jobs, c.snapshots, c.networkPolicies, c.serviceAccounts, c.roles, c.roleBindings] as unknown as {
      onChange: (h: (t: string, o: KubeObject) => void) => void;
    }[]) {
      inf.onChange((_t, o) => {
        enqueue(ownerSiteKey(o));
        namesakes(o);
      });
    }
  }

  /** Starts the informers (every replica keeps warm caches, so a new leader acts at once). */
  startInformers(): void {
    this.informersDone = Promise.all(allInformers(this.o.caches).map((i) => i.run(this.abort.signal))).then(() => undefined);
  }

  async waitSynced(): Promise<void> {
    await Promise.all(allInformers(this.o.caches).map((i) => i.waitSynced()));
  }

  /**
   * Called when this replica becomes the leader: queue every site and start the workers. Workers
   * of an earlier term may still be alive (waiting in queue.get(), or finishing a reconcile the
   * lost lease now refuses to write for): they serve this term too, and only the missing ones
   * start, so that at most `concurrency` reconciles ever run at once.
   */
  lead(): void {
    if (this.leading) return;
    this.leading = true;
    for (const s of this.o.caches.sites.list()) this.queue.add(keyOf(s));
    while (this.workers.size < this.o.concurrency) {
      const w: Promise<void> = this.work().finally(() => this.workers.delete(w));
      this.workers.add(w);
    }
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
    await Promise.all([...this.workers]);
    this.abort.abort();
    await this.informersDone;
  }
}

function readyOf(p: V1Pod): string {
  return p.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? '';
}

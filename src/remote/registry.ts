// The primary clusters the operator watches: one RemoteCluster (client, informers, probe) per
// distinct kubeconfig and namespace, shared by the sites that point there, started when the
// first such site is reconciled and stopped when the last one goes. The kubeconfig comes from
// the site's Secret, read with the operator's own client and read again now and then, so a
// rotated token takes effect without a restart.
import { createHash } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import type { ISecret } from 'kubernetes-models/v1';
import type { Logger } from 'pino';
import type { ClientOptions, KubeClient } from '../k8s/client.ts';
import { connectionFromKubeconfig } from '../k8s/connection.ts';
import { R } from '../k8s/resources.ts';
import type { KubeObject } from '../k8s/types.ts';
import { RemoteCluster } from './cluster.ts';

/** What a site says about where its primary is (spec.primary, validated). */
export interface RemotePrimaryRef {
  workload: { kind: string; name: string };
  cluster?: { kubeconfigSecret: { name: string; key: string } } | undefined;
  namespace?: string | undefined;
}

export type RemoteAccess =
  | { ok: true; cluster: RemoteCluster }
  /** The kubeconfig cannot be used: a person must fix the Secret (the site is Stalled). */
  | { ok: false; problem: string };

export interface RemoteClustersOptions {
  /** The operator's client in the standby's cluster (reads the kubeconfig Secrets). */
  client: KubeClient;
  log: Logger;
  clientOptions?: ClientOptions;
  writeGuard?: (verb: string, resource: string) => void;
  /** Queue a site for reconciling. */
  enqueue: (siteKey: string) => void;
  /** A watch event showed a pod of this site's primary Ready (see SiteMemory). */
  noteReadyPrimary?: (siteKey: string) => void;
  probeIntervalMs?: number;
  probeTimeoutMs?: number;
  /** How long a kubeconfig read from its Secret is used before the Secret is read again. */
  secretTtlMs?: number;
  /** How long a new cluster's first probe and list may hold up the reconcile that asked for it. */
  startWaitMs?: number;
}

interface SecretRead {
  at: number;
  outcome: { text: string } | { problem: string };
}

export class RemoteClusters {
  private readonly o: RemoteClustersOptions;
  private readonly clusters = new Map<string, Promise<RemoteCluster>>();
  /** Per cluster key: its sites and the primary workload each watches. */
  private readonly users = new Map<string, Map<string, { kind: string; name: string }>>();
  private readonly siteCluster = new Map<string, string>();
  private readonly secrets = new Map<string, SecretRead>();

  constructor(o: RemoteClustersOptions) {
    this.o = o;
  }

  /** The primary cluster of a site whose spec.primary.cluster is set. */
  async access(siteKey: string, siteNamespace: string, primary: RemotePrimaryRef): Promise<RemoteAccess> {
    const ref = primary.cluster?.kubeconfigSecret;
    if (!ref) throw new Error('access() is for sites with spec.primary.cluster');
    const secret = await this.readSecret(siteNamespace, ref.name, ref.key);
    if ('problem' in secret) {
      this.release(siteKey);
      return { ok: false, problem: secret.problem };
    }
    const namespace = primary.namespace ?? siteNamespace;
    const key = `${createHash('sha256').update(secret.text).digest('hex').slice(0, 16)}/${namespace}`;
    let pending = this.clusters.get(key);
    if (!pending) {
      pending = this.create(key, secret.text, namespace, `Secret ${siteNamespace}/${ref.name} key ${ref.key}`);
      this.clusters.set(key, pending);
      // A kubeconfig that cannot be used is not kept: the next reconcile reads the Secret again.
      pending.catch(() => this.clusters.delete(key));
    }
    let cluster: RemoteCluster;
    try {
      cluster = await pending;
    } catch (err) {
      this.release(siteKey);
      return { ok: false, problem: `${(err as Error).message} (spec.primary.cluster.kubeconfigSecret)` };
    }
    const before = this.siteCluster.get(siteKey);
    if (before !== key) {
      if (before) this.release(siteKey);
      this.siteCluster.set(siteKey, key);
    }
    let users = this.users.get(key);
    if (!users) {
      users = new Map<string, { kind: string; name: string }>();
      this.users.set(key, users);
    }
    users.set(siteKey, primary.workload);
    return { ok: true, cluster };
  }

  /** The site no longer uses a primary cluster (deleted, or its primary moved). */
  release(siteKey: string): void {
    const key = this.siteCluster.get(siteKey);
    if (!key) return;
    this.siteCluster.delete(siteKey);
    const users = this.users.get(key);
    users?.delete(siteKey);
    if (users && users.size > 0) return;
    this.users.delete(key);
    const pending = this.clusters.get(key);
    this.clusters.delete(key);
    void pending?.then((c) => c.stop()).catch(() => undefined);
  }

  async stop(): Promise<void> {
    const all = [...this.clusters.values()];
    this.clusters.clear();
    await Promise.all(all.map((p) => p.then((c) => c.stop()).catch(() => undefined)));
  }

  private async readSecret(namespace: string, name: string, key: string): Promise<{ text: string } | { problem: string }> {
    const id = `${namespace}/${name}/${key}`;
    const hit = this.secrets.get(id);
    if (hit && Date.now() - hit.at < (this.o.secretTtlMs ?? 60_000)) return hit.outcome;
    let outcome: SecretRead['outcome'];
    try {
      const s = await this.o.client.get<ISecret>(R.secret, namespace, name);
      const data = s?.data?.[key];
      if (!s) outcome = { problem: `Secret ${name} (spec.primary.cluster.kubeconfigSecret) does not exist in namespace ${namespace}` };
      else if (!data) {
        outcome = { problem: `Secret ${name} (spec.primary.cluster.kubeconfigSecret) has no key "${key}"; its keys: ${Object.keys(s.data ?? {}).join(', ') || 'none'}` };
      } else outcome = { text: Buffer.from(data, 'base64').toString('utf8') };
    } catch (err) {
      // Not cached: a failed read is retried by the next reconcile.
      return { problem: `cannot read Secret ${name} (spec.primary.cluster.kubeconfigSecret): ${(err as Error).message}` };
    }
    this.secrets.set(id, { at: Date.now(), outcome });
    return outcome;
  }

  private async create(key: string, text: string, namespace: string, origin: string): Promise<RemoteCluster> {
    const connection = await connectionFromKubeconfig(text, { origin, untrusted: true });
    const cluster = new RemoteCluster({
      key,
      connection,
      namespace,
      log: this.o.log.child({ remote: connection.server, remoteNamespace: namespace }),
      ...(this.o.clientOptions ? { clientOptions: this.o.clientOptions } : {}),
      ...(this.o.writeGuard ? { writeGuard: this.o.writeGuard } : {}),
      ...(this.o.probeIntervalMs !== undefined ? { probeIntervalMs: this.o.probeIntervalMs } : {}),
      ...(this.o.probeTimeoutMs !== undefined ? { probeTimeoutMs: this.o.probeTimeoutMs } : {}),
      onChange: (what) => this.changed(key, what.object),
    });
    this.o.log.info({ server: connection.server, namespace }, "watching a primary's cluster");
    await cluster.start(this.o.startWaitMs ?? 5000);
    return cluster;
  }

  /** Something changed in a cluster: its sites look again; a Ready pod of a site's primary is noted. */
  private changed(key: string, object: KubeObject | undefined): void {
    const users = this.users.get(key);
    if (!users) return;
    const pod = object?.kind === 'Pod' ? (object as V1Pod) : undefined;
    const ready = pod?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
    for (const [siteKey, workload] of users) {
      if (pod && ready && ownedBy(pod, workload)) this.o.noteReadyPrimary?.(siteKey);
      this.o.enqueue(siteKey);
    }
  }
}

/** Whether a pod belongs to a workload by its owner (a ReplicaSet is named <deployment>-<hash>). */
function ownedBy(pod: V1Pod, w: { kind: string; name: string }): boolean {
  return (pod.metadata?.ownerReferences ?? []).some((r) =>
    w.kind === 'StatefulSet' ? r.kind === 'StatefulSet' && r.name === w.name : r.kind === 'ReplicaSet' && r.name.replace(/-[a-z0-9]+$/, '') === w.name,
  );
}
